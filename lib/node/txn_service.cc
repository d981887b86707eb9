#include "node/txn_service.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "node/coprocessor_host.h"
#include "node/kv_service.h"
#include "node/node_internal.h"
#include "node/pd_service.h"
#include "node/replicated_pd.h"
#include "node/txn_kv_service.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "util/sync.h"

namespace rutile {
namespace node {
namespace {

class StoreRegionView final : public txn::RegionView {
 public:
  explicit StoreRegionView(std::shared_ptr<raftstore::RegionSnapshot> snap)
      : snap_(std::move(snap)) {}
  storage::Engine* engine() const override { return snap_->engine(); }
  bool Contains(std::string_view key) const override {
    return raftstore::KeyInRegion(key, snap_->region());
  }
  absl::Status NotInRegion(std::string_view key) const override {
    return raftstore::KeyNotInRegionError(key, snap_->region());
  }
  uint64_t leader_term() const override { return snap_->leader_term(); }
  uint64_t epoch_version() const override { return snap_->region().region_epoch().version(); }
  uint64_t data_version() const override { return snap_->data_version(); }

 private:
  std::shared_ptr<raftstore::RegionSnapshot> snap_;
};

// The same over a view borrowed for one ReadLatest callback.
class BorrowedRegionView final : public txn::RegionView {
 public:
  explicit BorrowedRegionView(const raftstore::RegionSnapshot& snap) : snap_(snap) {}
  storage::Engine* engine() const override { return snap_.engine(); }
  bool Contains(std::string_view key) const override {
    return raftstore::KeyInRegion(key, snap_.region());
  }
  absl::Status NotInRegion(std::string_view key) const override {
    return raftstore::KeyNotInRegionError(key, snap_.region());
  }

 private:
  const raftstore::RegionSnapshot& snap_;
};

class StoreRegionKv final : public txn::RegionKv {
 public:
  StoreRegionKv(std::shared_ptr<raftstore::Store> store,
                std::function<absl::StatusOr<txn::TimeStamp>()> timestamp, Env* wait_env)
      // A request without its own timeout (RegionContext::timeout_micros: one served for
      // an RPC client, whose attempt timeout is on its side) waits the store's
      // request_timeout_micros.
      : kv_(raftstore::NewStoreRaftKv(std::move(store), 0, wait_env)),
        timestamp_(std::move(timestamp)) {}

  absl::StatusOr<std::shared_ptr<txn::RegionView>> Snapshot(
      const txn::RegionContext& ctx) override {
    absl::StatusOr<std::shared_ptr<raftstore::RegionSnapshot>> s = kv_->Snapshot(ContextOf(ctx));
    if (!s.ok()) return s.status();
    return std::shared_ptr<txn::RegionView>(std::make_shared<StoreRegionView>(*std::move(s)));
  }

  absl::Status ReadLatest(const txn::RegionContext& ctx,
                          absl::FunctionRef<absl::Status(const txn::RegionView&)> fn) override {
    return kv_->ReadLatest(ContextOf(ctx), [&](const raftstore::RegionSnapshot& snap) {
      BorrowedRegionView view(snap);
      return fn(view);
    });
  }

  using txn::RegionKv::Write;
  absl::Status Write(const txn::RegionContext& ctx, const storage::WriteBatch& batch,
                     absl::FunctionRef<txn::WriteOutcome()> on_timeout) override {
    std::vector<raftstore::Modify> mods;
    mods.reserve(batch.Count());
    for (size_t i = 0; i < batch.Count(); ++i) {
      storage::WriteBatch::Op op = batch.op(i);
      switch (op.type) {
        case storage::WriteBatch::OpType::kPut:
          mods.push_back(raftstore::Modify::Put(op.cf, std::string(op.key), std::string(op.value)));
          break;
        case storage::WriteBatch::OpType::kDelete:
          mods.push_back(raftstore::Modify::Delete(op.cf, std::string(op.key)));
          break;
        case storage::WriteBatch::OpType::kDeleteRange:
          mods.push_back(
              raftstore::Modify::DeleteRange(op.cf, std::string(op.key), std::string(op.value)));
          break;
      }
    }
    return kv_->Write(ContextOf(ctx), std::move(mods), on_timeout);
  }

