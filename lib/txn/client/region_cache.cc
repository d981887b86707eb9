#include "txn/client/region_cache.h"

#include <iterator>
#include <utility>

namespace rutile::txn::client {
namespace {

bool EndAfter(const std::string& end, const std::string& key) { return end.empty() || key < end; }

}  // namespace

absl::StatusOr<RegionCache::EntryPtr> RegionCache::Locate(const std::string& key) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_start_.upper_bound(key);
    if (it != by_start_.begin()) {
      --it;
      if (EndAfter(it->second->region.end_key(), key)) return it->second;
    }
  }
  absl::StatusOr<RegionRoute> r = lookup_(key);
  if (!r.ok()) return r.status();
  auto e = std::make_shared<Entry>(std::move(r->region), r->leader_store);
  absl::MutexLock lock(&mu_);
  InsertLocked(e);
  return e;
}

void RegionCache::EraseLocked(std::map<std::string, EntryPtr>::iterator it) {
  start_of_.erase(it->second->region.id());
  by_start_.erase(it);
}

void RegionCache::InsertLocked(EntryPtr e) {
  const metapb::Region& r = e->region;
  // An older entry of the same id (its range may differ).
  if (auto id = start_of_.find(r.id()); id != start_of_.end()) {
    auto it = by_start_.find(id->second);
    if (it != by_start_.end()) EraseLocked(it);
  }
  // Every entry overlapping [start, end): the one before start if it reaches past start,
  // and those starting inside the range. Cached entries never overlap each other.
  auto it = by_start_.lower_bound(r.start_key());
  if (it != by_start_.begin()) {
    auto prev = std::prev(it);
    if (EndAfter(prev->second->region.end_key(), r.start_key())) EraseLocked(prev);
  }
  while (it != by_start_.end() && EndAfter(r.end_key(), it->first)) {
    auto next = std::next(it);
    EraseLocked(it);
    it = next;
  }
  start_of_[r.id()] = r.start_key();
  by_start_[r.start_key()] = std::move(e);
}

void RegionCache::Insert(const metapb::Region& region, uint64_t leader_store) {
  auto e = std::make_shared<Entry>(region, leader_store);
  absl::MutexLock lock(&mu_);
  InsertLocked(std::move(e));
}

void RegionCache::InsertAll(const google::protobuf::RepeatedPtrField<metapb::Region>& regions,
                            uint64_t leader_store) {
  absl::MutexLock lock(&mu_);
  for (const metapb::Region& r : regions) InsertLocked(std::make_shared<Entry>(r, leader_store));
}

void RegionCache::Invalidate(uint64_t region_id) {
  absl::MutexLock lock(&mu_);
  auto id = start_of_.find(region_id);
  if (id == start_of_.end()) return;
  auto it = by_start_.find(id->second);
  if (it != by_start_.end()) EraseLocked(it);
}

void RegionCache::SetLeader(uint64_t region_id, uint64_t store) {
  absl::ReaderMutexLock lock(&mu_);
  auto id = start_of_.find(region_id);
  if (id == start_of_.end()) return;
  auto it = by_start_.find(id->second);
  if (it != by_start_.end()) it->second->leader_store.store(store, std::memory_order_relaxed);
}

size_t RegionCache::size() {
  absl::ReaderMutexLock lock(&mu_);
  return by_start_.size();
}

}  // namespace rutile::txn::client
