// pd-ctl `store delete` on the Scheduling view: the store goes offline only on a well-formed
// line, operators moving replicas or leadership onto it are canceled, and it does not
// become a tombstone while any operator still adds to it (the replica would land on a
// tombstone). Virtual clock values only: deterministic.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pd/operator.h"
#include "pd/scheduling.h"
#include "pd_test_util.h"

namespace rutile::pd {
namespace {

using testing::MakeRegion;

constexpr uint64_t kSec = 1'000'000;

class StoreDeleteTest : public ::testing::Test {
 protected:
  StoreDeleteTest()
      : s_(
            Options(), [this] { return absl::StatusOr<uint64_t>(next_id_++); }, 0) {
    for (uint64_t id = 1; id <= 4; ++id) {
      metapb::Store meta;
      meta.set_id(id);
      meta.set_node_id(id);
      EXPECT_TRUE(s_.PutStore(meta, 0).ok());
    }
    EXPECT_TRUE(s_.RegionHeartbeat(MakeRegion(1, "", "m", {1, 2, 3}, 1), 0).ok());
    now_ = 10 * kSec;  // Past the warm-up.
    for (uint64_t id = 1; id <= 4; ++id) Report(id, id == 4 ? 0 : 1);
  }

  static SchedulingOptions Options() {
    SchedulingOptions o;
    o.scheduling_enabled = false;  // Only the operators a test adds.
    return o;
  }

  void Report(uint64_t store, uint64_t regions) {
    StoreStats st;
    st.region_count = regions;
    ASSERT_TRUE(s_.StoreHeartbeat(store, st, now_).ok());
  }

  metapb::StoreState State(uint64_t store) const {
    return s_.cluster().GetStore(store)->meta.state();
  }

  uint64_t next_id_ = 1000;
  uint64_t now_ = 0;
  Scheduling s_;
};

TEST_F(StoreDeleteTest, MalformedLineIsRefusedAndChangesNothing) {
  ASSERT_TRUE(s_.admin().Execute("operator add add-peer 1 4").ok());
  for (const char* line : {"store delete 4 x", "store delete", "store delete x", "store 4 x"}) {
    absl::StatusOr<std::string> out = s_.admin().Execute(line);
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << line << ": " << out.status();
  }
  EXPECT_EQ(State(4), metapb::UP);
  EXPECT_NE(s_.operators().GetOperator(1), nullptr);
  EXPECT_TRUE(absl::IsNotFound(s_.admin().Execute("store delete 77").status()));
  EXPECT_TRUE(s_.admin().CheckDeleteStore(4).ok());
  EXPECT_TRUE(absl::IsNotFound(s_.admin().CheckDeleteStore(77)));
  EXPECT_EQ(State(4), metapb::UP);  // Checking changes nothing.
}

TEST_F(StoreDeleteTest, DeleteCancelsOperatorsAddingToTheStore) {
  // Region 2's operator hands leadership to store 2, not to store 4: it survives.
  ASSERT_TRUE(s_.RegionHeartbeat(MakeRegion(2, "m", "", {1, 2, 4}, 1), now_).ok());
  Report(4, 1);
  ASSERT_TRUE(s_.admin().Execute("operator add add-peer 1 4").ok());
  ASSERT_TRUE(s_.admin().Execute("operator add transfer-leader 2 2").ok());
  EXPECT_TRUE(s_.operators().AddsTo(4));
  ASSERT_TRUE(s_.admin().Execute("store delete 4").ok());
  EXPECT_EQ(State(4), metapb::OFFLINE);
  EXPECT_EQ(s_.operators().GetOperator(1), nullptr);
  EXPECT_NE(s_.operators().GetOperator(2), nullptr);
  EXPECT_FALSE(s_.operators().AddsTo(4));
  const std::deque<std::string>& h = s_.operators().History();
  ASSERT_FALSE(h.empty());
  EXPECT_NE(h.back().find("cancel"), std::string::npos) << h.back();
}

TEST_F(StoreDeleteTest, NoTombstoneWhileAnOperatorAddsToTheStore) {
  ASSERT_TRUE(s_.admin().Execute("store delete 4").ok());
  Report(4, 0);
  EXPECT_EQ(s_.StoresToBury(now_), std::vector<uint64_t>{4});

  // An operator built before the delete reached the view (a scheduler's move) still targets
  // store 4: it must not be buried until that operator ends.
  const RegionInfo* r = s_.cluster().GetRegion(1);
  ASSERT_NE(r, nullptr);
  absl::StatusOr<std::unique_ptr<Operator>> op =
      CreateMovePeerOperator("balance-region", *r, 3, 4, 5000, kOpRegion);
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_TRUE(s_.operators().AddOperator(std::move(*op), now_).ok());
  EXPECT_TRUE(s_.StoresToBury(now_).empty());

  ASSERT_TRUE(s_.operators().RemoveOperator(1).ok());
  EXPECT_EQ(s_.StoresToBury(now_), std::vector<uint64_t>{4});
  ASSERT_TRUE(s_.cluster().SetStoreState(4, metapb::TOMBSTONE).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(s_.admin().CheckDeleteStore(4)));
}

// A canceled add-learner that the store had already received can still land after the
// deleted store reported no regions and was buried: the region then has a peer on a
// tombstone. The replica checker removes it (a learner as an orphan, a voter as a replica on
// a dead store); nothing ever adds to the tombstone again.
TEST_F(StoreDeleteTest, APeerLandingOnATombstoneIsRemoved) {
  ASSERT_TRUE(s_.RegionHeartbeat(MakeRegion(2, "m", "", {1, 2, 3}, 1), now_).ok());
  ASSERT_TRUE(s_.admin().Execute("store delete 4").ok());
  Report(4, 0);
  ASSERT_EQ(s_.StoresToBury(now_), std::vector<uint64_t>{4});
  ASSERT_TRUE(s_.cluster().SetStoreState(4, metapb::TOMBSTONE).ok());

  // Region 1 gained a learner on store 4, region 2 a voter there (the learner was promoted
  // before the operator's cancel reached the leader).
  RegionInfo r1 = MakeRegion(1, "", "m", {1, 2, 3}, 1, 10 * kMiB, 1, 2);
  *r1.meta.add_peers() = testing::MakePeer(testing::PeerId(1, 4), 4, /*learner=*/true);
  RegionInfo r2 = MakeRegion(2, "m", "", {1, 2, 3, 4}, 1, 10 * kMiB, 1, 2);
  now_ += kSec;
  ASSERT_TRUE(s_.RegionHeartbeat(r1, now_).ok());
  ASSERT_TRUE(s_.RegionHeartbeat(r2, now_).ok());

  s_.SetSchedulingEnabled(true);
  for (int round = 0; round < 10 && (s_.operators().GetOperator(1) == nullptr ||
                                     s_.operators().GetOperator(2) == nullptr);
       ++round) {
    now_ += 10 * kSec;
    s_.MaybeSchedule(now_);
  }
  for (const RegionInfo* r : {&r1, &r2}) {
    SCOPED_TRACE(r->id());
    absl::StatusOr<std::optional<OpStep>> step = s_.RegionHeartbeat(*r, now_);
    ASSERT_TRUE(step.ok()) << step.status();
    ASSERT_TRUE(step->has_value()) << "no operator for region " << r->id();
    const auto* remove = std::get_if<RemovePeer>(&**step);
    ASSERT_NE(remove, nullptr) << "the first step removes the tombstone's peer";
    EXPECT_EQ(remove->store_id, 4u);
  }
  EXPECT_FALSE(s_.operators().AddsTo(4));
}

}  // namespace
}  // namespace rutile::pd
