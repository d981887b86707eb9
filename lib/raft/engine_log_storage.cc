#include "raft/engine_log_storage.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/errors.h"
#include "util/coding.h"

namespace rutile::raft {
namespace {

constexpr char kGroupTag = 'R';
constexpr char kLogTag = 'l';
constexpr char kHardStateTag = 'h';
constexpr char kConfStateTag = 'c';
constexpr char kTruncatedTag = 't';
constexpr char kSnapshotTag = 's';

// What an entry counts for in the cache's byte limit: its payload and a fixed overhead.
uint64_t CacheCost(const Entry& e) { return e.data().size() + 32; }

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("raft log storage: ", what));
}

}  // namespace

std::string EngineLogStorage::GroupPrefix(uint64_t group_id) {
  std::string key(1, kGroupTag);
  PutFixed64BE(&key, group_id);
  return key;
}

std::string EngineLogStorage::LogKey(uint64_t group_id, uint64_t index) {
  std::string key = GroupPrefix(group_id);
  key.push_back(kLogTag);
  PutFixed64BE(&key, index);
  return key;
}

EngineLogStorage::EngineLogStorage(storage::Engine* engine, uint64_t group_id,
                                   const EngineLogStorageOptions& options)
    : engine_(engine), group_id_(group_id), options_(options), prefix_(GroupPrefix(group_id)) {}

absl::StatusOr<std::unique_ptr<EngineLogStorage>> EngineLogStorage::Open(
    storage::Engine* engine, uint64_t group_id, const EngineLogStorageOptions& options) {
  std::unique_ptr<EngineLogStorage> s(new EngineLogStorage(engine, group_id, options));
  absl::Status st = s->Load();
  if (!st.ok()) return st;
  return s;
}

std::string EngineLogStorage::StateKey(char kind) const {
  std::string key = prefix_;
  key.push_back(kind);
  return key;
}

absl::Status EngineLogStorage::Load() {
  auto get = [&](char kind, google::protobuf::MessageLite* msg, bool* found) -> absl::Status {
    absl::StatusOr<std::optional<std::string>> v = engine_->Get(storage::CF::kRaft, StateKey(kind));
    if (!v.ok()) return v.status();
    *found = v->has_value();
    if (*found && !msg->ParseFromString(**v)) {
      return Corrupt(
          absl::StrCat("cannot parse state key '", std::string(1, kind), "' of group ", group_id_));
    }
    return absl::OkStatus();
  };
  bool found = false;
  absl::Status st = get(kHardStateTag, &hard_state_, &found);
  if (!st.ok()) return st;
  ConfState cs;
  st = get(kConfStateTag, &cs, &found);
  if (!st.ok()) return st;
  if (found) conf_state_ = cs;
  st = get(kSnapshotTag, &snapshot_, &found);
  if (!st.ok()) return st;
  Entry truncated;  // Only index and term are used.
  st = get(kTruncatedTag, &truncated, &found);
  if (!st.ok()) return st;
  truncated_index_ = truncated.index();
  truncated_term_ = truncated.term();
  last_index_ = truncated_index_;

  // Scan the log after the truncation point, checking that it has no hole, and keep its
  // tail in the cache.
  storage::IterOptions io;
  io.lower_bound = LogKey(group_id_, truncated_index_ + 1);
  io.upper_bound = prefix_ + static_cast<char>(kLogTag + 1);
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator(storage::CF::kRaft, io);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    if (key.size() != prefix_.size() + 9) return Corrupt("log key of the wrong length");
    uint64_t index = DecodeFixed64BE(key.data() + prefix_.size() + 1);
    if (index != last_index_ + 1) {
      return Corrupt(absl::StrCat("hole in the log of group ", group_id_, ": expected ",
                                  last_index_ + 1, ", found ", index));
    }
    Entry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        e.index() != index) {
      return Corrupt(absl::StrCat("bad entry at index ", index, " of group ", group_id_));
    }
    last_index_ = index;
    cache_bytes_ += CacheCost(e);
    cache_.push_back(std::move(e));
    TrimCache();
  }
  return it->status();
}

void EngineLogStorage::TrimCache() {
  while (cache_.size() > 1 &&
         (cache_.size() > options_.cache_entries || cache_bytes_ > options_.cache_bytes)) {
    cache_bytes_ -= CacheCost(cache_.front());
    cache_.pop_front();
  }
}

