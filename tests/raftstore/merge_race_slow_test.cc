// Soak of merges racing splits and conf changes under the nemesis (merge_race.h).

#include "gtest/gtest.h"
#include "raftstore/merge_race.h"
#include "rutile/testing/simulation.h"

namespace rutile::raftstore {
namespace {

TEST(MergeRaceTest, Soak) {
  std::optional<uint64_t> only = testing::SeedFromEnvironment();
  if (only.has_value()) {
    merge_race::RunSeed(*only, /*nemesis=*/true);
    return;
  }
  for (uint64_t seed = 1000; seed < 1200; ++seed) {
    merge_race::RunSeed(seed, /*nemesis=*/true);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace rutile::raftstore
