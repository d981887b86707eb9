#include "sql/types/time.h"

#include <cstdio>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rutile::sql {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;
constexpr int kPow10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

absl::Status BadTime(std::string_view s) {
  return absl::InvalidArgumentError("Incorrect datetime value: '" + std::string(s) + "'");
}

int64_t TimeOfDayMicros(const Time& t) {
  return ((t.hour * 60LL + t.minute) * 60 + t.second) * kMicrosPerSecond + t.micro;
}

bool FromMicros(int64_t micros, TimeType type, int fsp, Time* out) {
  if (micros < 0) return false;
  int64_t daynr = micros / kMicrosPerDay;
  int64_t rest = micros % kMicrosPerDay;
  int y, m, d;
  if (!FromDayNumber(daynr, &y, &m, &d)) return false;
  *out = Time::FromDate(y, m, d);
  out->type = type;
  out->fsp = static_cast<int8_t>(fsp);
  if (type != TimeType::kDate) {
    out->micro = static_cast<uint32_t>(rest % kMicrosPerSecond);
    int64_t secs = rest / kMicrosPerSecond;
    out->second = static_cast<uint8_t>(secs % 60);
    out->minute = static_cast<uint8_t>(secs / 60 % 60);
    out->hour = static_cast<uint8_t>(secs / 3600);
  }
  return true;
}

