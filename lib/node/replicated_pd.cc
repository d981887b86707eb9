#include "node/replicated_pd.h"

#include <utility>

namespace rutile::node {

raftstore::RegionOperator FromPdpb(const pdpb::RegionOperator& op) {
  raftstore::RegionOperator out;
  switch (op.kind()) {
    case pdpb::RegionOperator::TRANSFER_LEADER:
      out.kind = raftstore::RegionOperator::Kind::kTransferLeader;
      out.target = op.target();
      break;
    case pdpb::RegionOperator::SPLIT:
      out.kind = raftstore::RegionOperator::Kind::kSplit;
      out.split_keys.assign(op.split_keys().begin(), op.split_keys().end());
      break;
    case pdpb::RegionOperator::MERGE:
      out.kind = raftstore::RegionOperator::Kind::kMerge;
      out.merge_target = op.merge_target();
      break;
    default:
      out.kind = raftstore::RegionOperator::Kind::kChangePeer;
      out.changes.assign(op.changes().begin(), op.changes().end());
      break;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ReplicatedPd>> ReplicatedPd::Open(
    Env* env, storage::Engine* engine, transport::RpcEndpoint* endpoint,
    const ReplicatedPdOptions& options) {
  if (options.members.empty()) return absl::InvalidArgumentError("no PD members");
  std::unique_ptr<ReplicatedPd> pd(new ReplicatedPd());
  for (uint64_t m : options.members) {
    if (m != options.self_id) continue;
    if (engine == nullptr) return absl::InvalidArgumentError("a PD member needs an engine");
    pd::PdServerOptions so = options.server;
    so.member_id = options.self_id;
    so.members = options.members;
    so.env = env;
    so.engine = engine;
    so.endpoint = endpoint;
    absl::StatusOr<std::unique_ptr<pd::PdServer>> s = pd::PdServer::Start(so);
    if (!s.ok()) return s.status();
    pd->server_ = std::move(*s);
  }
  pd->client_ = std::make_unique<pd::Client>(env, endpoint, options.members, options.client);
  return pd;
}

ReplicatedPd::~ReplicatedPd() = default;

void ReplicatedPd::Close() {
  if (client_ != nullptr) client_->Close();
  if (server_ != nullptr) server_->Stop();
}

void ReplicatedPd::Abandon() {
  if (client_ != nullptr) client_->Abandon();
  server_.reset();  // ~PdServer stops the member without waiting.
}

absl::StatusOr<uint64_t> ReplicatedPd::AllocId() { return client_->AllocIds(1); }

absl::StatusOr<std::vector<raftstore::SplitIds>> ReplicatedPd::AskBatchSplit(
    const metapb::Region& region, size_t count) {
  const uint64_t per = 1 + region.peers_size();
  absl::StatusOr<uint64_t> first = client_->AllocIds(per * count);
  if (!first.ok()) return first.status();
  std::vector<raftstore::SplitIds> out(count);
  for (size_t i = 0; i < count; ++i) {
    uint64_t base = *first + i * per;
    out[i].new_region_id = base;
    for (int p = 0; p < region.peers_size(); ++p) out[i].new_peer_ids.push_back(base + 1 + p);
  }
  return out;
}

absl::StatusOr<std::optional<raftstore::RegionOperator>> ReplicatedPd::RegionHeartbeat(
    const metapb::Region& region, const metapb::Peer& leader, const raftstore::RegionStats& stats) {
  pdpb::RegionHeartbeatRequest req;
  *req.mutable_region() = region;
  *req.mutable_leader() = leader;
  req.set_approximate_size(stats.approximate_size);
  req.set_approximate_keys(stats.approximate_keys);
  req.set_written_bytes(stats.written_bytes);
  req.set_written_keys(stats.written_keys);
  for (const metapb::Peer& p : stats.pending_peers) *req.add_pending_peers() = p;
  absl::StatusOr<pdpb::RegionHeartbeatResponse> r = client_->RegionHeartbeat(req);
  if (!r.ok()) {
    // Stale heartbeats are normal after a split.
    if (absl::IsFailedPrecondition(r.status())) return std::nullopt;
    return r.status();
  }
  if (!r->has_operator()) return std::nullopt;
  return FromPdpb(r->operator_());
}

absl::Status ReplicatedPd::ReportBatchSplit(const std::vector<metapb::Region>& regions) {
  return client_->ReportRegions(regions);
}

absl::Status ReplicatedPd::StoreHeartbeat(const raftstore::StoreStats& stats) {
  pdpb::StoreHeartbeatRequest req;
  req.set_store_id(stats.store_id);
  req.set_region_count(stats.region_count);
  req.set_leader_count(stats.leader_count);
  req.set_used_bytes(stats.used_bytes);
  return client_->StoreHeartbeat(req);
}

absl::Status ReplicatedPd::PutStore(uint64_t store_id) {
  metapb::Store s;
  s.set_id(store_id);
  s.set_node_id(store_id);
  return client_->PutStore(s);
}

absl::Status ReplicatedPd::ReportRegion(const metapb::Region& region) {
  return client_->ReportRegions({region});
}

absl::StatusOr<uint64_t> ReplicatedPd::GetTimestamp() { return client_->GetTimestamp(); }

absl::StatusOr<PdApi::RegionRoute> ReplicatedPd::GetRegionByKey(const std::string& key) {
  absl::StatusOr<std::optional<pdpb::RegionRoute>> r = client_->GetRegionByKey(key);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return absl::NotFoundError("no region known for key");
  return RegionRoute{(*r)->region(), (*r)->leader()};
}

absl::StatusOr<std::vector<PdApi::RegionRoute>> ReplicatedPd::Regions() {
  absl::StatusOr<std::vector<pdpb::RegionRoute>> r = client_->ScanRegions("", "", 0);
  if (!r.ok()) return r.status();
  std::vector<RegionRoute> out;
  for (const pdpb::RegionRoute& route : *r) out.push_back({route.region(), route.leader()});
  return out;
}

absl::Status ReplicatedPd::SetSchedulingEnabled(bool enabled) {
  return client_->SetSchedulingEnabled(enabled);
}

absl::StatusOr<std::string> ReplicatedPd::AdminExecute(std::string_view command_line) {
  return client_->Admin(command_line);
}

absl::StatusOr<uint64_t> ReplicatedPd::GetGcSafePoint() { return client_->GetGcSafePoint(); }

absl::StatusOr<uint64_t> ReplicatedPd::UpdateGcSafePoint(uint64_t safe_point) {
  return client_->UpdateGcSafePoint(safe_point);
}

}  // namespace rutile::node
