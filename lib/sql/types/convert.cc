#include "sql/types/convert.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/types/collation.h"

namespace rutile::sql {
namespace {

constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool OnlySpaces(std::string_view s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

// Length of the longest prefix of s that reads as a float ("" when none).
size_t FloatPrefix(std::string_view s, size_t start) {
  size_t i = start;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
    ++i;
    ++digits;
  }
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    size_t frac = 0;
    while (j < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) {
      ++j;
      ++frac;
    }
    if (digits + frac > 0) {
      i = j;
      digits += frac;
    }
  }
  if (digits == 0) return start;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) {
      while (j < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) ++j;
      i = j;
    }
  }
  return i;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

absl::Status Truncated(EvalContext* ctx, std::string_view what, std::string_view s) {
  return ctx->HandleTruncate(
      kErTruncatedWrongValue,
      absl::StrCat("Truncated incorrect ", std::string(what), " value: ", Quote(s)));
}

double DoubleOf(const Datum& v) {
  switch (v.kind()) {
    case DatumKind::kInt64:
      return static_cast<double>(v.GetInt64());
    case DatumKind::kUint64:
      return static_cast<double>(v.GetUint64());
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return v.GetDouble();
    case DatumKind::kDecimal:
      return v.GetDecimal().ToDouble();
    default:
      return 0;
  }
}

Decimal TimeToDecimal(const Time& t) {
  Decimal d = Decimal::FromInt64(t.ToNumber());
  if (t.type != TimeType::kDate && t.fsp > 0) {
    Decimal frac;
    Decimal::Parse(
        absl::StrCat("0.", std::string(6 - std::to_string(t.micro).size(), '0'), t.micro), &frac);
    Decimal sum;
    Decimal::Add(d, frac, &sum);
    d = sum.Round(t.fsp);
  }
  return d;
}

Decimal DurationToDecimal(const Duration& dur) {
  int64_t abs = dur.micros < 0 ? -dur.micros : dur.micros;
  Decimal d = Decimal::FromInt64(dur.ToNumber() < 0 ? -dur.ToNumber() : dur.ToNumber());
  if (dur.fsp > 0) {
    Decimal frac;
    int64_t micro = abs % 1000000;
    Decimal::Parse(absl::StrCat("0.", std::string(6 - std::to_string(micro).size(), '0'), micro),
                   &frac);
    Decimal sum;
    Decimal::Add(d, frac, &sum);
    d = sum.Round(dur.fsp);
  }
  return dur.micros < 0 ? d.Negate() : d;
}

}  // namespace

double RoundHalfEven(double v) { return std::nearbyint(v); }

absl::StatusOr<int64_t> StrToInt64(EvalContext* ctx, std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    ++i;
  }
  size_t start = i;
  uint64_t mag = 0;
  bool overflow = false;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (mag > (UINT64_MAX - d) / 10) {
      overflow = true;
    } else {
      mag = mag * 10 + d;
    }
    ++i;
  }
  int64_t out;
  if (neg) {
    if (overflow || mag > 9223372036854775808ULL) {
      overflow = true;
      out = INT64_MIN;
    } else {
      out = static_cast<int64_t>(~mag + 1);
    }
  } else {
    if (overflow || mag > static_cast<uint64_t>(INT64_MAX)) {
      overflow = true;
      out = INT64_MAX;
    } else {
      out = static_cast<int64_t>(mag);
    }
  }
  if (i == start || overflow || !OnlySpaces(s.substr(i))) {
    absl::Status st = Truncated(ctx, "INTEGER", s);
    if (!st.ok()) return st;
  }
  return out;
}

