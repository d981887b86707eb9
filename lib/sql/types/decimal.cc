#include "sql/types/decimal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace rutile::sql {
namespace {

constexpr uint32_t kBase = 1000000000;
constexpr uint32_t kPow10[10] = {1,      10,      100,      1000,      10000,
                                 100000, 1000000, 10000000, 100000000, 1000000000};

// An unsigned magnitude in base 10^9, least significant limb first, big enough for the
// intermediate results of every operation (a product of two 99-digit coefficients, a
// dividend scaled by 10^34).
struct Mag {
  static constexpr int kCap = 40;
  uint32_t d[kCap];
  int n = 0;  // Limbs in use; d[n-1] != 0 unless n == 0.

  Mag() { std::memset(d, 0, sizeof(d)); }

  void Trim() {
    while (n > 0 && d[n - 1] == 0) --n;
  }
  bool IsZero() const { return n == 0; }

  static Mag FromU64(uint64_t v) {
    Mag m;
    while (v != 0) {
      m.d[m.n++] = static_cast<uint32_t>(v % kBase);
      v /= kBase;
    }
    return m;
  }

  void MulSmall(uint32_t f) {
    uint64_t carry = 0;
    for (int i = 0; i < n; ++i) {
      uint64_t t = static_cast<uint64_t>(d[i]) * f + carry;
      d[i] = static_cast<uint32_t>(t % kBase);
      carry = t / kBase;
    }
    while (carry != 0 && n < kCap) {
      d[n++] = static_cast<uint32_t>(carry % kBase);
      carry /= kBase;
    }
    Trim();
  }

  void AddSmall(uint32_t v) {
    uint64_t carry = v;
    for (int i = 0; carry != 0 && i < kCap; ++i) {
      uint64_t t = (i < n ? d[i] : 0) + carry;
      d[i] = static_cast<uint32_t>(t % kBase);
      carry = t / kBase;
      if (i >= n) n = i + 1;
    }
    Trim();
  }

  void MulPow10(int k) {
    if (n == 0 || k <= 0) return;
    int limbs = k / 9;
    if (limbs > 0) {
      int new_n = std::min(n + limbs, kCap);
      for (int i = new_n - 1; i >= limbs; --i) d[i] = d[i - limbs];
      for (int i = 0; i < limbs; ++i) d[i] = 0;
      n = new_n;
    }
    if (k % 9 != 0) MulSmall(kPow10[k % 9]);
  }

  // Divides by f (1 <= f <= 10^9) and returns the remainder.
  uint32_t DivSmall(uint32_t f) {
    uint64_t rem = 0;
    for (int i = n - 1; i >= 0; --i) {
      uint64_t cur = rem * kBase + d[i];
      d[i] = static_cast<uint32_t>(cur / f);
      rem = cur % f;
    }
    Trim();
    return static_cast<uint32_t>(rem);
  }

  int NumDigits() const {
    if (n == 0) return 0;
    int digits = (n - 1) * 9;
    uint32_t top = d[n - 1];
    while (top != 0) {
      ++digits;
      top /= 10;
    }
    return digits;
  }

  std::string ToDigits() const {
    if (n == 0) return "";
    std::string out = std::to_string(d[n - 1]);
    char buf[16];
    for (int i = n - 2; i >= 0; --i) {
      std::snprintf(buf, sizeof(buf), "%09u", d[i]);
      out += buf;
    }
    return out;
  }
};

int Cmp(const Mag& a, const Mag& b) {
  if (a.n != b.n) return a.n < b.n ? -1 : 1;
  for (int i = a.n - 1; i >= 0; --i) {
    if (a.d[i] != b.d[i]) return a.d[i] < b.d[i] ? -1 : 1;
  }
  return 0;
}

Mag Add(const Mag& a, const Mag& b) {
  Mag r;
  int n = std::max(a.n, b.n);
  uint32_t carry = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t t = (i < a.n ? a.d[i] : 0) + (i < b.n ? b.d[i] : 0) + carry;
    carry = t >= kBase ? 1 : 0;
    r.d[i] = carry ? t - kBase : t;
  }
  r.n = n;
  if (carry != 0 && n < Mag::kCap) r.d[r.n++] = carry;
  r.Trim();
  return r;
}

