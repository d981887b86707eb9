// Bound scalar expressions: column references by index, constants, and function calls
// (operators, CAST and named functions), each evaluable two ways:
//
//   Eval(ctx, chunk, row)            one row at a time, giving a Datum;
//   EvalChunk(ctx, chunk, sel, out)  vectorized over the rows `sel` names (all rows when
//                                    null), writing one value per selected row, densely,
//                                    into `out`.
//
// Both give the same values, warnings and errors (a property test checks it). Each
// expression has a result FieldType fixed when it is built; a value it produces is NULL
// or of the canonical datum kind for that type (kInt64 / kUint64 by the unsigned flag,
// kFloat64 (kFloat32 for FLOAT), kDecimal, kString, kTime, kDuration). Functions convert
// their arguments with implicit CASTs inserted at build time (TiDB's WrapWithCastAs*), so
// kernels see arguments of one class.
//
// AND, OR, CASE, IF, IFNULL and COALESCE evaluate lazily: an argument a row does not need
// is not evaluated for that row (the vectorized path narrows the selection), so errors
// and warnings of untaken branches do not surface, as in MySQL.
//
// Expressions are built by registry.h's functions. Thread safety: immutable after
// construction; Eval/EvalChunk may run concurrently with distinct EvalContexts.

#ifndef RUTILE_SQL_EXPR_EXPRESSION_H_
#define RUTILE_SQL_EXPR_EXPRESSION_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/chunk/chunk.h"
#include "sql/types/context.h"
#include "sql/types/datum.h"
#include "sql/types/field_type.h"

namespace rutile::sql::expr {

using Sel = std::vector<uint32_t>;

class Expression {
 public:
  explicit Expression(FieldType type) : type_(type) {}
  virtual ~Expression() = default;

  const FieldType& type() const { return type_; }
  EvalType eval_type() const { return type_.GetEvalType(); }

  // Evaluates on physical row `row` of `input`.
  virtual absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const = 0;
  // Evaluates on the rows `sel` lists (every row of `input` when null); *out is replaced
  // by a column of PhysicalTypeOf(type()) with one value per evaluated row.
  virtual absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                                 Column* out) const = 0;

  // SQL-like text, used in error messages ("(a + 1)").
  virtual std::string ToString() const = 0;
  virtual std::unique_ptr<Expression> Clone() const = 0;
  virtual bool IsConstant() const { return false; }
  virtual std::span<const std::unique_ptr<Expression>> children() const { return {}; }

 protected:
  FieldType type_;
};

using ExprPtr = std::unique_ptr<Expression>;

// Column `index` of the input chunk; `type` must be the chunk's type for it.
class ColumnRef : public Expression {
 public:
  ColumnRef(size_t index, FieldType type, std::string name = "");
  size_t index() const { return index_; }
  const std::string& name() const { return name_; }

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override;
  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                         Column* out) const override;
  std::string ToString() const override;
  ExprPtr Clone() const override;

 private:
  size_t index_;
  std::string name_;
};

// A literal. The value is converted to the canonical kind of `type` on construction.
class Constant : public Expression {
 public:
  Constant(Datum value, FieldType type);
  const Datum& value() const { return value_; }

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override;
  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                         Column* out) const override;
  std::string ToString() const override;
  ExprPtr Clone() const override;
  bool IsConstant() const override { return true; }

 private:
  Datum value_;
};

class ScalarFunction;

// Per-row kernel: arguments already evaluated (NULLs included unless the function is
// null-propagating, in which case it is never called with a NULL).
using RowKernel = absl::StatusOr<Datum> (*)(const ScalarFunction& fn, EvalContext* ctx,
                                            std::span<const Datum> args);
// Vectorized kernel: arguments evaluated into columns of `n` rows each; fills *out
// (already of the result's physical type, empty) with n values.
using VecKernel = absl::Status (*)(const ScalarFunction& fn, EvalContext* ctx,
                                   std::span<const Column> args, size_t n, Column* out);

struct FuncImpl {
  RowKernel row = nullptr;
  VecKernel vec = nullptr;  // Null: the row kernel runs over the argument columns.
  bool null_propagating = true;
};

// Extra build-time facts a kernel needs.
struct FuncAux {
  Collation collation = Collation::kBinary;  // For comparing/matching strings.
  EvalType cmp_type = EvalType::kInt;        // The class operands are compared in.
  int64_t int_param = 0;
  std::string str_param;
  // On a "cast": inserted by a function's builder to convert an argument (not written in
  // the query), so serializing the call leaves it out and rebuilding re-inserts it.
  bool implicit_cast = false;
};

// A function call with eagerly evaluated arguments. Subclasses (lazy operators) override
// Eval/EvalChunk.
class ScalarFunction : public Expression {
 public:
  ScalarFunction(std::string name, std::vector<ExprPtr> args, FieldType type, FuncImpl impl,
                 FuncAux aux = {});

  const std::string& name() const { return name_; }
  size_t num_args() const { return args_.size(); }
  const Expression& arg(size_t i) const { return *args_[i]; }
  const FuncAux& aux() const { return aux_; }
  const FuncImpl& impl() const { return impl_; }

  absl::StatusOr<Datum> Eval(EvalContext* ctx, const Chunk& input, size_t row) const override;
  absl::Status EvalChunk(EvalContext* ctx, const Chunk& input, const Sel* sel,
                         Column* out) const override;
  std::string ToString() const override;
  ExprPtr Clone() const override;
  std::span<const ExprPtr> children() const override { return args_; }

 protected:
  // Clones the arguments (for subclasses' Clone).
  std::vector<ExprPtr> CloneArgs() const;
  // EvalChunk's row-at-a-time path over the arguments' columns (no vectorized kernel).
  absl::Status EvalRows(EvalContext* ctx, const std::vector<Column>& cols, size_t n,
                        Column* out) const;

  std::string name_;
  std::vector<ExprPtr> args_;
  FuncImpl impl_;
  FuncAux aux_;
};

// ---- Helpers shared by the builtins ----

// Number of rows an EvalChunk call covers.
inline size_t SelSize(const Chunk& input, const Sel* sel) {
  return sel ? sel->size() : input.NumRows();
}
// Appends `d` (of `type`'s canonical kind, or NULL) to `out`; Internal error on a kind
// mismatch, which would be a bug in a kernel.
absl::Status AppendResult(Column* out, const Datum& d);
// The canonical datum for `type` holding `v` (e.g. int64 -> uint64 for unsigned types).
Datum Canonicalize(const Datum& v, const FieldType& type);
// Error 1690 "<TYPE> value is out of range in '<expr>'".
absl::Status OutOfRange(std::string_view type_name, const Expression& e);

}  // namespace rutile::sql::expr

#endif  // RUTILE_SQL_EXPR_EXPRESSION_H_
