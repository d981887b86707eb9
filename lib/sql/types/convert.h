// Conversions between SQL types with MySQL's semantics (TiDB's types/convert.go).
//
// Strings convert to numbers by their longest numeric prefix ('12abc' -> 12, 'abc' -> 0)
// with a 1292 "Truncated incorrect ... value" warning when anything was left over.
// Out-of-range values are clipped to the target's range with a warning. Under
// EvalContext::strict_writes these warnings are errors instead (see HandleTruncate).
// Doubles become integers by rounding half to even (MySQL uses rint()); decimals by
// rounding half away from zero.
//
// Thread safety: pure functions apart from the warnings they append to the context.

#ifndef RUTILE_SQL_TYPES_CONVERT_H_
#define RUTILE_SQL_TYPES_CONVERT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sql/types/context.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql {

// ---- Strings to numbers ----
absl::StatusOr<int64_t> StrToInt64(EvalContext* ctx, std::string_view s);
// A leading '-' gives the two's-complement reinterpretation with a warning, as
// CAST('-1' AS UNSIGNED) does.
absl::StatusOr<uint64_t> StrToUint64(EvalContext* ctx, std::string_view s);
absl::StatusOr<double> StrToDouble(EvalContext* ctx, std::string_view s);
absl::StatusOr<Decimal> StrToDecimal(EvalContext* ctx, std::string_view s);

// ---- Numbers to integers ----
absl::StatusOr<int64_t> DoubleToInt64(EvalContext* ctx, double v);
absl::StatusOr<uint64_t> DoubleToUint64(EvalContext* ctx, double v);
absl::StatusOr<int64_t> DecimalToInt64(EvalContext* ctx, const Decimal& v);
absl::StatusOr<uint64_t> DecimalToUint64(EvalContext* ctx, const Decimal& v);
// MySQL rounds doubles to integers half to even.
double RoundHalfEven(double v);

// ---- Datum conversions by evaluation class ----
// Each accepts a non-NULL datum of any kind. `from` is the datum's SQL type (it decides
// e.g. whether an int64 is read as signed). Results:
//   ToInt: kInt64, or kUint64 when `to_unsigned`.
//   ToReal: kFloat64.   ToDecimal: kDecimal.   ToString: kString.
//   ToTime: kTime, or NULL with a 1292 warning for a bad value.
//   ToDuration: kDuration, or NULL with a warning.
absl::StatusOr<Datum> ToInt(EvalContext* ctx, const Datum& v, const FieldType& from,
                            bool to_unsigned);
absl::StatusOr<Datum> ToReal(EvalContext* ctx, const Datum& v, const FieldType& from);
absl::StatusOr<Datum> ToDecimal(EvalContext* ctx, const Datum& v, const FieldType& from);
std::string ToStringValue(const Datum& v, const FieldType& from);
absl::StatusOr<Datum> ToTime(EvalContext* ctx, const Datum& v, const FieldType& from, TimeType type,
                             int fsp);
absl::StatusOr<Datum> ToDuration(EvalContext* ctx, const Datum& v, const FieldType& from, int fsp);

// Converts `v` (of type `from`) to a value of type `to`, as CAST and implicit casts do:
// integers are clipped to the target integer type's range, decimals fitted to
// DECIMAL(flen, decimal), strings cut to `to.flen` characters, temporals rounded to
// `to.decimal` fractional digits. NULL stays NULL.
absl::StatusOr<Datum> CastDatum(EvalContext* ctx, const Datum& v, const FieldType& from,
                                const FieldType& to);

// The truth value of a non-NULL datum in a boolean context (strings via double).
absl::StatusOr<bool> DatumToBool(EvalContext* ctx, const Datum& v, const FieldType& from);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_CONVERT_H_
