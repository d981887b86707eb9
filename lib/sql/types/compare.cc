#include "sql/types/compare.h"

#include <cmath>

#include "sql/types/collation.h"
#include "sql/types/context.h"
#include "sql/types/convert.h"

namespace rutile::sql {
namespace {

template <typename T>
int Cmp3(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

bool IsNumberKind(DatumKind k) {
  return k == DatumKind::kInt64 || k == DatumKind::kUint64 || k == DatumKind::kFloat32 ||
         k == DatumKind::kFloat64 || k == DatumKind::kDecimal;
}

int CompareDoubles(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) {
    if (std::isnan(a) && std::isnan(b)) return 0;
    return std::isnan(a) ? -1 : 1;
  }
  return Cmp3(a, b);
}

double AsDouble(const Datum& d) {
  switch (d.kind()) {
    case DatumKind::kInt64:
      return static_cast<double>(d.GetInt64());
    case DatumKind::kUint64:
      return static_cast<double>(d.GetUint64());
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return d.GetDouble();
    case DatumKind::kDecimal:
      return d.GetDecimal().ToDouble();
    case DatumKind::kString: {
      EvalContext ctx;
      absl::StatusOr<double> v = StrToDouble(&ctx, d.GetString());
      return v.ok() ? *v : 0;
    }
    default:
      return 0;
  }
}

int CompareNumbers(const Datum& a, const Datum& b) {
  DatumKind ka = a.kind(), kb = b.kind();
  bool fa = ka == DatumKind::kFloat32 || ka == DatumKind::kFloat64;
  bool fb = kb == DatumKind::kFloat32 || kb == DatumKind::kFloat64;
  if (fa || fb) {
    // An integer against a double: long double holds every int64/uint64 exactly.
    if (ka == DatumKind::kInt64 && fb) return Cmp3<long double>(a.GetInt64(), b.GetDouble());
    if (kb == DatumKind::kInt64 && fa) return Cmp3<long double>(a.GetDouble(), b.GetInt64());
    if (ka == DatumKind::kUint64 && fb) return Cmp3<long double>(a.GetUint64(), b.GetDouble());
    if (kb == DatumKind::kUint64 && fa) return Cmp3<long double>(a.GetDouble(), b.GetUint64());
    return CompareDoubles(AsDouble(a), AsDouble(b));
  }
  if (ka == DatumKind::kDecimal || kb == DatumKind::kDecimal) {
    auto dec = [](const Datum& d) {
      if (d.kind() == DatumKind::kInt64) return Decimal::FromInt64(d.GetInt64());
      if (d.kind() == DatumKind::kUint64) return Decimal::FromUint64(d.GetUint64());
      return d.GetDecimal();
    };
    return dec(a).Compare(dec(b));
  }
  if (ka == DatumKind::kInt64 && kb == DatumKind::kInt64) return Cmp3(a.GetInt64(), b.GetInt64());
  if (ka == DatumKind::kUint64 && kb == DatumKind::kUint64) {
    return Cmp3(a.GetUint64(), b.GetUint64());
  }
  if (ka == DatumKind::kInt64) {
    if (a.GetInt64() < 0) return -1;
    return Cmp3(static_cast<uint64_t>(a.GetInt64()), b.GetUint64());
  }
  if (b.GetInt64() < 0) return 1;
  return Cmp3(a.GetUint64(), static_cast<uint64_t>(b.GetInt64()));
}

int KindRank(DatumKind k) {
  switch (k) {
    case DatumKind::kNull:
      return 0;
    case DatumKind::kMinNotNull:
      return 1;
    case DatumKind::kMaxValue:
      return 100;
    default:
      return 2;
  }
}

}  // namespace

int CompareDatum(const Datum& a, const Datum& b, Collation collation) {
  int ra = KindRank(a.kind()), rb = KindRank(b.kind());
  if (ra != 2 || rb != 2) return Cmp3(ra, rb);
  DatumKind ka = a.kind(), kb = b.kind();
  if (IsNumberKind(ka) && IsNumberKind(kb)) return CompareNumbers(a, b);
  if (ka == DatumKind::kString && kb == DatumKind::kString) {
    return CompareStrings(a.GetString(), b.GetString(), collation);
  }
  if ((ka == DatumKind::kString && IsNumberKind(kb)) ||
      (kb == DatumKind::kString && IsNumberKind(ka))) {
    return CompareDoubles(AsDouble(a), AsDouble(b));
  }
  if (ka == DatumKind::kTime && kb == DatumKind::kTime) return a.GetTime().Compare(b.GetTime());
  if (ka == DatumKind::kDuration && kb == DatumKind::kDuration) {
    return a.GetDuration().Compare(b.GetDuration());
  }
  if (ka == DatumKind::kTime && kb == DatumKind::kString) {
    absl::StatusOr<Time> t = ParseTime(b.GetString(), TimeType::kDatetime, -1);
    if (t.ok()) return a.GetTime().Compare(*t);
    return CompareStrings(a.ToString(), b.GetString(), collation);
  }
  if (ka == DatumKind::kString && kb == DatumKind::kTime) return -CompareDatum(b, a, collation);
  if (ka == DatumKind::kDuration && kb == DatumKind::kString) {
    absl::StatusOr<Duration> d = ParseDuration(b.GetString(), -1);
    if (d.ok()) return a.GetDuration().Compare(*d);
    return CompareStrings(a.ToString(), b.GetString(), collation);
  }
  if (ka == DatumKind::kString && kb == DatumKind::kDuration) return -CompareDatum(b, a, collation);
  if ((ka == DatumKind::kTime || ka == DatumKind::kDuration) && IsNumberKind(kb)) {
    EvalContext ctx;
    absl::StatusOr<Datum> d = ToDecimal(&ctx, a, FieldType());
    return d.ok() ? CompareNumbers(*d, b) : -1;
  }
  if ((kb == DatumKind::kTime || kb == DatumKind::kDuration) && IsNumberKind(ka)) {
    return -CompareDatum(b, a, collation);
  }
  return Cmp3(static_cast<int>(ka), static_cast<int>(kb));
}

EvalType CmpEvalType(const FieldType& a, const FieldType& b) {
  if (a.tp == TypeCode::kNull && b.tp == TypeCode::kNull) return EvalType::kString;
  if (a.tp == TypeCode::kNull) return CmpEvalType(b, b);
  if (b.tp == TypeCode::kNull) return CmpEvalType(a, a);
  EvalType ea = a.GetEvalType(), eb = b.GetEvalType();
  if (ea == EvalType::kJson) ea = EvalType::kString;
  if (eb == EvalType::kJson) eb = EvalType::kString;
  if (ea == EvalType::kString && eb == EvalType::kString) return EvalType::kString;
  if (ea == EvalType::kInt && eb == EvalType::kInt) return EvalType::kInt;
  if (ea == EvalType::kDatetime &&
      (eb == EvalType::kDatetime || eb == EvalType::kString || eb == EvalType::kDuration)) {
    return EvalType::kDatetime;
  }
  if (eb == EvalType::kDatetime && (ea == EvalType::kString || ea == EvalType::kDuration)) {
    return EvalType::kDatetime;
  }
  if (ea == EvalType::kDuration && (eb == EvalType::kDuration || eb == EvalType::kString)) {
    return EvalType::kDuration;
  }
  if (eb == EvalType::kDuration && ea == EvalType::kString) return EvalType::kDuration;
  bool ta = ea == EvalType::kDatetime || ea == EvalType::kDuration;
  bool tb = eb == EvalType::kDatetime || eb == EvalType::kDuration;
  if (ta || tb) {
    EvalType other = ta ? eb : ea;
    if (other == EvalType::kInt || other == EvalType::kDecimal) return EvalType::kDecimal;
    return EvalType::kReal;
  }
  if ((ea == EvalType::kInt || ea == EvalType::kDecimal) &&
      (eb == EvalType::kInt || eb == EvalType::kDecimal)) {
    return EvalType::kDecimal;
  }
  return EvalType::kReal;
}

EvalType AggCmpEvalType(std::span<const FieldType> types) {
  if (types.empty()) return EvalType::kString;
  FieldType acc = types[0];
  EvalType et = CmpEvalType(acc, acc);
  bool all_null = acc.tp == TypeCode::kNull;
  for (size_t i = 1; i < types.size(); ++i) {
    if (types[i].tp == TypeCode::kNull) continue;
    if (all_null) {
      acc = types[i];
      et = CmpEvalType(acc, acc);
      all_null = false;
      continue;
    }
    // Fold pairwise: compare the running class against the next operand's type.
    FieldType proxy;
    switch (et) {
      case EvalType::kInt:
        proxy = FieldType::LongLong();
        break;
      case EvalType::kReal:
        proxy = FieldType::Double();
        break;
      case EvalType::kDecimal:
        proxy = FieldType::NewDecimal(65, 30);
        break;
      case EvalType::kString:
      case EvalType::kJson:
        proxy = FieldType::Varchar(0);
        break;
      case EvalType::kDatetime:
        proxy = FieldType::Datetime();
        break;
      case EvalType::kDuration:
        proxy = FieldType::Duration();
        break;
    }
    et = CmpEvalType(proxy, types[i]);
  }
  return et;
}

Collation CmpCollation(const FieldType& a, const FieldType& b) {
  bool sa = a.GetEvalType() == EvalType::kString && a.tp != TypeCode::kNull;
  bool sb = b.GetEvalType() == EvalType::kString && b.tp != TypeCode::kNull;
  if (!sa && !sb) return Collation::kBinary;
  if (!sa) return b.collation;
  if (!sb) return a.collation;
  if (a.collation == Collation::kBinary || b.collation == Collation::kBinary) {
    return Collation::kBinary;
  }
  if (a.collation == Collation::kUtf8mb4Bin || b.collation == Collation::kUtf8mb4Bin) {
    return Collation::kUtf8mb4Bin;
  }
  return Collation::kUtf8mb4GeneralCi;
}

}  // namespace rutile::sql
