// EngineLogStorage is a LogStorage persisted in a storage::Engine's kRaft column family:
// the durable log of one Raft group (one region's peer), next to many others in the same
// engine (multi-raft: every group's keys carry its group id, so one engine and one fsync
// serve them all).
//
// Key layout in CF kRaft (all integers fixed-width big-endian, so keys sort by index):
//   'R' group(8) 'l' index(8)   a log Entry (serialized raft.Entry)
//   'R' group(8) 'h'            the HardState
//   'R' group(8) 'c'            the ConfState the application last recorded (SetConfState)
//   'R' group(8) 't'            the truncated state: index and term of FirstIndex()-1
//   'R' group(8) 's'            the latest Snapshot (metadata and application data)
// GroupPrefix/LogKey below build them; nothing else in the engine may use the 'R' prefix.
//
// Writes. A Ready is persisted with one WriteBatch: SaveReady, or, to put many groups'
// Readys in one synced write (group commit), BuildReadyWrite for each group into a shared
// batch, Engine::Write once, then OnReadyWritten for each group. The in-memory view (what
// Raft reads) changes only in OnReadyWritten, after the write succeeded, so Raft never
// reads an entry that is not in the engine. At most one built write per group may be
// outstanding. Compact, ApplySnapshot and CreateSnapshot write at once.
//
// Durability follows the engine: a write with sync survives a crash of the machine along
// with every earlier write; an unsynced one may be lost (MemEngine::SimulateCrash). Open
// rebuilds the view from whatever survived; each batch is atomic, so the log, hard state
// and truncated state of one Ready are recovered together or not at all.
//
// Reads are served from memory where possible: the hard state, truncation point, last
// index and snapshot metadata are kept in memory, and a tail of recent entries (up to
// `cache_entries` / `cache_bytes`) is cached, so the leader's replication and a follower's
// apply of fresh entries never touch the engine. Older entries are read with an iterator.
//
// Errors: the LogStorage contract (raft/errors.h: kCompacted, kUnavailable), plus
// kSnapshotOutOfDate from ApplySnapshot/CreateSnapshot, and the engine's own statuses
// (Internal, DataLoss, ...) passed through; a log key or value that does not parse is
// DataLoss.
//
// Thread safety: none, as MemoryLogStorage. The fiber that drives the RawNode also
// persists its Readys (or serialises with it externally). Different groups' storages on
// one engine are independent objects and may be used concurrently.

#ifndef RUTILE_RAFT_ENGINE_LOG_STORAGE_H_
#define RUTILE_RAFT_ENGINE_LOG_STORAGE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft.pb.h"
#include "raft/log_storage.h"
#include "storage/engine.h"
#include "storage/write_batch.h"

namespace rutile::raft {

struct EngineLogStorageOptions {
  // Recent entries kept in memory; reads below the cached tail go to the engine. The cache
  // is trimmed from the front when either limit is exceeded (the newest entry always stays).
  size_t cache_entries = 4096;
  uint64_t cache_bytes = 16 << 20;
  // Sync the writes of Append, SetHardState, SetConfState, Compact, ApplySnapshot and
  // CreateSnapshot (SaveReady takes its own flag).
  bool sync = true;
};

class EngineLogStorage : public LogStorage {
 public:
  // Loads group `group_id`'s state from `engine` (not owned; must outlive the storage). A
  // group never written starts empty: FirstIndex() 1, LastIndex() 0, empty hard state.
  // DataLoss when a persisted key does not parse or the log has a hole.
  static absl::StatusOr<std::unique_ptr<EngineLogStorage>> Open(
      storage::Engine* engine, uint64_t group_id,
      const EngineLogStorageOptions& options = EngineLogStorageOptions());

  // Key helpers (see the layout above).
  static std::string GroupPrefix(uint64_t group_id);
  static std::string LogKey(uint64_t group_id, uint64_t index);

  // LogStorage.
  absl::StatusOr<InitialState> GetInitialState() override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_size) override;
  absl::StatusOr<uint64_t> Term(uint64_t i) override;
  absl::StatusOr<uint64_t> FirstIndex() override;
  absl::StatusOr<uint64_t> LastIndex() override;
  absl::StatusOr<Snapshot> GetSnapshot() override;

  // Persists the parts of a Ready: `snapshot` (installed as by ApplySnapshot), then
  // `entries` (appended as by Append), then `hard_state`, in one batch, synced when
  // `sync` (pass Ready::must_sync, or true). Errors as BuildReadyWrite and Engine::Write;
  // on error nothing changed.
  absl::Status SaveReady(const std::optional<HardState>& hard_state,
                         const std::vector<Entry>& entries, const std::optional<Snapshot>& snapshot,
                         bool sync);

