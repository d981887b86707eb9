#include "pd/checkers.h"

#include "pd/placement.h"

namespace rutile::pd {
namespace {

std::unique_ptr<Operator> Take(absl::StatusOr<std::unique_ptr<Operator>> op) {
  return op.ok() ? std::move(*op) : nullptr;
}

}  // namespace

std::unique_ptr<Operator> CheckReplicas(const ScheduleContext& ctx, const RegionInfo& region) {
  if (ctx.operators.HasOperator(region.id())) return nullptr;
  const uint64_t max_replicas = ctx.config.max_replicas;
  const std::vector<std::string>& labels = ctx.config.location_labels;

  // 1. Stray learners (left behind by an abandoned operator).
  for (const metapb::Peer& p : region.meta.peers()) {
    if (IsLearner(p)) {
      return Take(
          CreateRemovePeerOperator("remove-orphan-learner", region, p.store_id(), kOpReplica));
    }
  }

  // 2. Voters on dead or leaving stores.
  const size_t voters = region.VoterCount();
  for (const metapb::Peer& p : region.meta.peers()) {
    if (!IsVoter(p) || !ctx.PeerUnhealthy(region, p)) continue;
    // A dead leader cannot carry out anything; wait for the region to elect another. A
    // leader on a live store that is leaving (offline: `store delete`) hands leadership
    // to the new replica (or, when removed, to another voter) first.
    if (p.id() == region.leader.id()) {
      const StoreInfo* s = ctx.cluster.GetStore(p.store_id());
      const bool alive = s != nullptr && s->IsOffline() && s->last_heartbeat_micros != 0 &&
                         s->DownTime(ctx.now_micros) < ctx.config.max_store_down_time_micros;
      if (!alive) continue;
    }
    if (voters > max_replicas) {
      return Take(
          CreateRemovePeerOperator("remove-down-replica", region, p.store_id(), kOpReplica));
    }
    const StoreInfo* target = ctx.SelectStoreToAdd(region, ctx.VoterStores(region, p.store_id()));
    if (target == nullptr) continue;
    absl::StatusOr<uint64_t> id = ctx.alloc_id();
    if (!id.ok()) return nullptr;
    return Take(CreateMovePeerOperator("replace-down-replica", region, p.store_id(), target->id(),
                                       *id, kOpReplica));
  }

  // 3. Too few voters.
  if (voters < max_replicas) {
    const StoreInfo* target = ctx.SelectStoreToAdd(region, ctx.VoterStores(region));
    if (target == nullptr) return nullptr;
    absl::StatusOr<uint64_t> id = ctx.alloc_id();
    if (!id.ok()) return nullptr;
    return Take(CreateAddPeerOperator("make-up-replica", region, target->id(), *id, kOpReplica));
  }

  // 4. Too many voters.
  if (voters > max_replicas) {
    uint64_t worst = ctx.SelectStoreToRemove(region);
    if (worst == 0) return nullptr;
    return Take(CreateRemovePeerOperator("remove-extra-replica", region, worst, kOpReplica));
  }

  // 5. Better isolation available.
  if (!labels.empty() && region.leader.id() != 0 && region.pending_peers.empty()) {
    uint64_t worst = ctx.SelectStoreToRemove(region);
    const StoreInfo* worst_store = ctx.cluster.GetStore(worst);
    if (worst_store == nullptr) return nullptr;
    std::vector<const StoreInfo*> others = ctx.VoterStores(region, worst);
    uint64_t current = DistinctScore(labels, others, *worst_store);
    const StoreInfo* target = ctx.SelectStoreToAdd(region, others);
    if (target != nullptr && DistinctScore(labels, others, *target) > current) {
      absl::StatusOr<uint64_t> id = ctx.alloc_id();
      if (!id.ok()) return nullptr;
      return Take(CreateMovePeerOperator("move-to-better-location", region, worst, target->id(),
                                         *id, kOpReplica));
    }
  }
  return nullptr;
}

namespace {

bool MergeHealthy(const ScheduleContext& ctx, const RegionInfo& r) {
  if (ctx.operators.HasOperator(r.id())) return false;
  if (r.leader.id() == 0 || !r.pending_peers.empty() || !r.down_peers.empty()) return false;
  if (r.VoterCount() != ctx.config.max_replicas) return false;
  if (r.VoterCount() != static_cast<size_t>(r.meta.peers_size())) return false;
  for (const metapb::Peer& p : r.meta.peers()) {
    if (ctx.PeerUnhealthy(r, p)) return false;
  }
  return true;
}

}  // namespace

std::vector<std::unique_ptr<Operator>> CheckMerge(const ScheduleContext& ctx,
                                                  const RegionInfo& region) {
  std::vector<std::unique_ptr<Operator>> none;
  const ScheduleConfig& cfg = ctx.config;
  if (cfg.max_merge_region_size == 0) return none;
  if (region.approximate_size > cfg.max_merge_region_size ||
      region.approximate_keys > cfg.max_merge_region_keys) {
    return none;
  }
  if (ctx.now_micros - region.range_since_micros < cfg.split_merge_interval_micros) return none;
  if (!MergeHealthy(ctx, region)) return none;

  auto fits = [&](const RegionInfo* t) {
    return t != nullptr && MergeHealthy(ctx, *t) &&
           region.approximate_size + t->approximate_size <= cfg.region_max_size &&
           region.approximate_keys + t->approximate_keys <= cfg.region_max_keys;
  };
  const RegionInfo* next = ctx.cluster.GetNextRegion(region);
  const RegionInfo* prev = ctx.cluster.GetPrevRegion(region);
  const RegionInfo* target = fits(next) ? next : nullptr;
  if (fits(prev) && (target == nullptr || prev->approximate_size < target->approximate_size)) {
    target = prev;
  }
  if (target == nullptr) return none;

  std::vector<uint64_t> ids;
  for (size_t i = MergePeersNeeded(region, *target); i > 0; --i) {
    absl::StatusOr<uint64_t> id = ctx.alloc_id();
    if (!id.ok()) return none;
    ids.push_back(*id);
  }
  absl::StatusOr<std::vector<std::unique_ptr<Operator>>> ops =
      CreateMergeRegionOperators("merge-region", region, *target, ids, 0);
  if (!ops.ok()) return none;
  return std::move(*ops);
}

}  // namespace rutile::pd
