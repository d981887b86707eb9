// SimEnv: deterministic fibers on one thread with a virtual clock.
//
// The owning thread's Boost.Fiber scheduler is replaced by SimAlgorithm, a FIFO ready
// queue that numbers fibers in the order they first become ready (so the trace does not
// depend on addresses). The owning thread's main context drives the simulation: it yields
// until no other fiber is runnable, then pops the earliest timer, moves the clock to it and
// fires it. Boost's own timed waits are never used, so no fiber ever reads a real clock.

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/algo/round_robin.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/properties.hpp>
#include <boost/fiber/protected_fixedsize_stack.hpp>
#include <boost/fiber/scheduler.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "util/env_internal.h"
#include "util/sync.h"

namespace rutile {
namespace {

enum TraceEvent : uint64_t {
  kTraceResume = 1,
  kTraceSpawn = 2,
  kTraceTimer = 3,
  kTraceRandom = 4,
  kTraceUser = 5,
};

class SimProps : public boost::fibers::fiber_properties {
 public:
  explicit SimProps(boost::fibers::context* ctx) : fiber_properties(ctx) {}
  uint64_t id = 0;
};

}  // namespace

struct SimEnv::Rep {
  SimEnvOptions options;
  std::thread::id owner;
  uint64_t now;
  int64_t wall_skew = 0;
  env_internal::Xoshiro256 rng;
  uint64_t trace = 0;
  uint64_t next_fiber_id = 0;
  uint64_t next_timer_id = 0;
  size_t live_fibers = 0;
  bool shutting_down = false;

  struct Timer {
    std::function<void()> fn;
    bool on_fiber;
  };
  using TimerKey = std::pair<uint64_t, TimerId>;
  std::map<TimerKey, Timer> timers;
  std::unordered_map<TimerId, uint64_t> timer_when;

  // Fiber stacks in use, keyed by their top address, with their sizes. Shared with the
  // stack allocators because Boost releases a finished fiber's stack lazily, possibly
  // after this SimEnv is gone.
  std::shared_ptr<std::map<uintptr_t, size_t>> stacks =
      std::make_shared<std::map<uintptr_t, size_t>>();

  // Condition variables fibers are blocked on, with counts; woken at shutdown.
  std::unordered_map<CondVar*, int> waits;

  class SimAlgorithm* algo = nullptr;

  explicit Rep(const SimEnvOptions& o)
      : options(o), owner(std::this_thread::get_id()), now(o.start_micros), rng(o.seed) {}

  void Mix(uint64_t kind, uint64_t a, uint64_t b = 0) {
    trace = env_internal::Mix64(trace ^ env_internal::Mix64(kind * 0x100000001b3ULL ^ a) ^
                                (b * 0x9e3779b97f4a7c15ULL));
  }

  TimerId AddTimer(uint64_t delay, std::function<void()> fn, bool on_fiber) {
    TimerId id = ++next_timer_id;
    uint64_t when = now + delay;
    timers.emplace(TimerKey{when, id}, Timer{std::move(fn), on_fiber});
    timer_when.emplace(id, when);
    return id;
  }
};

namespace {

thread_local SimEnv::Rep* t_current_sim = nullptr;

}  // namespace

class SimAlgorithm : public boost::fibers::algo::algorithm_with_properties<SimProps> {
 public:
  explicit SimAlgorithm(SimEnv::Rep* rep) : rep_(rep) { rep_->algo = this; }
  ~SimAlgorithm() override {
    if (rep_ != nullptr && rep_->algo == this) rep_->algo = nullptr;
  }

  void Detach() { rep_ = nullptr; }

  void awakened(boost::fibers::context* ctx, SimProps& props) noexcept override {
    if (props.id == 0 && rep_ != nullptr && ctx->is_context(boost::fibers::type::worker_context)) {
      props.id = ++rep_->next_fiber_id;
    }
    if (!ctx->is_context(boost::fibers::type::dispatcher_context)) ++runnable_;
    ready_.push_back(*ctx);
  }

  boost::fibers::context* pick_next() noexcept override {
    if (ready_.empty()) return nullptr;
    boost::fibers::context* ctx = &ready_.front();
    ready_.pop_front();
    if (!ctx->is_context(boost::fibers::type::dispatcher_context)) --runnable_;
    if (rep_ != nullptr) {
      // The main and dispatcher contexts outlive one SimEnv, so they get fixed ids.
      uint64_t id = ctx->is_context(boost::fibers::type::main_context)         ? 0
                    : ctx->is_context(boost::fibers::type::dispatcher_context) ? ~0ULL
                                                                               : properties(ctx).id;
      rep_->Mix(kTraceResume, id);
    }
    return ctx;
  }

  bool has_ready_fibers() const noexcept override { return !ready_.empty(); }

