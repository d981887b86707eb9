// Snapshot reads with Percolator's isolation rules (TiKV's PointGetter and Scanner): point
// get, batch get and scans forward and backward over one MvccReader.
//
// Under snapshot isolation (SI) a read at ts meets a lock of another transaction with
// start_ts <= ts (Put or Delete, min_commit_ts <= ts) as KeyIsLocked: that transaction may
// still commit below ts. Exceptions: locks of transactions in `bypass_locks` (known to
// commit above ts), and the primary's own lock for a "read latest" at kMaxTs. A lock of a
// transaction in `resolved_locks` (known committed below ts) is read through: its value is
// the one returned. Read committed (RC) ignores locks.
//
// These functions neither raise max_ts nor look at the memory lock table: the caller does
// both *before* taking the snapshot (TxnStorage does; see concurrency_manager.h for why the
// order matters).
//
// Thread safety: functions over a caller-owned reader.

#ifndef RUTILE_TXN_READS_H_
#define RUTILE_TXN_READS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "txn/mvcc_reader.h"
#include "txn/types.h"

namespace rutile::txn {

enum class IsolationLevel { kSI, kRC };

struct TxnReadOptions {
  IsolationLevel isolation = IsolationLevel::kSI;
  std::vector<TimeStamp> bypass_locks;
  std::vector<TimeStamp> resolved_locks;
};

// One result of a batch get or a scan: a key and its value, or the error that key met
// (KeyIsLocked). Locked keys do not stop a scan; they are reported in order.
struct KvPair {
  std::string key;  // Raw.
  std::string value;
  absl::Status error;
};

// OK when a read at ts may ignore `lock` on encoded `key`; KeyIsLocked otherwise.
absl::Status CheckLockForRead(const Lock& lock, std::string_view key, TimeStamp ts,
                              const TxnReadOptions& opts);

// The value of raw `key` visible at ts.
absl::StatusOr<std::optional<std::string>> PointGet(MvccReader* reader, std::string_view key,
                                                    TimeStamp ts, const TxnReadOptions& opts);
// The same for an encoded key.
absl::StatusOr<std::optional<std::string>> PointGetEncoded(MvccReader* reader, std::string_view key,
                                                           TimeStamp ts,
                                                           const TxnReadOptions& opts);

// Values of raw `keys` at ts, in the order given, skipping absent keys; a locked key yields
// a KvPair carrying the error. Other errors fail the whole call.
absl::StatusOr<std::vector<KvPair>> BatchGet(MvccReader* reader,
                                             const std::vector<std::string>& keys, TimeStamp ts,
                                             const TxnReadOptions& opts);

struct ScanOptions {
  std::string start_key;  // Raw, inclusive.
  std::string end_key;    // Raw, exclusive; empty means no upper bound.
  TimeStamp ts = 0;
  size_t limit = 0;  // 0: no limit. Locked keys count towards it.
  bool key_only = false;
  bool reverse = false;  // From end_key down to start_key.
  TxnReadOptions read;
};

absl::StatusOr<std::vector<KvPair>> Scan(MvccReader* reader, const ScanOptions& opts);

// Scan without a result list (the coprocessor's path: no copy of a key or value per row):
// calls fn(raw key, value) for every visible pair in order until fn returns false; the
// views stay valid only during the call. `opts.limit` must be 0. Once a key is locked, fn
// is no longer called and the locks of the next 1024 keys are gathered too, so the caller
// resolves them together: the result is then one KeyIsLocked naming them all.
absl::Status ScanEach(MvccReader* reader, const ScanOptions& opts,
                      absl::FunctionRef<bool(std::string_view, std::string_view)> fn);

// What a scan saw of the versions it passed, for a caller that keeps what it read (the
// coprocessor's column cache): with no lock and no newer version, the values read are
// those of every read at a ts >= max_commit_ts of the same data.
struct ScanTrace {
  bool lock_seen = false;   // A lock in the range, whether or not it blocked the read.
  bool newer_seen = false;  // A write record above opts.ts, or a key not traced.
  // The largest commit_ts of each key's newest write record (any type).
  TimeStamp max_commit_ts = 0;
};
// ScanEach, filling `trace` (forward scans only; a reverse scan sets newer_seen).
absl::Status ScanEach(MvccReader* reader, const ScanOptions& opts,
                      absl::FunctionRef<bool(std::string_view, std::string_view)> fn,
                      ScanTrace* trace);

}  // namespace rutile::txn

#endif  // RUTILE_TXN_READS_H_
