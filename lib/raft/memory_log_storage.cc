#include "raft/memory_log_storage.h"

#include "absl/strings/str_cat.h"
#include "raft/errors.h"

namespace rutile::raft {

MemoryLogStorage::MemoryLogStorage() { ents_.emplace_back(); }

absl::StatusOr<InitialState> MemoryLogStorage::GetInitialState() {
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

absl::StatusOr<std::vector<Entry>> MemoryLogStorage::Entries(uint64_t lo, uint64_t hi,
                                                             uint64_t max_size) {
  uint64_t offset = ents_[0].index();
  if (lo <= offset) return MakeRaftError(RaftError::kCompacted);
  if (hi > last_index() + 1) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("entries' hi(", hi, ") is out of bound lastindex(", last_index(), ")"));
  }
  std::vector<Entry> out;
  if (lo >= hi) return out;
  uint64_t size = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = ents_[i - offset];
    size += e.ByteSizeLong();
    if (!out.empty() && max_size != kNoLimit && size > max_size) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> MemoryLogStorage::Term(uint64_t i) {
  uint64_t offset = ents_[0].index();
  if (i < offset) return MakeRaftError(RaftError::kCompacted);
  if (i - offset >= ents_.size()) return MakeRaftError(RaftError::kUnavailable);
  return ents_[i - offset].term();
}

absl::StatusOr<uint64_t> MemoryLogStorage::FirstIndex() { return first_index(); }
absl::StatusOr<uint64_t> MemoryLogStorage::LastIndex() { return last_index(); }
absl::StatusOr<Snapshot> MemoryLogStorage::GetSnapshot() { return snapshot_; }

absl::Status MemoryLogStorage::ApplySnapshot(const Snapshot& snap) {
  if (snapshot_.metadata().index() >= snap.metadata().index()) {
    return MakeRaftError(RaftError::kSnapshotOutOfDate);
  }
  snapshot_ = snap;
  ents_.clear();
  Entry dummy;
  dummy.set_index(snap.metadata().index());
  dummy.set_term(snap.metadata().term());
  ents_.push_back(std::move(dummy));
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> MemoryLogStorage::CreateSnapshot(uint64_t i, const ConfState* cs,
                                                          std::string data) {
  if (i <= snapshot_.metadata().index()) return MakeRaftError(RaftError::kSnapshotOutOfDate);
  uint64_t offset = ents_[0].index();
  if (i > last_index()) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("snapshot ", i, " is out of bound lastindex(", last_index(), ")"));
  }
  snapshot_.mutable_metadata()->set_index(i);
  snapshot_.mutable_metadata()->set_term(ents_[i - offset].term());
  if (cs != nullptr) *snapshot_.mutable_metadata()->mutable_conf_state() = *cs;
  snapshot_.set_data(std::move(data));
  return snapshot_;
}

absl::Status MemoryLogStorage::Compact(uint64_t compact_index) {
  uint64_t offset = ents_[0].index();
  if (compact_index <= offset) return MakeRaftError(RaftError::kCompacted);
  if (compact_index > last_index()) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("compact ", compact_index, " is out of bound lastindex(", last_index(), ")"));
  }
  size_t i = compact_index - offset;
  Entry dummy;
  dummy.set_index(ents_[i].index());
  dummy.set_term(ents_[i].term());
  std::vector<Entry> rest;
  rest.reserve(ents_.size() - i);
  rest.push_back(std::move(dummy));
  for (size_t k = i + 1; k < ents_.size(); ++k) rest.push_back(std::move(ents_[k]));
  ents_ = std::move(rest);
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::Append(const std::vector<Entry>& entries) {
  return Append(std::vector<Entry>(entries));
}

// Performance-critical path: every persisted entry passes here.
absl::Status MemoryLogStorage::Append(std::vector<Entry>&& entries) {
  if (entries.empty()) return absl::OkStatus();
  uint64_t first = first_index();
  uint64_t last = entries.back().index();
  if (last < first) return absl::OkStatus();  // Entirely compacted already.
  size_t skip = first > entries[0].index() ? first - entries[0].index() : 0;
  uint64_t start = entries[skip].index();
  uint64_t offset = start - ents_[0].index();
  if (offset > ents_.size()) {
    return MakeRaftError(
        RaftError::kUnavailable,
        absl::StrCat("missing log entry [last: ", last_index(), ", append at: ", start, "]"));
  }
  ents_.resize(offset);  // Truncate the conflicting suffix (or nothing).
  for (size_t k = skip; k < entries.size(); ++k) ents_.push_back(std::move(entries[k]));
  return absl::OkStatus();
}

}  // namespace rutile::raft
