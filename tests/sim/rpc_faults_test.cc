// RPC under loss and partitions (issue 3): with a lossy network and a random nemesis that
// partitions, isolates, clogs, crashes and restarts nodes, every call either returns the
// right answer or DeadlineExceeded / Unavailable (or Cancelled when the caller cancelled
// or crashed) — never a wrong answer — and once the faults stop, every node reaches every
// other. 50 seeds here; rpc_faults_slow_test.cc soaks many more.

#include <gtest/gtest.h>

#include "rpc_faults_common.h"
#include "rutile/testing/seeds.h"

namespace rutile::sim_test {
namespace {

TEST(RpcFaultsTest, NeverAWrongAnswerUnderLossAndPartitions) {
  testing::ForEachSeed(50, [](uint64_t seed) {
    testing::SimulationTestResult r = testing::RunSimulationTest(RpcFaultsTest(10'000'000), seed);
    EXPECT_TRUE(r.status.ok()) << r.status;
  });
}

}  // namespace
}  // namespace rutile::sim_test