// Requires a >= b.
Mag Sub(const Mag& a, const Mag& b) {
  Mag r;
  int64_t borrow = 0;
  for (int i = 0; i < a.n; ++i) {
    int64_t t = static_cast<int64_t>(a.d[i]) - (i < b.n ? b.d[i] : 0) - borrow;
    borrow = t < 0 ? 1 : 0;
    r.d[i] = static_cast<uint32_t>(t < 0 ? t + kBase : t);
  }
  r.n = a.n;
  r.Trim();
  return r;
}

Mag Mul(const Mag& a, const Mag& b) {
  Mag r;
  if (a.n == 0 || b.n == 0) return r;
  uint64_t acc[2 * Mag::kCap + 1] = {};
  for (int i = 0; i < a.n; ++i) {
    uint64_t carry = 0;
    for (int j = 0; j < b.n; ++j) {
      if (i + j >= Mag::kCap) break;
      uint64_t t = acc[i + j] + static_cast<uint64_t>(a.d[i]) * b.d[j] + carry;
      acc[i + j] = t % kBase;
      carry = t / kBase;
    }
    int k = i + b.n;
    while (carry != 0 && k < Mag::kCap) {
      uint64_t t = acc[k] + carry;
      acc[k] = t % kBase;
      carry = t / kBase;
      ++k;
    }
  }
  r.n = std::min(a.n + b.n, Mag::kCap);
  for (int i = 0; i < r.n; ++i) r.d[i] = static_cast<uint32_t>(acc[i]);
  r.Trim();
  return r;
}

long double Approx(const Mag& m) {
  long double v = 0;
  for (int i = m.n - 1; i >= 0 && i >= m.n - 3; --i) v = v * kBase + m.d[i];
  return v;
}

// Long division of a by b (b != 0): *q = a / b, *r = a % b.
void DivMod(const Mag& a, const Mag& b, Mag* q, Mag* r) {
  *q = Mag();
  *r = Mag();
  if (b.n == 1) {
    *q = a;
    uint32_t rem = q->DivSmall(b.d[0]);
    *r = Mag::FromU64(rem);
    return;
  }
  if (Cmp(a, b) < 0) {
    *r = a;
    return;
  }
  const long double b_top = Approx(b);
  Mag rem;
  q->n = a.n;
  for (int i = a.n - 1; i >= 0; --i) {
    // rem = rem * base + a.d[i].
    for (int k = std::min(rem.n, Mag::kCap - 1); k > 0; --k) rem.d[k] = rem.d[k - 1];
    rem.d[0] = a.d[i];
    rem.n = std::min(rem.n + 1, Mag::kCap);
    rem.Trim();
    uint32_t qd = 0;
    if (Cmp(rem, b) >= 0) {
      // Estimate from the leading limbs, then correct.
      long double est = Approx(rem) / b_top;
      // Approx(m) is m / base^max(m.n - 3, 0).
      int shift = std::max(rem.n - 3, 0) - std::max(b.n - 3, 0);
      for (int k = 0; k < shift; ++k) est *= kBase;
      if (est < 0) est = 0;
      if (est > kBase - 1) est = kBase - 1;
      qd = static_cast<uint32_t>(est);
      Mag t = b;
      t.MulSmall(qd);
      while (Cmp(t, rem) > 0) {
        --qd;
        t = Sub(t, b);
      }
      Mag left = Sub(rem, t);
      while (Cmp(left, b) >= 0) {
        ++qd;
        left = Sub(left, b);
      }
      rem = left;
    }
    q->d[i] = qd;
  }
  q->Trim();
  *r = rem;
}

Mag Pow10(int k) {
  Mag m = Mag::FromU64(1);
  m.MulPow10(k);
  return m;
}

}  // namespace

// Conversion between Decimal's fixed limbs and Mag.
struct DecimalAccess {
  static Mag ToMag(const Decimal& d) {
    Mag m;
    for (int i = 0; i < Decimal::kLimbs; ++i) m.d[i] = d.limbs_[i];
    m.n = Decimal::kLimbs;
    m.Trim();
    return m;
  }

