#include "sql/kv/client_kv.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rutile::sql::kv {
namespace {

class ClientTxn : public BufferedTxn {
 public:
  ClientTxn(txn::client::Client* client, std::unique_ptr<txn::client::Txn> txn, bool pessimistic)
      : client_(client),
        txn_(std::move(txn)),
        start_ts_(txn_->start_ts()),
        pessimistic_(pessimistic) {}
  ~ClientTxn() override = default;

  uint64_t start_ts() const override { return start_ts_; }

 protected:
  absl::StatusOr<std::optional<std::string>> SnapshotGet(const std::string& key) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    return reader()->Get(key);
  }

  absl::StatusOr<std::vector<Pair>> SnapshotBatchGet(
      const std::vector<std::string>& keys) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    auto r = reader()->BatchGet(keys);
    if (!r.ok()) return r.status();
    std::vector<Pair> out;
    for (size_t i = 0; i < keys.size() && i < r->size(); ++i) {
      if ((*r)[i].has_value()) out.push_back({keys[i], *std::move((*r)[i])});
    }
    return out;
  }

  absl::StatusOr<std::vector<Pair>> SnapshotScan(const std::string& start, const std::string& end,
                                                 size_t limit, bool reverse) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    auto r = reader()->Scan(start, end, reverse ? 0 : limit);
    if (!r.ok()) return r.status();
    std::vector<Pair> out;
    out.reserve(r->size());
    for (auto& [k, v] : *r) out.push_back({std::move(k), std::move(v)});
    if (reverse) {
      std::reverse(out.begin(), out.end());
      if (limit > 0 && out.size() > limit) out.resize(limit);
    }
    return out;
  }

  absl::Status CommitBuffer(const Buffer& buffer) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    // Keys a failed statement locked and handed to the client, then took back: the
    // client writes their snapshot value again (the lock makes that a no-op change).
    for (const std::string& k : taken_back_) {
      if (buffer.count(k) != 0) continue;
      auto v = txn_->Get(k);
      absl::Status s = !v.ok() ? v.status() : v->has_value() ? txn_->Put(k, **v) : txn_->Delete(k);
      if (!s.ok()) {
        (void)txn_->Rollback();
        return s;
      }
    }
    for (const auto& [k, v] : buffer) {
      absl::Status s = v.has_value() ? txn_->Put(k, *v) : txn_->Delete(k);
      if (!s.ok()) {
        (void)txn_->Rollback();
        return s;
      }
    }
    return txn_->Commit();
  }

  void Abandon() override {
    // A transaction dropped while active is rolled back by the client; one that only read
    // has nothing to undo.
    txn_.reset();
    read_txn_.reset();
  }

  // Pessimistic: the client's Put/Delete lock each key at start_ts (waiting for other
  // transactions' locks, with deadlock detection); a key already locked costs nothing.
  absl::Status LockWritten(const std::vector<std::string>& keys) override {
    if (!pessimistic_) return absl::OkStatus();
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    for (size_t i = 0; i < keys.size(); ++i) {
      auto b = Buffered(keys[i]);
      absl::Status s;
      if (b.has_value()) {
        s = b->has_value() ? txn_->Put(keys[i], **b) : txn_->Delete(keys[i]);
      }
      if (!s.ok()) {
        // The statement rolls back: what it handed over is restored at commit.
        for (size_t j = 0; j <= i; ++j) taken_back_.insert(keys[j]);
        return s;
      }
    }
    return absl::OkStatus();
  }

  // READ COMMITTED: a read-only client transaction at a fresh TSO timestamp serves the
  // snapshot reads from now on.
  absl::Status NewReadSnapshot() override {
    auto ts = client_->GetTimestamp();
    if (!ts.ok()) return ts.status();
    txn::client::BeginOptions b;
    b.read_ts = *ts;
    auto r = client_->Begin(b);
    if (!r.ok()) return r.status();
    read_txn_ = *std::move(r);
    return absl::OkStatus();
  }

 private:
  txn::client::Txn* reader() { return read_txn_ != nullptr ? read_txn_.get() : txn_.get(); }

  txn::client::Client* const client_;
  std::unique_ptr<txn::client::Txn> txn_;
  std::unique_ptr<txn::client::Txn> read_txn_;  // READ COMMITTED's latest snapshot.
  const uint64_t start_ts_;
  const bool pessimistic_;
  std::set<std::string> taken_back_;
};

}  // namespace

ClientKvStore::ClientKvStore(txn::client::Client* client, ClientKvOptions options)
    : client_(client), options_(options) {}

ClientKvStore::~ClientKvStore() = default;

absl::StatusOr<std::unique_ptr<KvTxn>> ClientKvStore::Begin() { return BeginWith(TxnOptions()); }

absl::StatusOr<std::unique_ptr<KvTxn>> ClientKvStore::BeginWith(const TxnOptions& options) {
  txn::client::BeginOptions b;
  b.pessimistic = options.pessimistic;
  b.try_one_pc = options_.try_one_pc;
  b.async_commit = options_.async_commit;
  b.lock_ttl_ms = options_.lock_ttl_ms;
  auto t = client_->Begin(b);
  if (!t.ok()) return MapTxnError(t.status());
  return std::unique_ptr<KvTxn>(
      std::make_unique<ClientTxn>(client_, *std::move(t), options.pessimistic));
}

}  // namespace rutile::sql::kv
