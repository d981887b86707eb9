// The node-hosted PD over RPC (lib/proto/localpdpb.proto): RegisterLocalPdService serves a
// LocalPd on the hosting node's RpcEndpoint, and RemotePd is its client, for store nodes
// and raw KV clients in other processes (or on other node ids of the same Transport).
//
// STEPPING STONE, like LocalPd itself: one PD in one process, so while that process is
// down nothing can allocate ids, split, or look up a region that is not cached. The
// replicated PD with its own client replaces both classes; RemotePd has LocalPd's shape
// (raftstore::PdClient plus the calls Node and RawKvClient make) so the swap stays local.
//
// Every RemotePd call is one RPC with a timeout and no retry: raftstore's heartbeat and
// split loops already retry, and the raw KV client backs off on failures.
//
// Thread safety: both sides accept calls from many fibers at once.

#ifndef RUTILE_NODE_PD_SERVICE_H_
#define RUTILE_NODE_PD_SERVICE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "node/local_pd.h"
#include "raftstore/pd_client.h"
#include "transport/rpc.h"

namespace rutile::node {

// Serves `pd` on `endpoint`. `owner` keeps `pd` alive: each request pins it while it runs
// and answers Unavailable once it is gone.
absl::Status RegisterLocalPdService(transport::RpcEndpoint& endpoint, LocalPd* pd,
                                    std::shared_ptr<const void> owner);

class RemotePd final : public raftstore::PdClient {
 public:
  // Calls node `pd_node` through `endpoint` (which must outlive this object), each call
  // waiting at most `timeout_micros`.
  RemotePd(transport::RpcEndpoint* endpoint, NodeId pd_node, uint64_t timeout_micros = 3'000'000);

  // raftstore::PdClient.
  absl::StatusOr<uint64_t> AllocId() override;
  absl::StatusOr<std::vector<raftstore::SplitIds>> AskBatchSplit(const metapb::Region& region,
                                                                 size_t count) override;
  absl::StatusOr<std::optional<raftstore::RegionOperator>> RegionHeartbeat(
      const metapb::Region& region, const metapb::Peer& leader,
      const raftstore::RegionStats& stats) override;
  absl::Status ReportBatchSplit(const std::vector<metapb::Region>& regions) override;
  absl::Status StoreHeartbeat(const raftstore::StoreStats& stats) override;

  // LocalPd's other calls.
  absl::Status PutStore(uint64_t store_id);
  absl::Status ReportRegion(const metapb::Region& region);
  absl::StatusOr<uint64_t> GetTimestamp();
  absl::StatusOr<LocalPd::RegionRoute> GetRegionByKey(const std::string& key);
  absl::StatusOr<std::vector<LocalPd::RegionRoute>> Regions();
  absl::StatusOr<uint64_t> GetGcSafePoint();
  absl::StatusOr<uint64_t> UpdateGcSafePoint(uint64_t safe_point);

  NodeId pd_node() const { return pd_node_; }

 private:
  transport::RpcEndpoint* const endpoint_;
  const NodeId pd_node_;
  const uint64_t timeout_micros_;
};

}  // namespace rutile::node

#endif  // RUTILE_NODE_PD_SERVICE_H_
