// TestCluster (include/rutile/testing/cluster.h): nodes over a Simulation or over
// Env::Default() + LocalTransport, each on a MemEngine kept across its incarnations; the
// replicated PD with members on the first three nodes (or one LocalPd beside them on the
// cluster's Env), and a RawKvClient that resolves stores through the nodes currently up and
// reaches PD through a pd::Client on an endpoint of its own.

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "node/local_pd.h"
#include "node/node_internal.h"
#include "raftstore/store.h"
#include "rutile/testing/cluster.h"
#include "storage/mem_engine.h"
#include "transport/local_transport.h"
#include "util/sync.h"

namespace rutile::testing {
namespace {

// The largest node id Node accepts (node.cc): store ids stay below the first allocated id.
constexpr uint64_t kMaxNodeId = node::kFirstAllocatedId - node::kBootstrapPeerIdBase;

// How often the waiting verbs look again.
constexpr uint64_t kPollMicros = 50'000;

// The transport id of the clients' PD endpoint (node ids stay below kMaxNodeId).
constexpr NodeId kPdClientEndpointId = 999;

bool SameEpoch(const metapb::Region& a, const metapb::Region& b) {
  return a.region_epoch().version() == b.region_epoch().version() &&
         a.region_epoch().conf_ver() == b.region_epoch().conf_ver();
}

bool Newer(const metapb::Region& a, const metapb::Region& b) {
  if (a.region_epoch().version() != b.region_epoch().version()) {
    return a.region_epoch().version() > b.region_epoch().version();
  }
  return a.region_epoch().conf_ver() > b.region_epoch().conf_ver();
}

}  // namespace

struct TestCluster::Rep {
  struct Slot {
    std::shared_ptr<storage::MemEngine> engine;
    std::unique_ptr<Node> node;  // Null while down.
    absl::Status open_status;
  };

  // What a leader on an up node says about its region.
  struct LeaderView {
    uint64_t store = 0;
    metapb::Region region;
    uint64_t applied = 0;
  };

  TestClusterOptions options;
  std::unique_ptr<Simulation> sim;                   // Simulated mode.
  std::unique_ptr<transport::LocalTransport> local;  // Real mode.
  Env* env = nullptr;
  std::shared_ptr<storage::MemEngine> pd_engine;  // LocalPd only.
  std::shared_ptr<Pd> pd;
  node::PdApi* pd_api = nullptr;
  node::ReplicatedPd* pd_client = nullptr;  // Replicated PD only: the handle's client.
  pd::SchedulingOptions pd_scheduling;
  std::vector<uint64_t> initial_stores;
  std::vector<uint64_t> pd_members;  // Replicated PD only.
  std::unique_ptr<RawKvClient> client;

  mutable absl::Mutex mu;
  std::map<uint64_t, Slot> slots ABSL_GUARDED_BY(mu);
  // Crashed incarnations of simulated nodes: their dead fibers keep pointers into them until
  // the Simulation unwinds those fibers.
  std::vector<std::unique_ptr<Node>> graveyard ABSL_GUARDED_BY(mu);

  NodeOptions MakeOptions(uint64_t id, Env* node_env, Transport* transport) const {
    NodeOptions o;
    o.id = id;
    o.env = node_env;
    o.transport = transport;
    if (options.replicated_pd) {
      o.pd_members = pd_members;
    } else {
      o.pd = pd;
    }
    o.initial_stores = initial_stores;
    o.raft_tick_micros = options.raft_tick_micros;
    o.pd_heartbeat_interval_micros = options.pd_heartbeat_interval_micros;
    o.region_split_size = options.region_split_size;
    o.region_split_keys = options.region_split_keys;
    o.hibernate_regions = options.hibernate_regions;
    return o;
  }

