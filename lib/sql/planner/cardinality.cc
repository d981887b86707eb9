#include "sql/planner/cardinality.h"

#include <algorithm>
#include <string>

#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"

namespace rutile::sql {

namespace {

// The column of `scan`'s table that `e` reads directly, or null.
const ColumnInfo* ScanColumn(const expr::Expression& e, const TableScanNode& scan) {
  auto* c = dynamic_cast<const expr::ColumnRef*>(&e);
  if (c == nullptr || c->index() >= scan.table->columns.size()) return nullptr;
  return &scan.table->columns[c->index()];
}

// The encoded value of constant `e` when it compares with column `col` byte-wise.
bool EncodedConstant(const expr::Expression& e, const ColumnInfo& col, std::string* out) {
  if (!e.IsConstant()) return false;
  const Datum& d = static_cast<const expr::Constant&>(e).value();
  if (d.IsNull()) return false;
  const FieldType& ct = col.type;
  const FieldType& xt = e.type();
  if (ct.GetEvalType() != xt.GetEvalType() || ct.IsUnsigned() != xt.IsUnsigned()) return false;
  if (ct.GetEvalType() == EvalType::kString) {
    if (ct.collation != xt.collation) return false;
    codec::EncodeKeyDatum(out, d, ct.collation);
    return true;
  }
  if (ct.GetEvalType() != EvalType::kInt) return false;
  codec::EncodeKeyDatum(out, d);
  return true;
}

const ColumnStats* StatsFor(const TableStats* ts, const ColumnInfo& col) {
  if (ts == nullptr) return nullptr;
  auto it = ts->columns.find(col.id);
  return it == ts->columns.end() ? nullptr : &it->second;
}

double Clamp(double s) { return std::clamp(s, 0.0, 1.0); }

double Selectivity(const expr::Expression& cond, const TableScanNode& scan, const TableStats* ts) {
  auto* f = dynamic_cast<const expr::ScalarFunction*>(&cond);
  if (f == nullptr) return kSelectionFactor;
  const std::string& name = f->name();
  const double rows = ts != nullptr && ts->row_count > 0 ? static_cast<double>(ts->row_count) : 0;
  if (name == "and") {
    double s = 1;
    for (size_t i = 0; i < f->num_args(); ++i) s *= Selectivity(f->arg(i), scan, ts);
    return s;
  }
  if (name == "or") {
    double s = 0;
    for (size_t i = 0; i < f->num_args(); ++i) {
      const double x = Selectivity(f->arg(i), scan, ts);
      s = s + x - s * x;
    }
    return s;
  }
  if (name == "not" && f->num_args() == 1) return Clamp(1 - Selectivity(f->arg(0), scan, ts));
  if ((name == "isnull" || name == "isnotnull") && f->num_args() == 1) {
    const ColumnInfo* col = ScanColumn(f->arg(0), scan);
    const ColumnStats* cs = col ? StatsFor(ts, *col) : nullptr;
    double s = kPseudoEqualRate;
    if (cs != nullptr && rows > 0) s = static_cast<double>(cs->null_count) / rows;
    return name == "isnull" ? s : 1 - s;
  }
  auto cmp =
      name == "eq" || name == "lt" || name == "le" || name == "gt" || name == "ge" || name == "ne";
  if (cmp && f->num_args() == 2) {
    const expr::Expression* colx = &f->arg(0);
    const expr::Expression* val = &f->arg(1);
    std::string op = name;
    if (ScanColumn(*colx, scan) == nullptr) {
      std::swap(colx, val);
      if (op == "lt")
        op = "gt";
      else if (op == "gt")
        op = "lt";
      else if (op == "le")
        op = "ge";
      else if (op == "ge")
        op = "le";
    }
    const ColumnInfo* col = ScanColumn(*colx, scan);
    if (col == nullptr || !val->IsConstant()) {
      return op == "eq" ? kPseudoEqualRate : op == "ne" ? 1 - kPseudoEqualRate : kPseudoLessRate;
    }
    const ColumnStats* cs = StatsFor(ts, *col);
    std::string enc;
    if (cs == nullptr || rows <= 0 || !EncodedConstant(*val, *col, &enc)) {
      return op == "eq" ? kPseudoEqualRate : op == "ne" ? 1 - kPseudoEqualRate : kPseudoLessRate;
    }
    const double eq = cs->EqualRows(enc) / rows;
    if (op == "eq") return Clamp(eq);
    if (op == "ne") return Clamp(1 - eq - static_cast<double>(cs->null_count) / rows);
    const std::string next = codec::PrefixNext(enc);
    double r = 0;
    if (op == "lt") r = cs->RangeRows("", enc);
    if (op == "le") r = cs->RangeRows("", next);
    if (op == "gt") r = cs->RangeRows(next, "");
    if (op == "ge") r = cs->RangeRows(enc, "");
    return Clamp(r / rows);
  }
  if (name == "in" && f->num_args() >= 2) {
    const ColumnInfo* col = ScanColumn(f->arg(0), scan);
    const ColumnStats* cs = col ? StatsFor(ts, *col) : nullptr;
    double s = 0;
    for (size_t i = 1; i < f->num_args(); ++i) {
      std::string enc;
      if (cs != nullptr && rows > 0 && EncodedConstant(f->arg(i), *col, &enc)) {
        s += cs->EqualRows(enc) / rows;
      } else {
        s += kPseudoEqualRate;
      }
    }
    return Clamp(s);
  }
  if (name == "between" && f->num_args() == 3) {
    const ColumnInfo* col = ScanColumn(f->arg(0), scan);
    const ColumnStats* cs = col ? StatsFor(ts, *col) : nullptr;
    std::string lo, hi;
    if (cs != nullptr && rows > 0 && EncodedConstant(f->arg(1), *col, &lo) &&
        EncodedConstant(f->arg(2), *col, &hi)) {
      return Clamp(cs->RangeRows(lo, codec::PrefixNext(hi)) / rows);
    }
    return kPseudoBetweenRate;
  }
  return kSelectionFactor;
}

double ScanRows(TableScanNode* scan, const StatsCache* stats) {
  TableStatsPtr ts = StatsOf(*scan, stats);
  const double rows = TableRows(*scan, stats);
  if (scan->table->memory_rows) return static_cast<double>(scan->table->memory_rows->size());
  double access = rows;
  if (scan->access_rows >= 0) {
    access = scan->access_rows;
  } else if (scan->handles.has_value()) {
    access = static_cast<double>(scan->handles->size());
  } else if (scan->index_id != 0) {
    access = rows * kPseudoEqualRate;
  } else if (scan->lo != INT64_MIN || scan->hi != INT64_MAX) {
    const int tc = scan->table->handle_col;
    const ColumnStats* hs = tc >= 0 ? StatsFor(ts.get(), scan->table->columns[tc]) : nullptr;
    if (hs != nullptr) {
      std::string lo, hi;
      if (scan->lo != INT64_MIN) codec::EncodeKeyDatum(&lo, Datum::Int(scan->lo));
      if (scan->hi != INT64_MAX) codec::EncodeKeyDatum(&hi, Datum::Int(scan->hi));
      access = hs->RangeRows(lo, hi.empty() ? "" : codec::PrefixNext(hi));
    } else if (scan->lo != INT64_MIN && scan->hi != INT64_MAX) {
      access = std::min(rows, static_cast<double>(scan->hi) - static_cast<double>(scan->lo) + 1);
    } else {
      access = rows * kPseudoLessRate;
    }
  }
  double est = access;
  if (scan->filter) est = std::min(access, rows * Selectivity(*scan->filter, *scan, ts.get()));
  if (scan->limit.has_value()) est = std::min(est, static_cast<double>(*scan->limit));
  return std::max(est, 0.0);
}

}  // namespace

TableStatsPtr StatsOf(const TableScanNode& scan, const StatsCache* stats) {
  if (stats == nullptr || scan.table == nullptr) return nullptr;
  return stats->Get(scan.table->id);
}

double TableRows(const TableScanNode& scan, const StatsCache* stats) {
  TableStatsPtr ts = StatsOf(scan, stats);
  if (scan.table->memory_rows) return static_cast<double>(scan.table->memory_rows->size());
  return ts != nullptr ? static_cast<double>(ts->row_count) : kPseudoRows;
}

double ConditionSelectivity(const expr::Expression& cond, const TableScanNode& scan,
                            const StatsCache* stats) {
  TableStatsPtr ts = StatsOf(scan, stats);
  return Selectivity(cond, scan, ts.get());
}

double ColumnNdv(const PlanNode& plan, size_t col, double rows, const StatsCache* stats) {
  const PlanNode* p = &plan;
  // Look through selections and column-preserving projections to a base table.
  while (true) {
    if (p->kind == PlanKind::kSelection && !p->children.empty()) {
      p = p->children[0].get();
      continue;
    }
    if (p->kind == PlanKind::kProjection && !p->children.empty()) {
      auto* proj = static_cast<const ProjectionNode*>(p);
      if (col >= proj->exprs.size()) return rows;
      auto* c = dynamic_cast<const expr::ColumnRef*>(proj->exprs[col].get());
      if (c == nullptr) return rows;
      col = c->index();
      p = p->children[0].get();
      continue;
    }
    break;
  }
  if (p->kind != PlanKind::kTableScan) return std::max(rows, 1.0);
  auto* scan = static_cast<const TableScanNode*>(p);
  const TableInfo& t = *scan->table;
  if (col >= t.columns.size()) return std::max(rows, 1.0);  // The hidden handle: unique.
  if (static_cast<int>(col) == t.handle_col) return std::max(rows, 1.0);
  TableStatsPtr ts = StatsOf(*scan, stats);
  if (const ColumnStats* cs = StatsFor(ts.get(), t.columns[col])) {
    return std::clamp(static_cast<double>(cs->ndv), 1.0, std::max(rows, 1.0));
  }
  return std::max(rows, 1.0);
}

double EstimatePlanRows(PlanNode* plan, const StatsCache* stats) {
  if (plan->est_rows >= 0) return plan->est_rows;
  std::vector<double> kids;
  for (auto& c : plan->children) kids.push_back(EstimatePlanRows(c.get(), stats));
  double est = kids.empty() ? 1 : kids[0];
  switch (plan->kind) {
    case PlanKind::kDual:
      est = 1;
      break;
    case PlanKind::kTableScan:
      est = ScanRows(static_cast<TableScanNode*>(plan), stats);
      break;
    case PlanKind::kSelection:
      for (size_t i = 0; i < static_cast<SelectionNode*>(plan)->conditions.size(); ++i) {
        est *= kSelectionFactor;
      }
      break;
    case PlanKind::kJoin: {
      auto* j = static_cast<JoinNode*>(plan);
      const double l = kids[0], r = kids[1];
      double inner = l * r;
      for (size_t i = 0; i < j->left_keys.size(); ++i) {
        const auto* lc = dynamic_cast<const expr::ColumnRef*>(j->left_keys[i].get());
        const auto* rc = dynamic_cast<const expr::ColumnRef*>(j->right_keys[i].get());
        const double ln = lc ? ColumnNdv(*plan->children[0], lc->index(), l, stats) : l;
        const double rn = rc ? ColumnNdv(*plan->children[1], rc->index(), r, stats) : r;
        inner /= std::max({ln, rn, 1.0});
      }
      if (j->other) inner *= kSelectionFactor;
      switch (j->type) {
        case JoinType::kInner:
          est = inner;
          break;
        case JoinType::kLeft:
          est = std::max(inner, l);
          break;
        case JoinType::kSemi:
          est = l * kSelectionFactor;
          break;
        case JoinType::kAnti:
          est = l * (1 - kSelectionFactor);
          break;
      }
      break;
    }
    case PlanKind::kAggregate:
      if (static_cast<AggregateNode*>(plan)->group_by.empty()) {
        est = 1;
      } else {
        est = std::max(1.0, est * kSelectionFactor);
      }
      break;
    case PlanKind::kLimit:
      est = std::min(est, static_cast<double>(static_cast<LimitNode*>(plan)->count));
      break;
    case PlanKind::kSort:
      if (static_cast<SortNode*>(plan)->limit.has_value()) {
        est = std::min(est, static_cast<double>(*static_cast<SortNode*>(plan)->limit));
      }
      break;
    case PlanKind::kDistinct:
      est *= kSelectionFactor;
      break;
    case PlanKind::kSetOp:
      est = 0;
      for (double k : kids) est += k;
      break;
    case PlanKind::kProjection:
      break;
  }
  plan->est_rows = std::max(est, 0.0);
  return plan->est_rows;
}

}  // namespace rutile::sql
