// Cardinality and selectivity estimation (TiDB's planner/cardinality): the estimated rows
// of plan nodes, from table statistics (planner/stats.h) when ANALYZE has collected them
// and from TiDB's pseudo statistics otherwise (10000 rows; equality 1/1000, a range 1/3,
// BETWEEN 1/40, anything else 0.8).
//
// Thread safety: pure functions over immutable plans and statistics.

#ifndef RUTILE_SQL_PLANNER_CARDINALITY_H_
#define RUTILE_SQL_PLANNER_CARDINALITY_H_

#include "sql/exec/plan.h"
#include "sql/planner/stats.h"

namespace rutile::sql {

inline constexpr double kPseudoRows = 10000;
inline constexpr double kPseudoEqualRate = 1.0 / 1000;
inline constexpr double kPseudoLessRate = 1.0 / 3;
inline constexpr double kPseudoBetweenRate = 1.0 / 40;
inline constexpr double kSelectionFactor = 0.8;
// A join condition that is not an equality of its two sides.
inline constexpr double kDefaultJoinSelectivity = kSelectionFactor;

// The statistics of `scan`'s table when collected (null otherwise).
TableStatsPtr StatsOf(const TableScanNode& scan, const StatsCache* stats);

// Rows of `scan`'s table (statistics or pseudo).
double TableRows(const TableScanNode& scan, const StatsCache* stats);

// Fraction of `scan`'s rows for which `cond` (bound to the scan's output) holds.
double ConditionSelectivity(const expr::Expression& cond, const TableScanNode& scan,
                            const StatsCache* stats);

// Estimated distinct values of output column `col` of `plan`, which produces `rows` rows:
// statistics for a base table column, the row count for the handle or a one-column unique
// index, else the row count.
double ColumnNdv(const PlanNode& plan, size_t col, double rows, const StatsCache* stats);

// Estimates the rows of `plan` and of every node under it (setting est_rows where it is
// not set yet) and returns the estimate for `plan`.
double EstimatePlanRows(PlanNode* plan, const StatsCache* stats);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_CARDINALITY_H_
