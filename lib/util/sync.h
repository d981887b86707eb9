// Fiber synchronization primitives for Rutile's internals. Each blocks the calling fiber
// (never the OS thread), works across the worker threads of Env::Default(), and, where a
// timeout is given, measures it with the Env so that it runs on virtual time under SimEnv.
//
// Every blocking wait here is also a cancellation point: when a SimEnv is destroyed with
// fibers still waiting, their waits throw FiberCancelled, which unwinds the fiber to its
// entry point (Env::Spawn catches it). Code must therefore not swallow exceptions with
// catch (...) around a wait.
//
// Thread safety: all types are safe to use from any fiber of one Env.

#ifndef RUTILE_UTIL_SYNC_H_
#define RUTILE_UTIL_SYNC_H_

#include <atomic>
#include <boost/fiber/context.hpp>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"

namespace rutile {

// Thrown from a wait when the SimEnv that owns the waiting fiber is being destroyed.
class FiberCancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "fiber cancelled: SimEnv destroyed"; }
};

class CondVar;

namespace sync_internal {

// One fiber suspended in a WaitList; lives on the suspended fiber's stack.
struct Waiter {
  boost::fibers::context* ctx = nullptr;
  Waiter* next = nullptr;
  // What it waits on, for waiters parked in the global table (Mutex).
  const void* key = nullptr;
};

// A FIFO of suspended fibers. Not synchronized: its owner guards it.
class WaitList {
 public:
  bool empty() const { return head_ == nullptr; }
  void PushBack(Waiter* w) {
    w->next = nullptr;
    if (tail_ == nullptr) {
      head_ = w;
    } else {
      tail_->next = w;
    }
    tail_ = w;
  }
  Waiter* PopFront() {
    Waiter* w = head_;
    if (w != nullptr) {
      head_ = w->next;
      if (head_ == nullptr) tail_ = nullptr;
    }
    return w;
  }
  // Empties the list and returns its former head (a chain through `next`).
  Waiter* TakeAll() {
    Waiter* w = head_;
    head_ = tail_ = nullptr;
    return w;
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// Suspends the calling fiber until some thread passes its context to Wake. The caller
// must have published its Waiter (under a lock it has released since) first.
//
// No lock is held across the switch, unlike Boost's own mutex and condition variable,
// whose spinlocks stay held until the next fiber runs (through the scheduler's pick_next
// and any wake-up it does): on a loaded machine other threads spun on them for long
// stretches. It is safe because a fiber woken from another thread goes through its own
// thread's remote-ready queue, which only that thread's dispatcher drains, after the fiber
// has switched out; a fiber woken from its own thread has switched out already.
void Suspend();

// Makes a suspended fiber runnable. Must be called exactly once per Suspend, after the
// Waiter was taken out of its list; safe from any thread, fiber or not.
void Wake(boost::fibers::context* ctx);

// Wakes every fiber of a chain TakeAll returned. Reads each link before waking its owner,
// whose stack holds it.
void WakeChain(Waiter* w);

}  // namespace sync_internal

// A mutex for fibers (with std::unique_lock / std::lock_guard): contention suspends the
// fiber, not the thread. Not recursive. An uncontended lock or unlock is one atomic
// operation; unlock wakes the longest waiting fiber, which then competes for the lock
// again (as Boost's fiber mutex does).
//
// Waiting fibers park in a global table keyed by the mutex's address (a "parking lot",
// as WebKit's and Rust's parking_lot), not in the mutex: once unlock has released the
// state word it touches no member, so another fiber may take the lock and destroy the
// mutex at once (as POSIX allows for pthread mutexes).
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() {
    uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      LockSlow();
    }
  }
  bool try_lock() {
    uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  void unlock() {
    const void* key = this;
    if (state_.exchange(0, std::memory_order_release) == 2) UnlockSlow(key);
  }

 private:
  void LockSlow();
  // Wakes the longest waiter parked under `key`; `key` is only an address here, the
  // mutex may already be gone.
  static void UnlockSlow(const void* key);

  // 0 unlocked, 1 locked, 2 locked and fibers may be waiting.
  std::atomic<uint32_t> state_{0};
};

using MutexLock = std::unique_lock<Mutex>;

namespace sync_internal {

// Registers a condition variable as waited on for the duration of one wait, so a SimEnv
// being destroyed can wake it; throws FiberCancelled when the owning SimEnv is shutting
// down. Free under Env::Default().
class WaitScope {
 public:
  explicit WaitScope(CondVar* cv);
  ~WaitScope();
  WaitScope(const WaitScope&) = delete;
  WaitScope& operator=(const WaitScope&) = delete;