absl::StatusOr<InitialState> EngineLogStorage::GetInitialState() {
  return InitialState{hard_state_,
                      conf_state_.has_value() ? *conf_state_ : snapshot_.metadata().conf_state()};
}

absl::StatusOr<uint64_t> EngineLogStorage::FirstIndex() { return truncated_index_ + 1; }
absl::StatusOr<uint64_t> EngineLogStorage::LastIndex() { return last_index_; }
absl::StatusOr<Snapshot> EngineLogStorage::GetSnapshot() {
  if (!builder_) return snapshot_;
  absl::StatusOr<Snapshot> fresh = builder_();
  if (!fresh.ok()) return fresh.status();
  uint64_t i = fresh->metadata().index();
  if (i <= snapshot_.metadata().index()) return snapshot_;
  ConfState cs = fresh->metadata().conf_state();
  return CreateSnapshot(i, &cs, std::move(*fresh->mutable_data()));
}

absl::StatusOr<uint64_t> EngineLogStorage::Term(uint64_t i) {
  if (i < truncated_index_) return MakeRaftError(RaftError::kCompacted);
  if (i == truncated_index_) return truncated_term_;
  if (i > last_index_) return MakeRaftError(RaftError::kUnavailable);
  if (!cache_.empty() && i >= cache_.front().index()) {
    return cache_[i - cache_.front().index()].term();
  }
  absl::StatusOr<std::optional<std::string>> v =
      engine_->Get(storage::CF::kRaft, LogKey(group_id_, i));
  if (!v.ok()) return v.status();
  Entry e;
  if (!v->has_value() || !e.ParseFromString(**v)) {
    return Corrupt(absl::StrCat("entry ", i, " of group ", group_id_, " missing or bad"));
  }
  return e.term();
}

absl::Status EngineLogStorage::ReadFromEngine(uint64_t lo, uint64_t hi, uint64_t max_size,
                                              uint64_t* size, std::vector<Entry>* out) {
  storage::IterOptions io;
  io.lower_bound = LogKey(group_id_, lo);
  io.upper_bound = LogKey(group_id_, hi);
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator(storage::CF::kRaft, io);
  uint64_t want = lo;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Entry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        e.index() != want) {
      return Corrupt(absl::StrCat("entry ", want, " of group ", group_id_, " missing or bad"));
    }
    *size += e.ByteSizeLong();
    if (!out->empty() && max_size != kNoLimit && *size > max_size) return absl::OkStatus();
    out->push_back(std::move(e));
    ++want;
  }
  if (!it->status().ok()) return it->status();
  if (want != hi) {
    return Corrupt(absl::StrCat("entry ", want, " of group ", group_id_, " missing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Entry>> EngineLogStorage::Entries(uint64_t lo, uint64_t hi,
                                                             uint64_t max_size) {
  if (lo <= truncated_index_) return MakeRaftError(RaftError::kCompacted);
  if (hi > last_index_ + 1) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("entries' hi(", hi, ") is out of bound lastindex(", last_index_, ")"));
  }
  std::vector<Entry> out;
  if (lo >= hi) return out;
  uint64_t size = 0;
  uint64_t cache_first = cache_.empty() ? last_index_ + 1 : cache_.front().index();
  if (lo < cache_first) {
    uint64_t ehi = std::min(hi, cache_first);
    absl::Status st = ReadFromEngine(lo, ehi, max_size, &size, &out);
    if (!st.ok()) return st;
    if (out.size() < ehi - lo) return out;  // Stopped by max_size.
    lo = ehi;
  }
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = cache_[i - cache_first];
    size += e.ByteSizeLong();
    if (!out.empty() && max_size != kNoLimit && size > max_size) break;
    out.push_back(e);
  }
  return out;
}

absl::Status EngineLogStorage::BuildReadyWrite(const std::optional<HardState>& hard_state,
                                               const std::vector<Entry>& entries,
                                               const std::optional<Snapshot>& snapshot,
                                               storage::WriteBatch* batch) {
  absl::Status st = BuildWrite(hard_state, entries, snapshot, batch);
  if (!st.ok()) return st;
  pending_ = PendingWrite{hard_state, entries, snapshot};
  return absl::OkStatus();
}

absl::Status EngineLogStorage::BuildReadyWrite(const std::optional<HardState>& hard_state,
                                               std::vector<Entry>&& entries,
                                               const std::optional<Snapshot>& snapshot,
                                               storage::WriteBatch* batch) {
  absl::Status st = BuildWrite(hard_state, entries, snapshot, batch);
  if (!st.ok()) return st;
  pending_ = PendingWrite{hard_state, std::move(entries), snapshot};
  return absl::OkStatus();
}

