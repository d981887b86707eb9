#include "txn/mvcc_reader.h"

#include "absl/strings/str_cat.h"

namespace rutile::txn {

using storage::CF;

MvccReader::MvccReader(storage::Engine* engine, const storage::Snapshot* snapshot)
    : engine_(engine), snapshot_(snapshot) {}

std::unique_ptr<storage::Iterator> MvccReader::NewIterator(CF cf, std::string_view lower,
                                                           std::string_view upper) const {
  storage::IterOptions opts;
  opts.lower_bound = std::string(lower);
  opts.upper_bound = std::string(upper);
  opts.snapshot = snapshot_;
  return engine_->NewIterator(cf, opts);
}

storage::Iterator* MvccReader::write_iter() {
  if (write_it_ == nullptr) write_it_ = NewIterator(CF::kWrite, "", "");
  return write_it_.get();
}

absl::StatusOr<std::optional<Lock>> MvccReader::LoadLock(std::string_view key) {
  storage::ReadOptions opts;
  opts.snapshot = snapshot_;
  absl::StatusOr<std::optional<std::string>> v = engine_->Get(CF::kLock, key, opts);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    if (mem_ != nullptr) return mem_->Get(key);
    return std::optional<Lock>();
  }
  absl::StatusOr<Lock> lock = Lock::Decode(**v);
  if (!lock.ok()) return lock.status();
  if (mem_ != nullptr) mem_->NoteEngineLock(key);
  return std::optional<Lock>(*std::move(lock));
}

absl::StatusOr<std::optional<std::pair<TimeStamp, Write>>> MvccReader::SeekWrite(
    std::string_view key, TimeStamp ts) {
  storage::Iterator* it = write_iter();
  it->Seek(AppendTs(key, ts));
  if (!it->Valid()) {
    if (!it->status().ok()) return it->status();
    return std::optional<std::pair<TimeStamp, Write>>();
  }
  if (!IsUserKeyEq(it->key(), key)) return std::optional<std::pair<TimeStamp, Write>>();
  absl::StatusOr<TimeStamp> commit_ts = DecodeTs(it->key());
  if (!commit_ts.ok()) return commit_ts.status();
  absl::StatusOr<Write> w = Write::Decode(it->value());
  if (!w.ok()) return w.status();
  return std::optional<std::pair<TimeStamp, Write>>(std::in_place, *commit_ts, *std::move(w));
}

absl::StatusOr<std::optional<std::pair<TimeStamp, Write>>> MvccReader::GetWrite(
    std::string_view key, TimeStamp ts, std::optional<TimeStamp> gc_fence_limit) {
  if (single_key_) {
    // Performance-critical path (a point get): the same walk over one seek.
    std::optional<std::pair<TimeStamp, Write>> found;
    absl::Status error;
    storage::ReadOptions ro;
    ro.snapshot = snapshot_;
    absl::Status s = engine_->SeekVisit(
        CF::kWrite, AppendTs(key, ts), ro, [&](std::string_view k, std::string_view v) {
          if (!IsUserKeyEq(k, key)) return false;
          absl::StatusOr<Write> w = Write::Decode(v);
          if (!w.ok()) {
            error = w.status();
            return false;
          }
          if (gc_fence_limit.has_value() && !w->GcFenceAllowsRead(*gc_fence_limit)) return false;
          if (w->type == WriteType::kPut) {
            absl::StatusOr<TimeStamp> commit_ts = DecodeTs(k);
            if (!commit_ts.ok()) {
              error = commit_ts.status();
            } else {
              found.emplace(*commit_ts, *std::move(w));
            }
            return false;
          }
          return w->type != WriteType::kDelete;
        });
    if (!s.ok()) return s;
    if (!error.ok()) return error;
    return found;
  }
  storage::Iterator* it = write_iter();
  it->Seek(AppendTs(key, ts));
  for (; it->Valid() && IsUserKeyEq(it->key(), key); it->Next()) {
    absl::StatusOr<Write> w = Write::Decode(it->value());
    if (!w.ok()) return w.status();
    if (gc_fence_limit.has_value() && !w->GcFenceAllowsRead(*gc_fence_limit)) break;
    if (w->type == WriteType::kPut) {
      absl::StatusOr<TimeStamp> commit_ts = DecodeTs(it->key());
      if (!commit_ts.ok()) return commit_ts.status();
      return std::optional<std::pair<TimeStamp, Write>>(std::in_place, *commit_ts, *std::move(w));
    }
    if (w->type == WriteType::kDelete) break;
  }
  if (!it->status().ok()) return it->status();
  return std::optional<std::pair<TimeStamp, Write>>();
}

absl::StatusOr<std::string> MvccReader::LoadData(std::string_view key, TimeStamp start_ts,
                                                 const std::optional<std::string>& short_value) {
  if (short_value.has_value()) return *short_value;
  storage::ReadOptions opts;
  opts.snapshot = snapshot_;
  absl::StatusOr<std::optional<std::string>> v =
      engine_->Get(CF::kDefault, AppendTs(key, start_ts), opts);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    auto raw = DecodeKey(key);
    return absl::DataLossError(
        absl::StrCat("default value not found: key=", EscapeKey(raw.ok() ? *raw : std::string(key)),
                     " start_ts=", start_ts));
  }
  return **std::move(v);
}

