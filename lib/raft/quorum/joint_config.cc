#include "raft/quorum/joint_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rutile::raft::quorum {

std::set<uint64_t> JointConfig::IDs() const {
  std::set<uint64_t> ids = incoming_.ids();
  ids.insert(outgoing_.ids().begin(), outgoing_.ids().end());
  return ids;
}

Index JointConfig::CommittedIndex(const AckedIndexer& acked) const {
  Index in = incoming_.CommittedIndex(acked);
  Index out = outgoing_.CommittedIndex(acked);
  return std::min(in, out);
}

VoteResult JointConfig::GetVoteResult(const VoteMap& votes) const {
  VoteResult r1 = incoming_.GetVoteResult(votes);
  VoteResult r2 = outgoing_.GetVoteResult(votes);
  if (r1 == r2) return r1;
  if (r1 == VoteResult::kLost || r2 == VoteResult::kLost) return VoteResult::kLost;
  // One is Won and the other Pending.
  return VoteResult::kPending;
}

std::string JointConfig::String() const {
  if (outgoing_.empty()) return incoming_.String();
  return absl::StrCat(incoming_.String(), "&&", outgoing_.String());
}

}  // namespace rutile::raft::quorum
