// The coprocessor at a store (DESIGN.md §10): runs sql/coprocessor's DAG over a region's
// MVCC snapshot taken through txn::RegionTxnStore::SnapshotForRead, which applies the
// same rules as the transactional scans (max_ts raised, the memory lock table checked,
// locks with start_ts <= ts reported as KeyIsLocked). lib/node wires it because the DAG
// lives in sql and the MVCC reader in txn, and neither may include the other's store side.
//
// In process, txn::client reaches it through TxnService::Coprocessor; over RPC through
// "Kv.Coprocessor" (txn_kv_service.h).
//
// Thread safety: may run concurrently.

#ifndef RUTILE_NODE_COPROCESSOR_HOST_H_
#define RUTILE_NODE_COPROCESSOR_HOST_H_

#include "absl/status/statusor.h"
#include "coprocessor.pb.h"
#include "sql/coprocessor/column_cache.h"
#include "txn/region_store.h"

namespace rutile::node {

// Runs one region's coprocessor request at `store`. Region errors and KeyIsLocked come
// back as the status; a malformed DAG is InvalidArgument. `cache` (may be null): the
// store's column cache (sql/coprocessor/column_cache.h), keyed by the region's data
// version, which the store's snapshots carry (raftstore::DataVersion).
absl::StatusOr<coprocessor::Response> RunCoprocessor(txn::RegionTxnStore* store,
                                                     const txn::RegionContext& ctx,
                                                     const coprocessor::Request& req,
                                                     sql::coprocessor::ColumnCache* cache);

}  // namespace rutile::node

#endif  // RUTILE_NODE_COPROCESSOR_HOST_H_
