#include "rutile/env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/env_internal.h"
#include "util/sync.h"

namespace rutile {
namespace {

// Runs a random mix of fiber spawns, sleeps, timers and channel operations driven by
// the SimEnv's own seeded random source, and returns the trace hash.
uint64_t RandomWorkloadHash(uint64_t seed, int ops) {
  SimEnv env(SimEnvOptions{.seed = seed});
  Channel<int> ch(8);
  int remaining = ops;
  uint64_t sum = 0;
  std::function<void()> actor = [&] {
    while (remaining > 0) {
      --remaining;
      switch (env.Uniform(5)) {
        case 0:
          env.Spawn(actor);
          return;
        case 1:
          env.SleepForMicros(env.Uniform(1000));
          break;
        case 2:
          env.Schedule(env.Uniform(500), [&] { ch.TryPush(1); });
          break;
        case 3:
          ch.TryPush(static_cast<int>(env.Uniform(100)));
          break;
        case 4:
          if (auto v = ch.PopFor(&env, env.Uniform(300))) sum += *v;
          break;
      }
    }
  };
  for (int i = 0; i < 4; ++i) env.Spawn(actor);
  env.RunUntil([&] { return remaining <= 0; }, 1'000'000'000);
  env.RunFor(10'000);
  env.Trace(sum);
  return env.TraceHash();
}

TEST(SimEnvTest, SameSeedSameTraceHash) {
  uint64_t a = RandomWorkloadHash(42, 10'000);
  uint64_t b = RandomWorkloadHash(42, 10'000);
  EXPECT_EQ(a, b);
}

TEST(SimEnvTest, DifferentSeedsDifferentTraceHashes) {
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 8; ++seed) hashes.insert(RandomWorkloadHash(seed, 10'000));
  EXPECT_EQ(hashes.size(), 8u);
}

TEST(SimEnvTest, VirtualTimeDoesNotMoveWhileAFiberIsRunnable) {
  SimEnv env;
  uint64_t start = env.NowMicros();
  std::vector<uint64_t> seen;
  // A fiber that yields many times and never blocks: time must stand still for it.
  env.Spawn([&] {
    for (int i = 0; i < 1000; ++i) {
      seen.push_back(env.NowMicros());
      env.Yield();
    }
  });
  env.Schedule(1, [&] { seen.push_back(env.NowMicros()); });
  env.RunFor(10);
  ASSERT_EQ(seen.size(), 1001u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], start);
  EXPECT_EQ(seen[1000], start + 1);
  EXPECT_EQ(env.NowMicros(), start + 10);
}

TEST(SimEnvTest, SleepAdvancesVirtualTimeExactly) {
  SimEnv env;
  uint64_t start = env.NowMicros();
  uint64_t woke = 0;
  env.Spawn([&] {
    env.SleepForMicros(5'000'000);
    woke = env.NowMicros();
  });
  env.RunUntilIdle();
  EXPECT_EQ(woke, start + 5'000'000);
}

TEST(SimEnvTest, HundredThousandTimersFireInDeadlineOrder) {
  SimEnv env(SimEnvOptions{.seed = 7});
  constexpr int kTimers = 100'000;
  std::vector<std::pair<uint64_t, int>> fired;
  fired.reserve(kTimers);
  std::vector<uint64_t> deadline(kTimers);
  uint64_t start = env.NowMicros();
  for (int i = 0; i < kTimers; ++i) {
    uint64_t delay = env.Uniform(1'000'000);
    deadline[i] = start + delay;
    env.ScheduleCallback(delay, [&, i] { fired.emplace_back(env.NowMicros(), i); });
  }
  env.RunUntilIdle();
  ASSERT_EQ(fired.size(), static_cast<size_t>(kTimers));
  for (int i = 0; i < kTimers; ++i) {
    EXPECT_EQ(fired[i].first, deadline[fired[i].second]);
    if (i > 0) {
      ASSERT_LE(fired[i - 1].first, fired[i].first);
      // Equal deadlines fire in the order they were set.
      if (fired[i - 1].first == fired[i].first) {
        ASSERT_LT(fired[i - 1].second, fired[i].second);
      }
    }
  }
}

TEST(SimEnvTest, CancelledTimerNeverFires) {
  SimEnv env;
  bool fired = false;
  TimerId id = env.Schedule(100, [&] { fired = true; });
  EXPECT_TRUE(env.Cancel(id));
  EXPECT_FALSE(env.Cancel(id));
  env.RunFor(1000);
  EXPECT_FALSE(fired);
}

TEST(SimEnvTest, FutureTimesOutInVirtualTime) {
  SimEnv env;
  Promise<int> p;
  Future<int> f = p.GetFuture();
  bool first = true, second = false;
  uint64_t start = env.NowMicros();
  uint64_t t1 = 0;
  env.Spawn([&] {
    first = f.WaitFor(&env, 100);
    t1 = env.NowMicros();
    second = f.WaitFor(&env, 1000);
  });
  env.Schedule(500, [&] { p.Set(7); });
  env.RunUntilIdle();
  EXPECT_FALSE(first);
  EXPECT_EQ(t1, start + 100);
  EXPECT_TRUE(second);
  EXPECT_EQ(f.Get(), 7);
}

TEST(SimEnvTest, DestroyUnwindsBlockedFibers) {
  int unwound = 0;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  // What the fibers wait on must outlive the SimEnv, which unwinds them when destroyed.
  Channel<int> ch;
  Notification never;
  {
    SimEnv env;
    for (int i = 0; i < 10; ++i) {
      env.Spawn([&] {
        Guard g{&unwound};
        ch.Pop();
      });
      env.Spawn([&, never] {
        Guard g{&unwound};
        never.Wait();
      });
      env.Spawn([&] {
        Guard g{&unwound};
        env.SleepForMicros(1'000'000'000);
      });
    }
    env.RunFor(1000);
    EXPECT_EQ(env.LiveFibers(), 30u);
  }
  EXPECT_EQ(unwound, 30);
}

TEST(SimEnvTest, WallClockSkew) {
  SimEnv env;
  uint64_t w = env.WallMicros();
  env.SkewWallClock(-500);
  EXPECT_EQ(env.WallMicros(), w - 500);
  uint64_t m = env.NowMicros();
  EXPECT_EQ(env.NowMicros(), m);
}

TEST(SimEnvTest, RandomIsSeeded) {
  uint64_t a, b, c;
  {
    SimEnv env(SimEnvOptions{.seed = 9});
    a = env.Random64();
  }
  {
    SimEnv env(SimEnvOptions{.seed = 9});
    b = env.Random64();
  }
  {
    SimEnv env(SimEnvOptions{.seed = 10});
    c = env.Random64();
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(DefaultEnvTest, SpawnFromForeignThreadAndWait) {
  Env* env = Env::Default();
  constexpr int kFibers = 1000;
  std::atomic<int> done{0};
  WaitGroup wg;
  wg.Add(kFibers);
  for (int i = 0; i < kFibers; ++i) {
    env->Spawn([&] {
      env->Yield();
      done.fetch_add(1);
      wg.Done();
    });
  }
  wg.Wait();
  EXPECT_EQ(done.load(), kFibers);
}

TEST(DefaultEnvTest, TimersAndTimeouts) {
  Env* env = Env::Default();
  Notification n;
  uint64_t start = env->NowMicros();
  env->Schedule(20'000, [n]() mutable { n.Notify(); });
  EXPECT_FALSE(n.WaitFor(env, 1'000));
  EXPECT_TRUE(n.WaitFor(env, 5'000'000));
  EXPECT_GE(env->NowMicros() - start, 20'000u);
}

TEST(DefaultEnvTest, SleepingFiberDoesNotBlockOthers) {
  Env* env = Env::Default();
  Promise<uint64_t> p;
  Notification slept;
  env->Spawn([&, slept]() mutable {
    env->SleepForMicros(50'000);
    slept.Notify();
  });
  env->Spawn([&] { p.Set(env->NowMicros()); });
  p.GetFuture().Get();
  EXPECT_FALSE(slept.HasBeenNotified());
  slept.Wait();
}

// With a single worker thread, a fiber waiting on the I/O bridge must leave the thread
// free: another fiber on it makes progress while the blocking call is still running.
TEST(ThreadedEnvTest, RunBlockingDoesNotStallOtherFibersOnItsThread) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 1, .io_threads = 1});
  std::atomic<bool> release{false};
  std::atomic<int> progress{0};
  Notification blocked_done, other_done;
  env->Spawn([&, blocked_done]() mutable {
    env->RunBlocking([&] {
      // Blocks this I/O thread until the other fiber proves it ran.
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    blocked_done.Notify();
  });
  env->Spawn([&, other_done]() mutable {
    for (int i = 0; i < 100; ++i) {
      progress.fetch_add(1);
      env->Yield();
    }
    release.store(true);
    other_done.Notify();
  });
  other_done.Wait();
  blocked_done.Wait();
  EXPECT_EQ(progress.load(), 100);
}

// A RunBlocking nested inside RunBlocking work (an engine that bridges its own fsyncs,
// called from a bridged caller) must not wait for a second I/O thread: with one I/O
// thread it would wait forever.
TEST(ThreadedEnvTest, NestedRunBlockingRunsInline) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 1, .io_threads = 1});
  Promise<int> result;
  env->Spawn([&] {
    int depth = 0;
    env->RunBlocking([&] {
      ++depth;
      env->RunBlocking([&] { ++depth; });
    });
    result.Set(depth);
  });
  EXPECT_EQ(result.GetFuture().Get(), 2);
}

// Work made ready while workers sleep must wake enough of them: four fibers that each
// hold their OS thread until all four run at once can only finish on four workers.
TEST(ThreadedEnvTest, IdleWorkersWakeForReadyFibers) {
  constexpr int kWorkers = 4;
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = kWorkers, .io_threads = 1});
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> running{0};
    std::atomic<int> met{0};
    WaitGroup wg;
    wg.Add(kWorkers);
    Notification go;
    // Spawned from a fiber, so each new fiber is made ready by a worker while the others
    // sleep; the fibers then block their threads on purpose.
    env->Spawn([&] {
      for (int i = 0; i < kWorkers; ++i) {
        env->Spawn([&] {
          running.fetch_add(1);
          auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
          while (running.load() < kWorkers && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
          }
          if (running.load() == kWorkers) met.fetch_add(1);
          wg.Done();
        });
      }
    });
    wg.Wait();
    ASSERT_EQ(met.load(), kWorkers) << "round " << round;
  }
}

// A ping-pong between a fiber and a thread outside the Env: every wake-up of a sleeping
// worker by another thread must arrive (a lost one hangs here).
TEST(ThreadedEnvTest, CrossThreadPingPong) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 2, .io_threads = 2});
  Channel<int> to_fiber;
  Channel<int> to_thread;
  Notification finished;
  env->Spawn([&, finished]() mutable {
    while (auto v = to_fiber.Pop()) {
      if (*v % 2 == 0) {
        env->RunBlocking([] {});  // Through an I/O thread and back.
      }
      to_thread.Push(*v + 1);
    }
    finished.Notify();
  });
  for (int i = 0; i < 500; ++i) {
    to_fiber.Push(i);
    ASSERT_EQ(*to_thread.Pop(), i + 1);
  }
  to_fiber.Close();
  finished.Wait();
}

// Fibers reuse the stacks of finished ones; each must get a whole usable stack.
TEST(ThreadedEnvTest, ReusedStacksAreWhole) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 2, .io_threads = 1});
  for (int i = 0; i < 300; ++i) {
    Promise<int> p;
    env->Spawn([&p, i] {
      volatile char big[128 * 1024];
      for (size_t k = 0; k < sizeof(big); k += 4096) big[k] = static_cast<char>(i);
      p.Set(big[4096] + 1);
    });
    ASSERT_EQ(p.GetFuture().Get(), static_cast<char>(i) + 1);
  }
}

TEST(ThreadedEnvTest, ChannelAcrossFibersAndThreads) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 2, .io_threads = 1});
  Channel<int> ch(16);
  constexpr int kItems = 20'000;
  Promise<int64_t> total;
  env->Spawn([&] {
    int64_t sum = 0;
    for (int i = 0; i < kItems; ++i) sum += *ch.Pop();
    total.Set(sum);
  });
  for (int p = 0; p < 4; ++p) {
    env->Spawn([&, p] {
      for (int i = p; i < kItems; i += 4) ch.Push(i);
    });
  }
  EXPECT_EQ(total.GetFuture().Get(), int64_t{kItems} * (kItems - 1) / 2);
}

}  // namespace
TEST(SyncTest, SharedMutexReadersShareWritersExcludeAndGoFirst) {
  SimEnv env(SimEnvOptions{.seed = 3});
  SharedMutex mu;
  int readers_in = 0;
  int max_readers = 0;
  bool writer_in = false;
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    env.Spawn([&] {
      std::shared_lock<SharedMutex> l(mu);
      EXPECT_FALSE(writer_in);
      max_readers = std::max(max_readers, ++readers_in);
      env.SleepForMicros(100);  // Holds the lock across a wait that yields.
      --readers_in;
    });
  }
  env.Spawn([&] {
    env.SleepForMicros(10);
    std::unique_lock<SharedMutex> l(mu);
    EXPECT_EQ(readers_in, 0);
    writer_in = true;
    env.SleepForMicros(100);
    writer_in = false;
    order.push_back("writer");
  });
  env.Spawn([&] {
    env.SleepForMicros(20);  // Arrives while the writer waits: goes after it.
    std::shared_lock<SharedMutex> l(mu);
    EXPECT_FALSE(writer_in);
    order.push_back("reader");
  });
  env.RunUntilIdle();
  EXPECT_EQ(max_readers, 3);
  EXPECT_EQ(order, (std::vector<std::string>{"writer", "reader"}));
}

