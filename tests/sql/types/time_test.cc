#include "sql/types/time.h"

#include <random>

#include "gtest/gtest.h"

namespace rutile::sql {
namespace {

std::string P(std::string_view s, TimeType type = TimeType::kDatetime, int fsp = -1) {
  absl::StatusOr<Time> t = ParseTime(s, type, fsp);
  return t.ok() ? t->ToString() : "ERR";
}

TEST(TimeTest, ParsesMySqlFormats) {
  EXPECT_EQ(P("2024-01-02", TimeType::kDate), "2024-01-02");
  EXPECT_EQ(P("2024-01-02"), "2024-01-02 00:00:00");
  EXPECT_EQ(P("2024-01-02 03:04:05.123"), "2024-01-02 03:04:05.123");
  EXPECT_EQ(P("2024-01-02 03:04:05.123", TimeType::kDatetime, 0), "2024-01-02 03:04:05");
  EXPECT_EQ(P("2024-01-02 03:04:05.5", TimeType::kDatetime, 0), "2024-01-02 03:04:06");
  EXPECT_EQ(P("2024-12-31 23:59:59.9", TimeType::kDatetime, 0), "2025-01-01 00:00:00");
  EXPECT_EQ(P("2024-01-02T03:04:05"), "2024-01-02 03:04:05");
  EXPECT_EQ(P("2024/1/2 3:4:5"), "2024-01-02 03:04:05");
  EXPECT_EQ(P("20240102", TimeType::kDate), "2024-01-02");
  EXPECT_EQ(P("240102", TimeType::kDate), "2024-01-02");
  EXPECT_EQ(P("990102", TimeType::kDate), "1999-01-02");
  EXPECT_EQ(P("20240102030405"), "2024-01-02 03:04:05");
  EXPECT_EQ(P("0000-00-00", TimeType::kDate), "0000-00-00");
  EXPECT_EQ(P(" 2024-01-02 ", TimeType::kDate), "2024-01-02");
  EXPECT_EQ(P("2024-01-02 03:04:05", TimeType::kDate), "2024-01-02");
  EXPECT_EQ(P("2024-02-29", TimeType::kDate), "2024-02-29");
}

TEST(TimeTest, RejectsInvalidDates) {
  EXPECT_EQ(P("2024-13-01"), "ERR");
  EXPECT_EQ(P("2023-02-29"), "ERR");
  EXPECT_EQ(P("2024-04-31"), "ERR");
  EXPECT_EQ(P("2024-01-02 24:00:00"), "ERR");
  EXPECT_EQ(P("abc"), "ERR");
  EXPECT_EQ(P(""), "ERR");
  EXPECT_EQ(P("2024-01"), "ERR");
  EXPECT_EQ(P("2024-01-02 03:04:05x"), "ERR");
  EXPECT_EQ(P("12345"), "ERR");
}

TEST(TimeTest, NumbersAndFormatting) {
  EXPECT_EQ(TimeFromNumber(20240102, TimeType::kDate, 0)->ToString(), "2024-01-02");
  EXPECT_EQ(TimeFromNumber(20240102030405, TimeType::kDatetime, 0)->ToString(),
            "2024-01-02 03:04:05");
  EXPECT_FALSE(TimeFromNumber(20241302, TimeType::kDate, 0).ok());
  Time t = Time::FromDatetime(2024, 1, 2, 3, 4, 5, 120000, 2);
  EXPECT_EQ(t.ToNumber(), 20240102030405);
  EXPECT_EQ(t.ToString(), "2024-01-02 03:04:05.12");
  EXPECT_EQ(FormatTime(t, "%Y%m%d %T %f %%"), "20240102 03:04:05 120000 %");
}

TEST(TimeTest, Durations) {
  auto d = [](std::string_view s, int fsp = -1) {
    absl::StatusOr<Duration> r = ParseDuration(s, fsp);
    return r.ok() ? r->ToString() : "ERR";
  };
  EXPECT_EQ(d("10:11:12"), "10:11:12");
  EXPECT_EQ(d("-10:11:12.5"), "-10:11:12.5");
  EXPECT_EQ(d("1 02:00:00"), "26:00:00");
  EXPECT_EQ(d("838:59:59"), "838:59:59");
  EXPECT_EQ(d("839:00:00"), "ERR");
  EXPECT_EQ(d("101112"), "10:11:12");
  EXPECT_EQ(d("12:30"), "12:30:00");
  EXPECT_EQ(d("10:60:00"), "ERR");
  EXPECT_EQ(d("1.5", 0), "00:00:02");
  EXPECT_EQ(DurationFromNumber(-101112, 0)->ToString(), "-10:11:12");
}

TEST(TimeTest, CalendarArithmetic) {
  auto add = [](std::string_view s, std::string_view v, std::string_view unit) {
    absl::StatusOr<Interval> iv = ParseInterval(v, unit);
    if (!iv.ok()) return std::string("BADIV");
    absl::StatusOr<Time> r = AddInterval(*ParseTime(s, TimeType::kDatetime, 0), *iv);
    return r.ok() ? r->ToString() : std::string("ERR");
  };
  EXPECT_EQ(add("2024-01-31", "1", "MONTH"), "2024-02-29 00:00:00");
  EXPECT_EQ(add("2023-01-31", "1", "MONTH"), "2023-02-28 00:00:00");
  EXPECT_EQ(add("2024-02-29", "1", "YEAR"), "2025-02-28 00:00:00");
  EXPECT_EQ(add("2024-01-01", "-1", "DAY"), "2023-12-31 00:00:00");
  EXPECT_EQ(add("2024-01-01", "1 2", "DAY_HOUR"), "2024-01-02 02:00:00");
  EXPECT_EQ(add("2024-01-01", "1-2", "YEAR_MONTH"), "2025-03-01 00:00:00");
  EXPECT_EQ(add("2024-01-01", "1:30", "HOUR_MINUTE"), "2024-01-01 01:30:00");
  EXPECT_EQ(add("2024-01-01", "1.5", "SECOND"), "2024-01-01 00:00:01.500000");
  EXPECT_EQ(add("2024-01-01", "2", "WEEK"), "2024-01-15 00:00:00");
  EXPECT_EQ(add("2024-01-01", "1", "QUARTER"), "2024-04-01 00:00:00");
  EXPECT_EQ(add("9999-12-31", "1", "DAY"), "ERR");
  EXPECT_EQ(add("2024-01-01", "1", "FORTNIGHT"), "BADIV");
  // Day numbers match MySQL's TO_DAYS.
  EXPECT_EQ(DayNumber(2024, 1, 1), 739251);
  EXPECT_EQ(DayNumber(1970, 1, 1), 719528);
  EXPECT_EQ(Weekday(DayNumber(2024, 5, 6)), 0);  // A Monday.
  // DayNumber and FromDayNumber are inverse on every day of the range.
  for (int64_t n = DayNumber(1, 1, 1); n <= DayNumber(9999, 12, 31); n += 37) {
    int y, m, d;
    ASSERT_TRUE(FromDayNumber(n, &y, &m, &d));
    ASSERT_EQ(DayNumber(y, m, d), n) << y << "-" << m << "-" << d;
  }
}

TEST(TimeTest, PackOrderIsChronological) {
  std::mt19937_64 rng(8);
  for (int i = 0; i < 20000; ++i) {
    auto rand_time = [&] {
      return Time::FromDatetime(static_cast<int>(rng() % 10000), 1 + static_cast<int>(rng() % 12),
                                1 + static_cast<int>(rng() % 28), static_cast<int>(rng() % 24),
                                static_cast<int>(rng() % 60), static_cast<int>(rng() % 60),
                                static_cast<int>(rng() % 1000000), 6);
    };
    Time a = rand_time(), b = rand_time();
    int by_micros = a.ToMicros() < b.ToMicros() ? -1 : (a.ToMicros() > b.ToMicros() ? 1 : 0);
    ASSERT_EQ(a.Compare(b), by_micros);
    Time u = Time::Unpack(a.Pack(), TimeType::kDatetime, 6);
    ASSERT_EQ(u.Pack(), a.Pack());
    ASSERT_TRUE(Time::ValidPacked(a.Pack()));
  }
  EXPECT_FALSE(Time::ValidPacked(Time::FromDatetime(2024, 2, 30, 0, 0, 0).Pack()));
}

}  // namespace
}  // namespace rutile::sql
