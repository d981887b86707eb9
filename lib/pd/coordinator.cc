#include "pd/coordinator.h"

#include "absl/strings/str_cat.h"
#include "pd/checkers.h"

namespace rutile::pd {
namespace {

// Upper bound on operators one scheduler adds per round, besides its schedule limit.
constexpr int kMaxOpsPerSchedulerRound = 16;

}  // namespace

Coordinator::Coordinator(const Cluster* cluster, OperatorController* operators,
                         const ScheduleConfig* config, IdAllocFn alloc_id)
    : cluster_(cluster), operators_(operators), config_(config), alloc_id_(std::move(alloc_id)) {
  for (const std::string& name : SchedulerTypes()) schedulers_.push_back(CreateScheduler(name));
}

absl::Status Coordinator::AddScheduler(std::string_view name) {
  std::unique_ptr<Scheduler> s = CreateScheduler(name);
  if (s == nullptr)
    return absl::NotFoundError(absl::StrCat("unknown scheduler: ", std::string(name)));
  for (const auto& existing : schedulers_) {
    if (existing->name() == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("scheduler already enabled: ", std::string(name)));
    }
  }
  schedulers_.push_back(std::move(s));
  return absl::OkStatus();
}

absl::Status Coordinator::RemoveScheduler(std::string_view name) {
  for (auto it = schedulers_.begin(); it != schedulers_.end(); ++it) {
    if ((*it)->name() == name) {
      schedulers_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("scheduler not enabled: ", std::string(name)));
}

std::vector<std::string> Coordinator::SchedulerNames() const {
  std::vector<std::string> out;
  for (const auto& s : schedulers_) out.push_back(s->name());
  return out;
}

std::vector<std::string> Coordinator::RunOnce(uint64_t now_micros) {
  std::vector<std::string> added;
  operators_->CheckTimeouts(now_micros);
  auto add = [&](std::unique_ptr<Operator> op) {
    if (op == nullptr) return false;
    std::string desc = op->ToString();
    if (!operators_->AddOperator(std::move(op), now_micros).ok()) return false;
    added.push_back(std::move(desc));
    return true;
  };

  if (checkers_enabled_) {
    for (const RegionInfo* region : cluster_->GetRegions()) {
      // A fresh context per region: the influence of what was just added counts.
      ScheduleContext ctx(*cluster_, *config_, *operators_, now_micros, alloc_id_);
      if (!operators_->LimitReached(kOpReplica) && add(CheckReplicas(ctx, *region))) continue;
      if (operators_->LimitReached(kOpMerge)) continue;
      std::vector<std::unique_ptr<Operator>> merge = CheckMerge(ctx, *region);
      if (merge.empty()) continue;
      std::vector<std::string> descs;
      for (const auto& op : merge) descs.push_back(op->ToString());
      if (operators_->AddOperators(std::move(merge), now_micros).ok()) {
        added.insert(added.end(), descs.begin(), descs.end());
      }
    }
  }

  for (const auto& scheduler : schedulers_) {
    for (int i = 0; i < kMaxOpsPerSchedulerRound; ++i) {
      if (operators_->LimitReached(scheduler->kind())) break;
      ScheduleContext ctx(*cluster_, *config_, *operators_, now_micros, alloc_id_);
      if (!add(scheduler->Schedule(ctx))) break;
    }
  }
  return added;
}

}  // namespace rutile::pd
