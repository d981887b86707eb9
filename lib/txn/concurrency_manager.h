// ConcurrencyManager: what async commit and 1PC need to pick a safe commit timestamp
// without asking PD (TiKV's components/concurrency_manager).
//
//   max_ts      the largest timestamp any reader on this store has read at. A read at ts
//               raises it to ts *before* it looks at the memory lock table and the data.
//   lock table  locks of prewrites being written, keyed by encoded key, visible to readers
//               (ReadKeyCheck / ReadRangeCheck) from the moment min_commit_ts is computed
//               until the batch is applied and the KeyHandleGuard is dropped.
//
// Why a read never misses a transaction that commits at or below its ts (TiKV's order):
// an async-commit or 1PC prewrite first holds its key in the table (LockKey), then, in ONE
// hold of the table's mutex (KeyHandleGuard::WithLock), reads max_ts, computes
// min_commit_ts = max(max_ts, start_ts, for_update_ts) + 1 and publishes the lock. A
// reader's check of the key takes the same mutex after raising max_ts. If the check runs
// first, the prewrite's max_ts read follows the reader's raise, so the commit is above the
// read; if it runs after, it sees the lock. (Reading max_ts and publishing in two steps
// let a reader raise max_ts and check in between: it saw no lock and the lock got a
// min_commit_ts below its read.) A read that finds the table empty skips the mutex: the
// table size and max_ts are sequentially consistent atomics, the reader raises max_ts then
// loads the size, LockKey raises the size before WithLock loads max_ts, so one of the two
// sees the other (Dekker's argument).
//
// Thread safety: every method may be called from any fiber or thread. LockKey blocks the
// calling fiber while another guard holds the same key (latches normally prevent that).
// The manager must outlive every guard it hands out.

#ifndef RUTILE_TXN_CONCURRENCY_MANAGER_H_
#define RUTILE_TXN_CONCURRENCY_MANAGER_H_

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "txn/types.h"
#include "util/sync.h"

namespace rutile::txn {

class ConcurrencyManager;

// Holds one key in the memory lock table; releases it when destroyed. Move-only.
class KeyHandleGuard {
 public:
  KeyHandleGuard() = default;
  KeyHandleGuard(KeyHandleGuard&& other) noexcept;
  KeyHandleGuard& operator=(KeyHandleGuard&& other) noexcept;
  KeyHandleGuard(const KeyHandleGuard&) = delete;
  KeyHandleGuard& operator=(const KeyHandleGuard&) = delete;
  ~KeyHandleGuard();

  const std::string& key() const { return key_; }
  // Runs `fn` on this key's memory lock slot while holding the table's mutex: readers of
  // the key wait until it returns, and see what it left in the slot. `fn` must not block.
  void WithLock(absl::FunctionRef<void(std::optional<Lock>& slot)> fn);
  // Publishes `lock` to readers of this key.
  void SetLock(Lock lock);

 private:
  friend class ConcurrencyManager;
  KeyHandleGuard(ConcurrencyManager* cm, std::string key) : cm_(cm), key_(std::move(key)) {}
  void Release();

  ConcurrencyManager* cm_ = nullptr;
  std::string key_;
};

class ConcurrencyManager {
 public:
  // `latest_ts`: a timestamp at least as large as any read served before (e.g. from PD when
  // a region leader starts).
  explicit ConcurrencyManager(TimeStamp latest_ts);
  ConcurrencyManager(const ConcurrencyManager&) = delete;
  ConcurrencyManager& operator=(const ConcurrencyManager&) = delete;

  TimeStamp max_ts() const { return max_ts_.load(std::memory_order_seq_cst); }
  // Raises max_ts to `ts`. kMaxTs (a "read latest" marker) is ignored.
  void UpdateMaxTs(TimeStamp ts);

  // Locks encoded `key` in the memory table, waiting while another guard holds it.
  KeyHandleGuard LockKey(std::string_view key);

  using LockCheck = absl::FunctionRef<absl::Status(const Lock& lock, std::string_view encoded_key)>;
  // Runs `check` on the memory lock of encoded `key`, if one is published; returns its
  // first error. Call after raising max_ts to the read's ts. Takes no mutex while the
  // table is empty.
  absl::Status ReadKeyCheck(std::string_view key, LockCheck check);
  // The same over every published lock with encoded key in [start, end) (empty end: no
  // upper bound).
  absl::Status ReadRangeCheck(std::string_view start, std::string_view end, LockCheck check);

  // The smallest start_ts among published locks, if any (for resolved-ts / GC).
  std::optional<TimeStamp> GlobalMinLockTs();

  // Number of keys held in the table (tests).
  size_t TEST_LockedKeys();

 private:
  friend class KeyHandleGuard;
  struct Entry {
    std::optional<Lock> lock;
  };
  void Release(const std::string& key);
  void WithLock(const std::string& key, absl::FunctionRef<void(std::optional<Lock>&)> fn);

  std::atomic<TimeStamp> max_ts_;
  // table_.size(), written under mu_, read without it (see the comment at the top).
  std::atomic<size_t> table_size_{0};
  Mutex mu_;
  CondVar cv_;
  std::map<std::string, Entry, std::less<>> table_;  // Guarded by mu_.
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_CONCURRENCY_MANAGER_H_
