// Soak of rpc_faults_test.cc: many more seeds, longer runs. Label `slow`.

#include <gtest/gtest.h>

#include "rpc_faults_common.h"
#include "rutile/testing/seeds.h"

namespace rutile::sim_test {
namespace {

TEST(RpcFaultsSoakTest, NeverAWrongAnswerUnderLossAndPartitions) {
  testing::ForEachSeed(
      1000,
      [](uint64_t seed) {
        testing::SimulationTestResult r =
            testing::RunSimulationTest(RpcFaultsTest(30'000'000), seed);
        EXPECT_TRUE(r.status.ok()) << r.status;
      },
      /*first=*/1000);
}

}  // namespace
}  // namespace rutile::sim_test
