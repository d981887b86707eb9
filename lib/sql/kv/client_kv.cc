#include "sql/kv/client_kv.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "txn/types.h"

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
    // Pessimistic: every key a locking statement wrote is locked already (Put and Delete
    // find the lock) unless it was written WithoutLock, and keys locked but not written
    // commit as lock records.
    for (const auto& [k, v] : buffer) {
      // A PutNotExists write goes to the store as an Insert (checked at the prewrite).
      absl::Status s = v.has_value() && MustNotExist(k) ? txn_->Insert(k, *v)
                       : WrittenWithoutLock(k)          ? txn_->WriteWithoutLock(k, v)
                       : v.has_value()                  ? txn_->Put(k, *v)
                                                        : txn_->Delete(k);
      if (!s.ok()) {
        (void)txn_->Rollback();
        return s;
      }
    }
    if (commit_check() != nullptr) {
      // 1PC and async commit must land within the window (their commit_ts is at most
      // start_ts's physical time plus it; start_ts is older than now, so this is safe).
      const uint64_t window_ms = commit_window_micros() / 1000;
      txn_->SetCommitCheck(
          commit_check(),
          window_ms == 0 ? 0 : txn::ComposeTs(txn::PhysicalMs(start_ts_) + window_ms, 0));
    }
    return txn_->Commit();
  }

  void Abandon() override {
    // A transaction dropped while active is rolled back by the client; one that only read
    // has nothing to undo.
    txn_.reset();
    read_txn_.reset();
    current_txn_.reset();
  }

  bool Pessimistic() const override { return pessimistic_; }
  bool StoreChecksExistence() const override { return true; }

  std::optional<CopSnapshot> StoreCopSnapshot() override {
    // Values locked by a locking read (newer than the snapshot) overlay the client's
    // reads; the coprocessor does not see them, so they join the overlay
    // (LockedOverlay) that the reader merges over its rows.
    if (txn_ == nullptr) return std::nullopt;
    CopSnapshot s;
    s.client = client_;
    s.read_ts = reader()->start_ts();
    return s;
  }

  std::vector<OverlayEntry> LockedOverlay(const std::string& start,
                                          const std::string& end) override {
    // Only the transaction's own client transaction returns them (READ COMMITTED's
    // snapshot reads go through read_txn_, which does not).
    if (txn_ == nullptr || reader() != txn_.get()) return {};
    std::vector<OverlayEntry> out;
    for (auto& [k, v] : txn_->LockedValues(start, end)) out.push_back({std::move(k), std::move(v)});
    return out;
  }

  // The client's locking read (LockKeys) locks each key at for_update_ts on its latest
  // version, taking a fresh for_update_ts when a newer commit exists (the lock is held
  // either way): then what the statement read at the old one may be stale.
  absl::Status LockKeys(const std::vector<std::string>& keys, bool* moved) override {
    *moved = false;
    if (!pessimistic_) return absl::OkStatus();
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    const txn::TimeStamp before = txn_->for_update_ts();
    absl::Status s = txn_->LockKeys(keys);
    if (!s.ok()) return s;
    *moved = txn_->for_update_ts() > before;
    return absl::OkStatus();
  }

  // A current read: a read-only client transaction at the for_update_ts the statement's
  // keys are locked at: a fresh TSO timestamp, or (`!fresh`) the present one. It is not
  // stale, so no GC safe-point check.
  absl::Status SetCurrentRead(bool on, bool fresh) override {
    if (!on) {
      current_txn_.reset();
      return absl::OkStatus();
    }
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    if (fresh) {
      auto ts = client_->GetTimestamp();
      if (!ts.ok()) return ts.status();
      txn_->RaiseForUpdateTs(*ts);
    }
    txn::client::BeginOptions b;
    b.read_ts = txn_->for_update_ts();
    b.read_ts_is_current = true;
    auto r = client_->Begin(b);
    if (!r.ok()) return r.status();
    current_txn_ = *std::move(r);
    return absl::OkStatus();
  }

  // One request locks the keys and returns their latest values (the client's locking
  // read with return values; a newer commit moves for_update_ts and the lock is taken on
  // it).
  absl::StatusOr<std::vector<Pair>> LockAndRead(const std::vector<std::string>& keys) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    // The values it returns are newer than the snapshot: the client keeps them, and
    // coprocessor reads merge them (LockedOverlay).
    auto r = txn_->BatchGetForUpdate(keys);
    if (!r.ok()) return r.status();
    std::vector<Pair> out;
    for (size_t i = 0; i < keys.size() && i < r->size(); ++i) {
      if ((*r)[i].has_value()) out.push_back({keys[i], *std::move((*r)[i])});
    }
    return out;
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
  txn::client::Txn* reader() {
    if (current_txn_ != nullptr) return current_txn_.get();
    return read_txn_ != nullptr ? read_txn_.get() : txn_.get();
  }

  txn::client::Client* const client_;
  std::unique_ptr<txn::client::Txn> txn_;
  std::unique_ptr<txn::client::Txn> read_txn_;     // READ COMMITTED's latest snapshot.
  std::unique_ptr<txn::client::Txn> current_txn_;  // A locking statement's current read.
  const uint64_t start_ts_;
  const bool pessimistic_;
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