bool ValidDate(int y, int m, int d) {
  if (y == 0 && m == 0 && d == 0) return true;
  if (y < 0 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  return d <= DaysInMonth(y, m);
}

int ExpandYear(int y, size_t digits) {
  if (digits <= 2) return y < 70 ? 2000 + y : 1900 + y;
  return y;
}

// Parses `frac` digits into microseconds with rounding to `fsp` digits (fsp < 0: keep up
// to 6 digits). Returns the rounded micro and sets *carry when it reached a full second.
uint32_t FracMicros(std::string_view frac, int fsp, bool* carry, int* digits_seen) {
  *carry = false;
  int64_t micro = 0;
  size_t n = frac.size() < 6 ? frac.size() : 6;
  for (size_t i = 0; i < 6; ++i) micro = micro * 10 + (i < n ? frac[i] - '0' : 0);
  *digits_seen = static_cast<int>(n);
  int keep = fsp < 0 ? 6 : fsp;
  // Round half up using the 7th digit when keeping 6, otherwise the digit after `keep`.
  if (keep == 6) {
    if (frac.size() > 6 && frac[6] >= '5') ++micro;
  } else {
    int64_t unit = kPow10[6 - keep];
    micro = (micro + unit / 2) / unit * unit;
  }
  if (micro >= kMicrosPerSecond) {
    *carry = true;
    micro -= kMicrosPerSecond;
  }
  return static_cast<uint32_t>(micro);
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

absl::StatusOr<Time> Finish(int y, int mo, int d, int h, int mi, int sec, std::string_view frac,
                            TimeType type, int fsp, std::string_view orig) {
  if (!ValidDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) return BadTime(orig);
  bool carry = false;
  int digits = 0;
  uint32_t micro = FracMicros(frac, type == TimeType::kDate ? 0 : fsp, &carry, &digits);
  int out_fsp = fsp < 0 ? digits : fsp;
  Time t = Time::FromDatetime(y, mo, d, h, mi, sec, static_cast<int>(micro), out_fsp);
  t.type = type;
  if (carry) {
    if (t.IsZero()) return BadTime(orig);
    Time r;
    if (!FromMicros(t.ToMicros() + kMicrosPerSecond, type, out_fsp, &r)) return BadTime(orig);
    t = r;
  }
  if (type == TimeType::kDate) {
    t.hour = t.minute = t.second = 0;
    t.micro = 0;
    t.fsp = 0;
  }
  return t;
}

}  // namespace

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

int64_t DayNumber(int year, int month, int day) {
  if (year == 0 && month == 0) return 0;
  int64_t y = year;
  int64_t delsum = 365 * y + 31 * (month - 1) + day;
  if (month <= 2) {
    --y;
  } else {
    delsum -= (month * 4 + 23) / 10;
  }
  int64_t temp = ((y / 100 + 1) * 3) / 4;
  return delsum + y / 4 - temp;
}

bool FromDayNumber(int64_t daynr, int* year, int* month, int* day) {
  // 366 is 0001-01-01... MySQL treats day numbers below 366 as invalid except the zero
  // date; we accept year 0 dates too (day numbers 1..365) for round trips.
  if (daynr <= 0 || daynr > DayNumber(9999, 12, 31)) return false;
  // Search the year: DayNumber is monotonic.
  int y = static_cast<int>(daynr * 100 / 36525);
  if (y > 9999) y = 9999;
  while (y > 0 && DayNumber(y, 1, 1) > daynr) --y;
  while (y < 9999 && DayNumber(y + 1, 1, 1) <= daynr) ++y;
  int64_t doy = daynr - DayNumber(y, 1, 1);  // 0-based.
  int m = 1;
  while (m < 12 && doy >= DaysInMonth(y, m)) {
    doy -= DaysInMonth(y, m);
    ++m;
  }
  *year = y;
  *month = m;
  *day = static_cast<int>(doy) + 1;
  return true;
}

int Weekday(int64_t daynr) { return static_cast<int>((daynr + 5) % 7); }

uint64_t Time::Pack() const {
  return (static_cast<uint64_t>(year) << 46) | (static_cast<uint64_t>(month) << 42) |
         (static_cast<uint64_t>(day) << 37) | (static_cast<uint64_t>(hour) << 32) |
         (static_cast<uint64_t>(minute) << 26) | (static_cast<uint64_t>(second) << 20) | micro;
}

Time Time::Unpack(uint64_t p, TimeType type, int fsp) {
  Time t;
  t.year = static_cast<uint16_t>((p >> 46) & 0x3FFF);
  t.month = static_cast<uint8_t>((p >> 42) & 0xF);
  t.day = static_cast<uint8_t>((p >> 37) & 0x1F);
  t.hour = static_cast<uint8_t>((p >> 32) & 0x1F);
  t.minute = static_cast<uint8_t>((p >> 26) & 0x3F);
  t.second = static_cast<uint8_t>((p >> 20) & 0x3F);
  t.micro = static_cast<uint32_t>(p & 0xFFFFF);
  t.type = type;
  t.fsp = static_cast<int8_t>(fsp);
  return t;
}

bool Time::ValidPacked(uint64_t p) {
  if (p >> 60 != 0) return false;
  Time t = Unpack(p, TimeType::kDatetime, 0);
  if (t.IsZero()) return true;
  return ValidDate(t.year, t.month, t.day) && t.hour <= 23 && t.minute <= 59 && t.second <= 59 &&
         t.micro < 1000000;
}

Time Time::FromDate(int year, int month, int day) {
  Time t;
  t.year = static_cast<uint16_t>(year);
  t.month = static_cast<uint8_t>(month);
  t.day = static_cast<uint8_t>(day);
  t.type = TimeType::kDate;
  return t;
}

Time Time::FromDatetime(int year, int month, int day, int hour, int minute, int second, int micro,
                        int fsp) {
  Time t = FromDate(year, month, day);
  t.type = TimeType::kDatetime;
  t.hour = static_cast<uint8_t>(hour);
  t.minute = static_cast<uint8_t>(minute);
  t.second = static_cast<uint8_t>(second);
  t.micro = static_cast<uint32_t>(micro);
  t.fsp = static_cast<int8_t>(fsp);
  return t;
}

std::string Time::ToString() const {
  if (type == TimeType::kDate) return absl::StrFormat("%04d-%02d-%02d", year, month, day);
  std::string s =
      absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d", year, month, day, hour, minute, second);
  if (fsp > 0) {
    std::string frac = absl::StrFormat("%06d", micro);
    absl::StrAppend(&s, ".", frac.substr(0, fsp));
  }
  return s;
}

int64_t Time::ToNumber() const {
  int64_t date = year * 10000LL + month * 100 + day;
  if (type == TimeType::kDate) return date;
  return date * 1000000LL + hour * 10000LL + minute * 100 + second;
}

int Time::Compare(const Time& o) const {
  uint64_t a = Pack(), b = o.Pack();
  return a < b ? -1 : (a > b ? 1 : 0);
}

int64_t Time::ToMicros() const {
  return DayNumber(year, month, day) * kMicrosPerDay + TimeOfDayMicros(*this);
}

absl::StatusOr<Time> Time::RoundFrac(int new_fsp) const {
  if (new_fsp < 0) new_fsp = 0;
  if (new_fsp > 6) new_fsp = 6;
  Time t = *this;
  t.fsp = static_cast<int8_t>(new_fsp);
  if (type == TimeType::kDate) return t;
  int64_t unit = kPow10[6 - new_fsp];
  int64_t m = (micro + unit / 2) / unit * unit;
  if (m < kMicrosPerSecond) {
    t.micro = static_cast<uint32_t>(m);
    return t;
  }
  if (IsZero()) return absl::InvalidArgumentError("datetime out of range");
  Time r;
  t.micro = 0;
  if (!FromMicros(t.ToMicros() + kMicrosPerSecond, type, new_fsp, &r)) {
    return absl::InvalidArgumentError("datetime out of range");
  }
  return r;
}

std::string Duration::ToString() const {
  int64_t v = micros < 0 ? -micros : micros;
  int64_t frac = v % 1000000;
  int64_t secs = v / 1000000;
  std::string s = absl::StrFormat("%s%02d:%02d:%02d", micros < 0 ? "-" : "", secs / 3600,
                                  secs / 60 % 60, secs % 60);
  if (fsp > 0) {
    std::string f = absl::StrFormat("%06d", frac);
    absl::StrAppend(&s, ".", f.substr(0, fsp));
  }
  return s;
}

int64_t Duration::ToNumber() const {
  int64_t v = micros < 0 ? -micros : micros;
  int64_t secs = v / 1000000;
  int64_t n = secs / 3600 * 10000 + secs / 60 % 60 * 100 + secs % 60;
  return micros < 0 ? -n : n;
}

absl::StatusOr<Duration> Duration::RoundFrac(int new_fsp) const {
  if (new_fsp < 0) new_fsp = 0;
  if (new_fsp > 6) new_fsp = 6;
  int64_t unit = kPow10[6 - new_fsp];
  int64_t v = micros < 0 ? -micros : micros;
  v = (v + unit / 2) / unit * unit;
  if (v > kMaxMicros) return absl::InvalidArgumentError("time out of range");
  Duration d;
  d.micros = micros < 0 ? -v : v;
  d.fsp = static_cast<int8_t>(new_fsp);
  return d;
}

absl::StatusOr<Time> ParseTime(std::string_view orig, TimeType type, int fsp) {
  std::string_view s = TrimSpaces(orig);
  if (s.empty()) return BadTime(orig);
  // Split off a fractional part: the last '.' after the time, for the delimited form, or
  // after 14/12 digits for the digit form.
  size_t digits_end = 0;
  while (digits_end < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[digits_end]))) {
    ++digits_end;
  }
  if (digits_end == s.size() || (s[digits_end] == '.' && digits_end >= 12)) {
    std::string_view num = s.substr(0, digits_end);
    std::string_view frac;
    if (digits_end < s.size()) {
      frac = s.substr(digits_end + 1);
      if (!frac.empty() && !AllDigits(frac)) return BadTime(orig);
    }
    size_t n = num.size();
    if (n == 8 || n == 6) {
      size_t yl = n == 8 ? 4 : 2;
      int y = ExpandYear(ToInt(num.substr(0, yl)), yl);
      return Finish(y, ToInt(num.substr(yl, 2)), ToInt(num.substr(yl + 2, 2)), 0, 0, 0, frac, type,
                    fsp, orig);
    }
    if (n == 14 || n == 12) {
      size_t yl = n == 14 ? 4 : 2;
      int y = ExpandYear(ToInt(num.substr(0, yl)), yl);
      return Finish(y, ToInt(num.substr(yl, 2)), ToInt(num.substr(yl + 2, 2)),
                    ToInt(num.substr(yl + 4, 2)), ToInt(num.substr(yl + 6, 2)),
                    ToInt(num.substr(yl + 8, 2)), frac, type, fsp, orig);
    }
    return BadTime(orig);
  }
  // Delimited: up to 6 numeric fields, then an optional fraction.
  std::vector<std::string_view> fields;
  std::string_view frac;
  size_t i = 0;
  size_t year_digits = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i) return BadTime(orig);
    if (fields.empty()) year_digits = j - i;
    fields.push_back(s.substr(i, j - i));
    if (fields.back().size() > (fields.size() == 1 ? 4u : 2u)) return BadTime(orig);
    if (j == s.size()) break;
    char sep = s[j];
    if (fields.size() == 6) {
      if (sep != '.') return BadTime(orig);
      frac = s.substr(j + 1);
      if (!AllDigits(frac)) return BadTime(orig);
      break;
    }
    if (fields.size() == 3) {
      // Date/time separator: 'T' or whitespace.
      if (sep != 'T' && sep != ' ' && sep != '\t') {
        if (!absl::ascii_ispunct(static_cast<unsigned char>(sep))) return BadTime(orig);
      }
      ++j;
      while (j < s.size() && s[j] == ' ') ++j;
    } else {
      if (!absl::ascii_ispunct(static_cast<unsigned char>(sep))) return BadTime(orig);
      ++j;
    }
    i = j;
  }
  if (fields.size() != 3 && fields.size() != 5 && fields.size() != 6) return BadTime(orig);
  int y = ExpandYear(ToInt(fields[0]), year_digits);
  int h = fields.size() > 3 ? ToInt(fields[3]) : 0;
  int mi = fields.size() > 4 ? ToInt(fields[4]) : 0;
  int sec = fields.size() > 5 ? ToInt(fields[5]) : 0;
  return Finish(y, ToInt(fields[1]), ToInt(fields[2]), h, mi, sec, frac, type, fsp, orig);
}

