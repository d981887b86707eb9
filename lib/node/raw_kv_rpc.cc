// RpcRawKv (raw_kv_rpc.h): the raw KV client over the KV and PD RPC services.

#include "node/raw_kv_rpc.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kvrpcpb.pb.h"
#include "node/kv_service.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"

namespace rutile::node {
namespace {

// Region errors that name a new leader or region are retried at once at most this many
// times in a row before the client backs off.
constexpr int kMaxImmediateRetries = 3;

bool EndAfter(const std::string& end, const std::string& key) { return end.empty() || key < end; }

}  // namespace

absl::StatusOr<std::unique_ptr<RpcRawKv>> RpcRawKv::Open(Env* env, Transport* transport,
                                                         NodeId self, NodeId pd_node,
                                                         const RawKvOptions& options) {
  if (env == nullptr || transport == nullptr) {
    return absl::InvalidArgumentError("raw kv client needs an Env and a Transport");
  }
  if (self == 0 || pd_node == 0 || self == pd_node) {
    return absl::InvalidArgumentError("raw kv client needs its own node id and the PD's");
  }
  auto endpoint = std::make_unique<transport::RpcEndpoint>(env, transport, self);
  if (absl::Status s = endpoint->status(); !s.ok()) return s;
  return std::unique_ptr<RpcRawKv>(new RpcRawKv(env, std::move(endpoint), pd_node, options));
}

RpcRawKv::RpcRawKv(Env* env, std::unique_ptr<transport::RpcEndpoint> endpoint, NodeId pd_node,
                   const RawKvOptions& options)
    : env_(env),
      options_(options),
      endpoint_(std::move(endpoint)),
      pd_(endpoint_.get(), pd_node, options.attempt_timeout_micros) {}

RpcRawKv::~RpcRawKv() { endpoint_->Stop(); }

// ---- Region cache.

void RpcRawKv::InsertLocked(const metapb::Region& r, uint64_t leader_store) {
  for (auto it = cache_.begin(); it != cache_.end();) {
    const metapb::Region& c = it->second.region;
    bool overlaps = EndAfter(r.end_key(), c.start_key()) && EndAfter(c.end_key(), r.start_key());
    if (overlaps || c.id() == r.id()) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
  cache_[r.start_key()] = CachedRegion{r, leader_store};
}

void RpcRawKv::Invalidate(uint64_t region_id) {
  absl::MutexLock lock(&mu_);
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->second.region.id() == region_id) {
      cache_.erase(it);
      return;
    }
  }
}

void RpcRawKv::SetLeader(uint64_t region_id, uint64_t store) {
  absl::MutexLock lock(&mu_);
  for (auto& [k, c] : cache_) {
    if (c.region.id() == region_id) c.leader_store = store;
  }
}

absl::StatusOr<RpcRawKv::CachedRegion> RpcRawKv::Locate(const std::string& key) {
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.upper_bound(key);
    if (it != cache_.begin()) {
      --it;
      if (EndAfter(it->second.region.end_key(), key)) return it->second;
    }
  }
  absl::StatusOr<LocalPd::RegionRoute> r = pd_.GetRegionByKey(key);
  if (!r.ok()) return r.status();
  CachedRegion c{r->region, r->leader.store_id()};
  absl::MutexLock lock(&mu_);
  InsertLocked(c.region, c.leader_store);
  return c;
}

// ---- Retries.

