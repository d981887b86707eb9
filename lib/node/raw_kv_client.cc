// RawKvClient (include/rutile/kv.h): region cache, routing and retries over the stores of
// in-process nodes, through raftstore's RaftKv and Store public API.

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "node/local_pd.h"
#include "node/node_internal.h"
#include "node/raw_kv_rpc.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "raftstore/raft_kv.h"
#include "raftstore/store.h"
#include "rutile/kv.h"
#include "txn/client/region_cache.h"
#include "txn/client/region_request_sender.h"

namespace rutile {
namespace {

// Zero timeouts or backoffs (a zero backoff retries without time passing), or a max
// backoff below the first: InvalidArgument.
absl::Status ValidateRawKvOptions(const RawKvOptions& o) {
  if (o.timeout_micros == 0) return absl::InvalidArgumentError("timeout_micros is 0");
  if (o.attempt_timeout_micros == 0) {
    return absl::InvalidArgumentError("attempt_timeout_micros is 0");
  }
  if (o.backoff_first_micros == 0) return absl::InvalidArgumentError("backoff_first_micros is 0");
  if (o.backoff_max_micros < o.backoff_first_micros) {
    return absl::InvalidArgumentError("backoff_max_micros is below backoff_first_micros");
  }
  return absl::OkStatus();
}

}  // namespace

struct RawKvClient::Impl {
  RawKvOptions options;
  Env* env = nullptr;
  // RPC mode (Connect, or Open with rpc_client_id): every call goes here instead.
  std::unique_ptr<node::RpcRawKv> rpc;
  node::PdApi* pd = nullptr;
  std::shared_ptr<Pd> pd_handle;
  // The store serving a store id now; null when there is none (its node is down).
  node::StoreResolver resolve;

  // A RaftKv per store id, remade when the resolver returns another store (a restart).
  struct StoreKv {
    std::shared_ptr<raftstore::Store> store;
    std::shared_ptr<raftstore::RaftKv> kv;
  };
  absl::Mutex kv_mu;
  std::map<uint64_t, StoreKv> kvs ABSL_GUARDED_BY(kv_mu);

  std::shared_ptr<raftstore::RaftKv> KvFor(uint64_t store_id) {
    std::shared_ptr<raftstore::Store> s = store_id == 0 ? nullptr : resolve(store_id);
    if (s == nullptr) return nullptr;
    {
      absl::ReaderMutexLock lock(&kv_mu);
      auto it = kvs.find(store_id);
      if (it != kvs.end() && it->second.store == s) return it->second.kv;
    }
    absl::MutexLock lock(&kv_mu);
    StoreKv& e = kvs[store_id];
    if (e.store != s) {
      e.store = s;
      // Waits are measured on the client's Env, so they end even if the store's node dies.
      // One attempt waits at most the attempt timeout (and never past the call's
      // deadline: Context::deadline).
      e.kv = raftstore::NewStoreRaftKv(s, options.attempt_timeout_micros, env);
    }
    return e.kv;
  }

  // Region routing (set up by Init once `pd` is known).
  std::unique_ptr<txn::client::RegionCache> cache;
  std::unique_ptr<txn::client::RegionRequestSender> sender;

  void Init() {
    cache = std::make_unique<txn::client::RegionCache>(
        [this](const std::string& key) -> absl::StatusOr<txn::client::RegionRoute> {
          absl::StatusOr<node::PdApi::RegionRoute> r = pd->GetRegionByKey(key);
          if (!r.ok()) return r.status();
          return txn::client::RegionRoute{std::move(r->region), r->leader.store_id()};
        });
    txn::client::SenderOptions so;
    so.backoff_first_micros = options.backoff_first_micros;
    so.backoff_max_micros = options.backoff_max_micros;
    so.what = "raw kv request";
    sender = std::make_unique<txn::client::RegionRequestSender>(env, cache.get(), std::move(so));
  }

