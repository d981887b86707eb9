#include "util/sync.h"

#include <atomic>
#include <boost/fiber/context.hpp>
#include <cstdint>
#include <mutex>

#include "util/env_internal.h"

namespace rutile {
namespace sync_internal {
namespace {

// Throws FiberCancelled on a fiber of `sim`. The unwinding leaves AddressSanitizer's
// shadow of the fiber stack stale (see SimUnpoisonCurrentStack), so it is cleared first;
// only the shutdown of a SimEnv gets here.
[[noreturn]] void ThrowCancelled(void* sim) {
  volatile char here = 0;
  env_internal::SimUnpoisonCurrentStack(sim, const_cast<char*>(&here));
  throw FiberCancelled();
}

}  // namespace

void Suspend() { boost::fibers::context::active()->suspend(); }

void Wake(boost::fibers::context* ctx) { boost::fibers::context::active()->schedule(ctx); }

void WakeChain(Waiter* w) {
  while (w != nullptr) {
    Waiter* next = w->next;
    Wake(w->ctx);
    w = next;
  }
}

WaitScope::WaitScope(CondVar* cv) : cv_(cv), sim_(env_internal::CurrentSim()) {
  if (sim_ != nullptr) {
    if (env_internal::SimShuttingDown(sim_)) ThrowCancelled(sim_);
    env_internal::SimRegisterWait(sim_, cv_);
  }
}

WaitScope::~WaitScope() {
  if (sim_ != nullptr) env_internal::SimUnregisterWait(sim_, cv_);
}

void WaitScope::CheckCancelled() {
  void* sim = env_internal::CurrentSim();
  if (sim != nullptr && env_internal::SimShuttingDown(sim)) ThrowCancelled(sim);
}

void UntimedWait(CondVar* cv, MutexLock& lock, const std::function<bool()>& ready) {
  while (!ready()) cv->Wait(lock);
}

bool TimedWait(Env* env, uint64_t timeout_micros, const std::shared_ptr<void>& keep_alive,
               CondVar* cv, MutexLock& lock, const std::function<bool()>& ready) {
  if (ready()) return true;
  if (timeout_micros == 0) return false;
  // The timer holds `keep_alive` (which owns `cv` and the mutex) and its own flag, so a
  // timer that fires after this wait returned touches only live memory. The flag is read
  // and written under the waiter's mutex, so the wakeup cannot be lost.
  auto fired = std::make_shared<bool>(false);
  Mutex* mu = lock.mutex();
  TimerId id = env->ScheduleCallback(timeout_micros, [keep_alive, cv, mu, fired] {
    MutexLock l(*mu);
    *fired = true;
    l.unlock();
    cv->NotifyAll();
  });
  while (!ready() && !*fired) cv->Wait(lock);
  if (!*fired) env->Cancel(id);
  return ready();
}

}  // namespace sync_internal

namespace {

// One slot of the parking lot: the fibers waiting on the mutexes whose addresses hash
// here, in arrival order.
struct ParkingBucket {
  std::mutex mu;
  sync_internal::Waiter* head = nullptr;
  sync_internal::Waiter* tail = nullptr;

