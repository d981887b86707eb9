// FilterSet and the filters of filter.h on their own, without a transport.

#include "transport/filter.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/transport_test_util.h"

namespace rutile::transport {
namespace {

using testing::OpaqueFrame;
using testing::RaftFrame;
using testing::RequestFrame;
using testing::ResponseFrame;

Frame Make(NodeId from, NodeId to, std::string bytes = "x") {
  return Frame{from, to, std::move(bytes)};
}

TEST(FrameViewTest, ClassifiesEveryBodyAndParsesRegion) {
  struct Case {
    std::string bytes;
    FrameKind kind;
    uint64_t region;
  };
  rutile::transport::Envelope cancel;
  cancel.mutable_cancel()->set_call_id(3);
  std::vector<Case> cases = {
      {RequestFrame(1, 2, 1, "A.B"), FrameKind::kRequest, 0},
      {ResponseFrame(1, 2, 1), FrameKind::kResponse, 0},
      {cancel.SerializeAsString(), FrameKind::kCancel, 0},
      {RaftFrame(1, 2, 42, "r"), FrameKind::kRaft, 42},
      {OpaqueFrame(1, 2, 7, "o"), FrameKind::kOpaque, 7},
      {std::string("\xff\xff\xff\xff", 4), FrameKind::kUnknown, 0},
      {"", FrameKind::kUnknown, 0},  // Parses as an empty Envelope: no body.
  };
  for (const Case& c : cases) {
    FrameView v(1, 2, &c.bytes);
    EXPECT_EQ(v.kind(), c.kind) << FrameKindName(c.kind);
    EXPECT_EQ(v.region_id(), c.region);
  }
}

TEST(FilterSetTest, FirstDropWinsAndDelaysAddUp) {
  SimEnv env;
  FilterSet set;
  EXPECT_TRUE(set.empty());
  set.Add(DelayFilter(10));
  set.Add(DelayFilter(20));
  Frame f = Make(1, 2);
  FilterSet::Outcome o = set.Apply(f, &env);
  EXPECT_EQ(o.action, Verdict::Action::kPass);
  EXPECT_EQ(o.delay_micros, 30u);
  EXPECT_FALSE(o.unordered);

  FilterId iso = set.Add(IsolateFilter(2));
  set.Add(PartitionFilter({{1}, {2}}));
  o = set.Apply(f, &env);
  EXPECT_EQ(o.action, Verdict::Action::kDrop);
  EXPECT_EQ(o.reason, DropReason::kIsolated);  // Added before the partition.
  std::vector<Frame> released;
  EXPECT_TRUE(set.Remove(iso, &released));
  EXPECT_FALSE(set.Remove(iso, &released));
  o = set.Apply(f, &env);
  EXPECT_EQ(o.reason, DropReason::kPartition);
  EXPECT_EQ(f.bytes, "x") << "a dropped frame is left to the caller";
}

TEST(FilterSetTest, HoldTakesTheFrameAndSkipsItsHolderOnRelease) {
  SimEnv env;
  FilterSet set;
  FilterId hold = set.Add(HoldFilter());
  Frame f = Make(1, 2, "payload");
  EXPECT_EQ(set.Apply(f, &env).action, Verdict::Action::kHold);
  EXPECT_EQ(set.HeldCount(hold), 1u);
  EXPECT_EQ(set.TotalHeld(), 1u);
  std::vector<Frame> released;
  EXPECT_TRUE(set.TakeHeld(hold, &released));
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].bytes, "payload");
  EXPECT_EQ(released[0].held_by, hold);
  // Filtered again, the released frame passes its own holder.
  EXPECT_EQ(set.Apply(released[0], &env).action, Verdict::Action::kPass);
  // A fresh frame is held again; Clear hands it back.
  Frame g = Make(1, 3);
  EXPECT_EQ(set.Apply(g, &env).action, Verdict::Action::kHold);
  released.clear();
  set.Clear(&released);
  EXPECT_EQ(released.size(), 1u);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.HeldCount(hold), 0u);
}

TEST(FilterSetTest, RandomDelayMarksFramesUnordered) {
  SimEnv env;
  FilterSet set;
  set.Add(RandomDelayFilter(5, 10));
  Frame f = Make(1, 2);
  for (int i = 0; i < 100; ++i) {
    FilterSet::Outcome o = set.Apply(f, &env);
    EXPECT_TRUE(o.unordered);
    EXPECT_GE(o.delay_micros, 5u);
    EXPECT_LE(o.delay_micros, 10u);
  }
}

TEST(FilterTest, PartitionLeavesUnlistedNodesAlone) {
  SimEnv env;
  auto p = PartitionFilter({{1, 2}, {3}});
  std::string b = "x";
  EXPECT_EQ(p->Check(FrameView(1, 2, &b), &env).action, Verdict::Action::kPass);
  EXPECT_EQ(p->Check(FrameView(1, 3, &b), &env).action, Verdict::Action::kDrop);
  EXPECT_EQ(p->Check(FrameView(3, 2, &b), &env).action, Verdict::Action::kDrop);
  EXPECT_EQ(p->Check(FrameView(1, 4, &b), &env).action, Verdict::Action::kPass);
  EXPECT_EQ(p->Check(FrameView(4, 3, &b), &env).action, Verdict::Action::kPass);
}

TEST(FilterTest, DropFilterExtremes) {
  SimEnv env;
  std::string b = "x";
  FrameView v(1, 2, &b);
  auto never = DropFilter(0.0);
  auto always = DropFilter(1.0);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(never->Check(v, &env).action, Verdict::Action::kPass);
    Verdict d = always->Check(v, &env);
    EXPECT_EQ(d.action, Verdict::Action::kDrop);
    EXPECT_EQ(d.reason, DropReason::kRandom);
  }
}

TEST(FilterTest, DropReasonNamesAreDistinct) {
  std::set<std::string_view> names;
  for (int r = 0; r < kNumDropReasons; ++r)
    names.insert(DropReasonName(static_cast<DropReason>(r)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumDropReasons));
}

}  // namespace
}  // namespace rutile::transport
