#include "checkers/set.h"

#include <gtest/gtest.h>

#include <vector>

namespace rutile::checkers {
namespace {

SetAdd Add(int64_t e, int64_t invoke, int64_t complete, SetOutcome o = SetOutcome::kOk) {
  return SetAdd{e, invoke, complete, o};
}

SetRead Read(int64_t invoke, int64_t complete, std::vector<int64_t> elements) {
  return SetRead{invoke, complete, std::move(elements)};
}

TEST(SetCheckerTest, EveryAcknowledgedAddPresentIsValid) {
  std::vector<SetAdd> adds = {Add(1, 0, 2), Add(2, 1, 3), Add(3, 4, 8, SetOutcome::kFail),
                              Add(4, 5, 9, SetOutcome::kInfo)};
  // The read at 6 runs concurrently with nothing acknowledged later; the final read sees
  // the unknown add 4 (recovered), not the failed 3.
  std::vector<SetRead> reads = {Read(6, 7, {1, 2}), Read(20, 21, {1, 2, 4})};
  absl::StatusOr<SetResult> r = CheckSet(adds, reads, SetOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->valid) << r->Summary();
  EXPECT_EQ(r->adds_ok, 2u);
  EXPECT_EQ(r->adds_failed, 1u);
  EXPECT_EQ(r->adds_unknown, 1u);
  EXPECT_EQ(r->recovered, 1u);
}

TEST(SetCheckerTest, ReadConcurrentWithAnAddMayMissIt) {
  // The add of 5 completes at 10; a read invoked at 9 need not see it.
  absl::StatusOr<SetResult> r =
      CheckSet({Add(5, 3, 10)}, {Read(9, 12, {}), Read(11, 13, {5})}, SetOptions());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->valid) << r->Summary();
}

TEST(SetCheckerTest, AcknowledgedAddMissingFromALaterReadIsLost) {
  absl::StatusOr<SetResult> r =
      CheckSet({Add(1, 0, 2), Add(2, 1, 3)}, {Read(4, 5, {1, 2}), Read(10, 11, {2})}, SetOptions());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->valid);
  EXPECT_EQ(r->lost, std::vector<int64_t>{1});
  // Lost even when only the final read misses it.
  absl::StatusOr<SetResult> final_only =
      CheckSet({Add(1, 0, 2), Add(2, 1, 3)}, {Read(10, 11, {2})}, SetOptions());
  ASSERT_TRUE(final_only.ok());
  EXPECT_EQ(final_only->lost, std::vector<int64_t>{1});
}

TEST(SetCheckerTest, UnknownAddOnceSeenThenMissingIsLost) {
  absl::StatusOr<SetResult> r =
      CheckSet({Add(7, 0, 0, SetOutcome::kInfo)}, {Read(2, 3, {7}), Read(5, 6, {})}, SetOptions());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->valid);
  EXPECT_EQ(r->lost, std::vector<int64_t>{7});
}

TEST(SetCheckerTest, InventedElementsAreUnexpected) {
  absl::StatusOr<SetResult> never = CheckSet({Add(1, 0, 1)}, {Read(2, 3, {1, 42})}, SetOptions());
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE(never->valid);
  EXPECT_EQ(never->unexpected, std::vector<int64_t>{42});
  absl::StatusOr<SetResult> failed =
      CheckSet({Add(1, 0, 1, SetOutcome::kFail)}, {Read(2, 3, {1})}, SetOptions());
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->valid);
  EXPECT_EQ(failed->unexpected, std::vector<int64_t>{1});
}

TEST(SetCheckerTest, DuplicatesAndMalformedHistories) {
  absl::StatusOr<SetResult> dup = CheckSet({Add(1, 0, 1)}, {Read(2, 3, {1, 1})}, SetOptions());
  ASSERT_TRUE(dup.ok());
  EXPECT_FALSE(dup->valid);
  EXPECT_EQ(dup->duplicated, std::vector<int64_t>{1});
  EXPECT_TRUE(
      absl::IsInvalidArgument(CheckSet({Add(1, 0, 1), Add(1, 2, 3)}, {}, SetOptions()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSet({Add(1, 5, 1)}, {}, SetOptions()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSet({}, {Read(5, 4, {})}, SetOptions()).status()));
}

}  // namespace
}  // namespace rutile::checkers
