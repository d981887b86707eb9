// PD's merge checker live: with scheduling on, small adjacent regions merge by themselves
// (no operator added by hand), and every key written before is still there after, with
// its value, on a fully replicated cluster.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/seeds.h"

namespace rutile::testing {
namespace {

std::string Key(int i) { return absl::StrFormat("k%04d", i); }

void RunMergeScenario(uint64_t seed) {
  TestClusterOptions o;
  o.sim.seed = seed;
  o.manual_replication = true;  // Split by hand first, with no checker merging them back.
  TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  constexpr int kKeys = 80;
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(c.kv().Put(Key(i), std::to_string(i)).ok());
    for (int i = 10; i < kKeys; i += 10) {
      absl::Status s = c.SplitRegion(Key(i));
      ASSERT_TRUE(s.ok()) << s;
    }
    ASSERT_EQ(c.Regions().size(), 8u);
    // Regions just split are normally left alone for an hour.
    absl::StatusOr<std::string> out = c.PdCtl("config set split-merge-interval 0s");
    ASSERT_TRUE(out.ok()) << out.status();
  })) << c.SeedMessage();

  c.SetManualReplication(false);
  ASSERT_TRUE(c.Run([&] {
    size_t regions = c.Regions().size();
    const uint64_t deadline = c.env()->NowMicros() + 120'000'000;
    while (regions > 1 && c.env()->NowMicros() < deadline) {
      c.env()->SleepForMicros(1'000'000);
      regions = c.Regions().size();
    }
    EXPECT_EQ(regions, 1u) << "the merge checker left regions unmerged; " << c.SeedMessage();
    absl::Status s = c.WaitForReplication(60'000'000);
    ASSERT_TRUE(s.ok()) << s << " " << c.SeedMessage();
    for (int i = 0; i < kKeys; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.kv().Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status() << " " << c.SeedMessage();
      EXPECT_EQ(*v, std::to_string(i)) << Key(i) << " " << c.SeedMessage();
    }
    // And the merged region takes writes.
    ASSERT_TRUE(c.kv().Put(Key(kKeys), "new").ok());
    absl::StatusOr<std::optional<std::string>> v = c.kv().Get(Key(kKeys));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "new");
  })) << c.SeedMessage();
}

TEST(MergeCheckerTest, SmallAdjacentRegionsMergeByThemselvesAndKeepTheirData) {
  if (std::optional<uint64_t> only = SeedFromEnvironment()) {
    RunMergeScenario(*only);
    return;
  }
  for (uint64_t seed : {5001, 5002}) {
    RunMergeScenario(seed);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace rutile::testing