  // Opens an incarnation of node `id` (on a fiber of `node_env`).
  void OpenNode(uint64_t id, Env* node_env, Transport* transport) {
    std::shared_ptr<storage::MemEngine> engine;
    {
      absl::MutexLock lock(&mu);
      engine = slots[id].engine;
    }
    const uint64_t split_check = options.split_check_interval_micros;
    absl::StatusOr<std::unique_ptr<Node::Impl>> impl = node::OpenNodeImpl(
        MakeOptions(id, node_env, transport), engine,
        [split_check](raftstore::StoreConfig* c) { c->split_check_interval_micros = split_check; },
        [this](node::ReplicatedPdOptions* o) { TunePd(o); });
    absl::MutexLock lock(&mu);
    Slot& s = slots[id];
    if (!impl.ok()) {
      s.open_status = impl.status();
      return;
    }
    s.open_status = absl::OkStatus();
    s.node = node::Access::NewNode(std::move(*impl));
  }

  void TunePd(node::ReplicatedPdOptions* o) const {
    o->server.scheduling = pd_scheduling;
    o->server.tick_micros = options.raft_tick_micros;
  }

  // A simulated node's crash hook: the incarnation stops where it is (its fibers are dead
  // already), and its engine forgets what it did not sync.
  void CrashSimulated(uint64_t id) {
    std::unique_ptr<Node> n;
    std::shared_ptr<storage::MemEngine> engine;
    {
      absl::MutexLock lock(&mu);
      auto it = slots.find(id);
      if (it == slots.end()) return;
      n = std::move(it->second.node);
      engine = it->second.engine;
    }
    if (n != nullptr) {
      std::unique_ptr<Node::Impl>& impl = node::Access::ImplOf(n.get());
      impl->closed = true;  // ~Node must not wait for fibers that will never run.
      impl->store->Stop();
      if (impl->replicated_pd != nullptr) impl->replicated_pd->Abandon();
      impl->endpoint->Stop();
      absl::MutexLock lock(&mu);
      graveyard.push_back(std::move(n));
    }
    engine->SimulateCrash();
  }

  absl::Status AddSlot(uint64_t id) {
    if (id == 0 || id >= kMaxNodeId) {
      return absl::InvalidArgumentError(absl::StrCat("node id ", id, " out of range"));
    }
    absl::MutexLock lock(&mu);
    if (slots.count(id) != 0) return absl::AlreadyExistsError(absl::StrCat("node ", id));
    slots[id].engine = std::make_shared<storage::MemEngine>();
    return absl::OkStatus();
  }

  // Starts node `id`, whose slot exists, and waits until it is open.
  absl::Status StartNode(uint64_t id) {
    if (sim != nullptr) {
      absl::Status s = sim->AddNode(
          id, {.start = [this](const NodeHandle& h) { OpenNode(h.id, h.env, h.transport); },
               .crash = [this](NodeId n) { CrashSimulated(n); }});
      if (!s.ok()) return s;
      sim->RunUntil([&] { return IsUp(id) || !OpenStatus(id).ok(); }, 30'000'000);
    } else {
      RunOnFiber([&] { OpenNode(id, env, local.get()); });
    }
    if (absl::Status s = OpenStatus(id); !s.ok()) return s;
    if (!IsUp(id)) return absl::DeadlineExceededError(absl::StrCat("node ", id, " did not open"));
    return absl::OkStatus();
  }

  // With the replicated PD a store registers itself with its first heartbeat (Node::Open
  // does not wait for a PD leader); registers stores `ids` now, so PD knows them when the
  // verb that started them returns.
  absl::Status RegisterStores(const std::vector<uint64_t>& ids) {
    if (!options.replicated_pd) return absl::OkStatus();
    absl::Status s;
    RunOnFiber([&] {
      for (uint64_t id : ids) {
        s = pd_client->PutStore(id);
        if (!s.ok()) return;
      }
    });
    return s;
  }

  absl::Status OpenStatus(uint64_t id) const {
    absl::MutexLock lock(&mu);
    auto it = slots.find(id);
    return it == slots.end() ? absl::NotFoundError("no such node") : it->second.open_status;
  }

  bool IsUp(uint64_t id) const {
    absl::MutexLock lock(&mu);
    auto it = slots.find(id);
    return it != slots.end() && it->second.node != nullptr;
  }

