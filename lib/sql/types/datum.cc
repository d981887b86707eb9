#include "sql/types/datum.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rutile::sql {
namespace {

// Lays out shortest digits `digits` with decimal exponent `exp10` (value = 0.digits *
// 10^exp10) the way MySQL prints doubles.
std::string Layout(bool neg, const std::string& digits, int exp10) {
  std::string out = neg ? "-" : "";
  int n = static_cast<int>(digits.size());
  // Scientific exponent of the first digit.
  int sci = exp10 - 1;
  if (sci < -15 || sci >= 15) {
    out += digits[0];
    if (n > 1) absl::StrAppend(&out, ".", digits.substr(1));
    absl::StrAppend(&out, "e", sci);
    return out;
  }
  if (exp10 <= 0) {
    absl::StrAppend(&out, "0.", std::string(-exp10, '0'), digits);
  } else if (exp10 >= n) {
    absl::StrAppend(&out, digits, std::string(exp10 - n, '0'));
  } else {
    absl::StrAppend(&out, digits.substr(0, exp10), ".", digits.substr(exp10));
  }
  return out;
}

template <typename F>
std::string FormatShortest(F v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0) return "0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view s(buf, res.ptr - buf);
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  size_t e = s.find('e');
  std::string mant(s.substr(0, e));
  int exp = 0;
  std::from_chars(s.data() + e + 1 + (s[e + 1] == '+' ? 1 : 0), s.data() + s.size(), exp);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  return Layout(neg, digits, exp + 1);
}

}  // namespace

std::string FormatDouble(double v) { return FormatShortest(v); }
std::string FormatFloat(float v) { return FormatShortest(v); }

std::string Datum::ToString() const {
  switch (kind_) {
    case DatumKind::kNull:
      return "NULL";
    case DatumKind::kInt64:
      return absl::StrCat(GetInt64());
    case DatumKind::kUint64:
      return absl::StrCat(GetUint64());
    case DatumKind::kFloat32:
      return FormatFloat(static_cast<float>(GetDouble()));
    case DatumKind::kFloat64:
      return FormatDouble(GetDouble());
    case DatumKind::kString:
      return GetString();
    case DatumKind::kDecimal:
      return GetDecimal().ToString();
    case DatumKind::kTime:
      return GetTime().ToString();
    case DatumKind::kDuration:
      return GetDuration().ToString();
    case DatumKind::kMinNotNull:
      return "-inf";
    case DatumKind::kMaxValue:
      return "+inf";
  }
  return "?";
}

std::string Datum::DebugString() const {
  switch (kind_) {
    case DatumKind::kNull:
      return "NULL";
    case DatumKind::kInt64:
      return absl::StrCat("int64(", GetInt64(), ")");
    case DatumKind::kUint64:
      return absl::StrCat("uint64(", GetUint64(), ")");
    case DatumKind::kFloat32:
      return absl::StrCat("float32(", ToString(), ")");
    case DatumKind::kFloat64:
      return absl::StrCat("float64(", ToString(), ")");
    case DatumKind::kString:
      return absl::StrCat("string('", GetString(), "')");
    case DatumKind::kDecimal:
      return absl::StrCat("decimal(", ToString(), ")");
    case DatumKind::kTime:
      return absl::StrCat("time(", ToString(), ")");
    case DatumKind::kDuration:
      return absl::StrCat("duration(", ToString(), ")");
    case DatumKind::kMinNotNull:
      return "MinNotNull";
    case DatumKind::kMaxValue:
      return "MaxValue";
  }
  return "?";
}

bool Datum::IdenticalTo(const Datum& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case DatumKind::kNull:
    case DatumKind::kMinNotNull:
    case DatumKind::kMaxValue:
      return true;
    case DatumKind::kInt64:
      return GetInt64() == o.GetInt64();
    case DatumKind::kUint64:
      return GetUint64() == o.GetUint64();
    case DatumKind::kFloat32:
    case DatumKind::kFloat64: {
      double a = GetDouble(), b = o.GetDouble();
      return a == b || (std::isnan(a) && std::isnan(b));
    }
    case DatumKind::kString:
      return GetString() == o.GetString();
    case DatumKind::kDecimal:
      return GetDecimal().scale() == o.GetDecimal().scale() &&
             GetDecimal().Compare(o.GetDecimal()) == 0;
    case DatumKind::kTime:
      return GetTime().Pack() == o.GetTime().Pack() && GetTime().type == o.GetTime().type &&
             GetTime().fsp == o.GetTime().fsp;
    case DatumKind::kDuration:
      return GetDuration().micros == o.GetDuration().micros &&
             GetDuration().fsp == o.GetDuration().fsp;
  }
  return false;
}

}  // namespace rutile::sql
