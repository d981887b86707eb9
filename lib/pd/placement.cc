#include "pd/placement.h"

namespace rutile::pd {

size_t FirstDifferentLevel(const StoreInfo& a, const StoreInfo& b,
                           const std::vector<std::string>& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (a.Label(labels[i]) != b.Label(labels[i])) return i;
  }
  return labels.size();
}

uint64_t DistinctScore(const std::vector<std::string>& labels,
                       const std::vector<const StoreInfo*>& others, const StoreInfo& candidate) {
  const size_t n = labels.size();
  uint64_t score = 0;
  for (const StoreInfo* o : others) {
    if (o->id() == candidate.id()) continue;
    size_t level = FirstDifferentLevel(*o, candidate, labels);
    if (level >= n) continue;
    uint64_t w = 1;
    for (size_t i = level + 1; i < n; ++i) w *= 100;
    score += w;
  }
  return score;
}

std::string IsolationLevel(const std::vector<std::string>& labels,
                           const std::vector<const StoreInfo*>& stores) {
  // The widest level such that every pair differs at or before it.
  for (size_t level = 0; level < labels.size(); ++level) {
    bool distinct = true;
    for (size_t i = 0; i < stores.size() && distinct; ++i) {
      for (size_t j = i + 1; j < stores.size(); ++j) {
        if (FirstDifferentLevel(*stores[i], *stores[j], labels) > level) {
          distinct = false;
          break;
        }
      }
    }
    if (distinct) return labels[level];
  }
  return "";
}

}  // namespace rutile::pd
