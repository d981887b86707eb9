// GoogleTest helpers for seeded simulation tests: run a test body for many seeds, and make
// every failure say which seed failed and how to replay it.
//
//   TEST(MyClusterTest, SurvivesPartitions) {
//     rutile::testing::ForEachSeed(50, [](uint64_t seed) {
//       rutile::testing::Simulation sim(seed);
//       ...
//       EXPECT_TRUE(invariant_holds);
//     });
//   }
//
// A failure inside the body is reported with "seed=N (replay with RUTILE_SIM_SEED=N)";
// running the test binary again with RUTILE_SIM_SEED=N runs only that seed. Setting
// RUTILE_SIM_SEEDS=M runs M seeds instead of the test's own count (a longer soak, or a
// quick sample of a slow one).
//
// Header-only, so that the library itself does not depend on GoogleTest.

#ifndef RUTILE_TESTING_SEEDS_H_
#define RUTILE_TESTING_SEEDS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "rutile/testing/simulation.h"

namespace rutile::testing {

// Runs `body(seed)` for seeds first, first+1, ..., first+n-1 (n from RUTILE_SIM_SEEDS when
// set) — or only for RUTILE_SIM_SEED when that is set — and stops at the first seed whose body
// records a failure. Each failure message carries the seed and the replay command.
inline void ForEachSeed(int n, const std::function<void(uint64_t seed)>& body, uint64_t first = 1) {
  std::optional<uint64_t> replay = SeedFromEnvironment();
  uint64_t count = static_cast<uint64_t>(n < 0 ? 0 : n);
  if (const char* m = std::getenv("RUTILE_SIM_SEEDS"); m != nullptr && *m != '\0') {
    count = std::strtoull(m, nullptr, 10);
  }
  if (replay.has_value()) count = 1;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t seed = replay.has_value() ? *replay : first + i;
    const std::string message = SeedReplayMessage(seed);
    const bool failed_before = ::testing::Test::HasFailure();
    {
      SCOPED_TRACE(message);
      body(seed);
    }
    if (!failed_before && ::testing::Test::HasFailure()) {
      std::fprintf(stderr, "[  SEED    ] failed with %s\n", message.c_str());
      return;
    }
  }
}

}  // namespace rutile::testing

// Adds the seed to every failure reported in the enclosing scope.
#define RUTILE_SIM_SEED_TRACE(seed) SCOPED_TRACE(::rutile::testing::SeedReplayMessage(seed))

#endif  // RUTILE_TESTING_SEEDS_H_
