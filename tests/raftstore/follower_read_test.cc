// ReadIndex follower reads (TiKV's replica read): a follower asks the leader for a read
// index, waits until it applied that far and serves from its own replica. Such reads see
// every write acknowledged before them, an isolated follower refuses instead of serving
// stale data, RaftKv exposes them (Context::replica_read), and registers read this way
// stay linearizable under the nemesis.

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"
#include "raftstore/raft_kv.h"
#include "raftstore/register_workload.h"
#include "rutile/testing/simulation.h"
#include "util/failpoint.h"

namespace rutile::raftstore {
namespace {

TEST(FollowerReadTest, FollowersSeeEveryAcknowledgedWrite) {
  Cluster c({.stores = 3, .seed = 61});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    for (int i = 0; i < 20; ++i) {
      const std::string v = absl::StrCat("v", i);
      ASSERT_TRUE(c.Put("k", v).ok());
      // Straight after the acknowledgement, before followers need have applied it.
      for (uint64_t id : c.store_ids()) {
        if (id == l->store) continue;
        absl::StatusOr<std::optional<std::string>> got = c.ReplicaGet(id, "k");
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(got->value_or("<none>"), v) << "store " << id;
      }
    }
    // Through RaftKv at a follower, with the flag; without it the follower says NotLeader.
    l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    uint64_t follower = l->store == 1 ? 2 : 1;
    ASSERT_FALSE(c.store(follower)->IsLeader(1));
    std::unique_ptr<RaftKv> kv = NewStoreRaftKv(c.store(follower), 0, c.env());
    Context ctx;
    ctx.region_id = 1;
    ctx.region_epoch = l->region.region_epoch();
    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = kv->Snapshot(ctx);
    EXPECT_TRUE(IsNotLeader(snap.status())) << snap.status();
    ctx.replica_read = true;
    ASSERT_TRUE(c.Put("k", "last").ok());
    snap = kv->Snapshot(ctx);
    ASSERT_TRUE(snap.ok()) << snap.status();
    absl::StatusOr<std::optional<std::string>> v = (*snap)->Get(storage::CF::kDefault, "k");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->value_or(""), "last");
    // A stale epoch is refused like a leader read.
    ctx.region_epoch.set_version(ctx.region_epoch.version() + 1);
    snap = kv->Snapshot(ctx);
    EXPECT_TRUE(IsEpochNotMatch(snap.status())) << snap.status();
  }));
}

// A follower learns a commit index (applies it and serves follower reads from it) as soon
// as the leader sends it, which is before the leader has applied that far itself. A
// lease read at the leader that starts after such a follower read finished must not
// return older state: a read going back in time. The leader's applies are held (failpoint
// raftstore_apply_delay), so that each write sits committed but unapplied there for a
// while, and while a writer keeps writing, follower reads at one follower alternate with
// leader reads through the local reader (Store::ReadLatest; the store's Read when it
// declines). Each leader read must be at least as new as the follower read before it.
TEST(FollowerReadTest, LeaseReadAfterAFollowerReadDoesNotGoBackInTime) {
  if (!failpoint::CompiledIn()) GTEST_SKIP() << "failpoints are compiled out";
  Cluster c({.stores = 3, .seed = 63});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("k", "0").ok());
    ASSERT_TRUE(c.WaitReplicated("k", "0"));
    const uint64_t f = l->store == 1 ? 2 : 1;
    ASSERT_TRUE(
        failpoint::Configure("raftstore_apply_delay", absl::StrCat("return(", l->store, ":30000)"))
            .ok());
    auto writing = std::make_shared<std::atomic<bool>>(true);
    c.env()->Spawn([&c, writing] {
      for (int i = 1; i <= 40; ++i) {
        if (!c.Put("k", std::to_string(i)).ok()) break;
      }
      writing->store(false);
    });
    auto as_int = [](const std::optional<std::string>& v) {
      int n = -1;
      return v.has_value() && absl::SimpleAtoi(*v, &n) ? n : -1;
    };
    int rounds = 0;
    int local = 0;
    std::string back_in_time;
    while (writing->load()) {
      absl::StatusOr<std::optional<std::string>> fr = c.ReplicaGet(f, "k");
      ASSERT_TRUE(fr.ok()) << fr.status();
      const int follower_saw = as_int(*fr);
      std::shared_ptr<Store> st = c.store(l->store);
      ASSERT_NE(st, nullptr);
      absl::StatusOr<std::optional<std::string>> v;
      std::optional<absl::Status> s = st->ReadLatest(
          l->region.id(), l->region.region_epoch().version(), 0, [&](const RegionSnapshot& view) {
            v = view.Get(storage::CF::kDefault, "k");
            return v.status();
          });
      if (s.has_value() && s->ok()) {
        ++local;
      } else {
        raft_cmdpb::RaftRequestHeader h;
        h.set_region_id(l->region.id());
        *h.mutable_region_epoch() = l->region.region_epoch();
        Future<ReadResult> rf = st->Read(h);
        ASSERT_TRUE(rf.WaitFor(c.env(), 3'000'000));
        ReadResult rr = rf.Get();
        ASSERT_TRUE(rr.ok()) << rr.status();
        v = (*rr)->Get(storage::CF::kDefault, "k");
      }
      ASSERT_TRUE(v.ok()) << v.status();
      const int leader_saw = as_int(*v);
      if (leader_saw < follower_saw && back_in_time.empty()) {
        back_in_time = absl::StrCat("round ", rounds, ": follower read ", follower_saw,
                                    ", then the leader read ", leader_saw);
      }
      ++rounds;
    }
    failpoint::Remove("raftstore_apply_delay");
    EXPECT_EQ(back_in_time, "");
    EXPECT_GT(rounds, 10);
    std::printf("rounds %d, served by the local reader %d\n", rounds, local);
  }));
  failpoint::Remove("raftstore_apply_delay");
}

TEST(FollowerReadTest, IsolatedFollowerRefusesInsteadOfServingStaleData) {
  Cluster c({.stores = 3, .seed = 62});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("k", "old").ok());
    ASSERT_TRUE(c.WaitReplicated("k", "old"));
    uint64_t f = l->store == 3 ? 2 : 3;
    c.sim().Isolate(f);
    ASSERT_TRUE(c.Put("k", "new").ok());
    absl::StatusOr<std::optional<std::string>> got = c.ReplicaGet(f, "k", 2'000'000);
    EXPECT_FALSE(got.ok()) << "served " << got->value_or("<none>");
    c.sim().Heal();
    got = c.ReplicaGet(f, "k");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->value_or(""), "new");
  }));
}

TEST(FollowerReadTest, ReplicaReadRegistersStayLinearizableUnderNemesis) {
  register_workload::WorkloadOptions wo;
  wo.replica_reads = true;
  std::optional<uint64_t> only = testing::SeedFromEnvironment();
  if (only.has_value()) {
    register_workload::RunSeed(*only, wo);
    return;
  }
  for (uint64_t seed = 201; seed <= 210; ++seed) {
    register_workload::RunSeed(seed, wo);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace rutile::raftstore