  // Runs `fn(region, store, kv, ctx)` against the region holding `key` until it succeeds,
  // fails with an error that is neither a region error nor a store error, or the deadline
  // passes (the sender's rules, region_request_sender.h).
  template <typename Fn>
  absl::Status WithRegion(const std::string& key, uint64_t deadline, Fn fn) {
    return sender->Send(key, deadline, [&](const txn::client::SendTarget& t) -> absl::Status {
      std::shared_ptr<raftstore::RaftKv> kv = KvFor(t.store);
      if (kv == nullptr) return txn::client::StoreUnreachable(t.store);
      raftstore::Context ctx;
      ctx.region_id = t.region.id();
      ctx.region_epoch = t.region.region_epoch();
      ctx.deadline = t.deadline;
      return fn(t.region, t.store, kv.get(), ctx);
    });
  }

  uint64_t Deadline() { return env->NowMicros() + options.timeout_micros; }
};

RawKvClient::RawKvClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RawKvClient::~RawKvClient() = default;

absl::StatusOr<std::unique_ptr<RawKvClient>> RawKvClient::Open(const std::vector<Node*>& nodes,
                                                               const RawKvOptions& options) {
  if (nodes.empty()) return absl::InvalidArgumentError("no nodes");
  if (absl::Status s = ValidateRawKvOptions(options); !s.ok()) return s;
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
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->env = nodes[0]->impl_->env;
  impl->pd_handle = nodes[0]->pd();
  if (impl->pd_handle == nullptr) return absl::FailedPreconditionError("node is closed");
  impl->pd = node::PdApiOf(impl->pd_handle->impl_.get());
  impl->Init();
  auto stores = std::make_shared<std::map<uint64_t, std::shared_ptr<raftstore::Store>>>();
  for (Node* n : nodes) {
    std::shared_ptr<raftstore::Store> s = node::StoreOf(n->impl_.get());
    if (s == nullptr) return absl::FailedPreconditionError("node is closed");
    (*stores)[n->id()] = s;
  }
  impl->resolve = [stores](uint64_t id) -> std::shared_ptr<raftstore::Store> {
    auto it = stores->find(id);
    return it == stores->end() ? nullptr : it->second;
  };
  return std::unique_ptr<RawKvClient>(new RawKvClient(std::move(impl)));
}

std::unique_ptr<RawKvClient> node::Access::NewRawKvClient(std::unique_ptr<RawKvClient::Impl> impl) {
  return std::unique_ptr<RawKvClient>(new RawKvClient(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<RawKvClient>> node::OpenRawKvClient(Env* env, std::shared_ptr<Pd> pd,
                                                                   StoreResolver resolve,
                                                                   const RawKvOptions& options) {
  if (env == nullptr || pd == nullptr || !resolve) {
    return absl::InvalidArgumentError("raw kv client needs an Env, a PD and a store resolver");
  }
  if (absl::Status s = ValidateRawKvOptions(options); !s.ok()) return s;
  auto impl = std::make_unique<RawKvClient::Impl>();
  impl->options = options;
  impl->env = env;
  impl->pd_handle = std::move(pd);
  impl->pd = PdApiOf(Access::ImplOf(impl->pd_handle.get()));
  impl->resolve = std::move(resolve);
  impl->Init();
  return Access::NewRawKvClient(std::move(impl));
}

absl::StatusOr<std::unique_ptr<RawKvClient>> RawKvClient::Connect(Env* env, Transport* transport,
                                                                  uint64_t client_id,
                                                                  uint64_t pd_node,
                                                                  const RawKvOptions& options) {
  if (absl::Status s = ValidateRawKvOptions(options); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<node::RpcRawKv>> rpc =
      node::RpcRawKv::Open(env, transport, client_id, pd_node, options);
  if (!rpc.ok()) return rpc.status();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->env = env;
  impl->rpc = std::move(*rpc);
  return std::unique_ptr<RawKvClient>(new RawKvClient(std::move(impl)));
}

absl::StatusOr<std::optional<std::string>> RawKvClient::Get(const std::string& key) {
  if (impl_->rpc != nullptr) return impl_->rpc->Get(key);
  std::optional<std::string> out;
  absl::Status s = impl_->WithRegion(
      key, impl_->Deadline(),
      [&](const metapb::Region&, uint64_t, raftstore::RaftKv* kv, const raftstore::Context& ctx) {
        // No engine snapshot for one key (RaftKv::ReadLatest).
        return kv->ReadLatest(ctx, [&](const raftstore::RegionSnapshot& view) {
          absl::StatusOr<std::optional<std::string>> v = view.Get(storage::CF::kDefault, key);
          if (!v.ok()) return v.status();
          out = std::move(*v);
          return absl::OkStatus();
        });
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status RawKvClient::Put(const std::string& key, const std::string& value) {
  if (impl_->rpc != nullptr) return impl_->rpc->Put(key, value);
  return BatchPut({{key, value}});
}

absl::Status RawKvClient::Delete(const std::string& key) {
  if (impl_->rpc != nullptr) return impl_->rpc->Delete(key);
  return impl_->WithRegion(
      key, impl_->Deadline(),
      [&](const metapb::Region&, uint64_t, raftstore::RaftKv* kv, const raftstore::Context& ctx) {
        return kv->Write(ctx, {raftstore::Modify::Delete(storage::CF::kDefault, key)});
      });
}

absl::StatusOr<std::vector<RawKvClient::KvPair>> RawKvClient::Scan(const std::string& start,
                                                                   const std::string& end,
                                                                   size_t limit) {
  if (impl_->rpc != nullptr) return impl_->rpc->Scan(start, end, limit);
  std::vector<KvPair> out;
  std::string cursor = start;
  const uint64_t deadline = impl_->Deadline();
  while (true) {
    std::string region_end;
    std::vector<KvPair> part;
    absl::Status s = impl_->WithRegion(
        cursor, deadline,
        [&](const metapb::Region&, uint64_t, raftstore::RaftKv* kv, const raftstore::Context& ctx) {
          absl::StatusOr<std::shared_ptr<raftstore::RegionSnapshot>> snap = kv->Snapshot(ctx);
          if (!snap.ok()) return snap.status();
          const metapb::Region& r = (*snap)->region();
          if (!raftstore::KeyInRegion(cursor, r)) {
            return raftstore::KeyNotInRegionError(cursor, r);
          }
          storage::IterOptions io;
          io.lower_bound = cursor;
          io.upper_bound = end;
          if (!r.end_key().empty() && (end.empty() || r.end_key() < end)) {
            io.upper_bound = r.end_key();
          }
          part.clear();
          std::unique_ptr<storage::Iterator> it = (*snap)->NewIterator(storage::CF::kDefault, io);
          for (it->SeekToFirst(); it->Valid(); it->Next()) {
            if (limit != 0 && out.size() + part.size() >= limit) break;
            part.emplace_back(std::string(it->key()), std::string(it->value()));
          }
          if (!it->status().ok()) return it->status();
          region_end = r.end_key();
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    for (KvPair& p : part) out.push_back(std::move(p));
    if (limit != 0 && out.size() >= limit) break;
    if (region_end.empty() || (!end.empty() && region_end >= end)) break;
    cursor = region_end;
  }
  return out;
}

absl::StatusOr<std::vector<std::optional<std::string>>> RawKvClient::BatchGet(
    const std::vector<std::string>& keys) {
  if (impl_->rpc != nullptr) return impl_->rpc->BatchGet(keys);
  std::vector<std::optional<std::string>> out(keys.size());
  std::vector<bool> done(keys.size(), false);
  const uint64_t deadline = impl_->Deadline();
  for (size_t first = 0; first < keys.size(); ++first) {
    if (done[first]) continue;
    // One snapshot serves every pending key its region holds.
    absl::Status s = impl_->WithRegion(
        keys[first], deadline,
        [&](const metapb::Region&, uint64_t, raftstore::RaftKv* kv, const raftstore::Context& ctx) {
          absl::StatusOr<std::shared_ptr<raftstore::RegionSnapshot>> snap = kv->Snapshot(ctx);
          if (!snap.ok()) return snap.status();
          const metapb::Region& r = (*snap)->region();
          if (!raftstore::KeyInRegion(keys[first], r)) {
            return raftstore::KeyNotInRegionError(keys[first], r);
          }
          for (size_t i = first; i < keys.size(); ++i) {
            if (done[i] || !raftstore::KeyInRegion(keys[i], r)) continue;
            absl::StatusOr<std::optional<std::string>> v =
                (*snap)->Get(storage::CF::kDefault, keys[i]);
            if (!v.ok()) return v.status();
            out[i] = std::move(*v);
            done[i] = true;
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
  }
  return out;
}

absl::Status RawKvClient::BatchPut(const std::vector<KvPair>& pairs) {
  if (impl_->rpc != nullptr) return impl_->rpc->BatchPut(pairs);
  std::vector<bool> done(pairs.size(), false);
  const uint64_t deadline = impl_->Deadline();
  for (size_t first = 0; first < pairs.size(); ++first) {
    if (done[first]) continue;
    std::vector<size_t> sent;
    absl::Status s =
        impl_->WithRegion(pairs[first].first, deadline,
                          [&](const metapb::Region& region, uint64_t, raftstore::RaftKv* kv,
                              const raftstore::Context& ctx) {
                            // The cached region's range is right if its epoch is: the store checks
                            // it.
                            std::vector<raftstore::Modify> batch;
                            sent.clear();
                            for (size_t i = first; i < pairs.size(); ++i) {
                              if (done[i] || !raftstore::KeyInRegion(pairs[i].first, region))
                                continue;
                              batch.push_back(raftstore::Modify::Put(
                                  storage::CF::kDefault, pairs[i].first, pairs[i].second));
                              sent.push_back(i);
                            }
                            return kv->Write(ctx, std::move(batch));
                          });
    if (!s.ok()) return s;
    for (size_t i : sent) done[i] = true;
  }
  return absl::OkStatus();
}

absl::Status RawKvClient::SplitAt(const std::string& key) {
  if (impl_->rpc != nullptr) return impl_->rpc->SplitAt(key);
  uint64_t split_region = 0;
  absl::Status s = impl_->WithRegion(
      key, impl_->Deadline(),
      [&](const metapb::Region& region, uint64_t store, raftstore::RaftKv*,
          const raftstore::Context&) {
        if (region.start_key() == key) return absl::OkStatus();
        split_region = region.id();
        std::shared_ptr<raftstore::Store> st = impl_->resolve(store);
        if (st == nullptr) {
          return absl::UnavailableError(absl::StrCat("store ", store, " is down"));
        }
        return st->SplitRegion(region.id(), {key});
      });
  if (split_region != 0) impl_->cache->Invalidate(split_region);
  return s;
}

std::vector<RegionDescription> RawKvClient::Regions() {
  if (impl_->rpc != nullptr) return impl_->rpc->Regions();
  std::vector<RegionDescription> out;
  absl::StatusOr<std::vector<node::PdApi::RegionRoute>> routes = impl_->pd->Regions();
  if (!routes.ok()) return out;
  for (const node::PdApi::RegionRoute& r : *routes) {
    RegionDescription d;
    d.id = r.region.id();
    d.start_key = r.region.start_key();
    d.end_key = r.region.end_key();
    for (const metapb::Peer& p : r.region.peers()) d.stores.push_back(p.store_id());
    d.leader_store = r.leader.store_id();
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace rutile
