// Result types of expressions, following MySQL: `1/2` is DECIMAL with scale 4, `1 DIV 2`
// BIGINT, int + decimal DECIMAL, int + double DOUBLE; CASE/IF/COALESCE unify their
// branches; SUM(int) is DECIMAL, AVG adds 4 to the scale, COUNT is BIGINT.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_TYPES_INFER_H_
#define RUTILE_SQL_TYPES_INFER_H_

#include <span>

#include "sql/types/field_type.h"

namespace rutile::sql {

enum class ArithOp : uint8_t { kPlus, kMinus, kMul, kDiv, kIntDiv, kMod };

// The class arithmetic evaluates an operand of type `ft` in: int, decimal (temporal
// values with fractional seconds too) or real (strings, doubles, NULL).
EvalType NumericContextEvalType(const FieldType& ft);
// Digits before the point / after it that a numeric type can hold.
int IntegerDigits(const FieldType& ft);
int ScaleOf(const FieldType& ft);

FieldType InferArithmetic(ArithOp op, const FieldType& a, const FieldType& b);
FieldType InferUnaryMinus(const FieldType& a);
// The common type of CASE/IF/IFNULL/COALESCE branches (and UNION columns). NULL-typed
// entries are skipped; all NULL gives the NULL type.
FieldType UnifyTypes(std::span<const FieldType> types);

FieldType InferCount();
FieldType InferSum(const FieldType& arg);
FieldType InferAvg(const FieldType& arg);
FieldType InferMinMax(const FieldType& arg);
FieldType InferGroupConcat(const FieldType& arg);

// The type of a literal: integers get their digit count as display length, decimals
// their precision and scale, strings their length.
FieldType LiteralIntType(int64_t v);
FieldType LiteralUintType(uint64_t v);
FieldType LiteralDecimalType(int precision, int scale);
FieldType LiteralStringType(size_t chars, Collation collation = kDefaultCollation);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_INFER_H_
