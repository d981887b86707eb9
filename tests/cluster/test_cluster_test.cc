// TestCluster's verbs: start, raw KV through the client, split, leader transfer, partition
// and heal, crash with unsynced-write loss and restart, adding a node, manual replication
// and PD admin commands, determinism of the simulated mode, and the real-time mode.

#include <map>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/seeds.h"

namespace rutile::testing {
namespace {

std::string Key(int i) { return absl::StrFormat("k%04d", i); }

TestClusterOptions SimOptions(uint64_t seed) {
  TestClusterOptions o;
  o.sim.seed = seed;
  o.manual_replication = true;
  return o;
}

TEST(TestClusterTest, PutGetSplitTransferAndReplicate) {
  TestCluster c(SimOptions(1));
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.kv().Put(Key(i), std::to_string(i)).ok());
    ASSERT_TRUE(c.SplitRegion(Key(10)).ok());
    std::vector<RegionDescription> regions = c.Regions();
    ASSERT_EQ(regions.size(), 2u);
    EXPECT_EQ(regions[1].start_key, Key(10));
    // Move the second region's leadership to every store in turn.
    for (uint64_t to : {1, 2, 3}) {
      absl::Status s = c.TransferLeader(regions[1].id, to);
      ASSERT_TRUE(s.ok()) << s;
      EXPECT_EQ(c.Regions()[1].leader_store, to);
    }
    EXPECT_TRUE(absl::IsInvalidArgument(c.TransferLeader(regions[1].id, 7)));
    EXPECT_TRUE(absl::IsNotFound(c.TransferLeader(99999, 1, 200'000)));
    absl::Status s = c.WaitForReplication();
    ASSERT_TRUE(s.ok()) << s;
    for (int i = 0; i < 20; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.kv().Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(*v, std::to_string(i));
    }
  })) << c.SeedMessage();
  EXPECT_EQ(c.RegionCount(1) + c.RegionCount(2) + c.RegionCount(3), 6u);
  size_t leaders = c.LeaderCount(1) + c.LeaderCount(2) + c.LeaderCount(3);
  EXPECT_EQ(leaders, 2u);
}

TEST(TestClusterTest, MinorityPartitionDoesNotStopTheMajority) {
  TestCluster c(SimOptions(2));
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  ASSERT_TRUE(c.Run([&] { ASSERT_TRUE(c.kv().Put("a", "1").ok()); }));
  // Cut off whichever store leads, then write on the majority side.
  uint64_t leader = c.Regions()[0].leader_store;
  std::vector<uint64_t> rest;
  for (uint64_t id : c.node_ids()) {
    if (id != leader) rest.push_back(id);
  }
  c.Partition({{leader}, rest});
  ASSERT_TRUE(c.Run([&] {
    absl::Status s = c.kv().Put("a", "2");
    ASSERT_TRUE(s.ok()) << s;
  })) << c.SeedMessage();
  c.Heal();
  ASSERT_TRUE(c.Run([&] {
    absl::Status s = c.WaitForReplication();
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<std::optional<std::string>> v = c.kv().Get("a");
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, "2");
  })) << c.SeedMessage();
}

TEST(TestClusterTest, CrashLosesNoAcknowledgedWriteAndRestartRejoins) {
  TestCluster c(SimOptions(3));
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.kv().Put(Key(i), "before").ok());
  }));
  uint64_t leader = c.Regions()[0].leader_store;
  c.Crash(leader);
  EXPECT_FALSE(c.IsUp(leader));
  EXPECT_EQ(c.node(leader), nullptr);
  c.Crash(leader);  // No-op.
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 30; i += 2) ASSERT_TRUE(c.kv().Put(Key(i), "during").ok());
  })) << c.SeedMessage();
  c.Restart(leader);
  ASSERT_TRUE(c.Run([&] {
    absl::Status s = c.WaitForReplication();
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c.kv().Scan("", "");
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), 30u);
    for (int i = 0; i < 30; ++i) EXPECT_EQ((*all)[i].second, i % 2 == 0 ? "during" : "before");
  })) << c.SeedMessage();
  EXPECT_TRUE(c.IsUp(leader));
  EXPECT_EQ(c.RegionCount(leader), 1u);
}

