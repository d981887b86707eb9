// + - * / DIV % and unary minus with MySQL's typing, overflow errors (1690) and
// division by zero (NULL with warning 1365).

#include <cmath>

#include "sql/expr/builtins.h"
#include "sql/types/convert.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

using i128 = __int128;

inline i128 IntOf(const Datum& d) {
  return d.kind() == DatumKind::kUint64 ? static_cast<i128>(d.GetUint64())
                                        : static_cast<i128>(d.GetInt64());
}

inline i128 IntAt(const Column& c, size_t k, bool is_unsigned) {
  return is_unsigned ? static_cast<i128>(c.GetUint64(k)) : static_cast<i128>(c.GetInt64(k));
}

// Checks `r` against the result type's range.
inline bool FitsResult(i128 r, bool is_unsigned) {
  if (is_unsigned) return r >= 0 && r <= static_cast<i128>(UINT64_MAX);
  return r >= static_cast<i128>(INT64_MIN) && r <= static_cast<i128>(INT64_MAX);
}

absl::Status IntOverflow(const ScalarFunction& fn) {
  return OutOfRange(fn.type().IsUnsigned() ? "BIGINT UNSIGNED" : "BIGINT", fn);
}

Datum IntDatum(i128 r, bool is_unsigned) {
  return is_unsigned ? Datum::Uint(static_cast<uint64_t>(r)) : Datum::Int(static_cast<int64_t>(r));
}

// op: 0 plus, 1 minus, 2 mul. Returns false on overflow.
inline bool IntOp(int op, i128 a, i128 b, i128* r) {
  switch (op) {
    case 0:
      *r = a + b;
      return true;
    case 1:
      *r = a - b;
      return true;
    default:
      return !__builtin_mul_overflow(a, b, r);
  }
}

template <int kOp>
absl::StatusOr<Datum> IntArithRow(const ScalarFunction& fn, EvalContext* ctx,
                                  std::span<const Datum> args) {
  i128 r;
  bool is_unsigned = fn.type().IsUnsigned();
  if (!IntOp(kOp, IntOf(args[0]), IntOf(args[1]), &r) || !FitsResult(r, is_unsigned)) {
    return IntOverflow(fn);
  }
  return IntDatum(r, is_unsigned);
}

// Performance-critical path.
template <int kOp>
absl::Status IntArithVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                         size_t n, Column* out) {
  const bool ua = fn.arg(0).type().IsUnsigned(), ub = fn.arg(1).type().IsUnsigned();
  const bool is_unsigned = fn.type().IsUnsigned();
  out->ResizeFixed(n);
  out->MergeNulls(args[0]);
  out->MergeNulls(args[1]);
  if (!ua && !ub && !is_unsigned && kOp != 2) {
    // Signed fast path.
    const int64_t* a = args[0].Int64Data();
    const int64_t* b = args[1].Int64Data();
    int64_t* o = out->Int64Data();
    for (size_t k = 0; k < n; ++k) {
      if (out->IsNull(k)) continue;
      bool overflow = kOp == 0 ? __builtin_add_overflow(a[k], b[k], &o[k])
                               : __builtin_sub_overflow(a[k], b[k], &o[k]);
      if (overflow) return IntOverflow(fn);
    }
    return absl::OkStatus();
  }
  for (size_t k = 0; k < n; ++k) {
    if (out->IsNull(k)) continue;
    i128 r;
    if (!IntOp(kOp, IntAt(args[0], k, ua), IntAt(args[1], k, ub), &r) ||
        !FitsResult(r, is_unsigned)) {
      return IntOverflow(fn);
    }
    if (is_unsigned) {
      out->Uint64Data()[k] = static_cast<uint64_t>(r);
    } else {
      out->Int64Data()[k] = static_cast<int64_t>(r);
    }
  }
  return absl::OkStatus();
}

inline double RealOp(int op, double a, double b) {
  switch (op) {
    case 0:
      return a + b;
    case 1:
      return a - b;
    default:
      return a * b;
  }
}

template <int kOp>
absl::StatusOr<Datum> RealArithRow(const ScalarFunction& fn, EvalContext* ctx,
                                   std::span<const Datum> args) {
  double r = RealOp(kOp, args[0].GetDouble(), args[1].GetDouble());
  if (!std::isfinite(r)) return OutOfRange("DOUBLE", fn);
  return Datum::Double(r);
}

// Performance-critical path.
template <int kOp>
absl::Status RealArithVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                          size_t n, Column* out) {
  out->ResizeFixed(n);
  out->MergeNulls(args[0]);
  out->MergeNulls(args[1]);
  const double* a = args[0].Float64Data();
  const double* b = args[1].Float64Data();
  double* o = out->Float64Data();
  bool bad = false;
  for (size_t k = 0; k < n; ++k) {
    o[k] = RealOp(kOp, a[k], b[k]);
    bad |= !std::isfinite(o[k]) && !out->IsNull(k);
  }
  if (bad) return OutOfRange("DOUBLE", fn);
  return absl::OkStatus();
}

