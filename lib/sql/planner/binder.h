// The binder and planner: resolves names and types in a parsed statement against the
// catalog and builds a plan (exec/plan.h) — TiDB's planner/core logical plan builder and
// the simple rule-based rewrites done while building:
//
//   constant folding        calls on constants are evaluated once at bind time;
//   predicate pushdown      WHERE/ON conjuncts go to the lowest join input they reference,
//                           into the table scan itself when they touch one table;
//   join keys               `a = b` across the two inputs of a join becomes a hash key
//                           when both sides are of one comparison class;
//   access paths            a scan whose conjuncts fix the integer handle (=, IN, ranges)
//                           becomes point gets or a handle range; equality on the first
//                           column of a secondary index becomes an index lookup;
//   TopN                    ORDER BY + LIMIT sorts keeping only offset+count rows;
//   order properties        merge joins over inputs ordered on their keys, Sorts over
//                           inputs already in their order removed (order_props.cc).
//
// Subqueries become SubqueryExpressions (an Apply evaluated per outer row); names that
// resolve to an enclosing query become correlated columns.
//
// Errors are MySQL's: 1054 unknown column, 1052 ambiguous column, 1146 unknown table,
// 1111 invalid use of group function, 1055/1140 non-grouped columns, 1241 operand
// column counts, 1222 set operand column counts.
//
// Thread safety: a Binder is used by one statement at a time.

#ifndef RUTILE_SQL_PLANNER_BINDER_H_
#define RUTILE_SQL_PLANNER_BINDER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sql/catalog/catalog.h"
#include "sql/exec/executor.h"
#include "sql/exec/plan.h"
#include "sql/parser/ast.h"
#include "sql/planner/stats.h"

namespace rutile::sql {

struct BindOptions {
  Catalog* catalog = nullptr;
  std::string db;  // Current database ("" when none).
  const std::vector<Datum>* params = nullptr;
  // Resolves @@system and @user variables to constants.
  std::function<absl::StatusOr<expr::ExprPtr>(const VariableExpr&)> variable;
  // VALUES(col) in ON DUPLICATE KEY UPDATE: the column's value in the row being inserted.
  std::function<absl::StatusOr<expr::ExprPtr>(const std::string& column)> values_func;
  // sql_mode ONLY_FULL_GROUP_BY: non-grouped columns are errors 1055/1140 (else they take
  // a value of the group, as MySQL does without the mode).
  bool only_full_group_by = true;
  // The optimizer's rules (session variable rutile_optimizer): join reordering, access
  // paths and IN-subquery semi joins. Off, tables join in written order (each next the
  // first written one a join condition connects, join_order.h WrittenJoinOrder) and every
  // scan reads the whole table (the slt runner's --verify compares the two).
  bool optimize = true;
  // Table statistics for cardinality estimation (null: pseudo statistics).
  const StatsCache* stats = nullptr;
  // What information_schema shows (null: everything): whether the database (table "")
  // or the table may be seen by the account the statement runs for.
  const std::function<bool(std::string_view db, std::string_view table)>* visible = nullptr;
  // Most stack the binder's recursion may use below the frame that made the Binder, as the
  // parser's ParserOptions::max_stack_bytes: a statement nested deeper (expressions,
  // subqueries) fails with 1436 "Thread stack overrun" instead of overflowing a fiber's
  // stack. Frames are several times larger in unoptimised and sanitizer builds.
  size_t max_stack_bytes = 128 * 1024;
};

struct Scope;

class Binder {
 public:
  explicit Binder(BindOptions opts);
  ~Binder();

  // SELECT or a set operation.
  absl::StatusOr<PlanPtr> BuildQuery(const QueryStmt& q);
  // An expression over rows of `schema` (no aggregates).
  absl::StatusOr<expr::ExprPtr> BindOver(const Expr& e, const Schema& schema);
  // A plan reading `table` (output: its columns then the handle) filtered by `where`
  // (may be null), with the access-path rules applied.
  absl::StatusOr<PlanPtr> BuildTableRead(const TablePtr& table, const std::string& alias,
                                         const Expr* where);
  // Resolves a table name against the current database.
  absl::StatusOr<TablePtr> ResolveTable(const TableName& t);

  // Evaluates a constant expression (no columns).
  static absl::StatusOr<Datum> EvalConstant(ExecContext* ctx, const expr::Expression& e);
  // A prepared statement's parameter value as the constant a `?` binds to (its type from
  // the value's kind: BIGINT [UNSIGNED], DOUBLE, DECIMAL, a string; 1210 for other kinds).
  static absl::StatusOr<expr::ExprPtr> ParamConstant(const Datum& d);

