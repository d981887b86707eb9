#include "node/local_pd.h"

#include <utility>

#include "absl/strings/str_cat.h"
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

LocalPd::LocalPd(Env* env, storage::Engine* engine)
    : env_(env), storage_(engine, kFirstAllocatedId), ids_(&storage_), tso_(env, &storage_) {}

LocalPd::~LocalPd() { tso_.Reset(); }

absl::StatusOr<std::unique_ptr<LocalPd>> LocalPd::Open(Env* env, storage::Engine* engine) {
  std::unique_ptr<LocalPd> pd(new LocalPd(env, engine));
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
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::vector<uint64_t>> r =
      cluster_.HandleRegionHeartbeat(std::move(info), env_->NowMicros());
  if (!r.ok() && !absl::IsFailedPrecondition(r.status())) return r.status();
  // Stale heartbeats are normal after a split; no schedulers run yet: no operator.
  return std::nullopt;
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
  absl::MutexLock lock(&mu_);
  if (cluster_.GetStore(stats.store_id) == nullptr) {
    metapb::Store meta;
    meta.set_id(stats.store_id);
    meta.set_node_id(stats.store_id);
    if (absl::Status st = cluster_.PutStore(meta); !st.ok()) return st;
  }
  return cluster_.HandleStoreHeartbeat(stats.store_id, s, env_->NowMicros());
}

absl::Status LocalPd::PutStore(uint64_t store_id) {
  metapb::Store meta;
  meta.set_id(store_id);
  meta.set_node_id(store_id);
  absl::MutexLock lock(&mu_);
  return cluster_.PutStore(meta);
}

void LocalPd::ReportRegion(const metapb::Region& region) {
  pd::RegionInfo info;
  info.meta = region;
  absl::MutexLock lock(&mu_);
  // Keep the leader PD already knows when the region did not change.
  if (const pd::RegionInfo* old = cluster_.GetRegion(region.id());
      old != nullptr && old->version() == region.region_epoch().version() &&
      old->conf_ver() == region.region_epoch().conf_ver()) {
    return;
  }
  (void)cluster_.HandleRegionHeartbeat(std::move(info), env_->NowMicros());
}

absl::StatusOr<uint64_t> LocalPd::GetTimestamp() { return tso_.GetTimestamp(); }

absl::StatusOr<LocalPd::RegionRoute> LocalPd::GetRegionByKey(const std::string& key) {
  absl::MutexLock lock(&mu_);
  const pd::RegionInfo* r = cluster_.GetRegionByKey(key);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no region known for key"));
  return RegionRoute{r->meta, r->leader};
}

std::vector<LocalPd::RegionRoute> LocalPd::Regions() {
  absl::MutexLock lock(&mu_);
  std::vector<RegionRoute> out;
  for (const pd::RegionInfo* r : cluster_.GetRegions()) out.push_back({r->meta, r->leader});
  return out;
}

}  // namespace rutile::node
