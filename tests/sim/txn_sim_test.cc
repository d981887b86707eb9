// Jepsen's transactional workloads on a simulated 3-node Rutile cluster through
// TxnClient, under the full nemesis with splits and leader transfers during the load: every
// commit mode runs every workload on cheap seeds (short virtual load), 200 seeds in all,
// in two halves per mode (seeds 0-4 and 5-9 of each workload) so that CTest can spread them
// over cores (tests/sim/CMakeLists.txt runs this file as gtest shards). A failure names its
// seed, mode and workload; replay one with RUTILE_SIM_SEED=<seed> (the tests then run only
// that seed, in every mode and workload). The soak with many more seeds is
// txn_sim_slow_test.cc.

#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/str_join.h"
#include "txn_sim_common.h"

namespace rutile::sim_test {
namespace {

constexpr uint64_t kSeedsPerWorkload = 10;
constexpr uint64_t kHalves = 2;

// Seeds [first, first + kSeedsPerWorkload / kHalves) of each workload, in `mode`: the half
// `half` of the mode's seeds. The faults must not reduce the half's runs to nothing.
void RunModeHalf(TxnMode mode, uint64_t first_seed, uint64_t half) {
  std::optional<uint64_t> replay = testing::SeedFromEnvironment();
  if (replay && half != 0) GTEST_SKIP() << "replaying seed " << *replay << " in the first half";
  const uint64_t per_half = kSeedsPerWorkload / kHalves;
  TxnCounts total;
  int failures = 0;
  for (TxnWorkloadKind kind : kAllTxnWorkloads) {
    for (uint64_t i = 0; i < (replay ? 1 : per_half); ++i) {
      uint64_t seed =
          replay ? *replay : first_seed + static_cast<uint64_t>(kind) * 1000 + half * per_half + i;
      TxnSimOptions o;
      o.mode = mode;
      o.workload = kind;
      o.duration_micros = 600'000;
      o.quiet_micros = 1'500'000;
      TxnSimResult r = RunTxnSim(seed, o);
      total.ok += r.counts.ok;
      total.fail += r.counts.fail;
      total.info += r.counts.info;
      if (!r.status.ok() && ++failures <= 3) {
        ADD_FAILURE() << r.status << "\n  txns " << r.counts.ToString() << ", chaos " << r.chaos
                      << "\n  nemesis:\n    " << absl::StrJoin(r.nemesis_log, "\n    ");
      }
    }
  }
  EXPECT_EQ(failures, 0) << TxnModeName(mode);
  // The faults must not have reduced the run to nothing.
  EXPECT_GT(total.ok, total.fail) << TxnModeName(mode) << " " << total.ToString();
  std::cout << TxnModeName(mode) << " half " << half << ": " << total.ToString() << "\n";
}

TEST(TxnSimTest, Optimistic0) { RunModeHalf(TxnMode::kOptimistic, 100'000, 0); }
TEST(TxnSimTest, Pessimistic0) { RunModeHalf(TxnMode::kPessimistic, 200'000, 0); }
TEST(TxnSimTest, AsyncCommit0) { RunModeHalf(TxnMode::kAsyncCommit, 300'000, 0); }
TEST(TxnSimTest, OnePc0) { RunModeHalf(TxnMode::kOnePc, 400'000, 0); }
TEST(TxnSimTest, Optimistic1) { RunModeHalf(TxnMode::kOptimistic, 100'000, 1); }
TEST(TxnSimTest, Pessimistic1) { RunModeHalf(TxnMode::kPessimistic, 200'000, 1); }
TEST(TxnSimTest, AsyncCommit1) { RunModeHalf(TxnMode::kAsyncCommit, 300'000, 1); }
TEST(TxnSimTest, OnePc1) { RunModeHalf(TxnMode::kOnePc, 400'000, 1); }

// The bank workload with the client reaching the stores over RPC (the transactional KV
// service on each node's endpoint, over the SimTransport with its faults), in every mode.
TEST(TxnSimTest, BankOverRpc) {
  std::optional<uint64_t> replay = testing::SeedFromEnvironment();
  int failures = 0;
  TxnCounts total;
  for (TxnMode mode : kAllTxnModes) {
    for (uint64_t i = 0; i < (replay ? 1 : 2); ++i) {
      uint64_t seed = replay ? *replay : 500'000 + static_cast<uint64_t>(mode) * 1000 + i;
      TxnSimOptions o;
      o.mode = mode;
      o.workload = TxnWorkloadKind::kBank;
      o.rpc = true;
      o.duration_micros = 600'000;
      o.quiet_micros = 1'500'000;
      TxnSimResult r = RunTxnSim(seed, o);
      total.ok += r.counts.ok;
      total.fail += r.counts.fail;
      total.info += r.counts.info;
      if (!r.status.ok() && ++failures <= 3) {
        ADD_FAILURE() << r.status << "\n  txns " << r.counts.ToString() << ", chaos " << r.chaos
                      << "\n  nemesis:\n    " << absl::StrJoin(r.nemesis_log, "\n    ");
      }
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(total.ok, total.fail) << total.ToString();
  std::cout << "bank over rpc: " << total.ToString() << "\n";
}

// Regression (found by the soak, 13 of 60 seeds of 1pc/bank at 3 s of load): a 1PC commit
// whose keys' region split between the 1PC decision and the prewrite was regrouped by
// region and each group committed in one phase on its own, at its own commit_ts, so the
// transaction became visible in pieces (a transfer bank/1 -> bank/7 racing a split at
// bank/7 showed its debit but not its credit: sum 98). Fixed by be2aff6: try_one_pc goes
// only to a prewrite group holding every key; otherwise the commit is two-phase.
TEST(TxnSimTest, OnePcCommitAcrossASplitIsAtomic) {
  TxnSimOptions o;
  o.mode = TxnMode::kOnePc;
  o.workload = TxnWorkloadKind::kBank;
  o.duration_micros = 500'000;
  TxnSimResult r = RunTxnSim(1'000'014, o);
  EXPECT_TRUE(r.status.ok()) << r.status << "\n  txns " << r.counts.ToString();
}

// Seeds the soak (txn_sim_slow_test.cc) found failing, replayed exactly as the soak ran
// them (its mode and workload for the seed, 3 s of load). Each names what was wrong.
struct SoakSeed {
  uint64_t seed;
  const char* why;
};
constexpr SoakSeed kSoakSeeds[] = {
    // 1pc/set: a scan lost 36 elements it had returned before. A leader's read waiting
    // for its read index was served after a split applied, with a snapshot of the smaller
    // region under the old epoch, so the scan skipped the split-off half (fixed in
    // raftstore: ServeReads checks the epoch again; SplitTest.ReadWaitingForItsReadIndex...).
    {1'000'135, "scan served a split region's left half only"},
    // pessimistic/register: hung. Stale NotLeader hints pointed in a circle through a
    // crashed store and the client retried them at once forever, at one virtual instant
    // (fixed in the txn client: a backoff after 3 immediate retries in a row;
    // TxnClientRetryTest).
    {1'001'137, "client spun on circular NotLeader hints"},
    // 1pc/set: hung. A scan met a lock, found its transaction's fate and resolved it,
    // met the lock again at once (likely an in-flight 1PC prewrite's in-memory lock, which
    // resolving cannot remove) and looped at one virtual instant, so the prewrite never
    // finished (fixed in the txn client: Client::RetryPause; TxnClientRetryTest).
    {1'006'295, "scan spun re-resolving a lock that stayed"},
};

TEST(TxnSimTest, SoakRegressions) {
  for (const SoakSeed& s : kSoakSeeds) {
    TxnSimOptions o;
    o.mode = kAllTxnModes[s.seed % 4];
    o.workload = kAllTxnWorkloads[(s.seed / 4) % 5];
    o.duration_micros = 3'000'000;
    o.quiet_micros = 3'000'000;
    TxnSimResult r = RunTxnSim(s.seed, o);
    EXPECT_TRUE(r.status.ok()) << s.why << ": " << r.status << "\n  txns " << r.counts.ToString();
  }
}

}  // namespace
}  // namespace rutile::sim_test
