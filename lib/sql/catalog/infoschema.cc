// information_schema: SCHEMATA, TABLES, COLUMNS and STATISTICS as MySQL lays them out
// (the columns clients and tools read most), built from the cached catalog when a query
// resolves the table. Only public indexes show; a table's columns are in definition order.

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sql/catalog/catalog.h"
#include "sql/types/context.h"

namespace rutile::sql {
namespace {

struct Col {
  const char* name;
  bool is_int;
};

const std::vector<Col>& ColumnsOf(const std::string& upper) {
  static const std::vector<Col> kSchemata = {{"CATALOG_NAME", false},
                                             {"SCHEMA_NAME", false},
                                             {"DEFAULT_CHARACTER_SET_NAME", false},
                                             {"DEFAULT_COLLATION_NAME", false},
                                             {"SQL_PATH", false}};
  static const std::vector<Col> kTables = {
      {"TABLE_CATALOG", false},  {"TABLE_SCHEMA", false},  {"TABLE_NAME", false},
      {"TABLE_TYPE", false},     {"ENGINE", false},        {"VERSION", true},
      {"ROW_FORMAT", false},     {"AUTO_INCREMENT", true}, {"TABLE_COLLATION", false},
      {"CREATE_OPTIONS", false}, {"TABLE_COMMENT", false}, {"TIDB_TABLE_ID", true}};
  static const std::vector<Col> kColumns = {{"TABLE_CATALOG", false},
                                            {"TABLE_SCHEMA", false},
                                            {"TABLE_NAME", false},
                                            {"COLUMN_NAME", false},
                                            {"ORDINAL_POSITION", true},
                                            {"COLUMN_DEFAULT", false},
                                            {"IS_NULLABLE", false},
                                            {"DATA_TYPE", false},
                                            {"CHARACTER_MAXIMUM_LENGTH", true},
                                            {"NUMERIC_PRECISION", true},
                                            {"NUMERIC_SCALE", true},
                                            {"CHARACTER_SET_NAME", false},
                                            {"COLLATION_NAME", false},
                                            {"COLUMN_TYPE", false},
                                            {"COLUMN_KEY", false},
                                            {"EXTRA", false},
                                            {"COLUMN_COMMENT", false}};
  static const std::vector<Col> kStatistics = {
      {"TABLE_CATALOG", false}, {"TABLE_SCHEMA", false}, {"TABLE_NAME", false},
      {"NON_UNIQUE", true},     {"INDEX_SCHEMA", false}, {"INDEX_NAME", false},
      {"SEQ_IN_INDEX", true},   {"COLUMN_NAME", false},  {"COLLATION", false},
      {"NULLABLE", false},      {"INDEX_TYPE", false},   {"COMMENT", false}};
  static const std::vector<Col> kNone;
  if (upper == "SCHEMATA") return kSchemata;
  if (upper == "TABLES") return kTables;
  if (upper == "COLUMNS") return kColumns;
  if (upper == "STATISTICS") return kStatistics;
  return kNone;
}

Datum S(std::string_view v) { return Datum::String(std::string(v)); }

std::string KeyOf(const TableInfo& t, size_t i) {
  if (static_cast<int>(i) == t.handle_col) return "PRI";
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Public() || idx.columns.empty() || idx.columns[0] != static_cast<int>(i)) continue;
    if (idx.primary) return "PRI";
  }
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Public() || idx.columns.empty() || idx.columns[0] != static_cast<int>(i)) continue;
    if (idx.unique && idx.columns.size() == 1) return "UNI";
  }
  for (const IndexInfo& idx : t.indexes) {
    if (idx.Public() && !idx.columns.empty() && idx.columns[0] == static_cast<int>(i)) return "MUL";
  }
  return "";
}

void ColumnRow(const TableInfo& t, size_t i, std::vector<std::vector<Datum>>* rows) {
  const ColumnInfo& c = t.columns[i];
  const FieldType& ft = c.type;
  std::string column_type = ft.ToString();
  std::string data_type = column_type.substr(0, column_type.find_first_of("( "));
  Datum max_len, precision, scale, charset, collation;
  if (ft.IsString()) {
    if (ft.flen >= 0) max_len = Datum::Int(ft.flen);
    if (ft.collation != Collation::kBinary) {
      charset = S("utf8mb4");
      collation = S(CollationName(ft.collation));
    }
  } else if (ft.IsInteger()) {
    precision = Datum::Int(ft.flen >= 0 ? ft.flen : DefaultIntFlen(ft.tp, ft.IsUnsigned()));
    scale = Datum::Int(0);
  } else if (ft.GetEvalType() == EvalType::kDecimal || ft.GetEvalType() == EvalType::kReal) {
    if (ft.flen >= 0) precision = Datum::Int(ft.flen);
    if (ft.decimal >= 0) scale = Datum::Int(ft.decimal);
  }
  Datum def;
  if (c.has_default && !c.default_value.IsNull() && !c.auto_increment) {
    def = S(c.default_value.ToString());
  }
  rows->push_back({S("def"), S(t.db), S(t.name), S(c.name), Datum::Int(static_cast<int64_t>(i) + 1),
                   def, S(ft.NotNull() ? "NO" : "YES"), S(data_type), max_len, precision, scale,
                   charset, collation, S(column_type), S(KeyOf(t, i)),
                   S(c.auto_increment ? "auto_increment" : ""), S("")});
}

