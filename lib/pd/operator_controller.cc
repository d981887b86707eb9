#include "pd/operator_controller.h"

#include "absl/strings/str_cat.h"

namespace rutile::pd {
namespace {

constexpr size_t kMaxHistory = 256;

// The region on the other side of a merge operator, or 0.
uint64_t MergeTwin(const Operator& op) {
  for (const OpStep& s : op.steps()) {
    if (const auto* m = std::get_if<MergeRegion>(&s)) {
      return op.region_id() == m->from.id() ? m->to.id() : m->from.id();
    }
  }
  return 0;
}

}  // namespace

OperatorController::OperatorController(const Cluster* cluster, const ScheduleConfig* config)
    : cluster_(cluster), config_(config) {}

bool OperatorController::LimitReached(uint32_t kind) const {
  if (kind & kOpAdmin) return false;
  struct Limit {
    uint32_t bit;
    uint64_t limit;
  };
  const Limit limits[] = {{kOpLeader, config_->leader_schedule_limit},
                          {kOpRegion, config_->region_schedule_limit},
                          {kOpReplica, config_->replica_schedule_limit},
                          {kOpMerge, config_->merge_schedule_limit}};
  for (const Limit& l : limits) {
    if ((kind & l.bit) && OperatorCount(l.bit) >= l.limit) return true;
  }
  return false;
}

absl::Status OperatorController::CheckAdd(const Operator& op) const {
  const RegionInfo* region = cluster_->GetRegion(op.region_id());
  if (region == nullptr) return absl::NotFoundError(absl::StrCat("region ", op.region_id()));
  const metapb::RegionEpoch& e = region->meta.region_epoch();
  if (e.version() != op.epoch().version() || e.conf_ver() != op.epoch().conf_ver()) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", op.region_id(), " epoch changed since the operator was built"));
  }
  bool pending_work = false;
  for (size_t i = 0; i < op.steps().size(); ++i) {
    if (!StepFinished(op.steps()[i], *region)) {
      pending_work = true;
      break;
    }
  }
  if (!pending_work) {
    return absl::FailedPreconditionError(
        absl::StrCat("operator on region ", op.region_id(), " has nothing to do"));
  }
  auto it = ops_.find(op.region_id());
  if (it != ops_.end()) {
    if (it->second->priority() >= op.priority()) {
      return absl::AlreadyExistsError(
          absl::StrCat("region ", op.region_id(), " already has operator: ", it->second->desc()));
    }
  }
  if (LimitReached(op.kind())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("schedule limit reached for ", DescribeKind(op.kind()), " operators"));
  }
  return absl::OkStatus();
}

void OperatorController::Insert(std::unique_ptr<Operator> op, uint64_t now_micros) {
  uint32_t non_admin = op->kind() & ~static_cast<uint32_t>(kOpAdmin);
  uint64_t timeout = non_admin == kOpLeader ? config_->leader_operator_timeout_micros
                                            : config_->region_operator_timeout_micros;
  op->Start(now_micros, timeout);
  uint64_t id = op->region_id();
  if (ops_.count(id) != 0) Finish(id, OpStatus::kReplaced);
  ops_[id] = std::move(op);
}

absl::Status OperatorController::AddOperator(std::unique_ptr<Operator> op, uint64_t now_micros) {
  absl::Status s = CheckAdd(*op);
  if (!s.ok()) return s;
  Insert(std::move(op), now_micros);
  return absl::OkStatus();
}

absl::Status OperatorController::AddOperators(std::vector<std::unique_ptr<Operator>> ops,
                                              uint64_t now_micros) {
  for (const auto& op : ops) {
    absl::Status s = CheckAdd(*op);
    if (!s.ok()) return s;
  }
  // A limit is checked per operator above; the pair may overshoot it by one, as in PD.
  for (auto& op : ops) Insert(std::move(op), now_micros);
  return absl::OkStatus();
}

absl::Status OperatorController::RemoveOperator(uint64_t region_id) {
  if (ops_.count(region_id) == 0) {
    return absl::NotFoundError(absl::StrCat("no operator on region ", region_id));
  }
  Finish(region_id, OpStatus::kCanceled);
  return absl::OkStatus();
}

void OperatorController::Finish(uint64_t region_id, OpStatus status) {
  auto it = ops_.find(region_id);
  if (it == ops_.end()) return;
  std::unique_ptr<Operator> op = std::move(it->second);
  ops_.erase(it);
  op->End(status);
  history_.push_back(op->ToString());
  if (history_.size() > kMaxHistory) history_.pop_front();
  if (op->status() != OpStatus::kSuccess) {
    uint64_t twin = MergeTwin(*op);
    auto t = ops_.find(twin);
    if (twin != 0 && t != ops_.end() && MergeTwin(*t->second) == region_id) {
      Finish(twin, OpStatus::kCanceled);
    }
  }
}

