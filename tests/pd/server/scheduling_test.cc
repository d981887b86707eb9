// PD scheduling wired into a running cluster (SimEnv + SimTransport, in-memory engines):
// region heartbeats carry operator steps that the stores carry out, a store that stops
// heartbeating is declared down after max-store-down-time and its replicas are rebuilt on
// another store by the replica checker, and manual replication mode stops all of it.
// Failures print the seed (replay with RUTILE_SIM_SEED).

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "node/local_pd.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "transport/sim_transport.h"

namespace rutile {
namespace {

std::string Key(int i) { return absl::StrFormat("k%05d", i); }

// A cluster of `n` nodes on one SimEnv; node 1 hosts the PD, the first region starts on
// stores 1..3.
class SimCluster {
 public:
  SimCluster(uint64_t seed, int n) : seed_(seed), n_(n) {
    SimEnvOptions eo;
    eo.seed = seed;
    env_ = std::make_unique<SimEnv>(eo);
    transport_ = std::make_unique<transport::SimTransport>(env_.get());
  }
  ~SimCluster() {
    Run([this] {
      client_.reset();
      for (auto& [id, n] : nodes_) n->Close();
    });
    nodes_.clear();
    transport_.reset();
    env_.reset();
  }

  // Runs `fn` on a fiber and the simulation until it returns (at most 120 virtual s).
  bool Run(std::function<void()> fn) {
    bool done = false;
    env_->Spawn([&done, fn = std::move(fn)] {
      fn();
      done = true;
    });
    return env_->RunUntil([&] { return done; }, 120'000'000);
  }

  void Open() {
    ASSERT_TRUE(Run([this] {
      std::shared_ptr<Pd> pd;
      for (int id = 1; id <= n_; ++id) {
        NodeOptions o;
        o.id = id;
        o.env = env_.get();
        o.transport = transport_.get();
        o.host_pd = id == 1;
        o.pd = pd;
        o.initial_stores = {1, 2, 3};
        o.raft_tick_micros = 50'000;
        o.pd_heartbeat_interval_micros = 200'000;
        absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
        ASSERT_TRUE(node.ok()) << node.status();
        if (id == 1) pd = (*node)->pd();
        nodes_[id] = std::move(*node);
      }
      std::vector<Node*> raw;
      for (auto& [id, n] : nodes_) raw.push_back(n.get());
      absl::StatusOr<std::unique_ptr<RawKvClient>> c = RawKvClient::Open(raw);
      ASSERT_TRUE(c.ok()) << c.status();
      client_ = std::move(*c);
    })) << Seed();
  }

  Pd& pd() { return *nodes_.at(1)->pd(); }
  RawKvClient& kv() { return *client_; }
  SimEnv& env() { return *env_; }
  Node& node(int id) { return *nodes_.at(id); }
  void CloseNode(int id) {
    ASSERT_TRUE(Run([this, id] { nodes_.at(id)->Close(); }));
  }

  // Store ids of the peers of every region, as PD sees them. Called between fibers (in
  // RunUntil predicates): with in-memory engines nothing blocks under PD's lock, so it is
  // free whenever no fiber runs.
  std::vector<std::vector<uint64_t>> Placement() {
    std::vector<std::vector<uint64_t>> out;
    for (const RegionDescription& r : kv().Regions()) {
      std::vector<uint64_t> stores = r.stores;
      std::sort(stores.begin(), stores.end());
      out.push_back(stores);
    }
    return out;
  }

  // Runs until PD has no operator in flight.
  bool WaitNoOperators(uint64_t timeout_micros) {
    return env_->RunUntil(
        [&] {
          absl::StatusOr<std::string> out = pd().Admin("operator show");
          return out.ok() && *out == "(none)\n";
        },
        timeout_micros);
  }

  std::string Seed() const { return testing::SeedReplayMessage(seed_); }

