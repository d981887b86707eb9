// Every operator kind PD hands back in a heartbeat reply is carried out by the region's
// leader store: simple and joint peer changes (including one removing the leader, which
// first hands leadership over), leader transfer, split with keys and without (the store
// picks the middle key), and merge.

#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"

namespace rutile::raftstore {
namespace {

std::string Key(int i) { return absl::StrFormat("k%02d", i); }

raft_cmdpb::ChangePeerRequest Change(raft::ConfChangeType type, uint64_t peer, uint64_t store) {
  raft_cmdpb::ChangePeerRequest c;
  c.set_change_type(type);
  c.mutable_peer()->set_id(peer);
  c.mutable_peer()->set_store_id(store);
  return c;
}

// Waits (virtual time) until `pred` holds on the descriptor at the region's leader.
bool WaitRegion(Cluster& c, std::string_view key,
                const std::function<bool(const metapb::Region&)>& pred,
                uint64_t timeout = 30'000'000) {
  uint64_t deadline = c.env()->NowMicros() + timeout;
  while (c.env()->NowMicros() < deadline) {
    std::optional<Cluster::Route> r = c.FindLeader(key);
    if (r.has_value() && pred(r->region)) return true;
    c.env()->SleepForMicros(50'000);
  }
  return false;
}

metapb::PeerRole RoleOf(const metapb::Region& r, uint64_t peer) {
  const metapb::Peer* p = FindPeer(r, peer);
  return p == nullptr ? metapb::PeerRole(-1) : p->role();
}

TEST(OperatorTest, EveryOperatorKindFromPdIsCarriedOut) {
  Cluster c({.stores = 3, .seed = 81});
  c.Start();
  c.AddStore(4);
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.Put(Key(i), "v").ok());

    // Simple change: a learner on store 4.
    RegionOperator op;
    op.kind = RegionOperator::Kind::kChangePeer;
    op.changes = {Change(raft::CONF_CHANGE_ADD_LEARNER_NODE, 900, 4)};
    c.pd().AddOperator(1, op);
    ASSERT_TRUE(WaitRegion(
        c, "", [](const metapb::Region& r) { return RoleOf(r, 900) == metapb::LEARNER; }));
    EXPECT_TRUE(c.WaitReplicated(Key(39), "v"));

    // Joint change: promote it and demote a follower, left automatically.
    l = c.WaitLeader("");
    uint64_t demoted_store = l->store == 1 ? 2 : 1;
    uint64_t demoted = FindPeerOnStore(l->region, demoted_store)->id();
    op.changes = {Change(raft::CONF_CHANGE_ADD_NODE, 900, 4),
                  Change(raft::CONF_CHANGE_ADD_LEARNER_NODE, demoted, demoted_store)};
    c.pd().AddOperator(1, op);
    ASSERT_TRUE(WaitRegion(c, "", [&](const metapb::Region& r) {
      return RoleOf(r, 900) == metapb::VOTER && RoleOf(r, demoted) == metapb::LEARNER;
    }));

    // Transfer leader to store 4.
    l = c.WaitLeader("");
    op = RegionOperator();
    op.kind = RegionOperator::Kind::kTransferLeader;
    op.target = *FindPeer(l->region, 900);
    c.pd().AddOperator(1, op);
    ASSERT_TRUE(WaitRegion(c, "", [&](const metapb::Region&) { return c.store(4)->IsLeader(1); }));

    // Removing the leader's own peer: it hands leadership over, and the operator, handed
    // to the new leader, removes it.
    op = RegionOperator();
    op.kind = RegionOperator::Kind::kChangePeer;
    op.changes = {Change(raft::CONF_CHANGE_REMOVE_NODE, 900, 4)};
    c.pd().AddOperator(1, op);
    c.pd().AddOperator(1, op);
    ASSERT_TRUE(
        WaitRegion(c, "", [](const metapb::Region& r) { return FindPeer(r, 900) == nullptr; }));

    // Split with a key, then without (the leader picks the middle).
    op = RegionOperator();
    op.kind = RegionOperator::Kind::kSplit;
    op.split_keys = {Key(20)};
    c.pd().AddOperator(1, op);
    ASSERT_TRUE(WaitRegion(c, Key(30), [](const metapb::Region& r) { return r.id() != 1; }));
    std::optional<Cluster::Route> right = c.WaitLeader(Key(30));
    op.split_keys.clear();
    c.pd().AddOperator(right->region.id(), op);
    ASSERT_TRUE(WaitRegion(c, Key(39), [&](const metapb::Region& r) {
      return r.id() != right->region.id() && r.start_key() > Key(20);
    }));

    // Merge the two right-hand regions back.
    right = c.WaitLeader(Key(20));
    std::optional<Cluster::Route> far = c.WaitLeader(Key(39));
    op = RegionOperator();
    op.kind = RegionOperator::Kind::kMerge;
    op.merge_target = right->region;
    c.pd().AddOperator(far->region.id(), op);
    ASSERT_TRUE(WaitRegion(c, Key(39), [&](const metapb::Region& r) {
      return r.id() == right->region.id() && r.end_key().empty();
    }));
    for (int i = 0; i < 40; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->value_or(""), "v") << Key(i);
    }
  }));
}

}  // namespace
}  // namespace rutile::raftstore
