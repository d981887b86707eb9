// The balance schedulers. Each looks at the whole cluster and proposes at most one
// operator per call; the Coordinator calls them repeatedly within the schedule limits.

#ifndef RUTILE_PD_SCHEDULERS_H_
#define RUTILE_PD_SCHEDULERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pd/operator.h"
#include "pd/schedule_context.h"

namespace rutile::pd {

// Moves one leader from a store with many leaders to one with few. Healthy stores are
// ranked by leader count (with in-flight influence). From the store with the most, it takes
// the first schedulable region (by id) it leads that has a follower on a store with at
// least two leaders fewer, and transfers leadership to the follower store with the fewest
// leaders; failing that, it looks from the store with the fewest leaders for a region it
// follows whose leader's store has at least two more. Returns nullptr when balanced.
std::unique_ptr<Operator> BalanceLeader(const ScheduleContext& ctx);

// Moves one replica from a store with much data to one with little, as TinyKV lab 3C
// describes: healthy stores sorted by region size, largest first; from each, a region with
// a pending peer there, else one it follows, else one it leads (the first schedulable one
// by id in each group); the target is the smallest healthy store without a replica of the
// region (and, with location labels, no worse isolated than the source); the move happens
// only when the source's region size exceeds the target's by more than twice the region's
// approximate size, so the move cannot just swap which store is bigger. Candidates that
// fail are skipped and the search goes on. Returns nullptr when nothing qualifies.
std::unique_ptr<Operator> BalanceRegion(const ScheduleContext& ctx);

// A named scheduler that can be switched on and off through the admin API.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string name() const = 0;
  // The operator kind it produces (for its schedule limit).
  virtual uint32_t kind() const = 0;
  virtual std::unique_ptr<Operator> Schedule(const ScheduleContext& ctx) = 0;
};

// Known names: "balance-leader-scheduler", "balance-region-scheduler". nullptr otherwise.
std::unique_ptr<Scheduler> CreateScheduler(std::string_view name);
std::vector<std::string> SchedulerTypes();

}  // namespace rutile::pd

#endif  // RUTILE_PD_SCHEDULERS_H_