  absl::StatusOr<txn::TimeStamp> GetTimestamp() override {
    if (!timestamp_) return absl::UnavailableError("no PD for timestamps");
    return timestamp_();
  }

 private:
  static raftstore::Context ContextOf(const txn::RegionContext& ctx) {
    raftstore::Context c;
    c.region_id = ctx.region_id;
    c.region_epoch.set_conf_ver(ctx.conf_ver);
    c.region_epoch.set_version(ctx.version);
    c.term = ctx.term;
    c.timeout_micros = ctx.timeout_micros;
    c.deadline = ctx.deadline;
    return c;
  }

  std::unique_ptr<raftstore::RaftKv> kv_;
  const std::function<absl::StatusOr<txn::TimeStamp>()> timestamp_;
};

// One store's transaction service and what it runs on.
struct StoreTxnHost {
  std::shared_ptr<raftstore::Store> store;
  std::shared_ptr<txn::DeadlockDetector> detector;
  StoreRegionKv kv;
  txn::RegionTxnStore service;
  std::shared_ptr<sql::coprocessor::ColumnCache> column_cache;

  StoreTxnHost(Env* env, std::shared_ptr<raftstore::Store> s, const TxnHostDeps& deps,
               size_t column_cache_bytes)
      : store(std::move(s)),
        detector(deps.detector),
        kv(store, deps.timestamp, env),
        service(env, &kv, detector.get()),
        column_cache(std::make_shared<sql::coprocessor::ColumnCache>(column_cache_bytes)) {
    service.SetCoprocessorHandler([cache = column_cache](txn::RegionTxnStore* st,
                                                         const txn::RegionContext& ctx,
                                                         const coprocessor::Request& req) {
      return RunCoprocessor(st, ctx, req, cache.get());
    });
    // In-memory pessimistic locks of a leadership that ended go at once (TiKV clears a
    // peer's when it stops leading or is destroyed), not when next touched.
    store->SetLeadershipEndHook(this,
                                [svc = &service](uint64_t region, uint64_t term, uint64_t version) {
                                  svc->LeadershipEnded(region, txn::LeaderTag{term, version});
                                });
  }
  ~StoreTxnHost() { store->ClearLeadershipEndHook(this); }
};

struct Registry {
  absl::Mutex mu;
  std::map<const raftstore::Store*, std::weak_ptr<StoreTxnHost>> hosts ABSL_GUARDED_BY(mu);
  std::map<const void*, std::weak_ptr<txn::DeadlockDetector>> detectors ABSL_GUARDED_BY(mu);
  // NodeOptions::columnar_cache_bytes of each store (SetColumnarCacheBytes).
  std::map<const raftstore::Store*, size_t> column_cache_bytes ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

std::shared_ptr<txn::DeadlockDetector> LocalDeadlockDetector(const void* cluster) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::shared_ptr<txn::DeadlockDetector> d = r.detectors[cluster].lock();
  if (d == nullptr) {
    d = std::make_shared<txn::DeadlockDetector>();
    r.detectors[cluster] = d;
  }
  return d;
}

std::shared_ptr<txn::TxnService> TxnServiceFor(std::shared_ptr<raftstore::Store> store,
                                               const TxnHostDeps& deps, Env* env) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  if (auto h = r.hosts[store.get()].lock()) {
    return std::shared_ptr<txn::TxnService>(h, &h->service);
  }
  const raftstore::Store* key = store.get();
  auto b = r.column_cache_bytes.find(key);
  auto h = std::make_shared<StoreTxnHost>(env, std::move(store), deps,
                                          b == r.column_cache_bytes.end() ? 0 : b->second);
  r.hosts[key] = h;
  // Forget expired entries now and then.
  for (auto it = r.hosts.begin(); it != r.hosts.end();) {
    it = it->second.expired() ? r.hosts.erase(it) : std::next(it);
  }
  return std::shared_ptr<txn::TxnService>(h, &h->service);
}

void SetColumnarCacheBytes(const raftstore::Store* store, size_t bytes) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.column_cache_bytes[store] = bytes;
  auto it = r.hosts.find(store);
  if (it == r.hosts.end()) return;
  if (std::shared_ptr<StoreTxnHost> h = it->second.lock()) h->column_cache->SetCapacity(bytes);
}

void ForgetColumnarCacheBytes(const raftstore::Store* store) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.column_cache_bytes.erase(store);
}

