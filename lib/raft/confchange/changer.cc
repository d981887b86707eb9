#include "raft/confchange/changer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rutile::raft::confchange {
namespace {

absl::Status Err(const std::string& msg) { return absl::FailedPreconditionError(msg); }

size_t SymDiff(const std::set<uint64_t>& l, const std::set<uint64_t>& r) {
  size_t n = 0;
  for (uint64_t id : l) n += r.count(id) == 0;
  for (uint64_t id : r) n += l.count(id) == 0;
  return n;
}

}  // namespace

absl::Status CheckInvariants(const tracker::Config& cfg, const tracker::ProgressMap& prs) {
  // Every member must have a progress entry.
  for (uint64_t id : cfg.voters.IDs()) {
    if (prs.count(id) == 0) return Err(absl::StrCat("no progress for voter ", id));
  }
  for (uint64_t id : cfg.learners) {
    if (prs.count(id) == 0) return Err(absl::StrCat("no progress for learner ", id));
  }
  for (uint64_t id : cfg.learners_next) {
    if (prs.count(id) == 0) return Err(absl::StrCat("no progress for learner(next) ", id));
  }
  // A learner_next is an outgoing voter that is not yet a learner.
  for (uint64_t id : cfg.learners_next) {
    if (!cfg.voters.outgoing().contains(id)) {
      return Err(absl::StrCat(id, " is in LearnersNext, but not Voters[1]"));
    }
    if (prs.at(id).is_learner) {
      return Err(absl::StrCat(id, " is in LearnersNext, but is already marked as learner"));
    }
  }
  // Learners and voters do not intersect.
  for (uint64_t id : cfg.learners) {
    if (cfg.voters.outgoing().contains(id)) {
      return Err(absl::StrCat(id, " is in Learners and Voters[1]"));
    }
    if (cfg.voters.incoming().contains(id)) {
      return Err(absl::StrCat(id, " is in Learners and Voters[0]"));
    }
    if (!prs.at(id).is_learner) {
      return Err(absl::StrCat(id, " is in Learners, but is not marked as learner"));
    }
  }
  if (!cfg.voters.joint()) {
    if (!cfg.learners_next.empty()) return Err("cfg.LearnersNext must be empty when not joint");
    if (cfg.auto_leave) return Err("AutoLeave must be false when not joint");
  }
  return absl::OkStatus();
}

