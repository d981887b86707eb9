// The simulation harness (rutile/testing/simulation.h, workload.h, seeds.h): seeds and
// replay, nodes and their Envs, each nemesis call doing what it says and Heal/Restart
// undoing it, the random nemesis being undone by StopNemesis, workload phases, and seed
// reporting on failure.

#include "rutile/testing/simulation.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/simulation_internal.h"
#include "rutile/testing/seeds.h"
#include "rutile/testing/workload.h"
#include "transport/rpc.h"

namespace rutile::testing {
namespace {

// Sets an environment variable for the scope and restores it after.
class ScopedEnvVar {
 public:
  ScopedEnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnvVar() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SimulationTest, RutileSimSeedReplacesTheSeed) {
  ScopedEnvVar var("RUTILE_SIM_SEED", "77");
  EXPECT_EQ(SeedFromEnvironment(), 77u);
  {
    Simulation a(5);
    EXPECT_EQ(a.seed(), 77u);
  }
  {
    // Only one SimEnv may exist per thread at a time.
    Simulation b(SimulationOptions{.seed = 5, .seed_from_environment = false});
    EXPECT_EQ(b.seed(), 5u);
  }
  ScopedEnvVar hex("RUTILE_SIM_SEED", "0x10");
  EXPECT_EQ(SeedFromEnvironment(), 16u);
  ScopedEnvVar junk("RUTILE_SIM_SEED", "12abc");
  EXPECT_EQ(SeedFromEnvironment(), std::nullopt);
}

TEST(SimulationTest, SeedReplayMessageNamesTheVariable) {
  EXPECT_EQ(SeedReplayMessage(9), "seed=9 (replay with RUTILE_SIM_SEED=9)");
}

TEST(SimulationTest, AddNodeValidates) {
  Simulation sim(1);
  auto start = [](const NodeHandle&) {};
  EXPECT_EQ(sim.AddNode(0, {.start = start}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim.AddNode(1, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(sim.AddNode(1, {.start = start}).ok());
  EXPECT_EQ(sim.AddNode(1, {.start = start}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(sim.nodes(), std::vector<NodeId>{1});
  EXPECT_EQ(sim.node_env(2), nullptr);
}

// A node that ticks a counter every 10ms on its own fiber and fires a timer at 500ms.
struct Ticker {
  int ticks = 0;
  int timer_fired = 0;
  int crashes = 0;
  std::vector<uint64_t> incarnations;
};

NodeHooks TickerHooks(std::shared_ptr<Ticker> t) {
  return {.start =
              [t](const NodeHandle& h) {
                t->incarnations.push_back(h.incarnation);
                Env* env = h.env;
                env->Schedule(500'000, [t] { ++t->timer_fired; });
                env->Spawn([t, env] {
                  for (;;) {
                    env->SleepForMicros(10'000);
                    ++t->ticks;
                  }
                });
              },
          .crash = [t](NodeId) { ++t->crashes; }};
}

TEST(SimulationTest, CrashStopsTheNodesFibersAndTimersAndRestartStartsItAgain) {
  Simulation sim(3);
  auto t = std::make_shared<Ticker>();
  ASSERT_TRUE(sim.AddNode(1, TickerHooks(t)).ok());
  sim.RunFor(105'000);
  EXPECT_EQ(t->ticks, 10);
  EXPECT_TRUE(sim.IsUp(1));
  Env* first = sim.node_env(1);
  EXPECT_NE(first, sim.env());

  sim.Crash(1);
  EXPECT_FALSE(sim.IsUp(1));
  EXPECT_EQ(t->crashes, 1);
  sim.Crash(1);  // No-op when down.
  EXPECT_EQ(t->crashes, 1);
  sim.RunFor(1'000'000);
  EXPECT_EQ(t->ticks, 10);
  EXPECT_EQ(t->timer_fired, 0);
  // A dead incarnation's Env refuses new work.
  bool ran = false;
  first->Spawn([&] { ran = true; });
  sim.RunFor(1000);
  EXPECT_FALSE(ran);

  sim.Restart(1);
  EXPECT_TRUE(sim.IsUp(1));
  sim.RunFor(1'000'000);
  EXPECT_EQ(t->incarnations, (std::vector<uint64_t>{1, 2}));
  EXPECT_NE(sim.node_env(1), first);
  EXPECT_EQ(t->ticks, 10 + 100);
  EXPECT_EQ(t->timer_fired, 1);
}

TEST(SimulationTest, SkewClockMovesOneNodesWallClockOnly) {
  Simulation sim(3);
  for (NodeId id : {1, 2}) ASSERT_TRUE(sim.AddNode(id, {.start = [](const NodeHandle&) {}}).ok());
  sim.RunFor(1000);
  sim.SkewClock(1, -250'000);
  Env* a = sim.node_env(1);
  Env* b = sim.node_env(2);
  EXPECT_EQ(static_cast<int64_t>(a->WallMicros()) - static_cast<int64_t>(b->WallMicros()),
            -250'000);
  EXPECT_EQ(b->WallMicros(), sim.env()->WallMicros());
  EXPECT_EQ(a->NowMicros(), b->NowMicros());
  // The skew survives a restart: it belongs to the machine, not the process.
  sim.Crash(1);
  sim.Restart(1);
  EXPECT_EQ(static_cast<int64_t>(sim.node_env(1)->WallMicros()) -
                static_cast<int64_t>(sim.env()->WallMicros()),
            -250'000);
}

// Nodes that each run an RpcEndpoint serving "Echo"; the test calls between them.
class RpcCluster {
 public:
  RpcCluster(Simulation& sim, int n) : sim_(sim) {
    for (int i = 1; i <= n; ++i) {
      NodeId id = i;
      auto slot = std::make_shared<std::shared_ptr<transport::RpcEndpoint>>();
      endpoints_[id] = slot;
      EXPECT_TRUE(sim.AddNode(id, {.start =
                                       [slot](const NodeHandle& h) {
                                         auto ep = std::make_shared<transport::RpcEndpoint>(
                                             h.env, h.transport, h.id);
                                         (void)ep->RegisterMethod(
                                             "Echo",
                                             [](const transport::RpcContext&,
                                                std::string_view r) -> absl::StatusOr<std::string> {
                                               return std::string(r);
                                             });
                                         *slot = ep;
                                       },
                                   .crash =
                                       [slot](NodeId) {
                                         // Start may not have run yet.
                                         if (*slot) (*slot)->Stop();
                                         slot->reset();
                                       }})
                      .ok());
    }
    sim.RunFor(1000);
  }

  // Calls `to` from `from` with `timeout` and returns the status code and the virtual time
  // the call took.
  std::pair<absl::StatusCode, uint64_t> Call(NodeId from, NodeId to, uint64_t timeout) {
    auto ep = *endpoints_[from];
    EXPECT_NE(ep, nullptr);
    uint64_t start = sim_.NowMicros();
    auto f = ep->Call(to, "Echo", "x", timeout);
    EXPECT_TRUE(sim_.RunUntil([&] { return f.Ready(); }, timeout + 1'000'000));
    return {f.Get().status().code(), sim_.NowMicros() - start};
  }

  absl::StatusCode Code(NodeId from, NodeId to) { return Call(from, to, 100'000).first; }

 private:
  Simulation& sim_;
  std::map<NodeId, std::shared_ptr<std::shared_ptr<transport::RpcEndpoint>>> endpoints_;
};

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kDeadline = absl::StatusCode::kDeadlineExceeded;

TEST(SimulationTest, PartitionSplitsTheGroupsAndHealRestoresDelivery) {
  Simulation sim(5);
  RpcCluster c(sim, 3);
  EXPECT_EQ(c.Code(1, 3), kOk);
  sim.Partition({{1, 2}, {3}});
  EXPECT_EQ(c.Code(1, 2), kOk);
  EXPECT_EQ(c.Code(1, 3), kDeadline);
  EXPECT_EQ(c.Code(3, 2), kDeadline);
  sim.Heal();
  EXPECT_EQ(c.Code(1, 3), kOk);
  EXPECT_EQ(c.Code(3, 2), kOk);
}

TEST(SimulationTest, IsolateCutsOneNodeOff) {
  Simulation sim(5);
  RpcCluster c(sim, 3);
  sim.Isolate(2);
  EXPECT_EQ(c.Code(1, 2), kDeadline);
  EXPECT_EQ(c.Code(2, 3), kDeadline);
  EXPECT_EQ(c.Code(1, 3), kOk);
  sim.Heal();
  EXPECT_EQ(c.Code(1, 2), kOk);
}

TEST(SimulationTest, ClogDelaysButDoesNotDrop) {
  Simulation sim(5);
  RpcCluster c(sim, 2);
  sim.Clog(2, 300'000);
  auto [code, took] = c.Call(1, 2, 2'000'000);
  EXPECT_EQ(code, kOk);
  EXPECT_GE(took, 300'000u);
  EXPECT_EQ(c.Code(1, 2), kOk);
}

TEST(SimulationTest, CrashedNodeIsUnreachableUntilRestart) {
  Simulation sim(5);
  RpcCluster c(sim, 2);
  sim.Crash(2);
  EXPECT_EQ(c.Code(1, 2), kDeadline);
  sim.Restart(2);
  sim.RunFor(1000);
  EXPECT_EQ(c.Code(1, 2), kOk);
  EXPECT_EQ(c.Code(2, 1), kOk);
}

TEST(SimulationTest, LossRateLosesCalls) {
  Simulation sim(5);
  RpcCluster c(sim, 2);
  sim.SetLoss(1.0);
  EXPECT_EQ(c.Code(1, 2), kDeadline);
  sim.SetLoss(0.0);
  EXPECT_EQ(c.Code(1, 2), kOk);
}

TEST(SimulationTest, StopNemesisUndoesEverythingTheRandomNemesisDid) {
  Simulation sim(11);
  RpcCluster c(sim, 5);
  NemesisOptions n;
  n.crash_weight = 3;
  n.min_interval_micros = 50'000;
  n.max_interval_micros = 200'000;
  n.min_fault_micros = 5'000'000;  // Longer than the run: StopNemesis must undo them.
  n.max_fault_micros = 10'000'000;
  sim.StartNemesis(n);
  EXPECT_TRUE(sim.NemesisRunning());
  sim.RunFor(3'000'000);
  sim.StopNemesis();
  EXPECT_FALSE(sim.NemesisRunning());
  sim.RunFor(1000);
  for (NodeId id : sim.nodes()) EXPECT_TRUE(sim.IsUp(id)) << id;
  for (NodeId a : sim.nodes()) {
    for (NodeId b : sim.nodes()) EXPECT_EQ(c.Code(a, b), kOk) << a << " -> " << b;
    EXPECT_EQ(sim.node_env(a)->WallMicros(), sim.env()->WallMicros()) << a;
  }
  const auto& log = sim.NemesisLog();
  ASSERT_GT(log.size(), 10u);
  EXPECT_NE(log.front().find("nemesis start"), std::string::npos);
  EXPECT_NE(log.back().find("nemesis stop"), std::string::npos);
  bool crashed = false, partitioned = false;
  for (const auto& line : log) {
    crashed |= line.find("nemesis crash") != std::string::npos;
    partitioned |= line.find("nemesis partition") != std::string::npos;
  }
  EXPECT_TRUE(crashed);
  EXPECT_TRUE(partitioned);
  // Nothing more happens after the stop.
  size_t size = log.size();
  sim.RunFor(20'000'000);
  EXPECT_EQ(sim.NemesisLog().size(), size);
}

TEST(SimulationTest, NemesisNeverCrashesAMajority) {
  Simulation sim(12);
  RpcCluster c(sim, 5);
  NemesisOptions n;
  n.partition_weight = n.isolate_weight = n.clog_weight = n.skew_weight = 0;
  n.loss_weight = n.duplicate_weight = n.reorder_weight = 0;
  n.crash_weight = 1;
  n.min_interval_micros = 10'000;
  n.max_interval_micros = 20'000;
  sim.StartNemesis(n);
  int max_down = 0;
  for (int i = 0; i < 2000; ++i) {
    sim.RunFor(5'000);
    int down = 0;
    for (NodeId id : sim.nodes()) down += sim.IsUp(id) ? 0 : 1;
    max_down = std::max(max_down, down);
  }
  EXPECT_EQ(max_down, 2);
  sim.StopNemesis();
}

// Records the phases it goes through.
class PhaseWorkload : public Workload {
 public:
  explicit PhaseWorkload(std::vector<std::string>* events, absl::Status check_status,
                         bool hang = false)
      : events_(events), check_status_(std::move(check_status)), hang_(hang) {}
  std::string Name() const override { return "Phases"; }
  absl::Status Setup(WorkloadContext& ctx) override {
    events_->push_back("setup nemesis=" + std::to_string(ctx.sim().NemesisRunning()));
    return absl::OkStatus();
  }
  absl::Status Start(WorkloadContext& ctx) override {
    events_->push_back("start nemesis=" + std::to_string(ctx.sim().NemesisRunning()));
    if (hang_) {
      Notification never;
      never.Wait();
    }
    while (!ctx.Stopping()) ctx.env()->SleepForMicros(1000);
    events_->push_back("stopping at deadline=" +
                       std::to_string(ctx.sim().NowMicros() == ctx.start_deadline_micros()));
    return absl::OkStatus();
  }
  absl::Status Check(WorkloadContext& ctx) override {
    events_->push_back("check nemesis=" + std::to_string(ctx.sim().NemesisRunning()));
    return check_status_;
  }

 private:
  std::vector<std::string>* events_;
  absl::Status check_status_;
  bool hang_;
};

TEST(WorkloadTest, PhasesRunInOrderWithTheNemesisDuringStartOnly) {
  std::vector<std::string> events;
  PhaseWorkload w(&events, absl::OkStatus());
  Simulation sim(1);
  WorkloadRunOptions o;
  o.duration_micros = 2'000'000;
  ASSERT_TRUE(RunWorkloads(sim, {&w}, o).ok());
  EXPECT_EQ(events, (std::vector<std::string>{"setup nemesis=0", "start nemesis=1",
                                              "stopping at deadline=1", "check nemesis=0"}));
}

TEST(WorkloadTest, FailedCheckNamesTheWorkloadPhaseAndSeed) {
  SimulationTest test;
  test.simulation.seed_from_environment = false;
  test.run.duration_micros = 1'000'000;
  auto events = std::make_shared<std::vector<std::string>>();
  test.build = [events](Simulation&) {
    std::vector<std::unique_ptr<Workload>> out;
    out.push_back(
        std::make_unique<PhaseWorkload>(events.get(), absl::DataLossError("lost a write")));
    return out;
  };
  SimulationTestResult r = RunSimulationTest(test, 1234);
  EXPECT_EQ(r.seed, 1234u);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(r.status.message(),
            "Phases.Check: lost a write [seed=1234 (replay with RUTILE_SIM_SEED=1234)]");
  EXPECT_FALSE(r.nemesis_log.empty());
}

TEST(WorkloadTest, HungStartFailsWithDeadlineExceeded) {
  std::vector<std::string> events;
  PhaseWorkload w(&events, absl::OkStatus(), /*hang=*/true);
  Simulation sim(1);
  WorkloadRunOptions o;
  o.duration_micros = 1'000'000;
  o.start_grace_micros = 1'000'000;
  absl::Status s = RunWorkloads(sim, {&w}, o);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("Phases.Start"), std::string::npos);
  EXPECT_FALSE(sim.NemesisRunning());
}

TEST(SeedsTest, ForEachSeedRunsNSeedsAndReportsTheFailingOne) {
  if (SeedFromEnvironment().has_value()) GTEST_SKIP() << "RUTILE_SIM_SEED is set";
  std::vector<uint64_t> seen;
  ForEachSeed(
      5, [&](uint64_t seed) { seen.push_back(seed); }, 10);
  EXPECT_EQ(seen, (std::vector<uint64_t>{10, 11, 12, 13, 14}));
  EXPECT_NONFATAL_FAILURE(ForEachSeed(5, [](uint64_t seed) { EXPECT_NE(seed, 3u); }),
                          "seed=3 (replay with RUTILE_SIM_SEED=3)");
}

TEST(SeedsTest, ForEachSeedRunsOnlyTheReplaySeed) {
  ScopedEnvVar var("RUTILE_SIM_SEED", "99");
  std::vector<uint64_t> seen;
  ForEachSeed(5, [&](uint64_t seed) { seen.push_back(seed); });
  EXPECT_EQ(seen, std::vector<uint64_t>{99});
}

}  // namespace
}  // namespace rutile::testing
