// Location labels: spreading a region's replicas over distinct failure domains (tikv/pd's
// location-labels). Stores carry labels such as zone=z1,host=h3; the configuration lists
// the keys from the widest level to the narrowest. Two stores "differ at level i" when
// their values agree on every key before i and disagree on key i.
//
// DistinctScore rates a candidate store against the stores already holding the region's
// other replicas: each of them that differs at level i adds 100^(n-1-i) (n = number of
// keys), so being in another zone outweighs any number of other hosts in the same zone,
// and a store in exactly the same location adds nothing. Schedulers add replicas where
// the score is highest and remove them where it is lowest.

#ifndef RUTILE_PD_PLACEMENT_H_
#define RUTILE_PD_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pd/region_info.h"

namespace rutile::pd {

// The first level (index into `labels`) at which the stores' values differ;
// labels.size() when they agree on every level.
size_t FirstDifferentLevel(const StoreInfo& a, const StoreInfo& b,
                           const std::vector<std::string>& labels);

// The isolation score of `candidate` against `others` (a store equal to the candidate by id
// is skipped). 0 when `labels` is empty.
uint64_t DistinctScore(const std::vector<std::string>& labels,
                       const std::vector<const StoreInfo*>& others, const StoreInfo& candidate);

// The widest label key at which the given stores' values are pairwise distinct, or "" when
// there is none (two replicas share a location even at the narrowest level).
std::string IsolationLevel(const std::vector<std::string>& labels,
                           const std::vector<const StoreInfo*>& stores);

}  // namespace rutile::pd

#endif  // RUTILE_PD_PLACEMENT_H_
