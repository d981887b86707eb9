#include "sql/catalog/catalog.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/types/context.h"

namespace rutile::sql {

std::string LowerName(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int TableInfo::FindColumn(std::string_view name) const {
  const std::string lower = LowerName(name);
  for (size_t i = 0; i < columns.size(); ++i) {
    if (LowerName(columns[i].name) == lower) return static_cast<int>(i);
  }
  return -1;
}

int TableInfo::AutoIncrementColumn() const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].auto_increment) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<FieldType> ToFieldType(const DataType& t) {
  FieldType ft;
  auto collation = [&](Collation def) {
    Collation c = def;
    if (t.binary) c = Collation::kUtf8mb4Bin;
    if (!t.collation.empty()) {
      if (!CollationFromName(t.collation, &c)) {
        return absl::StatusOr<Collation>(
            MySqlErrorStatus(1273, absl::StrCat("Unknown collation: '", t.collation, "'")));
      }
    }
    return absl::StatusOr<Collation>(c);
  };
  switch (t.kind) {
    case TypeKind::kTinyInt:
      ft = FieldType::Int(TypeCode::kTiny, t.is_unsigned);
      break;
    case TypeKind::kBool:
      ft = FieldType::Int(TypeCode::kTiny, false);
      ft.flen = 1;
      return ft;
    case TypeKind::kSmallInt:
      ft = FieldType::Int(TypeCode::kShort, t.is_unsigned);
      break;
    case TypeKind::kMediumInt:
      ft = FieldType::Int(TypeCode::kInt24, t.is_unsigned);
      break;
    case TypeKind::kInt:
      ft = FieldType::Int(TypeCode::kLong, t.is_unsigned);
      break;
    case TypeKind::kBigInt:
    case TypeKind::kSigned:
      ft = FieldType::Int(TypeCode::kLongLong, t.is_unsigned);
      break;
    case TypeKind::kUnsigned:
      ft = FieldType::Int(TypeCode::kLongLong, true);
      break;
    case TypeKind::kYear:
      ft = FieldType::Int(TypeCode::kYear, true);
      ft.flen = 4;
      return ft;
    case TypeKind::kBit:
      ft = FieldType::Int(TypeCode::kLongLong, true);
      return ft;
    case TypeKind::kDecimal: {
      int p = t.length < 0 ? 10 : static_cast<int>(t.length);
      int s = t.scale < 0 ? 0 : static_cast<int>(t.scale);
      if (p > kMaxDecimalPrecision) {
        return MySqlErrorStatus(
            1426, absl::StrCat("Too-big precision ", p, " specified. Maximum is 65."));
      }
      if (s > kMaxDecimalScale || s > p) {
        return MySqlErrorStatus(1425, absl::StrCat("Too big scale ", s, " specified."));
      }
      if (p == 0) p = 10;
      ft = FieldType::NewDecimal(p, s);
      if (t.is_unsigned) ft.flag |= kUnsignedFlag;
      return ft;
    }
    case TypeKind::kFloat:
      if (t.length > 24) {
        ft = FieldType::Double();
      } else {
        ft = FieldType::Float();
      }
      if (t.scale >= 0 && t.length >= 0) {
        ft.flen = static_cast<int>(t.length);
        ft.decimal = static_cast<int>(t.scale);
      }
      if (t.is_unsigned) ft.flag |= kUnsignedFlag;
      return ft;
    case TypeKind::kDouble:
      ft = FieldType::Double();
      if (t.scale >= 0 && t.length >= 0) {
        ft.flen = static_cast<int>(t.length);
        ft.decimal = static_cast<int>(t.scale);
      }
      if (t.is_unsigned) ft.flag |= kUnsignedFlag;
      return ft;
    case TypeKind::kChar:
    case TypeKind::kVarChar:
    case TypeKind::kEnum:
    case TypeKind::kSet:
    case TypeKind::kJson: {
      auto c = collation(kDefaultCollation);
      if (!c.ok()) return c.status();
      int len = t.length < 0 ? (t.kind == TypeKind::kChar ? 1 : 255) : static_cast<int>(t.length);
      ft = FieldType::Varchar(len, *c);
      if (t.kind == TypeKind::kChar) ft.tp = TypeCode::kString;
      return ft;
    }
    case TypeKind::kBinary:
    case TypeKind::kVarBinary: {
      int len = t.length < 0 ? (t.kind == TypeKind::kBinary ? 1 : 255) : static_cast<int>(t.length);
      ft = FieldType::VarBinary(len);
      if (t.kind == TypeKind::kBinary) ft.tp = TypeCode::kString;
      return ft;
    }
    case TypeKind::kTinyText:
    case TypeKind::kText:
    case TypeKind::kMediumText:
    case TypeKind::kLongText: {
      auto c = collation(kDefaultCollation);
      if (!c.ok()) return c.status();
      ft = FieldType::Blob(*c);
      return ft;
    }
    case TypeKind::kTinyBlob:
    case TypeKind::kBlob:
    case TypeKind::kMediumBlob:
    case TypeKind::kLongBlob:
      return FieldType::Blob(Collation::kBinary);
    case TypeKind::kDate:
      return FieldType::Date();
    case TypeKind::kDateTime:
      return FieldType::Datetime(t.length < 0 ? 0 : static_cast<int>(t.length));
    case TypeKind::kTimestamp:
      return FieldType::Timestamp(t.length < 0 ? 0 : static_cast<int>(t.length));
    case TypeKind::kTime:
      return FieldType::Duration(t.length < 0 ? 0 : static_cast<int>(t.length));
  }
  if (t.length > 0 && ft.IsInteger()) ft.flen = static_cast<int>(t.length);
  if (t.zerofill) ft.flag |= kZerofillFlag | kUnsignedFlag;
  return ft;
}

