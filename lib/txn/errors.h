// Typed transaction errors (TiKV's mvcc::ErrorInner / kvrpcpb.KeyError).
//
// Convention: every fallible call in lib/txn returns absl::Status or absl::StatusOr. A
// Percolator outcome that a caller must react to specifically is an error status whose
// payload (type URL kTxnErrorPayloadUrl) carries a TxnError, encoded in a compact,
// strictly decoded form; GetTxnError() gives it back. The status code alone already says
// what to do, per DESIGN.md §13:
//
//   KeyIsLocked               FailedPrecondition  resolve the lock(s), then retry the call
//   WriteConflict             Aborted             retry the transaction
//   PessimisticLockRolledBack Aborted
//   PessimisticLockNotFound   Aborted
//   TxnLockNotFound           Aborted             (commit: the transaction was rolled back)
//   Committed                 FailedPrecondition  (cleanup of a committed transaction)
//   CommitTsExpired           FailedPrecondition  commit again with a newer commit_ts
//   AlreadyExist              AlreadyExists
//   TxnNotFound               NotFound
//   LockTypeNotMatch          InvalidArgument     a client protocol error
//
// Corrupt stored bytes are DataLoss (no payload); bad requests are InvalidArgument.
//
// Thread safety: value types and pure functions.

#ifndef RUTILE_TXN_ERRORS_H_
#define RUTILE_TXN_ERRORS_H_

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "txn/types.h"

namespace rutile::txn {

inline constexpr char kTxnErrorPayloadUrl[] = "type.rutile.dev/rutile.txn.TxnError";

// One or more keys are locked by other transactions. Commands that check many keys at once
// (prewrite, batch get) report every lock they met, so the client resolves them in one go.
struct KeyIsLocked {
  std::vector<LockInfo> locks;  // Never empty.
  bool operator==(const KeyIsLocked&) const = default;
};

struct WriteConflict {
  TimeStamp start_ts = 0;
  TimeStamp conflict_start_ts = 0;
  TimeStamp conflict_commit_ts = 0;
  std::string key;  // Raw.
  std::string primary;
  bool operator==(const WriteConflict&) const = default;
};

struct TxnLockNotFound {
  TimeStamp start_ts = 0;
  TimeStamp commit_ts = 0;
  std::string key;
  bool operator==(const TxnLockNotFound&) const = default;
};

struct AlreadyExist {
  std::string key;
  bool operator==(const AlreadyExist&) const = default;
};

struct Committed {
  TimeStamp start_ts = 0;
  TimeStamp commit_ts = 0;
  std::string key;
  bool operator==(const Committed&) const = default;
};

struct PessimisticLockNotFound {
  TimeStamp start_ts = 0;
  std::string key;
  bool operator==(const PessimisticLockNotFound&) const = default;
};

struct PessimisticLockRolledBack {
  TimeStamp start_ts = 0;
  std::string key;
  bool operator==(const PessimisticLockRolledBack&) const = default;
};

struct CommitTsExpired {
  TimeStamp start_ts = 0;
  TimeStamp commit_ts = 0;
  std::string key;
  TimeStamp min_commit_ts = 0;
  bool operator==(const CommitTsExpired&) const = default;
};

struct TxnNotFound {
  TimeStamp start_ts = 0;
  std::string key;
  bool operator==(const TxnNotFound&) const = default;
};

struct LockTypeNotMatch {
  TimeStamp start_ts = 0;
  std::string key;
  bool pessimistic = false;  // The lock found is pessimistic.
  bool operator==(const LockTypeNotMatch&) const = default;
};

using TxnError = std::variant<KeyIsLocked, WriteConflict, TxnLockNotFound, AlreadyExist, Committed,
                              PessimisticLockNotFound, PessimisticLockRolledBack, CommitTsExpired,
                              TxnNotFound, LockTypeNotMatch>;

// An error status for `error`, with a readable message and the payload.
absl::Status MakeTxnError(TxnError error);

// The TxnError a status carries, or nullopt (OK status, no payload, or a payload that does
// not decode).
std::optional<TxnError> GetTxnError(const absl::Status& status);

// Shorthand: the payload of `status` if it is of type T.
template <typename T>
std::optional<T> GetTxnErrorAs(const absl::Status& status) {
  std::optional<TxnError> e = GetTxnError(status);
  if (!e.has_value()) return std::nullopt;
  if (T* t = std::get_if<T>(&*e)) return std::move(*t);
  return std::nullopt;
}

// Encoding of a TxnError (the payload bytes); Decode is strict and returns nullopt on any
// malformed input.
std::string EncodeTxnError(const TxnError& error);
std::optional<TxnError> DecodeTxnError(std::string_view data);

std::string TxnErrorString(const TxnError& error);

// A commit whose outcome the client cannot tell: the transaction may or may not have
// committed (a prewrite or the primary's commit timed out; TiDB's ErrResultUndetermined).
// DeadlineExceeded with a payload of its own, so that callers never take it for a lock
// wait or a conflict and run the transaction again.
inline constexpr char kUndeterminedPayloadUrl[] = "type.rutile.dev/rutile.txn.Undetermined";
absl::Status UndeterminedError(std::string_view message);
bool IsUndetermined(const absl::Status& status);

}  // namespace rutile::txn

#endif  // RUTILE_TXN_ERRORS_H_
