// MemEngine: an in-memory storage::Engine for tests and simulation, with crash semantics.
//
// Storage is multi-versioned, like LevelDB's memtable: every key of a column family keeps a
// short chain of versions tagged with the sequence number of the write that made them. A
// snapshot is just a sequence number (taking one is O(log n) in the number of live
// snapshots, so tests can hold thousands), and a read at a snapshot picks the newest
// version at or below it. A write prunes the versions of the keys it touches that no
// snapshot, iterator or durability point can see any more, so a key written a million
// times keeps only a handful of versions.
//
// Durability is modelled as two write-ahead logs, as LevelDbEngine has two databases: one
// for the data column families and one for kRaft. Each log has a durable point. A write is
// visible at once; with sync (or a later SyncWAL) it and every earlier record of its log
// become durable, and without, it sits in the log's unsynced suffix. SimulateCrash()
// truncates each log to its durable point: the state becomes exactly what a machine crash
// after the last sync would leave. A batch mixing kRaft and data CFs is two records, the
// kRaft one synced, as in LevelDbEngine.
//
// Thread safety: as Engine. One absl::Mutex guards everything. It is an OS lock, not a
// fiber mutex, which is fine because no critical section blocks or waits on a fiber: each
// is a bounded amount of in-memory work. Iterators copy the current entry out under the
// lock and re-find their place by key on every move, so they stay correct while writes
// change the maps underneath.

#ifndef RUTILE_STORAGE_MEM_ENGINE_H_
#define RUTILE_STORAGE_MEM_ENGINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/engine.h"

namespace rutile::storage {

class MemEngine final : public Engine {
 public:
  MemEngine();
  ~MemEngine() override;

  using Engine::Get;
  absl::StatusOr<std::optional<std::string>> Get(CF cf, std::string_view key,
                                                 const ReadOptions& options) override;
  std::unique_ptr<Iterator> NewIterator(CF cf, const IterOptions& options) override;
  std::unique_ptr<Snapshot> GetSnapshot() override;
  absl::Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  absl::Status SyncWAL() override;
  absl::StatusOr<uint64_t> ApproximateSize(CF cf, std::string_view start,
                                           std::string_view end) override;
  absl::Status CompactRange(CF cf, std::string_view start, std::string_view end) override;

  // Simulates a crash of the machine: every write that is not durable is lost, in both
  // logs. Snapshots and iterators taken before should be dropped unused (they then read
  // the post-crash state at or below their sequence number).
  void SimulateCrash();

  // Number of unsynced records (one per write, two for a mixed batch) a crash would lose.
  size_t UnsyncedWriteCount() const;
  // Number of syncs so far: synced records (a write with sync, or the kRaft record of a
  // mixed batch) and SyncWAL calls.
  uint64_t SyncCount() const;

  // Total versions stored, for tests of pruning.
  size_t TEST_StoredVersions() const;

 private:
  class MemSnapshot;
  class MemIterator;

  struct Version {
    uint64_t seq;
    bool deleted;
    std::string value;
  };
  // Versions of one key, oldest first; never empty while in the map.
  using Chain = std::vector<Version>;
  using Map = std::map<std::string, Chain, std::less<>>;

  // Index of the log a column family writes to.
  static int LogOf(CF cf) { return cf == CF::kRaft ? 1 : 0; }

  // The version of `chain` visible at `seq`, or null when none is or it is a deletion.
  static const Version* Visible(const Chain& chain, uint64_t seq);

  // Records a version of `key` at `seq` (replacing one of the same seq) and prunes.
  void AddVersion(CF cf, std::string_view key, uint64_t seq, bool deleted, std::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops versions nothing can see; erases the key when none is left. Returns false if it
  // erased the key.
  bool Prune(CF cf, Map::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyOp(const WriteBatch& batch, size_t index, uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks a new record at `seq` in `log`, synced or not.
  void LogRecord(int log, uint64_t seq, bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  uint64_t Pin(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unpin(uint64_t seq);

  mutable absl::Mutex mu_;
  Map cfs_[kNumCfs] ABSL_GUARDED_BY(mu_);
  // Sequence number of the last write; reads without a snapshot read at it.
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Per log: the sequence number up to which the log is durable, and the unsynced
  // records after it.
  uint64_t durable_seq_[2] ABSL_GUARDED_BY(mu_) = {0, 0};
  std::vector<uint64_t> unsynced_[2] ABSL_GUARDED_BY(mu_);
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  // Sequence numbers read by live snapshots and iterators.
  std::multiset<uint64_t> pinned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_MEM_ENGINE_H_
