// Region merge (TiKV's PrepareMerge / CommitMerge / RollbackMerge): adjacent regions merge
// in both directions and every key reads back; epochs follow TiKV's rules; a merging source
// refuses reads and writes with ProposalInMergingMode; a merge whose target moved on rolls
// back; a lagging target peer catches its source up from the entries CommitMerge carries;
// PD's merge operator runs; merges that cannot be done safely are refused.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"

namespace rutile::raftstore {
namespace {

std::string Key(int i) { return absl::StrFormat("k%02d", i); }

// The region holding `key` at its leader.
std::optional<Cluster::Route> Leader(Cluster& c, std::string_view key) { return c.WaitLeader(key); }

// Merges the region of `source_key` into the region of `target_key`, retrying while a
// source peer lags (Unavailable) or leadership moves.
absl::Status Merge(Cluster& c, std::string_view source_key, std::string_view target_key) {
  absl::Status last = absl::DeadlineExceededError("no leader");
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::optional<Cluster::Route> src = Leader(c, source_key);
    std::optional<Cluster::Route> dst = Leader(c, target_key);
    if (!src.has_value() || !dst.has_value()) continue;
    last = c.store(src->store)->MergeRegion(src->region.id(), dst->region);
    if (last.ok()) return last;
    if (!IsEpochNotMatch(last) &&
        (absl::IsInvalidArgument(last) || absl::IsFailedPrecondition(last))) {
      return last;
    }
    c.env()->SleepForMicros(100'000);
  }
  return last;
}

// Waits until stores 1-3 have no peer of `source_id` and their `target_id` spans
// [start, end).
bool WaitMerged(Cluster& c, uint64_t source_id, uint64_t target_id, std::string_view start,
                std::string_view end, uint64_t timeout = 20'000'000) {
  uint64_t deadline = c.env()->NowMicros() + timeout;
  while (c.env()->NowMicros() < deadline) {
    bool all = true;
    for (uint64_t id : {1, 2, 3}) {
      std::shared_ptr<Store> st = c.store(id);
      if (st == nullptr) continue;
      std::optional<metapb::Region> t = st->GetRegion(target_id);
      if (st->GetRegion(source_id).has_value() || !t.has_value() || t->start_key() != start ||
          t->end_key() != end) {
        all = false;
      }
    }
    if (all) return true;
    c.env()->SleepForMicros(50'000);
  }
  return false;
}

void PutAll(Cluster& c, int n, const std::string& prefix) {
  for (int i = 0; i < n; ++i) {
    absl::Status s = c.Put(Key(i), absl::StrCat(prefix, i));
    ASSERT_TRUE(s.ok()) << s;
  }
}

void ExpectAll(Cluster& c, int n, const std::string& prefix) {
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status();
    EXPECT_EQ(v->value_or("<none>"), absl::StrCat(prefix, i)) << Key(i);
    // Every replica of stores 1-3 (store 4, when present, holds other regions only).
    const std::string want = absl::StrCat(prefix, i);
    bool replicated = false;
    for (int t = 0; t < 200 && !replicated; ++t) {
      replicated = true;
      for (uint64_t id : {1, 2, 3}) {
        if (c.LocalGet(id, Key(i)) != want) replicated = false;
      }
      if (!replicated) c.env()->SleepForMicros(50'000);
    }
    EXPECT_TRUE(replicated) << Key(i);
  }
}

TEST(MergeTest, AdjacentRegionsMergeBothWaysAndEveryKeyReadsBack) {
  Cluster c({.stores = 3, .seed = 51});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = Leader(c, "");
    ASSERT_TRUE(l.has_value());
    PutAll(c, 40, "a");
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {Key(20)}).ok());
    std::optional<Cluster::Route> right = Leader(c, Key(25));
    ASSERT_TRUE(right.has_value());
    const uint64_t r2 = right->region.id();
    ASSERT_NE(r2, 1u);
    const metapb::RegionEpoch e1 = c.store(l->store)->GetRegion(1)->region_epoch();
    const metapb::RegionEpoch e2 = right->region.region_epoch();

    // The right region (source) into the left one (target).
    absl::Status s = Merge(c, Key(25), Key(5));
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(WaitMerged(c, r2, 1, "", ""));
    std::optional<Cluster::Route> merged = Leader(c, Key(30));
    ASSERT_TRUE(merged.has_value());
    EXPECT_EQ(merged->region.id(), 1u);
    // PrepareMerge made the source version+1; the target takes max(versions)+1.
    EXPECT_EQ(merged->region.region_epoch().version(),
              std::max(e1.version(), e2.version() + 1) + 1);
    EXPECT_EQ(merged->region.region_epoch().conf_ver(), e1.conf_ver());
    ExpectAll(c, 40, "a");
    PutAll(c, 40, "b");  // Writes to the absorbed range go to the target now.
    for (uint64_t id : c.store_ids()) EXPECT_EQ(c.store(id)->PeerCount(), 1u) << id;

