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

txn::client::SenderOptions SenderOptionsOf(const RawKvOptions& o) {
  txn::client::SenderOptions so;
  so.backoff_first_micros = o.backoff_first_micros;
  so.backoff_max_micros = o.backoff_max_micros;
  so.what = "raw kv request";
  return so;
}

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
      pd_(endpoint_.get(), pd_node, options.attempt_timeout_micros),
      cache_([this](const std::string& key) -> absl::StatusOr<txn::client::RegionRoute> {
        absl::StatusOr<LocalPd::RegionRoute> r = pd_.GetRegionByKey(key);
        if (!r.ok()) return r.status();
        return txn::client::RegionRoute{std::move(r->region), r->leader.store_id()};
      }),
      sender_(env, &cache_, SenderOptionsOf(options)) {}

RpcRawKv::~RpcRawKv() { endpoint_->Stop(); }

// ---- Retries.

absl::Status RpcRawKv::WithRegion(const std::string& key, uint64_t deadline,
                                  const Attempt& attempt) {
  return sender_.Send(key, deadline, [&](const txn::client::SendTarget& t) {
    raftstore::Context ctx;
    ctx.region_id = t.region.id();
    ctx.region_epoch = t.region.region_epoch();
    return attempt(t.region, t.store, ctx, t.deadline);
  });
}

uint64_t RpcRawKv::AttemptTimeout(uint64_t deadline) const {
  // At least a millisecond: an attempt started just before the deadline still gets an
  // answer a chance.
  const uint64_t now = env_->NowMicros();
  const uint64_t left = deadline > now ? deadline - now : 0;
  return std::max<uint64_t>(std::min(options_.attempt_timeout_micros, left), 1'000);
}

// ---- Commands.

absl::StatusOr<std::optional<std::string>> RpcRawKv::Get(const std::string& key) {
  std::optional<std::string> out;
  absl::Status s = WithRegion(
      key, Deadline(),
      [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx,
          uint64_t attempt_deadline) -> absl::Status {
        kvrpcpb::RawGetRequest req;
        ToRpcContext(ctx, req.mutable_context());
        req.set_key(key);
        absl::StatusOr<kvrpcpb::RawGetResponse> r = CallKvMethod<kvrpcpb::RawGetResponse>(
            *endpoint_, store, kRawGetMethod, req, AttemptTimeout(attempt_deadline));
        if (!r.ok()) return r.status();
        out.reset();
        if (r->value().found()) out = r->value().value();
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status RpcRawKv::Put(const std::string& key, const std::string& value) {
  return WithRegion(key, Deadline(),
                    [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx,
                        uint64_t attempt_deadline) -> absl::Status {
                      kvrpcpb::RawPutRequest req;
                      ToRpcContext(ctx, req.mutable_context());
                      req.set_key(key);
                      req.set_value(value);
                      return CallKvMethod<kvrpcpb::RawPutResponse>(*endpoint_, store, kRawPutMethod,
                                                                   req,
                                                                   AttemptTimeout(attempt_deadline))
                          .status();
                    });
}

absl::Status RpcRawKv::Delete(const std::string& key) {
  return WithRegion(key, Deadline(),
                    [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx,
                        uint64_t attempt_deadline) -> absl::Status {
                      kvrpcpb::RawDeleteRequest req;
                      ToRpcContext(ctx, req.mutable_context());
                      req.set_key(key);
                      return CallKvMethod<kvrpcpb::RawDeleteResponse>(
                                 *endpoint_, store, kRawDeleteMethod, req,
                                 AttemptTimeout(attempt_deadline))
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
        [&](const metapb::Region&, NodeId store, const raftstore::Context& ctx,
            uint64_t attempt_deadline) -> absl::Status {
          kvrpcpb::RawScanRequest req;
          ToRpcContext(ctx, req.mutable_context());
          req.set_start_key(cursor);
          req.set_end_key(end);
          if (limit != 0) req.set_limit(limit - out.size());
          absl::StatusOr<kvrpcpb::RawScanResponse> r = CallKvMethod<kvrpcpb::RawScanResponse>(
              *endpoint_, store, kRawScanMethod, req, AttemptTimeout(attempt_deadline));
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
        [&](const metapb::Region& region, NodeId store, const raftstore::Context& ctx,
            uint64_t attempt_deadline) -> absl::Status {
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
                                                         AttemptTimeout(attempt_deadline));
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
    absl::Status s = WithRegion(
        pairs[first].first, deadline,
        [&](const metapb::Region& region, NodeId store, const raftstore::Context& ctx,
            uint64_t attempt_deadline) -> absl::Status {
          kvrpcpb::RawBatchPutRequest req;
          ToRpcContext(ctx, req.mutable_context());
          sent.clear();
          for (size_t i = first; i < pairs.size(); ++i) {
            if (done[i] || !raftstore::KeyInRegion(pairs[i].first, region)) continue;
            kvrpcpb::KvPair* p = req.add_pairs();
            p->set_key(pairs[i].first);
            p->set_value(pairs[i].second);
            sent.push_back(i);
          }
          return CallKvMethod<kvrpcpb::RawBatchPutResponse>(*endpoint_, store, kRawBatchPutMethod,
                                                            req, AttemptTimeout(attempt_deadline))
              .status();
        });
    if (!s.ok()) return s;
    for (size_t i : sent) done[i] = true;
  }
  return absl::OkStatus();
}

absl::Status RpcRawKv::SplitAt(const std::string& key) {
  uint64_t split_region = 0;
  absl::Status s = WithRegion(
      key, Deadline(),
      [&](const metapb::Region& region, NodeId store, const raftstore::Context& ctx,
          uint64_t attempt_deadline) -> absl::Status {
        if (region.start_key() == key) return absl::OkStatus();
        split_region = region.id();
        kvrpcpb::SplitRegionRequest req;
        ToRpcContext(ctx, req.mutable_context());
        req.set_split_key(key);
        return CallKvMethod<kvrpcpb::SplitRegionResponse>(*endpoint_, store, kSplitRegionMethod,
                                                          req, AttemptTimeout(attempt_deadline))
            .status();
      });
  if (split_region != 0) cache_.Invalidate(split_region);
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
