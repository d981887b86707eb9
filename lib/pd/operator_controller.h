// OperatorController: the operators in flight, at most one per region (tikv/pd's
// schedule/operator_controller). Schedulers and the admin API add operators; the region
// heartbeat path asks Dispatch what the region should do next and puts the answer in the
// heartbeat reply. An operator ends when a heartbeat shows its last step done (success),
// when its time runs out (timeout), when a later operator of higher priority takes its
// region (replaced), when the region splits or merges under it, or on request (canceled).
//
// Not thread-safe: the PD server serializes access along with the Cluster.

#ifndef RUTILE_PD_OPERATOR_CONTROLLER_H_
#define RUTILE_PD_OPERATOR_CONTROLLER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pd/cluster.h"
#include "pd/config.h"
#include "pd/operator.h"

namespace rutile::pd {

// How the operators in flight will change a store's counts once they finish; schedulers
// add it to what the cluster reports so they do not pile moves onto one store.
struct StoreInfluence {
  int64_t region_count = 0;
  int64_t region_size = 0;
  int64_t leader_count = 0;
  int64_t leader_size = 0;
};
using OpInfluence = std::map<uint64_t, StoreInfluence>;

class OperatorController {
 public:
  // Neither pointer is owned; both must outlive the controller. `config` is read on every
  // call, so configuration changes take effect at once.
  OperatorController(const Cluster* cluster, const ScheduleConfig* config);

  // Adds `op`, started at `now_micros`. Errors: NotFound when its region is unknown;
  // FailedPrecondition when the region's epoch differs from the operator's (it was built
  // from stale information) or there is nothing left to do; AlreadyExists when the region
  // runs an operator of equal or higher priority (a lower one is replaced);
  // ResourceExhausted when the schedule limit of one of its kinds is reached (admin
  // operators are exempt).
  absl::Status AddOperator(std::unique_ptr<Operator> op, uint64_t now_micros);

  // Adds several operators all or nothing (the two halves of a merge).
  absl::Status AddOperators(std::vector<std::unique_ptr<Operator>> ops, uint64_t now_micros);

  // Cancels the operator of `region_id` (and the other half of a merge). NotFound if none.
  absl::Status RemoveOperator(uint64_t region_id);

  // Cancels every operator with a step that adds a replica or leadership to `store_id`
  // (AddPeer, AddLearner, PromoteLearner, TransferLeader): the store is leaving (`store
  // delete`). Returns how many it canceled.
  size_t CancelAddingTo(uint64_t store_id);
  // True when a running operator has a step that adds a replica or leadership to
  // `store_id`: such a store may not become a tombstone yet.
  bool AddsTo(uint64_t store_id) const;

  const Operator* GetOperator(uint64_t region_id) const;
  bool HasOperator(uint64_t region_id) const { return ops_.count(region_id) != 0; }
  // Running operators by region id.
  std::vector<const Operator*> GetOperators() const;

  // The heartbeat path: called with a region just accepted by the Cluster. Advances its
  // operator past finished steps and returns the step the region should carry out now, or
  // nothing (no operator, it just ended, or it waits passively for a merge).
  std::optional<OpStep> Dispatch(const RegionInfo& region, uint64_t now_micros);

  // Regions the Cluster dropped because a newer region replaced them: an operator that was
  // on its split or merge step ends in success (that step did it), any other is canceled.
  void OnRegionsRemoved(const std::vector<uint64_t>& region_ids);

  // Ends operators that ran out of time (regions that stopped reporting never reach
  // Dispatch).
  void CheckTimeouts(uint64_t now_micros);

  // Running operators having any of the kind bits in `kind_mask`.
  size_t OperatorCount(uint32_t kind_mask) const;
  // True when one more operator of `kind` would exceed a schedule limit.
  bool LimitReached(uint32_t kind) const;

  OpInfluence Influence() const;

  // The last ended operators, oldest first (at most 256), as Operator::ToString.
  const std::deque<std::string>& History() const { return history_; }

 private:
  absl::Status CheckAdd(const Operator& op) const;
  void Insert(std::unique_ptr<Operator> op, uint64_t now_micros);
  // Ends and removes the operator of `region_id` with `status`; a failed merge half takes
  // its twin with it.
  void Finish(uint64_t region_id, OpStatus status);

  const Cluster* cluster_;
  const ScheduleConfig* config_;
  std::map<uint64_t, std::unique_ptr<Operator>> ops_;
  std::deque<std::string> history_;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_OPERATOR_CONTROLLER_H_
