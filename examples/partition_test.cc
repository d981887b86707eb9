// Testing an application on Rutile with GoogleTest and rutile::testing::TestCluster: a
// bank of accounts on a simulated 3-node cluster, transfers as transactions while the
// Raft leader is cut off from the other two nodes, and the invariant every bank test
// checks — money is neither created nor destroyed — before, during and after the
// partition. The simulation is seeded: a failure prints the seed, and RUTILE_SIM_SEED=N
// replays exactly that history.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/seeds.h"

namespace {

constexpr int kAccounts = 5;
constexpr int kInitial = 100;

std::string Account(int i) { return absl::StrFormat("account/%d", i); }

// Moves `amount` from account `from` to account `to` in one transaction. Aborted (a
// conflict) is returned to the caller, who runs the transfer again.
absl::Status Transfer(rutile::TxnClient& client, int from, int to, int amount) {
  absl::StatusOr<std::unique_ptr<rutile::Transaction>> t = client.Begin();
  if (!t.ok()) return t.status();
  absl::StatusOr<std::vector<std::optional<std::string>>> v =
      (*t)->BatchGet({Account(from), Account(to)});
  if (!v.ok()) return v.status();
  int a = std::stoi(*(*v)[0]), b = std::stoi(*(*v)[1]);
  if (absl::Status s = (*t)->Put(Account(from), std::to_string(a - amount)); !s.ok()) return s;
  if (absl::Status s = (*t)->Put(Account(to), std::to_string(b + amount)); !s.ok()) return s;
  return (*t)->Commit();
}

// The sum of every account, read in one snapshot.
int Total(rutile::TxnClient& client) {
  absl::StatusOr<std::unique_ptr<rutile::Transaction>> t = client.Begin();
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return -1;
  absl::StatusOr<std::vector<rutile::Transaction::KvPair>> all = (*t)->Scan("account/", "account0");
  EXPECT_TRUE(all.ok()) << all.status();
  if (!all.ok()) return -1;
  int sum = 0;
  for (const auto& [key, value] : *all) sum += std::stoi(value);
  return sum;
}

TEST(PartitionExampleTest, TransfersAcrossALeaderPartitionKeepTheTotal) {
  rutile::testing::ForEachSeed(2, [](uint64_t seed) {
    rutile::testing::TestClusterOptions o;
    o.nodes = 3;
    o.sim.seed = seed;
    rutile::testing::TestCluster c(o);
    ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();

    // A transactional client that follows the cluster's nodes as they come and go.
    std::unique_ptr<rutile::TxnClient> client;
    ASSERT_TRUE(c.Run([&] {
      auto opened =
          rutile::TxnClient::Open(c.env(), c.pd(), [&c](uint64_t id) { return c.node(id); });
      ASSERT_TRUE(opened.ok()) << opened.status();
      client = std::move(*opened);
      auto t = client->Begin();
      ASSERT_TRUE(t.ok()) << t.status();
      for (int i = 0; i < kAccounts; ++i) ASSERT_TRUE((*t)->Put(Account(i), "100").ok());
      ASSERT_TRUE((*t)->Commit().ok());
    })) << c.SeedMessage();

    // Cut the leader off from the majority.
    uint64_t leader = c.Regions()[0].leader_store;
    std::vector<uint64_t> rest;
    for (uint64_t id : c.node_ids()) {
      if (id != leader) rest.push_back(id);
    }
    c.Partition({{leader}, rest});

    // The majority elects a new leader and keeps serving; every transfer commits in the
    // end (conflicts and timeouts of the old leader are retried), and every snapshot
    // still sums to the initial total.
    ASSERT_TRUE(c.Run([&] {
      for (int i = 0; i < 10; ++i) {
        absl::Status s;
        for (int attempt = 0; attempt < 20; ++attempt) {
          s = Transfer(*client, i % kAccounts, (i + 2) % kAccounts, 7);
          if (s.ok() || !(absl::IsAborted(s) || absl::IsDeadlineExceeded(s))) break;
        }
        ASSERT_TRUE(s.ok()) << s;
        EXPECT_EQ(Total(*client), kAccounts * kInitial);
      }
    })) << c.SeedMessage();

    // Heal; once the old leader has caught up the total is still intact.
    c.Heal();
    ASSERT_TRUE(c.Run([&] {
      ASSERT_TRUE(c.WaitForReplication().ok());
      EXPECT_EQ(Total(*client), kAccounts * kInitial);
      client.reset();
    })) << c.SeedMessage();
  });
}

}  // namespace
