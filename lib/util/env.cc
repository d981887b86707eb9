// Env::Default() and threaded fiber Envs: a work-sharing Boost.Fiber scheduler over a pool
// of worker threads, a timer thread, and an I/O thread pool for RunBlocking.

#include <algorithm>
#include <atomic>
#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/protected_fixedsize_stack.hpp>
#include <boost/fiber/scheduler.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "util/env_internal.h"
#include "util/sync.h"

#ifdef RUTILE_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace rutile {

namespace {

// Abseil turns its Mutex deadlock detection on when its own mutex.cc is compiled without
// NDEBUG, and Debian's libabsl (20220623) is: every absl::Mutex lock and unlock, in any
// build of ours, then records the lock in a global GraphCycles under one process-wide
// spinlock (~110 ns per uncontended lock against ~35 ns without, and the two cores of a
// read path serialise on that spinlock; the raw get profile of kv_bench showed a fifth of
// its CPU there). Upstream abseil leaves detection off in optimised builds, so ours do the
// same; Debug and sanitizer builds (no NDEBUG) keep it, and it still aborts there on a
// lock-order cycle. Runs at load time, before any fiber or thread of ours exists.
#ifdef NDEBUG
[[maybe_unused]] const bool kAbslDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();
#endif

}  // namespace

namespace env_internal {

void UnpoisonMemory(void* begin, size_t size) {
#ifdef RUTILE_ASAN
  ASAN_UNPOISON_MEMORY_REGION(begin, size);
#else
  (void)begin;
  (void)size;
#endif
}

namespace {
void UnpoisonStack(const boost::context::stack_context& sc) {
  UnpoisonMemory(static_cast<char*>(sc.sp) - sc.size, sc.size);
}
}  // namespace

namespace {

// Stacks of finished fibers, kept for the next ones: a fiber per delivered frame or timer
// is common, and a fresh stack costs mmap, mprotect, page faults and, on release, munmap
// with its TLB shootdown across cores. Process-wide, bounded.
class StackCache {
 public:
  static StackCache& Get() {
    static StackCache* cache = new StackCache();  // Never destroyed: fibers may outlive main.
    return *cache;
  }

  // A stack an allocator for `bytes` made earlier, if one is cached.
  bool Take(size_t bytes, boost::context::stack_context* sc) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = stacks_.size(); i-- > 0;) {
      if (stacks_[i].first == bytes) {
        *sc = stacks_[i].second;
        stacks_[i] = stacks_.back();
        stacks_.pop_back();
        return true;
      }
    }
    return false;
  }

  // Keeps `sc` (made for `bytes`) unless the cache is full.
  bool Put(size_t bytes, const boost::context::stack_context& sc) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stacks_.size() >= kMaxStacks) return false;
    stacks_.emplace_back(bytes, sc);
    return true;
  }

 private:
  static constexpr size_t kMaxStacks = 64;
  std::mutex mu_;
  std::vector<std::pair<size_t, boost::context::stack_context>> stacks_;
};

}  // namespace

boost::context::stack_context FiberStackAllocator::allocate() {
  boost::context::stack_context sc;
  if (!StackCache::Get().Take(bytes_, &sc)) sc = inner_.allocate();
  UnpoisonStack(sc);
  return sc;
}

void FiberStackAllocator::deallocate(boost::context::stack_context& sc) noexcept {
  UnpoisonStack(sc);
  if (!StackCache::Get().Put(bytes_, sc)) inner_.deallocate(sc);
}

}  // namespace env_internal

Env::~Env() = default;

bool Env::OneIn(double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return static_cast<double>(Random64() >> 11) * 0x1.0p-53 < p;
}

namespace {

// The ready queue every worker thread of one pool shares. Pinned contexts (each thread's
// main and dispatcher contexts) never migrate and stay in their thread's local queue.
// Idle workers wait each on their own condition variable, so that new work wakes exactly
// one of them and a wake-up meant for one thread (a fiber of its own made ready by another
// thread) wakes only that thread: on a virtual machine, waking a halted CPU for nothing
// costs tens of microseconds of the CPU that must run the work.
struct SharedQueue;

struct IdleWorker {
  std::condition_variable cv;
  bool woken = false;  // Guarded by SharedQueue::mu.
};

struct SharedQueue {
  std::mutex mu;
  std::deque<boost::fibers::context*> ready;
  // Workers waiting in suspend_until, in the order they began to wait.
  std::deque<IdleWorker*> idle;

  // Wakes one idle worker, if any. Requires mu.
  void WakeOneLocked() {
    if (idle.empty()) return;
    IdleWorker* w = idle.back();  // The most recently idle: its cache is warmest.
    idle.pop_back();
    w->woken = true;
    w->cv.notify_one();
  }
};

class SharingAlgorithm : public boost::fibers::algo::algorithm {
 public:
  explicit SharingAlgorithm(SharedQueue* shared) : shared_(shared) {}

