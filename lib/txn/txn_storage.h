// TxnStorage runs the transaction commands of commands.h against a local storage::Engine,
// the way TiKV's scheduler does: a write command takes the latches of its keys, reads a
// fresh snapshot, runs, applies its WriteBatch atomically, then releases its memory locks
// and latches. Reads raise max_ts and check the memory lock table before taking their
// snapshot. Raftstore will run the same commands at region leaders with RaftKv in place of
// the direct engine write; this class is what tests, benchmarks and a single-node store use
// until then.
//
// Thread safety: every method may be called from many fibers at once. The engine,
// concurrency manager and latches must outlive it.

#ifndef RUTILE_TXN_TXN_STORAGE_H_
#define RUTILE_TXN_TXN_STORAGE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/engine.h"
#include "txn/commands.h"
#include "txn/concurrency_manager.h"
#include "txn/latches.h"
#include "txn/reads.h"

namespace rutile::txn {

class TxnStorage {
 public:
  TxnStorage(storage::Engine* engine, ConcurrencyManager* cm, Latches* latches,
             storage::WriteOptions write_options = {})
      : engine_(engine), cm_(cm), latches_(latches), write_options_(write_options) {}

  storage::Engine* engine() const { return engine_; }
  ConcurrencyManager* cm() const { return cm_; }

  // ---- Reads ----
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key, TimeStamp ts,
                                                 const TxnReadOptions& opts = {});
  absl::StatusOr<std::vector<KvPair>> BatchGet(const std::vector<std::string>& keys, TimeStamp ts,
                                               const TxnReadOptions& opts = {});
  absl::StatusOr<std::vector<KvPair>> Scan(const ScanOptions& opts);

  // ---- Writes ----
  absl::StatusOr<PrewriteResponse> Prewrite(const PrewriteRequest& req);
  absl::Status Commit(const CommitRequest& req);
  absl::Status Rollback(const RollbackRequest& req);
  absl::Status Cleanup(const CleanupRequest& req);
  absl::StatusOr<TxnStatus> CheckTxnStatus(const CheckTxnStatusRequest& req);
  absl::StatusOr<uint64_t> TxnHeartBeat(const TxnHeartBeatRequest& req);
  absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(const CheckSecondaryLocksRequest& req);
  // Scans (without latches), then resolves the locks found under their latches.
  absl::StatusOr<ResolveLockResponse> ResolveLock(const ResolveLockRequest& req);
  // Raises max_ts to req.max_ts first; a memory lock below it is KeyIsLocked.
  absl::StatusOr<std::vector<LockInfo>> ScanLock(const ScanLockRequest& req);
  absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
      const AcquirePessimisticLockRequest& req);
  absl::Status PessimisticRollback(const PessimisticRollbackRequest& req);
  // GC and range deletion take no latches (they touch only what no transaction can).
  absl::StatusOr<GcStats> Gc(const GcRequest& req);
  absl::Status DeleteRange(const DeleteRangeRequest& req);

 private:
  template <typename F>
  auto RunWrite(const std::vector<std::string>& raw_keys, bool latch, F&& body)
      -> decltype(body(static_cast<MvccReader*>(nullptr), static_cast<MvccTxn*>(nullptr)));

  storage::Engine* engine_;
  ConcurrencyManager* cm_;
  Latches* latches_;
  storage::WriteOptions write_options_;
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_TXN_STORAGE_H_