absl::StatusOr<uint64_t> StrToUint64(EvalContext* ctx, std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  if (i < s.size() && s[i] == '-') {
    absl::StatusOr<int64_t> v = StrToInt64(ctx, s);
    if (!v.ok()) return v.status();
    if (*v < 0) {
      absl::Status st = ctx->HandleTruncate(
          kErTruncatedWrongValue,
          absl::StrCat("Cast to unsigned converted negative integer to it's positive complement"));
      if (!st.ok()) return st;
    }
    return static_cast<uint64_t>(*v);
  }
  if (i < s.size() && s[i] == '+') ++i;
  size_t start = i;
  uint64_t mag = 0;
  bool overflow = false;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (mag > (UINT64_MAX - d) / 10) {
      overflow = true;
      mag = UINT64_MAX;
    } else if (!overflow) {
      mag = mag * 10 + d;
    }
    ++i;
  }
  if (i == start || overflow || !OnlySpaces(s.substr(i))) {
    absl::Status st = Truncated(ctx, "INTEGER", s);
    if (!st.ok()) return st;
  }
  return mag;
}

absl::StatusOr<double> StrToDouble(EvalContext* ctx, std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  size_t end = FloatPrefix(s, i);
  double v = 0;
  bool bad = end == i;
  if (!bad) {
    std::string prefix(s.substr(i, end - i));
    errno = 0;
    v = std::strtod(prefix.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(v)) {
      v = v < 0 ? -DBL_MAX : DBL_MAX;
      bad = true;
    }
  }
  if (bad || !OnlySpaces(s.substr(end))) {
    absl::Status st = Truncated(ctx, "DOUBLE", s);
    if (!st.ok()) return st;
  }
  return v;
}

absl::StatusOr<Decimal> StrToDecimal(EvalContext* ctx, std::string_view s) {
  Decimal d;
  size_t consumed = 0;
  DecimalStatus st = Decimal::Parse(s, &d, &consumed);
  if (st == DecimalStatus::kBadNumber || st == DecimalStatus::kOverflow ||
      !OnlySpaces(s.substr(consumed))) {
    absl::Status err = Truncated(ctx, "DECIMAL", s);
    if (!err.ok()) return err;
  }
  return d;
}

absl::StatusOr<int64_t> DoubleToInt64(EvalContext* ctx, double v) {
  double r = RoundHalfEven(v);
  if (std::isnan(r) || r >= kTwo63 || r < -kTwo63) {
    absl::Status st = Truncated(ctx, "INTEGER", FormatDouble(v));
    if (!st.ok()) return st;
    if (std::isnan(r)) return 0;
    return r > 0 ? INT64_MAX : INT64_MIN;
  }
  return static_cast<int64_t>(r);
}

absl::StatusOr<uint64_t> DoubleToUint64(EvalContext* ctx, double v) {
  double r = RoundHalfEven(v);
  if (std::isnan(r) || r >= kTwo64 || r < -kTwo63) {
    absl::Status st = Truncated(ctx, "INTEGER", FormatDouble(v));
    if (!st.ok()) return st;
    if (std::isnan(r) || r < 0) return 0;
    return UINT64_MAX;
  }
  if (r < 0) {
    absl::Status st = Truncated(ctx, "INTEGER", FormatDouble(v));
    if (!st.ok()) return st;
    return static_cast<uint64_t>(static_cast<int64_t>(r));
  }
  return static_cast<uint64_t>(r);
}

absl::StatusOr<int64_t> DecimalToInt64(EvalContext* ctx, const Decimal& v) {
  int64_t out;
  if (v.ToInt64(&out) != DecimalStatus::kOk) {
    absl::Status st = Truncated(ctx, "INTEGER", v.ToString());
    if (!st.ok()) return st;
  }
  return out;
}

absl::StatusOr<uint64_t> DecimalToUint64(EvalContext* ctx, const Decimal& v) {
  uint64_t out;
  if (v.ToUint64(&out) != DecimalStatus::kOk) {
    absl::Status st = Truncated(ctx, "INTEGER", v.ToString());
    if (!st.ok()) return st;
  }
  return out;
}