absl::Status RpcRawKv::WithRegion(const std::string& key, uint64_t deadline,
                                  const Attempt& attempt) {
  uint64_t backoff = options_.backoff_first_micros;
  uint64_t attempts = 0;
  int immediate = 0;  // Retries in a row without a backoff.
  absl::Status last = absl::DeadlineExceededError("no attempt");
  std::string where;  // The last region and store tried, for the error message.
  while (true) {
    bool need_backoff = false;
    absl::StatusOr<CachedRegion> loc = Locate(key);
    if (!loc.ok()) {
      last = loc.status();
      need_backoff = true;
    } else {
      uint64_t store = loc->leader_store;
      if (store == 0) {
        // No leader known: walk the replicas.
        const auto& peers = loc->region.peers();
        store = peers.empty() ? 0 : peers[attempts % peers.size()].store_id();
      }
      ++attempts;
      if (store == 0) {
        last = absl::UnavailableError("region has no replica");
        Invalidate(loc->region.id());
        need_backoff = true;
      } else {
        raftstore::Context ctx;
        ctx.region_id = loc->region.id();
        ctx.region_epoch = loc->region.region_epoch();
        where = absl::StrCat(" (region ", loc->region.id(), " version ",
                             loc->region.region_epoch().version(), " at store ", store, ")");
        last = attempt(loc->region, store, ctx);
        if (last.ok()) {
          if (loc->leader_store != store) SetLeader(loc->region.id(), store);
          return last;
        }
        std::optional<raft_cmdpb::Error> err = raftstore::GetRegionError(last);
        if (err.has_value()) {
          switch (err->kind_case()) {
            case raft_cmdpb::Error::kNotLeader:
              if (err->not_leader().leader().store_id() != 0 &&
                  err->not_leader().leader().store_id() != store) {
                SetLeader(loc->region.id(), err->not_leader().leader().store_id());
              } else {
                SetLeader(loc->region.id(), 0);
                need_backoff = true;
              }
              break;
            case raft_cmdpb::Error::kEpochNotMatch: {
              const auto& cur = err->epoch_not_match().current_regions();
              if (cur.empty()) {
                Invalidate(loc->region.id());
              } else {
                absl::MutexLock lock(&mu_);
                for (const metapb::Region& r : cur) InsertLocked(r, store);
              }
              break;
            }
            case raft_cmdpb::Error::kKeyNotInRegion:
              Invalidate(loc->region.id());
              need_backoff = true;
              break;
            case raft_cmdpb::Error::kRegionNotFound:
            case raft_cmdpb::Error::kProposalInMergingMode:
              // The store no longer has the region (moved or merged away) or is merging
              // it away: the cached range may be stale, so ask PD again.
              Invalidate(loc->region.id());
              need_backoff = true;
              break;
            default:  // ServerIsBusy, StaleCommand.
              need_backoff = true;
              break;
          }
        } else if (absl::IsDeadlineExceeded(last) || absl::IsAborted(last) ||
                   absl::IsUnavailable(last)) {
          // The store did not answer in time (its process may be gone), is shutting down,
          // or could not be reached: the outcome is unknown (raw writes are idempotent), so
          // try again, at another replica when no leader is known.
          SetLeader(loc->region.id(), 0);
          need_backoff = true;
        } else {
          return last;
        }
      }
    }
    uint64_t now = env_->NowMicros();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("raw kv request not done in time; last error",
                                                      where, ": ", last.ToString()));
    }
    // A region error naming a new leader or region retries at once, but at most
    // kMaxImmediateRetries times in a row (as RawKvClient and the txn client): stale
    // leader hints can point in a circle, and an answer that takes no time (a local
    // endpoint, a failed send) would spin the loop without the deadline coming closer.
    immediate = need_backoff ? 0 : immediate + 1;
    if (immediate > kMaxImmediateRetries) {
      need_backoff = true;
      immediate = 0;
    }
    if (need_backoff) {
      env_->SleepForMicros(std::min(backoff, deadline - now));
      backoff = std::min(backoff * 2, options_.backoff_max_micros);
    }
  }
}

// ---- Commands.

