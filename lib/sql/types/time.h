// Temporal values: Time (DATE, DATETIME, TIMESTAMP with fractional seconds) and Duration
// (TIME), with MySQL's parsing, formatting and calendar arithmetic.
//
// Time holds broken-down fields; Pack() orders them into a uint64 whose integer order is
// the chronological order (TiDB's CoreTime does the same), which is how codecs and chunks
// store it. There is no time zone: TIMESTAMP values are the session's local time.
//
// Thread safety: value types and pure functions.

#ifndef RUTILE_SQL_TYPES_TIME_H_
#define RUTILE_SQL_TYPES_TIME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rutile::sql {

enum class TimeType : uint8_t { kDate = 0, kDatetime = 1, kTimestamp = 2 };

struct Time {
  uint16_t year = 0;
  uint8_t month = 0;
  uint8_t day = 0;
  uint8_t hour = 0;
  uint8_t minute = 0;
  uint8_t second = 0;
  uint32_t micro = 0;
  TimeType type = TimeType::kDatetime;
  int8_t fsp = 0;

  // Chronologically ordered packing of the fields (type and fsp excluded).
  uint64_t Pack() const;
  // Inverse of Pack(); does not validate.
  static Time Unpack(uint64_t packed, TimeType type, int fsp);
  // True when Unpack(packed) gives a valid date or '0000-00-00' (for strict decoding).
  static bool ValidPacked(uint64_t packed);

  static Time FromDate(int year, int month, int day);
  static Time FromDatetime(int year, int month, int day, int hour, int minute, int second,
                           int micro = 0, int fsp = 0);

  bool IsZero() const { return Pack() == 0; }
  // "2024-01-02" or "2024-01-02 03:04:05[.123]" (fsp fractional digits).
  std::string ToString() const;
  // YYYYMMDD or YYYYMMDDHHMMSS, what MySQL gives a temporal in integer context.
  int64_t ToNumber() const;
  // Compares chronologically (a DATE is a DATETIME at midnight).
  int Compare(const Time& o) const;
  bool operator==(const Time& o) const { return Compare(o) == 0; }

  // Microseconds since MySQL's day 0 (0000-00-00).
  int64_t ToMicros() const;
  // Rounds the fractional seconds to `fsp` digits (half up, carrying into the seconds).
  absl::StatusOr<Time> RoundFrac(int fsp) const;
};

// TIME: signed microseconds within +-838:59:59.
struct Duration {
  static constexpr int64_t kMaxMicros =
      838LL * 3600 * 1000000 + 59 * 60 * 1000000LL + 59 * 1000000LL;  // 838:59:59.
  int64_t micros = 0;
  int8_t fsp = 0;

  // "[-]HH:MM:SS[.fff]", hours may take three digits.
  std::string ToString() const;
  // [-]HHMMSS, what MySQL gives a TIME in integer context.
  int64_t ToNumber() const;
  int Compare(const Duration& o) const {
    return micros < o.micros ? -1 : (micros > o.micros ? 1 : 0);
  }
  bool operator==(const Duration& o) const { return micros == o.micros; }
  absl::StatusOr<Duration> RoundFrac(int fsp) const;
};

// Days in `month` of `year` (0 for month 0).
int DaysInMonth(int year, int month);
bool IsLeapYear(int year);
// MySQL's calc_daynr: days since 0000-00-00 (0 for the zero date).
int64_t DayNumber(int year, int month, int day);
// Inverse of DayNumber; false when out of range (before 0000-01-01 or after 9999-12-31).
bool FromDayNumber(int64_t daynr, int* year, int* month, int* day);
// 0 = Monday ... 6 = Sunday.
int Weekday(int64_t daynr);

// Parses a DATE/DATETIME string: 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.ffffff]' (any
// punctuation as delimiters, 'T' allowed before the time), or the digit-only forms
// YYYYMMDD, YYMMDD, YYYYMMDDHHMMSS, YYMMDDHHMMSS. Two-digit years 70..99 are 19xx,
// 00..69 are 20xx. `fsp` < 0 keeps the fractional digits given (up to 6); otherwise the
// fraction is rounded to `fsp` digits. For kDate the time part is dropped.
// InvalidArgument for malformed text and impossible dates ('2024-13-01', '2024-02-30');
// '0000-00-00' is accepted.
absl::StatusOr<Time> ParseTime(std::string_view s, TimeType type, int fsp);
// Interprets an integer as MySQL does in temporal context: 20240102 -> 2024-01-02,
// 20240102030405 -> 2024-01-02 03:04:05.
absl::StatusOr<Time> TimeFromNumber(int64_t v, TimeType type, int fsp);
// Parses a TIME string: '[-][D ]HH:MM:SS[.ffffff]', 'HH:MM', 'HHMMSS', 'MMSS', 'SS'.
absl::StatusOr<Duration> ParseDuration(std::string_view s, int fsp);
absl::StatusOr<Duration> DurationFromNumber(int64_t v, int fsp);

// An INTERVAL: signed months and microseconds.
struct Interval {
  int64_t months = 0;
  int64_t micros = 0;
};
// Parses the value of `INTERVAL value unit` (unit case-insensitive: MICROSECOND, SECOND,
// MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR and the compound units such as
// DAY_SECOND, HOUR_MINUTE, YEAR_MONTH). `value` is the value's text.
absl::StatusOr<Interval> ParseInterval(std::string_view value, std::string_view unit);
// t + interval; InvalidArgument when the result leaves 0000-01-01..9999-12-31. Adding
// months clamps the day to the new month's length (2024-01-31 + 1 month = 2024-02-29).
absl::StatusOr<Time> AddInterval(const Time& t, const Interval& iv);

// MySQL's DATE_FORMAT for the common specifiers: %Y %y %m %c %d %e %D %H %k %h %I %l %i
// %s %S %f %p %M %b %W %a %w %j %T %r %%. Any other %x prints x, as MySQL does.
std::string FormatTime(const Time& t, std::string_view format);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_TIME_H_
