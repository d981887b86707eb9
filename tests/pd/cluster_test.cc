// Cluster: heartbeats build PD's view; epochs decide which report wins.

#include "pd/cluster.h"

#include "gtest/gtest.h"
#include "pd_test_util.h"

namespace rutile::pd {
namespace {

using testing::MakeRegion;
using testing::MakeStore;
using testing::PeerId;

std::vector<uint64_t> Ids(const std::vector<const RegionInfo*>& rs) {
  std::vector<uint64_t> out;
  for (const RegionInfo* r : rs) out.push_back(r->id());
  return out;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t s = 1; s <= 4; ++s) ASSERT_TRUE(cluster_.PutStore(MakeStore(s)).ok());
  }
  absl::Status Heartbeat(const RegionInfo& r) {
    return cluster_.HandleRegionHeartbeat(r, 0).status();
  }
  Cluster cluster_;
};

TEST_F(ClusterTest, LookupByKeyAndRange) {
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "m", {1, 2, 3}, 1)).ok());
  ASSERT_TRUE(Heartbeat(MakeRegion(2, "m", "", {1, 2, 3}, 2)).ok());
  EXPECT_EQ(cluster_.GetRegionByKey("a")->id(), 1u);
  EXPECT_EQ(cluster_.GetRegionByKey("m")->id(), 2u);
  EXPECT_EQ(cluster_.GetRegionByKey("zz")->id(), 2u);
  EXPECT_EQ(Ids(cluster_.ScanRegions("c", "n")), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Ids(cluster_.ScanRegions("n", "")), (std::vector<uint64_t>{2}));
  EXPECT_EQ(cluster_.GetNextRegion(*cluster_.GetRegion(1))->id(), 2u);
  EXPECT_EQ(cluster_.GetPrevRegion(*cluster_.GetRegion(2))->id(), 1u);
}

TEST_F(ClusterTest, StaleVersionOrConfVerIsRejected) {
  ASSERT_TRUE(
      Heartbeat(MakeRegion(1, "", "", {1, 2, 3}, 1, 10, /*version=*/5, /*conf_ver=*/5)).ok());
  absl::Status s = Heartbeat(MakeRegion(1, "", "", {1, 2, 3}, 1, 10, 4, 5));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  s = Heartbeat(MakeRegion(1, "", "", {1, 2, 4}, 1, 10, 5, 4));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  // The rejected report changed nothing.
  EXPECT_EQ(cluster_.GetRegion(1)->StoreIds(), (std::vector<uint64_t>{1, 2, 3}));
  // Same epoch with a new leader is accepted (leadership is not in the epoch).
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "", {1, 2, 3}, 2, 10, 5, 5)).ok());
  EXPECT_EQ(cluster_.GetRegion(1)->leader_store_id(), 2u);
  // A newer conf_ver replaces the membership.
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "", {1, 2, 4}, 2, 10, 5, 6)).ok());
  EXPECT_EQ(cluster_.GetRegion(1)->StoreIds(), (std::vector<uint64_t>{1, 2, 4}));
}

TEST_F(ClusterTest, SplitReplacesParentAndParentsStaleReportIsRejected) {
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "", {1, 2, 3}, 1, 10, 1, 1)).ok());
  // Region 1 splits at "m": new region 2 takes the left half; both at version 2.
  auto removed = cluster_.HandleRegionHeartbeat(MakeRegion(2, "", "m", {1, 2, 3}, 1, 5, 2, 1), 0);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, (std::vector<uint64_t>{1}));  // the old parent covered the left half
  EXPECT_EQ(cluster_.RegionCount(), 1u);
  // A delayed report of the parent from before the split overlaps region 2: stale.
  EXPECT_EQ(Heartbeat(MakeRegion(1, "", "", {1, 2, 3}, 1, 10, 1, 1)).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "m", "", {1, 2, 3}, 1, 5, 2, 1)).ok());
  EXPECT_EQ(Ids(cluster_.GetRegions()), (std::vector<uint64_t>{2, 1}));
}

TEST_F(ClusterTest, MergedRegionReplacesBothHalves) {
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "m", {1, 2, 3}, 1, 10, 3, 1)).ok());
  ASSERT_TRUE(Heartbeat(MakeRegion(2, "m", "", {1, 2, 3}, 1, 10, 4, 1)).ok());
  auto removed = cluster_.HandleRegionHeartbeat(MakeRegion(2, "", "", {1, 2, 3}, 1, 20, 5, 1), 0);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, (std::vector<uint64_t>{1}));
  EXPECT_EQ(cluster_.RegionCount(), 1u);
  // The merged-away source reporting late is stale.
  EXPECT_EQ(Heartbeat(MakeRegion(1, "", "m", {1, 2, 3}, 1, 10, 4, 2)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cluster_.GetStore(1)->region_count, 1u);
  EXPECT_EQ(cluster_.GetStore(1)->region_size, 20u);
}

