// Ranges of index and handle keys from a scan's conditions (TiDB's util/ranger): the
// conditions pushed into a table scan, bound to its output, become a union of key ranges
// over an index's columns (or the integer handle) that contains every row they accept.
//
// Per column the conditions give a set of intervals over the column's memcomparable key
// encoding: comparisons with constants, IN lists, BETWEEN and IS [NOT] NULL give
// intervals, AND intersects, OR unites, anything else is the whole domain (NULL included).
// Over a multi-column index the columns are taken in order: while a column's set is a
// few points (=, IN, IS NULL), each point extends every prefix built so far; the first
// column with a non-point set closes the ranges (prefix + interval), and the rest are not
// used. The ranges may accept more rows than the conditions (a comparison of an integer
// column with 5.5 reads from 5; a float is widened by one unit in the last place): the
// scan keeps every condition as its filter, so ranges only narrow what is read.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_PLANNER_RANGER_H_
#define RUTILE_SQL_PLANNER_RANGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sql/expr/expression.h"
#include "sql/types/field_type.h"

namespace rutile::sql {

// One column's interval [lo, hi) over encoded values; `hi_inf`: no upper bound. `point`:
// exactly the encodings of one value (or of NULL).
struct KeyInterval {
  std::string lo;
  std::string hi;
  bool hi_inf = false;
  bool point = false;
};
// Ascending and disjoint.
using IntervalSet = std::vector<KeyInterval>;

// A range of concatenated column encodings [lo, hi) (hi empty: to the end), with TiDB's
// pseudo selectivity of the conditions it came from (equality 1/1000, one bound 1/3,
// both 1/40).
struct KeyRange {
  std::string lo;
  std::string hi;
  double pseudo_selectivity = 1;
  // Every column of the index is fixed to one value (a unique index: at most one row).
  bool full_point = false;
};

// The ranges for an index over scan output columns `cols` (of types `types`). Returns
// nullopt when the first column is not constrained (no range narrower than a full scan).
// An empty vector: the conditions accept no row.
std::optional<std::vector<KeyRange>> BuildIndexRanges(
    const std::vector<const expr::Expression*>& conds, const std::vector<size_t>& cols,
    const std::vector<FieldType>& types);

// Inclusive handle ranges, ascending and disjoint, for the integer handle at output
// column `col`; nullopt when the conditions do not narrow it.
std::optional<std::vector<std::pair<int64_t, int64_t>>> BuildHandleRanges(
    const std::vector<const expr::Expression*>& conds, size_t col);

// Whether ranges can be built on a column of type `t` (signed integers, FLOAT/DOUBLE, and
// strings for equality and IN).
bool RangeableType(const FieldType& t);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_RANGER_H_
