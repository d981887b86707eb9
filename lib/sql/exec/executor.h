// Vectorized executors (TiDB's executor/, DuckDB's PhysicalOperator): each produces
// chunks of up to kMaxChunkSize rows of its plan node's schema. Built fresh for each run
// of a plan (BuildExecutor), pulled with Next until it yields an empty chunk.
//
// Also here: the expressions that run plans — correlated column slots and subqueries
// (scalar, EXISTS, IN, comparisons with ANY/ALL), evaluated as an Apply: the subquery's
// plan runs once per outer row with the correlated slots set from that row, or once in
// all when it is not correlated (the result is then cached).
//
// Thread safety: an executor tree belongs to one statement execution.

#ifndef RUTILE_SQL_EXEC_EXECUTOR_H_
#define RUTILE_SQL_EXEC_EXECUTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/chunk/chunk.h"
#include "sql/exec/plan.h"

namespace rutile::sql {

class Executor {
 public:
  virtual ~Executor() = default;
  // Replaces *out by the next chunk; no rows means the end.
  virtual absl::Status Next(Chunk* out) = 0;
};

absl::StatusOr<std::unique_ptr<Executor>> BuildExecutor(const PlanNode& plan, ExecContext* ctx);

// Runs `plan` to the end and returns all its rows.
absl::StatusOr<std::vector<std::vector<Datum>>> RunPlanRows(const PlanNode& plan, ExecContext* ctx);

// Appends a hashable encoding of `d` (of type `ft`) to `key`: values equal under SQL
// comparison of that type encode equally (strings under the type's collation).
void AppendHashKey(std::string* key, const Datum& d, const FieldType& ft);

// A value of an enclosing query's current row, set by the subquery that uses it.
class CorrelatedColumn : public expr::Expression {
 public:
  CorrelatedColumn(std::shared_ptr<Datum> slot, FieldType type, std::string name)
      : Expression(type), slot_(std::move(slot)), name_(std::move(name)) {}
  absl::StatusOr<Datum> Eval(EvalContext*, const Chunk&, size_t) const override { return *slot_; }
  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const expr::Sel* sel,
                         Column* out) const override;
  std::string ToString() const override { return name_; }
  expr::ExprPtr Clone() const override {
    return std::make_unique<CorrelatedColumn>(slot_, type_, name_);
  }

 private:
  std::shared_ptr<Datum> slot_;
  std::string name_;
};

struct Correlation {
  expr::ExprPtr outer;  // Bound in the enclosing query's context.
  std::shared_ptr<Datum> slot;
};

enum class SubqueryKind : uint8_t { kScalar, kExists, kIn, kAny, kAll };

class SubqueryExpression : public expr::Expression {
 public:
  // kIn/kAny/kAll: `operand` (bound in the outer context) and `compare` (a comparison of
  // column 0 = the operand and column 1 = the subquery's value, on a two-column chunk of
  // those types). `negated` applies NOT to the result (NOT IN, NOT EXISTS).
  SubqueryExpression(SubqueryKind kind, PlanPtr plan, std::vector<Correlation> correlations,
                     expr::ExprPtr operand, expr::ExprPtr compare, bool negated, FieldType type);

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override;
  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const expr::Sel* sel,
                         Column* out) const override;
  std::string ToString() const override;
  expr::ExprPtr Clone() const override;
  std::span<const expr::ExprPtr> children() const override { return outer_exprs_; }

 private:
  struct Cache {
    bool valid = false;
    uint64_t rid = 0;
    std::vector<std::vector<Datum>> rows;
  };
  absl::StatusOr<Datum> Compute(ExecContext* ctx, const std::vector<std::vector<Datum>>& rows,
                                const Datum& operand) const;

  SubqueryKind kind_;
  PlanPtr plan_;
  std::vector<Correlation> correlations_;
  expr::ExprPtr operand_;
  expr::ExprPtr compare_;
  bool negated_;
  // Operand and correlation outer expressions: what this expression reads of its input.
  std::vector<expr::ExprPtr> outer_exprs_;
  std::shared_ptr<Cache> cache_;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_EXEC_EXECUTOR_H_