  void awakened(boost::fibers::context* ctx) noexcept override {
    if (ctx->is_context(boost::fibers::type::pinned_context)) {
      local_.push_back(*ctx);
      return;
    }
    ctx->detach();
    // Called by this thread's dispatcher (moving fibers woken by other threads, or
    // sleepers whose time came), this thread picks the next fiber right away: the first
    // fiber queued needs no other worker woken for it.
    const bool picking_next =
        boost::fibers::context::active()->is_context(boost::fibers::type::dispatcher_context);
    std::lock_guard<std::mutex> lock(shared_->mu);
    const bool first = shared_->ready.empty();
    shared_->ready.push_back(ctx);
    if (!(picking_next && first)) shared_->WakeOneLocked();
  }

  boost::fibers::context* pick_next() noexcept override {
    boost::fibers::context* ctx = nullptr;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (!shared_->ready.empty()) {
        ctx = shared_->ready.front();
        shared_->ready.pop_front();
      }
    }
    if (ctx != nullptr) {
      boost::fibers::context::active()->attach(ctx);
      return ctx;
    }
    if (!local_.empty()) {
      ctx = &local_.front();
      local_.pop_front();
    }
    return ctx;
  }

  bool has_ready_fibers() const noexcept override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    return !shared_->ready.empty() || !local_.empty();
  }

  void suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept override {
    std::unique_lock<std::mutex> lock(shared_->mu);
    if (notified_ || !shared_->ready.empty()) {
      notified_ = false;
      return;
    }
    self_.woken = false;
    shared_->idle.push_back(&self_);
    auto wake = [&] { return notified_ || self_.woken; };
    if (tp == std::chrono::steady_clock::time_point::max()) {
      self_.cv.wait(lock, wake);
    } else {
      self_.cv.wait_until(lock, tp, wake);
    }
    if (!self_.woken) {
      // Timed out or notified: no longer idle.
      auto it = std::find(shared_->idle.begin(), shared_->idle.end(), &self_);
      if (it != shared_->idle.end()) shared_->idle.erase(it);
    }
    notified_ = false;
  }

  void notify() noexcept override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    notified_ = true;
    self_.cv.notify_one();
  }

 private:
  SharedQueue* shared_;
  boost::fibers::scheduler::ready_queue_type local_;
  IdleWorker self_;
  bool notified_ = false;  // Guarded by shared_->mu.
};

