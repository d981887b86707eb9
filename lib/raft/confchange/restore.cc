#include "raft/confchange/restore.h"

namespace rutile::raft::confchange {
namespace {

ConfChangeSingle Change(ConfChangeType t, uint64_t id) {
  ConfChangeSingle cc;
  cc.set_type(t);
  cc.set_node_id(id);
  return cc;
}

}  // namespace

absl::StatusOr<Result> Restore(const tracker::ProgressTracker& tracker, uint64_t last_index,
                               const ConfState& cs) {
  // `outgoing` builds the outgoing voters as a plain config; `incoming` then turns it
  // into the joint config described by cs. Without outgoing voters the incoming changes
  // apply one by one as simple changes.
  std::vector<ConfChangeSingle> outgoing, incoming;
  for (uint64_t id : cs.voters_outgoing()) {
    outgoing.push_back(Change(CONF_CHANGE_ADD_NODE, id));
    // Entering the joint config first removes every outgoing voter from the incoming
    // half, then adds back the incoming voters.
    incoming.push_back(Change(CONF_CHANGE_REMOVE_NODE, id));
  }
  for (uint64_t id : cs.voters()) incoming.push_back(Change(CONF_CHANGE_ADD_NODE, id));
  for (uint64_t id : cs.learners()) incoming.push_back(Change(CONF_CHANGE_ADD_LEARNER_NODE, id));
  // Learners_next are outgoing voters demoted on leaving; adding them as learners while
  // joint puts them in learners_next.
  for (uint64_t id : cs.learners_next()) {
    incoming.push_back(Change(CONF_CHANGE_ADD_LEARNER_NODE, id));
  }

  tracker::ProgressTracker cur(tracker.max_inflight(), tracker.max_inflight_bytes());
  cur.Reset(tracker.config(), tracker.progress());
  auto step = [&](auto fn) -> absl::Status {
    absl::StatusOr<Result> r = fn(Changer(cur, last_index));
    if (!r.ok()) return r.status();
    cur.Reset(std::move(r->first), std::move(r->second));
    return absl::OkStatus();
  };
  if (outgoing.empty()) {
    for (const ConfChangeSingle& cc : incoming) {
      absl::Status s = step([&](const Changer& c) { return c.Simple({cc}); });
      if (!s.ok()) return s;
    }
  } else {
    for (const ConfChangeSingle& cc : outgoing) {
      absl::Status s = step([&](const Changer& c) { return c.Simple({cc}); });
      if (!s.ok()) return s;
    }
    absl::Status s =
        step([&](const Changer& c) { return c.EnterJoint(cs.auto_leave(), incoming); });
    if (!s.ok()) return s;
  }
  return Result{cur.config(), cur.progress()};
}

}  // namespace rutile::raft::confchange
