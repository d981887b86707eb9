// ClientKvStore: the SQL layer's KvStore over the cluster's transactional client
// (txn/client, the engine behind rutile::TxnClient). Every transaction takes its start_ts
// from PD's TSO and reads the snapshot at the region leaders (resolving or waiting for
// other transactions' locks); writes stay in the SQL transaction's buffer (BufferedTxn,
// so a failed statement rolls back in memory) and reach the client only at Commit, which
// runs Percolator's 2PC across regions, or one-phase commit when every key is in one
// region (try_one_pc).
//
// The client has no reverse scan: a descending scan reads its range ascending and
// reverses it (the limit applies after).
//
// Thread safety: the store is thread-safe (the client is); a KvTxn is used by one fiber
// at a time. Every call must run on a fiber of the cluster's Env.

#ifndef RUTILE_SQL_KV_CLIENT_KV_H_
#define RUTILE_SQL_KV_CLIENT_KV_H_

#include <memory>

#include "absl/status/statusor.h"
#include "sql/kv/kv.h"
#include "txn/client/txn_client.h"

namespace rutile::sql::kv {

struct ClientKvOptions {
  // Commit in one phase when every key is in one region (TiDB's default).
  bool try_one_pc = true;
  bool async_commit = false;
  uint64_t lock_ttl_ms = 3'000;
};

class ClientKvStore : public KvStore {
 public:
  // `client` must outlive the store and its transactions.
  explicit ClientKvStore(txn::client::Client* client, ClientKvOptions options = {});
  ~ClientKvStore() override;

  absl::StatusOr<std::unique_ptr<KvTxn>> Begin() override;
  absl::StatusOr<std::unique_ptr<KvTxn>> BeginWith(const TxnOptions& options) override;
  txn::client::Client* client() { return client_; }

 private:
  txn::client::Client* const client_;
  const ClientKvOptions options_;
};

}  // namespace rutile::sql::kv

#endif  // RUTILE_SQL_KV_CLIENT_KV_H_