  void PushBack(sync_internal::Waiter* w) {
    w->next = nullptr;
    if (tail == nullptr) {
      head = w;
    } else {
      tail->next = w;
    }
    tail = w;
  }
  // Unlinks and returns the first waiter parked under `key` (null if none).
  sync_internal::Waiter* PopFirst(const void* key) {
    sync_internal::Waiter* prev = nullptr;
    for (sync_internal::Waiter* w = head; w != nullptr; prev = w, w = w->next) {
      if (w->key != key) continue;
      if (prev == nullptr) {
        head = w->next;
      } else {
        prev->next = w->next;
      }
      if (tail == w) tail = prev;
      return w;
    }
    return nullptr;
  }
};

ParkingBucket& BucketFor(const void* key) {
  static ParkingBucket buckets[256];
  auto h = reinterpret_cast<uintptr_t>(key);
  h ^= h >> 12;
  return buckets[(h >> 4) % 256];
}

}  // namespace

void Mutex::LockSlow() {
  ParkingBucket& b = BucketFor(this);
  for (;;) {
    sync_internal::Waiter w;
    {
      std::lock_guard<std::mutex> g(b.mu);
      // Marks the lock contended; if it was free meanwhile, it is ours (still marked
      // contended, so our unlock looks for waiters: harmless). An unlock that saw the
      // mark looks in the bucket under b.mu, so it finds this waiter once it is queued.
      if (state_.exchange(2, std::memory_order_acquire) == 0) return;
      w.ctx = boost::fibers::context::active();
      w.key = this;
      b.PushBack(&w);
    }
    sync_internal::Suspend();
  }
}

void Mutex::UnlockSlow(const void* key) {
  // Wakes one waiter. Others stay queued with the lock now marked free: the woken fiber
  // marks it contended again when it retries (taking it or queueing anew), so the unlock
  // after that wakes the next one.
  ParkingBucket& b = BucketFor(key);
  sync_internal::Waiter* w;
  {
    std::lock_guard<std::mutex> g(b.mu);
    w = b.PopFirst(key);
  }
  if (w != nullptr) sync_internal::Wake(w->ctx);
}

void CondVar::Wait(MutexLock& lock) {
  sync_internal::WaitScope scope(this);
  sync_internal::Waiter w;
  w.ctx = boost::fibers::context::active();
  {
    std::lock_guard<std::mutex> g(guard_);
    waiters_.PushBack(&w);
    num_waiters_.fetch_add(1, std::memory_order_relaxed);
  }
  lock.unlock();
  sync_internal::Suspend();
  lock.lock();
}

void CondVar::NotifyOne() {
  if (num_waiters_.load(std::memory_order_acquire) == 0) return;
  sync_internal::Waiter* w;
  {
    std::lock_guard<std::mutex> g(guard_);
    w = waiters_.PopFront();
    if (w != nullptr) num_waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (w != nullptr) sync_internal::Wake(w->ctx);
}

void CondVar::NotifyAll() {
  if (num_waiters_.load(std::memory_order_acquire) == 0) return;
  sync_internal::Waiter* chain;
  {
    std::lock_guard<std::mutex> g(guard_);
    chain = waiters_.TakeAll();
    num_waiters_.store(0, std::memory_order_relaxed);
  }
  sync_internal::WakeChain(chain);
}

struct Notification::State {
  mutable Mutex mu;
  mutable CondVar cv;
  std::atomic<bool> notified{false};
};

Notification::Notification() : state_(std::make_shared<State>()) {}

void Notification::Notify() {
  // A local reference keeps the state alive if a woken waiter destroys this object
  // before notify_all returns; the same holds in WaitGroup::Done.
  std::shared_ptr<State> state = state_;
  MutexLock lock(state->mu);
  if (state->notified.load(std::memory_order_relaxed)) return;
  state->notified.store(true, std::memory_order_release);
  lock.unlock();
  state->cv.NotifyAll();
}

bool Notification::HasBeenNotified() const {
  return state_->notified.load(std::memory_order_acquire);
}

void Notification::Wait() const {
  if (HasBeenNotified()) return;
  MutexLock lock(state_->mu);
  sync_internal::UntimedWait(&state_->cv, lock,
                             [&] { return state_->notified.load(std::memory_order_relaxed); });
}

bool Notification::WaitFor(Env* env, uint64_t timeout_micros) const {
  if (HasBeenNotified()) return true;
  MutexLock lock(state_->mu);
  return sync_internal::TimedWait(env, timeout_micros, state_, &state_->cv, lock,
                                  [&] { return state_->notified.load(std::memory_order_relaxed); });
}

struct WaitGroup::State {
  Mutex mu;
  CondVar cv;
  int64_t count = 0;
};

WaitGroup::WaitGroup() : state_(std::make_shared<State>()) {}

void WaitGroup::Add(int n) {
  MutexLock lock(state_->mu);
  state_->count += n;
}

void WaitGroup::Done() {
  std::shared_ptr<State> state = state_;
  MutexLock lock(state->mu);
  if (--state->count <= 0) {
    lock.unlock();
    state->cv.NotifyAll();
  }
}

void WaitGroup::Wait() {
  MutexLock lock(state_->mu);
  sync_internal::UntimedWait(&state_->cv, lock, [&] { return state_->count <= 0; });
}

}  // namespace rutile