sql::coprocessor::ColumnCache::Stats ColumnarCacheStats(const raftstore::Store* store) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.hosts.find(store);
  if (it == r.hosts.end()) return {};
  std::shared_ptr<StoreTxnHost> h = it->second.lock();
  return h == nullptr ? sql::coprocessor::ColumnCache::Stats() : h->column_cache->stats();
}

std::shared_ptr<txn::TxnService> TxnServiceFor(std::shared_ptr<raftstore::Store> store, PdApi* pd,
                                               Env* env) {
  TxnHostDeps deps;
  if (pd != nullptr) deps.timestamp = [pd] { return pd->GetTimestamp(); };
  deps.detector = LocalDeadlockDetector(pd);
  return TxnServiceFor(std::move(store), deps, env);
}

TxnPdAccess PdAccessOf(PdApi* pd) {
  TxnPdAccess a;
  a.get_timestamp = [pd] { return pd->GetTimestamp(); };
  a.get_region_by_key =
      [pd](const std::string& key) -> absl::StatusOr<std::pair<metapb::Region, uint64_t>> {
    absl::StatusOr<LocalPd::RegionRoute> r = pd->GetRegionByKey(key);
    if (!r.ok()) return r.status();
    return std::make_pair(r->region, r->leader.store_id());
  };
  a.regions = [pd] {
    std::vector<std::pair<metapb::Region, uint64_t>> out;
    absl::StatusOr<std::vector<PdApi::RegionRoute>> rs = pd->Regions();
    if (!rs.ok()) return out;
    for (const PdApi::RegionRoute& r : *rs) out.emplace_back(r.region, r.leader.store_id());
    return out;
  };
  a.get_gc_safe_point = [pd] { return pd->GetGcSafePoint(); };
  a.update_gc_safe_point = [pd](uint64_t sp) { return pd->UpdateGcSafePoint(sp); };
  return a;
}

// TxnPdAccess over a PD client of LocalPd's shape whose Regions() may fail (RemotePd,
// ReplicatedPd); the access keeps `pd` alive.
template <typename P>
TxnPdAccess PdAccessOver(std::shared_ptr<P> pd) {
  TxnPdAccess a;
  a.get_timestamp = [pd] { return pd->GetTimestamp(); };
  a.get_region_by_key =
      [pd](const std::string& key) -> absl::StatusOr<std::pair<metapb::Region, uint64_t>> {
    absl::StatusOr<LocalPd::RegionRoute> r = pd->GetRegionByKey(key);
    if (!r.ok()) return r.status();
    return std::make_pair(r->region, r->leader.store_id());
  };
  a.regions = [pd] {
    std::vector<std::pair<metapb::Region, uint64_t>> out;
    absl::StatusOr<std::vector<LocalPd::RegionRoute>> rs = pd->Regions();
    if (rs.ok()) {
      for (const LocalPd::RegionRoute& r : *rs) out.emplace_back(r.region, r.leader.store_id());
    }
    return out;
  };
  a.get_gc_safe_point = [pd] { return pd->GetGcSafePoint(); };
  a.update_gc_safe_point = [pd](uint64_t sp) { return pd->UpdateGcSafePoint(sp); };
  return a;
}

