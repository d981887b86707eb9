// DataVersion (region_snapshot.h), what the coprocessor's column cache keys region data
// by: two views with the same non-zero version must hold the same data under the same
// region epoch. An installed snapshot and a destroyed peer change the version (a follower
// whose replica a snapshot replaced, or a store whose peer was destroyed and created
// again, must never match an entry of the old data), and a local read racing a split gets
// no version for the old epoch it still serves (the split's data belongs to the new one).

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"
#include "util/failpoint.h"

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

// A follower read's view of region 1 at store `id` (ReadIndex, then the store's own
// replica), retrying region errors.
std::shared_ptr<RegionSnapshot> ReplicaView(Cluster& c, uint64_t id) {
  for (int i = 0; i < 200; ++i) {
    std::shared_ptr<Store> st = c.store(id);
    std::optional<metapb::Region> r = st ? st->GetRegion(1) : std::nullopt;
    if (r.has_value() && r->peers_size() > 0) {
      raft_cmdpb::RaftRequestHeader h;
      h.set_region_id(1);
      *h.mutable_region_epoch() = r->region_epoch();
      h.set_replica_read(true);
      Future<ReadResult> f = st->Read(h);
      if (f.WaitFor(c.env(), 3'000'000)) {
        ReadResult rr = f.Get();
        if (rr.ok()) return *rr;
      }
    }
    c.env()->SleepForMicros(50'000);
  }
  return nullptr;
}

std::string ValueIn(const RegionSnapshot& view, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> v = view.Get(storage::CF::kDefault, key);
  return v.ok() ? v->value_or("<none>") : v.status().ToString();
}

TEST(DataVersionTest, InstalledSnapshotChangesTheVersion) {
  ClusterOptions o{.stores = 3, .seed = 91};
  o.config.raft_log_gc_count_limit = 30;  // Log GC leaves a follower 30 entries behind.
  Cluster c(o);
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Put(Key(i), "old").ok());
    ASSERT_TRUE(c.WaitReplicated(Key(9), "old"));
    const uint64_t f = l->store == 3 ? 2 : 3;
    std::shared_ptr<RegionSnapshot> before = ReplicaView(c, f);
    ASSERT_NE(before, nullptr);
    ASSERT_NE(before->data_version(), 0u);
    EXPECT_EQ(ValueIn(*before, Key(0)), "old");
    const uint64_t installed = c.store(f)->stats().snapshots_applied;

    // The follower misses more writes than log GC keeps for it: only a snapshot can bring
    // it up to date, and nothing is written after it.
    c.sim().Isolate(f);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(c.Put(Key(i % 10), absl::StrCat("new", i)).ok());
    c.env()->SleepForMicros(2'000'000);
    c.sim().Heal();
    for (int i = 0; i < 200 && c.store(f)->stats().snapshots_applied == installed; ++i) {
      c.env()->SleepForMicros(50'000);
    }
    ASSERT_GT(c.store(f)->stats().snapshots_applied, installed);
    std::shared_ptr<RegionSnapshot> after = ReplicaView(c, f);
    ASSERT_NE(after, nullptr);
    EXPECT_EQ(ValueIn(*after, Key(0)), "new90");
    // Different data: the old version must not come back (a cache entry of it would
    // serve "old").
    EXPECT_NE(after->data_version(), 0u);
    EXPECT_NE(after->data_version(), before->data_version());
  }));
}