namespace {

bool StepAddsTo(const OpStep& step, uint64_t store_id) {
  if (const auto* t = std::get_if<TransferLeader>(&step)) return t->to_store == store_id;
  if (const auto* a = std::get_if<AddPeer>(&step)) return a->store_id == store_id;
  if (const auto* l = std::get_if<AddLearner>(&step)) return l->store_id == store_id;
  if (const auto* p = std::get_if<PromoteLearner>(&step)) return p->store_id == store_id;
  return false;
}

bool OperatorAddsTo(const Operator& op, uint64_t store_id) {
  for (const OpStep& step : op.steps()) {
    if (StepAddsTo(step, store_id)) return true;
  }
  return false;
}

}  // namespace

size_t OperatorController::CancelAddingTo(uint64_t store_id) {
  std::vector<uint64_t> regions;
  for (const auto& [id, op] : ops_) {
    if (OperatorAddsTo(*op, store_id)) regions.push_back(id);
  }
  size_t n = 0;
  for (uint64_t id : regions) {
    // A merge twin may have gone with an earlier one.
    if (ops_.count(id) == 0) continue;
    Finish(id, OpStatus::kCanceled);
    ++n;
  }
  return n;
}

bool OperatorController::AddsTo(uint64_t store_id) const {
  for (const auto& [id, op] : ops_) {
    if (OperatorAddsTo(*op, store_id)) return true;
  }
  return false;
}

const Operator* OperatorController::GetOperator(uint64_t region_id) const {
  auto it = ops_.find(region_id);
  return it == ops_.end() ? nullptr : it->second.get();
}

std::vector<const Operator*> OperatorController::GetOperators() const {
  std::vector<const Operator*> out;
  for (const auto& [id, op] : ops_) out.push_back(op.get());
  return out;
}

std::optional<OpStep> OperatorController::Dispatch(const RegionInfo& region, uint64_t now_micros) {
  auto it = ops_.find(region.id());
  if (it == ops_.end()) return std::nullopt;
  Operator* op = it->second.get();
  if (op->CheckTimeout(now_micros)) {
    Finish(region.id(), OpStatus::kTimeout);
    return std::nullopt;
  }
  const OpStep* step = op->Check(region);
  if (step == nullptr) {
    Finish(region.id(), op->status());
    return std::nullopt;
  }
  // A split or merge not made by this operator changed what the operator was built for.
  if (!(op->kind() & kOpSplit) && region.version() != op->epoch().version()) {
    Finish(region.id(), OpStatus::kCanceled);
    return std::nullopt;
  }
  if (const auto* m = std::get_if<MergeRegion>(step); m != nullptr && m->is_passive) {
    return std::nullopt;
  }
  return *step;
}

void OperatorController::OnRegionsRemoved(const std::vector<uint64_t>& region_ids) {
  for (uint64_t id : region_ids) {
    auto it = ops_.find(id);
    if (it == ops_.end()) continue;
    const Operator& op = *it->second;
    // A region replaced while its operator was on a split or merge step is the effect of
    // that very step; anything else was overtaken by a split or merge it did not make.
    bool done = false;
    if (op.current_step_index() < op.steps().size()) {
      const OpStep& step = op.steps()[op.current_step_index()];
      done = std::holds_alternative<SplitRegion>(step) || std::holds_alternative<MergeRegion>(step);
    }
    Finish(id, done ? OpStatus::kSuccess : OpStatus::kCanceled);
  }
}

void OperatorController::CheckTimeouts(uint64_t now_micros) {
  std::vector<uint64_t> expired;
  for (const auto& [id, op] : ops_) {
    if (op->CheckTimeout(now_micros)) expired.push_back(id);
  }
  for (uint64_t id : expired) Finish(id, OpStatus::kTimeout);
}

size_t OperatorController::OperatorCount(uint32_t kind_mask) const {
  size_t n = 0;
  for (const auto& [id, op] : ops_) {
    if (op->kind() & kind_mask) ++n;
  }
  return n;
}

OpInfluence OperatorController::Influence() const {
  OpInfluence out;
  for (const auto& [id, op] : ops_) {
    const RegionInfo* region = cluster_->GetRegion(id);
    int64_t size = region ? static_cast<int64_t>(region->approximate_size) : 0;
    for (size_t i = op->current_step_index(); i < op->steps().size(); ++i) {
      const OpStep& s = op->steps()[i];
      if (const auto* a = std::get_if<AddLearner>(&s)) {
        out[a->store_id].region_count += 1;
        out[a->store_id].region_size += size;
      } else if (const auto* p = std::get_if<AddPeer>(&s)) {
        out[p->store_id].region_count += 1;
        out[p->store_id].region_size += size;
      } else if (const auto* r = std::get_if<RemovePeer>(&s)) {
        out[r->store_id].region_count -= 1;
        out[r->store_id].region_size -= size;
      } else if (const auto* t = std::get_if<TransferLeader>(&s)) {
        out[t->from_store].leader_count -= 1;
        out[t->from_store].leader_size -= size;
        out[t->to_store].leader_count += 1;
        out[t->to_store].leader_size += size;
      }
    }
  }
  return out;
}

}  // namespace rutile::pd
