#include "sql/kv/client_kv.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace rutile::sql::kv {
namespace {

class ClientTxn : public BufferedTxn {
 public:
  explicit ClientTxn(std::unique_ptr<txn::client::Txn> txn)
      : txn_(std::move(txn)), start_ts_(txn_->start_ts()) {}
  ~ClientTxn() override = default;

  uint64_t start_ts() const override { return start_ts_; }

 protected:
  absl::StatusOr<std::optional<std::string>> SnapshotGet(const std::string& key) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    return txn_->Get(key);
  }

  absl::StatusOr<std::vector<Pair>> SnapshotBatchGet(
      const std::vector<std::string>& keys) override {
    if (txn_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    auto r = txn_->BatchGet(keys);
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
    auto r = txn_->Scan(start, end, reverse ? 0 : limit);
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
  }

 private:
  std::unique_ptr<txn::client::Txn> txn_;
  const uint64_t start_ts_;
};

}  // namespace

ClientKvStore::ClientKvStore(txn::client::Client* client, ClientKvOptions options)
    : client_(client), options_(options) {}

ClientKvStore::~ClientKvStore() = default;

absl::StatusOr<std::unique_ptr<KvTxn>> ClientKvStore::Begin() {
  txn::client::BeginOptions b;
  b.try_one_pc = options_.try_one_pc;
  b.async_commit = options_.async_commit;
  b.lock_ttl_ms = options_.lock_ttl_ms;
  auto t = client_->Begin(b);
  if (!t.ok()) return MapTxnError(t.status());
  return std::unique_ptr<KvTxn>(std::make_unique<ClientTxn>(*std::move(t)));
}

}  // namespace rutile::sql::kv
