#include "sql/kv/kv.h"

#include <algorithm>
#include <functional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rutile/env.h"
#include "sql/coprocessor/dag.h"
#include "sql/errors.h"
#include "storage/mem_engine.h"
#include "txn/errors.h"
#include "txn/region_store.h"

namespace rutile::sql::kv {

absl::Status MapTxnError(const absl::Status& s) {
  if (s.ok()) return s;
  if (GetMySqlError(s).has_value()) return s;
  if (txn::IsUndetermined(s)) {
    // The transaction may have committed: not a lock wait (1205) or a conflict, which
    // tell the client to run it again (TiDB's ErrResultUndetermined).
    return MakeMySqlStatus(
        absl::StatusCode::kDeadlineExceeded,
        {8224, "HY000", absl::StrCat("Result undetermined (", s.message(), ")")});
  }
  const std::string lower = absl::AsciiStrToLower(s.message());
  if (txn::GetTxnErrorAs<txn::KeyIsLocked>(s).has_value() ||
      (s.code() == absl::StatusCode::kAborted && absl::StrContains(lower, "lock wait timeout")) ||
      // The client gave up waiting for another transaction's live locks.
      (s.code() == absl::StatusCode::kDeadlineExceeded && absl::StrContains(lower, "lock"))) {
    return MakeMySqlStatus(absl::StatusCode::kAborted,
                           {1205, "HY000",
                            absl::StrCat("Lock wait timeout exceeded; try restarting transaction (",
                                         s.message(), ")")});
  }
  if (s.code() == absl::StatusCode::kAborted) {
    return MakeMySqlStatus(
        absl::StatusCode::kAborted,
        {1213, "40001",
         absl::StrCat("Deadlock found when trying to get lock; try restarting transaction (",
                      s.message(), ")")});
  }
  return s;
}

std::optional<std::string> ExistingKeyOf(const absl::Status& s) {
  std::optional<txn::AlreadyExist> e = txn::GetTxnErrorAs<txn::AlreadyExist>(s);
  if (!e.has_value()) return std::nullopt;
  return e->key;
}

// ---- BufferedTxn ----

absl::StatusOr<std::optional<std::string>> BufferedTxn::Get(const std::string& key) {
  auto it = buffer_.find(key);
  if (it != buffer_.end()) {
    if (lock_reads_) read_keys_.push_back(key);
    return it->second;
  }
  if (lock_on_read_) {
    // Locked now, absent or not (as TiDB's locking point get), with its latest value.
    auto r = LockAndRead({key});
    if (!r.ok()) return MapTxnError(r.status());
    if (r->empty()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(r->front().value));
  }
  // SELECT ... FOR UPDATE locks a key it looked for even when it is absent (as TiDB's
  // point get does), so no other transaction can insert it meanwhile.
  if (lock_reads_) read_keys_.push_back(key);
  auto r = SnapshotGet(key);
  if (!r.ok()) return MapTxnError(r.status());
  return *std::move(r);
}

absl::StatusOr<std::vector<Pair>> BufferedTxn::BatchGet(const std::vector<std::string>& keys) {
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<std::string> remote;
  for (const std::string& k : sorted) {
    if (buffer_.find(k) == buffer_.end()) remote.push_back(k);
  }
  std::map<std::string, std::string> fetched;
  if (!remote.empty()) {
    auto r = lock_on_read_ ? LockAndRead(remote) : SnapshotBatchGet(remote);
    if (!r.ok()) return MapTxnError(r.status());
    for (Pair& p : *r) fetched.emplace(std::move(p.key), std::move(p.value));
  }
  std::vector<Pair> out;
  for (const std::string& k : sorted) {
    auto it = buffer_.find(k);
    if (it != buffer_.end()) {
      if (it->second.has_value()) out.push_back({k, *it->second});
      continue;
    }
    auto f = fetched.find(k);
    if (f != fetched.end()) out.push_back({k, f->second});
  }
  if (lock_reads_ && !lock_on_read_) {
    read_keys_.insert(read_keys_.end(), sorted.begin(), sorted.end());
  }
  return out;
}

absl::StatusOr<std::vector<Pair>> BufferedTxn::Scan(const std::string& start,
                                                    const std::string& end, size_t limit,
                                                    bool reverse) {
  // Absent keys of a range cannot be locked: a statement reusing its for_update_ts runs
  // again at a fresh one (LockStatement).
  if (lock_on_read_) scanned_ = true;
  auto lo = buffer_.lower_bound(start);
  auto hi = end.empty() ? buffer_.end() : buffer_.lower_bound(end);
  const bool buffered = lo != hi;
  const size_t snap_limit = buffered ? 0 : limit;
  // The snapshot at start_ts never changes, so a repeated scan (a correlated subquery
  // runs its plan once per outer row) is served from memory.
  auto cache_key = std::make_tuple(start, end, snap_limit, reverse);
  auto cached = scan_cache_.find(cache_key);
  std::vector<Pair> snap;
  if (cached != scan_cache_.end()) {
    snap = cached->second;
  } else {
    auto r = SnapshotScan(start, end, snap_limit, reverse);
    if (!r.ok()) return MapTxnError(r.status());
    snap = *std::move(r);
    // One batch of a large scan (a full batch; more follow) is not kept: copying it
    // costs more than it could save, and a re-run of such a scan is rare.
    const bool large_batch = snap_limit >= kUncachedBatch && snap.size() >= snap_limit;
    size_t bytes = 0;
    for (const Pair& p : snap) bytes += p.key.size() + p.value.size() + 64;
    if (!large_batch && cache_bytes_ + bytes <= kScanCacheBytes) {
      cache_bytes_ += bytes;
      scan_cache_.emplace(cache_key, snap);
    }
  }
  if (!buffered) {
    if (lock_reads_) {
      for (const Pair& p : snap) read_keys_.push_back(p.key);
    }
    return snap;
  }
  // Merge the snapshot with the buffer, both in ascending order, then reverse if asked.
  if (reverse) std::reverse(snap.begin(), snap.end());
  std::vector<Pair> out;
  size_t i = 0;
  auto it = lo;
  while (i < snap.size() || it != hi) {
    if (it == hi || (i < snap.size() && snap[i].key < it->first)) {
      out.push_back(std::move(snap[i]));
      ++i;
    } else {
      if (i < snap.size() && snap[i].key == it->first) ++i;
      if (it->second.has_value()) out.push_back({it->first, *it->second});
      ++it;
    }
  }
  if (reverse) std::reverse(out.begin(), out.end());
  if (limit > 0 && out.size() > limit) out.resize(limit);
  if (lock_reads_) {
    for (const Pair& p : out) read_keys_.push_back(p.key);
  }
  return out;
}

void BufferedTxn::Put(const std::string& key, std::string value) {
  Record(key, true);
  unlocked_.erase(key);
  buffer_[key] = std::move(value);
}

void BufferedTxn::PutNotExists(const std::string& key, std::string value) {
  if (!DefersExistenceCheck()) {
    Put(key, std::move(value));
    return;
  }
  Record(key, true);
  unlocked_.erase(key);
  must_not_exist_.insert(key);
  buffer_[key] = std::move(value);
}

void BufferedTxn::Delete(const std::string& key) {
  Record(key, true);
  unlocked_.erase(key);
  buffer_[key] = std::nullopt;
}

void BufferedTxn::PutWithoutLock(const std::string& key, std::string value) {
  Record(key, false);
  unlocked_.insert(key);
  buffer_[key] = std::move(value);
}

void BufferedTxn::DeleteWithoutLock(const std::string& key) {
  Record(key, false);
  unlocked_.insert(key);
  buffer_[key] = std::nullopt;
}

void BufferedTxn::BeginStatement() {
  undo_.clear();
  in_statement_ = true;
}

void BufferedTxn::RollbackStatement() {
  EndLocking();
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->prior.has_value()) {
      buffer_[it->key] = *it->prior;
    } else {
      buffer_.erase(it->key);
    }
    if (it->prior_unlocked) {
      unlocked_.insert(it->key);
    } else {
      unlocked_.erase(it->key);
    }
    if (it->prior_must_not_exist) {
      must_not_exist_.insert(it->key);
    } else {
      must_not_exist_.erase(it->key);
    }
  }
  undo_.clear();
}

