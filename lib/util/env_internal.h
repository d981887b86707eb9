// Internals shared by the Env implementations and the fiber primitives of util/sync.h.

#ifndef RUTILE_UTIL_ENV_INTERNAL_H_
#define RUTILE_UTIL_ENV_INTERNAL_H_

#include <boost/fiber/protected_fixedsize_stack.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "rutile/env.h"

// RUTILE_ASAN is defined when AddressSanitizer instruments this translation unit.
#if defined(__SANITIZE_ADDRESS__)
#define RUTILE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUTILE_ASAN 1
#endif
#endif

namespace rutile {

class CondVar;

// Options of a fiber Env backed by OS threads.
struct ThreadedEnvOptions {
  // Worker threads that run fibers; fibers migrate freely between them.
  int worker_threads = 2;
  // Threads that run RunBlocking work.
  int io_threads = 4;
  // Stack size of each fiber.
  size_t fiber_stack_bytes = 256 * 1024;
};

// Returns a new fiber Env with its own worker pool. Env::Default() is one of these that is
// never destroyed. Destroying one waits for its worker threads to exit; every fiber
// started on it must have finished by then.
std::unique_ptr<Env> NewThreadedEnv(const ThreadedEnvOptions& options);

namespace env_internal {

// The stack size fibers get unless an Env is told otherwise.
inline constexpr size_t kDefaultFiberStackBytes = 256 * 1024;

// Allocates fiber stacks with a guard page. Under AddressSanitizer it also clears the
// shadow of each stack on allocation and release: a fiber's outermost frames never return
// normally (Boost.Context switches away from them), so their redzones stay poisoned, and
// without this a later fiber given the same memory would see false positives.
class FiberStackAllocator {
 public:
  explicit FiberStackAllocator(size_t bytes) : bytes_(bytes), inner_(bytes) {}
  // Stacks of finished fibers are cached (a bounded, process-wide set) and handed to new
  // fibers asking for the same size: a fresh stack costs mmap, mprotect and page faults,
  // and releasing it munmap with a TLB shootdown.
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sc) noexcept;

 private:
  size_t bytes_;
  boost::fibers::protected_fixedsize_stack inner_;
};

// The SimEnv owning the calling thread, or null. Used by sync_internal::WaitScope.
void* CurrentSim();

// True when `sim` is being destroyed and its fibers must unwind.
bool SimShuttingDown(void* sim);

// Clears AddressSanitizer's shadow of the whole fiber stack that contains `here`, if it is
// one of `sim`'s. Called before a FiberCancelled is thrown: a throw makes the sanitizer
// clean the stack below each frame it unwinds, which it cannot do on a fiber stack, and
// the stale shadow left behind would give false reports. A no-op without ASan.
void SimUnpoisonCurrentStack(void* sim, const void* here);

// Clears AddressSanitizer's shadow of a memory region; a no-op without ASan.
void UnpoisonMemory(void* begin, size_t size);

// Registers and unregisters a condition variable a fiber of `sim` waits on.
void SimRegisterWait(void* sim, CondVar* cv);
void SimUnregisterWait(void* sim, CondVar* cv);

// 64-bit mixing used for trace hashes and seeding.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// xoshiro256** seeded through splitmix64: small, fast, and the same on every platform.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      s = Mix64(seed);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace env_internal
}  // namespace rutile

#endif  // RUTILE_UTIL_ENV_INTERNAL_H_
