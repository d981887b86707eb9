#include "pd/config.h"

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace rutile::pd {
namespace {

TEST(ConfigTest, SetParsesDurationsSizesCountsAndLabels) {
  ScheduleConfig c;
  ASSERT_TRUE(SetConfigOption(&c, "max-store-down-time", "1h30m").ok());
  EXPECT_EQ(c.max_store_down_time_micros, 90ull * 60 * 1'000'000);
  ASSERT_TRUE(SetConfigOption(&c, "max-merge-region-size", "64MiB").ok());
  EXPECT_EQ(c.max_merge_region_size, 64 * kMiB);
  ASSERT_TRUE(SetConfigOption(&c, "region-max-size", "1gb").ok());
  EXPECT_EQ(c.region_max_size, uint64_t{1} << 30);
  ASSERT_TRUE(SetConfigOption(&c, "region-split-size", "4096").ok());
  EXPECT_EQ(c.region_split_size, 4096u);
  ASSERT_TRUE(SetConfigOption(&c, "leader-schedule-limit", "9").ok());
  EXPECT_EQ(c.leader_schedule_limit, 9u);
  ASSERT_TRUE(SetConfigOption(&c, "location-labels", "zone, rack,host").ok());
  EXPECT_EQ(c.location_labels, (std::vector<std::string>{"zone", "rack", "host"}));
  ASSERT_TRUE(SetConfigOption(&c, "location-labels", "").ok());
  EXPECT_TRUE(c.location_labels.empty());
}

TEST(ConfigTest, BadValuesChangeNothing) {
  ScheduleConfig c;
  ScheduleConfig before = c;
  EXPECT_EQ(SetConfigOption(&c, "max-replicas", "0").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetConfigOption(&c, "max-replicas", "-1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetConfigOption(&c, "max-store-down-time", "soon").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetConfigOption(&c, "max-store-down-time", "-5s").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetConfigOption(&c, "region-max-size", "12XB").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetConfigOption(&c, "nope", "1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.max_replicas, before.max_replicas);
  EXPECT_EQ(c.max_store_down_time_micros, before.max_store_down_time_micros);
  EXPECT_EQ(c.region_max_size, before.region_max_size);
}

TEST(ConfigTest, ShowRoundTripsThroughSet) {
  ScheduleConfig a;
  a.max_replicas = 5;
  a.location_labels = {"zone", "host"};
  a.max_merge_region_size = 3 * kMiB;
  a.split_merge_interval_micros = 90 * 1'000'000;
  std::string shown = ShowConfig(a);
  ScheduleConfig b;
  std::vector<std::string> lines = absl::StrSplit(shown, '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    size_t eq = line.find(" = ");
    ASSERT_NE(eq, std::string::npos) << line;
    ASSERT_TRUE(SetConfigOption(&b, line.substr(0, eq), line.substr(eq + 3)).ok()) << line;
  }
  EXPECT_EQ(ShowConfig(b), shown);
  EXPECT_EQ(b.max_replicas, 5u);
  EXPECT_EQ(b.split_merge_interval_micros, 90u * 1'000'000);
}

TEST(ConfigTest, FormatSize) {
  EXPECT_EQ(FormatSize(0), "0B");
  EXPECT_EQ(FormatSize(1500), "1500B");
  EXPECT_EQ(FormatSize(2048), "2KiB");
  EXPECT_EQ(FormatSize(96 * kMiB), "96MiB");
  EXPECT_EQ(FormatSize(uint64_t{3} << 30), "3GiB");
}

}  // namespace
}  // namespace rutile::pd
