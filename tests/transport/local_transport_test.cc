// LocalTransport: the conformance suite on a SimEnv and on Env::Default(), and the
// filters of filter.h, each checked to do what it says and to go away with Heal().

#include "transport/local_transport.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "transport/filter.h"
#include "transport/transport_conformance.h"
#include "transport/transport_test_util.h"
#include "util/metrics.h"
#include "util/sync.h"

namespace rutile::transport {
namespace {

using testing::OpaqueFrame;
using testing::RaftFrame;
using testing::RequestFrame;
using testing::ResponseFrame;
using testing::TimedReceiver;

constexpr size_t kTestFrameLimit = 256 * 1024;

// A LocalTransport on its own SimEnv, or on Env::Default().
std::unique_ptr<testing::TransportWorld> MakeLocalWorld(bool simulated) {
  return std::make_unique<testing::HubWorld<LocalTransport>>(simulated, 11, [](Env* env) {
    LocalTransportOptions options;
    options.max_frame_bytes = kTestFrameLimit;
    return std::make_unique<LocalTransport>(env, options);
  });
}

struct LocalSimFactory {
  static std::unique_ptr<testing::TransportWorld> Make(const std::vector<NodeId>&) {
    return MakeLocalWorld(true);
  }
};
struct LocalThreadedFactory {
  static std::unique_ptr<testing::TransportWorld> Make(const std::vector<NodeId>&) {
    return MakeLocalWorld(false);
  }
};

}  // namespace

// The suite is registered in rutile::transport::testing; instantiate it there.
namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(LocalOnSimEnv, TransportConformanceTest,
                               ::testing::Types<LocalSimFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(LocalOnDefaultEnv, TransportConformanceTest,
                               ::testing::Types<LocalThreadedFactory>);
}  // namespace testing

namespace {

// Filter tests run on a SimEnv, so that time is exact and randomness seeded.
class LocalFilterTest : public ::testing::Test {
 protected:
  static constexpr int kNodes = 5;

  LocalFilterTest() : env_(SimEnvOptions{.seed = 20240601}), transport_(&env_) {
    for (NodeId id = 1; id <= kNodes; ++id) {
      receivers_.push_back(std::make_unique<TimedReceiver>(&env_));
      EXPECT_TRUE(transport_.Register(id, receivers_.back().get()).ok());
    }
  }
  ~LocalFilterTest() override {
    for (NodeId id = 1; id <= kNodes; ++id) transport_.Unregister(id);
  }

  TimedReceiver& r(NodeId id) { return *receivers_[id - 1]; }

  // Sends one frame "a>b" on every ordered pair (including to self), runs, and returns the
  // set of pairs that arrived.
  std::set<std::pair<NodeId, NodeId>> AllPairsDelivered() {
    std::vector<size_t> before;
    for (NodeId id = 1; id <= kNodes; ++id) before.push_back(r(id).count());
    for (NodeId a = 1; a <= kNodes; ++a) {
      for (NodeId b = 1; b <= kNodes; ++b) {
        transport_.Send(a, b, "pair");
      }
    }
    env_.RunFor(1'000'000);
    std::set<std::pair<NodeId, NodeId>> out;
    for (NodeId b = 1; b <= kNodes; ++b) {
      auto got = r(b).got();
      for (size_t i = before[b - 1]; i < got.size(); ++i) out.emplace(got[i].from, b);
    }
    return out;
  }

  static std::set<std::pair<NodeId, NodeId>> EveryPair() {
    std::set<std::pair<NodeId, NodeId>> out;
    for (NodeId a = 1; a <= kNodes; ++a) {
      for (NodeId b = 1; b <= kNodes; ++b) out.emplace(a, b);
    }
    return out;
  }

