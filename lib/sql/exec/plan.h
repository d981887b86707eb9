// Plans: the trees the binder (planner/binder.h) builds and the executors
// (exec/executor.h) run. Each node has an output schema; expressions inside a node are
// bound to its child's output (a join's conditions to the concatenation of its children's
// outputs). Plans are immutable once built and may be executed many times (correlated
// subqueries re-run theirs once per outer row), each run with fresh executors.
//
// Thread safety: immutable after construction.

#ifndef RUTILE_SQL_EXEC_PLAN_H_
#define RUTILE_SQL_EXEC_PLAN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rutile/env.h"
#include "sql/catalog/catalog.h"
#include "sql/expr/aggregate.h"
#include "sql/expr/expression.h"
#include "sql/kv/kv.h"
#include "sql/types/context.h"

namespace rutile::sql {

struct PlanNode;

// What EXPLAIN ANALYZE measures of one operator: rows it produced, Next calls, and the
// time spent in them (its children's included).
struct OperatorRuntime {
  uint64_t rows = 0;
  uint64_t calls = 0;
  uint64_t micros = 0;
};

// What executors need beyond evaluation: the transaction and the catalog.
class ExecContext : public EvalContext {
 public:
  // When set, BuildExecutor wraps every executor to record its OperatorRuntime here.
  std::map<const PlanNode*, OperatorRuntime>* runtime = nullptr;
  kv::KvTxn* txn = nullptr;
  Catalog* catalog = nullptr;
  // Distinguishes statement executions (uncorrelated subqueries cache per run).
  uint64_t run_id = 0;
  // Where parallel operators spawn their worker fibers (null: everything runs on the
  // statement's fiber) and how many workers each may use (TiDB's
  // tidb_executor_concurrency; 1: serial).
  Env* env = nullptr;
  int concurrency = 1;
  // The statement's memory quota in bytes (tidb_mem_quota_query; 0: none) and what its
  // executors hold now, as estimated by the ones that buffer rows (hash aggregation, sort,
  // hash join build side).
  int64_t mem_quota = 0;
  int64_t mem_used = 0;
  // Table reads may run at the coprocessor (tidb_allow_coprocessor; planner/pushdown.h).
  bool allow_coprocessor = true;
  // Accounts `bytes` more (negative: released). Past the quota: MySQL error 8175, and the
  // statement fails (the executors unwind and release what they hold).
  absl::Status ConsumeMemory(int64_t bytes);
};

struct OutputColumn {
  std::string name;
  std::string table;  // Alias or table name qualifying the column ("" for expressions).
  std::string db;
  FieldType type;
  bool hidden = false;  // Not expanded by `*` (the handle column).
};
using Schema = std::vector<OutputColumn>;
std::vector<FieldType> SchemaTypes(const Schema& s);

enum class PlanKind : uint8_t {
  kDual,
  kTableScan,
  kSelection,
  kProjection,
  kJoin,
  kAggregate,
  kSort,
  kLimit,
  kDistinct,
  kSetOp,
};

struct PlanNode {
  explicit PlanNode(PlanKind k) : kind(k) {}
  virtual ~PlanNode() = default;
  PlanKind kind;
  Schema schema;
  std::vector<std::shared_ptr<PlanNode>> children;
  // The planner's estimate of the rows this node produces (negative: not estimated).
  double est_rows = -1;
  // One line describing this node (EXPLAIN).
  virtual std::string Describe() const = 0;
};
using PlanPtr = std::shared_ptr<PlanNode>;

// One row with no columns (SELECT without FROM).
struct DualNode : PlanNode {
  DualNode() : PlanNode(PlanKind::kDual) {}
  std::string Describe() const override { return "Dual"; }
};

// Reads rows of a table: output is every visible column then the handle (hidden).
// Access paths: a full scan, handle ranges, a list of handles (point gets), or ranges of
// a secondary index followed by row lookups (or, covering, the index alone).
struct TableScanNode : PlanNode {
  TableScanNode() : PlanNode(PlanKind::kTableScan) {}
  TablePtr table;
  std::optional<std::vector<int64_t>> handles;  // Point gets, ascending, distinct.
  int64_t lo = INT64_MIN;                       // Handle range (inclusive).
  int64_t hi = INT64_MAX;
  // Several handle ranges (inclusive, ascending, disjoint, inside [lo, hi]); when empty
  // the scan reads [lo, hi].
  std::vector<std::pair<int64_t, int64_t>> handle_ranges;
  // Index ranges: encoded index keys [first, second) of index `index_id`, ascending and
  // disjoint.
  int64_t index_id = 0;
  std::vector<std::pair<std::string, std::string>> index_ranges;
  // Covering index read: rows are decoded from the index entries alone; columns outside
  // the index are NULL (nothing above reads them).
  bool index_only = false;
  // Index merge (union): the rows any of these paths reads, each path an index's ranges
  // (index_id != 0) or row-key ranges (index_id == 0); every row is read once, in handle
  // order.
  struct MergePath {
    int64_t index_id = 0;
    std::vector<std::pair<std::string, std::string>> ranges;
  };
  std::vector<MergePath> merge_paths;
  // A covering index read in descending index order (ranges last to first).
  bool desc = false;
  // The planner's estimate of the rows the access path reads (negative: not estimated).
  double access_rows = -1;
  // The inner side of an index lookup join (JoinNode::inner_lookup): never read whole;
  // index_id names the index the lookups use (0: the handle).
  bool lookup_inner = false;
  // An operator above relies on this read's rows coming in key order (a merge join, or a
  // Sort the planner removed): a reader must not return them in any other order.
  bool keep_order = false;
  // Column pruning: the output columns the plan above reads (empty: all). A plain
  // coprocessor read ships only these (DagRequest.output_offsets); the others hold
  // placeholders (zero values) at the root.
  std::vector<bool> used_columns;
  // Filter pushed into the scan (bound to this node's output); may be null.
  expr::ExprPtr filter;
  // Rows after filtering, the first ones in the order the read yields them: a Limit
  // directly above (planner/order_props.cc, with keep_order when a removed Sort relied on
  // the read's order) or MIN/MAX's first index entry.
  std::optional<uint64_t> limit;
  std::string Describe() const override;
};

struct SelectionNode : PlanNode {
  SelectionNode() : PlanNode(PlanKind::kSelection) {}
  std::vector<expr::ExprPtr> conditions;
  std::string Describe() const override;
};

struct ProjectionNode : PlanNode {
  ProjectionNode() : PlanNode(PlanKind::kProjection) {}
  std::vector<expr::ExprPtr> exprs;
  std::string Describe() const override;
};

enum class JoinType : uint8_t { kInner, kLeft, kSemi, kAnti };

// Hash join when `left_keys` is non-empty (equal keys of one class on both sides), else
// nested loops. `other` is evaluated on left ++ right rows. Semi and anti joins output the
// left columns only.
struct JoinNode : PlanNode {
  JoinNode() : PlanNode(PlanKind::kJoin) {}
  JoinType type = JoinType::kInner;
  std::vector<expr::ExprPtr> left_keys;
  std::vector<expr::ExprPtr> right_keys;
  expr::ExprPtr other;
  // Index lookup join (TiDB's IndexJoin, hint INL_JOIN): when set, the right child is a
  // TableScan (lookup_inner) that is never read whole. For each chunk of left rows this
  // returns the read of the right table's rows whose keys may equal one of the chunk's
  // distinct non-NULL left key tuples (point gets by handle or index ranges, no filter:
  // the join applies the right child's filter and re-checks the keys), and the chunk is
  // hash-joined with those rows.
  std::function<absl::StatusOr<std::shared_ptr<PlanNode>>(
      const std::vector<std::vector<Datum>>& keys)>
      inner_lookup;
  // Merge join (TiDB's MergeJoin, hint MERGE_JOIN) when non-zero: both children yield
  // their rows in ascending order of their first `merge_keys` keys (as CompareDatum
  // orders them; exec/merge_join_exec.cc). The output is in left order.
  size_t merge_keys = 0;
  std::string Describe() const override;
};

struct AggItem {
  expr::AggDesc desc;
  std::vector<expr::ExprPtr> args;
};

// TiDB's aggregation modes (expr/aggregate.h): how an aggregation's work is split when it
// is pushed below a join (planner/agg_pushdown.h).
//   kComplete  raw rows in, final values out;
//   kPartial   raw rows in; out: each aggregate's partial columns (expr::PartialTypes),
//              then the group-by values (the layout a coprocessor's partial aggregation
//              emits, AggTable::EmitPartial); a group's key may repeat across rows;
//   kFinal     rows in that partial layout (the group-by expressions are column references
//              to its key columns; the aggregates' arguments to their partial columns,
//              for EXPLAIN), merged per group; out as kComplete.
enum class AggMode : uint8_t { kComplete, kPartial, kFinal };

// Hash aggregation: output is the group-by values, one column per aggregate, then the
// first-row values (kPartial: see AggMode).
struct AggregateNode : PlanNode {
  AggregateNode() : PlanNode(PlanKind::kAggregate) {}
  AggMode mode = AggMode::kComplete;
  std::vector<expr::ExprPtr> group_by;
  std::vector<AggItem> aggs;
  // Values of the group's first row (non-grouped columns when ONLY_FULL_GROUP_BY is off,
  // MySQL's ANY_VALUE); output after the aggregates.
  std::vector<expr::ExprPtr> first_values;
  std::string Describe() const override;
};

struct SortItem {
  expr::ExprPtr expr;
  bool desc = false;
};

// Sort; with `limit` set it is a TopN keeping offset+count rows.
struct SortNode : PlanNode {
  SortNode() : PlanNode(PlanKind::kSort) {}
  std::vector<SortItem> items;
  std::optional<uint64_t> limit;
  std::string Describe() const override;
};

struct LimitNode : PlanNode {
  LimitNode() : PlanNode(PlanKind::kLimit) {}
  uint64_t offset = 0;
  uint64_t count = 0;
  std::string Describe() const override;
};

// Removes duplicate rows, comparing the first `key_cols` columns.
struct DistinctNode : PlanNode {
  DistinctNode() : PlanNode(PlanKind::kDistinct) {}
  size_t key_cols = 0;
  std::string Describe() const override;
};

enum class SetOpKind : uint8_t { kUnion, kExcept, kIntersect };

// Children produce rows of this node's schema types already.
struct SetOpNode : PlanNode {
  SetOpNode() : PlanNode(PlanKind::kSetOp) {}
  SetOpKind op = SetOpKind::kUnion;
  bool all = false;
  std::string Describe() const override;
};

// EXPLAIN text of a plan tree, one node per line, indented by depth.
std::string ExplainPlan(const PlanNode& plan);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_EXEC_PLAN_H_
