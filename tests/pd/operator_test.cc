// Operators and the operator controller: steps finish by what heartbeats report; the
// controller tracks one operator per region, enforces limits and priorities, times out and
// cancels.

#include "pd/operator.h"

#include "gtest/gtest.h"
#include "pd/operator_controller.h"
#include "pd_test_util.h"

namespace rutile::pd {
namespace {

using testing::kSecond;
using testing::MakePeer;
using testing::MakeRegion;
using testing::MakeStore;
using testing::PdHarness;
using testing::PeerId;

std::vector<std::string> Describe(const Operator& op) {
  std::vector<std::string> out;
  for (const OpStep& s : op.steps()) out.push_back(DescribeStep(s));
  return out;
}

TEST(OperatorTest, StepsFinishByReportedState) {
  RegionInfo r = MakeRegion(1, "", "", {1, 2, 3}, 1);
  EXPECT_FALSE(StepFinished(TransferLeader{1, 2, PeerId(1, 2)}, r));
  EXPECT_TRUE(StepFinished(RemovePeer{4, 0}, r));
  EXPECT_FALSE(StepFinished(AddLearner{4, 104}, r));
  *r.meta.add_peers() = MakePeer(104, 4, /*learner=*/true);
  r.pending_peers.push_back(MakePeer(104, 4, true));
  EXPECT_FALSE(StepFinished(AddLearner{4, 104}, r));  // still applying its snapshot
  r.pending_peers.clear();
  EXPECT_TRUE(StepFinished(AddLearner{4, 104}, r));
  EXPECT_FALSE(StepFinished(AddLearner{4, 999}, r));  // some other peer is there
  EXPECT_FALSE(StepFinished(PromoteLearner{4, 104}, r));
  r.meta.mutable_peers(3)->set_role(metapb::VOTER);
  EXPECT_TRUE(StepFinished(PromoteLearner{4, 104}, r));
  EXPECT_TRUE(StepFinished(AddPeer{4, 104}, r));
  SplitRegion split{SplitPolicy::kApproximate, {}, "", ""};
  EXPECT_FALSE(StepFinished(split, r));
  r.meta.set_end_key("m");
  EXPECT_TRUE(StepFinished(split, r));
}

TEST(OperatorTest, MovePeerAddsAsLearnerPromotesMovesLeaderThenRemoves) {
  RegionInfo r = MakeRegion(1, "", "", {1, 2, 3}, 1);
  auto op = CreateMovePeerOperator("move", r, 1, 4, 104, kOpRegion);
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(Describe(**op),
            (std::vector<std::string>{"add learner 104@s4", "promote 104@s4",
                                      "transfer leader s1->s4", "remove peer 101@s1"}));
  EXPECT_EQ((*op)->kind(), kOpRegion | kOpLeader);
  auto follower_move = CreateMovePeerOperator("move", r, 2, 4, 104, kOpRegion);
  EXPECT_EQ(
      Describe(**follower_move),
      (std::vector<std::string>{"add learner 104@s4", "promote 104@s4", "remove peer 102@s2"}));
  EXPECT_FALSE(CreateMovePeerOperator("move", r, 1, 2, 9, kOpRegion).ok());  // already there
  EXPECT_FALSE(CreateMovePeerOperator("move", r, 5, 4, 9, kOpRegion).ok());  // nothing on 5
}

TEST(OperatorTest, RemoveLeaderPeerTransfersLeadershipFirst) {
  RegionInfo r = MakeRegion(1, "", "", {1, 2, 3}, 1);
  r.pending_peers.push_back(*r.PeerOnStore(2));
  auto op = CreateRemovePeerOperator("rm", r, 1, kOpAdmin);
  ASSERT_TRUE(op.ok());
  // Store 2's peer is pending, so leadership goes to store 3.
  EXPECT_EQ(Describe(**op),
            (std::vector<std::string>{"transfer leader s1->s3", "remove peer 101@s1"}));
}

TEST(OperatorTest, MergeMatchesPeersBeforeMerging) {
  RegionInfo source = MakeRegion(1, "", "m", {1, 2, 3}, 1);
  RegionInfo target = MakeRegion(2, "m", "", {2, 3, 4}, 2);
  ASSERT_EQ(MergePeersNeeded(source, target), 1u);
  auto ops = CreateMergeRegionOperators("merge", source, target, {500}, 0);
  ASSERT_TRUE(ops.ok());
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_EQ(
      Describe(*(*ops)[0]),
      (std::vector<std::string>{"add learner 500@s4", "promote 500@s4", "transfer leader s1->s2",
                                "remove peer 101@s1", "merge r1 into r2"}));
  EXPECT_EQ(Describe(*(*ops)[1]), (std::vector<std::string>{"merged from r1 into r2"}));
  RegionInfo far = MakeRegion(3, "x", "", {1, 2, 3}, 1);
  EXPECT_FALSE(CreateMergeRegionOperators("merge", source, far, {}, 0).ok());
}

TEST(OperatorTest, SplitKeysMustBeInside) {
  RegionInfo r = MakeRegion(1, "b", "m", {1, 2, 3}, 1);
  EXPECT_FALSE(CreateSplitRegionOperator("s", r, SplitPolicy::kUseKey, {"b"}, 0).ok());
  EXPECT_FALSE(CreateSplitRegionOperator("s", r, SplitPolicy::kUseKey, {"z"}, 0).ok());
  EXPECT_FALSE(CreateSplitRegionOperator("s", r, SplitPolicy::kUseKey, {}, 0).ok());
  auto op = CreateSplitRegionOperator("s", r, SplitPolicy::kUseKey, {"f", "c", "f"}, 0);
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(Describe(**op), (std::vector<std::string>{"split (usekey) at c,f"}));
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t s = 1; s <= 5; ++s) h_.AddStore(s);
    h_.AddRegion(MakeRegion(1, "", "m", {1, 2, 3}, 1));
    h_.AddRegion(MakeRegion(2, "m", "", {1, 2, 3}, 2));
  }
  std::unique_ptr<Operator> Move(uint64_t region, uint64_t from, uint64_t to, uint32_t kind) {
    auto op = CreateMovePeerOperator("move", *h_.cluster().GetRegion(region), from, to,
                                     PeerId(region, to), kind);
    EXPECT_TRUE(op.ok());
    return std::move(*op);
  }
  PdHarness h_;
};

