#include "sql/types/infer.h"

#include <algorithm>
#include <string>
#include <vector>

namespace rutile::sql {

EvalType NumericContextEvalType(const FieldType& ft) {
  EvalType et = ft.GetEvalType();
  if (et == EvalType::kDatetime || et == EvalType::kDuration) {
    return ft.decimal > 0 ? EvalType::kDecimal : EvalType::kInt;
  }
  if (ft.tp == TypeCode::kNull) return EvalType::kReal;
  if (et == EvalType::kInt || et == EvalType::kDecimal) return et;
  return EvalType::kReal;
}

int IntegerDigits(const FieldType& ft) {
  switch (ft.GetEvalType()) {
    case EvalType::kInt:
      return ft.flen > 0 ? ft.flen : 20;
    case EvalType::kDecimal: {
      int flen = ft.flen > 0 ? ft.flen : kMaxDecimalPrecision;
      int scale = ft.decimal > 0 ? ft.decimal : 0;
      return std::max(flen - scale, 1);
    }
    case EvalType::kDatetime:
      return ft.tp == TypeCode::kDate ? 8 : 14;
    case EvalType::kDuration:
      return 7;
    default:
      return kMaxDecimalPrecision - kMaxDecimalScale;
  }
}

int ScaleOf(const FieldType& ft) {
  switch (ft.GetEvalType()) {
    case EvalType::kInt:
      return 0;
    case EvalType::kDecimal:
    case EvalType::kDatetime:
    case EvalType::kDuration:
      return ft.decimal > 0 ? std::min(ft.decimal, kMaxDecimalScale) : 0;
    default:
      return ft.decimal >= 0 && ft.decimal <= kMaxDecimalScale ? ft.decimal : kMaxDecimalScale;
  }
}

FieldType InferArithmetic(ArithOp op, const FieldType& a, const FieldType& b) {
  EvalType ea = NumericContextEvalType(a), eb = NumericContextEvalType(b);
  bool is_unsigned = a.IsUnsigned() || b.IsUnsigned();
  if (op == ArithOp::kIntDiv) {
    return FieldType::LongLong(is_unsigned && ea == EvalType::kInt && eb == EvalType::kInt
                                   ? true
                                   : (a.IsUnsigned() || b.IsUnsigned()));
  }
  if (op == ArithOp::kMod) is_unsigned = a.IsUnsigned();
  if (ea == EvalType::kReal || eb == EvalType::kReal) {
    FieldType ft = FieldType::Double();
    if (a.decimal >= 0 && a.decimal <= kMaxDecimalScale && b.decimal >= 0 &&
        b.decimal <= kMaxDecimalScale && a.GetEvalType() != EvalType::kString &&
        b.GetEvalType() != EvalType::kString && a.tp != TypeCode::kNull &&
        b.tp != TypeCode::kNull && op != ArithOp::kDiv) {
      ft.decimal = op == ArithOp::kMul ? std::min(a.decimal + b.decimal, kMaxDecimalScale)
                                       : std::max(a.decimal, b.decimal);
      ft.flen = 22;
    }
    return ft;
  }
  if (op == ArithOp::kDiv || ea == EvalType::kDecimal || eb == EvalType::kDecimal) {
    int ia = IntegerDigits(a), ib = IntegerDigits(b);
    int sa = ScaleOf(a), sb = ScaleOf(b);
    int scale = 0, prec = 0;
    switch (op) {
      case ArithOp::kPlus:
      case ArithOp::kMinus:
        scale = std::max(sa, sb);
        prec = std::max(ia, ib) + 1 + scale;
        break;
      case ArithOp::kMul:
        scale = std::min(sa + sb, kMaxDecimalScale);
        prec = ia + ib + scale;
        break;
      case ArithOp::kDiv:
        scale = std::min(sa + kDivPrecisionIncrement, kMaxDecimalScale);
        prec = ia + sb + scale;
        break;
      case ArithOp::kMod:
        scale = std::max(sa, sb);
        prec = std::max(ia, ib) + scale;
        break;
      case ArithOp::kIntDiv:
        break;
    }
    FieldType ft = FieldType::NewDecimal(std::min(prec, kMaxDecimalPrecision), scale);
    if (is_unsigned && op != ArithOp::kMinus) ft.flag |= kUnsignedFlag;
    return ft;
  }
  FieldType ft = FieldType::LongLong(is_unsigned);
  return ft;
}

FieldType InferUnaryMinus(const FieldType& a) {
  switch (NumericContextEvalType(a)) {
    case EvalType::kInt: {
      FieldType ft = FieldType::LongLong(false);
      return ft;
    }
    case EvalType::kDecimal: {
      FieldType ft = FieldType::NewDecimal(IntegerDigits(a) + ScaleOf(a), ScaleOf(a));
      return ft;
    }
    default:
      return FieldType::Double();
  }
}

FieldType UnifyTypes(std::span<const FieldType> types) {
  std::vector<FieldType> ts;
  for (const FieldType& t : types) {
    if (t.tp != TypeCode::kNull) ts.push_back(t);
  }
  if (ts.empty()) return FieldType::Null();
  bool all_int = true, all_unsigned = true, any_string = false, any_real = false;
  bool all_temporal = true, all_date = true, all_duration = true, any_decimal = false;
  int max_flen = 0, max_fsp = 0, max_int = 0, max_scale = 0;
  Collation coll = Collation::kUtf8mb4GeneralCi;
  bool coll_set = false;
  for (const FieldType& t : ts) {
    EvalType et = t.GetEvalType();
    if (et != EvalType::kInt) all_int = false;
    if (!t.IsUnsigned()) all_unsigned = false;
    if (et == EvalType::kString || et == EvalType::kJson) {
      any_string = true;
      if (!coll_set) {
        coll = t.collation;
        coll_set = true;
      } else if (t.collation == Collation::kBinary || coll == Collation::kBinary) {
        coll = Collation::kBinary;
      } else if (t.collation == Collation::kUtf8mb4Bin) {
        coll = Collation::kUtf8mb4Bin;
      }
    }
    if (et == EvalType::kReal) any_real = true;
    if (et == EvalType::kDecimal) any_decimal = true;
    bool temporal = et == EvalType::kDatetime || et == EvalType::kDuration;
    if (!temporal) all_temporal = false;
    if (t.tp != TypeCode::kDate) all_date = false;
    if (et != EvalType::kDuration) all_duration = false;
    if (temporal && t.decimal > max_fsp) max_fsp = t.decimal;
    max_flen = std::max(max_flen, t.flen > 0 ? t.flen : 0);
    if (et == EvalType::kInt || et == EvalType::kDecimal) {
      max_int = std::max(max_int, IntegerDigits(t));
      max_scale = std::max(max_scale, ScaleOf(t));
    }
  }
  if (all_int) {
    FieldType ft = FieldType::LongLong(all_unsigned);
    ft.flen = std::max(max_flen, 1);
    return ft;
  }
  if (all_temporal) {
    if (all_date) return FieldType::Date();
    if (all_duration) return FieldType::Duration(max_fsp);
    return FieldType::Datetime(max_fsp);
  }
  bool any_temporal = false;
  for (const FieldType& t : ts) any_temporal |= t.IsTemporal();
  if (any_string || any_temporal) {
    FieldType ft = FieldType::Varchar(std::max(max_flen, 1), coll_set ? coll : kDefaultCollation);
    return ft;
  }
  if (any_real) return FieldType::Double();
  (void)any_decimal;
  FieldType ft =
      FieldType::NewDecimal(std::min(max_int + max_scale, kMaxDecimalPrecision), max_scale);
  if (all_unsigned) ft.flag |= kUnsignedFlag;
  return ft;
}

FieldType InferCount() {
  FieldType ft = FieldType::LongLong();
  ft.flen = 21;
  ft.flag |= kNotNullFlag;
  return ft;
}

FieldType InferSum(const FieldType& arg) {
  EvalType et = arg.GetEvalType();
  if (et == EvalType::kInt || et == EvalType::kDecimal) {
    int scale = ScaleOf(arg);
    return FieldType::NewDecimal(std::min(IntegerDigits(arg) + scale + 22, kMaxDecimalPrecision),
                                 scale);
  }
  return FieldType::Double();
}

FieldType InferAvg(const FieldType& arg) {
  EvalType et = arg.GetEvalType();
  if (et == EvalType::kInt || et == EvalType::kDecimal) {
    int scale = std::min(ScaleOf(arg) + kDivPrecisionIncrement, kMaxDecimalScale);
    return FieldType::NewDecimal(
        std::min(IntegerDigits(arg) + scale + kDivPrecisionIncrement, kMaxDecimalPrecision), scale);
  }
  return FieldType::Double();
}

FieldType InferMinMax(const FieldType& arg) {
  FieldType ft = arg;
  ft.flag &= ~(kNotNullFlag | kPriKeyFlag | kUniqueKeyFlag | kMultipleKeyFlag | kAutoIncrementFlag);
  return ft;
}

FieldType InferGroupConcat(const FieldType& arg) {
  Collation c = arg.GetEvalType() == EvalType::kString ? arg.collation : kDefaultCollation;
  FieldType ft = FieldType::Varchar(1024, c);
  if (c == Collation::kBinary) ft = FieldType::Blob(Collation::kBinary);
  return ft;
}

FieldType LiteralIntType(int64_t v) {
  FieldType ft = FieldType::LongLong();
  std::string s = std::to_string(v);
  ft.flen = static_cast<int>(s.size());
  return ft;
}

FieldType LiteralUintType(uint64_t v) {
  FieldType ft = FieldType::LongLong(true);
  ft.flen = static_cast<int>(std::to_string(v).size());
  return ft;
}

FieldType LiteralDecimalType(int precision, int scale) {
  return FieldType::NewDecimal(precision, scale);
}

FieldType LiteralStringType(size_t chars, Collation collation) {
  return FieldType::Varchar(static_cast<int>(chars), collation);
}

}  // namespace rutile::sql
