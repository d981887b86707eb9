// Balance convergence (issue 5): a 3-store cluster with 60 three-replica regions gains two
// empty stores; balance-region and balance-leader, with operators carried out on the
// modelled stores, bring every store's region and leader count within ±20% of the mean.

#include <cmath>
#include <cstdio>

#include "gtest/gtest.h"
#include "pd_test_util.h"

namespace rutile::pd {
namespace {

using testing::kSecond;
using testing::MakeRegion;
using testing::PdHarness;
using testing::RegionKey;

void ExpectWithin20Percent(PdHarness& h, const char* what, uint64_t (*get)(const StoreInfo&)) {
  std::vector<const StoreInfo*> stores = h.cluster().GetStores();
  double sum = 0;
  for (const StoreInfo* s : stores) sum += static_cast<double>(get(*s));
  double mean = sum / static_cast<double>(stores.size());
  for (const StoreInfo* s : stores) {
    double v = static_cast<double>(get(*s));
    EXPECT_LE(std::abs(v - mean), 0.2 * mean)
        << what << " on store " << s->id() << " is " << v << ", mean " << mean;
  }
}

void RunConvergence(uint64_t region_size, bool vary_sizes) {
  PdHarness h;
  for (uint64_t s = 1; s <= 3; ++s) h.AddStore(s);
  constexpr int kRegions = 60;
  for (int i = 0; i < kRegions; ++i) {
    // All leaders on store 1 at first, the worst start for balance-leader too.
    uint64_t size = vary_sizes ? region_size * (1 + i % 4) : region_size;
    h.AddRegion(MakeRegion(static_cast<uint64_t>(i + 1), RegionKey(i, kRegions),
                           RegionKey(i + 1, kRegions), {1, 2, 3}, 1, size));
  }
  h.RunUntilQuiet(200);
  EXPECT_EQ(h.cluster().GetStore(1)->leader_count, 20u) << "3 stores: leaders 20/20/20";

  h.AddStore(4);
  h.AddStore(5);
  int rounds = h.RunUntilQuiet(500);
  EXPECT_LT(rounds, 500) << "scheduling never went quiet";
  std::string summary;
  for (const StoreInfo* s : h.cluster().GetStores()) {
    absl::StrAppend(&summary, DescribeStore(*s), "\n");
  }
  SCOPED_TRACE(summary);
  std::printf("after %d rounds:\n%s", rounds, summary.c_str());
  ExpectWithin20Percent(h, "regions", [](const StoreInfo& s) { return s.region_count; });
  ExpectWithin20Percent(h, "leaders", [](const StoreInfo& s) { return s.leader_count; });
  ExpectWithin20Percent(h, "region size", [](const StoreInfo& s) { return s.region_size; });
  // Every region still has three voters on distinct stores, as reported by the model.
  for (const auto& [id, r] : h.model()) {
    EXPECT_EQ(r.VoterCount(), 3u) << DescribeRegion(r);
    EXPECT_EQ(r.meta.peers_size(), 3) << DescribeRegion(r);
  }
  EXPECT_TRUE(h.operators().GetOperators().empty());
}

TEST(BalanceConvergenceTest, AddingTwoStoresToThreeWithSixtyRegions) {
  RunConvergence(10 * kMiB, /*vary_sizes=*/false);
}

TEST(BalanceConvergenceTest, AddingTwoStoresWithUnequalRegionSizes) {
  RunConvergence(8 * kMiB, /*vary_sizes=*/true);
}

// Replicas on a store that dies are rebuilt on the others, and balance holds afterwards.
TEST(BalanceConvergenceTest, DeadStoreIsRepairedThenBalanced) {
  PdHarness h;
  h.config().max_store_down_time_micros = 30 * kSecond;
  for (uint64_t s = 1; s <= 5; ++s) h.AddStore(s);
  constexpr int kRegions = 60;
  for (int i = 0; i < kRegions; ++i) {
    std::vector<uint64_t> stores{static_cast<uint64_t>(1 + i % 5),
                                 static_cast<uint64_t>(1 + (i + 1) % 5),
                                 static_cast<uint64_t>(1 + (i + 2) % 5)};
    h.AddRegion(MakeRegion(static_cast<uint64_t>(i + 1), RegionKey(i, kRegions),
                           RegionKey(i + 1, kRegions), stores, stores[1], 10 * kMiB));
  }
  h.RunUntilQuiet(100);
  h.KillStore(5);
  // Regions led from store 5 elect a leader elsewhere (as Raft would).
  for (const auto& [id, r] : h.model()) {
    if (r.leader_store_id() == 5) {
      RegionInfo& m = h.model_region(id);
      for (const metapb::Peer& p : m.meta.peers()) {
        if (p.store_id() != 5) {
          m.leader = p;
          break;
        }
      }
      h.Report(id);
    }
  }
  h.RunUntilQuiet(300);
  for (const auto& [id, r] : h.model()) {
    EXPECT_EQ(r.PeerOnStore(5), nullptr) << DescribeRegion(r);
    EXPECT_EQ(r.VoterCount(), 3u) << DescribeRegion(r);
  }
  EXPECT_EQ(h.cluster().GetStore(5)->region_count, 0u);
  // The four live stores share 180 replicas and 60 leaders.
  for (uint64_t s = 1; s <= 4; ++s) {
    const StoreInfo* st = h.cluster().GetStore(s);
    EXPECT_NEAR(static_cast<double>(st->region_count), 45.0, 9.0) << DescribeStore(*st);
    EXPECT_NEAR(static_cast<double>(st->leader_count), 15.0, 3.0) << DescribeStore(*st);
  }
}

}  // namespace
}  // namespace rutile::pd
