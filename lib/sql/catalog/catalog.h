// The catalog: databases, tables (columns, indexes, the handle), and views, with the ids
// the table codec uses, and the conversion of AST column types to FieldTypes.
//
// Tables keep TiDB's handle rule: a single-column integer PRIMARY KEY is the clustered
// handle (rows live at t{id}_r{pk}); any other table gets a hidden row id allocated from a
// per-table counter, and its primary key (if any) becomes a unique index.
//
// The catalog is persisted in meta keys (TiDB's layout, sql/catalog/meta.h) through the
// transactional KV interface; a Catalog caches it in memory, shared by every session of a
// Database. Every change is one meta transaction that also bumps the schema version;
// Sync() (and EnsureFresh, below) reloads the cache when another catalog over the same
// store changed the version.
//
// Indexes and columns change online through F1's states (none -> delete-only ->
// write-only -> write-reorg -> public, and back for DROP), driven by a DDL job queue in
// meta keys that one DDL owner (a lease key) runs (sql/catalog/ddl.cc); CREATE / DROP /
// TRUNCATE TABLE (and views) are jobs of that queue too. Databases, CREATE OR REPLACE
// VIEW and triggers are still direct meta transactions (Mutate). Every published
// change bumps the table's revision; a transaction that wrote a table under revision r
// commits only while the table is still at r in a fresh view (below), else error 8028.
//
// Schema lease and validator (TiDB's domain reload loop and SchemaValidator). Several
// catalogs (Databases, processes) may run over one store. Each holds the schema it loaded
// for a lease (`lease_micros`, measured on its Env's monotonic clock from just before
// the read that confirmed the version): statements bind against the cached schema with
// no KV read, and the version key is re-read at most once per `refresh_micros`
// (EnsureFresh), which also reports the loaded version in m"SchemaSyncers". Loading a
// new version takes the publish lock exclusively, so it waits for every commit this
// catalog validated under the old view (CommitGuard). After every schema change the
// writer (the DDL owner, or Mutate) waits until every live catalog reported the new
// version, or one lease passed (WaitSchemaSynced), before the next F1 state: at any time
// at most two adjacent states are in use anywhere. The validator (CommitChecked): a
// transaction that wrote a table under revision r commits only if this catalog's view,
// refreshed within half a lease, still has the table at r (8028 otherwise: the store is
// then at most at r + 1, an adjacent state), and the view is still within its lease when
// the commit_ts is chosen after the prewrite (KvTxn::CommitWithCheck; 1PC and async commit
// are bounded by max_commit_ts); a view that cannot be refreshed in time, or whose lease
// ran out during the prewrite, is 8027 (retryable, the transaction rolled back). TiDB's lease
// default is 45 s; Rutile's is 1 s since a catalog that went away without a word delays every DDL
// step by one lease.
//
// Locks: every lock held across a KV call (ddl_mu_, publish_mu_, an allocator's) is a
// fiber lock (util/sync.h), so a store that yields never blocks a worker thread; mu_
// guards the cache only and is never held across KV calls.
//
// Thread safety: Catalog is thread-safe; TableInfo objects are immutable once published
// (a DDL change publishes a new one), except the shared id allocator.

#ifndef RUTILE_SQL_CATALOG_CATALOG_H_
#define RUTILE_SQL_CATALOG_CATALOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "sql/codec/rowcodec.h"
#include "sql/kv/kv.h"
#include "sql/parser/ast.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"
#include "util/sync.h"

