// Membership: adding a peer that catches up by snapshot, removing one, joint changes,
// leader transfer, and operators from PD.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"

namespace rutile::raftstore {
namespace {

std::string Key(int i) { return absl::StrFormat("k%05d", i); }

raft_cmdpb::ChangePeerRequest Change(raft::ConfChangeType type, uint64_t peer, uint64_t store) {
  raft_cmdpb::ChangePeerRequest c;
  c.set_change_type(type);
  c.mutable_peer()->set_id(peer);
  c.mutable_peer()->set_store_id(store);
  return c;
}

const metapb::Peer* PeerOn(const metapb::Region& r, uint64_t store) {
  return FindPeerOnStore(r, store);
}

TEST(ConfChangeTest, AddedPeerCatchesUpBySnapshotAndRemovedPeerIsDestroyed) {
  Cluster c({.stores = 3, .seed = 31});
  c.Start();
  c.AddStore(4);  // Empty: no region until a peer is added.
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(c.Put(Key(i), absl::StrCat("v", i)).ok());
    // Let log GC compact the log past the start, so only a snapshot can catch up.
    c.env()->SleepForMicros(2'000'000);
    EXPECT_EQ(c.store(4)->PeerCount(), 0u);

    absl::Status s =
        c.store(leader->store)->ChangePeers(1, {Change(raft::CONF_CHANGE_ADD_NODE, 100, 4)});
    ASSERT_TRUE(s.ok()) << s;
    std::optional<metapb::Region> r = c.store(leader->store)->GetRegion(1);
    ASSERT_NE(PeerOn(*r, 4), nullptr);
    EXPECT_EQ(r->region_epoch().conf_ver(), 2u);
    EXPECT_TRUE(c.WaitReplicated(Key(0), "v0"));
    EXPECT_TRUE(c.WaitReplicated(Key(99), "v99"));
    EXPECT_GE(c.store(4)->stats().peers_created_by_message, 1u);
    EXPECT_GE(c.store(4)->stats().snapshots_applied, 1u);
    ASSERT_TRUE(c.Put("after-add", "x").ok());
    EXPECT_TRUE(c.WaitReplicated("after-add", "x"));

    // Remove a follower: its store destroys the peer and drops the region's data.
    uint64_t victim = leader->store == 1 ? 2 : 1;
    s = c.store(leader->store)
            ->ChangePeers(1, {Change(raft::CONF_CHANGE_REMOVE_NODE, 10 + victim, victim)});
    ASSERT_TRUE(s.ok()) << s;
    for (int i = 0; i < 100 && c.store(victim)->PeerCount() > 0; ++i) {
      c.env()->SleepForMicros(50'000);
    }
    EXPECT_EQ(c.store(victim)->PeerCount(), 0u);
    EXPECT_FALSE(c.LocalGet(victim, Key(0)).has_value());
    ASSERT_TRUE(c.Put("after-remove", "y").ok());
    absl::StatusOr<std::optional<std::string>> v = c.Get(Key(42));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->value_or(""), "v42");
    // The leader refuses to remove itself.
    std::optional<Cluster::Route> now = c.WaitLeader("");
    s = c.store(now->store)
            ->ChangePeers(1, {Change(raft::CONF_CHANGE_REMOVE_NODE,
                                     PeerOn(now->region, now->store)->id(), now->store)});
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  }));
}

