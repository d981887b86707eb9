// Stores on the replicated PD (SimEnv + SimTransport, in-memory engines): four raftstore
// Stores use node::ReplicatedPd (a pd::Client to the three-member PD group hosted on
// nodes 1..3) as their raftstore::PdClient. PD learns the regions from heartbeats, admin
// operators reach the stores through heartbeat replies, a stopped store's replicas are
// rebuilt on the spare store, and all of it keeps working after the PD leader stops.
// Failures print the seed (replay with RUTILE_SIM_SEED).

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/replicated_pd.h"
#include "raftstore/store.h"
#include "rutile/env.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "transport/rpc.h"
#include "transport/sim_transport.h"
#include "util/failpoint.h"

namespace rutile {
namespace {

class World {
 public:
  explicit World(uint64_t seed) : seed_(seed) {
    SimEnvOptions eo;
    eo.seed = seed;
    env_ = std::make_unique<SimEnv>(eo);
    transport_ = std::make_unique<transport::SimTransport>(env_.get());
  }
  ~World() {
    Run([this] {
      for (auto& [id, n] : nodes_) {
        if (n.store != nullptr) n.store->Shutdown();
        n.pd->Close();
        n.endpoint->Stop();
      }
    });
    nodes_.clear();
    transport_.reset();
    env_.reset();
  }

  bool Run(std::function<void()> fn, uint64_t timeout_micros = 120'000'000) {
    bool done = false;
    env_->Spawn([&done, fn = std::move(fn)] {
      fn();
      done = true;
    });
    return env_->RunUntil([&] { return done; }, timeout_micros);
  }

  void Open() {
    ASSERT_TRUE(Run([this] {
      for (uint64_t id = 1; id <= 4; ++id) {
        Node& n = nodes_[id];
        n.engine = std::make_unique<storage::MemEngine>();
        n.endpoint = std::make_unique<transport::RpcEndpoint>(env_.get(), transport_.get(), id);
        node::ReplicatedPdOptions po;
        po.self_id = id;
        po.members = {1, 2, 3};
        po.server.id_floor = 1000;
        po.server.scheduling.config.max_store_down_time_micros = 3'000'000;
        po.server.scheduling.config.merge_schedule_limit = 0;
        absl::StatusOr<std::unique_ptr<node::ReplicatedPd>> pd =
            node::ReplicatedPd::Open(env_.get(), n.engine.get(), n.endpoint.get(), po);
        ASSERT_TRUE(pd.ok()) << pd.status();
        n.pd = std::move(*pd);
      }
      for (uint64_t id = 1; id <= 4; ++id) {
        Node& n = nodes_[id];
        ASSERT_TRUE(n.pd->PutStore(id).ok());
        if (id <= 3) {
          metapb::Region r;
          r.set_id(1);
          r.mutable_region_epoch()->set_conf_ver(1);
          r.mutable_region_epoch()->set_version(1);
          for (uint64_t s = 1; s <= 3; ++s) {
            metapb::Peer* p = r.add_peers();
            p->set_id(10 + s);
            p->set_store_id(s);
          }
          ASSERT_TRUE(raftstore::Store::BootstrapRegion(n.engine.get(), r).ok());
        }
        raftstore::Store::Options so;
        so.config.store_id = id;
        so.config.tick_interval_micros = 50'000;
        so.config.pd_heartbeat_interval_micros = 200'000;
        so.config.store_heartbeat_interval_micros = 200'000;
        so.env = env_.get();
        so.engine = n.engine.get();
        so.endpoint = n.endpoint.get();
        so.pd = n.pd.get();
        absl::StatusOr<std::shared_ptr<raftstore::Store>> store = raftstore::Store::Create(so);
        ASSERT_TRUE(store.ok()) << store.status();
        n.store = *store;
        for (const metapb::Region& r : n.store->Regions()) (void)n.pd->ReportRegion(r);
        n.store->Start();
      }
    })) << Seed();
  }

  // Store ids of each region's peers, sorted, in key order, as the PD leader sees them.
  std::vector<std::vector<uint64_t>> Placement(uint64_t via) {
    std::vector<std::vector<uint64_t>> out;
    Run([&] {
      absl::StatusOr<std::vector<node::LocalPd::RegionRoute>> rs = nodes_.at(via).pd->Regions();
      if (!rs.ok()) return;
      for (const auto& r : *rs) {
        std::vector<uint64_t> stores;
        for (const metapb::Peer& p : r.region.peers()) stores.push_back(p.store_id());
        std::sort(stores.begin(), stores.end());
        out.push_back(stores);
      }
    });
    return out;
  }

