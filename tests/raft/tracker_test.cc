#include "gtest/gtest.h"
#include "raft/tracker/inflights.h"
#include "raft/tracker/progress.h"
#include "raft/tracker/progress_tracker.h"

namespace rutile::raft::tracker {
namespace {

TEST(InflightsTest, LimitsByCountAndBytes) {
  Inflights in(3, 0);
  in.Add(1, 100);
  in.Add(2, 100);
  EXPECT_FALSE(in.Full());
  in.Add(3, 100);
  EXPECT_TRUE(in.Full());
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_EQ(in.Bytes(), 100u);
  EXPECT_FALSE(in.Full());

  Inflights by_bytes(100, 250);
  by_bytes.Add(1, 100);
  by_bytes.Add(2, 100);
  EXPECT_FALSE(by_bytes.Full());
  by_bytes.Add(3, 100);
  EXPECT_TRUE(by_bytes.Full());
  by_bytes.FreeFirstOne();
  EXPECT_FALSE(by_bytes.Full());
  by_bytes.FreeLE(10);
  EXPECT_EQ(by_bytes.Count(), 0u);
  EXPECT_EQ(by_bytes.Bytes(), 0u);
}

TEST(ProgressTest, ProbePausesAfterOneSendUntilResponse) {
  Progress pr(0, 5, 10, 0, false);
  EXPECT_FALSE(pr.IsPaused());
  pr.UpdateOnEntriesSend(1, 10, 5);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_TRUE(pr.MaybeUpdate(5));
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.next, 6u);
  EXPECT_FALSE(pr.MaybeUpdate(4));
}

TEST(ProgressTest, MaybeDecrToInProbeAndReplicate) {
  Progress pr(0, 10, 10, 0, false);
  // Stale rejection (not for next-1) is ignored in probe.
  EXPECT_FALSE(pr.MaybeDecrTo(5, 5));
  EXPECT_TRUE(pr.MaybeDecrTo(9, 3));
  EXPECT_EQ(pr.next, 4u);
  pr.match = 3;
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next, 4u);
  pr.UpdateOnEntriesSend(3, 30, 6);
  EXPECT_EQ(pr.next, 7u);
  EXPECT_FALSE(pr.MaybeDecrTo(2, 2));  // At or below match: stale.
  EXPECT_TRUE(pr.MaybeDecrTo(5, 4));
  EXPECT_EQ(pr.next, 4u);
}

TEST(ProgressTest, SnapshotStatePausesAndProbeResumesAfterIt) {
  Progress pr(2, 3, 10, 0, false);
  pr.BecomeSnapshot(20);
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 21u);
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, ReplicatePausesWhenInflightsFull) {
  Progress pr(0, 1, 2, 0, false);
  pr.BecomeReplicate();
  pr.UpdateOnEntriesSend(1, 1, 1);
  EXPECT_FALSE(pr.IsPaused());
  pr.UpdateOnEntriesSend(1, 1, 2);
  EXPECT_TRUE(pr.IsPaused());
  pr.MaybeUpdate(1);
  pr.inflights.FreeLE(1);
  EXPECT_FALSE(pr.IsPaused());
}

}  // namespace
}  // namespace rutile::raft::tracker