 private:
  uint64_t seed_;
  int n_;
  std::unique_ptr<SimEnv> env_;
  std::unique_ptr<transport::SimTransport> transport_;
  std::map<int, std::unique_ptr<Node>> nodes_;
  std::unique_ptr<RawKvClient> client_;
};

uint64_t TestSeed(uint64_t fallback) {
  std::optional<uint64_t> s = testing::SeedFromEnvironment();
  return s.has_value() ? *s : fallback;
}

TEST(PdSchedulingTest, DownStoreReplicasAreRepairedElsewhere) {
  for (uint64_t seed : {TestSeed(11), TestSeed(12)}) {
    SimCluster c(seed, 4);
    c.Open();
    ASSERT_TRUE(c.Run([&] {
      ASSERT_TRUE(c.pd().Admin("config set max-store-down-time 3s").ok());
      // Balance would move replicas onto the empty store 4 and muddy what is checked.
      ASSERT_TRUE(c.pd().Admin("scheduler remove balance-region-scheduler").ok());
      std::vector<RawKvClient::KvPair> pairs;
      for (int i = 0; i < 300; ++i) pairs.emplace_back(Key(i), absl::StrFormat("v%d", i));
      ASSERT_TRUE(c.kv().BatchPut(pairs).ok());
      ASSERT_TRUE(c.kv().SplitAt(Key(100)).ok());
      ASSERT_TRUE(c.kv().SplitAt(Key(200)).ok());
    })) << c.Seed();
    c.env().RunFor(2'000'000);
    for (const auto& stores : c.Placement()) {
      EXPECT_EQ(stores, (std::vector<uint64_t>{1, 2, 3})) << c.Seed();
    }
    EXPECT_EQ(c.node(4).RegionCount(), 0u) << c.Seed();

    // Store 3 stops: after 3 s without a heartbeat PD moves its replicas to store 4.
    c.CloseNode(3);
    const uint64_t crashed_at = c.env().NowMicros();
    bool repaired = c.env().RunUntil(
        [&] {
          std::vector<std::vector<uint64_t>> p = c.Placement();
          if (p.size() != 3) return false;
          for (const auto& stores : p) {
            if (stores != std::vector<uint64_t>{1, 2, 4}) return false;
          }
          return c.node(4).RegionCount() == 3;
        },
        60'000'000);
    ASSERT_TRUE(repaired) << c.Seed();
    // Not before the store counted as down.
    EXPECT_GE(c.env().NowMicros() - crashed_at, 3'000'000u) << c.Seed();

    // Every write survived the move.
    ASSERT_TRUE(c.Run([&] {
      absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c.kv().Scan("", "");
      ASSERT_TRUE(all.ok()) << all.status();
      ASSERT_EQ(all->size(), 300u);
      for (int i = 0; i < 300; ++i) EXPECT_EQ((*all)[i].second, absl::StrFormat("v%d", i));
    })) << c.Seed();
  }
}

TEST(PdSchedulingTest, ManualReplicationLeavesDownStoreAlone) {
  SimCluster c(TestSeed(21), 4);
  c.Open();
  ASSERT_TRUE(c.Run([&] {
    c.pd().SetSchedulingEnabled(false);
    ASSERT_TRUE(c.pd().Admin("config set max-store-down-time 2s").ok());
    ASSERT_TRUE(c.kv().Put(Key(1), "x").ok());
    // Keep the leader off the store that stops (the raw client's route would go stale).
    absl::StatusOr<std::string> out = c.pd().Admin("operator add transfer-leader 1 1");
    if (!out.ok()) {
      EXPECT_TRUE(absl::IsFailedPrecondition(out.status())) << out.status();
    }
  })) << c.Seed();
  ASSERT_TRUE(c.env().RunUntil([&] { return c.node(1).LeaderCount() == 1; }, 20'000'000));
  ASSERT_TRUE(c.WaitNoOperators(20'000'000)) << c.Seed();
  c.CloseNode(3);
  c.env().RunFor(15'000'000);
  for (const auto& stores : c.Placement()) {
    EXPECT_EQ(stores, (std::vector<uint64_t>{1, 2, 3})) << c.Seed();
  }
  // An operator asked for by hand still runs: move the replica on 3 to 4 in steps.
  ASSERT_TRUE(c.Run([&] {
    absl::StatusOr<std::string> out = c.pd().Admin("operator add add-peer 1 4");
    ASSERT_TRUE(out.ok()) << out.status();
  })) << c.Seed();
  ASSERT_TRUE(c.env().RunUntil([&] { return c.node(4).RegionCount() == 1; }, 30'000'000))
      << c.Seed();
  ASSERT_TRUE(c.WaitNoOperators(30'000'000)) << c.Seed();
  ASSERT_TRUE(c.Run([&] {
    absl::StatusOr<std::string> out = c.pd().Admin("operator add remove-peer 1 3");
    ASSERT_TRUE(out.ok()) << out.status();
  })) << c.Seed();
  ASSERT_TRUE(c.env().RunUntil(
      [&] {
        return c.Placement() == std::vector<std::vector<uint64_t>>{{1, 2, 4}};
      },
      30'000'000))
      << c.Seed();
}

TEST(PdSchedulingTest, AdminTransferLeaderAndSplitReachTheStore) {
  SimCluster c(TestSeed(31), 3);
  c.Open();
  ASSERT_TRUE(c.Run([&] {
    c.pd().SetSchedulingEnabled(false);
    std::vector<RawKvClient::KvPair> pairs;
    for (int i = 0; i < 50; ++i) pairs.emplace_back(Key(i), "v");
    ASSERT_TRUE(c.kv().BatchPut(pairs).ok());
  })) << c.Seed();
  for (int target : {2, 3, 1}) {
    ASSERT_TRUE(c.Run([&] {
      absl::StatusOr<std::string> out =
          c.pd().Admin(absl::StrFormat("operator add transfer-leader 1 %d", target));
      // Already leader there: nothing to do.
      if (!out.ok()) {
        EXPECT_TRUE(absl::IsFailedPrecondition(out.status())) << out.status();
      }
    })) << c.Seed();
    ASSERT_TRUE(c.env().RunUntil([&] { return c.node(target).LeaderCount() == 1; }, 20'000'000))
        << "target " << target << " " << c.Seed();
    ASSERT_TRUE(c.WaitNoOperators(20'000'000)) << c.Seed();
  }
  ASSERT_TRUE(c.Run([&] {
    absl::StatusOr<std::string> out =
        c.pd().Admin(absl::StrFormat("operator add split-region 1 --policy=usekey %s", Key(25)));
    ASSERT_TRUE(out.ok()) << out.status();
  })) << c.Seed();
  ASSERT_TRUE(c.env().RunUntil([&] { return c.Placement().size() == 2; }, 20'000'000)) << c.Seed();
  ASSERT_TRUE(c.Run([&] {
    absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c.kv().Scan("", "");
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(all->size(), 50u);
  })) << c.Seed();
}

TEST(PdSchedulingTest, AdminMergeReachesTheSourceLeader) {
  SimCluster c(TestSeed(41), 3);
  c.Open();
  ASSERT_TRUE(c.Run([&] {
    c.pd().SetSchedulingEnabled(false);
    std::vector<RawKvClient::KvPair> pairs;
    for (int i = 0; i < 60; ++i) pairs.emplace_back(Key(i), absl::StrFormat("v%d", i));
    ASSERT_TRUE(c.kv().BatchPut(pairs).ok());
    ASSERT_TRUE(c.kv().SplitAt(Key(30)).ok());
  })) << c.Seed();
  ASSERT_TRUE(c.WaitNoOperators(20'000'000)) << c.Seed();
  c.env().RunFor(1'000'000);  // Both halves report.
  std::vector<RegionDescription> regions;
  ASSERT_TRUE(c.Run([&] { regions = c.kv().Regions(); })) << c.Seed();
  ASSERT_EQ(regions.size(), 2u) << c.Seed();
  ASSERT_TRUE(c.Run([&] {
    absl::StatusOr<std::string> out = c.pd().Admin(
        absl::StrFormat("operator add merge-region %d %d", regions[1].id, regions[0].id));
    ASSERT_TRUE(out.ok()) << out.status();
  })) << c.Seed();
  ASSERT_TRUE(c.env().RunUntil([&] { return c.Placement().size() == 1; }, 30'000'000)) << c.Seed();
  ASSERT_TRUE(c.WaitNoOperators(20'000'000)) << c.Seed();
  ASSERT_TRUE(c.Run([&] {
    absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c.kv().Scan("", "");
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), 60u);
    for (int i = 0; i < 60; ++i) EXPECT_EQ((*all)[i].second, absl::StrFormat("v%d", i));
  })) << c.Seed();
}

