#include "sql/planner/ranger.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sql/codec/codec.h"
#include "sql/codec/tablecodec.h"
#include "sql/types/decimal.h"
#include "util/memcomparable.h"

namespace rutile::sql {

namespace {

constexpr double kEqualRate = 1.0 / 1000;
constexpr double kLessRate = 1.0 / 3;
constexpr double kBetweenRate = 1.0 / 40;
// Points (prefixes x values) a multi-column range may expand to.
constexpr size_t kMaxPoints = 1024;

const std::string kNull(1, static_cast<char>(codec::kNilFlag));
const std::string kNotNull(1, static_cast<char>(codec::kBytesFlag));  // Below every value.

IntervalSet All() { return {KeyInterval{"", "", true, false}}; }
IntervalSet NotNull() { return {KeyInterval{kNotNull, "", true, false}}; }
IntervalSet NullPoint() { return {KeyInterval{kNull, kNotNull, false, true}}; }

bool IsAll(const IntervalSet& s) { return s.size() == 1 && s[0].lo.empty() && s[0].hi_inf; }

// a.hi < b.hi with infinity.
bool HiLess(const KeyInterval& a, const KeyInterval& b) {
  if (a.hi_inf) return false;
  if (b.hi_inf) return true;
  return a.hi < b.hi;
}

// Whether `x` lies below interval a's upper bound.
bool BelowHi(const std::string& x, const KeyInterval& a) { return a.hi_inf || x < a.hi; }

bool SameInterval(const KeyInterval& a, const KeyInterval& b) {
  return a.lo == b.lo && a.hi_inf == b.hi_inf && (a.hi_inf || a.hi == b.hi);
}

IntervalSet Intersect(const IntervalSet& a, const IntervalSet& b) {
  IntervalSet out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    KeyInterval r;
    r.lo = std::max(a[i].lo, b[j].lo);
    const KeyInterval& lower_hi = HiLess(a[i], b[j]) ? a[i] : b[j];
    r.hi = lower_hi.hi;
    r.hi_inf = lower_hi.hi_inf;
    if (BelowHi(r.lo, r)) {
      r.point = (a[i].point && SameInterval(r, a[i])) || (b[j].point && SameInterval(r, b[j]));
      out.push_back(std::move(r));
    }
    if (HiLess(a[i], b[j])) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

IntervalSet Union(const IntervalSet& a, const IntervalSet& b) {
  IntervalSet all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end(),
            [](const KeyInterval& x, const KeyInterval& y) { return x.lo < y.lo; });
  IntervalSet out;
  for (KeyInterval& iv : all) {
    if (!out.empty()) {
      KeyInterval& last = out.back();
      if (SameInterval(last, iv)) {
        last.point = last.point && iv.point;
        continue;
      }
      if (BelowHi(iv.lo, last)) {  // Overlap: merge.
        if (HiLess(last, iv)) {
          last.hi = iv.hi;
          last.hi_inf = iv.hi_inf;
        }
        last.point = false;
        continue;
      }
    }
    out.push_back(std::move(iv));
  }
  return out;
}

std::string Enc(const Datum& d, Collation coll = Collation::kBinary) {
  std::string s;
  codec::EncodeKeyDatum(&s, d, coll);
  return s;
}

// The constant `v` in column type `ct`'s domain: the column values lo <= v <= hi that
// bracket it (equal when v is exactly a column value). False: no safe conversion.
bool ToColumnDomain(const Datum& v, const FieldType& ct, Datum* lo, Datum* hi, bool* exact) {
  const EvalType et = ct.GetEvalType();
  if (et == EvalType::kInt) {
    int64_t a = 0, b = 0;
    switch (v.kind()) {
      case DatumKind::kInt64:
        a = b = v.GetInt64();
        break;
      case DatumKind::kUint64:
        if (v.GetUint64() > static_cast<uint64_t>(INT64_MAX)) return false;
        a = b = static_cast<int64_t>(v.GetUint64());
        break;
      case DatumKind::kFloat32:
      case DatumKind::kFloat64: {
        const double d = v.GetDouble();
        if (!std::isfinite(d) || std::fabs(d) > 4e18) return false;
        a = static_cast<int64_t>(std::floor(d));
        b = static_cast<int64_t>(std::ceil(d));
        break;
      }
      case DatumKind::kDecimal: {
        int64_t r = 0;
        if (v.GetDecimal().ToInt64(&r) != DecimalStatus::kOk) return false;
        if (r == INT64_MIN || r == INT64_MAX) return false;
        const int c = v.GetDecimal().Compare(Decimal::FromInt64(r));
        a = c < 0 ? r - 1 : r;
        b = c > 0 ? r + 1 : r;
        break;
      }
      default:
        return false;
    }
    *lo = Datum::Int(a);
    *hi = Datum::Int(b);
    *exact = a == b;
    return true;
  }
  if (et == EvalType::kReal) {
    double d = 0;
    switch (v.kind()) {
      case DatumKind::kInt64:
        d = static_cast<double>(v.GetInt64());
        break;
      case DatumKind::kUint64:
        d = static_cast<double>(v.GetUint64());
        break;
      case DatumKind::kFloat32:
      case DatumKind::kFloat64:
        d = v.GetDouble();
        break;
      case DatumKind::kDecimal:
        d = v.GetDecimal().ToDouble();
        break;
      default:
        return false;
    }
    if (!std::isfinite(d)) return false;
    const double inf = std::numeric_limits<double>::infinity();
    double a = std::nextafter(d, -inf), b = std::nextafter(d, inf);
    if (ct.tp == TypeCode::kFloat) {
      const float f = static_cast<float>(d);
      if (std::isfinite(f)) {
        a = std::min(a, static_cast<double>(std::nextafterf(f, -INFINITY)));
        b = std::max(b, static_cast<double>(std::nextafterf(f, INFINITY)));
      }
    }
    *lo = Datum::Double(a);
    *hi = Datum::Double(b);
    *exact = false;
    return true;
  }
  return false;
}

// The column read by `e` directly or through an order-preserving numeric cast, or -1.
int ColumnOf(const expr::Expression& e) {
  if (auto* c = dynamic_cast<const expr::ColumnRef*>(&e)) return static_cast<int>(c->index());
  auto* f = dynamic_cast<const expr::ScalarFunction*>(&e);
  if (f == nullptr || f->name() != "cast" || f->num_args() != 1) return -1;
  auto* c = dynamic_cast<const expr::ColumnRef*>(&f->arg(0));
  if (c == nullptr) return -1;
  const EvalType from = c->type().GetEvalType();
  const EvalType to = f->type().GetEvalType();
  if (from == EvalType::kInt && !c->type().IsUnsigned() &&
      (to == EvalType::kDecimal || to == EvalType::kReal)) {
    return static_cast<int>(c->index());
  }
  return -1;
}

// The value of `e` when it is a constant, or a numeric constant cast to DOUBLE (the binder
// casts a DECIMAL or integer literal compared with a FLOAT / DOUBLE column: `col1 =
// 370.53` is `col1 = cast(370.53 as double)`), computed as the cast does; nullopt else.
std::optional<Datum> ConstantValue(const expr::Expression& e) {
  if (e.IsConstant()) return static_cast<const expr::Constant&>(e).value();
  auto* f = dynamic_cast<const expr::ScalarFunction*>(&e);
  if (f == nullptr || f->name() != "cast" || f->num_args() != 1 || !f->arg(0).IsConstant() ||
      f->type().GetEvalType() != EvalType::kReal) {
    return std::nullopt;
  }
  const Datum& v = static_cast<const expr::Constant&>(f->arg(0)).value();
  switch (v.kind()) {
    case DatumKind::kNull:
      return v;
    case DatumKind::kInt64:
      return Datum::Double(static_cast<double>(v.GetInt64()));
    case DatumKind::kUint64:
      return Datum::Double(static_cast<double>(v.GetUint64()));
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return Datum::Double(v.GetDouble());
    case DatumKind::kDecimal:
      return Datum::Double(v.GetDecimal().ToDouble());
    default:
      return std::nullopt;
  }
}

enum class Op { kEq, kLt, kLe, kGt, kGe, kNe, kNullEq };

IntervalSet Compare(Op op, const expr::Expression& value, const FieldType& ct) {
  const std::optional<Datum> cv = ConstantValue(value);
  if (!cv.has_value()) return All();
  const Datum& v = *cv;
  if (v.IsNull()) return op == Op::kNullEq ? NullPoint() : IntervalSet{};
  if (op == Op::kNe) return NotNull();
  if (op == Op::kNullEq) op = Op::kEq;
  if (ct.GetEvalType() == EvalType::kString) {
    // Equality only, in the column's own collation.
    if (op != Op::kEq || v.kind() != DatumKind::kString ||
        value.type().GetEvalType() != EvalType::kString || value.type().collation != ct.collation) {
      return All();
    }
    const std::string e = Enc(v, ct.collation);
    return {KeyInterval{e, codec::PrefixNext(e), false, true}};
  }
  Datum lo, hi;
  bool exact = false;
  if (!ToColumnDomain(v, ct, &lo, &hi, &exact)) return All();
  const std::string elo = Enc(lo), ehi = Enc(hi);
  if (!exact && ct.GetEvalType() == EvalType::kInt) {
    // v lies strictly between the adjacent integers lo and hi.
    switch (op) {
      case Op::kEq:
        return {};
      case Op::kLt:
      case Op::kLe:
        return {KeyInterval{kNotNull, codec::PrefixNext(elo), false, false}};
      case Op::kGt:
      case Op::kGe:
        return {KeyInterval{ehi, "", true, false}};
      default:
        return All();
    }
  }
  switch (op) {
    case Op::kEq:
      return {KeyInterval{elo, codec::PrefixNext(ehi), false, exact}};
    case Op::kLt:
      return {KeyInterval{kNotNull, exact ? elo : codec::PrefixNext(ehi), false, false}};
    case Op::kLe:
      return {KeyInterval{kNotNull, codec::PrefixNext(ehi), false, false}};
    case Op::kGt:
      return {KeyInterval{exact ? codec::PrefixNext(ehi) : elo, "", true, false}};
    case Op::kGe:
      return {KeyInterval{elo, "", true, false}};
    default:
      return All();
  }
}

Op Flip(Op op) {
  switch (op) {
    case Op::kLt:
      return Op::kGt;
    case Op::kLe:
      return Op::kGe;
    case Op::kGt:
      return Op::kLt;
    case Op::kGe:
      return Op::kLe;
    default:
      return op;
  }
}

// The rows of column `col` (type `ct`) that `e` may accept.
IntervalSet Eval(const expr::Expression& e, size_t col, const FieldType& ct, int depth) {
  auto* f = dynamic_cast<const expr::ScalarFunction*>(&e);
  if (f == nullptr || depth > 200) return All();
  const std::string& name = f->name();
  const size_t n = f->num_args();
  if ((name == "and" || name == "or") && n >= 1) {
    IntervalSet acc = Eval(f->arg(0), col, ct, depth + 1);
    for (size_t i = 1; i < n; ++i) {
      IntervalSet x = Eval(f->arg(i), col, ct, depth + 1);
      acc = name == "and" ? Intersect(acc, x) : Union(acc, x);
    }
    return acc;
  }
  static const std::pair<const char*, Op> kOps[] = {
      {"eq", Op::kEq}, {"lt", Op::kLt}, {"le", Op::kLe},        {"gt", Op::kGt},
      {"ge", Op::kGe}, {"ne", Op::kNe}, {"nulleq", Op::kNullEq}};
  for (const auto& [fname, op] : kOps) {
    if (name != fname || n != 2) continue;
    if (ColumnOf(f->arg(0)) == static_cast<int>(col)) return Compare(op, f->arg(1), ct);
    if (ColumnOf(f->arg(1)) == static_cast<int>(col)) return Compare(Flip(op), f->arg(0), ct);
    return All();
  }
  if (name == "in" && n >= 2 && ColumnOf(f->arg(0)) == static_cast<int>(col)) {
    IntervalSet acc;
    for (size_t i = 1; i < n; ++i) {
      if (!ConstantValue(f->arg(i)).has_value()) return All();
      acc = Union(acc, Compare(Op::kEq, f->arg(i), ct));
    }
    return acc;
  }
  if (name == "between" && n == 3 && ColumnOf(f->arg(0)) == static_cast<int>(col)) {
    return Intersect(Compare(Op::kGe, f->arg(1), ct), Compare(Op::kLe, f->arg(2), ct));
  }
  if (name == "isnull" && n == 1 && ColumnOf(f->arg(0)) == static_cast<int>(col)) {
    return NullPoint();
  }
  if (name == "isnotnull" && n == 1 && ColumnOf(f->arg(0)) == static_cast<int>(col)) {
    return NotNull();
  }
  if (name == "not" && n == 1) {
    auto* g = dynamic_cast<const expr::ScalarFunction*>(&f->arg(0));
    if (g != nullptr && g->name() == "isnull" && g->num_args() == 1 &&
        ColumnOf(g->arg(0)) == static_cast<int>(col)) {
      return NotNull();
    }
  }
  return All();
}

IntervalSet ColumnSet(const std::vector<const expr::Expression*>& conds, size_t col,
                      const FieldType& ct) {
  IntervalSet acc = All();
  for (const expr::Expression* c : conds) {
    acc = Intersect(acc, Eval(*c, col, ct, 0));
    if (acc.empty()) break;
  }
  return acc;
}

double IntervalSelectivity(const KeyInterval& iv) {
  if (iv.point) return kEqualRate;
  const bool has_lo = iv.lo > kNotNull;
  const bool has_hi = !iv.hi_inf;
  if (has_lo && has_hi) return kBetweenRate;
  if (has_lo || has_hi) return kLessRate;
  return 1;
}

}  // namespace

bool RangeableType(const FieldType& t) {
  switch (t.tp) {
    case TypeCode::kTiny:
    case TypeCode::kShort:
    case TypeCode::kInt24:
    case TypeCode::kLong:
    case TypeCode::kLongLong:
      return !t.IsUnsigned();
    case TypeCode::kFloat:
    case TypeCode::kDouble:
      return true;
    case TypeCode::kVarchar:
    case TypeCode::kVarString:
    case TypeCode::kString:
      return true;
    default:
      return false;
  }
}

std::optional<std::vector<KeyRange>> BuildIndexRanges(
    const std::vector<const expr::Expression*>& conds, const std::vector<size_t>& cols,
    const std::vector<FieldType>& types) {
  struct Prefix {
    std::string key;
    double sel = 1;
  };
  std::vector<Prefix> prefixes = {Prefix{}};
  size_t point_cols = 0;
  for (size_t k = 0; k < cols.size(); ++k) {
    if (!RangeableType(types[k])) break;
    IntervalSet set = ColumnSet(conds, cols[k], types[k]);
    if (set.empty()) return std::vector<KeyRange>{};
    if (IsAll(set)) break;
    bool all_points = true;
    for (const KeyInterval& iv : set) all_points = all_points && iv.point;
    if (all_points && prefixes.size() * set.size() <= kMaxPoints) {
      std::vector<Prefix> next;
      for (const Prefix& p : prefixes) {
        for (const KeyInterval& iv : set) next.push_back({p.key + iv.lo, p.sel * kEqualRate});
      }
      prefixes = std::move(next);
      ++point_cols;
      continue;
    }
    // The first non-point column closes the ranges.
    std::vector<KeyRange> out;
    for (const Prefix& p : prefixes) {
      for (const KeyInterval& iv : set) {
        KeyRange r;
        r.lo = p.key + iv.lo;
        if (iv.hi_inf) {
          r.hi = p.key.empty() ? std::string() : codec::PrefixNext(p.key);
        } else {
          r.hi = p.key + iv.hi;
        }
        r.pseudo_selectivity = p.sel * IntervalSelectivity(iv);
        out.push_back(std::move(r));
      }
    }
    return out;
  }
  if (point_cols == 0) return std::nullopt;
  std::vector<KeyRange> out;
  std::sort(prefixes.begin(), prefixes.end(),
            [](const Prefix& a, const Prefix& b) { return a.key < b.key; });
  for (const Prefix& p : prefixes) {
    KeyRange r;
    r.lo = p.key;
    r.hi = codec::PrefixNext(p.key);
    r.pseudo_selectivity = p.sel;
    r.full_point = point_cols == cols.size();
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::vector<std::pair<int64_t, int64_t>>> BuildHandleRanges(
    const std::vector<const expr::Expression*>& conds, size_t col) {
  const FieldType ct = FieldType::LongLong();
  IntervalSet set = ColumnSet(conds, col, ct);
  if (IsAll(set)) return std::nullopt;
  set = Intersect(set, NotNull());
  const std::string min_key = Enc(Datum::Int(INT64_MIN));
  const std::string max_key = Enc(Datum::Int(INT64_MAX));
  // A bound is an integer's key, or the PrefixNext of one (an exclusive upper bound, an
  // exclusive lower bound made inclusive), which drops trailing 0xFF bytes: the key of
  // 255 is 03 80..00 FF and its PrefixNext 03 80..01, which zero-filled to nine bytes is
  // the key of 256. Zero-filling keeps the bound's meaning for nine-byte keys (the
  // smallest key with that prefix), so every such bound decodes.
  auto decode = [](const std::string& k, int64_t* v) {
    if (k.empty() || k.size() > 9 || static_cast<uint8_t>(k[0]) != codec::kIntFlag) return false;
    std::string full = k;
    full.resize(9, '\0');
    std::string_view in(full);
    in.remove_prefix(1);
    auto r = memcomparable::DecodeInt64(&in);
    if (!r.ok()) return false;
    *v = *r;
    return true;
  };
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const KeyInterval& iv : set) {
    int64_t a = INT64_MIN, b = INT64_MAX;
    if (iv.lo > max_key) continue;
    if (iv.lo > min_key && !decode(iv.lo, &a)) return std::nullopt;
    if (!iv.hi_inf && iv.hi <= max_key) {
      if (iv.hi <= min_key) continue;
      int64_t h = 0;
      if (!decode(iv.hi, &h)) return std::nullopt;
      b = h - 1;
    }
    if (a <= b) out.push_back({a, b});
  }
  return out;
}

}  // namespace rutile::sql
