#include "pd/schedule_context.h"

#include <tuple>

#include "pd/placement.h"

namespace rutile::pd {

bool ScheduleContext::StoreHealthy(const StoreInfo& store) const {
  return store.IsHealthy(now_micros, config.max_store_down_time_micros);
}

std::vector<const StoreInfo*> ScheduleContext::HealthyStores() const {
  std::vector<const StoreInfo*> out;
  for (const StoreInfo* s : cluster.GetStores()) {
    if (StoreHealthy(*s)) out.push_back(s);
  }
  return out;
}

int64_t ScheduleContext::RegionSizeScore(const StoreInfo& store) const {
  auto it = influence.find(store.id());
  int64_t d = it == influence.end() ? 0 : it->second.region_size;
  return static_cast<int64_t>(store.region_size) + d;
}

int64_t ScheduleContext::RegionCountScore(const StoreInfo& store) const {
  auto it = influence.find(store.id());
  int64_t d = it == influence.end() ? 0 : it->second.region_count;
  return static_cast<int64_t>(store.region_count) + d;
}

int64_t ScheduleContext::LeaderCountScore(const StoreInfo& store) const {
  auto it = influence.find(store.id());
  int64_t d = it == influence.end() ? 0 : it->second.leader_count;
  return static_cast<int64_t>(store.leader_count) + d;
}

bool ScheduleContext::PeerUnhealthy(const RegionInfo& region, const metapb::Peer& peer) const {
  const StoreInfo* store = cluster.GetStore(peer.store_id());
  if (store == nullptr || !store->IsUp() || !StoreHealthy(*store)) return true;
  for (const DownPeer& d : region.down_peers) {
    if (d.peer.id() == peer.id() &&
        d.down_seconds * 1'000'000 >= config.max_store_down_time_micros) {
      return true;
    }
  }
  return false;
}

bool ScheduleContext::RegionSchedulable(const RegionInfo& region) const {
  if (operators.HasOperator(region.id())) return false;
  if (region.leader.id() == 0 || !region.down_peers.empty()) return false;
  if (region.VoterCount() != config.max_replicas) return false;
  return region.VoterCount() == static_cast<size_t>(region.meta.peers_size());
}

std::vector<const StoreInfo*> ScheduleContext::VoterStores(const RegionInfo& region,
                                                           uint64_t exclude_store) const {
  std::vector<const StoreInfo*> out;
  for (uint64_t id : region.VoterStoreIds()) {
    if (id == exclude_store) continue;
    if (const StoreInfo* s = cluster.GetStore(id)) out.push_back(s);
  }
  return out;
}

const StoreInfo* ScheduleContext::SelectStoreToAdd(
    const RegionInfo& region, const std::vector<const StoreInfo*>& others) const {
  const StoreInfo* best = nullptr;
  // Higher is better: (distinct score, -size, -count, -id).
  std::tuple<uint64_t, int64_t, int64_t, int64_t> best_key;
  for (const StoreInfo* s : cluster.GetStores()) {
    if (!StoreHealthy(*s) || region.PeerOnStore(s->id()) != nullptr) continue;
    auto key =
        std::make_tuple(DistinctScore(config.location_labels, others, *s), -RegionSizeScore(*s),
                        -RegionCountScore(*s), -static_cast<int64_t>(s->id()));
    if (best == nullptr || key > best_key) {
      best = s;
      best_key = key;
    }
  }
  return best;
}

uint64_t ScheduleContext::SelectStoreToRemove(const RegionInfo& region) const {
  uint64_t worst = 0;
  // Lower is worse: (healthy, distinct score, -size, -id).
  std::tuple<bool, uint64_t, int64_t, int64_t> worst_key;
  for (const metapb::Peer& p : region.meta.peers()) {
    if (!IsVoter(p)) continue;
    const StoreInfo* s = cluster.GetStore(p.store_id());
    std::tuple<bool, uint64_t, int64_t, int64_t> key;
    if (s == nullptr) {
      key = std::make_tuple(false, 0, 0, -static_cast<int64_t>(p.store_id()));
    } else {
      key = std::make_tuple(!PeerUnhealthy(region, p),
                            DistinctScore(config.location_labels, VoterStores(region, s->id()), *s),
                            -RegionSizeScore(*s), -static_cast<int64_t>(s->id()));
    }
    if (worst == 0 || key < worst_key) {
      worst = p.store_id();
      worst_key = key;
    }
  }
  return worst;
}

}  // namespace rutile::pd
