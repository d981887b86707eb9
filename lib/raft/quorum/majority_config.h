// A majority configuration: a set of voter ids, of which more than half must agree.

#ifndef RUTILE_RAFT_QUORUM_MAJORITY_CONFIG_H_
#define RUTILE_RAFT_QUORUM_MAJORITY_CONFIG_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "raft/quorum/quorum.h"

namespace rutile::raft::quorum {

class MajorityConfig {
 public:
  MajorityConfig() = default;
  MajorityConfig(std::initializer_list<uint64_t> ids) : ids_(ids) {}
  explicit MajorityConfig(std::set<uint64_t> ids) : ids_(std::move(ids)) {}

  const std::set<uint64_t>& ids() const { return ids_; }
  std::set<uint64_t>& mutable_ids() { return ids_; }
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  bool contains(uint64_t id) const { return ids_.count(id) > 0; }

  // The largest index that a majority of voters has acknowledged: the ((n/2)+1)-th
  // highest acked index. Voters without an acked index count as 0. Returns kMaxIndex for
  // an empty configuration.
  // Performance-critical path (called on every MsgAppResp on the leader).
  Index CommittedIndex(const AckedIndexer& acked) const;

  // Won when a majority granted, Lost when a majority can no longer be reached, Pending
  // otherwise. An empty configuration wins (joint quorums rely on that).
  VoteResult GetVoteResult(const VoteMap& votes) const;

  // Sorted ids, e.g. "(1 2 3)".
  std::string String() const;
  // The ids in ascending order.
  std::vector<uint64_t> Slice() const { return {ids_.begin(), ids_.end()}; }

  bool operator==(const MajorityConfig& o) const { return ids_ == o.ids_; }

 private:
  std::set<uint64_t> ids_;
};

}  // namespace rutile::raft::quorum

#endif  // RUTILE_RAFT_QUORUM_MAJORITY_CONFIG_H_
