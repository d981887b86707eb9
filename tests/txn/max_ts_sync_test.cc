// max_ts sync (RegionTxnStore::SyncMaxTs, TiKV's max_ts_synced): an async-commit or 1PC
// prewrite computes its commit_ts from the store's max_ts, which must first cover every
// read that earlier leaders of the region served. The store asks PD for a timestamp once
// per (leader term, epoch version) of the region instead of once per prewrite, and again
// whenever either changes. Run over a fake RegionKv whose views name a chosen term.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "txn/region_store.h"
#include "txn/types.h"

namespace rutile::txn {
namespace {

class FakeView final : public RegionView {
 public:
  FakeView(storage::Engine* engine, uint64_t term, uint64_t version)
      : engine_(engine), term_(term), version_(version) {}
  storage::Engine* engine() const override { return engine_; }
  bool Contains(std::string_view) const override { return true; }
  absl::Status NotInRegion(std::string_view) const override {
    return absl::InternalError("not reached");
  }
  uint64_t leader_term() const override { return term_; }
  uint64_t epoch_version() const override { return version_; }

 private:
  storage::Engine* const engine_;
  const uint64_t term_;
  const uint64_t version_;
};

// One region led at a settable (term, version); PD's timestamps are settable and counted.
class FakeKv final : public RegionKv {
 public:
  absl::StatusOr<std::shared_ptr<RegionView>> Snapshot(const RegionContext&) override {
    return std::shared_ptr<RegionView>(std::make_shared<FakeView>(&engine_, term, version));
  }
  using RegionKv::Write;
  absl::Status Write(const RegionContext& ctx, const storage::WriteBatch& batch,
                     absl::FunctionRef<WriteOutcome()>) override {
    written_terms.push_back(ctx.term);
    return engine_.Write(batch, storage::WriteOptions());
  }
  absl::StatusOr<TimeStamp> GetTimestamp() override {
    ++tso_calls;
    if (on_timestamp) {
      std::function<void()> once = std::move(on_timestamp);
      on_timestamp = nullptr;
      once();
    }
    return next_ts;
  }

  uint64_t term = 5;
  uint64_t version = 1;
  TimeStamp next_ts = 100;
  int tso_calls = 0;
  std::vector<uint64_t> written_terms;  // RegionContext::term of every write.
  std::function<void()> on_timestamp;   // Runs inside the next PD call, once.