namespace {

// Where a TxnClient's split requests go: the store, the region as cached, the encoded key.
using SplitFn =
    std::function<absl::Status(uint64_t store, const metapb::Region&, const std::string& key)>;

// ClusterAccess over a TxnPdAccess; the stores are for subclasses.
class PdCluster : public txn::client::ClusterAccess {
 public:
  PdCluster(Env* env, TxnPdAccess pd) : env_(env), pd_(std::move(pd)) {}
  Env* env() override { return env_; }
  absl::StatusOr<txn::TimeStamp> GetTimestamp() override { return pd_.get_timestamp(); }
  absl::StatusOr<txn::client::RegionRoute> GetRegionByKey(const std::string& key) override {
    absl::StatusOr<std::pair<metapb::Region, uint64_t>> r = pd_.get_region_by_key(key);
    if (!r.ok()) return r.status();
    return txn::client::RegionRoute{std::move(r->first), r->second};
  }
  std::vector<txn::client::RegionRoute> Regions() override {
    std::vector<txn::client::RegionRoute> out;
    for (auto& [region, leader] : pd_.regions()) out.push_back({std::move(region), leader});
    return out;
  }
  absl::StatusOr<txn::TimeStamp> GetGcSafePoint() override { return pd_.get_gc_safe_point(); }
  absl::StatusOr<txn::TimeStamp> UpdateGcSafePoint(txn::TimeStamp safe_point) override {
    return pd_.update_gc_safe_point(safe_point);
  }

 protected:
  Env* const env_;
  const TxnPdAccess pd_;
};

// In process: the stores themselves.
class NodeCluster final : public PdCluster {
 public:
  NodeCluster(Env* env, std::shared_ptr<Pd> pd_handle, PdApi* pd, TxnStoreResolver resolve)
      : PdCluster(env, PdAccessOf(pd)),
        pd_handle_(std::move(pd_handle)),
        local_pd_(pd),
        resolve_(std::move(resolve)) {}

  txn::TxnService* Store(uint64_t store_id) override {
    std::shared_ptr<raftstore::Store> s = resolve_(store_id);
    if (s == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    auto& entry = services_[store_id];
    if (entry.first != s.get()) {
      std::shared_ptr<txn::TxnService> svc = TxnServiceFor(s, local_pd_, env_);
      // Old services stay alive: a fiber may still be calling one.
      retired_.push_back(std::move(entry.second));
      entry = {s.get(), std::move(svc)};
    }
    return entry.second.get();
  }
  absl::Status Split(uint64_t store, const metapb::Region& region, const std::string& key) {
    std::shared_ptr<raftstore::Store> s = resolve_(store);
    if (s == nullptr) return absl::UnavailableError(absl::StrCat("store ", store, " gone"));
    return s->SplitRegion(region.id(), {key});
  }

 private:
  std::shared_ptr<Pd> pd_handle_;
  PdApi* const local_pd_;
  TxnStoreResolver resolve_;
  // A plain OS mutex, held for a map lookup on every transactional request (the point-get
  // profile showed abseil's acquisition cost here, as in storage's iterator pool).
  std::mutex mu_;
  // Guarded by mu_.
  std::map<uint64_t, std::pair<const raftstore::Store*, std::shared_ptr<txn::TxnService>>>
      services_;
  std::vector<std::shared_ptr<txn::TxnService>> retired_;  // Guarded by mu_.
};

// Over RPC: a RemoteTxnService per store node, on the client's own endpoint.
class RpcCluster final : public PdCluster {
 public:
  RpcCluster(Env* env, std::unique_ptr<transport::RpcEndpoint> endpoint, TxnPdAccess pd,
             uint64_t attempt_timeout_micros)
      : PdCluster(env, std::move(pd)),
        endpoint_(std::move(endpoint)),
        attempt_timeout_micros_(attempt_timeout_micros) {}
  ~RpcCluster() override { endpoint_->Stop(); }

