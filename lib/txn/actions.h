// Percolator's per-key steps as free functions (TiKV's src/storage/txn/actions/): each
// reads through an MvccReader (one snapshot) and records its writes into an MvccTxn. They
// never write to an engine themselves and never retry. Commands (commands.h) run them over
// a request's keys.
//
// Keys are encoded (types.h EncodeKey); errors are typed (errors.h).
//
// Thread safety: pure functions over caller-owned reader and txn.

#ifndef RUTILE_TXN_ACTIONS_H_
#define RUTILE_TXN_ACTIONS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "txn/errors.h"
#include "txn/mvcc_reader.h"
#include "txn/mvcc_txn.h"
#include "txn/types.h"

namespace rutile::txn {

// ---- Prewrite ----

enum class CommitKind { kTwoPc, kAsync, kOnePc };

// What every key of one prewrite shares.
struct TxnProps {
  TimeStamp start_ts = 0;
  std::string primary;  // Raw.
  bool pessimistic = false;
  TimeStamp for_update_ts = 0;         // Pessimistic transactions.
  bool skip_constraint_check = false;  // Optimistic transactions only.
  CommitKind commit_kind = CommitKind::kTwoPc;
  TimeStamp max_commit_ts = 0;  // Async commit / 1PC: give up above this (0: no limit).
  uint64_t txn_size = 0;
  uint64_t lock_ttl = 0;
  TimeStamp min_commit_ts = 0;
  bool is_retry_request = false;
};

struct PrewriteKeyResult {
  // Async commit / 1PC: the key's min_commit_ts; else 0.
  TimeStamp min_commit_ts = 0;
  // The calculated commit_ts exceeded max_commit_ts: the caller must redo the whole
  // prewrite as plain 2PC (what TiKV calls "fallback"). Nothing useful was written.
  bool commit_ts_too_large = false;
  // The key was already prewritten or committed by this transaction; nothing was written.
  bool duplicate = false;
};

// Prewrites one mutation: checks locks and newer writes, then writes a lock (or, for 1PC,
// queues the lock in txn->locks_for_1pc()). `secondaries` is set for async commit (the
// primary carries the list, other keys an empty one). `is_pessimistic_lock`: the key must
// hold this transaction's pessimistic lock (pessimistic transactions only).
absl::StatusOr<PrewriteKeyResult> PrewriteKey(
    MvccTxn* txn, MvccReader* reader, const TxnProps& props, const Mutation& mutation,
    const std::optional<std::vector<std::string>>& secondaries, bool is_pessimistic_lock);

// ---- Commit ----

// Turns the transaction's lock on `key` into a commit record at commit_ts. Idempotent: a
// key already committed by the transaction succeeds. TxnLockNotFound if the transaction was
// rolled back or never prewrote the key; CommitTsExpired if commit_ts < the lock's
// min_commit_ts.
absl::Status CommitKey(MvccTxn* txn, MvccReader* reader, std::string_view key, TimeStamp start_ts,
                       TimeStamp commit_ts);

// Writes the commit record for a lock a 1PC prewrite queued (see PrewriteKey).
absl::Status CommitOnePcLock(MvccTxn* txn, MvccReader* reader, const MvccTxn::OnePcLock& l,
                             TimeStamp commit_ts);

// ---- Rollback, cleanup, check_txn_status ----

struct TxnStatus {
  enum class Kind {
    kRolledBack,             // Already rolled back.
    kTtlExpire,              // The lock had expired and was rolled back now.
    kLockNotExist,           // No lock, no record: a rollback record was written now.
    kUncommitted,            // The lock is alive (see lock, min_commit_ts_pushed).
    kCommitted,              // Committed at commit_ts.
    kPessimisticRollBack,    // An expired pessimistic primary lock was just removed.
    kLockNotExistDoNothing,  // No lock; nothing written (resolving a pessimistic lock).
  };
  Kind kind = Kind::kLockNotExist;
  TimeStamp commit_ts = 0;
  std::optional<Lock> lock;
  bool min_commit_ts_pushed = false;
};
const char* TxnStatusKindName(TxnStatus::Kind k);

enum class MissingLockAction { kRollback, kProtectedRollback, kReturnError };

// Rolls back the transaction's `lock` on `key`: removes it and its long value, writes a
// rollback record (protected for a pessimistic transaction's primary) unless the
// transaction already has one, and with `collapse_rollback` removes an older unprotected
// rollback record.
absl::Status RollbackLock(MvccTxn* txn, MvccReader* reader, std::string_view key, const Lock& lock,
                          TimeStamp start_ts, bool collapse_rollback);

// Decides from the write CF what happened to transaction start_ts on `key` when its lock is
// absent (`mismatch_lock` is another transaction's lock there, if any), writing a rollback
// record per `action`.
absl::StatusOr<TxnStatus> CheckTxnStatusMissingLock(MvccTxn* txn, MvccReader* reader,
                                                    std::string_view key, TimeStamp start_ts,
                                                    const std::optional<Lock>& mismatch_lock,
                                                    MissingLockAction action,
                                                    bool resolving_pessimistic_lock);

// The status of a live primary lock: rolls it back if its TTL expired at current_ts, else
// pushes its min_commit_ts above caller_start_ts (not for async commit unless
// force_sync_commit).
absl::StatusOr<TxnStatus> CheckTxnStatusLockExists(MvccTxn* txn, MvccReader* reader,
                                                   std::string_view key, Lock lock,
                                                   TimeStamp current_ts, TimeStamp caller_start_ts,
                                                   bool force_sync_commit,
                                                   bool resolving_pessimistic_lock);

// Rolls back transaction start_ts on `key` (TiKV's cleanup): with a non-zero current_ts a
// live lock is KeyIsLocked instead; a committed transaction is Committed{commit_ts}; a
// missing lock gets a rollback record (protected when protect_rollback).
absl::Status Cleanup(MvccTxn* txn, MvccReader* reader, std::string_view key, TimeStamp start_ts,
                     TimeStamp current_ts, bool protect_rollback);

// ---- Pessimistic locks ----

struct PessimisticLockParams {
  std::string primary;  // Raw.
  TimeStamp start_ts = 0;
  TimeStamp for_update_ts = 0;
  uint64_t lock_ttl = 0;
  TimeStamp min_commit_ts = 0;
  bool should_not_exist = false;
  bool need_value = false;
};

// Acquires a pessimistic lock on `key`. Returns the value at for_update_ts when
// need_value. WriteConflict when a commit is newer than for_update_ts;
// PessimisticLockRolledBack when the transaction was rolled back on the key; KeyIsLocked;
// AlreadyExist with should_not_exist.
absl::StatusOr<std::optional<std::string>> AcquirePessimisticLockKey(
    MvccTxn* txn, MvccReader* reader, std::string_view key, const PessimisticLockParams& p);

// ---- GC ----

struct GcStats {
  size_t keys = 0;
  size_t versions_deleted = 0;
  size_t values_deleted = 0;
};

// Removes the versions of `key` that no read at or above safe_point can see: every record
// below the newest data version at or below safe_point, that version itself if it is a
// Delete, and Lock/Rollback records above it (but at or below safe_point).
absl::Status GcKey(MvccTxn* txn, MvccReader* reader, std::string_view key, TimeStamp safe_point,
                   GcStats* stats);

}  // namespace rutile::txn

#endif  // RUTILE_TXN_ACTIONS_H_
