// TSO allocator: strictly increasing timestamps within one leader, across concurrent
// fibers, across leader changes (a new allocator over the same storage) and across clock
// jumps in both directions (DESIGN.md section 8).

#include "pd/tso.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/env.h"
#include "util/sync.h"

namespace rutile::pd {
namespace {

constexpr uint64_t kMs = 1000;

// Runs `fn` on a fiber of `env` to completion.
void RunInSim(SimEnv& env, std::function<void()> fn) {
  bool done = false;
  env.Spawn([&] {
    fn();
    done = true;
  });
  ASSERT_TRUE(env.RunUntil([&] { return done; }, 3600ull * 1'000'000));
}

TEST(TsoTest, ComposeAndSplit) {
  uint64_t ts = ComposeTs(1'700'000'000'123, 45);
  EXPECT_EQ(TsPhysical(ts), 1'700'000'000'123u);
  EXPECT_EQ(TsLogical(ts), 45u);
  EXPECT_EQ(ComposeTs(1, 0) - ComposeTs(0, kMaxLogical - 1), 1u);
}

TEST(TsoTest, NotServingUntilInitializedAndAfterReset) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage);
  RunInSim(env, [&] {
    EXPECT_EQ(tso.GetTimestamp().status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(tso.UpdateTimestamp().code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(tso.Initialize().ok());
    EXPECT_TRUE(tso.GetTimestamp().ok());
    tso.Reset();
    EXPECT_FALSE(tso.IsServing());
    EXPECT_EQ(tso.GetTimestamp().status().code(), absl::StatusCode::kUnavailable);
  });
}

TEST(TsoTest, BadBatchSizesAreRejected) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage);
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    EXPECT_EQ(tso.GetTimestamp(0).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(tso.GetTimestamp(kMaxLogical).status().code(), absl::StatusCode::kInvalidArgument);
  });
}

TEST(TsoTest, PhysicalPartFollowsWallClock) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage);
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    env.SleepForMicros(250 * kMs);
    uint64_t ts = *tso.GetTimestamp();
    EXPECT_EQ(TsPhysical(ts), env.WallMicros() / 1000);
  });
}

TEST(TsoTest, BatchReturnsLastOfAContiguousRange) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage);
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    uint64_t a = *tso.GetTimestamp(1);
    uint64_t b = *tso.GetTimestamp(10);
    uint64_t c = *tso.GetTimestamp(1);
    // No virtual time passed: all in one millisecond, ranges back to back.
    EXPECT_EQ(b, a + 10);
    EXPECT_EQ(c, b + 1);
    EXPECT_EQ(TsPhysical(a), TsPhysical(c));
  });
}

TEST(TsoTest, WindowIsPersistedAheadNotPerCall) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage, TsoOptions{.save_interval_ms = 3000});
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    EXPECT_EQ(storage.timestamp_saves(), 1u);
    uint64_t limit = *storage.LoadTimestampLimit();
    uint64_t ts = 0;
    for (int i = 0; i < 1000; ++i) {
      ts = *tso.GetTimestamp();
      env.SleepForMicros(kMs);  // one virtual second in all, within the 3 s window
    }
    EXPECT_EQ(storage.timestamp_saves(), 1u);
    EXPECT_LT(TsPhysical(ts), limit);
    // Past the window the allocator must save a new limit before serving from it.
    env.SleepForMicros(5000 * kMs);
    ts = *tso.GetTimestamp();
    EXPECT_EQ(storage.timestamp_saves(), 2u);
    EXPECT_LT(TsPhysical(ts), *storage.LoadTimestampLimit());
    // The periodic tick extends the window early, keeping saves off the request path.
    env.SleepForMicros(2000 * kMs);
    ASSERT_TRUE(tso.UpdateTimestamp().ok());
    EXPECT_EQ(storage.timestamp_saves(), 3u);
    EXPECT_GE(*storage.LoadTimestampLimit(), env.WallMicros() / 1000 + 3000);
  });
}

TEST(TsoTest, LogicalOverflowAdvancesPhysical) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage);
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    uint64_t a = *tso.GetTimestamp(200'000);
    uint64_t b = *tso.GetTimestamp(200'000);  // does not fit in a's millisecond
    EXPECT_EQ(TsPhysical(b), TsPhysical(a) + 1);
    EXPECT_EQ(TsLogical(b), 200'000u);
    // Many single timestamps without the clock moving: still strictly increasing.
    uint64_t prev = b;
    for (int i = 0; i < 600'000; ++i) {
      uint64_t ts = *tso.GetTimestamp();
      ASSERT_GT(ts, prev);
      prev = ts;
    }
    EXPECT_GE(TsPhysical(prev), TsPhysical(b) + 2);
  });
}