  // Throws FiberCancelled if the current SimEnv is shutting down.
  static void CheckCancelled();

 private:
  CondVar* cv_;
  void* sim_;
};

}  // namespace sync_internal

// A condition variable for fiber mutexes. Waits without a timeout; for timed waits use
// Notification, Future or Channel, whose state outlives a pending timeout. Wakes in FIFO
// order; there are no spurious wake-ups except from SimEnv's shutdown.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(MutexLock& lock);

  template <typename Pred>
  void Wait(MutexLock& lock, Pred pred) {
    while (!pred()) Wait(lock);
  }

  void NotifyOne();
  void NotifyAll();

 private:
  // Waiters enqueue under guard_ while they still hold the caller's mutex, so a notifier
  // that changed the condition under that mutex sees them through this count.
  std::atomic<uint32_t> num_waiters_{0};
  std::mutex guard_;  // Guards waiters_.
  sync_internal::WaitList waiters_;
};

// A reader-writer lock for fibers (with std::unique_lock / std::shared_lock): it blocks
// the fiber, not the thread, so it may be held across a KV call that yields. Waiting
// writers go first: once one waits, new readers wait too, so readers cannot starve it
// (a fiber must therefore not take the shared lock twice).
class SharedMutex {
 public:
  void lock() {
    MutexLock l(mu_);
    ++writers_waiting_;
    cv_.Wait(l, [&] { return !writer_ && readers_ == 0; });
    --writers_waiting_;
    writer_ = true;
  }
  void unlock() {
    MutexLock l(mu_);
    writer_ = false;
    cv_.NotifyAll();
  }
  void lock_shared() {
    MutexLock l(mu_);
    cv_.Wait(l, [&] { return !writer_ && writers_waiting_ == 0; });
    ++readers_;
  }
  void unlock_shared() {
    MutexLock l(mu_);
    if (--readers_ == 0) cv_.NotifyAll();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int readers_ = 0;
  int writers_waiting_ = 0;
  bool writer_ = false;
};

// A one-shot event, as absl::Notification, for fibers. Cheap to copy: copies share state.
class Notification {
 public:
  Notification();

  // Marks the event as happened and wakes every waiter. Idempotent.
  void Notify();
  bool HasBeenNotified() const;

  // Waits until notified.
  void Wait() const;

  // Waits until notified or `timeout_micros` of `env` time pass. Returns whether notified.
  bool WaitFor(Env* env, uint64_t timeout_micros) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

namespace sync_internal {

// State shared between a Promise and its Future.
template <typename T>
struct FutureState {
  Mutex mu;
  CondVar cv;
  std::optional<T> value;
  // Future::Then callbacks waiting for the value.
  std::vector<std::function<void(const T&)>> then;
};

// Waits on `cv` under `lock` until `ready()` or until `timeout_micros` of `env` time
// pass; `keep_alive` owns the memory `cv` and the lock's mutex live in, so a late timer
// never touches freed memory. Returns ready().
bool TimedWait(Env* env, uint64_t timeout_micros, const std::shared_ptr<void>& keep_alive,
               CondVar* cv, MutexLock& lock, const std::function<bool()>& ready);

// Waits on `cv` under `lock` until `ready()`.
void UntimedWait(CondVar* cv, MutexLock& lock, const std::function<bool()>& ready);

}  // namespace sync_internal

template <typename T>
class Future;

// The writing end of a one-shot value. Set at most once; a second Set is ignored and
// returns false.
template <typename T>
class Promise {
 public:
  Promise() : state_(std::make_shared<sync_internal::FutureState<T>>()) {}

  bool Set(T value) {
    // A local reference keeps the state alive if a woken reader destroys this Promise
    // before notify_all returns.
    auto state = state_;
    MutexLock lock(state->mu);
    if (state->value.has_value()) return false;
    state->value.emplace(std::move(value));
    std::vector<std::function<void(const T&)>> then = std::move(state->then);
    lock.unlock();
    state->cv.NotifyAll();
    // The value never changes once set: safe to read without the mutex.
    for (auto& fn : then) fn(*state->value);
    return true;
  }

  Future<T> GetFuture() const { return Future<T>(state_); }

 private:
  std::shared_ptr<sync_internal::FutureState<T>> state_;
};

// The reading end of a one-shot value. Copies share state; Get may be called by many.
template <typename T>
class Future {
 public:
  Future() = default;

