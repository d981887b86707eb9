// LogStorage is what a Raft node reads its persisted log from. Raft itself never writes
// to it: the application persists what each Ready hands it (entries, hard state,
// snapshot) and then calls RawNode::Advance. The interface is shaped so it can be served
// from memory (MemoryLogStorage) or from a storage::Engine (entries, hard state, conf
// state and snapshot metadata in column families).
//
// Indexes: the storage holds entries [FirstIndex(), LastIndex()], and additionally knows
// the term of FirstIndex()-1 (the index of the last compaction or snapshot). An empty
// log has FirstIndex() == LastIndex() + 1.
//
// Errors (see raft/errors.h) are part of the contract; Raft reacts to exactly these:
//   kCompacted       the index precedes FirstIndex()-1 (Term) or FirstIndex() (Entries);
//                    Raft falls back to sending a snapshot.
//   kUnavailable     the index is past LastIndex(); a Raft bug if it ever happens.
//   kSnapshotTemporarilyUnavailable  from Snapshot(): not ready yet; Raft retries later.
// Any other error is treated as fatal by Raft.
//
// Thread safety: Raft calls these from the thread that drives its RawNode. An
// implementation that is written to concurrently by the application must synchronise
// internally.

#ifndef RUTILE_RAFT_LOG_STORAGE_H_
#define RUTILE_RAFT_LOG_STORAGE_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "raft.pb.h"

namespace rutile::raft {

// Byte limit meaning "no limit".
inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // The persisted hard state and the configuration as of the last applied snapshot or
  // conf change persisted by the application.
  virtual absl::StatusOr<InitialState> GetInitialState() = 0;

  // Entries [lo, hi), lo >= FirstIndex() and hi <= LastIndex()+1, truncated to at most
  // `max_size` bytes (entry ByteSizeLong) but always at least one entry when lo < hi.
  // kCompacted when lo < FirstIndex(); kUnavailable when hi > LastIndex()+1.
  virtual absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_size) = 0;

  // Term of entry i, for i in [FirstIndex()-1, LastIndex()]. kCompacted below that range,
  // kUnavailable above it.
  virtual absl::StatusOr<uint64_t> Term(uint64_t i) = 0;

  virtual absl::StatusOr<uint64_t> FirstIndex() = 0;
  virtual absl::StatusOr<uint64_t> LastIndex() = 0;

  // The most recent snapshot, to send to a follower that needs entries that were
  // compacted. kSnapshotTemporarilyUnavailable when one is being made.
  virtual absl::StatusOr<Snapshot> GetSnapshot() = 0;
};

// Limits `ents` to the longest prefix whose total ByteSizeLong is <= max_size, keeping at
// least one entry.
void LimitSize(std::vector<Entry>* ents, uint64_t max_size);

// Sum of the data sizes of `ents` (what flow control and the uncommitted limit count).
uint64_t PayloadSize(const std::vector<Entry>& ents);

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_LOG_STORAGE_H_
