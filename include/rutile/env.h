// rutile::Env is the only door to time, timers, randomness and concurrency, as LevelDB's
// Env is its only door to the operating system. Everything in Rutile that waits, sleeps,
// reads a clock, picks at random or starts concurrent work goes through an Env, which is
// what lets a whole cluster run inside one thread under SimEnv and replay from a seed.
//
// Concurrency is fibers (Boost.Fiber underneath; no Boost type appears here). Blocking
// calls below (SleepForMicros, RunBlocking, and the primitives of util/sync.h) suspend the
// calling fiber, never the OS thread, and must be called on a fiber of the same Env.
//
// Thread safety: Env::Default() may be used from any thread. A SimEnv belongs to the
// thread that created it; every call on it must come from that thread.

#ifndef RUTILE_ENV_H_
#define RUTILE_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>

namespace rutile {

// Identifies a timer set by Env::Schedule or Env::ScheduleCallback. Never 0.
using TimerId = uint64_t;

class Env {
 public:
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  virtual ~Env();

  // Returns the process-wide default Env: Boost.Fiber's work-sharing scheduler on a few
  // worker threads (RUTILE_ENV_THREADS, default the number of cores, at least 2), a timer
  // thread, and a small I/O thread pool behind RunBlocking. Never destroyed.
  static Env* Default();

  // Microseconds from a monotonic clock with an arbitrary origin.
  virtual uint64_t NowMicros() = 0;

  // Microseconds since the Unix epoch. May jump (NTP, or SkewClock under simulation).
  virtual uint64_t WallMicros() = 0;

  // Starts `fn` on a new fiber of this Env and returns at once. `fn` must not throw.
  virtual void Spawn(std::function<void()> fn) = 0;

  // Runs `fn` on a new fiber after `delay_micros`. Returns an id for Cancel.
  virtual TimerId Schedule(uint64_t delay_micros, std::function<void()> fn) = 0;

  // Runs `fn` after `delay_micros` on the Env's timer context rather than a fiber of its
  // own. `fn` must be short and must not block: it may only notify (the primitives of
  // util/sync.h are fine). Cheaper than Schedule; what timeouts are built on.
  virtual TimerId ScheduleCallback(uint64_t delay_micros, std::function<void()> fn) = 0;

  // Cancels a timer. Returns true if it had not fired and now never will; false if it
  // fired already, is firing, or `id` is unknown.
  virtual bool Cancel(TimerId id) = 0;

  // Suspends the calling fiber for `micros` of this Env's time.
  virtual void SleepForMicros(uint64_t micros) = 0;

  // Lets other runnable fibers run before the calling fiber continues.
  virtual void Yield() = 0;

  // A uniformly distributed 64-bit value. Under SimEnv it comes from the seed.
  virtual uint64_t Random64() = 0;

  // Uniform in [0, n); n must be > 0.
  uint64_t Uniform(uint64_t n) { return Random64() % n; }

  // True with probability `p` (0 <= p <= 1).
  bool OneIn(double p);

  // Runs blocking work (a synced write, a file read) on an I/O thread and suspends the
  // calling fiber until it returns; other fibers, including those on the caller's thread,
  // keep running meanwhile. Under SimEnv `fn` runs inline, so the history stays
  // deterministic.
  virtual void RunBlocking(std::function<void()> fn) = 0;

  // True when this Env is a simulation (virtual time, one thread).
  virtual bool IsSimulated() const { return false; }
};

// Options of a simulated Env.
struct SimEnvOptions {
  uint64_t seed = 1;
  // Virtual monotonic time at start, and the wall-clock offset added to it.
  uint64_t start_micros = 1'000'000;
  uint64_t wall_epoch_micros = 1'700'000'000'000'000;
};

// A deterministic Env for simulation: one OS thread (the one that constructs it), a FIFO
// fiber scheduler, a virtual clock that moves only when every fiber is blocked (then it
// jumps to the next timer), and a seeded random source. With the in-memory engine and
// the simulated transport, the same seed gives the same history byte for byte; TraceHash
// summarizes the scheduling history so tests can assert it.
//
// Fibers run only inside RunFor, RunUntil and RunUntilIdle, called from the owning thread
// outside any fiber of this Env. Destroying a SimEnv cancels its timers and unwinds every
// fiber still blocked in Rutile's primitives.
class SimEnv : public Env {
 public:
  explicit SimEnv(const SimEnvOptions& options = SimEnvOptions());
  ~SimEnv() override;

  uint64_t NowMicros() override;
  uint64_t WallMicros() override;
  void Spawn(std::function<void()> fn) override;
  TimerId Schedule(uint64_t delay_micros, std::function<void()> fn) override;
  TimerId ScheduleCallback(uint64_t delay_micros, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;
  void SleepForMicros(uint64_t micros) override;
  void Yield() override;
  uint64_t Random64() override;
  void RunBlocking(std::function<void()> fn) override;
  bool IsSimulated() const override { return true; }

  // Runs fibers and fires timers until `micros` of virtual time have passed.
  void RunFor(uint64_t micros);

  // Runs until `done()` holds (checked whenever no fiber is runnable) or `timeout_micros`
  // of virtual time pass. Returns whether `done()` held.
  bool RunUntil(const std::function<bool()>& done, uint64_t timeout_micros);

  // Runs until no fiber is runnable and no timer is pending.
  void RunUntilIdle();

  // Adds `delta_micros` (may be negative) to what WallMicros returns, as clock skew on one
  // machine would. Monotonic time is not affected.
  void SkewWallClock(int64_t delta_micros);

  // A hash of everything that shaped the schedule so far: fiber starts and switches,
  // timer firings with their virtual times, and random draws.
  uint64_t TraceHash() const;

  // Mixes a caller's event into the trace hash (for example a delivered frame).
  void Trace(uint64_t event);

  // Number of fibers started and not yet finished.
  size_t LiveFibers() const;

  // Number of timers pending.
  size_t PendingTimers() const;

  uint64_t seed() const;

  // The implementation; opaque outside lib/util.
  struct Rep;

 private:
  std::unique_ptr<Rep> rep_;
};

}  // namespace rutile

#endif  // RUTILE_ENV_H_
