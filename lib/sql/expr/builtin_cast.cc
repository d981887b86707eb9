// CAST and the implicit conversions functions insert around their arguments.

#include <cmath>

#include "sql/expr/builtins.h"
#include "sql/types/convert.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

absl::StatusOr<Datum> CastRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  return CastDatum(ctx, args[0], fn.arg(0).type(), fn.type());
}

// Int to real/decimal need no context and are common: typed loops.
// Performance-critical path.
absl::Status CastVec(const ScalarFunction& fn, EvalContext* ctx, std::span<const Column> args,
                     size_t n, Column* out) {
  const Column& in = args[0];
  const FieldType& from = fn.arg(0).type();
  const FieldType& to = fn.type();
  EvalType fe = from.GetEvalType(), te = to.GetEvalType();
  if (from.tp != TypeCode::kNull && fe == EvalType::kInt && te == EvalType::kReal &&
      to.tp == TypeCode::kDouble && to.decimal < 0) {
    out->ResizeFixed(n);
    double* o = out->Float64Data();
    if (from.IsUnsigned()) {
      const uint64_t* v = in.Uint64Data();
      for (size_t k = 0; k < n; ++k) o[k] = static_cast<double>(v[k]);
    } else {
      const int64_t* v = in.Int64Data();
      for (size_t k = 0; k < n; ++k) o[k] = static_cast<double>(v[k]);
    }
    out->MergeNulls(in);
    return absl::OkStatus();
  }
  if (from.tp != TypeCode::kNull && fe == EvalType::kInt && te == EvalType::kInt &&
      to.tp == TypeCode::kLongLong) {
    out->ResizeFixed(n);
    if (from.IsUnsigned() == to.IsUnsigned()) {
      for (size_t k = 0; k < n; ++k) {
        if (to.IsUnsigned()) {
          out->Uint64Data()[k] = in.GetUint64(k);
        } else {
          out->Int64Data()[k] = in.GetInt64(k);
        }
      }
    } else if (to.IsUnsigned()) {
      for (size_t k = 0; k < n; ++k) out->Uint64Data()[k] = static_cast<uint64_t>(in.GetInt64(k));
    } else {
      for (size_t k = 0; k < n; ++k) out->Int64Data()[k] = static_cast<int64_t>(in.GetUint64(k));
    }
    out->MergeNulls(in);
    return absl::OkStatus();
  }
  // General case: the row kernel per value.
  for (size_t k = 0; k < n; ++k) {
    if (in.IsNull(k)) {
      out->AppendNull();
      continue;
    }
    absl::StatusOr<Datum> r = CastDatum(ctx, in.GetDatum(k, from), from, to);
    if (!r.ok()) return r.status();
    if (absl::Status st = AppendResult(out, *r); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

ExprPtr MakeCast(ExprPtr e, const FieldType& target) {
  std::vector<ExprPtr> args;
  args.push_back(std::move(e));
  FuncImpl impl;
  impl.row = CastRow;
  impl.vec = CastVec;
  return std::make_unique<ScalarFunction>("cast", std::move(args), target, impl);
}

ExprPtr MakeImplicitCast(ExprPtr e, const FieldType& target) {
  std::vector<ExprPtr> args;
  args.push_back(std::move(e));
  FuncImpl impl;
  impl.row = CastRow;
  impl.vec = CastVec;
  FuncAux aux;
  aux.implicit_cast = true;
  return std::make_unique<ScalarFunction>("cast", std::move(args), target, impl, aux);
}

FieldType ImplicitTarget(EvalType et, const FieldType& from) {
  switch (et) {
    case EvalType::kInt:
      return FieldType::LongLong(from.IsInteger() && from.IsUnsigned());
    case EvalType::kReal:
      return FieldType::Double();
    case EvalType::kDecimal: {
      EvalType fe = from.GetEvalType();
      if (fe == EvalType::kInt) return FieldType::NewDecimal(IntegerDigits(from), 0);
      if (fe == EvalType::kDatetime || fe == EvalType::kDuration) {
        int fsp = from.decimal > 0 ? from.decimal : 0;
        return FieldType::NewDecimal(IntegerDigits(from) + fsp, fsp);
      }
      FieldType ft;
      ft.tp = TypeCode::kNewDecimal;
      ft.flen = kUnspecifiedLength;
      ft.decimal = kUnspecifiedLength;
      return ft;
    }
    case EvalType::kString:
    case EvalType::kJson: {
      FieldType ft =
          FieldType::Varchar(from.flen > 0 ? std::max(from.flen, 64) : 64, kDefaultCollation);
      ft.flen = kUnspecifiedLength;
      return ft;
    }
    case EvalType::kDatetime: {
      FieldType ft = FieldType::Datetime(0);
      ft.decimal = from.IsTemporal() && from.decimal >= 0 ? from.decimal : kUnspecifiedLength;
      return ft;
    }
    case EvalType::kDuration: {
      FieldType ft = FieldType::Duration(0);
      ft.decimal = from.IsTemporal() && from.decimal >= 0 ? from.decimal : kUnspecifiedLength;
      return ft;
    }
  }
  return FieldType::Double();
}

ExprPtr WrapCast(ExprPtr e, EvalType target) {
  const FieldType& ft = e->type();
  EvalType et = ft.GetEvalType();
  if (ft.tp != TypeCode::kNull &&
      (et == target || (et == EvalType::kJson && target == EvalType::kString))) {
    return e;
  }
  FieldType to = ImplicitTarget(target, ft);
  return MakeImplicitCast(std::move(e), to);
}

FieldType TypeForClass(EvalType et, std::span<const FieldType> types) {
  FieldType unified = UnifyTypes(types);
  if (unified.tp != TypeCode::kNull && unified.GetEvalType() == et) return unified;
  switch (et) {
    case EvalType::kInt: {
      bool all_unsigned = !types.empty();
      for (const FieldType& t : types) {
        if (t.tp != TypeCode::kNull && !(t.IsInteger() && t.IsUnsigned())) all_unsigned = false;
      }
      return FieldType::LongLong(all_unsigned);
    }
    case EvalType::kReal:
      return FieldType::Double();
    case EvalType::kDecimal: {
      int ints = 1, scale = 0;
      for (const FieldType& t : types) {
        if (t.tp == TypeCode::kNull) continue;
        ints = std::max(ints, IntegerDigits(t));
        scale = std::max(scale, std::min(ScaleOf(t), kMaxDecimalScale));
      }
      return FieldType::NewDecimal(std::min(ints + scale, kMaxDecimalPrecision), scale);
    }
    case EvalType::kString:
    case EvalType::kJson:
      return FieldType::Varchar(unified.flen > 0 ? unified.flen : 255,
                                unified.IsString() ? unified.collation : kDefaultCollation);
    case EvalType::kDatetime:
      return FieldType::Datetime(unified.decimal > 0 ? unified.decimal : 0);
    case EvalType::kDuration:
      return FieldType::Duration(unified.decimal > 0 ? unified.decimal : 0);
  }
  return FieldType::Double();
}

bool DatumTruth(const Datum& d) {
  switch (d.kind()) {
    case DatumKind::kInt64:
      return d.GetInt64() != 0;
    case DatumKind::kUint64:
      return d.GetUint64() != 0;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return d.GetDouble() != 0;
    case DatumKind::kDecimal:
      return !d.GetDecimal().IsZero();
    case DatumKind::kTime:
      return !d.GetTime().IsZero();
    case DatumKind::kDuration:
      return d.GetDuration().micros != 0;
    case DatumKind::kString:
      return !d.GetString().empty();
    default:
      return false;
  }
}

}  // namespace rutile::sql::expr