  // The order a plan's rows come in: cols[i] are the output columns holding the i-th sort
  // key (several when equal, e.g. both sides of an inner join's key), all ascending or all
  // descending. Empty: no known order.
  struct Ordering {
    std::vector<std::vector<size_t>> cols;
    bool desc = false;
  };

 private:
  friend struct Scope;
  absl::StatusOr<PlanPtr> BuildQueryIn(const QueryStmt& q, Scope* parent,
                                       std::vector<Correlation>* corr);
  absl::Status UnsupportedQuery();
  // A built query's last steps (access paths, aggregation push-down, order properties,
  // used columns).
  void FinishQuery(PlanPtr* plan);
  absl::StatusOr<PlanPtr> BuildSelect(const SelectStmt& s, Scope* parent,
                                      std::vector<Correlation>* corr);
  // BuildSelect's phases over its state (binder.cc), in order, and the pieces of them that
  // bind (small frames on a nested subquery's recursion).
  struct SelectBuild;
  void SelectHints(SelectBuild* b);
  // An item of the select list, wildcards expanded: its expression and output name.
  struct SelectBuildItem {
    const Expr* ast = nullptr;
    std::string name;
    std::string table;
  };
  absl::Status SelectFrom(SelectBuild* b);
  absl::Status SelectDual(SelectBuild* b);
  void SelectScalarJoins(SelectBuild* b);
  absl::Status SelectItems(SelectBuild* b);
  absl::Status SelectAggregate(SelectBuild* b);
  absl::Status SelectGroupItem(SelectBuild* b, AggregateNode* an, const Expr& item);
  absl::Status SelectAggItem(SelectBuild* b, AggregateNode* an, const AggregateExpr& a);
  absl::Status SelectAggArg(SelectBuild* b, const Expr& arg, AggItem* item,
                            std::vector<FieldType>* types);
  absl::Status SelectHaving(SelectBuild* b, const Scope& scope);
  absl::Status SelectProject(SelectBuild* b);
  absl::Status SelectProjectItem(SelectBuild* b, const SelectBuildItem& it);
  absl::Status SelectOrder(SelectBuild* b);
  absl::StatusOr<int> SelectOrderColumn(SelectBuild* b, const Expr& ast);
  absl::StatusOr<int> SelectOrderHidden(SelectBuild* b, const Expr& ast);
  absl::StatusOr<PlanPtr> SelectFinish(SelectBuild* b);
  // The FROM clause of `s` under its WHERE. A WHERE conjunct over correlated scalar
  // subqueries that DecorrelateScalar all takes is not pushed into the joins: the
  // aggregations are left-joined above them and the conjunct filters the result (TiDB's
  // Apply -> left outer join + aggregation, as for the select list).
  absl::StatusOr<PlanPtr> BuildFromWhere(const SelectStmt& s, Scope* parent,
                                         std::vector<Correlation>* corr);
  absl::StatusOr<PlanPtr> BuildSetOp(const SetOprStmt& s, Scope* parent,
                                     std::vector<Correlation>* corr);
  absl::StatusOr<PlanPtr> BuildOrderLimit(PlanPtr plan, const QueryStmt& q, Scope* parent,
                                          std::vector<Correlation>* corr);
  absl::StatusOr<PlanPtr> BuildFrom(const TableRef& ref, const Expr* where, Scope* parent,
                                    std::vector<Correlation>* corr,
                                    std::vector<const Expr*>* leftover);
  absl::StatusOr<PlanPtr> BuildFromConds(const TableRef& ref,
                                         const std::vector<const Expr*>& where_conds, Scope* parent,
                                         std::vector<Correlation>* corr,
                                         std::vector<const Expr*>* leftover);
  // BuildFromConds builds each side of an outer join that is not flattened into its join
  // graph (the inner side, the base of a chain of outer joins) by BuildFrom, a call level
  // per such nesting: 64 outer joins nested on their inner sides overflowed a fiber's
  // stack under ASan. When `ref` nests such sides deeper than a few levels, Prebuild builds
  // them first, innermost first, into prebuilt_ (each finds its own sides there), so no
  // build recurses more than one level; returns whether it did (the caller then clears
  // prebuilt_ once `ref` is built).
  absl::StatusOr<bool> Prebuild(const TableRef& ref, Scope* parent, std::vector<Correlation>* corr);
  // A WHERE conjunct [NOT] EXISTS (subquery) or x IN (subquery) whose subquery is
  // correlated only through conjuncts of its WHERE becomes a semi (anti) join of the
  // outer rows with the subquery's rows (TiDB's decorrelation of Apply): correlated
  // equalities become hash keys, other correlated conjuncts the join's condition.
  struct SemiJoinPart {
    JoinType type = JoinType::kSemi;
    std::vector<expr::ExprPtr> left_keys;   // Over the outer rows.
    std::vector<expr::ExprPtr> right_keys;  // Over the subquery's rows.
    expr::ExprPtr other;                    // Over outer ++ subquery rows.
    PlanPtr plan;
  };
  std::optional<SemiJoinPart> Decorrelate(const Expr& cond, const Schema& outer, Scope* parent,
                                          std::vector<Correlation>* corr);
  // A correlated scalar subquery `(SELECT agg(x) FROM ... WHERE inner = outer AND ...)`
  // whose correlation is equalities of its WHERE becomes a left outer join of the outer
  // rows with the aggregation grouped by the inner sides (TiDB's decorrelation of an Apply
  // over an aggregation): a group per key, at most one match per outer row; an unmatched
  // row gets the aggregate of no rows (COUNT 0, others NULL).
  struct ScalarJoinPart {
    std::vector<expr::ExprPtr> left_keys;   // Over the outer rows.
    std::vector<expr::ExprPtr> right_keys;  // Over `plan`'s rows.
    PlanPtr plan;                           // The group keys, then the aggregate.
    bool is_count = false;
  };
  std::optional<ScalarJoinPart> DecorrelateScalar(const SubqueryExpr& sq, const Schema& outer);
  // One conjunct of a subquery's WHERE, for decorrelation: kLocal binds over the inner
  // scope alone; kCorrelated resolves every column over outer ++ inner as the subquery's
  // scoping does; kRefused otherwise (a nested subquery, an ambiguous or unknown column).
  enum class ConjunctKind { kLocal, kCorrelated, kRefused };
  ConjunctKind ClassifyConjunct(const Expr& k, const Scope& inner_scope, const Schema& outer,
                                const Schema& combined);
  // Left-joins onto *plan each scalar subquery in `exprs` that DecorrelateScalar takes (its
  // value a hidden column appended to the schema), recording it in scalar_cols_ for
  // expressions bound over `schema_of_result` (set by the caller once that schema exists:
  // the subqueries are returned).
  std::vector<const SubqueryExpr*> JoinScalarSubqueries(const std::vector<const Expr*>& exprs,
                                                        PlanPtr* plan);
  absl::StatusOr<PlanPtr> BuildLeaf(const TableRef& ref, Scope* parent,
                                    std::vector<Correlation>* corr);
  absl::StatusOr<PlanPtr> BuildJoinTree(std::vector<PlanPtr> leaves, std::vector<const Expr*> conds,
                                        Scope* parent, std::vector<Correlation>* corr,
                                        std::vector<const Expr*>* leftover);
  // BuildJoinTree's state and its steps (small frames on a subquery's recursion).
  struct JoinTreeBuild;
  absl::Status JoinTreeCond(JoinTreeBuild* jt, const Expr* c);
  absl::StatusOr<PlanPtr> JoinTreeFinish(JoinTreeBuild* jt);
  absl::StatusOr<expr::ExprPtr> Bind(const Expr& e, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindSimple(const Expr& e, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindInner(const Expr& e, Scope* s);
  // BindInner's cases, one function each (small frames on a deep expression's recursion).
  absl::StatusOr<expr::ExprPtr> BindLiteral(const LiteralExpr& lit);
  absl::StatusOr<expr::ExprPtr> BindParam(const ParamExpr& p);
  absl::StatusOr<expr::ExprPtr> BindUnary(const UnaryExpr& u, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindBinary(const BinaryExpr& b, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindRowCompare(const BinaryExpr& b, const RowExpr* lrow,
                                               const RowExpr* rrow, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindIs(const IsExpr& is, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindPredicate(const Expr& e, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindScalarSubquery(const SubqueryExpr& sq, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindCollate(const CollateExpr& co, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindCase(const CaseExpr& ce, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindCast(const CastExpr& ca, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindFuncCall(const FuncCallExpr& fc, Scope* s);
  std::optional<absl::StatusOr<expr::ExprPtr>> BindSpecialFunction(const FuncCallExpr& fc,
                                                                   const std::string& name);
  absl::StatusOr<expr::ExprPtr> BindColumn(const ColumnRefExpr& c, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindSubquery(const QueryStmt& q, SubqueryKind kind,
                                             const Expr* operand, BinaryOp op, bool negated,
                                             Scope* s);
  absl::StatusOr<expr::ExprPtr> SubqueryOver(PlanPtr built, std::vector<Correlation> corr,
                                             SubqueryKind kind, const Expr* operand, BinaryOp op,
                                             bool negated, Scope* s);
  absl::StatusOr<expr::ExprPtr> BindFunction(const std::string& name,
                                             std::vector<expr::ExprPtr> args);
  // One way to read a table scan's rows (the candidates ApplyAccessPath costs).
  struct AccessCandidate {
    enum Kind { kFull, kHandle, kIndex, kMerge } kind = kFull;
    std::vector<TableScanNode::MergePath> merge_paths;
    std::vector<std::pair<int64_t, int64_t>> handle_ranges;
    const IndexInfo* index = nullptr;
    std::vector<std::pair<std::string, std::string>> index_ranges;
    bool coverable = false;  // The index can serve the read alone (set finally by
                             // FinishAccessPaths from the columns read above).
    double rows = 0;         // Estimated rows read.
    double cost = 0;         // Reading the rows (index lookups included).
    double covering_cost = 0;
  };
  // Chooses the cheapest access path for `scan` from its pushed conditions `conds`
  // (bound to its output), assuming row lookups; covering reads are decided once the
  // columns read above are known (FinishAccessPaths).
  void ApplyAccessPath(TableScanNode* scan, const std::vector<expr::ExprPtr>& conds);
  void ApplyCandidate(TableScanNode* scan, const std::vector<AccessCandidate>& cands,
                      bool covering_ok);
  void FinishAccessPaths(PlanNode* p, const std::vector<bool>& required);
  void EliminateMaxMin(AggregateNode* agg);
  // Makes `join` (keys bound, right child `scan`) an index lookup join when the right keys
  // cover the integer handle or a prefix of a public index of `scan`'s table, each paired
  // with an outer key of the same type class; returns whether it did.
  bool TryIndexJoin(JoinNode* join, TableScanNode* scan);

  // Optimizer hints of the SELECT being built (TiDB's /*+ ... */ join hints), table names
  // (aliases) in lower case: INL_JOIN(t) reads t by index lookups from the other side,
  // HASH_JOIN(t) keeps hash joins for t, MERGE_JOIN(t) (TIDB_SMJ) makes a join with t as
  // one input a merge join (sorting an input not ordered on the keys), NO_MERGE_JOIN(t)
  // refuses one, LEADING(t1, t2, ...) joins those tables first in that order (the rest
  // follow in written order).
  struct JoinHints {
    std::set<std::string> inl, hash, merge, no_merge;
    std::vector<std::string> leading;
  };
  static JoinHints ParseJoinHints(const std::vector<std::string>& texts);
  JoinHints hints_;
  // Records what the hints of the SELECT being built say of `join` (inputs `left` and
  // `right`) for ChooseMergeJoin, which runs once the plan is finished.
  void NoteJoinHints(const JoinNode* join, const PlanNode& left, const PlanNode& right);
  std::set<const JoinNode*> merge_hinted_, merge_refused_;

  // Order properties (planner/order_props.cc), once a query's plan is finished: returns
  // the order *p's rows come in, making joins merge joins where that is cheaper (or
  // hinted) and removing Sorts whose input already comes in their order. `required` is
  // the columns (ascending) a Sort above would like *p's rows ordered on.
  Ordering ApplyOrderProperties(PlanPtr* p, const std::vector<size_t>& required);
  // Makes `j` a merge join when its inputs (in orders `lo`, `ro`) make that cheaper than
  // the hash join, or when hinted: keys reordered with the merge keys first, a Sort put
  // under an input not ordered on them, the reads below marked keep_order.
  void ChooseMergeJoin(JoinNode* j, const Ordering& lo, const Ordering& ro,
                       const std::vector<size_t>& required);
  // Marks the read whose order `p`'s rows keep (through order-preserving nodes) keep_order.
  static void MarkKeepOrder(PlanNode* p);

  BindOptions opts_;
  std::vector<std::unique_ptr<Expr>> arena_;  // Synthesized AST nodes.
  // USE / IGNORE / FORCE INDEX of each table scan built from a hinted table name.
  std::map<const TableScanNode*, std::vector<IndexHint>> index_hints_;
  // Access paths of scans whose covering choice waits for FinishAccessPaths.
  std::map<TableScanNode*, std::vector<AccessCandidate>> access_candidates_;
  // Decorrelated scalar subqueries: where their values are, for expressions bound over
  // `schema` (JoinScalarSubqueries).
  struct ScalarColumn {
    const Schema* schema = nullptr;
    size_t index = 0;
    FieldType type;
    bool is_count = false;
  };
  std::map<const SubqueryExpr*, ScalarColumn> scalar_cols_;
  // Sides of outer joins built ahead by Prebuild, taken (once) by BuildFrom.
  struct Prebuilt {
    PlanPtr plan;
    Scope* parent = nullptr;
    std::vector<Correlation>* corr = nullptr;
  };
  std::map<const TableRef*, Prebuilt> prebuilt_;
  bool prebuilding_ = false;
  // Error 1436 when the recursion is `max_levels` deep (depth_) or has used more stack
  // than opts_.max_stack_bytes below stack_base_.
  absl::Status CheckStack(int max_levels) const;
  int depth_ = 0;
  uintptr_t stack_base_ = 0;  // The constructor's frame: the stack grows down from it.
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_BINDER_H_
