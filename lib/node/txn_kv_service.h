// The transactional commands of the KV RPC service (lib/proto/kvrpcpb.proto, "Kv.Txn*",
// "Kv.Prewrite", ...): the server side a Node registers on its RpcEndpoint, and the client
// side, RemoteTxnService, a txn::TxnService whose every call is one RPC to one store node.
// With it the Percolator client (txn/client) reaches stores in other processes exactly as
// it reaches in-process ones: the same region cache, backoff on typed region errors, lock
// resolver and commit protocols run over either.
//
// Errors. A handler's status travels in full in the response's `error` (code, message and
// every payload): region errors (raftstore/errors.h), Percolator's typed errors
// (txn/errors.h: KeyIsLocked with its locks, WriteConflict, ...) and deadlocks come back
// as the very status an in-process caller gets. (Departure from the raw commands'
// RegisterKvMethod, which carries region errors only: txn errors need their payloads.)
// The RPC status itself fails only for transport problems (DeadlineExceeded, Unavailable,
// Cancelled), which the client retries elsewhere (every txn command is idempotent), and
// for malformed requests (InvalidArgument; nothing changes).
//
// Deadlock detection. The wait-for graph of pessimistic lock waits is one per cluster (the
// role TiKV gives one leader): "Kv.Deadlock" serves a node's graph, and
// RemoteDeadlockDetector is a store's handle on the graph of another node. A detector that
// cannot be reached answers "no deadlock": the waiter then waits out its lock-wait timeout
// (slower, never wrong).
//
// Thread safety: handlers run concurrently on the endpoint's fibers; every class here may
// be called from many fibers at once.

#ifndef RUTILE_NODE_TXN_KV_SERVICE_H_
#define RUTILE_NODE_TXN_KV_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "kvrpcpb.pb.h"
#include "transport/rpc.h"
#include "txn/region_store.h"

namespace rutile::node {

inline constexpr char kTxnGetMethod[] = "Kv.TxnGet";
inline constexpr char kTxnBatchGetMethod[] = "Kv.TxnBatchGet";
inline constexpr char kTxnScanMethod[] = "Kv.TxnScan";
inline constexpr char kPrewriteMethod[] = "Kv.Prewrite";
inline constexpr char kCommitMethod[] = "Kv.Commit";
inline constexpr char kBatchRollbackMethod[] = "Kv.BatchRollback";
inline constexpr char kCheckTxnStatusMethod[] = "Kv.CheckTxnStatus";
inline constexpr char kTxnHeartBeatMethod[] = "Kv.TxnHeartBeat";
inline constexpr char kCheckSecondaryLocksMethod[] = "Kv.CheckSecondaryLocks";
inline constexpr char kResolveLockMethod[] = "Kv.ResolveLock";
inline constexpr char kScanLockMethod[] = "Kv.ScanLock";
inline constexpr char kPessimisticLockMethod[] = "Kv.PessimisticLock";
inline constexpr char kPessimisticRollbackMethod[] = "Kv.PessimisticRollback";
inline constexpr char kGcMethod[] = "Kv.Gc";
inline constexpr char kDeadlockMethod[] = "Kv.Deadlock";
inline constexpr char kCoprocessorMethod[] = "Kv.Coprocessor";

// A status in full on the wire, and back (an unknown code reads as kUnknown).
void StatusToProto(const absl::Status& s, kvrpcpb::ErrorStatus* out);
absl::Status StatusFromProto(const kvrpcpb::ErrorStatus& e);

// The transaction service of the node's store, made on first use (a null result answers
// Unavailable: the store is closed).
using TxnServiceProvider = std::function<std::shared_ptr<txn::TxnService>()>;

// Registers the transactional commands on `endpoint`. AlreadyExists if one is registered.
absl::Status RegisterTxnKvService(transport::RpcEndpoint& endpoint, TxnServiceProvider provider);

// Serves `detector` as the cluster's wait-for graph ("Kv.Deadlock").
absl::Status RegisterDeadlockService(transport::RpcEndpoint& endpoint,
                                     std::shared_ptr<txn::DeadlockDetector> detector);

// The wait-for graph kept by node `node`, called through `endpoint` (calls after the
// endpoint is gone, or that fail, report no deadlock).
class RemoteDeadlockDetector final : public txn::DeadlockDetector {
 public:
  RemoteDeadlockDetector(std::weak_ptr<transport::RpcEndpoint> endpoint, NodeId node,
                         uint64_t timeout_micros = 1'000'000)
      : endpoint_(std::move(endpoint)), node_(node), timeout_micros_(timeout_micros) {}

