// TiKV's transaction commands as free functions (src/storage/txn/commands/): each takes a
// request, reads through an MvccReader and records its writes in an MvccTxn. The caller
// owns everything around it: latches on the command's keys (LatchKeys), the snapshot, and
// applying txn->batch() atomically before dropping txn's memory-lock guards (TxnStorage in
// storage.h does all that over a local engine; raftstore will do it through RaftKv at
// region leaders). On any error the txn's writes must be discarded.
//
// Keys in requests and responses are raw user keys. Errors are typed (errors.h).
//
// Thread safety: pure functions over caller-owned reader and txn.

#ifndef RUTILE_TXN_COMMANDS_H_
#define RUTILE_TXN_COMMANDS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "txn/actions.h"
#include "txn/mvcc_reader.h"
#include "txn/mvcc_txn.h"
#include "txn/types.h"

namespace rutile::txn {

// ---- Prewrite ----

struct PrewriteRequest {
  std::vector<Mutation> mutations;
  std::string primary;
  TimeStamp start_ts = 0;
  uint64_t lock_ttl = 0;
  bool skip_constraint_check = false;
  uint64_t txn_size = 0;
  TimeStamp min_commit_ts = 0;
  // Async commit: the primary's lock lists every secondary key.
  bool use_async_commit = false;
  std::vector<std::string> secondaries;
  // Commit in one phase if every key is here (the client knows they share a region).
  bool try_one_pc = false;
  // Async commit / 1PC: fall back to 2PC if the commit_ts would exceed this (0: no limit).
  TimeStamp max_commit_ts = 0;
  // Pessimistic transactions: non-zero for_update_ts, and per mutation whether it must
  // hold a pessimistic lock (empty: none does).
  TimeStamp for_update_ts = 0;
  std::vector<bool> is_pessimistic_lock;
  bool is_retry_request = false;
};

struct PrewriteResponse {
  // Async commit: the transaction's min_commit_ts (max over keys). 0 for 2PC, after a
  // fallback, and for 1PC.
  TimeStamp min_commit_ts = 0;
  // Non-zero when the transaction was committed in one phase at this commit_ts.
  TimeStamp one_pc_commit_ts = 0;
  // An async-commit or 1PC prewrite fell back to 2PC (max_commit_ts was too small).
  bool fell_back = false;
};

// KeyIsLocked lists every lock met (and nothing is written); other errors stop at the
// first key.
absl::StatusOr<PrewriteResponse> Prewrite(MvccReader* reader, MvccTxn* txn,
                                          const PrewriteRequest& req);

// ---- Commit, rollback, cleanup ----

struct CommitRequest {
  std::vector<std::string> keys;
  TimeStamp start_ts = 0;
  TimeStamp commit_ts = 0;
};
absl::Status Commit(MvccReader* reader, MvccTxn* txn, const CommitRequest& req);

struct RollbackRequest {
  std::vector<std::string> keys;
  TimeStamp start_ts = 0;
};
// Rolls back the keys (unprotected rollback records). Committed if any key was committed.
absl::Status Rollback(MvccReader* reader, MvccTxn* txn, const RollbackRequest& req);

struct CleanupRequest {
  std::string key;
  TimeStamp start_ts = 0;
  TimeStamp current_ts = 0;  // 0: roll back even a live lock.
};
absl::Status CleanupCommand(MvccReader* reader, MvccTxn* txn, const CleanupRequest& req);

// ---- Transaction status ----

struct CheckTxnStatusRequest {
  std::string primary_key;
  TimeStamp lock_ts = 0;
  TimeStamp caller_start_ts = 0;
  TimeStamp current_ts = 0;
  bool rollback_if_not_exist = false;
  bool force_sync_commit = false;
  bool resolving_pessimistic_lock = false;
};
// Raises max_ts to caller_start_ts (so the primary cannot commit below the caller).
absl::StatusOr<TxnStatus> CheckTxnStatus(MvccReader* reader, MvccTxn* txn,
                                         const CheckTxnStatusRequest& req);

struct TxnHeartBeatRequest {
  std::string primary_key;
  TimeStamp start_ts = 0;
  uint64_t advise_ttl = 0;
};
// Returns the lock's TTL after raising it to advise_ttl. TxnNotFound without the lock.
absl::StatusOr<uint64_t> TxnHeartBeat(MvccReader* reader, MvccTxn* txn,
                                      const TxnHeartBeatRequest& req);

struct CheckSecondaryLocksRequest {
  std::vector<std::string> keys;
  TimeStamp start_ts = 0;
};
struct SecondaryLocksStatus {
  enum class Kind { kLocked, kCommitted, kRolledBack };
  Kind kind = Kind::kLocked;
  std::vector<LockInfo> locks;  // kLocked: every key's lock.
  TimeStamp commit_ts = 0;      // kCommitted.
};
// Async commit recovery: all locks present, or the transaction's fate. A key with no lock
// and no record gets a protected rollback (so the transaction can no longer commit).
absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(MvccReader* reader, MvccTxn* txn,
                                                         const CheckSecondaryLocksRequest& req);

// ---- Lock resolution ----

struct ResolveLockRequest {
  // start_ts -> commit_ts (0: roll back).
  std::map<TimeStamp, TimeStamp> txn_status;
  // Resolve only these keys (of the single transaction in txn_status); empty: scan.
  std::vector<std::string> keys;
  std::string start_key;  // Raw scan bounds (empty end: no bound).
  std::string end_key;
  size_t scan_limit = 0;  // 0: every lock in range.
};
struct ResolveLockResponse {
  size_t resolved = 0;
  bool has_more = false;  // Hit scan_limit: call again.
};
absl::StatusOr<ResolveLockResponse> ResolveLock(MvccReader* reader, MvccTxn* txn,
                                                const ResolveLockRequest& req);

struct ScanLockRequest {
  TimeStamp max_ts = 0;  // Locks with start_ts <= max_ts.
  std::string start_key;
  std::string end_key;
  size_t limit = 0;
};
absl::StatusOr<std::vector<LockInfo>> ScanLock(MvccReader* reader, const ScanLockRequest& req);

// ---- Pessimistic locking ----

struct AcquirePessimisticLockRequest {
  struct KeyReq {
    std::string key;
    bool should_not_exist = false;
  };
  std::vector<KeyReq> keys;
  std::string primary;
  TimeStamp start_ts = 0;
  TimeStamp for_update_ts = 0;
  uint64_t lock_ttl = 0;
  TimeStamp min_commit_ts = 0;
  bool return_values = false;
};
struct AcquirePessimisticLockResponse {
  std::vector<std::optional<std::string>> values;  // With return_values, one per key.
};
// Raises max_ts to for_update_ts (the locked keys were read at it). Stops at the first
// failing key; then nothing is written.
absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
    MvccReader* reader, MvccTxn* txn, const AcquirePessimisticLockRequest& req);

struct PessimisticRollbackRequest {
  std::vector<std::string> keys;
  TimeStamp start_ts = 0;
  TimeStamp for_update_ts = 0;
};
// Removes this transaction's pessimistic locks with for_update_ts <= req.for_update_ts.
absl::Status PessimisticRollback(MvccReader* reader, MvccTxn* txn,
                                 const PessimisticRollbackRequest& req);

// ---- Garbage collection and range deletion ----

struct GcRequest {
  TimeStamp safe_point = 0;
  std::string start_key;
  std::string end_key;
};
absl::StatusOr<GcStats> Gc(MvccReader* reader, MvccTxn* txn, const GcRequest& req);

struct DeleteRangeRequest {
  std::string start_key;
  std::string end_key;  // Empty: no bound.
};
// Removes every lock, value and record of the keys in range (all three CFs).
absl::Status DeleteRange(MvccTxn* txn, const DeleteRangeRequest& req);

// The encoded keys a write command needs latches on.
std::vector<std::string> LatchKeys(const std::vector<std::string>& raw_keys);

}  // namespace rutile::txn

#endif  // RUTILE_TXN_COMMANDS_H_
