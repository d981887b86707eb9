// RaftKv: the interface the transaction layer uses, over stores in a simulated cluster and
// over stores on Env::Default() with LocalTransport (real threads, many fibers).

#include "raftstore/raft_kv.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"
#include "transport/local_transport.h"

namespace rutile::raftstore {
namespace {

Context CtxFor(const Cluster::Route& r) {
  Context ctx;
  ctx.region_id = r.region.id();
  ctx.region_epoch = r.region.region_epoch();
  return ctx;
}

TEST(RaftKvTest, WriteThenSnapshotSeesExactlyTheRegion) {
  Cluster c({.stores = 3, .seed = 41});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {"m"}).ok());
    l = c.WaitLeader("a");
    ASSERT_TRUE(l.has_value());
    std::unique_ptr<RaftKv> kv = NewStoreRaftKv(c.store(l->store));
    Context ctx = CtxFor(*l);
    ASSERT_TRUE(kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "a", "1"),
                                Modify::Put(storage::CF::kWrite, "b", "2"),
                                Modify::Put(storage::CF::kDefault, "c", "3"),
                                Modify::Put(storage::CF::kLock, "d", "4")})
                    .ok());
    // A batch with one key outside the region applies nothing.
    absl::Status s = kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "e", "5"),
                                     Modify::Put(storage::CF::kDefault, "x", "6")});
    EXPECT_TRUE(IsKeyNotInRegion(s)) << s;
    ASSERT_TRUE(kv->Write(ctx, {Modify::DeleteRange(storage::CF::kDefault, "c", "d")}).ok());

    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = kv->Snapshot(ctx);
    ASSERT_TRUE(snap.ok()) << snap.status();
    storage::Engine* view = (*snap)->engine();
    EXPECT_EQ(view->Get(storage::CF::kDefault, "a")->value_or(""), "1");
    EXPECT_EQ(view->Get(storage::CF::kWrite, "b")->value_or(""), "2");
    EXPECT_FALSE(view->Get(storage::CF::kDefault, "c")->has_value());
    EXPECT_FALSE(view->Get(storage::CF::kDefault, "e")->has_value());
    EXPECT_TRUE(absl::IsFailedPrecondition(view->Write(storage::WriteBatch(), {})));
    // Writes after the snapshot are not in it.
    ASSERT_TRUE(kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "b", "late")}).ok());
    std::unique_ptr<storage::Iterator> it =
        view->NewIterator(storage::CF::kDefault, storage::IterOptions());
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
    EXPECT_EQ(keys, std::vector<std::string>({"a"}));

    // The other region's data never shows through this region's snapshot.
    std::optional<Cluster::Route> r2 = c.WaitLeader("x");
    ASSERT_TRUE(r2.has_value());
    std::unique_ptr<RaftKv> kv2 = NewStoreRaftKv(c.store(r2->store));
    ASSERT_TRUE(kv2->Write(CtxFor(*r2), {Modify::Put(storage::CF::kDefault, "x", "9")}).ok());
    snap = kv->Snapshot(ctx);
    ASSERT_TRUE(snap.ok());
    it = (*snap)->NewIterator(storage::CF::kDefault, storage::IterOptions());
    keys.clear();
    for (it->SeekToLast(); it->Valid(); it->Prev()) keys.emplace_back(it->key());
    EXPECT_EQ(keys, std::vector<std::string>({"b", "a"}));
    EXPECT_TRUE(IsKeyNotInRegion((*snap)->Get(storage::CF::kDefault, "x").status()));

    // A stale epoch is refused.
    Context stale = ctx;
    stale.region_epoch.set_version(1);
    EXPECT_TRUE(IsEpochNotMatch(kv->Write(stale, {Modify::Delete(storage::CF::kDefault, "a")})));
    EXPECT_TRUE(IsEpochNotMatch(kv->Snapshot(stale).status()));
  }));
}