TEST_F(ClusterTest, PerStoreCountsFollowRegions) {
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "g", {1, 2, 3}, 1, 10)).ok());
  ASSERT_TRUE(Heartbeat(MakeRegion(2, "g", "p", {1, 2, 4}, 2, 20)).ok());
  RegionInfo r3 = MakeRegion(3, "p", "", {2, 3, 4}, 4, 30);
  r3.pending_peers.push_back(*r3.PeerOnStore(3));
  ASSERT_TRUE(Heartbeat(r3).ok());
  const StoreInfo* s1 = cluster_.GetStore(1);
  const StoreInfo* s2 = cluster_.GetStore(2);
  EXPECT_EQ(s1->region_count, 2u);
  EXPECT_EQ(s1->leader_count, 1u);
  EXPECT_EQ(s1->region_size, 30u);
  EXPECT_EQ(s2->region_count, 3u);
  EXPECT_EQ(s2->leader_count, 1u);
  EXPECT_EQ(s2->leader_size, 20u);
  EXPECT_EQ(cluster_.PendingRegions(3), (std::set<uint64_t>{3}));
  EXPECT_EQ(cluster_.FollowerRegions(2), (std::set<uint64_t>{1, 3}));
  EXPECT_EQ(cluster_.LeaderRegions(4), (std::set<uint64_t>{3}));
  // Leadership moves and a peer moves from store 1 to 3 in region 2.
  RegionInfo r2 = MakeRegion(2, "g", "p", {3, 2, 4}, 3, 20, 1, 2);
  ASSERT_TRUE(Heartbeat(r2).ok());
  EXPECT_EQ(cluster_.GetStore(1)->region_count, 1u);
  EXPECT_EQ(cluster_.GetStore(2)->leader_count, 0u);
  EXPECT_EQ(cluster_.GetStore(3)->leader_count, 1u);
  EXPECT_EQ(cluster_.RegionsOnStore(3), (std::vector<uint64_t>{1, 2, 3}));
  // Removing a region takes it out of every count.
  EXPECT_TRUE(cluster_.RemoveRegion(3));
  EXPECT_EQ(cluster_.GetStore(4)->region_count, 1u);
  EXPECT_EQ(cluster_.GetStore(4)->leader_count, 0u);
  EXPECT_TRUE(cluster_.PendingRegions(3).empty());
}

TEST_F(ClusterTest, StoreRegisteredAfterItsRegionsCountsThem) {
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "", {1, 2, 9}, 9, 10)).ok());
  ASSERT_TRUE(cluster_.PutStore(MakeStore(9)).ok());
  EXPECT_EQ(cluster_.GetStore(9)->region_count, 1u);
  EXPECT_EQ(cluster_.GetStore(9)->leader_count, 1u);
}

TEST_F(ClusterTest, MalformedHeartbeatsAreRejected) {
  EXPECT_EQ(Heartbeat(MakeRegion(0, "", "", {1}, 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Heartbeat(MakeRegion(1, "", "", {}, 0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Heartbeat(MakeRegion(1, "z", "a", {1}, 1)).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClusterTest, StoreHeartbeatsAndStates) {
  EXPECT_EQ(cluster_.HandleStoreHeartbeat(7, StoreStats{}, 5).code(), absl::StatusCode::kNotFound);
  StoreStats stats;
  stats.capacity = 100;
  ASSERT_TRUE(cluster_.HandleStoreHeartbeat(1, stats, 5).ok());
  EXPECT_EQ(cluster_.GetStore(1)->stats.capacity, 100u);
  EXPECT_EQ(cluster_.GetStore(1)->last_heartbeat_micros, 5u);
  EXPECT_TRUE(cluster_.GetStore(1)->IsHealthy(10, 100));
  EXPECT_FALSE(cluster_.GetStore(1)->IsHealthy(200, 100));
  EXPECT_FALSE(cluster_.GetStore(2)->IsHealthy(10, 100));  // never heard from
  // A store with regions cannot become a tombstone; an empty one can, for good.
  ASSERT_TRUE(Heartbeat(MakeRegion(1, "", "", {1, 2, 3}, 1)).ok());
  EXPECT_EQ(cluster_.SetStoreState(1, metapb::TOMBSTONE).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(cluster_.SetStoreState(4, metapb::OFFLINE).ok());
  ASSERT_TRUE(cluster_.SetStoreState(4, metapb::TOMBSTONE).ok());
  EXPECT_EQ(cluster_.SetStoreState(4, metapb::UP).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cluster_.PutStore(MakeStore(4)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cluster_.HandleStoreHeartbeat(4, stats, 6).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClusterTest, RangeSinceTracksKeyRangeChanges) {
  ASSERT_TRUE(cluster_.HandleRegionHeartbeat(MakeRegion(1, "", "", {1, 2, 3}, 1), 100).ok());
  ASSERT_TRUE(cluster_.HandleRegionHeartbeat(MakeRegion(1, "", "", {1, 2, 3}, 2), 200).ok());
  EXPECT_EQ(cluster_.GetRegion(1)->range_since_micros, 100u);
  ASSERT_TRUE(
      cluster_.HandleRegionHeartbeat(MakeRegion(1, "m", "", {1, 2, 3}, 2, 10, 2), 300).ok());
  EXPECT_EQ(cluster_.GetRegion(1)->range_since_micros, 300u);
  (void)PeerId;
}

}  // namespace
}  // namespace rutile::pd