absl::StatusOr<Time> TimeFromNumber(int64_t v, TimeType type, int fsp) {
  if (v < 0) return BadTime(std::to_string(v));
  if (v == 0) {
    Time t;
    t.type = type;
    t.fsp = static_cast<int8_t>(fsp < 0 ? 0 : fsp);
    return t;
  }
  std::string s = std::to_string(v);
  // MySQL pads short numbers: YYMMDD needs 6 digits, YYYYMMDD 8, then 12 and 14.
  size_t n = s.size();
  size_t want = n <= 6 ? 6 : (n <= 8 ? 8 : (n <= 12 ? 12 : 14));
  if (n > 14) return BadTime(s);
  s.insert(0, want - n, '0');
  return ParseTime(s, type, fsp);
}

absl::StatusOr<Duration> ParseDuration(std::string_view orig, int fsp) {
  std::string_view s = TrimSpaces(orig);
  auto bad = [&] {
    return absl::InvalidArgumentError("Incorrect time value: '" + std::string(orig) + "'");
  };
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s.empty()) return bad();
  std::string_view frac;
  size_t dot = s.find('.');
  if (dot != std::string_view::npos) {
    frac = s.substr(dot + 1);
    s = s.substr(0, dot);
    if (!frac.empty() && !AllDigits(frac)) return bad();
  }
  int64_t days = 0, h = 0, m = 0, sec = 0;
  size_t space = s.find(' ');
  if (space != std::string_view::npos) {
    std::string_view d = s.substr(0, space);
    if (!AllDigits(d) || d.size() > 3) return bad();
    days = ToInt(d);
    s = TrimSpaces(s.substr(space + 1));
  }
  if (s.find(':') != std::string_view::npos) {
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (true) {
      size_t j = s.find(':', i);
      parts.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
      if (j == std::string_view::npos) break;
      i = j + 1;
    }
    if (parts.size() > 3) return bad();
    for (auto p : parts) {
      if (!AllDigits(p) || p.size() > 7) return bad();
    }
    h = ToInt(parts[0]);
    m = parts.size() > 1 ? ToInt(parts[1]) : 0;
    sec = parts.size() > 2 ? ToInt(parts[2]) : 0;
  } else {
    if (!AllDigits(s) || s.size() > 7) return bad();
    int64_t v = ToInt(s);
    sec = v % 100;
    m = v / 100 % 100;
    h = v / 10000;
  }
  if (m > 59 || sec > 59) return bad();
  h += days * 24;
  bool carry = false;
  int digits = 0;
  uint32_t micro = FracMicros(frac, fsp, &carry, &digits);
  int64_t total = ((h * 60 + m) * 60 + sec + (carry ? 1 : 0)) * kMicrosPerSecond + micro;
  if (total > Duration::kMaxMicros) return bad();
  Duration d;
  d.micros = neg ? -total : total;
  d.fsp = static_cast<int8_t>(fsp < 0 ? digits : fsp);
  return d;
}

