// Typed region errors of raftstore (TiKV's errorpb). Each is an absl::Status whose
// payload (type URL kRegionErrorPayloadUrl) is a serialized raft_cmdpb.Error carrying the
// data a caller needs to react: the leader to retry at, the regions to refresh its cache
// with. The code alone says whether to retry (DESIGN.md §13):
//
//   NotLeader{region_id, leader}     Unavailable         retry at `leader` (or find one)
//   EpochNotMatch{current regions}   FailedPrecondition  refresh the region cache, retry
//   RegionNotFound{region_id}        NotFound            the store has no such peer
//   KeyNotInRegion{key, region}      OutOfRange          refresh the region cache, retry
//   ServerIsBusy{reason}             Unavailable         back off, retry
//   StaleCommand                     Unavailable         the proposal lost its term; retry
//   ProposalInMergingMode{region_id} Unavailable         the region is being merged away
//                                                        (or rolling back): refresh, retry
//
// Thread safety: pure functions.

#ifndef RUTILE_RAFTSTORE_ERRORS_H_
#define RUTILE_RAFTSTORE_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "metapb.pb.h"
#include "raft_cmdpb.pb.h"

namespace rutile::raftstore {

inline constexpr char kRegionErrorPayloadUrl[] = "type.rutile.dev/rutile.raft_cmdpb.Error";

absl::Status NotLeaderError(uint64_t region_id, const metapb::Peer* leader);
absl::Status EpochNotMatchError(std::string_view message,
                                const std::vector<metapb::Region>& current_regions);
absl::Status RegionNotFoundError(uint64_t region_id);
absl::Status KeyNotInRegionError(std::string_view key, const metapb::Region& region);
absl::Status ServerIsBusyError(std::string_view reason);
absl::Status StaleCommandError();
absl::Status ProposalInMergingModeError(uint64_t region_id);

// The region error carried by `status`, if any.
std::optional<raft_cmdpb::Error> GetRegionError(const absl::Status& status);

// Convenience predicates on GetRegionError(status)->kind_case().
bool IsNotLeader(const absl::Status& status);
bool IsEpochNotMatch(const absl::Status& status);
bool IsRegionNotFound(const absl::Status& status);
bool IsKeyNotInRegion(const absl::Status& status);
bool IsServerIsBusy(const absl::Status& status);
bool IsStaleCommand(const absl::Status& status);
bool IsProposalInMergingMode(const absl::Status& status);

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_ERRORS_H_