Catalog::Catalog() {}

absl::Status Catalog::CreateDatabase(const std::string& name, bool if_not_exists) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string lower = LowerName(name);
  if (dbs_.count(lower)) {
    if (if_not_exists) return absl::OkStatus();
    return MakeMySqlStatus(absl::StatusCode::kAlreadyExists,
                           {kErDbCreateExists, "HY000",
                            absl::StrCat("Can't create database '", name, "'; database exists")});
  }
  dbs_[lower];
  db_names_[lower] = name;
  ++version_;
  return absl::OkStatus();
}

absl::Status Catalog::DropDatabase(const std::string& name, bool if_exists,
                                   std::vector<TablePtr>* dropped) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string lower = LowerName(name);
  auto it = dbs_.find(lower);
  if (it == dbs_.end()) {
    if (if_exists) return absl::OkStatus();
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErDbDropExists, "HY000",
         absl::StrCat("Can't drop database '", name, "'; database doesn't exist")});
  }
  for (auto& [n, t] : it->second) dropped->push_back(t);
  dbs_.erase(it);
  db_names_.erase(lower);
  ++version_;
  return absl::OkStatus();
}

bool Catalog::HasDatabase(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  return dbs_.count(LowerName(name)) > 0;
}

std::vector<std::string> Catalog::Databases() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (auto& [lower, name] : db_names_) out.push_back(name);
  return out;
}

std::vector<TablePtr> Catalog::Tables(const std::string& db) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<TablePtr> out;
  auto it = dbs_.find(LowerName(db));
  if (it == dbs_.end()) return out;
  for (auto& [n, t] : it->second) out.push_back(t);
  return out;
}

TablePtr Catalog::FindTable(const std::string& db, const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dbs_.find(LowerName(db));
  if (it == dbs_.end()) return nullptr;
  auto t = it->second.find(LowerName(name));
  if (t == it->second.end()) return nullptr;
  return t->second;
}

absl::StatusOr<TablePtr> Catalog::GetTable(const std::string& db, const std::string& name) const {
  TablePtr t = FindTable(db, name);
  if (t == nullptr) {
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErNoSuchTable, "42S02", absl::StrCat("Table '", db, ".", name, "' doesn't exist")});
  }
  return t;
}

absl::Status Catalog::AddTable(std::shared_ptr<TableInfo> table) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dbs_.find(LowerName(table->db));
  if (it == dbs_.end()) {
    return MakeMySqlStatus(absl::StatusCode::kNotFound,
                           {kErBadDb, "42000", absl::StrCat("Unknown database '", table->db, "'")});
  }
  const std::string lower = LowerName(table->name);
  if (it->second.count(lower)) {
    return MakeMySqlStatus(
        absl::StatusCode::kAlreadyExists,
        {kErTableExists, "42S01", absl::StrCat("Table '", table->name, "' already exists")});
  }
  if (table->id == 0) table->id = next_id_.fetch_add(1);
  it->second[lower] = std::move(table);
  ++version_;
  return absl::OkStatus();
}

absl::Status Catalog::ReplaceTable(std::shared_ptr<TableInfo> table) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dbs_.find(LowerName(table->db));
  if (it == dbs_.end()) return absl::NotFoundError("database vanished");
  auto t = it->second.find(LowerName(table->name));
  if (t == it->second.end() || t->second->id != table->id) {
    return absl::NotFoundError("table vanished");
  }
  t->second = std::move(table);
  ++version_;
  return absl::OkStatus();
}

absl::Status Catalog::RemoveTable(const std::string& db, const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dbs_.find(LowerName(db));
  if (it == dbs_.end() || it->second.erase(LowerName(name)) == 0) {
    return MakeMySqlStatus(
        absl::StatusCode::kNotFound,
        {kErBadTable, "42S02", absl::StrCat("Unknown table '", db, ".", name, "'")});
  }
  ++version_;
  return absl::OkStatus();
}

}  // namespace rutile::sql