// Mutex and CondVar under contention from fibers on two workers and from a plain thread:
// no increment is lost, every waiter is woken (a lost wake-up hangs here), and the counts
// come out exact.
TEST(SyncTest, MutexAndCondVarAcrossWorkersAndAThread) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 2, .io_threads = 1});
  constexpr int kFibers = 8;
  constexpr int kRounds = 500;
  Mutex mu;
  CondVar turn_changed;
  int64_t counter = 0;
  int turn = 0;  // Fibers take turns in a ring, each waiting for its own number.
  WaitGroup wg;
  wg.Add(kFibers);
  for (int f = 0; f < kFibers; ++f) {
    env->Spawn([&, f] {
      for (int r = 0; r < kRounds; ++r) {
        {
          MutexLock l(mu);
          ++counter;
        }
        if (r % 50 == 0) env->Yield();
      }
      for (int r = 0; r < 20; ++r) {
        MutexLock l(mu);
        turn_changed.Wait(l, [&] { return turn % kFibers == f; });
        ++turn;
        turn_changed.NotifyAll();
      }
      wg.Done();
    });
  }
  // A thread outside the Env takes the same lock: its waits block the thread.
  std::thread outsider([&] {
    for (int r = 0; r < kRounds; ++r) {
      MutexLock l(mu);
      ++counter;
    }
  });
  outsider.join();
  wg.Wait();
  MutexLock l(mu);
  EXPECT_EQ(counter, int64_t{kFibers + 1} * kRounds);
  EXPECT_EQ(turn, kFibers * 20);
}

