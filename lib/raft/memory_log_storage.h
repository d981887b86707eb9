// MemoryLogStorage keeps the log in memory: the reference LogStorage, used by tests, the
// benchmarks, and as the write-through cache shape for engine-backed storage.
//
// Thread safety: not thread-safe. The application and the RawNode it drives must use it
// from one thread (or serialise externally).

#ifndef RUTILE_RAFT_MEMORY_LOG_STORAGE_H_
#define RUTILE_RAFT_MEMORY_LOG_STORAGE_H_

#include <vector>

#include "raft/log_storage.h"

namespace rutile::raft {

class MemoryLogStorage : public LogStorage {
 public:
  MemoryLogStorage();

  absl::StatusOr<InitialState> GetInitialState() override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_size) override;
  absl::StatusOr<uint64_t> Term(uint64_t i) override;
  absl::StatusOr<uint64_t> FirstIndex() override;
  absl::StatusOr<uint64_t> LastIndex() override;
  absl::StatusOr<Snapshot> GetSnapshot() override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }

  // Replaces the whole content with `snap`. kSnapshotOutOfDate if it is older than the
  // snapshot held.
  absl::Status ApplySnapshot(const Snapshot& snap);

  // Records a snapshot of the state at index i (<= LastIndex()) with configuration `cs`
  // and application data `data`, without discarding entries. kSnapshotOutOfDate when i
  // is not newer than the current snapshot; kUnavailable when i > LastIndex().
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t i, const ConfState* cs, std::string data);

  // Discards entries before compact_index (the entry at compact_index stays as the new
  // dummy). kCompacted when already compacted that far; kUnavailable past LastIndex().
  absl::Status Compact(uint64_t compact_index);

  // Appends `entries` (contiguous), truncating any conflicting suffix. Entries below
  // FirstIndex() are ignored. kUnavailable if they would leave a gap.
  absl::Status Append(const std::vector<Entry>& entries);
  // As above, taking the entries' contents (after GetReady, Ready::entries may be moved in).
  absl::Status Append(std::vector<Entry>&& entries);

 private:
  uint64_t first_index() const { return ents_[0].index() + 1; }
  uint64_t last_index() const { return ents_[0].index() + ents_.size() - 1; }

  HardState hard_state_;
  Snapshot snapshot_;
  // ents_[0] is a dummy holding the index and term of the last compaction.
  std::vector<Entry> ents_;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_MEMORY_LOG_STORAGE_H_
