// Latches and the concurrency manager under SimEnv: mutual exclusion per slot, FIFO order,
// no deadlock with overlapping key sets, and the memory lock table's guard semantics.

#include "txn/latches.h"

#include <algorithm>
#include <set>

#include "gtest/gtest.h"
#include "rutile/env.h"
#include "txn/concurrency_manager.h"

namespace rutile::txn {
namespace {

TEST(LatchesTest, SlotsAreDeterministicAndSized) {
  Latches a(100), b(100);
  EXPECT_EQ(a.size(), 128u);
  for (const char* k : {"a", "b", "key", ""}) {
    EXPECT_EQ(a.SlotOf(k), b.SlotOf(k));
    EXPECT_LT(a.SlotOf(k), 128u);
  }
}

TEST(LatchesTest, TryAcquireIsAllOrNothing) {
  Latches l(1024);
  Latches::Guard g1;
  ASSERT_TRUE(l.TryAcquire({"a", "b"}, &g1));
  Latches::Guard g2;
  EXPECT_FALSE(l.TryAcquire({"c", "b"}, &g2));
  // "c" must have been released again by the failed attempt.
  Latches::Guard g3;
  if (l.SlotOf("c") != l.SlotOf("a") && l.SlotOf("c") != l.SlotOf("b")) {
    EXPECT_TRUE(l.TryAcquire({"c"}, &g3));
  }
  g3.Release();
  g1.Release();
  EXPECT_TRUE(l.TryAcquire({"c", "b"}, &g2));
}

// Many fibers run commands over random overlapping key sets, yielding while they hold
// their latches. No two holders ever share a key and every command finishes (no
// deadlock).
TEST(LatchesTest, ExclusionAndNoDeadlockUnderSimEnv) {
  SimEnv env(SimEnvOptions{.seed = 7});
  Latches latches(16);  // Few slots: lots of false sharing too.
  std::set<std::string> held;
  bool violated = false;
  int finished = 0;
  const int kFibers = 60;
  for (int i = 0; i < kFibers; ++i) {
    env.Spawn([&, i] {
      env.SleepForMicros(i * 3);  // Staggered arrival.
      std::vector<std::string> keys;
      for (int j = 0; j < 4; ++j) keys.push_back("k" + std::to_string((i * 7 + j * 3) % 10));
      Latches::Guard g = latches.Acquire(keys);
      std::set<std::string> mine(keys.begin(), keys.end());
      for (const auto& k : mine) {
        if (held.count(k)) violated = true;
      }
      held.insert(mine.begin(), mine.end());
      env.SleepForMicros(10 + env.Random64() % 20);
      for (const auto& k : mine) held.erase(k);
      finished++;
    });
  }
  ASSERT_TRUE(env.RunUntil([&] { return finished == kFibers; }, 10'000'000));
  EXPECT_FALSE(violated);
}

// Waiters on one slot are served in arrival order.
TEST(LatchesTest, FifoPerSlot) {
  SimEnv env(SimEnvOptions{.seed = 11});
  Latches latches(8);
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) {
    env.Spawn([&, i] {
      env.SleepForMicros(i);
      Latches::Guard g = latches.Acquire(std::vector<std::string>{"k"});
      order.push_back(i);
      env.SleepForMicros(50);
    });
  }
  env.RunUntilIdle();
  ASSERT_EQ(order.size(), 20u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(ConcurrencyManagerTest, MaxTsOnlyGrows) {
  ConcurrencyManager cm(10);
  cm.UpdateMaxTs(5);
  EXPECT_EQ(cm.max_ts(), 10u);
  cm.UpdateMaxTs(20);
  EXPECT_EQ(cm.max_ts(), 20u);
  cm.UpdateMaxTs(kMaxTs);  // "Read latest" never poisons max_ts.
  EXPECT_EQ(cm.max_ts(), 20u);
}

TEST(ConcurrencyManagerTest, LockTableChecks) {
  ConcurrencyManager cm(1);
  int calls = 0;
  auto check = [&](const Lock& l, std::string_view k) {
    ++calls;
    return l.start_ts == 5 ? absl::AbortedError(std::string(k)) : absl::OkStatus();
  };
  {
    KeyHandleGuard g = cm.LockKey("b");
    EXPECT_TRUE(cm.ReadKeyCheck("b", check).ok());  // Held but no lock published yet.
    EXPECT_EQ(calls, 0);
    Lock l;
    l.start_ts = 5;
    g.SetLock(l);
    EXPECT_FALSE(cm.ReadKeyCheck("b", check).ok());
    EXPECT_TRUE(cm.ReadKeyCheck("a", check).ok());
    EXPECT_FALSE(cm.ReadRangeCheck("a", "c", check).ok());
    EXPECT_TRUE(cm.ReadRangeCheck("c", "", check).ok());
    EXPECT_TRUE(cm.ReadRangeCheck("a", "b", check).ok());  // End is exclusive.
    EXPECT_EQ(cm.GlobalMinLockTs(), std::optional<TimeStamp>(5));
    KeyHandleGuard moved = std::move(g);
    EXPECT_EQ(cm.TEST_LockedKeys(), 1u);
  }
  EXPECT_EQ(cm.TEST_LockedKeys(), 0u);
  EXPECT_TRUE(cm.ReadKeyCheck("b", check).ok());
}

TEST(ConcurrencyManagerTest, SecondLockKeyWaitsForFirstGuard) {
  SimEnv env(SimEnvOptions{.seed = 3});
  ConcurrencyManager cm(1);
  std::vector<int> events;
  env.Spawn([&] {
    KeyHandleGuard g = cm.LockKey("k");
    events.push_back(1);
    env.SleepForMicros(100);
    events.push_back(2);
  });
  env.Spawn([&] {
    env.SleepForMicros(10);
    KeyHandleGuard g = cm.LockKey("k");
    events.push_back(3);
  });
  env.RunUntilIdle();
  EXPECT_EQ(events, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace rutile::txn