  // Polls `done` (run on a fiber) every 500 ms of virtual time.
  bool Eventually(const std::function<bool()>& done, uint64_t timeout_micros) {
    const uint64_t end = env_->NowMicros() + timeout_micros;
    while (env_->NowMicros() < end) {
      if (done()) return true;
      env_->RunFor(500'000);
    }
    return done();
  }

  node::ReplicatedPd& pd(uint64_t id) { return *nodes_.at(id).pd; }
  raftstore::Store& store(uint64_t id) { return *nodes_.at(id).store; }
  void StopStore(uint64_t id) {
    ASSERT_TRUE(Run([&] { nodes_.at(id).store->Shutdown(); }));
  }
  uint64_t PdLeader() {
    for (auto& [id, n] : nodes_) {
      if (n.pd->server() != nullptr && n.pd->server()->IsServing()) return id;
    }
    return 0;
  }
  std::string Seed() const { return testing::SeedReplayMessage(seed_); }
  SimEnv& env() { return *env_; }

 private:
  struct Node {
    std::unique_ptr<storage::MemEngine> engine;
    std::unique_ptr<transport::RpcEndpoint> endpoint;
    std::unique_ptr<node::ReplicatedPd> pd;
    std::shared_ptr<raftstore::Store> store;
  };
  uint64_t seed_;
  std::unique_ptr<SimEnv> env_;
  std::unique_ptr<transport::SimTransport> transport_;
  std::map<uint64_t, Node> nodes_;
};

TEST(ReplicatedPdStoreTest, StoresScheduledThroughTheReplicatedPd) {
  std::optional<uint64_t> env_seed = testing::SeedFromEnvironment();
  World w(env_seed.value_or(41));
  w.Open();
  // PD hears of region 1 and can route.
  ASSERT_TRUE(w.Eventually([&] { return w.Placement(4).size() == 1; }, 20'000'000)) << w.Seed();

  // An admin split travels in a heartbeat reply; its new region ids come from the PD.
  ASSERT_TRUE(w.Run([&] {
    absl::StatusOr<std::string> out =
        w.pd(4).AdminExecute("operator add split-region 1 --policy=usekey m");
    ASSERT_TRUE(out.ok()) << out.status();
  })) << w.Seed();
  ASSERT_TRUE(w.Eventually([&] { return w.Placement(4).size() == 2; }, 20'000'000)) << w.Seed();
  for (const metapb::Region& r : w.store(1).Regions()) {
    if (r.id() != 1) {
      EXPECT_GE(r.id(), 1000u) << w.Seed();
    }
  }

  // The PD leader's member stops; the others elect a leader and scheduling goes on from
  // the heartbeats it receives: store 3 stops and its replicas move to store 4.
  uint64_t leader = w.PdLeader();
  ASSERT_NE(leader, 0u) << w.Seed();
  ASSERT_TRUE(w.Run([&] { w.pd(leader).server()->Stop(); })) << w.Seed();
  uint64_t down = leader == 3 ? 2 : 3;
  w.StopStore(down);
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 4; ++s) {
    if (s != down) want.push_back(s);
  }
  ASSERT_TRUE(w.Eventually(
      [&] {
        std::vector<std::vector<uint64_t>> p = w.Placement(4);
        if (p.size() != 2) return false;
        for (const auto& stores : p) {
          if (stores != want) return false;
        }
        return true;
      },
      60'000'000))
      << "stopped PD member " << leader << ", stopped store " << down << "; " << w.Seed();
  EXPECT_NE(w.PdLeader(), leader) << w.Seed();
  ASSERT_TRUE(w.Run([&] {
    absl::StatusOr<uint64_t> a = w.pd(4).GetTimestamp();
    absl::StatusOr<uint64_t> b = w.pd(1).GetTimestamp();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(*a, *b);
    absl::StatusOr<uint64_t> sp = w.pd(4).UpdateGcSafePoint(*a);
    ASSERT_TRUE(sp.ok()) << sp.status();
    absl::StatusOr<uint64_t> got = w.pd(2).GetGcSafePoint();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, *a);
  })) << w.Seed();
}

// pd-ctl `store delete`: the store goes offline, PD moves its replica to the spare store,
// then makes it a tombstone. Both state changes are in PD's Raft log: the PD leader stops
// right after the delete, and its successor, which learned of it only from the log,
// carries on and buries the store; the deleted store drops its replica and its
// registration is refused from then on. (Tombstones across PD restarts: tests/cluster.)
TEST(ReplicatedPdStoreTest, StoreDeleteMovesReplicasAwayThenTombstonesItAcrossPdFailover) {
  std::optional<uint64_t> env_seed = testing::SeedFromEnvironment();
  World w(env_seed.value_or(43));
  w.Open();
  ASSERT_TRUE(w.Eventually([&] { return w.Placement(4).size() == 1; }, 20'000'000)) << w.Seed();
  const uint64_t leader = w.PdLeader();
  ASSERT_NE(leader, 0u) << w.Seed();
  // Delete a store that does not host the serving PD member (whose member is stopped).
  const uint64_t deleted = leader == 3 ? 2 : 3;
  ASSERT_TRUE(w.Run([&] {
    absl::StatusOr<std::string> out = w.pd(4).AdminExecute(absl::StrCat("store delete ", deleted));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(absl::IsNotFound(w.pd(4).AdminExecute("store delete 77").status()));
    // A malformed line is refused and changes nothing: the spare store stays up (the
    // replica must still move there).
    EXPECT_TRUE(absl::IsInvalidArgument(w.pd(4).AdminExecute("store delete 4 x").status()));
    absl::StatusOr<std::string> spare = w.pd(4).AdminExecute("store 4");
    ASSERT_TRUE(spare.ok()) << spare.status();
    EXPECT_NE(spare->find("UP"), std::string::npos) << *spare;
    w.pd(leader).server()->Stop();
  })) << w.Seed();
  auto store_line = [&](uint64_t via) {
    std::string line;
    w.Run([&] {
      absl::StatusOr<std::string> out = w.pd(via).AdminExecute(absl::StrCat("store ", deleted));
      if (out.ok()) line = *out;
    });
    return line;
  };
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 4; ++s) {
    if (s != deleted) want.push_back(s);
  }
  ASSERT_TRUE(w.Eventually(
      [&] {
        std::vector<std::vector<uint64_t>> p = w.Placement(4);
        return p.size() == 1 && p[0] == want &&
               store_line(4).find("TOMBSTONE") != std::string::npos;
      },
      60'000'000))
      << "deleted store " << deleted << ": " << store_line(4) << "; " << w.Seed();
  EXPECT_NE(w.PdLeader(), leader) << w.Seed();
  // The deleted store dropped its replica.
  EXPECT_TRUE(w.Eventually([&] { return w.store(deleted).Regions().empty(); }, 10'000'000))
      << w.Seed();
  // A tombstone stays one: its registration is refused, through another leader too.
  ASSERT_TRUE(w.Run([&] {
    EXPECT_EQ(w.pd(deleted).PutStore(deleted).code(), absl::StatusCode::kFailedPrecondition);
  })) << w.Seed();
}