absl::StatusOr<Datum> ToInt(EvalContext* ctx, const Datum& v, const FieldType& from,
                            bool to_unsigned) {
  auto make = [&](int64_t signed_value) {
    return to_unsigned ? Datum::Uint(static_cast<uint64_t>(signed_value))
                       : Datum::Int(signed_value);
  };
  switch (v.kind()) {
    case DatumKind::kNull:
      return Datum();
    case DatumKind::kInt64:
      return make(v.GetInt64());
    case DatumKind::kUint64:
      return to_unsigned ? v : Datum::Int(static_cast<int64_t>(v.GetUint64()));
    case DatumKind::kFloat32:
    case DatumKind::kFloat64: {
      if (to_unsigned) {
        absl::StatusOr<uint64_t> u = DoubleToUint64(ctx, v.GetDouble());
        if (!u.ok()) return u.status();
        return Datum::Uint(*u);
      }
      absl::StatusOr<int64_t> i = DoubleToInt64(ctx, v.GetDouble());
      if (!i.ok()) return i.status();
      return Datum::Int(*i);
    }
    case DatumKind::kDecimal: {
      if (to_unsigned) {
        absl::StatusOr<uint64_t> u = DecimalToUint64(ctx, v.GetDecimal());
        if (!u.ok()) return u.status();
        return Datum::Uint(*u);
      }
      absl::StatusOr<int64_t> i = DecimalToInt64(ctx, v.GetDecimal());
      if (!i.ok()) return i.status();
      return Datum::Int(*i);
    }
    case DatumKind::kString: {
      if (to_unsigned) {
        absl::StatusOr<uint64_t> u = StrToUint64(ctx, v.GetString());
        if (!u.ok()) return u.status();
        return Datum::Uint(*u);
      }
      absl::StatusOr<int64_t> i = StrToInt64(ctx, v.GetString());
      if (!i.ok()) return i.status();
      return Datum::Int(*i);
    }
    case DatumKind::kTime: {
      const Time& t = v.GetTime();
      int64_t n = t.ToNumber();
      if (t.type != TimeType::kDate && t.micro >= 500000) ++n;
      return make(n);
    }
    case DatumKind::kDuration: {
      const Duration& d = v.GetDuration();
      int64_t n = d.ToNumber();
      int64_t frac = (d.micros < 0 ? -d.micros : d.micros) % 1000000;
      if (frac >= 500000) n += d.micros < 0 ? -1 : 1;
      return make(n);
    }
    default:
      return absl::InvalidArgumentError("cannot convert range bound to integer");
  }
}

absl::StatusOr<Datum> ToReal(EvalContext* ctx, const Datum& v, const FieldType& from) {
  switch (v.kind()) {
    case DatumKind::kNull:
      return Datum();
    case DatumKind::kInt64:
    case DatumKind::kUint64:
    case DatumKind::kDecimal:
      return Datum::Double(DoubleOf(v));
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return Datum::Double(v.GetDouble());
    case DatumKind::kString: {
      absl::StatusOr<double> d = StrToDouble(ctx, v.GetString());
      if (!d.ok()) return d.status();
      return Datum::Double(*d);
    }
    case DatumKind::kTime:
      return Datum::Double(TimeToDecimal(v.GetTime()).ToDouble());
    case DatumKind::kDuration:
      return Datum::Double(DurationToDecimal(v.GetDuration()).ToDouble());
    default:
      return absl::InvalidArgumentError("cannot convert range bound to double");
  }
}

absl::StatusOr<Datum> ToDecimal(EvalContext* ctx, const Datum& v, const FieldType& from) {
  switch (v.kind()) {
    case DatumKind::kNull:
      return Datum();
    case DatumKind::kInt64:
      return Datum::Dec(Decimal::FromInt64(v.GetInt64()));
    case DatumKind::kUint64:
      return Datum::Dec(Decimal::FromUint64(v.GetUint64()));
    case DatumKind::kFloat32:
    case DatumKind::kFloat64: {
      Decimal d;
      double x =
          v.kind() == DatumKind::kFloat32 ? static_cast<float>(v.GetDouble()) : v.GetDouble();
      DecimalStatus st = v.kind() == DatumKind::kFloat32
                             ? Decimal::Parse(FormatFloat(static_cast<float>(x)), &d)
                             : Decimal::FromDouble(x, &d);
      if (st == DecimalStatus::kOverflow || st == DecimalStatus::kBadNumber) {
        absl::Status s = Truncated(ctx, "DECIMAL", FormatDouble(x));
        if (!s.ok()) return s;
      }
      return Datum::Dec(d);
    }
    case DatumKind::kDecimal:
      return v;
    case DatumKind::kString: {
      absl::StatusOr<Decimal> d = StrToDecimal(ctx, v.GetString());
      if (!d.ok()) return d.status();
      return Datum::Dec(*d);
    }
    case DatumKind::kTime:
      return Datum::Dec(TimeToDecimal(v.GetTime()));
    case DatumKind::kDuration:
      return Datum::Dec(DurationToDecimal(v.GetDuration()));
    default:
      return absl::InvalidArgumentError("cannot convert range bound to decimal");
  }
}