namespace rutile::sql {

// MySQL error codes of the catalog and DDL.
inline constexpr uint16_t kErDbCreateExists = 1007;
inline constexpr uint16_t kErDbDropExists = 1008;
inline constexpr uint16_t kErNoDb = 1046;
inline constexpr uint16_t kErBadDb = 1049;
inline constexpr uint16_t kErTableExists = 1050;
inline constexpr uint16_t kErBadTable = 1051;
inline constexpr uint16_t kErBadField = 1054;
inline constexpr uint16_t kErDupFieldName = 1060;
inline constexpr uint16_t kErDupKeyName = 1061;
inline constexpr uint16_t kErDupEntry = 1062;
inline constexpr uint16_t kErMultiplePriKey = 1068;
inline constexpr uint16_t kErCantDropFieldOrKey = 1091;
inline constexpr uint16_t kErNoSuchTable = 1146;
inline constexpr uint16_t kErNotSupported = 1235;
inline constexpr uint16_t kErInvalidDefault = 1067;
inline constexpr uint16_t kErWrongAutoKey = 1075;
inline constexpr uint16_t kErKeyColumnDoesNotExist = 1072;
inline constexpr uint16_t kErInfoSchemaExpired = 8027;
inline constexpr uint16_t kErInfoSchemaChanged = 8028;

// F1's schema states (TiDB's model.SchemaState).
enum class SchemaState : uint8_t {
  kNone = 0,
  kDeleteOnly = 1,  // DML deletes entries but adds none; readers ignore the index.
  kWriteOnly = 2,   // DML maintains entries; readers ignore the index.
  kWriteReorg = 3,  // As write-only while the owner backfills existing rows.
  kPublic = 4,
};
std::string_view SchemaStateName(SchemaState s);

struct ColumnInfo {
  int64_t id = 0;
  std::string name;
  FieldType type;
  bool has_default = false;
  Datum default_value;  // Of `type`'s canonical kind, or NULL.
  bool auto_increment = false;
  bool hidden = false;  // The hidden row id (_tidb_rowid).
  // Public for TableInfo::columns; the F1 state of a column being added or dropped for
  // TableInfo::changing_columns.
  SchemaState state = SchemaState::kPublic;
};

struct IndexInfo {
  int64_t id = 0;
  std::string name;
  std::vector<int> columns;  // Offsets into TableInfo::columns.
  bool unique = false;
  bool primary = false;
  SchemaState state = SchemaState::kPublic;

  bool Public() const { return state == SchemaState::kPublic; }
  bool Writable() const { return state >= SchemaState::kWriteOnly; }
  bool Deletable() const { return state >= SchemaState::kDeleteOnly; }
};

class Catalog;
class Meta;
struct DdlJob;

// AUTO_INCREMENT values and hidden row ids for one table, from id ranges reserved in the
// table's meta key (m"DB:{db}"h"TID:{table}"), kBatch at a time, so ids stay unique
// across restarts and across catalogs over the same store.
class AutoIdAllocator {
 public:
  static constexpr int64_t kBatch = 1000;
  AutoIdAllocator(kv::KvStore* store, int64_t db_id, int64_t table_id)
      : store_(store), db_id_(db_id), table_id_(table_id) {}

  absl::StatusOr<int64_t> Next();
  // An explicit value `used` was stored: later ids are above it.
  absl::Status Rebase(int64_t used);
  // TRUNCATE / AUTO_INCREMENT = n: the next id is `next`.
  absl::Status Reset(int64_t next);

