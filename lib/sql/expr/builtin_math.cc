// Math functions: ABS, CEIL, FLOOR, ROUND, TRUNCATE, POW, SQRT, SIGN, LN, LOG, EXP, PI,
// trigonometry, GREATEST, LEAST.

#include <cmath>

#include "absl/strings/str_cat.h"
#include "sql/expr/builtins.h"
#include "sql/types/compare.h"
#include "sql/types/convert.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

using i128 = __int128;

inline i128 IntOf(const Datum& d) {
  return d.kind() == DatumKind::kUint64 ? static_cast<i128>(d.GetUint64())
                                        : static_cast<i128>(d.GetInt64());
}

inline int64_t IntArg(const Datum& d) {
  if (d.kind() == DatumKind::kUint64) {
    uint64_t u = d.GetUint64();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  return d.GetInt64();
}

absl::StatusOr<Datum> IntResult(const ScalarFunction& fn, i128 r) {
  if (fn.type().IsUnsigned()) {
    if (r < 0 || r > static_cast<i128>(UINT64_MAX)) return OutOfRange("BIGINT UNSIGNED", fn);
    return Datum::Uint(static_cast<uint64_t>(r));
  }
  if (r < INT64_MIN || r > INT64_MAX) return OutOfRange("BIGINT", fn);
  return Datum::Int(static_cast<int64_t>(r));
}

// ---- ABS ----

absl::StatusOr<Datum> AbsRow(const ScalarFunction& fn, EvalContext* ctx,
                             std::span<const Datum> args) {
  const Datum& a = args[0];
  switch (a.kind()) {
    case DatumKind::kInt64:
    case DatumKind::kUint64: {
      i128 v = IntOf(a);
      return IntResult(fn, v < 0 ? -v : v);
    }
    case DatumKind::kDecimal:
      return Datum::Dec(a.GetDecimal().Abs());
    default:
      return Datum::Double(std::fabs(a.GetDouble()));
  }
}

absl::StatusOr<ExprPtr> AbsBuilder(const std::string& name, std::vector<ExprPtr> args) {
  const FieldType at = args[0]->type();
  EvalType et = NumericContextEvalType(at);
  FieldType rt;
  if (et == EvalType::kInt) {
    rt = FieldType::LongLong(at.IsInteger() && at.IsUnsigned());
  } else if (et == EvalType::kDecimal) {
    rt = FieldType::NewDecimal(IntegerDigits(at) + ScaleOf(at), ScaleOf(at));
  } else {
    rt = FieldType::Double();
  }
  args[0] = WrapCast(std::move(args[0]), et);
  FuncImpl impl;
  impl.row = AbsRow;
  return ExprPtr(std::make_unique<ScalarFunction>("abs", std::move(args), rt, impl));
}

// ---- CEIL / FLOOR ----

template <bool kCeil>
absl::StatusOr<Datum> CeilFloorRow(const ScalarFunction& fn, EvalContext* ctx,
                                   std::span<const Datum> args) {
  const Datum& a = args[0];
  switch (a.kind()) {
    case DatumKind::kInt64:
    case DatumKind::kUint64:
      return IntResult(fn, IntOf(a));
    case DatumKind::kDecimal: {
      Decimal r = a.GetDecimal().Round(0, kCeil ? RoundMode::kCeiling : RoundMode::kFloor);
      if (fn.type().GetEvalType() == EvalType::kInt) {
        int64_t i;
        if (r.ToInt64(&i) != DecimalStatus::kOk) return OutOfRange("BIGINT", fn);
        return Datum::Int(i);
      }
      return Datum::Dec(r);
    }
    default:
      return Datum::Double(kCeil ? std::ceil(a.GetDouble()) : std::floor(a.GetDouble()));
  }
}

template <bool kCeil>
absl::StatusOr<ExprPtr> CeilFloorBuilder(const std::string& name, std::vector<ExprPtr> args) {
  const FieldType at = args[0]->type();
  EvalType et = NumericContextEvalType(at);
  FieldType rt;
  if (et == EvalType::kInt) {
    rt = FieldType::LongLong(at.IsInteger() && at.IsUnsigned());
  } else if (et == EvalType::kDecimal) {
    int digits = IntegerDigits(at) + 1;
    rt = digits <= 18 ? FieldType::LongLong() : FieldType::NewDecimal(digits, 0);
  } else {
    rt = FieldType::Double();
  }
  args[0] = WrapCast(std::move(args[0]), et);
  FuncImpl impl;
  impl.row = CeilFloorRow<kCeil>;
  return ExprPtr(
      std::make_unique<ScalarFunction>(kCeil ? "ceil" : "floor", std::move(args), rt, impl));
}

// ---- ROUND / TRUNCATE ----

double PowerOf10(int64_t k) { return std::pow(10.0, static_cast<double>(k)); }

// MySQL's my_double_round: rint() (half to even) on the scaled value.
double RoundDouble(double v, int64_t dec, bool truncate) {
  // Beyond +-400 digits the scale factor is infinite or zero either way.
  dec = std::clamp<int64_t>(dec, -400, 400);
  bool neg_dec = dec < 0;
  int64_t abs_dec = neg_dec ? -dec : dec;
  double tmp = PowerOf10(abs_dec);
  double scaled = neg_dec ? v / tmp : v * tmp;
  if (neg_dec && std::isinf(tmp)) return 0.0;
  if (!neg_dec && std::isinf(scaled)) return v;
  double r;
  if (truncate) {
    r = scaled >= 0 ? std::floor(scaled) : std::ceil(scaled);
  } else {
    r = std::nearbyint(scaled);
  }
  return neg_dec ? r * tmp : r / tmp;
}

template <bool kTruncate>
absl::StatusOr<Datum> RoundRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  const Datum& a = args[0];
  int64_t d = args.size() > 1 ? IntArg(args[1]) : 0;
  switch (a.kind()) {
    case DatumKind::kInt64:
    case DatumKind::kUint64: {
      i128 v = IntOf(a);
      if (d >= 0) return IntResult(fn, v);
      if (d < -19) return IntResult(fn, 0);
      i128 unit = 1;
      for (int64_t i = 0; i < -d; ++i) unit *= 10;
      i128 m = v < 0 ? -v : v;
      i128 q = m / unit, rem = m % unit;
      if (!kTruncate && 2 * rem >= unit) ++q;
      i128 r = q * unit;
      return IntResult(fn, v < 0 ? -r : r);
    }
    case DatumKind::kDecimal: {
      int64_t dd = std::clamp<int64_t>(d, -100, kMaxDecimalScale);
      Decimal r = a.GetDecimal().Round(static_cast<int>(dd),
                                       kTruncate ? RoundMode::kTruncate : RoundMode::kHalfUp);
      if (fn.type().decimal >= 0 && r.scale() != fn.type().decimal) {
        Decimal fitted;
        if (r.Rescale(fn.type().decimal, &fitted) != DecimalStatus::kOverflow) r = fitted;
      }
      return Datum::Dec(r);
    }
    default:
      return Datum::Double(RoundDouble(a.GetDouble(), d, kTruncate));
  }
}

