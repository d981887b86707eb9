// FieldType: the SQL type of a column or an expression result, in MySQL's terms (type
// code, flags, display length, decimals, collation), and EvalType, the physical class an
// expression is evaluated in (TiDB's types.EvalType).
//
// Thread safety: value types; const methods may be called concurrently.

#ifndef RUTILE_SQL_TYPES_FIELD_TYPE_H_
#define RUTILE_SQL_TYPES_FIELD_TYPE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace rutile::sql {

// MySQL protocol type codes (the values MySQL puts in column definitions).
enum class TypeCode : uint8_t {
  kDecimal = 0,  // Old DECIMAL; never produced, kept for the wire.
  kTiny = 1,
  kShort = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kNull = 6,
  kTimestamp = 7,
  kLongLong = 8,
  kInt24 = 9,
  kDate = 10,
  kDuration = 11,  // TIME.
  kDatetime = 12,
  kYear = 13,
  kNewDate = 14,
  kVarchar = 15,
  kBit = 16,
  kJson = 245,
  kNewDecimal = 246,
  kEnum = 247,
  kSet = 248,
  kTinyBlob = 249,
  kMediumBlob = 250,
  kLongBlob = 251,
  kBlob = 252,
  kVarString = 253,
  kString = 254,
  kGeometry = 255,
};

// Column flags, as MySQL sends them.
inline constexpr uint32_t kNotNullFlag = 1;
inline constexpr uint32_t kPriKeyFlag = 2;
inline constexpr uint32_t kUniqueKeyFlag = 4;
inline constexpr uint32_t kMultipleKeyFlag = 8;
inline constexpr uint32_t kBlobFlag = 16;
inline constexpr uint32_t kUnsignedFlag = 32;
inline constexpr uint32_t kZerofillFlag = 64;
inline constexpr uint32_t kBinaryFlag = 128;
inline constexpr uint32_t kAutoIncrementFlag = 512;

// Display length / decimals not given (MySQL's NOT_FIXED_DEC is 31 for decimals).
inline constexpr int kUnspecifiedLength = -1;
// Fractional-second precision bounds.
inline constexpr int kMaxFsp = 6;
// Decimal limits (MySQL's DECIMAL_MAX_PRECISION and DECIMAL_MAX_SCALE).
inline constexpr int kMaxDecimalPrecision = 65;
inline constexpr int kMaxDecimalScale = 30;
// div_precision_increment: scale that `/` adds to its dividend's scale.
inline constexpr int kDivPrecisionIncrement = 4;

// Collations. Comparison of strings follows the collation: kBinary compares bytes
// exactly; kUtf8mb4Bin compares bytes ignoring trailing spaces (PAD SPACE);
// kUtf8mb4GeneralCi folds case and common accents and ignores trailing spaces.
enum class Collation : uint8_t {
  kBinary = 0,
  kUtf8mb4Bin = 1,
  kUtf8mb4GeneralCi = 2,
};

// The collation string literals and new string columns get by default: MySQL's default
// collations are case-insensitive.
inline constexpr Collation kDefaultCollation = Collation::kUtf8mb4GeneralCi;

// MySQL collation id (63 binary, 46 utf8mb4_bin, 45 utf8mb4_general_ci).
int CollationId(Collation c);
std::string_view CollationName(Collation c);
// Accepts "binary", "utf8mb4_bin", "utf8mb4_general_ci" and, mapped to the nearest one
// supported, "utf8mb4_0900_ai_ci"/"utf8mb4_unicode_ci"/"utf8_general_ci"/"utf8_bin".
bool CollationFromName(std::string_view name, Collation* out);

// The class an expression is evaluated in.
enum class EvalType : uint8_t {
  kInt,       // int64 or uint64 (FieldType's unsigned flag tells which).
  kReal,      // double.
  kDecimal,   // Decimal.
  kString,    // bytes with a collation.
  kDatetime,  // Time (DATE, DATETIME, TIMESTAMP).
  kDuration,  // Duration (TIME).
  kJson,      // JSON text; evaluated as a string for now.
};

std::string_view EvalTypeName(EvalType t);

struct FieldType {
  TypeCode tp = TypeCode::kNull;
  uint32_t flag = 0;
  int flen = kUnspecifiedLength;
  int decimal = kUnspecifiedLength;
  Collation collation = Collation::kBinary;

  bool IsUnsigned() const { return (flag & kUnsignedFlag) != 0; }
  bool NotNull() const { return (flag & kNotNullFlag) != 0; }
  EvalType GetEvalType() const;
  // Integer types (TINYINT..BIGINT, YEAR, BIT).
  bool IsInteger() const;
  // CHAR/VARCHAR/TEXT/BLOB/ENUM/SET.
  bool IsString() const;
  // DATE/DATETIME/TIMESTAMP.
  bool IsDatetime() const;
  // DATE/DATETIME/TIMESTAMP/TIME.
  bool IsTemporal() const;
  // A string type whose collation is binary (BINARY, VARBINARY, BLOB).
  bool IsBinaryString() const { return IsString() && collation == Collation::kBinary; }

  // MySQL's SQL spelling, e.g. "bigint(20) unsigned", "decimal(10,2)", "varchar(255)".
  std::string ToString() const;

  bool operator==(const FieldType&) const = default;

  // Constructors for the types expressions produce.
  static FieldType Null();
  static FieldType LongLong(bool is_unsigned = false);
  static FieldType Int(TypeCode tp, bool is_unsigned = false);
  static FieldType Double();
  static FieldType Float();
  static FieldType NewDecimal(int precision, int scale);
  static FieldType Varchar(int flen, Collation collation = kDefaultCollation);
  static FieldType VarBinary(int flen);
  static FieldType Blob(Collation collation = Collation::kBinary);
  static FieldType Date();
  static FieldType Datetime(int fsp = 0);
  static FieldType Timestamp(int fsp = 0);
  static FieldType Duration(int fsp = 0);
};

// Default display length of an integer type (e.g. 20 for BIGINT, 11 for INT).
int DefaultIntFlen(TypeCode tp, bool is_unsigned);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_FIELD_TYPE_H_
