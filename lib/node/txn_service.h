// The transaction store at region leaders, wired to raftstore, and the in-process TxnClient
// (include/rutile/kv.h).
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

#include "absl/status/statusor.h"
#include "node/local_pd.h"
#include "raftstore/raft_kv.h"
#include "raftstore/store.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "txn/client/txn_client.h"
#include "txn/region_store.h"

namespace rutile {

struct Transaction::Impl {
  std::unique_ptr<txn::client::Txn> txn;
};

namespace node {

// The transaction service of `store` (created on first use, shared while anyone holds
// it). `pd` gives timestamps and identifies the cluster's deadlock detector; waits (lock
// waits, request timeouts) run on `env`, the clients' Env, so they end even when the
// store's node crashed.
std::shared_ptr<txn::TxnService> TxnServiceFor(std::shared_ptr<raftstore::Store> store, LocalPd* pd,
                                               Env* env);

// The store serving a store id now, or null.
using TxnStoreResolver = std::function<std::shared_ptr<raftstore::Store>(uint64_t store_id)>;

struct TxnAccess {
  // A TxnClient whose waits run on `env`, reaching stores through `resolve` (test clusters
  // whose nodes crash and restart under the client).
  static absl::StatusOr<std::unique_ptr<TxnClient>> Open(Env* env, std::shared_ptr<Pd> pd,
                                                         TxnStoreResolver resolve,
                                                         const TxnClientOptions& options);
  // The client engine behind a TxnClient (null for null), for the SQL layer's KvStore.
  static txn::client::Client* ClientOf(TxnClient* client);
};

}  // namespace node
}  // namespace rutile

#endif  // RUTILE_NODE_TXN_SERVICE_H_
