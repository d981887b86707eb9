#include "sql/kv/kv.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sql/errors.h"
#include "storage/mem_engine.h"
#include "txn/errors.h"

namespace rutile::sql::kv {

absl::Status MapTxnError(const absl::Status& s) {
  if (s.ok()) return s;
  if (GetMySqlError(s).has_value()) return s;
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

// ---- BufferedTxn ----

absl::StatusOr<std::optional<std::string>> BufferedTxn::Get(const std::string& key) {
  auto it = buffer_.find(key);
  if (it != buffer_.end()) return it->second;
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
    auto r = SnapshotBatchGet(remote);
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
  return out;
}

absl::StatusOr<std::vector<Pair>> BufferedTxn::Scan(const std::string& start,
                                                    const std::string& end, size_t limit,
                                                    bool reverse) {
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
  if (!buffered) return snap;
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
  return out;
}

void BufferedTxn::Put(const std::string& key, std::string value) {
  Record(key);
  buffer_[key] = std::move(value);
}

void BufferedTxn::Delete(const std::string& key) {
  Record(key);
  buffer_[key] = std::nullopt;
}

void BufferedTxn::BeginStatement() {
  undo_.clear();
  in_statement_ = true;
}

void BufferedTxn::RollbackStatement() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second.has_value()) {
      buffer_[it->first] = *it->second;
    } else {
      buffer_.erase(it->first);
    }
  }
  undo_.clear();
}

absl::Status BufferedTxn::Commit() {
  if (buffer_.empty()) {
    Abandon();
    return absl::OkStatus();
  }
  absl::Status s = CommitBuffer(buffer_);
  buffer_.clear();
  undo_.clear();
  Abandon();
  return MapTxnError(s);
}

void BufferedTxn::Rollback() {
  buffer_.clear();
  undo_.clear();
  Abandon();
}

absl::Status BufferedTxn::LockStatement() {
  if (undo_.empty()) return absl::OkStatus();
  std::vector<std::string> keys;
  keys.reserve(undo_.size());
  for (const auto& u : undo_) keys.push_back(u.first);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  absl::Status s = LockWritten(keys);
  if (s.ok()) return s;
  RollbackStatement();
  return MapTxnError(s);
}

absl::Status BufferedTxn::RefreshSnapshot() {
  scan_cache_.clear();
  cache_bytes_ = 0;
  return MapTxnError(NewReadSnapshot());
}

void BufferedTxn::Record(const std::string& key) {
  if (!in_statement_) return;
  auto it = buffer_.find(key);
  if (it == buffer_.end()) {
    undo_.emplace_back(key, std::nullopt);
  } else {
    undo_.emplace_back(key, it->second);
  }
}

// ---- LocalKvStore ----

namespace {

class LocalTxn : public BufferedTxn {
 public:
  LocalTxn(LocalKvStore* store, txn::TimeStamp start_ts)
      : store_(store), start_ts_(start_ts), read_ts_(start_ts) {}

  uint64_t start_ts() const override { return start_ts_; }

 protected:
  absl::StatusOr<std::optional<std::string>> SnapshotGet(const std::string& key) override {
    return store_->storage()->Get(key, read_ts_);
  }

  absl::StatusOr<std::vector<Pair>> SnapshotBatchGet(
      const std::vector<std::string>& keys) override {
    auto r = store_->storage()->BatchGet(keys, read_ts_);
    if (!r.ok()) return r.status();
    std::vector<Pair> out;
    for (txn::KvPair& p : *r) {
      if (!p.error.ok()) return p.error;
      out.push_back({std::move(p.key), std::move(p.value)});
    }
    std::sort(out.begin(), out.end(), [](const Pair& a, const Pair& b) { return a.key < b.key; });
    return out;
  }

  absl::StatusOr<std::vector<Pair>> SnapshotScan(const std::string& start, const std::string& end,
                                                 size_t limit, bool reverse) override {
    txn::ScanOptions opts;
    opts.start_key = start;
    opts.end_key = end;
    opts.ts = read_ts_;
    opts.reverse = reverse;
    opts.limit = limit;
    auto r = store_->storage()->Scan(opts);
    if (!r.ok()) return r.status();
    std::vector<Pair> out;
    out.reserve(r->size());
    for (txn::KvPair& p : *r) {
      if (!p.error.ok()) return p.error;
      out.push_back({std::move(p.key), std::move(p.value)});
    }
    return out;
  }

  absl::Status CommitBuffer(const Buffer& buffer) override {
    txn::PrewriteRequest req;
    req.start_ts = start_ts_;
    req.lock_ttl = 3000;
    req.primary = buffer.begin()->first;
    req.txn_size = buffer.size();
    std::vector<std::string> keys;
    for (auto& [k, v] : buffer) {
      keys.push_back(k);
      req.mutations.push_back(v.has_value() ? txn::Mutation::Put(k, *v) : txn::Mutation::Delete(k));
    }
    auto pw = store_->storage()->Prewrite(req);
    if (!pw.ok()) {
      txn::RollbackRequest rb;
      rb.keys = keys;
      rb.start_ts = start_ts_;
      (void)store_->storage()->Rollback(rb);
      return pw.status();
    }
    txn::CommitRequest cr;
    cr.keys = std::move(keys);
    cr.start_ts = start_ts_;
    cr.commit_ts = store_->NextTs();
    return store_->storage()->Commit(cr);
  }

  absl::Status NewReadSnapshot() override {
    read_ts_ = store_->NextTs();
    return absl::OkStatus();
  }

 private:
  LocalKvStore* store_;
  txn::TimeStamp start_ts_;
  txn::TimeStamp read_ts_;  // start_ts_, or later under READ COMMITTED.
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
}

LocalKvStore::~LocalKvStore() = default;

absl::StatusOr<std::unique_ptr<KvTxn>> LocalKvStore::Begin() {
  return std::unique_ptr<KvTxn>(std::make_unique<LocalTxn>(this, NextTs()));
}

}  // namespace rutile::sql::kv
