#include "sql/codec/codec.h"

#include "absl/strings/str_cat.h"
#include "sql/types/collation.h"
#include "util/memcomparable.h"

namespace rutile::sql::codec {
namespace {

absl::Status Corrupt(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("corrupted key datum: ", std::string(what)));
}

constexpr int kExponentBias = 128;
constexpr size_t kMaxDecimalDigits = Decimal::kMaxIntDigits + Decimal::kMaxScale;

}  // namespace

void EncodeDecimal(std::string* dst, const Decimal& d) {
  if (d.IsZero()) {
    dst->push_back(1);
    dst->push_back(static_cast<char>(d.scale()));
    return;
  }
  std::string coef = d.CoefficientDigits();  // No leading zeros.
  int x = static_cast<int>(coef.size()) - d.scale();
  while (!coef.empty() && coef.back() == '0') coef.pop_back();
  const bool neg = d.IsNegative();
  const uint8_t mask = neg ? 0xFF : 0x00;
  dst->push_back(neg ? 0 : 2);
  dst->push_back(static_cast<char>(static_cast<uint8_t>(x + kExponentBias) ^ mask));
  for (size_t i = 0; i < coef.size(); i += 2) {
    int d1 = coef[i] - '0';
    int d2 = i + 1 < coef.size() ? coef[i + 1] - '0' : 0;
    dst->push_back(static_cast<char>(static_cast<uint8_t>(1 + 10 * d1 + d2) ^ mask));
  }
  dst->push_back(static_cast<char>(mask));
  dst->push_back(static_cast<char>(d.scale()));
}

absl::StatusOr<Decimal> DecodeDecimal(std::string_view* in) {
  std::string_view s = *in;
  if (s.empty()) return Corrupt("empty decimal");
  uint8_t sign = static_cast<uint8_t>(s[0]);
  if (sign == 1) {
    if (s.size() < 2) return Corrupt("truncated decimal");
    uint8_t scale = static_cast<uint8_t>(s[1]);
    if (scale > Decimal::kMaxScale) return Corrupt("decimal scale");
    Decimal out;
    if (!Decimal::FromDigits("", scale, false, &out)) return Corrupt("decimal zero");
    in->remove_prefix(2);
    return out;
  }
  if (sign != 0 && sign != 2) return Corrupt("decimal sign");
  const uint8_t mask = sign == 0 ? 0xFF : 0x00;
  size_t pos = 1;
  if (pos >= s.size()) return Corrupt("truncated decimal");
  int x = static_cast<int>(static_cast<uint8_t>(s[pos++]) ^ mask) - kExponentBias;
  if (x > Decimal::kMaxIntDigits || x < -Decimal::kMaxScale) return Corrupt("decimal exponent");
  std::string digits;
  bool terminated = false;
  uint8_t last = 0;
  while (pos < s.size()) {
    uint8_t b = static_cast<uint8_t>(s[pos++]) ^ mask;
    if (b == 0) {
      terminated = true;
      break;
    }
    if (b > 100) return Corrupt("decimal digit pair");
    if (digits.size() >= kMaxDecimalDigits) return Corrupt("too many decimal digits");
    int v = b - 1;
    digits.push_back(static_cast<char>('0' + v / 10));
    digits.push_back(static_cast<char>('0' + v % 10));
    last = b;
  }
  if (!terminated || digits.empty()) return Corrupt("unterminated decimal");
  if (digits[0] == '0') return Corrupt("decimal leading zero");
  if (last == 1) return Corrupt("decimal trailing zero pair");
  if (digits.back() == '0') digits.pop_back();  // The padding of an odd count.
  if (pos >= s.size()) return Corrupt("truncated decimal scale");
  int scale = static_cast<uint8_t>(s[pos++]);
  if (scale > Decimal::kMaxScale) return Corrupt("decimal scale");
  // value = 0.digits * 10^x; needs len - x fractional digits.
  int need = static_cast<int>(digits.size()) - x;
  if (need > scale) return Corrupt("decimal scale too small for its digits");
  // Coefficient = digits followed by zeros so that it has `scale` fractional digits.
  int zeros = scale - need;
  if (static_cast<int>(digits.size()) + zeros > static_cast<int>(kMaxDecimalDigits)) {
    return Corrupt("decimal too long");
  }
  digits.append(static_cast<size_t>(zeros), '0');
  Decimal out;
  if (!Decimal::FromDigits(digits, scale, sign == 0, &out)) return Corrupt("decimal range");
  in->remove_prefix(pos);
  return out;
}

