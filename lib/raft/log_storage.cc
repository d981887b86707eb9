#include "raft/log_storage.h"

namespace rutile::raft {

void LimitSize(std::vector<Entry>* ents, uint64_t max_size) {
  if (ents->empty() || max_size == kNoLimit) return;
  uint64_t size = (*ents)[0].ByteSizeLong();
  size_t limit = 1;
  for (; limit < ents->size(); ++limit) {
    size += (*ents)[limit].ByteSizeLong();
    if (size > max_size) break;
  }
  ents->resize(limit);
}

uint64_t PayloadSize(const std::vector<Entry>& ents) {
  uint64_t s = 0;
  for (const Entry& e : ents) s += e.data().size();
  return s;
}

}  // namespace rutile::raft
