// LocalPd over RPC: the service (server side) and RemotePd (client side).

#include "node/pd_service.h"

#include <utility>

#include "localpdpb.pb.h"

namespace rutile::node {
namespace {

using localpdpb::Empty;

constexpr char kAllocId[] = "LocalPd.AllocId";
constexpr char kAskBatchSplit[] = "LocalPd.AskBatchSplit";
constexpr char kRegionHeartbeat[] = "LocalPd.RegionHeartbeat";
constexpr char kReportBatchSplit[] = "LocalPd.ReportBatchSplit";
constexpr char kStoreHeartbeat[] = "LocalPd.StoreHeartbeat";
constexpr char kPutStore[] = "LocalPd.PutStore";
constexpr char kReportRegion[] = "LocalPd.ReportRegion";
constexpr char kGetTimestamp[] = "LocalPd.GetTimestamp";
constexpr char kGetRegionByKey[] = "LocalPd.GetRegionByKey";
constexpr char kRegions[] = "LocalPd.Regions";
constexpr char kGetGcSafePoint[] = "LocalPd.GetGcSafePoint";
constexpr char kUpdateGcSafePoint[] = "LocalPd.UpdateGcSafePoint";

// Largest split a request may ask ids for: bounds the work a malformed request can cause.
constexpr uint32_t kMaxSplitCount = 1024;

template <typename Req, typename Resp, typename Fn>
absl::Status Register(transport::RpcEndpoint& endpoint, const char* method,
                      const std::shared_ptr<const void>& owner, Fn fn) {
  return transport::RegisterTypedMethod<Req, Resp>(
      endpoint, method,
      [weak = std::weak_ptr<const void>(owner), fn = std::move(fn)](
          const transport::RpcContext&, const Req& req) -> absl::StatusOr<Resp> {
        // Pinned only while serving, so a closed node's PD is not kept alive by its handlers.
        std::shared_ptr<const void> pinned = weak.lock();
        if (pinned == nullptr) return absl::UnavailableError("PD is closed");
        return fn(req);
      });
}

// The wire form of `op`; nullopt for kinds this protocol does not carry.
std::optional<localpdpb::RegionOperator> ToProto(const raftstore::RegionOperator& op) {
  localpdpb::RegionOperator out;
  switch (op.kind) {
    case raftstore::RegionOperator::Kind::kChangePeer:
      out.set_kind(localpdpb::RegionOperator::CHANGE_PEER);
      break;
    case raftstore::RegionOperator::Kind::kTransferLeader:
      out.set_kind(localpdpb::RegionOperator::TRANSFER_LEADER);
      break;
    case raftstore::RegionOperator::Kind::kSplit:
      out.set_kind(localpdpb::RegionOperator::SPLIT);
      break;
    default:
      return std::nullopt;  // Not carried over this stepping-stone protocol (merges).
  }
  for (const raft_cmdpb::ChangePeerRequest& c : op.changes) *out.add_changes() = c;
  *out.mutable_target() = op.target;
  for (const std::string& k : op.split_keys) out.add_split_keys(k);
  return out;
}

absl::StatusOr<raftstore::RegionOperator> FromProto(const localpdpb::RegionOperator& op) {
  raftstore::RegionOperator out;
  switch (op.kind()) {
    case localpdpb::RegionOperator::CHANGE_PEER:
      out.kind = raftstore::RegionOperator::Kind::kChangePeer;
      break;
    case localpdpb::RegionOperator::TRANSFER_LEADER:
      out.kind = raftstore::RegionOperator::Kind::kTransferLeader;
      break;
    case localpdpb::RegionOperator::SPLIT:
      out.kind = raftstore::RegionOperator::Kind::kSplit;
      break;
    default:
      return absl::DataLossError("operator of unknown kind");
  }
  out.changes.assign(op.changes().begin(), op.changes().end());
  out.target = op.target();
  out.split_keys.assign(op.split_keys().begin(), op.split_keys().end());
  return out;
}

}  // namespace

absl::Status RegisterLocalPdService(transport::RpcEndpoint& endpoint, LocalPd* pd,
                                    std::shared_ptr<const void> owner) {
  if (pd == nullptr) return absl::InvalidArgumentError("no PD to serve");
  absl::Status s = Register<Empty, localpdpb::AllocIdResponse>(
      endpoint, kAllocId, owner, [pd](const Empty&) -> absl::StatusOr<localpdpb::AllocIdResponse> {
        absl::StatusOr<uint64_t> id = pd->AllocId();
        if (!id.ok()) return id.status();
        localpdpb::AllocIdResponse r;
        r.set_id(*id);
        return r;
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::AskBatchSplitRequest, localpdpb::AskBatchSplitResponse>(
      endpoint, kAskBatchSplit, owner,
      [pd](const localpdpb::AskBatchSplitRequest& req)
          -> absl::StatusOr<localpdpb::AskBatchSplitResponse> {
        if (req.region().id() == 0 || req.count() == 0 || req.count() > kMaxSplitCount) {
          return absl::InvalidArgumentError("split ids asked for no region or a bad count");
        }
        absl::StatusOr<std::vector<raftstore::SplitIds>> ids =
            pd->AskBatchSplit(req.region(), req.count());
        if (!ids.ok()) return ids.status();
        localpdpb::AskBatchSplitResponse r;
        for (const raftstore::SplitIds& i : *ids) {
          localpdpb::SplitIds* o = r.add_ids();
          o->set_new_region_id(i.new_region_id);
          for (uint64_t p : i.new_peer_ids) o->add_new_peer_ids(p);
        }
        return r;
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::RegionHeartbeatRequest, localpdpb::RegionHeartbeatResponse>(
      endpoint, kRegionHeartbeat, owner,
      [pd](const localpdpb::RegionHeartbeatRequest& req)
          -> absl::StatusOr<localpdpb::RegionHeartbeatResponse> {
        if (req.region().id() == 0) return absl::InvalidArgumentError("heartbeat of no region");
        raftstore::RegionStats stats;
        stats.approximate_size = req.approximate_size();
        stats.approximate_keys = req.approximate_keys();
        stats.written_bytes = req.written_bytes();
        stats.written_keys = req.written_keys();
        stats.pending_peers.assign(req.pending_peers().begin(), req.pending_peers().end());
        absl::StatusOr<std::optional<raftstore::RegionOperator>> op =
            pd->RegionHeartbeat(req.region(), req.leader(), stats);
        if (!op.ok()) return op.status();
        localpdpb::RegionHeartbeatResponse r;
        if (op->has_value()) {
          std::optional<localpdpb::RegionOperator> wire = ToProto(**op);
          if (wire.has_value()) *r.mutable_operator_() = std::move(*wire);
        }
        return r;
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::ReportBatchSplitRequest, Empty>(
      endpoint, kReportBatchSplit, owner,
      [pd](const localpdpb::ReportBatchSplitRequest& req) -> absl::StatusOr<Empty> {
        for (const metapb::Region& r : req.regions()) {
          if (r.id() == 0) return absl::InvalidArgumentError("split report of no region");
        }
        absl::Status st = pd->ReportBatchSplit({req.regions().begin(), req.regions().end()});
        if (!st.ok()) return st;
        return Empty();
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::StoreHeartbeatRequest, Empty>(
      endpoint, kStoreHeartbeat, owner,
      [pd](const localpdpb::StoreHeartbeatRequest& req) -> absl::StatusOr<Empty> {
        if (req.store_id() == 0) return absl::InvalidArgumentError("heartbeat of no store");
        raftstore::StoreStats stats;
        stats.store_id = req.store_id();
        stats.region_count = req.region_count();
        stats.leader_count = req.leader_count();
        stats.used_bytes = req.used_bytes();
        absl::Status st = pd->StoreHeartbeat(stats);
        if (!st.ok()) return st;
        return Empty();
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::PutStoreRequest, Empty>(
      endpoint, kPutStore, owner,
      [pd](const localpdpb::PutStoreRequest& req) -> absl::StatusOr<Empty> {
        if (req.store_id() == 0) return absl::InvalidArgumentError("store id 0");
        absl::Status st = pd->PutStore(req.store_id());
        if (!st.ok()) return st;
        return Empty();
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::ReportRegionRequest, Empty>(
      endpoint, kReportRegion, owner,
      [pd](const localpdpb::ReportRegionRequest& req) -> absl::StatusOr<Empty> {
        if (req.region().id() == 0) return absl::InvalidArgumentError("report of no region");
        pd->ReportRegion(req.region());
        return Empty();
      });
  if (!s.ok()) return s;
  s = Register<Empty, localpdpb::GetTimestampResponse>(
      endpoint, kGetTimestamp, owner,
      [pd](const Empty&) -> absl::StatusOr<localpdpb::GetTimestampResponse> {
        absl::StatusOr<uint64_t> ts = pd->GetTimestamp();
        if (!ts.ok()) return ts.status();
        localpdpb::GetTimestampResponse r;
        r.set_timestamp(*ts);
        return r;
      });
  if (!s.ok()) return s;
  s = Register<localpdpb::GetRegionByKeyRequest, localpdpb::RegionRoute>(
      endpoint, kGetRegionByKey, owner,
      [pd](const localpdpb::GetRegionByKeyRequest& req) -> absl::StatusOr<localpdpb::RegionRoute> {
        absl::StatusOr<LocalPd::RegionRoute> route = pd->GetRegionByKey(req.key());
        if (!route.ok()) return route.status();
        localpdpb::RegionRoute r;
        *r.mutable_region() = route->region;
        *r.mutable_leader() = route->leader;
        return r;
      });
  if (!s.ok()) return s;
  s = Register<Empty, localpdpb::RegionsResponse>(
      endpoint, kRegions, owner, [pd](const Empty&) -> absl::StatusOr<localpdpb::RegionsResponse> {
        localpdpb::RegionsResponse r;
        absl::StatusOr<std::vector<LocalPd::RegionRoute>> routes = pd->Regions();
        if (!routes.ok()) return routes.status();
        for (const LocalPd::RegionRoute& route : *routes) {
          localpdpb::RegionRoute* o = r.add_regions();
          *o->mutable_region() = route.region;
          *o->mutable_leader() = route.leader;
        }
        return r;
      });
  if (!s.ok()) return s;
  s = Register<Empty, localpdpb::GcSafePoint>(
      endpoint, kGetGcSafePoint, owner,
      [pd](const Empty&) -> absl::StatusOr<localpdpb::GcSafePoint> {
        absl::StatusOr<uint64_t> sp = pd->GetGcSafePoint();
        if (!sp.ok()) return sp.status();
        localpdpb::GcSafePoint r;
        r.set_safe_point(*sp);
        return r;
      });
  if (!s.ok()) return s;
  return Register<localpdpb::GcSafePoint, localpdpb::GcSafePoint>(
      endpoint, kUpdateGcSafePoint, owner,
      [pd](const localpdpb::GcSafePoint& req) -> absl::StatusOr<localpdpb::GcSafePoint> {
        absl::StatusOr<uint64_t> sp = pd->UpdateGcSafePoint(req.safe_point());
        if (!sp.ok()) return sp.status();
        localpdpb::GcSafePoint r;
        r.set_safe_point(*sp);
        return r;
      });
}

RemotePd::RemotePd(transport::RpcEndpoint* endpoint, NodeId pd_node, uint64_t timeout_micros)
    : endpoint_(endpoint), pd_node_(pd_node), timeout_micros_(timeout_micros) {}

absl::StatusOr<uint64_t> RemotePd::AllocId() {
  absl::StatusOr<localpdpb::AllocIdResponse> r = transport::CallTyped<localpdpb::AllocIdResponse>(
      *endpoint_, pd_node_, kAllocId, Empty(), timeout_micros_);
  if (!r.ok()) return r.status();
  return r->id();
}

absl::StatusOr<std::vector<raftstore::SplitIds>> RemotePd::AskBatchSplit(
    const metapb::Region& region, size_t count) {
  localpdpb::AskBatchSplitRequest req;
  *req.mutable_region() = region;
  req.set_count(static_cast<uint32_t>(count));
  absl::StatusOr<localpdpb::AskBatchSplitResponse> r =
      transport::CallTyped<localpdpb::AskBatchSplitResponse>(*endpoint_, pd_node_, kAskBatchSplit,
                                                             req, timeout_micros_);
  if (!r.ok()) return r.status();
  if (static_cast<size_t>(r->ids_size()) != count) {
    return absl::DataLossError("PD answered a split with the wrong number of ids");
  }
  std::vector<raftstore::SplitIds> out;
  for (const localpdpb::SplitIds& i : r->ids()) {
    raftstore::SplitIds s;
    s.new_region_id = i.new_region_id();
    s.new_peer_ids.assign(i.new_peer_ids().begin(), i.new_peer_ids().end());
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::optional<raftstore::RegionOperator>> RemotePd::RegionHeartbeat(
    const metapb::Region& region, const metapb::Peer& leader, const raftstore::RegionStats& stats) {
  localpdpb::RegionHeartbeatRequest req;
  *req.mutable_region() = region;
  *req.mutable_leader() = leader;
  req.set_approximate_size(stats.approximate_size);
  req.set_approximate_keys(stats.approximate_keys);
  req.set_written_bytes(stats.written_bytes);
  req.set_written_keys(stats.written_keys);
  for (const metapb::Peer& p : stats.pending_peers) *req.add_pending_peers() = p;
  absl::StatusOr<localpdpb::RegionHeartbeatResponse> r =
      transport::CallTyped<localpdpb::RegionHeartbeatResponse>(
          *endpoint_, pd_node_, kRegionHeartbeat, req, timeout_micros_);
  if (!r.ok()) return r.status();
  if (!r->has_operator_()) return std::optional<raftstore::RegionOperator>();
  absl::StatusOr<raftstore::RegionOperator> op = FromProto(r->operator_());
  if (!op.ok()) return op.status();
  return std::optional<raftstore::RegionOperator>(std::move(*op));
}

absl::Status RemotePd::ReportBatchSplit(const std::vector<metapb::Region>& regions) {
  localpdpb::ReportBatchSplitRequest req;
  for (const metapb::Region& r : regions) *req.add_regions() = r;
  return transport::CallTyped<Empty>(*endpoint_, pd_node_, kReportBatchSplit, req, timeout_micros_)
      .status();
}

absl::Status RemotePd::StoreHeartbeat(const raftstore::StoreStats& stats) {
  localpdpb::StoreHeartbeatRequest req;
  req.set_store_id(stats.store_id);
  req.set_region_count(stats.region_count);
  req.set_leader_count(stats.leader_count);
  req.set_used_bytes(stats.used_bytes);
  return transport::CallTyped<Empty>(*endpoint_, pd_node_, kStoreHeartbeat, req, timeout_micros_)
      .status();
}

absl::Status RemotePd::PutStore(uint64_t store_id) {
  localpdpb::PutStoreRequest req;
  req.set_store_id(store_id);
  return transport::CallTyped<Empty>(*endpoint_, pd_node_, kPutStore, req, timeout_micros_)
      .status();
}

absl::Status RemotePd::ReportRegion(const metapb::Region& region) {
  localpdpb::ReportRegionRequest req;
  *req.mutable_region() = region;
  return transport::CallTyped<Empty>(*endpoint_, pd_node_, kReportRegion, req, timeout_micros_)
      .status();
}

absl::StatusOr<uint64_t> RemotePd::GetTimestamp() {
  absl::StatusOr<localpdpb::GetTimestampResponse> r =
      transport::CallTyped<localpdpb::GetTimestampResponse>(*endpoint_, pd_node_, kGetTimestamp,
                                                            Empty(), timeout_micros_);
  if (!r.ok()) return r.status();
  return r->timestamp();
}

absl::StatusOr<LocalPd::RegionRoute> RemotePd::GetRegionByKey(const std::string& key) {
  localpdpb::GetRegionByKeyRequest req;
  req.set_key(key);
  absl::StatusOr<localpdpb::RegionRoute> r = transport::CallTyped<localpdpb::RegionRoute>(
      *endpoint_, pd_node_, kGetRegionByKey, req, timeout_micros_);
  if (!r.ok()) return r.status();
  return LocalPd::RegionRoute{r->region(), r->leader()};
}

absl::StatusOr<std::vector<LocalPd::RegionRoute>> RemotePd::Regions() {
  absl::StatusOr<localpdpb::RegionsResponse> r = transport::CallTyped<localpdpb::RegionsResponse>(
      *endpoint_, pd_node_, kRegions, Empty(), timeout_micros_);
  if (!r.ok()) return r.status();
  std::vector<LocalPd::RegionRoute> out;
  for (const localpdpb::RegionRoute& route : r->regions()) {
    out.push_back({route.region(), route.leader()});
  }
  return out;
}

absl::StatusOr<uint64_t> RemotePd::GetGcSafePoint() {
  absl::StatusOr<localpdpb::GcSafePoint> r = transport::CallTyped<localpdpb::GcSafePoint>(
      *endpoint_, pd_node_, kGetGcSafePoint, Empty(), timeout_micros_);
  if (!r.ok()) return r.status();
  return r->safe_point();
}

absl::StatusOr<uint64_t> RemotePd::UpdateGcSafePoint(uint64_t safe_point) {
  localpdpb::GcSafePoint req;
  req.set_safe_point(safe_point);
  absl::StatusOr<localpdpb::GcSafePoint> r = transport::CallTyped<localpdpb::GcSafePoint>(
      *endpoint_, pd_node_, kUpdateGcSafePoint, req, timeout_micros_);
  if (!r.ok()) return r.status();
  return r->safe_point();
}

}  // namespace rutile::node
