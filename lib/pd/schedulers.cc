#include "pd/schedulers.h"

#include <algorithm>
#include <set>

#include "pd/placement.h"

namespace rutile::pd {
namespace {

// Stores sorted by `score` descending (ascending when `ascending`), ties by id.
template <typename Score>
std::vector<const StoreInfo*> SortStores(std::vector<const StoreInfo*> stores, Score score,
                                         bool ascending) {
  std::stable_sort(stores.begin(), stores.end(), [&](const StoreInfo* a, const StoreInfo* b) {
    int64_t sa = score(*a), sb = score(*b);
    if (sa != sb) return ascending ? sa < sb : sa > sb;
    return a->id() < b->id();
  });
  return stores;
}

std::unique_ptr<Operator> TransferLeaderOp(const ScheduleContext& ctx, const RegionInfo& region,
                                           uint64_t to_store) {
  absl::StatusOr<std::unique_ptr<Operator>> op =
      CreateTransferLeaderOperator("balance-leader", region, to_store, kOpLeader);
  return op.ok() ? std::move(*op) : nullptr;
}

}  // namespace

std::unique_ptr<Operator> BalanceLeader(const ScheduleContext& ctx) {
  std::vector<const StoreInfo*> stores = ctx.HealthyStores();
  if (stores.size() < 2) return nullptr;
  auto score = [&](const StoreInfo& s) { return ctx.LeaderCountScore(s); };
  std::set<uint64_t> healthy;
  for (const StoreInfo* s : stores) healthy.insert(s->id());

  // From the most loaded store: the follower store with the fewest leaders.
  for (const StoreInfo* source : SortStores(stores, score, /*ascending=*/false)) {
    for (uint64_t rid : ctx.cluster.LeaderRegions(source->id())) {
      const RegionInfo* region = ctx.cluster.GetRegion(rid);
      if (region == nullptr || !ctx.RegionSchedulable(*region)) continue;
      const StoreInfo* target = nullptr;
      for (uint64_t f : region->FollowerStoreIds()) {
        const StoreInfo* s = ctx.cluster.GetStore(f);
        if (s == nullptr || healthy.count(f) == 0 ||
            region->IsPending(region->PeerOnStore(f)->id())) {
          continue;
        }
        if (target == nullptr || score(*s) < score(*target) ||
            (score(*s) == score(*target) && s->id() < target->id())) {
          target = s;
        }
      }
      if (target != nullptr && score(*source) - score(*target) >= 2) {
        return TransferLeaderOp(ctx, *region, target->id());
      }
    }
  }
  // From the least loaded store: take a leader from a richer store.
  for (const StoreInfo* target : SortStores(stores, score, /*ascending=*/true)) {
    for (uint64_t rid : ctx.cluster.FollowerRegions(target->id())) {
      const RegionInfo* region = ctx.cluster.GetRegion(rid);
      if (region == nullptr || !ctx.RegionSchedulable(*region)) continue;
      if (region->IsPending(region->PeerOnStore(target->id())->id())) continue;
      const StoreInfo* source = ctx.cluster.GetStore(region->leader_store_id());
      if (source == nullptr || healthy.count(source->id()) == 0) continue;
      if (score(*source) - score(*target) >= 2) {
        return TransferLeaderOp(ctx, *region, target->id());
      }
    }
  }
  return nullptr;
}

std::unique_ptr<Operator> BalanceRegion(const ScheduleContext& ctx) {
  std::vector<const StoreInfo*> stores = ctx.HealthyStores();
  if (stores.size() < 2) return nullptr;
  auto size = [&](const StoreInfo& s) { return ctx.RegionSizeScore(s); };
  std::vector<const StoreInfo*> sources = SortStores(stores, size, /*ascending=*/false);
  std::vector<const StoreInfo*> targets = SortStores(stores, size, /*ascending=*/true);
  const std::vector<std::string>& labels = ctx.config.location_labels;

  for (const StoreInfo* source : sources) {
    const std::set<uint64_t>* groups[] = {&ctx.cluster.PendingRegions(source->id()),
                                          &ctx.cluster.FollowerRegions(source->id()),
                                          &ctx.cluster.LeaderRegions(source->id())};
    for (const std::set<uint64_t>* group : groups) {
      for (uint64_t rid : *group) {
        const RegionInfo* region = ctx.cluster.GetRegion(rid);
        if (region == nullptr || !ctx.RegionSchedulable(*region)) continue;
        std::vector<const StoreInfo*> others = ctx.VoterStores(*region, source->id());
        uint64_t source_distinct = DistinctScore(labels, others, *source);
        const StoreInfo* target = nullptr;
        for (const StoreInfo* t : targets) {
          if (region->PeerOnStore(t->id()) != nullptr) continue;
          if (DistinctScore(labels, others, *t) < source_distinct) continue;
          target = t;
          break;
        }
        if (target == nullptr) continue;
        // Moving must shrink the gap, not flip it: require gap > 2 * region size.
        int64_t gap = size(*source) - size(*target);
        if (gap <= 2 * static_cast<int64_t>(region->approximate_size)) continue;
        absl::StatusOr<uint64_t> peer_id = ctx.alloc_id();
        if (!peer_id.ok()) return nullptr;
        absl::StatusOr<std::unique_ptr<Operator>> op = CreateMovePeerOperator(
            "balance-region", *region, source->id(), target->id(), *peer_id, kOpRegion);
        if (op.ok()) return std::move(*op);
      }
    }
  }
  return nullptr;
}

namespace {

class BalanceLeaderScheduler : public Scheduler {
 public:
  std::string name() const override { return "balance-leader-scheduler"; }
  uint32_t kind() const override { return kOpLeader; }
  std::unique_ptr<Operator> Schedule(const ScheduleContext& ctx) override {
    return BalanceLeader(ctx);
  }
};

class BalanceRegionScheduler : public Scheduler {
 public:
  std::string name() const override { return "balance-region-scheduler"; }
  uint32_t kind() const override { return kOpRegion; }
  std::unique_ptr<Operator> Schedule(const ScheduleContext& ctx) override {
    return BalanceRegion(ctx);
  }
};

}  // namespace

std::unique_ptr<Scheduler> CreateScheduler(std::string_view name) {
  if (name == "balance-leader-scheduler") return std::make_unique<BalanceLeaderScheduler>();
  if (name == "balance-region-scheduler") return std::make_unique<BalanceRegionScheduler>();
  return nullptr;
}

std::vector<std::string> SchedulerTypes() {
  return {"balance-leader-scheduler", "balance-region-scheduler"};
}

}  // namespace rutile::pd