std::string ToStringValue(const Datum& v, const FieldType& from) {
  if (v.kind() == DatumKind::kFloat64 && from.tp == TypeCode::kFloat) {
    return FormatFloat(static_cast<float>(v.GetDouble()));
  }
  return v.ToString();
}

absl::StatusOr<Datum> ToTime(EvalContext* ctx, const Datum& v, const FieldType& from, TimeType type,
                             int fsp) {
  auto bad = [&](std::string_view text) -> absl::StatusOr<Datum> {
    absl::Status st = ctx->HandleTruncate(kErTruncatedWrongValue,
                                          absl::StrCat("Incorrect datetime value: ", Quote(text)));
    if (!st.ok()) return st;
    return Datum();
  };
  absl::StatusOr<Time> t = absl::InvalidArgumentError("");
  switch (v.kind()) {
    case DatumKind::kNull:
      return Datum();
    case DatumKind::kString:
      t = ParseTime(v.GetString(), type, fsp);
      if (!t.ok()) return bad(v.GetString());
      break;
    case DatumKind::kInt64:
      t = TimeFromNumber(v.GetInt64(), type, fsp);
      if (!t.ok()) return bad(v.ToString());
      break;
    case DatumKind::kUint64:
      if (v.GetUint64() > static_cast<uint64_t>(INT64_MAX)) return bad(v.ToString());
      t = TimeFromNumber(static_cast<int64_t>(v.GetUint64()), type, fsp);
      if (!t.ok()) return bad(v.ToString());
      break;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
    case DatumKind::kDecimal: {
      absl::StatusOr<Datum> dec = ToDecimal(ctx, v, from);
      if (!dec.ok()) return dec.status();
      const Decimal& d = dec->GetDecimal();
      if (d.IsNegative()) return bad(v.ToString());
      Decimal whole = d.Round(0, RoundMode::kTruncate);
      int64_t n = 0;
      whole.ToInt64(&n);
      t = TimeFromNumber(n, type, fsp);
      if (!t.ok()) return bad(v.ToString());
      if (type != TimeType::kDate) {
        Decimal frac;
        Decimal::Sub(d, whole, &frac);
        Decimal micros;
        Decimal::Mul(frac, Decimal::FromInt64(1000000), &micros);
        int64_t m = 0;
        micros.Round(0, RoundMode::kTruncate).ToInt64(&m);
        t->micro = static_cast<uint32_t>(m);
        t->fsp = static_cast<int8_t>(fsp < 0 ? std::min(d.scale(), 6) : fsp);
        if (fsp >= 0) t = t->RoundFrac(fsp);
        if (!t.ok()) return bad(v.ToString());
      }
      break;
    }
    case DatumKind::kTime: {
      Time x = v.GetTime();
      if (type == TimeType::kDate) {
        x.hour = x.minute = x.second = 0;
        x.micro = 0;
        x.fsp = 0;
        x.type = TimeType::kDate;
        return Datum::FromTime(x);
      }
      x.type = type;
      if (fsp >= 0) {
        t = x.RoundFrac(fsp);
        if (!t.ok()) return bad(v.ToString());
      } else {
        t = x;
      }
      break;
    }
    case DatumKind::kDuration: {
      // TIME in a datetime context: today (the statement's date) plus the duration.
      Time today = ctx->now;
      today.hour = today.minute = today.second = 0;
      today.micro = 0;
      Interval iv;
      iv.micros = v.GetDuration().micros;
      t = AddInterval(today, iv);
      if (!t.ok()) return bad(v.ToString());
      t->type = type;
      t->fsp = static_cast<int8_t>(fsp < 0 ? v.GetDuration().fsp : fsp);
      if (type == TimeType::kDate) {
        t->hour = t->minute = t->second = 0;
        t->micro = 0;
        t->fsp = 0;
      }
      break;
    }
    default:
      return absl::InvalidArgumentError("cannot convert range bound to datetime");
  }
  return Datum::FromTime(*t);
}

