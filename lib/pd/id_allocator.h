// Allocates cluster-unique ids (store, region and peer ids) from AllocatorStorage, as
// tikv/pd's id allocator does: it persists only the end of a reserved range of `step` ids
// and serves the range from memory, so a new leader that loads the saved end starts above
// everything its predecessor could have handed out. Ids skipped by a failover are lost,
// never repeated. Ids start at 1; 0 means "no id" throughout metapb.
//
// Thread safety: may be called from any fiber concurrently.

#ifndef RUTILE_PD_ID_ALLOCATOR_H_
#define RUTILE_PD_ID_ALLOCATOR_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "pd/alloc_storage.h"
#include "util/sync.h"

namespace rutile::pd {

class IdAllocator {
 public:
  // `storage` is not owned and must outlive the allocator.
  explicit IdAllocator(AllocatorStorage* storage, uint64_t step = 1000);
  IdAllocator(const IdAllocator&) = delete;
  IdAllocator& operator=(const IdAllocator&) = delete;

  // Returns a new id. Errors: the storage's, when a new range had to be reserved and
  // loading or saving the limit failed (nothing is handed out then).
  absl::StatusOr<uint64_t> Alloc();

  // Returns the first of `n` consecutive new ids (n > 0).
  absl::StatusOr<uint64_t> AllocRange(uint64_t n);

  // Forgets the in-memory range (leadership lost); the next Alloc reloads the limit.
  void Reset();

 private:
  AllocatorStorage* const storage_;
  const uint64_t step_;
  Mutex mu_;
  bool loaded_ = false;
  // Ids in [next_, end_) are reserved and not yet handed out.
  uint64_t next_ = 0;
  uint64_t end_ = 0;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_ID_ALLOCATOR_H_