// A `store delete` whose proposal committed while the handler's wait ended as if timed out
// (failpoint pd_store_delete_wait_lost): the caller got an error, yet the store is offline in
// the log. The serving leader's scheduling view takes the committed state on (it used to
// stay UP until another member became leader): the replica moves away and the store becomes
// a tombstone, under the same PD leader.
TEST(ReplicatedPdStoreTest, StoreDeleteWhoseWaitTimedOutButCommittedReachesTheView) {
  std::optional<uint64_t> env_seed = testing::SeedFromEnvironment();
  World w(env_seed.value_or(44));
  w.Open();
  ASSERT_TRUE(w.Eventually([&] { return w.Placement(4).size() == 1; }, 20'000'000)) << w.Seed();
  const uint64_t leader = w.PdLeader();
  ASSERT_NE(leader, 0u) << w.Seed();
  const uint64_t deleted = leader == 3 ? 2 : 3;
  ASSERT_TRUE(w.Run([&] {
    failpoint::ScopedFailPoint lost("pd_store_delete_wait_lost", "return");
    EXPECT_FALSE(w.pd(4).AdminExecute(absl::StrCat("store delete ", deleted)).ok());
  })) << w.Seed();
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 4; ++s) {
    if (s != deleted) want.push_back(s);
  }
  std::string line;
  ASSERT_TRUE(w.Eventually(
      [&] {
        w.Run([&] {
          absl::StatusOr<std::string> out = w.pd(4).AdminExecute(absl::StrCat("store ", deleted));
          if (out.ok()) line = *out;
        });
        std::vector<std::vector<uint64_t>> p = w.Placement(4);
        return p.size() == 1 && p[0] == want && line.find("TOMBSTONE") != std::string::npos;
      },
      60'000'000))
      << "deleted store " << deleted << ": " << line << "; " << w.Seed();
  EXPECT_EQ(w.PdLeader(), leader) << w.Seed();
}

}  // namespace
}  // namespace rutile
