// MvccReader reads Percolator's column families through one engine snapshot (TiKV's
// mvcc/reader): the lock of a key, its write records newest first, the value a write record
// points to, a transaction's commit record, and lock scans. It applies no isolation policy:
// point gets and scans that check locks live in reads.h, commands in commands.h.
//
// Keys passed in are encoded (types.h EncodeKey); keys returned are encoded too. Stored
// bytes that do not decode make the call fail with DataLoss.
//
// Thread safety: none (it keeps iterators); one reader per command. The engine and the
// snapshot must outlive it.

#ifndef RUTILE_TXN_MVCC_READER_H_
#define RUTILE_TXN_MVCC_READER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/engine.h"
#include "txn/mem_locks.h"
#include "txn/types.h"

namespace rutile::txn {

// A write record at exactly a transaction's start_ts that belongs to another transaction
// (possible with async commit's calculated commit_ts), with the gc_fence to set if a
// rollback marks it (see Write::gc_fence).
struct OverlappedWrite {
  Write write;
  TimeStamp gc_fence = 0;
};

// What the write CF says about transaction `start_ts` on one key.
struct TxnCommitRecord {
  enum class Kind {
    kNone,                // No record: the transaction is neither committed nor rolled back.
    kSingleRecord,        // A record with write.start_ts == start_ts (commit or rollback).
    kOverlappedRollback,  // Another txn's record at commit_ts == start_ts marks our rollback.
  };
  Kind kind = Kind::kNone;
  TimeStamp commit_ts = 0;
  Write write;                                      // kSingleRecord.
  std::optional<OverlappedWrite> overlapped_write;  // kNone.

  bool committed() const {
    return kind == Kind::kSingleRecord && write.type != WriteType::kRollback;
  }
  bool rolled_back() const {
    return kind == Kind::kOverlappedRollback ||
           (kind == Kind::kSingleRecord && write.type == WriteType::kRollback);
  }
};

class MvccReader {
 public:
  MvccReader(storage::Engine* engine, const storage::Snapshot* snapshot);
  MvccReader(const MvccReader&) = delete;
  MvccReader& operator=(const MvccReader&) = delete;

  storage::Engine* engine() const { return engine_; }
  const storage::Snapshot* snapshot() const { return snapshot_; }
  // Commands at a region leader: the region's in-memory pessimistic locks (mem_locks.h)
  // count as locks for keys with none in the engine (LoadLock, ScanLocks).
  void set_mem_locks(MemLockScope* scope) { mem_ = scope; }
  // A reader of one key (a point get): GetWrite reads through Engine::SeekVisit, with no
  // Iterator object made and kept (cheaper for one seek, dearer for many).
  void set_single_key(bool on) { single_key_ = on; }

  absl::StatusOr<std::optional<Lock>> LoadLock(std::string_view key);

  // The newest write record of `key` with commit_ts <= ts, of any type.
  absl::StatusOr<std::optional<std::pair<TimeStamp, Write>>> SeekWrite(std::string_view key,
                                                                       TimeStamp ts);

  // The newest data version of `key` at or below ts: a Put record, or nullopt if the newest
  // data record is a Delete or there is none. Lock and Rollback records are skipped. With
  // `gc_fence_limit`, a record whose gc_fence forbids reading at that ts counts as absent.
  absl::StatusOr<std::optional<std::pair<TimeStamp, Write>>> GetWrite(
      std::string_view key, TimeStamp ts, std::optional<TimeStamp> gc_fence_limit);

  // The value a Put record (or a Put lock) carries: its short value, or the CF default entry
  // at key+start_ts (DataLoss when that is missing).
  absl::StatusOr<std::string> LoadData(std::string_view key, TimeStamp start_ts,
                                       const std::optional<std::string>& short_value);

  // The committed value of `key` visible at ts, ignoring locks.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key, TimeStamp ts);

  absl::StatusOr<TxnCommitRecord> GetTxnCommitRecord(std::string_view key, TimeStamp start_ts);

  // Locks with encoded key in [start, end) (empty end: no bound) for which `filter` holds,
  // at most `limit` of them (0: no limit). *has_more says the scan stopped at the limit.
  absl::StatusOr<std::vector<std::pair<std::string, Lock>>> ScanLocks(
      std::string_view start, std::string_view end, const std::function<bool(const Lock&)>& filter,
      size_t limit, bool* has_more = nullptr);

  // Distinct encoded user keys with write records in [start, end), at most `limit` (0: no
  // limit), in order.
  absl::StatusOr<std::vector<std::string>> ScanWriteKeys(std::string_view start,
                                                         std::string_view end, size_t limit);

  // Every write record of `key`, newest first (for GC and debugging).
  absl::StatusOr<std::vector<std::pair<TimeStamp, Write>>> ScanWrites(std::string_view key);

  // A new iterator over `cf` of this snapshot within [lower, upper) (empty: unbounded).
  std::unique_ptr<storage::Iterator> NewIterator(storage::CF cf, std::string_view lower,
                                                 std::string_view upper) const;

 private:
  storage::Iterator* write_iter();

  storage::Engine* engine_;
  const storage::Snapshot* snapshot_;
  MemLockScope* mem_ = nullptr;
  bool single_key_ = false;
  std::unique_ptr<storage::Iterator> write_it_;
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_MVCC_READER_H_