absl::StatusOr<std::optional<std::string>> MvccReader::Get(std::string_view key, TimeStamp ts) {
  auto w = GetWrite(key, ts, ts);
  if (!w.ok()) return w.status();
  if (!w->has_value()) return std::optional<std::string>();
  auto v = LoadData(key, (*w)->second.start_ts, (*w)->second.short_value);
  if (!v.ok()) return v.status();
  return std::optional<std::string>(*std::move(v));
}

absl::StatusOr<TxnCommitRecord> MvccReader::GetTxnCommitRecord(std::string_view key,
                                                               TimeStamp start_ts) {
  // A transaction with a smaller start_ts may commit after one with a larger start_ts, so
  // every record from the newest down to start_ts is looked at.
  TxnCommitRecord rec;
  TimeStamp gc_fence = 0;
  storage::Iterator* it = write_iter();
  it->Seek(AppendTs(key, kMaxTs));
  for (; it->Valid() && IsUserKeyEq(it->key(), key); it->Next()) {
    absl::StatusOr<TimeStamp> commit_ts = DecodeTs(it->key());
    if (!commit_ts.ok()) return commit_ts.status();
    if (*commit_ts < start_ts) break;
    absl::StatusOr<Write> w = Write::Decode(it->value());
    if (!w.ok()) return w.status();
    if (w->start_ts == start_ts) {
      rec.kind = TxnCommitRecord::Kind::kSingleRecord;
      rec.commit_ts = *commit_ts;
      rec.write = *std::move(w);
      return rec;
    }
    if (*commit_ts == start_ts) {
      if (w->has_overlapped_rollback) {
        rec.kind = TxnCommitRecord::Kind::kOverlappedRollback;
        rec.commit_ts = *commit_ts;
        return rec;
      }
      rec.overlapped_write = OverlappedWrite{*std::move(w), gc_fence};
      return rec;
    }
    if (w->type == WriteType::kPut || w->type == WriteType::kDelete) gc_fence = *commit_ts;
  }
  if (!it->status().ok()) return it->status();
  return rec;
}

absl::StatusOr<std::vector<std::pair<std::string, Lock>>> MvccReader::ScanLocks(
    std::string_view start, std::string_view end, const std::function<bool(const Lock&)>& filter,
    size_t limit, bool* has_more) {
  if (has_more != nullptr) *has_more = false;
  std::vector<std::pair<std::string, Lock>> out;
  std::unique_ptr<storage::Iterator> it = NewIterator(CF::kLock, start, end);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::StatusOr<Lock> lock = Lock::Decode(it->value());
    if (!lock.ok()) return lock.status();
    if (filter && !filter(*lock)) continue;
    if (limit != 0 && out.size() == limit) {
      if (has_more != nullptr) *has_more = true;
      break;
    }
    out.emplace_back(std::string(it->key()), *std::move(lock));
  }
  if (!it->status().ok()) return it->status();
  if (mem_ == nullptr) return out;
  // Merge the in-memory locks of keys with no lock in the engine, up to where the engine
  // scan stopped when it hit the limit.
  const bool engine_more = has_more != nullptr && *has_more;
  std::string_view mem_end = end;
  std::string stop;
  if (engine_more && !out.empty()) {
    stop = out.back().first + '\0';
    mem_end = stop;
  }
  std::vector<std::pair<std::string, Lock>> mem = mem_->Scan(start, mem_end);
  if (mem.empty()) return out;
  std::vector<std::pair<std::string, Lock>> merged;
  merged.reserve(out.size() + mem.size());
  size_t i = 0;
  for (auto& m : mem) {
    while (i < out.size() && out[i].first < m.first) merged.push_back(std::move(out[i++]));
    if (i < out.size() && out[i].first == m.first) continue;  // The engine's lock wins.
    if (filter && !filter(m.second)) continue;
    merged.push_back(std::move(m));
  }
  while (i < out.size()) merged.push_back(std::move(out[i++]));
  if (limit != 0 && merged.size() > limit) {
    merged.resize(limit);
    if (has_more != nullptr) *has_more = true;
  }
  return merged;
}

absl::StatusOr<std::vector<std::string>> MvccReader::ScanWriteKeys(std::string_view start,
                                                                   std::string_view end,
                                                                   size_t limit) {
  std::vector<std::string> out;
  std::unique_ptr<storage::Iterator> it = NewIterator(CF::kWrite, start, end);
  it->SeekToFirst();
  while (it->Valid() && (limit == 0 || out.size() < limit)) {
    absl::StatusOr<std::string_view> user = TruncateTs(it->key());
    if (!user.ok()) return user.status();
    out.emplace_back(*user);
    it->Seek(NextUserKeySeek(out.back()));
  }
  if (!it->status().ok()) return it->status();
  return out;
}

absl::StatusOr<std::vector<std::pair<TimeStamp, Write>>> MvccReader::ScanWrites(
    std::string_view key) {
  std::vector<std::pair<TimeStamp, Write>> out;
  storage::Iterator* it = write_iter();
  for (it->Seek(AppendTs(key, kMaxTs)); it->Valid() && IsUserKeyEq(it->key(), key); it->Next()) {
    absl::StatusOr<TimeStamp> ts = DecodeTs(it->key());
    if (!ts.ok()) return ts.status();
    absl::StatusOr<Write> w = Write::Decode(it->value());
    if (!w.ok()) return w.status();
    out.emplace_back(*ts, *std::move(w));
  }
  if (!it->status().ok()) return it->status();
  return out;
}

}  // namespace rutile::txn
