// PeerStorage is the persisted state of one peer (TiKV's peer_storage.rs): its Raft log
// and hard state (an EngineLogStorage in CF kRaft), and, with the data, its region
// descriptor and apply state (keys.h). It is the LogStorage its RawNode reads, with two
// departures from the plain engine log:
//   - GetInitialState's configuration is derived from the region descriptor, which is
//     written atomically with the applied index, so a restart never sees a configuration
//     that disagrees with the applied state.
//   - GetSnapshot makes a snapshot on demand from the current applied state (an engine
//     snapshot recorded in the SnapManager; the key-values are read when it is sent).
//     Raftstore applies committed entries before it drives Raft again, so the engine's
//     state is exactly the applied state whenever Raft asks.
//
// Thread safety: none; the fiber driving the peer uses it.

#ifndef RUTILE_RAFTSTORE_PEER_STORAGE_H_
#define RUTILE_RAFTSTORE_PEER_STORAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "raft/engine_log_storage.h"
#include "raft/log_storage.h"
#include "raft_serverpb.pb.h"
#include "raftstore/snap.h"
#include "storage/engine.h"
#include "storage/write_batch.h"

namespace rutile::raftstore {

class PeerStorage : public raft::LogStorage {
 public:
  // Opens the storage of `region` (as persisted; an uninitialized peer passes a region
  // with only its id) with `apply_state` as loaded. Repairs the one state a crash can
  // leave behind: a snapshot's data applied (synced) without the Raft state that goes
  // with it.
  static absl::StatusOr<std::unique_ptr<PeerStorage>> Open(storage::Engine* engine,
                                                           SnapManager* snaps,
                                                           const metapb::Region& region,
                                                           raft_serverpb::RaftApplyState apply);

  // LogStorage.
  absl::StatusOr<raft::InitialState> GetInitialState() override;
  absl::StatusOr<std::vector<raft::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_size) override {
    return log_->Entries(lo, hi, max_size);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) override { return log_->Term(i); }
  absl::StatusOr<uint64_t> FirstIndex() override { return log_->FirstIndex(); }
  absl::StatusOr<uint64_t> LastIndex() override { return log_->LastIndex(); }
  absl::StatusOr<raft::Snapshot> GetSnapshot() override;

  raft::EngineLogStorage* log() { return log_.get(); }
  storage::Engine* engine() { return engine_; }

  const metapb::Region& region() const { return region_; }
  void set_region(metapb::Region region) { region_ = std::move(region); }
  bool initialized() const { return region_.peers_size() > 0; }

  const raft_serverpb::RaftApplyState& apply_state() const { return apply_; }
  raft_serverpb::RaftApplyState* mutable_apply_state() { return &apply_; }

  // Installs a received snapshot's data: clears the region's range in the data column
  // families, writes `kvs`, and records `region` with applied state (index, term), in
  // one synced batch. Call before persisting the Raft part of the Ready.
  absl::Status ApplySnapshotData(const metapb::Region& region, uint64_t index, uint64_t term,
                                 const std::vector<raft_serverpb::KeyValue>& kvs);

  // Batch helpers.
  static void WriteRegionState(storage::WriteBatch* wb, const metapb::Region& region,
                               raft_serverpb::PeerState state);
  static void WriteApplyState(storage::WriteBatch* wb, uint64_t region_id,
                              const raft_serverpb::RaftApplyState& apply);

  // Writes the Raft state a region starts from (log truncated at kInitLogIndex, hard state
  // committed there) unless the region already has Raft state. Synced.
  static absl::Status WriteInitialRaftState(storage::Engine* engine, const metapb::Region& region);

  // Writes the region and apply state of a new region (bootstrap), synced, with its
  // initial Raft state.
  static absl::Status Bootstrap(storage::Engine* engine, const metapb::Region& region);

  // Removes the peer's data and Raft state and marks the region tombstone (keeping its
  // descriptor, so stale messages for it are recognized). Synced.
  absl::Status Destroy(bool clear_data);

 private:
  PeerStorage(storage::Engine* engine, SnapManager* snaps, metapb::Region region,
              raft_serverpb::RaftApplyState apply, std::unique_ptr<raft::EngineLogStorage> log);

  storage::Engine* const engine_;
  SnapManager* const snaps_;
  metapb::Region region_;
  raft_serverpb::RaftApplyState apply_;
  std::unique_ptr<raft::EngineLogStorage> log_;
};

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_PEER_STORAGE_H_
