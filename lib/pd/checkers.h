// The checkers: per-region patrols that keep each region healthy rather than the cluster
// balanced (tikv/pd's replica and merge checkers). The Coordinator runs them over every
// region each round; each returns nothing when the region is fine.

#ifndef RUTILE_PD_CHECKERS_H_
#define RUTILE_PD_CHECKERS_H_

#include <memory>
#include <vector>

#include "pd/operator.h"
#include "pd/schedule_context.h"

namespace rutile::pd {

// Repairs the replica set of `region`, in this order:
// 1. a learner no operator is working on is removed;
// 2. a voter on a store that is down (no heartbeat for max-store-down-time), offline or
//    unknown, or reported down that long by the leader, is replaced by a replica on the
//    best store (SelectStoreToAdd), or simply removed when the region has extra voters;
// 3. too few voters: one is added on the best store;
// 4. too many voters: the worst placed one is removed (SelectStoreToRemove);
// 5. with location labels, the worst isolated voter is moved when another store would
//    isolate it strictly better.
// Returns nullptr when there is nothing to do, or nothing possible (for example no store
// to add to), or the region has an operator already. Operators are of kind kOpReplica.
std::unique_ptr<Operator> CheckReplicas(const ScheduleContext& ctx, const RegionInfo& region);

// Proposes merging `region` into a key-adjacent neighbour when it is small (below both
// max-merge-region-size and max-merge-region-keys), has kept its key range for at least
// split-merge-interval, is healthy (leader known, max-replicas voters, no learner, pending
// or down peer) and neither it nor the neighbour has an operator. The neighbour must be
// healthy too, and the merged region within region-max-size and region-max-keys; of the
// two neighbours the smaller wins, the next one on a tie. Returns the pair of operators
// (source, target), or an empty vector.
std::vector<std::unique_ptr<Operator>> CheckMerge(const ScheduleContext& ctx,
                                                  const RegionInfo& region);

}  // namespace rutile::pd

#endif  // RUTILE_PD_CHECKERS_H_
