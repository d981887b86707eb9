// The soak: raft_sim.h's randomized simulation over many seeds (label `slow`; run on
// demand, not in CI's fast suite). RUTILE_SIM_SEEDS sets how many (default 100,000),
// RUTILE_SIM_FIRST_SEED where to start (default 1,000,001, past the fast suite's seeds),
// and RUTILE_SIM_SEED=N replays only seed N. A failing seed prints "seed=N".

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "raft_sim.h"

namespace rutile::raft::sim {
namespace {

uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* s = std::getenv(name);
  uint64_t v = 0;
  return s != nullptr && absl::SimpleAtoi(s, &v) ? v : dflt;
}

TEST(RaftSimSoakTest, ManySeeds) {
  InstallSeedReporter();
  SimOptions o;
  o.verbose = std::getenv("RUTILE_SIM_VERBOSE") != nullptr;
  uint64_t first = EnvU64("RUTILE_SIM_FIRST_SEED", 1'000'001);
  uint64_t count = EnvU64("RUTILE_SIM_SEEDS", 100'000);
  if (std::getenv("RUTILE_SIM_SEED") != nullptr) {
    first = EnvU64("RUTILE_SIM_SEED", 0);
    count = 1;
  }
  int failed = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    g_current_seed = seed;
    SimResult r = RunSimulation(seed, o);
    if (!r.ok()) {
      ADD_FAILURE() << "seed=" << seed << "\n  " << absl::StrJoin(r.failures, "\n  ");
      if (++failed >= 10) break;
    }
    if ((seed - first + 1) % 1000 == 0) {
      std::printf("%llu seeds done, %d failed\n", (unsigned long long)(seed - first + 1), failed);
      std::fflush(stdout);
    }
  }
}

}  // namespace
}  // namespace rutile::raft::sim