TEST_F(ControllerTest, DispatchWalksTheStepsAsHeartbeatsReport) {
  OperatorController& c = h_.operators();
  ASSERT_TRUE(c.AddOperator(Move(1, 1, 4, kOpRegion), h_.now()).ok());
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    std::optional<OpStep> step = h_.Report(1);
    if (!step) break;
    seen.push_back(DescribeStep(*step));
    // The same heartbeat again (a lost reply) gets the same step.
    EXPECT_EQ(DescribeStep(*h_.Report(1)), seen.back());
    ASSERT_TRUE(h_.Apply(1, *step));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"add learner 104@s4", "promote 104@s4",
                                            "transfer leader s1->s4", "remove peer 101@s1"}));
  EXPECT_FALSE(c.HasOperator(1));
  ASSERT_EQ(c.History().size(), 1u);
  EXPECT_NE(c.History().back().find("=> success"), std::string::npos) << c.History().back();
  EXPECT_EQ(h_.cluster().GetRegion(1)->StoreIds(), (std::vector<uint64_t>{2, 3, 4}));
}

TEST_F(ControllerTest, OneOperatorPerRegionHigherPriorityReplaces) {
  OperatorController& c = h_.operators();
  ASSERT_TRUE(c.AddOperator(Move(1, 2, 4, kOpRegion), h_.now()).ok());
  EXPECT_EQ(c.AddOperator(Move(1, 3, 4, kOpRegion), h_.now()).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(c.AddOperator(Move(1, 3, 5, kOpReplica), h_.now()).ok());
  EXPECT_EQ(DescribeStep(c.GetOperator(1)->steps()[0]), "add learner 105@s5");
  EXPECT_NE(c.History().back().find("=> replaced"), std::string::npos);
  EXPECT_EQ(c.AddOperator(Move(1, 2, 4, kOpReplica), h_.now()).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(c.AddOperator(Move(1, 2, 4, kOpAdmin), h_.now()).ok());
}

TEST_F(ControllerTest, EpochMustMatchWhenAdding) {
  std::unique_ptr<Operator> op = Move(1, 2, 4, kOpRegion);
  RegionInfo& r = h_.model_region(1);
  r.meta.mutable_region_epoch()->set_conf_ver(r.conf_ver() + 1);
  h_.Report(1);
  EXPECT_EQ(h_.operators().AddOperator(std::move(op), h_.now()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h_.operators()
                .AddOperator(std::make_unique<Operator>("x", 99, metapb::RegionEpoch(), 0,
                                                        std::vector<OpStep>{}),
                             h_.now())
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ControllerTest, LimitsApplyPerKindButNotToAdmin) {
  h_.config().region_schedule_limit = 1;
  OperatorController& c = h_.operators();
  ASSERT_TRUE(c.AddOperator(Move(1, 2, 4, kOpRegion), h_.now()).ok());
  EXPECT_TRUE(c.LimitReached(kOpRegion));
  EXPECT_EQ(c.AddOperator(Move(2, 1, 4, kOpRegion), h_.now()).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(c.AddOperator(Move(2, 3, 4, kOpAdmin), h_.now()).ok());
  EXPECT_EQ(c.OperatorCount(kOpRegion), 1u);
}

TEST_F(ControllerTest, TimesOut) {
  h_.config().region_operator_timeout_micros = 10 * kSecond;
  OperatorController& c = h_.operators();
  ASSERT_TRUE(c.AddOperator(Move(1, 2, 4, kOpRegion), h_.now()).ok());
  h_.Advance(9 * kSecond);
  c.CheckTimeouts(h_.now());
  EXPECT_TRUE(c.HasOperator(1));
  h_.Advance(2 * kSecond);
  EXPECT_FALSE(h_.Report(1).has_value());  // the heartbeat path notices too
  EXPECT_FALSE(c.HasOperator(1));
  EXPECT_NE(c.History().back().find("=> timeout"), std::string::npos);
}

TEST_F(ControllerTest, SplitUnderAMoveCancelsIt) {
  OperatorController& c = h_.operators();
  ASSERT_TRUE(c.AddOperator(Move(2, 3, 4, kOpRegion), h_.now()).ok());
  RegionInfo& r = h_.model_region(2);
  r.meta.mutable_region_epoch()->set_version(r.version() + 1);
  r.meta.set_start_key("t");
  EXPECT_FALSE(h_.Report(2).has_value());
  EXPECT_FALSE(c.HasOperator(2));
  EXPECT_NE(c.History().back().find("=> canceled"), std::string::npos);
}

TEST_F(ControllerTest, MergeRunsToCompletionAndCancelingOneHalfCancelsBoth) {
  OperatorController& c = h_.operators();
  auto make = [&] {
    auto ops = CreateMergeRegionOperators("merge", *h_.cluster().GetRegion(1),
                                          *h_.cluster().GetRegion(2), {}, kOpAdmin);
    EXPECT_TRUE(ops.ok());
    return std::move(*ops);
  };
  ASSERT_TRUE(c.AddOperators(make(), h_.now()).ok());
  ASSERT_TRUE(c.RemoveOperator(2).ok());
  EXPECT_FALSE(c.HasOperator(1));
  ASSERT_TRUE(c.AddOperators(make(), h_.now()).ok());
  EXPECT_FALSE(h_.Report(2).has_value());  // the target waits passively
  std::optional<OpStep> step = h_.Report(1);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(DescribeStep(*step), "merge r1 into r2");
  ASSERT_TRUE(h_.Apply(1, *step));
  EXPECT_FALSE(c.HasOperator(1));
  EXPECT_FALSE(c.HasOperator(2));
  EXPECT_EQ(h_.cluster().RegionCount(), 1u);
  ASSERT_GE(c.History().size(), 2u);
  for (size_t i = c.History().size() - 2; i < c.History().size(); ++i) {
    EXPECT_NE(c.History()[i].find("=> success"), std::string::npos) << c.History()[i];
  }
}

TEST_F(ControllerTest, InfluenceCountsRemainingSteps) {
  OperatorController& c = h_.operators();
  ASSERT_TRUE(c.AddOperator(Move(1, 1, 4, kOpRegion), h_.now()).ok());
  OpInfluence inf = c.Influence();
  EXPECT_EQ(inf[4].region_count, 1);
  EXPECT_EQ(inf[4].leader_count, 1);
  EXPECT_EQ(inf[1].region_count, -1);
  EXPECT_EQ(inf[1].leader_count, -1);
  EXPECT_EQ(inf[4].region_size, static_cast<int64_t>(10 * kMiB));
  (void)MakeStore;
}

}  // namespace
}  // namespace rutile::pd
