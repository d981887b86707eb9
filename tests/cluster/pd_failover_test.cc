// The replicated PD inside a TestCluster: its members live on nodes 1..3, so crashing or
// partitioning one of those nodes takes a PD member (and its store) with it. Two tests:
//   - 100,000 timestamps fetched through the cluster's PD client (pd::Client with
//     failover) while the PD leader's node is in turn crashed and restarted or partitioned
//     away are unique, increase within each fetching fiber, and a fetch that began after
//     another ended got a larger timestamp;
//   - with the PD leader's node crashed (twice, one after the other), the new PD leader
//     still repairs the replicas that node held onto the spare store, under a down-store
//     time that was set through pd-ctl (replicated configuration), and no write is lost.
// And a store deleted through pd-ctl is emptied, then stays a tombstone across PD leader
// failovers. A failure prints the seed (RUTILE_SIM_SEED replays it).

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "node/node_internal.h"
#include "node/replicated_pd.h"
#include "pd/server.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/simulation.h"

namespace rutile::testing {
namespace {

struct TsoCall {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t ts = 0;
};

TEST(PdFailoverTest, TimestampsStayStrictlyIncreasingAcrossPdLeaderFailovers) {
  TestClusterOptions o;
  o.sim.seed = SeedFromEnvironment().value_or(7001);
  o.manual_replication = true;
  TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  ASSERT_EQ(c.pd_members(), (std::vector<uint64_t>{1, 2, 3}));

  int crashes = 0;
  int partitions = 0;
  constexpr size_t kWanted = 100'000;
  constexpr int kFibers = 32;
  std::vector<std::vector<TsoCall>> calls(kFibers);
  size_t total = 0;
  int errors = 0;
  int running = kFibers;
  bool stop = false;
  Env* env = c.env();
  for (int f = 0; f < kFibers; ++f) {
    env->Spawn([&, f] {
      std::shared_ptr<Pd> pd = c.pd();
      while (!stop) {
        TsoCall call;
        call.start = env->NowMicros();
        absl::StatusOr<uint64_t> ts = pd->GetTimestamp();
        call.end = env->NowMicros();
        if (!ts.ok()) {
          ++errors;
          continue;
        }
        call.ts = *ts;
        calls[f].push_back(call);
        // At least two of each fault too (with the leader lease, 100k take only a few
        // virtual seconds).
        if (++total >= kWanted && crashes >= 2 && partitions >= 2) stop = true;
      }
      --running;
    });
  }
  // The nemesis: every ~1.5 s the PD leader's node is crashed (restarted 1 s later) or
  // partitioned away from the other members (healed 1.5 s later).
  bool nemesis_done = false;
  env->Spawn([&] {
    for (int round = 0; !stop; ++round) {
      env->SleepForMicros(1'500'000);
      const uint64_t leader = c.PdLeader();
      if (leader == 0 || stop) continue;
      if (round % 2 == 0) {
        ++crashes;
        c.Crash(leader);
        env->SleepForMicros(1'000'000);
        c.Restart(leader);
      } else {
        ++partitions;
        std::vector<uint64_t> others;
        for (uint64_t id : c.node_ids()) {
          if (id != leader) others.push_back(id);
        }
        c.Partition({{leader}, others});
        env->SleepForMicros(1'500'000);
        c.Heal();
      }
    }
    nemesis_done = true;
  });
  ASSERT_TRUE(c.sim()->RunUntil([&] { return running == 0 && nemesis_done; }, 1'800'000'000))
      << "only " << total << " timestamps; " << c.SeedMessage();

  std::vector<TsoCall> all;
  for (int f = 0; f < kFibers; ++f) {
    for (size_t i = 1; i < calls[f].size(); ++i) {
      ASSERT_LT(calls[f][i - 1].ts, calls[f][i].ts) << "fiber " << f << " " << c.SeedMessage();
    }
    all.insert(all.end(), calls[f].begin(), calls[f].end());
  }
  ASSERT_GE(all.size(), kWanted);
  std::sort(all.begin(), all.end(), [](const TsoCall& a, const TsoCall& b) { return a.ts < b.ts; });
  for (size_t i = 1; i < all.size(); ++i) {
    ASSERT_NE(all[i - 1].ts, all[i].ts) << "duplicate timestamp " << c.SeedMessage();
  }
  // Real-time order: a call that began after another ended got a larger timestamp. With
  // the calls sorted by timestamp, no call may end before an earlier-sorted one started.
  uint64_t max_start = 0;
  for (const TsoCall& call : all) {
    ASSERT_GE(call.end, max_start) << "a later call got a smaller timestamp " << c.SeedMessage();
    max_start = std::max(max_start, call.start);
  }
  EXPECT_GE(crashes, 2) << c.SeedMessage();
  EXPECT_GE(partitions, 2) << c.SeedMessage();
  std::printf("%zu timestamps, %d PD leader crashes, %d partitions, %d failed calls\n", all.size(),
              crashes, partitions, errors);
}

// Waits (on a fiber of the cluster) until a PD member serves.
uint64_t WaitForPdLeader(TestCluster& c) {
  for (int i = 0; i < 400 && c.PdLeader() == 0; ++i) c.env()->SleepForMicros(50'000);
  return c.PdLeader();
}

TEST(PdFailoverTest, SchedulersRepairReplicasAcrossPdLeaderFailovers) {
  TestClusterOptions o;
  o.sim.seed = SeedFromEnvironment().value_or(7002);
  o.nodes = 4;
  TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  auto key = [](int i) { return absl::StrFormat("k%03d", i); };
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.kv().Put(key(i), std::to_string(i)).ok());
    // The default down time is 30 minutes: only this (replicated) setting lets the new
    // PD leaders repair within the test's time.
    absl::StatusOr<std::string> out = c.PdCtl("config set max-store-down-time 2s");
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE(c.WaitForReplication(60'000'000).ok());
  })) << c.SeedMessage();

