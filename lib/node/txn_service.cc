#include "node/txn_service.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "node/node_internal.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "util/sync.h"

namespace rutile {
namespace node {
namespace {

// How long one attempt at one store may take before the client tries again.
constexpr uint64_t kAttemptTimeoutMicros = 3'000'000;

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

 private:
  std::shared_ptr<raftstore::RegionSnapshot> snap_;
};

class StoreRegionKv final : public txn::RegionKv {
 public:
  StoreRegionKv(std::shared_ptr<raftstore::Store> store, LocalPd* pd, Env* wait_env)
      : kv_(raftstore::NewStoreRaftKv(std::move(store), kAttemptTimeoutMicros, wait_env)),
        pd_(pd) {}

  absl::StatusOr<std::shared_ptr<txn::RegionView>> Snapshot(
      const txn::RegionContext& ctx) override {
    absl::StatusOr<std::shared_ptr<raftstore::RegionSnapshot>> s = kv_->Snapshot(ContextOf(ctx));
    if (!s.ok()) return s.status();
    return std::shared_ptr<txn::RegionView>(std::make_shared<StoreRegionView>(*std::move(s)));
  }

  absl::Status Write(const txn::RegionContext& ctx, const storage::WriteBatch& batch) override {
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
    return kv_->Write(ContextOf(ctx), std::move(mods));
  }

  absl::StatusOr<txn::TimeStamp> GetTimestamp() override {
    if (pd_ == nullptr) return absl::UnavailableError("no PD for timestamps");
    return pd_->GetTimestamp();
  }

 private:
  static raftstore::Context ContextOf(const txn::RegionContext& ctx) {
    raftstore::Context c;
    c.region_id = ctx.region_id;
    c.region_epoch.set_conf_ver(ctx.conf_ver);
    c.region_epoch.set_version(ctx.version);
    return c;
  }

  std::unique_ptr<raftstore::RaftKv> kv_;
  LocalPd* const pd_;
};

// One store's transaction service and what it runs on.
struct StoreTxnHost {
  std::shared_ptr<txn::DeadlockDetector> detector;
  StoreRegionKv kv;
  txn::RegionTxnStore service;

  StoreTxnHost(Env* env, std::shared_ptr<raftstore::Store> store, LocalPd* pd,
               std::shared_ptr<txn::DeadlockDetector> d)
      : detector(std::move(d)), kv(std::move(store), pd, env), service(env, &kv, detector.get()) {}
};

struct Registry {
  absl::Mutex mu;
  std::map<const raftstore::Store*, std::weak_ptr<StoreTxnHost>> hosts ABSL_GUARDED_BY(mu);
  std::map<const LocalPd*, std::weak_ptr<txn::DeadlockDetector>> detectors ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

std::shared_ptr<txn::TxnService> TxnServiceFor(std::shared_ptr<raftstore::Store> store, LocalPd* pd,
                                               Env* env) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  if (auto h = r.hosts[store.get()].lock()) {
    return std::shared_ptr<txn::TxnService>(h, &h->service);
  }
  std::shared_ptr<txn::DeadlockDetector> d = r.detectors[pd].lock();
  if (d == nullptr) {
    d = std::make_shared<txn::DeadlockDetector>();
    r.detectors[pd] = d;
  }
  const raftstore::Store* key = store.get();
  auto h = std::make_shared<StoreTxnHost>(env, std::move(store), pd, std::move(d));
  r.hosts[key] = h;
  // Forget expired entries now and then.
  for (auto it = r.hosts.begin(); it != r.hosts.end();) {
    it = it->second.expired() ? r.hosts.erase(it) : std::next(it);
  }
  return std::shared_ptr<txn::TxnService>(h, &h->service);
}

namespace {

class NodeCluster final : public txn::client::ClusterAccess {
 public:
  NodeCluster(Env* env, std::shared_ptr<Pd> pd_handle, LocalPd* pd, TxnStoreResolver resolve)
      : env_(env), pd_handle_(std::move(pd_handle)), pd_(pd), resolve_(std::move(resolve)) {}

  Env* env() override { return env_; }
  absl::StatusOr<txn::TimeStamp> GetTimestamp() override { return pd_->GetTimestamp(); }
  absl::StatusOr<txn::client::RegionRoute> GetRegionByKey(const std::string& key) override {
    absl::StatusOr<LocalPd::RegionRoute> r = pd_->GetRegionByKey(key);
    if (!r.ok()) return r.status();
    return txn::client::RegionRoute{r->region, r->leader.store_id()};
  }
  std::vector<txn::client::RegionRoute> Regions() override {
    std::vector<txn::client::RegionRoute> out;
    for (const LocalPd::RegionRoute& r : pd_->Regions()) {
      out.push_back({r.region, r.leader.store_id()});
    }
    return out;
  }
  txn::TxnService* Store(uint64_t store_id) override {
    std::shared_ptr<raftstore::Store> s = resolve_(store_id);
    if (s == nullptr) return nullptr;
    absl::MutexLock lock(&mu_);
    auto& entry = services_[store_id];
    if (entry.first != s.get()) {
      std::shared_ptr<txn::TxnService> svc = TxnServiceFor(s, pd_, env_);
      // Old services stay alive: a fiber may still be calling one.
      retired_.push_back(std::move(entry.second));
      entry = {s.get(), std::move(svc)};
    }
    return entry.second.get();
  }
  absl::StatusOr<txn::TimeStamp> GetGcSafePoint() override { return pd_->GetGcSafePoint(); }
  absl::StatusOr<txn::TimeStamp> UpdateGcSafePoint(txn::TimeStamp safe_point) override {
    return pd_->UpdateGcSafePoint(safe_point);
  }
  // For SplitAt.
  std::shared_ptr<raftstore::Store> RawStore(uint64_t store_id) { return resolve_(store_id); }

 private:
  Env* const env_;
  std::shared_ptr<Pd> pd_handle_;
  LocalPd* const pd_;
  TxnStoreResolver resolve_;
  absl::Mutex mu_;
  std::map<uint64_t, std::pair<const raftstore::Store*, std::shared_ptr<txn::TxnService>>> services_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<txn::TxnService>> retired_ ABSL_GUARDED_BY(mu_);
};

}  // namespace
}  // namespace node

struct TxnClient::Impl {
  std::unique_ptr<node::NodeCluster> cluster;
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
  LocalPd* local = LocalPdOf(pd->impl_.get());
  if (local == nullptr) return absl::FailedPreconditionError("PD is not in this process");
  auto impl = std::make_unique<TxnClient::Impl>();
  impl->cluster = std::make_unique<NodeCluster>(env, std::move(pd), local, std::move(resolve));
  txn::client::ClientOptions co;
  co.timeout_micros = options.timeout_micros;
  co.backoff_first_micros = options.backoff_first_micros;
  co.backoff_max_micros = options.backoff_max_micros;
  impl->client = std::make_unique<txn::client::Client>(impl->cluster.get(), co);
  return std::unique_ptr<TxnClient>(new TxnClient(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TxnClient>> TxnClient::Open(const std::vector<Node*>& nodes,
                                                           const TxnClientOptions& options) {
  if (nodes.empty()) return absl::InvalidArgumentError("no nodes");
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
  return impl_->client->SplitAt(
      key, [&](uint64_t store, uint64_t region, const std::string& split_key) -> absl::Status {
        std::shared_ptr<raftstore::Store> s = impl_->cluster->RawStore(store);
        if (s == nullptr) return absl::UnavailableError(absl::StrCat("store ", store, " gone"));
        return s->SplitRegion(region, {split_key});
      });
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
