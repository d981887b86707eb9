// RegionCache: the client side's map from key to region and leader store (TiKV client-go's
// RegionCache, without the store cache: a store is reached by its id). Regions are looked up
// at PD on a miss and dropped or corrected when a store answers with a region error (see
// RegionRequestSender). Keys are whatever the regions are keyed by: the raw KV clients use
// raw keys, the transaction client encoded keys (types.h EncodeKey).
//
// Epochs: answers arrive out of order (a slow PD lookup, an EpochNotMatch from a store that
// has not applied the latest split), so an insert never replaces newer knowledge with older.
// A region's epoch only grows: a split raises the version of every region it leaves, a
// merge sets the survivor's above both, a conf change raises conf_ver. So among regions
// covering a key the newest has the highest version (PD's region tree keeps the same
// rule), and a cached entry is replaced only by one that is not older (client-go's
// RegionCache and PD's RegionsInfo ignore stale regions the same way).
//
// Leader hints name a store holding a peer of the cached region; a hint naming another
// store means the cached peers are stale, and the region is dropped (client-go's
// UpdateLeader).
//
// Thread safety: every method may be called from any fiber concurrently.

#ifndef RUTILE_TXN_CLIENT_REGION_CACHE_H_
#define RUTILE_TXN_CLIENT_REGION_CACHE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "metapb.pb.h"

namespace rutile::txn::client {

struct RegionRoute {
  metapb::Region region;
  uint64_t leader_store = 0;  // 0: unknown.
};

class RegionCache {
 public:
  // A cached region. Shared with callers, so a lookup copies a pointer, not the region; the
  // region never changes (a new epoch is a new entry), the leader hint may.
  struct Entry {
    Entry(metapb::Region r, uint64_t leader) : region(std::move(r)), leader_store(leader) {}
    uint64_t leader() const { return leader_store.load(std::memory_order_relaxed); }

    const metapb::Region region;
    mutable std::atomic<uint64_t> leader_store;  // 0: not known.
  };
  using EntryPtr = std::shared_ptr<Entry>;
  // Asks PD for the region holding a key: NotFound when PD knows none, other errors when
  // PD cannot answer.
  using Lookup = std::function<absl::StatusOr<RegionRoute>(const std::string& key)>;

  explicit RegionCache(Lookup lookup) : lookup_(std::move(lookup)) {}
  RegionCache(const RegionCache&) = delete;
  RegionCache& operator=(const RegionCache&) = delete;

  // The cached region holding `key`, or PD's answer (then cached). Errors are PD's.
  absl::StatusOr<EntryPtr> Locate(const std::string& key);
  // Caches `region` with leader hint `leader_store` (0: unknown; a store without a peer of
  // the region counts as unknown), dropping every cached region it overlaps and the entry
  // of its id, unless one of those is newer (see Newer): then the cache is left as it is
  // and this returns false. A region of the same epoch as the cached entry of its id keeps
  // that entry (and takes the leader hint, if one is given).
  bool Insert(const metapb::Region& region, uint64_t leader_store);
  // Caches each of `regions` (an EpochNotMatch's current regions) as Insert does.
  void InsertAll(const google::protobuf::RepeatedPtrField<metapb::Region>& regions,
                 uint64_t leader_store);
  // Drops region `region_id`: the next lookup of its keys asks PD.
  void Invalidate(uint64_t region_id);
  // Drops `e` if it is still cached (not when a newer entry of its region replaced it).
  void Invalidate(const Entry& e);
  // Sets the leader hint of `e` to `store` (0: unknown) and returns true when `store` holds
  // a peer of e's region or is 0; otherwise the cached peers are stale: drops `e` (as
  // Invalidate(e)) and returns false.
  bool UpdateLeader(const Entry& e, uint64_t store);
  // UpdateLeader on the cached entry of region `region_id`, if any.
  void SetLeader(uint64_t region_id, uint64_t store);
  // Whether `a` is newer than `b` for routing: for the same region id, a higher version or
  // conf_ver; for regions of different ids (whose ranges overlap), a higher version.
  static bool Newer(const metapb::Region& a, const metapb::Region& b);
  // How many regions are cached.
  size_t size();

 private:
  // Inserts `e` as Insert does. Returns the entry now cached for e's region: `e`, the
  // cached entry of the same epoch, or null when a cached entry is newer.
  EntryPtr InsertLocked(EntryPtr e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The cached entry holding `key`, or null.
  EntryPtr FindLocked(const std::string& key) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void EraseLocked(std::map<std::string, EntryPtr>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Lookup lookup_;
  absl::Mutex mu_;
  std::map<std::string, EntryPtr> by_start_ ABSL_GUARDED_BY(mu_);
  // Region id -> its entry's key in by_start_ (SetLeader and Invalidate without a walk).
  std::unordered_map<uint64_t, std::string> start_of_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rutile::txn::client

#endif  // RUTILE_TXN_CLIENT_REGION_CACHE_H_
