// KeyIndex: the set of keys of one small column family kept in memory beside the engine,
// so that a point read of the LATEST state of a key that is absent answers without reading
// the database. LevelDbEngine keeps one for CF kLock: Percolator's lock CF holds only live
// locks, and a transactional point get reads the lock of its key before the write records;
// that lock is almost always absent, and a LevelDB miss costs a memtable search plus a
// Bloom probe per table file (a third of a snapshot point get's CPU before this index).
//
// Invariant, at every instant: a key stored in the database is in the index. The index may
// hold keys the database does not (a delete that raced with a put of the same key leaves
// its key in; so does a failed write), which only costs a database read. So MayContain(k)
// false means "k is absent from the database now", and a read of the latest state may
// answer "absent" with no database read. A read at an engine snapshot cannot use it (the
// index says nothing about the past).
//
// How writes keep the invariant (every write of the engine brackets its database write
// with Begin/End, concurrent writes included):
//   - A put of k enters k before the database write (Begin) and counts itself in flight
//     until End; each put gives k a new version.
//   - A delete of k removes k after the database write (End), but only when no put of k was
//     in flight at its Begin and no put of k began since (k's version is unchanged and
//     nothing is in flight): then every put of k reached the database before this delete
//     did, so k is absent now. Otherwise k stays (conservative).
//   - A delete range removes, at End, the keys in its range with the same two conditions.
//   - Within one batch, ops apply in order: a key's last op decides, and a delete range
//     covers the batch's earlier puts in its range (as Engine::Write applies them).
//
// Memory: one entry per present key (the key, a version and a counter). For the lock CF
// this is the number of live locks; a transaction with a million locks costs ~100 MB here
// while they exist.
//
// Thread safety: every method may be called from any thread. No method blocks on anything
// but the index's own mutex (an OS lock held for in-memory work only).

#ifndef RUTILE_STORAGE_KEY_INDEX_H_
#define RUTILE_STORAGE_KEY_INDEX_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/cf.h"
#include "storage/write_batch.h"

namespace rutile::storage {

class KeyIndex {
 public:
  // What one write noted in Begin, handed back to End.
  class Pending {
   public:
    Pending() = default;
    Pending(Pending&&) = default;
    Pending& operator=(Pending&&) = default;
    bool empty() const { return puts_.empty() && deletes_.empty() && ranges_.empty(); }

   private:
    friend class KeyIndex;
    struct Delete {
      std::string key;
      uint64_t version = 0;  // 0: do not remove at End.
    };
    struct Range {
      std::string start;
      std::string end;                // Empty: no upper bound.
      uint64_t version = 0;           // Keys with a version above it were put after Begin.
      std::vector<std::string> busy;  // Keys in range with puts in flight at Begin.
    };
    std::vector<std::string> puts_;
    std::vector<Delete> deletes_;
    std::vector<Range> ranges_;
  };

  // Indexes the keys of `cf` (the unprefixed keys of WriteBatch ops).
  explicit KeyIndex(CF cf) : cf_(cf) {}
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;

  CF cf() const { return cf_; }

  // Replaces the contents with `keys`, the keys stored now (at open, before any write).
  void Reset(const std::vector<std::string>& keys);

  // Call before writing `batch` to the database; pass the result to End after the write
  // returned, with `applied` false when the write failed (nothing of it reached the
  // database: its deletes remove nothing, its puts' keys stay). Cheap when the batch does
  // not touch cf().
  Pending Begin(const WriteBatch& batch);
  void End(Pending pending, bool applied);

  // False: `key` is absent from the database at this instant (see the invariant).
  // Performance-critical path.
  bool MayContain(std::string_view key) const {
    if (size_.load(std::memory_order_seq_cst) == 0) return false;
    return MayContainSlow(key);
  }

  size_t size() const { return size_.load(std::memory_order_seq_cst); }
  // The indexed keys, in order (tests).
  std::vector<std::string> TEST_Keys() const;

 private:
  struct Entry {
    uint64_t version = 0;
    uint32_t in_flight = 0;  // Puts between Begin and End.
  };
  bool MayContainSlow(std::string_view key) const;
  void PublishSizeLocked();  // Requires mu_ held exclusively.

  const CF cf_;
  // entries_.size(), stored under mu_ after every change, read without it (an empty index
  // answers with one atomic load).
  std::atomic<size_t> size_{0};
  // A plain OS lock: abseil's mutex (as built here) pays for deadlock detection on every
  // acquisition, and readers take this one on every lock read while locks exist.
  mutable std::shared_mutex mu_;
  uint64_t next_version_ = 1;                          // Guarded by mu_.
  std::map<std::string, Entry, std::less<>> entries_;  // Guarded by mu_.
};

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_KEY_INDEX_H_