absl::Status BufferedTxn::Commit() {
  if (buffer_.empty()) {
    Abandon();
    return absl::OkStatus();
  }
  locking_ = false;
  absl::Status s;
  // A key PutNotExists wrote and a later Delete removed: the store cannot check a
  // delete's key for absence, so it is checked here, at the snapshot; a commit of the key
  // after it is the Delete's write conflict at the prewrite.
  for (const std::string& k : must_not_exist_) {
    auto b = buffer_.find(k);
    if (b == buffer_.end() || b->second.has_value()) continue;
    auto v = SnapshotGet(k);
    if (!v.ok()) {
      s = v.status();
      break;
    }
    if (v->has_value()) {
      s = txn::MakeTxnError(txn::AlreadyExist{k});
      break;
    }
  }
  if (s.ok()) s = CommitBuffer(buffer_);
  buffer_.clear();
  undo_.clear();
  unlocked_.clear();
  must_not_exist_.clear();
  Abandon();
  if (ExistingKeyOf(s).has_value()) return s;
  return MapTxnError(s);
}

absl::Status BufferedTxn::CommitWithCheck(std::function<absl::Status()> check,
                                          uint64_t window_micros) {
  commit_check_ = std::move(check);
  commit_window_micros_ = window_micros;
  absl::Status s = Commit();
  commit_check_ = nullptr;
  return s;
}