  SimEnv env_;
  std::vector<std::unique_ptr<TimedReceiver>> receivers_;
  LocalTransport transport_;
};

TEST_F(LocalFilterTest, DeliveryIsNeverSynchronousInsideSend) {
  transport_.Send(1, 2, "x");
  EXPECT_EQ(r(2).count(), 0u) << "delivered inside Send";
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 1u);
}

TEST_F(LocalFilterTest, DropFilterDropsAtItsRateForAFixedSeed) {
  constexpr int kFrames = 10'000;
  transport_.AddFilter(DropFilter(0.3));
  for (int i = 0; i < kFrames; ++i) transport_.Send(1, 2, std::to_string(i));
  env_.RunUntilIdle();
  TransportStats s = transport_.Stats();
  const uint64_t dropped = s.Dropped(DropReason::kRandom);
  // Binomial(10000, 0.3): sd ~ 46; 3000 +- 200 is over 4 sd.
  EXPECT_GT(dropped, 2800u);
  EXPECT_LT(dropped, 3200u);
  EXPECT_EQ(r(2).count() + dropped, static_cast<uint64_t>(kFrames));
  EXPECT_EQ(s.delivered, r(2).count());
  // What survives keeps its order.
  auto got = r(2).bytes();
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(std::stoi(got[i - 1]), std::stoi(got[i]));

  transport_.Heal();
  for (int i = 0; i < 100; ++i) transport_.Send(1, 3, "healed");
  env_.RunUntilIdle();
  EXPECT_EQ(r(3).count(), 100u);
}

TEST_F(LocalFilterTest, DelayFilterDelaysByEnvTimeAndKeepsOrder) {
  transport_.AddFilter(DelayFilter(50'000));
  const uint64_t start = env_.NowMicros();
  for (int i = 0; i < 10; ++i) transport_.Send(1, 2, std::to_string(i));
  env_.RunFor(49'999);
  EXPECT_EQ(r(2).count(), 0u);
  env_.RunFor(1);
  ASSERT_EQ(r(2).count(), 10u);
  auto got = r(2).got();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].bytes, std::to_string(i));
    EXPECT_EQ(got[i].at_micros, start + 50'000);
  }
}

TEST_F(LocalFilterTest, DelaysOfComposedFiltersAddUp) {
  transport_.AddFilter(DelayFilter(10'000));
  transport_.AddFilter(DelayFilter(20'000));
  const uint64_t start = env_.NowMicros();
  transport_.Send(1, 2, "x");
  env_.RunUntilIdle();
  ASSERT_EQ(r(2).count(), 1u);
  EXPECT_EQ(r(2).got()[0].at_micros, start + 30'000);
}

TEST_F(LocalFilterTest, RemovingADelayNeverLetsALaterFrameOvertake) {
  FilterId delay = transport_.AddFilter(DelayFilter(100'000));
  transport_.Send(1, 2, "first");
  EXPECT_TRUE(transport_.RemoveFilter(delay));
  transport_.Send(1, 2, "second");
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).bytes(), (std::vector<std::string>{"first", "second"}));
}

TEST_F(LocalFilterTest, RandomDelayReordersAndStillDeliversEverything) {
  transport_.AddFilter(RandomDelayFilter(0, 100'000));
  for (int i = 0; i < 200; ++i) transport_.Send(1, 2, std::to_string(i));
  env_.RunUntilIdle();
  auto got = r(2).bytes();
  ASSERT_EQ(got.size(), 200u);
  bool out_of_order = false;
  for (size_t i = 1; i < got.size(); ++i) out_of_order |= std::stoi(got[i - 1]) > std::stoi(got[i]);
  EXPECT_TRUE(out_of_order);
}

TEST_F(LocalFilterTest, PartitionBlocksExactlyTheCrossGroupPairs) {
  transport_.Partition({{1, 2}, {3, 4}});  // 5 is in no group: unaffected.
  auto delivered = AllPairsDelivered();
  std::set<std::pair<NodeId, NodeId>> want;
  const std::map<NodeId, int> group = {{1, 0}, {2, 0}, {3, 1}, {4, 1}};
  for (auto [a, b] : EveryPair()) {
    auto ga = group.find(a), gb = group.find(b);
    bool cut = ga != group.end() && gb != group.end() && ga->second != gb->second;
    if (!cut) want.emplace(a, b);
  }
  EXPECT_EQ(delivered, want);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kPartition), 8u);  // 2*2 pairs each way.
  transport_.Heal();
  EXPECT_EQ(AllPairsDelivered(), EveryPair());
}

TEST_F(LocalFilterTest, IsolateCutsEveryFrameToAndFromTheNodeButItsOwn) {
  FilterId iso = transport_.Isolate(3);
  auto delivered = AllPairsDelivered();
  for (auto [a, b] : EveryPair()) {
    bool cut = (a == 3 || b == 3) && a != b;
    EXPECT_EQ(delivered.count({a, b}), cut ? 0u : 1u) << a << "->" << b;
  }
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kIsolated), 8u);
  EXPECT_TRUE(transport_.RemoveFilter(iso));
  EXPECT_FALSE(transport_.RemoveFilter(iso));
  EXPECT_EQ(AllPairsDelivered(), EveryPair());
}

TEST_F(LocalFilterTest, RuleByMessageTypeDropsOnlyThatType) {
  Rule rule;
  rule.kinds = {FrameKind::kRaft};
  transport_.AddFilter(RuleFilter(rule));
  transport_.Send(1, 2, RaftFrame(1, 2, 1, "append"));
  transport_.Send(1, 2, RequestFrame(1, 2, 7, "Echo.Echo"));
  transport_.Send(1, 2, ResponseFrame(1, 2, 7));
  transport_.Send(1, 2, OpaqueFrame(1, 2, 1, "o"));
  transport_.Send(1, 2, "not an envelope \xff\xff\xff");
  env_.RunUntilIdle();
  std::vector<FrameKind> kinds;
  for (const std::string& b : r(2).bytes()) {
    FrameView v(1, 2, &b);
    kinds.push_back(v.kind());
  }
  EXPECT_EQ(kinds, (std::vector<FrameKind>{FrameKind::kRequest, FrameKind::kResponse,
                                           FrameKind::kOpaque, FrameKind::kUnknown}));
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kRule), 1u);
}

TEST_F(LocalFilterTest, RuleByRegionAndDirection) {
  Rule rule;
  rule.region_id = 7;
  rule.node = 1;
  rule.direction = Direction::kSend;
  transport_.AddFilter(RuleFilter(rule));
  transport_.Send(1, 2, RaftFrame(1, 2, 7, "r7-from-1"));  // Dropped.
  transport_.Send(1, 2, RaftFrame(1, 2, 8, "r8-from-1"));  // Other region.
  transport_.Send(3, 1, RaftFrame(3, 1, 7, "r7-to-1"));    // Receive direction.
  transport_.Send(3, 2, RaftFrame(3, 2, 7, "r7-from-3"));  // Other node.
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 2u);
  EXPECT_EQ(r(1).count(), 1u);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kRule), 1u);
}

