#include "pd/scheduling.h"

#include <utility>

namespace rutile::pd {

Scheduling::Scheduling(const SchedulingOptions& options, IdAllocFn alloc_id, uint64_t now_micros)
    : schedule_interval_micros_(options.schedule_interval_micros),
      created_micros_(now_micros),
      warm_at_micros_(now_micros + options.warmup_micros),
      enabled_(options.scheduling_enabled),
      now_micros_(now_micros),
      config_(options.config),
      operators_(&cluster_, &config_),
      coordinator_(&cluster_, &operators_, &config_, alloc_id),
      admin_(&cluster_, &operators_, &coordinator_, &config_, alloc_id,
             [this] { return now_micros_; }) {}

absl::Status Scheduling::PutStore(const metapb::Store& meta, uint64_t now_micros) {
  if (now_micros > now_micros_) now_micros_ = now_micros;
  const bool known = cluster_.GetStore(meta.id()) != nullptr;
  if (absl::Status s = cluster_.PutStore(meta); !s.ok()) return s;
  if (known) return absl::OkStatus();
  // Start the down-clock: a store PD just learned of is not down yet.
  return cluster_.HandleStoreHeartbeat(meta.id(), StoreStats{}, now_micros);
}

absl::Status Scheduling::StoreHeartbeat(uint64_t store_id, const StoreStats& stats,
                                        uint64_t now_micros) {
  if (now_micros > now_micros_) now_micros_ = now_micros;
  if (cluster_.GetStore(store_id) == nullptr) {
    metapb::Store meta;
    meta.set_id(store_id);
    meta.set_node_id(store_id);
    if (absl::Status s = cluster_.PutStore(meta); !s.ok()) return s;
  }
  if (absl::Status s = cluster_.HandleStoreHeartbeat(store_id, stats, now_micros); !s.ok()) {
    return s;
  }
  reported_regions_[store_id] = stats.region_count;
  MaybeSchedule(now_micros);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<OpStep>> Scheduling::RegionHeartbeat(RegionInfo region,
                                                                  uint64_t now_micros) {
  if (now_micros > now_micros_) now_micros_ = now_micros;
  const uint64_t id = region.id();
  absl::StatusOr<std::vector<uint64_t>> replaced =
      cluster_.HandleRegionHeartbeat(std::move(region), now_micros);
  if (!replaced.ok()) return replaced.status();
  if (!replaced->empty()) operators_.OnRegionsRemoved(*replaced);
  MaybeSchedule(now_micros);
  const RegionInfo* info = cluster_.GetRegion(id);
  if (info == nullptr) return std::optional<OpStep>();
  return operators_.Dispatch(*info, now_micros);
}

void Scheduling::ReportRegion(const metapb::Region& region, uint64_t now_micros) {
  if (now_micros > now_micros_) now_micros_ = now_micros;
  RegionInfo info;
  info.meta = region;
  if (const RegionInfo* old = cluster_.GetRegion(region.id()); old != nullptr) {
    if (old->version() == region.region_epoch().version() &&
        old->conf_ver() == region.region_epoch().conf_ver()) {
      return;
    }
  }
  absl::StatusOr<std::vector<uint64_t>> replaced =
      cluster_.HandleRegionHeartbeat(std::move(info), now_micros);
  if (replaced.ok() && !replaced->empty()) operators_.OnRegionsRemoved(*replaced);
}

std::vector<uint64_t> Scheduling::StoresToBury(uint64_t now_micros) const {
  std::vector<uint64_t> out;
  if (now_micros < warm_at_micros_) return out;
  const uint64_t max_down = config_.max_store_down_time_micros;
  for (const StoreInfo* s : cluster_.GetStores()) {
    if (!s->IsOffline() || s->region_count != 0) continue;
    // A replica or leadership on its way there would land on a tombstone.
    if (operators_.AddsTo(s->id())) continue;
    auto it = reported_regions_.find(s->id());
    const bool reported_empty = it != reported_regions_.end() && it->second == 0;
    // Down for max-store-down-time within this view's life: every live region leader
    // heartbeated meanwhile, so region_count is not merely unreported.
    const bool long_down = s->DownTime(now_micros) >= max_down && now_micros >= created_micros_ &&
                           now_micros - created_micros_ >= max_down;
    if (reported_empty || long_down) out.push_back(s->id());
  }
  return out;
}

std::vector<std::string> Scheduling::MaybeSchedule(uint64_t now_micros) {
  if (now_micros > now_micros_) now_micros_ = now_micros;
  if (ran_ && now_micros < last_round_micros_ + schedule_interval_micros_) return {};
  ran_ = true;
  last_round_micros_ = now_micros;
  if (!enabled_ || now_micros < warm_at_micros_) {
    operators_.CheckTimeouts(now_micros);
    return {};
  }
  return coordinator_.RunOnce(now_micros);
}

void Scheduling::SetSchedulingEnabled(bool enabled) {
  enabled_ = enabled;
  coordinator_.SetCheckersEnabled(enabled);
}

}  // namespace rutile::pd
