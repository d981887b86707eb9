// The catalog: databases, tables (columns, indexes, the handle), and views, with the ids
// the table codec uses, and the conversion of AST column types to FieldTypes.
//
// Tables keep TiDB's handle rule: a single-column integer PRIMARY KEY is the clustered
// handle (rows live at t{id}_r{pk}); any other table gets a hidden row id allocated from a
// per-table counter, and its primary key (if any) becomes a unique index.
//
// The catalog lives in memory, shared by every session of a Database, and changes are
// applied at once under its mutex (DDL commits implicitly, as in MySQL); each change bumps
// the schema version. Not yet persisted to meta keys nor changed through F1's online
// states; see lib/README.md.
//
// Thread safety: Catalog is thread-safe; TableInfo objects are immutable once published
// (a DDL change publishes a new one), except the atomic id counters.

#ifndef RUTILE_SQL_CATALOG_CATALOG_H_
#define RUTILE_SQL_CATALOG_CATALOG_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/parser/ast.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"

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

struct ColumnInfo {
  int64_t id = 0;
  std::string name;
  FieldType type;
  bool has_default = false;
  Datum default_value;  // Of `type`'s canonical kind, or NULL.
  bool auto_increment = false;
  bool hidden = false;  // The hidden row id (_tidb_rowid).
};

struct IndexInfo {
  int64_t id = 0;
  std::string name;
  std::vector<int> columns;  // Offsets into TableInfo::columns.
  bool unique = false;
  bool primary = false;
};

// A trigger: statements run for each row an INSERT, UPDATE or DELETE touches.
struct TriggerInfo {
  std::string name;
  bool before = false;
  std::string event;              // INSERT, UPDATE or DELETE
  std::vector<std::string> body;  // Statements, as canonical SQL.
};

struct TableInfo {
  int64_t id = 0;
  std::string db;
  std::string name;
  std::vector<ColumnInfo> columns;  // Visible columns in order.
  std::vector<IndexInfo> indexes;
  std::vector<TriggerInfo> triggers;
  // Offset of the integer primary-key column that is the handle, or -1 (hidden row id).
  int handle_col = -1;
  // Views: the SELECT text and optional column names.
  bool is_view = false;
  std::string view_sql;
  std::vector<std::string> view_columns;
  // Counter shared by AUTO_INCREMENT and the hidden row id.
  std::shared_ptr<std::atomic<int64_t>> next_id = std::make_shared<std::atomic<int64_t>>(1);

  int FindColumn(std::string_view name) const;  // -1 when absent (case-insensitive).
  int AutoIncrementColumn() const;
};

using TablePtr = std::shared_ptr<const TableInfo>;

// Converts an AST column type to a FieldType (lengths defaulted as MySQL does).
absl::StatusOr<FieldType> ToFieldType(const DataType& t);

class Catalog {
 public:
  Catalog();

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

  // Adds `table` (its id assigned here). 1050 when the name is taken.
  absl::Status AddTable(std::shared_ptr<TableInfo> table);
  // Replaces the published definition of the table with the same id.
  absl::Status ReplaceTable(std::shared_ptr<TableInfo> table);
  absl::Status RemoveTable(const std::string& db, const std::string& name);

  int64_t AllocateId() { return next_id_.fetch_add(1); }
  int64_t schema_version() const { return version_.load(); }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, TablePtr>> dbs_;  // lower-case names
  std::map<std::string, std::string> db_names_;                 // lower -> as created
  std::atomic<int64_t> next_id_{100};
  std::atomic<int64_t> version_{0};
};

std::string LowerName(std::string_view s);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_CATALOG_CATALOG_H_
