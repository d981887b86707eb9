// SimTransport: the conformance suite (on a SimEnv and, since it works with any Env, on
// Env::Default()), each fault of the simulated network checked in virtual time, and
// determinism: one seed gives one delivery order and trace hash, other seeds others.

#include "transport/sim_transport.h"

#include <algorithm>
#include <cmath>
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
#include "util/sync.h"

namespace rutile::transport {
namespace {

using testing::TimedReceiver;

constexpr size_t kTestFrameLimit = 256 * 1024;

// A SimTransport on its own SimEnv, or on Env::Default() with short real latencies.
std::unique_ptr<testing::TransportWorld> MakeSimWorld(bool simulated) {
  return std::make_unique<testing::HubWorld<SimTransport>>(simulated, 5, [simulated](Env* env) {
    SimTransportOptions options;
    options.max_frame_bytes = kTestFrameLimit;
    if (!simulated) {
      options.min_latency_micros = 0;
      options.max_latency_micros = 300;
    }
    return std::make_unique<SimTransport>(env, options);
  });
}

struct SimOnSimEnvFactory {
  static std::unique_ptr<testing::TransportWorld> Make(const std::vector<NodeId>&) {
    return MakeSimWorld(true);
  }
};
struct SimOnDefaultEnvFactory {
  static std::unique_ptr<testing::TransportWorld> Make(const std::vector<NodeId>&) {
    return MakeSimWorld(false);
  }
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(SimOnSimEnv, TransportConformanceTest,
                               ::testing::Types<SimOnSimEnvFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(SimOnDefaultEnv, TransportConformanceTest,
                               ::testing::Types<SimOnDefaultEnvFactory>);
}  // namespace testing

namespace {

class SimNemesisTest : public ::testing::Test {
 protected:
  static constexpr int kNodes = 4;

  explicit SimNemesisTest(SimTransportOptions options = SimTransportOptions())
      : env_(SimEnvOptions{.seed = 777}), transport_(&env_, options) {
    for (NodeId id = 1; id <= kNodes; ++id) {
      receivers_.push_back(std::make_unique<TimedReceiver>(&env_));
      EXPECT_TRUE(transport_.Register(id, receivers_.back().get()).ok());
    }
  }
  ~SimNemesisTest() override {
    for (NodeId id = 1; id <= kNodes; ++id) transport_.Unregister(id);
  }

  TimedReceiver& r(NodeId id) { return *receivers_[id - 1]; }

  // Sends frames numbered 0..n-1 from `from` to `to`.
  void SendNumbered(NodeId from, NodeId to, int n) {
    for (int i = 0; i < n; ++i) transport_.Send(from, to, std::to_string(i));
  }

  static bool InOrder(const std::vector<std::string>& got) {
    for (size_t i = 1; i < got.size(); ++i) {
      if (std::stoi(got[i - 1]) > std::stoi(got[i])) return false;
    }
    return true;
  }

