#include "sql/types/field_type.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace rutile::sql {

int CollationId(Collation c) {
  switch (c) {
    case Collation::kBinary:
      return 63;
    case Collation::kUtf8mb4Bin:
      return 46;
    case Collation::kUtf8mb4GeneralCi:
      return 45;
  }
  return 63;
}

std::string_view CollationName(Collation c) {
  switch (c) {
    case Collation::kBinary:
      return "binary";
    case Collation::kUtf8mb4Bin:
      return "utf8mb4_bin";
    case Collation::kUtf8mb4GeneralCi:
      return "utf8mb4_general_ci";
  }
  return "binary";
}

bool CollationFromName(std::string_view name, Collation* out) {
  std::string n = absl::AsciiStrToLower(std::string(name));
  if (n == "binary") {
    *out = Collation::kBinary;
  } else if (n == "utf8mb4_bin" || n == "utf8_bin" || n == "latin1_bin" || n == "ascii_bin") {
    *out = Collation::kUtf8mb4Bin;
  } else if (n == "utf8mb4_general_ci" || n == "utf8_general_ci" || n == "utf8mb4_unicode_ci" ||
             n == "utf8mb4_0900_ai_ci" || n == "utf8_unicode_ci" || n == "latin1_swedish_ci" ||
             n == "ascii_general_ci") {
    *out = Collation::kUtf8mb4GeneralCi;
  } else {
    return false;
  }
  return true;
}

std::string_view EvalTypeName(EvalType t) {
  switch (t) {
    case EvalType::kInt:
      return "int";
    case EvalType::kReal:
      return "real";
    case EvalType::kDecimal:
      return "decimal";
    case EvalType::kString:
      return "string";
    case EvalType::kDatetime:
      return "datetime";
    case EvalType::kDuration:
      return "duration";
    case EvalType::kJson:
      return "json";
  }
  return "?";
}

EvalType FieldType::GetEvalType() const {
  switch (tp) {
    case TypeCode::kTiny:
    case TypeCode::kShort:
    case TypeCode::kInt24:
    case TypeCode::kLong:
    case TypeCode::kLongLong:
    case TypeCode::kYear:
    case TypeCode::kBit:
      return EvalType::kInt;
    case TypeCode::kFloat:
    case TypeCode::kDouble:
      return EvalType::kReal;
    case TypeCode::kNewDecimal:
    case TypeCode::kDecimal:
      return EvalType::kDecimal;
    case TypeCode::kDate:
    case TypeCode::kNewDate:
    case TypeCode::kDatetime:
    case TypeCode::kTimestamp:
      return EvalType::kDatetime;
    case TypeCode::kDuration:
      return EvalType::kDuration;
    case TypeCode::kJson:
      return EvalType::kJson;
    default:
      return EvalType::kString;
  }
}

bool FieldType::IsInteger() const { return GetEvalType() == EvalType::kInt; }

bool FieldType::IsString() const {
  switch (tp) {
    case TypeCode::kVarchar:
    case TypeCode::kVarString:
    case TypeCode::kString:
    case TypeCode::kTinyBlob:
    case TypeCode::kMediumBlob:
    case TypeCode::kLongBlob:
    case TypeCode::kBlob:
    case TypeCode::kEnum:
    case TypeCode::kSet:
      return true;
    default:
      return false;
  }
}

bool FieldType::IsDatetime() const { return GetEvalType() == EvalType::kDatetime; }

bool FieldType::IsTemporal() const {
  EvalType et = GetEvalType();
  return et == EvalType::kDatetime || et == EvalType::kDuration;
}

namespace {

std::string_view TypeName(TypeCode tp) {
  switch (tp) {
    case TypeCode::kTiny:
      return "tinyint";
    case TypeCode::kShort:
      return "smallint";
    case TypeCode::kInt24:
      return "mediumint";
    case TypeCode::kLong:
      return "int";
    case TypeCode::kLongLong:
      return "bigint";
    case TypeCode::kFloat:
      return "float";
    case TypeCode::kDouble:
      return "double";
    case TypeCode::kNull:
      return "null";
    case TypeCode::kTimestamp:
      return "timestamp";
    case TypeCode::kDate:
    case TypeCode::kNewDate:
      return "date";
    case TypeCode::kDuration:
      return "time";
    case TypeCode::kDatetime:
      return "datetime";
    case TypeCode::kYear:
      return "year";
    case TypeCode::kVarchar:
    case TypeCode::kVarString:
      return "varchar";
    case TypeCode::kString:
      return "char";
    case TypeCode::kBit:
      return "bit";
    case TypeCode::kJson:
      return "json";
    case TypeCode::kDecimal:
    case TypeCode::kNewDecimal:
      return "decimal";
    case TypeCode::kEnum:
      return "enum";
    case TypeCode::kSet:
      return "set";
    case TypeCode::kTinyBlob:
      return "tinyblob";
    case TypeCode::kMediumBlob:
      return "mediumblob";
    case TypeCode::kLongBlob:
      return "longblob";
    case TypeCode::kBlob:
      return "blob";
    case TypeCode::kGeometry:
      return "geometry";
  }
  return "unknown";
}

}  // namespace

