#include "rutile/node.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "node/kv_service.h"
#include "node/local_pd.h"
#include "node/node_internal.h"
#include "node/pd_service.h"
#include "node/txn_kv_service.h"
#include "node/txn_service.h"
#include "raftstore/keys.h"
#include "storage/leveldb_engine.h"
#include "storage/mem_engine.h"
#include "transport/local_transport.h"
#include "util/memcomparable.h"

namespace rutile {

std::unique_ptr<Transport> NewLocalTransport(Env* env) {
  return std::make_unique<transport::LocalTransport>(env);
}

Pd::Pd(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pd::~Pd() = default;

absl::StatusOr<uint64_t> Pd::GetTimestamp() { return impl_->api->GetTimestamp(); }

std::shared_ptr<Pd> node::NewLocalPdHandle(std::shared_ptr<storage::Engine> engine,
                                           std::unique_ptr<LocalPd> pd) {
  auto pi = std::make_unique<Pd::Impl>();
  pi->engine = std::move(engine);
  pi->pd = std::move(pd);
  pi->api = pi->pd.get();
  return Access::NewPd(std::move(pi));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Close(); }

namespace {

// True when the engine holds any region of raftstore (a node that started before).
absl::StatusOr<bool> HasRegions(storage::Engine* engine) {
  storage::IterOptions io;
  io.lower_bound = raftstore::RegionMetaMinKey();
  io.upper_bound = raftstore::RegionMetaMaxKey();
  std::unique_ptr<storage::Iterator> it = engine->NewIterator(storage::CF::kDefault, io);
  it->SeekToFirst();
  if (!it->status().ok()) return it->status();
  return it->Valid();
}

}  // namespace

absl::Status node::ServeTransactions(Node::Impl* impl, LocalPd* pd) {
  // Timestamps from whichever PD the node uses, held weakly: a handler still running after
  // Close gets Unavailable instead of a dangling PD.
  TxnHostDeps deps;
  std::shared_ptr<txn::DeadlockDetector> served_detector;
  if (pd != nullptr) {
    deps.timestamp = [weak = std::weak_ptr<Pd>(impl->pd)]() -> absl::StatusOr<txn::TimeStamp> {
      std::shared_ptr<Pd> p = weak.lock();
      if (p == nullptr) return absl::UnavailableError("node is closed");
      return LocalPdOf(Access::ImplOf(p.get()))->GetTimestamp();
    };
    // Shared with in-process clients of the same PD (keyed by its PdApi, as they key it);
    // served for nodes in other processes.
    deps.detector = LocalDeadlockDetector(static_cast<PdApi*>(pd));
    if (impl->options.host_pd) served_detector = deps.detector;
  } else if (impl->remote_pd != nullptr) {
    deps.timestamp =
        [weak = std::weak_ptr<RemotePd>(impl->remote_pd)]() -> absl::StatusOr<txn::TimeStamp> {
      std::shared_ptr<RemotePd> p = weak.lock();
      if (p == nullptr) return absl::UnavailableError("node is closed");
      return p->GetTimestamp();
    };
    // The node hosting the PD keeps the cluster's wait-for graph.
    deps.detector = std::make_shared<RemoteDeadlockDetector>(impl->endpoint, impl->options.pd_node);
  } else if (impl->replicated_pd != nullptr) {
    deps.timestamp = [weak = std::weak_ptr<ReplicatedPd>(
                          impl->replicated_pd)]() -> absl::StatusOr<txn::TimeStamp> {
      std::shared_ptr<ReplicatedPd> p = weak.lock();
      if (p == nullptr) return absl::UnavailableError("node is closed");
      return p->GetTimestamp();
    };
    // The PD member with the smallest id keeps the wait-for graph (while it is down, lock
    // waits end by their timeout instead of by detection).
    const uint64_t keeper =
        *std::min_element(impl->options.pd_members.begin(), impl->options.pd_members.end());
    if (keeper == impl->options.id) {
      deps.detector = LocalDeadlockDetector(impl->replicated_pd.get());
      served_detector = deps.detector;
    } else {
      deps.detector = std::make_shared<RemoteDeadlockDetector>(impl->endpoint, keeper);
    }
  }
  if (served_detector != nullptr) {
    if (absl::Status s = RegisterDeadlockService(*impl->endpoint, served_detector); !s.ok()) {
      return s;
    }
  }
  // Made on the first request and kept: the store's latches, max_ts and memory locks must
  // outlive any one request.
  struct Provider {
    std::weak_ptr<raftstore::Store> store;
    TxnHostDeps deps;
    Env* env;
    absl::Mutex mu;
    std::shared_ptr<txn::TxnService> service ABSL_GUARDED_BY(mu);
  };
  auto provider = std::make_shared<Provider>();
  provider->store = impl->store;
  provider->deps = std::move(deps);
  provider->env = impl->env;
  return RegisterTxnKvService(*impl->endpoint, [provider]() -> std::shared_ptr<txn::TxnService> {
    absl::MutexLock lock(&provider->mu);
    if (provider->service == nullptr) {
      std::shared_ptr<raftstore::Store> store = provider->store.lock();
      if (store == nullptr) return nullptr;
      provider->service = TxnServiceFor(std::move(store), provider->deps, provider->env);
    }
    return provider->service;
  });
}

std::string node::TxnSplitKey(std::string_view key) {
  std::string_view in = key;
  std::string user;
  if (!memcomparable::DecodeBytes(&in, &user).ok()) return std::string(key);
  return std::string(key.substr(0, key.size() - in.size()));
}

absl::StatusOr<std::unique_ptr<Node>> Node::Open(const NodeOptions& options) {
  absl::StatusOr<std::unique_ptr<Impl>> impl = node::OpenNodeImpl(options);
  if (!impl.ok()) return impl.status();
  return node::Access::NewNode(std::move(*impl));
}

absl::StatusOr<std::unique_ptr<Node::Impl>> node::OpenNodeImpl(
    const NodeOptions& options, std::shared_ptr<storage::Engine> engine,
    const std::function<void(raftstore::StoreConfig*)>& tune,
    const std::function<void(ReplicatedPdOptions*)>& tune_pd) {
  using Impl = Node::Impl;
  if (options.id == 0 || options.id >= node::kFirstAllocatedId - node::kBootstrapPeerIdBase) {
    return absl::InvalidArgumentError(absl::StrCat("node id ", options.id, " out of range"));
  }
  if (options.transport == nullptr) return absl::InvalidArgumentError("no transport");
  if (int{options.host_pd} + int{options.pd != nullptr} + int{options.pd_node != 0} +
          int{!options.pd_members.empty()} !=
      1) {
    return absl::InvalidArgumentError(
        "a node either hosts the PD, is given its handle, its node, or the PD members");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->env = options.env != nullptr ? options.env : Env::Default();

  // Engine.
  if (engine != nullptr) {
    impl->engine = std::move(engine);
  } else if (options.data_dir.empty()) {
    impl->engine = std::make_shared<storage::MemEngine>();
  } else {
    storage::LevelDbEngineOptions eo;
    eo.io_env = impl->env;
    if (options.block_cache_bytes != 0) eo.block_cache_bytes = options.block_cache_bytes;
    absl::StatusOr<std::unique_ptr<storage::Engine>> e =
        storage::LevelDbEngine::Open(options.data_dir, eo);
    if (!e.ok()) return e.status();
    impl->engine = std::shared_ptr<storage::Engine>(std::move(*e));
  }

  // PD.
  if (options.host_pd) {
    absl::StatusOr<std::unique_ptr<node::LocalPd>> pd =
        node::LocalPd::Open(impl->env, impl->engine.get());
    if (!pd.ok()) return pd.status();
    impl->pd = node::NewLocalPdHandle(impl->engine, std::move(*pd));
  } else if (options.pd != nullptr) {
    impl->pd = options.pd;
  } else {
    // PD in another process (pd_service.h), or the replicated PD (replicated_pd.h): the
    // endpoint comes up first to reach it (and to serve the member hosted here).
    impl->endpoint =
        std::make_unique<transport::RpcEndpoint>(impl->env, options.transport, options.id);
    if (absl::Status s = impl->endpoint->status(); !s.ok()) return s;
    if (options.pd_node != 0) {
      impl->remote_pd = std::make_unique<node::RemotePd>(impl->endpoint.get(), options.pd_node);
    } else {
      node::ReplicatedPdOptions ro;
      ro.self_id = options.id;
      ro.members = options.pd_members;
      ro.server.id_floor = node::kFirstAllocatedId;
      if (tune_pd) tune_pd(&ro);
      absl::StatusOr<std::unique_ptr<node::ReplicatedPd>> rp =
          node::ReplicatedPd::Open(impl->env, impl->engine.get(), impl->endpoint.get(), ro);
      if (!rp.ok()) {
        impl->endpoint->Stop();
        return rp.status();
      }
      impl->replicated_pd = std::move(*rp);
    }
  }
  node::LocalPd* pd =
      impl->pd != nullptr ? node::LocalPdOf(node::Access::ImplOf(impl->pd.get())) : nullptr;
  // The replicated PD may have no leader yet (its members open one by one): the store's
  // first heartbeat registers it instead.
  absl::Status put = absl::OkStatus();
  if (pd != nullptr) {
    put = pd->PutStore(options.id);
  } else if (impl->remote_pd != nullptr) {
    // The PD's node may still be starting (no address yet: the call times out) or opening
    // (its endpoint answers before the PD service is registered: Unimplemented).
    const uint64_t deadline = impl->env->NowMicros() + options.pd_connect_timeout_micros;
    uint64_t backoff = 10'000;
    for (;;) {
      put = impl->remote_pd->PutStore(options.id);
      const bool transient =
          absl::IsUnavailable(put) || absl::IsDeadlineExceeded(put) || absl::IsUnimplemented(put);
      if (put.ok() || !transient || impl->env->NowMicros() >= deadline) break;
      impl->env->SleepForMicros(backoff);
      backoff = std::min<uint64_t>(backoff * 2, 500'000);
    }
  }
  if (!put.ok()) {
    if (impl->replicated_pd != nullptr) impl->replicated_pd->Close();
    if (impl->endpoint != nullptr) impl->endpoint->Stop();
    return put;
  }

  // Bootstrap the first region on first start.
  absl::StatusOr<bool> has = HasRegions(impl->engine.get());
  if (!has.ok()) return has.status();
  bool listed = false;
  for (uint64_t s : options.initial_stores) listed |= s == options.id;
  if (!*has && listed) {
    metapb::Region r;
    r.set_id(node::kBootstrapRegionId);
    r.mutable_region_epoch()->set_conf_ver(1);
    r.mutable_region_epoch()->set_version(1);
    for (uint64_t s : options.initial_stores) {
      metapb::Peer* p = r.add_peers();
      p->set_id(node::kBootstrapPeerIdBase + s);
      p->set_store_id(s);
    }
    if (absl::Status s = raftstore::Store::BootstrapRegion(impl->engine.get(), r); !s.ok()) {
      return s;
    }
  }

  // Endpoint and store.
  if (impl->endpoint == nullptr) {
    impl->endpoint =
        std::make_unique<transport::RpcEndpoint>(impl->env, options.transport, options.id);
    if (absl::Status s = impl->endpoint->status(); !s.ok()) return s;
  }
  raftstore::Store::Options so;
  so.config.store_id = options.id;
  so.config.tick_interval_micros = options.raft_tick_micros;
  so.config.pd_heartbeat_interval_micros = options.pd_heartbeat_interval_micros;
  so.config.store_heartbeat_interval_micros = options.pd_heartbeat_interval_micros;
  if (options.region_split_size != 0) so.config.region_split_size = options.region_split_size;
  if (options.region_split_keys != 0) so.config.region_split_keys = options.region_split_keys;
  so.config.hibernate_regions = options.hibernate_regions;
  so.config.split_key_filter = node::TxnSplitKey;
  if (tune) tune(&so.config);
  so.env = impl->env;
  so.engine = impl->engine.get();
  so.endpoint = impl->endpoint.get();
  so.pd = pd != nullptr                ? static_cast<raftstore::PdClient*>(pd)
          : impl->remote_pd != nullptr ? static_cast<raftstore::PdClient*>(impl->remote_pd.get())
                                       : impl->replicated_pd.get();
  absl::StatusOr<std::shared_ptr<raftstore::Store>> store = raftstore::Store::Create(so);
  if (!store.ok()) {
    impl->endpoint->Stop();
    return store.status();
  }
  impl->store = *store;
  node::SetColumnarCacheBytes(impl->store.get(), options.columnar_cache_bytes);
  // Serve the KV commands, and the PD when it lives here, to clients on the transport.
  auto kv_service = std::make_shared<node::KvServiceContext>();
  kv_service->store = impl->store;
  kv_service->kv = raftstore::NewStoreRaftKv(impl->store);
  absl::Status served = node::RegisterRawKvService(*impl->endpoint, kv_service);
  if (served.ok() && options.host_pd) {
    served = node::RegisterLocalPdService(*impl->endpoint, pd, impl->pd);
  }
  if (served.ok()) served = node::ServeTransactions(impl.get(), pd);
  if (!served.ok()) {
    impl->endpoint->Stop();
    return served;
  }
  // PD's region map is in memory: tell it what this store holds (stale reports are
  // ignored), so clients can route before the first heartbeats.
  for (const metapb::Region& r : impl->store->Regions()) {
    if (pd != nullptr) {
      pd->ReportRegion(r);
    } else if (impl->remote_pd != nullptr) {
      (void)impl->remote_pd->ReportRegion(r);  // Heartbeats will tell it anyway.
    }
    // The replicated PD learns regions from heartbeats (it may have no leader yet).
  }
  impl->store->Start();
  return impl;
}

void Node::Close() {
  if (impl_ == nullptr || impl_->closed.exchange(true)) return;
  impl_->store->Shutdown();
  node::ForgetColumnarCacheBytes(impl_->store.get());
  if (impl_->replicated_pd != nullptr) impl_->replicated_pd->Close();
  impl_->endpoint->Stop();
  impl_->store.reset();
  impl_->remote_pd.reset();
  impl_->replicated_pd.reset();
  impl_->endpoint.reset();
  // The engine closes when the last holder (this node, or the PD handle it hosts) lets go.
  impl_->engine.reset();
  impl_->pd.reset();
}

uint64_t Node::id() const { return impl_->options.id; }
std::shared_ptr<Pd> Node::pd() const { return impl_->pd; }

size_t Node::RegionCount() const { return impl_->closed ? 0 : impl_->store->Regions().size(); }

size_t Node::LeaderCount() const {
  if (impl_->closed) return 0;
  size_t n = 0;
  for (const metapb::Region& r : impl_->store->Regions()) n += impl_->store->IsLeader(r.id());
  return n;
}

}  // namespace rutile