void StatisticsRows(const TableInfo& t, std::vector<std::vector<Datum>>* rows) {
  auto nullable = [&](int c) { return S(t.columns[c].type.NotNull() ? "" : "YES"); };
  if (t.handle_col >= 0) {
    rows->push_back({S("def"), S(t.db), S(t.name), Datum::Int(0), S(t.db), S("PRIMARY"),
                     Datum::Int(1), S(t.columns[t.handle_col].name), S("A"), nullable(t.handle_col),
                     S("BTREE"), S("")});
  }
  for (const IndexInfo& idx : t.indexes) {
    if (!idx.Public()) continue;
    for (size_t k = 0; k < idx.columns.size(); ++k) {
      rows->push_back({S("def"), S(t.db), S(t.name), Datum::Int(idx.unique ? 0 : 1), S(t.db),
                       S(idx.primary ? "PRIMARY" : idx.name),
                       Datum::Int(static_cast<int64_t>(k) + 1), S(t.columns[idx.columns[k]].name),
                       S("A"), nullable(idx.columns[k]), S("BTREE"), S("")});
    }
  }
}

}  // namespace

bool Catalog::IsInfoSchema(std::string_view db) { return LowerName(db) == "information_schema"; }

absl::StatusOr<TablePtr> Catalog::InfoSchemaTable(const std::string& name) const {
  const std::string upper = absl::AsciiStrToUpper(name);
  const std::vector<Col>& cols = ColumnsOf(upper);
  if (cols.empty()) {
    return MakeMySqlStatus(absl::StatusCode::kNotFound,
                           {kErNoSuchTable, "42S02",
                            absl::StrCat("Table 'information_schema.", name, "' doesn't exist")});
  }
  auto t = std::make_shared<TableInfo>();
  t->db = "information_schema";
  t->name = upper;
  for (size_t i = 0; i < cols.size(); ++i) {
    ColumnInfo c;
    c.id = static_cast<int64_t>(i) + 1;
    c.name = cols[i].name;
    c.type = cols[i].is_int ? FieldType::LongLong() : FieldType::Varchar(512);
    t->columns.push_back(c);
  }
  auto rows = std::make_shared<std::vector<std::vector<Datum>>>();
  std::vector<std::pair<std::string, std::vector<TablePtr>>> snapshot;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [lower, d] : dbs_) {
      std::vector<TablePtr> ts;
      for (const auto& [n, tp] : d.tables) ts.push_back(tp);
      snapshot.emplace_back(d.name, std::move(ts));
    }
  }
  if (upper == "SCHEMATA") {
    rows->push_back(
        {S("def"), S("information_schema"), S("utf8mb4"), S("utf8mb4_general_ci"), Datum()});
    for (const auto& [db, ts] : snapshot) {
      rows->push_back({S("def"), S(db), S("utf8mb4"), S("utf8mb4_general_ci"), Datum()});
    }
  } else if (upper == "TABLES") {
    for (const char* n : {"COLUMNS", "SCHEMATA", "STATISTICS", "TABLES"}) {
      rows->push_back({S("def"), S("information_schema"), S(n), S("SYSTEM VIEW"), Datum(),
                       Datum::Int(10), Datum(), Datum(), S("utf8mb4_general_ci"), S(""), S(""),
                       Datum()});
    }
    for (const auto& [db, ts] : snapshot) {
      for (const TablePtr& tp : ts) {
        rows->push_back({S("def"), S(db), S(tp->name), S(tp->is_view ? "VIEW" : "BASE TABLE"),
                         tp->is_view ? Datum() : S("InnoDB"), Datum::Int(10),
                         tp->is_view ? Datum() : S("Compact"), Datum(),
                         tp->is_view ? Datum() : S("utf8mb4_general_ci"), S(""),
                         S(tp->is_view ? "VIEW" : ""), Datum::Int(tp->id)});
      }
    }
  } else if (upper == "COLUMNS") {
    for (const auto& [db, ts] : snapshot) {
      for (const TablePtr& tp : ts) {
        for (size_t i = 0; i < tp->columns.size(); ++i) ColumnRow(*tp, i, rows.get());
      }
    }
  } else {
    for (const auto& [db, ts] : snapshot) {
      for (const TablePtr& tp : ts) {
        if (!tp->is_view) StatisticsRows(*tp, rows.get());
      }
    }
  }
  t->memory_rows = std::move(rows);
  return TablePtr(std::move(t));
}

}  // namespace rutile::sql