TEST(LocalPdGcSafePointTest, OnlyMovesUpAndSurvivesReopen) {
  SimEnv env;
  storage::MemEngine engine;
  bool done = false;
  env.Spawn([&] {
    {
      absl::StatusOr<std::unique_ptr<node::LocalPd>> pd = node::LocalPd::Open(&env, &engine);
      ASSERT_TRUE(pd.ok()) << pd.status();
      absl::StatusOr<uint64_t> sp = (*pd)->GetGcSafePoint();
      ASSERT_TRUE(sp.ok());
      EXPECT_EQ(*sp, 0u);
      sp = (*pd)->UpdateGcSafePoint(100);
      ASSERT_TRUE(sp.ok());
      EXPECT_EQ(*sp, 100u);
      sp = (*pd)->UpdateGcSafePoint(50);  // Never down.
      ASSERT_TRUE(sp.ok());
      EXPECT_EQ(*sp, 100u);
    }
    absl::StatusOr<std::unique_ptr<node::LocalPd>> pd = node::LocalPd::Open(&env, &engine);
    ASSERT_TRUE(pd.ok()) << pd.status();
    absl::StatusOr<uint64_t> sp = (*pd)->GetGcSafePoint();
    ASSERT_TRUE(sp.ok());
    EXPECT_EQ(*sp, 100u);
    done = true;
  });
  env.RunUntil([&] { return done; }, 10'000'000);
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace rutile
