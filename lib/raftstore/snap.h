// Region snapshots in flight (TiKV's snap.rs, kept in memory).
//
// Sending side: when Raft asks a leader's PeerStorage for a snapshot, it records here the
// region, the applied index and term, and an engine snapshot taken at that applied state;
// the key-values are read from the engine snapshot only when the MsgSnap is sent, then
// split into chunks (SnapshotChunk) that travel ahead of the message.
//
// Receiving side: chunks are collected per (region, peer, index, term); once every chunk
// and the MsgSnap itself arrived, the assembled key-values are kept until the peer installs
// the snapshot, and the MsgSnap is delivered to the peer. An incomplete snapshot is
// dropped when a newer one for the region starts; the leader retries after its report.
//
// Thread safety: every method may be called from any fiber; one absl::Mutex guards the
// maps and no critical section blocks.

#ifndef RUTILE_RAFTSTORE_SNAP_H_
#define RUTILE_RAFTSTORE_SNAP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "metapb.pb.h"
#include "raft_serverpb.pb.h"
#include "storage/engine.h"

namespace rutile::raftstore {

// A generated snapshot: the engine view of the region at applied index `index`.
struct GeneratedSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  metapb::Region region;
  std::shared_ptr<storage::Snapshot> engine_snapshot;
};

// An assembled received snapshot.
struct ReceivedSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  std::vector<raft_serverpb::KeyValue> kvs;
};

class SnapManager {
 public:
  void PutGenerated(uint64_t region_id, GeneratedSnapshot snap);
  std::optional<GeneratedSnapshot> GetGenerated(uint64_t region_id);

  // Adds a received message carrying a chunk. Returns the MsgSnap message to deliver when
  // this completed the snapshot (the assembled data is then available through
  // TakeReceived), nullopt otherwise.
  std::optional<raft_serverpb::RaftMessage> AddChunk(raft_serverpb::RaftMessage msg);

  // Removes and returns the received data of region `region_id` at (index, term).
  std::optional<ReceivedSnapshot> TakeReceived(uint64_t region_id, uint64_t index, uint64_t term);

  // Drops everything about a region (its peer was destroyed).
  void Forget(uint64_t region_id);

  // Splits a region's key-values (read from `engine` at `snap`) into chunk payloads of about
  // `chunk_bytes` each (at least one, possibly empty).
  static absl::StatusOr<std::vector<std::string>> BuildChunks(storage::Engine* engine,
                                                              const GeneratedSnapshot& snap,
                                                              size_t chunk_bytes);

 private:
  struct Pending {
    uint64_t peer_id = 0;
    uint64_t index = 0;
    uint64_t term = 0;
    uint32_t total = 0;
    std::map<uint32_t, std::string> chunks;
    std::optional<raft_serverpb::RaftMessage> message;
  };

  absl::Mutex mu_;
  std::map<uint64_t, GeneratedSnapshot> generated_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, ReceivedSnapshot> received_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_SNAP_H_