  // Group commit, step 1: adds the writes of a Ready (as SaveReady) to `batch` without
  // writing it, and remembers them as this group's outstanding write. kUnavailable when
  // the entries would leave a gap; kSnapshotOutOfDate for an older snapshot;
  // FailedPrecondition when another built write is outstanding.
  absl::Status BuildReadyWrite(const std::optional<HardState>& hard_state,
                               const std::vector<Entry>& entries,
                               const std::optional<Snapshot>& snapshot, storage::WriteBatch* batch);
  // The same, taking the entries over instead of copying them (they end in the cache).
  absl::Status BuildReadyWrite(const std::optional<HardState>& hard_state,
                               std::vector<Entry>&& entries,
                               const std::optional<Snapshot>& snapshot, storage::WriteBatch* batch);
  // Step 2, after Engine::Write of the batch returned OK: makes the outstanding write
  // visible to reads. After a failed write call AbandonReadyWrite instead.
  void OnReadyWritten();
  void AbandonReadyWrite();

  // Single-purpose writes (synced when options.sync). Same semantics as
  // MemoryLogStorage's methods of the same names.
  absl::Status SetHardState(const HardState& hs);
  absl::Status Append(const std::vector<Entry>& entries);
  absl::Status ApplySnapshot(const Snapshot& snap);
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t i, const ConfState* cs, std::string data);
  absl::Status Compact(uint64_t compact_index);

  // Records the configuration as of the application's applied index; GetInitialState
  // returns it in preference to the snapshot's. For applications whose state machine is
  // durable (raftstore); a volatile state machine leaves it unset and replays from the
  // snapshot.
  absl::Status SetConfState(const ConfState& cs);

  // Makes snapshots on demand, as TiKV does: when set, GetSnapshot asks `builder` for a
  // snapshot of the application's current state (metadata index and conf_state, and
  // data; the term is filled in here) and, if it is newer than the one held, records it
  // as CreateSnapshot would before returning it. Without one, GetSnapshot returns the
  // last snapshot created or applied, which may predate a conf change that added the
  // very follower it is meant for (that follower then refuses it, forever). The builder
  // may return kSnapshotTemporarilyUnavailable; it runs inside RawNode::Step/Tick and must
  // not call back into the RawNode.
  using SnapshotBuilder = std::function<absl::StatusOr<Snapshot>()>;
  void SetSnapshotBuilder(SnapshotBuilder builder) { builder_ = std::move(builder); }

  const HardState& hard_state() const { return hard_state_; }
  uint64_t group_id() const { return group_id_; }
  // Entries currently held in the tail cache (for tests).
  size_t TEST_CachedEntries() const { return cache_.size(); }

 private:
  EngineLogStorage(storage::Engine* engine, uint64_t group_id,
                   const EngineLogStorageOptions& options);

  absl::Status Load();
  // BuildReadyWrite without recording the outstanding write (SaveReady applies straight
  // from its arguments, so only the group-commit path copies the Ready).
  absl::Status BuildWrite(const std::optional<HardState>& hard_state,
                          const std::vector<Entry>& entries,
                          const std::optional<Snapshot>& snapshot, storage::WriteBatch* batch);
  // Reads entries [lo, hi) from the engine, stopping at max_size bytes (at least one).
  absl::Status ReadFromEngine(uint64_t lo, uint64_t hi, uint64_t max_size, uint64_t* size,
                              std::vector<Entry>* out);
  // Applies a successful write's effects to the in-memory view.
  // `owned`, when given, is `entries` itself and may be moved from.
  void ApplyToMemory(const std::optional<HardState>& hs, const std::vector<Entry>& entries,
                     const std::optional<Snapshot>& snapshot, std::vector<Entry>* owned = nullptr);
  void TrimCache();
  absl::Status WriteNow(const storage::WriteBatch& batch, bool sync);
  std::string StateKey(char kind) const;

  storage::Engine* const engine_;
  const uint64_t group_id_;
  const EngineLogStorageOptions options_;
  const std::string prefix_;

  HardState hard_state_;
  std::optional<ConfState> conf_state_;
  Snapshot snapshot_;
  // Index and term of FirstIndex()-1.
  uint64_t truncated_index_ = 0;
  uint64_t truncated_term_ = 0;
  uint64_t last_index_ = 0;
  // The newest entries, contiguous, ending at last_index_ (empty when the log is).
  std::deque<Entry> cache_;
  uint64_t cache_bytes_ = 0;

  // The write built by BuildReadyWrite and not yet acknowledged.
  struct PendingWrite {
    std::optional<HardState> hard_state;
    std::vector<Entry> entries;
    std::optional<Snapshot> snapshot;
  };
  std::optional<PendingWrite> pending_;
  SnapshotBuilder builder_;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_ENGINE_LOG_STORAGE_H_
