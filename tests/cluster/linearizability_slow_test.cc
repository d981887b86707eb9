// Linearizable raw-KV registers under the full nemesis (register_workload.h): a soak of
// longer seeds from 100000. RUTILE_SIM_SEEDS sets how many (default 100),
// RUTILE_SOAK_FAULT_SECONDS how long each seed's faults last (default 10);
// RUTILE_SIM_SEED replays one seed.

#include <cstdlib>

#include "cluster/register_workload.h"
#include "gtest/gtest.h"
#include "rutile/testing/seeds.h"

namespace rutile::testing {
namespace {

TEST(ClusterLinearizabilityTest, RawKvRegistersUnderFullNemesisSoak) {
  register_workload::Options o;
  o.fault_micros = 10'000'000;
  if (const char* s = std::getenv("RUTILE_SOAK_FAULT_SECONDS"); s != nullptr && *s != '\0') {
    o.fault_micros = std::strtoull(s, nullptr, 10) * 1'000'000;
  }
  o.clients = 4;
  o.keys = 4;
  o.ops_per_client = 1'000;
  ForEachSeed(
      100, [&](uint64_t seed) { register_workload::RunSeed(seed, o); }, 100'000);
}

// The same with PD scheduling on: merges of the nemesis's splits and replica repair after
// crashes (conf changes) happen under the checker. RUTILE_SIM_SEEDS sets how many (default
// 20) from 200000. Seed 200019 (on the in-process PD) used to never finish: every up
// replica named a crashed store as the leader, the raw KV client retried those answers
// at once forever and virtual time stood still; the client now backs off after a few
// immediate retries. The second test replays the seeds on the in-process PD.
TEST(ClusterLinearizabilityTest, RawKvRegistersUnderFullNemesisWithPdScheduling) {
  register_workload::Options o;
  o.fault_micros = 5'000'000;
  o.clients = 4;
  o.keys = 4;
  o.ops_per_client = 500;
  o.pd_scheduling = true;
  ForEachSeed(
      20, [&](uint64_t seed) { register_workload::RunSeed(seed, o); }, 200'000);
}

TEST(ClusterLinearizabilityTest, RawKvRegistersUnderFullNemesisWithPdSchedulingOnLocalPd) {
  register_workload::Options o;
  o.fault_micros = 5'000'000;
  o.clients = 4;
  o.keys = 4;
  o.ops_per_client = 500;
  o.pd_scheduling = true;
  o.replicated_pd = false;
  ForEachSeed(
      20, [&](uint64_t seed) { register_workload::RunSeed(seed, o); }, 200'000);
}

}  // namespace
}  // namespace rutile::testing
