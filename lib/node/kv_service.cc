// The raw commands of the KV RPC service (kv_service.h) and the service's shared helpers.

#include "node/kv_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "raftstore/keys.h"
#include "storage/cf.h"

namespace rutile::node {

absl::StatusOr<raftstore::Context> FromRpcContext(const kvrpcpb::Context& ctx) {
  if (ctx.region_id() == 0) return absl::InvalidArgumentError("request names no region");
  if (!ctx.has_region_epoch()) return absl::InvalidArgumentError("request has no region epoch");
  raftstore::Context out;
  out.region_id = ctx.region_id();
  out.region_epoch = ctx.region_epoch();
  out.peer = ctx.peer();
  return out;
}

void ToRpcContext(const raftstore::Context& ctx, kvrpcpb::Context* out) {
  out->set_region_id(ctx.region_id);
  *out->mutable_region_epoch() = ctx.region_epoch;
  if (ctx.peer.id() != 0) *out->mutable_peer() = ctx.peer;
}

absl::Status RegionErrorToStatus(const raft_cmdpb::Error& error) {
  // The codes of raftstore/errors.h, so a remote error reads exactly like a local one.
  absl::StatusCode code = absl::StatusCode::kUnknown;
  switch (error.kind_case()) {
    case raft_cmdpb::Error::kNotLeader:
    case raft_cmdpb::Error::kServerIsBusy:
    case raft_cmdpb::Error::kStaleCommand:
      code = absl::StatusCode::kUnavailable;
      break;
    case raft_cmdpb::Error::kEpochNotMatch:
      code = absl::StatusCode::kFailedPrecondition;
      break;
    case raft_cmdpb::Error::kRegionNotFound:
      code = absl::StatusCode::kNotFound;
      break;
    case raft_cmdpb::Error::kKeyNotInRegion:
      code = absl::StatusCode::kOutOfRange;
      break;
    case raft_cmdpb::Error::KIND_NOT_SET:
      return absl::DataLossError(absl::StrCat("region error of no known kind: ", error.message()));
    default:  // Kinds added later are retryable routing problems (Unavailable).
      code = absl::StatusCode::kUnavailable;
      break;
  }
  absl::Status s(code, error.message());
  s.SetPayload(raftstore::kRegionErrorPayloadUrl, absl::Cord(error.SerializeAsString()));
  return s;
}

namespace {

// Reads `key` from `snapshot` into `out`.
absl::Status ReadInto(const raftstore::RegionSnapshot& snapshot, const std::string& key,
                      kvrpcpb::OptionalValue* out) {
  absl::StatusOr<std::optional<std::string>> v = snapshot.Get(storage::CF::kDefault, key);
  if (!v.ok()) return v.status();
  out->set_found(v->has_value());
  if (v->has_value()) {
    out->set_value(std::move(**v));
  } else {
    out->clear_value();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RegisterRawKvService(transport::RpcEndpoint& endpoint,
                                  std::shared_ptr<KvServiceContext> context) {
  using raftstore::Modify;
  std::shared_ptr<KvServiceContext> c = std::move(context);
  if (c == nullptr || c->kv == nullptr || c->store == nullptr) {
    return absl::InvalidArgumentError("KV service needs a store and a RaftKv");
  }

  absl::Status s = RegisterKvMethod<kvrpcpb::RawGetRequest, kvrpcpb::RawGetResponse>(
      endpoint, kRawGetMethod,
      [c](const kvrpcpb::RawGetRequest& req, kvrpcpb::RawGetResponse* resp) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        // One key: no engine snapshot (RaftKv::ReadLatest; ReadInto overwrites on a rerun).
        return c->kv->ReadLatest(*ctx, [&](const raftstore::RegionSnapshot& view) {
          return ReadInto(view, req.key(), resp->mutable_value());
        });
      });
  if (!s.ok()) return s;

  s = RegisterKvMethod<kvrpcpb::RawBatchGetRequest, kvrpcpb::RawBatchGetResponse>(
      endpoint, kRawBatchGetMethod,
      [c](const kvrpcpb::RawBatchGetRequest& req,
          kvrpcpb::RawBatchGetResponse* resp) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        absl::StatusOr<std::shared_ptr<raftstore::RegionSnapshot>> snap = c->kv->Snapshot(*ctx);
        if (!snap.ok()) return snap.status();
        for (const std::string& key : req.keys()) {
          if (absl::Status st = ReadInto(**snap, key, resp->add_values()); !st.ok()) return st;
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;

  s = RegisterKvMethod<kvrpcpb::RawPutRequest, kvrpcpb::RawPutResponse>(
      endpoint, kRawPutMethod,
      [c](const kvrpcpb::RawPutRequest& req, kvrpcpb::RawPutResponse*) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        return c->kv->Write(*ctx, {Modify::Put(storage::CF::kDefault, req.key(), req.value())});
      });
  if (!s.ok()) return s;

  s = RegisterKvMethod<kvrpcpb::RawBatchPutRequest, kvrpcpb::RawBatchPutResponse>(
      endpoint, kRawBatchPutMethod,
      [c](const kvrpcpb::RawBatchPutRequest& req, kvrpcpb::RawBatchPutResponse*) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        if (req.pairs().empty()) return absl::InvalidArgumentError("batch put of no pairs");
        std::vector<Modify> batch;
        batch.reserve(req.pairs_size());
        for (const kvrpcpb::KvPair& p : req.pairs()) {
          batch.push_back(Modify::Put(storage::CF::kDefault, p.key(), p.value()));
        }
        return c->kv->Write(*ctx, std::move(batch));
      });
  if (!s.ok()) return s;

  s = RegisterKvMethod<kvrpcpb::RawDeleteRequest, kvrpcpb::RawDeleteResponse>(
      endpoint, kRawDeleteMethod,
      [c](const kvrpcpb::RawDeleteRequest& req, kvrpcpb::RawDeleteResponse*) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        return c->kv->Write(*ctx, {Modify::Delete(storage::CF::kDefault, req.key())});
      });
  if (!s.ok()) return s;

  s = RegisterKvMethod<kvrpcpb::RawScanRequest, kvrpcpb::RawScanResponse>(
      endpoint, kRawScanMethod,
      [c](const kvrpcpb::RawScanRequest& req, kvrpcpb::RawScanResponse* resp) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        if (!req.end_key().empty() && req.end_key() <= req.start_key()) {
          return absl::InvalidArgumentError("scan end key not after its start key");
        }
        absl::StatusOr<std::shared_ptr<raftstore::RegionSnapshot>> snap = c->kv->Snapshot(*ctx);
        if (!snap.ok()) return snap.status();
        const metapb::Region& r = (*snap)->region();
        if (!raftstore::KeyInRegion(req.start_key(), r)) {
          return raftstore::KeyNotInRegionError(req.start_key(), r);
        }
        storage::IterOptions io;
        io.lower_bound = req.start_key();
        io.upper_bound = req.end_key();
        if (!r.end_key().empty() && (req.end_key().empty() || r.end_key() < req.end_key())) {
          io.upper_bound = r.end_key();
        }
        std::unique_ptr<storage::Iterator> it = (*snap)->NewIterator(storage::CF::kDefault, io);
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          if (req.limit() != 0 && static_cast<uint64_t>(resp->kvs_size()) >= req.limit()) break;
          kvrpcpb::KvPair* p = resp->add_kvs();
          p->set_key(std::string(it->key()));
          p->set_value(std::string(it->value()));
        }
        if (!it->status().ok()) return it->status();
        *resp->mutable_region() = r;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;

  return RegisterKvMethod<kvrpcpb::SplitRegionRequest, kvrpcpb::SplitRegionResponse>(
      endpoint, kSplitRegionMethod,
      [c](const kvrpcpb::SplitRegionRequest& req, kvrpcpb::SplitRegionResponse*) -> absl::Status {
        absl::StatusOr<raftstore::Context> ctx = FromRpcContext(req.context());
        if (!ctx.ok()) return ctx.status();
        if (req.split_key().empty()) return absl::InvalidArgumentError("empty split key");
        std::optional<metapb::Region> region = c->store->GetRegion(ctx->region_id);
        if (!region.has_value()) return raftstore::RegionNotFoundError(ctx->region_id);
        if (region->start_key() == req.split_key()) return absl::OkStatus();
        if (region->region_epoch().version() != ctx->region_epoch.version()) {
          return raftstore::EpochNotMatchError("split of a changed region", {*region});
        }
        return c->store->SplitRegion(ctx->region_id, {req.split_key()});
      });
}

}  // namespace rutile::node
