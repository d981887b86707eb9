// Aggregation pushed below an inner join (TiDB's rule_aggregation_push_down, on by
// default here behind a statistics-based cost gate; TiDB keeps it behind
// tidb_opt_agg_push_down).
//
// An aggregation directly over an inner hash join whose work can be done per group of one
// side's rows (the "pushed side", S) becomes
//
//   Aggregate (final: merges partial rows)
//   └─Projection (each aggregate's partial columns, then the group-by values)
//     └─Join (same keys and condition, S's columns now the partial's key columns)
//       ├─Aggregate (partial, over S: grouped by every S column the join keys, the join's
//       │            other condition and the group-by read)
//       └─the other side
//
// Each partial row stands for the S rows of its group; the join repeats it once per
// matching row of the other side, exactly as it repeated each of those S rows, and
// merging a partial result m times is what aggregating its rows m times gives for COUNT,
// SUM, AVG ([count, sum]), MIN and MAX. So an aggregate is pushed when its arguments are
// S's columns or constants (or none: COUNT(*); the partial evaluates them over S's rows,
// joined or not, so nothing that could warn or fail), not DISTINCT, not GROUP_CONCAT.
// The group-by items, S's join keys and the join's other condition are evaluated over
// fewer rows (a partial row stands for several) with the same distinct values: they must
// be unable to warn (columns, constants, comparisons, logic, arithmetic over numbers).
// One rewrite reaches across the
// sides: SUM(x + y) with x of S and y of the other side, both signed integer columns of
// at most 32 bits (x + y is then exact BIGINT, never an error or warning): per partial
// group and matching row it is SUM(x) + COUNT(x) * y (NULL when the group has no non-NULL
// x or y is NULL, as every x + y then is), computed in DECIMAL (no overflow), and merged
// as the SUM's partial value. Anything else (an aggregate over both sides otherwise, over
// the other side only, DISTINCT, outer/semi/anti joins, index or merge joins, expressions
// a coprocessor could not evaluate) leaves the plan alone.
//
// Cost gate: S must be at least kAggPushMinRows rows (estimated) and its estimated
// groups (the product of its group columns' NDVs from ANALYZE statistics) at most
// kAggPushMaxGroupRatio of them; without statistics nothing is pushed. A partial over a
// table scan is itself pushed to the coprocessor (planner/pushdown.h): the regions ship
// partial rows instead of the table's.
//
// Thread safety: pure functions over a plan being built.

#ifndef RUTILE_SQL_PLANNER_AGG_PUSHDOWN_H_
#define RUTILE_SQL_PLANNER_AGG_PUSHDOWN_H_

#include "sql/exec/plan.h"
#include "sql/planner/stats.h"

namespace rutile::sql {

inline constexpr double kAggPushMinRows = 1000;
inline constexpr double kAggPushMaxGroupRatio = 0.1;

// Rewrites every aggregation of `plan`'s tree that qualifies (in place: the aggregation
// and join nodes keep their identity and output schemas).
void PushAggregationsBelowJoins(PlanNode* plan, const StatsCache* stats);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_AGG_PUSHDOWN_H_