absl::Status EngineLogStorage::BuildWrite(const std::optional<HardState>& hard_state,
                                          const std::vector<Entry>& entries,
                                          const std::optional<Snapshot>& snapshot,
                                          storage::WriteBatch* batch) {
  if (pending_.has_value()) {
    return absl::FailedPreconditionError("raft log storage: a built write is outstanding");
  }
  // The log as it will be after the snapshot part.
  uint64_t vtruncated = truncated_index_;
  uint64_t vlast = last_index_;
  if (snapshot.has_value()) {
    const SnapshotMetadata& md = snapshot->metadata();
    if (snapshot_.metadata().index() >= md.index()) {
      return MakeRaftError(RaftError::kSnapshotOutOfDate);
    }
    vtruncated = md.index();
    vlast = md.index();
  }
  size_t skip = 0;
  if (!entries.empty()) {
    if (entries.back().index() <= vtruncated) {
      skip = entries.size();  // Entirely compacted already.
    } else {
      if (entries[0].index() <= vtruncated) skip = vtruncated + 1 - entries[0].index();
      uint64_t first = entries[skip].index();
      if (first > vlast + 1) {
        return MakeRaftError(
            RaftError::kUnavailable,
            absl::StrCat("missing log entry [last: ", vlast, ", append at: ", first, "]"));
      }
    }
  }

  if (snapshot.has_value()) {
    const SnapshotMetadata& md = snapshot->metadata();
    for (uint64_t i = truncated_index_ + 1; i <= last_index_; ++i) {
      batch->Delete(storage::CF::kRaft, LogKey(group_id_, i));
    }
    batch->Put(storage::CF::kRaft, StateKey(kSnapshotTag), snapshot->SerializeAsString());
    Entry truncated;
    truncated.set_index(md.index());
    truncated.set_term(md.term());
    batch->Put(storage::CF::kRaft, StateKey(kTruncatedTag), truncated.SerializeAsString());
  }
  if (skip < entries.size()) {
    // Performance-critical path: one key buffer, one value buffer, the batch sized once.
    std::string key = prefix_;
    key.push_back(kLogTag);
    const size_t key_base = key.size();
    size_t bytes = 0;
    for (size_t k = skip; k < entries.size(); ++k) {
      bytes += key_base + 8 + entries[k].data().size() + 32;
    }
    batch->Reserve(entries.size() - skip, bytes);
    std::string value;
    for (size_t k = skip; k < entries.size(); ++k) {
      value.clear();
      entries[k].AppendToString(&value);
      key.resize(key_base);
      PutFixed64BE(&key, entries[k].index());
      batch->Put(storage::CF::kRaft, key, value);
    }
    // Drop the old suffix past the new last entry (a conflicting tail).
    for (uint64_t i = entries.back().index() + 1; i <= vlast; ++i) {
      batch->Delete(storage::CF::kRaft, LogKey(group_id_, i));
    }
  }
  if (hard_state.has_value()) {
    batch->Put(storage::CF::kRaft, StateKey(kHardStateTag), hard_state->SerializeAsString());
  }
  return absl::OkStatus();
}

void EngineLogStorage::ApplyToMemory(const std::optional<HardState>& hs,
                                     const std::vector<Entry>& entries,
                                     const std::optional<Snapshot>& snapshot,
                                     std::vector<Entry>* owned) {
  if (snapshot.has_value()) {
    snapshot_ = *snapshot;
    truncated_index_ = snapshot->metadata().index();
    truncated_term_ = snapshot->metadata().term();
    last_index_ = truncated_index_;
    cache_.clear();
    cache_bytes_ = 0;
  }
  if (!entries.empty() && entries.back().index() > truncated_index_) {
    size_t skip = 0;
    if (entries[0].index() <= truncated_index_) skip = truncated_index_ + 1 - entries[0].index();
    uint64_t first = entries[skip].index();
    const uint64_t last = entries.back().index();  // Before the entries are moved from.
    while (!cache_.empty() && cache_.back().index() >= first) {
      cache_bytes_ -= CacheCost(cache_.back());
      cache_.pop_back();
    }
    for (size_t k = skip; k < entries.size(); ++k) {
      cache_bytes_ += CacheCost(entries[k]);
      if (owned != nullptr) {
        cache_.push_back(std::move((*owned)[k]));
      } else {
        cache_.push_back(entries[k]);
      }
    }
    last_index_ = last;
    TrimCache();
  }
  if (hs.has_value()) hard_state_ = *hs;
}

