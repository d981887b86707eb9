// Coordinator: the scheduling loop's body (tikv/pd's coordinator, minus the goroutines).
// Each RunOnce times out stale operators, patrols every region through the checkers
// (replica, then merge) and then asks each enabled scheduler for operators until it has
// none or its schedule limit is reached. The PD server calls RunOnce on a timer; tests
// call it directly, so a schedule is reproducible step by step.
//
// Not thread-safe: the PD server serializes access along with the Cluster.

#ifndef RUTILE_PD_COORDINATOR_H_
#define RUTILE_PD_COORDINATOR_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "pd/cluster.h"
#include "pd/config.h"
#include "pd/operator_controller.h"
#include "pd/schedule_context.h"
#include "pd/schedulers.h"

namespace rutile::pd {

class Coordinator {
 public:
  // None of the pointers is owned; all must outlive the coordinator. Starts with
  // balance-leader and balance-region enabled and the checkers on, as PD does.
  Coordinator(const Cluster* cluster, OperatorController* operators, const ScheduleConfig* config,
              IdAllocFn alloc_id);

  // Enables a scheduler by type name. NotFound for an unknown type, AlreadyExists when on.
  absl::Status AddScheduler(std::string_view name);
  // NotFound when not enabled.
  absl::Status RemoveScheduler(std::string_view name);
  std::vector<std::string> SchedulerNames() const;

  // Switches the replica and merge checkers (off = CockroachDB's manual replication).
  void SetCheckersEnabled(bool enabled) { checkers_enabled_ = enabled; }
  bool checkers_enabled() const { return checkers_enabled_; }

  // One scheduling round at `now_micros`. Returns the operators added, as ToString.
  std::vector<std::string> RunOnce(uint64_t now_micros);

 private:
  const Cluster* cluster_;
  OperatorController* operators_;
  const ScheduleConfig* config_;
  IdAllocFn alloc_id_;
  std::vector<std::unique_ptr<Scheduler>> schedulers_;
  bool checkers_enabled_ = true;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_COORDINATOR_H_