// A write carries the leader term its caller read under (Context::term): once the
// leadership it read under has ended, the write is refused (StaleCommand) and applies
// nothing, even when the same store leads again in a later term (others may have led and
// written in between). The current term, or none, is accepted.
TEST(RaftKvTest, WriteReadUnderAnEndedLeadershipIsRefused) {
  Cluster c({.stores = 3, .seed = 45});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    const uint64_t home = l->store;
    std::unique_ptr<RaftKv> kv = NewStoreRaftKv(c.store(home));
    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = kv->Snapshot(CtxFor(*l));
    ASSERT_TRUE(snap.ok()) << snap.status();
    const uint64_t read_term = (*snap)->leader_term();
    ASSERT_NE(read_term, 0u);
    Context ctx = CtxFor(*l);
    ctx.term = read_term;
    ASSERT_TRUE(kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "a", "1")}).ok());

    // The leadership moves away and comes back to the same store.
    auto transfer_to = [&](uint64_t from, auto pick) {
      metapb::Peer target;
      const std::optional<metapb::Region> region = c.store(from)->GetRegion(1);
      ASSERT_TRUE(region.has_value());
      for (const metapb::Peer& p : region->peers()) {
        if (pick(p.store_id())) target = p;
      }
      ASSERT_NE(target.id(), 0u);
      for (int i = 0; i < 100 && !c.store(target.store_id())->IsLeader(1); ++i) {
        std::optional<Cluster::Route> now = c.WaitLeader("");
        ASSERT_TRUE(now.has_value());
        (void)c.store(now->store)->TransferLeader(1, target);
        c.env()->SleepForMicros(50'000);
      }
      ASSERT_TRUE(c.store(target.store_id())->IsLeader(1));
    };
    transfer_to(home, [&](uint64_t s) { return s != home; });
    transfer_to(home, [&](uint64_t s) { return s == home; });

    absl::Status s = kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "b", "stale")});
    EXPECT_TRUE(IsStaleCommand(s)) << s;
    snap = kv->Snapshot(CtxFor(*l));
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_GT((*snap)->leader_term(), read_term);
    EXPECT_FALSE((*snap)->Get(storage::CF::kDefault, "b")->has_value());
    EXPECT_EQ((*snap)->Get(storage::CF::kDefault, "a")->value_or(""), "1");
    // Under the current term, or unchecked, the write applies.
    ctx.term = (*snap)->leader_term();
    EXPECT_TRUE(kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "b", "2")}).ok());
    ctx.term = 0;
    EXPECT_TRUE(kv->Write(ctx, {Modify::Put(storage::CF::kDefault, "c", "3")}).ok());
  }));
}

