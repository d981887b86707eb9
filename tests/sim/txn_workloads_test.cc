// The transactional workloads against the in-memory snapshot-isolation reference
// (mem_txn_db.h): every workload passes on the correct database, and each checker catches
// the anomaly it exists for when the database is broken in the matching way. This is what
// lets a pass on Rutile's TxnClient (txn_sim_test.cc) mean something.

#include "txn_workloads.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "mem_txn_db.h"
#include "rutile/testing/workload.h"

namespace rutile::sim_test {
namespace {

using Bug = MemTxnDbOptions::Bug;

std::unique_ptr<TxnWorkload> MakeWorkload(const std::string& name, std::shared_ptr<TxnDb> db) {
  TxnWorkloadOptions o;
  o.clients = 5;
  o.think_micros = 5'000;
  o.min_ok = 20;
  if (name == "bank") return std::make_unique<BankWorkload>(db, o);
  if (name == "append") return std::make_unique<ListAppendWorkload>(db, o);
  if (name == "long-fork") return std::make_unique<LongForkWorkload>(db, o);
  if (name == "set") return std::make_unique<SetWorkload>(db, o);
  return std::make_unique<RegisterWorkload>(db, o);
}

testing::SimulationTestResult RunOnMem(const std::string& workload, MemTxnDbOptions mo,
                                       uint64_t seed) {
  testing::SimulationTest test;
  test.simulation.seed_from_environment = false;
  test.run.nemesis = false;
  test.run.duration_micros = 1'000'000;
  test.run.quiet_micros = 0;
  test.build = [workload, mo](testing::Simulation& sim) {
    std::vector<std::unique_ptr<testing::Workload>> out;
    out.push_back(MakeWorkload(workload, std::make_shared<MemTxnDb>(sim.env(), mo)));
    return out;
  };
  return testing::RunSimulationTest(test, seed);
}

const char* const kWorkloads[] = {"bank", "append", "long-fork", "set", "register"};

TEST(TxnWorkloadsTest, EveryWorkloadPassesOnSnapshotIsolation) {
  for (const char* w : kWorkloads) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      testing::SimulationTestResult r = RunOnMem(w, MemTxnDbOptions(), seed);
      EXPECT_TRUE(r.status.ok()) << w << ": " << r.status;
    }
  }
}

TEST(TxnWorkloadsTest, SameSeedSameHistory) {
  for (const char* w : kWorkloads) {
    testing::SimulationTestResult a = RunOnMem(w, MemTxnDbOptions(), 42);
    testing::SimulationTestResult b = RunOnMem(w, MemTxnDbOptions(), 42);
    EXPECT_EQ(a.trace_hash, b.trace_hash) << w;
  }
}

struct BugCase {
  const char* workload;
  Bug bug;
  // Text the failure must contain.
  const char* expect;
};

// Runs seeds until one fails; the failure must name the expected anomaly.
void ExpectCaught(const BugCase& c) {
  MemTxnDbOptions mo;
  mo.bug = c.bug;
  mo.bug_probability = 0.1;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    testing::SimulationTestResult r = RunOnMem(c.workload, mo, seed);
    if (r.status.ok()) continue;
    EXPECT_NE(r.status.message().find(c.expect), absl::string_view::npos)
        << c.workload << " bug " << static_cast<int>(c.bug) << ": " << r.status;
    return;
  }
  ADD_FAILURE() << c.workload << " never caught bug " << static_cast<int>(c.bug) << " in 30 seeds";
}

TEST(TxnWorkloadsTest, BankCatchesFracturedReadsLostUpdatesAndPartialCommits) {
  ExpectCaught({"bank", Bug::kReadLatest, "wrong-total"});
  ExpectCaught({"bank", Bug::kNoConflictCheck, "wrong-total"});
  ExpectCaught({"bank", Bug::kNonAtomicCommit, "wrong-total"});
}

TEST(TxnWorkloadsTest, ListAppendCatchesSnapshotAndAtomicityViolations) {
  ExpectCaught({"append", Bug::kReadLatest, "INVALID"});
  ExpectCaught({"append", Bug::kNoConflictCheck, "INVALID"});
  ExpectCaught({"append", Bug::kApplyAbortedCommit, "G1a"});
  ExpectCaught({"append", Bug::kLoseAckedCommit, "INVALID"});
}

TEST(TxnWorkloadsTest, LongForkCatchesNonSnapshotReads) {
  ExpectCaught({"long-fork", Bug::kReadLatest, "long fork"});
}

TEST(TxnWorkloadsTest, SetCatchesLostAndInventedElements) {
  ExpectCaught({"set", Bug::kLoseAckedCommit, "lost"});
  ExpectCaught({"set", Bug::kApplyAbortedCommit, "whose add definitely failed"});
}

TEST(TxnWorkloadsTest, RegisterCatchesLostWritesAndLostUpdates) {
  ExpectCaught({"register", Bug::kLoseAckedCommit, "not linearizable"});
  ExpectCaught({"register", Bug::kNoConflictCheck, "not linearizable"});
}

}  // namespace
}  // namespace rutile::sim_test