uint64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class ThreadedEnv : public Env {
 public:
  explicit ThreadedEnv(const ThreadedEnvOptions& options) : options_(options) {
    int workers = std::max(1, options.worker_threads);
    for (int i = 0; i < workers; ++i) {
      workers_.emplace_back([this] { WorkerMain(); });
    }
    for (int i = 0; i < std::max(1, options.io_threads); ++i) {
      io_threads_.emplace_back([this] { IoMain(); });
    }
    timer_thread_ = std::thread([this] { TimerMain(); });
  }

  ~ThreadedEnv() override {
    {
      std::lock_guard<std::mutex> lock(timer_mu_);
      stopping_ = true;
    }
    timer_cv_.notify_all();
    timer_thread_.join();
    {
      std::lock_guard<std::mutex> lock(io_mu_);
      io_stopping_ = true;
    }
    io_cv_.notify_all();
    for (auto& t : io_threads_) t.join();
    spawn_queue_.Close();
    for (auto& t : workers_) t.join();
  }

  uint64_t NowMicros() override { return SteadyMicros(); }

  uint64_t WallMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void Spawn(std::function<void()> fn) override {
    if (t_current_pool == this) {
      Launch(std::move(fn));
    } else {
      spawn_queue_.Push(std::move(fn));
    }
  }

  TimerId Schedule(uint64_t delay_micros, std::function<void()> fn) override {
    return AddTimer(delay_micros, std::move(fn), /*on_fiber=*/true);
  }

  TimerId ScheduleCallback(uint64_t delay_micros, std::function<void()> fn) override {
    return AddTimer(delay_micros, std::move(fn), /*on_fiber=*/false);
  }

  bool Cancel(TimerId id) override {
    std::lock_guard<std::mutex> lock(timer_mu_);
    auto it = timer_index_.find(id);
    if (it == timer_index_.end()) return false;
    timers_.erase(it->second);
    timer_index_.erase(it);
    return true;
  }

  void SleepForMicros(uint64_t micros) override {
    sync_internal::WaitScope::CheckCancelled();
    boost::this_fiber::sleep_for(std::chrono::microseconds(micros));
  }

  void Yield() override { boost::this_fiber::yield(); }

  uint64_t Random64() override {
    thread_local env_internal::Xoshiro256 rng(
        std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32));
    return rng.Next();
  }

  void RunBlocking(std::function<void()> fn) override {
    // Already on one of this pool's I/O threads (a nested RunBlocking): run inline. Queuing
    // would wait for a free I/O thread, and once every I/O thread waits so, none is ever free.
    if (t_io_pool == this) {
      fn();
      return;
    }
    Notification done;
    {
      std::lock_guard<std::mutex> lock(io_mu_);
      io_queue_.push_back([&fn, done]() mutable {
        fn();
        done.Notify();
      });
    }
    io_cv_.notify_one();
    done.Wait();
  }

 private:
  struct Timer {
    std::function<void()> fn;
    bool on_fiber;
    TimerId id;
  };
  using TimerKey = std::pair<uint64_t, TimerId>;

  void Launch(std::function<void()> fn) {
    boost::fibers::fiber f(std::allocator_arg,
                           env_internal::FiberStackAllocator(options_.fiber_stack_bytes),
                           [fn = std::move(fn)] {
                             try {
                               fn();
                             } catch (const FiberCancelled&) {
                             }
                           });
    f.detach();
  }

  void WorkerMain() {
    boost::fibers::use_scheduling_algorithm<SharingAlgorithm>(&shared_);
    t_current_pool = this;
    // This thread's main fiber launches what other threads hand over; fibers it launches
    // join the shared queue and may run on any worker. Every worker's main fiber is woken
    // for each hand-over (Channel notifies all): a worker whose thread a fiber blocks (a
    // std::mutex, a synchronous write) must not hold the launch up.
    while (auto fn = spawn_queue_.Pop()) {
      Launch(std::move(*fn));
    }
    t_current_pool = nullptr;
  }

  void IoMain() {
    t_io_pool = this;
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(io_mu_);
        io_cv_.wait(lock, [&] { return io_stopping_ || !io_queue_.empty(); });
        if (io_queue_.empty()) return;
        job = std::move(io_queue_.front());
        io_queue_.pop_front();
      }
      job();
    }
  }

  TimerId AddTimer(uint64_t delay_micros, std::function<void()> fn, bool on_fiber) {
    TimerId id;
    bool earliest;
    {
      std::lock_guard<std::mutex> lock(timer_mu_);
      id = ++next_timer_id_;
      TimerKey key{SteadyMicros() + delay_micros, id};
      timers_.emplace(key, Timer{std::move(fn), on_fiber, id});
      timer_index_.emplace(id, key);
      earliest = timers_.begin()->first == key;
    }
    if (earliest) timer_cv_.notify_one();
    return id;
  }

  void TimerMain() {
    std::unique_lock<std::mutex> lock(timer_mu_);
    while (!stopping_) {
      if (timers_.empty()) {
        timer_cv_.wait(lock);
        continue;
      }
      uint64_t now = SteadyMicros();
      auto first = timers_.begin();
      if (first->first.first > now) {
        timer_cv_.wait_for(lock, std::chrono::microseconds(first->first.first - now));
        continue;
      }
      Timer timer = std::move(first->second);
      timer_index_.erase(timer.id);
      timers_.erase(first);
      // Callbacks run without the timer lock: they may lock fiber mutexes whose holders
      // call Cancel.
      lock.unlock();
      if (timer.on_fiber) {
        Spawn(std::move(timer.fn));
      } else {
        timer.fn();
      }
      lock.lock();
    }
  }

  static thread_local ThreadedEnv* t_current_pool;
  static thread_local ThreadedEnv* t_io_pool;

  const ThreadedEnvOptions options_;
  SharedQueue shared_;
  Channel<std::function<void()>> spawn_queue_;
  std::vector<std::thread> workers_;

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  std::map<TimerKey, Timer> timers_;
  std::unordered_map<TimerId, TimerKey> timer_index_;
  TimerId next_timer_id_ = 0;
  bool stopping_ = false;
  std::thread timer_thread_;

  std::mutex io_mu_;
  std::condition_variable io_cv_;
  std::deque<std::function<void()>> io_queue_;
  bool io_stopping_ = false;
  std::vector<std::thread> io_threads_;
};

thread_local ThreadedEnv* ThreadedEnv::t_current_pool = nullptr;
thread_local ThreadedEnv* ThreadedEnv::t_io_pool = nullptr;

}  // namespace

std::unique_ptr<Env> NewThreadedEnv(const ThreadedEnvOptions& options) {
  return std::make_unique<ThreadedEnv>(options);
}

Env* Env::Default() {
  static Env* env = [] {
    ThreadedEnvOptions options;
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* s = std::getenv("RUTILE_ENV_THREADS")) threads = std::atoi(s);
    options.worker_threads = std::max(2, threads);
    // RUTILE_FIBER_STACK_KB: bigger fiber stacks for a process that recurses deeply on
    // them (the sqllogictest runner under AddressSanitizer, whose redzones make the
    // binder's frames over random/expr's nested expressions overflow 256 KiB).
    if (const char* s = std::getenv("RUTILE_FIBER_STACK_KB")) {
      const int kb = std::atoi(s);
      if (kb >= 64) options.fiber_stack_bytes = static_cast<size_t>(kb) * 1024;
    }
    return new ThreadedEnv(options);
  }();
  return env;
}

}  // namespace rutile
