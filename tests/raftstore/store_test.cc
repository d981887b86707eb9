// A cluster of stores under simulation: replication, reads, failover, crashes.

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raft/engine_log_storage.h"
#include "raft_serverpb.pb.h"
#include "raftstore/cluster.h"
#include "raftstore/keys.h"

namespace rutile::raftstore {
namespace {

std::string Key(int i) { return absl::StrCat("k", 1000 + i); }

TEST(StoreTest, SingleRegionReplicatesAndReads) {
  Cluster c({.stores = 3, .seed = 7});
  c.Start();
  bool ok = c.Run([&] {
    ASSERT_TRUE(c.WaitLeader("").has_value());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Put(Key(i), absl::StrCat("v", i)).ok());
    for (int i = 0; i < 20; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->value_or("<none>"), absl::StrCat("v", i));
    }
    ASSERT_TRUE(c.Delete(Key(3)).ok());
    absl::StatusOr<std::optional<std::string>> gone = c.Get(Key(3));
    ASSERT_TRUE(gone.ok());
    EXPECT_FALSE(gone->has_value());
    EXPECT_TRUE(c.WaitReplicated(Key(19), "v19"));
    EXPECT_TRUE(c.WaitReplicated(Key(3), std::nullopt));
  });
  EXPECT_TRUE(ok);
}

TEST(StoreTest, LeaderFailoverKeepsAcknowledgedWrites) {
  Cluster c({.stores = 3, .seed = 11});
  c.Start();
  std::optional<Cluster::Route> first;
  ASSERT_TRUE(c.Run([&] {
    first = c.WaitLeader("");
    ASSERT_TRUE(first.has_value());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Put(Key(i), "before").ok());
  }));
  c.sim().Crash(first->store);
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> next = c.WaitLeader("");
    ASSERT_TRUE(next.has_value());
    EXPECT_NE(next->store, first->store);
    for (int i = 0; i < 10; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->value_or("<none>"), "before");
    }
    for (int i = 10; i < 20; ++i) ASSERT_TRUE(c.Put(Key(i), "after").ok());
  }));
  c.sim().Restart(first->store);
  ASSERT_TRUE(c.Run([&] {
    // The restarted store lost its unsynced applies and replays them from its log, then
    // catches up with what it missed.
    EXPECT_TRUE(c.WaitReplicated(Key(0), "before"));
    EXPECT_TRUE(c.WaitReplicated(Key(19), "after"));
  }));
}

TEST(StoreTest, CrashLosingUnsyncedWritesRejoins) {
  Cluster c({.stores = 3, .seed = 5});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    ASSERT_TRUE(c.WaitLeader("").has_value());
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.Put(Key(i), "x").ok());
  }));
  // Crash every store at once: each loses what it never synced (applied data), but the
  // Raft log was synced before any write was acknowledged, so nothing acknowledged is lost.
  for (uint64_t id : c.store_ids()) EXPECT_GT(c.engine(id)->UnsyncedWriteCount(), 0u);
  for (uint64_t id : c.store_ids()) c.sim().Crash(id);
  for (uint64_t id : c.store_ids()) c.sim().Restart(id);
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 30; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->value_or("<none>"), "x") << Key(i);
    }
    ASSERT_TRUE(c.Put("new", "y").ok());
    EXPECT_TRUE(c.WaitReplicated("new", "y"));
  }));
}

