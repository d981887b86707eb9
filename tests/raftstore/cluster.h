// A small in-process cluster for raftstore tests: N stores, each a simulated node
// (testing::Simulation: SimEnv, SimTransport, crash/restart, nemesis) with its own
// MemEngine that survives crashes minus its unsynced writes. Region 1 covers the whole key
// space with a peer on every store. Clients run on fibers of the simulation that belong to
// no node, route by asking the live stores who leads the region of a key, and retry on
// region errors (which mean the request had no effect).

#ifndef RUTILE_TESTS_RAFTSTORE_CLUSTER_H_
#define RUTILE_TESTS_RAFTSTORE_CLUSTER_H_

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "raftstore/mock_pd.h"
#include "raftstore/store.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "transport/rpc.h"
#include "util/sync.h"

namespace rutile::raftstore {

inline StoreConfig TestStoreConfig() {
  StoreConfig c;
  c.tick_interval_micros = 50'000;
  c.election_tick = 10;
  c.heartbeat_tick = 2;
  c.raft_log_gc_tick_ticks = 5;
  c.raft_log_gc_threshold = 20;
  c.raft_log_gc_count_limit = 200;
  c.split_check_interval_micros = 0;  // Tests split explicitly unless they turn it on.
  c.pd_heartbeat_interval_micros = 1'000'000;
  c.store_heartbeat_interval_micros = 1'000'000;
  c.hibernate_idle_ticks = 20;
  c.request_timeout_micros = 5'000'000;
  c.snapshot_chunk_bytes = 256;
  return c;
}

// A node's monotonic clock running at `rate` times true (virtual) time: NowMicros advances
// `rate` microseconds per true microsecond, and every wait of N local microseconds lasts
// N / rate true ones. Models oscillator drift between stores, which (unlike a wall-clock
// step) is what leader leases must tolerate.
class DriftEnv final : public Env {
 public:
  DriftEnv(Env* base, double rate) : base_(base), rate_(rate), origin_(base->NowMicros()) {}

  uint64_t NowMicros() override {
    const uint64_t now = base_->NowMicros();
    return origin_ + static_cast<uint64_t>(static_cast<double>(now - origin_) * rate_);
  }
  uint64_t WallMicros() override { return base_->WallMicros(); }
  void Spawn(std::function<void()> fn) override { base_->Spawn(std::move(fn)); }
  TimerId Schedule(uint64_t delay, std::function<void()> fn) override {
    return base_->Schedule(True(delay), std::move(fn));
  }
  TimerId ScheduleCallback(uint64_t delay, std::function<void()> fn) override {
    return base_->ScheduleCallback(True(delay), std::move(fn));
  }
  bool Cancel(TimerId id) override { return base_->Cancel(id); }
  void SleepForMicros(uint64_t micros) override { base_->SleepForMicros(True(micros)); }
  void Yield() override { base_->Yield(); }
  uint64_t Random64() override { return base_->Random64(); }
  void RunBlocking(std::function<void()> fn) override { base_->RunBlocking(std::move(fn)); }
  bool IsSimulated() const override { return base_->IsSimulated(); }

 private:
  uint64_t True(uint64_t local) const {
    return static_cast<uint64_t>(static_cast<double>(local) / rate_ + 0.5);
  }
  Env* const base_;
  const double rate_;
  const uint64_t origin_;
};

struct ClusterOptions {
  int stores = 3;
  uint64_t seed = 1;
  StoreConfig config = TestStoreConfig();
  testing::SimulationOptions sim;
  // Per-store clock rates (DriftEnv); stores not listed keep true time.
  std::map<uint64_t, double> clock_rates;
  // Regions bootstrapped on every store: region 1 alone over the whole key space, or
  // regions 1..N over [RegionBoundary(k-1), RegionBoundary(k)) (peer k*10+s on store s).
  int regions = 1;
};

// The start key of region k+1 when Cluster bootstraps several regions.
inline std::string RegionBoundary(int k) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "r%06d", k);
  return buf;
}

class Cluster {
 public:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {
    testing::SimulationOptions so = options_.sim;
    so.seed = options_.seed;
    sim_ = std::make_unique<testing::Simulation>(so);
  }
  ~Cluster() { sim_.reset(); }

  testing::Simulation& sim() { return *sim_; }
  Env* env() { return sim_->env(); }
  MockPd& pd() { return pd_; }

