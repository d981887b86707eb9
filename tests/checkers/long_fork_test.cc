#include "checkers/long_fork.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <vector>

namespace rutile::checkers {
namespace {

// A read of group `group` (keys group*10 .. group*10+9) seeing `present` (value = key+1).
LongForkRead Read(int64_t index, int64_t group, std::set<int64_t> present) {
  LongForkRead r;
  r.index = index;
  r.process = index % 3;
  for (int64_t k = group * 10; k < group * 10 + 10; ++k) {
    r.values[k] = present.count(k) ? std::optional<int64_t>(k + 1) : std::nullopt;
  }
  return r;
}

std::map<int64_t, int64_t> Writes(int64_t keys) {
  std::map<int64_t, int64_t> w;
  for (int64_t k = 0; k < keys; ++k) w[k] = k + 1;
  return w;
}

TEST(LongForkCheckerTest, ReadsOfOneOrderAreValid) {
  std::vector<LongForkRead> reads = {Read(0, 0, {}),     Read(1, 0, {0}),       Read(2, 0, {0, 2}),
                                     Read(3, 0, {0, 2}), Read(4, 0, {0, 1, 2}), Read(5, 1, {11})};
  absl::StatusOr<LongForkResult> r = CheckLongFork(reads, Writes(20), LongForkOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->valid) << r->Summary();
  EXPECT_EQ(r->groups, 2u);
  EXPECT_EQ(r->forks, 0u);
}

TEST(LongForkCheckerTest, IncomparableReadsAreALongFork) {
  // Writes of keys 3 and 5; one reader saw only 3, another only 5.
  std::vector<LongForkRead> reads = {Read(0, 0, {}), Read(1, 0, {3}), Read(2, 0, {5}),
                                     Read(3, 0, {3, 5})};
  absl::StatusOr<LongForkResult> r = CheckLongFork(reads, Writes(10), LongForkOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->valid);
  EXPECT_EQ(r->forks, 1u);
  ASSERT_FALSE(r->errors.empty());
  EXPECT_NE(r->errors[0].find("long fork in group 0"), std::string::npos) << r->errors[0];
}

TEST(LongForkCheckerTest, ForkAmongLargerReadsIsFound) {
  // The fork hides behind a common prefix {0 1}: {0 1 4} vs {0 1 6 7}.
  std::vector<LongForkRead> reads = {Read(0, 0, {0, 1}), Read(1, 0, {0, 1, 6, 7}),
                                     Read(2, 0, {0, 1, 4}), Read(3, 0, {0})};
  absl::StatusOr<LongForkResult> r = CheckLongFork(reads, Writes(10), LongForkOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->valid);
  EXPECT_GE(r->forks, 1u);
}

TEST(LongForkCheckerTest, ReadOfAValueNobodyWroteIsGarbage) {
  LongForkRead bad = Read(0, 0, {2});
  bad.values[2] = 99;
  absl::StatusOr<LongForkResult> r = CheckLongFork({bad}, Writes(10), LongForkOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->valid);
  EXPECT_EQ(r->garbage_reads, 1u);
  // A key never written at all.
  absl::StatusOr<LongForkResult> r2 =
      CheckLongFork({Read(0, 0, {9})}, Writes(5), LongForkOptions());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->garbage_reads, 1u);
}

TEST(LongForkCheckerTest, ReadsThatAreNotOneWholeGroupAreRejected) {
  LongForkRead partial = Read(0, 0, {});
  partial.values.erase(4);
  EXPECT_TRUE(
      absl::IsInvalidArgument(CheckLongFork({partial}, Writes(10), LongForkOptions()).status()));
  LongForkRead straddling = Read(0, 0, {});
  straddling.values.erase(0);
  straddling.values[10] = std::nullopt;
  EXPECT_TRUE(
      absl::IsInvalidArgument(CheckLongFork({straddling}, Writes(20), LongForkOptions()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      CheckLongFork({LongForkRead()}, Writes(1), LongForkOptions()).status()));
}

}  // namespace
}  // namespace rutile::checkers
