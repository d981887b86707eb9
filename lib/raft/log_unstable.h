// Unstable holds what a node has accepted but the application has not yet persisted:
// a suffix of entries starting at offset(), and possibly an incoming snapshot that
// precedes them. Both are handed out in Ready and dropped once Advance reports them
// stable. With asynchronous storage writes several Readys may be persisting at once:
// what was handed out already is "in progress" (entries below offset_in_progress(), the
// snapshot when snapshot_in_progress()) and is not handed out again unless a newer leader
// overwrites it. Not thread-safe; owned by RaftLog.

#ifndef RUTILE_RAFT_LOG_UNSTABLE_H_
#define RUTILE_RAFT_LOG_UNSTABLE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "raft.pb.h"

namespace rutile::raft {

class Unstable {
 public:
  explicit Unstable(uint64_t offset) : offset_(offset) {}

  // The first index known from an unstable snapshot, if there is one.
  std::optional<uint64_t> MaybeFirstIndex() const;
  // The last index if there are unstable entries or a snapshot.
  std::optional<uint64_t> MaybeLastIndex() const;
  // The term of entry i if this holds it (or the snapshot ends at i).
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;

  // Entries up to (i, t) were persisted. Ignored if the log no longer has term t at i
  // (it was overwritten after the Ready was taken).
  void StableTo(uint64_t i, uint64_t t);
  // The snapshot at index i was persisted.
  void StableSnapTo(uint64_t i);

  // Replaces everything with the snapshot `s`.
  void Restore(const Snapshot& s);
  // Appends `ents`, replacing any unstable entries at or after ents[0].index().
  void TruncateAndAppend(const std::vector<Entry>& ents);
  // As above, taking the entries' contents.
  void TruncateAndAppend(std::vector<Entry>&& ents);

  // Entries not yet handed out for persisting, and whether the snapshot is.
  std::vector<Entry> EntriesNotInProgress() const;
  bool HasEntriesNotInProgress() const { return InProgressStart() < offset_ + entries_.size(); }
  bool HasSnapshotNotInProgress() const { return snapshot_.has_value() && !snapshot_in_progress_; }
  // Marks everything held now as handed out.
  void AcceptInProgress();

  // Entries [lo, hi); lo >= offset(), hi <= offset() + size.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi) const;

  uint64_t offset() const { return offset_; }
  uint64_t offset_in_progress() const { return InProgressStart(); }
  bool snapshot_in_progress() const { return snapshot_in_progress_; }
  const std::deque<Entry>& entries() const { return entries_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }

 private:
  std::optional<Snapshot> snapshot_;
  // A deque: StableTo drops a persisted prefix (every Ready's worth, under asynchronous
  // writes while newer entries follow) without moving the rest, and appends never
  // relocate what is held (a vector spent ~3% of raft_bench's CPU moving Entries).
  std::deque<Entry> entries_;
  uint64_t InProgressStart() const {
    return offset_in_progress_ > offset_ ? offset_in_progress_ : offset_;
  }

  // Index of entries_[0].
  uint64_t offset_;
  // Entries below this index were handed out (never below offset_ in effect).
  uint64_t offset_in_progress_ = 0;
  bool snapshot_in_progress_ = false;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_LOG_UNSTABLE_H_
