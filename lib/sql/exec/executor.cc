#include "sql/exec/executor.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rutile/env.h"
#include "sql/codec/codec.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/errors.h"
#include "sql/exec/exec_util.h"
#include "sql/exec/reader.h"
#include "sql/types/compare.h"
#include "sql/types/convert.h"

namespace rutile::sql {

std::vector<FieldType> SchemaTypes(const Schema& s) {
  std::vector<FieldType> out;
  out.reserve(s.size());
  for (const OutputColumn& c : s) out.push_back(c.type);
  return out;
}

absl::Status ExecContext::ConsumeMemory(int64_t bytes) {
  mem_used += bytes;
  if (bytes <= 0 || mem_quota <= 0 || mem_used <= mem_quota) return absl::OkStatus();
  return MakeMySqlStatus(
      absl::StatusCode::kResourceExhausted,
      {8175, "HY000",
       absl::StrCat("Your query has been cancelled due to exceeding the allowed memory limit "
                    "for a single SQL query (tidb_mem_quota_query = ",
                    mem_quota, " bytes; the query needed more than ", mem_used,
                    "). Please try narrowing your query scope or increase the "
                    "tidb_mem_quota_query limit and try again.")});
}

namespace {

std::string ExprList(const std::vector<expr::ExprPtr>& es) {
  std::vector<std::string> parts;
  for (const auto& e : es) parts.push_back(e->ToString());
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string TableScanNode::Describe() const {
  std::string s = absl::StrCat("TableScan ", table->name);
  if (handles.has_value()) {
    absl::StrAppend(&s, " handles:", handles->size());
  } else if (index_id != 0) {
    absl::StrAppend(&s, " index:", index_id);
  } else if (lo != INT64_MIN || hi != INT64_MAX) {
    absl::StrAppend(&s, " range:[", lo, ",", hi, "]");
  }
  if (filter) absl::StrAppend(&s, " filter:", filter->ToString());
  return s;
}
std::string SelectionNode::Describe() const { return "Selection " + ExprList(conditions); }
std::string ProjectionNode::Describe() const { return "Projection " + ExprList(exprs); }
std::string JoinNode::Describe() const {
  static const char* kNames[] = {"Inner", "Left", "Semi", "Anti"};
  std::string s = absl::StrCat(merge_keys > 0      ? "MergeJoin "
                               : left_keys.empty() ? "NestedLoopJoin "
                                                   : "HashJoin ",
                               kNames[static_cast<int>(type)]);
  if (!left_keys.empty())
    absl::StrAppend(&s, " keys:", ExprList(left_keys), "=", ExprList(right_keys));
  if (other) absl::StrAppend(&s, " other:", other->ToString());
  return s;
}
std::string AggregateNode::Describe() const {
  return absl::StrCat("HashAgg group:[", ExprList(group_by), "] aggs:", aggs.size());
}
std::string SortNode::Describe() const {
  std::string s = limit.has_value() ? absl::StrCat("TopN ", *limit, " ") : "Sort ";
  for (const SortItem& i : items) absl::StrAppend(&s, i.expr->ToString(), i.desc ? " desc " : " ");
  return s;
}
std::string LimitNode::Describe() const { return absl::StrCat("Limit ", offset, ",", count); }
std::string DistinctNode::Describe() const { return "Distinct"; }
std::string SetOpNode::Describe() const {
  static const char* kNames[] = {"Union", "Except", "Intersect"};
  return absl::StrCat(kNames[static_cast<int>(op)], all ? " All" : "");
}

static void ExplainRec(const PlanNode& p, int depth, std::string* out) {
  absl::StrAppend(out, std::string(depth * 2, ' '), p.Describe(), "\n");
  for (const auto& c : p.children) ExplainRec(*c, depth + 1, out);
}

std::string ExplainPlan(const PlanNode& plan) {
  std::string out;
  ExplainRec(plan, 0, &out);
  return out;
}

void AppendHashKey(std::string* key, const Datum& d, const FieldType& ft) {
  switch (d.kind()) {
    case DatumKind::kNull:
      key->push_back('\0');
      return;
    case DatumKind::kUint64:
      if (d.GetUint64() <= static_cast<uint64_t>(INT64_MAX)) {
        codec::EncodeKeyDatum(key, Datum::Int(static_cast<int64_t>(d.GetUint64())));
        return;
      }
      break;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      if (d.GetDouble() == 0) {
        codec::EncodeKeyDatum(key, Datum::Double(0));
        return;
      }
      break;
    case DatumKind::kDecimal: {
      // Equal decimals of different scales must hash alike.
      std::string s = d.GetDecimal().ToString();
      if (s.find('.') != std::string::npos) {
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
      }
      if (s == "-0") s = "0";
      key->push_back('\x06');
      key->append(s);
      key->push_back('\0');
      return;
    }
    case DatumKind::kString:
      codec::EncodeKeyDatum(key, d, ft.collation);
      return;
    default:
      break;
  }
  codec::EncodeKeyDatum(key, d);
}

namespace {

using exec_internal::FilterChunk;

class DualExec : public Executor {
 public:
  explicit DualExec(const PlanNode& p) : types_(SchemaTypes(p.schema)) {}
  absl::Status Next(Chunk* out) override {
    *out = Chunk(types_);
    if (done_) return absl::OkStatus();
    done_ = true;
    std::vector<Datum> row(types_.size(), Datum::Int(0));
    out->AppendRow(row);
    return absl::OkStatus();
  }

 private:
  std::vector<FieldType> types_;
  bool done_ = false;
};

class SelectionExec : public Executor {
 public:
  SelectionExec(const SelectionNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : ctx_(ctx), child_(std::move(child)) {
    for (const auto& c : p.conditions) conds_.push_back(c.get());
  }
  absl::Status Next(Chunk* out) override {
    while (true) {
      absl::Status s = child_->Next(out);
      if (!s.ok()) return s;
      if (out->NumRows() == 0) return absl::OkStatus();
      s = FilterChunk(ctx_, conds_, out);
      if (!s.ok()) return s;
      if (out->NumRows() > 0) return absl::OkStatus();
    }
  }

 private:
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  std::vector<const expr::Expression*> conds_;
};

absl::Status Project(ExecContext* ctx, const std::vector<expr::ExprPtr>& exprs,
                     const std::vector<FieldType>& types, const Chunk& in, Chunk* out) {
  *out = Chunk(types, 0);  // Every column is replaced below.
  for (size_t i = 0; i < exprs.size(); ++i) {
    Column col;
    absl::Status s = exprs[i]->EvalChunk(ctx, in, nullptr, &col);
    if (!s.ok()) return s;
    out->column(i) = std::move(col);
  }
  return absl::OkStatus();
}

class ProjectionExec : public Executor {
 public:
  ProjectionExec(const ProjectionNode& p, ExecContext* ctx, std::unique_ptr<Executor> child)
      : p_(p), ctx_(ctx), child_(std::move(child)), types_(SchemaTypes(p.schema)) {}
  absl::Status Next(Chunk* out) override {
    Chunk in;
    absl::Status s = child_->Next(&in);
    if (!s.ok()) return s;
    if (in.NumRows() == 0) {
      *out = Chunk(types_, 0);
      return absl::OkStatus();
    }
    return Project(ctx_, p_.exprs, types_, in, out);
  }

 private:
  const ProjectionNode& p_;
  ExecContext* ctx_;
  std::unique_ptr<Executor> child_;
  std::vector<FieldType> types_;
};

class LimitExec : public Executor {
 public:
  LimitExec(const LimitNode& p, std::unique_ptr<Executor> child)
      : p_(p), child_(std::move(child)) {}
  absl::Status Next(Chunk* out) override {
    while (true) {
      if (emitted_ >= p_.count) {
        *out = Chunk(SchemaTypes(p_.schema));
        return absl::OkStatus();
      }
      absl::Status s = child_->Next(out);
      if (!s.ok()) return s;
      size_t n = out->NumRows();
      if (n == 0) return absl::OkStatus();
      size_t begin = 0;
      if (skipped_ < p_.offset) {
        size_t skip = std::min<uint64_t>(p_.offset - skipped_, n);
        skipped_ += skip;
        begin = skip;
      }
      size_t end = n;
      if (end - begin > p_.count - emitted_) end = begin + (p_.count - emitted_);
      if (begin == end) continue;
      emitted_ += end - begin;
      if (begin != 0 || end != n) *out = out->Slice(begin, end);
      return absl::OkStatus();
    }
  }

 private:
  const LimitNode& p_;
  std::unique_ptr<Executor> child_;
  uint64_t skipped_ = 0;
  uint64_t emitted_ = 0;
};

std::string RowKey(const Chunk& c, size_t r, size_t ncols) {
  std::string k;
  for (size_t i = 0; i < ncols; ++i) AppendHashKey(&k, c.GetDatum(r, i), c.types()[i]);
  return k;
}

class DistinctExec : public Executor {
 public:
  DistinctExec(const DistinctNode& p, std::unique_ptr<Executor> child)
      : p_(p), child_(std::move(child)) {}
  absl::Status Next(Chunk* out) override {
    while (true) {
      absl::Status s = child_->Next(out);
      if (!s.ok()) return s;
      if (out->NumRows() == 0) return absl::OkStatus();
      Chunk keep(out->types());
      for (size_t r = 0; r < out->NumRows(); ++r) {
        if (seen_.insert(RowKey(*out, r, p_.key_cols)).second) keep.AppendRowFrom(*out, r);
      }
      if (keep.NumRows() == 0) continue;
      *out = std::move(keep);
      return absl::OkStatus();
    }
  }

 private:
  const DistinctNode& p_;
  std::unique_ptr<Executor> child_;
  std::unordered_set<std::string> seen_;
};

class SetOpExec : public Executor {
 public:
  SetOpExec(const SetOpNode& p, std::unique_ptr<Executor> left, std::unique_ptr<Executor> right)
      : p_(p), left_(std::move(left)), right_(std::move(right)) {}

  absl::Status Next(Chunk* out) override {
    const size_t ncols = p_.schema.size();
    if (p_.op != SetOpKind::kUnion && !built_) {
      built_ = true;
      while (true) {
        Chunk c;
        absl::Status s = right_->Next(&c);
        if (!s.ok()) return s;
        if (c.NumRows() == 0) break;
        for (size_t r = 0; r < c.NumRows(); ++r) ++right_counts_[RowKey(c, r, ncols)];
      }
    }
    while (true) {
      Executor* src = on_left_ ? left_.get() : right_.get();
      absl::Status s = src->Next(out);
      if (!s.ok()) return s;
      if (out->NumRows() == 0) {
        if (on_left_ && p_.op == SetOpKind::kUnion) {
          on_left_ = false;
          continue;
        }
        return absl::OkStatus();
      }
      Chunk keep(out->types());
      for (size_t r = 0; r < out->NumRows(); ++r) {
        std::string k = RowKey(*out, r, ncols);
        bool emit = false;
        switch (p_.op) {
          case SetOpKind::kUnion:
            emit = p_.all || seen_.insert(k).second;
            break;
          case SetOpKind::kExcept: {
            auto it = right_counts_.find(k);
            if (p_.all) {
              if (it != right_counts_.end() && it->second > 0) {
                --it->second;
              } else {
                emit = true;
              }
            } else {
              emit = it == right_counts_.end() && seen_.insert(k).second;
            }
            break;
          }
          case SetOpKind::kIntersect: {
            auto it = right_counts_.find(k);
            if (p_.all) {
              if (it != right_counts_.end() && it->second > 0) {
                --it->second;
                emit = true;
              }
            } else {
              emit = it != right_counts_.end() && seen_.insert(k).second;
            }
            break;
          }
        }
        if (emit) keep.AppendRowFrom(*out, r);
      }
      if (keep.NumRows() == 0) continue;
      *out = std::move(keep);
      return absl::OkStatus();
    }
  }

 private:
  const SetOpNode& p_;
  std::unique_ptr<Executor> left_, right_;
  bool built_ = false;
  bool on_left_ = true;
  std::unordered_set<std::string> seen_;
  std::unordered_map<std::string, int64_t> right_counts_;
};

}  // namespace

namespace {

// EXPLAIN ANALYZE: counts an executor's rows, calls and time (ExecContext::runtime).
// `count_rows` false: the inner executor records the rows itself (a coprocessor read
// under a pushed operator reports the rows its scan gave that operator).
class InstrumentedExec : public Executor {
 public:
  InstrumentedExec(std::unique_ptr<Executor> inner, OperatorRuntime* rt, bool count_rows = true)
      : inner_(std::move(inner)), rt_(rt), count_rows_(count_rows) {}
  absl::Status Next(Chunk* out) override {
    const uint64_t start = Env::Default()->NowMicros();
    absl::Status s = inner_->Next(out);
    rt_->micros += Env::Default()->NowMicros() - start;
    ++rt_->calls;
    if (s.ok() && count_rows_) rt_->rows += out->NumEffectiveRows();
    return s;
  }

 private:
  std::unique_ptr<Executor> inner_;
  OperatorRuntime* rt_;
  const bool count_rows_;
};

absl::StatusOr<std::unique_ptr<Executor>> BuildNodeExecutor(const PlanNode& plan, ExecContext* ctx);

}  // namespace

absl::StatusOr<std::unique_ptr<Executor>> BuildExecutor(const PlanNode& plan, ExecContext* ctx) {
  auto e = BuildNodeExecutor(plan, ctx);
  if (!e.ok() || ctx->runtime == nullptr) return e;
  return std::unique_ptr<Executor>(
      std::make_unique<InstrumentedExec>(*std::move(e), &(*ctx->runtime)[&plan]));
}

namespace {

absl::StatusOr<std::unique_ptr<Executor>> BuildNodeExecutor(const PlanNode& plan,
                                                            ExecContext* ctx) {
  std::vector<std::unique_ptr<Executor>> kids;
  // A read through the coprocessor (planner/pushdown.h): the scan runs at the regions with
  // what is pushed into it; the node above it, if any, finishes on its chunks. (With the
  // transaction's own writes in the scan's range nothing above the scan is pushed: the
  // children are built as usual and the scan's read merges them, a UnionScan.)
  if (std::optional<CopPushdown> cop = ctx->allow_coprocessor ? PlanPushdown(plan) : std::nullopt) {
    absl::StatusOr<std::unique_ptr<Executor>> reader = NewCopReader(*cop, ctx);
    if (!reader.ok()) return reader.status();
    if (*reader != nullptr) {
      if (cop->scan == &plan) return reader;
      std::unique_ptr<Executor> r = *std::move(reader);
      if (ctx->runtime != nullptr) {
        r = std::make_unique<InstrumentedExec>(std::move(r), &(*ctx->runtime)[cop->scan],
                                               /*count_rows=*/false);
      }
      if (cop->agg != nullptr) {
        // A partial aggregation (below a join) passes the regions' partial rows on: the
        // final aggregation above the join merges them.
        if (cop->agg->mode == AggMode::kPartial) return r;
        return NewFinalAggExec(*cop->agg, ctx, std::move(r));
      }
      // A pushed TopN / Limit across projections: the regions return the scan's rows; the
      // projections run here over them, the lowest first, under the final TopN / Limit.
      for (auto it = cop->projs.rbegin(); it != cop->projs.rend(); ++it) {
        r = std::make_unique<ProjectionExec>(**it, ctx, std::move(r));
        if (ctx->runtime != nullptr) {
          r = std::make_unique<InstrumentedExec>(std::move(r), &(*ctx->runtime)[*it]);
        }
      }
      kids.push_back(std::move(r));
    }
  }
  for (size_t i = kids.size(); i < plan.children.size(); ++i) {
    const auto& c = plan.children[i];
    if (plan.kind == PlanKind::kJoin && i == 1 && static_cast<const JoinNode&>(plan).inner_lookup) {
      kids.push_back(nullptr);  // Read per batch of outer keys (join_exec.cc).
      continue;
    }
    auto e = BuildExecutor(*c, ctx);
    if (!e.ok()) return e.status();
    kids.push_back(*std::move(e));
  }
  switch (plan.kind) {
    case PlanKind::kDual:
      return std::unique_ptr<Executor>(std::make_unique<DualExec>(plan));
    case PlanKind::kTableScan: {
      const auto& scan = static_cast<const TableScanNode&>(plan);
      if (ctx->allow_coprocessor && scan.index_id != 0) {
        absl::StatusOr<std::unique_ptr<Executor>> r = NewIndexCopReader(scan, ctx);
        if (!r.ok() || *r != nullptr) return r;
      }
      return NewTableScanExec(scan, ctx);
    }
    case PlanKind::kSelection:
      return std::unique_ptr<Executor>(std::make_unique<SelectionExec>(
          static_cast<const SelectionNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kProjection:
      return std::unique_ptr<Executor>(std::make_unique<ProjectionExec>(
          static_cast<const ProjectionNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kJoin:
      if (static_cast<const JoinNode&>(plan).merge_keys > 0) {
        return exec_internal::NewMergeJoinExec(static_cast<const JoinNode&>(plan), ctx,
                                               std::move(kids[0]), std::move(kids[1]));
      }
      return std::unique_ptr<Executor>(exec_internal::NewJoinExec(
          static_cast<const JoinNode&>(plan), ctx, std::move(kids[0]), std::move(kids[1])));
    case PlanKind::kAggregate:
      if (static_cast<const AggregateNode&>(plan).mode == AggMode::kFinal) {
        return NewFinalAggExec(static_cast<const AggregateNode&>(plan), ctx, std::move(kids[0]));
      }
      return std::unique_ptr<Executor>(exec_internal::NewAggregateExec(
          static_cast<const AggregateNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kSort:
      return std::unique_ptr<Executor>(
          exec_internal::NewSortExec(static_cast<const SortNode&>(plan), ctx, std::move(kids[0])));
    case PlanKind::kLimit:
      return std::unique_ptr<Executor>(
          std::make_unique<LimitExec>(static_cast<const LimitNode&>(plan), std::move(kids[0])));
    case PlanKind::kDistinct:
      return std::unique_ptr<Executor>(std::make_unique<DistinctExec>(
          static_cast<const DistinctNode&>(plan), std::move(kids[0])));
    case PlanKind::kSetOp:
      return std::unique_ptr<Executor>(std::make_unique<SetOpExec>(
          static_cast<const SetOpNode&>(plan), std::move(kids[0]), std::move(kids[1])));
  }
  return absl::InternalError("unknown plan node");
}

}  // namespace

absl::StatusOr<std::vector<std::vector<Datum>>> RunPlanRows(const PlanNode& plan,
                                                            ExecContext* ctx) {
  auto e = BuildExecutor(plan, ctx);
  if (!e.ok()) return e.status();
  std::vector<std::vector<Datum>> rows;
  while (true) {
    Chunk c;
    absl::Status s = (*e)->Next(&c);
    if (!s.ok()) return s;
    if (c.NumRows() == 0) break;
    for (size_t r = 0; r < c.NumRows(); ++r) rows.push_back(c.GetRow(r));
  }
  return rows;
}

// ---- Correlated columns and subqueries ----

absl::Status CorrelatedColumn::EvalChunk(EvalContext*, const Chunk& input, const expr::Sel* sel,
                                         Column* out) const {
  *out = Column(PhysicalTypeOf(type_));
  const size_t n = expr::SelSize(input, sel);
  for (size_t i = 0; i < n; ++i) {
    absl::Status s = expr::AppendResult(out, *slot_);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

SubqueryExpression::SubqueryExpression(SubqueryKind kind, PlanPtr plan,
                                       std::vector<Correlation> correlations, expr::ExprPtr operand,
                                       expr::ExprPtr compare, bool negated, FieldType type)
    : Expression(type),
      kind_(kind),
      plan_(std::move(plan)),
      compare_(std::move(compare)),
      negated_(negated),
      cache_(std::make_shared<Cache>()) {
  for (Correlation& c : correlations) {
    correlations_.push_back({nullptr, c.slot});
    outer_exprs_.push_back(std::move(c.outer));
  }
  if (operand) outer_exprs_.push_back(std::move(operand));
}

std::string SubqueryExpression::ToString() const {
  static const char* kNames[] = {"scalar", "exists", "in", "any", "all"};
  return absl::StrCat(negated_ ? "not " : "", kNames[static_cast<int>(kind_)], "(subquery)");
}

expr::ExprPtr SubqueryExpression::Clone() const {
  std::vector<Correlation> cs;
  for (size_t i = 0; i < correlations_.size(); ++i) {
    cs.push_back({outer_exprs_[i]->Clone(), correlations_[i].slot});
  }
  expr::ExprPtr operand;
  if (outer_exprs_.size() > correlations_.size()) operand = outer_exprs_.back()->Clone();
  auto e =
      std::make_unique<SubqueryExpression>(kind_, plan_, std::move(cs), std::move(operand),
                                           compare_ ? compare_->Clone() : nullptr, negated_, type_);
  e->cache_ = cache_;
  return e;
}

absl::StatusOr<Datum> SubqueryExpression::Compute(ExecContext* ctx,
                                                  const std::vector<std::vector<Datum>>& rows,
                                                  const Datum& operand) const {
  auto negate = [&](Datum d) {
    if (!negated_ || d.IsNull()) return d;
    return Datum::Int(d.GetInt64() == 0 ? 1 : 0);
  };
  switch (kind_) {
    case SubqueryKind::kScalar:
      if (rows.empty()) return Datum::Null();
      if (rows.size() > 1) return MySqlErrorStatus(1242, "Subquery returns more than 1 row");
      return rows[0][0];
    case SubqueryKind::kExists:
      return negate(Datum::Int(rows.empty() ? 0 : 1));
    default:
      break;
  }
  const bool all = kind_ == SubqueryKind::kAll;
  if (rows.empty()) return negate(Datum::Int(all ? 1 : 0));
  if (operand.IsNull()) return Datum::Null();
  std::vector<FieldType> types = {outer_exprs_.back()->type(), plan_->schema[0].type};
  Chunk c(types);
  bool saw_null = false;
  for (const auto& row : rows) {
    c.Reset();
    std::vector<Datum> pair = {operand, row[0]};
    if (!c.AppendRow(pair)) return absl::InternalError("subquery compare kind mismatch");
    auto r = compare_->Eval(ctx, c, 0);
    if (!r.ok()) return r.status();
    if (r->IsNull()) {
      saw_null = true;
      continue;
    }
    bool t = r->kind() == DatumKind::kUint64 ? r->GetUint64() != 0 : r->GetInt64() != 0;
    if (!all && t) return negate(Datum::Int(1));
    if (all && !t) return negate(Datum::Int(0));
  }
  if (saw_null) return Datum::Null();
  return negate(Datum::Int(all ? 1 : 0));
}

absl::StatusOr<Datum> SubqueryExpression::Eval(EvalContext* ectx, const Chunk& input,
                                               size_t row) const {
  ExecContext* ctx = static_cast<ExecContext*>(ectx);
  for (size_t i = 0; i < correlations_.size(); ++i) {
    auto v = outer_exprs_[i]->Eval(ctx, input, row);
    if (!v.ok()) return v.status();
    *correlations_[i].slot = *std::move(v);
  }
  Datum operand;
  if (outer_exprs_.size() > correlations_.size()) {
    auto v = outer_exprs_.back()->Eval(ctx, input, row);
    if (!v.ok()) return v.status();
    operand = *std::move(v);
  }
  if (correlations_.empty()) {
    if (!cache_->valid || cache_->rid != ctx->run_id) {
      auto rows = RunPlanRows(*plan_, ctx);
      if (!rows.ok()) return rows.status();
      cache_->rows = *std::move(rows);
      cache_->valid = true;
      cache_->rid = ctx->run_id;
    }
    return Compute(ctx, cache_->rows, operand);
  }
  // EXISTS and scalar subqueries need at most 1 or 2 rows; they still run to the end
  // (a LIMIT in the plan bounds that).
  auto rows = RunPlanRows(*plan_, ctx);
  if (!rows.ok()) return rows.status();
  return Compute(ctx, *rows, operand);
}

absl::Status SubqueryExpression::EvalChunk(EvalContext* ctx, const Chunk& input,
                                           const expr::Sel* sel, Column* out) const {
  *out = Column(PhysicalTypeOf(type_));
  const size_t n = expr::SelSize(input, sel);
  for (size_t i = 0; i < n; ++i) {
    auto v = Eval(ctx, input, sel ? (*sel)[i] : i);
    if (!v.ok()) return v.status();
    absl::Status s = expr::AppendResult(out, expr::Canonicalize(*v, type_));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace rutile::sql
