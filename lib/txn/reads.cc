#include "txn/reads.h"

#include <algorithm>

#include "txn/errors.h"

namespace rutile::txn {

namespace {

bool Contains(const std::vector<TimeStamp>& v, TimeStamp ts) {
  return std::find(v.begin(), v.end(), ts) != v.end();
}

// Outcome of looking at a key's lock for a read.
struct LockOutcome {
  absl::Status error;                // KeyIsLocked.
  bool from_lock = false;            // The value comes from a resolved lock.
  std::optional<std::string> value;  // With from_lock.
};

absl::StatusOr<LockOutcome> HandleLock(MvccReader* reader, const Lock& lock, std::string_view key,
                                       TimeStamp ts, const TxnReadOptions& opts, bool key_only) {
  LockOutcome out;
  if (lock.start_ts <= ts && Contains(opts.resolved_locks, lock.start_ts)) {
    if (lock.type == LockType::kPut) {
      out.from_lock = true;
      if (key_only) {
        out.value = std::string();
      } else {
        auto v = reader->LoadData(key, lock.start_ts, lock.short_value);
        if (!v.ok()) return v.status();
        out.value = *std::move(v);
      }
      return out;
    }
    if (lock.type == LockType::kDelete) {
      out.from_lock = true;
      return out;
    }
  }
  out.error = CheckLockForRead(lock, key, ts, opts);
  return out;
}

// The committed value of encoded `key` at ts (empty string for key_only).
absl::StatusOr<std::optional<std::string>> ReadCommitted(MvccReader* reader, std::string_view key,
                                                         TimeStamp ts, bool key_only) {
  auto w = reader->GetWrite(key, ts, ts);
  if (!w.ok()) return w.status();
  if (!w->has_value()) return std::optional<std::string>();
  if (key_only) return std::optional<std::string>(std::string());
  std::optional<std::string>& short_value = (*w)->second.short_value;
  if (short_value.has_value()) return std::move(short_value);  // The record is ours: no copy.
  auto v = reader->LoadData(key, (*w)->second.start_ts, std::nullopt);
  if (!v.ok()) return v.status();
  return std::optional<std::string>(*std::move(v));
}

// Reads encoded `key` (whose lock, if the caller knows it, is `lock`) and appends the
// result to `out`.
absl::Status ReadOne(MvccReader* reader, const std::string& key, const std::optional<Lock>& lock,
                     TimeStamp ts, const TxnReadOptions& opts, bool key_only,
                     std::vector<KvPair>* out) {
  std::optional<std::string> value;
  bool done = false;
  if (lock.has_value() && opts.isolation == IsolationLevel::kSI) {
    auto lo = HandleLock(reader, *lock, key, ts, opts, key_only);
    if (!lo.ok()) return lo.status();
    if (!lo->error.ok()) {
      auto raw = DecodeKey(key);
      if (!raw.ok()) return raw.status();
      out->push_back(KvPair{*std::move(raw), "", lo->error});
      return absl::OkStatus();
    }
    if (lo->from_lock) {
      value = std::move(lo->value);
      done = true;
    }
  }
  if (!done) {
    auto v = ReadCommitted(reader, key, ts, key_only);
    if (!v.ok()) return v.status();
    value = *std::move(v);
  }
  if (value.has_value()) {
    auto raw = DecodeKey(key);
    if (!raw.ok()) return raw.status();
    out->push_back(KvPair{*std::move(raw), *std::move(value), absl::OkStatus()});
  }
  return absl::OkStatus();
}

// write_it is at the newest version of encoded user key `user`, which has no lock: appends
// its value at opts.ts to `out` (as ReadCommitted would) and leaves write_it at the next
// user key.
absl::Status ReadVersionsInPlace(MvccReader* reader, storage::Iterator* write_it,
                                 const std::string& user, const ScanOptions& opts,
                                 std::vector<KvPair>* out) {
  bool decided = false;
  int steps = 0;
  for (; write_it->Valid(); write_it->Next(), ++steps) {
    std::string_view k = write_it->key();
    if (k.size() < 8 || k.substr(0, k.size() - 8) != user) break;
    if (decided) {
      if (steps >= 8) {  // Many older versions: one seek skips them all.
        write_it->Seek(NextUserKeySeek(user));
        return write_it->status();
      }
      continue;
    }
    absl::StatusOr<TimeStamp> commit_ts = DecodeTs(k);
    if (!commit_ts.ok()) return commit_ts.status();
    if (*commit_ts > opts.ts) continue;
    absl::StatusOr<Write> w = Write::Decode(write_it->value());
    if (!w.ok()) return w.status();
    if (!w->GcFenceAllowsRead(opts.ts)) {
      decided = true;
      continue;
    }
    if (w->type == WriteType::kPut) {
      auto raw = DecodeKey(user);
      if (!raw.ok()) return raw.status();
      std::string value;
      if (!opts.key_only && w->short_value.has_value()) {
        value = *std::move(w->short_value);  // No copy: the record is ours.
      } else if (!opts.key_only) {
        auto v = reader->LoadData(user, w->start_ts, std::nullopt);
        if (!v.ok()) return v.status();
        value = *std::move(v);
      }
      out->push_back(KvPair{*std::move(raw), std::move(value), absl::OkStatus()});
      decided = true;
    } else if (w->type == WriteType::kDelete) {
      decided = true;
    }
  }
  return write_it->status();
}

}  // namespace

absl::Status CheckLockForRead(const Lock& lock, std::string_view key, TimeStamp ts,
                              const TxnReadOptions& opts) {
  if (opts.isolation == IsolationLevel::kRC) return absl::OkStatus();
  if (lock.start_ts > ts || lock.type == LockType::kLock || lock.type == LockType::kPessimistic) {
    return absl::OkStatus();
  }
  // The lock's transaction can only commit above ts.
  if (lock.min_commit_ts > ts) return absl::OkStatus();
  if (Contains(opts.bypass_locks, lock.start_ts)) return absl::OkStatus();
  auto raw = DecodeKey(key);
  if (!raw.ok()) return raw.status();
  // "Read latest" of a primary key: its transaction is uncommitted, so the latest
  // committed value is the answer.
  if (ts == kMaxTs && *raw == lock.primary && !lock.use_async_commit) return absl::OkStatus();
  return MakeTxnError(KeyIsLocked{{LockInfo::From(lock, *std::move(raw))}});
}

absl::StatusOr<std::optional<std::string>> PointGet(MvccReader* reader, std::string_view raw_key,
                                                    TimeStamp ts, const TxnReadOptions& opts) {
  return PointGetEncoded(reader, EncodeKey(raw_key), ts, opts);
}

// Performance-critical path (TiKV's PointGetter): the lock, then the newest write record
// at or below ts, whose short value is moved out; no result list, no key decoding.
absl::StatusOr<std::optional<std::string>> PointGetEncoded(MvccReader* reader,
                                                           const std::string& key, TimeStamp ts,
                                                           const TxnReadOptions& opts) {
  std::optional<Lock> lock;
  if (opts.isolation == IsolationLevel::kSI) {
    auto l = reader->LoadLock(key);
    if (!l.ok()) return l.status();
    lock = *std::move(l);
  }
  if (!lock.has_value()) return ReadCommitted(reader, key, ts, false);
  std::vector<KvPair> out;
  absl::Status s = ReadOne(reader, key, lock, ts, opts, false, &out);
  if (!s.ok()) return s;
  if (out.empty()) return std::optional<std::string>();
  if (!out[0].error.ok()) return out[0].error;
  return std::optional<std::string>(std::move(out[0].value));
}

absl::StatusOr<std::vector<KvPair>> BatchGet(MvccReader* reader,
                                             const std::vector<std::string>& keys, TimeStamp ts,
                                             const TxnReadOptions& opts) {
  std::vector<KvPair> out;
  for (const std::string& raw : keys) {
    const std::string key = EncodeKey(raw);
    std::optional<Lock> lock;
    if (opts.isolation == IsolationLevel::kSI) {
      auto l = reader->LoadLock(key);
      if (!l.ok()) return l.status();
      lock = *std::move(l);
    }
    absl::Status s = ReadOne(reader, key, lock, ts, opts, false, &out);
    if (!s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::vector<KvPair>> Scan(MvccReader* reader, const ScanOptions& opts) {
  const std::string lower = EncodeKey(opts.start_key);
  const std::string upper = opts.end_key.empty() ? std::string() : EncodeKey(opts.end_key);
  const bool si = opts.read.isolation == IsolationLevel::kSI;
  std::unique_ptr<storage::Iterator> lock_it;
  if (si) lock_it = reader->NewIterator(storage::CF::kLock, lower, upper);
  std::unique_ptr<storage::Iterator> write_it =
      reader->NewIterator(storage::CF::kWrite, lower, upper);
  std::vector<KvPair> out;
  if (opts.limit != 0) out.reserve(std::min<size_t>(opts.limit, 1 << 16));
  if (opts.reverse) {
    if (lock_it) lock_it->SeekToLast();
    write_it->SeekToLast();
  } else {
    if (lock_it) lock_it->SeekToFirst();
    write_it->SeekToFirst();
  }
  std::string user;
  while (opts.limit == 0 || out.size() < opts.limit) {
    const bool has_l = lock_it && lock_it->Valid();
    const bool has_w = write_it->Valid();
    if (!has_l && !has_w) break;
    std::string_view wk;
    if (has_w) {
      auto t = TruncateTs(write_it->key());
      if (!t.ok()) return t.status();
      wk = *t;
    }
    if (has_l && has_w) {
      const std::string_view lk = lock_it->key();
      user.assign(opts.reverse ? std::max(lk, wk) : std::min(lk, wk));
    } else {
      user.assign(has_l ? lock_it->key() : wk);
    }
    const bool at_lock = has_l && lock_it->key() == user;
    const bool at_write = has_w && wk == user;
    std::optional<Lock> lock;
    if (at_lock) {
      auto l = Lock::Decode(lock_it->value());
      if (!l.ok()) return l.status();
      lock = *std::move(l);
    }
    if (!opts.reverse && at_write && !at_lock) {
      // Forward over a key without a lock (the common case of a large scan): its versions
      // are under write_it, newest first, so read them in place (what GetWrite does with
      // a seek of its own) and step to the next user key with Next, seeking only past many
      // versions.
      absl::Status s = ReadVersionsInPlace(reader, write_it.get(), user, opts, &out);
      if (!s.ok()) return s;
      continue;
    }
    // The value is found with the reader's own point lookups; the scan iterators only
    // enumerate user keys.
    absl::Status s = ReadOne(reader, user, lock, opts.ts, opts.read, opts.key_only, &out);
    if (!s.ok()) return s;
    if (opts.reverse) {
      if (at_lock) lock_it->Prev();
      if (at_write) write_it->SeekForPrev(user);  // Every version of `user` sorts above it.
    } else {
      if (at_lock) lock_it->Next();
      if (at_write) write_it->Seek(NextUserKeySeek(user));
    }
  }
  if (lock_it && !lock_it->status().ok()) return lock_it->status();
  if (!write_it->status().ok()) return write_it->status();
  return out;
}

}  // namespace rutile::txn