  txn::TxnService* Store(uint64_t store_id) override {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<RemoteTxnService>& s = services_[store_id];
    if (s == nullptr) {
      s = std::make_unique<RemoteTxnService>(endpoint_.get(), store_id, attempt_timeout_micros_);
    }
    return s.get();
  }
  absl::Status Split(uint64_t store, const metapb::Region& region, const std::string& key) {
    kvrpcpb::SplitRegionRequest req;
    req.mutable_context()->set_region_id(region.id());
    *req.mutable_context()->mutable_region_epoch() = region.region_epoch();
    req.set_split_key(key);
    return CallKvMethod<kvrpcpb::SplitRegionResponse>(*endpoint_, store, kSplitRegionMethod, req,
                                                      attempt_timeout_micros_)
        .status();
  }

 private:
  std::unique_ptr<transport::RpcEndpoint> endpoint_;
  const uint64_t attempt_timeout_micros_;
  absl::Mutex mu_;
  std::map<uint64_t, std::unique_ptr<RemoteTxnService>> services_ ABSL_GUARDED_BY(mu_);
};

txn::client::ClientOptions ClientOptionsOf(const TxnClientOptions& options) {
  txn::client::ClientOptions co;
  co.timeout_micros = options.timeout_micros;
  co.backoff_first_micros = options.backoff_first_micros;
  co.backoff_max_micros = options.backoff_max_micros;
  co.attempt_timeout_micros = options.attempt_timeout_micros;
  return co;
}

}  // namespace
}  // namespace node

struct TxnClient::Impl {
  std::unique_ptr<txn::client::ClusterAccess> cluster;
  node::SplitFn split;
  std::unique_ptr<txn::client::Client> client;
};

TxnClient::TxnClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

txn::client::Client* node::TxnAccess::ClientOf(TxnClient* client) {
  return client == nullptr ? nullptr : client->impl()->client.get();
}
TxnClient::~TxnClient() {
  if (impl_ != nullptr) impl_->client.reset();
}