  // True when a context other than the dispatcher is ready. The dispatcher is always
  // re-queued after it runs, so has_ready_fibers() alone would never turn false.
  bool HasRunnable() const { return runnable_ > 0; }

  // Reached only when the owning thread's main context blocks outside a Run call (for
  // example waiting on work of another Env); simulated fibers never need it.
  void suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept override {
    std::unique_lock<std::mutex> lock(mu_);
    if (tp == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock, [&] { return notified_; });
    } else {
      cv_.wait_until(lock, tp, [&] { return notified_; });
    }
    notified_ = false;
  }

  void notify() noexcept override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      notified_ = true;
    }
    cv_.notify_all();
  }

 private:
  SimEnv::Rep* rep_;
  boost::fibers::scheduler::ready_queue_type ready_;
  size_t runnable_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

namespace {

// Allocates fiber stacks and records where they are, so the shutdown path can find the
// stack a fiber runs on.
class SimStackAllocator {
 public:
  explicit SimStackAllocator(SimEnv::Rep* rep)
      : stacks_(rep->stacks), inner_(env_internal::kDefaultFiberStackBytes) {}

  boost::context::stack_context allocate() {
    boost::context::stack_context sc = inner_.allocate();
    (*stacks_)[reinterpret_cast<uintptr_t>(sc.sp)] = sc.size;
    return sc;
  }

  void deallocate(boost::context::stack_context& sc) noexcept {
    stacks_->erase(reinterpret_cast<uintptr_t>(sc.sp));
    inner_.deallocate(sc);
  }

 private:
  std::shared_ptr<std::map<uintptr_t, size_t>> stacks_;
  env_internal::FiberStackAllocator inner_;
};

}  // namespace

namespace env_internal {

void* CurrentSim() { return t_current_sim; }

void SimUnpoisonCurrentStack(void* sim, const void* here) {
  auto& stacks = *static_cast<SimEnv::Rep*>(sim)->stacks;
  auto addr = reinterpret_cast<uintptr_t>(here);
  auto it = stacks.upper_bound(addr);
  if (it == stacks.end() || addr < it->first - it->second) return;
  UnpoisonMemory(reinterpret_cast<void*>(it->first - it->second), it->second);
}

bool SimShuttingDown(void* sim) { return static_cast<SimEnv::Rep*>(sim)->shutting_down; }

void SimRegisterWait(void* sim, CondVar* cv) { ++static_cast<SimEnv::Rep*>(sim)->waits[cv]; }

void SimUnregisterWait(void* sim, CondVar* cv) {
  auto& waits = static_cast<SimEnv::Rep*>(sim)->waits;
  auto it = waits.find(cv);
  if (it != waits.end() && --it->second == 0) waits.erase(it);
}

}  // namespace env_internal

namespace {

// Lets every runnable fiber run until all of them are blocked. Called on the main context.
void Drain(SimEnv::Rep* rep) {
  while (rep->algo != nullptr && rep->algo->HasRunnable()) {
    boost::this_fiber::yield();
  }
}

void CheckOwner(const SimEnv::Rep* rep) {
  if (std::this_thread::get_id() != rep->owner) {
    std::fprintf(stderr, "rutile: SimEnv used from a thread other than its owner\n");
    std::abort();
  }
}

// Fires the earliest timer if it is due at or before `deadline`. Returns false if none is.
bool FireNextTimer(SimEnv* env, SimEnv::Rep* rep, uint64_t deadline) {
  if (rep->timers.empty()) return false;
  auto first = rep->timers.begin();
  if (first->first.first > deadline) return false;
  auto [when, id] = first->first;
  SimEnv::Rep::Timer timer = std::move(first->second);
  rep->timers.erase(first);
  rep->timer_when.erase(id);
  if (when > rep->now) rep->now = when;
  rep->Mix(kTraceTimer, id, rep->now);
  if (timer.on_fiber) {
    env->Spawn(std::move(timer.fn));
  } else {
    timer.fn();
  }
  return true;
}

}  // namespace

SimEnv::SimEnv(const SimEnvOptions& options) : rep_(std::make_unique<Rep>(options)) {
  if (t_current_sim != nullptr) {
    std::fprintf(stderr, "rutile: only one SimEnv may be alive per thread\n");
    std::abort();
  }
  boost::fibers::use_scheduling_algorithm<SimAlgorithm>(rep_.get());
  t_current_sim = rep_.get();
}

