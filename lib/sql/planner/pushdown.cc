#include "sql/planner/pushdown.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"
#include "sql/expr/expr_pb.h"

namespace rutile::sql {
namespace {

namespace pb = ::rutile::coprocessor;

bool ScanPushable(const PlanNode& n) {
  if (n.kind != PlanKind::kTableScan) return false;
  const auto& s = static_cast<const TableScanNode&>(n);
  if (s.table == nullptr || s.table->memory_rows != nullptr || s.handles.has_value() ||
      s.index_id != 0 || !s.merge_paths.empty() || s.lo > s.hi) {
    return false;
  }
  // The scan's schema is the table's columns then the handle (TableScanNode).
  if (s.schema.size() != s.table->columns.size() + 1) return false;
  return s.filter == nullptr || expr::CanPushDown(*s.filter);
}

bool AllPushable(const std::vector<expr::ExprPtr>& es) {
  for (const expr::ExprPtr& e : es) {
    if (!expr::CanPushDown(*e)) return false;
  }
  return true;
}

// Replaces each column reference of `e` by a copy of `inputs[offset]` (a projection's
// expressions inlined into what reads its output).
absl::Status Inline(const std::vector<sqlexprpb::Expr>& inputs, sqlexprpb::Expr* e) {
  if (e->tp() == sqlexprpb::COLUMN_REF) {
    if (e->column_offset() >= inputs.size()) {
      return absl::InternalError("column reference past the projection");
    }
    *e = inputs[e->column_offset()];
    return absl::OkStatus();
  }
  for (sqlexprpb::Expr& c : *e->mutable_children()) {
    absl::Status s = Inline(inputs, &c);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// The output columns of `projs[0]` (the highest of a chain, the lowest last) as
// expressions over the scan's columns: the lowest projection's, then each one above
// inlined over the one below.
absl::StatusOr<std::vector<sqlexprpb::Expr>> ProjectedInputs(
    const std::vector<const ProjectionNode*>& projs) {
  std::vector<sqlexprpb::Expr> inputs;
  for (auto it = projs.rbegin(); it != projs.rend(); ++it) {
    std::vector<sqlexprpb::Expr> next((*it)->exprs.size());
    for (size_t i = 0; i < next.size(); ++i) {
      absl::Status st = expr::ExprToPb(*(*it)->exprs[i], &next[i]);
      if (st.ok() && it != projs.rbegin()) st = Inline(inputs, &next[i]);
      if (!st.ok()) return st;
    }
    inputs = std::move(next);
  }
  return inputs;
}

}  // namespace

std::optional<CopPushdown> PlanPushdown(const PlanNode& node) {
  CopPushdown cop;
  if (node.kind == PlanKind::kTableScan) {
    if (!ScanPushable(node)) return std::nullopt;
    cop.scan = static_cast<const TableScanNode*>(&node);
    return cop;
  }
  if (node.children.size() != 1) return std::nullopt;
  const PlanNode* below = node.children[0].get();
  const bool over_projs =
      node.kind == PlanKind::kAggregate || node.kind == PlanKind::kLimit ||
      (node.kind == PlanKind::kSort && static_cast<const SortNode&>(node).limit.has_value());
  while (over_projs && below->kind == PlanKind::kProjection && below->children.size() == 1) {
    const auto* proj = static_cast<const ProjectionNode*>(below);
    if (!AllPushable(proj->exprs)) return std::nullopt;
    cop.projs.push_back(proj);
    below = below->children[0].get();
  }
  if (!ScanPushable(*below)) return std::nullopt;
  cop.scan = static_cast<const TableScanNode*>(below);
  // A limit inside the scan applies before an aggregation or TopN above it; the DAG
  // limits only after them.
  if (cop.scan->limit.has_value() && node.kind != PlanKind::kLimit) return std::nullopt;
  switch (node.kind) {
    case PlanKind::kAggregate: {
      const auto& a = static_cast<const AggregateNode&>(node);
      if (a.mode == AggMode::kFinal || !a.first_values.empty() || !AllPushable(a.group_by)) {
        return std::nullopt;
      }
      for (const AggItem& it : a.aggs) {
        if (!expr::CanPushDownAgg(it.desc, it.args)) return std::nullopt;
      }
      cop.agg = &a;
      return cop;
    }
    case PlanKind::kSort: {
      const auto& s = static_cast<const SortNode&>(node);
      if (!s.limit.has_value()) return std::nullopt;
      for (const SortItem& it : s.items) {
        if (!expr::CanPushDown(*it.expr)) return std::nullopt;
      }
      cop.topn = &s;
      return cop;
    }
    case PlanKind::kLimit:
      cop.limit = static_cast<const LimitNode*>(&node);
      return cop;
    default:
      return std::nullopt;
  }
}

std::vector<coprocessor::KeyRange> CopScanRanges(const TableScanNode& scan) {
  const std::string prefix = codec::EncodeRecordPrefix(scan.table->id);
  std::vector<std::pair<int64_t, int64_t>> handle_ranges = scan.handle_ranges;
  if (handle_ranges.empty()) handle_ranges.push_back({scan.lo, scan.hi});
  std::vector<coprocessor::KeyRange> out;
  for (const auto& [lo, hi] : handle_ranges) {
    coprocessor::KeyRange r;
    r.start = lo == INT64_MIN ? prefix : codec::EncodeRowKey(scan.table->id, lo);
    r.end = hi == INT64_MAX ? codec::PrefixNext(prefix)
                            : codec::PrefixNext(codec::EncodeRowKey(scan.table->id, hi));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<pb::DagRequest> BuildCopDag(const CopPushdown& cop, const EvalContext& ctx) {
  pb::DagRequest dag;
  const TableScanNode& s = *cop.scan;
  pb::TableScan* ts = dag.add_executors()->mutable_table_scan();
  ts->set_table_id(s.table->id);
  for (size_t i = 0; i < s.table->columns.size(); ++i) {
    const ColumnInfo& c = s.table->columns[i];
    pb::ColumnInfo* ci = ts->add_columns();
    ci->set_column_id(c.id);
    expr::FieldTypeToPb(s.schema[i].type, ci->mutable_type());
    ci->set_pk_handle(static_cast<int>(i) == s.table->handle_col);
    if (!c.default_value.IsNull()) {
      absl::Status st = expr::DatumToPb(c.default_value, ci->mutable_default_value());
      if (!st.ok()) return st;
    }
  }
  pb::ColumnInfo* h = ts->add_columns();
  h->set_column_id(-1);
  expr::FieldTypeToPb(s.schema.back().type, h->mutable_type());
  h->set_pk_handle(true);
  if (s.filter != nullptr) {
    absl::Status st =
        expr::ExprToPb(*s.filter, dag.add_executors()->mutable_selection()->add_conditions());
    if (!st.ok()) return st;
  }
  if (cop.agg != nullptr) {
    pb::Aggregation* a = dag.add_executors()->mutable_aggregation();
    for (const expr::ExprPtr& g : cop.agg->group_by) {
      absl::Status st = expr::ExprToPb(*g, a->add_group_by());
      if (!st.ok()) return st;
    }
    for (const AggItem& it : cop.agg->aggs) {
      absl::Status st = expr::AggToPb(it.desc, it.args, a->add_aggs());
      if (!st.ok()) return st;
    }
    if (!cop.projs.empty()) {
      // The aggregation's input columns as expressions over the scan's.
      absl::StatusOr<std::vector<sqlexprpb::Expr>> projected = ProjectedInputs(cop.projs);
      if (!projected.ok()) return projected.status();
      const std::vector<sqlexprpb::Expr>& inputs = *projected;
      for (sqlexprpb::Expr& g : *a->mutable_group_by()) {
        absl::Status st = Inline(inputs, &g);
        if (!st.ok()) return st;
      }
      for (sqlexprpb::AggFunc& f : *a->mutable_aggs()) {
        for (sqlexprpb::Expr& arg : *f.mutable_args()) {
          absl::Status st = Inline(inputs, &arg);
          if (!st.ok()) return st;
        }
      }
    }
  } else if (cop.topn != nullptr) {
    pb::TopN* t = dag.add_executors()->mutable_top_n();
    t->set_limit(*cop.topn->limit);
    for (const SortItem& it : cop.topn->items) {
      pb::ByItem* b = t->add_order_by();
      b->set_desc(it.desc);
      absl::Status st = expr::ExprToPb(*it.expr, b->mutable_expr());
      if (!st.ok()) return st;
    }
    if (!cop.projs.empty()) {
      // The regions sort the scan's rows by the order expressions inlined over the
      // projections; the projections run at the root over the rows they return.
      absl::StatusOr<std::vector<sqlexprpb::Expr>> inputs = ProjectedInputs(cop.projs);
      if (!inputs.ok()) return inputs.status();
      for (pb::ByItem& b : *t->mutable_order_by()) {
        absl::Status st = Inline(*inputs, b.mutable_expr());
        if (!st.ok()) return st;
      }
    }
  } else if (cop.limit != nullptr || s.limit.has_value()) {
    uint64_t n = s.limit.has_value() ? *s.limit : UINT64_MAX;
    if (cop.limit != nullptr) n = std::min(n, cop.limit->offset + cop.limit->count);
    dag.add_executors()->mutable_limit()->set_limit(n);
  }
  expr::EvalConfigToPb(ctx, dag.mutable_eval());
  return dag;
}

}  // namespace rutile::sql
