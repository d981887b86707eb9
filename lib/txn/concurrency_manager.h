// ConcurrencyManager: what async commit and 1PC need to pick a safe commit timestamp
// without asking PD (TiKV's components/concurrency_manager).
//
//   max_ts      the largest timestamp any reader on this store has read at. A read at ts
//               raises it to ts *before* it looks at the data; an async-commit prewrite
//               computes min_commit_ts = max(max_ts, start_ts, for_update_ts) + 1 *after*
//               putting its lock into the memory table. So either the reader sees the
//               lock, or the lock's commit_ts is above the read: the read never misses a
//               transaction that commits below it.
//   lock table  locks of prewrites being written, keyed by encoded key, visible to readers
//               (ReadKeyCheck / ReadRangeCheck) from the moment min_commit_ts is computed
//               until the batch is applied and the KeyHandleGuard is dropped.
//
// Thread safety: every method may be called from any fiber or thread. LockKey blocks the
// calling fiber while another guard holds the same key (latches normally prevent that).
// The manager must outlive every guard it hands out.

#ifndef RUTILE_TXN_CONCURRENCY_MANAGER_H_
#define RUTILE_TXN_CONCURRENCY_MANAGER_H_

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

  using LockCheck = std::function<absl::Status(const Lock& lock, std::string_view encoded_key)>;
  // Runs `check` on the memory lock of encoded `key`, if one is published; returns its
  // first error.
  absl::Status ReadKeyCheck(std::string_view key, const LockCheck& check);
  // The same over every published lock with encoded key in [start, end) (empty end: no
  // upper bound).
  absl::Status ReadRangeCheck(std::string_view start, std::string_view end, const LockCheck& check);

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
  void SetLock(const std::string& key, Lock lock);

  std::atomic<TimeStamp> max_ts_;
  Mutex mu_;
  CondVar cv_;
  std::map<std::string, Entry, std::less<>> table_;  // Guarded by mu_.
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_CONCURRENCY_MANAGER_H_