absl::StatusOr<Duration> DurationFromNumber(int64_t v, int fsp) {
  std::string s = v < 0 ? absl::StrCat("-", -(v / 10), -(v % 10)) : std::to_string(v);
  if (v < 0 && v > -10) s = absl::StrCat("-", -v);
  return ParseDuration(s, fsp);
}

absl::StatusOr<Interval> ParseInterval(std::string_view value, std::string_view unit_in) {
  std::string unit = absl::AsciiStrToUpper(std::string(unit_in));
  std::string_view v = TrimSpaces(value);
  auto bad = [&] {
    return absl::InvalidArgumentError("Incorrect INTERVAL value: '" + std::string(value) + "'");
  };
  bool neg = false;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  // Components of each unit, most significant first: Y M D h m s u (u = microseconds).
  struct UnitSpec {
    const char* name;
    const char* fields;
  };
  static constexpr UnitSpec kUnits[] = {
      {"MICROSECOND", "u"},
      {"SECOND", "s"},
      {"MINUTE", "m"},
      {"HOUR", "h"},
      {"DAY", "D"},
      {"WEEK", "W"},
      {"MONTH", "M"},
      {"QUARTER", "Q"},
      {"YEAR", "Y"},
      {"SECOND_MICROSECOND", "su"},
      {"MINUTE_MICROSECOND", "msu"},
      {"MINUTE_SECOND", "ms"},
      {"HOUR_MICROSECOND", "hmsu"},
      {"HOUR_SECOND", "hms"},
      {"HOUR_MINUTE", "hm"},
      {"DAY_MICROSECOND", "Dhmsu"},
      {"DAY_SECOND", "Dhms"},
      {"DAY_MINUTE", "Dhm"},
      {"DAY_HOUR", "Dh"},
      {"YEAR_MONTH", "YM"},
  };
  const UnitSpec* spec = nullptr;
  for (const auto& u : kUnits) {
    if (unit == u.name) spec = &u;
  }
  if (spec == nullptr)
    return absl::InvalidArgumentError("Unknown INTERVAL unit " + std::string(unit_in));
  std::string_view fields = spec->fields;
  std::vector<int64_t> nums;
  if (fields.size() == 1) {
    // A single number; SECOND keeps six fractional digits, the others round half up.
    size_t i = 0;
    int64_t whole = 0;
    while (i < v.size() && absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) {
      if (whole > 1000000000000LL) return bad();
      whole = whole * 10 + (v[i] - '0');
      ++i;
    }
    int64_t frac_micros = 0;
    if (i < v.size() && v[i] == '.') {
      ++i;
      int digits = 0;
      while (i < v.size() && absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) {
        if (digits < 6) {
          frac_micros = frac_micros * 10 + (v[i] - '0');
        } else if (digits == 6 && v[i] >= '5') {
          frac_micros += 1;
        }
        ++digits;
        ++i;
      }
      for (int k = digits; k < 6; ++k) frac_micros *= 10;
    }
    if (i == 0 && v.empty()) return bad();
    if (fields[0] == 's') {
      nums.push_back(whole * 1000000 + frac_micros);
      fields = "u";
    } else {
      nums.push_back(whole + (frac_micros >= 500000 ? 1 : 0));
    }
  } else {
    size_t i = 0;
    std::vector<std::string_view> parts;
    while (i < v.size()) {
      size_t j = i;
      while (j < v.size() && absl::ascii_isdigit(static_cast<unsigned char>(v[j]))) ++j;
      if (j == i) {
        ++i;
        continue;
      }
      if (j - i > 12) return bad();
      parts.push_back(v.substr(i, j - i));
      i = j;
    }
    if (parts.empty() || parts.size() > fields.size()) return bad();
    // Fewer parts than fields: they fill the least significant fields.
    fields = fields.substr(fields.size() - parts.size());
    for (size_t k = 0; k < parts.size(); ++k) {
      int64_t n = 0;
      for (char c : parts[k]) n = n * 10 + (c - '0');
      if (fields[k] == 'u') {
        // A microsecond field is a fraction: '.5' is 500000.
        for (size_t d = parts[k].size(); d < 6; ++d) n *= 10;
      }
      nums.push_back(n);
    }
  }
  // Accumulate in 128 bits so that huge values are rejected rather than overflowing.
  __int128 months = 0, micros = 0;
  for (size_t k = 0; k < fields.size(); ++k) {
    __int128 n = nums[k];
    switch (fields[k]) {
      case 'Y':
        months += n * 12;
        break;
      case 'Q':
        months += n * 3;
        break;
      case 'M':
        months += n;
        break;
      case 'W':
        micros += n * 7 * kMicrosPerDay;
        break;
      case 'D':
        micros += n * kMicrosPerDay;
        break;
      case 'h':
        micros += n * 3600 * kMicrosPerSecond;
        break;
      case 'm':
        micros += n * 60 * kMicrosPerSecond;
        break;
      case 's':
        micros += n * kMicrosPerSecond;
        break;
      case 'u':
        micros += n;
        break;
    }
  }
  if (months > 200000 || micros > static_cast<__int128>(4000000LL) * kMicrosPerDay) return bad();
  Interval iv;
  iv.months = static_cast<int64_t>(months);
  iv.micros = static_cast<int64_t>(micros);
  if (neg) {
    iv.months = -iv.months;
    iv.micros = -iv.micros;
  }
  return iv;
}