 private:
  absl::Status Reserve(int64_t at_least_above, bool force);
  kv::KvStore* store_;
  int64_t db_id_;
  int64_t table_id_;
  Mutex mu_;          // Held across the reserving meta transaction.
  int64_t base_ = 0;  // Next id to hand out; ids in [base_, end_) are reserved.
  int64_t end_ = 0;
};

// An index entry of a row: key, value, and whether it is a unique key without NULLs.
struct IndexEntry {
  std::string key;
  std::string value;
  bool unique_check = false;
};
IndexEntry MakeIndexEntry(const struct TableInfo& t, const IndexInfo& idx,
                          const std::vector<Datum>& row, int64_t handle);
std::string HandleBytes(int64_t h);
int64_t HandleFromBytes(std::string_view v);

// A trigger: statements run for each row an INSERT, UPDATE or DELETE touches.
struct TriggerInfo {
  std::string name;
  bool before = false;
  std::string event;              // INSERT, UPDATE or DELETE
  std::vector<std::string> body;  // Statements, as canonical SQL.
};

struct TableInfo {
  int64_t id = 0;
  int64_t db_id = 0;
  std::string db;
  std::string name;
  // Bumped by every published change of this table (see the commit rule above).
  int64_t revision = 0;
  // Public, or on the way out through DROP TABLE (write-only, delete-only): a table not
  // public is invisible to name lookups (1146 for new statements) but kept by id, so a
  // transaction that wrote it while public fails the commit rule (8028).
  SchemaState state = SchemaState::kPublic;
  // The largest column id ever used: ids of dropped columns are never reused, since old
  // rows still hold values under them.
  int64_t max_column_id = 0;
  std::vector<ColumnInfo> columns;  // Visible columns in order.
  // Columns in the middle of ADD COLUMN (delete-only, write-only, write-reorg; public
  // moves them to `columns`) or DROP COLUMN (write-only, delete-only; then gone).
  // Invisible to reads; writers store the write-only/reorg ones (the default on insert,
  // the row's current value on update) so a catalog one state ahead, where the column is
  // public, never sees its value lost.
  std::vector<ColumnInfo> changing_columns;
  std::vector<IndexInfo> indexes;
  std::vector<TriggerInfo> triggers;
  // Offset of the integer primary-key column that is the handle, or -1 (hidden row id).
  int handle_col = -1;
  // Views: the SELECT text and optional column names.
  bool is_view = false;
  std::string view_sql;
  std::vector<std::string> view_columns;
  // information_schema tables: the rows, built from the catalog when the table is
  // resolved (nothing is stored in KV for them).
  std::shared_ptr<const std::vector<std::vector<Datum>>> memory_rows;
  // Allocator shared by AUTO_INCREMENT and the hidden row id (set when published).
  std::shared_ptr<AutoIdAllocator> next_id;

  int FindColumn(std::string_view name) const;  // -1 when absent (case-insensitive).
  // The changing columns writers store (write-only and write-reorg).
  std::vector<const ColumnInfo*> WritableChangingColumns() const;
  int AutoIncrementColumn() const;
};

using TablePtr = std::shared_ptr<const TableInfo>;

// The row decoder for `t`'s stored rows (its columns by id, the handle column marked).
codec::RowDecoder RowDecoderFor(const TableInfo& t);

// Converts an AST column type to a FieldType (lengths defaulted as MySQL does).
absl::StatusOr<FieldType> ToFieldType(const DataType& t);

// What a finished DDL job reports back to its caller.
struct DdlJobResult {
  int64_t table_id = 0;  // CREATE: the new table's id; TRUNCATE: the table's new id.
};

class Catalog {
 public:
  // A catalog over `store` (which must outlive it); call Load() before use.
  explicit Catalog(kv::KvStore* store);
  ~Catalog();

  // Loads the persisted catalog.
  absl::Status Load();
  // Reloads when the schema version in `txn`'s snapshot is newer than the cached one.
  absl::Status Sync(kv::KvTxn* txn);
  kv::KvStore* store() const { return store_; }

  absl::Status CreateDatabase(const std::string& name, bool if_not_exists);
  absl::Status DropDatabase(const std::string& name, bool if_exists,
                            std::vector<TablePtr>* dropped);
  bool HasDatabase(const std::string& name) const;
  std::vector<std::string> Databases() const;

  // Tables (and views) of `db`, sorted by name.
  std::vector<TablePtr> Tables(const std::string& db) const;
  // 1146 when absent.
  absl::StatusOr<TablePtr> GetTable(const std::string& db, const std::string& name) const;
  TablePtr FindTable(const std::string& db, const std::string& name) const;

  TablePtr FindTableById(int64_t id) const;

