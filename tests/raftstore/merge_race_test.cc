// Merges racing splits and conf changes (merge_race.h): a few seeds without faults and a
// few under the nemesis. The slow soak (merge_race_slow_test.cc) runs many more.

#include "raftstore/merge_race.h"

#include "gtest/gtest.h"
#include "rutile/testing/simulation.h"

namespace rutile::raftstore {
namespace {

TEST(MergeRaceTest, MergesRacingSplitsAndConfChangesLoseAndDuplicateNothing) {
  std::optional<uint64_t> only = testing::SeedFromEnvironment();
  if (only.has_value()) {
    merge_race::RunSeed(*only, /*nemesis=*/true);
    return;
  }
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    merge_race::RunSeed(seed, /*nemesis=*/false);
    if (::testing::Test::HasFailure()) return;
  }
  for (uint64_t seed = 101; seed <= 104; ++seed) {
    merge_race::RunSeed(seed, /*nemesis=*/true);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace rutile::raftstore
