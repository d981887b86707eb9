// Latches serialize write commands that touch the same keys (TiKV's txn/latch.rs): every
// key hashes to one of a fixed number of slots; a command takes the slots of all its keys
// before it reads its snapshot and releases them after its writes are applied, so two
// commands on a common key never interleave their read-check-write.
//
// Each slot is a FIFO ticket lock: waiters are served in arrival order, so a command is
// never starved. A command takes its slots in increasing slot order (sorted, duplicates
// removed), which makes acquisition deadlock-free: a holder of slot i waits only for slots
// above i. Two keys may share a slot (false sharing only costs concurrency).
//
// Thread safety: Acquire may be called from any number of fibers (and threads with a
// fiber context) at once; waiting blocks the calling fiber, never the OS thread. The
// hash is FNV-1a, deterministic across runs (simulation replays depend on that).

#ifndef RUTILE_TXN_LATCHES_H_
#define RUTILE_TXN_LATCHES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rutile/env.h"
#include "util/sync.h"

namespace rutile::txn {

class Latches {
 public:
  // `slots` is rounded up to a power of two (at least 1).
  explicit Latches(size_t slots = 4096);
  Latches(const Latches&) = delete;
  Latches& operator=(const Latches&) = delete;
  ~Latches();

  // Holds a set of slots; releases them when destroyed. Move-only.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();

    const std::vector<size_t>& slots() const { return slots_; }
    void Release();

   private:
    friend class Latches;
    Guard(Latches* latches, std::vector<size_t> slots)
        : latches_(latches), slots_(std::move(slots)) {}
    Latches* latches_ = nullptr;
    std::vector<size_t> slots_;
  };

  // Waits until every slot of `keys` is held by the caller. An empty key set acquires
  // nothing. The Latches must outlive the guard.
  Guard Acquire(const std::vector<std::string>& keys);
  Guard Acquire(const std::vector<std::string_view>& keys);

  // Waits at most `timeout_micros` of `env` time: true with every slot held in `*guard`,
  // or false with none (the place in each queue is given up; later waiters are not kept
  // waiting for it). Timers run on `env`; the Latches must outlive the wait.
  bool AcquireFor(const std::vector<std::string>& keys, Env* env, uint64_t timeout_micros,
                  Guard* guard);

  // Non-blocking variant: acquires every slot or none. Returns false if any is busy.
  bool TryAcquire(const std::vector<std::string>& keys, Guard* guard);

  size_t SlotOf(std::string_view key) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    Mutex mu;
    CondVar cv;
    uint64_t next_ticket = 0;  // Guarded by mu.
    uint64_t serving = 0;      // Guarded by mu.
    // Tickets given up by timed-out waiters, all above `serving`: skipped when reached.
    std::vector<uint64_t> abandoned;  // Guarded by mu.
  };
  // Moves `s` past the current holder and every abandoned ticket after it.
  static void Advance(Slot& s);
  std::vector<size_t> SortedSlots(const std::vector<std::string_view>& keys) const;
  void ReleaseSlots(const std::vector<size_t>& slots);

  size_t size_;
  // Shared: a timed wait's timer keeps the slots alive (sync_internal::TimedWait).
  std::shared_ptr<Slot[]> slots_;
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_LATCHES_H_
