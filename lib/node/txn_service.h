// The transaction store at region leaders, wired to raftstore, and the in-process TxnClient
// (include/rutile/kv.h), and the TxnClient over RPC (txn_kv_service.h).
//
// StoreRegionKv adapts raftstore::RaftKv to txn::RegionKv: a txn write is one Raft
// proposal of the command's WriteBatch (epoch-checked at propose and apply), a snapshot is
// RaftKv's lease/ReadIndex read view, and timestamps come from PD. Each raftstore::Store
// gets one txn::RegionTxnStore (latches, concurrency manager, lock wait queue), shared by
// every client in the process; each cluster (PD) gets one deadlock detector, the role TiKV
// gives to one leader of the cluster.
//
// Thread safety: every function may be called from any fiber.

#ifndef RUTILE_NODE_TXN_SERVICE_H_
#define RUTILE_NODE_TXN_SERVICE_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "node/local_pd.h"
#include "raftstore/raft_kv.h"
#include "raftstore/store.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "sql/coprocessor/column_cache.h"
#include "transport/rpc.h"
#include "txn/client/txn_client.h"
#include "txn/region_store.h"

namespace rutile {

struct Transaction::Impl {
  std::unique_ptr<txn::client::Txn> txn;
};

namespace node {

// What a store's transaction service needs besides the store: fresh TSO timestamps (a new
// leader raises max_ts with one) and the cluster's deadlock detector.
struct TxnHostDeps {
  std::function<absl::StatusOr<txn::TimeStamp>()> timestamp;
  std::shared_ptr<txn::DeadlockDetector> detector;
};

// The transaction service of `store` (created on first use, shared while anyone holds it:
// in-process clients and the RPC handlers of the store's node use the same latches,
// concurrency manager and lock wait queues). The first caller's `deps` and `env` stay;
// waits (lock waits, request timeouts) run on `env`.
std::shared_ptr<txn::TxnService> TxnServiceFor(std::shared_ptr<raftstore::Store> store,
                                               const TxnHostDeps& deps, Env* env);
// The byte capacity of `store`'s coprocessor column cache (NodeOptions::
// columnar_cache_bytes; sql/coprocessor/column_cache.h), for its transaction service made
// later or already made. 0 (also for a store never named): no cache.
void SetColumnarCacheBytes(const raftstore::Store* store, size_t bytes);
// Drops the setting of a store that closed (its address may be reused).
void ForgetColumnarCacheBytes(const raftstore::Store* store);
// The cache's counters at `store` (zeros when it has no transaction service).
sql::coprocessor::ColumnCache::Stats ColumnarCacheStats(const raftstore::Store* store);
// The same for in-process clients: `pd` gives timestamps and identifies the cluster's
// deadlock detector; `env` is the clients' Env, so waits end even when the store's node
// crashed.
std::shared_ptr<txn::TxnService> TxnServiceFor(std::shared_ptr<raftstore::Store> store, PdApi* pd,
                                               Env* env);
// The deadlock detector of this process for the cluster identified by `cluster` (its PD),
// made on first use.
std::shared_ptr<txn::DeadlockDetector> LocalDeadlockDetector(const void* cluster);

// The store serving a store id now, or null.
using TxnStoreResolver = std::function<std::shared_ptr<raftstore::Store>(uint64_t store_id)>;

// What an RPC client asks of PD (whichever PD the cluster runs: the in-process LocalPd, a
// node-hosted one over RPC, or the replicated PD).
struct TxnPdAccess {
  std::function<absl::StatusOr<uint64_t>()> get_timestamp;
  // The region holding encoded `key` and its leader's store (0: unknown).
  std::function<absl::StatusOr<std::pair<metapb::Region, uint64_t>>(const std::string& key)>
      get_region_by_key;
  std::function<std::vector<std::pair<metapb::Region, uint64_t>>()> regions;
  std::function<absl::StatusOr<uint64_t>()> get_gc_safe_point;
  std::function<absl::StatusOr<uint64_t>(uint64_t)> update_gc_safe_point;
};
TxnPdAccess PdAccessOf(PdApi* pd);

struct TxnAccess {
  // A TxnClient whose waits run on `env`, reaching stores through `resolve` (test clusters
  // whose nodes crash and restart under the client).
  static absl::StatusOr<std::unique_ptr<TxnClient>> Open(Env* env, std::shared_ptr<Pd> pd,
                                                         TxnStoreResolver resolve,
                                                         const TxnClientOptions& options);
  // A TxnClient reaching every store by RPC (txn_kv_service.h), as node `client_id` on
  // `transport`, and PD through what `pd` makes over the client's endpoint.
  using PdAccessFactory =
      std::function<absl::StatusOr<TxnPdAccess>(transport::RpcEndpoint* endpoint)>;
  static absl::StatusOr<std::unique_ptr<TxnClient>> OpenRpc(Env* env, Transport* transport,
                                                            uint64_t client_id,
                                                            const PdAccessFactory& pd,
                                                            const TxnClientOptions& options);
  // The client engine behind a TxnClient (null for null), for the SQL layer's KvStore.
  static txn::client::Client* ClientOf(TxnClient* client);
};

}  // namespace node
}  // namespace rutile

#endif  // RUTILE_NODE_TXN_SERVICE_H_