  uint64_t restarted = 0;
  for (int round = 0; round < 2; ++round) {
    uint64_t leader = 0;
    ASSERT_TRUE(c.Run([&] { leader = WaitForPdLeader(c); })) << c.SeedMessage();
    ASSERT_NE(leader, 0u) << c.SeedMessage();
    ASSERT_NE(leader, restarted);
    // The PD leader's node holds a replica of every region (3 of 4 stores, and the
    // spare's replicas were placed by PD): crash it; a new PD leader must notice the
    // store is down and rebuild its replicas on the remaining up stores.
    c.Crash(leader);
    if (restarted != 0) c.Restart(restarted);
    absl::Status s;
    ASSERT_TRUE(c.Run([&] { s = c.WaitForReplication(90'000'000); })) << c.SeedMessage();
    ASSERT_TRUE(s.ok()) << "round " << round << " crashed " << leader << ": " << s << " "
                        << c.SeedMessage();
    const uint64_t new_leader = c.PdLeader();
    EXPECT_NE(new_leader, leader);
    for (const RegionDescription& r : c.Regions()) {
      for (uint64_t st : r.stores) EXPECT_NE(st, leader) << "region " << r.id;
    }
    restarted = leader;
  }
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 50; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.kv().Get(key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(*v, std::to_string(i));
    }
    absl::StatusOr<std::string> out = c.PdCtl("config show");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_NE(out->find("max-store-down-time = 2s"), std::string::npos) << *out;
  })) << c.SeedMessage();
}

// pd-ctl `store delete` in a cluster on the replicated PD: PD moves every replica off the
// store, then makes it a tombstone; the tombstone is in PD's Raft log, so the leaders
// elected after the PD leader's node is crashed (twice) still know it: the store gets no
// replica back, and no write is lost.
TEST(PdFailoverTest, DeletedStoreIsEmptiedThenTombstonedAcrossPdLeaderFailovers) {
  TestClusterOptions o;
  o.sim.seed = SeedFromEnvironment().value_or(7003);
  o.nodes = 4;
  TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  constexpr uint64_t kDeleted = 3;
  auto key = [](int i) { return absl::StrFormat("k%03d", i); };
  auto tombstoned = [&] {
    absl::StatusOr<std::string> out = c.PdCtl(absl::StrCat("store ", kDeleted));
    return out.ok() && out->find("TOMBSTONE") != std::string::npos;
  };
  auto on_deleted = [&] {
    int n = 0;
    for (const RegionDescription& r : c.Regions()) {
      n += std::count(r.stores.begin(), r.stores.end(), kDeleted);
    }
    return n;
  };
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.kv().Put(key(i), std::to_string(i)).ok());
    ASSERT_TRUE(c.SplitRegion(key(20)).ok());
    ASSERT_TRUE(c.WaitForReplication(60'000'000).ok());
    ASSERT_GT(on_deleted(), 0);
    absl::StatusOr<std::string> out = c.PdCtl(absl::StrCat("store delete ", kDeleted));
    ASSERT_TRUE(out.ok()) << out.status();
    for (int i = 0; i < 240 && !(tombstoned() && on_deleted() == 0); ++i) {
      c.env()->SleepForMicros(250'000);
    }
    ASSERT_TRUE(tombstoned()) << c.PdCtl(absl::StrCat("store ", kDeleted)).value_or("");
    ASSERT_EQ(on_deleted(), 0);
  })) << c.SeedMessage();
  uint64_t restarted = 0;
  for (int round = 0; round < 2; ++round) {
    uint64_t leader = 0;
    ASSERT_TRUE(c.Run([&] { leader = WaitForPdLeader(c); })) << c.SeedMessage();
    ASSERT_NE(leader, 0u) << c.SeedMessage();
    c.Crash(leader);
    if (restarted != 0) c.Restart(restarted);
    ASSERT_TRUE(c.Run([&] {
      ASSERT_NE(WaitForPdLeader(c), 0u);
      ASSERT_NE(c.PdLeader(), leader);
      // Long enough for the new leader's schedulers to run (after its warm-up).
      c.env()->SleepForMicros(4'000'000);
      EXPECT_TRUE(tombstoned()) << "round " << round << ": "
                                << c.PdCtl(absl::StrCat("store ", kDeleted)).value_or("");
      EXPECT_EQ(on_deleted(), 0) << "round " << round;
    })) << c.SeedMessage();
    restarted = leader;
  }
  c.Restart(restarted);
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 40; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.kv().Get(key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(*v, std::to_string(i));
    }
    EXPECT_EQ(on_deleted(), 0);
  })) << c.SeedMessage();
}

