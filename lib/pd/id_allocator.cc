#include "pd/id_allocator.h"

#include <algorithm>

namespace rutile::pd {

IdAllocator::IdAllocator(AllocatorStorage* storage, uint64_t step)
    : storage_(storage), step_(std::max<uint64_t>(step, 1)) {}

absl::StatusOr<uint64_t> IdAllocator::Alloc() { return AllocRange(1); }

absl::StatusOr<uint64_t> IdAllocator::AllocRange(uint64_t n) {
  if (n == 0) return absl::InvalidArgumentError("id allocator: empty range");
  MutexLock lock(mu_);
  if (!loaded_) {
    absl::StatusOr<uint64_t> limit = storage_->LoadIdLimit();
    if (!limit.ok()) return limit.status();
    next_ = end_ = std::max<uint64_t>(*limit, 1);
    loaded_ = true;
  }
  if (end_ - next_ < n) {
    // Reserve a fresh range; whatever remains of the old one is skipped so the returned
    // ids stay consecutive.
    uint64_t base = end_;
    uint64_t end = base + std::max(step_, n);
    absl::Status s = storage_->SaveIdLimit(end);
    if (!s.ok()) return s;
    next_ = base;
    end_ = end;
  }
  uint64_t first = next_;
  next_ += n;
  return first;
}

void IdAllocator::Reset() {
  MutexLock lock(mu_);
  loaded_ = false;
  next_ = end_ = 0;
}

}  // namespace rutile::pd
