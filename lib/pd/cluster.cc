#include "pd/cluster.h"

#include "absl/strings/str_cat.h"

namespace rutile::pd {
namespace {

const std::set<uint64_t>& EmptySet() {
  static const auto* empty = new std::set<uint64_t>();
  return *empty;
}

}  // namespace

absl::Status Cluster::PutStore(const metapb::Store& meta) {
  if (meta.id() == 0) return absl::InvalidArgumentError("store id 0");
  auto it = stores_.find(meta.id());
  if (it == stores_.end()) {
    StoreInfo info;
    info.meta = meta;
    // Regions may name the store before it registers (heartbeats race); count them now.
    for (uint64_t id : RegionsOnStore(meta.id())) {
      const RegionInfo& r = regions_.at(id);
      const metapb::Peer* p = r.PeerOnStore(meta.id());
      ++info.region_count;
      info.region_size += r.approximate_size;
      if (p->id() == r.leader.id()) {
        ++info.leader_count;
        info.leader_size += r.approximate_size;
      }
      if (IsLearner(*p)) ++info.learner_count;
      if (r.IsPending(p->id())) ++info.pending_peer_count;
    }
    stores_.emplace(meta.id(), std::move(info));
    return absl::OkStatus();
  }
  if (it->second.IsTombstone()) {
    return absl::FailedPreconditionError(absl::StrCat("store ", meta.id(), " is a tombstone"));
  }
  const metapb::StoreState state = it->second.meta.state();
  it->second.meta = meta;
  it->second.meta.set_state(state);
  return absl::OkStatus();
}

absl::Status Cluster::HandleStoreHeartbeat(uint64_t store_id, const StoreStats& stats,
                                           uint64_t now_micros) {
  auto it = stores_.find(store_id);
  if (it == stores_.end()) return absl::NotFoundError(absl::StrCat("store ", store_id));
  if (it->second.IsTombstone()) {
    return absl::FailedPreconditionError(absl::StrCat("store ", store_id, " is a tombstone"));
  }
  it->second.stats = stats;
  it->second.last_heartbeat_micros = now_micros;
  return absl::OkStatus();
}

absl::Status Cluster::SetStoreState(uint64_t store_id, metapb::StoreState state) {
  auto it = stores_.find(store_id);
  if (it == stores_.end()) return absl::NotFoundError(absl::StrCat("store ", store_id));
  if (it->second.IsTombstone() && state != metapb::TOMBSTONE) {
    return absl::FailedPreconditionError(absl::StrCat("store ", store_id, " is a tombstone"));
  }
  if (state == metapb::TOMBSTONE && it->second.region_count != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", store_id, " still has ", it->second.region_count, " regions"));
  }
  it->second.meta.set_state(state);
  return absl::OkStatus();
}

const StoreInfo* Cluster::GetStore(uint64_t store_id) const {
  auto it = stores_.find(store_id);
  return it == stores_.end() ? nullptr : &it->second;
}

std::vector<const StoreInfo*> Cluster::GetStores() const {
  std::vector<const StoreInfo*> out;
  out.reserve(stores_.size());
  for (const auto& [id, s] : stores_) out.push_back(&s);
  return out;
}

void Cluster::Account(const RegionInfo& region, bool add) {
  for (const metapb::Peer& p : region.meta.peers()) {
    StoreInfo* store = nullptr;
    auto sit = stores_.find(p.store_id());
    if (sit != stores_.end()) store = &sit->second;
    StoreIndex& index = store_index_[p.store_id()];
    const bool is_leader = p.id() == region.leader.id() && region.leader.id() != 0;
    const bool pending = region.IsPending(p.id());
    auto update = [add](uint64_t* v, uint64_t d) { *v = add ? *v + d : (*v >= d ? *v - d : 0); };
    auto index_update = [add, &region](std::set<uint64_t>* set) {
      if (add) {
        set->insert(region.id());
      } else {
        set->erase(region.id());
      }
    };
    if (is_leader) {
      index_update(&index.leaders);
    } else if (IsVoter(p)) {
      index_update(&index.followers);
    } else {
      index_update(&index.learners);
    }
    if (pending) index_update(&index.pending);
    if (store == nullptr) continue;
    update(&store->region_count, 1);
    update(&store->region_size, region.approximate_size);
    if (is_leader) {
      update(&store->leader_count, 1);
      update(&store->leader_size, region.approximate_size);
    }
    if (IsLearner(p)) update(&store->learner_count, 1);
    if (pending) update(&store->pending_peer_count, 1);
  }
}

void Cluster::EraseRegion(uint64_t region_id, bool from_tree) {
  auto it = regions_.find(region_id);
  if (it == regions_.end()) return;
  Account(it->second, /*add=*/false);
  if (from_tree) tree_.Remove(region_id, it->second.start_key());
  regions_.erase(it);
}

absl::StatusOr<std::vector<uint64_t>> Cluster::HandleRegionHeartbeat(RegionInfo region,
                                                                     uint64_t now_micros) {
  if (region.id() == 0 || region.meta.peers().empty()) {
    return absl::InvalidArgumentError("region heartbeat without id or peers");
  }
  if (!region.end_key().empty() && region.start_key() >= region.end_key()) {
    return absl::InvalidArgumentError(
        absl::StrCat("region ", region.id(), " has start key >= end key"));
  }
  if (const RegionInfo* origin = GetRegion(region.id())) {
    if (region.version() < origin->version() || region.conf_ver() < origin->conf_ver()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "stale region epoch: region ", region.id(), " reported v", region.version(), " cv",
          region.conf_ver(), ", PD has v", origin->version(), " cv", origin->conf_ver()));
    }
  }
  for (uint64_t id : tree_.Overlaps(region.start_key(), region.end_key())) {
    if (id == region.id()) continue;
    const RegionInfo& other = regions_.at(id);
    if (other.version() > region.version()) {
      return absl::FailedPreconditionError(absl::StrCat("stale region epoch: region ", region.id(),
                                                        " v", region.version(), " overlaps region ",
                                                        id, " v", other.version()));
    }
  }
  return PutRegion(std::move(region), now_micros);
}

