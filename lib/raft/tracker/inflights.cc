#include "raft/tracker/inflights.h"

#include <cassert>

namespace rutile::raft::tracker {

void Inflights::Add(uint64_t index, uint64_t bytes) {
  assert(!Full());
  assert(entries_.empty() || entries_.back().index < index);
  entries_.push_back({index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t to) {
  while (!entries_.empty() && entries_.front().index <= to) {
    bytes_ -= entries_.front().bytes;
    entries_.pop_front();
  }
}

void Inflights::FreeFirstOne() {
  if (entries_.empty()) return;
  FreeLE(entries_.front().index);
}

}  // namespace rutile::raft::tracker
