#include "util/sync.h"

#include <atomic>

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

WaitScope::WaitScope(boost::fibers::condition_variable_any* cv)
    : cv_(cv), sim_(env_internal::CurrentSim()) {
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

void UntimedWait(boost::fibers::condition_variable_any* cv, MutexLock& lock,
                 const std::function<bool()>& ready) {
  while (!ready()) {
    WaitScope scope(cv);
    cv->wait(lock);
  }
}

bool TimedWait(Env* env, uint64_t timeout_micros, const std::shared_ptr<void>& keep_alive,
               boost::fibers::condition_variable_any* cv, MutexLock& lock,
               const std::function<bool()>& ready) {
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
    cv->notify_all();
  });
  while (!ready() && !*fired) {
    WaitScope scope(cv);
    cv->wait(lock);
  }
  if (!*fired) env->Cancel(id);
  return ready();
}

}  // namespace sync_internal

void CondVar::Wait(MutexLock& lock) {
  sync_internal::WaitScope scope(&cv_);
  cv_.wait(lock);
}

struct Notification::State {
  mutable Mutex mu;
  mutable boost::fibers::condition_variable_any cv;
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
  state->cv.notify_all();
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
  boost::fibers::condition_variable_any cv;
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
    state->cv.notify_all();
  }
}

void WaitGroup::Wait() {
  MutexLock lock(state_->mu);
  sync_internal::UntimedWait(&state_->cv, lock, [&] { return state_->count <= 0; });
}

}  // namespace rutile
