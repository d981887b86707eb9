// What schedulers and checkers decide from: a read-only view of the cluster, the
// configuration, the operators in flight and the time, plus a source of new peer ids.
// Schedulers and checkers are functions of this context, deterministic given it (ties are
// broken by store and region id), which is what lets datadriven scripts pin decisions.

#ifndef RUTILE_PD_SCHEDULE_CONTEXT_H_
#define RUTILE_PD_SCHEDULE_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "pd/cluster.h"
#include "pd/config.h"
#include "pd/operator_controller.h"

namespace rutile::pd {

// Returns a new cluster-unique id (IdAllocator::Alloc in PD).
using IdAllocFn = std::function<absl::StatusOr<uint64_t>()>;

struct ScheduleContext {
  const Cluster& cluster;
  const ScheduleConfig& config;
  const OperatorController& operators;
  uint64_t now_micros;
  IdAllocFn alloc_id;
  // The influence of the operators in flight, computed once per context.
  OpInfluence influence;

  ScheduleContext(const Cluster& c, const ScheduleConfig& cfg, const OperatorController& ops,
                  uint64_t now, IdAllocFn alloc)
      : cluster(c),
        config(cfg),
        operators(ops),
        now_micros(now),
        alloc_id(std::move(alloc)),
        influence(ops.Influence()) {}

  // Up, heard from within max-store-down-time.
  bool StoreHealthy(const StoreInfo& store) const;
  std::vector<const StoreInfo*> HealthyStores() const;
  // Counts and sizes with the influence of running operators added.
  int64_t RegionSizeScore(const StoreInfo& store) const;
  int64_t RegionCountScore(const StoreInfo& store) const;
  int64_t LeaderCountScore(const StoreInfo& store) const;

  // True when a peer of `region` should be replaced: its store is unknown, down, offline
  // or a tombstone, or the leader reports it down for at least max-store-down-time.
  bool PeerUnhealthy(const RegionInfo& region, const metapb::Peer& peer) const;

  // A region fit to be moved by the balance schedulers: a known leader, exactly
  // max-replicas voters, no learner, no down peer, no operator.
  bool RegionSchedulable(const RegionInfo& region) const;

  // The stores holding the region's voters, skipping `exclude_store` (and unknown stores).
  std::vector<const StoreInfo*> VoterStores(const RegionInfo& region,
                                            uint64_t exclude_store = 0) const;

  // The best store for a new replica of `region` next to the stores in `others`: healthy,
  // no peer of the region, highest DistinctScore, then smallest region size (with
  // influence), then fewest regions, then lowest id. nullptr if none.
  const StoreInfo* SelectStoreToAdd(const RegionInfo& region,
                                    const std::vector<const StoreInfo*>& others) const;

  // The voter of `region` to remove first: an unhealthy one, else the lowest DistinctScore
  // against the other voters, then the largest region size, then the highest id. 0 if the
  // region has no voter.
  uint64_t SelectStoreToRemove(const RegionInfo& region) const;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_SCHEDULE_CONTEXT_H_
