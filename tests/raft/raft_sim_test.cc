// The fast randomized simulation suite: 500 seeds of raft_sim.h's five-node Raft group
// under the full nemesis (with ReadIndex and lease reads, synchronous and asynchronous
// storage writes drawn per seed), each checked for election safety, one applied history,
// durability of acknowledged writes and linearizability of the client history, reads
// included. A failing seed prints
// "seed=N"; RUTILE_SIM_SEED=N replays only that seed (RUTILE_SIM_VERBOSE=1 narrates it).

#include "raft_sim.h"

#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace rutile::raft::sim {
namespace {

constexpr uint64_t kFastSeeds = 500;

SimOptions Options() {
  SimOptions o;
  o.verbose = std::getenv("RUTILE_SIM_VERBOSE") != nullptr;
  return o;
}

std::optional<uint64_t> ReplaySeed() {
  const char* s = std::getenv("RUTILE_SIM_SEED");
  uint64_t seed = 0;
  if (s == nullptr || !absl::SimpleAtoi(s, &seed)) return std::nullopt;
  return seed;
}

bool RunSeed(uint64_t seed, SimResult* out = nullptr) {
  g_current_seed = seed;
  SimResult r = RunSimulation(seed, Options());
  if (!r.ok()) {
    ADD_FAILURE() << "seed=" << seed << "\n  " << absl::StrJoin(r.failures, "\n  ");
  }
  bool ok = r.ok();
  if (out != nullptr) *out = std::move(r);
  return ok;
}

TEST(RaftSimTest, RandomizedSeeds) {
  InstallSeedReporter();
  if (auto seed = ReplaySeed()) {
    SimResult r;
    RunSeed(*seed, &r);
    std::printf(
        "seed=%llu acked=%llu unknown=%llu applied=%llu crashes=%llu confchanges=%llu "
        "snapshots=%llu leaders=%llu messages=%llu\n",
        (unsigned long long)*seed, (unsigned long long)r.acked_ops,
        (unsigned long long)r.unknown_ops, (unsigned long long)r.applied_entries,
        (unsigned long long)r.crashes, (unsigned long long)r.conf_changes_applied,
        (unsigned long long)r.snapshots_installed, (unsigned long long)r.leader_changes,
        (unsigned long long)r.messages);
    return;
  }
  SimResult total;
  int failed = 0;
  for (uint64_t seed = 1; seed <= kFastSeeds; ++seed) {
    SimResult r;
    if (!RunSeed(seed, &r)) ++failed;
    total.acked_ops += r.acked_ops;
    total.unknown_ops += r.unknown_ops;
    total.crashes += r.crashes;
    total.conf_changes_applied += r.conf_changes_applied;
    total.snapshots_installed += r.snapshots_installed;
    total.leader_changes += r.leader_changes;
    total.index_reads += r.index_reads;
    total.safe_reads_served += r.safe_reads_served;
    total.lease_reads_served += r.lease_reads_served;
    if (failed >= 5) break;  // Enough to debug from.
  }
  // The nemesis and the workload must actually have done something.
  EXPECT_GT(total.acked_ops, kFastSeeds * 20);
  EXPECT_GT(total.unknown_ops, kFastSeeds);
  EXPECT_GT(total.crashes, kFastSeeds / 2);
  EXPECT_GT(total.conf_changes_applied, kFastSeeds * 2);
  // (Fewer since gets may skip the log as ReadIndex reads: fewer entries, fewer compactions.)
  EXPECT_GT(total.snapshots_installed, kFastSeeds / 10);
  EXPECT_GT(total.index_reads, kFastSeeds * 3);
  // Both read-only options answered reads (not only issued them).
  EXPECT_GT(total.safe_reads_served, kFastSeeds);
  EXPECT_GT(total.lease_reads_served, kFastSeeds / 2);
  EXPECT_GT(total.leader_changes, kFastSeeds);
  std::printf(
      "%llu seeds: acked=%llu unknown=%llu crashes=%llu confchanges=%llu "
      "snapshots=%llu leaders=%llu index_reads=%llu (served: safe %llu, lease %llu)\n",
      (unsigned long long)kFastSeeds, (unsigned long long)total.acked_ops,
      (unsigned long long)total.unknown_ops, (unsigned long long)total.crashes,
      (unsigned long long)total.conf_changes_applied, (unsigned long long)total.snapshots_installed,
      (unsigned long long)total.leader_changes, (unsigned long long)total.index_reads,
      (unsigned long long)total.safe_reads_served, (unsigned long long)total.lease_reads_served);
}

TEST(RaftSimTest, SameSeedSameHistory) {
  if (ReplaySeed()) GTEST_SKIP();
  SimResult a = RunSimulation(7, Options());
  SimResult b = RunSimulation(7, Options());
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.history_digest, b.history_digest);
  EXPECT_EQ(a.messages, b.messages);
  SimResult c = RunSimulation(8, Options());
  EXPECT_NE(a.history_digest, c.history_digest);
}

}  // namespace
}  // namespace rutile::raft::sim
