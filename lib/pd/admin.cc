#include "pd/admin.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace rutile::pd {

Admin::Admin(Cluster* cluster, OperatorController* operators, Coordinator* coordinator,
             ScheduleConfig* config, IdAllocFn alloc_id, std::function<uint64_t()> now)
    : cluster_(cluster),
      operators_(operators),
      coordinator_(coordinator),
      config_(config),
      alloc_id_(std::move(alloc_id)),
      now_(std::move(now)) {}

std::vector<StoreInfo> Admin::ListStores() const {
  std::vector<StoreInfo> out;
  for (const StoreInfo* s : cluster_->GetStores()) out.push_back(*s);
  return out;
}

absl::StatusOr<StoreInfo> Admin::GetStore(uint64_t store_id) const {
  const StoreInfo* s = cluster_->GetStore(store_id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("store ", store_id, " not found"));
  return *s;
}

absl::Status Admin::CheckDeleteStore(uint64_t store_id) const {
  const StoreInfo* s = cluster_->GetStore(store_id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("store ", store_id, " not found"));
  if (s->IsTombstone()) {
    return absl::FailedPreconditionError(absl::StrCat("store ", store_id, " is a tombstone"));
  }
  return absl::OkStatus();
}

absl::Status Admin::DeleteStore(uint64_t store_id) {
  if (absl::Status st = cluster_->SetStoreState(store_id, metapb::OFFLINE); !st.ok()) return st;
  // Nothing may move onto a leaving store: a replica added after it reported no regions
  // would land on a tombstone.
  operators_->CancelAddingTo(store_id);
  return absl::OkStatus();
}

std::vector<RegionInfo> Admin::ListRegions() const {
  std::vector<RegionInfo> out;
  for (const RegionInfo* r : cluster_->GetRegions()) out.push_back(*r);
  return out;
}

absl::StatusOr<RegionInfo> Admin::GetRegion(uint64_t region_id) const {
  absl::StatusOr<const RegionInfo*> r = FindRegion(region_id);
  if (!r.ok()) return r.status();
  return **r;
}

absl::StatusOr<RegionInfo> Admin::GetRegionByKey(const std::string& key) const {
  const RegionInfo* r = cluster_->GetRegionByKey(key);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no region holds key ", key));
  return *r;
}

absl::StatusOr<const RegionInfo*> Admin::FindRegion(uint64_t region_id) const {
  const RegionInfo* r = cluster_->GetRegion(region_id);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("region ", region_id, " not found"));
  return r;
}

absl::Status Admin::CheckStore(uint64_t store_id) const {
  const StoreInfo* s = cluster_->GetStore(store_id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("store ", store_id, " not found"));
  if (!s->IsUp()) {
    return absl::FailedPreconditionError(absl::StrCat("store ", store_id, " is not up"));
  }
  return absl::OkStatus();
}

absl::Status Admin::AddTransferLeader(uint64_t region_id, uint64_t to_store) {
  absl::StatusOr<const RegionInfo*> r = FindRegion(region_id);
  if (!r.ok()) return r.status();
  if (absl::Status s = CheckStore(to_store); !s.ok()) return s;
  auto op = CreateTransferLeaderOperator("admin-transfer-leader", **r, to_store, kOpAdmin);
  if (!op.ok()) return op.status();
  return operators_->AddOperator(std::move(*op), now_());
}

absl::Status Admin::AddAddPeer(uint64_t region_id, uint64_t store_id) {
  absl::StatusOr<const RegionInfo*> r = FindRegion(region_id);
  if (!r.ok()) return r.status();
  if (absl::Status s = CheckStore(store_id); !s.ok()) return s;
  absl::StatusOr<uint64_t> id = alloc_id_();
  if (!id.ok()) return id.status();
  auto op = CreateAddPeerOperator("admin-add-peer", **r, store_id, *id, kOpAdmin);
  if (!op.ok()) return op.status();
  return operators_->AddOperator(std::move(*op), now_());
}

absl::Status Admin::AddRemovePeer(uint64_t region_id, uint64_t store_id) {
  absl::StatusOr<const RegionInfo*> r = FindRegion(region_id);
  if (!r.ok()) return r.status();
  auto op = CreateRemovePeerOperator("admin-remove-peer", **r, store_id, kOpAdmin);
  if (!op.ok()) return op.status();
  return operators_->AddOperator(std::move(*op), now_());
}

absl::Status Admin::AddSplitRegion(uint64_t region_id, SplitPolicy policy,
                                   std::vector<std::string> keys) {
  absl::StatusOr<const RegionInfo*> r = FindRegion(region_id);
  if (!r.ok()) return r.status();
  auto op = CreateSplitRegionOperator("admin-split-region", **r, policy, std::move(keys), kOpAdmin);
  if (!op.ok()) return op.status();
  return operators_->AddOperator(std::move(*op), now_());
}

