#include "raft/tracker/progress_tracker.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::raft::tracker {

std::string Config::String() const {
  std::string s = absl::StrCat("voters=", voters.String());
  if (!learners.empty()) {
    absl::StrAppend(&s, " learners=(", absl::StrJoin(learners, " "), ")");
  }
  if (!learners_next.empty()) {
    absl::StrAppend(&s, " learners_next=(", absl::StrJoin(learners_next, " "), ")");
  }
  if (auto_leave) absl::StrAppend(&s, " autoleave");
  return s;
}

ConfState ProgressTracker::GetConfState() const {
  ConfState cs;
  for (uint64_t id : config_.voters.incoming().ids()) cs.add_voters(id);
  for (uint64_t id : config_.voters.outgoing().ids()) cs.add_voters_outgoing(id);
  for (uint64_t id : config_.learners) cs.add_learners(id);
  for (uint64_t id : config_.learners_next) cs.add_learners_next(id);
  cs.set_auto_leave(config_.auto_leave);
  return cs;
}

namespace {

// Reads acked indexes from the match field of each voter's Progress.
class MatchAckIndexer : public quorum::AckedIndexer {
 public:
  explicit MatchAckIndexer(const ProgressMap& m) : m_(m) {}
  std::optional<quorum::Index> AckedIndex(uint64_t id) const override {
    auto it = m_.find(id);
    if (it == m_.end()) return std::nullopt;
    return it->second.match;
  }

 private:
  const ProgressMap& m_;
};

}  // namespace

uint64_t ProgressTracker::Committed() const {
  return config_.voters.CommittedIndex(MatchAckIndexer(progress_));
}

void ProgressTracker::Visit(const std::function<void(uint64_t, Progress&)>& f) {
  for (auto& [id, pr] : progress_) f(id, pr);
}

bool ProgressTracker::QuorumActive() const {
  quorum::VoteMap votes;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_learner) continue;
    votes[id] = pr.recent_active;
  }
  return config_.voters.GetVoteResult(votes) == quorum::VoteResult::kWon;
}

std::vector<uint64_t> ProgressTracker::VoterNodes() const {
  std::set<uint64_t> ids = config_.voters.IDs();
  return {ids.begin(), ids.end()};
}

std::vector<uint64_t> ProgressTracker::LearnerNodes() const {
  return {config_.learners.begin(), config_.learners.end()};
}

quorum::VoteResult ProgressTracker::TallyVotes(int* granted, int* rejected) const {
  *granted = 0;
  *rejected = 0;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_learner) continue;
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    if (it->second) {
      ++*granted;
    } else {
      ++*rejected;
    }
  }
  return config_.voters.GetVoteResult(votes_);
}

}  // namespace rutile::raft::tracker
