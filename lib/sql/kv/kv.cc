#include "sql/kv/kv.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sql/errors.h"
#include "storage/mem_engine.h"
#include "txn/errors.h"

namespace rutile::sql::kv {
namespace {

// Percolator outcomes as MySQL errors: conflicts are retryable (1213, SQLSTATE 40001),
// a lock another transaction holds is a lock wait timeout (1205).
absl::Status MapTxnError(const absl::Status& s) {
  if (s.ok()) return s;
  if (GetMySqlError(s).has_value()) return s;
  if (txn::GetTxnErrorAs<txn::KeyIsLocked>(s).has_value()) {
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

class LocalTxn : public KvTxn {
 public:
  LocalTxn(LocalKvStore* store, txn::TimeStamp start_ts) : store_(store), start_ts_(start_ts) {}
  ~LocalTxn() override = default;

  uint64_t start_ts() const override { return start_ts_; }

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    auto it = buffer_.find(key);
    if (it != buffer_.end()) return it->second;
    auto r = store_->storage()->Get(key, start_ts_);
    if (!r.ok()) return MapTxnError(r.status());
    return *std::move(r);
  }

  absl::StatusOr<std::vector<Pair>> BatchGet(const std::vector<std::string>& keys) override {
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::vector<std::string> remote;
    std::vector<Pair> out;
    for (const std::string& k : sorted) {
      auto it = buffer_.find(k);
      if (it == buffer_.end()) {
        remote.push_back(k);
      }
    }
    std::map<std::string, std::string> fetched;
    if (!remote.empty()) {
      auto r = store_->storage()->BatchGet(remote, start_ts_);
      if (!r.ok()) return MapTxnError(r.status());
      for (txn::KvPair& p : *r) {
        if (!p.error.ok()) return MapTxnError(p.error);
        fetched.emplace(std::move(p.key), std::move(p.value));
      }
    }
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

  absl::StatusOr<std::vector<Pair>> Scan(const std::string& start, const std::string& end,
                                         size_t limit, bool reverse) override {
    auto lo = buffer_.lower_bound(start);
    auto hi = end.empty() ? buffer_.end() : buffer_.lower_bound(end);
    const bool buffered = lo != hi;
    txn::ScanOptions opts;
    opts.start_key = start;
    opts.end_key = end;
    opts.ts = start_ts_;
    opts.reverse = reverse;
    opts.limit = buffered ? 0 : limit;
    // The snapshot at start_ts never changes, so a repeated scan (a correlated subquery
    // runs its plan once per outer row) is served from memory.
    auto cache_key = std::make_tuple(start, end, opts.limit, reverse);
    auto cached = scan_cache_.find(cache_key);
    absl::StatusOr<std::vector<txn::KvPair>> r;
    if (cached != scan_cache_.end()) {
      r = cached->second;
    } else {
      r = store_->storage()->Scan(opts);
      if (!r.ok()) return MapTxnError(r.status());
      for (const txn::KvPair& p : *r) {
        if (!p.error.ok()) return MapTxnError(p.error);
      }
      size_t bytes = 0;
      for (const txn::KvPair& p : *r) bytes += p.key.size() + p.value.size() + 64;
      if (cache_bytes_ + bytes <= kScanCacheBytes) {
        cache_bytes_ += bytes;
        scan_cache_.emplace(cache_key, *r);
      }
    }
    std::vector<Pair> out;
    if (!buffered) {
      out.reserve(r->size());
      for (txn::KvPair& p : *r) out.push_back({std::move(p.key), std::move(p.value)});
      return out;
    }
    // Merge the snapshot with the buffer, both in ascending order, then reverse if asked.
    std::vector<txn::KvPair> snap = std::move(*r);
    if (reverse) std::reverse(snap.begin(), snap.end());
    size_t i = 0;
    auto it = lo;
    while (i < snap.size() || it != hi) {
      if (it == hi || (i < snap.size() && snap[i].key < it->first)) {
        out.push_back({std::move(snap[i].key), std::move(snap[i].value)});
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

  void Put(const std::string& key, std::string value) override {
    Record(key);
    buffer_[key] = std::move(value);
  }
  void Delete(const std::string& key) override {
    Record(key);
    buffer_[key] = std::nullopt;
  }

  void BeginStatement() override {
    undo_.clear();
    in_statement_ = true;
  }
  void RollbackStatement() override {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      if (it->second.has_value()) {
        buffer_[it->first] = *it->second;
      } else {
        buffer_.erase(it->first);
      }
    }
    undo_.clear();
  }
  size_t BufferedWrites() const override { return buffer_.size(); }

  absl::Status Commit() override {
    if (buffer_.empty()) return absl::OkStatus();
    txn::PrewriteRequest req;
    req.start_ts = start_ts_;
    req.lock_ttl = 3000;
    req.primary = buffer_.begin()->first;
    req.txn_size = buffer_.size();
    std::vector<std::string> keys;
    for (auto& [k, v] : buffer_) {
      keys.push_back(k);
      req.mutations.push_back(v.has_value() ? txn::Mutation::Put(k, *v) : txn::Mutation::Delete(k));
    }
    auto pw = store_->storage()->Prewrite(req);
    if (!pw.ok()) {
      txn::RollbackRequest rb;
      rb.keys = keys;
      rb.start_ts = start_ts_;
      (void)store_->storage()->Rollback(rb);
      buffer_.clear();
      return MapTxnError(pw.status());
    }
    txn::CommitRequest cr;
    cr.keys = std::move(keys);
    cr.start_ts = start_ts_;
    cr.commit_ts = store_->NextTs();
    absl::Status s = store_->storage()->Commit(cr);
    buffer_.clear();
    return MapTxnError(s);
  }

  void Rollback() override {
    buffer_.clear();
    undo_.clear();
  }

 private:
  void Record(const std::string& key) {
    if (!in_statement_) return;
    auto it = buffer_.find(key);
    if (it == buffer_.end()) {
      undo_.emplace_back(key, std::nullopt);
    } else {
      undo_.emplace_back(key, it->second);
    }
  }

  LocalKvStore* store_;
  txn::TimeStamp start_ts_;
  static constexpr size_t kScanCacheBytes = 32 << 20;
  std::map<std::string, std::optional<std::string>> buffer_;
  std::map<std::tuple<std::string, std::string, size_t, bool>, std::vector<txn::KvPair>>
      scan_cache_;
  size_t cache_bytes_ = 0;
  std::vector<std::pair<std::string, std::optional<std::optional<std::string>>>> undo_;
  bool in_statement_ = false;
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
