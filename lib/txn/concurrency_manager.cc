#include "txn/concurrency_manager.h"

namespace rutile::txn {

KeyHandleGuard::KeyHandleGuard(KeyHandleGuard&& other) noexcept
    : cm_(other.cm_), key_(std::move(other.key_)) {
  other.cm_ = nullptr;
}

KeyHandleGuard& KeyHandleGuard::operator=(KeyHandleGuard&& other) noexcept {
  if (this != &other) {
    Release();
    cm_ = other.cm_;
    key_ = std::move(other.key_);
    other.cm_ = nullptr;
  }
  return *this;
}

KeyHandleGuard::~KeyHandleGuard() { Release(); }

void KeyHandleGuard::Release() {
  if (cm_ != nullptr) {
    cm_->Release(key_);
    cm_ = nullptr;
  }
}

void KeyHandleGuard::WithLock(absl::FunctionRef<void(std::optional<Lock>&)> fn) {
  if (cm_ != nullptr) cm_->WithLock(key_, fn);
}

void KeyHandleGuard::SetLock(Lock lock) {
  WithLock([&](std::optional<Lock>& slot) { slot = std::move(lock); });
}

ConcurrencyManager::ConcurrencyManager(TimeStamp latest_ts) : max_ts_(latest_ts) {}

void ConcurrencyManager::UpdateMaxTs(TimeStamp ts) {
  if (ts == kMaxTs) return;
  TimeStamp cur = max_ts_.load();
  while (cur < ts && !max_ts_.compare_exchange_weak(cur, ts)) {
  }
}

KeyHandleGuard ConcurrencyManager::LockKey(std::string_view key) {
  MutexLock lock(mu_);
  cv_.Wait(lock, [&] { return table_.find(key) == table_.end(); });
  table_.emplace(std::string(key), Entry{});
  table_size_.store(table_.size(), std::memory_order_seq_cst);
  return KeyHandleGuard(this, std::string(key));
}

void ConcurrencyManager::Release(const std::string& key) {
  {
    MutexLock lock(mu_);
    table_.erase(key);
    table_size_.store(table_.size(), std::memory_order_seq_cst);
  }
  cv_.NotifyAll();
}

void ConcurrencyManager::WithLock(const std::string& key,
                                  absl::FunctionRef<void(std::optional<Lock>&)> fn) {
  MutexLock lock(mu_);
  auto it = table_.find(key);
  if (it != table_.end()) fn(it->second.lock);
}

absl::Status ConcurrencyManager::ReadKeyCheck(std::string_view key, LockCheck check) {
  if (table_size_.load(std::memory_order_seq_cst) == 0) return absl::OkStatus();
  std::optional<Lock> found;
  {
    MutexLock lock(mu_);
    auto it = table_.find(key);
    if (it == table_.end() || !it->second.lock.has_value()) return absl::OkStatus();
    found = it->second.lock;
  }
  return check(*found, key);
}

absl::Status ConcurrencyManager::ReadRangeCheck(std::string_view start, std::string_view end,
                                                LockCheck check) {
  if (table_size_.load(std::memory_order_seq_cst) == 0) return absl::OkStatus();
  std::vector<std::pair<std::string, Lock>> found;
  {
    MutexLock lock(mu_);
    for (auto it = table_.lower_bound(start);
         it != table_.end() && (end.empty() || it->first < end); ++it) {
      if (it->second.lock.has_value()) found.emplace_back(it->first, *it->second.lock);
    }
  }
  for (const auto& [k, l] : found) {
    absl::Status s = check(l, k);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::optional<TimeStamp> ConcurrencyManager::GlobalMinLockTs() {
  MutexLock lock(mu_);
  std::optional<TimeStamp> min;
  for (const auto& [k, e] : table_) {
    if (e.lock.has_value() && (!min.has_value() || e.lock->start_ts < *min)) {
      min = e.lock->start_ts;
    }
  }
  return min;
}

size_t ConcurrencyManager::TEST_LockedKeys() {
  MutexLock lock(mu_);
  return table_.size();
}

}  // namespace rutile::txn
