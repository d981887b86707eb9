// Soak of the replicated PD's TSO (pd_world.h): many seeds, each fetching timestamps from
// 16 fibers over a lossy network while the leader is crashed and partitioned away in turn;
// every timestamp unique, per-fiber increasing and real-time ordered. RUTILE_SIM_SEEDS
// scales the number of seeds; a failure prints its seed (replay with RUTILE_SIM_SEED).

#include <cstdio>

#include "gtest/gtest.h"
#include "pd/server/pd_world.h"
#include "rutile/testing/seeds.h"

namespace rutile {
namespace {

TEST(ReplicatedPdSoakTest, TsoAcrossFailoversOnALossyNetwork) {
  testing::ForEachSeed(40, [](uint64_t seed) {
    pdtest::PdWorld w(seed, /*loss=*/0.02);
    pdtest::TsoRunResult r = pdtest::RunTsoFailovers(w, 20'000, 16);
    ASSERT_EQ(r.error, "") << w.Seed();
    EXPECT_GE(r.failovers, 1) << w.Seed();
  });
}

}  // namespace
}  // namespace rutile
