// Linearizable registers under the nemesis, 20 seeds (register_workload.h). The slow
// soak (linearizability_slow_test.cc) runs many more.

#include "gtest/gtest.h"
#include "raftstore/register_workload.h"
#include "rutile/testing/simulation.h"

namespace rutile::raftstore {
namespace {

using register_workload::RunSeed;

TEST(LinearizabilityTest, RegistersUnderNemesis) {
  std::optional<uint64_t> only = testing::SeedFromEnvironment();
  if (only.has_value()) {
    RunSeed(*only);
    return;
  }
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RunSeed(seed);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace rutile::raftstore
