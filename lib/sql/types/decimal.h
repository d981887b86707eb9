// Decimal: MySQL's exact DECIMAL value (TiDB's MyDecimal plays this part there).
//
// A value is sign * coefficient / 10^scale with at most 65 integer digits and a scale of
// at most 30 (MySQL's DECIMAL_MAX_PRECISION and DECIMAL_MAX_SCALE). The scale is part of
// the value as MySQL shows it: "1.50" keeps scale 2; Compare() treats 1.5 and 1.50 as
// equal. The coefficient is held in base-10^9 limbs, so the type is trivially copyable
// and fixed-size, which lets chunk columns store decimals in a flat array.
//
// Arithmetic follows MySQL: + and - keep the larger scale; * adds the scales (rounded
// half-up at 30); / gives the dividend's scale plus div_precision_increment (4), rounded
// half-up; % keeps the larger scale and the dividend's sign. Results whose integer part
// would exceed 65 digits report kOverflow.
//
// Thread safety: a value type.

#ifndef RUTILE_SQL_TYPES_DECIMAL_H_
#define RUTILE_SQL_TYPES_DECIMAL_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace rutile::sql {

// Outcome of a decimal operation; anything but kOk still leaves a defined result
// (rounded, clipped to the largest magnitude, or zero for kDivByZero / kBadNumber).
enum class DecimalStatus : uint8_t {
  kOk,
  kTruncated,  // Digits beyond the representable scale were rounded away.
  kOverflow,   // The integer part did not fit; the result is clipped.
  kDivByZero,  // Division or modulo by zero; the result is zero.
  kBadNumber,  // The text held no number at all.
};

enum class RoundMode : uint8_t {
  kHalfUp,    // Half away from zero: 2.5 -> 3, -2.5 -> -3 (MySQL's ROUND for DECIMAL).
  kTruncate,  // Toward zero.
  kCeiling,   // Toward +infinity.
  kFloor,     // Toward -infinity.
};

class Decimal {
 public:
  static constexpr int kMaxIntDigits = 65;
  static constexpr int kMaxScale = 30;
  // Base-10^9 limbs: 65 + 30 digits need 11 of them.
  static constexpr int kLimbs = 11;

  Decimal() = default;

  static Decimal FromInt64(int64_t v);
  static Decimal FromUint64(uint64_t v);
  // Converts through the shortest text that round-trips `v`; NaN or infinities give
  // kBadNumber, magnitudes beyond 65 integer digits kOverflow.
  static DecimalStatus FromDouble(double v, Decimal* out);
  // Parses the longest prefix of `s` shaped like [spaces][sign]digits[.digits][e[sign]
  // digits] (either digit run may be empty, not both). Sets *consumed (if non-null) to
  // the bytes the number took, including leading spaces; 0 with kBadNumber when there
  // was no number. Digits past scale 30 are rounded half-up (kTruncated).
  static DecimalStatus Parse(std::string_view s, Decimal* out, size_t* consumed = nullptr);
  // The largest magnitude with `precision` digits of which `scale` are fractional.
  static Decimal MaxValue(int precision, int scale, bool negative = false);

  bool IsZero() const;
  bool IsNegative() const { return negative_; }
  int scale() const { return scale_; }
  // Digits before the decimal point, leading zeros not counted (0 for 0.5).
  int IntDigits() const;
  // IntDigits() + scale(), at least 1: the precision MySQL reports for the value.
  int Precision() const;

  // MySQL's text form: "-12.50", "0.001", "0".
  std::string ToString() const;
  double ToDouble() const;
  // Rounds half-up to an integer; out-of-range values are clipped (kOverflow).
  DecimalStatus ToInt64(int64_t* out) const;
  // Negative values give 0 and kOverflow, as MySQL's decimal2ulonglong.
  DecimalStatus ToUint64(uint64_t* out) const;

  // Rounds to `scale` fractional digits; a negative scale rounds to tens, hundreds, ...
  // and the result has scale max(scale, 0). A scale above 30 is taken as 30.
  Decimal Round(int scale, RoundMode mode = RoundMode::kHalfUp) const;
  // Changes the scale to exactly `scale` (rounding half-up when it shrinks). kOverflow
  // when the integer part no longer fits.
  DecimalStatus Rescale(int scale, Decimal* out) const;
  // Fits the value into DECIMAL(precision, scale): rounds to `scale`, clips the magnitude
  // to MaxValue(precision, scale) with kOverflow; kTruncated when nonzero digits were
  // rounded away.
  DecimalStatus ToPrecision(int precision, int scale, Decimal* out) const;

  Decimal Negate() const;
  Decimal Abs() const;

  static DecimalStatus Add(const Decimal& a, const Decimal& b, Decimal* out);
  static DecimalStatus Sub(const Decimal& a, const Decimal& b, Decimal* out);
  static DecimalStatus Mul(const Decimal& a, const Decimal& b, Decimal* out);
  // The quotient rounded half-up to scale min(a.scale() + frac_incr, 30).
  static DecimalStatus Div(const Decimal& a, const Decimal& b, Decimal* out, int frac_incr = 4);
  // The remainder with the dividend's sign and scale max(a.scale(), b.scale()).
  static DecimalStatus Mod(const Decimal& a, const Decimal& b, Decimal* out);

  // -1, 0 or 1, comparing values (scale-insensitive).
  int Compare(const Decimal& other) const;
  bool operator==(const Decimal& o) const { return Compare(o) == 0; }
  bool operator<(const Decimal& o) const { return Compare(o) < 0; }

  // Raw access for codecs: the coefficient's limbs (least significant first).
  const uint32_t* limbs() const { return limbs_; }
  // Builds a value from a coefficient's decimal digits (no sign, no point), the scale and
  // the sign. Returns false when the digits are not all '0'..'9' or do not fit.
  static bool FromDigits(std::string_view digits, int scale, bool negative, Decimal* out);
  // The coefficient's decimal digits without leading zeros ("" for zero).
  std::string CoefficientDigits() const;

 private:
  friend struct DecimalAccess;
  uint32_t limbs_[kLimbs] = {};
  uint8_t scale_ = 0;
  bool negative_ = false;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_DECIMAL_H_
