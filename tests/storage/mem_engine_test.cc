// MemEngine-specific behaviour: the crash model (what SimulateCrash keeps and loses) and
// version pruning.

#include "storage/mem_engine.h"

#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "storage/engine_test_util.h"

namespace rutile::storage {
namespace {

using testing::GetOr;
using testing::KVs;
using testing::MustDelete;
using testing::MustPut;
using testing::Scan;

constexpr bool kSync = true;
constexpr bool kNoSync = false;

TEST(MemEngineCrashTest, UnsyncedWritesAreLostSyncedKept) {
  MemEngine e;
  MustPut(&e, CF::kDefault, "synced", "1", kSync);
  MustPut(&e, CF::kDefault, "unsynced", "1", kNoSync);
  MustPut(&e, CF::kRaft, "raft-unsynced", "1", kNoSync);
  // Visible before the crash.
  EXPECT_EQ(GetOr(&e, CF::kDefault, "unsynced"), "1");
  EXPECT_EQ(e.UnsyncedWriteCount(), 2u);
  e.SimulateCrash();
  EXPECT_EQ(GetOr(&e, CF::kDefault, "synced"), "1");
  EXPECT_EQ(GetOr(&e, CF::kDefault, "unsynced"), "<absent>");
  EXPECT_EQ(GetOr(&e, CF::kRaft, "raft-unsynced"), "<absent>");
  EXPECT_EQ(e.UnsyncedWriteCount(), 0u);
}

TEST(MemEngineCrashTest, CrashRestoresOverwrittenAndDeletedValues) {
  MemEngine e;
  MustPut(&e, CF::kWrite, "a", "durable", kSync);
  MustPut(&e, CF::kWrite, "b", "durable", kSync);
  MustPut(&e, CF::kWrite, "a", "overwritten", kNoSync);
  MustDelete(&e, CF::kWrite, "b");
  WriteBatch b;
  b.DeleteRange(CF::kWrite, "", "");
  ASSERT_TRUE(e.Write(b, WriteOptions()).ok());
  EXPECT_TRUE(Scan(&e, CF::kWrite).empty());
  e.SimulateCrash();
  EXPECT_EQ(Scan(&e, CF::kWrite), (KVs{{"a", "durable"}, {"b", "durable"}}));
}

TEST(MemEngineCrashTest, SyncedWriteMakesEarlierWritesOfItsLogDurable) {
  MemEngine e;
  MustPut(&e, CF::kDefault, "u1", "1", kNoSync);
  MustPut(&e, CF::kLock, "u2", "1", kNoSync);
  MustPut(&e, CF::kWrite, "s", "1", kSync);
  MustPut(&e, CF::kDefault, "after", "1", kNoSync);
  e.SimulateCrash();
  EXPECT_EQ(GetOr(&e, CF::kDefault, "u1"), "1");
  EXPECT_EQ(GetOr(&e, CF::kLock, "u2"), "1");
  EXPECT_EQ(GetOr(&e, CF::kWrite, "s"), "1");
  EXPECT_EQ(GetOr(&e, CF::kDefault, "after"), "<absent>");
}

TEST(MemEngineCrashTest, LogsAreIndependent) {
  // Like LevelDbEngine's two databases: syncing the raft log does not make unsynced data
  // durable, and the other way round.
  MemEngine e;
  MustPut(&e, CF::kDefault, "data", "1", kNoSync);
  MustPut(&e, CF::kRaft, "raft", "1", kSync);
  MustPut(&e, CF::kRaft, "raft2", "1", kNoSync);
  MustPut(&e, CF::kLock, "data2", "1", kSync);
  e.SimulateCrash();
  EXPECT_EQ(GetOr(&e, CF::kDefault, "data"), "1");
  EXPECT_EQ(GetOr(&e, CF::kLock, "data2"), "1");
  EXPECT_EQ(GetOr(&e, CF::kRaft, "raft"), "1");
  EXPECT_EQ(GetOr(&e, CF::kRaft, "raft2"), "<absent>");

  MemEngine f;
  MustPut(&f, CF::kRaft, "raft", "1", kNoSync);
  MustPut(&f, CF::kDefault, "data", "1", kSync);
  f.SimulateCrash();
  EXPECT_EQ(GetOr(&f, CF::kRaft, "raft"), "<absent>");
  EXPECT_EQ(GetOr(&f, CF::kDefault, "data"), "1");
}

TEST(MemEngineCrashTest, SyncWalMakesEverythingDurable) {
  MemEngine e;
  MustPut(&e, CF::kDefault, "a", "1", kNoSync);
  MustPut(&e, CF::kRaft, "b", "1", kNoSync);
  ASSERT_TRUE(e.SyncWAL().ok());
  MustPut(&e, CF::kDefault, "c", "1", kNoSync);
  e.SimulateCrash();
  EXPECT_EQ(GetOr(&e, CF::kDefault, "a"), "1");
  EXPECT_EQ(GetOr(&e, CF::kRaft, "b"), "1");
  EXPECT_EQ(GetOr(&e, CF::kDefault, "c"), "<absent>");
}

TEST(MemEngineCrashTest, MixedBatchRaftPartSurvivesDataPartMayNot) {
  MemEngine e;
  WriteBatch b;
  b.Put(CF::kRaft, "entry", "1");
  b.Put(CF::kDefault, "applied", "1");
  ASSERT_TRUE(e.Write(b, WriteOptions()).ok());  // Unsynced.
  EXPECT_EQ(e.UnsyncedWriteCount(), 1u);         // Only the data record.
  e.SimulateCrash();
  EXPECT_EQ(GetOr(&e, CF::kRaft, "entry"), "1");
  EXPECT_EQ(GetOr(&e, CF::kDefault, "applied"), "<absent>");
}

TEST(MemEngineCrashTest, RepeatedCrashesAndWritesStayConsistent) {
  MemEngine e;
  for (int round = 0; round < 20; ++round) {
    MustPut(&e, CF::kWrite, "k", absl::StrFormat("synced-%d", round), kSync);
    MustPut(&e, CF::kWrite, "k", absl::StrFormat("unsynced-%d", round), kNoSync);
    e.SimulateCrash();
    ASSERT_EQ(GetOr(&e, CF::kWrite, "k"), absl::StrFormat("synced-%d", round));
  }
}

TEST(MemEngineCrashTest, SnapshotTakenAfterCrashSeesDurableState) {
  MemEngine e;
  MustPut(&e, CF::kDefault, "k", "durable", kSync);
  MustPut(&e, CF::kDefault, "k", "lost", kNoSync);
  e.SimulateCrash();
  auto snap = e.GetSnapshot();
  MustPut(&e, CF::kDefault, "k", "new", kNoSync);
  EXPECT_EQ(GetOr(&e, CF::kDefault, "k", snap.get()), "durable");
  EXPECT_EQ(GetOr(&e, CF::kDefault, "k"), "new");
}

TEST(MemEnginePruningTest, RewrittenKeyKeepsFewVersions) {
  MemEngine e;
  for (int i = 0; i < 10000; ++i) MustPut(&e, CF::kDefault, "hot", std::to_string(i), kNoSync);
  // The newest version plus the one the (never advanced) durable point reads: none here,
  // as nothing was durable when the key was first written.
  EXPECT_LE(e.TEST_StoredVersions(), 2u);
  MustPut(&e, CF::kDefault, "hot", "synced", kSync);
  for (int i = 0; i < 10000; ++i) MustPut(&e, CF::kDefault, "hot", std::to_string(i), kNoSync);
  EXPECT_LE(e.TEST_StoredVersions(), 2u);
  e.SimulateCrash();
  EXPECT_EQ(GetOr(&e, CF::kDefault, "hot"), "synced");
}

TEST(MemEnginePruningTest, SnapshotsKeepTheirVersionsUntilReleased) {
  MemEngine e;
  std::vector<std::unique_ptr<Snapshot>> snaps;
  for (int i = 0; i < 100; ++i) {
    MustPut(&e, CF::kDefault, "k", std::to_string(i), kSync);
    snaps.push_back(e.GetSnapshot());
  }
  EXPECT_GE(e.TEST_StoredVersions(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(GetOr(&e, CF::kDefault, "k", snaps[i].get()), std::to_string(i));
  }
  snaps.clear();
  MustPut(&e, CF::kDefault, "k", "last", kSync);
  EXPECT_EQ(e.TEST_StoredVersions(), 1u);
}

TEST(MemEnginePruningTest, DeletedKeysLeaveNothingBehind) {
  MemEngine e;
  for (int i = 0; i < 1000; ++i) MustPut(&e, CF::kLock, absl::StrFormat("k%04d", i), "v", kSync);
  WriteBatch b;
  b.DeleteRange(CF::kLock, "", "");
  ASSERT_TRUE(e.Write(b, WriteOptions{.sync = true}).ok());
  EXPECT_EQ(e.TEST_StoredVersions(), 0u);
}

}  // namespace
}  // namespace rutile::storage