absl::StatusOr<Time> AddInterval(const Time& t, const Interval& iv) {
  auto out_of_range = [] { return absl::InvalidArgumentError("datetime value out of range"); };
  if (t.month == 0 || t.day == 0) return out_of_range();
  Time r = t;
  if (iv.months != 0) {
    int64_t total = t.year * 12LL + (t.month - 1) + iv.months;
    if (total < 0 || total >= 10000 * 12) return out_of_range();
    r.year = static_cast<uint16_t>(total / 12);
    r.month = static_cast<uint8_t>(total % 12 + 1);
    int dim = DaysInMonth(r.year, r.month);
    if (r.day > dim) r.day = static_cast<uint8_t>(dim);
  }
  if (iv.micros != 0) {
    // A DATE plus a time-carrying interval becomes a DATETIME.
    if (r.type == TimeType::kDate && iv.micros % kMicrosPerDay != 0) r.type = TimeType::kDatetime;
    if (iv.micros % kMicrosPerSecond != 0 && r.fsp < 6) r.fsp = 6;
    int64_t m = r.ToMicros() + iv.micros;
    Time out;
    if (!FromMicros(m, r.type, r.fsp, &out)) return out_of_range();
    if (out.year == 0) return out_of_range();
    r = out;
  }
  if (r.year == 0 && t.year != 0) return out_of_range();
  return r;
}

