// In-memory pessimistic locks (txn/mem_locks.h): the lock table's leadership tags, and on a
// simulated 3-node cluster that a pessimistic lock lives only in the leader's memory, and
// that losing it (leader transfer, transfer there and back, split) never lets its owner
// commit over another transaction's write: the owner's prewrite finds its lock missing and
// a newer write record, and fails, while an owner whose keys nobody wrote still commits.

#include "txn/mem_locks.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/node_internal.h"
#include "node/txn_service.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "txn/client/txn_client.h"
#include "txn/region_store.h"
#include "txn/types.h"

namespace rutile {
namespace {

using txn::LeaderTag;
using txn::Lock;
using txn::LockType;
using txn::MemLockScope;
using txn::PessimisticLockTable;

Lock PessimisticLock(uint64_t start_ts) {
  Lock l;
  l.type = LockType::kPessimistic;
  l.primary = "p";
  l.start_ts = start_ts;
  l.for_update_ts = start_ts;
  l.ttl = 3000;
  return l;
}

void Put(PessimisticLockTable* t, uint64_t region, LeaderTag tag, const std::string& key,
         uint64_t ts) {
  MemLockScope s(t, region, tag, true);
  ASSERT_TRUE(s.PutLock(key, PessimisticLock(ts)));
  s.Publish();
}

TEST(PessimisticLockTableTest, LocksBelongToOneTermAndVersion) {
  PessimisticLockTable t;
  const LeaderTag t5{5, 1};
  Put(&t, 1, t5, "a", 10);
  Put(&t, 1, t5, "b", 10);
  ASSERT_TRUE(t.Get(1, t5, "a").has_value());
  EXPECT_EQ(t.Get(1, t5, "a")->start_ts, 10u);
  EXPECT_FALSE(t.Get(2, t5, "a").has_value());  // Another region.
  // A command of an older leadership, or of unknown term, sees nothing and changes nothing.
  EXPECT_FALSE(t.Get(1, LeaderTag{4, 9}, "a").has_value());
  EXPECT_FALSE(t.Get(1, LeaderTag{0, 1}, "a").has_value());
  Put(&t, 1, LeaderTag{4, 9}, "c", 11);
  EXPECT_FALSE(t.Get(1, t5, "c").has_value());
  EXPECT_EQ(t.TEST_Count(1), 2u);
  // A newer epoch version (split, merge) voids them.
  EXPECT_FALSE(t.Get(1, LeaderTag{5, 2}, "a").has_value());
  EXPECT_EQ(t.TEST_Count(1), 0u);
  // And a newer term; the stale leadership cannot put them back.
  Put(&t, 1, LeaderTag{5, 2}, "a", 12);
  EXPECT_FALSE(t.Get(1, LeaderTag{6, 2}, "a").has_value());
  Put(&t, 1, LeaderTag{5, 2}, "a", 12);
  EXPECT_FALSE(t.Get(1, LeaderTag{6, 2}, "a").has_value());
  EXPECT_EQ(t.TEST_Count(1), 0u);
}

TEST(PessimisticLockTableTest, ScopeRoutesLockChanges) {
  PessimisticLockTable t(/*max_per_region=*/2);
  const LeaderTag tag{3, 1};
  Put(&t, 1, tag, "a", 10);
  {
    // A prewrite of "a" replaces the memory lock with an engine lock.
    MemLockScope s(&t, 1, tag, false);
    ASSERT_TRUE(s.Get("a").has_value());
    Lock l = PessimisticLock(10);
    l.type = LockType::kPut;
    EXPECT_FALSE(s.PutLock("a", l));  // To the engine.
    // Not yet published: others still see the memory lock.
    EXPECT_TRUE(t.Get(1, tag, "a").has_value());
    s.Publish();
    EXPECT_FALSE(t.Get(1, tag, "a").has_value());
  }
  {
    // Without accept_new a new pessimistic lock goes to the engine.
    MemLockScope s(&t, 1, tag, false);
    EXPECT_FALSE(s.PutLock("b", PessimisticLock(11)));
    // A key whose lock the engine holds keeps it there.
    MemLockScope s2(&t, 1, tag, true);
    s2.NoteEngineLock("b");
    EXPECT_FALSE(s2.PutLock("b", PessimisticLock(11)));
    EXPECT_TRUE(s2.PutLock("c", PessimisticLock(11)));
    // A failed command publishes nothing but removals.
    s2.PublishRemovals();
    EXPECT_FALSE(t.Get(1, tag, "c").has_value());
  }
  {
    // An engine write of a key's lock supersedes a memory lock of the key, whatever the
    // tag of the command that wrote it (no lock comes back when the engine's goes).
    Put(&t, 1, tag, "d", 12);
    MemLockScope stale(&t, 1, LeaderTag{0, 0}, false);
    EXPECT_FALSE(stale.UnlockKey("d"));
    stale.Publish();
    EXPECT_FALSE(t.Get(1, tag, "d").has_value());
  }
  // Room: at most two locks per region.
  Put(&t, 1, tag, "e", 13);
  EXPECT_TRUE(t.HasRoom(1, tag, 1));
  EXPECT_FALSE(t.HasRoom(1, tag, 2));
  EXPECT_FALSE(t.HasRoom(1, LeaderTag{2, 1}, 1));
  // Pessimistic rollback: a memory lock removed with no engine write.
  MemLockScope s(&t, 1, tag, false);
  ASSERT_TRUE(s.Get("e").has_value());
  EXPECT_TRUE(s.UnlockKey("e"));
  s.Publish();
  EXPECT_EQ(t.TEST_Count(1), 0u);
}

TEST(PessimisticLockTableTest, RetireEndsALeadership) {
  PessimisticLockTable t;
  // Commands of regions 1 and 2 in flight (pinned before they read their views), under
  // the leaderships that end below.
  PessimisticLockTable::Pin running1(&t, 1);
  PessimisticLockTable::Pin running2(&t, 2);
  Put(&t, 1, LeaderTag{5, 1}, "a", 10);
  Put(&t, 1, LeaderTag{5, 1}, "b", 10);
  t.Retire(1, LeaderTag{5, 1});
  EXPECT_EQ(t.TEST_Count(1), 0u);
  // A command still running under the ended leadership neither sees nor adds locks.
  EXPECT_FALSE(t.Get(1, LeaderTag{5, 1}, "a").has_value());
  EXPECT_FALSE(t.HasRoom(1, LeaderTag{5, 1}, 1));
  Put(&t, 1, LeaderTag{5, 1}, "c", 11);
  EXPECT_EQ(t.TEST_Count(1), 0u);
  // A region retired before any lock: the same.
  t.Retire(2, LeaderTag{3, 2});
  EXPECT_FALSE(t.HasRoom(2, LeaderTag{3, 1}, 1));
  // The next leadership (a later term, or the same term after a split) starts afresh.
  EXPECT_TRUE(t.HasRoom(2, LeaderTag{4, 2}, 1));
  Put(&t, 1, LeaderTag{5, 2}, "a", 12);
  EXPECT_EQ(t.TEST_Count(1), 1u);
  // A late report of an older leadership leaves a newer one's locks alone.
  t.Retire(1, LeaderTag{5, 1});
  EXPECT_EQ(t.TEST_Count(1), 1u);
}

// The table keeps nothing for a region with no locks and no command in flight: a retired
// leadership's tombstone goes with the last command that could carry its tag (a region
// destroyed here or led elsewhere costs nothing once its commands are done), and a command
// pinned after the retirement could only have read a newer view.
TEST(PessimisticLockTableTest, NothingIsKeptForRegionsWithoutLocksOrCommands) {
  PessimisticLockTable t;
  {
    PessimisticLockTable::Pin running(&t, 1);
    Put(&t, 1, LeaderTag{5, 1}, "a", 10);
    t.Retire(1, LeaderTag{5, 1});
    EXPECT_EQ(t.TEST_Entries(), 1u);  // The tombstone, while the command runs.
    EXPECT_FALSE(t.HasRoom(1, LeaderTag{5, 1}, 1));
  }
  EXPECT_EQ(t.TEST_Entries(), 0u);
  // Retiring a region with no entry leaves none.
  for (uint64_t r = 10; r < 1000; ++r) t.Retire(r, LeaderTag{7, 3});
  EXPECT_EQ(t.TEST_Entries(), 0u);
  // A leadership's locks outlive its commands; emptied and unpinned, the entry goes.
  {
    PessimisticLockTable::Pin running(&t, 2);
    Put(&t, 2, LeaderTag{6, 1}, "k", 20);
  }
  EXPECT_EQ(t.TEST_Entries(), 1u);
  EXPECT_EQ(t.TEST_Count(2), 1u);
  {
    PessimisticLockTable::Pin running(&t, 2);
    t.Apply(2, LeaderTag{6, 1}, {{"k", std::nullopt}}, {});
    EXPECT_EQ(t.TEST_Count(2), 0u);
    EXPECT_EQ(t.TEST_Entries(), 1u);
  }
  EXPECT_EQ(t.TEST_Entries(), 0u);
  // A scope (a pending write keeps its own) pins the region until it goes, moved or not.
  {
    std::optional<MemLockScope> kept;
    {
      MemLockScope scope(&t, 3, LeaderTag{2, 1}, true);
      kept.emplace(std::move(scope));
    }
    t.Retire(3, LeaderTag{2, 1});
    EXPECT_EQ(t.TEST_Entries(), 1u);
    EXPECT_FALSE(t.HasRoom(3, LeaderTag{2, 1}, 1));
  }
  EXPECT_EQ(t.TEST_Entries(), 0u);
}

// ---- On a cluster ----

class MemLockCluster {
 public:
  MemLockCluster() {
    testing::TestClusterOptions o;
    o.nodes = 3;
    o.sim.seed = 42;
    o.manual_replication = true;
    cluster_ = std::make_unique<testing::TestCluster>(o);
  }
  ~MemLockCluster() {
    if (client_ != nullptr) cluster_->Run([this] { client_.reset(); });
  }