void BufferedTxn::Rollback() {
  locking_ = false;
  lock_reads_ = false;
  lock_on_read_ = false;
  scanned_ = false;
  force_fresh_ = false;
  read_keys_.clear();
  buffer_.clear();
  undo_.clear();
  unlocked_.clear();
  must_not_exist_.clear();
  Abandon();
}

absl::Status BufferedTxn::BeginLockingStatement(const LockingOptions& options) {
  EndLocking();
  BeginStatement();
  if (!Pessimistic()) return absl::OkStatus();
  // A fresh for_update_ts per statement (and per run of it), unless the statement locks
  // whatever it reads: the cached scans were read at another timestamp.
  const bool reuse = options.reuse_for_update_ts && !force_fresh_;
  force_fresh_ = false;
  ClearScanCache();
  absl::Status s = SetCurrentRead(true, !reuse);
  if (!s.ok()) {
    (void)SetCurrentRead(false, false);
    return MapTxnError(s);
  }
  locking_ = true;
  lock_reads_ = options.lock_reads;
  lock_on_read_ = reuse;
  scanned_ = false;
  read_keys_.clear();
  return absl::OkStatus();
}

void BufferedTxn::EndLocking() {
  if (!locking_) return;
  locking_ = false;
  lock_reads_ = false;
  lock_on_read_ = false;
  scanned_ = false;
  read_keys_.clear();
  ClearScanCache();
  // Back to the snapshot at start_ts (or READ COMMITTED's); a failure shows on the
  // next read.
  (void)SetCurrentRead(false, false);
}