absl::StatusOr<Datum> ToDuration(EvalContext* ctx, const Datum& v, const FieldType& from, int fsp) {
  auto bad = [&](std::string_view text) -> absl::StatusOr<Datum> {
    absl::Status st = ctx->HandleTruncate(
        kErTruncatedWrongValue, absl::StrCat("Truncated incorrect time value: ", Quote(text)));
    if (!st.ok()) return st;
    return Datum();
  };
  absl::StatusOr<Duration> d = absl::InvalidArgumentError("");
  switch (v.kind()) {
    case DatumKind::kNull:
      return Datum();
    case DatumKind::kString:
      d = ParseDuration(v.GetString(), fsp);
      break;
    case DatumKind::kInt64:
      d = DurationFromNumber(v.GetInt64(), fsp);
      break;
    case DatumKind::kUint64:
      if (v.GetUint64() > static_cast<uint64_t>(INT64_MAX)) return bad(v.ToString());
      d = DurationFromNumber(static_cast<int64_t>(v.GetUint64()), fsp);
      break;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
    case DatumKind::kDecimal: {
      absl::StatusOr<Datum> dec = ToDecimal(ctx, v, from);
      if (!dec.ok()) return dec.status();
      d = ParseDuration(dec->GetDecimal().ToString(), fsp);
      break;
    }
    case DatumKind::kTime: {
      const Time& t = v.GetTime();
      Duration x;
      x.micros = ((t.hour * 60LL + t.minute) * 60 + t.second) * 1000000 + t.micro;
      x.fsp = t.fsp;
      d = fsp >= 0 ? x.RoundFrac(fsp) : absl::StatusOr<Duration>(x);
      break;
    }
    case DatumKind::kDuration:
      d = fsp >= 0 ? v.GetDuration().RoundFrac(fsp) : absl::StatusOr<Duration>(v.GetDuration());
      break;
    default:
      return absl::InvalidArgumentError("cannot convert range bound to time");
  }
  if (!d.ok()) return bad(v.ToString());
  return Datum::FromDuration(*d);
}

namespace {

// The range of a (possibly narrow) integer column type.
void IntRange(const FieldType& ft, int64_t* lo, int64_t* hi, uint64_t* uhi) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  *uhi = UINT64_MAX;
  switch (ft.tp) {
    case TypeCode::kTiny:
      *lo = -128, *hi = 127, *uhi = 255;
      break;
    case TypeCode::kShort:
      *lo = -32768, *hi = 32767, *uhi = 65535;
      break;
    case TypeCode::kInt24:
      *lo = -8388608, *hi = 8388607, *uhi = 16777215;
      break;
    case TypeCode::kLong:
      *lo = -2147483648LL, *hi = 2147483647LL, *uhi = 4294967295ULL;
      break;
    case TypeCode::kYear:
      *lo = 0, *hi = 2155, *uhi = 2155;
      break;
    default:
      break;
  }
}

absl::Status OutOfRange(EvalContext* ctx) {
  return ctx->HandleTruncate(kErWarnDataOutOfRange, "Out of range value for column");
}

}  // namespace

