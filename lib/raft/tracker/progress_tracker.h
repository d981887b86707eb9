// ProgressTracker holds the group's current configuration (voters as a joint quorum,
// learners) together with the leader's Progress for every member and the votes of the
// current election. It answers the quorum questions Raft asks: what is committed, who
// won, is a quorum recently active. Not thread-safe; owned by one Raft instance.

#ifndef RUTILE_RAFT_TRACKER_PROGRESS_TRACKER_H_
#define RUTILE_RAFT_TRACKER_PROGRESS_TRACKER_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "raft.pb.h"
#include "raft/quorum/joint_config.h"
#include "raft/tracker/progress.h"

namespace rutile::raft::tracker {

// A Raft group's membership.
struct Config {
  quorum::JointConfig voters;
  // In a joint config, leave it automatically once the joint entry is applied.
  bool auto_leave = false;
  // Learners receive the log but do not vote. Never overlaps voters.
  std::set<uint64_t> learners;
  // Voters being demoted: in voters.outgoing() now, learners after leaving the joint
  // config. Kept apart from learners so the two sets never intersect.
  std::set<uint64_t> learners_next;

  // e.g. "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave".
  std::string String() const;
  bool operator==(const Config& o) const {
    return voters == o.voters && auto_leave == o.auto_leave && learners == o.learners &&
           learners_next == o.learners_next;
  }
};

class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  const Config& config() const { return config_; }
  const ProgressMap& progress() const { return progress_; }
  ProgressMap& mutable_progress() { return progress_; }
  size_t max_inflight() const { return max_inflight_; }
  uint64_t max_inflight_bytes() const { return max_inflight_bytes_; }

  // Installs a configuration and progress map produced by confchange::Changer.
  void Reset(Config config, ProgressMap progress) {
    config_ = std::move(config);
    progress_ = std::move(progress);
  }

  // Returns nullptr when `id` is not a member.
  Progress* Get(uint64_t id) {
    auto it = progress_.find(id);
    return it == progress_.end() ? nullptr : &it->second;
  }

  ConfState GetConfState() const;

  // True for a configuration of exactly one voter and no joint state.
  bool IsSingleton() const {
    return config_.voters.incoming().size() == 1 && !config_.voters.joint();
  }

  // The largest index acknowledged by a (joint) quorum of voters.
  uint64_t Committed() const;

  // Calls f for each member in ascending id order.
  void Visit(const std::function<void(uint64_t id, Progress& pr)>& f);

  // True when the voters marked recent_active form a quorum (learners do not count).
  bool QuorumActive() const;

  std::vector<uint64_t> VoterNodes() const;
  std::vector<uint64_t> LearnerNodes() const;

  void ResetVotes() { votes_.clear(); }
  // Records a vote; a later vote from the same id is ignored.
  void RecordVote(uint64_t id, bool granted) { votes_.emplace(id, granted); }
  // Counts granted and rejected votes and returns the outcome of the election.
  quorum::VoteResult TallyVotes(int* granted, int* rejected) const;

 private:
  Config config_;
  ProgressMap progress_;
  quorum::VoteMap votes_;
  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
};

}  // namespace rutile::raft::tracker

#endif  // RUTILE_RAFT_TRACKER_PROGRESS_TRACKER_H_
