#include "raft/tracker/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rutile::raft::tracker {

const char* StateTypeName(StateType s) {
  switch (s) {
    case StateType::kProbe:
      return "StateProbe";
    case StateType::kReplicate:
      return "StateReplicate";
    case StateType::kSnapshot:
      return "StateSnapshot";
  }
  return "?";
}

void Progress::ResetState(StateType s) {
  probe_sent = false;
  pending_snapshot = 0;
  state = s;
  inflights.Reset();
}

void Progress::BecomeProbe() {
  if (state == StateType::kSnapshot) {
    uint64_t pending = pending_snapshot;
    ResetState(StateType::kProbe);
    next = std::max(match + 1, pending + 1);
  } else {
    ResetState(StateType::kProbe);
    next = match + 1;
  }
}

void Progress::BecomeReplicate() {
  ResetState(StateType::kReplicate);
  next = match + 1;
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  ResetState(StateType::kSnapshot);
  pending_snapshot = snapshot_index;
}

void Progress::UpdateOnEntriesSend(size_t num_entries, uint64_t bytes, uint64_t last_index) {
  switch (state) {
    case StateType::kReplicate:
      if (num_entries > 0) {
        next = std::max(next, last_index + 1);
        inflights.Add(last_index, bytes);
      }
      break;
    case StateType::kProbe:
      // One probe per heartbeat interval, whether or not it carried entries.
      probe_sent = true;
      break;
    case StateType::kSnapshot:
      break;
  }
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == StateType::kReplicate) {
    // A rejection at or below match is stale: the follower already has those entries.
    if (rejected <= match) return false;
    // Fall back directly to right after the last known match.
    next = match + 1;
    return true;
  }
  // In probe, only the response to the append we sent (next - 1) is meaningful.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case StateType::kProbe:
      return probe_sent;
    case StateType::kReplicate:
      return inflights.Full();
    case StateType::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::String() const {
  std::string s = absl::StrCat(StateTypeName(state), " match=", match, " next=", next);
  if (is_learner) absl::StrAppend(&s, " learner");
  if (IsPaused()) absl::StrAppend(&s, " paused");
  if (pending_snapshot > 0) absl::StrAppend(&s, " pendingSnap=", pending_snapshot);
  if (!recent_active) absl::StrAppend(&s, " inactive");
  if (inflights.Count() > 0) absl::StrAppend(&s, " inflight=", inflights.Count());
  if (inflights.Full()) absl::StrAppend(&s, "[full]");
  return s;
}

}  // namespace rutile::raft::tracker
