#include "pd/id_allocator.h"

#include <set>

#include "gtest/gtest.h"
#include "rutile/env.h"

namespace rutile::pd {
namespace {

void RunInSim(SimEnv& env, std::function<void()> fn) {
  bool done = false;
  env.Spawn([&] {
    fn();
    done = true;
  });
  ASSERT_TRUE(env.RunUntil([&] { return done; }, 1'000'000'000));
}

TEST(IdAllocatorTest, IdsStartAtOneAndIncrease) {
  SimEnv env;
  MemAllocatorStorage storage;
  IdAllocator ids(&storage, 100);
  RunInSim(env, [&] {
    for (uint64_t want = 1; want <= 250; ++want) ASSERT_EQ(*ids.Alloc(), want);
    // One save per reserved range of 100, not one per id.
    EXPECT_EQ(storage.id_saves(), 3u);
    EXPECT_EQ(*storage.LoadIdLimit(), 301u);
  });
}

TEST(IdAllocatorTest, RangesAreConsecutive) {
  SimEnv env;
  MemAllocatorStorage storage;
  IdAllocator ids(&storage, 10);
  RunInSim(env, [&] {
    uint64_t a = *ids.AllocRange(4);
    uint64_t b = *ids.AllocRange(25);  // larger than the step: reserved at once
    uint64_t c = *ids.Alloc();
    EXPECT_EQ(a, 1u);
    EXPECT_GE(b, a + 4);
    EXPECT_GE(c, b + 25);
    EXPECT_EQ(ids.AllocRange(0).status().code(), absl::StatusCode::kInvalidArgument);
  });
}

TEST(IdAllocatorTest, NewLeaderNeverRepeatsAnId) {
  SimEnv env;
  MemAllocatorStorage storage;
  RunInSim(env, [&] {
    std::set<uint64_t> seen;
    uint64_t prev = 0;
    for (int leader = 0; leader < 20; ++leader) {
      IdAllocator ids(&storage, 1000);
      int n = 1 + static_cast<int>(env.Uniform(2500));
      for (int i = 0; i < n; ++i) {
        uint64_t id = *ids.Alloc();
        ASSERT_GT(id, prev);
        ASSERT_TRUE(seen.insert(id).second);
        prev = id;
      }
    }
  });
}

TEST(IdAllocatorTest, FailedSaveHandsOutNothing) {
  SimEnv env;
  MemAllocatorStorage storage;
  IdAllocator ids(&storage, 2);
  RunInSim(env, [&] {
    EXPECT_EQ(*ids.Alloc(), 1u);
    EXPECT_EQ(*ids.Alloc(), 2u);
    storage.SetFailSaves(true);
    EXPECT_EQ(ids.Alloc().status().code(), absl::StatusCode::kUnavailable);
    storage.SetFailSaves(false);
    EXPECT_EQ(*ids.Alloc(), 3u);
    ids.Reset();  // leadership lost and regained: reload, skip the rest of the range
    EXPECT_EQ(*ids.Alloc(), 5u);
  });
}

}  // namespace
}  // namespace rutile::pd
