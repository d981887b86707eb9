#include "txn/mvcc_txn.h"

namespace rutile::txn {

using storage::CF;

void MvccTxn::PutLock(std::string_view key, const Lock& lock) {
  if (mem_ != nullptr && mem_->PutLock(key, lock)) return;
  batch_.Put(CF::kLock, key, lock.Encode());
}

void MvccTxn::UnlockKey(std::string_view key) {
  if (mem_ != nullptr && mem_->UnlockKey(key)) return;
  batch_.Delete(CF::kLock, key);
}

void MvccTxn::PutValue(std::string_view key, TimeStamp start_ts, std::string_view value) {
  batch_.Put(CF::kDefault, AppendTs(key, start_ts), value);
}

void MvccTxn::DeleteValue(std::string_view key, TimeStamp start_ts) {
  batch_.Delete(CF::kDefault, AppendTs(key, start_ts));
}

void MvccTxn::PutWrite(std::string_view key, TimeStamp commit_ts, const Write& write) {
  batch_.Put(CF::kWrite, AppendTs(key, commit_ts), write.Encode());
}

void MvccTxn::DeleteWrite(std::string_view key, TimeStamp commit_ts) {
  batch_.Delete(CF::kWrite, AppendTs(key, commit_ts));
}

void MvccTxn::DeleteRange(storage::CF cf, std::string_view start, std::string_view end) {
  batch_.DeleteRange(cf, start, end);
}

void MvccTxn::Clear() {
  if (mem_ != nullptr) mem_->ResetStaged();
  batch_.Clear();
  locks_for_1pc_.clear();
  guards_.clear();
}

}  // namespace rutile::txn
