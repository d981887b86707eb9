// A joint configuration: two majority configurations (incoming and outgoing) that must
// both agree. Outside of a joint transition the outgoing half is empty and the joint
// configuration behaves exactly like its incoming majority.

#ifndef RUTILE_RAFT_QUORUM_JOINT_CONFIG_H_
#define RUTILE_RAFT_QUORUM_JOINT_CONFIG_H_

#include <set>
#include <string>

#include "raft/quorum/majority_config.h"

namespace rutile::raft::quorum {

class JointConfig {
 public:
  JointConfig() = default;
  JointConfig(MajorityConfig incoming, MajorityConfig outgoing)
      : incoming_(std::move(incoming)), outgoing_(std::move(outgoing)) {}

  const MajorityConfig& incoming() const { return incoming_; }
  const MajorityConfig& outgoing() const { return outgoing_; }
  MajorityConfig& mutable_incoming() { return incoming_; }
  MajorityConfig& mutable_outgoing() { return outgoing_; }
  bool joint() const { return !outgoing_.empty(); }

  // Union of both halves.
  std::set<uint64_t> IDs() const;
  bool contains(uint64_t id) const { return incoming_.contains(id) || outgoing_.contains(id); }

  // The minimum of the two halves' committed indexes.
  Index CommittedIndex(const AckedIndexer& acked) const;

  // Won only if both halves won, Lost if either lost, Pending otherwise.
  VoteResult GetVoteResult(const VoteMap& votes) const;

  // "(1 2 3)" or "(1 2 3)&&(1 2 4)".
  std::string String() const;

  bool operator==(const JointConfig& o) const {
    return incoming_ == o.incoming_ && outgoing_ == o.outgoing_;
  }

 private:
  MajorityConfig incoming_;
  MajorityConfig outgoing_;
};

}  // namespace rutile::raft::quorum

#endif  // RUTILE_RAFT_QUORUM_JOINT_CONFIG_H_
