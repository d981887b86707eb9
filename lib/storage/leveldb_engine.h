// LevelDbEngine: the on-disk storage::Engine.
//
// Layout of an engine directory `dir`:
//   dir/RUTILE_ENGINE   identity marker: says this directory is a Rutile engine, its format
//                       version, and whether creation finished. Written atomically.
//   dir/data/           LevelDB holding the data column families (default, lock, write and
//                       any internal CF). A key of CF c is stored as the byte c followed by
//                       the user key, so a batch across data CFs is one LevelDB write
//                       (atomic), and iterators clamp their bounds inside c's prefix so
//                       they never see another CF.
//   dir/raft/           LevelDB holding CF kRaft (Raft log entries and Raft state), keys
//                       unprefixed. Callers persisting Raft state write it synced; LevelDB
//                       groups concurrent writers into one log write and one fsync.
//
// Two databases, so a batch touching kRaft and data CFs is two writes: the kRaft part
// first, always synced, then the data part (see Engine::Write). Raftstore relies only on
// "data implies raft": applied data never runs ahead of the persisted Raft log.
//
// DeleteRange has no LevelDB counterpart: Write expands it into one Delete per key present
// in the range when the batch is written, while holding the engine's write lock exclusively
// (so no concurrent write slips a key into the range between the scan and the write). Its
// cost is a scan of the range plus one tombstone per key; keep ranges to what is needed,
// and call CompactRange afterwards to reclaim space. Batches without DeleteRange hold the
// write lock shared and run concurrently.
//
// CF kLock's keys are also kept in memory (storage/key_index.h, loaded at open, maintained
// by every Write): a Get of the latest state of an absent lock answers without reading the
// database. Reads at a snapshot and iterators read the database as before.
//
// Iterators over the latest state of the data CFs (no snapshot in IterOptions) are reused:
// when one is destroyed its LevelDB iterator is kept, and a later NewIterator takes it if
// no write to the data database began since it was made (and none was in flight then), so
// it shows exactly the latest state, as a fresh one would. A point read of the write CF
// (a transactional get) then costs a seek, not a LevelDB iterator built and torn down. A
// kept iterator pins LevelDB's memtable and table files of its time (files a compaction
// replaced stay on disk): at most 16 are kept, every data write drops them all, and one
// is kept for at most 1024 reuses and, when the engine has an io_env, 1 s of its clock
// (judged on every 16th reuse: up to 15 more reuses past it), so a read-only period does
// not pin old files for long.
//
// Thread safety: as Engine. Opening the same directory twice (in one process or two) fails
// with FailedPrecondition while the first engine is open.

#ifndef RUTILE_STORAGE_LEVELDB_ENGINE_H_
#define RUTILE_STORAGE_LEVELDB_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "rutile/env.h"
#include "rutile/storage.h"
#include "storage/engine.h"
#include "storage/key_index.h"

namespace leveldb {
class Cache;
class DB;
class Env;
class FilterPolicy;
class Logger;
class Status;
class WriteBatch;
struct Options;
}  // namespace leveldb

namespace rutile::storage {

class LatestIteratorPool;

// The LevelDB objects an engine shares between its two databases: block cache, Bloom
// filter policy, the info logger, and the Env that zero-fills write-ahead logs ahead
// (LevelDbEngineOptions::wal_zero_fill_bytes). Also used by benchmarks to open a raw LevelDB with
// exactly the engine's options.
class LevelDbResources {
 public:
  explicit LevelDbResources(const LevelDbEngineOptions& options);
  LevelDbResources(const LevelDbResources&) = delete;
  LevelDbResources& operator=(const LevelDbResources&) = delete;
  ~LevelDbResources();

  // The options every engine database is opened with. The returned options point at this
  // object's cache, filter and logger, so it must outlive any database opened with them.
  leveldb::Options MakeOptions(bool create_if_missing) const;

 private:
  const LevelDbEngineOptions options_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::Logger> logger_;
  std::unique_ptr<leveldb::Env> env_;  // Null: LevelDB's default Env.
};

// Converts a LevelDB status: NotFound -> NotFound, Corruption -> DataLoss, NotSupported ->
// Unimplemented, InvalidArgument -> InvalidArgument, IOError -> Internal. `context` prefixes
// the message.
absl::Status FromLevelDbStatus(const leveldb::Status& status, std::string_view context);

class LevelDbEngine final : public Engine {
 public:
  // Name of the identity marker file and of the two database subdirectories.
  static constexpr char kMarkerFile[] = "RUTILE_ENGINE";
  static constexpr char kDataDir[] = "data";
  static constexpr char kRaftDir[] = "raft";