  // information_schema (sql/catalog/infoschema.cc): SCHEMATA, TABLES, COLUMNS and
  // STATISTICS, read-only, their rows a snapshot of the catalog taken here. 1146 for
  // other names.
  static bool IsInfoSchema(std::string_view db);
  absl::StatusOr<TablePtr> InfoSchemaTable(const std::string& name) const;

  // CREATE TABLE / VIEW as a DDL job run by the owner (sql/catalog/ddl.cc): adds `table`
  // (its id assigned by the owner unless set; on success `table` gets its id, db_id,
  // revision and allocator). 1050 when the name is taken by then, 1049 when the database
  // is gone.
  absl::Status AddTable(std::shared_ptr<TableInfo> table);
  // Replaces the published definition of the table with the same id; 8028 when `table`
  // was derived from an older revision than the published one.
  absl::Status ReplaceTable(std::shared_ptr<TableInfo> table);
  // DROP TABLE / VIEW as a DDL job: public -> write-only -> delete-only -> none, then the
  // table's keys (and saved statistics) are deleted once every catalog loaded the version
  // without it. 1051 when the table is unknown.
  absl::Status RemoveTable(const std::string& db, const std::string& name);
  // TRUNCATE TABLE as a DDL job: the table under a new id (empty, AUTO_INCREMENT from 1),
  // the old id's keys deleted as for DROP.
  absl::Status TruncateTable(const TablePtr& t);

  int64_t schema_version() const { return version_.load(); }

  // Online DDL (sql/catalog/ddl.cc): queues a job adding `index` (state none) to `t` or
  // dropping index `index_id`, runs the queue as the DDL owner, and returns the job's
  // outcome (1062 when a unique index meets duplicates; the index is then gone again).
  absl::Status AddIndexOnline(const TablePtr& t, IndexInfo index);
  absl::Status DropIndexOnline(const TablePtr& t, int64_t index_id);
  // ALTER TABLE ADD COLUMN `column` (its id assigned by the owner; appended last) and
  // DROP COLUMN `column_id` through F1's states (none -> delete-only -> write-only ->
  // write-reorg -> public; public -> write-only -> delete-only -> none). 1060 when the
  // name is taken by then, 1091 when the column is gone.
  absl::Status AddColumnOnline(const TablePtr& t, ColumnInfo column);
  absl::Status DropColumnOnline(const TablePtr& t, int64_t column_id);
  // ADMIN CHECK TABLE: every row has its entry in each public index and no index holds
  // an entry without its row (DataLoss naming the index otherwise).
  absl::Status CheckIndexes(const TablePtr& table);
  // Rows per backfill transaction.
  void set_backfill_batch(int64_t n) { backfill_batch_ = n; }
  // Test hook: called after each published DDL state change and backfill batch, outside
  // every catalog lock (a test runs DML from other sessions there).
  void set_ddl_hook(std::function<void(const TableInfo&)> hook) { ddl_hook_ = std::move(hook); }
  // Test hook: called by CommitChecked after the prewrite, just before the lease check
  // that gates the commit (a test delays the commit there).
  void set_commit_hook(std::function<void()> hook) { commit_hook_ = std::move(hook); }

  // The schema lease (see the top of this file). `env` (null: Env::Default()) supplies
  // the clocks and sleeps; call before Load().
  void SetLease(Env* env, uint64_t lease_micros, uint64_t refresh_micros);
  uint64_t lease_micros() const { return lease_micros_; }
  // Makes the cached schema usable for a statement: no KV access when the version was
  // confirmed within refresh_micros; otherwise re-reads it (loading a newer schema) and
  // reports this catalog's version.
  absl::Status EnsureFresh();
  // The id this catalog reports its loaded version under (and owns DDL under).
  const std::string& id() const { return owner_id_; }