 private:
  storage::MemEngine engine_;
};

// An async-commit prewrite of `key` at start_ts; returns its min_commit_ts.
TimeStamp AsyncPrewrite(RegionTxnStore& store, const std::string& key, TimeStamp start_ts,
                        bool one_pc = false) {
  PrewriteRequest req;
  req.mutations.push_back(Mutation::Put(key, "v"));
  req.primary = key;
  req.start_ts = start_ts;
  req.lock_ttl = 3000;
  req.use_async_commit = !one_pc;
  req.try_one_pc = one_pc;
  req.min_commit_ts = start_ts + 1;
  req.max_commit_ts = start_ts + 1'000'000;
  absl::StatusOr<PrewriteResponse> r = store.Prewrite(RegionContext{1, 1, 1}, req);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return 0;
  EXPECT_FALSE(r->fell_back);
  return one_pc ? r->one_pc_commit_ts : r->min_commit_ts;
}

TEST(MaxTsSyncTest, OncePerTermAndEpochVersionAndAboveEarlierLeadersReads) {
  testing::Simulation sim(1);
  Env* env = sim.env();
  bool done = false;
  env->Spawn([&] {
    FakeKv kv;
    RegionTxnStore store(env, &kv, nullptr);
    // First async-commit prewrite of the term: one PD call, commit_ts above its answer
    // (reads the earlier leaders served were below it).
    kv.next_ts = 1'000;
    EXPECT_GT(AsyncPrewrite(store, "a", 10), 1'000u);
    EXPECT_EQ(kv.tso_calls, 1);
    // More in the same term and epoch: none. Reads here raised max_ts themselves.
    EXPECT_GT(AsyncPrewrite(store, "b", 20), 1'000u);
    EXPECT_GT(AsyncPrewrite(store, "c", 30, /*one_pc=*/true), 1'000u);
    EXPECT_EQ(kv.tso_calls, 1);
    // Another leader served reads up to 4,999 meanwhile; this store leads again, in a
    // later term: a new sync, and the commit_ts is above those reads.
    kv.term = 7;
    kv.next_ts = 5'000;
    EXPECT_GT(AsyncPrewrite(store, "d", 40), 5'000u);
    EXPECT_EQ(kv.tso_calls, 2);
    EXPECT_GT(AsyncPrewrite(store, "e", 50), 5'000u);
    EXPECT_EQ(kv.tso_calls, 2);
    // A merge brought keys whose reads another store served (new epoch version).
    kv.version = 2;
    kv.next_ts = 9'000;
    EXPECT_GT(AsyncPrewrite(store, "f", 60, /*one_pc=*/true), 9'000u);
    EXPECT_EQ(kv.tso_calls, 3);
    // A view of unknown term: a PD call every time.
    kv.term = 0;
    AsyncPrewrite(store, "g", 70);
    AsyncPrewrite(store, "h", 80);
    EXPECT_EQ(kv.tso_calls, 5);
    // Classic 2PC prewrites never ask.
    PrewriteRequest req;
    req.mutations.push_back(Mutation::Put("i", "v"));
    req.primary = "i";
    req.start_ts = 90;
    req.lock_ttl = 3000;
    kv.term = 7;
    EXPECT_TRUE(store.Prewrite(RegionContext{1, 1, 1}, req).ok());
    EXPECT_EQ(kv.tso_calls, 5);
    done = true;
  });
  ASSERT_TRUE(sim.RunUntil([&] { return done; }, 10'000'000));
}

// Every write names the leader term its command's view was read under, so that raftstore
// refuses it if that leadership ended in between (RaftKvTest covers the refusal).
TEST(MaxTsSyncTest, WritesNameTheTermTheirViewWasReadUnder) {
  testing::Simulation sim(2);
  Env* env = sim.env();
  bool done = false;
  env->Spawn([&] {
    FakeKv kv;
    RegionTxnStore store(env, &kv, nullptr);
    kv.term = 9;
    AsyncPrewrite(store, "a", 10);
    kv.term = 11;
    CommitRequest commit;
    commit.keys = {"a"};
    commit.start_ts = 10;
    commit.commit_ts = 2'000;
    EXPECT_TRUE(store.Commit(RegionContext{1, 1, 1}, commit).ok());
    EXPECT_EQ(kv.written_terms, (std::vector<uint64_t>{9, 11}));
    done = true;
  });
  ASSERT_TRUE(sim.RunUntil([&] { return done; }, 10'000'000));
}

// The PD call of a max_ts sync is made without the command's latches: another command on
// the same key runs to its end meanwhile. The prewrite then reads a new view and sees it.
TEST(MaxTsSyncTest, PdCallIsMadeWithoutTheLatches) {
  testing::Simulation sim(3);
  Env* env = sim.env();
  bool done = false;
  env->Spawn([&] {
    FakeKv kv;
    RegionTxnStore store(env, &kv, nullptr);
    bool other_done = false;
    kv.on_timestamp = [&] {
      env->Spawn([&] {
        // Another transaction's rollback of the same key needs its latch.
        RollbackRequest rb;
        rb.keys = {"k"};
        rb.start_ts = 5;
        EXPECT_TRUE(store.Rollback(RegionContext{1, 1, 1}, rb).ok());
        other_done = true;
      });
      // PD answers slowly.
      env->SleepForMicros(100'000);
      EXPECT_TRUE(other_done);
    };
    kv.next_ts = 1'000;
    EXPECT_GT(AsyncPrewrite(store, "k", 10), 1'000u);
    EXPECT_TRUE(other_done);
    EXPECT_EQ(kv.tso_calls, 1);
    done = true;
  });
  ASSERT_TRUE(sim.RunUntil([&] { return done; }, 10'000'000));
}

// A leadership's max_ts sync (and its in-memory lock table entry) is forgotten when
// raftstore reports its end, so regions this store no longer leads (or that were
// destroyed) leave nothing behind, and a store that leads again syncs again.
TEST(MaxTsSyncTest, EndedLeadershipsAreForgotten) {
  testing::Simulation sim(4);
  Env* env = sim.env();
  bool done = false;
  env->Spawn([&] {
    FakeKv kv;
    RegionTxnStore store(env, &kv, nullptr);
    AsyncPrewrite(store, "a", 10);
    EXPECT_EQ(store.TEST_MaxTsSyncedRegions(), 1u);
    // An older leadership's end changes nothing.
    store.LeadershipEnded(1, LeaderTag{4, 1});
    EXPECT_EQ(store.TEST_MaxTsSyncedRegions(), 1u);
    AsyncPrewrite(store, "b", 20);
    EXPECT_EQ(kv.tso_calls, 1);
    store.LeadershipEnded(1, LeaderTag{5, 1});
    EXPECT_EQ(store.TEST_MaxTsSyncedRegions(), 0u);
    // Nor does the in-memory lock table keep a tombstone of the ended leadership: no
    // command of the region is in flight.
    EXPECT_EQ(store.TEST_mem_locks()->TEST_Entries(), 0u);
    kv.term = 6;
    AsyncPrewrite(store, "c", 30);
    EXPECT_EQ(kv.tso_calls, 2);
    done = true;
  });
  ASSERT_TRUE(sim.RunUntil([&] { return done; }, 10'000'000));
}

}  // namespace
}  // namespace rutile::txn
