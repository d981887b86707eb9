// AllocatorStorage persists the two high-water marks PD's allocators reserve ahead of what
// they hand out: the TSO window limit (a physical time in milliseconds no timestamp may
// reach) and the id limit (no id at or above it has been handed out). Only the limits are
// persisted, never each timestamp or id, so a new PD leader that loads them and starts
// above them can never repeat a value its predecessor served.
//
// Later this is backed by the PD Raft group; MemAllocatorStorage serves tests and a
// single-node PD.
//
// Thread safety: implementations must be safe to call from any fiber.

#ifndef RUTILE_PD_ALLOC_STORAGE_H_
#define RUTILE_PD_ALLOC_STORAGE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "util/sync.h"

namespace rutile::pd {

class AllocatorStorage {
 public:
  virtual ~AllocatorStorage() = default;

  // Returns the last saved TSO limit in milliseconds, 0 when none was ever saved.
  // Returns Unavailable when the storage cannot be read (for example PD lost leadership).
  virtual absl::StatusOr<uint64_t> LoadTimestampLimit() = 0;

  // Durably records `limit_ms`. The allocator only ever saves increasing values; it does not
  // serve a timestamp at or above a limit until this returned OK.
  virtual absl::Status SaveTimestampLimit(uint64_t limit_ms) = 0;

  // Returns the last saved id limit, 0 when none was ever saved.
  virtual absl::StatusOr<uint64_t> LoadIdLimit() = 0;

  // Durably records `limit`: ids below it may have been handed out.
  virtual absl::Status SaveIdLimit(uint64_t limit) = 0;
};

// An in-memory AllocatorStorage. Saves can be made to fail (tests of error paths) and are
// counted, so tests can check that the window really is reserved ahead, not per call.
class MemAllocatorStorage : public AllocatorStorage {
 public:
  absl::StatusOr<uint64_t> LoadTimestampLimit() override;
  absl::Status SaveTimestampLimit(uint64_t limit_ms) override;
  absl::StatusOr<uint64_t> LoadIdLimit() override;
  absl::Status SaveIdLimit(uint64_t limit) override;

  // While set, every Save returns Unavailable and changes nothing.
  void SetFailSaves(bool fail);
  uint64_t timestamp_saves() const;
  uint64_t id_saves() const;

 private:
  mutable Mutex mu_;
  uint64_t ts_limit_ = 0;
  uint64_t id_limit_ = 0;
  bool fail_saves_ = false;
  uint64_t ts_saves_ = 0;
  uint64_t id_saves_ = 0;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_ALLOC_STORAGE_H_