void EngineLogStorage::OnReadyWritten() {
  if (!pending_.has_value()) return;
  ApplyToMemory(pending_->hard_state, pending_->entries, pending_->snapshot, &pending_->entries);
  pending_.reset();
}

void EngineLogStorage::AbandonReadyWrite() { pending_.reset(); }

absl::Status EngineLogStorage::WriteNow(const storage::WriteBatch& batch, bool sync) {
  storage::WriteOptions wo;
  wo.sync = sync;
  return engine_->Write(batch, wo);
}

absl::Status EngineLogStorage::SaveReady(const std::optional<HardState>& hard_state,
                                         const std::vector<Entry>& entries,
                                         const std::optional<Snapshot>& snapshot, bool sync) {
  if (!hard_state.has_value() && entries.empty() && !snapshot.has_value()) {
    return absl::OkStatus();
  }
  storage::WriteBatch batch;
  absl::Status st = BuildWrite(hard_state, entries, snapshot, &batch);
  if (!st.ok()) return st;
  st = WriteNow(batch, sync);
  if (!st.ok()) return st;
  ApplyToMemory(hard_state, entries, snapshot);
  return absl::OkStatus();
}

absl::Status EngineLogStorage::SetHardState(const HardState& hs) {
  return SaveReady(hs, {}, std::nullopt, options_.sync);
}

absl::Status EngineLogStorage::Append(const std::vector<Entry>& entries) {
  return SaveReady(std::nullopt, entries, std::nullopt, options_.sync);
}

absl::Status EngineLogStorage::ApplySnapshot(const Snapshot& snap) {
  return SaveReady(std::nullopt, {}, snap, options_.sync);
}

absl::StatusOr<Snapshot> EngineLogStorage::CreateSnapshot(uint64_t i, const ConfState* cs,
                                                          std::string data) {
  if (i <= snapshot_.metadata().index()) return MakeRaftError(RaftError::kSnapshotOutOfDate);
  if (i > last_index_) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("snapshot ", i, " is out of bound lastindex(", last_index_, ")"));
  }
  absl::StatusOr<uint64_t> term = Term(i);
  if (!term.ok()) return term.status();
  Snapshot snap = snapshot_;
  snap.mutable_metadata()->set_index(i);
  snap.mutable_metadata()->set_term(*term);
  if (cs != nullptr) *snap.mutable_metadata()->mutable_conf_state() = *cs;
  snap.set_data(std::move(data));
  storage::WriteBatch batch;
  batch.Put(storage::CF::kRaft, StateKey(kSnapshotTag), snap.SerializeAsString());
  absl::Status st = WriteNow(batch, options_.sync);
  if (!st.ok()) return st;
  snapshot_ = std::move(snap);
  return snapshot_;
}

absl::Status EngineLogStorage::Compact(uint64_t compact_index) {
  if (compact_index <= truncated_index_) return MakeRaftError(RaftError::kCompacted);
  if (compact_index > last_index_) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("compact ", compact_index, " is out of bound lastindex(", last_index_, ")"));
  }
  absl::StatusOr<uint64_t> term = Term(compact_index);
  if (!term.ok()) return term.status();
  storage::WriteBatch batch;
  for (uint64_t i = truncated_index_ + 1; i <= compact_index; ++i) {
    batch.Delete(storage::CF::kRaft, LogKey(group_id_, i));
  }
  Entry truncated;
  truncated.set_index(compact_index);
  truncated.set_term(*term);
  batch.Put(storage::CF::kRaft, StateKey(kTruncatedTag), truncated.SerializeAsString());
  absl::Status st = WriteNow(batch, options_.sync);
  if (!st.ok()) return st;
  truncated_index_ = compact_index;
  truncated_term_ = *term;
  while (!cache_.empty() && cache_.front().index() <= compact_index) {
    cache_bytes_ -= CacheCost(cache_.front());
    cache_.pop_front();
  }
  return absl::OkStatus();
}

absl::Status EngineLogStorage::SetConfState(const ConfState& cs) {
  storage::WriteBatch batch;
  batch.Put(storage::CF::kRaft, StateKey(kConfStateTag), cs.SerializeAsString());
  absl::Status st = WriteNow(batch, options_.sync);
  if (!st.ok()) return st;
  conf_state_ = cs;
  return absl::OkStatus();
}

}  // namespace rutile::raft
