// A write command whose Raft write times out while the write may still apply
// (RegionKv::Write's DeadlineExceeded) keeps what it held — latches, the async-commit
// memory-lock guards, its in-memory pessimistic lock changes — until the write's outcome
// is known (RegionTxnStore::RunWrite, as TiKV's scheduler keeps latches until the
// proposal's callback). Under SimEnv with a RegionKv whose writes apply late: a
// conflicting command waits for the late write and sees it, never slips in between; a
// reader never misses an async-commit lock still being written; a write that turns out
// not to have applied frees the keys; latch waits are bounded; a store destroyed with a
// write pending is safe.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "storage/mem_engine.h"
#include "txn/errors.h"
#include "txn/region_store.h"
#include "txn/types.h"

namespace rutile::txn {
namespace {

// The region is the whole key space, led at term 1, version 1; reads see the engine live
// (commands read under their latches).
class LiveView final : public RegionView {
 public:
  explicit LiveView(storage::Engine* e) : e_(e) {}
  storage::Engine* engine() const override { return e_; }
  bool Contains(std::string_view) const override { return true; }
  absl::Status NotInRegion(std::string_view) const override { return absl::OkStatus(); }
  uint64_t leader_term() const override { return 1; }
  uint64_t epoch_version() const override { return 1; }

 private:
  storage::Engine* const e_;
};

// Writes apply at once unless one is armed to be late: it then applies (or is dropped,
// with `late_error`) `late_micros` after it was issued, while the caller gets
// DeadlineExceeded after `timeout_micros`, as RaftKv does when a commit is slow.
class LateKv final : public RegionKv {
 public:
  explicit LateKv(Env* env) : env_(env) {}

  absl::StatusOr<std::shared_ptr<RegionView>> Snapshot(const RegionContext&) override {
    return std::shared_ptr<RegionView>(std::make_shared<LiveView>(&engine_));
  }

  using RegionKv::Write;
  absl::Status Write(const RegionContext&, const storage::WriteBatch& batch,
                     absl::FunctionRef<WriteOutcome()> on_timeout) override {
    if (late_micros_ == 0) return engine_.Write(batch, storage::WriteOptions());
    const uint64_t late = late_micros_;
    late_micros_ = 0;
    auto st = std::make_shared<LateState>();
    env_->Schedule(late, [this, st, batch, err = late_error_] {
      absl::Status outcome = err;
      if (outcome.ok()) outcome = engine_.Write(batch, storage::WriteOptions());
      st->resolved = true;
      ++resolved_;
      if (st->fn) st->fn(outcome);
    });
    env_->SleepForMicros(timeout_micros_);
    if (!st->resolved) st->fn = on_timeout();
    return absl::DeadlineExceededError("write timed out; it may still apply");
  }

  absl::StatusOr<TimeStamp> GetTimestamp() override { return ++ts_; }

  // The next write resolves `after` micros from now: applied, or dropped with `error`.
  void ArmLate(uint64_t after, absl::Status error = absl::OkStatus()) {
    late_micros_ = after;
    late_error_ = std::move(error);
  }
  int resolved() const { return resolved_; }
  storage::MemEngine* engine() { return &engine_; }

  static constexpr uint64_t timeout_micros_ = 1'000'000;

 private:
  struct LateState {
    bool resolved = false;
    WriteOutcome fn;
  };
  Env* const env_;
  storage::MemEngine engine_;
  uint64_t late_micros_ = 0;
  absl::Status late_error_;
  int resolved_ = 0;
  TimeStamp ts_ = 1000;
};

const RegionContext kCtx{1, 1, 1};

PrewriteRequest Put(const std::string& key, const std::string& value, TimeStamp start_ts) {
  PrewriteRequest req;
  req.mutations.push_back(Mutation::Put(key, value));
  req.primary = key;
  req.start_ts = start_ts;
  req.lock_ttl = 3000;
  return req;
}

struct Fixture {
  SimEnv env{SimEnvOptions{.seed = 5}};
  LateKv kv{&env};
  DeadlockDetector detector;
  std::unique_ptr<RegionTxnStore> store = std::make_unique<RegionTxnStore>(&env, &kv, &detector);