  std::shared_ptr<raftstore::Store> StoreOf(uint64_t id) const {
    absl::MutexLock lock(&mu);
    auto it = slots.find(id);
    if (it == slots.end() || it->second.node == nullptr) return nullptr;
    return node::StoreOf(node::Access::ImplOf(it->second.node.get()).get());
  }

  std::vector<uint64_t> UpIds() const {
    std::vector<uint64_t> out;
    absl::MutexLock lock(&mu);
    for (const auto& [id, s] : slots) {
      if (s.node != nullptr) out.push_back(id);
    }
    return out;
  }

  // Runs `fn` on a fiber of its own and waits for it at most `timeout_micros`. Store verbs
  // wait on the store's Env, which never fires again once the store's node has crashed; a
  // caller must not hang with them (the abandoned fiber is unwound at teardown).
  absl::Status CallWithTimeout(std::function<absl::Status()> fn, uint64_t timeout_micros,
                               const char* what) {
    struct Call {
      Notification done;
      absl::Status status;
    };
    auto call = std::make_shared<Call>();
    env->Spawn([call, fn = std::move(fn)] {
      call->status = fn();
      call->done.Notify();
    });
    if (!call->done.WaitFor(env, timeout_micros)) {
      return absl::DeadlineExceededError(absl::StrCat(what, " did not finish in time"));
    }
    return call->status;
  }

  bool RunOnFiber(std::function<void()> fn, uint64_t timeout_micros = 600'000'000) {
    if (sim != nullptr) {
      Notification done;
      sim->env()->Spawn([fn = std::move(fn), done]() mutable {
        fn();
        done.Notify();
      });
      return sim->RunUntil([&] { return done.HasBeenNotified(); }, timeout_micros);
    }
    WaitGroup wg;
    wg.Add(1);
    env->Spawn([&] {
      fn();
      wg.Done();
    });
    wg.Wait();
    return true;
  }

  // The leaders on up nodes, one per region id (the newest epoch when two claim it).
  std::map<uint64_t, LeaderView> Leaders() {
    std::map<uint64_t, LeaderView> out;
    for (uint64_t id : UpIds()) {
      std::shared_ptr<raftstore::Store> st = StoreOf(id);
      if (st == nullptr) continue;
      for (const metapb::Region& r : st->Regions()) {
        if (!st->IsLeader(r.id())) continue;
        auto it = out.find(r.id());
        if (it != out.end() && !Newer(r, it->second.region)) continue;
        out[r.id()] = LeaderView{id, r, st->AppliedIndex(r.id())};
      }
    }
    return out;
  }

  // Empty when the leaders' regions tile the key space; else what is wrong.
  static std::string CheckTiling(const std::map<uint64_t, LeaderView>& leaders) {
    std::vector<const metapb::Region*> regions;
    for (const auto& [id, l] : leaders) regions.push_back(&l.region);
    std::sort(regions.begin(), regions.end(), [](const metapb::Region* a, const metapb::Region* b) {
      return a->start_key() < b->start_key();
    });
    std::string expected_start;
    for (const metapb::Region* r : regions) {
      if (r->start_key() != expected_start) {
        return absl::StrCat("no leader for keys from \"", absl::CEscape(expected_start),
                            "\" (next led region ", r->id(), " starts at \"",
                            absl::CEscape(r->start_key()), "\")");
      }
      if (r->end_key().empty()) return "";
      expected_start = r->end_key();
    }
    return absl::StrCat("no leader for keys from \"", absl::CEscape(expected_start), "\"");
  }