absl::StatusOr<std::optional<std::string>> RpcRawKv::Get(const std::string& key) {
  std::optional<std::string> out;
  absl::Status s = WithRegion(
      key, Deadline(),
      [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx) -> absl::Status {
        kvrpcpb::RawGetRequest req;
        ToRpcContext(ctx, req.mutable_context());
        req.set_key(key);
        absl::StatusOr<kvrpcpb::RawGetResponse> r = CallKvMethod<kvrpcpb::RawGetResponse>(
            *endpoint_, store, kRawGetMethod, req, options_.attempt_timeout_micros);
        if (!r.ok()) return r.status();
        out.reset();
        if (r->value().found()) out = r->value().value();
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status RpcRawKv::Put(const std::string& key, const std::string& value) {
  return WithRegion(
      key, Deadline(),
      [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx) -> absl::Status {
        kvrpcpb::RawPutRequest req;
        ToRpcContext(ctx, req.mutable_context());
        req.set_key(key);
        req.set_value(value);
        return CallKvMethod<kvrpcpb::RawPutResponse>(*endpoint_, store, kRawPutMethod, req,
                                                     options_.attempt_timeout_micros)
            .status();
      });
}

absl::Status RpcRawKv::Delete(const std::string& key) {
  return WithRegion(
      key, Deadline(),
      [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx) -> absl::Status {
        kvrpcpb::RawDeleteRequest req;
        ToRpcContext(ctx, req.mutable_context());
        req.set_key(key);
        return CallKvMethod<kvrpcpb::RawDeleteResponse>(*endpoint_, store, kRawDeleteMethod, req,
                                                        options_.attempt_timeout_micros)
            .status();
      });
}

absl::StatusOr<std::vector<RpcRawKv::KvPair>> RpcRawKv::Scan(const std::string& start,
                                                             const std::string& end, size_t limit) {
  if (!end.empty() && end <= start) return std::vector<KvPair>();
  std::vector<KvPair> out;
  std::string cursor = start;
  const uint64_t deadline = Deadline();
  while (true) {
    std::string region_end;
    std::vector<KvPair> part;
    absl::Status s = WithRegion(
        cursor, deadline,
        [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx) -> absl::Status {
          kvrpcpb::RawScanRequest req;
          ToRpcContext(ctx, req.mutable_context());
          req.set_start_key(cursor);
          req.set_end_key(end);
          if (limit != 0) req.set_limit(limit - out.size());
          absl::StatusOr<kvrpcpb::RawScanResponse> r = CallKvMethod<kvrpcpb::RawScanResponse>(
              *endpoint_, store, kRawScanMethod, req, options_.attempt_timeout_micros);
          if (!r.ok()) return r.status();
          part.clear();
          for (kvrpcpb::KvPair& p : *r->mutable_kvs()) {
            part.emplace_back(std::move(*p.mutable_key()), std::move(*p.mutable_value()));
          }
          region_end = r->region().end_key();
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

absl::StatusOr<std::vector<std::optional<std::string>>> RpcRawKv::BatchGet(
    const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out(keys.size());
  std::vector<bool> done(keys.size(), false);
  const uint64_t deadline = Deadline();
  for (size_t first = 0; first < keys.size(); ++first) {
    if (done[first]) continue;
    // One request reads every pending key the cached region holds; the store checks the
    // epoch, so a stale cache shows up as EpochNotMatch, never as a wrong answer.
    std::vector<size_t> sent;
    absl::Status s = WithRegion(
        keys[first], deadline,
        [&](const metapb::Region& region, NodeId store,
            const raftstore::Context& ctx) -> absl::Status {
          kvrpcpb::RawBatchGetRequest req;
          ToRpcContext(ctx, req.mutable_context());
          sent.clear();
          for (size_t i = first; i < keys.size(); ++i) {
            if (done[i] || !raftstore::KeyInRegion(keys[i], region)) continue;
            req.add_keys(keys[i]);
            sent.push_back(i);
          }
          absl::StatusOr<kvrpcpb::RawBatchGetResponse> r =
              CallKvMethod<kvrpcpb::RawBatchGetResponse>(*endpoint_, store, kRawBatchGetMethod, req,
                                                         options_.attempt_timeout_micros);
          if (!r.ok()) return r.status();
          if (static_cast<size_t>(r->values_size()) != sent.size()) {
            return absl::DataLossError("batch get answered with the wrong number of values");
          }
          for (size_t j = 0; j < sent.size(); ++j) {
            const kvrpcpb::OptionalValue& v = r->values(static_cast<int>(j));
            out[sent[j]] = v.found() ? std::optional<std::string>(v.value()) : std::nullopt;
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    for (size_t i : sent) done[i] = true;
  }
  return out;
}

absl::Status RpcRawKv::BatchPut(const std::vector<KvPair>& pairs) {
  std::vector<bool> done(pairs.size(), false);
  const uint64_t deadline = Deadline();
  for (size_t first = 0; first < pairs.size(); ++first) {
    if (done[first]) continue;
    std::vector<size_t> sent;
    absl::Status s = WithRegion(pairs[first].first, deadline,
                                [&](const metapb::Region& region, NodeId store,
                                    const raftstore::Context& ctx) -> absl::Status {
                                  kvrpcpb::RawBatchPutRequest req;
                                  ToRpcContext(ctx, req.mutable_context());
                                  sent.clear();
                                  for (size_t i = first; i < pairs.size(); ++i) {
                                    if (done[i] || !raftstore::KeyInRegion(pairs[i].first, region))
                                      continue;
                                    kvrpcpb::KvPair* p = req.add_pairs();
                                    p->set_key(pairs[i].first);
                                    p->set_value(pairs[i].second);
                                    sent.push_back(i);
                                  }
                                  return CallKvMethod<kvrpcpb::RawBatchPutResponse>(
                                             *endpoint_, store, kRawBatchPutMethod, req,
                                             options_.attempt_timeout_micros)
                                      .status();
                                });
    if (!s.ok()) return s;
    for (size_t i : sent) done[i] = true;
  }
  return absl::OkStatus();
}

absl::Status RpcRawKv::SplitAt(const std::string& key) {
  uint64_t split_region = 0;
  absl::Status s = WithRegion(key, Deadline(),
                              [&](const metapb::Region& region, NodeId store,
                                  const raftstore::Context& ctx) -> absl::Status {
                                if (region.start_key() == key) return absl::OkStatus();
                                split_region = region.id();
                                kvrpcpb::SplitRegionRequest req;
                                ToRpcContext(ctx, req.mutable_context());
                                req.set_split_key(key);
                                return CallKvMethod<kvrpcpb::SplitRegionResponse>(
                                           *endpoint_, store, kSplitRegionMethod, req,
                                           options_.attempt_timeout_micros)
                                    .status();
                              });
  if (split_region != 0) Invalidate(split_region);
  return s;
}

std::vector<RegionDescription> RpcRawKv::Regions() {
  std::vector<RegionDescription> out;
  absl::StatusOr<std::vector<LocalPd::RegionRoute>> routes = pd_.Regions();
  if (!routes.ok()) return out;
  for (const LocalPd::RegionRoute& r : *routes) {
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

}  // namespace rutile::node