  // Builds *out from a magnitude with `scale` fractional digits: rounds half-up to scale
  // 30 if needed and checks the integer part.
  static DecimalStatus FromMag(Mag m, int scale, bool negative, Decimal* out) {
    DecimalStatus st = DecimalStatus::kOk;
    if (scale > Decimal::kMaxScale) {
      int drop = scale - Decimal::kMaxScale;
      bool round_up = false;
      bool nonzero = false;
      // Divide by 10^drop, remembering the first dropped digit.
      int remaining = drop;
      while (remaining > 0) {
        int step = std::min(remaining, 9);
        uint32_t rem = m.DivSmall(kPow10[step]);
        if (rem != 0) nonzero = true;
        if (remaining == step) {
          // This chunk holds the most significant dropped digits.
          round_up = rem / kPow10[step - 1] >= 5;
        }
        remaining -= step;
      }
      if (round_up) m.AddSmall(1);
      scale = Decimal::kMaxScale;
      if (nonzero) st = DecimalStatus::kTruncated;
    }
    if (m.NumDigits() - scale > Decimal::kMaxIntDigits) {
      *out = Decimal::MaxValue(Decimal::kMaxIntDigits + scale, scale, negative);
      return DecimalStatus::kOverflow;
    }
    Decimal d;
    for (int i = 0; i < m.n && i < Decimal::kLimbs; ++i) d.limbs_[i] = m.d[i];
    d.scale_ = static_cast<uint8_t>(scale);
    d.negative_ = negative && !m.IsZero();
    *out = d;
    return st;
  }
};

namespace {

// Aligns two decimals to the larger scale.
void Align(const Decimal& a, const Decimal& b, Mag* ma, Mag* mb, int* scale) {
  *ma = DecimalAccess::ToMag(a);
  *mb = DecimalAccess::ToMag(b);
  *scale = std::max(a.scale(), b.scale());
  ma->MulPow10(*scale - a.scale());
  mb->MulPow10(*scale - b.scale());
}

}  // namespace

Decimal Decimal::FromInt64(int64_t v) {
  uint64_t mag = v < 0 ? ~static_cast<uint64_t>(v) + 1 : static_cast<uint64_t>(v);
  Decimal d = FromUint64(mag);
  d.negative_ = v < 0;
  return d;
}

Decimal Decimal::FromUint64(uint64_t v) {
  Decimal d;
  for (int i = 0; v != 0; ++i) {
    d.limbs_[i] = static_cast<uint32_t>(v % kBase);
    v /= kBase;
  }
  return d;
}

DecimalStatus Decimal::FromDouble(double v, Decimal* out) {
  *out = Decimal();
  if (std::isnan(v) || std::isinf(v)) return DecimalStatus::kBadNumber;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return Parse(std::string_view(buf, res.ptr - buf), out);
}

Decimal Decimal::MaxValue(int precision, int scale, bool negative) {
  if (scale > kMaxScale) scale = kMaxScale;
  if (precision < scale) precision = scale;
  Mag m = Pow10(precision);
  m = ::rutile::sql::Sub(m, Mag::FromU64(1));
  Decimal d;
  for (int i = 0; i < m.n && i < kLimbs; ++i) d.limbs_[i] = m.d[i];
  d.scale_ = static_cast<uint8_t>(scale);
  d.negative_ = negative && !m.IsZero();
  return d;
}