inline DecimalStatus DecOp(int op, const Decimal& a, const Decimal& b, Decimal* r) {
  switch (op) {
    case 0:
      return Decimal::Add(a, b, r);
    case 1:
      return Decimal::Sub(a, b, r);
    default:
      return Decimal::Mul(a, b, r);
  }
}

template <int kOp>
absl::StatusOr<Datum> DecArithRow(const ScalarFunction& fn, EvalContext* ctx,
                                  std::span<const Datum> args) {
  Decimal r;
  if (DecOp(kOp, args[0].GetDecimal(), args[1].GetDecimal(), &r) == DecimalStatus::kOverflow) {
    return OutOfRange("DECIMAL", fn);
  }
  return Datum::Dec(r);
}

// Performance-critical path.
template <int kOp>
absl::Status DecArithVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                         size_t n, Column* out) {
  out->ResizeFixed(n);
  out->MergeNulls(args[0]);
  out->MergeNulls(args[1]);
  const Decimal* a = args[0].DecimalData();
  const Decimal* b = args[1].DecimalData();
  Decimal* o = out->DecimalData();
  for (size_t k = 0; k < n; ++k) {
    if (out->IsNull(k)) continue;
    if (DecOp(kOp, a[k], b[k], &o[k]) == DecimalStatus::kOverflow) return OutOfRange("DECIMAL", fn);
  }
  return absl::OkStatus();
}

// ---- / ----

absl::StatusOr<Datum> RealDivRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  double b = args[1].GetDouble();
  if (b == 0) {
    if (absl::Status st = ctx->HandleDivisionByZero(); !st.ok()) return st;
    return Datum();
  }
  double r = args[0].GetDouble() / b;
  if (!std::isfinite(r)) return OutOfRange("DOUBLE", fn);
  return Datum::Double(r);
}

absl::StatusOr<Datum> DecDivRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  Decimal r;
  DecimalStatus st =
      Decimal::Div(args[0].GetDecimal(), args[1].GetDecimal(), &r, kDivPrecisionIncrement);
  if (st == DecimalStatus::kDivByZero) {
    if (absl::Status s = ctx->HandleDivisionByZero(); !s.ok()) return s;
    return Datum();
  }
  if (st == DecimalStatus::kOverflow) return OutOfRange("DECIMAL", fn);
  if (fn.type().decimal >= 0 && fn.arg(0).type().decimal >= 0 && r.scale() != fn.type().decimal) {
    Decimal fitted;
    if (r.Rescale(fn.type().decimal, &fitted) == DecimalStatus::kOverflow) {
      return OutOfRange("DECIMAL", fn);
    }
    r = fitted;
  }
  return Datum::Dec(r);
}

// ---- DIV ----

absl::StatusOr<Datum> IntDivRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  i128 b = IntOf(args[1]);
  if (b == 0) {
    if (absl::Status st = ctx->HandleDivisionByZero(); !st.ok()) return st;
    return Datum();
  }
  i128 r = IntOf(args[0]) / b;
  bool is_unsigned = fn.type().IsUnsigned();
  if (!FitsResult(r, is_unsigned)) return IntOverflow(fn);
  return IntDatum(r, is_unsigned);
}

absl::StatusOr<Datum> DecIntDivRow(const ScalarFunction& fn, EvalContext* ctx,
                                   std::span<const Datum> args) {
  const Decimal& a = args[0].GetDecimal();
  const Decimal& b = args[1].GetDecimal();
  Decimal m;
  if (Decimal::Mod(a, b, &m) == DecimalStatus::kDivByZero) {
    if (absl::Status st = ctx->HandleDivisionByZero(); !st.ok()) return st;
    return Datum();
  }
  Decimal whole, q;
  Decimal::Sub(a, m, &whole);
  if (Decimal::Div(whole, b, &q, 0) == DecimalStatus::kOverflow) return IntOverflow(fn);
  if (fn.type().IsUnsigned()) {
    uint64_t u;
    if (q.IsNegative() && !q.IsZero()) return IntOverflow(fn);
    if (q.ToUint64(&u) != DecimalStatus::kOk) return IntOverflow(fn);
    return Datum::Uint(u);
  }
  int64_t i;
  if (q.ToInt64(&i) != DecimalStatus::kOk) return IntOverflow(fn);
  return Datum::Int(i);
}

// ---- % ----

absl::StatusOr<Datum> IntModRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  i128 b = IntOf(args[1]);
  if (b == 0) {
    if (absl::Status st = ctx->HandleDivisionByZero(); !st.ok()) return st;
    return Datum();
  }
  i128 r = IntOf(args[0]) % b;
  return IntDatum(r, fn.type().IsUnsigned());
}