TEST(DataVersionTest, DestroyedPeerChangesTheVersionAndANewPeerHasItsOwn) {
  Cluster c({.stores = 3, .seed = 92});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("a", "1").ok());
    ASSERT_TRUE(c.WaitReplicated("a", "1"));
    const uint64_t victim = l->store % 3 + 1;
    std::shared_ptr<RegionSnapshot> before = ReplicaView(c, victim);
    ASSERT_NE(before, nullptr);
    ASSERT_NE(before->data_version(), 0u);
    std::shared_ptr<const DataVersion> dv = c.store(victim)->TEST_DataVersion(1);
    ASSERT_NE(dv, nullptr);

    // Removed while cut off: the victim applies nothing more and learns of its removal
    // only from the tombstone message after the heal, then destroys its peer.
    c.sim().Isolate(victim);
    const uint64_t v0 = dv->Load();
    ASSERT_NE(v0, 0u);
    absl::Status s = c.store(l->store)->ChangePeers(
        1, {Change(raft::CONF_CHANGE_REMOVE_NODE, 10 + victim, victim)});
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(c.Put("a", "2").ok());
    c.sim().Heal();
    for (int i = 0; i < 200 && c.store(victim)->PeerCount() > 0; ++i) {
      c.env()->SleepForMicros(50'000);
    }
    ASSERT_EQ(c.store(victim)->PeerCount(), 0u);
    // The destroy cleared the data: a write to the region's data, a new version.
    EXPECT_NE(dv->Load(), v0);
    EXPECT_NE(dv->Load(), 0u);

    // A new peer of the region on the same store: its own versions, never the old one.
    std::optional<Cluster::Route> now = c.WaitLeader("");
    ASSERT_TRUE(now.has_value());
    s = c.store(now->store)->ChangePeers(1, {Change(raft::CONF_CHANGE_ADD_NODE, 100, victim)});
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(c.WaitReplicated("a", "2"));
    std::shared_ptr<RegionSnapshot> after = ReplicaView(c, victim);
    ASSERT_NE(after, nullptr);
    EXPECT_EQ(ValueIn(*after, "a"), "2");
    EXPECT_NE(after->data_version(), 0u);
    EXPECT_NE(after->data_version(), before->data_version());
    EXPECT_NE(after->data_version(), v0);
  }));
}

// One store (no messages, so the local reader keeps serving while the split applies):
// the split's write is held before the store publishes the new region, and lease reads
// with the old epoch go on meanwhile. A version must always come with one epoch.
TEST(DataVersionTest, LocalReadRacingASplitGetsNoVersionForTheOldEpoch) {
  if (!failpoint::CompiledIn()) GTEST_SKIP() << "failpoints are compiled out";
  Cluster c({.stores = 1, .seed = 93});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("a", "1").ok());
    ASSERT_TRUE(c.Put("x", "2").ok());
    std::shared_ptr<Store> st = c.store(l->store);
    const metapb::RegionEpoch old = st->GetRegion(1)->region_epoch();
    ASSERT_TRUE(failpoint::Configure("raftstore_region_change_written_delay",
                                     absl::StrCat("return(", l->store, ":300000)"))
                    .ok());
    Notification split;
    c.env()->Spawn([st, split]() mutable {
      absl::Status s = st->SplitRegion(1, {"m"});
      EXPECT_TRUE(s.ok()) << s;
      split.Notify();
    });
    std::map<uint64_t, uint64_t> epoch_of;  // Version -> the epoch version it came with.
    int with_version = 0;
    auto read = [&](const metapb::RegionEpoch& epoch) {
      raft_cmdpb::RaftRequestHeader h;
      h.set_region_id(1);
      *h.mutable_region_epoch() = epoch;
      Future<ReadResult> f = st->Read(h);
      if (!f.WaitFor(c.env(), 3'000'000)) return;
      ReadResult r = f.Get();
      if (!r.ok() || (*r)->data_version() == 0) return;
      ++with_version;
      const uint64_t v = (*r)->data_version();
      const uint64_t e = (*r)->region().region_epoch().version();
      auto [it, inserted] = epoch_of.emplace(v, e);
      EXPECT_EQ(it->second, e) << "data version " << v << " served under epochs " << it->second
                               << " and " << e;
    };
    int reads = 0;
    while (!split.HasBeenNotified()) {
      read(old);
      ++reads;
      c.env()->SleepForMicros(10'000);
    }
    failpoint::Remove("raftstore_region_change_written_delay");
    EXPECT_GT(reads, 10);
    const metapb::RegionEpoch now = st->GetRegion(1)->region_epoch();
    ASSERT_GT(now.version(), old.version());
    for (int i = 0; i < 3; ++i) read(now);
    EXPECT_GT(with_version, 0);
  }));
  failpoint::Remove("raftstore_region_change_written_delay");
}

}  // namespace
}  // namespace rutile::raftstore
