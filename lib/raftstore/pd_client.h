// What raftstore needs from the placement driver. The real PD client (lib/pd) will
// implement this; tests use an in-memory one (tests/raftstore/mock_pd.h).
//
// Calls may block (an RPC) and run on the store's background fibers, never on a poller.
// Thread safety: implementations must accept calls from many fibers at once.

#ifndef RUTILE_RAFTSTORE_PD_CLIENT_H_
#define RUTILE_RAFTSTORE_PD_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "raft_cmdpb.pb.h"

namespace rutile::raftstore {

// Ids for one new region of a batch split: the region and one peer per peer of the
// parent, in the parent's peer order.
struct SplitIds {
  uint64_t new_region_id = 0;
  std::vector<uint64_t> new_peer_ids;
};

// What a region leader reports.
struct RegionStats {
  uint64_t approximate_size = 0;
  uint64_t approximate_keys = 0;
  uint64_t written_bytes = 0;
  uint64_t written_keys = 0;
  // Peers that have not caught up with the leader's log.
  std::vector<metapb::Peer> pending_peers;
};

// An instruction PD hands back in a heartbeat reply.
struct RegionOperator {
  enum class Kind { kChangePeer, kTransferLeader, kSplit, kMerge };
  Kind kind = Kind::kChangePeer;
  // kChangePeer: one change is simple, several go through a joint configuration.
  std::vector<raft_cmdpb::ChangePeerRequest> changes;
  // kTransferLeader.
  metapb::Peer target;
  // kSplit: split keys; empty asks the store to pick the middle key.
  std::vector<std::string> split_keys;
  // kMerge, handed to the SOURCE region's leader: the adjacent region to merge into, as PD
  // sees it. Source and target must have peers on the same stores; the merge is refused
  // (and PD should retry later) when the target's epoch no longer matches, a conf change
  // is pending, or a source peer lags too far behind (Store::MergeRegion).
  metapb::Region merge_target;
};

struct StoreStats {
  uint64_t store_id = 0;
  uint64_t region_count = 0;
  uint64_t leader_count = 0;
  uint64_t used_bytes = 0;
};

class PdClient {
 public:
  virtual ~PdClient() = default;

  // A cluster-unique id (regions and peers share the space).
  virtual absl::StatusOr<uint64_t> AllocId() = 0;

  // Ids for `count` new regions split from `region`.
  virtual absl::StatusOr<std::vector<SplitIds>> AskBatchSplit(const metapb::Region& region,
                                                              size_t count) = 0;

  // Reports a region from its leader; may return an operator to carry out.
  virtual absl::StatusOr<std::optional<RegionOperator>> RegionHeartbeat(
      const metapb::Region& region, const metapb::Peer& leader, const RegionStats& stats) = 0;

  // Reports the regions a split produced (the parent and the new ones), from the leader.
  virtual absl::Status ReportBatchSplit(const std::vector<metapb::Region>& regions) = 0;

  virtual absl::Status StoreHeartbeat(const StoreStats& stats) = 0;
};

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_PD_CLIENT_H_
