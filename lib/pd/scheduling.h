// Scheduling: the heartbeat half of a PD server (tikv/pd's RaftCluster heartbeat path plus
// its coordinator loop), over the pure core: the Cluster view, the OperatorController, the
// Coordinator with its checkers and schedulers, the ScheduleConfig and the Admin verbs.
//
// A region heartbeat updates the Cluster, ends the operators of regions it replaced (a
// split or merge finished), runs a scheduling round when one is due, and returns the step
// the region's operator wants carried out now. Scheduling rounds run from heartbeats (at
// most one per `schedule_interval_micros` of Env time), so no timer fiber is needed and a
// simulation stays reproducible; a PD that receives no heartbeat at all has nothing to
// schedule anyway.
//
// A fresh Scheduling (PD start or leader change) knows no store health yet: stores start
// their down-clock when first registered, and no round runs before `warmup_micros` have
// passed since construction, so regions can report first (PD's "prepare checker").
//
// Not thread-safe: the PD server holds one lock around it.

#ifndef RUTILE_PD_SCHEDULING_H_
#define RUTILE_PD_SCHEDULING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pd/admin.h"
#include "pd/cluster.h"
#include "pd/config.h"
#include "pd/coordinator.h"
#include "pd/operator.h"
#include "pd/operator_controller.h"
#include "pd/schedule_context.h"

namespace rutile::pd {

struct SchedulingOptions {
  ScheduleConfig config;
  // At most one scheduling round per this much Env time.
  uint64_t schedule_interval_micros = 200'000;
  // No round before this long after construction.
  uint64_t warmup_micros = 3'000'000;
  // Off: no checker and no scheduler runs (CockroachDB's manual replication); operators
  // added through Admin still run.
  bool scheduling_enabled = true;
};

class Scheduling {
 public:
  // `alloc_id` hands out new peer ids; `now_micros` is the construction time.
  Scheduling(const SchedulingOptions& options, IdAllocFn alloc_id, uint64_t now_micros);
  Scheduling(const Scheduling&) = delete;
  Scheduling& operator=(const Scheduling&) = delete;

  // Registers a store (or updates its metadata). A new store's down-clock starts now.
  absl::Status PutStore(const metapb::Store& meta, uint64_t now_micros);
  // A store heartbeat; an unknown store is registered first (id = node id).
  absl::Status StoreHeartbeat(uint64_t store_id, const StoreStats& stats, uint64_t now_micros);

  // A region heartbeat from its leader. Returns the step to carry out, or nothing.
  // Errors: Cluster::HandleRegionHeartbeat's (a stale one is FailedPrecondition).
  absl::StatusOr<std::optional<OpStep>> RegionHeartbeat(RegionInfo region, uint64_t now_micros);

  // A region a store holds, leader unknown (store start, split report). Stale or unchanged
  // reports are ignored; the leader PD knows is kept when the epoch did not change.
  void ReportRegion(const metapb::Region& region, uint64_t now_micros);

  // The offline stores (pd-ctl `store delete`) ready to become tombstones: PD knows no
  // region with a peer on them, the view is warm (regions had time to report), and either
  // the store itself last reported holding no region or it has been down for
  // max-store-down-time (a dead store never reports; its replicas were repaired
  // elsewhere). The caller records the change (the replicated PD through its Raft log
  // first) and applies it with cluster().SetStoreState(id, TOMBSTONE).
  std::vector<uint64_t> StoresToBury(uint64_t now_micros) const;

  // Runs a scheduling round if one is due (enabled, warm, interval passed). Returns the
  // operators added.
  std::vector<std::string> MaybeSchedule(uint64_t now_micros);

  void SetSchedulingEnabled(bool enabled);
  bool scheduling_enabled() const { return enabled_; }

  Cluster& cluster() { return cluster_; }
  const Cluster& cluster() const { return cluster_; }
  ScheduleConfig& config() { return config_; }
  OperatorController& operators() { return operators_; }
  Admin& admin() { return admin_; }

 private:
  uint64_t schedule_interval_micros_;
  uint64_t created_micros_;
  uint64_t warm_at_micros_;
  // The region count each store last reported in a heartbeat to this view.
  std::map<uint64_t, uint64_t> reported_regions_;
  bool enabled_;
  uint64_t last_round_micros_ = 0;
  bool ran_ = false;
  uint64_t now_micros_ = 0;  // the latest time seen, for Admin
  ScheduleConfig config_;
  Cluster cluster_;
  OperatorController operators_;
  Coordinator coordinator_;
  Admin admin_;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_SCHEDULING_H_