std::string FieldType::ToString() const {
  std::string name(TypeName(tp));
  const bool binary = collation == Collation::kBinary;
  if (binary) {
    if (tp == TypeCode::kVarchar || tp == TypeCode::kVarString) name = "varbinary";
    if (tp == TypeCode::kString) name = "binary";
  } else {
    if (tp == TypeCode::kTinyBlob) name = "tinytext";
    if (tp == TypeCode::kBlob) name = "text";
    if (tp == TypeCode::kMediumBlob) name = "mediumtext";
    if (tp == TypeCode::kLongBlob) name = "longtext";
  }
  std::string out = name;
  switch (GetEvalType()) {
    case EvalType::kInt:
      if (flen > 0 && tp != TypeCode::kYear) absl::StrAppend(&out, "(", flen, ")");
      if (IsUnsigned()) absl::StrAppend(&out, " unsigned");
      break;
    case EvalType::kDecimal:
      absl::StrAppend(&out, "(", flen < 0 ? 10 : flen, ",", decimal < 0 ? 0 : decimal, ")");
      if (IsUnsigned()) absl::StrAppend(&out, " unsigned");
      break;
    case EvalType::kReal:
      if (flen > 0 && decimal >= 0) absl::StrAppend(&out, "(", flen, ",", decimal, ")");
      if (IsUnsigned()) absl::StrAppend(&out, " unsigned");
      break;
    case EvalType::kDatetime:
    case EvalType::kDuration:
      if (decimal > 0 && tp != TypeCode::kDate) absl::StrAppend(&out, "(", decimal, ")");
      break;
    case EvalType::kString:
      if ((tp == TypeCode::kVarchar || tp == TypeCode::kVarString || tp == TypeCode::kString) &&
          flen >= 0) {
        absl::StrAppend(&out, "(", flen, ")");
      }
      break;
    case EvalType::kJson:
      break;
  }
  return out;
}

int DefaultIntFlen(TypeCode tp, bool is_unsigned) {
  switch (tp) {
    case TypeCode::kTiny:
      return is_unsigned ? 3 : 4;
    case TypeCode::kShort:
      return is_unsigned ? 5 : 6;
    case TypeCode::kInt24:
      return is_unsigned ? 8 : 9;
    case TypeCode::kLong:
      return is_unsigned ? 10 : 11;
    case TypeCode::kLongLong:
      return 20;
    case TypeCode::kYear:
      return 4;
    case TypeCode::kBit:
      return 1;
    default:
      return 20;
  }
}

FieldType FieldType::Null() {
  FieldType ft;
  ft.tp = TypeCode::kNull;
  ft.flen = 0;
  ft.decimal = 0;
  return ft;
}

FieldType FieldType::Int(TypeCode tp, bool is_unsigned) {
  FieldType ft;
  ft.tp = tp;
  ft.flag = is_unsigned ? kUnsignedFlag : 0;
  ft.flen = DefaultIntFlen(tp, is_unsigned);
  ft.decimal = 0;
  ft.collation = Collation::kBinary;
  return ft;
}

FieldType FieldType::LongLong(bool is_unsigned) { return Int(TypeCode::kLongLong, is_unsigned); }

FieldType FieldType::Double() {
  FieldType ft;
  ft.tp = TypeCode::kDouble;
  ft.flen = 22;
  ft.decimal = kUnspecifiedLength;
  return ft;
}

FieldType FieldType::Float() {
  FieldType ft;
  ft.tp = TypeCode::kFloat;
  ft.flen = 12;
  ft.decimal = kUnspecifiedLength;
  return ft;
}

FieldType FieldType::NewDecimal(int precision, int scale) {
  FieldType ft;
  ft.tp = TypeCode::kNewDecimal;
  if (scale > kMaxDecimalScale) scale = kMaxDecimalScale;
  if (scale < 0) scale = 0;
  if (precision > kMaxDecimalPrecision) precision = kMaxDecimalPrecision;
  if (precision < scale) precision = scale;
  if (precision < 1) precision = 1;
  ft.flen = precision;
  ft.decimal = scale;
  return ft;
}

FieldType FieldType::Varchar(int flen, Collation collation) {
  FieldType ft;
  ft.tp = TypeCode::kVarString;
  ft.flen = flen;
  ft.decimal = kUnspecifiedLength;
  ft.collation = collation;
  if (collation == Collation::kBinary) ft.flag |= kBinaryFlag;
  return ft;
}

FieldType FieldType::VarBinary(int flen) { return Varchar(flen, Collation::kBinary); }

FieldType FieldType::Blob(Collation collation) {
  FieldType ft;
  ft.tp = TypeCode::kBlob;
  ft.flen = 65535;
  ft.flag = kBlobFlag;
  ft.collation = collation;
  if (collation == Collation::kBinary) ft.flag |= kBinaryFlag;
  return ft;
}

FieldType FieldType::Date() {
  FieldType ft;
  ft.tp = TypeCode::kDate;
  ft.flen = 10;
  ft.decimal = 0;
  return ft;
}

FieldType FieldType::Datetime(int fsp) {
  FieldType ft;
  ft.tp = TypeCode::kDatetime;
  ft.decimal = fsp;
  ft.flen = fsp > 0 ? 20 + fsp : 19;
  return ft;
}

FieldType FieldType::Timestamp(int fsp) {
  FieldType ft = Datetime(fsp);
  ft.tp = TypeCode::kTimestamp;
  return ft;
}

FieldType FieldType::Duration(int fsp) {
  FieldType ft;
  ft.tp = TypeCode::kDuration;
  ft.decimal = fsp;
  ft.flen = fsp > 0 ? 11 + fsp : 10;
  return ft;
}

}  // namespace rutile::sql