// A write that times out with its outcome unknown reports the outcome later, exactly once,
// whatever ends it: applied after the partition heals, dropped by a new leader, or the
// store stopping.
TEST(RaftKvTest, TimedOutWriteReportsItsOutcomeLater) {
  Cluster c({.stores = 3, .seed = 43});
  c.Start();
  ASSERT_TRUE(c.Run([&] {
    struct Outcome {
      int calls = 0;
      absl::Status status;
    };
    // Partitions the leader away, writes with a short timeout and returns the outcome
    // holder; the write must time out.
    auto isolated_write = [&](const Cluster::Route& l,
                              const std::string& key) -> std::shared_ptr<Outcome> {
      std::vector<NodeId> others;
      for (uint64_t id : c.store_ids()) {
        if (id != l.store) others.push_back(id);
      }
      c.sim().Partition({{l.store}, others});
      std::unique_ptr<RaftKv> kv = NewStoreRaftKv(c.store(l.store), 100'000);
      auto out = std::make_shared<Outcome>();
      absl::Status s = kv->Write(CtxFor(l), {Modify::Put(storage::CF::kDefault, key, "v")}, [&] {
        return WriteOutcome([out](const absl::Status& st) {
          ++out->calls;
          out->status = st;
        });
      });
      EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
      EXPECT_EQ(out->calls, 0);
      return out;
    };
    auto wait_for = [&](const std::shared_ptr<Outcome>& out) {
      for (int i = 0; i < 200 && out->calls == 0; ++i) c.env()->SleepForMicros(50'000);
      EXPECT_EQ(out->calls, 1);
    };

    // Healed before an election: the entry commits and applies late.
    std::optional<Cluster::Route> l = c.WaitLeader("a");
    ASSERT_TRUE(l.has_value());
    std::shared_ptr<Outcome> out = isolated_write(*l, "a");
    c.env()->SleepForMicros(100'000);
    c.sim().Heal();
    wait_for(out);
    EXPECT_TRUE(out->status.ok()) << out->status;

    // Healed after the others elected a leader: the entry is replaced, never applied.
    l = c.WaitLeader("a");
    ASSERT_TRUE(l.has_value());
    out = isolated_write(*l, "b");
    c.env()->SleepForMicros(3'000'000);
    c.sim().Heal();
    wait_for(out);
    EXPECT_FALSE(out->status.ok());
    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap =
        NewStoreRaftKv(c.store(c.WaitLeader("a")->store))->Snapshot(CtxFor(*c.WaitLeader("a")));
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_FALSE((*snap)->Get(storage::CF::kDefault, "b")->has_value());

    // The store stops (crash) with the write unresolved.
    l = c.WaitLeader("a");
    ASSERT_TRUE(l.has_value());
    out = isolated_write(*l, "c");
    c.sim().Crash(l->store);
    EXPECT_EQ(out->calls, 1);
    EXPECT_TRUE(absl::IsUnavailable(out->status)) << out->status;
    c.sim().Heal();
  }));
}

// Real threads: three stores over LocalTransport on Env::Default(), concurrent writers.
TEST(RaftKvTest, ConcurrentWritersOnDefaultEnvShareGroupCommits) {
  Env* env = Env::Default();
  transport::LocalTransport net(env);
  MockPd pd;
  metapb::Region region;
  region.set_id(1);
  region.mutable_region_epoch()->set_conf_ver(1);
  region.mutable_region_epoch()->set_version(1);
  for (int i = 1; i <= 3; ++i) {
    metapb::Peer* p = region.add_peers();
    p->set_id(10 + i);
    p->set_store_id(i);
  }
  std::vector<std::unique_ptr<storage::MemEngine>> engines;
  std::vector<std::unique_ptr<transport::RpcEndpoint>> eps;
  std::vector<std::shared_ptr<Store>> stores;
  for (int i = 1; i <= 3; ++i) {
    engines.push_back(std::make_unique<storage::MemEngine>());
    ASSERT_TRUE(Store::BootstrapRegion(engines.back().get(), region).ok());
    eps.push_back(std::make_unique<transport::RpcEndpoint>(env, &net, i));
    Store::Options o;
    o.config = TestStoreConfig();
    o.config.store_id = i;
    o.env = env;
    o.engine = engines.back().get();
    o.endpoint = eps.back().get();
    o.pd = &pd;
    absl::StatusOr<std::shared_ptr<Store>> st = Store::Create(o);
    ASSERT_TRUE(st.ok()) << st.status();
    stores.push_back(*st);
    stores.back()->Start();
  }
  // Wait for a leader.
  int leader = -1;
  for (int attempt = 0; attempt < 200 && leader < 0; ++attempt) {
    Notification slept;
    env->Schedule(20'000, [slept]() mutable { slept.Notify(); });
    slept.Wait();
    for (int i = 0; i < 3; ++i) {
      if (stores[i]->IsLeader(1)) leader = i;
    }
  }
  ASSERT_GE(leader, 0);
  std::unique_ptr<RaftKv> kv = NewStoreRaftKv(stores[leader]);
  Context ctx;
  ctx.region_id = 1;
  ctx.region_epoch = region.region_epoch();
  constexpr int kFibers = 16;
  constexpr int kWrites = 20;
  std::atomic<int> ok{0};
  WaitGroup wg;
  wg.Add(kFibers);
  for (int f = 0; f < kFibers; ++f) {
    env->Spawn([&, f, wg]() mutable {
      for (int i = 0; i < kWrites; ++i) {
        std::string key = absl::StrFormat("f%02d-%03d", f, i);
        if (kv->Write(ctx, {Modify::Put(storage::CF::kDefault, key, "v")}).ok()) ok.fetch_add(1);
      }
      wg.Done();
    });
  }
  wg.Wait();
  EXPECT_EQ(ok.load(), kFibers * kWrites);
  Notification read;
  env->Spawn([&, read]() mutable {
    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = kv->Snapshot(ctx);
    EXPECT_TRUE(snap.ok()) << snap.status();
    if (snap.ok()) {
      std::unique_ptr<storage::Iterator> it =
          (*snap)->NewIterator(storage::CF::kDefault, storage::IterOptions());
      int n = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
      EXPECT_EQ(n, kFibers * kWrites);
    }
    read.Notify();
  });
  read.Wait();
  StoreCounters st = stores[leader]->stats();
  // Concurrent proposals share Ready writes: fewer synced writes than writes.
  EXPECT_LT(st.ready_writes, static_cast<uint64_t>(kFibers * kWrites));
  Notification down;
  env->Spawn([&, down]() mutable {
    for (auto& s : stores) s->Shutdown();
    for (auto& e : eps) e->Shutdown();
    down.Notify();
  });
  down.Wait();
}

}  // namespace
}  // namespace rutile::raftstore
