// The catalog's persistent form: TiDB's meta layout (meta/meta.go) over the transactional
// KV interface, so the schema survives restart and every session over the same store sees
// the same one. All keys are `m...` structure keys (sql/codec/tablecodec.h):
//
//   m"NextGlobalID"s                     the last allocated global id (databases, tables)
//   m"SchemaVersionKey"s                 the schema version, bumped by every DDL step
//   m"DBs"h"DB:{db_id}"                  a database's info
//   m"DB:{db_id}"h"Table:{table_id}"     a table's info (columns, indexes with their states)
//   m"DB:{db_id}"h"TID:{table_id}"       the table's AUTO_INCREMENT / row id high-water mark
//   m"DDLJobList"h{job_id}               queued DDL jobs (job id as 8 big-endian bytes)
//   m"DDLJobHistory"h{job_id}            finished DDL jobs
//   m"DDLOwner"s                         the DDL owner lease: owner id and expiry
//   m"SchemaSyncers"h{catalog_id}        the schema version a catalog loaded, and when
//   m"DDLDeleteRanges"h{job_id}          key ranges of dropped/truncated tables to delete
//                                        once every catalog loaded the version that dropped them
//   m"Stats"h"Table:{table_id}"          a table's saved statistics (planner/analyze.h)
//
// Values are Rutile's own compact binary encoding (TiDB stores JSON); integers are text
// where TiDB stores text. A Meta reads and writes inside the caller's transaction.
//
// Thread safety: a Meta is used by one thread with its transaction.

#ifndef RUTILE_SQL_CATALOG_META_H_
#define RUTILE_SQL_CATALOG_META_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/catalog/catalog.h"
#include "sql/kv/kv.h"

namespace rutile::sql {

struct DbInfo {
  int64_t id = 0;
  std::string name;
};

// What a catalog reported in m"SchemaSyncers" (TiDB's all_schema_versions in etcd): the
// schema version it loaded, and the wall-clock time (Env::WallMicros) of that report.
struct SyncerInfo {
  std::string id;
  int64_t version = 0;
  uint64_t wall_micros = 0;
};

// A DDL job in the queue (TiDB's model.Job, reduced to what Rutile runs).
enum class DdlJobType : uint8_t {
  kAddIndex = 1,
  kDropIndex = 2,
  kAddColumn = 3,
  kDropColumn = 4,
  kCreateTable = 5,     // Tables and views: none -> public in one step.
  kDropTable = 6,       // public -> write-only -> delete-only -> none, then the range deleted.
  kTruncateTable = 7,   // The table under a new id, the old id's range deleted.
  kCreateDatabase = 8,  // none -> public in one step (the name checked by the owner).
  kDropDatabase = 9,    // Gone with its tables in one step, their ranges deleted.
};
enum class DdlJobState : uint8_t {
  kQueueing = 0,
  kRunning = 1,
  kDone = 2,
  kRollback = 3,
  kCancelled = 4
};

struct DdlJob {
  int64_t id = 0;
  DdlJobType type = DdlJobType::kAddIndex;
  DdlJobState state = DdlJobState::kQueueing;
  int64_t db_id = 0;
  int64_t table_id = 0;
  int64_t index_id = 0;
  SchemaState schema_state = SchemaState::kNone;
  int64_t reorg_handle = INT64_MIN;  // Backfill progress: next handle to read.
  int64_t row_count = 0;             // Index entries backfilled.
  IndexInfo index;                   // kAddIndex: the index being added.
  // kAddIndex: the index's columns by column id. The session named them as positions in
  // its view, which a DROP COLUMN queued or run before this job shifts: the owner
  // resolves index.columns from these when the job starts.
  std::vector<int64_t> index_column_ids;
  ColumnInfo column;  // kAddColumn: the column; kDropColumn: its id.
  // kCreateTable: the table or view to create (its id assigned by the owner).
  std::shared_ptr<TableInfo> table;
  // kTruncateTable: the id the owner gave the emptied table.
  int64_t new_table_id = 0;
  // kCreateDatabase / kDropDatabase: the database's name (kDropDatabase: db_id is its id).
  std::string db_name;
  uint16_t error_code = 0;  // Set when the job failed (Cancelled).
  std::string error;
};

// Keys of a dropped or truncated table to delete (TiDB's gc_delete_range), safe once
// every catalog loaded schema version `version`, which no longer has the table.
struct DeleteRangeRecord {
  int64_t job_id = 0;
  int64_t version = 0;
  std::string start;
  std::string end;
  // Tells apart the records of one job (DROP DATABASE: one per table, its id); 0 for a
  // job's only record.
  int64_t element = 0;
};

std::string EncodeTableInfo(const TableInfo& t);
absl::StatusOr<std::shared_ptr<TableInfo>> DecodeTableInfo(std::string_view in);
std::string EncodeDdlJob(const DdlJob& j);
absl::StatusOr<DdlJob> DecodeDdlJob(std::string_view in);

class Meta {
 public:
  explicit Meta(kv::KvTxn* txn) : txn_(txn) {}

  absl::StatusOr<int64_t> GenGlobalId();
  absl::StatusOr<int64_t> SchemaVersion();
  // Bumps the schema version; returns the new one.
  absl::StatusOr<int64_t> BumpSchemaVersion();

  absl::StatusOr<std::vector<DbInfo>> ListDatabases();
  void PutDatabase(const DbInfo& db);
  // Removes the database and every table in it.
  absl::Status DropDatabase(int64_t db_id);

  absl::StatusOr<std::vector<std::shared_ptr<TableInfo>>> ListTables(int64_t db_id);
  absl::StatusOr<std::shared_ptr<TableInfo>> GetTable(int64_t db_id, int64_t table_id);
  void PutTable(int64_t db_id, const TableInfo& t);
  void DropTable(int64_t db_id, int64_t table_id);

  // Deletes the table's saved statistics (m"Stats"h"Table:{id}").
  void DropTableStats(int64_t table_id);

  // Pending range deletions, oldest first.
  void PutDeleteRange(const DeleteRangeRecord& r);
  absl::StatusOr<std::vector<DeleteRangeRecord>> ListDeleteRanges();
  void RemoveDeleteRange(int64_t job_id, int64_t element = 0);

  absl::StatusOr<int64_t> GetAutoId(int64_t db_id, int64_t table_id);
  void SetAutoId(int64_t db_id, int64_t table_id, int64_t v);

  // The DDL queue, oldest first.
  absl::StatusOr<int64_t> GenJobId();
  void PutJob(const DdlJob& job);
  absl::StatusOr<std::optional<DdlJob>> FirstJob();
  absl::StatusOr<std::optional<DdlJob>> HistoryJob(int64_t id);
  // Moves the job from the queue to the history.
  void FinishJob(const DdlJob& job);

  // The owner lease: (owner id, expiry).
  absl::StatusOr<std::optional<std::pair<std::string, uint64_t>>> Owner();
  void SetOwner(const std::string& owner, uint64_t expiry);

  // The schema syncers' reports, and this catalog's.
  absl::StatusOr<std::vector<SyncerInfo>> ListSyncers();
  void PutSyncer(const SyncerInfo& info);

 private:
  absl::StatusOr<int64_t> GetInt(const std::string& key);
  kv::KvTxn* txn_;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_CATALOG_META_H_
