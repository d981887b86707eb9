#include "raft/memory_log_storage.h"

#include "gtest/gtest.h"
#include "raft/errors.h"

namespace rutile::raft {
namespace {

Entry Ent(uint64_t term, uint64_t index) {
  Entry e;
  e.set_term(term);
  e.set_index(index);
  return e;
}

MemoryLogStorage Make() {
  MemoryLogStorage s;
  Snapshot snap;
  snap.mutable_metadata()->set_index(3);
  snap.mutable_metadata()->set_term(3);
  EXPECT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_TRUE(s.Append({Ent(4, 4), Ent(5, 5)}).ok());
  return s;
}

TEST(MemoryLogStorageTest, TermAndIndexesReportTypedErrors) {
  MemoryLogStorage s = Make();
  EXPECT_EQ(*s.FirstIndex(), 4u);
  EXPECT_EQ(*s.LastIndex(), 5u);
  EXPECT_EQ(*s.Term(3), 3u);  // The dummy entry's term is known.
  EXPECT_EQ(*s.Term(5), 5u);
  EXPECT_TRUE(IsRaftError(s.Term(2).status(), RaftError::kCompacted));
  EXPECT_TRUE(IsRaftError(s.Term(6).status(), RaftError::kUnavailable));
}

TEST(MemoryLogStorageTest, EntriesHonourBoundsAndSizeLimit) {
  MemoryLogStorage s = Make();
  EXPECT_TRUE(IsRaftError(s.Entries(3, 5, kNoLimit).status(), RaftError::kCompacted));
  EXPECT_TRUE(IsRaftError(s.Entries(4, 7, kNoLimit).status(), RaftError::kUnavailable));
  EXPECT_EQ(s.Entries(4, 6, kNoLimit)->size(), 2u);
  // A limit below one entry still returns one.
  EXPECT_EQ(s.Entries(4, 6, 0)->size(), 1u);
}

TEST(MemoryLogStorageTest, AppendTruncatesConflictsAndRejectsGaps) {
  MemoryLogStorage s = Make();
  ASSERT_TRUE(s.Append({Ent(6, 5), Ent(6, 6)}).ok());
  EXPECT_EQ(*s.Term(5), 6u);
  EXPECT_EQ(*s.LastIndex(), 6u);
  EXPECT_FALSE(s.Append({Ent(6, 9)}).ok());
  // Entries below the first index are ignored.
  ASSERT_TRUE(s.Append({Ent(3, 3), Ent(4, 4)}).ok());
  EXPECT_EQ(*s.LastIndex(), 4u);
}

TEST(MemoryLogStorageTest, CompactAndSnapshots) {
  MemoryLogStorage s = Make();
  EXPECT_TRUE(IsRaftError(s.Compact(3), RaftError::kCompacted));
  ASSERT_TRUE(s.Compact(4).ok());
  EXPECT_EQ(*s.FirstIndex(), 5u);
  EXPECT_EQ(*s.Term(4), 4u);
  ConfState cs;
  cs.add_voters(1);
  auto snap = s.CreateSnapshot(5, &cs, "data");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().term(), 5u);
  EXPECT_TRUE(IsRaftError(s.CreateSnapshot(4, &cs, "").status(), RaftError::kSnapshotOutOfDate));
  Snapshot old;
  old.mutable_metadata()->set_index(2);
  EXPECT_TRUE(IsRaftError(s.ApplySnapshot(old), RaftError::kSnapshotOutOfDate));
  auto init = s.GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state.voters_size(), 1);
}

TEST(RaftErrorsTest, KindsRoundTripThroughStatus) {
  absl::Status s = MakeRaftError(RaftError::kProposalDropped, "no leader");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsRaftError(s, RaftError::kProposalDropped));
  EXPECT_FALSE(IsRaftError(s, RaftError::kCompacted));
  EXPECT_FALSE(GetRaftError(absl::UnavailableError("other")).has_value());
}

}  // namespace
}  // namespace rutile::raft