  // Runs `fn` on a fiber until it returns.
  void Run(std::function<void()> fn) {
    bool done = false;
    env.Spawn([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(env.RunUntil([&] { return done; }, 60'000'000));
  }
  std::optional<TimeStamp> LockOf(const std::string& key) {
    std::optional<TimeStamp> out;
    Run([&] {
      ScanLockRequest req;
      req.max_ts = kMaxTs;
      auto locks = store->ScanLock(kCtx, req);
      ASSERT_TRUE(locks.ok()) << locks.status();
      for (const LockInfo& l : *locks) {
        if (l.key == key) out = l.lock_version;
      }
    });
    return out;
  }
};

// Prewrite 10 of "k" times out; its write applies 3 s after it was issued. Prewrite 20 of
// "k", issued after 10 returned, must wait for that write and then meet 10's lock; it must
// not read the key as unlocked, write its own lock and have it overwritten by the late one
// (both told they hold the key).
TEST(LateWriteTest, ConflictingCommandWaitsForTheLateWriteAndSeesIt) {
  Fixture f;
  f.Run([&] {
    f.kv.ArmLate(3'000'000);
    auto r10 = f.store->Prewrite(kCtx, Put("k", "v10", 10));
    ASSERT_TRUE(absl::IsDeadlineExceeded(r10.status())) << r10.status();
    EXPECT_EQ(f.store->TEST_PendingWrites(), 1u);
    EXPECT_EQ(f.kv.resolved(), 0);
    auto r20 = f.store->Prewrite(kCtx, Put("k", "v20", 20));
    EXPECT_EQ(f.kv.resolved(), 1) << "prewrite 20 ran before prewrite 10's write resolved";
    ASSERT_FALSE(r20.ok()) << "prewrite 20 succeeded although prewrite 10's lock landed";
    std::optional<KeyIsLocked> locked = GetTxnErrorAs<KeyIsLocked>(r20.status());
    ASSERT_TRUE(locked.has_value()) << r20.status();
    EXPECT_EQ(locked->locks.front().lock_version, 10u);
    EXPECT_EQ(f.store->TEST_PendingWrites(), 0u);
  });
  EXPECT_EQ(f.LockOf("k"), std::optional<TimeStamp>(10));
}

// The same with a rollback racing a late commit: the rollback (resolving a lock it thinks
// abandoned) must see the commit record and fail, not write a rollback over a commit.
TEST(LateWriteTest, RollbackDoesNotOvertakeALateCommit) {
  Fixture f;
  f.Run([&] {
    ASSERT_TRUE(f.store->Prewrite(kCtx, Put("k", "v", 10)).ok());
    f.kv.ArmLate(2'500'000);
    CommitRequest c;
    c.keys = {"k"};
    c.start_ts = 10;
    c.commit_ts = 11;
    absl::Status s = f.store->Commit(kCtx, c);
    ASSERT_TRUE(absl::IsDeadlineExceeded(s)) << s;
    RollbackRequest rb;
    rb.keys = {"k"};
    rb.start_ts = 10;
    s = f.store->Rollback(kCtx, rb);
    EXPECT_FALSE(s.ok()) << "rolled back a transaction whose commit was still applying";
    auto v = f.store->Get(kCtx, "k", 100, TxnReadOptions());
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, std::optional<std::string>("v"));
  });
}

// An async-commit prewrite times out: until its lock is in the engine, readers must still
// find it in the memory lock table, or a read above its min_commit_ts would miss a
// transaction that commits below the read.
TEST(LateWriteTest, ReaderSeesAnAsyncCommitLockStillBeingWritten) {
  Fixture f;
  f.Run([&] {
    PrewriteRequest req = Put("k", "v", 10);
    req.use_async_commit = true;
    f.kv.ArmLate(3'000'000);
    auto r = f.store->Prewrite(kCtx, req);
    ASSERT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
    auto v = f.store->Get(kCtx, "k", 5000, TxnReadOptions());
    EXPECT_FALSE(v.ok()) << "the read missed the async-commit lock being written";
    EXPECT_TRUE(GetTxnErrorAs<KeyIsLocked>(v.status()).has_value()) << v.status();
  });
}

// A late write that turns out not to have applied frees its keys; a command that waited
// for them proceeds on the old state.
TEST(LateWriteTest, DroppedWriteFreesItsKeys) {
  Fixture f;
  f.Run([&] {
    f.kv.ArmLate(2'000'000, absl::AbortedError("the proposal was dropped by Raft"));
    auto r10 = f.store->Prewrite(kCtx, Put("k", "v10", 10));
    ASSERT_TRUE(absl::IsDeadlineExceeded(r10.status())) << r10.status();
    auto r20 = f.store->Prewrite(kCtx, Put("k", "v20", 20));
    EXPECT_TRUE(r20.ok()) << r20.status();
    EXPECT_EQ(f.kv.resolved(), 1);
  });
  EXPECT_EQ(f.LockOf("k"), std::optional<TimeStamp>(20));
}

// Latch waits are bounded: a command behind a write that stays unresolved gives up with
// DeadlineExceeded and changes nothing; once the write resolves the keys are free.
TEST(LateWriteTest, LatchWaitIsBounded) {
  Fixture f;
  f.store->set_latch_wait_timeout(500'000);
  f.Run([&] {
    f.kv.ArmLate(10'000'000);
    ASSERT_TRUE(absl::IsDeadlineExceeded(f.store->Prewrite(kCtx, Put("k", "a", 10)).status()));
    auto r = f.store->Prewrite(kCtx, Put("k", "b", 20));
    EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
    EXPECT_EQ(f.kv.resolved(), 0);
    // Other keys are not held up (distinct slots in the store's 4096).
    EXPECT_TRUE(f.store->Prewrite(kCtx, Put("other", "c", 30)).ok());
    f.env.SleepForMicros(10'000'000);
    EXPECT_EQ(f.kv.resolved(), 1);
    EXPECT_EQ(f.store->TEST_PendingWrites(), 0u);
    // The abandoned place in the latch queue does not block later commands.
    RollbackRequest rb;
    rb.keys = {"k"};
    rb.start_ts = 10;
    EXPECT_TRUE(f.store->Rollback(kCtx, rb).ok());
    EXPECT_TRUE(f.store->Prewrite(kCtx, Put("k", "d", 40)).ok());
  });
  EXPECT_EQ(f.LockOf("k"), std::optional<TimeStamp>(40));
}

// The store goes away while a write is unresolved; the late outcome then arrives and must
// touch nothing of it (ASan checks).
TEST(LateWriteTest, StoreDestroyedWithAWritePending) {
  Fixture f;
  f.Run([&] {
    f.kv.ArmLate(2'000'000);
    ASSERT_TRUE(absl::IsDeadlineExceeded(f.store->Prewrite(kCtx, Put("k", "a", 10)).status()));
    f.store.reset();
    f.env.SleepForMicros(3'000'000);
    EXPECT_EQ(f.kv.resolved(), 1);
  });
}

}  // namespace
}  // namespace rutile::txn
