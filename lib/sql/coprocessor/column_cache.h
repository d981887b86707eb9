// The coprocessor's columnar cache of region data (the idea of TiKV's in-memory engine and
// of TiFlash's columnar replica, in one store's memory): a table scan that read one
// region's slice of a table's records keeps the handles and the decoded columns in the
// executor's columnar form, so a later scan of the same data hands ready chunks to
// Selection, Aggregation and TopN instead of iterating LevelDB and decoding rows again.
//
// An entry covers the raw key range [start, end) of one table's records in one region,
// read as the region's data at `data_version` (raftstore::DataVersion: a per-peer version
// every engine write to the region's data replaces, read before and after the engine
// snapshot) under region epoch version `epoch_version`. The scan that built it met no lock
// in the range and no write record above its read ts, and `max_commit_ts` is the largest
// commit ts of the keys' newest write records. So for a later read at ts of a snapshot with
// the same data version and epoch, the visible rows are the entry's iff ts >= max_commit_ts
// (TiKV's in-memory engine refuses a read below its safe point, "TooOldRead", and one whose
// epoch or sequence number does not match, for the same reason). The checks of the read
// itself (max_ts raised, the memory lock table) run before, as for any scan (RunDag's
// caller); a lock written since is a write, so it changed the data version.
//
// Columns are keyed by the scan's serialized ColumnInfo (id, type, handle flag, default):
// a scan whose columns an entry lacks reads the rows and rebuilds it, keeping the old
// entry's columns when they describe the same data. A handle column (the integer primary
// key, or _tidb_rowid) is not kept: the entry's handles are its values. Entries are
// evicted least recently used first once their bytes pass the capacity; capacity 0
// disables the cache. A scan building an entry holds what it gathered until it ends, and
// the stores run many region scans at once: one build gathers at most max_build_bytes()
// (a share of the capacity) and is abandoned beyond it, so N concurrent builds hold at
// most N x that, not N x the capacity.
//
// Data versions only grow (raftstore::DataVersion takes them from one counter), so of
// two entries of a region the one of the larger version is the newer: a read of an older
// snapshot neither erases nor replaces a newer entry.
//
// Thread safety: every method may be called from many fibers at once; entries are
// immutable once inserted and shared with the scans reading them.

#ifndef RUTILE_SQL_COPROCESSOR_COLUMN_CACHE_H_
#define RUTILE_SQL_COPROCESSOR_COLUMN_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sql/chunk/chunk.h"
#include "util/sync.h"

namespace rutile::sql::coprocessor {

// What a read must match to use an entry.
struct CacheKey {
  uint64_t region_id = 0;
  uint64_t data_version = 0;  // 0: not known, the cache is not used.
  uint64_t epoch_version = 0;
  uint64_t read_ts = 0;
  // The read may build an entry (its scan can be traced: snapshot isolation).
  bool may_build = false;
};

struct CachedTable {
  int64_t table_id = 0;
  uint64_t region_id = 0;
  uint64_t data_version = 0;
  uint64_t epoch_version = 0;
  std::string start;  // Raw, inclusive.
  std::string end;    // Raw, exclusive.
  uint64_t max_commit_ts = 0;
  std::vector<int64_t> handles;  // Ascending: the rows in key order.
  // By serialized coprocessor ColumnInfo; each holds handles.size() rows. Shared with
  // the entries rebuilt from this one.
  std::map<std::string, std::shared_ptr<const Column>> columns;
  size_t bytes = 0;  // Estimated memory.
};

// Estimated memory of `col`'s values.
size_t ColumnBytes(const Column& col);

class ColumnCache {
 public:
  // The share of the capacity one build may gather by default.
  static constexpr double kDefaultMaxBuildShare = 0.25;

  // `max_build_share` (in (0, 1]): the share of the capacity one scan may gather to build
  // an entry (max_build_bytes()).
  explicit ColumnCache(size_t capacity_bytes, double max_build_share = kDefaultMaxBuildShare)
      : capacity_(capacity_bytes), max_build_share_(ClampShare(max_build_share)) {}
  ColumnCache(const ColumnCache&) = delete;
  ColumnCache& operator=(const ColumnCache&) = delete;

  // Changes the capacity, evicting down to it (0 empties and disables the cache).
  void SetCapacity(size_t bytes);
  size_t capacity() const;
  // The most bytes one build gathers (its handles and columns, estimated as ColumnBytes)
  // before it is abandoned: capacity x max_build_share.
  size_t max_build_bytes() const;

  // The entry of `table_id` in key.region_id when it holds the data key.data_version at
  // key.epoch_version and serves reads at key.read_ts; null otherwise. An entry of an
  // older data version is dropped (it can never serve again); one of a newer version
  // stays (the read's snapshot is the older one).
  std::shared_ptr<const CachedTable> Lookup(const CacheKey& key, int64_t table_id);
  // The entry of the same region and table holding the same data as `key` describes,
  // whatever the read ts (the columns a rebuild keeps), or null.
  std::shared_ptr<const CachedTable> Peek(const CacheKey& key, int64_t table_id);
  // Inserts `e`, replacing the region's entry of the same table unless that entry holds a
  // newer data version; false (nothing kept) then, or when `e` alone passes the capacity.
  bool Insert(std::shared_ptr<const CachedTable> e);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;  // Lookups finding no usable entry.
    uint64_t inserts = 0;
    uint64_t evictions = 0;  // Dropped for room (not for staleness).
    size_t bytes = 0;
    size_t entries = 0;
  };
  Stats stats() const;
  // Counts a hit (the caller used what Lookup returned).
  void CountHit();

 private:
  using Key = std::pair<uint64_t, int64_t>;  // Region, table.
  struct Slot {
    std::shared_ptr<const CachedTable> entry;
    std::list<Key>::iterator lru;
  };
  void EraseLocked(std::map<Key, Slot>::iterator it);
  void EvictLocked();
  static double ClampShare(double s) { return s > 0 && s <= 1 ? s : kDefaultMaxBuildShare; }

  mutable Mutex mu_;
  size_t capacity_;  // Guarded by mu_.
  const double max_build_share_;
  std::map<Key, Slot> slots_;  // Guarded by mu_.
  std::list<Key> lru_;         // Most recently used first; guarded by mu_.
  Stats stats_;                // Guarded by mu_.
};

}  // namespace rutile::sql::coprocessor

#endif  // RUTILE_SQL_COPROCESSOR_COLUMN_CACHE_H_
