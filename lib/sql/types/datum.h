// Datum: one SQL value of any type, as row-at-a-time code passes it around (TiDB's
// types.Datum). Vectorized code uses chunk columns instead.
//
// Thread safety: a value type.

#ifndef RUTILE_SQL_TYPES_DATUM_H_
#define RUTILE_SQL_TYPES_DATUM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "sql/types/decimal.h"
#include "sql/types/field_type.h"
#include "sql/types/time.h"

namespace rutile::sql {

enum class DatumKind : uint8_t {
  kNull = 0,
  kInt64,
  kUint64,
  kFloat32,
  kFloat64,
  kString,  // Bytes; the collation comes from the expression's FieldType.
  kDecimal,
  kTime,
  kDuration,
  // Range bounds for key ranges: below every non-NULL value / above every value.
  kMinNotNull,
  kMaxValue,
};

class Datum {
 public:
  Datum() = default;

  static Datum Null() { return Datum(); }
  static Datum Int(int64_t v) { return Datum(DatumKind::kInt64, Value(v)); }
  static Datum Uint(uint64_t v) { return Datum(DatumKind::kUint64, Value(v)); }
  static Datum Double(double v) { return Datum(DatumKind::kFloat64, Value(v)); }
  static Datum Float(float v) { return Datum(DatumKind::kFloat32, Value(static_cast<double>(v))); }
  static Datum String(std::string v) { return Datum(DatumKind::kString, Value(std::move(v))); }
  static Datum Dec(const Decimal& v) { return Datum(DatumKind::kDecimal, Value(v)); }
  static Datum FromTime(const Time& v) { return Datum(DatumKind::kTime, Value(v)); }
  static Datum FromDuration(const Duration& v) { return Datum(DatumKind::kDuration, Value(v)); }
  static Datum MinNotNull() { return Datum(DatumKind::kMinNotNull, Value()); }
  static Datum MaxValue() { return Datum(DatumKind::kMaxValue, Value()); }

  DatumKind kind() const { return kind_; }
  bool IsNull() const { return kind_ == DatumKind::kNull; }

  int64_t GetInt64() const { return std::get<int64_t>(v_); }
  uint64_t GetUint64() const { return std::get<uint64_t>(v_); }
  double GetDouble() const { return std::get<double>(v_); }
  const std::string& GetString() const { return std::get<std::string>(v_); }
  const Decimal& GetDecimal() const { return std::get<Decimal>(v_); }
  const Time& GetTime() const { return std::get<Time>(v_); }
  const Duration& GetDuration() const { return std::get<Duration>(v_); }

  // The value as MySQL's text protocol shows it ("NULL" for NULL).
  std::string ToString() const;
  // Kind and value, for test failure messages: "int64(5)", "string('a')".
  std::string DebugString() const;

  // Same kind and identical value (scale-sensitive for decimals, fsp-sensitive for
  // temporals); for tests. SQL comparison is CompareDatum in compare.h.
  bool IdenticalTo(const Datum& o) const;

 private:
  using Value =
      std::variant<std::monostate, int64_t, uint64_t, double, std::string, Decimal, Time, Duration>;
  Datum(DatumKind kind, Value v) : kind_(kind), v_(std::move(v)) {}

  DatumKind kind_ = DatumKind::kNull;
  Value v_;
};

// Formats a double as MySQL does: the shortest text that reads back as the same value,
// with an exponent only for very large or small magnitudes ("0.1", "1e20", "-1.5e-7").
std::string FormatDouble(double v);
// FLOAT: the shortest text that reads back as the same float.
std::string FormatFloat(float v);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_DATUM_H_