DecimalStatus Decimal::Parse(std::string_view s, Decimal* out, size_t* consumed) {
  *out = Decimal();
  if (consumed != nullptr) *consumed = 0;
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    negative = s[i] == '-';
    ++i;
  }
  // Significant digits (leading zeros skipped), and where the point falls among them.
  std::string digits;
  int64_t point = 0;  // Digits of `digits` before the point.
  bool any_digit = false;
  bool seen_nonzero = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    any_digit = true;
    if (s[i] != '0' || seen_nonzero) {
      seen_nonzero = true;
      if (digits.size() < 200) {
        digits.push_back(s[i]);
      }
      ++point;  // Digits beyond 200 in the integer part still move the point.
    }
    ++i;
  }
  int64_t frac_written = 0;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      any_digit = true;
      ++frac_written;
      if (s[j] != '0' || seen_nonzero) {
        seen_nonzero = true;
        if (digits.size() < 200) digits.push_back(s[j]);
      } else {
        --point;  // A leading zero after the point: the first significant digit is lower.
      }
      ++j;
    }
    if (any_digit) i = j;
  }
  if (!any_digit) return DecimalStatus::kBadNumber;
  int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    bool exp_neg = false;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) {
      exp_neg = s[j] == '-';
      ++j;
    }
    if (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
        if (exponent < 1000000) exponent = exponent * 10 + (s[j] - '0');
        ++j;
      }
      if (exp_neg) exponent = -exponent;
      i = j;
    }
  }
  if (consumed != nullptr) *consumed = i;
  // The scale the text asks for: written fractional digits minus the exponent.
  int64_t want_scale = std::max<int64_t>(0, frac_written - exponent);
  if (digits.empty()) {
    out->scale_ = static_cast<uint8_t>(std::min<int64_t>(want_scale, kMaxScale));
    return DecimalStatus::kOk;
  }
  point += exponent;  // Integer digits of the value.
  if (point > kMaxIntDigits) {
    *out = MaxValue(kMaxIntDigits, 0, negative);
    return DecimalStatus::kOverflow;
  }
  // The coefficient holds `digits` followed by zeros up to want_scale fractional digits.
  int64_t scale = want_scale;
  DecimalStatus st = DecimalStatus::kOk;
  if (scale > kMaxScale) scale = kMaxScale;
  // Keep the digits up to `scale` fractional digits, rounding half-up by the next one.
  int64_t keep = point + scale;  // Digits of `digits` kept (may exceed its size).
  Mag m;
  bool round_up = false;
  if (keep <= 0) {
    round_up = keep == 0 && digits[0] >= '5';
    st = DecimalStatus::kTruncated;
  } else {
    int64_t take = std::min<int64_t>(keep, static_cast<int64_t>(digits.size()));
    for (int64_t k = 0; k < take; ++k) {
      m.MulSmall(10);
      m.AddSmall(static_cast<uint32_t>(digits[k] - '0'));
    }
    if (keep < static_cast<int64_t>(digits.size())) {
      round_up = digits[keep] >= '5';
      st = DecimalStatus::kTruncated;
    } else {
      m.MulPow10(static_cast<int>(keep - static_cast<int64_t>(digits.size())));
    }
  }
  if (round_up) m.AddSmall(1);
  DecimalStatus st2 = DecimalAccess::FromMag(m, static_cast<int>(scale), negative, out);
  if (st2 != DecimalStatus::kOk) return st2;
  return st;
}

bool Decimal::FromDigits(std::string_view digits, int scale, bool negative, Decimal* out) {
  if (scale < 0 || scale > kMaxScale) return false;
  Mag m;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    if (m.n >= kLimbs + 1) return false;
    m.MulSmall(10);
    m.AddSmall(static_cast<uint32_t>(c - '0'));
  }
  if (m.NumDigits() - scale > kMaxIntDigits) return false;
  return DecimalAccess::FromMag(m, scale, negative, out) == DecimalStatus::kOk;
}

std::string Decimal::CoefficientDigits() const { return DecimalAccess::ToMag(*this).ToDigits(); }

bool Decimal::IsZero() const {
  for (uint32_t l : limbs_) {
    if (l != 0) return false;
  }
  return true;
}

int Decimal::IntDigits() const {
  int digits = DecimalAccess::ToMag(*this).NumDigits() - scale_;
  return digits > 0 ? digits : 0;
}

int Decimal::Precision() const {
  int p = IntDigits() + scale_;
  return p > 0 ? p : 1;
}

std::string Decimal::ToString() const {
  std::string digits = DecimalAccess::ToMag(*this).ToDigits();
  if (static_cast<int>(digits.size()) <= scale_) {
    digits.insert(0, scale_ + 1 - digits.size(), '0');
  }
  if (scale_ > 0) digits.insert(digits.size() - scale_, 1, '.');
  if (negative_) digits.insert(0, 1, '-');
  return digits;
}

