#include "sql/types/decimal.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace rutile::sql {
namespace {

Decimal D(const std::string& s) {
  Decimal d;
  EXPECT_EQ(Decimal::Parse(s, &d), DecimalStatus::kOk) << s;
  return d;
}

std::string Add(const std::string& a, const std::string& b) {
  Decimal r;
  Decimal::Add(D(a), D(b), &r);
  return r.ToString();
}
std::string Sub(const std::string& a, const std::string& b) {
  Decimal r;
  Decimal::Sub(D(a), D(b), &r);
  return r.ToString();
}
std::string Mul(const std::string& a, const std::string& b) {
  Decimal r;
  Decimal::Mul(D(a), D(b), &r);
  return r.ToString();
}
std::string Div(const std::string& a, const std::string& b) {
  Decimal r;
  EXPECT_EQ(Decimal::Div(D(a), D(b), &r), DecimalStatus::kOk);
  return r.ToString();
}
std::string Mod(const std::string& a, const std::string& b) {
  Decimal r;
  Decimal::Mod(D(a), D(b), &r);
  return r.ToString();
}

TEST(DecimalTest, ParseAndFormatKeepScale) {
  EXPECT_EQ(D("1.50").ToString(), "1.50");
  EXPECT_EQ(D("-0.001").ToString(), "-0.001");
  EXPECT_EQ(D("000123.4500").ToString(), "123.4500");
  EXPECT_EQ(D("0").ToString(), "0");
  EXPECT_EQ(D("-0.0").ToString(), "0.0");
  EXPECT_EQ(D(".5").ToString(), "0.5");
  EXPECT_EQ(D("1e2").ToString(), "100");
  EXPECT_EQ(D("1.5e1").ToString(), "15");
  EXPECT_EQ(D("1.25e-1").ToString(), "0.125");
  EXPECT_EQ(D("  +7").ToString(), "7");
}

TEST(DecimalTest, ParsePrefixAndErrors) {
  Decimal d;
  size_t consumed = 0;
  EXPECT_EQ(Decimal::Parse("12.5abc", &d, &consumed), DecimalStatus::kOk);
  EXPECT_EQ(consumed, 4u);
  EXPECT_EQ(d.ToString(), "12.5");
  EXPECT_EQ(Decimal::Parse("abc", &d, &consumed), DecimalStatus::kBadNumber);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(Decimal::Parse("1e", &d, &consumed), DecimalStatus::kOk);
  EXPECT_EQ(consumed, 1u);
  // More than 30 fractional digits round half up.
  EXPECT_EQ(Decimal::Parse("0.1234567890123456789012345678905", &d), DecimalStatus::kTruncated);
  EXPECT_EQ(d.ToString(), "0.123456789012345678901234567891");
  // 66 integer digits overflow.
  EXPECT_EQ(Decimal::Parse(std::string(66, '9'), &d), DecimalStatus::kOverflow);
  EXPECT_EQ(d.ToString(), std::string(65, '9'));
  EXPECT_EQ(Decimal::Parse(std::string(65, '9'), &d), DecimalStatus::kOk);
}

TEST(DecimalTest, Arithmetic) {
  EXPECT_EQ(Add("1.5", "2.25"), "3.75");
  EXPECT_EQ(Add("-1.5", "1.5"), "0.0");
  EXPECT_EQ(Sub("1", "2.50"), "-1.50");
  EXPECT_EQ(Mul("1.5", "-2.25"), "-3.375");
  EXPECT_EQ(Div("1", "3"), "0.3333");
  EXPECT_EQ(Div("2", "3"), "0.6667");
  EXPECT_EQ(Div("1.0", "3"), "0.33333");
  EXPECT_EQ(Div("1", "3.0"), "0.3333");
  EXPECT_EQ(Div("-2", "3"), "-0.6667");
  EXPECT_EQ(Div("10", "4"), "2.5000");
  EXPECT_EQ(Mod("7", "-3"), "1");
  EXPECT_EQ(Mod("-7", "3"), "-1");
  EXPECT_EQ(Mod("7.5", "2"), "1.5");
  Decimal r;
  EXPECT_EQ(Decimal::Div(D("1"), D("0"), &r), DecimalStatus::kDivByZero);
  EXPECT_EQ(Decimal::Mod(D("1"), D("0.00"), &r), DecimalStatus::kDivByZero);
  EXPECT_EQ(Decimal::Add(D(std::string(65, '9')), D("1"), &r), DecimalStatus::kOverflow);
}

TEST(DecimalTest, RoundHalfUpAwayFromZero) {
  EXPECT_EQ(D("2.5").Round(0).ToString(), "3");
  EXPECT_EQ(D("-2.5").Round(0).ToString(), "-3");
  EXPECT_EQ(D("2.4999").Round(0).ToString(), "2");
  EXPECT_EQ(D("1234.567").Round(2).ToString(), "1234.57");
  EXPECT_EQ(D("1250").Round(-2).ToString(), "1300");
  EXPECT_EQ(D("1.5").Round(3).ToString(), "1.500");
  EXPECT_EQ(D("1.9").Round(0, RoundMode::kTruncate).ToString(), "1");
  EXPECT_EQ(D("-1.1").Round(0, RoundMode::kCeiling).ToString(), "-1");
  EXPECT_EQ(D("-1.1").Round(0, RoundMode::kFloor).ToString(), "-2");
  EXPECT_EQ(D("1.1").Round(0, RoundMode::kCeiling).ToString(), "2");
  EXPECT_EQ(D("0.5").Round(-1).ToString(), "0");
}

TEST(DecimalTest, Conversions) {
  int64_t i;
  EXPECT_EQ(D("2.5").ToInt64(&i), DecimalStatus::kOk);
  EXPECT_EQ(i, 3);
  EXPECT_EQ(D("-9223372036854775808").ToInt64(&i), DecimalStatus::kOk);
  EXPECT_EQ(i, INT64_MIN);
  EXPECT_EQ(D("9223372036854775808").ToInt64(&i), DecimalStatus::kOverflow);
  EXPECT_EQ(i, INT64_MAX);
  uint64_t u;
  EXPECT_EQ(D("18446744073709551615").ToUint64(&u), DecimalStatus::kOk);
  EXPECT_EQ(u, UINT64_MAX);
  EXPECT_EQ(D("-1").ToUint64(&u), DecimalStatus::kOverflow);
  EXPECT_DOUBLE_EQ(D("0.1").ToDouble(), 0.1);
  Decimal d;
  EXPECT_EQ(Decimal::FromDouble(0.1, &d), DecimalStatus::kOk);
  EXPECT_EQ(d.ToString(), "0.1");
  EXPECT_EQ(Decimal::FromDouble(1e20, &d), DecimalStatus::kOk);
  EXPECT_EQ(d.ToString(), "100000000000000000000");
  EXPECT_EQ(Decimal::FromInt64(INT64_MIN).ToString(), "-9223372036854775808");
  EXPECT_EQ(D("1234.5").ToPrecision(4, 1, &d), DecimalStatus::kOverflow);
  EXPECT_EQ(d.ToString(), "999.9");
  EXPECT_EQ(D("12.35").ToPrecision(4, 1, &d), DecimalStatus::kTruncated);
  EXPECT_EQ(d.ToString(), "12.4");
}

TEST(DecimalTest, CompareIgnoresScale) {
  EXPECT_EQ(D("1.5").Compare(D("1.50")), 0);
  EXPECT_LT(D("-2").Compare(D("-1.99")), 0);
  EXPECT_GT(D("0.001").Compare(D("0")), 0);
  EXPECT_EQ(D("0.00").Compare(D("-0")), 0);
}

TEST(DecimalTest, LargeValues) {
  std::string big = "12345678901234567890123456789012345678901234567890123456789012345";
  EXPECT_EQ(D(big).ToString(), big);
  EXPECT_EQ(Mul("99999999999999999999999999999999", "99999999999999999999999999999999"),
            "9999999999999999999999999999999800000000000000000000000000000001");
  EXPECT_EQ(Div("9999999999999999999999999999999800000000000000000000000000000001",
                "99999999999999999999999999999999"),
            "99999999999999999999999999999999.0000");
  EXPECT_EQ(Div("1", "7.000000000000000000000000000000"), "0.1429");
  EXPECT_EQ(Div("1.000000000000000000000000000000", "7"), "0.142857142857142857142857142857");
  EXPECT_EQ(Mul("0.000000000000000000000000000001", "0.5"), "0.000000000000000000000000000001");
}

// A naive reference over __int128: values are (coefficient, scale) with at most 18
// significant digits and scale at most 9, so every intermediate fits.
struct Naive {
  __int128 coef;
  int scale;
};

__int128 Pow10(int k) {
  __int128 p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

std::string Format(Naive v) {
  bool neg = v.coef < 0;
  __int128 m = neg ? -v.coef : v.coef;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m != 0);
  if (static_cast<int>(digits.size()) <= v.scale) {
    digits.insert(0, v.scale + 1 - digits.size(), '0');
  }
  if (v.scale > 0) digits.insert(digits.size() - v.scale, 1, '.');
  if (neg) digits.insert(0, 1, '-');
  return digits;
}

Naive Align(Naive v, int scale) { return Naive{v.coef * Pow10(scale - v.scale), scale}; }

TEST(DecimalPropertyTest, MatchesNaiveBigInteger) {
  std::mt19937_64 rng(20240501);
  auto random_value = [&]() {
    int digits = 1 + static_cast<int>(rng() % 18);
    __int128 c = 0;
    for (int i = 0; i < digits; ++i) c = c * 10 + static_cast<int>(rng() % 10);
    if (rng() % 2) c = -c;
    if (rng() % 8 == 0) c = 0;
    return Naive{c, static_cast<int>(rng() % 10)};
  };
  for (int iter = 0; iter < 30000; ++iter) {
    Naive a = random_value(), b = random_value();
    Decimal da = D(Format(a)), db = D(Format(b));
    ASSERT_EQ(da.ToString(), Format(a));
    int s = std::max(a.scale, b.scale);
    Naive aa = Align(a, s), bb = Align(b, s);
    Decimal r;
    ASSERT_EQ(Decimal::Add(da, db, &r), DecimalStatus::kOk);
    ASSERT_EQ(r.ToString(), Format(Naive{aa.coef + bb.coef, s})) << Format(a) << "+" << Format(b);
    ASSERT_EQ(Decimal::Sub(da, db, &r), DecimalStatus::kOk);
    ASSERT_EQ(r.ToString(), Format(Naive{aa.coef - bb.coef, s})) << Format(a) << "-" << Format(b);
    ASSERT_EQ(Decimal::Mul(da, db, &r), DecimalStatus::kOk);
    ASSERT_EQ(r.ToString(), Format(Naive{a.coef * b.coef, a.scale + b.scale}))
        << Format(a) << "*" << Format(b);
    int cmp = aa.coef < bb.coef ? -1 : (aa.coef > bb.coef ? 1 : 0);
    ASSERT_EQ(da.Compare(db), cmp) << Format(a) << " vs " << Format(b);
    if (b.coef == 0) {
      ASSERT_EQ(Decimal::Div(da, db, &r), DecimalStatus::kDivByZero);
      continue;
    }
    // Quotient scale = a.scale + 4; Q = round_half_up(A * 10^(sb + 4) / B).
    int rs = a.scale + 4;
    __int128 n = a.coef * Pow10(b.scale + rs - a.scale);
    __int128 q = n / b.coef, rem = n % b.coef;
    __int128 abs_rem = rem < 0 ? -rem : rem, abs_b = b.coef < 0 ? -b.coef : b.coef;
    if (2 * abs_rem >= abs_b) q += ((n < 0) != (b.coef < 0)) ? -1 : 1;
    ASSERT_EQ(Decimal::Div(da, db, &r), DecimalStatus::kOk);
    ASSERT_EQ(r.ToString(), Format(Naive{q, rs})) << Format(a) << "/" << Format(b);
    ASSERT_EQ(Decimal::Mod(da, db, &r), DecimalStatus::kOk);
    ASSERT_EQ(r.ToString(), Format(Naive{aa.coef % bb.coef, s})) << Format(a) << "%" << Format(b);
    // Rounding to a random scale, half away from zero.
    int to = static_cast<int>(rng() % 12) - 2;
    if (to < a.scale) {
      __int128 unit = Pow10(a.scale - to);
      __int128 m = a.coef < 0 ? -a.coef : a.coef;
      __int128 rq = m / unit, rr = m % unit;
      if (2 * rr >= unit) ++rq;
      if (to < 0) rq *= Pow10(-to);
      Naive expect{a.coef < 0 ? -rq : rq, std::max(to, 0)};
      ASSERT_EQ(da.Round(to).ToString(), Format(expect)) << Format(a) << " round " << to;
    }
  }
}

TEST(DecimalPropertyTest, WideOperandsRoundTripThroughDivision) {
  // (a * b) / b == a for wide values, exercising multi-limb long division.
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    auto digits = [&](int n) {
      std::string s(1, static_cast<char>('1' + rng() % 9));
      for (int i = 1; i < n; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
      return s;
    };
    std::string a = digits(1 + static_cast<int>(rng() % 30));
    std::string b = digits(1 + static_cast<int>(rng() % 30));
    Decimal p, q;
    ASSERT_EQ(Decimal::Mul(D(a), D(b), &p), DecimalStatus::kOk);
    ASSERT_EQ(Decimal::Div(p, D(b), &q), DecimalStatus::kOk);
    ASSERT_EQ(q.ToString(), a + ".0000") << a << " * " << b;
  }
}

}  // namespace
}  // namespace rutile::sql