SimEnv::~SimEnv() {
  CheckOwner(rep_.get());
  // Unwind every fiber: pending timers never fire, and each blocked wait throws
  // FiberCancelled when woken.
  rep_->shutting_down = true;
  rep_->timers.clear();
  rep_->timer_when.clear();
  for (int round = 0; rep_->live_fibers > 0 && round < 10000; ++round) {
    auto waits = rep_->waits;
    for (auto& [cv, n] : waits) cv->NotifyAll();
    Drain(rep_.get());
  }
  if (rep_->live_fibers > 0) {
    std::fprintf(stderr,
                 "rutile: SimEnv destroyed with %zu fibers blocked outside Rutile's primitives\n",
                 rep_->live_fibers);
    std::abort();
  }
  if (rep_->algo != nullptr) rep_->algo->Detach();
  t_current_sim = nullptr;
  boost::fibers::use_scheduling_algorithm<boost::fibers::algo::round_robin>();
}

uint64_t SimEnv::NowMicros() { return rep_->now; }

uint64_t SimEnv::WallMicros() {
  return rep_->options.wall_epoch_micros + rep_->now + rep_->wall_skew;
}

void SimEnv::Spawn(std::function<void()> fn) {
  CheckOwner(rep_.get());
  if (rep_->shutting_down) return;
  ++rep_->live_fibers;
  Rep* rep = rep_.get();
  rep->Mix(kTraceSpawn, rep->live_fibers, rep->next_fiber_id);
  boost::fibers::fiber f(std::allocator_arg, SimStackAllocator(rep), [rep, fn = std::move(fn)] {
    try {
      fn();
    } catch (const FiberCancelled&) {
    }
    --rep->live_fibers;
  });
  f.detach();
}

TimerId SimEnv::Schedule(uint64_t delay_micros, std::function<void()> fn) {
  CheckOwner(rep_.get());
  return rep_->AddTimer(delay_micros, std::move(fn), /*on_fiber=*/true);
}

TimerId SimEnv::ScheduleCallback(uint64_t delay_micros, std::function<void()> fn) {
  CheckOwner(rep_.get());
  return rep_->AddTimer(delay_micros, std::move(fn), /*on_fiber=*/false);
}

bool SimEnv::Cancel(TimerId id) {
  auto it = rep_->timer_when.find(id);
  if (it == rep_->timer_when.end()) return false;
  rep_->timers.erase(Rep::TimerKey{it->second, id});
  rep_->timer_when.erase(it);
  return true;
}

void SimEnv::SleepForMicros(uint64_t micros) {
  Notification never;
  never.WaitFor(this, micros);
}

void SimEnv::Yield() {
  sync_internal::WaitScope::CheckCancelled();
  boost::this_fiber::yield();
}

uint64_t SimEnv::Random64() {
  uint64_t v = rep_->rng.Next();
  rep_->Mix(kTraceRandom, v);
  return v;
}

void SimEnv::RunBlocking(std::function<void()> fn) { fn(); }

void SimEnv::RunFor(uint64_t micros) {
  CheckOwner(rep_.get());
  const uint64_t deadline = rep_->now + micros;
  for (;;) {
    Drain(rep_.get());
    if (!FireNextTimer(this, rep_.get(), deadline)) break;
  }
  if (rep_->now < deadline) rep_->now = deadline;
}

bool SimEnv::RunUntil(const std::function<bool()>& done, uint64_t timeout_micros) {
  CheckOwner(rep_.get());
  const uint64_t deadline = rep_->now + timeout_micros;
  for (;;) {
    Drain(rep_.get());
    if (done()) return true;
    if (!FireNextTimer(this, rep_.get(), deadline)) break;
  }
  if (rep_->now < deadline) rep_->now = deadline;
  return done();
}

void SimEnv::RunUntilIdle() {
  CheckOwner(rep_.get());
  for (;;) {
    Drain(rep_.get());
    if (!FireNextTimer(this, rep_.get(), UINT64_MAX)) break;
  }
}

void SimEnv::SkewWallClock(int64_t delta_micros) { rep_->wall_skew += delta_micros; }

uint64_t SimEnv::TraceHash() const { return rep_->trace; }

void SimEnv::Trace(uint64_t event) { rep_->Mix(kTraceUser, event); }

size_t SimEnv::LiveFibers() const { return rep_->live_fibers; }

size_t SimEnv::PendingTimers() const { return rep_->timers.size(); }

uint64_t SimEnv::seed() const { return rep_->options.seed; }

}  // namespace rutile

#ifdef RUTILE_ASAN
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

// AddressSanitizer workaround. When a FiberCancelled unwinds a simulated fiber, every
// landing pad calls __asan_handle_no_return, which asks sigaltstack() for the signal stack
// through ASan's own interceptor; that interceptor checks its output buffer against the
// shadow of the fiber stack, which unwinding leaves stale, and reports a false
// stack-use-after-scope. Defining sigaltstack here (it forwards to the system call, as
// libc's does) takes the interceptor out of that path. Built only with ASan.
extern "C" int sigaltstack(const stack_t* ss, stack_t* old_ss) {
  return static_cast<int>(syscall(SYS_sigaltstack, ss, old_ss));
}
#endif
