// Admin: the pd-ctl verbs as a C++ API over one PD's cluster view, operator controller,
// coordinator and configuration — what an operator of a Rutile cluster (or a test, or
// later SQL statements) uses to inspect and steer placement.
//
// Typed methods return statuses and values; Execute takes a pd-ctl style command line
// and returns its text output, for consoles and scripts:
//
//   store | store <id> | store delete <id>
//   region | region <id> | region key <key>
//   operator show | operator remove <region>
//   operator add transfer-leader <region> <to-store>
//   operator add add-peer <region> <store> | operator add remove-peer <region> <store>
//   operator add split-region <region> [--policy=approximate|scan|usekey] [key...]
//   operator add merge-region <source-region> <target-region>
//   scheduler show | scheduler add <name> | scheduler remove <name>
//   config show | config set <name> <value>
//
// Not thread-safe: the PD server serializes access along with the Cluster.

#ifndef RUTILE_PD_ADMIN_H_
#define RUTILE_PD_ADMIN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pd/cluster.h"
#include "pd/config.h"
#include "pd/coordinator.h"
#include "pd/operator_controller.h"

namespace rutile::pd {

class Admin {
 public:
  // None of the pointers is owned. `now` returns Env::NowMicros() (operator start times).
  Admin(Cluster* cluster, OperatorController* operators, Coordinator* coordinator,
        ScheduleConfig* config, IdAllocFn alloc_id, std::function<uint64_t()> now);

  // ---- Stores and regions.
  std::vector<StoreInfo> ListStores() const;
  absl::StatusOr<StoreInfo> GetStore(uint64_t store_id) const;
  // Marks a store offline: the replica checker moves its replicas away; operators moving a
  // replica or leadership onto it are canceled.
  absl::Status DeleteStore(uint64_t store_id);
  // What DeleteStore would refuse, without changing anything (a replicated PD checks before
  // it proposes the OFFLINE state and applies it once committed).
  absl::Status CheckDeleteStore(uint64_t store_id) const;
  std::vector<RegionInfo> ListRegions() const;
  absl::StatusOr<RegionInfo> GetRegion(uint64_t region_id) const;
  absl::StatusOr<RegionInfo> GetRegionByKey(const std::string& key) const;

  // ---- Operators (all of kind admin: they replace scheduler operators and skip limits).
  // Errors: NotFound for an unknown region or store; FailedPrecondition when the request
  // does not fit the region (see operator.h builders); the controller's AddOperator errors.
  absl::Status AddTransferLeader(uint64_t region_id, uint64_t to_store);
  absl::Status AddAddPeer(uint64_t region_id, uint64_t store_id);
  absl::Status AddRemovePeer(uint64_t region_id, uint64_t store_id);
  absl::Status AddSplitRegion(uint64_t region_id, SplitPolicy policy,
                              std::vector<std::string> keys);
  absl::Status AddMergeRegion(uint64_t source_region, uint64_t target_region);
  absl::Status RemoveOperator(uint64_t region_id);
  // Running operators, as Operator::ToString, by region.
  std::vector<std::string> ShowOperators() const;

  // ---- Schedulers and configuration.
  absl::Status AddScheduler(std::string_view name);
  absl::Status RemoveScheduler(std::string_view name);
  std::vector<std::string> ListSchedulers() const;
  std::string ShowConfig() const;
  absl::Status SetConfig(std::string_view name, std::string_view value);

  // Runs one pd-ctl style command line (grammar above). InvalidArgument for a malformed
  // line, otherwise the verb's own status.
  absl::StatusOr<std::string> Execute(std::string_view command_line);

 private:
  absl::StatusOr<const RegionInfo*> FindRegion(uint64_t region_id) const;
  absl::Status CheckStore(uint64_t store_id) const;

  Cluster* cluster_;
  OperatorController* operators_;
  Coordinator* coordinator_;
  ScheduleConfig* config_;
  IdAllocFn alloc_id_;
  std::function<uint64_t()> now_;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_ADMIN_H_