  SimEnv env_;
  std::vector<std::unique_ptr<TimedReceiver>> receivers_;
  SimTransport transport_;
};

TEST_F(SimNemesisTest, LatencyIsDrawnWithinBoundsInVirtualTime) {
  transport_.SetLatency(1'000, 5'000);
  constexpr int kFrames = 500;
  std::vector<uint64_t> sent_at;
  // One frame at a time, far apart, so pair order never holds a frame back.
  for (int i = 0; i < kFrames; ++i) {
    sent_at.push_back(env_.NowMicros());
    transport_.Send(1, 2, std::to_string(i));
    env_.RunFor(10'000);
  }
  auto got = r(2).got();
  ASSERT_EQ(got.size(), static_cast<size_t>(kFrames));
  uint64_t lo = UINT64_MAX, hi = 0;
  double sum = 0;
  for (int i = 0; i < kFrames; ++i) {
    uint64_t latency = got[i].at_micros - sent_at[i];
    ASSERT_GE(latency, 1'000u);
    ASSERT_LE(latency, 5'000u);
    lo = std::min(lo, latency);
    hi = std::max(hi, latency);
    sum += static_cast<double>(latency);
  }
  // Uniform on [1000, 5000]: mean 3000, sd of the mean ~52.
  EXPECT_NEAR(sum / kFrames, 3'000.0, 300.0);
  EXPECT_LT(lo, 1'100u);
  EXPECT_GT(hi, 4'900u);
}

TEST_F(SimNemesisTest, RandomLatenciesNeverReorderAPairWithoutReordering) {
  transport_.SetLatency(0, 50'000);
  SendNumbered(1, 2, 1'000);
  SendNumbered(3, 2, 1'000);
  env_.RunUntilIdle();
  std::map<NodeId, std::vector<std::string>> by_sender;
  for (const auto& g : r(2).got()) by_sender[g.from].push_back(g.bytes);
  EXPECT_EQ(by_sender[1].size(), 1'000u);
  EXPECT_EQ(by_sender[3].size(), 1'000u);
  EXPECT_TRUE(InOrder(by_sender[1]));
  EXPECT_TRUE(InOrder(by_sender[3]));
}

TEST_F(SimNemesisTest, LossDropsAtItsRate) {
  transport_.SetLoss(0.2);
  SendNumbered(1, 2, 10'000);
  env_.RunUntilIdle();
  const uint64_t lost = transport_.Stats().Dropped(DropReason::kRandom);
  // Binomial(10000, 0.2): sd 40.
  EXPECT_GT(lost, 1'800u);
  EXPECT_LT(lost, 2'200u);
  EXPECT_EQ(r(2).count() + lost, 10'000u);
  EXPECT_TRUE(InOrder(r(2).bytes()));
  transport_.SetLoss(0);
  SendNumbered(1, 3, 100);
  env_.RunUntilIdle();
  EXPECT_EQ(r(3).count(), 100u);
}

TEST_F(SimNemesisTest, DuplicationDeliversExtraCopies) {
  transport_.SetDuplication(0.1);
  SendNumbered(1, 2, 5'000);
  env_.RunUntilIdle();
  TransportStats s = transport_.Stats();
  EXPECT_GT(s.duplicated, 400u);
  EXPECT_LT(s.duplicated, 600u);
  EXPECT_EQ(r(2).count(), 5'000u + s.duplicated);
  // Every frame arrived at least once.
  std::set<std::string> distinct;
  for (const auto& b : r(2).bytes()) distinct.insert(b);
  EXPECT_EQ(distinct.size(), 5'000u);
}

TEST_F(SimNemesisTest, ReorderingLetsFramesOvertake) {
  transport_.SetReordering(0.2);
  SendNumbered(1, 2, 1'000);
  env_.RunUntilIdle();
  auto got = r(2).bytes();
  ASSERT_EQ(got.size(), 1'000u);
  EXPECT_FALSE(InOrder(got));
  std::set<std::string> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), 1'000u);
}

TEST_F(SimNemesisTest, PartitionIsolateAndHeal) {
  transport_.Partition({{1, 2}, {3, 4}});
  transport_.Send(1, 2, "in");
  transport_.Send(1, 3, "across");
  transport_.Send(4, 2, "across");
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 1u);
  EXPECT_EQ(r(3).count(), 0u);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kPartition), 2u);
  transport_.Heal();
  transport_.Isolate(4);
  transport_.Send(1, 3, "ok");
  transport_.Send(1, 4, "cut");
  transport_.Send(4, 1, "cut");
  env_.RunUntilIdle();
  EXPECT_EQ(r(3).count(), 1u);
  EXPECT_EQ(r(4).count(), 0u);
  EXPECT_EQ(r(1).count(), 0u);
  transport_.Heal();
  transport_.Send(1, 4, "healed");
  transport_.Send(4, 1, "healed");
  env_.RunUntilIdle();
  EXPECT_EQ(r(4).count(), 1u);
  EXPECT_EQ(r(1).count(), 1u);
}

TEST_F(SimNemesisTest, ClogHoldsFramesToAndFromTheNodeUntilItEnds) {
  transport_.SetLatency(1'000, 1'000);
  const uint64_t t0 = env_.NowMicros();
  transport_.Send(1, 2, "0");  // In flight when the clog starts.
  env_.RunFor(500);
  transport_.Clog(2, 100'000);
  const uint64_t clog_end = t0 + 500 + 100'000;
  transport_.Send(1, 2, "1");
  transport_.Send(2, 3, "from-clogged");
  transport_.Send(1, 3, "bystander");
  env_.RunFor(99'000);
  EXPECT_EQ(r(2).count(), 0u);
  EXPECT_EQ(r(3).count(), 1u);  // The bystander frame only.
  env_.RunUntilIdle();
  auto to2 = r(2).got();
  ASSERT_EQ(to2.size(), 2u);
  EXPECT_EQ(to2[0].bytes, "0");
  EXPECT_EQ(to2[1].bytes, "1");
  EXPECT_EQ(to2[0].at_micros, clog_end);
  EXPECT_EQ(to2[1].at_micros, clog_end);
  auto to3 = r(3).got();
  ASSERT_EQ(to3.size(), 2u);
  EXPECT_EQ(to3[0].bytes, "bystander");
  EXPECT_EQ(to3[0].at_micros, t0 + 500 + 1'000);
  EXPECT_EQ(to3[1].bytes, "from-clogged");
  EXPECT_EQ(to3[1].at_micros, clog_end);
  // After the clog, normal latency again.
  const uint64_t t1 = env_.NowMicros();
  transport_.Send(1, 2, "2");
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).got().back().at_micros, t1 + 1'000);
}

TEST_F(SimNemesisTest, ClogPairIsOneDirectionAndHealLiftsClogs) {
  transport_.SetLatency(1'000, 1'000);
  const uint64_t t0 = env_.NowMicros();
  transport_.ClogPair(1, 2, 1'000'000);
  transport_.Send(1, 2, "clogged");
  transport_.Send(2, 1, "free");
  env_.RunFor(10'000);
  EXPECT_EQ(r(2).count(), 0u);
  ASSERT_EQ(r(1).count(), 1u);
  EXPECT_EQ(r(1).got()[0].at_micros, t0 + 1'000);
  transport_.Clog(3, 1'000'000);
  transport_.Heal();
  transport_.Send(1, 3, "after-heal");
  // The clogged frame was parked until the clog's end; after Heal it goes at that time
  // at the latest, and new frames pass at once.
  env_.RunFor(2'000);
  EXPECT_EQ(r(3).count(), 1u);
  env_.RunUntilIdle();
  EXPECT_EQ(r(2).count(), 1u);
}

TEST_F(SimNemesisTest, CrashDropsFramesInFlightUntilRestart) {
  transport_.SetLatency(10'000, 10'000);
  transport_.Send(2, 1, "sent-before-crash");  // From the node that crashes: still arrives.
  SendNumbered(1, 2, 5);
  env_.RunFor(5'000);
  transport_.Crash(2);
  EXPECT_TRUE(transport_.IsCrashed(2));
  env_.RunFor(100'000);
  EXPECT_EQ(r(2).count(), 0u);
  EXPECT_EQ(r(1).count(), 1u);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kCrashed), 5u);

  // While crashed: frames to and from it are dropped, even once a receiver registers.
  TimedReceiver reborn(&env_);
  ASSERT_TRUE(transport_.Register(2, &reborn).ok());
  transport_.Send(1, 2, "to-crashed");
  transport_.Send(2, 3, "from-crashed");
  env_.RunFor(100'000);
  EXPECT_EQ(reborn.count(), 0u);
  EXPECT_EQ(r(3).count(), 0u);
  EXPECT_EQ(transport_.Stats().Dropped(DropReason::kCrashed), 7u);

  transport_.Restart(2);
  EXPECT_FALSE(transport_.IsCrashed(2));
  transport_.Send(1, 2, "after-restart");
  transport_.Send(2, 3, "after-restart");
  env_.RunFor(100'000);
  EXPECT_EQ(reborn.bytes(), std::vector<std::string>{"after-restart"});
  EXPECT_EQ(r(3).count(), 1u);
  transport_.Unregister(2);
  ASSERT_TRUE(transport_.Register(2, &r(2)).ok());
}

TEST_F(SimNemesisTest, FiltersComposeWithTheSimulatedNetwork) {
  transport_.SetLatency(1'000, 1'000);
  FilterId hold = transport_.AddFilter(HoldFilter([](const FrameView& f) { return f.to() == 3; }));
  transport_.AddFilter(DelayFilter(4'000));
  const uint64_t t0 = env_.NowMicros();
  transport_.Send(1, 2, "delayed");
  transport_.Send(1, 3, "held");
  env_.RunFor(1'000'000);
  ASSERT_EQ(r(2).count(), 1u);
  EXPECT_EQ(r(2).got()[0].at_micros, t0 + 5'000);  // Filter delay plus network latency.
  EXPECT_EQ(r(3).count(), 0u);
  const uint64_t t1 = env_.NowMicros();
  EXPECT_EQ(transport_.Release(hold), 1u);
  env_.RunUntilIdle();
  ASSERT_EQ(r(3).count(), 1u);
  EXPECT_EQ(r(3).got()[0].at_micros, t1 + 5'000);
}

// A small cluster under every fault at once, driven by the SimEnv's seed: nodes send to
// random peers, receivers answer from OnFrame, and a nemesis fiber partitions, isolates,
// clogs, crashes and restarts nodes. Returns the delivery log's hash and the trace hash.
struct RunResult {
  std::vector<std::string> log;
  uint64_t trace_hash = 0;
  TransportStats stats;
};

RunResult RunChaos(uint64_t seed) {
  constexpr int kNodes = 5;
  SimEnv env(SimEnvOptions{.seed = seed});
  SimTransportOptions options;
  options.loss_probability = 0.05;
  options.duplicate_probability = 0.05;
  options.reorder_probability = 0.1;
  options.tail_probability = 0.05;
  SimTransport transport(&env, options);
  RunResult result;

  struct Node : FrameReceiver {
    SimTransport* t;
    Env* env;
    NodeId self;
    RunResult* result;
    void OnFrame(NodeId from, std::string frame) override {
      result->log.push_back(std::to_string(env->NowMicros()) + " " + std::to_string(from) + ">" +
                            std::to_string(self) + " " + frame);
      if (frame[0] == 'q') t->Send(self, from, "a" + frame.substr(1));
    }
  };
  std::vector<std::unique_ptr<Node>> nodes;
  for (NodeId id = 1; id <= kNodes; ++id) {
    auto n = std::make_unique<Node>();
    n->t = &transport;
    n->env = &env;
    n->self = id;
    n->result = &result;
    EXPECT_TRUE(transport.Register(id, n.get()).ok());
    nodes.push_back(std::move(n));
  }
  bool stop = false;
  WaitGroup wg;
  for (NodeId id = 1; id <= kNodes; ++id) {
    wg.Add(1);
    env.Spawn([&, id] {
      for (int i = 0; !stop; ++i) {
        NodeId to = 1 + env.Uniform(kNodes);
        transport.Send(id, to, "q" + std::to_string(id) + "." + std::to_string(i));
        env.SleepForMicros(env.Uniform(5'000));
      }
      wg.Done();
    });
  }
  wg.Add(1);
  env.Spawn([&] {
    while (!stop) {
      env.SleepForMicros(50'000 + env.Uniform(200'000));
      NodeId victim = 1 + env.Uniform(kNodes);
      switch (env.Uniform(5)) {
        case 0:
          transport.Partition({{1, 2}, {3, 4, 5}});
          break;
        case 1:
          transport.Isolate(victim);
          break;
        case 2:
          transport.Clog(victim, env.Uniform(100'000));
          break;
        case 3:
          if (!transport.IsCrashed(victim)) {
            transport.Crash(victim);
          } else {
            transport.Restart(victim);
            EXPECT_TRUE(transport.Register(victim, nodes[victim - 1].get()).ok());
          }
          break;
        case 4:
          transport.Heal();
          break;
      }
    }
    wg.Done();
  });
  env.RunFor(3'000'000);
  stop = true;
  env.RunUntil([&] { return false; }, 1'000'000);
  for (NodeId id = 1; id <= kNodes; ++id) transport.Unregister(id);
  result.trace_hash = env.TraceHash();
  result.stats = transport.Stats();
  return result;
}

TEST(SimTransportDeterminismTest, SameSeedSameDeliveriesAndTraceHash) {
  RunResult a = RunChaos(4242);
  RunResult b = RunChaos(4242);
  ASSERT_GT(a.log.size(), 1'000u);
  EXPECT_EQ(a.log, b.log);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.stats.delivered, b.stats.delivered);
  EXPECT_EQ(a.stats.dropped, b.stats.dropped);
  // Every fault actually happened.
  EXPECT_GT(a.stats.duplicated, 0u);
  EXPECT_GT(a.stats.Dropped(DropReason::kRandom), 0u);
  EXPECT_GT(a.stats.Dropped(DropReason::kCrashed), 0u);
}

TEST(SimTransportDeterminismTest, DifferentSeedsDiffer) {
  std::set<uint64_t> hashes;
  std::set<std::vector<std::string>> logs;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    RunResult r = RunChaos(seed);
    hashes.insert(r.trace_hash);
    logs.insert(r.log);
  }
  EXPECT_EQ(hashes.size(), 6u);
  EXPECT_EQ(logs.size(), 6u);
}

TEST(SimTransportDeterminismTest, DeliveriesAreMixedIntoTheTraceHash) {
  // Same schedule, different frame contents: only the deliveries differ, and the hash
  // must see it.
  auto run = [](const std::string& payload, bool trace) {
    SimEnv env(SimEnvOptions{.seed = 3});
    SimTransportOptions options;
    options.trace_deliveries = trace;
    SimTransport t(&env, options);
    TimedReceiver r(&env);
    EXPECT_TRUE(t.Register(1, &r).ok());
    t.Send(2, 1, payload);
    env.RunUntilIdle();
    t.Unregister(1);
    return env.TraceHash();
  };
  EXPECT_NE(run("a", true), run("b", true));
  EXPECT_EQ(run("a", false), run("b", false));
}

}  // namespace
}  // namespace rutile::transport