template <bool kTruncate>
absl::StatusOr<ExprPtr> RoundBuilder(const std::string& name, std::vector<ExprPtr> args) {
  const FieldType at = args[0]->type();
  EvalType et = NumericContextEvalType(at);
  // The result scale is known when the digits argument is a constant.
  bool const_digits = args.size() < 2 || args[1]->IsConstant();
  int64_t digits = 0;
  if (args.size() > 1 && args[1]->IsConstant()) {
    const Datum& v = static_cast<const Constant&>(*args[1]).value();
    EvalContext tmp;
    absl::StatusOr<Datum> iv = ToInt(&tmp, v, args[1]->type(), false);
    if (iv.ok() && !iv->IsNull()) digits = iv->GetInt64();
  }
  FieldType rt;
  if (et == EvalType::kInt) {
    rt = FieldType::LongLong(at.IsInteger() && at.IsUnsigned());
  } else if (et == EvalType::kDecimal) {
    int scale = const_digits ? static_cast<int>(std::clamp<int64_t>(digits, 0, kMaxDecimalScale))
                             : ScaleOf(at);
    rt =
        FieldType::NewDecimal(std::min(IntegerDigits(at) + 1 + scale, kMaxDecimalPrecision), scale);
  } else {
    rt = FieldType::Double();
    if (const_digits) rt.decimal = static_cast<int>(std::clamp<int64_t>(digits, 0, 30));
  }
  args[0] = WrapCast(std::move(args[0]), et);
  if (args.size() > 1) args[1] = WrapCast(std::move(args[1]), EvalType::kInt);
  FuncImpl impl;
  impl.row = RoundRow<kTruncate>;
  return ExprPtr(std::make_unique<ScalarFunction>(kTruncate ? "truncate" : "round", std::move(args),
                                                  rt, impl));
}

// ---- Real functions ----

enum RealFn {
  kPow,
  kSqrt,
  kLn,
  kLog,
  kLog2,
  kLog10,
  kExp,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kCot,
  kDegrees,
  kRadians,
};

