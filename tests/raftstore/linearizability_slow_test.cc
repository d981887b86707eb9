// Linearizable registers under the nemesis, a soak over seeds 1000-1499
// (register_workload.h); the fast suite runs 20.

#include "gtest/gtest.h"
#include "raftstore/register_workload.h"
#include "rutile/testing/simulation.h"

namespace rutile::raftstore {
namespace {

using register_workload::RunSeed;

TEST(LinearizabilityTest, RegistersUnderNemesisSoak) {
  std::optional<uint64_t> only = testing::SeedFromEnvironment();
  if (only.has_value()) {
    RunSeed(*only);
    return;
  }
  for (uint64_t seed = 1000; seed < 1500; ++seed) {
    RunSeed(seed);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace rutile::raftstore