double Decimal::ToDouble() const {
  std::string s = ToString();
  return std::strtod(s.c_str(), nullptr);
}

DecimalStatus Decimal::ToInt64(int64_t* out) const {
  Decimal r = Round(0, RoundMode::kHalfUp);
  Mag m = DecimalAccess::ToMag(r);
  // 2^63 = 9223372036854775808 = 9 * 10^18 + 223372036854775808.
  Mag limit = Mag::FromU64(negative_ ? 9223372036854775808ULL : 9223372036854775807ULL);
  if (Cmp(m, limit) > 0) {
    *out = negative_ ? INT64_MIN : INT64_MAX;
    return DecimalStatus::kOverflow;
  }
  uint64_t v = 0;
  for (int i = m.n - 1; i >= 0; --i) v = v * kBase + m.d[i];
  *out = negative_ ? static_cast<int64_t>(~v + 1) : static_cast<int64_t>(v);
  return DecimalStatus::kOk;
}

DecimalStatus Decimal::ToUint64(uint64_t* out) const {
  Decimal r = Round(0, RoundMode::kHalfUp);
  if (r.negative_) {
    *out = 0;
    return DecimalStatus::kOverflow;
  }
  Mag m = DecimalAccess::ToMag(r);
  Mag limit = Mag::FromU64(UINT64_MAX);
  if (Cmp(m, limit) > 0) {
    *out = UINT64_MAX;
    return DecimalStatus::kOverflow;
  }
  uint64_t v = 0;
  for (int i = m.n - 1; i >= 0; --i) v = v * kBase + m.d[i];
  *out = v;
  return DecimalStatus::kOk;
}

Decimal Decimal::Round(int scale, RoundMode mode) const {
  if (scale > kMaxScale) scale = kMaxScale;
  Mag m = DecimalAccess::ToMag(*this);
  if (scale >= scale_) {
    m.MulPow10(scale - scale_);
    Decimal out;
    if (DecimalAccess::FromMag(m, scale, negative_, &out) == DecimalStatus::kOverflow) {
      return *this;
    }
    return out;
  }
  int drop = scale_ - scale;  // > 0; may exceed the digits held.
  bool first_ge5 = false;
  bool nonzero = false;
  int remaining = drop;
  while (remaining > 0) {
    int step = std::min(remaining, 9);
    uint32_t rem = m.DivSmall(kPow10[step]);
    if (rem != 0) nonzero = true;
    if (remaining == step) first_ge5 = rem / kPow10[step - 1] >= 5;
    remaining -= step;
  }
  bool up = false;
  switch (mode) {
    case RoundMode::kHalfUp:
      up = first_ge5;
      break;
    case RoundMode::kTruncate:
      up = false;
      break;
    case RoundMode::kCeiling:
      up = nonzero && !negative_;
      break;
    case RoundMode::kFloor:
      up = nonzero && negative_;
      break;
  }
  if (up) m.AddSmall(1);
  int out_scale = scale;
  if (scale < 0) {
    m.MulPow10(-scale);
    out_scale = 0;
  }
  Decimal out;
  if (DecimalAccess::FromMag(m, out_scale, negative_, &out) == DecimalStatus::kOverflow) {
    return *this;
  }
  return out;
}

DecimalStatus Decimal::Rescale(int scale, Decimal* out) const {
  if (scale < 0) scale = 0;
  if (scale > kMaxScale) scale = kMaxScale;
  Decimal r = Round(scale, RoundMode::kHalfUp);
  if (r.scale_ != scale || r.IntDigits() > kMaxIntDigits) {
    *out = MaxValue(kMaxIntDigits, scale, negative_);
    return DecimalStatus::kOverflow;
  }
  *out = r;
  return Compare(r) == 0 ? DecimalStatus::kOk : DecimalStatus::kTruncated;
}

