// The simulation test shared by rpc_faults_test.cc and its soak: the echo-RPC workload on
// a lossy network under a random nemesis that also crashes and restarts nodes.

#ifndef RUTILE_TESTS_SIM_RPC_FAULTS_COMMON_H_
#define RUTILE_TESTS_SIM_RPC_FAULTS_COMMON_H_

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "rpc_workload.h"
#include "rutile/testing/workload.h"

namespace rutile::sim_test {

inline testing::SimulationTest RpcFaultsTest(uint64_t duration_micros) {
  testing::SimulationTest test;
  test.simulation.loss_probability = 0.05;
  test.simulation.reorder_probability = 0.1;
  test.simulation.duplicate_probability = 0.05;
  test.run.duration_micros = duration_micros;
  test.run.quiet_micros = 2'000'000;
  testing::NemesisOptions& n = test.run.nemesis_options;
  n.min_interval_micros = 100'000;
  n.max_interval_micros = 1'000'000;
  n.partition_weight = 4;
  n.isolate_weight = 2;
  n.clog_weight = 2;
  n.crash_weight = 2;
  n.loss_weight = 2;
  n.loss_probability = 0.5;
  test.build = [](testing::Simulation& sim) {
    EchoRpcOptions o;
    o.min_correct = 50;
    auto w = std::make_unique<EchoRpcWorkload>(o);
    absl::Status s = w->AddNodes(sim);
    EXPECT_TRUE(s.ok()) << s;
    std::vector<std::unique_ptr<testing::Workload>> out;
    out.push_back(std::move(w));
    return out;
  };
  return test;
}

}  // namespace rutile::sim_test

#endif  // RUTILE_TESTS_SIM_RPC_FAULTS_COMMON_H_