TEST(TsoTest, ClockGoingBackwardsNeverDecreasesTimestamps) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage);
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    env.SleepForMicros(100 * kMs);
    uint64_t before = *tso.GetTimestamp();
    env.SkewWallClock(-10'000'000);  // ten seconds back
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(tso.UpdateTimestamp().ok());
      uint64_t ts = *tso.GetTimestamp();
      ASSERT_GT(ts, before);
      EXPECT_EQ(TsPhysical(ts), TsPhysical(before));  // holds still, spends logical values
      before = ts;
      env.SleepForMicros(kMs);
    }
    env.SkewWallClock(20'000'000);  // and forward past where it was
    uint64_t ts = *tso.GetTimestamp();
    EXPECT_GT(ts, before);
    EXPECT_EQ(TsPhysical(ts), env.WallMicros() / 1000);
  });
}

TEST(TsoTest, SaveFailureNeverLetsPhysicalReachTheLimit) {
  SimEnv env;
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage, TsoOptions{.save_interval_ms = 1000});
  RunInSim(env, [&] {
    ASSERT_TRUE(tso.Initialize().ok());
    uint64_t limit = *storage.LoadTimestampLimit();
    storage.SetFailSaves(true);
    uint64_t prev = 0;
    for (int i = 0; i < 50; ++i) {
      env.SleepForMicros(100 * kMs);
      (void)tso.UpdateTimestamp();  // fails once the window must move
      absl::StatusOr<uint64_t> ts = tso.GetTimestamp();
      if (!ts.ok()) continue;
      EXPECT_GT(*ts, prev);
      EXPECT_LT(TsPhysical(*ts), limit);
      prev = *ts;
    }
    // A new leader cannot start while saves fail.
    TsoAllocator next(&env, &storage);
    EXPECT_EQ(next.Initialize().code(), absl::StatusCode::kUnavailable);
    storage.SetFailSaves(false);
    ASSERT_TRUE(next.Initialize().ok());
    EXPECT_GT(*next.GetTimestamp(), prev);
  });
}

TEST(TsoTest, StrictlyIncreasingAcrossConcurrentFibersOnSimEnv) {
  SimEnv env(SimEnvOptions{.seed = 3});
  MemAllocatorStorage storage;
  TsoAllocator tso(&env, &storage, TsoOptions{.save_interval_ms = 50});
  std::vector<uint64_t> all;
  int finished = 0;
  bool stop_ticker = false;
  RunInSim(env, [&] { ASSERT_TRUE(tso.Initialize().ok()); });
  env.Spawn([&] {
    while (!stop_ticker) {
      (void)tso.UpdateTimestamp();
      env.SleepForMicros(50 * kMs);
    }
  });
  constexpr int kFibers = 32;
  for (int f = 0; f < kFibers; ++f) {
    env.Spawn([&, f] {
      uint64_t prev = 0;
      for (int i = 0; i < 500; ++i) {
        uint32_t n = 1 + static_cast<uint32_t>(env.Uniform(8));
        uint64_t ts = *tso.GetTimestamp(n);
        EXPECT_GT(ts, prev) << "fiber " << f;
        prev = ts;
        for (uint64_t t = ts - n + 1; t <= ts; ++t) all.push_back(t);
        if (env.OneIn(0.3)) env.SleepForMicros(env.Uniform(3 * kMs));
        if (env.OneIn(0.3)) env.Yield();
      }
      ++finished;
    });
  }
  ASSERT_TRUE(env.RunUntil([&] { return finished == kFibers; }, 3600ull * 1'000'000));
  stop_ticker = true;
  env.RunFor(100 * kMs);
  std::set<uint64_t> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), all.size());
  EXPECT_GT(storage.timestamp_saves(), 1u);  // the window moved during the run
}

// Storage whose timestamp saves take `save_micros` of simulated time (a synced write) and
// that records every saved limit in order.
class SlowStorage : public MemAllocatorStorage {
 public:
  SlowStorage(Env* env, uint64_t save_micros) : env_(env), save_micros_(save_micros) {}
  absl::Status SaveTimestampLimit(uint64_t limit_ms) override {
    env_->SleepForMicros(save_micros_);
    saved.push_back(limit_ms);
    return MemAllocatorStorage::SaveTimestampLimit(limit_ms);
  }
  std::vector<uint64_t> saved;

 private:
  Env* env_;
  uint64_t save_micros_;
};

