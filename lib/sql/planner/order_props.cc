// Order properties of a finished plan (TiDB's physical property "keep order" in one
// bottom-up pass): which order each node's rows come in, merge joins chosen from it, and
// Sorts whose input already comes in their order removed.
//
// Orders come from reads in key order — a table's rows by handle (and so by an integer
// primary key), a covering index read by the index's columns — and pass through
// selections, projections (as columns), limits, distincts and the left (probe) side of
// every join, which emits in probe order (exec/join_exec.cc, merge_join_exec.cc). An
// index lookup (IndexLookUp) is not ordered: its KV path looks rows up a batch at a time
// in handle order. A read a node relies on is marked keep_order. A Limit directly above a
// read (across projections) is pushed into it once the Sorts below are gone.

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "sql/planner/binder.h"
#include "sql/planner/cardinality.h"
#include "sql/planner/pushdown.h"

namespace rutile::sql {

namespace {

// Costs per row (TiDB's cost model in spirit, in the units of the access-path costs): a
// hash join inserts each build row into its table and probes with each probe row; a
// merge join compares and moves each input row once; a sort buffers a row and compares
// it about log2(n) times.
constexpr double kHashBuildRowCost = 1.5;
constexpr double kHashProbeRowCost = 1.0;
constexpr double kMergeRowCost = 1.0;
constexpr double kSortRowCost = 1.0;
constexpr double kSortCompareCost = 0.5;

double SortCost(double rows) {
  rows = std::max(rows, 1.0);
  return rows * (kSortRowCost + kSortCompareCost * std::log2(rows + 1));
}

// The output column a join key or sort item reads, when it is a plain column.
int ColumnOf(const expr::Expression& e) {
  auto* c = dynamic_cast<const expr::ColumnRef*>(&e);
  return c == nullptr ? -1 : static_cast<int>(c->index());
}

bool Holds(const std::vector<size_t>& set, int col) {
  return col >= 0 && std::find(set.begin(), set.end(), static_cast<size_t>(col)) != set.end();
}

// The keys (indices into the join's key lists) the ordering `o` of the side (left when
// `left`) is ordered on, in order: the longest prefix of `o` whose positions each hold a
// not yet used key's column.
std::vector<size_t> KeysInOrder(const Binder::Ordering& o, const JoinNode& j, bool left) {
  std::vector<size_t> perm;
  if (o.desc) return perm;
  const auto& keys = left ? j.left_keys : j.right_keys;
  for (const std::vector<size_t>& pos : o.cols) {
    size_t found = keys.size();
    for (size_t k = 0; k < keys.size() && found == keys.size(); ++k) {
      if (std::find(perm.begin(), perm.end(), k) == perm.end() && Holds(pos, ColumnOf(*keys[k]))) {
        found = k;
      }
    }
    if (found == keys.size()) break;
    perm.push_back(found);
  }
  return perm;
}

// How many leading keys of `perm` the side is ordered on.
size_t OrderedPrefix(const Binder::Ordering& o, const JoinNode& j, bool left,
                     const std::vector<size_t>& perm) {
  if (o.desc) return 0;
  const auto& keys = left ? j.left_keys : j.right_keys;
  size_t n = 0;
  while (n < perm.size() && n < o.cols.size() && Holds(o.cols[n], ColumnOf(*keys[perm[n]]))) ++n;
  return n;
}

std::string ScanAlias(const PlanNode& p) {
  if (p.kind != PlanKind::kTableScan || p.schema.empty()) return "";
  return absl::AsciiStrToLower(p.schema[0].table);
}

// A Limit directly above a read (across projections, which map rows one to one) needs
// only the read's first offset+count rows that pass its filter, in the order the read
// yields them: the read stops there (TiDB pushes a Limit into its reader; the
// coprocessor reads get it at the regions). Run after the Sorts below were removed, so
// that the read's key order — kept where a removed Sort relied on it — is the order the
// Limit counts in.
void PushLimitToRead(LimitNode* limit) {
  PlanNode* p = limit->children[0].get();
  while (p->kind == PlanKind::kProjection && p->children.size() == 1) p = p->children[0].get();
  if (p->kind != PlanKind::kTableScan) return;
  auto* s = static_cast<TableScanNode*>(p);
  if (s->lookup_inner) return;
  // A table read the Limit already goes to the coprocessor with (pushdown.h).
  std::optional<CopPushdown> cop = PlanPushdown(*limit);
  if (cop.has_value() && cop->limit == limit) return;
  const uint64_t n =
      limit->count > UINT64_MAX - limit->offset ? UINT64_MAX : limit->offset + limit->count;
  s->limit = s->limit.has_value() ? std::min(*s->limit, n) : n;
}

}  // namespace

void Binder::NoteJoinHints(const JoinNode* join, const PlanNode& left, const PlanNode& right) {
  const std::string la = ScanAlias(left), ra = ScanAlias(right);
  auto named = [&](const std::set<std::string>& s) {
    return (!la.empty() && s.count(la) > 0) || (!ra.empty() && s.count(ra) > 0);
  };
  if (named(hints_.hash) || named(hints_.inl) || named(hints_.no_merge)) {
    merge_refused_.insert(join);
  } else if (named(hints_.merge)) {
    merge_hinted_.insert(join);
  }
}

void Binder::MarkKeepOrder(PlanNode* p) {
  while (true) {
    switch (p->kind) {
      case PlanKind::kTableScan:
        static_cast<TableScanNode*>(p)->keep_order = true;
        return;
      case PlanKind::kSelection:
      case PlanKind::kProjection:
      case PlanKind::kLimit:
      case PlanKind::kDistinct:
      case PlanKind::kJoin:  // The left (probe) side's order.
        p = p->children[0].get();
        continue;
      default:
        return;
    }
  }
}

Binder::Ordering Binder::ApplyOrderProperties(PlanPtr* pp, const std::vector<size_t>& required) {
  PlanNode* p = pp->get();
  Ordering none;
  switch (p->kind) {
    case PlanKind::kTableScan: {
      auto* s = static_cast<TableScanNode*>(p);
      const TableInfo& t = *s->table;
      if (t.memory_rows != nullptr || s->lookup_inner || s->schema.empty()) return none;
      const size_t hidden = s->schema.size() - 1;
      // The handle, and the integer primary key that is it (an unsigned one orders
      // differently from the signed handle).
      std::vector<size_t> handle = {hidden};
      if (t.handle_col >= 0 && !t.columns[t.handle_col].type.IsUnsigned()) {
        handle.push_back(static_cast<size_t>(t.handle_col));
      }
      Ordering o;
      if (s->index_id == 0) {
        o.cols.push_back(handle);  // Row keys, point gets and index merge: handle order.
        return o;
      }
      if (!s->index_only) return none;
      const IndexInfo* idx = nullptr;
      for (const IndexInfo& i : t.indexes) {
        if (i.id == s->index_id) idx = &i;
      }
      if (idx == nullptr) return none;
      for (int c : idx->columns) {
        std::vector<size_t> pos = {static_cast<size_t>(c)};
        if (std::find(handle.begin(), handle.end(), static_cast<size_t>(c)) != handle.end()) {
          pos = handle;
        }
        o.cols.push_back(pos);
      }
      if (!idx->unique) o.cols.push_back(handle);  // Entries end with the handle.
      o.desc = s->desc;
      return o;
    }
    case PlanKind::kLimit: {
      Ordering o = ApplyOrderProperties(&p->children[0], required);
      PushLimitToRead(static_cast<LimitNode*>(p));
      return o;
    }
    case PlanKind::kSelection:
    case PlanKind::kDistinct:
      return ApplyOrderProperties(&p->children[0], required);
    case PlanKind::kProjection: {
      auto* proj = static_cast<ProjectionNode*>(p);
      std::vector<size_t> down;
      for (size_t c : required) {
        const int from = c < proj->exprs.size() ? ColumnOf(*proj->exprs[c]) : -1;
        if (from < 0) break;
        down.push_back(static_cast<size_t>(from));
      }
      Ordering in = ApplyOrderProperties(&p->children[0], down);
      Ordering o;
      o.desc = in.desc;
      for (const std::vector<size_t>& pos : in.cols) {
        std::vector<size_t> out;
        for (size_t i = 0; i < proj->exprs.size(); ++i) {
          if (Holds(pos, ColumnOf(*proj->exprs[i]))) out.push_back(i);
        }
        if (out.empty()) break;
        o.cols.push_back(std::move(out));
      }
      return o;
    }
    case PlanKind::kSort: {
      auto* sort = static_cast<SortNode*>(p);
      std::vector<size_t> want;
      for (const SortItem& it : sort->items) {
        const int c = ColumnOf(*it.expr);
        if (c < 0 || it.desc) break;
        want.push_back(static_cast<size_t>(c));
      }
      Ordering in = ApplyOrderProperties(&p->children[0], want);
      bool satisfied = in.cols.size() >= sort->items.size();
      for (size_t i = 0; satisfied && i < sort->items.size(); ++i) {
        satisfied =
            sort->items[i].desc == in.desc && Holds(in.cols[i], ColumnOf(*sort->items[i].expr));
      }
      if (satisfied) {
        // The input already comes in this order: the Sort (or TopN, whose Limit stays
        // above it) goes.
        MarkKeepOrder(p->children[0].get());
        PlanPtr child = p->children[0];
        *pp = child;
        return in;
      }
      Ordering o;
      for (const SortItem& it : sort->items) {
        const int c = ColumnOf(*it.expr);
        if (c < 0 || it.desc != sort->items[0].desc) break;
        o.cols.push_back({static_cast<size_t>(c)});
      }
      o.desc = !sort->items.empty() && sort->items[0].desc;
      return o;
    }
    case PlanKind::kJoin: {
      auto* j = static_cast<JoinNode*>(p);
      const size_t nl = p->children[0]->schema.size();
      std::vector<size_t> left_req;
      for (size_t c : required) {
        if (c >= nl) break;
        left_req.push_back(c);
      }
      // What the merge join would want of each side: its keys.
      Ordering lo = ApplyOrderProperties(&p->children[0], left_req);
      Ordering ro = ApplyOrderProperties(&p->children[1], {});
      const PlanNode* left_before = p->children[0].get();
      if (j->merge_keys == 0 && !j->inner_lookup && !j->left_keys.empty()) {
        ChooseMergeJoin(j, lo, ro, required);
      }
      if (j->merge_keys == 0) return lo;  // Every other join emits in probe (left) order.
      // A merge join: in the left side's order, which starts with the merge keys (the left
      // side was sorted on the keys, or was ordered on them already); an inner join's
      // right keys are equal to the left's.
      Ordering o;
      for (size_t k = 0; k < j->merge_keys; ++k) {
        const int lc = ColumnOf(*j->left_keys[k]);
        if (lc < 0) return o;
        o.cols.push_back({static_cast<size_t>(lc)});
        const int rc = ColumnOf(*j->right_keys[k]);
        if (j->type == JoinType::kInner && rc >= 0) o.cols.back().push_back(nl + rc);
      }
      if (p->children[0].get() == left_before) {
        for (size_t i = j->merge_keys; i < lo.cols.size(); ++i) o.cols.push_back(lo.cols[i]);
      }
      return o;
    }
    default:
      for (PlanPtr& c : p->children) ApplyOrderProperties(&c, {});
      return none;
  }
}

void Binder::ChooseMergeJoin(JoinNode* j, const Ordering& lo, const Ordering& ro,
                             const std::vector<size_t>& required) {
  if (merge_refused_.count(j) > 0) return;
  const bool hinted = merge_hinted_.count(j) > 0;
  for (size_t k = 0; k < j->left_keys.size(); ++k) {
    if (ColumnOf(*j->left_keys[k]) < 0 || ColumnOf(*j->right_keys[k]) < 0) {
      if (!hinted) return;  // Computed keys: only sorted on them when hinted.
    }
  }
  const size_t nkeys = j->left_keys.size();
  // Option A: the inputs as they are, merged on the keys both are ordered on (the others
  // checked for equality per candidate pair).
  std::vector<size_t> lperm = KeysInOrder(lo, *j, true);
  const size_t both = OrderedPrefix(ro, *j, false, lperm);
  std::vector<size_t> perm_a(lperm.begin(), lperm.begin() + both);
  // Option B: every key merged, the sides not ordered on them sorted first; the key order
  // is one side's own when it covers them all.
  std::vector<size_t> perm_b = lperm;
  if (perm_b.size() < nkeys) perm_b = KeysInOrder(ro, *j, false);
  if (perm_b.size() < nkeys) perm_b.clear();
  for (size_t k = 0; k < nkeys; ++k) {
    if (std::find(perm_b.begin(), perm_b.end(), k) == perm_b.end()) perm_b.push_back(k);
  }
  const bool sort_left = OrderedPrefix(lo, *j, true, perm_b) < nkeys;
  const bool sort_right = OrderedPrefix(ro, *j, false, perm_b) < nkeys;

  const double l = EstimatePlanRows(j->children[0].get(), opts_.stats);
  const double r = EstimatePlanRows(j->children[1].get(), opts_.stats);
  const double out = EstimatePlanRows(j, opts_.stats);
  const double hash = r * kHashBuildRowCost + l * kHashProbeRowCost;
  // A Sort above on the join's keys goes with a merge join (its output is in key order),
  // unless the left side's order satisfies it already (then it goes either way).
  double bonus = 0;
  if (!required.empty() && j->type == JoinType::kInner) {
    const size_t nl = j->children[0]->schema.size();
    const int want = static_cast<int>(required[0]);
    const bool left_has = !lo.desc && !lo.cols.empty() && Holds(lo.cols[0], want);
    if (!left_has && !perm_b.empty() &&
        (ColumnOf(*j->left_keys[perm_b[0]]) == want ||
         static_cast<int>(nl) + ColumnOf(*j->right_keys[perm_b[0]]) == want)) {
      bonus = SortCost(out);
    }
  }
  const double cost_a = perm_a.empty() ? -1 : (l + r) * kMergeRowCost - bonus;
  const double cost_b = (l + r) * kMergeRowCost + (sort_left ? SortCost(l) : 0) +
                        (sort_right ? SortCost(r) : 0) - bonus;
  bool use_b = false;
  if (hinted) {
    use_b = perm_a.empty() || (cost_b < cost_a && perm_a.size() < nkeys);
  } else if (!perm_a.empty() && cost_a <= cost_b && cost_a < hash) {
    use_b = false;
  } else if (cost_b < hash) {
    use_b = true;
  } else {
    return;
  }
  const std::vector<size_t>& perm = use_b ? perm_b : perm_a;
  // The merge keys first, then the others.
  std::vector<size_t> order = perm;
  for (size_t k = 0; k < nkeys; ++k) {
    if (std::find(order.begin(), order.end(), k) == order.end()) order.push_back(k);
  }
  std::vector<expr::ExprPtr> lk, rk;
  for (size_t k : order) {
    lk.push_back(std::move(j->left_keys[k]));
    rk.push_back(std::move(j->right_keys[k]));
  }
  j->left_keys = std::move(lk);
  j->right_keys = std::move(rk);
  j->merge_keys = perm.size();
  for (int side = 0; side < 2; ++side) {
    const bool sort = use_b && (side == 0 ? sort_left : sort_right);
    PlanPtr& child = j->children[side];
    if (!sort) {
      MarkKeepOrder(child.get());
      continue;
    }
    auto s = std::make_shared<SortNode>();
    s->schema = child->schema;
    s->est_rows = child->est_rows;
    for (const expr::ExprPtr& k : side == 0 ? j->left_keys : j->right_keys) {
      s->items.push_back({k->Clone(), false});
    }
    s->children.push_back(child);
    child = s;
  }
}

}  // namespace rutile::sql