  bool Detect(txn::TimeStamp waiter, txn::TimeStamp holder) override;
  void CleanUpWaitFor(txn::TimeStamp waiter, txn::TimeStamp holder) override;
  void CleanUp(txn::TimeStamp waiter) override;

 private:
  bool Call(uint32_t op, txn::TimeStamp waiter, txn::TimeStamp holder);

  const std::weak_ptr<transport::RpcEndpoint> endpoint_;
  const NodeId node_;
  const uint64_t timeout_micros_;
};

// The transaction service of store node `store` over RPC. Each call waits at most
// `attempt_timeout_micros` (plus the lock wait of a pessimistic lock) for its answer.
// `endpoint` must outlive the object.
class RemoteTxnService final : public txn::TxnService {
 public:
  RemoteTxnService(transport::RpcEndpoint* endpoint, NodeId store, uint64_t attempt_timeout_micros)
      : endpoint_(endpoint), store_(store), timeout_micros_(attempt_timeout_micros) {}

  absl::StatusOr<std::optional<std::string>> Get(const txn::RegionContext& ctx,
                                                 const std::string& key, txn::TimeStamp ts,
                                                 const txn::TxnReadOptions& opts) override;
  absl::StatusOr<std::vector<txn::KvPair>> BatchGet(const txn::RegionContext& ctx,
                                                    const std::vector<std::string>& keys,
                                                    txn::TimeStamp ts,
                                                    const txn::TxnReadOptions& opts) override;
  absl::StatusOr<std::vector<txn::KvPair>> Scan(const txn::RegionContext& ctx,
                                                const txn::ScanOptions& opts) override;
  absl::StatusOr<txn::PrewriteResponse> Prewrite(const txn::RegionContext& ctx,
                                                 const txn::PrewriteRequest& req) override;
  absl::Status Commit(const txn::RegionContext& ctx, const txn::CommitRequest& req) override;
  absl::Status Rollback(const txn::RegionContext& ctx, const txn::RollbackRequest& req) override;
  absl::StatusOr<txn::TxnStatus> CheckTxnStatus(const txn::RegionContext& ctx,
                                                const txn::CheckTxnStatusRequest& req) override;
  absl::StatusOr<uint64_t> TxnHeartBeat(const txn::RegionContext& ctx,
                                        const txn::TxnHeartBeatRequest& req) override;
  absl::StatusOr<txn::SecondaryLocksStatus> CheckSecondaryLocks(
      const txn::RegionContext& ctx, const txn::CheckSecondaryLocksRequest& req) override;
  absl::StatusOr<txn::ResolveLockResponse> ResolveLock(const txn::RegionContext& ctx,
                                                       const txn::ResolveLockRequest& req) override;
  absl::StatusOr<std::vector<txn::LockInfo>> ScanLock(const txn::RegionContext& ctx,
                                                      const txn::ScanLockRequest& req) override;
  absl::StatusOr<txn::AcquirePessimisticLockResponse> AcquirePessimisticLock(
      const txn::RegionContext& ctx, const txn::AcquirePessimisticLockRequest& req,
      uint64_t wait_timeout_ms) override;
  absl::Status PessimisticRollback(const txn::RegionContext& ctx,
                                   const txn::PessimisticRollbackRequest& req) override;
  absl::StatusOr<txn::GcStats> Gc(const txn::RegionContext& ctx,
                                  txn::TimeStamp safe_point) override;
  absl::StatusOr<coprocessor::Response> Coprocessor(const txn::RegionContext& ctx,
                                                    const coprocessor::Request& req) override;

 private:
  template <typename Resp, typename Req>
  absl::StatusOr<Resp> Call(const char* method, const Req& req, uint64_t extra_micros = 0);

  transport::RpcEndpoint* const endpoint_;
  const NodeId store_;
  const uint64_t timeout_micros_;
};

}  // namespace rutile::node

#endif  // RUTILE_NODE_TXN_KV_SERVICE_H_
