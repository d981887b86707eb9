// storage::Engine is Rutile's key-value store interface: ordered byte keys in a few column
// families (cf.h), point reads, bounded iterators in both directions, snapshots, atomic
// write batches and approximate sizes. Everything above the storage layer (Raft log
// storage, raftstore, MVCC) talks to this interface only, and every implementation passes
// the same conformance suite (tests/storage/engine_conformance_test.cc).
//
// Implementations:
//   LevelDbEngine (leveldb_engine.h)  on disk: one LevelDB for the data CFs, one for kRaft.
//   MemEngine (mem_engine.h)          in memory, with a simulated crash that loses exactly
//                                     the writes that were never synced.
//
// Ownership: the caller owns what the engine returns (iterators, snapshots). Every
// iterator and snapshot must be destroyed before the engine that made it. An iterator may
// outlive the snapshot it reads (it keeps its own view).
//
// Thread safety: an Engine may be used from any number of threads and fibers at once. A
// single Iterator or Snapshot object is not thread-safe (a Snapshot may be read through
// from many fibers at once, but not destroyed while in use). Calls may block the calling
// OS thread on disk I/O (a synced write waits for fsync); a caller on a fiber scheduler that
// must not stall other fibers runs synced writes through Env::RunBlocking.
//
// Status conventions for every method:
//   InvalidArgument     a column family value that is not a CF, a snapshot that belongs to
//                       another engine, a DeleteRange with start > end; nothing changed.
//   DataLoss            the store found corrupted data.
//   Internal            an I/O error from the operating system.
//   Unavailable         the engine cannot serve the call right now.
// A key that is absent is not an error (see Get).

#ifndef RUTILE_STORAGE_ENGINE_H_
#define RUTILE_STORAGE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/cf.h"
#include "storage/write_batch.h"

namespace rutile::storage {

class Engine;

// A frozen, consistent view of an engine's column families at the moment GetSnapshot
// returned. Reads through it never see later writes. Destroying it releases the view.
class Snapshot {
 public:
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  virtual ~Snapshot() = default;

  // The engine this snapshot belongs to.
  const Engine* engine() const { return engine_; }

 protected:
  explicit Snapshot(const Engine* engine) : engine_(engine) {}

 private:
  const Engine* const engine_;
};

struct ReadOptions {
  // Read at this snapshot (owned by the caller, from the same engine) instead of the latest
  // state.
  const Snapshot* snapshot = nullptr;
  // Keep blocks read from disk in the block cache. Bulk scans may turn this off.
  bool fill_cache = true;
};

struct IterOptions {
  // Inclusive lower bound; empty means "from the first key of the column family".
  std::string lower_bound;
  // Exclusive upper bound; empty means "to the last key of the column family" (as a
  // region's empty end key means +infinity).
  std::string upper_bound;
  // Iterate over this snapshot (owned by the caller, from the same engine). Without one the
  // iterator takes its own implicit snapshot when created: it never sees later writes.
  const Snapshot* snapshot = nullptr;
  bool fill_cache = true;
};

struct WriteOptions {
  // Make the write durable before returning: with sync, a crash of the process or of the
  // machine after Write returns OK loses nothing of it. Without sync, a crash of the
  // process loses nothing in LevelDbEngine, but a crash of the machine (modelled by
  // MemEngine::SimulateCrash) may lose this and later unsynced writes; a later synced write
  // to the same database (kRaft, or the data CFs) makes every earlier one durable too.
  // (LevelDB caveat: it does not fsync the log file it retires when a memtable fills, so
  // unsynced writes in a retired log are durable only once that memtable is flushed; a
  // machine crash in between can lose them even after a later synced write.)
  bool sync = false;
};

// A cursor over the keys of one column family within [lower_bound, upper_bound), in key
// order (bytewise). Keys outside the bounds are never returned, whatever is sought.
// Positioned nowhere (Valid() false) when created; call a Seek* first.
//
// Implementations cache the current entry in this base class after every move, so that
// Valid(), key() and value() are plain inline reads: a scan pays one virtual call per step
// (the move), not four. This is the one interface here with data members, for that reason.
class Iterator {
 public:
  Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  virtual ~Iterator() = default;

  // True when positioned at a key. False past either end or after an error (see status).
  bool Valid() const { return valid_; }

  // The current key (without any internal prefix) and value. Require Valid(). The views
  // stay valid until the iterator moves or is destroyed.
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

