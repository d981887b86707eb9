// What a table read pushes to the coprocessor (TiDB's planner/core task.go: a cop task
// absorbs the scan's selection, then a partial aggregation, a TopN or a limit, and a root
// task finishes them). Decided over a plan as the binder built it: a full or handle-range
// table scan (not point gets, index lookups or memory tables) whose filter can be
// evaluated at the store (expr_pb.h CanPushDown) is a coprocessor read; directly above
// it, a hash aggregation (every group-by and argument pushable, no first-row values) runs
// partial at the regions and final at the root, a TopN runs at the regions and again at
// the root, and a Limit sends offset+count at most from each region; each of them also
// across projections of pushable expressions between it and the scan (CopPushdown::projs).
// A partial aggregation (AggMode::kPartial, below a join: planner/agg_pushdown.h) runs
// whole at the regions, the root passing their partial rows on; a final one is never pushed.
//
// The decision is a pure function of the plan: the executor builder (exec/reader.h) and
// EXPLAIN call it and agree. Whether a read really goes to the coprocessor also depends
// on the transaction at run time (kv::KvTxn::CoprocessorSnapshot: not in a locking
// statement), and what is pushed too: when the transaction has its own writes in the
// table's range (kv::KvTxn::SnapshotOverlay), the coprocessor runs the scan and its
// filter only and a UnionScan merges the writes over its rows at the root (TiDB's
// UnionScan), where the aggregation, TopN or limit then runs.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_PLANNER_PUSHDOWN_H_
#define RUTILE_SQL_PLANNER_PUSHDOWN_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "coprocessor.pb.h"
#include "sql/coprocessor/distsql.h"
#include "sql/exec/plan.h"

namespace rutile::sql {

struct CopPushdown {
  const TableScanNode* scan = nullptr;
  // Exactly one of these may be set: the node above the scan whose work is pushed.
  const AggregateNode* agg = nullptr;  // Partial aggregation at the regions.
  const SortNode* topn = nullptr;      // TopN of *topn->limit rows at the regions.
  const LimitNode* limit = nullptr;    // offset+count rows at most from each region.
  // The projections between the pushed node and the scan (the one below the node first).
  // With `agg`, their expressions are inlined into the aggregation's (TiDB pushes an
  // aggregation across a projection) and nothing of them runs at the root. With `topn`
  // (order expressions inlined) or `limit`, the regions return the scan's rows and the
  // projections run at the root over them, below the final TopN / Limit (TiDB pushes a
  // TopN / Limit across a projection).
  std::vector<const ProjectionNode*> projs;
};

// The coprocessor read rooted at `node` (a TableScan, or an Aggregate / Sort with a limit /
// Limit over one, directly or across pushable projections), or nullopt when `node` is not read
// through the coprocessor.
std::optional<CopPushdown> PlanPushdown(const PlanNode& node);

// The DAG of `cop`, evaluated with `ctx`'s settings. Its output: the scan's schema
// (columns then the handle), or for an aggregation each aggregate's partial columns then
// the group-by values.
absl::StatusOr<rutile::coprocessor::DagRequest> BuildCopDag(const CopPushdown& cop,
                                                            const EvalContext& ctx);

// The raw key ranges `scan` reads.
std::vector<coprocessor::KeyRange> CopScanRanges(const TableScanNode& scan);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_PUSHDOWN_H_
