#include "pd/alloc_storage.h"

namespace rutile::pd {

absl::StatusOr<uint64_t> MemAllocatorStorage::LoadTimestampLimit() {
  MutexLock lock(mu_);
  return ts_limit_;
}

absl::Status MemAllocatorStorage::SaveTimestampLimit(uint64_t limit_ms) {
  MutexLock lock(mu_);
  if (fail_saves_) return absl::UnavailableError("MemAllocatorStorage: saves fail");
  ts_limit_ = limit_ms;
  ++ts_saves_;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemAllocatorStorage::LoadIdLimit() {
  MutexLock lock(mu_);
  return id_limit_;
}

absl::Status MemAllocatorStorage::SaveIdLimit(uint64_t limit) {
  MutexLock lock(mu_);
  if (fail_saves_) return absl::UnavailableError("MemAllocatorStorage: saves fail");
  id_limit_ = limit;
  ++id_saves_;
  return absl::OkStatus();
}

void MemAllocatorStorage::SetFailSaves(bool fail) {
  MutexLock lock(mu_);
  fail_saves_ = fail;
}

uint64_t MemAllocatorStorage::timestamp_saves() const {
  MutexLock lock(mu_);
  return ts_saves_;
}

uint64_t MemAllocatorStorage::id_saves() const {
  MutexLock lock(mu_);
  return id_saves_;
}

}  // namespace rutile::pd
