// Changer computes the configuration (and progress map) that results from applying
// configuration changes to the current one, validating the result. It never mutates the
// tracker it reads: callers install the result with ProgressTracker::Reset.
//
// Three transitions exist (Raft thesis §4.3 and etcd-raft's joint consensus):
//   Simple     at most one voter added or removed; any number of learner changes.
//   EnterJoint the current voters become the outgoing half, the changes apply to the
//              incoming half; both halves must agree until LeaveJoint.
//   LeaveJoint drops the outgoing half; demoted voters become learners.

#ifndef RUTILE_RAFT_CONFCHANGE_CHANGER_H_
#define RUTILE_RAFT_CONFCHANGE_CHANGER_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "raft.pb.h"
#include "raft/tracker/progress_tracker.h"

namespace rutile::raft::confchange {

using Result = std::pair<tracker::Config, tracker::ProgressMap>;

class Changer {
 public:
  // `tracker` is read, not modified. New members start probing at `last_index`.
  Changer(const tracker::ProgressTracker& tracker, uint64_t last_index)
      : tracker_(tracker), last_index_(last_index) {}

  // Errors (kFailedPrecondition): already joint; zero voters; all voters removed.
  absl::StatusOr<Result> EnterJoint(bool auto_leave,
                                    const std::vector<ConfChangeSingle>& ccs) const;

  // Errors: not in a joint configuration.
  absl::StatusOr<Result> LeaveJoint() const;

  // Errors: in a joint configuration; more than one voter changed; all voters removed.
  absl::StatusOr<Result> Simple(const std::vector<ConfChangeSingle>& ccs) const;

 private:
  absl::StatusOr<Result> CheckAndCopy() const;
  absl::Status Apply(Result* r, const std::vector<ConfChangeSingle>& ccs) const;
  void MakeVoter(Result* r, uint64_t id) const;
  void MakeLearner(Result* r, uint64_t id) const;
  void Remove(Result* r, uint64_t id) const;
  void InitProgress(Result* r, uint64_t id, bool is_learner) const;

  const tracker::ProgressTracker& tracker_;
  uint64_t last_index_;
};

// Checks the invariants of a configuration and its progress map: every member has a
// progress entry with the right learner flag, learners are disjoint from voters,
// learners_next only holds outgoing voters, and a non-joint config has no learners_next
// and no auto_leave.
absl::Status CheckInvariants(const tracker::Config& cfg, const tracker::ProgressMap& prs);

}  // namespace rutile::raft::confchange

#endif  // RUTILE_RAFT_CONFCHANGE_CHANGER_H_