  // Positions at the first key in bounds.
  virtual void SeekToFirst() = 0;
  // Positions at the last key in bounds.
  virtual void SeekToLast() = 0;
  // Positions at the first key >= `target` (and >= the lower bound).
  virtual void Seek(std::string_view target) = 0;
  // Positions at the last key <= `target` (and < the upper bound).
  virtual void SeekForPrev(std::string_view target) = 0;
  // Moves to the next / previous key. Require Valid().
  virtual void Next() = 0;
  virtual void Prev() = 0;

  // OK, or the first error met (then Valid() is false). An iterator built with bad options
  // (invalid CF, foreign snapshot) reports InvalidArgument here.
  virtual absl::Status status() const = 0;

 protected:
  // Implementations call one of these at the end of every move.
  void SetCurrent(std::string_view key, std::string_view value) {
    valid_ = true;
    key_ = key;
    value_ = value;
  }
  void SetInvalid() { valid_ = false; }

 private:
  bool valid_ = false;
  std::string_view key_;
  std::string_view value_;
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  virtual ~Engine() = default;

  // Reads `key` in `cf`. Returns the value, std::nullopt when the key is absent (absence is
  // not an error), or InvalidArgument / DataLoss / Internal.
  virtual absl::StatusOr<std::optional<std::string>> Get(CF cf, std::string_view key,
                                                         const ReadOptions& options) = 0;
  absl::StatusOr<std::optional<std::string>> Get(CF cf, std::string_view key) {
    return Get(cf, key, ReadOptions());
  }

  // Returns an iterator over `cf` within the options' bounds. Never null; errors surface
  // through Iterator::status().
  virtual std::unique_ptr<Iterator> NewIterator(CF cf, const IterOptions& options) = 0;

  // A point read of a few neighbouring keys (a transactional get reading the newest write
  // records of one key): calls `visit(key, value)` on the first key of `cf` >= `target`
  // and on the keys after it, in order, until `visit` returns false or the CF ends; reads
  // the latest state, or options.snapshot. The views live until `visit` returns. Returns
  // the first error (bad CF or snapshot: InvalidArgument). No Iterator object is made:
  // LevelDbEngine seeks a LevelDB iterator of the latest state directly (one kept for
  // reuse, see leveldb_engine.h); the default seeks a NewIterator.
  virtual absl::Status SeekVisit(
      CF cf, std::string_view target, const ReadOptions& options,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) {
    IterOptions io;
    io.snapshot = options.snapshot;
    io.fill_cache = options.fill_cache;
    std::unique_ptr<Iterator> it = NewIterator(cf, io);
    for (it->Seek(target); it->Valid(); it->Next()) {
      if (!visit(it->key(), it->value())) return absl::OkStatus();
    }
    return it->status();
  }

  // Returns a snapshot of every column family. In LevelDbEngine the view of the data CFs
  // and the view of kRaft are taken one after the other (data first), so a snapshot may
  // miss a kRaft write that raced with it, but never shows the data part of a batch
  // without its kRaft part.
  virtual std::unique_ptr<Snapshot> GetSnapshot() = 0;

  // Applies every operation of `batch` in order. On an error nothing of the batch is
  // applied, with one documented exception in LevelDbEngine (a batch mixing kRaft and data
  // CFs whose data part fails after its kRaft part was written; the message says so).
  //
  // Atomicity: a batch confined to the data CFs (or to kRaft) is atomic: readers and
  // crashes see all of it or none of it. A batch mixing kRaft with data CFs is written as
  // two steps, the kRaft part first and always synced, then the data part; a reader or a
  // crash in between may see the kRaft part alone, never the data part alone.
  //
  // Returns OK, InvalidArgument (bad CF or range; nothing written), DataLoss or Internal.
  virtual absl::Status Write(const WriteBatch& batch, const WriteOptions& options) = 0;

  // Makes every write acknowledged so far durable, as if the last one had been synced.
  virtual absl::Status SyncWAL() = 0;

  // Approximate bytes on disk used by keys of `cf` in [start, end) (empty end: to the end of
  // the CF). LevelDbEngine counts only data already in table files, so recent writes may
  // count 0 until flushed; MemEngine counts the bytes of keys and values exactly.
  virtual absl::StatusOr<uint64_t> ApproximateSize(CF cf, std::string_view start,
                                                   std::string_view end) = 0;

  // Hints that [start, end) of `cf` (empty end: to the end) should be compacted: in
  // LevelDbEngine this flushes the memtable and rewrites the range's table files, dropping
  // deleted keys (use after a large DeleteRange). MemEngine does nothing.
  virtual absl::Status CompactRange(CF cf, std::string_view start, std::string_view end) = 0;
};

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_ENGINE_H_