  // Empty when replication is complete (see WaitForReplication); else what is missing.
  std::string CheckReplication() {
    std::map<uint64_t, LeaderView> leaders = Leaders();
    if (std::string t = CheckTiling(leaders); !t.empty()) return t;
    for (const auto& [rid, l] : leaders) {
      int voters = 0;
      for (const metapb::Peer& p : l.region.peers()) {
        if (p.role() != metapb::VOTER) {
          return absl::StrCat("region ", rid, " has a non-voter on store ", p.store_id());
        }
        ++voters;
        std::shared_ptr<raftstore::Store> st = StoreOf(p.store_id());
        if (st == nullptr) {
          return absl::StrCat("region ", rid, " has a replica on down store ", p.store_id());
        }
        std::optional<metapb::Region> mine = st->GetRegion(rid);
        if (!mine.has_value() || !SameEpoch(*mine, l.region)) {
          return absl::StrCat("region ", rid, " replica on store ", p.store_id(),
                              " has not caught up with the leader's epoch");
        }
        if (st->AppliedIndex(rid) < l.applied) {
          return absl::StrCat("region ", rid, " replica on store ", p.store_id(), " applied ",
                              st->AppliedIndex(rid), " < leader's ", l.applied);
        }
      }
      if (voters != options.max_replicas) {
        return absl::StrCat("region ", rid, " has ", voters, " voters, want ",
                            options.max_replicas);
      }
    }
    return "";
  }
};

TestCluster::TestCluster(const TestClusterOptions& options) : rep_(std::make_unique<Rep>()) {
  rep_->options = options;
  if (options.simulated) {
    rep_->sim = std::make_unique<Simulation>(options.sim);
    rep_->env = rep_->sim->env();
  } else {
    rep_->env = Env::Default();
    rep_->local = std::make_unique<transport::LocalTransport>(rep_->env);
  }
}

TestCluster::~TestCluster() {
  if (rep_->pd_client != nullptr) {
    // The clients' PD endpoint lives on the network: stop it (and the client's fibers)
    // while the network does; the handle itself may outlive both.
    rep_->RunOnFiber(
        [&] {
          rep_->pd_client->Close();
          node::Access::ImplOf(rep_->pd.get())->endpoint->Stop();
        },
        30'000'000);
  }
  if (rep_->sim != nullptr) {
    // Crashes every node that is up (moving it to the graveyard) and unwinds every fiber,
    // some of which may be inside the client.
    rep_->sim.reset();
    rep_->client.reset();
  } else {
    rep_->client.reset();
    for (uint64_t id : rep_->UpIds()) {
      std::unique_ptr<Node> n;
      {
        absl::MutexLock lock(&rep_->mu);
        n = std::move(rep_->slots[id].node);
      }
      rep_->RunOnFiber([&] { n->Close(); });
    }
  }
  {
    absl::MutexLock lock(&rep_->mu);
    rep_->graveyard.clear();
    rep_->slots.clear();
  }
  rep_->pd.reset();
  rep_->local.reset();
}

absl::Status TestCluster::Start() {
  Rep& r = *rep_;
  if (r.pd != nullptr) return absl::FailedPreconditionError("cluster already started");
  if (r.options.nodes <= 0) return absl::InvalidArgumentError("a cluster needs a node");
  if (r.options.max_replicas <= 0) return absl::InvalidArgumentError("max_replicas must be > 0");
  for (int i = 1; i <= std::min(r.options.nodes, 3); ++i) r.initial_stores.push_back(i);

  pd::SchedulingOptions so = node::DefaultSchedulingOptions();
  so.config.max_replicas = static_cast<uint64_t>(r.options.max_replicas);
  if (r.options.max_store_down_time_micros != 0) {
    so.config.max_store_down_time_micros = r.options.max_store_down_time_micros;
  }
  so.scheduling_enabled = !r.options.manual_replication;
  r.pd_scheduling = so;
  absl::Status pd_status;
  if (r.options.replicated_pd) {
    // The members live on nodes 1..3 (Start brings them up); the clients reach the
    // leader through a pd::Client on an endpoint of their own, which no crash takes down.
    r.pd_members = r.initial_stores;
    Transport* transport =
        r.sim != nullptr ? r.sim->transport() : static_cast<Transport*>(r.local.get());
    r.RunOnFiber([&] {
      auto pi = std::make_unique<Pd::Impl>();
      pi->endpoint =
          std::make_unique<transport::RpcEndpoint>(r.env, transport, kPdClientEndpointId);
      if (pd_status = pi->endpoint->status(); !pd_status.ok()) return;
      node::ReplicatedPdOptions ro;
      ro.self_id = kPdClientEndpointId;
      ro.members = r.pd_members;
      absl::StatusOr<std::unique_ptr<node::ReplicatedPd>> rp =
          node::ReplicatedPd::Open(r.env, nullptr, pi->endpoint.get(), ro);
      if (!rp.ok()) {
        pd_status = rp.status();
        pi->endpoint->Stop();
        return;
      }
      pi->replicated = std::move(*rp);
      pi->api = pi->replicated.get();
      r.pd_api = pi->api;
      r.pd_client = pi->replicated.get();
      r.pd = node::Access::NewPd(std::move(pi));
    });
  } else {
    // The PD: on the cluster's Env, so no node's crash takes it down.
    r.pd_engine = std::make_shared<storage::MemEngine>();
    r.RunOnFiber([&] {
      absl::StatusOr<std::unique_ptr<node::LocalPd>> pd =
          node::LocalPd::Open(r.env, r.pd_engine.get(), so);
      if (!pd.ok()) {
        pd_status = pd.status();
        return;
      }
      r.pd_api = pd->get();
      r.pd = node::NewLocalPdHandle(r.pd_engine, std::move(*pd));
    });
  }
  if (!pd_status.ok()) return pd_status;
  if (r.pd == nullptr) return absl::InternalError("PD did not open");

  for (int i = 1; i <= r.options.nodes; ++i) {
    const uint64_t id = static_cast<uint64_t>(i);
    if (absl::Status s = r.AddSlot(id); !s.ok()) return s;
    if (absl::Status s = r.StartNode(id); !s.ok()) return s;
  }
  if (absl::Status s = r.RegisterStores(r.UpIds()); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<RawKvClient>> c = node::OpenRawKvClient(
      r.env, r.pd, [rep = rep_.get()](uint64_t id) { return rep->StoreOf(id); }, r.options.kv);
  if (!c.ok()) return c.status();
  r.client = std::move(*c);
  absl::Status leaders;
  if (!Run(
          [&] {
            leaders = WaitForLeaders(30'000'000);
            // The replicated PD learns regions from heartbeats: wait until it routes.
            const uint64_t deadline = r.env->NowMicros() + 30'000'000;
            while (leaders.ok() && r.options.replicated_pd) {
              absl::StatusOr<node::PdApi::RegionRoute> route = r.pd_api->GetRegionByKey("");
              if (route.ok()) break;
              if (r.env->NowMicros() >= deadline) {
                leaders = absl::DeadlineExceededError(
                    absl::StrCat("PD does not route yet: ", route.status().ToString()));
              }
              r.env->SleepForMicros(kPollMicros);
            }
          },
          90'000'000)) {
    return absl::DeadlineExceededError("cluster did not elect leaders");
  }
  return leaders;
}

uint64_t TestCluster::seed() const { return rep_->sim != nullptr ? rep_->sim->seed() : 0; }

std::string TestCluster::SeedMessage() const {
  return rep_->sim != nullptr ? SeedReplayMessage(rep_->sim->seed()) : "real-time cluster";
}

Env* TestCluster::env() { return rep_->env; }
Simulation* TestCluster::sim() { return rep_->sim.get(); }

bool TestCluster::Run(std::function<void()> fn, uint64_t timeout_micros) {
  return rep_->RunOnFiber(std::move(fn), timeout_micros);
}

void TestCluster::RunFor(uint64_t micros) {
  if (rep_->sim != nullptr) {
    rep_->sim->RunFor(micros);
  } else {
    rep_->RunOnFiber([&] { rep_->env->SleepForMicros(micros); });
  }
}

RawKvClient& TestCluster::kv() { return *rep_->client; }
std::shared_ptr<Pd> TestCluster::pd() { return rep_->pd; }

std::vector<uint64_t> TestCluster::pd_members() const { return rep_->pd_members; }

uint64_t TestCluster::PdLeader() {
  absl::MutexLock lock(&rep_->mu);
  for (uint64_t id : rep_->pd_members) {
    auto it = rep_->slots.find(id);
    if (it == rep_->slots.end() || it->second.node == nullptr) continue;
    node::ReplicatedPd* rp = node::Access::ImplOf(it->second.node.get())->replicated_pd.get();
    if (rp != nullptr && rp->server() != nullptr && rp->server()->IsServing()) return id;
  }
  return 0;
}

std::vector<uint64_t> TestCluster::node_ids() const {
  std::vector<uint64_t> out;
  absl::MutexLock lock(&rep_->mu);
  for (const auto& [id, s] : rep_->slots) out.push_back(id);
  return out;
}

std::vector<uint64_t> TestCluster::up_node_ids() const { return rep_->UpIds(); }
bool TestCluster::IsUp(uint64_t id) const { return rep_->IsUp(id); }

Node* TestCluster::node(uint64_t id) {
  absl::MutexLock lock(&rep_->mu);
  auto it = rep_->slots.find(id);
  return it == rep_->slots.end() ? nullptr : it->second.node.get();
}

void TestCluster::Partition(std::vector<std::vector<uint64_t>> groups) {
  std::vector<std::vector<NodeId>> g(groups.begin(), groups.end());
  if (rep_->sim != nullptr) {
    rep_->sim->Partition(std::move(g));
  } else {
    rep_->local->Partition(std::move(g));
  }
}

void TestCluster::Heal() {
  if (rep_->sim != nullptr) {
    rep_->sim->Heal();
  } else {
    rep_->local->Heal();
  }
}

void TestCluster::Crash(uint64_t id) {
  if (!rep_->IsUp(id)) return;
  if (rep_->sim != nullptr) {
    rep_->sim->Crash(id);
    return;
  }
  std::unique_ptr<Node> n;
  std::shared_ptr<storage::MemEngine> engine;
  {
    absl::MutexLock lock(&rep_->mu);
    n = std::move(rep_->slots[id].node);
    engine = rep_->slots[id].engine;
  }
  rep_->RunOnFiber([&] { n->Close(); });
  engine->SimulateCrash();
}

void TestCluster::Restart(uint64_t id) {
  {
    absl::MutexLock lock(&rep_->mu);
    if (rep_->slots.count(id) == 0 || rep_->slots[id].node != nullptr) return;
  }
  if (rep_->sim != nullptr) {
    rep_->sim->Restart(id);
  } else {
    rep_->RunOnFiber([&] { rep_->OpenNode(id, rep_->env, rep_->local.get()); });
  }
}

absl::Status TestCluster::AddNode(uint64_t id) {
  if (rep_->pd == nullptr) return absl::FailedPreconditionError("cluster not started");
  if (absl::Status s = rep_->AddSlot(id); !s.ok()) return s;
  if (absl::Status s = rep_->StartNode(id); !s.ok()) return s;
  return rep_->RegisterStores({id});
}

void TestCluster::SetManualReplication(bool manual) {
  if (!rep_->options.replicated_pd) {
    (void)rep_->pd_api->SetSchedulingEnabled(!manual);
    return;
  }
  // A PD call: on a fiber, retried through leader changes (the setting is replicated).
  rep_->RunOnFiber([&] {
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (rep_->pd_api->SetSchedulingEnabled(!manual).ok()) return;
    }
  });
}

absl::Status TestCluster::SplitRegion(const std::string& key, uint64_t timeout_micros) {
  Env* env = rep_->env;
  const uint64_t deadline = env->NowMicros() + timeout_micros;
  absl::Status split =
      rep_->CallWithTimeout([this, key] { return kv().SplitAt(key); }, timeout_micros, "split");
  if (!split.ok()) return split;
  // The split applied at the old leader; wait for the region starting at `key` to lead.
  while (true) {
    for (const auto& [rid, l] : rep_->Leaders()) {
      if (l.region.start_key() == key) return absl::OkStatus();
    }
    if (env->NowMicros() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("the region split at \"", absl::CEscape(key), "\" has no leader"));
    }
    env->SleepForMicros(kPollMicros);
  }
}