// Whoever takes the lock last may destroy the mutex right after its unlock, while an
// earlier owner may still be inside its own unlock's slow path: unlock touches no member
// once it has released the lock (its waiters park outside the mutex). ASan catches a
// regression as a use after free.
TEST(SyncTest, LastOwnerMayDestroyTheMutexWhileAnEarlierUnlockFinishes) {
  auto env = NewThreadedEnv(ThreadedEnvOptions{.worker_threads = 2, .io_threads = 1});
  struct Shared {
    Mutex mu;
    int left = 4;
  };
  for (int round = 0; round < 1000; ++round) {
    auto* s = new Shared;
    WaitGroup wg;
    wg.Add(4);
    for (int f = 0; f < 4; ++f) {
      env->Spawn([s, &wg] {
        s->mu.lock();
        const bool last = --s->left == 0;
        s->mu.unlock();
        if (last) delete s;
        wg.Done();
      });
    }
    wg.Wait();
  }
}

// CondVar and Mutex wake their waiters oldest first, so SimEnv schedules stay the same.
TEST(SyncTest, WaitersWakeInArrivalOrder) {
  SimEnv env(SimEnvOptions{.seed = 5});
  Mutex mu;
  CondVar cv;
  std::vector<int> woke;
  std::vector<int> locked;
  for (int i = 0; i < 4; ++i) {
    env.Spawn([&, i] {
      env.SleepForMicros(10 * (i + 1));
      MutexLock l(mu);
      cv.Wait(l);
      woke.push_back(i);
    });
  }
  env.Spawn([&] {
    env.SleepForMicros(100);
    for (int i = 0; i < 4; ++i) {
      MutexLock l(mu);
      cv.NotifyOne();
    }
  });
  env.RunUntilIdle();
  EXPECT_EQ(woke, (std::vector<int>{0, 1, 2, 3}));
  // A held Mutex queues lockers in arrival order too.
  env.Spawn([&] {
    MutexLock l(mu);
    env.SleepForMicros(100);
  });
  for (int i = 0; i < 3; ++i) {
    env.Spawn([&, i] {
      env.SleepForMicros(10 * (i + 1));
      MutexLock l(mu);
      locked.push_back(i);
    });
  }
  env.RunUntilIdle();
  EXPECT_EQ(locked, (std::vector<int>{0, 1, 2}));
}
}  // namespace rutile
