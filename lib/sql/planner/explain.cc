#include "sql/planner/explain.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"
#include "sql/planner/cardinality.h"
#include "sql/planner/pushdown.h"

namespace rutile::sql {

namespace {

std::string Exprs(const std::vector<expr::ExprPtr>& es) {
  std::vector<std::string> parts;
  for (const auto& e : es) parts.push_back(e->ToString());
  return absl::StrJoin(parts, ", ");
}

struct Line {
  std::string name, task, access, info;
};

std::string IndexText(const TableInfo& t, int64_t index_id) {
  for (const IndexInfo& idx : t.indexes) {
    if (idx.id != index_id) continue;
    std::vector<std::string> cols;
    for (int c : idx.columns) cols.push_back(t.columns[c].name);
    return absl::StrCat("index:", idx.name, "(", absl::StrJoin(cols, ", "), ")");
  }
  return absl::StrCat("index:", index_id);
}

// One encoded key bound as values: "(1, 2.5)" or "1"; "?" when it is not whole datums.
std::string KeyText(std::string_view key) {
  std::vector<std::string> vs;
  while (!key.empty()) {
    if (key == std::string_view("\x01", 1)) {  // Below every non-NULL value.
      vs.push_back("-inf");
      break;
    }
    auto d = codec::DecodeKeyDatum(&key);
    if (!d.ok()) {
      vs.push_back("?");
      break;
    }
    vs.push_back(d->IsNull() ? "NULL" : d->ToString());
  }
  return vs.size() == 1 ? vs[0] : absl::StrCat("(", absl::StrJoin(vs, ","), ")");
}

// The index ranges as TiDB shows them: [1,1] for a point, [lo,hi) otherwise.
std::string IndexRanges(const TableScanNode& s) {
  const std::string prefix = codec::EncodeIndexPrefix(s.table->id, s.index_id);
  const std::string end = codec::PrefixNext(prefix);
  std::vector<std::string> parts;
  for (size_t i = 0; i < s.index_ranges.size() && i < 8; ++i) {
    std::string_view lo = s.index_ranges[i].first, hi = s.index_ranges[i].second;
    if (lo.substr(0, prefix.size()) != prefix) {
      parts.push_back("?");
      continue;
    }
    lo.remove_prefix(prefix.size());
    const bool hi_end = hi == end;
    if (!hi_end) hi.remove_prefix(prefix.size());
    if (!hi_end && codec::PrefixNext(lo) == hi) {
      const std::string v = KeyText(lo);
      parts.push_back(absl::StrCat("[", v, ",", v, "]"));
      continue;
    }
    const bool lo_start = lo.empty() || lo == std::string_view("\x01", 1);
    std::string hi_text = hi_end ? "+inf]" : absl::StrCat(KeyText(hi), ")");
    if (!hi_end) {
      // hi just past a prefix of lo's values: those values, then +inf.
      std::string_view rest = lo;
      std::vector<size_t> cuts;
      while (!rest.empty()) {
        if (!codec::DecodeKeyDatum(&rest).ok()) break;
        cuts.push_back(lo.size() - rest.size());
      }
      for (size_t k = cuts.size(); k-- > 0;) {
        if (codec::PrefixNext(lo.substr(0, cuts[k])) == hi) {
          std::string p = KeyText(lo.substr(0, cuts[k]));
          if (!p.empty() && p[0] == '(') p = p.substr(1, p.size() - 2);
          hi_text = absl::StrCat("(", p, ",+inf)]");
          break;
        }
      }
    }
    parts.push_back(absl::StrCat("[", lo_start ? "-inf" : KeyText(lo), ",", hi_text));
  }
  if (s.index_ranges.size() > 8) parts.push_back("...");
  return absl::StrJoin(parts, " ");
}

Line Describe(const PlanNode& p) {
  Line l;
  l.task = "root";
  switch (p.kind) {
    case PlanKind::kDual:
      l.name = "TableDual";
      break;
    case PlanKind::kTableScan: {
      const auto& s = static_cast<const TableScanNode&>(p);
      const std::string alias = s.schema.empty() ? s.table->name : s.schema[0].table;
      l.access = absl::StrCat("table:", alias);
      if (s.lookup_inner) {
        // The inner side of an IndexJoin: read per batch of outer keys.
        l.name = s.index_id != 0 ? "IndexLookUp" : "Batch_Point_Get";
        l.task = s.index_id != 0 ? "cop[tikv]" : "root";
        if (s.index_id != 0) absl::StrAppend(&l.access, ", ", IndexText(*s.table, s.index_id));
        l.info = s.index_id != 0 ? "range: decided by the outer keys" : "handle: the outer keys";
      } else if (s.handles.has_value()) {
        l.name = s.handles->size() == 1 ? "Point_Get" : "Batch_Point_Get";
        std::vector<std::string> hs;
        for (size_t i = 0; i < s.handles->size() && i < 8; ++i) {
          hs.push_back(absl::StrCat((*s.handles)[i]));
        }
        if (s.handles->size() > 8) hs.push_back("...");
        l.info = absl::StrCat("handle:[", absl::StrJoin(hs, ","), "]");
      } else if (!s.merge_paths.empty()) {
        l.name = "IndexMerge";
        l.task = "cop[tikv]";
        std::vector<std::string> parts;
        for (const TableScanNode::MergePath& mp : s.merge_paths) {
          if (mp.index_id == 0) {
            parts.push_back("handle");
            continue;
          }
          TableScanNode one;
          one.table = s.table;
          one.index_id = mp.index_id;
          one.index_ranges = mp.ranges;
          parts.push_back(
              absl::StrCat(IndexText(*s.table, mp.index_id), " range:", IndexRanges(one)));
        }
        l.info = absl::StrCat("union:[", absl::StrJoin(parts, "; "), "]");
      } else if (s.index_id != 0) {
        l.name = s.index_only ? "IndexReader" : "IndexLookUp";
        l.task = "cop[tikv]";
        absl::StrAppend(&l.access, ", ", IndexText(*s.table, s.index_id));
        l.info = absl::StrCat("range:", IndexRanges(s));
        if (s.desc) {
          absl::StrAppend(&l.info, ", keep order:true, desc");
        } else if (s.keep_order) {
          absl::StrAppend(&l.info, ", keep order:true");
        }
      } else if (s.lo != INT64_MIN || s.hi != INT64_MAX) {
        l.name = "TableRangeScan";
        l.task = "cop[tikv]";
        std::vector<std::pair<int64_t, int64_t>> rs = s.handle_ranges;
        if (rs.empty()) rs.push_back({s.lo, s.hi});
        std::vector<std::string> parts;
        for (size_t i = 0; i < rs.size() && i < 8; ++i) {
          parts.push_back(absl::StrCat(
              "[", rs[i].first == INT64_MIN ? std::string("-inf") : absl::StrCat(rs[i].first), ",",
              rs[i].second == INT64_MAX ? std::string("+inf") : absl::StrCat(rs[i].second), "]"));
        }
        if (rs.size() > 8) parts.push_back("...");
        l.info = absl::StrCat("range:", absl::StrJoin(parts, " "));
        if (s.keep_order) absl::StrAppend(&l.info, ", keep order:true");
      } else {
        l.name = s.table->memory_rows ? "MemTableScan" : "TableFullScan";
        l.task = s.table->memory_rows ? "root" : "cop[tikv]";
        l.info = s.keep_order ? "keep order:true" : "keep order:false";
      }
      if (s.filter) {
        absl::StrAppend(&l.info, l.info.empty() ? "" : ", ", "filter:", s.filter->ToString());
      }
      if (s.limit.has_value()) absl::StrAppend(&l.info, ", limit:", *s.limit);
      break;
    }
    case PlanKind::kSelection:
      l.name = "Selection";
      l.info = Exprs(static_cast<const SelectionNode&>(p).conditions);
      break;
    case PlanKind::kProjection:
      l.name = "Projection";
      l.info = Exprs(static_cast<const ProjectionNode&>(p).exprs);
      break;
    case PlanKind::kJoin: {
      const auto& j = static_cast<const JoinNode&>(p);
      static const char* kTypes[] = {"inner join", "left outer join", "semi join",
                                     "anti semi join"};
      l.name = j.inner_lookup        ? "IndexJoin"
               : j.merge_keys > 0    ? "MergeJoin"
               : j.left_keys.empty() ? "NestedLoopJoin"
                                     : "HashJoin";
      l.info = kTypes[static_cast<int>(j.type)];
      if (j.merge_keys > 0) {
        // TiDB's form: the keys the inputs are ordered on, then any further equalities.
        std::vector<std::string> lk, rk, eq;
        for (size_t i = 0; i < j.left_keys.size(); ++i) {
          if (i < j.merge_keys) {
            lk.push_back(j.left_keys[i]->ToString());
            rk.push_back(j.right_keys[i]->ToString());
          } else {
            eq.push_back(absl::StrCat("eq(", j.left_keys[i]->ToString(), ", ",
                                      j.right_keys[i]->ToString(), ")"));
          }
        }
        absl::StrAppend(&l.info, ", left key:", absl::StrJoin(lk, ", "),
                        ", right key:", absl::StrJoin(rk, ", "));
        if (!eq.empty()) absl::StrAppend(&l.info, ", equal:[", absl::StrJoin(eq, " "), "]");
      } else if (!j.left_keys.empty()) {
        std::vector<std::string> eq;
        for (size_t i = 0; i < j.left_keys.size(); ++i) {
          eq.push_back(absl::StrCat("eq(", j.left_keys[i]->ToString(), ", ",
                                    j.right_keys[i]->ToString(), ")"));
        }
        absl::StrAppend(&l.info, ", equal:[", absl::StrJoin(eq, " "), "]");
      }
      if (j.other) absl::StrAppend(&l.info, ", other cond:", j.other->ToString());
      break;
    }
    case PlanKind::kAggregate: {
      const auto& a = static_cast<const AggregateNode&>(p);
      l.name = "HashAgg";
      std::vector<std::string> fs;
      static const char* kAggs[] = {"count", "sum", "avg", "min", "max", "group_concat"};
      for (const AggItem& it : a.aggs) {
        // A final aggregation's arguments are its partial columns.
        const size_t nv = a.mode == AggMode::kFinal
                              ? it.args.size()
                              : std::min(expr::ValueArgs(it.desc), it.args.size());
        std::vector<std::string> values;
        for (size_t k = 0; k < nv; ++k) values.push_back(it.args[k]->ToString());
        std::string f =
            absl::StrCat(kAggs[static_cast<int>(it.desc.kind)],
                         it.desc.distinct ? "(distinct " : "(", absl::StrJoin(values, ", "));
        for (size_t k = nv; k < it.args.size(); ++k) {
          absl::StrAppend(&f, k == nv ? " order by " : ", ", it.args[k]->ToString(),
                          it.desc.order_desc[k - nv] ? " desc" : "");
        }
        fs.push_back(f + ")");
      }
      l.info = absl::StrCat(a.mode == AggMode::kPartial ? "partial, "
                            : a.mode == AggMode::kFinal ? "final, "
                                                        : "",
                            "group by:", Exprs(a.group_by), ", funcs:", absl::StrJoin(fs, ", "));
      break;
    }
    case PlanKind::kSort: {
      const auto& s = static_cast<const SortNode&>(p);
      l.name = s.limit.has_value() ? "TopN" : "Sort";
      std::vector<std::string> items;
      for (const SortItem& i : s.items)
        items.push_back(i.expr->ToString() + (i.desc ? ":desc" : ""));
      l.info = absl::StrJoin(items, ", ");
      if (s.limit.has_value()) absl::StrAppend(&l.info, ", limit:", *s.limit);
      break;
    }
    case PlanKind::kLimit: {
      const auto& lim = static_cast<const LimitNode&>(p);
      l.name = "Limit";
      l.info = absl::StrCat("offset:", lim.offset, ", count:", lim.count);
      break;
    }
    case PlanKind::kDistinct:
      l.name = "HashDistinct";
      break;
    case PlanKind::kSetOp: {
      const auto& so = static_cast<const SetOpNode&>(p);
      static const char* kNames[] = {"Union", "Except", "Intersect"};
      l.name = kNames[static_cast<int>(so.op)];
      if (so.all) l.info = "all";
      break;
    }
  }
  return l;
}

std::string Rows(double r) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", r);
  return buf;
}

struct WalkOptions {
  const std::map<const PlanNode*, OperatorRuntime>* runtime = nullptr;
  bool coprocessor = true;
  const std::function<bool(const TableScanNode&)>* union_scan = nullptr;
};

bool IsUnionScan(const WalkOptions& o, const PlanNode& scan) {
  return o.coprocessor && o.union_scan != nullptr && *o.union_scan != nullptr &&
         scan.kind == PlanKind::kTableScan &&
         (*o.union_scan)(static_cast<const TableScanNode&>(scan));
}

// `below_union`: `p` is the scan a UnionScan line was printed for.
void Walk(const PlanNode& p, const std::string& prefix, bool last, bool root, const WalkOptions& o,
          std::vector<std::vector<std::string>>* out, bool below_union = false) {
  const auto* runtime = o.runtime;
  Line l = Describe(p);
  if (!o.coprocessor) l.task = "root";
  if (!below_union && IsUnionScan(o, p)) {
    // The scan's read merges the transaction's own writes over the coprocessor's rows.
    l = Line{"UnionScan", "root", "", ""};
    if (const auto& s = static_cast<const TableScanNode&>(p); s.filter != nullptr) {
      l.info = s.filter->ToString();
    }
  }
  std::string id = root ? l.name : absl::StrCat(prefix, last ? "└─" : "├─", l.name);
  std::vector<std::string> row = {id, Rows(p.est_rows), l.task, l.access, l.info};
  if (runtime != nullptr) {
    auto it = runtime->find(&p);
    if (below_union) {
      row.insert(row.end(), {"", "", ""});  // The UnionScan line has the read's figures.
    } else if (it == runtime->end()) {
      row.insert(row.end(), {"0", "0", "0us"});
    } else {
      row.push_back(absl::StrCat(it->second.rows));
      row.push_back(absl::StrCat(it->second.calls));
      row.push_back(absl::StrCat(it->second.micros, "us"));
    }
  }
  // A partial aggregation pushed whole to the coprocessor (below a join: nothing of it runs
  // at the root) shows as the TableReader bringing its rows.
  const bool pushed_partial = o.coprocessor && p.kind == PlanKind::kAggregate &&
                              static_cast<const AggregateNode&>(p).mode == AggMode::kPartial &&
                              [&] {
                                std::optional<CopPushdown> c = PlanPushdown(p);
                                return c.has_value() && !IsUnionScan(o, *c->scan);
                              }();
  if (!pushed_partial) out->push_back(std::move(row));
  const std::string child_prefix =
      root || pushed_partial ? prefix : absl::StrCat(prefix, last ? "  " : "│ ");
  if (l.name == "UnionScan" && !below_union) {
    Walk(p, child_prefix, true, false, o, out, /*below_union=*/true);
    return;
  }
  // Work pushed to the coprocessor (planner/pushdown.h): the root operator finishes what
  // a TableReader brings back from the regions, which ran the same operator partially.
  // Not over a UnionScan: the operator then runs at the root only.
  std::optional<CopPushdown> cop = o.coprocessor ? PlanPushdown(p) : std::nullopt;
  if (cop.has_value() && cop->scan != &p && IsUnionScan(o, *cop->scan)) cop.reset();
  if (cop.has_value() && cop->scan != &p) {
    auto synthetic = [&](const std::string& id, const std::string& task, const std::string& info,
                         double est) {
      std::vector<std::string> r = {id, Rows(est), task, "", info};
      if (runtime != nullptr) r.insert(r.end(), {"", "", ""});
      out->push_back(std::move(r));
    };
    const std::string name = l.name;
    std::string reader_prefix = child_prefix;
    if (cop->agg == nullptr) {
      // Under a pushed TopN / Limit the projections run at the root over the reader.
      for (const ProjectionNode* proj : cop->projs) {
        std::vector<std::string> r = {absl::StrCat(reader_prefix, "└─Projection"),
                                      Rows(proj->est_rows), "root", "", Exprs(proj->exprs)};
        if (runtime != nullptr) {
          auto it = runtime->find(proj);
          if (it == runtime->end()) {
            r.insert(r.end(), {"0", "0", "0us"});
          } else {
            r.insert(r.end(), {absl::StrCat(it->second.rows), absl::StrCat(it->second.calls),
                               absl::StrCat(it->second.micros, "us")});
          }
        }
        out->push_back(std::move(r));
        absl::StrAppend(&reader_prefix, "  ");
      }
    }
    if (pushed_partial) {
      // In place of the aggregation's own line, with its runtime.
      std::string id =
          root ? "TableReader" : absl::StrCat(prefix, last ? "└─" : "├─", "TableReader");
      std::vector<std::string> r = {id, Rows(p.est_rows), "root", "", "data:" + name};
      if (runtime != nullptr) r.insert(r.end(), row.begin() + 5, row.end());
      out->push_back(std::move(r));
      reader_prefix = root ? "" : absl::StrCat(prefix, last ? "  " : "│ ");
    } else {
      synthetic(absl::StrCat(reader_prefix, "└─TableReader"), "root", "data:" + name, p.est_rows);
      absl::StrAppend(&reader_prefix, "  ");
    }
    const std::string inner = reader_prefix;
    synthetic(absl::StrCat(inner, "└─", name), "cop[tikv]",
              cop->agg != nullptr && !pushed_partial ? "partial, " + l.info : l.info, p.est_rows);
    std::string scan_prefix = absl::StrCat(inner, "  ");
    for (const ProjectionNode* proj :
         cop->agg != nullptr ? cop->projs : std::vector<const ProjectionNode*>{}) {
      // The projection's expressions are inlined into the pushed aggregation's.
      synthetic(absl::StrCat(scan_prefix, "└─Projection"), "cop[tikv]", Exprs(proj->exprs),
                proj->est_rows);
      absl::StrAppend(&scan_prefix, "  ");
    }
    Walk(*cop->scan, scan_prefix, true, false, o, out);
    return;
  }
  for (size_t i = 0; i < p.children.size(); ++i) {
    Walk(*p.children[i], child_prefix, i + 1 == p.children.size(), false, o, out);
  }
}

}  // namespace

std::vector<std::string> ExplainColumns(bool analyze) {
  std::vector<std::string> c = {"id", "estRows", "task", "access object", "operator info"};
  if (analyze) c.insert(c.end(), {"actRows", "loops", "time"});
  return c;
}

std::vector<std::vector<std::string>> ExplainRows(
    PlanNode* plan, const StatsCache* stats,
    const std::map<const PlanNode*, OperatorRuntime>* runtime, bool coprocessor,
    const std::function<bool(const TableScanNode&)>& union_scan) {
  EstimatePlanRows(plan, stats);
  std::vector<std::vector<std::string>> out;
  WalkOptions o;
  o.runtime = runtime;
  o.coprocessor = coprocessor;
  o.union_scan = &union_scan;
  Walk(*plan, "", true, true, o, &out);
  return out;
}

}  // namespace rutile::sql
