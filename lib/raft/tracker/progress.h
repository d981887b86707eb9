// Progress is the leader's view of one follower's log: what it has acknowledged (match),
// what to send next (next), and how sending is paced. The state decides the pacing:
//   kProbe: one MsgApp per heartbeat interval until the follower's log position is found.
//   kReplicate: optimistic streaming, bounded by Inflights.
//   kSnapshot: a snapshot is in flight; nothing else is sent until it is reported.
// Not thread-safe; owned by the ProgressTracker.

#ifndef RUTILE_RAFT_TRACKER_PROGRESS_H_
#define RUTILE_RAFT_TRACKER_PROGRESS_H_

#include <cstdint>
#include <map>
#include <string>

#include "raft/tracker/inflights.h"

namespace rutile::raft::tracker {

enum class StateType { kProbe, kReplicate, kSnapshot };

const char* StateTypeName(StateType s);

class Progress {
 public:
  Progress(uint64_t match, uint64_t next, size_t max_inflight, uint64_t max_inflight_bytes,
           bool is_learner)
      : match(match),
        next(next),
        is_learner(is_learner),
        inflights(max_inflight, max_inflight_bytes) {}

  // Moves to kProbe. From kSnapshot, next resumes after the pending snapshot (it is
  // known to have been applied or the report would have been a failure).
  void BecomeProbe();
  // Moves to kReplicate with next = match + 1.
  void BecomeReplicate();
  // Moves to kSnapshot waiting for a snapshot at `snapshot_index`.
  void BecomeSnapshot(uint64_t snapshot_index);

  // Records that a MsgApp with entries up to `last_index` (`bytes` of payload) was sent.
  // No-op for an empty append in probe/replicate except for pausing a probe.
  void UpdateOnEntriesSend(size_t num_entries, uint64_t bytes, uint64_t last_index);

  // Called on an accepting MsgAppResp for index n. Returns false if n is stale.
  bool MaybeUpdate(uint64_t n);

  // Called on a rejected MsgAppResp: `rejected` is the index the follower refused and
  // `match_hint` its guess of the highest index that may match. Returns false if the
  // rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);

  // True when the leader should not send this follower more appends right now.
  bool IsPaused() const;

  // e.g. "StateReplicate match=5 next=6 inflight=1".
  std::string String() const;

  uint64_t match = 0;
  uint64_t next = 0;
  StateType state = StateType::kProbe;
  // The index of the snapshot in flight in kSnapshot.
  uint64_t pending_snapshot = 0;
  // Set when any message from the peer arrived since the last CheckQuorum round.
  bool recent_active = false;
  // In kProbe: an append was sent and we wait for its response or the next heartbeat.
  bool probe_sent = false;
  bool is_learner = false;
  Inflights inflights;

 private:
  void ResetState(StateType s);
};

using ProgressMap = std::map<uint64_t, Progress>;

}  // namespace rutile::raft::tracker

#endif  // RUTILE_RAFT_TRACKER_PROGRESS_H_
