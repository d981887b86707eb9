#include "txn/client/region_cache.h"

#include <iterator>
#include <utility>
#include <vector>

namespace rutile::txn::client {
namespace {

bool EndAfter(const std::string& end, const std::string& key) { return end.empty() || key < end; }

bool HasPeerOn(const metapb::Region& r, uint64_t store) {
  for (const metapb::Peer& p : r.peers()) {
    if (p.store_id() == store) return true;
  }
  return false;
}

bool SameEpoch(const metapb::Region& a, const metapb::Region& b) {
  return a.region_epoch().version() == b.region_epoch().version() &&
         a.region_epoch().conf_ver() == b.region_epoch().conf_ver();
}

}  // namespace

bool RegionCache::Newer(const metapb::Region& a, const metapb::Region& b) {
  if (a.region_epoch().version() > b.region_epoch().version()) return true;
  return a.id() == b.id() && a.region_epoch().conf_ver() > b.region_epoch().conf_ver();
}

RegionCache::EntryPtr RegionCache::FindLocked(const std::string& key) const {
  auto it = by_start_.upper_bound(key);
  if (it == by_start_.begin()) return nullptr;
  --it;
  return EndAfter(it->second->region.end_key(), key) ? it->second : nullptr;
}

absl::StatusOr<RegionCache::EntryPtr> RegionCache::Locate(const std::string& key) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (EntryPtr e = FindLocked(key)) return e;
  }
  absl::StatusOr<RegionRoute> r = lookup_(key);
  if (!r.ok()) return r.status();
  auto e = std::make_shared<Entry>(std::move(r->region), r->leader_store);
  absl::MutexLock lock(&mu_);
  if (EntryPtr kept = InsertLocked(e); kept != nullptr) return kept;
  // PD's answer is older than what the cache learnt meanwhile (from a store or a faster
  // lookup): the newer entry holding the key if there is one, else PD's answer, uncached
  // (a store corrects it with EpochNotMatch).
  if (EntryPtr cached = FindLocked(key)) return cached;
  return e;
}

void RegionCache::EraseLocked(std::map<std::string, EntryPtr>::iterator it) {
  start_of_.erase(it->second->region.id());
  by_start_.erase(it);
}

RegionCache::EntryPtr RegionCache::InsertLocked(EntryPtr e) {
  const metapb::Region& r = e->region;
  if (uint64_t leader = e->leader(); leader != 0 && !HasPeerOn(r, leader)) {
    e->leader_store.store(0, std::memory_order_relaxed);
  }
  // What the region replaces: the entry of its id (its range may differ), and every entry
  // overlapping [start, end) (the one before start if it reaches past start, and those
  // starting inside the range). Cached entries never overlap each other.
  std::vector<std::map<std::string, EntryPtr>::iterator> replaced;
  if (auto id = start_of_.find(r.id()); id != start_of_.end()) {
    auto it = by_start_.find(id->second);
    if (it != by_start_.end()) {
      const EntryPtr& old = it->second;
      if (Newer(old->region, r)) return nullptr;
      if (SameEpoch(old->region, r) && old->region.start_key() == r.start_key() &&
          old->region.end_key() == r.end_key()) {
        if (uint64_t leader = e->leader(); leader != 0) {
          old->leader_store.store(leader, std::memory_order_relaxed);
        }
        return old;
      }
      replaced.push_back(it);
    }
  }
  auto add = [&replaced](std::map<std::string, EntryPtr>::iterator it) {
    // The entry of the same id may overlap too: list each once.
    if (replaced.empty() || replaced.front() != it) replaced.push_back(it);
  };
  auto it = by_start_.lower_bound(r.start_key());
  if (it != by_start_.begin()) {
    auto prev = std::prev(it);
    if (EndAfter(prev->second->region.end_key(), r.start_key())) add(prev);
  }
  for (; it != by_start_.end() && EndAfter(r.end_key(), it->first); ++it) add(it);
  for (const auto& old : replaced) {
    if (Newer(old->second->region, r)) return nullptr;
  }
  for (const auto& old : replaced) EraseLocked(old);
  start_of_[r.id()] = r.start_key();
  by_start_[r.start_key()] = e;
  return e;
}

bool RegionCache::Insert(const metapb::Region& region, uint64_t leader_store) {
  auto e = std::make_shared<Entry>(region, leader_store);
  absl::MutexLock lock(&mu_);
  return InsertLocked(std::move(e)) != nullptr;
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

void RegionCache::Invalidate(const Entry& e) {
  absl::MutexLock lock(&mu_);
  auto it = by_start_.find(e.region.start_key());
  if (it != by_start_.end() && it->second.get() == &e) EraseLocked(it);
}

bool RegionCache::UpdateLeader(const Entry& e, uint64_t store) {
  if (store == 0 || HasPeerOn(e.region, store)) {
    e.leader_store.store(store, std::memory_order_relaxed);
    return true;
  }
  Invalidate(e);
  return false;
}

void RegionCache::SetLeader(uint64_t region_id, uint64_t store) {
  EntryPtr e;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto id = start_of_.find(region_id);
    if (id == start_of_.end()) return;
    auto it = by_start_.find(id->second);
    if (it == by_start_.end()) return;
    e = it->second;
  }
  UpdateLeader(*e, store);
}

size_t RegionCache::size() {
  absl::ReaderMutexLock lock(&mu_);
  return by_start_.size();
}

}  // namespace rutile::txn::client
