// Determinism of the simulation (issue 3): an echo-RPC workload under a random nemesis
// (partitions, isolation, clogs, crashes and restarts, clock skew, loss, duplication,
// reordering) for 60 virtual seconds gives the same trace hash twice for one seed, and
// different hashes for different seeds.

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "rpc_workload.h"
#include "rutile/testing/seeds.h"
#include "rutile/testing/simulation.h"
#include "rutile/testing/workload.h"

namespace rutile::sim_test {
namespace {

struct RunResult {
  absl::Status status;
  uint64_t hash = 0;
  std::string counts;
  std::vector<std::string> log;
};

RunResult RunEcho(uint64_t seed) {
  EchoRpcOptions wo;
  wo.think_micros = 50'000;
  EchoRpcWorkload workload(wo);  // Outlives the Simulation, as workload.h asks.
  testing::SimulationOptions so;
  so.seed = seed;
  // The test compares seeds with each other, so RUTILE_SIM_SEED must not replace them.
  so.seed_from_environment = false;
  testing::Simulation sim(so);
  RunResult out;
  out.status = workload.AddNodes(sim);
  if (!out.status.ok()) return out;
  testing::WorkloadRunOptions ro;
  ro.duration_micros = 60'000'000;
  ro.nemesis_options.crash_weight = 1;
  out.status = testing::RunWorkloads(sim, {&workload}, ro);
  out.hash = sim.TraceHash();
  out.counts = workload.counts().ToString();
  out.log = sim.NemesisLog();
  return out;
}

TEST(EchoRpcDeterminismTest, SameSeedGivesTheSameTraceHash) {
  RunResult a = RunEcho(42);
  RunResult b = RunEcho(42);
  ASSERT_TRUE(a.status.ok()) << a.status << " " << a.counts;
  ASSERT_TRUE(b.status.ok()) << b.status << " " << b.counts;
  std::printf("seed 42: %s, %zu nemesis log lines, trace hash %016llx\n", a.counts.c_str(),
              a.log.size(), static_cast<unsigned long long>(a.hash));
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(a.log, b.log);
  // The nemesis did something in 60 seconds: well over a handful of faults.
  EXPECT_GT(a.log.size(), 20u);
}

TEST(EchoRpcDeterminismTest, DifferentSeedsGiveDifferentTraceHashes) {
  std::set<uint64_t> hashes;
  std::set<std::vector<std::string>> logs;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    RUTILE_SIM_SEED_TRACE(seed);
    RunResult r = RunEcho(seed);
    ASSERT_TRUE(r.status.ok()) << r.status << " " << r.counts;
    hashes.insert(r.hash);
    logs.insert(r.log);
  }
  EXPECT_EQ(hashes.size(), 4u);
  EXPECT_EQ(logs.size(), 4u);
}

}  // namespace
}  // namespace rutile::sim_test