std::string FormatTime(const Time& t, std::string_view format) {
  static constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
  static constexpr const char* kDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
  std::string out;
  int64_t daynr = DayNumber(t.year, t.month, t.day);
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%' || i + 1 == format.size()) {
      out.push_back(c);
      continue;
    }
    char f = format[++i];
    int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
    switch (f) {
      case 'Y':
        absl::StrAppendFormat(&out, "%04d", t.year);
        break;
      case 'y':
        absl::StrAppendFormat(&out, "%02d", t.year % 100);
        break;
      case 'm':
        absl::StrAppendFormat(&out, "%02d", t.month);
        break;
      case 'c':
        absl::StrAppend(&out, t.month);
        break;
      case 'd':
        absl::StrAppendFormat(&out, "%02d", t.day);
        break;
      case 'e':
        absl::StrAppend(&out, t.day);
        break;
      case 'D': {
        const char* suffix = "th";
        if (t.day % 100 < 11 || t.day % 100 > 13) {
          if (t.day % 10 == 1) suffix = "st";
          if (t.day % 10 == 2) suffix = "nd";
          if (t.day % 10 == 3) suffix = "rd";
        }
        absl::StrAppend(&out, t.day, suffix);
        break;
      }
      case 'H':
        absl::StrAppendFormat(&out, "%02d", t.hour);
        break;
      case 'k':
        absl::StrAppend(&out, t.hour);
        break;
      case 'h':
      case 'I':
        absl::StrAppendFormat(&out, "%02d", hour12);
        break;
      case 'l':
        absl::StrAppend(&out, hour12);
        break;
      case 'i':
        absl::StrAppendFormat(&out, "%02d", t.minute);
        break;
      case 's':
      case 'S':
        absl::StrAppendFormat(&out, "%02d", t.second);
        break;
      case 'f':
        absl::StrAppendFormat(&out, "%06d", t.micro);
        break;
      case 'p':
        out += t.hour < 12 ? "AM" : "PM";
        break;
      case 'M':
        if (t.month >= 1 && t.month <= 12) out += kMonths[t.month - 1];
        break;
      case 'b':
        if (t.month >= 1 && t.month <= 12) out += std::string(kMonths[t.month - 1]).substr(0, 3);
        break;
      case 'W':
        if (daynr > 0) out += kDays[Weekday(daynr)];
        break;
      case 'a':
        if (daynr > 0) out += std::string(kDays[Weekday(daynr)]).substr(0, 3);
        break;
      case 'w':
        if (daynr > 0) absl::StrAppend(&out, (Weekday(daynr) + 1) % 7);
        break;
      case 'j':
        absl::StrAppendFormat(&out, "%03d", t.month == 0 ? 0 : daynr - DayNumber(t.year, 1, 1) + 1);
        break;
      case 'T':
        absl::StrAppendFormat(&out, "%02d:%02d:%02d", t.hour, t.minute, t.second);
        break;
      case 'r':
        absl::StrAppendFormat(&out, "%02d:%02d:%02d %s", hour12, t.minute, t.second,
                              t.hour < 12 ? "AM" : "PM");
        break;
      default:
        out.push_back(f);
        break;
    }
  }
  return out;
}

}  // namespace rutile::sql
