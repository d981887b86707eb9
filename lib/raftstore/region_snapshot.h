// RegionSnapshot: a consistent, read-only view of one region's data at a point in time,
// what RaftKv::Snapshot returns. It holds an engine snapshot and the region as it was
// when the snapshot was taken, translates user keys to raftstore's data keys (keys.h),
// and never shows a key outside the region.
//
// engine() exposes the view as a storage::Engine, so code written against Engine and
// Snapshot (the MVCC reader) runs unchanged over a region: reads go to the held snapshot
// whatever ReadOptions say (a snapshot from the view's own GetSnapshot, or none), writes
// fail with FailedPrecondition.
//
// A live view (no engine snapshot, Store::ReadLatest) reads the engine's latest state at
// each call instead: every read is current when it runs, but two reads are not one frozen
// view. The store creates those only for the duration of a ReadLatest callback.
//
// Thread safety: reads may come from many fibers at once. The engine must outlive the
// RegionSnapshot.

#ifndef RUTILE_RAFTSTORE_REGION_SNAPSHOT_H_
#define RUTILE_RAFTSTORE_REGION_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "storage/engine.h"

namespace rutile::raftstore {

// Versions one peer's region data (what the coprocessor's column cache validates cached
// rows with, sql/coprocessor/column_cache.h): every engine write to the region's data by
// the peer (apply, an installed snapshot, a destroy clearing the data) sets it to 0 before
// the write and to a new value, unique in the process and larger than every earlier one,
// after it. The write also records the region epoch version its data belongs to (a split
// or merge changes the range within the same write). A reader loads the version before and
// after taking its engine snapshot (Read): equal non-zero loads mean the snapshot holds
// exactly the writes that ended before the first load, so two snapshots with the same
// version hold the same region data. Read also compares the epoch recorded with the epoch
// of the region the reader serves the snapshot under (which the store publishes after the
// write that changed it): a mismatch is version 0 too, so a version always comes with the
// epoch of its data. Values are never reused, also not by a later peer of the same region.
// Writes come from one fiber at a time (the peer's poller or its apply task); reads from
// any.
class DataVersion {
 public:
  explicit DataVersion(uint64_t epoch_version) : epoch_(epoch_version), v_(Next()) {}
  void BeginWrite() { v_.store(0, std::memory_order_seq_cst); }
  // `epoch_version`: the region's epoch version after the write.
  void EndWrite(uint64_t epoch_version) {
    epoch_.store(epoch_version, std::memory_order_seq_cst);
    v_.store(Next(), std::memory_order_seq_cst);
  }
  uint64_t Load() const { return v_.load(std::memory_order_seq_cst); }
  // Runs take() (which takes an engine snapshot) between two loads; *version is the
  // version the snapshot holds, or 0 when a write overlapped or the data belongs to
  // another epoch version than `epoch_version` (the reader's region).
  template <typename F>
  auto Read(F&& take, uint64_t epoch_version, uint64_t* version) const {
    const uint64_t before = Load();
    // Stored before `before` was (EndWrite), and not changed while the version holds.
    const uint64_t epoch = epoch_.load(std::memory_order_seq_cst);
    auto snap = take();
    *version = Load() == before && epoch == epoch_version ? before : 0;
    return snap;
  }

 private:
  static uint64_t Next();
  std::atomic<uint64_t> epoch_;
  std::atomic<uint64_t> v_;
};

class RegionSnapshot {
 public:
  // Takes ownership of `snapshot` (from `engine`); a null `snapshot` makes a live view.
  RegionSnapshot(storage::Engine* engine, std::unique_ptr<storage::Snapshot> snapshot,
                 metapb::Region region, uint64_t applied_index);
  RegionSnapshot(storage::Engine* engine, std::unique_ptr<storage::Snapshot> snapshot,
                 std::shared_ptr<const metapb::Region> region, uint64_t applied_index);
  ~RegionSnapshot();
  RegionSnapshot(const RegionSnapshot&) = delete;
  RegionSnapshot& operator=(const RegionSnapshot&) = delete;

  const metapb::Region& region() const { return *region_; }
  // The region's applied index the view reflects (a live view: at least this).
  uint64_t applied_index() const { return applied_index_; }
  // Reads see the engine's latest state, not a frozen snapshot.
  bool live() const { return snapshot_ == nullptr; }
  // The term in which this store's peer led the region when it served the view (lease or
  // ReadIndex at the leader), or 0 (a follower read, or not known). A peer leads at most
  // one unbroken stretch per term, so state kept only at the leader (txn's in-memory
  // pessimistic locks) tags itself with it and is void once the term differs.
  uint64_t leader_term() const { return leader_term_; }
  void set_leader_term(uint64_t term) { leader_term_ = term; }
  // The region data's version this view holds (DataVersion), or 0: not known (a live
  // view, or a write overlapped the snapshot).
  uint64_t data_version() const { return data_version_; }
  void set_data_version(uint64_t v) { data_version_ = v; }

  // Reads `key` of `cf`. KeyNotInRegion (errors.h) for a key outside the region.
  absl::StatusOr<std::optional<std::string>> Get(storage::CF cf, std::string_view key) const;

  // An iterator over `cf` within the options' bounds intersected with the region (the
  // options' snapshot is ignored). Keys are user keys.
  std::unique_ptr<storage::Iterator> NewIterator(storage::CF cf,
                                                 const storage::IterOptions& options) const;

  // The view as an Engine (owned by this object).
  storage::Engine* engine() const { return &view_; }

 private:
  // The view as an Engine, a member (no allocation per view: a transactional point get
  // makes one live view and reads through it).
  class View final : public storage::Engine {
   public:
    explicit View(const RegionSnapshot* owner) : owner_(owner) {}
    using storage::Engine::Get;
    absl::StatusOr<std::optional<std::string>> Get(storage::CF cf, std::string_view key,
                                                   const storage::ReadOptions& options) override;
    std::unique_ptr<storage::Iterator> NewIterator(storage::CF cf,
                                                   const storage::IterOptions& options) override;
    absl::Status SeekVisit(
        storage::CF cf, std::string_view target, const storage::ReadOptions& options,
        absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) override;
    std::unique_ptr<storage::Snapshot> GetSnapshot() override;
    absl::Status Write(const storage::WriteBatch& batch,
                       const storage::WriteOptions& options) override;
    absl::Status SyncWAL() override;
    absl::StatusOr<uint64_t> ApproximateSize(storage::CF cf, std::string_view start,
                                             std::string_view end) override;
    absl::Status CompactRange(storage::CF cf, std::string_view start,
                              std::string_view end) override;

   private:
    absl::Status CheckSnapshot(const storage::Snapshot* s) const;
    const RegionSnapshot* const owner_;
  };

  storage::Engine* const engine_;
  std::unique_ptr<storage::Snapshot> snapshot_;
  const std::shared_ptr<const metapb::Region> region_;
  const uint64_t applied_index_;
  uint64_t leader_term_ = 0;
  uint64_t data_version_ = 0;
  mutable View view_{this};
};

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_REGION_SNAPSHOT_H_