void EncodeKeyDatum(std::string* dst, const Datum& d, Collation collation) {
  switch (d.kind()) {
    case DatumKind::kNull:
      dst->push_back(static_cast<char>(kNilFlag));
      return;
    case DatumKind::kInt64:
      dst->push_back(static_cast<char>(kIntFlag));
      memcomparable::EncodeInt64(dst, d.GetInt64());
      return;
    case DatumKind::kUint64:
      dst->push_back(static_cast<char>(kUintFlag));
      memcomparable::EncodeUint64(dst, d.GetUint64());
      return;
    case DatumKind::kFloat32:
    case DatumKind::kFloat64:
      dst->push_back(static_cast<char>(kFloatFlag));
      memcomparable::EncodeFloat64(dst, d.GetDouble());
      return;
    case DatumKind::kString:
      dst->push_back(static_cast<char>(kBytesFlag));
      if (collation == Collation::kBinary) {
        memcomparable::EncodeBytes(dst, d.GetString());
      } else {
        memcomparable::EncodeBytes(dst, SortKey(d.GetString(), collation));
      }
      return;
    case DatumKind::kDecimal:
      dst->push_back(static_cast<char>(kDecimalFlag));
      EncodeDecimal(dst, d.GetDecimal());
      return;
    case DatumKind::kTime:
      dst->push_back(static_cast<char>(kUintFlag));
      memcomparable::EncodeUint64(dst, d.GetTime().Pack());
      return;
    case DatumKind::kDuration:
      dst->push_back(static_cast<char>(kDurationFlag));
      memcomparable::EncodeInt64(dst, d.GetDuration().micros);
      return;
    case DatumKind::kMinNotNull:
      dst->push_back(static_cast<char>(kBytesFlag));
      return;
    case DatumKind::kMaxValue:
      dst->push_back(static_cast<char>(kMaxFlag));
      return;
  }
}

void EncodeKey(std::string* dst, std::span<const Datum> values) {
  for (const Datum& d : values) EncodeKeyDatum(dst, d);
}

absl::StatusOr<Datum> DecodeKeyDatum(std::string_view* in) {
  if (in->empty()) return Corrupt("empty");
  std::string_view s = in->substr(1);
  uint8_t flag = static_cast<uint8_t>((*in)[0]);
  Datum out;
  switch (flag) {
    case kNilFlag:
      break;
    case kIntFlag: {
      absl::StatusOr<int64_t> v = memcomparable::DecodeInt64(&s);
      if (!v.ok()) return v.status();
      out = Datum::Int(*v);
      break;
    }
    case kUintFlag: {
      absl::StatusOr<uint64_t> v = memcomparable::DecodeUint64(&s);
      if (!v.ok()) return v.status();
      out = Datum::Uint(*v);
      break;
    }
    case kFloatFlag: {
      absl::StatusOr<double> v = memcomparable::DecodeFloat64(&s);
      if (!v.ok()) return v.status();
      out = Datum::Double(*v);
      break;
    }
    case kBytesFlag: {
      std::string v;
      absl::Status st = memcomparable::DecodeBytes(&s, &v);
      if (!st.ok()) return st;
      out = Datum::String(std::move(v));
      break;
    }
    case kDecimalFlag: {
      absl::StatusOr<Decimal> v = DecodeDecimal(&s);
      if (!v.ok()) return v.status();
      out = Datum::Dec(*v);
      break;
    }
    case kDurationFlag: {
      absl::StatusOr<int64_t> v = memcomparable::DecodeInt64(&s);
      if (!v.ok()) return v.status();
      if (*v > Duration::kMaxMicros || *v < -Duration::kMaxMicros) return Corrupt("duration range");
      Duration d;
      d.micros = *v;
      d.fsp = 6;
      out = Datum::FromDuration(d);
      break;
    }
    case kMaxFlag:
      out = Datum::MaxValue();
      break;
    default:
      return Corrupt(absl::StrCat("unknown flag ", flag));
  }
  *in = s;
  return out;
}

absl::StatusOr<Datum> DecodeKeyDatumAs(std::string_view* in, const FieldType& ft) {
  std::string_view s = *in;
  absl::StatusOr<Datum> d = DecodeKeyDatum(&s);
  if (!d.ok()) return d;
  if (d->kind() == DatumKind::kUint64 && ft.GetEvalType() == EvalType::kDatetime) {
    uint64_t p = d->GetUint64();
    if (!Time::ValidPacked(p)) return Corrupt("time value");
    TimeType type = ft.tp == TypeCode::kDate        ? TimeType::kDate
                    : ft.tp == TypeCode::kTimestamp ? TimeType::kTimestamp
                                                    : TimeType::kDatetime;
    int fsp = ft.decimal > 0 ? ft.decimal : 0;
    *d = Datum::FromTime(Time::Unpack(p, type, fsp));
  } else if (d->kind() == DatumKind::kDuration) {
    Duration dur = d->GetDuration();
    dur.fsp = static_cast<int8_t>(ft.decimal > 0 ? ft.decimal : 0);
    *d = Datum::FromDuration(dur);
  } else if (d->kind() == DatumKind::kFloat64 && ft.tp == TypeCode::kFloat) {
    *d = Datum::Float(static_cast<float>(d->GetDouble()));
  }
  *in = s;
  return d;
}

absl::StatusOr<std::vector<Datum>> DecodeKey(std::string_view in) {
  std::vector<Datum> out;
  while (!in.empty()) {
    absl::StatusOr<Datum> d = DecodeKeyDatum(&in);
    if (!d.ok()) return d.status();
    out.push_back(std::move(*d));
  }
  return out;
}

absl::StatusOr<size_t> PeekKeyDatumLength(std::string_view in) {
  std::string_view s = in;
  if (!in.empty() && static_cast<uint8_t>(in[0]) == kBytesFlag) {
    absl::StatusOr<size_t> n = memcomparable::PeekBytesLength(in.substr(1));
    if (!n.ok()) return n.status();
    return *n + 1;
  }
  absl::StatusOr<Datum> d = DecodeKeyDatum(&s);
  if (!d.ok()) return d.status();
  return in.size() - s.size();
}

}  // namespace rutile::sql::codec
