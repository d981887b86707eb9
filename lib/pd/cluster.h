// Cluster: PD's view of the stores and regions, built from heartbeats (tikv/pd's
// BasicCluster and the region half of RaftCluster.processRegionHeartbeat).
//
// Region heartbeats are checked against what PD already knows, using the region epoch:
// `version` grows with every split and merge, `conf_ver` with every membership change.
// A heartbeat is stale, and rejected, when its region is known with a larger version or
// conf_ver, or when a region it overlaps is known with a larger version (PD heard from the
// result of a split or merge already). Otherwise it replaces the region and every region it
// overlaps; those are the ones a split or merge made obsolete.
//
// Per-store counts (regions, leaders, sizes) are derived from the regions, not taken from
// store heartbeats, so schedulers see one consistent picture.
//
// Not thread-safe: the PD server serializes access.

#ifndef RUTILE_PD_CLUSTER_H_
#define RUTILE_PD_CLUSTER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pd/region_info.h"
#include "pd/region_tree.h"

namespace rutile::pd {

class Cluster {
 public:
  // ---- Stores.

  // Adds a store or updates its metadata (address, labels); statistics are kept. A new
  // store takes the state in `meta`; a known one keeps its own (a store re-registering
  // after `store delete` stays offline: states change only through SetStoreState).
  // Returns FailedPrecondition when the store is a tombstone (ids are never reused).
  absl::Status PutStore(const metapb::Store& meta);

  // Records a store heartbeat at `now_micros`. NotFound for an unknown store,
  // FailedPrecondition for a tombstone.
  absl::Status HandleStoreHeartbeat(uint64_t store_id, const StoreStats& stats,
                                    uint64_t now_micros);

  // Changes a store's state (pd-ctl `store delete` makes it OFFLINE; it becomes a
  // TOMBSTONE once it holds no region). A tombstone never comes back: FailedPrecondition.
  absl::Status SetStoreState(uint64_t store_id, metapb::StoreState state);

  const StoreInfo* GetStore(uint64_t store_id) const;
  // Every store, by id.
  std::vector<const StoreInfo*> GetStores() const;
  size_t StoreCount() const { return stores_.size(); }

  // ---- Regions.

  // Processes a region heartbeat at `now_micros`. On success returns the ids of the
  // regions it replaced (overlapping ones; the region's own older version is not listed).
  // Errors: InvalidArgument for a malformed region (id 0, no peers, start >= end);
  // FailedPrecondition("stale ...") when the epoch is older than what PD knows.
  absl::StatusOr<std::vector<uint64_t>> HandleRegionHeartbeat(RegionInfo region,
                                                              uint64_t now_micros);

  // Like HandleRegionHeartbeat without the epoch checks (bootstrap, tests).
  std::vector<uint64_t> PutRegion(RegionInfo region, uint64_t now_micros = 0);

  // Forgets a region. Returns whether it was known.
  bool RemoveRegion(uint64_t region_id);

  const RegionInfo* GetRegion(uint64_t region_id) const;
  const RegionInfo* GetRegionByKey(const std::string& key) const;
  // Regions overlapping [start, end) (empty end = +inf), in key order, at most `limit`
  // (0 = all).
  std::vector<const RegionInfo*> ScanRegions(const std::string& start, const std::string& end,
                                             size_t limit = 0) const;
  // Every region, in key order.
  std::vector<const RegionInfo*> GetRegions() const;
  size_t RegionCount() const { return regions_.size(); }
  // The key-adjacent neighbours of a region, when PD knows them.
  const RegionInfo* GetPrevRegion(const RegionInfo& region) const;
  const RegionInfo* GetNextRegion(const RegionInfo& region) const;

  // Ids of the regions with a leader / a voter that is not the leader / a learner / a
  // pending peer on `store_id`, ascending.
  const std::set<uint64_t>& LeaderRegions(uint64_t store_id) const;
  const std::set<uint64_t>& FollowerRegions(uint64_t store_id) const;
  const std::set<uint64_t>& LearnerRegions(uint64_t store_id) const;
  const std::set<uint64_t>& PendingRegions(uint64_t store_id) const;
  // Ids of every region with a peer on `store_id`, ascending.
  std::vector<uint64_t> RegionsOnStore(uint64_t store_id) const;

 private:
  struct StoreIndex {
    std::set<uint64_t> leaders;
    std::set<uint64_t> followers;
    std::set<uint64_t> learners;
    std::set<uint64_t> pending;
  };

  // Adds or subtracts a region's contribution to its stores' counts and indexes.
  void Account(const RegionInfo& region, bool add);
  void EraseRegion(uint64_t region_id, bool from_tree);

  std::map<uint64_t, StoreInfo> stores_;
  std::map<uint64_t, StoreIndex> store_index_;
  std::map<uint64_t, RegionInfo> regions_;
  RegionTree tree_;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_CLUSTER_H_