TEST_F(LocalFilterTest, RuleWithClassifierAllowAndObserver) {
  // A finer classification than the Envelope body: raft frames whose payload starts with
  // "vote". The first two such frames pass (allow), later ones are recorded and dropped.
  std::vector<std::string> seen;
  Rule rule;
  rule.kinds = {FrameKind::kRaft};
  rule.match = [](const FrameView& f) { return f.envelope()->raft().rfind("vote", 0) == 0; };
  rule.allow = 2;
  rule.on_match = [&seen](const FrameView& f) { seen.push_back(f.envelope()->raft()); };
  transport_.AddFilter(RuleFilter(rule));
  for (int i = 0; i < 4; ++i) {
    transport_.Send(1, 2, RaftFrame(1, 2, 1, "vote" + std::to_string(i)));
    transport_.Send(1, 2, RaftFrame(1, 2, 1, "append" + std::to_string(i)));
  }
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 6u);
  EXPECT_EQ(seen, (std::vector<std::string>{"vote2", "vote3"}));
}

TEST_F(LocalFilterTest, RuleCanDelayInsteadOfDrop) {
  Rule rule;
  rule.action = Rule::Action::kDelay;
  rule.delay_micros = 5'000;
  rule.node = 2;
  rule.direction = Direction::kRecv;
  transport_.AddFilter(RuleFilter(rule));
  const uint64_t start = env_.NowMicros();
  transport_.Send(1, 2, "slow");
  transport_.Send(1, 3, "fast");
  env_.RunUntilIdle();
  ASSERT_EQ(r(2).count(), 1u);
  ASSERT_EQ(r(3).count(), 1u);
  EXPECT_EQ(r(2).got()[0].at_micros, start + 5'000);
  EXPECT_EQ(r(3).got()[0].at_micros, start);
}

TEST_F(LocalFilterTest, HoldKeepsFramesUntilReleaseThenDeliversThemInOrder) {
  FilterId hold = transport_.AddFilter(HoldFilter([](const FrameView& f) { return f.to() == 2; }));
  for (int i = 0; i < 5; ++i) transport_.Send(1, 2, std::to_string(i));
  transport_.Send(1, 3, "other");
  env_.RunFor(1'000'000);
  EXPECT_EQ(r(2).count(), 0u);
  EXPECT_EQ(r(3).count(), 1u);
  EXPECT_EQ(transport_.HeldCount(hold), 5u);
  EXPECT_EQ(transport_.Stats().held, 5u);

  EXPECT_EQ(transport_.Release(hold), 5u);
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).bytes(), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(transport_.HeldCount(hold), 0u);

  // The filter stays: new frames are held again, and removing it lets them go.
  transport_.Send(1, 2, "5");
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 5u);
  EXPECT_EQ(transport_.HeldCount(hold), 1u);
  transport_.Heal();
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 6u);
  EXPECT_EQ(transport_.Stats().held, 0u);
}