TEST(ConfChangeTest, PeerThatMissedItsRemovalIsToldToGo) {
  Cluster c({.stores = 3, .seed = 34});
  c.Start();
  std::optional<Cluster::Route> leader;
  ASSERT_TRUE(c.Run([&] {
    leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    ASSERT_TRUE(c.Put("a", "1").ok());
  }));
  uint64_t victim = leader->store % 3 + 1;
  c.sim().Isolate(victim);
  ASSERT_TRUE(c.Run([&] {
    absl::Status s =
        c.store(leader->store)
            ->ChangePeers(1, {Change(raft::CONF_CHANGE_REMOVE_NODE, 10 + victim, victim)});
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(c.Put("b", "2").ok());
  }));
  EXPECT_EQ(c.store(victim)->PeerCount(), 1u);
  c.sim().Heal();
  ASSERT_TRUE(c.Run([&] {
    for (int i = 0; i < 200 && c.store(victim)->PeerCount() > 0; ++i) {
      c.env()->SleepForMicros(50'000);
    }
    EXPECT_EQ(c.store(victim)->PeerCount(), 0u);
    EXPECT_FALSE(c.LocalGet(victim, "a").has_value());
  }));
}

TEST(ConfChangeTest, JointChangePromotesLearnerAndDemotesVoter) {
  Cluster c({.stores = 3, .seed = 32});
  c.Start();
  c.AddStore(4);
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    ASSERT_TRUE(c.Put("a", "1").ok());
    Store* ls = c.store(leader->store).get();
    absl::Status s = ls->ChangePeers(1, {Change(raft::CONF_CHANGE_ADD_LEARNER_NODE, 100, 4)});
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_TRUE(c.WaitReplicated("a", "1"));
    std::optional<metapb::Region> with_learner = ls->GetRegion(1);
    EXPECT_EQ(PeerOn(*with_learner, 4)->role(), metapb::LEARNER);

    uint64_t demoted = leader->store == 3 ? 2 : 3;
    s = ls->ChangePeers(1, {Change(raft::CONF_CHANGE_ADD_NODE, 100, 4),
                            Change(raft::CONF_CHANGE_ADD_LEARNER_NODE, 10 + demoted, demoted)});
    ASSERT_TRUE(s.ok()) << s;
    // The joint configuration is left automatically.
    for (int i = 0; i < 100; ++i) {
      std::optional<metapb::Region> now = ls->GetRegion(1);
      const metapb::Peer* p = PeerOn(*now, 4);
      if (p != nullptr && p->role() == metapb::VOTER) break;
      c.env()->SleepForMicros(50'000);
    }
    std::optional<metapb::Region> r = ls->GetRegion(1);
    EXPECT_EQ(PeerOn(*r, 4)->role(), metapb::VOTER);
    EXPECT_EQ(PeerOn(*r, demoted)->role(), metapb::LEARNER);
    // Two changes entered the joint config, leaving it bumped once more.
    EXPECT_EQ(r->region_epoch().conf_ver(), 5u);

    // A voter cannot be removed inside a joint change.
    s = ls->ChangePeers(
        1, {Change(raft::CONF_CHANGE_REMOVE_NODE, 10 + demoted, demoted),
            Change(raft::CONF_CHANGE_REMOVE_NODE, PeerOn(*r, leader->store == 1 ? 2 : 1)->id(),
                   leader->store == 1 ? 2 : 1)});
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    ASSERT_TRUE(c.Put("b", "2").ok());
    EXPECT_TRUE(c.WaitReplicated("b", "2"));
  }));
}

TEST(ConfChangeTest, TransferLeaderAndPdOperators) {
  Cluster c({.stores = 3, .seed = 33});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> leader = c.WaitLeader("");
    ASSERT_TRUE(leader.has_value());
    ASSERT_TRUE(c.Put("a", "1").ok());
    uint64_t target = leader->store % 3 + 1;
    metapb::Peer tp = *PeerOn(leader->region, target);
    ASSERT_TRUE(c.store(leader->store)->TransferLeader(1, tp).ok());
    for (int i = 0; i < 100 && !c.store(target)->IsLeader(1); ++i) {
      c.env()->SleepForMicros(20'000);
    }
    EXPECT_TRUE(c.store(target)->IsLeader(1));
    ASSERT_TRUE(c.Put("b", "2").ok());

    // PD hands a transfer back in a heartbeat reply.
    RegionOperator op;
    op.kind = RegionOperator::Kind::kTransferLeader;
    op.target = *PeerOn(leader->region, leader->store);
    c.pd().AddOperator(1, op);
    for (int i = 0; i < 200 && !c.store(leader->store)->IsLeader(1); ++i) {
      c.env()->SleepForMicros(20'000);
    }
    EXPECT_TRUE(c.store(leader->store)->IsLeader(1));
    EXPECT_GT(c.pd().region_heartbeats(), 0u);
    absl::StatusOr<std::optional<std::string>> v = c.Get("b");
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->value_or(""), "2");
  }));
}

}  // namespace
}  // namespace rutile::raftstore
