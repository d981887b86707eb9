// EXPLAIN and EXPLAIN ANALYZE output (TiDB's format): one row per operator, the tree drawn
// in the id column, with the estimated rows, where it runs (root, or cop[tikv] for what a
// table reader pushes to the coprocessor), the table and index it reads, and its
// conditions; EXPLAIN ANALYZE adds the actual rows, Next calls and time of each operator.
//
// Operator names: Point_Get / Batch_Point_Get (handles), TableRangeScan (a handle range),
// IndexLookUp (an index range, then the rows), TableFullScan, Selection, Projection,
// HashJoin / NestedLoopJoin, HashAgg, Sort, TopN, Limit, HashDistinct, Union / Except /
// Intersect, TableDual, UnionScan (a read merging the transaction's own writes).
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_PLANNER_EXPLAIN_H_
#define RUTILE_SQL_PLANNER_EXPLAIN_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sql/exec/plan.h"
#include "sql/planner/stats.h"

namespace rutile::sql {

// Column names of ExplainRows' rows (with `analyze`, the runtime columns too).
std::vector<std::string> ExplainColumns(bool analyze);

// The rows of EXPLAIN for `plan` (estimating rows where the planner has not). With
// `runtime` (EXPLAIN ANALYZE), each row also has the operator's actual rows, loops and time.
// Without `coprocessor` (tidb_allow_coprocessor = 0), every operator runs at the root:
// no TableReader, nothing pushed, scans in task root. `union_scan` (optional) tells which
// scans' reads merge the transaction's own writes now (exec/reader.h UnionScanApplies):
// they show as a UnionScan at the root over the scan, and nothing above them is pushed.
std::vector<std::vector<std::string>> ExplainRows(
    PlanNode* plan, const StatsCache* stats,
    const std::map<const PlanNode*, OperatorRuntime>* runtime = nullptr, bool coprocessor = true,
    const std::function<bool(const TableScanNode&)>& union_scan = nullptr);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_EXPLAIN_H_