  // Held (shared) by a transaction across its commit-time schema check and its commit;
  // publishing a DDL state, or loading a newer schema, takes it exclusively.
  std::shared_lock<SharedMutex> CommitGuard() const {
    return std::shared_lock<SharedMutex>(publish_mu_);
  }
  // The schema validator: commits `txn` if every table in `used` (id -> revision the
  // transaction wrote it under) is still at that revision in this catalog's view,
  // refreshed within half a lease; otherwise rolls it back with 8028 (schema changed) or
  // 8027 (the view could not be refreshed). Read-only transactions (`used` empty) just
  // commit.
  absl::Status CommitChecked(const std::map<int64_t, int64_t>& used, kv::KvTxn* txn);
  // Waits until every catalog over the store that may still use an older schema has
  // reported `version`, or one lease passed. Called by schema writers after publishing.
  absl::Status WaitSchemaSynced(int64_t version);

 private:
  struct Db {
    int64_t id = 0;
    std::string name;                        // as created
    std::map<std::string, TablePtr> tables;  // lower-case names
  };
  friend class DdlWorker;
  // Runs `fn` in a meta transaction that bumps the schema version (retrying write
  // conflicts); the cache is updated by `apply` after the commit, under mu_ and the
  // publish lock.
  absl::Status Mutate(const std::function<absl::Status(Meta&)>& fn,
                      const std::function<void()>& apply);
  absl::Status LoadFrom(kv::KvTxn* txn);
  // Sync over a fresh snapshot.
  absl::Status SyncLatest();
  // The revision rule of CommitChecked; call under CommitGuard().
  absl::Status CheckRevisions(const std::map<int64_t, int64_t>& used) const;
  // Re-reads the version (under refresh_mu_).
  absl::Status RefreshLocked();
  uint64_t Now() const { return env_->NowMicros(); }
  // False when `t`'s database is not in the cache (nothing published).
  bool PublishLocked(std::shared_ptr<TableInfo> t);
  // Publishes a table in any state: by name only when public.
  void ApplyTableLocked(std::shared_ptr<TableInfo> t);
  void EraseTableLocked(int64_t id);
  // Queues `job` and runs the queue (RunJobs).
  absl::StatusOr<DdlJobResult> RunJob(DdlJob job);
  // Deletes the ranges of dropped tables whose version every catalog loaded.
  absl::Status ProcessDeleteRanges();
  std::shared_ptr<AutoIdAllocator> AllocatorFor(int64_t db_id, int64_t table_id);
  absl::Status RunJobs(int64_t job_id, DdlJobResult* result = nullptr);

  kv::KvStore* store_;
  mutable std::mutex mu_;
  std::map<std::string, Db> dbs_;  // lower-case names
  std::map<int64_t, TablePtr> by_id_;
  std::map<int64_t, std::shared_ptr<AutoIdAllocator>> allocators_;
  std::atomic<int64_t> version_{0};
  Mutex ddl_mu_;  // Serializes this catalog's meta transactions.
  mutable SharedMutex publish_mu_;
  std::string owner_id_;
  // The schema lease.
  Env* env_ = Env::Default();
  uint64_t lease_micros_ = 1'000'000;
  uint64_t refresh_micros_ = 20'000;
  Mutex refresh_mu_;
  // Env::NowMicros() just before the last read that confirmed version_ (0: never).
  std::atomic<uint64_t> synced_at_{0};
  // The version and wall time last written to m"SchemaSyncers" (under refresh_mu_).
  int64_t reported_version_ = -1;
  uint64_t reported_wall_ = 0;
  int64_t backfill_batch_ = 256;
  std::function<void(const TableInfo&)> ddl_hook_;
  std::function<void()> commit_hook_;
};

std::string LowerName(std::string_view s);

class Database;  // rutile/sql.h
// The catalog of a Database, for tests and tools inside the library (session.cc).
Catalog* CatalogOf(Database* db);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_CATALOG_CATALOG_H_