  bool Valid() const { return state_ != nullptr; }

  bool Ready() const {
    MutexLock lock(state_->mu);
    return state_->value.has_value();
  }

  // Waits for the value and returns a reference to it (valid while this Future lives).
  const T& Get() const {
    MutexLock lock(state_->mu);
    sync_internal::UntimedWait(&state_->cv, lock, [&] { return state_->value.has_value(); });
    return *state_->value;
  }

  // Waits for the value at most `timeout_micros` of `env` time; returns whether it came.
  bool WaitFor(Env* env, uint64_t timeout_micros) const {
    MutexLock lock(state_->mu);
    return sync_internal::TimedWait(env, timeout_micros, state_, &state_->cv, lock,
                                    [&] { return state_->value.has_value(); });
  }

  // Runs `fn(value)` once the value is set: at once, in the caller, when it is already;
  // otherwise in the fiber that sets it, after the waiters were woken. If the promise is
  // destroyed unset, `fn` is destroyed without running.
  void Then(std::function<void(const T&)> fn) const {
    MutexLock lock(state_->mu);
    if (!state_->value.has_value()) {
      state_->then.push_back(std::move(fn));
      return;
    }
    lock.unlock();
    fn(*state_->value);
  }

 private:
  friend class Promise<T>;
  explicit Future(std::shared_ptr<sync_internal::FutureState<T>> state)
      : state_(std::move(state)) {}
  std::shared_ptr<sync_internal::FutureState<T>> state_;
};

// A multi-producer, multi-consumer FIFO queue for fibers with an optional capacity
// (0 = unbounded). Close() wakes every waiter; after it, Push fails and Pop drains what is
// left and then fails.
template <typename T>
class Channel {
 public:
  explicit Channel(size_t capacity = 0) : state_(std::make_shared<State>()) {
    state_->capacity = capacity;
  }

  // Waits for room, then enqueues. Returns false if the channel is closed.
  bool Push(T value) {
    auto state = state_;
    MutexLock lock(state->mu);
    sync_internal::UntimedWait(&state->cv, lock, [&] { return state->closed || HasRoom(); });
    if (state->closed) return false;
    state->items.push_back(std::move(value));
    lock.unlock();
    state->cv.NotifyAll();
    return true;
  }

  // Enqueues if there is room; returns false when full or closed.
  bool TryPush(T value) {
    auto state = state_;
    MutexLock lock(state->mu);
    if (state->closed || !HasRoom()) return false;
    state->items.push_back(std::move(value));
    lock.unlock();
    state->cv.NotifyAll();
    return true;
  }

  // Waits for an item. Returns nullopt once the channel is closed and drained.
  std::optional<T> Pop() {
    MutexLock lock(state_->mu);
    sync_internal::UntimedWait(&state_->cv, lock,
                               [&] { return state_->closed || !state_->items.empty(); });
    return TakeLocked(lock);
  }

  // Waits for an item at most `timeout_micros` of `env` time.
  std::optional<T> PopFor(Env* env, uint64_t timeout_micros) {
    MutexLock lock(state_->mu);
    sync_internal::TimedWait(env, timeout_micros, state_, &state_->cv, lock,
                             [&] { return state_->closed || !state_->items.empty(); });
    return TakeLocked(lock);
  }

  std::optional<T> TryPop() {
    MutexLock lock(state_->mu);
    return TakeLocked(lock);
  }

  void Close() {
    auto state = state_;
    MutexLock lock(state->mu);
    state->closed = true;
    lock.unlock();
    state->cv.NotifyAll();
  }

  size_t Size() const {
    MutexLock lock(state_->mu);
    return state_->items.size();
  }

 private:
  struct State {
    Mutex mu;
    CondVar cv;
    std::deque<T> items;
    size_t capacity = 0;
    bool closed = false;
  };

  bool HasRoom() const { return state_->capacity == 0 || state_->items.size() < state_->capacity; }

  std::optional<T> TakeLocked(MutexLock& lock) {
    auto state = state_;
    if (state->items.empty()) return std::nullopt;
    std::optional<T> out(std::move(state->items.front()));
    state->items.pop_front();
    lock.unlock();
    state->cv.NotifyAll();
    return out;
  }

  std::shared_ptr<State> state_;
};

// Waits for a set of fibers to finish, as Go's sync.WaitGroup.
class WaitGroup {
 public:
  WaitGroup();
  void Add(int n);
  void Done();
  void Wait();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace rutile

#endif  // RUTILE_UTIL_SYNC_H_