// Nobody ticks UpdateTimestamp (LocalPd does not): GetTimestamp extends the window itself
// once three quarters of it are used, outside its mutex, so callers are served during the save; and
// the stored limit only grows and always lies above every physical part served.
TEST(TsoTest, WindowExtendsAheadWithoutTicksAndSavesNeverGoBack) {
  SimEnv env(SimEnvOptions{.seed = 5});
  SlowStorage storage(&env, 20 * kMs);
  TsoAllocator tso(&env, &storage, TsoOptions{.save_interval_ms = 1000});
  RunInSim(env, [&] { ASSERT_TRUE(tso.Initialize().ok()); });
  constexpr int kFibers = 16;
  int finished = 0;
  uint64_t max_physical = 0;
  uint64_t slow_calls = 0;
  for (int f = 0; f < kFibers; ++f) {
    env.Spawn([&] {
      for (int i = 0; i < 400; ++i) {
        const uint64_t t0 = env.NowMicros();
        absl::StatusOr<uint64_t> ts = tso.GetTimestamp();
        ASSERT_TRUE(ts.ok());
        if (env.NowMicros() - t0 > kMs) ++slow_calls;
        max_physical = std::max(max_physical, TsPhysical(*ts));
        // Every physical part served lies below a limit already saved.
        ASSERT_FALSE(storage.saved.empty());
        ASSERT_LT(TsPhysical(*ts), *std::max_element(storage.saved.begin(), storage.saved.end()));
        env.SleepForMicros(env.Uniform(20 * kMs));
      }
      ++finished;
    });
  }
  ASSERT_TRUE(env.RunUntil([&] { return finished == kFibers; }, 3600ull * 1'000'000));
  // About 4 s of simulated time: the window moved several times ...
  EXPECT_GE(storage.saved.size(), 4u);
  EXPECT_TRUE(std::is_sorted(storage.saved.begin(), storage.saved.end()));
  EXPECT_GT(*storage.LoadTimestampLimit(), max_physical);
  // ... and each save delayed only the caller that made it (one per extension), never
  // the callers queued behind the allocator's mutex.
  EXPECT_LE(slow_calls, storage.saved.size());
}

TEST(TsoTest, StrictlyIncreasingAcrossConcurrentFibersOnDefaultEnv) {
  Env* env = Env::Default();
  MemAllocatorStorage storage;
  TsoAllocator tso(env, &storage);
  {
    WaitGroup wg;
    wg.Add(1);
    env->Spawn([&] {
      EXPECT_TRUE(tso.Initialize().ok());
      wg.Done();
    });
    wg.Wait();
  }
  constexpr int kFibers = 8;
  constexpr int kPerFiber = 20'000;
  std::vector<std::vector<uint64_t>> got(kFibers);
  WaitGroup wg;
  wg.Add(kFibers);
  for (int f = 0; f < kFibers; ++f) {
    env->Spawn([&, f] {
      got[f].reserve(kPerFiber);
      for (int i = 0; i < kPerFiber; ++i) got[f].push_back(*tso.GetTimestamp());
      wg.Done();
    });
  }
  wg.Wait();
  std::vector<uint64_t> all;
  for (const auto& v : got) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end());
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), size_t{kFibers} * kPerFiber);
}

TEST(TsoTest, NewLeaderStartsAboveOldLeaderEvenWithClockBehind) {
  SimEnv env;
  MemAllocatorStorage storage;
  RunInSim(env, [&] {
    TsoAllocator a(&env, &storage);
    ASSERT_TRUE(a.Initialize().ok());
    env.SleepForMicros(10 * kMs);
    uint64_t last = *a.GetTimestamp(100);
    a.Reset();
    // The new leader's clock is an hour behind the old one's.
    env.SkewWallClock(-3600ll * 1'000'000);
    TsoAllocator b(&env, &storage);
    ASSERT_TRUE(b.Initialize().ok());
    uint64_t first = *b.GetTimestamp();
    EXPECT_GT(first, last);
    // It starts above the old window, not just above the last timestamp served.
    EXPECT_GT(TsPhysical(first), TsPhysical(last) + 1000);
  });
}

// DESIGN.md / issue 5: 100,000 timestamps fetched across repeated failovers are strictly
// increasing and none is duplicated, with clocks skewing both ways between leaders.
TEST(TsoTest, HundredThousandTimestampsAcrossRepeatedFailovers) {
  SimEnv env(SimEnvOptions{.seed = 11});
  MemAllocatorStorage storage;
  std::vector<uint64_t> all;
  all.reserve(110'000);
  int failovers = 0;
  RunInSim(env, [&] {
    while (all.size() < 100'000) {
      TsoAllocator leader(&env, &storage, TsoOptions{.save_interval_ms = 3000});
      ASSERT_TRUE(leader.Initialize().ok());
      ++failovers;
      int served = 20 + static_cast<int>(env.Uniform(400));
      for (int i = 0; i < served; ++i) {
        uint32_t n = env.OneIn(0.1) ? 1 + static_cast<uint32_t>(env.Uniform(64)) : 1;
        absl::StatusOr<uint64_t> ts = leader.GetTimestamp(n);
        ASSERT_TRUE(ts.ok()) << ts.status();
        for (uint64_t t = *ts - n + 1; t <= *ts; ++t) all.push_back(t);
        if (env.OneIn(0.05)) env.SleepForMicros(env.Uniform(20 * kMs));
        if (env.OneIn(0.02)) {
          ASSERT_TRUE(leader.UpdateTimestamp().ok());
        }
      }
      leader.Reset();
      // The next leader runs on a machine whose clock may be well behind or ahead.
      int64_t skew = static_cast<int64_t>(env.Uniform(20'000'000)) - 12'000'000;
      env.SkewWallClock(skew);
    }
  });
  EXPECT_GT(failovers, 50);
  for (size_t i = 1; i < all.size(); ++i) {
    ASSERT_GT(all[i], all[i - 1]) << "at " << i;
  }
}

}  // namespace
}  // namespace rutile::pd