absl::StatusOr<std::unique_ptr<TxnClient>> node::TxnAccess::Open(Env* env, std::shared_ptr<Pd> pd,
                                                                 TxnStoreResolver resolve,
                                                                 const TxnClientOptions& options) {
  if (pd == nullptr) return absl::FailedPreconditionError("no PD handle");
  if (absl::Status s = txn::client::Client::ValidateOptions(ClientOptionsOf(options)); !s.ok()) {
    return s;
  }
  PdApi* local = PdApiOf(pd->impl_.get());
  if (local == nullptr) return absl::FailedPreconditionError("PD handle without a PD");
  auto impl = std::make_unique<TxnClient::Impl>();
  auto cluster = std::make_unique<NodeCluster>(env, std::move(pd), local, std::move(resolve));
  NodeCluster* c = cluster.get();
  impl->split = [c](uint64_t store, const metapb::Region& region, const std::string& key) {
    return c->Split(store, region, key);
  };
  impl->cluster = std::move(cluster);
  impl->client =
      std::make_unique<txn::client::Client>(impl->cluster.get(), ClientOptionsOf(options));
  return std::unique_ptr<TxnClient>(new TxnClient(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TxnClient>> node::TxnAccess::OpenRpc(
    Env* env, Transport* transport, uint64_t client_id, const PdAccessFactory& pd,
    const TxnClientOptions& options) {
  if (env == nullptr || transport == nullptr) {
    return absl::InvalidArgumentError("no env or transport");
  }
  if (client_id == 0) return absl::InvalidArgumentError("client id 0");
  if (absl::Status s = txn::client::Client::ValidateOptions(ClientOptionsOf(options)); !s.ok()) {
    return s;
  }
  auto endpoint = std::make_unique<transport::RpcEndpoint>(env, transport, client_id);
  if (absl::Status s = endpoint->status(); !s.ok()) return s;
  absl::StatusOr<TxnPdAccess> access = pd(endpoint.get());
  if (!access.ok()) {
    endpoint->Stop();
    return access.status();
  }
  auto impl = std::make_unique<TxnClient::Impl>();
  auto cluster = std::make_unique<RpcCluster>(env, std::move(endpoint), *std::move(access),
                                              options.attempt_timeout_micros);
  RpcCluster* c = cluster.get();
  impl->split = [c](uint64_t store, const metapb::Region& region, const std::string& key) {
    return c->Split(store, region, key);
  };
  impl->cluster = std::move(cluster);
  impl->client =
      std::make_unique<txn::client::Client>(impl->cluster.get(), ClientOptionsOf(options));
  return std::unique_ptr<TxnClient>(new TxnClient(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TxnClient>> TxnClient::Open(const std::vector<Node*>& nodes,
                                                           const TxnClientOptions& options) {
  if (nodes.empty()) return absl::InvalidArgumentError("no nodes");
  if (options.rpc_client_id != 0) {
    uint64_t pd_node = 0;
    for (Node* n : nodes) {
      if (n->impl_->options.host_pd) pd_node = n->id();
    }
    if (pd_node == 0) {
      return absl::InvalidArgumentError("RPC mode needs the node hosting the PD among the nodes");
    }
    return Connect(nodes[0]->impl_->env, nodes[0]->impl_->options.transport, options.rpc_client_id,
                   pd_node, options);
  }
  std::map<uint64_t, std::shared_ptr<raftstore::Store>> stores;
  for (Node* n : nodes) {
    std::shared_ptr<raftstore::Store> s = node::StoreOf(n->impl_.get());
    if (s == nullptr) return absl::FailedPreconditionError("node is closed");
    stores[n->id()] = s;
  }
  return node::TxnAccess::Open(
      nodes[0]->impl_->env, nodes[0]->pd(),
      [stores](uint64_t id) -> std::shared_ptr<raftstore::Store> {
        auto it = stores.find(id);
        return it == stores.end() ? nullptr : it->second;
      },
      options);
}

absl::StatusOr<std::unique_ptr<TxnClient>> TxnClient::Open(Env* env, std::shared_ptr<Pd> pd,
                                                           std::function<Node*(uint64_t)> node_of,
                                                           const TxnClientOptions& options) {
  if (env == nullptr || !node_of) return absl::InvalidArgumentError("no env or node resolver");
  return node::TxnAccess::Open(
      env, std::move(pd),
      [node_of = std::move(node_of)](uint64_t id) -> std::shared_ptr<raftstore::Store> {
        Node* n = node_of(id);
        if (n == nullptr || n->impl_ == nullptr) return nullptr;
        return node::StoreOf(n->impl_.get());
      },
      options);
}

absl::StatusOr<std::unique_ptr<TxnClient>> TxnClient::Connect(Env* env, Transport* transport,
                                                              uint64_t client_id, uint64_t pd_node,
                                                              const TxnClientOptions& options) {
  if (pd_node == 0) return absl::InvalidArgumentError("no PD node");
  return node::TxnAccess::OpenRpc(
      env, transport, client_id,
      [pd_node](transport::RpcEndpoint* ep) -> absl::StatusOr<node::TxnPdAccess> {
        auto pd = std::make_shared<node::RemotePd>(ep, pd_node);
        return node::PdAccessOver(std::move(pd));
      },
      options);
}

absl::StatusOr<std::unique_ptr<TxnClient>> TxnClient::ConnectToPdMembers(
    Env* env, Transport* transport, uint64_t client_id, const std::vector<uint64_t>& pd_members,
    const TxnClientOptions& options) {
  if (pd_members.empty()) return absl::InvalidArgumentError("no PD members");
  for (uint64_t m : pd_members) {
    if (m == client_id) return absl::InvalidArgumentError("the client id is a PD member's");
  }
  return node::TxnAccess::OpenRpc(
      env, transport, client_id,
      [env, client_id,
       pd_members](transport::RpcEndpoint* ep) -> absl::StatusOr<node::TxnPdAccess> {
        node::ReplicatedPdOptions ro;
        ro.self_id = client_id;
        ro.members = pd_members;
        absl::StatusOr<std::unique_ptr<node::ReplicatedPd>> opened =
            node::ReplicatedPd::Open(env, nullptr, ep, ro);
        if (!opened.ok()) return opened.status();
        std::shared_ptr<node::ReplicatedPd> pd(std::move(*opened));
        return node::PdAccessOver(std::move(pd));
      },
      options);
}

absl::StatusOr<std::unique_ptr<Transaction>> TxnClient::Begin(const TxnOptions& options) {
  txn::client::BeginOptions b;
  b.pessimistic = options.pessimistic;
  b.async_commit = options.async_commit;
  b.try_one_pc = options.try_one_pc;
  b.read_ts = options.read_ts;
  b.lock_ttl_ms = options.lock_ttl_ms;
  b.lock_wait_timeout_ms = options.lock_wait_timeout_ms;
  absl::StatusOr<std::unique_ptr<txn::client::Txn>> t = impl_->client->Begin(b);
  if (!t.ok()) return t.status();
  auto impl = std::make_unique<Transaction::Impl>();
  impl->txn = *std::move(t);
  return std::unique_ptr<Transaction>(new Transaction(std::move(impl)));
}

absl::StatusOr<uint64_t> TxnClient::CurrentTimestamp() { return impl_->client->GetTimestamp(); }

absl::Status TxnClient::SplitAt(const std::string& key) {
  return impl_->client->SplitAt(key, impl_->split);
}

absl::StatusOr<uint64_t> TxnClient::GcSafePoint() { return impl_->client->GcSafePoint(); }

void TxnClient::WaitForBackgroundCommits() { impl_->client->WaitBackground(); }

absl::StatusOr<uint64_t> TxnClient::Gc(uint64_t safe_point) {
  absl::StatusOr<txn::GcStats> s = impl_->client->Gc(safe_point);
  if (!s.ok()) return s.status();
  return s->versions_deleted;
}

// ---- Transaction ----

Transaction::Transaction(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transaction::~Transaction() = default;

uint64_t Transaction::start_ts() const { return impl_->txn->start_ts(); }
uint64_t Transaction::commit_ts() const { return impl_->txn->commit_ts(); }
absl::StatusOr<std::optional<std::string>> Transaction::Get(const std::string& key) {
  return impl_->txn->Get(key);
}
absl::StatusOr<std::vector<std::optional<std::string>>> Transaction::BatchGet(
    const std::vector<std::string>& keys) {
  return impl_->txn->BatchGet(keys);
}
absl::StatusOr<std::vector<Transaction::KvPair>> Transaction::Scan(const std::string& start,
                                                                   const std::string& end,
                                                                   size_t limit) {
  return impl_->txn->Scan(start, end, limit);
}
absl::Status Transaction::Put(const std::string& key, const std::string& value) {
  return impl_->txn->Put(key, value);
}
absl::Status Transaction::Delete(const std::string& key) { return impl_->txn->Delete(key); }
absl::Status Transaction::LockKeys(const std::vector<std::string>& keys) {
  return impl_->txn->LockKeys(keys);
}
absl::StatusOr<std::optional<std::string>> Transaction::GetForUpdate(const std::string& key) {
  return impl_->txn->GetForUpdate(key);
}
absl::Status Transaction::Commit() { return impl_->txn->Commit(); }
absl::Status Transaction::Rollback() { return impl_->txn->Rollback(); }

}  // namespace rutile