  bool Start() {
    if (!cluster_->Start().ok()) return false;
    testing::TestCluster* c = cluster_.get();
    auto opened = node::TxnAccess::Open(
        c->env(), c->pd(),
        [c](uint64_t id) -> std::shared_ptr<raftstore::Store> {
          Node* n = c->node(id);
          return n == nullptr ? nullptr : node::StoreOf(node::Access::ImplOf(n).get());
        },
        TxnClientOptions{.timeout_micros = 10'000'000});
    if (!opened.ok()) return false;
    client_ = std::move(*opened);
    return true;
  }

  testing::TestCluster& c() { return *cluster_; }
  TxnClient& kv() { return *client_; }

  std::unique_ptr<Transaction> Begin(TxnOptions o) {
    auto t = client_->Begin(o);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(*t) : nullptr;
  }
  std::optional<std::string> Read(const std::string& key) {
    auto t = Begin(TxnOptions());
    auto v = t->Get(key);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::nullopt;
  }
  // The region holding raw `key` and its leader's store.
  RegionDescription RegionOf(const std::string& key) {
    const std::string enc = txn::EncodeKey(key);
    for (const RegionDescription& r : cluster_->Regions()) {
      if (r.start_key <= enc && (r.end_key.empty() || enc < r.end_key)) return r;
    }
    ADD_FAILURE() << "no region for " << key;
    return RegionDescription();
  }
  // The transaction store of node `id` (the one its clients reach).
  std::shared_ptr<txn::RegionTxnStore> StoreService(uint64_t id) {
    Node* n = cluster_->node(id);
    if (n == nullptr) return nullptr;
    std::shared_ptr<Pd> pd = cluster_->pd();
    std::shared_ptr<txn::TxnService> svc =
        node::TxnServiceFor(node::StoreOf(node::Access::ImplOf(n).get()),
                            node::PdApiOf(node::Access::ImplOf(pd.get())), cluster_->env());
    return std::dynamic_pointer_cast<txn::RegionTxnStore>(svc);
  }
  // The in-memory pessimistic locks the leader of `key`'s region holds for it.
  size_t MemLocks(const std::string& key) {
    RegionDescription r = RegionOf(key);
    std::shared_ptr<txn::RegionTxnStore> store = StoreService(r.leader_store);
    return store == nullptr ? 0 : store->TEST_mem_locks()->TEST_Count(r.id);
  }
  uint64_t OtherStore(const RegionDescription& r) {
    for (uint64_t s : r.stores) {
      if (s != r.leader_store) return s;
    }
    return 0;
  }