  // Bootstraps region 1 on every store and starts the nodes.
  void Start() {
    std::vector<metapb::Region> regions;
    const int n = std::max(1, options_.regions);
    for (int k = 1; k <= n; ++k) {
      metapb::Region r;
      r.set_id(k);
      r.mutable_region_epoch()->set_conf_ver(1);
      r.mutable_region_epoch()->set_version(1);
      if (k > 1) r.set_start_key(RegionBoundary(k - 1));
      if (k < n) r.set_end_key(RegionBoundary(k));
      for (int i = 1; i <= options_.stores; ++i) {
        metapb::Peer* p = r.add_peers();
        p->set_id(static_cast<uint64_t>(k) * 10 + i);
        p->set_store_id(i);
      }
      pd_.PutRegion(r);
      regions.push_back(std::move(r));
    }
    for (int i = 1; i <= options_.stores; ++i) AddStore(i, regions);
  }

  // Adds store `id`; with `bootstrap` its engine gets that region first, else it starts
  // empty (peers arrive by conf change).
  void AddStore(uint64_t id, const metapb::Region* bootstrap = nullptr) {
    std::vector<metapb::Region> regions;
    if (bootstrap != nullptr) regions.push_back(*bootstrap);
    AddStore(id, regions);
  }
  void AddStore(uint64_t id, const std::vector<metapb::Region>& bootstrap) {
    auto engine = std::make_unique<storage::MemEngine>();
    for (const metapb::Region& r : bootstrap) {
      absl::Status s = Store::BootstrapRegion(engine.get(), r);
      EXPECT_TRUE(s.ok()) << s;
    }
    engines_[id] = std::move(engine);
    auto state = std::make_shared<NodeState>();
    nodes_[id] = state;
    storage::MemEngine* eng = engines_[id].get();
    absl::Status s = sim_->AddNode(
        id,
        {.start = [this, state, eng](const testing::NodeHandle& h) { StartNode(h, state, eng); },
         .crash =
             [this, state, eng](NodeId) {
               if (state->store) state->store->Stop();
               if (state->endpoint) state->endpoint->Stop();
               graveyard_.push_back(state->store);
               graveyard_.push_back(state->endpoint);
               state->store.reset();
               state->endpoint.reset();
               eng->SimulateCrash();
             }});
    EXPECT_TRUE(s.ok()) << s;
  }

  std::shared_ptr<Store> store(uint64_t id) {
    auto it = nodes_.find(id);
    return it == nodes_.end() ? nullptr : it->second->store;
  }
  storage::MemEngine* engine(uint64_t id) { return engines_[id].get(); }
  // Engine syncs made by the last start of store `id` while loading its peers.
  uint64_t create_syncs(uint64_t id) { return nodes_[id]->create_syncs; }
  std::vector<uint64_t> store_ids() const {
    std::vector<uint64_t> v;
    for (auto& [id, s] : nodes_) v.push_back(id);
    return v;
  }

  // Runs `fn` on a client fiber and the simulation until it returns (or `timeout`).
  bool Run(std::function<void()> fn, uint64_t timeout = 120'000'000) {
    Notification done;
    env()->Spawn([fn = std::move(fn), done]() mutable {
      fn();
      done.Notify();
    });
    return sim_->RunUntil([&] { return done.HasBeenNotified(); }, timeout);
  }

  struct Route {
    uint64_t store = 0;
    metapb::Region region;
  };

  // The live store leading the region of `key` (the newest such region), if any.
  std::optional<Route> FindLeader(std::string_view key) {
    std::optional<Route> best;
    for (auto& [id, st] : nodes_) {
      if (st->store == nullptr) continue;
      std::optional<metapb::Region> r = st->store->FindRegionByKey(key);
      if (!r.has_value() || !st->store->IsLeader(r->id())) continue;
      if (!best.has_value() ||
          r->region_epoch().version() > best->region.region_epoch().version()) {
        best = Route{id, *r};
      }
    }
    return best;
  }