absl::StatusOr<Result> Changer::CheckAndCopy() const {
  Result r{tracker_.config(), tracker_.progress()};
  absl::Status s = CheckInvariants(r.first, r.second);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<Result> Changer::EnterJoint(bool auto_leave,
                                           const std::vector<ConfChangeSingle>& ccs) const {
  absl::StatusOr<Result> r = CheckAndCopy();
  if (!r.ok()) return r.status();
  tracker::Config& cfg = r->first;
  if (cfg.voters.joint()) return Err("config is already joint");
  if (cfg.voters.incoming().empty()) {
    // A zero-voter config cannot be made joint: there would be no quorum to leave it.
    return Err("can't make a zero-voter config joint");
  }
  // The current voters become the outgoing half.
  cfg.voters.mutable_outgoing() = cfg.voters.incoming();
  absl::Status s = Apply(&*r, ccs);
  if (!s.ok()) return s;
  cfg.auto_leave = auto_leave;
  s = CheckInvariants(r->first, r->second);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<Result> Changer::LeaveJoint() const {
  absl::StatusOr<Result> r = CheckAndCopy();
  if (!r.ok()) return r.status();
  tracker::Config& cfg = r->first;
  tracker::ProgressMap& prs = r->second;
  if (!cfg.voters.joint()) return Err("can't leave a non-joint config");
  for (uint64_t id : cfg.learners_next) {
    cfg.learners.insert(id);
    prs.at(id).is_learner = true;
  }
  cfg.learners_next.clear();
  for (uint64_t id : cfg.voters.outgoing().ids()) {
    bool is_voter = cfg.voters.incoming().contains(id);
    bool is_learner = cfg.learners.count(id) > 0;
    if (!is_voter && !is_learner) prs.erase(id);
  }
  cfg.voters.mutable_outgoing() = quorum::MajorityConfig();
  cfg.auto_leave = false;
  absl::Status s = CheckInvariants(cfg, prs);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<Result> Changer::Simple(const std::vector<ConfChangeSingle>& ccs) const {
  absl::StatusOr<Result> r = CheckAndCopy();
  if (!r.ok()) return r.status();
  if (r->first.voters.joint()) {
    return Err("can't apply simple config change in joint config");
  }
  absl::Status s = Apply(&*r, ccs);
  if (!s.ok()) return s;
  // Changing more than one voter at once without a joint config could create two
  // disjoint majorities (§6 of the Raft paper).
  if (SymDiff(tracker_.config().voters.incoming().ids(), r->first.voters.incoming().ids()) > 1) {
    return Err("more than one voter changed without entering joint config");
  }
  s = CheckInvariants(r->first, r->second);
  if (!s.ok()) return s;
  return r;
}

absl::Status Changer::Apply(Result* r, const std::vector<ConfChangeSingle>& ccs) const {
  for (const ConfChangeSingle& cc : ccs) {
    if (cc.node_id() == 0) continue;  // Etcd's convention: id 0 is a no-op.
    switch (cc.type()) {
      case CONF_CHANGE_ADD_NODE:
        MakeVoter(r, cc.node_id());
        break;
      case CONF_CHANGE_ADD_LEARNER_NODE:
        MakeLearner(r, cc.node_id());
        break;
      case CONF_CHANGE_REMOVE_NODE:
        Remove(r, cc.node_id());
        break;
      case CONF_CHANGE_UPDATE_NODE:
        break;
      default:
        return Err(absl::StrCat("unexpected conf type ", static_cast<int>(cc.type())));
    }
  }
  if (r->first.voters.incoming().empty()) return Err("removed all voters");
  return absl::OkStatus();
}

void Changer::InitProgress(Result* r, uint64_t id, bool is_learner) const {
  if (is_learner) {
    r->first.learners.insert(id);
  } else {
    r->first.voters.mutable_incoming().mutable_ids().insert(id);
  }
  // Start probing at the leader's last index; a new member is considered recently
  // active so that CheckQuorum does not step down before it had a chance to respond.
  tracker::Progress pr(0, std::max<uint64_t>(last_index_, 1), tracker_.max_inflight(),
                       tracker_.max_inflight_bytes(), is_learner);
  pr.recent_active = true;
  r->second.insert_or_assign(id, std::move(pr));
}

void Changer::MakeVoter(Result* r, uint64_t id) const {
  auto it = r->second.find(id);
  if (it == r->second.end()) {
    InitProgress(r, id, /*is_learner=*/false);
    return;
  }
  it->second.is_learner = false;
  r->first.learners.erase(id);
  r->first.learners_next.erase(id);
  r->first.voters.mutable_incoming().mutable_ids().insert(id);
}

void Changer::MakeLearner(Result* r, uint64_t id) const {
  auto it = r->second.find(id);
  if (it == r->second.end()) {
    InitProgress(r, id, /*is_learner=*/true);
    return;
  }
  if (it->second.is_learner) return;
  tracker::Progress pr = it->second;
  // Remove as a voter (and from learner sets), but keep the progress.
  Remove(r, id);
  auto [pit, inserted] = r->second.insert_or_assign(id, std::move(pr));
  // A voter that is still in the outgoing half cannot be a learner yet: it becomes one
  // when the joint configuration is left.
  if (r->first.voters.outgoing().contains(id)) {
    r->first.learners_next.insert(id);
  } else {
    pit->second.is_learner = true;
    r->first.learners.insert(id);
  }
}

void Changer::Remove(Result* r, uint64_t id) const {
  if (r->second.count(id) == 0) return;
  r->first.voters.mutable_incoming().mutable_ids().erase(id);
  r->first.learners.erase(id);
  r->first.learners_next.erase(id);
  // An outgoing voter keeps its progress until the joint config is left.
  if (!r->first.voters.outgoing().contains(id)) r->second.erase(id);
}

}  // namespace rutile::raft::confchange
