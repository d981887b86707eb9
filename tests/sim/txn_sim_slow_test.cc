// The soak of txn_sim_test.cc: RUTILE_TXN_SOAK_SEEDS seeds (default 10000) from
// RUTILE_TXN_SOAK_FIRST_SEED (default 1'000'000), seed s running workload (s / 4) % 5 in
// mode s % 4, with RUTILE_TXN_SOAK_LOAD_MS (default 3000) of load under the full nemesis.
// RUTILE_TXN_SOAK_MODE (optimistic, pessimistic, async-commit, 1pc) and
// RUTILE_TXN_SOAK_WORKLOAD (bank, list-append, long-fork, set, register) pin one mode or
// workload for every seed. Every failing seed is printed with its mode and workload;
// replay one with RUTILE_TXN_SOAK_SEEDS=1 RUTILE_TXN_SOAK_FIRST_SEED=<seed> and the same
// mode/workload settings (RUTILE_TXN_TRACE=1 prints every transaction).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "txn_sim_common.h"

namespace rutile::sim_test {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  uint64_t out = 0;
  return v != nullptr && absl::SimpleAtoi(v, &out) ? out : fallback;
}

std::string StrEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

TEST(TxnSimSoak, ManySeeds) {
  uint64_t seeds = EnvOr("RUTILE_TXN_SOAK_SEEDS", 10'000);
  uint64_t first = EnvOr("RUTILE_TXN_SOAK_FIRST_SEED", 1'000'000);
  uint64_t load_ms = EnvOr("RUTILE_TXN_SOAK_LOAD_MS", 3'000);
  std::string mode_name = StrEnv("RUTILE_TXN_SOAK_MODE");
  std::string workload_name = StrEnv("RUTILE_TXN_SOAK_WORKLOAD");
  // Progress every this many seeds (a soak under `nice` on a busy machine is slow).
  const uint64_t report_every = std::max<uint64_t>(1, EnvOr("RUTILE_TXN_SOAK_REPORT_EVERY", 100));
  int failures = 0;
  TxnCounts total;
  for (uint64_t s = first; s < first + seeds; ++s) {
    TxnSimOptions o;
    o.mode = kAllTxnModes[s % 4];
    o.workload = kAllTxnWorkloads[(s / 4) % 5];
    for (TxnMode m : kAllTxnModes) {
      if (mode_name == TxnModeName(m)) o.mode = m;
    }
    for (TxnWorkloadKind w : kAllTxnWorkloads) {
      if (workload_name == TxnWorkloadKindName(w)) o.workload = w;
    }
    o.duration_micros = load_ms * 1000;
    TxnSimResult r = RunTxnSim(s, o);
    total.ok += r.counts.ok;
    total.fail += r.counts.fail;
    total.info += r.counts.info;
    if (!r.status.ok()) {
      ++failures;
      std::cout << "FAILED " << r.status << "\n  txns " << r.counts.ToString() << ", chaos "
                << r.chaos << "\n  nemesis:\n    " << absl::StrJoin(r.nemesis_log, "\n    ")
                << std::endl;
    }
    if ((s - first + 1) % report_every == 0) {
      std::cout << "soak: " << (s - first + 1) << " seeds, " << failures << " failed, "
                << total.ToString() << std::endl;
    }
  }
  EXPECT_EQ(failures, 0);
  std::cout << "soak done: " << seeds << " seeds, " << failures << " failed, " << total.ToString()
            << std::endl;
}

}  // namespace
}  // namespace rutile::sim_test