std::vector<uint64_t> Cluster::PutRegion(RegionInfo region, uint64_t now_micros) {
  auto old = regions_.find(region.id());
  if (old != regions_.end()) {
    bool same_range =
        old->second.start_key() == region.start_key() && old->second.end_key() == region.end_key();
    region.range_since_micros = same_range ? old->second.range_since_micros : now_micros;
    EraseRegion(region.id(), /*from_tree=*/true);
  } else {
    region.range_since_micros = now_micros;
  }
  std::vector<uint64_t> removed = tree_.Insert(region.id(), region.start_key(), region.end_key());
  std::vector<uint64_t> replaced;
  for (uint64_t id : removed) {
    if (id == region.id()) continue;
    EraseRegion(id, /*from_tree=*/false);
    replaced.push_back(id);
  }
  Account(region, /*add=*/true);
  uint64_t id = region.id();
  regions_.emplace(id, std::move(region));
  return replaced;
}

bool Cluster::RemoveRegion(uint64_t region_id) {
  if (regions_.count(region_id) == 0) return false;
  EraseRegion(region_id, /*from_tree=*/true);
  return true;
}

const RegionInfo* Cluster::GetRegion(uint64_t region_id) const {
  auto it = regions_.find(region_id);
  return it == regions_.end() ? nullptr : &it->second;
}

const RegionInfo* Cluster::GetRegionByKey(const std::string& key) const {
  std::optional<uint64_t> id = tree_.Find(key);
  return id ? GetRegion(*id) : nullptr;
}

std::vector<const RegionInfo*> Cluster::ScanRegions(const std::string& start,
                                                    const std::string& end, size_t limit) const {
  std::vector<const RegionInfo*> out;
  for (uint64_t id : tree_.Scan(start, end, limit)) out.push_back(GetRegion(id));
  return out;
}

std::vector<const RegionInfo*> Cluster::GetRegions() const { return ScanRegions("", "", 0); }

const RegionInfo* Cluster::GetPrevRegion(const RegionInfo& region) const {
  std::optional<uint64_t> id = tree_.Prev(region.start_key());
  return id ? GetRegion(*id) : nullptr;
}

const RegionInfo* Cluster::GetNextRegion(const RegionInfo& region) const {
  std::optional<uint64_t> id = tree_.Next(region.end_key());
  return id ? GetRegion(*id) : nullptr;
}

const std::set<uint64_t>& Cluster::LeaderRegions(uint64_t store_id) const {
  auto it = store_index_.find(store_id);
  return it == store_index_.end() ? EmptySet() : it->second.leaders;
}

const std::set<uint64_t>& Cluster::FollowerRegions(uint64_t store_id) const {
  auto it = store_index_.find(store_id);
  return it == store_index_.end() ? EmptySet() : it->second.followers;
}

const std::set<uint64_t>& Cluster::LearnerRegions(uint64_t store_id) const {
  auto it = store_index_.find(store_id);
  return it == store_index_.end() ? EmptySet() : it->second.learners;
}

const std::set<uint64_t>& Cluster::PendingRegions(uint64_t store_id) const {
  auto it = store_index_.find(store_id);
  return it == store_index_.end() ? EmptySet() : it->second.pending;
}

std::vector<uint64_t> Cluster::RegionsOnStore(uint64_t store_id) const {
  std::set<uint64_t> all;
  auto it = store_index_.find(store_id);
  if (it != store_index_.end()) {
    all.insert(it->second.leaders.begin(), it->second.leaders.end());
    all.insert(it->second.followers.begin(), it->second.followers.end());
    all.insert(it->second.learners.begin(), it->second.learners.end());
  }
  return std::vector<uint64_t>(all.begin(), all.end());
}

}  // namespace rutile::pd