absl::Status TestCluster::TransferLeader(uint64_t region_id, uint64_t to_store,
                                         uint64_t timeout_micros) {
  Env* env = rep_->env;
  const uint64_t deadline = env->NowMicros() + timeout_micros;
  bool known = false;
  absl::Status last = absl::DeadlineExceededError("no leader");
  while (true) {
    std::map<uint64_t, Rep::LeaderView> leaders = rep_->Leaders();
    auto it = leaders.find(region_id);
    if (it != leaders.end()) {
      known = true;
      if (it->second.store == to_store) return absl::OkStatus();
      const metapb::Peer* target = nullptr;
      for (const metapb::Peer& p : it->second.region.peers()) {
        if (p.store_id() == to_store) target = &p;
      }
      if (target == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("region ", region_id, " has no replica on store ", to_store));
      }
      if (std::shared_ptr<raftstore::Store> st = rep_->StoreOf(it->second.store)) {
        metapb::Peer peer = *target;
        uint64_t left = deadline > env->NowMicros() ? deadline - env->NowMicros() : 1;
        last = rep_->CallWithTimeout(
            [st, region_id, peer] { return st->TransferLeader(region_id, peer); },
            std::min(left, uint64_t{2'000'000}), "transfer leader");
      }
    }
    if (env->NowMicros() >= deadline) break;
    env->SleepForMicros(kPollMicros);
  }
  if (!known) return absl::NotFoundError(absl::StrCat("no up node leads region ", region_id));
  return absl::DeadlineExceededError(absl::StrCat("leadership of region ", region_id,
                                                  " did not move to store ", to_store,
                                                  " in time; last: ", last.ToString()));
}

