// MvccTxn collects the writes of one transaction command (TiKV's mvcc/txn.rs): locks put or
// removed in CF lock, values in CF default, commit and rollback records in CF write, all
// into one storage::WriteBatch that the caller applies atomically (through the engine
// today, through RaftKv once raftstore exists). It also keeps the memory-lock guards of
// async-commit prewrites, which must stay held until the batch is applied, and the locks a
// 1PC prewrite turns into commit records at the end of the command.
//
// Keys passed here are encoded (types.h: EncodeKey).
//
// Thread safety: none; one command owns one MvccTxn.

#ifndef RUTILE_TXN_MVCC_TXN_H_
#define RUTILE_TXN_MVCC_TXN_H_

#include <string>
#include <string_view>
#include <vector>

#include "storage/write_batch.h"
#include "txn/concurrency_manager.h"
#include "txn/mem_locks.h"
#include "txn/types.h"

namespace rutile::txn {

class MvccTxn {
 public:
  explicit MvccTxn(ConcurrencyManager* cm) : cm_(cm) {}
  MvccTxn(const MvccTxn&) = delete;
  MvccTxn& operator=(const MvccTxn&) = delete;
  MvccTxn(MvccTxn&&) = default;
  MvccTxn& operator=(MvccTxn&&) = default;

  ConcurrencyManager* cm() const { return cm_; }
  // Commands at a region leader: lock changes of keys whose lock lives in memory, and new
  // pessimistic locks when the scope accepts them, are staged there instead of the batch
  // (mem_locks.h); the caller publishes the scope after writing the batch.
  void set_mem_locks(MemLockScope* scope) { mem_ = scope; }

  void PutLock(std::string_view key, const Lock& lock);
  void UnlockKey(std::string_view key);
  void PutValue(std::string_view key, TimeStamp start_ts, std::string_view value);
  void DeleteValue(std::string_view key, TimeStamp start_ts);
  void PutWrite(std::string_view key, TimeStamp commit_ts, const Write& write);
  void DeleteWrite(std::string_view key, TimeStamp commit_ts);
  // Removes [start, end) of `cf` (encoded bounds; empty end: to the end).
  void DeleteRange(storage::CF cf, std::string_view start, std::string_view end);

  // A lock that a 1PC prewrite will commit directly (see commands.cc).
  struct OnePcLock {
    std::string key;
    Lock lock;
    bool remove_pessimistic_lock;
  };
  void PutLockFor1pc(std::string_view key, Lock lock, bool remove_pessimistic_lock) {
    locks_for_1pc_.push_back({std::string(key), std::move(lock), remove_pessimistic_lock});
  }
  std::vector<OnePcLock>& locks_for_1pc() { return locks_for_1pc_; }

  void AddGuard(KeyHandleGuard guard) { guards_.push_back(std::move(guard)); }
  std::vector<KeyHandleGuard> TakeGuards() { return std::move(guards_); }
  size_t guard_count() const { return guards_.size(); }

  const storage::WriteBatch& batch() const { return batch_; }
  storage::WriteBatch TakeBatch() { return std::move(batch_); }
  size_t modify_count() const { return batch_.Count(); }
  size_t write_size() const { return batch_.ByteSize(); }

  // Drops every collected write, 1PC lock and guard.
  void Clear();

 private:
  ConcurrencyManager* cm_;
  MemLockScope* mem_ = nullptr;
  storage::WriteBatch batch_;
  std::vector<OnePcLock> locks_for_1pc_;
  std::vector<KeyHandleGuard> guards_;
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_MVCC_TXN_H_
