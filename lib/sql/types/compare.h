// Comparison of datums and MySQL's rules for the type two operands are compared in.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_TYPES_COMPARE_H_
#define RUTILE_SQL_TYPES_COMPARE_H_

#include <span>

#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql {

// Total order over datums, for sorting, MIN/MAX and key ranges: NULL < MinNotNull <
// values < MaxValue. Numbers of different kinds compare by value (int64 vs uint64 and
// int vs decimal exactly, anything vs double as double); strings compare under
// `collation`; a string against a number compares as doubles, against a temporal as that
// temporal when it parses. Values of unrelated kinds order by kind.
int CompareDatum(const Datum& a, const Datum& b, Collation collation = Collation::kBinary);

// The class two operands of a comparison are converted to (MySQL's item_cmp_type with
// its temporal rules): string+string -> string; int+int -> int; int/decimal mixes ->
// decimal; DATETIME-class with DATETIME-class or string -> datetime; TIME with TIME or
// string -> duration; a temporal with a number -> decimal (or real with a real);
// anything else -> real. A NULL-typed operand takes the other's class.
EvalType CmpEvalType(const FieldType& a, const FieldType& b);
// The same over several operands (IN, BETWEEN, GREATEST, LEAST).
EvalType AggCmpEvalType(std::span<const FieldType> types);

// The collation a comparison of strings of these types uses: binary if either is binary,
// else utf8mb4_bin if either is, else general_ci.
Collation CmpCollation(const FieldType& a, const FieldType& b);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_COMPARE_H_