absl::Status TestCluster::WaitForReplication(uint64_t timeout_micros) {
  Env* env = rep_->env;
  const uint64_t deadline = env->NowMicros() + timeout_micros;
  while (true) {
    std::string missing = rep_->CheckReplication();
    if (missing.empty()) return absl::OkStatus();
    if (env->NowMicros() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("replication incomplete: ", missing));
    }
    env->SleepForMicros(kPollMicros);
  }
}

absl::Status TestCluster::WaitForLeaders(uint64_t timeout_micros) {
  Env* env = rep_->env;
  const uint64_t deadline = env->NowMicros() + timeout_micros;
  while (true) {
    std::string missing = Rep::CheckTiling(rep_->Leaders());
    if (missing.empty()) return absl::OkStatus();
    if (env->NowMicros() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("leaders incomplete: ", missing));
    }
    env->SleepForMicros(kPollMicros);
  }
}

absl::StatusOr<std::string> TestCluster::PdCtl(const std::string& command_line) {
  return rep_->pd_api->AdminExecute(command_line);
}

std::vector<RegionDescription> TestCluster::Regions() {
  std::vector<RegionDescription> out;
  for (const auto& [rid, l] : rep_->Leaders()) {
    RegionDescription d;
    d.id = rid;
    d.start_key = l.region.start_key();
    d.end_key = l.region.end_key();
    for (const metapb::Peer& p : l.region.peers()) d.stores.push_back(p.store_id());
    d.leader_store = l.store;
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const RegionDescription& a, const RegionDescription& b) {
    return a.start_key < b.start_key;
  });
  return out;
}

size_t TestCluster::RegionCount(uint64_t id) {
  std::shared_ptr<raftstore::Store> st = rep_->StoreOf(id);
  return st == nullptr ? 0 : st->Regions().size();
}

size_t TestCluster::LeaderCount(uint64_t id) {
  std::shared_ptr<raftstore::Store> st = rep_->StoreOf(id);
  if (st == nullptr) return 0;
  size_t n = 0;
  for (const metapb::Region& r : st->Regions()) n += st->IsLeader(r.id());
  return n;
}

}  // namespace rutile::testing