TEST(TestClusterTest, AddNodeAndMoveAReplicaThroughPdCtl) {
  TestCluster c(SimOptions(4));
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  EXPECT_TRUE(absl::IsAlreadyExists(c.AddNode(1)));
  EXPECT_TRUE(absl::IsInvalidArgument(c.AddNode(0)));
  ASSERT_TRUE(c.AddNode(4).ok());
  EXPECT_EQ(c.node_ids(), (std::vector<uint64_t>{1, 2, 3, 4}));
  ASSERT_TRUE(c.Run([&] {
    ASSERT_TRUE(c.kv().Put("x", "y").ok());
    uint64_t region = c.Regions()[0].id;
    uint64_t leader = c.Regions()[0].leader_store;
    uint64_t victim = leader == 1 ? 2 : 1;
    absl::StatusOr<std::string> out =
        c.PdCtl(absl::StrFormat("operator add add-peer %d 4", region));
    ASSERT_TRUE(out.ok()) << out.status();
    // Manual replication: no checker removes the fourth replica.
    uint64_t deadline = c.env()->NowMicros() + 30'000'000;
    while (c.RegionCount(4) == 0 && c.env()->NowMicros() < deadline) {
      c.env()->SleepForMicros(100'000);
    }
    ASSERT_EQ(c.RegionCount(4), 1u);
    // The add-peer operator ends when PD sees the new voter; then the removal can start.
    do {
      c.env()->SleepForMicros(100'000);
      out = c.PdCtl(absl::StrFormat("operator add remove-peer %d %d", region, victim));
    } while (absl::IsAlreadyExists(out.status()) && c.env()->NowMicros() < deadline);
    ASSERT_TRUE(out.ok()) << out.status();
    absl::Status s = c.WaitForReplication(60'000'000);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(c.RegionCount(victim), 0u);
    absl::StatusOr<std::optional<std::string>> v = c.kv().Get("x");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "y");
    EXPECT_FALSE(c.PdCtl("no-such-verb").ok());
  })) << c.SeedMessage();
}

// The same seed gives the same history.
TEST(TestClusterTest, SameSeedSameTrace) {
  auto run = [](uint64_t seed) {
    TestCluster c(SimOptions(seed));
    EXPECT_TRUE(c.Start().ok());
    c.Run([&] {
      for (int i = 0; i < 10; ++i) EXPECT_TRUE(c.kv().Put(Key(i), "v").ok());
      EXPECT_TRUE(c.SplitRegion(Key(5)).ok());
    });
    c.Crash(2);
    c.RunFor(2'000'000);
    c.Restart(2);
    c.RunFor(2'000'000);
    return c.sim()->TraceHash();
  };
  uint64_t a = run(11), b = run(11), other = run(12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
}

TEST(TestClusterTest, RealTimeModeOverLocalTransport) {
  TestClusterOptions o;
  o.simulated = false;
  o.manual_replication = true;
  o.raft_tick_micros = 20'000;
  o.pd_heartbeat_interval_micros = 200'000;
  TestCluster c(o);
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(c.sim(), nullptr);
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.kv().Put(Key(i), "v").ok());
    ASSERT_TRUE(c.SplitRegion(Key(10)).ok());
  }));
  c.Crash(3);
  ASSERT_TRUE(c.Run([&] { ASSERT_TRUE(c.kv().Put(Key(0), "w").ok()); }));
  c.Restart(3);
  ASSERT_TRUE(c.Run([&] {
    absl::Status s = c.WaitForReplication();
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<std::optional<std::string>> v = c.kv().Get(Key(0));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "w");
  }));
}

}  // namespace
}  // namespace rutile::testing