absl::Status BadLog(EvalContext* ctx) {
  ctx->AppendWarning(kErInvalidArgumentForLogarithm, "Invalid argument for logarithm");
  return absl::OkStatus();
}

template <int kFn>
absl::StatusOr<Datum> RealRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  double x = args[0].GetDouble();
  double r = 0;
  switch (kFn) {
    case kPow:
      r = std::pow(x, args[1].GetDouble());
      break;
    case kSqrt:
      if (x < 0) return Datum();
      r = std::sqrt(x);
      break;
    case kLn:
    case kLog2:
    case kLog10:
      if (x <= 0) {
        if (absl::Status st = BadLog(ctx); !st.ok()) return st;
        return Datum();
      }
      r = kFn == kLn ? std::log(x) : (kFn == kLog2 ? std::log2(x) : std::log10(x));
      break;
    case kLog:
      if (args.size() == 1) {
        if (x <= 0) {
          if (absl::Status st = BadLog(ctx); !st.ok()) return st;
          return Datum();
        }
        r = std::log(x);
      } else {
        double y = args[1].GetDouble();
        if (x <= 0 || x == 1 || y <= 0) {
          if (absl::Status st = BadLog(ctx); !st.ok()) return st;
          return Datum();
        }
        r = std::log(y) / std::log(x);
      }
      break;
    case kExp:
      r = std::exp(x);
      break;
    case kSin:
      r = std::sin(x);
      break;
    case kCos:
      r = std::cos(x);
      break;
    case kTan:
      r = std::tan(x);
      break;
    case kAsin:
      if (x < -1 || x > 1) return Datum();
      r = std::asin(x);
      break;
    case kAcos:
      if (x < -1 || x > 1) return Datum();
      r = std::acos(x);
      break;
    case kAtan:
      r = args.size() > 1 ? std::atan2(x, args[1].GetDouble()) : std::atan(x);
      break;
    case kCot:
      if (std::tan(x) == 0) return OutOfRange("DOUBLE", fn);
      r = 1 / std::tan(x);
      break;
    case kDegrees:
      r = x * 180 / M_PI;
      break;
    case kRadians:
      r = x * M_PI / 180;
      break;
  }
  if (!std::isfinite(r)) return OutOfRange("DOUBLE", fn);
  return Datum::Double(r);
}

template <int kFn>
absl::StatusOr<ExprPtr> RealBuilder(const std::string& name, std::vector<ExprPtr> args) {
  for (ExprPtr& a : args) a = WrapCast(std::move(a), EvalType::kReal);
  FuncImpl impl;
  impl.row = RealRow<kFn>;
  return ExprPtr(
      std::make_unique<ScalarFunction>(name, std::move(args), FieldType::Double(), impl));
}

absl::StatusOr<Datum> PiRow(const ScalarFunction& fn, EvalContext* ctx,
                            std::span<const Datum> args) {
  return Datum::Double(M_PI);
}

absl::StatusOr<ExprPtr> PiBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncImpl impl;
  impl.row = PiRow;
  FieldType rt = FieldType::Double();
  rt.flen = 8;
  rt.decimal = 6;
  return ExprPtr(std::make_unique<ScalarFunction>("pi", std::move(args), rt, impl));
}

absl::StatusOr<Datum> SignRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  const Datum& a = args[0];
  int s = 0;
  switch (a.kind()) {
    case DatumKind::kInt64:
      s = a.GetInt64() > 0 ? 1 : (a.GetInt64() < 0 ? -1 : 0);
      break;
    case DatumKind::kUint64:
      s = a.GetUint64() > 0 ? 1 : 0;
      break;
    case DatumKind::kDecimal:
      s = a.GetDecimal().IsZero() ? 0 : (a.GetDecimal().IsNegative() ? -1 : 1);
      break;
    default:
      s = a.GetDouble() > 0 ? 1 : (a.GetDouble() < 0 ? -1 : 0);
      break;
  }
  return Datum::Int(s);
}

absl::StatusOr<ExprPtr> SignBuilder(const std::string& name, std::vector<ExprPtr> args) {
  args[0] = WrapCast(std::move(args[0]), NumericContextEvalType(args[0]->type()));
  FuncImpl impl;
  impl.row = SignRow;
  FieldType rt = FieldType::LongLong();
  rt.flen = 2;
  return ExprPtr(std::make_unique<ScalarFunction>("sign", std::move(args), rt, impl));
}

// ---- GREATEST / LEAST ----

