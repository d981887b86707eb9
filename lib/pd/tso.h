// The timestamp oracle (DESIGN.md section 8): hands out 64-bit hybrid timestamps
// `physical_ms << 18 | logical`, strictly increasing across calls, across fibers and across
// PD leader changes.
//
// How uniqueness survives a leader change (after tikv/pd's tso package): the leader never
// persists timestamps, only a window limit L: it serves timestamps whose physical part is
// below L and, before its physical part would reach L, durably saves a larger limit (now +
// save_interval, 3 s by default). A new leader loads L and starts its physical part above
// it, so its first timestamp is above anything the old leader could have served — provided
// the old leader stopped serving first (the Raft layer's job: Reset() on losing leadership,
// and leader leases shorter than the election timeout).
//
// The physical part follows Env::WallMicros() but never goes backwards: when the clock
// jumps back, the allocator keeps its physical part and spends logical values; when those
// run out (262,144 per millisecond) the physical part is advanced by one millisecond ahead
// of the clock rather than waiting for it.
//
// Thread safety: every method may be called from any fiber of the Env concurrently.

#ifndef RUTILE_PD_TSO_H_
#define RUTILE_PD_TSO_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pd/alloc_storage.h"
#include "rutile/env.h"
#include "util/sync.h"

namespace rutile::pd {

inline constexpr int kLogicalBits = 18;
inline constexpr uint64_t kMaxLogical = uint64_t{1} << kLogicalBits;

inline uint64_t ComposeTs(uint64_t physical_ms, uint64_t logical) {
  return (physical_ms << kLogicalBits) | logical;
}
inline uint64_t TsPhysical(uint64_t ts) { return ts >> kLogicalBits; }
inline uint64_t TsLogical(uint64_t ts) { return ts & (kMaxLogical - 1); }

struct TsoOptions {
  // How far ahead of the physical part the persisted window limit is set.
  uint64_t save_interval_ms = 3000;
  // UpdateTimestamp also advances the physical part when more than this fraction of the
  // logical space of the current millisecond is used (PD advances at one half).
  uint64_t logical_advance_threshold = kMaxLogical / 2;
};

class TsoAllocator {
 public:
  // Neither pointer is owned; both must outlive the allocator.
  TsoAllocator(Env* env, AllocatorStorage* storage, const TsoOptions& options = TsoOptions());
  TsoAllocator(const TsoAllocator&) = delete;
  TsoAllocator& operator=(const TsoAllocator&) = delete;

  // Starts serving, as a newly elected leader does: loads the last window limit L, starts
  // the physical part at max(now, L + 1) and saves a new window ahead of it. Returns the
  // storage's error (and stays unable to serve) when loading or saving fails.
  absl::Status Initialize();

  // Stops serving (leadership lost). GetTimestamp returns Unavailable until Initialize.
  void Reset();
  bool IsServing() const;

  // Returns the last timestamp of `count` consecutive ones (same physical part, logical
  // parts ts-count+1 .. ts), all greater than any timestamp returned before by this
  // allocator or by any predecessor that used the same storage. Errors: InvalidArgument
  // when count is 0 or not below 2^18; Unavailable when not serving or when the window
  // had to be extended and the save failed. With less than a quarter of the window left,
  // the caller that notices saves a larger one after releasing the allocator's mutex (the
  // others keep being served meanwhile), so an allocator that nobody ticks seldom makes a
  // caller wait for a save under the mutex either.
  absl::StatusOr<uint64_t> GetTimestamp(uint32_t count = 1);

  // Periodic tick (PD runs it every 50 ms): moves the physical part up to the clock (or by
  // one millisecond when logical values run low) and extends the persisted window when less
  // than half of it remains, so GetTimestamp seldom waits for a save. Returns
  // FailedPrecondition when not serving, or the storage's error.
  absl::Status UpdateTimestamp();

  // The saved window limit in milliseconds (0 when not serving). For tests and metrics.
  uint64_t TEST_WindowLimit() const;

 private:
  uint64_t WallMs() const;
  // Makes sure `physical` is below the saved limit, saving physical + save_interval when it
  // is not (or, when `eager`, when less than half the interval remains).
  absl::Status EnsureWindowLocked(uint64_t physical, bool eager);
  // GetTimestamp's work under mu_.
  absl::StatusOr<uint64_t> NextLocked(uint32_t count);
  // Saves a window limit of at least `limit_ms` (never below one saved before); returns
  // the limit saved.
  absl::StatusOr<uint64_t> SaveLimit(uint64_t limit_ms);

  Env* const env_;
  AllocatorStorage* const storage_;
  const TsoOptions options_;

  mutable Mutex mu_;
  bool serving_ = false;
  uint64_t physical_ms_ = 0;
  // The last logical value handed out within physical_ms_ (0 = none yet).
  uint64_t logical_ = 0;
  uint64_t limit_ms_ = 0;
  // A caller of GetTimestamp is extending the window outside mu_.
  bool extending_ = false;

  // Taken around every save (inside mu_ or alone, never the other way round).
  Mutex save_mu_;
  uint64_t saved_limit_ms_ = 0;  // The largest limit this allocator saved.
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_TSO_H_