 private:
  std::unique_ptr<testing::TestCluster> cluster_;
  std::shared_ptr<TxnClient> client_;
};

const TxnOptions kPessimistic{.pessimistic = true, .try_one_pc = true, .lock_wait_timeout_ms = 0};

TEST(MemLocksClusterTest, PessimisticLocksStayInTheLeadersMemory) {
  MemLockCluster m;
  ASSERT_TRUE(m.Start());
  ASSERT_TRUE(m.c().Run([&] {
    auto w = m.Begin(TxnOptions());
    ASSERT_TRUE(w->Put("a", "0").ok());
    ASSERT_TRUE(w->Commit().ok());
    auto t = m.Begin(kPessimistic);
    ASSERT_TRUE(t->LockKeys({"a", "b"}).ok());
    EXPECT_EQ(m.MemLocks("a"), 2u);
    // They block another transaction like any lock.
    auto u = m.Begin(kPessimistic);
    EXPECT_FALSE(u->LockKeys({"a"}).ok());
    ASSERT_TRUE(u->Rollback().ok());
    ASSERT_TRUE(t->Put("a", "1").ok());
    ASSERT_TRUE(t->Commit().ok());
    EXPECT_EQ(m.MemLocks("a"), 0u);
    EXPECT_EQ(m.Read("a"), "1");
    // Rolled back: released with no Raft write.
    auto r = m.Begin(kPessimistic);
    ASSERT_TRUE(r->LockKeys({"a"}).ok());
    EXPECT_EQ(m.MemLocks("a"), 1u);
    ASSERT_TRUE(r->Rollback().ok());
    EXPECT_EQ(m.MemLocks("a"), 0u);
  }));
}

// `move` loses the memory locks of "a" (a leader transfer, a transfer there and back, a
// split). Then: t locked "a" and another transaction wrote it meanwhile -> t's commit
// fails and the other's write stays; t2 locked "b", nobody wrote it -> t2 commits.
void LostLocksNeverCommitOverAnotherWrite(MemLockCluster& m, const std::function<void()>& move) {
  auto w = m.Begin(TxnOptions());
  ASSERT_TRUE(w->Put("a", "0").ok());
  ASSERT_TRUE(w->Put("b", "0").ok());
  ASSERT_TRUE(w->Commit().ok());
  auto t = m.Begin(kPessimistic);
  auto t2 = m.Begin(kPessimistic);
  ASSERT_TRUE(t->LockKeys({"a"}).ok());
  ASSERT_TRUE(t2->LockKeys({"b"}).ok());
  move();
  // The other transaction's turn, wherever the region's leader is now.
  auto u = m.Begin(kPessimistic);
  ASSERT_TRUE(u->LockKeys({"a"}).ok()) << "t's lock should be gone";
  ASSERT_TRUE(u->Put("a", "u").ok());
  ASSERT_TRUE(u->Commit().ok());
  ASSERT_TRUE(t->Put("a", "t").ok());
  absl::Status s = t->Commit();
  EXPECT_FALSE(s.ok()) << "t committed over u's write";
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  EXPECT_EQ(m.Read("a"), "u");
  ASSERT_TRUE(t2->Put("b", "t2").ok());
  EXPECT_TRUE(t2->Commit().ok());
  EXPECT_EQ(m.Read("b"), "t2");
}

TEST(MemLocksClusterTest, LeaderTransferDropsLocks) {
  MemLockCluster m;
  ASSERT_TRUE(m.Start());
  ASSERT_TRUE(m.c().Run([&] {
    LostLocksNeverCommitOverAnotherWrite(m, [&] {
      RegionDescription r = m.RegionOf("a");
      EXPECT_EQ(m.MemLocks("a"), 2u);
      ASSERT_TRUE(m.c().TransferLeader(r.id, m.OtherStore(r)).ok());
      EXPECT_EQ(m.MemLocks("a"), 0u);  // The new leader never had them.
    });
  }));
}

// The locks' old leader leads again (a later term) after another transaction wrote the
// key at the other leader: it must not believe the lock it kept in memory.
TEST(MemLocksClusterTest, LocksOfAnOldTermAreVoidWhenTheLeaderReturns) {
  MemLockCluster m;
  ASSERT_TRUE(m.Start());
  ASSERT_TRUE(m.c().Run([&] {
    auto w = m.Begin(TxnOptions());
    ASSERT_TRUE(w->Put("a", "0").ok());
    ASSERT_TRUE(w->Commit().ok());
    const RegionDescription r = m.RegionOf("a");
    const uint64_t home = r.leader_store;
    auto t = m.Begin(kPessimistic);
    ASSERT_TRUE(t->LockKeys({"a"}).ok());
    ASSERT_TRUE(m.c().TransferLeader(r.id, m.OtherStore(r)).ok());
    auto u = m.Begin(kPessimistic);
    ASSERT_TRUE(u->LockKeys({"a"}).ok());
    ASSERT_TRUE(u->Put("a", "u").ok());
    ASSERT_TRUE(u->Commit().ok());
    ASSERT_TRUE(m.c().TransferLeader(r.id, home).ok());
    ASSERT_EQ(m.RegionOf("a").leader_store, home);
    ASSERT_TRUE(t->Put("a", "t").ok());
    EXPECT_FALSE(t->Commit().ok()) << "t committed over u's write with a stale lock";
    EXPECT_EQ(m.Read("a"), "u");
    EXPECT_EQ(m.MemLocks("a"), 0u);
  }));
}

// Regions this store no longer leads keep nothing in its table: the old leader's locks go
// when leadership moves (TiKV clears a peer's in-memory locks when it stops leading), and
// the locks of a region's old epoch go when a split applies, not when next touched.
TEST(MemLocksClusterTest, StoresKeepNoLocksOfRegionsTheyNoLongerLead) {
  MemLockCluster m;
  ASSERT_TRUE(m.Start());
  ASSERT_TRUE(m.c().Run([&] {
    auto t = m.Begin(kPessimistic);
    ASSERT_TRUE(t->LockKeys({"a", "b"}).ok());
    const RegionDescription r = m.RegionOf("a");
    std::shared_ptr<txn::RegionTxnStore> home = m.StoreService(r.leader_store);
    ASSERT_NE(home, nullptr);
    EXPECT_EQ(home->TEST_mem_locks()->TEST_Count(r.id), 2u);
    ASSERT_TRUE(m.c().TransferLeader(r.id, m.OtherStore(r)).ok());
    EXPECT_EQ(home->TEST_mem_locks()->TEST_Count(r.id), 0u) << "the old leader kept the locks";
    ASSERT_TRUE(t->Rollback().ok());

    auto u = m.Begin(kPessimistic);
    ASSERT_TRUE(u->LockKeys({"a", "b"}).ok());
    const RegionDescription r2 = m.RegionOf("a");
    std::shared_ptr<txn::RegionTxnStore> leader = m.StoreService(r2.leader_store);
    ASSERT_NE(leader, nullptr);
    EXPECT_EQ(leader->TEST_mem_locks()->TEST_Count(r2.id), 2u);
    ASSERT_TRUE(m.c().SplitRegion(txn::EncodeKey("ab")).ok());
    EXPECT_EQ(leader->TEST_mem_locks()->TEST_Count(r2.id), 0u) << "locks of the old epoch kept";
    EXPECT_EQ(leader->TEST_mem_locks()->TEST_Count(m.RegionOf("b").id), 0u);
    ASSERT_TRUE(u->Rollback().ok());
    // No locks and no command in flight: the tables keep no entry (no tombstones of the
    // ended leaderships either).
    EXPECT_EQ(home->TEST_mem_locks()->TEST_Entries(), 0u);
    EXPECT_EQ(leader->TEST_mem_locks()->TEST_Entries(), 0u);
  }));
}

TEST(MemLocksClusterTest, SplitDropsLocks) {
  MemLockCluster m;
  ASSERT_TRUE(m.Start());
  ASSERT_TRUE(m.c().Run([&] {
    LostLocksNeverCommitOverAnotherWrite(m, [&] {
      EXPECT_EQ(m.MemLocks("a"), 2u);
      ASSERT_TRUE(m.c().SplitRegion(txn::EncodeKey("ab")).ok());
      EXPECT_NE(m.RegionOf("a").id, m.RegionOf("b").id);
    });
  }));
}

// With in-memory locks off, locks go through Raft and survive a leader transfer: the
// other transaction cannot take the key.
TEST(MemLocksClusterTest, OffLocksAreReplicated) {
  MemLockCluster m;
  ASSERT_TRUE(m.Start());
  ASSERT_TRUE(m.c().Run([&] {
    // Held: a store's service lives while someone holds it.
    std::vector<std::shared_ptr<txn::RegionTxnStore>> stores;
    for (uint64_t id : m.c().up_node_ids()) {
      stores.push_back(m.StoreService(id));
      ASSERT_NE(stores.back(), nullptr);
      stores.back()->set_in_memory_pessimistic_locks(false);
    }
    auto t = m.Begin(kPessimistic);
    ASSERT_TRUE(t->LockKeys({"a"}).ok());
    EXPECT_EQ(m.MemLocks("a"), 0u);
    RegionDescription r = m.RegionOf("a");
    ASSERT_TRUE(m.c().TransferLeader(r.id, m.OtherStore(r)).ok());
    auto u = m.Begin(kPessimistic);
    EXPECT_FALSE(u->LockKeys({"a"}).ok());
    ASSERT_TRUE(u->Rollback().ok());
    ASSERT_TRUE(t->Put("a", "t").ok());
    ASSERT_TRUE(t->Commit().ok());
    EXPECT_EQ(m.Read("a"), "t");
  }));
}

}  // namespace
}  // namespace rutile