absl::Status BufferedTxn::LockStatement(bool* retry) {
  *retry = false;
  if (!locking_) return absl::OkStatus();
  std::vector<std::string> keys = std::move(read_keys_);
  read_keys_.clear();
  keys.reserve(keys.size() + undo_.size());
  for (const Undo& u : undo_) {
    if (u.needs_lock) keys.push_back(u.key);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  bool moved = false;
  absl::Status s = keys.empty() ? absl::OkStatus() : LockKeys(keys, &moved);
  if (!s.ok()) {
    RollbackStatement();
    return MapTxnError(s);
  }
  if (moved || scanned_) {
    // What the statement read is older than what it locked, or (reusing an older
    // for_update_ts) it read a range: run it again over the locked versions at a fresh
    // for_update_ts (the locks stay).
    const bool fresh = scanned_;
    RollbackStatement();
    force_fresh_ = fresh;
    *retry = true;
    return absl::OkStatus();
  }
  EndLocking();
  return absl::OkStatus();
}

absl::Status BufferedTxn::RefreshSnapshot() {
  ClearScanCache();
  return MapTxnError(NewReadSnapshot());
}

std::optional<CopSnapshot> BufferedTxn::CoprocessorSnapshot(const std::string& start,
                                                            const std::string& end) {
  (void)start;
  (void)end;
  // A locking statement reads through Scan, which does what the coprocessor cannot: it
  // collects every key read for SELECT ... FOR UPDATE to lock (lock_reads_: the rows the
  // range held, before any filter), and notes that a statement reusing its
  // for_update_ts read a range (scanned_), so that it runs again at a fresh one. Its
  // reads are also current reads (at for_update_ts, not the snapshot).
  if (locking_) return std::nullopt;
  return StoreCopSnapshot();
}

std::vector<OverlayEntry> BufferedTxn::SnapshotOverlay(const std::string& start,
                                                       const std::string& end) {
  std::vector<OverlayEntry> locked = LockedOverlay(start, end);
  std::vector<OverlayEntry> out;
  auto it = buffer_.lower_bound(start);
  const auto hi = end.empty() ? buffer_.end() : buffer_.lower_bound(end);
  size_t i = 0;
  // Both ascending; the buffer (this transaction's own writes) wins over a locked value.
  while (i < locked.size() || it != hi) {
    if (it == hi || (i < locked.size() && locked[i].key < it->first)) {
      out.push_back(std::move(locked[i++]));
      continue;
    }
    if (i < locked.size() && locked[i].key == it->first) ++i;
    out.push_back({it->first, it->second});
    ++it;
  }
  return out;
}

void BufferedTxn::Record(const std::string& key, bool needs_lock) {
  if (!in_statement_) return;
  Undo u;
  u.key = key;
  u.prior_unlocked = unlocked_.count(key) != 0;
  u.prior_must_not_exist = must_not_exist_.count(key) != 0;
  u.needs_lock = needs_lock;
  auto it = buffer_.find(key);
  if (it != buffer_.end()) u.prior = it->second;
  undo_.push_back(std::move(u));
}

// ---- LocalKvStore ----

namespace {
std::atomic<uint64_t> local_coprocessor_requests{0};
}  // namespace

uint64_t TotalLocalCoprocessorRequests() {
  return local_coprocessor_requests.load(std::memory_order_relaxed);
}

namespace {

// Reads a LocalKvStore's MVCC data for the DAG executor, in batches.
class LocalSnapshotReader final : public coprocessor::SnapshotReader {
 public:
  LocalSnapshotReader(txn::TxnStorage* storage, txn::TimeStamp ts, txn::TxnReadOptions read)
      : storage_(storage), ts_(ts), read_(std::move(read)) {}

  absl::Status Scan(std::string_view start, std::string_view end, bool reverse,
                    absl::FunctionRef<bool(std::string_view, std::string_view)> fn) override {
    txn::ScanOptions o;
    o.start_key = std::string(start);
    o.end_key = std::string(end);
    o.ts = ts_;
    o.reverse = reverse;
    o.limit = kBatch;
    o.read = read_;
    while (true) {
      absl::StatusOr<std::vector<txn::KvPair>> batch = storage_->Scan(o);
      if (!batch.ok()) return batch.status();
      for (const txn::KvPair& p : *batch) {
        if (!p.error.ok()) return p.error;
      }
      for (const txn::KvPair& p : *batch) {
        if (!fn(p.key, p.value)) return absl::OkStatus();
      }
      if (batch->size() < kBatch) return absl::OkStatus();
      if (reverse) {
        o.end_key = batch->back().key;
      } else {
        o.start_key = batch->back().key;
        o.start_key.push_back('\0');
      }
    }
  }

 private:
  static constexpr size_t kBatch = 1024;
  txn::TxnStorage* const storage_;
  const txn::TimeStamp ts_;
  const txn::TxnReadOptions read_;
};

class LocalCoprocessorImpl final : public LocalCoprocessor {
 public:
  explicit LocalCoprocessorImpl(LocalKvStore* store) : store_(store) {}

  // A lock met is a commit in flight (pessimistic locks do not block reads): the request
  // runs again until it is gone, as LocalTxn's reads wait (up to 3 s).
  absl::Status Run(const rutile::coprocessor::Request& req,
                   rutile::coprocessor::Response* resp) override {
    txn::TxnReadOptions read;
    read.isolation = req.read_committed() ? txn::IsolationLevel::kRC : txn::IsolationLevel::kSI;
    Env* env = store_->env();
    const uint64_t deadline = env->NowMicros() + 3'000'000;
    uint64_t backoff = 100;
    while (true) {
      resp->Clear();
      LocalSnapshotReader reader(store_->storage(), req.start_ts(), read);
      absl::Status s = coprocessor::RunDag(req, &reader, resp);
      if (!txn::GetTxnErrorAs<txn::KeyIsLocked>(s).has_value() || env->NowMicros() >= deadline) {
        if (s.ok()) local_coprocessor_requests.fetch_add(1, std::memory_order_relaxed);
        return s;
      }
      env->SleepForMicros(backoff);
      backoff = std::min<uint64_t>(backoff * 2, 5'000);
    }
  }

 private:
  LocalKvStore* const store_;
};

class LocalTxn : public BufferedTxn {
 public:
  LocalTxn(LocalKvStore* store, txn::TimeStamp start_ts, bool pessimistic)
      : store_(store),
        start_ts_(start_ts),
        read_ts_(start_ts),
        for_update_ts_(start_ts),
        pessimistic_(pessimistic) {}
  ~LocalTxn() override { ReleaseLocks(); }

  uint64_t start_ts() const override { return start_ts_; }

 protected:
  absl::StatusOr<std::optional<std::string>> SnapshotGet(const std::string& key) override {
    std::optional<std::string> out;
    absl::Status s = WaitForLocks([&]() -> absl::Status {
      auto r = store_->storage()->Get(key, ReadTs());
      if (!r.ok()) return r.status();
      out = *std::move(r);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::vector<Pair>> SnapshotBatchGet(
      const std::vector<std::string>& keys) override {
    std::vector<Pair> out;
    absl::Status s = WaitForLocks([&]() -> absl::Status {
      out.clear();
      auto r = store_->storage()->BatchGet(keys, ReadTs());
      if (!r.ok()) return r.status();
      for (txn::KvPair& p : *r) {
        if (!p.error.ok()) return p.error;
        out.push_back({std::move(p.key), std::move(p.value)});
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    std::sort(out.begin(), out.end(), [](const Pair& a, const Pair& b) { return a.key < b.key; });
    return out;
  }

  absl::StatusOr<std::vector<Pair>> SnapshotScan(const std::string& start, const std::string& end,
                                                 size_t limit, bool reverse) override {
    std::vector<Pair> out;
    absl::Status s = WaitForLocks([&]() -> absl::Status {
      out.clear();
      txn::ScanOptions opts;
      opts.start_key = start;
      opts.end_key = end;
      opts.ts = ReadTs();
      opts.reverse = reverse;
      opts.limit = limit;
      auto r = store_->storage()->Scan(opts);
      if (!r.ok()) return r.status();
      out.reserve(r->size());
      for (txn::KvPair& p : *r) {
        if (!p.error.ok()) return p.error;
        out.push_back({std::move(p.key), std::move(p.value)});
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status CommitBuffer(const Buffer& buffer) override {
    txn::PrewriteRequest req;
    req.start_ts = start_ts_;
    req.lock_ttl = 3000;
    req.primary = primary_.empty() ? buffer.begin()->first : primary_;
    if (pessimistic_) req.for_update_ts = for_update_ts_;
    std::vector<std::string> keys;
    for (auto& [k, v] : buffer) {
      keys.push_back(k);
      req.mutations.push_back(!v.has_value()    ? txn::Mutation::Delete(k)
                              : MustNotExist(k) ? txn::Mutation::Insert(k, *v)
                                                : txn::Mutation::Put(k, *v));
      if (pessimistic_) req.is_pessimistic_lock.push_back(locked_.count(k) != 0);
    }
    // Keys locked (SELECT ... FOR UPDATE) but not written commit as lock records.
    for (const std::string& k : locked_) {
      if (buffer.count(k) != 0) continue;
      keys.push_back(k);
      req.mutations.push_back(txn::Mutation::LockKey(k));
      req.is_pessimistic_lock.push_back(true);
    }
    req.txn_size = keys.size();
    locked_.clear();
    // Another transaction's lock (a pessimistic lock until its owner commits, or a commit
    // in flight): wait for it as the cluster client's prewrite does.
    absl::StatusOr<txn::PrewriteResponse> pw = absl::UnknownError("not run");
    (void)WaitForLocks([&]() -> absl::Status {
      pw = store_->storage()->Prewrite(req);
      return pw.status();
    });
    absl::Status s = pw.status();
    txn::CommitRequest cr;
    cr.commit_ts = store_->NextTs();
    if (s.ok() && commit_check() != nullptr) s = commit_check()();
    if (!s.ok()) {
      txn::RollbackRequest rb;
      rb.keys = keys;
      rb.start_ts = start_ts_;
      (void)store_->storage()->Rollback(rb);
      return s;
    }
    cr.keys = std::move(keys);
    cr.start_ts = start_ts_;
    return store_->storage()->Commit(cr);
  }

  void Abandon() override { ReleaseLocks(); }

  absl::Status NewReadSnapshot() override {
    read_ts_ = store_->NextTs();
    return absl::OkStatus();
  }

  bool Pessimistic() const override { return pessimistic_; }
  bool StoreChecksExistence() const override { return true; }

  std::optional<CopSnapshot> StoreCopSnapshot() override {
    // A locking statement's current read (current_ts_) never reaches here
    // (BufferedTxn::CoprocessorSnapshot). Keys this transaction locked need no overlay:
    // its snapshot reads (SnapshotGet/Scan at read_ts_) do not return the values
    // LockAndRead read at for_update_ts either, so the coprocessor at read_ts_ and the
    // buffered writes (SnapshotOverlay) give what Scan gives.
    CopSnapshot s;
    s.local = store_->coprocessor();
    s.read_ts = read_ts_;
    return s;
  }

  absl::Status SetCurrentRead(bool on, bool fresh) override {
    if (!on) {
      current_ts_ = 0;
      return absl::OkStatus();
    }
    if (fresh) for_update_ts_ = std::max(for_update_ts_, store_->NextTs());
    current_ts_ = for_update_ts_;
    return absl::OkStatus();
  }

  // Locks, then reads at the for_update_ts the locks were taken at (no commit above it
  // exists while they are held).
  absl::StatusOr<std::vector<Pair>> LockAndRead(const std::vector<std::string>& keys) override {
    bool moved = false;
    absl::Status s = LockKeys(keys, &moved);
    if (!s.ok()) return s;
    const txn::TimeStamp saved = current_ts_;
    current_ts_ = for_update_ts_;
    auto r = SnapshotBatchGet(keys);
    current_ts_ = saved;
    return r;
  }

  // Locks each key at for_update_ts_ (a newer commit takes a fresh one and sets
  // `*moved`), waiting for other holders with the store's deadlock detector.
  absl::Status LockKeys(const std::vector<std::string>& keys, bool* moved) override {
    *moved = false;
    if (!pessimistic_) return absl::OkStatus();
    Env* env = store_->env();
    txn::DeadlockDetector* detector = store_->detector();
    for (const std::string& key : keys) {
      if (locked_.count(key) != 0) continue;
      const uint64_t wait_deadline = env->NowMicros() + kLockWaitMicros;
      uint64_t backoff = 200;
      while (true) {
        txn::AcquirePessimisticLockRequest req;
        req.keys.push_back({key, false});
        req.primary = primary_.empty() ? key : primary_;
        req.start_ts = start_ts_;
        req.for_update_ts = for_update_ts_;
        req.lock_ttl = 3000;
        auto r = store_->storage()->AcquirePessimisticLock(req);
        if (r.ok()) {
          if (primary_.empty()) primary_ = key;
          locked_.insert(key);
          break;
        }
        if (txn::GetTxnErrorAs<txn::WriteConflict>(r.status()).has_value()) {
          for_update_ts_ = std::max(for_update_ts_, store_->NextTs());
          *moved = true;
          continue;
        }
        std::optional<txn::KeyIsLocked> kl = txn::GetTxnErrorAs<txn::KeyIsLocked>(r.status());
        if (!kl.has_value()) return r.status();
        const txn::TimeStamp holder = kl->locks.front().lock_version;
        if (detector->Detect(start_ts_, holder)) {
          return txn::DeadlockError(start_ts_, holder, key);
        }
        if (env->NowMicros() >= wait_deadline) {
          detector->CleanUpWaitFor(start_ts_, holder);
          return absl::AbortedError(absl::StrCat("lock wait timeout: txn ", start_ts_,
                                                 " waited for a key held by txn ", holder));
        }
        env->SleepForMicros(backoff);
        backoff = std::min<uint64_t>(backoff * 2, 5'000);
        detector->CleanUpWaitFor(start_ts_, holder);
      }
    }
    return absl::OkStatus();
  }

 private:
  static constexpr uint64_t kLockWaitMicros = 3'000'000;

  txn::TimeStamp ReadTs() const { return current_ts_ != 0 ? current_ts_ : read_ts_; }

  // Runs the read `fn` again while it meets another transaction's lock: a commit in
  // flight (prewrite then commit) finishes soon; pessimistic locks do not block reads.
  absl::Status WaitForLocks(const std::function<absl::Status()>& fn) {
    Env* env = store_->env();
    const uint64_t deadline = env->NowMicros() + kLockWaitMicros;
    uint64_t backoff = 100;
    while (true) {
      absl::Status s = fn();
      if (!txn::GetTxnErrorAs<txn::KeyIsLocked>(s).has_value() || env->NowMicros() >= deadline) {
        return s;
      }
      env->SleepForMicros(backoff);
      backoff = std::min<uint64_t>(backoff * 2, 5'000);
    }
  }

  void ReleaseLocks() {
    if (!locked_.empty()) {
      txn::PessimisticRollbackRequest req;
      req.keys.assign(locked_.begin(), locked_.end());
      req.start_ts = start_ts_;
      req.for_update_ts = for_update_ts_;
      (void)store_->storage()->PessimisticRollback(req);
      locked_.clear();
    }
    if (pessimistic_) store_->detector()->CleanUp(start_ts_);
  }

  LocalKvStore* store_;
  txn::TimeStamp start_ts_;
  txn::TimeStamp read_ts_;         // start_ts_, or later under READ COMMITTED.
  txn::TimeStamp current_ts_ = 0;  // A locking statement's current read.
  txn::TimeStamp for_update_ts_;
  const bool pessimistic_;
  std::string primary_;           // Of the pessimistic locks.
  std::set<std::string> locked_;  // Pessimistic locks held.
};

}  // namespace

LocalKvStore::LocalKvStore() : LocalKvStore(nullptr) {}

LocalKvStore::LocalKvStore(storage::Engine* engine) : next_ts_(txn::ComposeTs(1, 0)) {
  if (engine == nullptr) {
    owned_engine_ = std::make_unique<storage::MemEngine>();
    engine = owned_engine_.get();
  }
  engine_ = engine;
  cm_ = std::make_unique<txn::ConcurrencyManager>(next_ts_.load());
  latches_ = std::make_unique<txn::Latches>();
  storage_ = std::make_unique<txn::TxnStorage>(engine_, cm_.get(), latches_.get());
  detector_ = std::make_unique<txn::DeadlockDetector>();
  env_ = Env::Default();
  coprocessor_ = std::make_unique<LocalCoprocessorImpl>(this);
}

LocalKvStore::~LocalKvStore() = default;

absl::StatusOr<std::unique_ptr<KvTxn>> LocalKvStore::Begin() { return BeginWith(TxnOptions()); }

absl::StatusOr<std::unique_ptr<KvTxn>> LocalKvStore::BeginWith(const TxnOptions& options) {
  return std::unique_ptr<KvTxn>(std::make_unique<LocalTxn>(this, NextTs(), options.pessimistic));
}

}  // namespace rutile::sql::kv