  // Opens the engine in `dir`, creating `dir` and a fresh engine when `dir` is missing or
  // empty (and options.create_if_missing). Returns:
  //   OK                  the engine.
  //   InvalidArgument     `dir` is empty.
  //   NotFound            no engine there and create_if_missing is false.
  //   AlreadyExists       an engine is there and error_if_exists is true.
  //   FailedPrecondition  `dir` (or a parent) is not a directory; `dir` is not empty but
  //                       holds no Rutile engine (for example another program's LevelDB);
  //                       the marker names an unknown format; the engine is open elsewhere
  //                       (its lock is held).
  //   PermissionDenied    the operating system refused access.
  //   DataLoss            the marker says the engine exists but a database is missing or
  //                       corrupt.
  //   Internal            another I/O error.
  // On every error nothing in `dir` is changed, except that creating a fresh engine may
  // leave the directories it created.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& dir,
                                                      const LevelDbEngineOptions& options);

  ~LevelDbEngine() override;

  using Engine::Get;
  absl::StatusOr<std::optional<std::string>> Get(CF cf, std::string_view key,
                                                 const ReadOptions& options) override;
  std::unique_ptr<Iterator> NewIterator(CF cf, const IterOptions& options) override;
  absl::Status SeekVisit(
      CF cf, std::string_view target, const ReadOptions& options,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) override;
  std::unique_ptr<Snapshot> GetSnapshot() override;
  absl::Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  absl::Status SyncWAL() override;
  absl::StatusOr<uint64_t> ApproximateSize(CF cf, std::string_view start,
                                           std::string_view end) override;
  absl::Status CompactRange(CF cf, std::string_view start, std::string_view end) override;

  // LevelDB iterators kept for reuse right now (tests).
  size_t TEST_KeptIterators() const;
  // LevelDB iterators over the latest state made so far, kept or not (tests).
  uint64_t TEST_IteratorsMade() const;

 private:
  LevelDbEngine(std::string dir, Env* io_env, std::unique_ptr<LevelDbResources> resources,
                std::unique_ptr<leveldb::DB> data_db, std::unique_ptr<leveldb::DB> raft_db);

  // Write after validation: takes write_mu_ (exclusively for a DeleteRange) and writes.
  absl::Status LockAndWrite(const WriteBatch& batch, const WriteOptions& options, bool has_raft,
                            bool has_data) ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status SyncNow();
  // Fills lock_index_ from CF kLock (at open, before the engine is shared).
  absl::Status LoadLockIndex();

  // Appends to `out` a Delete for every key of op `index` (a DeleteRange) present in the
  // database or put by an earlier op of `batch`. Requires write_mu_ held exclusively (the
  // annotation can only say "at least shared").
  absl::Status ExpandDeleteRange(const WriteBatch& batch, size_t index, leveldb::DB* db,
                                 leveldb::WriteBatch* out) ABSL_SHARED_LOCKS_REQUIRED(write_mu_);

  // Write after validation, with write_mu_ held (exclusively when the batch has a
  // DeleteRange).
  absl::Status WriteLocked(const WriteBatch& batch, const WriteOptions& options, bool has_raft,
                           bool has_data) ABSL_SHARED_LOCKS_REQUIRED(write_mu_);

  const std::string dir_;
  Env* const io_env_;  // May be null; see LevelDbEngineOptions::io_env.
  // Declared before the databases, which use them, so destroyed after.
  const std::unique_ptr<LevelDbResources> resources_;
  const std::unique_ptr<leveldb::DB> data_db_;
  const std::unique_ptr<leveldb::DB> raft_db_;
  // Held shared by every Write, exclusively by a Write containing DeleteRange. A plain OS
  // lock, not a fiber mutex: critical sections never wait on a fiber, only on LevelDB.
  absl::Mutex write_mu_;
  // The keys of CF kLock (see the top of the file).
  KeyIndex lock_index_{CF::kLock};
  // Writes to the data database begun and ended (around every data_db_->Write): while no
  // write began since an iterator over the latest state was made, none in flight then, it
  // still shows the latest state (LatestIteratorPool).
  std::atomic<uint64_t> data_writes_begun_{0};
  std::atomic<uint64_t> data_writes_ended_{0};
  // Declared after data_db_: its iterators go before the database.
  std::unique_ptr<LatestIteratorPool> latest_iterators_;
};

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_LEVELDB_ENGINE_H_