// A Ready that only raises the commit index writes nothing (ProcessBatch): one Raft write
// per proposal at the leader, not two (the commit round used to write its hard state, in
// line, behind the store's synced write in flight). The commit index is volatile: with
// the applies synced (as a clean shutdown does), every store holds a persisted commit
// below its applied index; it restarts without writing anything for that (PeerStorage::Open
// leaves the raise to Raft::Create, in memory), serves all and goes on committing.
TEST(StoreTest, CommitOnlyReadyWritesNothing) {
  Cluster c({.stores = 3, .seed = 13});
  c.Start();
  constexpr int kPuts = 30;
  std::optional<Cluster::Route> leader;
  ASSERT_TRUE(c.Run([&] {
    leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    ASSERT_TRUE(c.Put(Key(0), "x").ok());
    const uint64_t before = c.store(leader->store)->stats().ready_writes;
    for (int i = 1; i <= kPuts; ++i) ASSERT_TRUE(c.Put(Key(i), "x").ok());
    const uint64_t writes = c.store(leader->store)->stats().ready_writes - before;
    // One synced write of each proposal's entry (a tick's Ready may add a few).
    EXPECT_GE(writes, static_cast<uint64_t>(kPuts));
    EXPECT_LE(writes, static_cast<uint64_t>(kPuts + 5));
    EXPECT_TRUE(c.WaitReplicated(Key(kPuts), "x"));
  }));
  for (uint64_t id : c.store_ids()) {
    // The applies become durable; the commit index of the last proposal was never written.
    ASSERT_TRUE(c.engine(id)->SyncWAL().ok());
    absl::StatusOr<std::unique_ptr<raft::EngineLogStorage>> log =
        raft::EngineLogStorage::Open(c.engine(id), 1);
    ASSERT_TRUE(log.ok()) << log.status();
    absl::StatusOr<std::optional<std::string>> raw =
        c.engine(id)->Get(storage::CF::kDefault, ApplyStateKey(1));
    ASSERT_TRUE(raw.ok() && raw->has_value());
    raft_serverpb::RaftApplyState apply;
    ASSERT_TRUE(apply.ParseFromString(**raw));
    EXPECT_LT((*log)->hard_state().commit(), apply.applied_index()) << "store " << id;
  }
  for (uint64_t id : c.store_ids()) c.sim().Crash(id);
  for (uint64_t id : c.store_ids()) c.sim().Restart(id);
  ASSERT_TRUE(c.Run([&] {
    for (uint64_t id : c.store_ids()) {
      ASSERT_NE(c.store(id), nullptr);
      EXPECT_EQ(c.create_syncs(id), 0u) << "store " << id << " synced while loading";
    }
    for (int i = 0; i <= kPuts; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->value_or("<none>"), "x") << Key(i);
    }
    ASSERT_TRUE(c.Put("new", "y").ok());
    EXPECT_TRUE(c.WaitReplicated("new", "y"));
    EXPECT_TRUE(c.WaitReplicated(Key(kPuts), "x"));
  }));
}

TEST(StoreTest, FollowerAnswersNotLeaderWithTheLeader) {
  Cluster c({.stores = 3, .seed = 3});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    // Let the followers hear from the leader.
    ASSERT_TRUE(c.Put("a", "1").ok());
    uint64_t follower = leader->store % 3 + 1;
    raft_cmdpb::RaftCmdRequest req;
    req.mutable_header()->set_region_id(1);
    *req.mutable_header()->mutable_region_epoch() = leader->region.region_epoch();
    raft_cmdpb::Request* r = req.add_requests();
    r->set_cmd_type(raft_cmdpb::CMD_PUT);
    r->mutable_put()->set_key("b");
    absl::Status s = c.store(follower)->Propose(req).Get();
    ASSERT_TRUE(IsNotLeader(s)) << s;
    EXPECT_TRUE(absl::IsUnavailable(s));
    std::optional<raft_cmdpb::Error> e = GetRegionError(s);
    EXPECT_EQ(e->not_leader().region_id(), 1u);
    EXPECT_EQ(e->not_leader().leader().store_id(), leader->store);
    // A region the store does not have.
    req.mutable_header()->set_region_id(77);
    s = c.store(follower)->Propose(req).Get();
    EXPECT_TRUE(IsRegionNotFound(s)) << s;
    // Reads at a follower are refused the same way.
    raft_cmdpb::RaftRequestHeader h;
    h.set_region_id(1);
    *h.mutable_region_epoch() = leader->region.region_epoch();
    ReadResult rr = c.store(follower)->Read(h).Get();
    EXPECT_TRUE(IsNotLeader(rr.status())) << rr.status();
  }));
}

TEST(StoreTest, IdleRegionHibernatesAndWakesOnWrite) {
  Cluster c({.stores = 3, .seed = 9});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    ASSERT_TRUE(c.Put("a", "1").ok());
    c.env()->SleepForMicros(5'000'000);
    for (uint64_t id : c.store_ids()) EXPECT_TRUE(c.store(id)->IsHibernating(1)) << id;
    uint64_t ticks_before = c.store(leader->store)->stats().ticks_sent;
    c.env()->SleepForMicros(5'000'000);
    uint64_t idle_ticks = c.store(leader->store)->stats().ticks_sent - ticks_before;
    // 100 tick intervals passed; a hibernating region gets one in ten.
    EXPECT_LE(idle_ticks, 15u);
    ASSERT_TRUE(c.Put("b", "2").ok());
    EXPECT_FALSE(c.store(leader->store)->IsHibernating(1));
    EXPECT_TRUE(c.WaitReplicated("b", "2"));
  }));
}

}  // namespace
}  // namespace rutile::raftstore