  // Waits (virtual time, on a fiber) for a leader of the region of `key`.
  std::optional<Route> WaitLeader(std::string_view key, uint64_t timeout = 10'000'000) {
    uint64_t deadline = env()->NowMicros() + timeout;
    while (env()->NowMicros() < deadline) {
      if (std::optional<Route> r = FindLeader(key)) return r;
      env()->SleepForMicros(20'000);
    }
    return std::nullopt;
  }

  // Writes through the leader, retrying region errors until `timeout`. DeadlineExceeded
  // when an attempt's outcome is unknown or no attempt succeeded in time.
  absl::Status Write(std::vector<raft_cmdpb::Request> requests, std::string_view route_key,
                     uint64_t timeout = 10'000'000) {
    uint64_t deadline = env()->NowMicros() + timeout;
    absl::Status last = absl::DeadlineExceededError("no leader");
    while (env()->NowMicros() < deadline) {
      std::optional<Route> route = FindLeader(route_key);
      if (!route.has_value()) {
        env()->SleepForMicros(20'000);
        continue;
      }
      raft_cmdpb::RaftCmdRequest req;
      req.mutable_header()->set_region_id(route->region.id());
      *req.mutable_header()->mutable_region_epoch() = route->region.region_epoch();
      for (const raft_cmdpb::Request& r : requests) *req.add_requests() = r;
      std::shared_ptr<Store> st = store(route->store);
      if (st == nullptr) continue;
      Future<absl::Status> f = st->Propose(std::move(req));
      if (!f.WaitFor(env(), 3'000'000)) return absl::DeadlineExceededError("write timed out");
      last = f.Get();
      if (last.ok()) return last;
      if (!GetRegionError(last).has_value() && !absl::IsAborted(last)) return last;
      env()->SleepForMicros(10'000);
    }
    return absl::DeadlineExceededError(absl::StrCat("write not done in time: ", last.ToString()));
  }

  absl::Status Put(std::string key, std::string value, uint64_t timeout = 10'000'000) {
    raft_cmdpb::Request r;
    r.set_cmd_type(raft_cmdpb::CMD_PUT);
    r.mutable_put()->set_key(key);
    r.mutable_put()->set_value(std::move(value));
    return Write({r}, key, timeout);
  }

  absl::Status Delete(std::string key, uint64_t timeout = 10'000'000) {
    raft_cmdpb::Request r;
    r.set_cmd_type(raft_cmdpb::CMD_DELETE);
    r.mutable_delete_()->set_key(key);
    return Write({r}, key, timeout);
  }

  // A consistent snapshot of the region of `key` at its leader, retrying region errors.
  absl::StatusOr<std::shared_ptr<RegionSnapshot>> Snapshot(std::string_view key,
                                                           uint64_t timeout = 10'000'000) {
    uint64_t deadline = env()->NowMicros() + timeout;
    absl::Status last = absl::DeadlineExceededError("no leader");
    while (env()->NowMicros() < deadline) {
      std::optional<Route> route = FindLeader(key);
      std::shared_ptr<Store> st = route ? store(route->store) : nullptr;
      if (st == nullptr) {
        env()->SleepForMicros(20'000);
        continue;
      }
      raft_cmdpb::RaftRequestHeader h;
      h.set_region_id(route->region.id());
      *h.mutable_region_epoch() = route->region.region_epoch();
      Future<ReadResult> f = st->Read(h);
      if (!f.WaitFor(env(), 3'000'000)) return absl::DeadlineExceededError("read timed out");
      ReadResult r = f.Get();
      if (r.ok() && KeyInRegion(key, (*r)->region())) return r;
      last = r.ok() ? absl::UnavailableError("region moved") : r.status();
      if (!r.ok() && !GetRegionError(r.status()).has_value()) return r.status();
      env()->SleepForMicros(10'000);
    }
    return absl::DeadlineExceededError(absl::StrCat("read not done in time: ", last.ToString()));
  }

  // A follower read (replica read) of `key` at store `id`, retrying region errors. The
  // store's peer answers after a ReadIndex round with the leader, from its own replica.
  absl::StatusOr<std::optional<std::string>> ReplicaGet(uint64_t id, std::string key,
                                                        uint64_t timeout = 10'000'000) {
    uint64_t deadline = env()->NowMicros() + timeout;
    absl::Status last = absl::DeadlineExceededError("no region");
    while (env()->NowMicros() < deadline) {
      std::shared_ptr<Store> st = store(id);
      std::optional<metapb::Region> r = st ? st->FindRegionByKey(key) : std::nullopt;
      if (!r.has_value()) {
        env()->SleepForMicros(20'000);
        continue;
      }
      raft_cmdpb::RaftRequestHeader h;
      h.set_region_id(r->id());
      *h.mutable_region_epoch() = r->region_epoch();
      h.set_replica_read(true);
      Future<ReadResult> f = st->Read(h);
      if (!f.WaitFor(env(), 3'000'000)) return absl::DeadlineExceededError("read timed out");
      ReadResult rr = f.Get();
      if (rr.ok() && KeyInRegion(key, (*rr)->region())) {
        return (*rr)->Get(storage::CF::kDefault, key);
      }
      last = rr.ok() ? absl::UnavailableError("region moved") : rr.status();
      if (!rr.ok() && !GetRegionError(rr.status()).has_value()) return rr.status();
      env()->SleepForMicros(10'000);
    }
    return absl::DeadlineExceededError(absl::StrCat("read not done in time: ", last.ToString()));
  }

  // Every other Get first tries the leader's snapshot-free point read (Store::ReadLatest),
  // so the linearizability and lease tests check both read paths.
  absl::StatusOr<std::optional<std::string>> Get(std::string key, uint64_t timeout = 10'000'000) {
    if (gets_++ % 2 == 0) {
      if (std::optional<Route> route = FindLeader(key)) {
        if (std::shared_ptr<Store> st = store(route->store)) {
          absl::StatusOr<std::optional<std::string>> v;
          std::optional<absl::Status> s =
              st->ReadLatest(route->region.id(), route->region.region_epoch().version(), 0,
                             [&](const RegionSnapshot& view) {
                               v = view.Get(storage::CF::kDefault, key);
                               return v.status();
                             });
          if (s.has_value() && s->ok()) return v;
        }
      }
    }
    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = Snapshot(key, timeout);
    if (!snap.ok()) return snap.status();
    return (*snap)->Get(storage::CF::kDefault, key);
  }

  // Reads `key` straight from store `id`'s engine (what its replica applied).
  std::optional<std::string> LocalGet(uint64_t id, std::string_view key) {
    absl::StatusOr<std::optional<std::string>> v =
        engines_[id]->Get(storage::CF::kDefault, DataKey(key));
    return v.ok() ? *v : std::nullopt;
  }

  // Waits until every live store's replica of `key` holds `value` (nullopt: absent).
  bool WaitReplicated(std::string_view key, std::optional<std::string> value,
                      uint64_t timeout = 20'000'000) {
    uint64_t deadline = env()->NowMicros() + timeout;
    while (env()->NowMicros() < deadline) {
      bool all = true;
      for (auto& [id, st] : nodes_) {
        if (st->store == nullptr) continue;
        if (LocalGet(id, key) != value) all = false;
      }
      if (all) return true;
      env()->SleepForMicros(50'000);
    }
    return false;
  }

 private:
  struct NodeState {
    std::shared_ptr<transport::RpcEndpoint> endpoint;
    std::shared_ptr<Store> store;
    std::shared_ptr<DriftEnv> drift;
    uint64_t create_syncs = 0;  // Engine syncs made by the last Store::Create.
  };

  void StartNode(const testing::NodeHandle& h, const std::shared_ptr<NodeState>& state,
                 storage::MemEngine* engine) {
    auto ep = std::make_shared<transport::RpcEndpoint>(h.env, h.transport, h.id);
    Env* store_env = h.env;
    if (auto it = options_.clock_rates.find(h.id); it != options_.clock_rates.end()) {
      auto drift = std::make_shared<DriftEnv>(h.env, it->second);
      graveyard_.push_back(drift);
      state->drift = drift;
      store_env = drift.get();
    }
    Store::Options o;
    o.config = options_.config;
    o.config.store_id = h.id;
    o.env = store_env;
    o.engine = engine;
    o.endpoint = ep.get();
    o.pd = &pd_;
    const uint64_t syncs = engine->SyncCount();
    absl::StatusOr<std::shared_ptr<Store>> st = Store::Create(o);
    state->create_syncs = engine->SyncCount() - syncs;
    if (!st.ok()) {
      ADD_FAILURE() << "store " << h.id << ": " << st.status();
      return;
    }
    state->endpoint = ep;
    state->store = *st;
    (*st)->Start();
  }

  ClusterOptions options_;
  MockPd pd_;
  std::map<uint64_t, std::unique_ptr<storage::MemEngine>> engines_;
  uint64_t gets_ = 0;
  std::vector<std::shared_ptr<void>> graveyard_;
  std::map<uint64_t, std::shared_ptr<NodeState>> nodes_;
  std::unique_ptr<testing::Simulation> sim_;
};

}  // namespace rutile::raftstore

#endif  // RUTILE_TESTS_RAFTSTORE_CLUSTER_H_