    // Split again and merge the left region (source) into the right one (target).
    l = Leader(c, "");
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {Key(10)}).ok());
    std::optional<Cluster::Route> r3 = Leader(c, Key(15));
    ASSERT_TRUE(r3.has_value());
    ASSERT_NE(r3->region.id(), 1u);
    s = Merge(c, Key(5), Key(15));
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(WaitMerged(c, 1, r3->region.id(), "", ""));
    ExpectAll(c, 40, "b");
    PutAll(c, 40, "c");
    ExpectAll(c, 40, "c");
  }));
}

TEST(MergeTest, MergingSourceRefusesReadsAndWritesWithATypedError) {
  Cluster c({.stores = 3, .seed = 52});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = Leader(c, "");
    ASSERT_TRUE(l.has_value());
    PutAll(c, 10, "a");
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {Key(5)}).ok());
    std::optional<Cluster::Route> src = Leader(c, Key(1));
    std::optional<Cluster::Route> dst = Leader(c, Key(7));
    ASSERT_TRUE(src.has_value() && dst.has_value());
    // A target epoch from the future: the merge can neither commit (the target never
    // reaches it) nor roll back (the target never moves past it), so the source stays in
    // merging mode for the test to probe.
    metapb::Region future = dst->region;
    future.mutable_region_epoch()->set_version(future.region_epoch().version() + 5);
    absl::Status s = c.store(src->store)->MergeRegion(src->region.id(), future);
    ASSERT_TRUE(s.ok()) << s;
    std::optional<metapb::Region> now = c.store(src->store)->GetRegion(src->region.id());
    ASSERT_TRUE(now.has_value());
    EXPECT_EQ(now->region_epoch().version(), src->region.region_epoch().version() + 1);
    EXPECT_EQ(now->region_epoch().conf_ver(), src->region.region_epoch().conf_ver() + 1);

    raft_cmdpb::RaftCmdRequest w;
    w.mutable_header()->set_region_id(now->id());
    *w.mutable_header()->mutable_region_epoch() = now->region_epoch();
    raft_cmdpb::Request* r = w.add_requests();
    r->set_cmd_type(raft_cmdpb::CMD_PUT);
    r->mutable_put()->set_key(Key(1));
    r->mutable_put()->set_value("x");
    Future<absl::Status> f = c.store(src->store)->Propose(w);
    ASSERT_TRUE(f.WaitFor(c.env(), 3'000'000));
    EXPECT_TRUE(IsProposalInMergingMode(f.Get())) << f.Get();
    EXPECT_TRUE(absl::IsUnavailable(f.Get()));
    Future<ReadResult> rf = c.store(src->store)->Read(w.header());
    ASSERT_TRUE(rf.WaitFor(c.env(), 3'000'000));
    EXPECT_TRUE(IsProposalInMergingMode(rf.Get().status())) << rf.Get().status();
    // A second merge or a split is refused too; the target is untouched.
    s = c.store(src->store)->SplitRegion(now->id(), {Key(2)});
    EXPECT_TRUE(IsProposalInMergingMode(s)) << s;
    absl::StatusOr<std::optional<std::string>> v = c.Get(Key(7));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->value_or(""), "a7");
    ASSERT_TRUE(c.Put(Key(8), "b8").ok());
    EXPECT_EQ(c.LocalGet(src->store, Key(1)).value_or(""), "a1");
  }));
}

TEST(MergeTest, MergeWhoseTargetChangedRollsBack) {
  Cluster c({.stores = 3, .seed = 53});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = Leader(c, "");
    ASSERT_TRUE(l.has_value());
    PutAll(c, 30, "a");
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {Key(10)}).ok());
    std::optional<Cluster::Route> dst = Leader(c, Key(15));
    ASSERT_TRUE(dst.has_value());
    const metapb::Region stale_target = dst->region;
    // The target splits after PD took its descriptor: a CommitMerge at the old epoch can
    // never apply, so the source must roll back and serve again.
    ASSERT_TRUE(c.store(dst->store)->SplitRegion(stale_target.id(), {Key(20)}).ok());
    std::optional<Cluster::Route> src = Leader(c, Key(5));
    ASSERT_TRUE(src.has_value());
    const metapb::RegionEpoch before = src->region.region_epoch();
    absl::Status s = c.store(src->store)->MergeRegion(src->region.id(), stale_target);
    ASSERT_TRUE(s.ok()) << s;
    bool rolled_back = false;
    for (int i = 0; i < 200 && !rolled_back; ++i) {
      c.env()->SleepForMicros(50'000);
      rolled_back = true;
      for (uint64_t id : c.store_ids()) {
        std::optional<metapb::Region> r = c.store(id)->GetRegion(1);
        if (!r.has_value() || r->region_epoch().version() != before.version() + 2) {
          rolled_back = false;
        }
      }
    }
    ASSERT_TRUE(rolled_back);
    std::optional<metapb::Region> r = c.store(src->store)->GetRegion(1);
    EXPECT_EQ(r->region_epoch().conf_ver(), before.conf_ver() + 1);
    EXPECT_EQ(r->end_key(), Key(10));
    std::optional<metapb::Region> t = c.store(dst->store)->GetRegion(stale_target.id());
    EXPECT_EQ(t->start_key(), Key(10));
    EXPECT_EQ(t->end_key(), Key(20));
    ExpectAll(c, 30, "a");
    PutAll(c, 30, "b");
    ExpectAll(c, 30, "b");
    // And a merge with the current descriptor now goes through.
    s = Merge(c, Key(5), Key(15));
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(WaitMerged(c, 1, stale_target.id(), "", Key(20)));
    ExpectAll(c, 30, "b");
  }));
}