template <bool kGreatest>
absl::StatusOr<Datum> GreatestRow(const ScalarFunction& fn, EvalContext* ctx,
                                  std::span<const Datum> args) {
  size_t best = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    int c = CompareAs(fn.aux().cmp_type, args[i], fn.arg(i).type(), args[best], fn.arg(best).type(),
                      fn.aux().collation);
    if (kGreatest ? c > 0 : c < 0) best = i;
  }
  Datum r = Canonicalize(args[best], fn.type());
  if (r.kind() == DatumKind::kDecimal && fn.type().decimal >= 0 &&
      r.GetDecimal().scale() != fn.type().decimal) {
    Decimal fitted;
    if (r.GetDecimal().Rescale(fn.type().decimal, &fitted) != DecimalStatus::kOverflow) {
      r = Datum::Dec(fitted);
    }
  }
  if (r.kind() == DatumKind::kTime) {
    Time t = r.GetTime();
    t.type = fn.type().tp == TypeCode::kDate ? TimeType::kDate : TimeType::kDatetime;
    r = Datum::FromTime(t);
  }
  return r;
}

template <bool kGreatest>
absl::StatusOr<ExprPtr> GreatestBuilder(const std::string& name, std::vector<ExprPtr> args) {
  std::vector<FieldType> types;
  for (const ExprPtr& a : args) types.push_back(a->type());
  FuncAux aux;
  aux.cmp_type = AggCmpEvalType(types);
  aux.collation = Collation::kUtf8mb4GeneralCi;
  bool set = false;
  for (const FieldType& t : types) {
    if (t.GetEvalType() != EvalType::kString || t.tp == TypeCode::kNull) continue;
    if (!set) {
      aux.collation = t.collation;
      set = true;
    } else {
      aux.collation = CmpCollation(FieldType::Varchar(0, aux.collation), t);
    }
  }
  FieldType rt = TypeForClass(aux.cmp_type, types);
  if (rt.GetEvalType() == EvalType::kDatetime && rt.tp != TypeCode::kDate)
    rt.decimal = std::max(rt.decimal, 0);
  for (ExprPtr& a : args) a = WrapCast(std::move(a), aux.cmp_type);
  FuncImpl impl;
  impl.row = GreatestRow<kGreatest>;
  return ExprPtr(std::make_unique<ScalarFunction>(kGreatest ? "greatest" : "least", std::move(args),
                                                  rt, impl, aux));
}

}  // namespace

void RegisterMath(FunctionTable* t) {
  (*t)["abs"] = {1, 1, AbsBuilder};
  (*t)["ceil"] = {1, 1, CeilFloorBuilder<true>};
  (*t)["ceiling"] = {1, 1, CeilFloorBuilder<true>};
  (*t)["floor"] = {1, 1, CeilFloorBuilder<false>};
  (*t)["round"] = {1, 2, RoundBuilder<false>};
  (*t)["truncate"] = {2, 2, RoundBuilder<true>};
  (*t)["pow"] = {2, 2, RealBuilder<kPow>};
  (*t)["power"] = {2, 2, RealBuilder<kPow>};
  (*t)["sqrt"] = {1, 1, RealBuilder<kSqrt>};
  (*t)["ln"] = {1, 1, RealBuilder<kLn>};
  (*t)["log"] = {1, 2, RealBuilder<kLog>};
  (*t)["log2"] = {1, 1, RealBuilder<kLog2>};
  (*t)["log10"] = {1, 1, RealBuilder<kLog10>};
  (*t)["exp"] = {1, 1, RealBuilder<kExp>};
  (*t)["sin"] = {1, 1, RealBuilder<kSin>};
  (*t)["cos"] = {1, 1, RealBuilder<kCos>};
  (*t)["tan"] = {1, 1, RealBuilder<kTan>};
  (*t)["asin"] = {1, 1, RealBuilder<kAsin>};
  (*t)["acos"] = {1, 1, RealBuilder<kAcos>};
  (*t)["atan"] = {1, 2, RealBuilder<kAtan>};
  (*t)["cot"] = {1, 1, RealBuilder<kCot>};
  (*t)["degrees"] = {1, 1, RealBuilder<kDegrees>};
  (*t)["radians"] = {1, 1, RealBuilder<kRadians>};
  (*t)["pi"] = {0, 0, PiBuilder};
  (*t)["sign"] = {1, 1, SignBuilder};
  (*t)["greatest"] = {2, -1, GreatestBuilder<true>};
  (*t)["least"] = {2, -1, GreatestBuilder<false>};
}

}  // namespace rutile::sql::expr
