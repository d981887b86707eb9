#include "pd/tso.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rutile::pd {

TsoAllocator::TsoAllocator(Env* env, AllocatorStorage* storage, const TsoOptions& options)
    : env_(env), storage_(storage), options_(options) {}

uint64_t TsoAllocator::WallMs() const { return env_->WallMicros() / 1000; }

absl::Status TsoAllocator::Initialize() {
  MutexLock lock(mu_);
  serving_ = false;
  absl::StatusOr<uint64_t> last = storage_->LoadTimestampLimit();
  if (!last.ok()) return last.status();
  // Every timestamp a predecessor served has a physical part below *last, so starting at
  // or above *last + 1 keeps the sequence strictly increasing even if our clock is behind.
  uint64_t next = std::max(WallMs(), *last + 1);
  uint64_t limit = next + options_.save_interval_ms;
  absl::StatusOr<uint64_t> saved = SaveLimit(limit);
  if (!saved.ok()) return saved.status();
  limit = *saved;
  physical_ms_ = next;
  logical_ = 0;
  limit_ms_ = limit;
  serving_ = true;
  return absl::OkStatus();
}

void TsoAllocator::Reset() {
  MutexLock lock(mu_);
  serving_ = false;
  physical_ms_ = 0;
  logical_ = 0;
  limit_ms_ = 0;
}

bool TsoAllocator::IsServing() const {
  MutexLock lock(mu_);
  return serving_;
}

uint64_t TsoAllocator::TEST_WindowLimit() const {
  MutexLock lock(mu_);
  return limit_ms_;
}

absl::Status TsoAllocator::EnsureWindowLocked(uint64_t physical, bool eager) {
  uint64_t margin = eager ? std::max<uint64_t>(1, options_.save_interval_ms / 2) : 1;
  if (physical + margin <= limit_ms_) return absl::OkStatus();
  uint64_t limit = std::max(limit_ms_, physical + options_.save_interval_ms);
  absl::StatusOr<uint64_t> saved = SaveLimit(limit);
  if (!saved.ok()) return saved.status();
  limit_ms_ = std::max(limit_ms_, *saved);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> TsoAllocator::SaveLimit(uint64_t limit_ms) {
  MutexLock lock(save_mu_);
  // Saves are serialized and never lower the stored limit: an extension saved outside mu_
  // (GetTimestamp) may finish after a larger one saved under it.
  limit_ms = std::max(limit_ms, saved_limit_ms_);
  absl::Status s = storage_->SaveTimestampLimit(limit_ms);
  if (!s.ok()) return s;
  saved_limit_ms_ = limit_ms;
  return limit_ms;
}

// Performance-critical path.
absl::StatusOr<uint64_t> TsoAllocator::GetTimestamp(uint32_t count) {
  if (count == 0 || count >= kMaxLogical) {
    return absl::InvalidArgumentError(absl::StrCat("tso: bad batch size ", count));
  }
  uint64_t extend_to = 0;
  uint64_t ts = 0;
  {
    MutexLock lock(mu_);
    absl::StatusOr<uint64_t> r = NextLocked(count);
    if (!r.ok()) return r;
    ts = *r;
    // Less than a quarter of the window left: this caller extends it once it has released
    // mu_. PD's 50 ms update loop extends it at one half, long before; an allocator nobody
    // ticks (LocalPd's) used to save only when the window ran out, inside mu_, so every
    // save_interval every caller waited for one synced write. The others are served from
    // the current window meanwhile; only a window that runs out is saved under mu_.
    const uint64_t quarter = std::max<uint64_t>(1, options_.save_interval_ms / 4);
    if (!extending_ && physical_ms_ + quarter > limit_ms_) {
      extending_ = true;
      extend_to = physical_ms_ + options_.save_interval_ms;
    }
  }
  if (extend_to != 0) {
    absl::StatusOr<uint64_t> saved = SaveLimit(extend_to);
    MutexLock lock(mu_);
    extending_ = false;
    // Durably saved: a larger limit is safe whoever serves now (a successor loads it).
    if (saved.ok() && serving_) limit_ms_ = std::max(limit_ms_, *saved);
  }
  return ts;
}

absl::StatusOr<uint64_t> TsoAllocator::NextLocked(uint32_t count) {
  if (!serving_) return absl::UnavailableError("tso: not serving (not the PD leader)");
  uint64_t now = WallMs();
  // Follow the clock forward (never back): a fresh millisecond gives fresh logical space.
  uint64_t next = physical_ms_;
  if (now > physical_ms_) next = now;
  if (next == physical_ms_ && logical_ + count >= kMaxLogical) {
    // Logical space exhausted and the clock has not moved on: run one millisecond ahead.
    next = physical_ms_ + 1;
  }
  if (next != physical_ms_) {
    absl::Status s = EnsureWindowLocked(next, /*eager=*/false);
    if (!s.ok()) {
      // We may still serve from the current millisecond if it has room.
      if (logical_ + count >= kMaxLogical) return s;
      next = physical_ms_;
    } else {
      physical_ms_ = next;
      logical_ = 0;
    }
  }
  logical_ += count;
  return ComposeTs(physical_ms_, logical_);
}

absl::Status TsoAllocator::UpdateTimestamp() {
  MutexLock lock(mu_);
  if (!serving_) return absl::FailedPreconditionError("tso: not serving");
  uint64_t now = WallMs();
  uint64_t next = physical_ms_;
  if (now > physical_ms_) {
    next = now;
  } else if (logical_ > options_.logical_advance_threshold) {
    next = physical_ms_ + 1;
  }
  absl::Status s = EnsureWindowLocked(next, /*eager=*/true);
  if (next < limit_ms_ && next != physical_ms_) {
    physical_ms_ = next;
    logical_ = 0;
  }
  return s;
}

}  // namespace rutile::pd