absl::StatusOr<Datum> RealModRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  double b = args[1].GetDouble();
  if (b == 0) {
    if (absl::Status st = ctx->HandleDivisionByZero(); !st.ok()) return st;
    return Datum();
  }
  return Datum::Double(std::fmod(args[0].GetDouble(), b));
}

absl::StatusOr<Datum> DecModRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  Decimal r;
  if (Decimal::Mod(args[0].GetDecimal(), args[1].GetDecimal(), &r) == DecimalStatus::kDivByZero) {
    if (absl::Status st = ctx->HandleDivisionByZero(); !st.ok()) return st;
    return Datum();
  }
  return Datum::Dec(r);
}

// ---- unary minus ----

absl::StatusOr<Datum> IntNegRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  i128 r = -IntOf(args[0]);
  if (!FitsResult(r, false)) return OutOfRange("BIGINT", fn);
  return Datum::Int(static_cast<int64_t>(r));
}

absl::StatusOr<Datum> RealNegRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  return Datum::Double(-args[0].GetDouble());
}

absl::StatusOr<Datum> DecNegRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  return Datum::Dec(args[0].GetDecimal().Negate());
}

template <int kOp>
FuncImpl ArithImpl(EvalType et) {
  FuncImpl impl;
  switch (et) {
    case EvalType::kInt:
      impl.row = IntArithRow<kOp>;
      impl.vec = IntArithVec<kOp>;
      break;
    case EvalType::kDecimal:
      impl.row = DecArithRow<kOp>;
      impl.vec = DecArithVec<kOp>;
      break;
    default:
      impl.row = RealArithRow<kOp>;
      impl.vec = RealArithVec<kOp>;
      break;
  }
  return impl;
}

absl::StatusOr<ExprPtr> BuildArith(ArithOp op, const std::string& name, std::vector<ExprPtr> args) {
  FieldType rt = InferArithmetic(op, args[0]->type(), args[1]->type());
  EvalType ea = NumericContextEvalType(args[0]->type());
  EvalType eb = NumericContextEvalType(args[1]->type());
  EvalType et = rt.GetEvalType();
  FuncImpl impl;
  switch (op) {
    case ArithOp::kPlus:
      impl = ArithImpl<0>(et);
      break;
    case ArithOp::kMinus:
      impl = ArithImpl<1>(et);
      break;
    case ArithOp::kMul:
      impl = ArithImpl<2>(et);
      break;
    case ArithOp::kDiv:
      impl.row = et == EvalType::kDecimal ? DecDivRow : RealDivRow;
      break;
    case ArithOp::kIntDiv:
      et = (ea == EvalType::kInt && eb == EvalType::kInt) ? EvalType::kInt : EvalType::kDecimal;
      impl.row = et == EvalType::kInt ? IntDivRow : DecIntDivRow;
      break;
    case ArithOp::kMod:
      impl.row = et == EvalType::kInt       ? IntModRow
                 : et == EvalType::kDecimal ? DecModRow
                                            : RealModRow;
      break;
  }
  for (ExprPtr& a : args) a = WrapCast(std::move(a), et);
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl));
}

template <ArithOp kOp>
absl::StatusOr<ExprPtr> ArithBuilder(const std::string& name, std::vector<ExprPtr> args) {
  return BuildArith(kOp, name, std::move(args));
}

absl::StatusOr<ExprPtr> UnaryMinusBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FieldType rt = InferUnaryMinus(args[0]->type());
  EvalType et = rt.GetEvalType();
  FuncImpl impl;
  impl.row = et == EvalType::kInt ? IntNegRow : (et == EvalType::kDecimal ? DecNegRow : RealNegRow);
  args[0] = WrapCast(std::move(args[0]), et);
  return ExprPtr(std::make_unique<ScalarFunction>("unaryminus", std::move(args), rt, impl));
}

}  // namespace

void RegisterArithmetic(FunctionTable* t) {
  (*t)["plus"] = {2, 2, ArithBuilder<ArithOp::kPlus>};
  (*t)["minus"] = {2, 2, ArithBuilder<ArithOp::kMinus>};
  (*t)["mul"] = {2, 2, ArithBuilder<ArithOp::kMul>};
  (*t)["div"] = {2, 2, ArithBuilder<ArithOp::kDiv>};
  (*t)["intdiv"] = {2, 2, ArithBuilder<ArithOp::kIntDiv>};
  (*t)["mod"] = {2, 2, ArithBuilder<ArithOp::kMod>};
  (*t)["unaryminus"] = {1, 1, UnaryMinusBuilder};
}

}  // namespace rutile::sql::expr
