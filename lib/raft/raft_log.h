// RaftLog is a node's view of its whole log: the persisted part in LogStorage followed by
// the Unstable part not yet persisted, together with the commit and applied indexes.
// Invariant: applied <= committed <= LastIndex(). Not thread-safe; owned by Raft.

#ifndef RUTILE_RAFT_RAFT_LOG_H_
#define RUTILE_RAFT_RAFT_LOG_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/log_storage.h"
#include "raft/log_unstable.h"

namespace rutile::raft {

class RaftLog {
 public:
  // `storage` is not owned and must outlive the log. `max_next_ents_size` caps the bytes
  // of committed entries handed out per Ready.
  RaftLog(LogStorage* storage, uint64_t max_next_ents_size);

  // Config::max_apply_unpersisted_entries as the leader uses it: committed entries from
  // index `from` on (the first entry of the leader's term) may be handed out by
  // NextCommittedEnts(allow_unstable=false) up to `n` entries past the locally durable
  // log, once everything before `from` is durable. Entries older than the leader's term
  // (possibly replacing a stale suffix still on disk) always wait for their write.
  // n == 0: only durable entries (followers and candidates).
  void set_max_apply_unpersisted(uint64_t n, uint64_t from) {
    max_apply_unpersisted_ = n;
    apply_unpersisted_from_ = from;
  }

  // Follower append: if the entry at `index` has term `log_term`, appends `ents` (which
  // follow `index`), truncating any conflicting suffix, advances commit to
  // min(committed, last new index) and returns the last new index. Returns nullopt when
  // the terms do not match (the leader must back up).
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      std::vector<Entry> ents);

  // Leader append (entries already carry their index and term). Returns the new last
  // index.
  uint64_t Append(std::vector<Entry> ents);

  // The index of the first entry of `ents` whose term differs from ours at that index
  // (or which we lack), 0 if all match.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;

  // The largest index <= `index` whose term is <= `term` (a guess at where a follower's
  // log and the leader's may agree), used to skip whole terms when backing up.
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  const std::deque<Entry>& UnstableEntries() const { return unstable_.entries(); }
  // Asynchronous storage writes: the unstable entries (and snapshot) not yet handed out
  // for persisting, and marking everything unstable as handed out.
  std::vector<Entry> UnstableEntriesNotInProgress() const {
    return unstable_.EntriesNotInProgress();
  }
  bool HasUnstableEntriesNotInProgress() const { return unstable_.HasEntriesNotInProgress(); }
  bool HasPendingSnapshotNotInProgress() const { return unstable_.HasSnapshotNotInProgress(); }
  void AcceptUnstable() { unstable_.AcceptInProgress(); }

  // Committed entries not yet applied, at most max_next_ents_size bytes (at least one).
  // Without `allow_unstable`, only entries already persisted locally, or at most
  // max_apply_unpersisted past them (asynchronous storage writes).
  std::vector<Entry> NextCommittedEnts(bool allow_unstable = true) const;
  bool HasNextCommittedEnts(bool allow_unstable = true) const;

  bool HasPendingSnapshot() const { return unstable_.snapshot().has_value(); }
  const std::optional<Snapshot>& PendingSnapshot() const { return unstable_.snapshot(); }

  // The snapshot to send to a follower: the unstable one if any, else the storage's.
  absl::StatusOr<Snapshot> GetSnapshot() const;

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;

  // Term of entry i, 0 (without error) when i is outside [FirstIndex()-1, LastIndex()];
  // kCompacted/kUnavailable from storage are passed on.
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  // Term(i), or 0 on any error.
  uint64_t ZeroTermOnError(uint64_t i) const;

  // Entries from i to the end, limited to max_size bytes.
  absl::StatusOr<std::vector<Entry>> EntriesFrom(uint64_t i, uint64_t max_size) const;
  // Entries [lo, hi) limited to max_size bytes. kCompacted when lo < FirstIndex().
  absl::StatusOr<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_size) const;
  // Every entry (for tests); fatal on storage errors other than a race with compaction.
  std::vector<Entry> AllEntries() const;

  // §5.4.1: a candidate's log (last index `lasti`, last term `term`) is at least as
  // up-to-date as ours.
  bool IsUpToDate(uint64_t lasti, uint64_t term) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;

  // Advances commit to max_index if its entry has term `term` (a leader only commits
  // entries of its own term by counting, §5.4.2). Returns true when commit moved.
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  // Advances commit (never backwards); fatal beyond LastIndex().
  void CommitTo(uint64_t tocommit);
  void AppliedTo(uint64_t i);
  void StableTo(uint64_t i, uint64_t t) { unstable_.StableTo(i, t); }
  void StableSnapTo(uint64_t i) { unstable_.StableSnapTo(i); }

  // Installs snapshot `s` as the new log start; committed moves to its index.
  void Restore(const Snapshot& s);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

  // "committed=5, applied=3, unstable.offset=6, len(unstable.Entries)=1".
  std::string String() const;

 private:
  // Fatal unless FirstIndex() <= lo <= hi <= LastIndex()+1; returns kCompacted when
  // lo < FirstIndex().
  absl::Status CheckOutOfBounds(uint64_t lo, uint64_t hi) const;

  // The last index NextCommittedEnts may hand out.
  uint64_t MaxAppliableIndex(bool allow_unstable) const;

  LogStorage* storage_;
  Unstable unstable_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_next_ents_size_;
  uint64_t max_apply_unpersisted_ = 0;
  uint64_t apply_unpersisted_from_ = 0;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_RAFT_LOG_H_