DecimalStatus Decimal::ToPrecision(int precision, int scale, Decimal* out) const {
  if (scale > kMaxScale) scale = kMaxScale;
  if (scale < 0) scale = 0;
  if (precision > kMaxIntDigits) precision = kMaxIntDigits;
  if (precision < scale) precision = scale;
  Decimal r = Round(scale, RoundMode::kHalfUp);
  Decimal max = MaxValue(precision, scale);
  if (r.Abs().Compare(max) > 0 || r.scale_ != scale) {
    *out = MaxValue(precision, scale, negative_);
    return DecimalStatus::kOverflow;
  }
  *out = r;
  return Compare(r) == 0 ? DecimalStatus::kOk : DecimalStatus::kTruncated;
}

Decimal Decimal::Negate() const {
  Decimal d = *this;
  d.negative_ = !negative_ && !IsZero();
  return d;
}

Decimal Decimal::Abs() const {
  Decimal d = *this;
  d.negative_ = false;
  return d;
}

DecimalStatus Decimal::Add(const Decimal& a, const Decimal& b, Decimal* out) {
  Mag ma, mb;
  int scale;
  Align(a, b, &ma, &mb, &scale);
  if (a.negative_ == b.negative_) {
    return DecimalAccess::FromMag(::rutile::sql::Add(ma, mb), scale, a.negative_, out);
  }
  int c = Cmp(ma, mb);
  if (c >= 0) return DecimalAccess::FromMag(::rutile::sql::Sub(ma, mb), scale, a.negative_, out);
  return DecimalAccess::FromMag(::rutile::sql::Sub(mb, ma), scale, b.negative_, out);
}

DecimalStatus Decimal::Sub(const Decimal& a, const Decimal& b, Decimal* out) {
  return Add(a, b.Negate(), out);
}

DecimalStatus Decimal::Mul(const Decimal& a, const Decimal& b, Decimal* out) {
  Mag m = ::rutile::sql::Mul(DecimalAccess::ToMag(a), DecimalAccess::ToMag(b));
  DecimalStatus st =
      DecimalAccess::FromMag(m, a.scale_ + b.scale_, a.negative_ != b.negative_, out);
  // Rounding away digits beyond scale 30 is how MySQL defines the product, not a loss
  // worth reporting.
  return st == DecimalStatus::kTruncated ? DecimalStatus::kOk : st;
}

DecimalStatus Decimal::Div(const Decimal& a, const Decimal& b, Decimal* out, int frac_incr) {
  if (b.IsZero()) {
    *out = Decimal();
    return DecimalStatus::kDivByZero;
  }
  int rs = std::min(a.scale_ + frac_incr, kMaxScale);
  // a/b = (A / 10^sa) / (B / 10^sb); Q = A * 10^(sb + rs - sa) / B.
  int e = b.scale_ + rs - a.scale_;
  Mag n = DecimalAccess::ToMag(a);
  Mag d = DecimalAccess::ToMag(b);
  if (e >= 0) {
    n.MulPow10(e);
  } else {
    d.MulPow10(-e);
  }
  Mag q, r;
  DivMod(n, d, &q, &r);
  // Half-up: 2r >= d.
  Mag r2 = ::rutile::sql::Add(r, r);
  if (Cmp(r2, d) >= 0) q.AddSmall(1);
  return DecimalAccess::FromMag(q, rs, a.negative_ != b.negative_, out);
}

DecimalStatus Decimal::Mod(const Decimal& a, const Decimal& b, Decimal* out) {
  if (b.IsZero()) {
    *out = Decimal();
    return DecimalStatus::kDivByZero;
  }
  Mag ma, mb;
  int scale;
  Align(a, b, &ma, &mb, &scale);
  Mag q, r;
  DivMod(ma, mb, &q, &r);
  return DecimalAccess::FromMag(r, scale, a.negative_, out);
}

int Decimal::Compare(const Decimal& other) const {
  bool za = IsZero(), zb = other.IsZero();
  if (za && zb) return 0;
  bool na = negative_ && !za, nb = other.negative_ && !zb;
  if (na != nb) return na ? -1 : 1;
  Mag ma, mb;
  int scale;
  Align(*this, other, &ma, &mb, &scale);
  int c = Cmp(ma, mb);
  return na ? -c : c;
}

}  // namespace rutile::sql