absl::StatusOr<Datum> CastDatum(EvalContext* ctx, const Datum& v, const FieldType& from,
                                const FieldType& to) {
  if (v.IsNull()) return Datum();
  switch (to.GetEvalType()) {
    case EvalType::kInt: {
      absl::StatusOr<Datum> r = ToInt(ctx, v, from, to.IsUnsigned());
      if (!r.ok() || r->IsNull()) return r;
      int64_t lo, hi;
      uint64_t uhi;
      IntRange(to, &lo, &hi, &uhi);
      if (to.IsUnsigned()) {
        if (r->GetUint64() > uhi) {
          if (absl::Status st = OutOfRange(ctx); !st.ok()) return st;
          return Datum::Uint(uhi);
        }
      } else {
        int64_t x = r->GetInt64();
        if (x < lo || x > hi) {
          if (absl::Status st = OutOfRange(ctx); !st.ok()) return st;
          return Datum::Int(x < lo ? lo : hi);
        }
      }
      return r;
    }
    case EvalType::kReal: {
      absl::StatusOr<Datum> r = ToReal(ctx, v, from);
      if (!r.ok() || r->IsNull()) return r;
      double x = r->GetDouble();
      if (to.decimal >= 0 && to.decimal < 31 && to.flen > 0) {
        double p = std::pow(10.0, to.decimal);
        double y = std::nearbyint(x * p) / p;
        if (std::isfinite(y)) x = y;
      }
      if (to.IsUnsigned() && x < 0) {
        if (absl::Status st = OutOfRange(ctx); !st.ok()) return st;
        x = 0;
      }
      if (to.tp == TypeCode::kFloat) {
        if (std::fabs(x) > FLT_MAX) {
          if (absl::Status st = OutOfRange(ctx); !st.ok()) return st;
          x = x < 0 ? -FLT_MAX : FLT_MAX;
        }
        return Datum::Float(static_cast<float>(x));
      }
      return Datum::Double(x);
    }
    case EvalType::kDecimal: {
      absl::StatusOr<Datum> r = ToDecimal(ctx, v, from);
      if (!r.ok() || r->IsNull()) return r;
      Decimal d = r->GetDecimal();
      if (to.IsUnsigned() && d.IsNegative()) {
        if (absl::Status st = OutOfRange(ctx); !st.ok()) return st;
        d = Decimal();
      }
      if (to.flen > 0 && to.decimal >= 0) {
        Decimal fitted;
        if (d.ToPrecision(to.flen, to.decimal, &fitted) == DecimalStatus::kOverflow) {
          if (absl::Status st = OutOfRange(ctx); !st.ok()) return st;
        }
        d = fitted;
      }
      return Datum::Dec(d);
    }
    case EvalType::kString:
    case EvalType::kJson: {
      std::string s = ToStringValue(v, from);
      if (to.flen >= 0 && to.GetEvalType() == EvalType::kString) {
        size_t chars = CharLength(s, to.collation);
        if (chars > static_cast<size_t>(to.flen)) {
          absl::Status st = ctx->HandleTruncate(
              kErTruncatedWrongValue,
              absl::StrCat("Truncated incorrect ",
                           to.collation == Collation::kBinary ? "BINARY" : "CHAR", "(", to.flen,
                           ") value: ", Quote(s)));
          if (!st.ok()) return st;
          s.resize(CharOffset(s, static_cast<size_t>(to.flen), to.collation));
        }
      }
      return Datum::String(std::move(s));
    }
    case EvalType::kDatetime: {
      TimeType type = to.tp == TypeCode::kDate        ? TimeType::kDate
                      : to.tp == TypeCode::kTimestamp ? TimeType::kTimestamp
                                                      : TimeType::kDatetime;
      int fsp = type == TimeType::kDate ? 0 : (to.decimal < 0 ? -1 : std::min(to.decimal, 6));
      return ToTime(ctx, v, from, type, fsp);
    }
    case EvalType::kDuration:
      return ToDuration(ctx, v, from, to.decimal < 0 ? -1 : std::min(to.decimal, 6));
  }
  return absl::InternalError("unknown eval type");
}

absl::StatusOr<bool> DatumToBool(EvalContext* ctx, const Datum& v, const FieldType& from) {
  switch (v.kind()) {
    case DatumKind::kInt64:
      return v.GetInt64() != 0;
    case DatumKind::kUint64:
      return v.GetUint64() != 0;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      return v.GetDouble() != 0;
    case DatumKind::kDecimal:
      return !v.GetDecimal().IsZero();
    case DatumKind::kString: {
      absl::StatusOr<double> d = StrToDouble(ctx, v.GetString());
      if (!d.ok()) return d.status();
      return *d != 0;
    }
    case DatumKind::kTime:
      return !v.GetTime().IsZero();
    case DatumKind::kDuration:
      return v.GetDuration().micros != 0;
    default:
      return false;
  }
}

}  // namespace rutile::sql
