#include "raftstore/peer_storage.h"

#include <algorithm>
#include <utility>

#include "raft/errors.h"
#include "raftstore/keys.h"

namespace rutile::raftstore {
namespace {

constexpr storage::CF kDataCfs[] = {storage::CF::kDefault, storage::CF::kLock, storage::CF::kWrite};

raft::Snapshot MakeRaftSnapshot(const metapb::Region& region, uint64_t index, uint64_t term) {
  raft::Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  *s.mutable_metadata()->mutable_conf_state() = ConfStateFromRegion(region);
  raft_serverpb::SnapshotData data;
  *data.mutable_region() = region;
  s.set_data(data.SerializeAsString());
  return s;
}

storage::WriteOptions Synced() {
  storage::WriteOptions wo;
  wo.sync = true;
  return wo;
}

}  // namespace

PeerStorage::PeerStorage(storage::Engine* engine, SnapManager* snaps, metapb::Region region,
                         raft_serverpb::RaftApplyState apply,
                         std::unique_ptr<raft::EngineLogStorage> log)
    : engine_(engine),
      snaps_(snaps),
      region_(std::move(region)),
      apply_(std::move(apply)),
      log_(std::move(log)) {}

absl::StatusOr<std::unique_ptr<PeerStorage>> PeerStorage::Open(
    storage::Engine* engine, SnapManager* snaps, const metapb::Region& region,
    raft_serverpb::RaftApplyState apply) {
  raft::EngineLogStorageOptions options;
  options.sync = true;
  absl::StatusOr<std::unique_ptr<raft::EngineLogStorage>> log =
      raft::EngineLogStorage::Open(engine, region.id(), options);
  if (!log.ok()) return log.status();
  raft::EngineLogStorage* l = log->get();
  if (region.peers_size() > 0) {
    absl::StatusOr<uint64_t> last = l->LastIndex();
    if (!last.ok()) return last.status();
    if (apply.applied_index() > *last) {
      // The data of a snapshot was installed but its Raft part was lost in a crash.
      absl::Status s =
          l->ApplySnapshot(MakeRaftSnapshot(region, apply.applied_index(), apply.applied_term()));
      if (!s.ok()) return s;
    }
    // A persisted commit index below the applied one is normal (the store never writes a
    // hard state that only raises the commit, store.cc ProcessBatch) and is left as is:
    // Raft::Create raises the commit to Config::applied in memory, and a later Ready's
    // write carries it. Writing it here would cost a synced write per region on every
    // restart.
    raft::HardState hs = l->hard_state();
    if (hs.term() < apply.applied_term()) {
      // Only when the Raft part of an installed snapshot was lost (above): a term change
      // is synced before any message of that term leaves, so this peer never voted in the
      // applied term, and Raft must not start below the term of its last entry.
      hs.set_term(apply.applied_term());
      hs.set_vote(0);
      hs.set_commit(std::max(hs.commit(), apply.applied_index()));
      absl::Status s = l->SetHardState(hs);
      if (!s.ok()) return s;
    }
  }
  return std::unique_ptr<PeerStorage>(
      new PeerStorage(engine, snaps, region, std::move(apply), std::move(*log)));
}

absl::StatusOr<raft::InitialState> PeerStorage::GetInitialState() {
  raft::InitialState st;
  st.hard_state = log_->hard_state();
  if (initialized()) st.conf_state = ConfStateFromRegion(region_);
  return st;
}

absl::StatusOr<raft::Snapshot> PeerStorage::GetSnapshot() {
  if (!initialized()) return raft::MakeRaftError(raft::RaftError::kSnapshotTemporarilyUnavailable);
  std::optional<GeneratedSnapshot> existing = snaps_->GetGenerated(region_.id());
  if (existing.has_value() && existing->index == apply_.applied_index() &&
      existing->region.region_epoch().conf_ver() == region_.region_epoch().conf_ver() &&
      existing->region.region_epoch().version() == region_.region_epoch().version()) {
    return MakeRaftSnapshot(existing->region, existing->index, existing->term);
  }
  GeneratedSnapshot g;
  g.index = apply_.applied_index();
  g.term = apply_.applied_term();
  g.region = region_;
  g.engine_snapshot = std::shared_ptr<storage::Snapshot>(engine_->GetSnapshot());
  raft::Snapshot s = MakeRaftSnapshot(region_, g.index, g.term);
  snaps_->PutGenerated(region_.id(), std::move(g));
  return s;
}

void PeerStorage::WriteRegionState(storage::WriteBatch* wb, const metapb::Region& region,
                                   raft_serverpb::PeerState state) {
  raft_serverpb::RegionLocalState rs;
  *rs.mutable_region() = region;
  rs.set_state(state);
  wb->Put(storage::CF::kDefault, RegionStateKey(region.id()), rs.SerializeAsString());
}

void PeerStorage::WriteApplyState(storage::WriteBatch* wb, uint64_t region_id,
                                  const raft_serverpb::RaftApplyState& apply) {
  wb->Put(storage::CF::kDefault, ApplyStateKey(region_id), apply.SerializeAsString());
}

absl::Status PeerStorage::ApplySnapshotData(const metapb::Region& region, uint64_t index,
                                            uint64_t term,
                                            const std::vector<raft_serverpb::KeyValue>& kvs) {
  storage::WriteBatch wb;
  std::string start = DataKey(region.start_key());
  std::string end = DataEndKey(region.end_key());
  for (storage::CF cf : kDataCfs) wb.DeleteRange(cf, start, end);
  for (const raft_serverpb::KeyValue& kv : kvs) {
    auto cf = static_cast<storage::CF>(kv.cf());
    if (!storage::IsValidCf(cf) || cf == storage::CF::kRaft || !KeyInRegion(kv.key(), region)) {
      return absl::DataLossError("snapshot holds a key outside the region or a bad column family");
    }
    wb.Put(cf, DataKey(kv.key()), kv.value());
  }
  raft_serverpb::RaftApplyState apply;
  apply.set_applied_index(index);
  apply.set_applied_term(term);
  WriteRegionState(&wb, region, raft_serverpb::PEER_NORMAL);
  WriteApplyState(&wb, region.id(), apply);
  absl::Status s = engine_->Write(wb, Synced());
  if (!s.ok()) return s;
  region_ = region;
  apply_ = apply;
  return absl::OkStatus();
}

absl::Status PeerStorage::WriteInitialRaftState(storage::Engine* engine,
                                                const metapb::Region& region) {
  absl::StatusOr<std::unique_ptr<raft::EngineLogStorage>> log =
      raft::EngineLogStorage::Open(engine, region.id());
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> last = (*log)->LastIndex();
  if (!last.ok()) return last.status();
  if (*last != 0 || (*log)->hard_state().term() != 0) return absl::OkStatus();
  absl::Status s = (*log)->ApplySnapshot(MakeRaftSnapshot(region, kInitLogIndex, kInitLogTerm));
  if (!s.ok()) return s;
  raft::HardState hs;
  hs.set_term(kInitLogTerm);
  hs.set_commit(kInitLogIndex);
  return (*log)->SetHardState(hs);
}

absl::Status PeerStorage::Bootstrap(storage::Engine* engine, const metapb::Region& region) {
  storage::WriteBatch wb;
  raft_serverpb::RaftApplyState apply;
  apply.set_applied_index(kInitLogIndex);
  apply.set_applied_term(kInitLogTerm);
  WriteRegionState(&wb, region, raft_serverpb::PEER_NORMAL);
  WriteApplyState(&wb, region.id(), apply);
  absl::Status s = WriteInitialRaftState(engine, region);
  if (!s.ok()) return s;
  return engine->Write(wb, Synced());
}

absl::Status PeerStorage::Destroy(bool clear_data) {
  storage::WriteBatch wb;
  if (clear_data && initialized()) {
    std::string start = DataKey(region_.start_key());
    std::string end = DataEndKey(region_.end_key());
    for (storage::CF cf : kDataCfs) wb.DeleteRange(cf, start, end);
  }
  WriteRegionState(&wb, region_, raft_serverpb::PEER_TOMBSTONE);
  wb.Delete(storage::CF::kDefault, ApplyStateKey(region_.id()));
  absl::Status s = engine_->Write(wb, Synced());
  if (!s.ok()) return s;
  storage::WriteBatch rb;
  rb.DeleteRange(storage::CF::kRaft, raft::EngineLogStorage::GroupPrefix(region_.id()),
                 raft::EngineLogStorage::GroupPrefix(region_.id() + 1));
  return engine_->Write(rb, Synced());
}

}  // namespace rutile::raftstore