TEST(MergeTest, LaggingTargetPeerCatchesItsSourceUpFromCommitMerge) {
  Cluster c({.stores = 3, .seed = 54});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = Leader(c, "");
    ASSERT_TRUE(l.has_value());
    PutAll(c, 20, "a");
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {Key(10)}).ok());
    ASSERT_TRUE(c.WaitReplicated(Key(19), "a19"));
    // Cut one follower store off; both regions keep a quorum on the other two.
    std::optional<Cluster::Route> src = Leader(c, Key(15));
    ASSERT_TRUE(src.has_value());
    std::optional<Cluster::Route> tl = Leader(c, Key(1));
    ASSERT_TRUE(tl.has_value());
    // A store following both regions (two leaders leave at least one of three).
    uint64_t lagger = 0;
    for (uint64_t id : c.store_ids()) {
      if (id != src->store && id != tl->store) lagger = id;
    }
    ASSERT_NE(lagger, 0u);
    c.sim().Isolate(lagger);
    // Writes to the source the lagger misses; then the merge.
    for (int i = 10; i < 20; ++i) ASSERT_TRUE(c.Put(Key(i), absl::StrCat("b", i)).ok());
    absl::Status s = Merge(c, Key(15), Key(1));
    ASSERT_TRUE(s.ok()) << s;
    // Merged on the two connected stores.
    bool merged = false;
    for (int i = 0; i < 200 && !merged; ++i) {
      c.env()->SleepForMicros(50'000);
      merged = !c.store(src->store)->GetRegion(src->region.id()).has_value();
    }
    ASSERT_TRUE(merged);
    c.sim().Heal();
    ASSERT_TRUE(WaitMerged(c, src->region.id(), 1, "", ""));
    for (int i = 10; i < 20; ++i) {
      EXPECT_EQ(c.LocalGet(lagger, Key(i)).value_or(""), absl::StrCat("b", i)) << Key(i);
    }
    ASSERT_TRUE(c.Put(Key(12), "c12").ok());
    EXPECT_TRUE(c.WaitReplicated(Key(12), "c12"));
  }));
}

TEST(MergeTest, PdMergeOperatorRunsAndUnsafeMergesAreRefused) {
  Cluster c({.stores = 3, .seed = 55});
  c.Start();
  c.AddStore(4);
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = Leader(c, "");
    ASSERT_TRUE(l.has_value());
    PutAll(c, 30, "a");
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {Key(10), Key(20)}).ok());
    std::optional<Cluster::Route> a = Leader(c, Key(5));
    std::optional<Cluster::Route> b = Leader(c, Key(15));
    std::optional<Cluster::Route> d = Leader(c, Key(25));
    ASSERT_TRUE(a && b && d);
    // Not adjacent.
    absl::Status s = c.store(a->store)->MergeRegion(a->region.id(), d->region);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    // Peers on different stores: add a peer of the target on store 4 first.
    raft_cmdpb::ChangePeerRequest add;
    add.set_change_type(raft::CONF_CHANGE_ADD_NODE);
    add.mutable_peer()->set_id(900);
    add.mutable_peer()->set_store_id(4);
    ASSERT_TRUE(c.store(d->store)->ChangePeers(d->region.id(), {add}).ok());
    d = Leader(c, Key(25));
    s = c.store(b->store)->MergeRegion(b->region.id(), d->region);
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;

    // PD's merge operator, handed to the source's leader in a heartbeat reply.
    RegionOperator op;
    op.kind = RegionOperator::Kind::kMerge;
    op.merge_target = a->region;
    c.pd().AddOperator(b->region.id(), op);
    ASSERT_TRUE(WaitMerged(c, b->region.id(), a->region.id(), "", Key(20), 30'000'000));
    ExpectAll(c, 30, "a");
  }));
}

}  // namespace
}  // namespace rutile::raftstore
