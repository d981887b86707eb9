#include "node/local_pd.h"

#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "node/node_internal.h"
#include "storage/write_batch.h"
#include "util/coding.h"

namespace rutile::node {

EngineAllocatorStorage::EngineAllocatorStorage(storage::Engine* engine, uint64_t id_floor)
    : engine_(engine), id_floor_(id_floor) {}

const std::string& EngineAllocatorStorage::TimestampKey() {
  static const std::string* k = new std::string("\x01Ppd_tso_limit");
  return *k;
}

const std::string& EngineAllocatorStorage::IdKey() {
  static const std::string* k = new std::string("\x01Ppd_id_limit");
  return *k;
}

const std::string& EngineAllocatorStorage::GcSafePointKey() {
  static const std::string* k = new std::string("\x01Ppd_gc_safe_point");
  return *k;
}

absl::StatusOr<uint64_t> EngineAllocatorStorage::Load(const std::string& key) {
  absl::StatusOr<std::optional<std::string>> v = engine_->Get(storage::CF::kDefault, key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return uint64_t{0};
  if ((*v)->size() != 8) {
    return absl::DataLossError(absl::StrCat("pd allocator key has ", (*v)->size(), " bytes"));
  }
  return DecodeFixed64((*v)->data());
}

absl::Status EngineAllocatorStorage::Save(const std::string& key, uint64_t value) {
  std::string buf;
  PutFixed64(&buf, value);
  storage::WriteBatch batch;
  batch.Put(storage::CF::kDefault, key, buf);
  storage::WriteOptions wo;
  wo.sync = true;
  return engine_->Write(batch, wo);
}

absl::StatusOr<uint64_t> EngineAllocatorStorage::LoadTimestampLimit() {
  return Load(TimestampKey());
}
absl::Status EngineAllocatorStorage::SaveTimestampLimit(uint64_t limit_ms) {
  return Save(TimestampKey(), limit_ms);
}
absl::StatusOr<uint64_t> EngineAllocatorStorage::LoadIdLimit() {
  absl::StatusOr<uint64_t> v = Load(IdKey());
  if (!v.ok()) return v;
  return *v < id_floor_ ? id_floor_ : *v;
}
absl::Status EngineAllocatorStorage::SaveIdLimit(uint64_t limit) { return Save(IdKey(), limit); }

std::optional<raftstore::RegionOperator> ToRegionOperator(const pd::OpStep& step,
                                                          const pd::Cluster& cluster) {
  using raftstore::RegionOperator;
  RegionOperator op;
  auto change = [&op](raft::ConfChangeType type, uint64_t peer_id, uint64_t store_id,
                      metapb::PeerRole role) {
    op.kind = RegionOperator::Kind::kChangePeer;
    raft_cmdpb::ChangePeerRequest c;
    c.set_change_type(type);
    c.mutable_peer()->set_id(peer_id);
    c.mutable_peer()->set_store_id(store_id);
    c.mutable_peer()->set_role(role);
    op.changes.push_back(std::move(c));
  };
  if (const auto* s = std::get_if<pd::TransferLeader>(&step)) {
    op.kind = RegionOperator::Kind::kTransferLeader;
    op.target.set_id(s->to_peer_id);
    op.target.set_store_id(s->to_store);
  } else if (const auto* s = std::get_if<pd::AddPeer>(&step)) {
    change(raft::CONF_CHANGE_ADD_NODE, s->peer_id, s->store_id, metapb::VOTER);
  } else if (const auto* s = std::get_if<pd::AddLearner>(&step)) {
    change(raft::CONF_CHANGE_ADD_LEARNER_NODE, s->peer_id, s->store_id, metapb::LEARNER);
  } else if (const auto* s = std::get_if<pd::PromoteLearner>(&step)) {
    change(raft::CONF_CHANGE_ADD_NODE, s->peer_id, s->store_id, metapb::VOTER);
  } else if (const auto* s = std::get_if<pd::RemovePeer>(&step)) {
    change(raft::CONF_CHANGE_REMOVE_NODE, s->peer_id, s->store_id, metapb::VOTER);
  } else if (const auto* s = std::get_if<pd::SplitRegion>(&step)) {
    op.kind = RegionOperator::Kind::kSplit;
    if (s->policy == pd::SplitPolicy::kUseKey) op.split_keys = s->keys;
  } else if (const auto* s = std::get_if<pd::MergeRegion>(&step)) {
    const pd::RegionInfo* target = cluster.GetRegion(s->to.id());
    if (s->is_passive || target == nullptr) return std::nullopt;
    op.kind = RegionOperator::Kind::kMerge;
    op.merge_target = target->meta;
  } else {
    return std::nullopt;
  }
  return op;
}

pd::SchedulingOptions DefaultSchedulingOptions() { return pd::SchedulingOptions(); }

LocalPd::LocalPd(Env* env, storage::Engine* engine, const pd::SchedulingOptions& scheduling)
    : env_(env),
      storage_(engine, kFirstAllocatedId),
      ids_(&storage_),
      tso_(env, &storage_),
      sched_(
          scheduling, [this] { return ids_.Alloc(); }, env->NowMicros()) {}

LocalPd::~LocalPd() { tso_.Reset(); }

absl::StatusOr<std::unique_ptr<LocalPd>> LocalPd::Open(Env* env, storage::Engine* engine,
                                                       const pd::SchedulingOptions& scheduling) {
  std::unique_ptr<LocalPd> pd(new LocalPd(env, engine, scheduling));
  if (absl::Status s = pd->tso_.Initialize(); !s.ok()) return s;
  return pd;
}

absl::StatusOr<uint64_t> LocalPd::AllocId() { return ids_.Alloc(); }

absl::StatusOr<std::vector<raftstore::SplitIds>> LocalPd::AskBatchSplit(
    const metapb::Region& region, size_t count) {
  std::vector<raftstore::SplitIds> out(count);
  for (raftstore::SplitIds& s : out) {
    absl::StatusOr<uint64_t> first = ids_.AllocRange(1 + region.peers_size());
    if (!first.ok()) return first.status();
    s.new_region_id = *first;
    for (int i = 0; i < region.peers_size(); ++i) s.new_peer_ids.push_back(*first + 1 + i);
  }
  return out;
}

absl::StatusOr<std::optional<raftstore::RegionOperator>> LocalPd::RegionHeartbeat(
    const metapb::Region& region, const metapb::Peer& leader, const raftstore::RegionStats& stats) {
  pd::RegionInfo info;
  info.meta = region;
  info.leader = leader;
  info.approximate_size = stats.approximate_size;
  info.approximate_keys = stats.approximate_keys;
  info.written_bytes = stats.written_bytes;
  info.written_keys = stats.written_keys;
  info.pending_peers = stats.pending_peers;
  MutexLock lock(mu_);
  absl::StatusOr<std::optional<pd::OpStep>> step =
      sched_.RegionHeartbeat(std::move(info), env_->NowMicros());
  if (!step.ok()) {
    // Stale heartbeats are normal after a split.
    if (absl::IsFailedPrecondition(step.status())) return std::nullopt;
    return step.status();
  }
  if (!step->has_value()) return std::nullopt;
  return ToRegionOperator(**step, sched_.cluster());
}

absl::Status LocalPd::ReportBatchSplit(const std::vector<metapb::Region>& regions) {
  for (const metapb::Region& r : regions) ReportRegion(r);
  return absl::OkStatus();
}

absl::Status LocalPd::StoreHeartbeat(const raftstore::StoreStats& stats) {
  pd::StoreStats s;
  s.region_count = stats.region_count;
  s.leader_count = stats.leader_count;
  s.used_size = stats.used_bytes;
  MutexLock lock(mu_);
  const uint64_t now = env_->NowMicros();
  absl::Status st = sched_.StoreHeartbeat(stats.store_id, s, now);
  // A deleted store whose regions all moved away becomes a tombstone.
  for (uint64_t id : sched_.StoresToBury(now)) {
    (void)sched_.cluster().SetStoreState(id, metapb::TOMBSTONE);
  }
  return st;
}

absl::Status LocalPd::PutStore(uint64_t store_id) {
  metapb::Store meta;
  meta.set_id(store_id);
  meta.set_node_id(store_id);
  MutexLock lock(mu_);
  return sched_.PutStore(meta, env_->NowMicros());
}

void LocalPd::ReportRegion(const metapb::Region& region) {
  MutexLock lock(mu_);
  sched_.ReportRegion(region, env_->NowMicros());
}

absl::StatusOr<uint64_t> LocalPd::GetTimestamp() { return tso_.GetTimestamp(); }

absl::StatusOr<uint64_t> LocalPd::GetGcSafePoint() {
  MutexLock lock(gc_mu_);
  return storage_.Load(EngineAllocatorStorage::GcSafePointKey());
}

absl::StatusOr<uint64_t> LocalPd::UpdateGcSafePoint(uint64_t safe_point) {
  MutexLock lock(gc_mu_);
  absl::StatusOr<uint64_t> cur = storage_.Load(EngineAllocatorStorage::GcSafePointKey());
  if (!cur.ok() || *cur >= safe_point) return cur;
  if (absl::Status s = storage_.Save(EngineAllocatorStorage::GcSafePointKey(), safe_point);
      !s.ok()) {
    return s;
  }
  return safe_point;
}

absl::StatusOr<LocalPd::RegionRoute> LocalPd::GetRegionByKey(const std::string& key) {
  MutexLock lock(mu_);
  const pd::RegionInfo* r = sched_.cluster().GetRegionByKey(key);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no region known for key"));
  return RegionRoute{r->meta, r->leader};
}

absl::StatusOr<std::vector<LocalPd::RegionRoute>> LocalPd::Regions() {
  MutexLock lock(mu_);
  std::vector<RegionRoute> out;
  for (const pd::RegionInfo* r : sched_.cluster().GetRegions()) {
    out.push_back({r->meta, r->leader});
  }
  return out;
}

absl::Status LocalPd::SetSchedulingEnabled(bool enabled) {
  MutexLock lock(mu_);
  sched_.SetSchedulingEnabled(enabled);
  return absl::OkStatus();
}

absl::StatusOr<std::string> LocalPd::AdminExecute(std::string_view command_line) {
  MutexLock lock(mu_);
  return sched_.admin().Execute(command_line);
}

void LocalPd::WithScheduling(const std::function<void(pd::Scheduling&)>& fn) {
  MutexLock lock(mu_);
  fn(sched_);
}

}  // namespace rutile::node

// rutile::Pd's admin half (include/rutile/node.h), next to the PD it drives.
namespace rutile {

void Pd::SetSchedulingEnabled(bool enabled) { (void)impl_->api->SetSchedulingEnabled(enabled); }

absl::StatusOr<std::string> Pd::Admin(std::string_view command_line) {
  return impl_->api->AdminExecute(command_line);
}

absl::StatusOr<uint64_t> Pd::GetGcSafePoint() { return impl_->api->GetGcSafePoint(); }

absl::StatusOr<uint64_t> Pd::UpdateGcSafePoint(uint64_t safe_point) {
  return impl_->api->UpdateGcSafePoint(safe_point);
}

}  // namespace rutile
