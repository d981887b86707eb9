#include "raftstore/snap.h"

#include <utility>

#include "raftstore/keys.h"

namespace rutile::raftstore {

void SnapManager::PutGenerated(uint64_t region_id, GeneratedSnapshot snap) {
  absl::MutexLock lock(&mu_);
  generated_[region_id] = std::move(snap);
}

std::optional<GeneratedSnapshot> SnapManager::GetGenerated(uint64_t region_id) {
  absl::MutexLock lock(&mu_);
  auto it = generated_.find(region_id);
  if (it == generated_.end()) return std::nullopt;
  return it->second;
}

std::optional<raft_serverpb::RaftMessage> SnapManager::AddChunk(raft_serverpb::RaftMessage msg) {
  const raft_serverpb::SnapshotChunk& c = msg.chunk();
  if (c.total() == 0 || c.seq() >= c.total()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  Pending& p = pending_[msg.region_id()];
  if (p.peer_id != msg.to_peer().id() || p.index != c.index() || p.term != c.term() ||
      p.total != c.total()) {
    // A newer (or different) snapshot replaces an incomplete one.
    if (p.total != 0 && (c.index() < p.index || (c.index() == p.index && c.term() < p.term))) {
      return std::nullopt;
    }
    p = Pending();
    p.peer_id = msg.to_peer().id();
    p.index = c.index();
    p.term = c.term();
    p.total = c.total();
  }
  p.chunks[c.seq()] = c.data();
  if (msg.has_message()) {
    raft_serverpb::RaftMessage m = std::move(msg);
    m.clear_chunk();
    p.message = std::move(m);
  }
  if (p.chunks.size() != p.total || !p.message.has_value()) return std::nullopt;
  ReceivedSnapshot r;
  r.index = p.index;
  r.term = p.term;
  for (auto& [seq, data] : p.chunks) {
    raft_serverpb::SnapshotKvs kvs;
    if (!kvs.ParseFromString(data)) {
      pending_.erase(msg.region_id());
      return std::nullopt;
    }
    for (raft_serverpb::KeyValue& kv : *kvs.mutable_kvs()) r.kvs.push_back(std::move(kv));
  }
  raft_serverpb::RaftMessage out = std::move(*p.message);
  uint64_t region_id = out.region_id();
  pending_.erase(region_id);
  received_[region_id] = std::move(r);
  return out;
}

std::optional<ReceivedSnapshot> SnapManager::TakeReceived(uint64_t region_id, uint64_t index,
                                                          uint64_t term) {
  absl::MutexLock lock(&mu_);
  auto it = received_.find(region_id);
  if (it == received_.end() || it->second.index != index || it->second.term != term) {
    return std::nullopt;
  }
  ReceivedSnapshot r = std::move(it->second);
  received_.erase(it);
  return r;
}

void SnapManager::Forget(uint64_t region_id) {
  absl::MutexLock lock(&mu_);
  generated_.erase(region_id);
  pending_.erase(region_id);
  received_.erase(region_id);
}

absl::StatusOr<std::vector<std::string>> SnapManager::BuildChunks(storage::Engine* engine,
                                                                  const GeneratedSnapshot& snap,
                                                                  size_t chunk_bytes) {
  std::vector<std::string> chunks;
  raft_serverpb::SnapshotKvs cur;
  size_t cur_bytes = 0;
  for (storage::CF cf : {storage::CF::kDefault, storage::CF::kLock, storage::CF::kWrite}) {
    storage::IterOptions io;
    io.lower_bound = DataKey(snap.region.start_key());
    io.upper_bound = DataEndKey(snap.region.end_key());
    io.snapshot = snap.engine_snapshot.get();
    io.fill_cache = false;
    std::unique_ptr<storage::Iterator> it = engine->NewIterator(cf, io);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      raft_serverpb::KeyValue* kv = cur.add_kvs();
      kv->set_cf(static_cast<uint32_t>(cf));
      kv->set_key(std::string(UserKey(it->key())));
      kv->set_value(std::string(it->value()));
      cur_bytes += it->key().size() + it->value().size();
      if (cur_bytes >= chunk_bytes) {
        chunks.push_back(cur.SerializeAsString());
        cur.Clear();
        cur_bytes = 0;
      }
    }
    if (!it->status().ok()) return it->status();
  }
  if (cur.kvs_size() > 0 || chunks.empty()) chunks.push_back(cur.SerializeAsString());
  return chunks;
}

}  // namespace rutile::raftstore