// Hibernated regions and PD: every region asleep, the PD leader's member stops (its node
// and store stay up). The new PD leader knows no region at first; it learns every asleep
// region, with its leader, from the region heartbeats their leaders keep sending while
// asleep, and neither that nor its scheduling rounds (on, over a balanced cluster) wakes
// any of them: the asleep counts stay full for the whole time.
TEST(PdFailoverTest, NewPdLeaderLearnsHibernatedRegionsWithoutWakingThem) {
  TestClusterOptions o;
  o.sim.seed = SeedFromEnvironment().value_or(7004);
  o.nodes = 3;
  TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  constexpr int kRegions = 8;
  auto key = [](int i) { return absl::StrFormat("k%03d", i); };
  auto store = [&](uint64_t id) { return node::StoreOf(node::Access::ImplOf(c.node(id)).get()); };
  auto all_asleep = [&] {
    for (uint64_t id : {1, 2, 3}) {
      if (store(id)->stats().asleep_peers != c.RegionCount(id)) return false;
    }
    return true;
  };
  // Regions in PD's view whose leader it knows.
  auto pd_regions_with_leader = [&] {
    absl::StatusOr<std::string> out = c.PdCtl("region");
    if (!out.ok()) return -1;
    int n = 0;
    for (absl::string_view line : absl::StrSplit(*out, '\n')) {
      if (absl::StartsWith(line, "r") && absl::StrContains(line, "*")) ++n;
    }
    return n;
  };
  ASSERT_TRUE(c.Run([&] {
    for (int i = 1; i < kRegions; ++i) ASSERT_TRUE(c.SplitRegion(key(i * 10)).ok());
    for (int i = 0; i < kRegions * 10; ++i) ASSERT_TRUE(c.kv().Put(key(i), "v").ok());
    ASSERT_TRUE(c.WaitForReplication(60'000'000).ok());
    // The first PD leader's schedulers (after their warm-up) balance the leaders, then
    // every region falls asleep and stays so for two seconds.
    c.env()->SleepForMicros(5'000'000);
    int quiet = 0;
    for (int i = 0; i < 240 && quiet < 8; ++i) {
      c.env()->SleepForMicros(250'000);
      quiet = all_asleep() ? quiet + 1 : 0;
    }
    ASSERT_EQ(quiet, 8);
    ASSERT_EQ(c.Regions().size(), static_cast<size_t>(kRegions));
    const uint64_t leader = WaitForPdLeader(c);
    ASSERT_NE(leader, 0u);
    ASSERT_EQ(pd_regions_with_leader(), kRegions);
    node::Access::ImplOf(c.node(leader))->replicated_pd->server()->Stop();
    uint64_t next = 0;
    for (int i = 0; i < 400 && (next == 0 || next == leader); ++i) {
      c.env()->SleepForMicros(50'000);
      next = c.PdLeader();
    }
    ASSERT_NE(next, 0u);
    ASSERT_NE(next, leader);
    // Ten seconds: past the new leader's warm-up, twenty heartbeat intervals.
    int awake_at = -1;
    for (int i = 0; i < 40; ++i) {
      c.env()->SleepForMicros(250'000);
      if (awake_at < 0 && !all_asleep()) awake_at = (i + 1) * 250;
    }
    EXPECT_EQ(awake_at, -1) << "a region woke up within " << awake_at << " ms";
    EXPECT_EQ(pd_regions_with_leader(), kRegions);
  })) << c.SeedMessage();
}

}  // namespace
}  // namespace rutile::testing