absl::Status Admin::AddMergeRegion(uint64_t source_region, uint64_t target_region) {
  absl::StatusOr<const RegionInfo*> src = FindRegion(source_region);
  if (!src.ok()) return src.status();
  absl::StatusOr<const RegionInfo*> dst = FindRegion(target_region);
  if (!dst.ok()) return dst.status();
  std::vector<uint64_t> ids;
  for (size_t i = MergePeersNeeded(**src, **dst); i > 0; --i) {
    absl::StatusOr<uint64_t> id = alloc_id_();
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  auto ops = CreateMergeRegionOperators("admin-merge-region", **src, **dst, ids, kOpAdmin);
  if (!ops.ok()) return ops.status();
  return operators_->AddOperators(std::move(*ops), now_());
}

absl::Status Admin::RemoveOperator(uint64_t region_id) {
  return operators_->RemoveOperator(region_id);
}

std::vector<std::string> Admin::ShowOperators() const {
  std::vector<std::string> out;
  for (const Operator* op : operators_->GetOperators()) out.push_back(op->ToString());
  return out;
}

absl::Status Admin::AddScheduler(std::string_view name) { return coordinator_->AddScheduler(name); }

absl::Status Admin::RemoveScheduler(std::string_view name) {
  return coordinator_->RemoveScheduler(name);
}

std::vector<std::string> Admin::ListSchedulers() const { return coordinator_->SchedulerNames(); }

std::string Admin::ShowConfig() const { return pd::ShowConfig(*config_); }

absl::Status Admin::SetConfig(std::string_view name, std::string_view value) {
  return SetConfigOption(config_, name, value);
}

namespace {

absl::StatusOr<uint64_t> ParseId(const std::vector<std::string>& args, size_t i) {
  uint64_t v;
  if (i >= args.size() || !absl::SimpleAtoi(args[i], &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a number as argument ", i + 1, " of: ", absl::StrJoin(args, " ")));
  }
  return v;
}

std::string Lines(const std::vector<std::string>& lines) {
  return lines.empty() ? "(none)\n" : absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

}  // namespace

absl::StatusOr<std::string> Admin::Execute(std::string_view command_line) {
  std::vector<std::string> a = absl::StrSplit(
      absl::string_view(command_line.data(), command_line.size()), ' ', absl::SkipWhitespace());
  auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown command: ", absl::string_view(command_line.data(), command_line.size())));
  };
  auto done = [](const absl::Status& s) -> absl::StatusOr<std::string> {
    if (!s.ok()) return s;
    return std::string("ok\n");
  };
#define RUTILE_PD_ID(var, i)                         \
  absl::StatusOr<uint64_t> var##_or = ParseId(a, i); \
  if (!var##_or.ok()) return var##_or.status();      \
  uint64_t var = *var##_or

  if (a.empty()) return bad();
  const std::string& verb = a[0];
  if (verb == "store") {
    if (a.size() == 1) {
      std::vector<std::string> lines;
      for (const StoreInfo& s : ListStores()) lines.push_back(DescribeStore(s));
      return Lines(lines);
    }
    if (a[1] == "delete") {
      if (a.size() != 3) return bad();
      RUTILE_PD_ID(id, 2);
      return done(DeleteStore(id));
    }
    if (a.size() != 2) return bad();
    RUTILE_PD_ID(id, 1);
    absl::StatusOr<StoreInfo> s = GetStore(id);
    if (!s.ok()) return s.status();
    return absl::StrCat(DescribeStore(*s), "\n");
  }
  if (verb == "region") {
    if (a.size() == 1) {
      std::vector<std::string> lines;
      for (const RegionInfo& r : ListRegions()) lines.push_back(DescribeRegion(r));
      return Lines(lines);
    }
    absl::StatusOr<RegionInfo> r;
    if (a[1] == "key") {
      if (a.size() != 3) return bad();
      r = GetRegionByKey(a[2]);
    } else {
      RUTILE_PD_ID(id, 1);
      r = GetRegion(id);
    }
    if (!r.ok()) return r.status();
    return absl::StrCat(DescribeRegion(*r), "\n");
  }
  if (verb == "operator") {
    if (a.size() == 2 && a[1] == "show") return Lines(ShowOperators());
    if (a.size() == 3 && a[1] == "remove") {
      RUTILE_PD_ID(id, 2);
      return done(RemoveOperator(id));
    }
    if (a.size() >= 4 && a[1] == "add") {
      const std::string& kind = a[2];
      RUTILE_PD_ID(region, 3);
      if (kind == "transfer-leader" || kind == "add-peer" || kind == "remove-peer" ||
          kind == "merge-region") {
        if (a.size() != 5) return bad();
        RUTILE_PD_ID(other, 4);
        if (kind == "transfer-leader") return done(AddTransferLeader(region, other));
        if (kind == "add-peer") return done(AddAddPeer(region, other));
        if (kind == "remove-peer") return done(AddRemovePeer(region, other));
        return done(AddMergeRegion(region, other));
      }
      if (kind == "split-region") {
        SplitPolicy policy = SplitPolicy::kApproximate;
        std::vector<std::string> keys;
        for (size_t i = 4; i < a.size(); ++i) {
          if (absl::StartsWith(a[i], "--policy=")) {
            std::string p = a[i].substr(9);
            if (p == "approximate") {
              policy = SplitPolicy::kApproximate;
            } else if (p == "scan") {
              policy = SplitPolicy::kScan;
            } else if (p == "usekey") {
              policy = SplitPolicy::kUseKey;
            } else {
              return absl::InvalidArgumentError(absl::StrCat("unknown split policy: ", p));
            }
          } else {
            keys.push_back(a[i]);
            policy = SplitPolicy::kUseKey;
          }
        }
        return done(AddSplitRegion(region, policy, std::move(keys)));
      }
    }
    return bad();
  }
  if (verb == "scheduler") {
    if (a.size() == 2 && a[1] == "show") return Lines(ListSchedulers());
    if (a.size() == 3 && a[1] == "add") return done(AddScheduler(a[2]));
    if (a.size() == 3 && a[1] == "remove") return done(RemoveScheduler(a[2]));
    return bad();
  }
  if (verb == "config") {
    if (a.size() == 2 && a[1] == "show") return ShowConfig();
    if (a.size() == 4 && a[1] == "set") return done(SetConfig(a[2], a[3]));
    return bad();
  }
#undef RUTILE_PD_ID
  return bad();
}

}  // namespace rutile::pd