TEST_F(LocalFilterTest, ReleasedFramesPassTheOtherFiltersAgain) {
  FilterId hold = transport_.AddFilter(HoldFilter());
  transport_.Send(1, 2, "held");
  env_.RunUntilIdle();
  FilterId part = transport_.Partition({{1}, {2}});
  EXPECT_EQ(transport_.Release(hold), 1u);
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 0u);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kPartition), 1u);
  EXPECT_TRUE(transport_.RemoveFilter(part));
}

TEST_F(LocalFilterTest, ComposedDropAndPartitionAndHealRestoresAll) {
  transport_.AddFilter(DropFilter(0.5));
  transport_.Partition({{1, 2, 3}, {4, 5}});
  transport_.AddFilter(DelayFilter(1'000));
  auto some = AllPairsDelivered();
  for (auto [a, b] : some) {
    EXPECT_FALSE((a <= 3) != (b <= 3)) << a << "->" << b << " crossed the partition";
  }
  EXPECT_LT(some.size(), EveryPair().size());
  transport_.ClearFilters();
  EXPECT_EQ(AllPairsDelivered(), EveryPair());
}

TEST_F(LocalFilterTest, FramesInFlightToAnUnregisteredNodeAreDropped) {
  transport_.AddFilter(DelayFilter(10'000));
  transport_.Send(1, 2, "to-old-incarnation");
  env_.RunFor(5'000);
  transport_.Unregister(2);
  TimedReceiver fresh(&env_);
  ASSERT_TRUE(transport_.Register(2, &fresh).ok());
  env_.RunUntilIdle();
  EXPECT_EQ(fresh.count(), 0u);
  EXPECT_EQ(r(2).count(), 0u);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kUnregistered), 1u);
  transport_.Send(1, 2, "to-new");
  env_.RunUntilIdle();
  EXPECT_EQ(fresh.count(), 1u);
  transport_.Unregister(2);
  ASSERT_TRUE(transport_.Register(2, &r(2)).ok());
}

TEST_F(LocalFilterTest, CountersAddUp) {
  transport_.AddFilter(DropFilter(0.25));
  for (int i = 0; i < 1000; ++i) transport_.Send(1 + i % 5, 1 + (i / 5) % 5, "x");
  transport_.Send(1, 99, "unknown");
  transport_.Send(1, 2, std::string(LocalTransportOptions().max_frame_bytes + 1, 'x'));
  env_.RunUntilIdle();
  TransportStats s = transport_.Stats();
  EXPECT_EQ(s.sent, 1002u);
  EXPECT_EQ(s.Dropped(DropReason::kUnknownNode), 1u);
  EXPECT_EQ(s.Dropped(DropReason::kTooLarge), 1u);
  EXPECT_EQ(s.delivered + s.TotalDropped(), s.sent);
  size_t received = 0;
  for (NodeId id = 1; id <= kNodes; ++id) received += r(id).count();
  EXPECT_EQ(received, s.delivered);
}

TEST_F(LocalFilterTest, ReceiverMayUnregisterItselfFromOnFrame) {
  struct SelfRemover : FrameReceiver {
    LocalTransport* t;
    int calls = 0;
    void OnFrame(NodeId, std::string) override {
      ++calls;
      t->Unregister(9);
    }
  } remover;
  remover.t = &transport_;
  ASSERT_TRUE(transport_.Register(9, &remover).ok());
  for (int i = 0; i < 3; ++i) transport_.Send(1, 9, "x");
  env_.RunUntilIdle();
  EXPECT_EQ(remover.calls, 1);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kUnregistered), 2u);
}

TEST_F(LocalFilterTest, ASelfFeedingReceiverDoesNotStarveOtherFibers) {
  struct SelfPinger : FrameReceiver {
    LocalTransport* t;
    int count = 0;
    int count_when_other_ran = -1;
    void OnFrame(NodeId, std::string frame) override {
      if (++count < 10'000) t->Send(9, 9, std::move(frame));
    }
  } pinger;
  pinger.t = &transport_;
  ASSERT_TRUE(transport_.Register(9, &pinger).ok());
  transport_.Send(9, 9, "ping");
  env_.Spawn([&] { pinger.count_when_other_ran = pinger.count; });
  env_.RunUntilIdle();
  EXPECT_EQ(pinger.count, 10'000);
  EXPECT_GE(pinger.count_when_other_ran, 0);
  EXPECT_LT(pinger.count_when_other_ran, 1'000);
  transport_.Unregister(9);
}

TEST(LocalTransportTest, ExportsCountersToARegistry) {
  SimEnv env;
  metrics::Registry registry;
  LocalTransportOptions options;
  options.registry = &registry;
  options.metrics_label = "hub1";
  options.max_frame_bytes = 10;
  LocalTransport t(&env, options);
  TimedReceiver r(&env);
  ASSERT_TRUE(t.Register(1, &r).ok());
  t.Send(2, 1, "ok");
  t.Send(2, 1, "much too large");
  t.Send(2, 3, "nobody");
  env.RunUntilIdle();
  const std::string text = registry.RenderText();
  EXPECT_NE(text.find("rutile_transport_frames_sent_total{transport=\"hub1\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rutile_transport_frames_delivered_total{transport=\"hub1\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rutile_transport_frames_dropped_total{transport=\"hub1\",reason=\"too_"
                      "large\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rutile_transport_frames_dropped_total{transport=\"hub1\",reason="
                      "\"unknown_node\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(t.Stats().delivered, 1u);
  t.Unregister(1);
}

TEST(LocalTransportTest, ConcurrentSendersOnDefaultEnvKeepPerPairOrder) {
  Env* env = Env::Default();
  LocalTransport t(env);
  constexpr int kSenders = 8;
  constexpr int kPerSender = 2'000;
  TimedReceiver r(env);
  ASSERT_TRUE(t.Register(100, &r).ok());
  WaitGroup wg;
  wg.Add(kSenders);
  for (int s = 1; s <= kSenders; ++s) {
    env->Spawn([&, s] {
      for (int i = 0; i < kPerSender; ++i) {
        t.Send(s, 100, std::to_string(i));
        if (i % 100 == 0) env->Yield();
      }
      wg.Done();
    });
  }
  wg.Wait();
  ASSERT_TRUE(testing::WaitOnEnv(
      env, [&] { return r.count() == kSenders * kPerSender; }, 30'000'000));
  std::map<NodeId, int> next;
  for (const auto& got : r.got()) {
    ASSERT_EQ(std::stoi(got.bytes), next[got.from]) << "from " << got.from;
    ++next[got.from];
  }
  t.Unregister(100);
}

}  // namespace
}  // namespace rutile::transport
