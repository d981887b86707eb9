// Linearizable raw-KV registers under the full nemesis (register_workload.h), 200 short
// seeds. The soak (linearizability_slow_test.cc) runs longer ones.

#include "cluster/register_workload.h"
#include "gtest/gtest.h"
#include "rutile/testing/seeds.h"

namespace rutile::testing {
namespace {

TEST(ClusterLinearizabilityTest, RawKvRegistersUnderFullNemesis) {
  ForEachSeed(200, [](uint64_t seed) { register_workload::RunSeed(seed); });
}

}  // namespace
}  // namespace rutile::testing
