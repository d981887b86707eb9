#include "txn/reads.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "txn/errors.h"
#include "util/coding.h"
#include "util/memcomparable.h"

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

// ReadCommitted's value for a point get (TiKV's PointGetter): the write records are seen
// in place through Engine::SeekVisit (over a reader of the latest state, a pooled
// iterator; over a snapshot, one iterator), decoded as WriteRef, and a short value is
// copied once into the result, with no Write made. Lock and Rollback records are skipped;
// a Delete, or a record whose gc_fence forbids reading at ts, means no value.
// Performance-critical path.
absl::StatusOr<std::optional<std::string>> ReadCommittedValue(MvccReader* reader,
                                                              std::string_view key, TimeStamp ts) {
  // key + ~ts (AppendTs) in a stack buffer when small.
  char buf[128];
  std::string heap;
  std::string_view target;
  if (key.size() + 8 <= sizeof(buf)) {
    std::memcpy(buf, key.data(), key.size());
    EncodeFixed64BE(buf + key.size(), ~ts);
    target = std::string_view(buf, key.size() + 8);
  } else {
    heap = AppendTs(key, ts);
    target = heap;
  }
  std::optional<std::string> value;
  std::optional<TimeStamp> load_start_ts;  // A Put record without a short value.
  absl::Status error;
  storage::ReadOptions ro;
  ro.snapshot = reader->snapshot();
  absl::Status s = reader->engine()->SeekVisit(
      storage::CF::kWrite, target, ro, [&](std::string_view k, std::string_view v) -> bool {
        if (!IsUserKeyEq(k, key)) return false;
        absl::StatusOr<WriteRef> w = WriteRef::Decode(v);
        if (!w.ok()) {
          error = w.status();
          return false;
        }
        if (!w->GcFenceAllowsRead(ts)) return false;
        if (w->type == WriteType::kPut) {
          if (w->has_short_value) {
            value.emplace(w->short_value);
          } else {
            load_start_ts = w->start_ts;
          }
          return false;
        }
        return w->type != WriteType::kDelete;  // Lock and Rollback records: look further.
      });
  if (!s.ok()) return s;
  if (!error.ok()) return error;
  if (!load_start_ts.has_value()) return value;
  auto v = reader->LoadData(key, *load_start_ts, std::nullopt);
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

// Where a scan's results go (a list for Scan, a visitor for ScanEach).
class ScanSink {
 public:
  virtual ~ScanSink() = default;
  // A visible pair; false stops the scan.
  virtual bool Pair(std::string_view raw_key, std::string_view value) = 0;
  // A key that cannot be read (KeyIsLocked); false stops the scan.
  virtual bool Error(KvPair pair) = 0;
};

// write_it is at the newest version of encoded user key `user`, which has no lock: gives
// its value at opts.ts to `sink` (as ReadCommitted would) and leaves write_it at the next
// user key. `raw` is scratch for the decoded key. Sets *stop when the sink says so.
absl::Status ReadVersionsInPlace(MvccReader* reader, storage::Iterator* write_it,
                                 const std::string& user, const ScanOptions& opts, ScanSink* sink,
                                 std::string* raw, bool* stop, ScanTrace* trace) {
  bool decided = false;
  int steps = 0;
  for (; write_it->Valid(); write_it->Next(), ++steps) {
    std::string_view k = write_it->key();
    if (k.size() < 8 || k.substr(0, k.size() - 8) != user) break;
    if (decided) {
      if (steps >= 8) {  // Many older versions: one seek skips them all.
        write_it->Seek(NextUserKeySeek(user));
        return write_it->Valid() ? absl::OkStatus() : write_it->status();
      }
      continue;
    }
    absl::StatusOr<TimeStamp> commit_ts = DecodeTs(k);
    if (!commit_ts.ok()) return commit_ts.status();
    if (trace != nullptr && steps == 0) {  // The key's newest record.
      trace->max_commit_ts = std::max(trace->max_commit_ts, *commit_ts);
      if (*commit_ts > opts.ts) trace->newer_seen = true;
    }
    if (*commit_ts > opts.ts) continue;
    absl::StatusOr<WriteRef> w = WriteRef::Decode(write_it->value());
    if (!w.ok()) return w.status();
    if (!w->GcFenceAllowsRead(opts.ts)) {
      decided = true;
      continue;
    }
    if (w->type == WriteType::kPut) {
      raw->clear();
      std::string_view in = user;
      if (!memcomparable::DecodeBytes(&in, raw).ok() || !in.empty()) {
        return absl::DataLossError(absl::StrCat("corrupt key ", absl::CEscape(user)));
      }
      bool more = true;
      if (opts.key_only) {
        more = sink->Pair(*raw, std::string_view());
      } else if (w->has_short_value) {
        more = sink->Pair(*raw, w->short_value);  // Views the iterator's value.
      } else {
        auto v = reader->LoadData(user, w->start_ts, std::nullopt);
        if (!v.ok()) return v.status();
        more = sink->Pair(*raw, *v);
      }
      if (!more) {
        *stop = true;
        return absl::OkStatus();
      }
      decided = true;
    } else if (w->type == WriteType::kDelete) {
      decided = true;
    }
  }
  // status() walks LevelDB's whole iterator tree: ask only once the iterator ended.
  return write_it->Valid() ? absl::OkStatus() : write_it->status();
}

// The scan loop of Scan and ScanEach.
absl::Status ScanInto(MvccReader* reader, const ScanOptions& opts, ScanSink* sink,
                      ScanTrace* trace = nullptr) {
  if (trace != nullptr && (opts.reverse || opts.read.isolation != IsolationLevel::kSI)) {
    trace->newer_seen = true;  // Traced only forward, with the lock CF read.
  }
  const std::string lower = EncodeKey(opts.start_key);
  const std::string upper = opts.end_key.empty() ? std::string() : EncodeKey(opts.end_key);
  const bool si = opts.read.isolation == IsolationLevel::kSI;
  std::unique_ptr<storage::Iterator> lock_it;
  if (si) lock_it = reader->NewIterator(storage::CF::kLock, lower, upper);
  std::unique_ptr<storage::Iterator> write_it =
      reader->NewIterator(storage::CF::kWrite, lower, upper);
  if (opts.reverse) {
    if (lock_it) lock_it->SeekToLast();
    write_it->SeekToLast();
  } else {
    if (lock_it) lock_it->SeekToFirst();
    write_it->SeekToFirst();
  }
  std::string user, raw;
  std::vector<KvPair> one;
  bool stop = false;
  while (!stop) {
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
    if (trace != nullptr && at_lock) trace->lock_seen = true;
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
      absl::Status s =
          ReadVersionsInPlace(reader, write_it.get(), user, opts, sink, &raw, &stop, trace);
      if (!s.ok()) return s;
      continue;
    }
    // The value is found with the reader's own point lookups; the scan iterators only
    // enumerate user keys. (Traced: a lock, or a reverse scan, already marked the trace.)
    one.clear();
    absl::Status s = ReadOne(reader, user, lock, opts.ts, opts.read, opts.key_only, &one);
    if (!s.ok()) return s;
    for (KvPair& p : one) {
      if (!(p.error.ok() ? sink->Pair(p.key, p.value) : sink->Error(std::move(p)))) stop = true;
    }
    if (stop) break;
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
  return absl::OkStatus();
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
absl::StatusOr<std::optional<std::string>> PointGetEncoded(MvccReader* reader, std::string_view key,
                                                           TimeStamp ts,
                                                           const TxnReadOptions& opts) {
  std::optional<Lock> lock;
  if (opts.isolation == IsolationLevel::kSI) {
    auto l = reader->LoadLock(key);
    if (!l.ok()) return l.status();
    lock = *std::move(l);
  }
  if (!lock.has_value()) return ReadCommittedValue(reader, key, ts);
  std::vector<KvPair> out;
  absl::Status s = ReadOne(reader, std::string(key), lock, ts, opts, false, &out);
  if (!s.ok()) return s;
  if (out.empty()) return std::optional<std::string>();
  if (!out[0].error.ok()) return out[0].error;
  return std::optional<std::string>(std::move(out[0].value));
}

absl::StatusOr<std::vector<KvPair>> BatchGet(MvccReader* reader,
                                             const std::vector<std::string>& keys, TimeStamp ts,
                                             const TxnReadOptions& opts) {
  // Every lock first, then the write records. Over a live engine (RegionTxnStore's
  // ReadLatest) the reader's write-CF iterator is made at its first use and kept for the
  // later keys: read key by key, a commit applied after that iterator was made and before
  // a later key's lock read would be missed by both reads (no lock any more, no write
  // record in the iterator) although its commit_ts <= ts. With the locks read first, the
  // iterator is made after every lock read, so a commit whose lock a read no longer found
  // is in it (a commit removes the lock and adds the write record in one batch).
  std::vector<std::string> enc;
  enc.reserve(keys.size());
  for (const std::string& raw : keys) enc.push_back(EncodeKey(raw));
  std::vector<std::optional<Lock>> locks(enc.size());
  if (opts.isolation == IsolationLevel::kSI) {
    for (size_t i = 0; i < enc.size(); ++i) {
      auto l = reader->LoadLock(enc[i]);
      if (!l.ok()) return l.status();
      locks[i] = *std::move(l);
    }
  }
  std::vector<KvPair> out;
  for (size_t i = 0; i < enc.size(); ++i) {
    absl::Status s = ReadOne(reader, enc[i], locks[i], ts, opts, false, &out);
    if (!s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::vector<KvPair>> Scan(MvccReader* reader, const ScanOptions& opts) {
  class ListSink final : public ScanSink {
   public:
    explicit ListSink(size_t limit) : limit_(limit) {
      if (limit != 0) out.reserve(std::min<size_t>(limit, 1 << 16));
    }
    bool Pair(std::string_view raw_key, std::string_view value) override {
      out.push_back(KvPair{std::string(raw_key), std::string(value), absl::OkStatus()});
      return limit_ == 0 || out.size() < limit_;
    }
    bool Error(KvPair pair) override {
      out.push_back(std::move(pair));
      return limit_ == 0 || out.size() < limit_;
    }
    std::vector<KvPair> out;

   private:
    const size_t limit_;
  };
  ListSink sink(opts.limit);
  absl::Status s = ScanInto(reader, opts, &sink);
  if (!s.ok()) return s;
  return std::move(sink.out);
}

namespace {
// Keys ScanEach looks at past its first lock, gathering theirs.
constexpr size_t kLockBatch = 1024;
}  // namespace

absl::Status ScanEach(MvccReader* reader, const ScanOptions& opts,
                      absl::FunctionRef<bool(std::string_view, std::string_view)> fn) {
  return ScanEach(reader, opts, fn, nullptr);
}

absl::Status ScanEach(MvccReader* reader, const ScanOptions& opts,
                      absl::FunctionRef<bool(std::string_view, std::string_view)> fn,
                      ScanTrace* trace) {
  class VisitSink final : public ScanSink {
   public:
    explicit VisitSink(absl::FunctionRef<bool(std::string_view, std::string_view)> fn) : fn_(fn) {}
    bool Pair(std::string_view raw_key, std::string_view value) override {
      if (!locks.empty()) return ++after_ < kLockBatch;  // Only gathering locks now.
      return fn_(raw_key, value);
    }
    bool Error(KvPair pair) override {
      std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(pair.error);
      if (!kl.has_value()) {
        other = std::move(pair.error);
        return false;
      }
      locks.insert(locks.end(), kl->locks.begin(), kl->locks.end());
      return ++after_ < kLockBatch;
    }
    std::vector<LockInfo> locks;
    absl::Status other;

   private:
    absl::FunctionRef<bool(std::string_view, std::string_view)> fn_;
    size_t after_ = 0;  // Keys looked at since the first lock.
  };
  if (opts.limit != 0) return absl::InvalidArgumentError("ScanEach takes no limit");
  VisitSink sink(fn);
  absl::Status s = ScanInto(reader, opts, &sink, trace);
  if (!s.ok()) return s;
  if (!sink.other.ok()) return sink.other;
  if (!sink.locks.empty()) return MakeTxnError(KeyIsLocked{std::move(sink.locks)});
  return absl::OkStatus();
}

}  // namespace rutile::txn
