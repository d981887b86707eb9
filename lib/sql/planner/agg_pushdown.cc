#include "sql/planner/agg_pushdown.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sql/expr/expr_pb.h"
#include "sql/expr/registry.h"
#include "sql/planner/cardinality.h"

namespace rutile::sql {
namespace {

void Columns(const expr::Expression& e, std::set<size_t>* out) {
  if (auto* c = dynamic_cast<const expr::ColumnRef*>(&e)) {
    out->insert(c->index());
    return;
  }
  for (const auto& ch : e.children()) Columns(*ch, out);
}

bool RemapPb(const std::vector<int>& map, sqlexprpb::Expr* e) {
  if (e->tp() == sqlexprpb::COLUMN_REF) {
    if (e->column_offset() >= map.size() || map[e->column_offset()] < 0) return false;
    e->set_column_offset(static_cast<uint32_t>(map[e->column_offset()]));
    return true;
  }
  for (sqlexprpb::Expr& c : *e->mutable_children()) {
    if (!RemapPb(map, &c)) return false;
  }
  return true;
}

// `e` (pushable) with column i read as column map[i] of rows of `types`; null when `e`
// reads a column map drops (-1) or cannot be rebuilt.
expr::ExprPtr Remap(const expr::Expression& e, const std::vector<int>& map,
                    const std::vector<FieldType>& types) {
  sqlexprpb::Expr pb;
  if (!expr::ExprToPb(e, &pb).ok() || !RemapPb(map, &pb)) return nullptr;
  absl::StatusOr<expr::ExprPtr> x = expr::ExprFromPb(pb, types);
  return x.ok() ? *std::move(x) : nullptr;
}

// True when evaluating `e` can raise no warning (nor a conversion error): column
// references, constants, and comparisons, logic and integer/decimal/double arithmetic over
// non-string operands. The rewrite evaluates the group-by items, the pushed side's join
// keys and the join's other condition over fewer rows (one per partial group instead of
// one per row) but over the same distinct values, so an error (a value's overflow) is
// raised either way; only a warning's count could differ, hence only these.
bool NoWarnings(const expr::Expression& e) {
  if (dynamic_cast<const expr::ColumnRef*>(&e) != nullptr ||
      dynamic_cast<const expr::Constant*>(&e) != nullptr) {
    return true;
  }
  const auto* f = dynamic_cast<const expr::ScalarFunction*>(&e);
  if (f == nullptr) return false;
  static const std::set<std::string, std::less<>> kSafe = {
      "eq", "ne",  "lt",     "le",        "gt",   "ge",    "nulleq", "and",
      "or", "not", "isnull", "isnotnull", "plus", "minus", "mul",    "unaryminus"};
  if (kSafe.count(f->name()) == 0) return false;
  for (const expr::ExprPtr& a : f->children()) {
    const EvalType t = a->eval_type();
    if (t != EvalType::kInt && t != EvalType::kDecimal && t != EvalType::kReal) return false;
    if (!NoWarnings(*a)) return false;
  }
  return true;
}

// An aggregate argument evaluated at the pushed side's rows, joined or not: only what
// cannot fail or warn (a rows that never joins must not raise anything).
bool PlainValue(const expr::Expression& e) {
  return dynamic_cast<const expr::ColumnRef*>(&e) != nullptr ||
         dynamic_cast<const expr::Constant*>(&e) != nullptr;
}

// A signed integer column of at most 32 bits: x + y of two is exact in BIGINT.
bool SmallSignedInt(const expr::Expression& e) {
  if (dynamic_cast<const expr::ColumnRef*>(&e) == nullptr) return false;
  const FieldType& t = e.type();
  if (t.IsUnsigned()) return false;
  return t.tp == TypeCode::kTiny || t.tp == TypeCode::kShort || t.tp == TypeCode::kInt24 ||
         t.tp == TypeCode::kLong;
}

// How one aggregate of the original goes through the rewrite.
struct Split {
  bool cross = false;   // SUM(x + y): partial SUM(x), COUNT(x); else the aggregate itself.
  size_t x = 0, y = 0;  // cross: the join-output columns of x (pushed side) and y.
  size_t first = 0;     // Its first partial column in the partial aggregation's output.
};

bool TrySide(AggregateNode* a, JoinNode* j, size_t side, const StatsCache* stats) {
  const size_t nl = j->children[0]->schema.size();
  const size_t nr = j->children[1]->schema.size();
  PlanNode& s = *j->children[side];
  const size_t off = side == 0 ? 0 : nl;
  const size_t ns = s.schema.size();
  auto in_s = [&](size_t c) { return c >= off && c < off + ns; };

  // The aggregates.
  std::vector<Split> splits(a->aggs.size());
  for (size_t i = 0; i < a->aggs.size(); ++i) {
    const AggItem& it = a->aggs[i];
    if (it.desc.distinct || it.desc.kind == expr::AggKind::kGroupConcat) return false;
    std::set<size_t> cols;
    for (const expr::ExprPtr& x : it.args) Columns(*x, &cols);
    if (std::all_of(cols.begin(), cols.end(), in_s)) {
      for (const expr::ExprPtr& x : it.args) {
        if (!PlainValue(*x)) return false;
      }
      continue;
    }
    // SUM(x + y) across the sides.
    if (it.desc.kind != expr::AggKind::kSum || it.args.size() != 1) return false;
    const auto* f = dynamic_cast<const expr::ScalarFunction*>(it.args[0].get());
    if (f == nullptr || f->name() != "plus" || f->num_args() != 2) return false;
    if (!SmallSignedInt(f->arg(0)) || !SmallSignedInt(f->arg(1))) return false;
    size_t c0 = static_cast<const expr::ColumnRef&>(f->arg(0)).index();
    size_t c1 = static_cast<const expr::ColumnRef&>(f->arg(1)).index();
    if (in_s(c1)) std::swap(c0, c1);
    if (!in_s(c0) || in_s(c1)) return false;
    splits[i].cross = true;
    splits[i].x = c0;
    splits[i].y = c1;
  }

  // The partial aggregation's group columns (S's own indexes, ascending).
  std::set<size_t> group;
  for (const expr::ExprPtr& k : side == 0 ? j->left_keys : j->right_keys) Columns(*k, &group);
  std::set<size_t> read;
  for (const expr::ExprPtr& g : a->group_by) Columns(*g, &read);
  if (j->other != nullptr) Columns(*j->other, &read);
  for (size_t c : read) {
    if (in_s(c)) group.insert(c - off);
  }
  if (group.empty()) return false;
  // Grouping merges values its comparison calls equal; only numbers are exact enough for
  // that. Strings are not: 'a', 'A' and 'a ' are one group under utf8mb4_general_ci (and
  // trailing spaces under utf8mb4_bin), so a join key, GROUP BY item or other condition
  // that tells them apart (a COLLATE, LENGTH, HEX) would see only the group's first value.
  for (size_t c : group) {
    const EvalType t = s.schema[c].type.GetEvalType();
    if (t != EvalType::kInt && t != EvalType::kDecimal && t != EvalType::kReal) return false;
  }

  // Cost gate: far fewer groups than rows, by statistics.
  const double rows = EstimatePlanRows(&s, stats);
  if (rows < kAggPushMinRows) return false;
  double groups = 1;
  for (size_t c : group) groups *= ColumnNdv(s, c, rows, stats);
  groups = std::min(groups, rows);
  if (groups > rows * kAggPushMaxGroupRatio) return false;

  // The partial aggregation over S.
  auto pa = std::make_shared<AggregateNode>();
  pa->mode = AggMode::kPartial;
  pa->children.push_back(j->children[side]);
  const std::vector<FieldType> s_types = SchemaTypes(s.schema);
  std::vector<int> to_s(nl + nr, -1);  // Join output -> S's columns.
  for (size_t c = 0; c < ns; ++c) to_s[off + c] = static_cast<int>(c);
  size_t npart = 0;
  auto add_partial = [&](AggItem item) {
    for (const FieldType& t : expr::PartialTypes(item.desc)) {
      pa->schema.push_back({"", "", "", t, false});
      ++npart;
    }
    pa->aggs.push_back(std::move(item));
  };
  for (size_t i = 0; i < a->aggs.size(); ++i) {
    splits[i].first = npart;
    if (!splits[i].cross) {
      AggItem item;
      item.desc = a->aggs[i].desc;
      for (const expr::ExprPtr& x : a->aggs[i].args) {
        item.args.push_back(Remap(*x, to_s, s_types));
        if (item.args.back() == nullptr) return false;
      }
      add_partial(std::move(item));
      continue;
    }
    const FieldType& xt = s_types[splits[i].x - off];
    for (const char* name : {"sum", "count"}) {
      absl::StatusOr<expr::AggDesc> d = expr::NewAggDesc(name, {xt});
      if (!d.ok()) return false;
      AggItem item;
      item.desc = *std::move(d);
      item.args.push_back(expr::NewColumn(splits[i].x - off, xt, s.schema[splits[i].x - off].name));
      add_partial(std::move(item));
    }
  }
  std::vector<int> s_to_pa(ns, -1);  // S's columns -> the partial's key columns.
  for (size_t c : group) {
    s_to_pa[c] = static_cast<int>(npart + pa->group_by.size());
    pa->group_by.push_back(expr::NewColumn(c, s_types[c], s.schema[c].name));
    OutputColumn oc = s.schema[c];
    oc.hidden = false;
    pa->schema.push_back(oc);
  }
  for (const AggItem& it : pa->aggs) {
    if (!expr::CanPushDownAgg(it.desc, it.args)) return false;
  }
  pa->est_rows = std::max(groups, 1.0);

  // The join over it: S's side keys and the other condition re-read S's columns from the
  // partial's keys.
  const size_t npa = pa->schema.size();
  const size_t nl2 = side == 0 ? npa : nl;
  Schema j_schema;
  if (side == 0) {
    j_schema = pa->schema;
    j_schema.insert(j_schema.end(), j->children[1]->schema.begin(), j->children[1]->schema.end());
  } else {
    j_schema = j->children[0]->schema;
    j_schema.insert(j_schema.end(), pa->schema.begin(), pa->schema.end());
  }
  const std::vector<FieldType> j_types = SchemaTypes(j_schema);
  const std::vector<FieldType> pa_types = SchemaTypes(pa->schema);
  std::vector<int> join_map(nl + nr, -1);  // Old join output -> new join output.
  for (size_t c = 0; c < nl + nr; ++c) {
    if (in_s(c)) {
      const int k = s_to_pa[c - off];
      if (k >= 0) join_map[c] = static_cast<int>((side == 0 ? 0 : nl) + k);
    } else {
      join_map[c] = static_cast<int>(side == 0 ? c - nl + nl2 : c);
    }
  }
  std::vector<expr::ExprPtr> s_keys;
  for (const expr::ExprPtr& k : side == 0 ? j->left_keys : j->right_keys) {
    s_keys.push_back(Remap(*k, s_to_pa, pa_types));
    if (s_keys.back() == nullptr) return false;
  }
  expr::ExprPtr other;
  if (j->other != nullptr) {
    other = Remap(*j->other, join_map, j_types);
    if (other == nullptr) return false;
  }

  // The projection: each aggregate's partial columns, then the group-by values.
  auto proj = std::make_shared<ProjectionNode>();
  const size_t pa_at = side == 0 ? 0 : nl;  // The partial's first column in the join.
  for (size_t i = 0; i < a->aggs.size(); ++i) {
    const std::vector<FieldType> parts = expr::PartialTypes(a->aggs[i].desc);
    if (!splits[i].cross) {
      for (size_t k = 0; k < parts.size(); ++k) {
        const size_t c = pa_at + splits[i].first + k;
        proj->exprs.push_back(expr::NewColumn(c, j_types[c]));
      }
      continue;
    }
    // SUM(x) + CAST(COUNT(x) AS DECIMAL) * y: the group's SUM(x + y) for this y.
    const size_t sum_c = pa_at + splits[i].first, cnt_c = sum_c + 1;
    const size_t y = static_cast<size_t>(join_map[splits[i].y]);
    absl::StatusOr<expr::ExprPtr> mul = expr::NewFunction("mul", [&] {
      std::vector<expr::ExprPtr> v;
      v.push_back(
          expr::NewCast(expr::NewColumn(cnt_c, j_types[cnt_c]), FieldType::NewDecimal(20, 0)));
      v.push_back(expr::NewColumn(y, j_types[y]));
      return v;
    }());
    if (!mul.ok()) return false;
    absl::StatusOr<expr::ExprPtr> sum = expr::NewFunction("plus", [&] {
      std::vector<expr::ExprPtr> v;
      v.push_back(expr::NewColumn(sum_c, j_types[sum_c]));
      v.push_back(*std::move(mul));
      return v;
    }());
    if (!sum.ok() || (*sum)->eval_type() != EvalType::kDecimal || parts.size() != 1 ||
        parts[0].GetEvalType() != EvalType::kDecimal) {
      return false;
    }
    proj->exprs.push_back(*std::move(sum));
  }
  const size_t npc = proj->exprs.size();
  for (const expr::ExprPtr& g : a->group_by) {
    proj->exprs.push_back(Remap(*g, join_map, j_types));
    if (proj->exprs.back() == nullptr) return false;
  }
  for (const expr::ExprPtr& e : proj->exprs) proj->schema.push_back({"", "", "", e->type(), false});

  // Commit: the join takes the partial as its S child, the aggregation becomes final.
  const double old_join_rows = j->est_rows;
  j->children[side] = pa;
  (side == 0 ? j->left_keys : j->right_keys) = std::move(s_keys);
  j->other = std::move(other);
  j->schema = j_schema;
  j->est_rows = old_join_rows < 0 ? -1 : std::max(1.0, old_join_rows * groups / rows);
  proj->children.push_back(a->children[0]);
  proj->est_rows = j->est_rows;
  std::vector<expr::ExprPtr> final_keys;
  for (size_t g = 0; g < a->group_by.size(); ++g) {
    final_keys.push_back(expr::NewColumn(npc + g, proj->exprs[npc + g]->type()));
  }
  for (size_t i = 0, c = 0; i < a->aggs.size(); ++i) {
    a->aggs[i].args.clear();
    for (size_t k = 0; k < expr::PartialTypes(a->aggs[i].desc).size(); ++k, ++c) {
      a->aggs[i].args.push_back(expr::NewColumn(c, proj->exprs[c]->type()));
    }
  }
  a->group_by = std::move(final_keys);
  a->mode = AggMode::kFinal;
  a->children[0] = proj;
  return true;
}

// Over a projection of columns only (the binder restores the written column order above
// a reordered join): the aggregation's expressions read the join's columns directly
// (`*a` then reads `join`; restored by the caller if nothing is pushed).
bool LookThroughColumns(AggregateNode* a) {
  const auto* proj = static_cast<const ProjectionNode*>(a->children[0].get());
  if (proj->children.size() != 1 || proj->children[0]->kind != PlanKind::kJoin) return false;
  std::vector<int> map;
  for (const expr::ExprPtr& e : proj->exprs) {
    const auto* c = dynamic_cast<const expr::ColumnRef*>(e.get());
    if (c == nullptr) return false;
    map.push_back(static_cast<int>(c->index()));
  }
  const std::vector<FieldType> types = SchemaTypes(proj->children[0]->schema);
  std::vector<expr::ExprPtr> group_by;
  for (const expr::ExprPtr& g : a->group_by) {
    if (!expr::CanPushDown(*g) || (group_by.emplace_back(Remap(*g, map, types))) == nullptr) {
      return false;
    }
  }
  std::vector<std::vector<expr::ExprPtr>> args(a->aggs.size());
  for (size_t i = 0; i < a->aggs.size(); ++i) {
    for (const expr::ExprPtr& x : a->aggs[i].args) {
      if (!expr::CanPushDown(*x) || (args[i].emplace_back(Remap(*x, map, types))) == nullptr) {
        return false;
      }
    }
  }
  a->group_by = std::move(group_by);
  for (size_t i = 0; i < a->aggs.size(); ++i) a->aggs[i].args = std::move(args[i]);
  a->children[0] = proj->children[0];
  return true;
}

bool TryPushOverJoin(AggregateNode* a, const StatsCache* stats) {
  auto* j = static_cast<JoinNode*>(a->children[0].get());
  if (j->type != JoinType::kInner || j->left_keys.empty() || j->inner_lookup ||
      j->merge_keys != 0 || j->children.size() != 2) {
    return false;
  }
  // Everything the rewrite re-binds must be re-buildable (and could run at the regions),
  // and what it evaluates over fewer rows must not warn.
  for (const expr::ExprPtr& g : a->group_by) {
    if (!expr::CanPushDown(*g) || !NoWarnings(*g)) return false;
  }
  for (const AggItem& it : a->aggs) {
    if (!expr::CanPushDownAgg(it.desc, it.args)) return false;
  }
  for (size_t i = 0; i < j->left_keys.size(); ++i) {
    if (!expr::CanPushDown(*j->left_keys[i]) || !expr::CanPushDown(*j->right_keys[i]) ||
        !NoWarnings(*j->left_keys[i]) || !NoWarnings(*j->right_keys[i])) {
      return false;
    }
  }
  if (j->other != nullptr && (!expr::CanPushDown(*j->other) || !NoWarnings(*j->other))) {
    return false;
  }
  // The bigger side first: that is where a partial aggregation saves the most.
  const double l = EstimatePlanRows(j->children[0].get(), stats);
  const double r = EstimatePlanRows(j->children[1].get(), stats);
  const size_t first = l >= r ? 0 : 1;
  return TrySide(a, j, first, stats) || TrySide(a, j, 1 - first, stats);
}

void TryPush(AggregateNode* a, const StatsCache* stats) {
  if (a->mode != AggMode::kComplete || !a->first_values.empty() || a->children.size() != 1) {
    return;
  }
  if (a->children[0]->kind == PlanKind::kJoin) {
    TryPushOverJoin(a, stats);
    return;
  }
  if (a->children[0]->kind != PlanKind::kProjection) return;
  // Kept to restore when nothing is pushed.
  const PlanPtr proj = a->children[0];
  std::vector<expr::ExprPtr> group_by;
  for (const expr::ExprPtr& g : a->group_by) group_by.push_back(g->Clone());
  std::vector<std::vector<expr::ExprPtr>> args(a->aggs.size());
  for (size_t i = 0; i < a->aggs.size(); ++i) {
    for (const expr::ExprPtr& x : a->aggs[i].args) args[i].push_back(x->Clone());
  }
  if (!LookThroughColumns(a) || TryPushOverJoin(a, stats)) return;
  a->group_by = std::move(group_by);
  for (size_t i = 0; i < a->aggs.size(); ++i) a->aggs[i].args = std::move(args[i]);
  a->children[0] = proj;
}

void Walk(PlanNode* p, const StatsCache* stats) {
  if (p->kind == PlanKind::kAggregate) TryPush(static_cast<AggregateNode*>(p), stats);
  for (const PlanPtr& c : p->children) Walk(c.get(), stats);
}

}  // namespace

void PushAggregationsBelowJoins(PlanNode* plan, const StatsCache* stats) { Walk(plan, stats); }

}  // namespace rutile::sql
