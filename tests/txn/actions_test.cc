// Percolator commands and their edge cases, in the style of TiKV's
// src/storage/txn/actions/*.rs tests: each test drives a MemEngine through TxnStorage with
// the must_* helpers and checks the lock and write CFs.

#include <string>

#include "gtest/gtest.h"
#include "rutile/env.h"
#include "txn/txn_test_util.h"
#include "util/failpoint.h"

namespace rutile::txn::testing {
namespace {

const std::string kLong(300, 'x');  // Longer than kShortValueMaxLen: lives in CF default.

// ---- Prewrite and commit ----

TEST(PrewriteTest, PutCommitGet) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  Lock l = must_locked(e, "k", 5);
  EXPECT_EQ(l.type, LockType::kPut);
  EXPECT_EQ(l.short_value, "v");
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_get_err(e, "k", 10)));
  must_get_none(e, "k", 4);  // A lock above the read ts does not block it.
  must_commit(e, "k", 5, 10);
  must_unlocked(e, "k");
  Write w = must_written(e, "k", 5, 10, WriteType::kPut);
  EXPECT_EQ(w.short_value, "v");
  must_get_none(e, "k", 9);
  must_get(e, "k", 10, "v");
  must_get(e, "k", 100, "v");
}

TEST(PrewriteTest, LongValueLivesInDefaultCf) {
  TestEngine e;
  must_prewrite_put(e, "k", kLong, "k", 5);
  EXPECT_FALSE(must_locked(e, "k", 5).short_value.has_value());
  must_commit(e, "k", 5, 10);
  EXPECT_FALSE(must_written(e, "k", 5, 10, WriteType::kPut).short_value.has_value());
  must_get(e, "k", 10, kLong);
  // Rolling back a long value removes it from CF default too.
  must_prewrite_put(e, "k", kLong + "y", "k", 15);
  must_rollback(e, "k", 15);
  auto v = e.engine.Get(storage::CF::kDefault, AppendTs(EncodeKey("k"), 15));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  must_get(e, "k", 20, kLong);
}

TEST(PrewriteTest, DeleteAndLockMutations) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_commit(e, "k", 5, 10);
  must_prewrite_lock(e, "k", "k", 15);
  must_commit(e, "k", 15, 20);
  must_written(e, "k", 15, 20, WriteType::kLock);
  must_get(e, "k", 25, "v");  // A Lock record is skipped.
  must_prewrite_delete(e, "k", "k", 25);
  must_commit(e, "k", 25, 30);
  must_get_none(e, "k", 30);
  must_get(e, "k", 29, "v");
}

TEST(PrewriteTest, PrewriteBehindNewerCommitIsWriteConflict) {
  TestEngine e;
  must_prewrite_put(e, "k", "v1", "k", 5);
  must_commit(e, "k", 5, 10);
  absl::Status s = must_prewrite_put_err(e, "k", "v2", "pk", 8);
  auto wc = GetTxnErrorAs<WriteConflict>(s);
  ASSERT_TRUE(wc.has_value()) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*wc, (WriteConflict{8, 5, 10, "k", "pk"}));
  must_unlocked(e, "k");
  // At or after the commit it is fine.
  must_prewrite_put(e, "k", "v2", "k", 10);
}

TEST(PrewriteTest, LockedByAnotherTxnReportsEveryLock) {
  TestEngine e;
  must_prewrite_put(e, "a", "1", "a", 5);
  must_prewrite_put(e, "b", "1", "a", 5);
  PrewriteRequest req;
  req.mutations = {Mutation::Put("a", "2"), Mutation::Put("b", "2"), Mutation::Put("c", "2")};
  req.primary = "a";
  req.start_ts = 7;
  auto r = e.store.Prewrite(req);
  ASSERT_FALSE(r.ok());
  auto kl = GetTxnErrorAs<KeyIsLocked>(r.status());
  ASSERT_TRUE(kl.has_value()) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(kl->locks.size(), 2u);
  EXPECT_EQ(kl->locks[0].key, "a");
  EXPECT_EQ(kl->locks[1].key, "b");
  EXPECT_EQ(kl->locks[0].lock_version, 5u);
  EXPECT_EQ(kl->locks[0].primary, "a");
  must_unlocked(e, "c");  // Nothing of a failed prewrite is written.
}

TEST(PrewriteTest, DuplicatedPrewriteIsIdempotent) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_prewrite_put(e, "k", "v", "k", 5);
  must_locked(e, "k", 5);
  must_commit(e, "k", 5, 10);
  // A prewrite retried after the commit changes nothing.
  must_prewrite_put(e, "k", "v", "k", 5);
  must_unlocked(e, "k");
  must_get(e, "k", 10, "v");
}

TEST(PrewriteTest, InsertRequiresAbsence) {
  TestEngine e;
  auto insert = [&](std::string_view k, TimeStamp ts) {
    return e.store.Prewrite(OptimisticReq(Mutation::Insert(std::string(k), "v"), k, ts));
  };
  ASSERT_TRUE(insert("k", 5).ok());
  must_commit(e, "k", 5, 10);
  EXPECT_TRUE(IsErr<AlreadyExist>(must_prewrite_insert_err(e, "k", "v", "k", 15)));
  // A Lock and a Rollback record above the Put do not hide it.
  must_prewrite_lock(e, "k", "k", 15);
  must_commit(e, "k", 15, 20);
  must_rollback(e, "k", 25);
  EXPECT_TRUE(IsErr<AlreadyExist>(must_prewrite_insert_err(e, "k", "v", "k", 30)));
  // After a delete it is allowed again.
  must_prewrite_delete(e, "k", "k", 30);
  must_commit(e, "k", 30, 35);
  EXPECT_TRUE(insert("k", 40).ok());
  // CheckNotExists writes nothing.
  auto r = e.store.Prewrite(OptimisticReq(Mutation::CheckNotExists("z"), "z", 50));
  ASSERT_TRUE(r.ok()) << r.status();
  must_unlocked(e, "z");
  r = e.store.Prewrite(OptimisticReq(Mutation::CheckNotExists("k"), "k", 50));
  EXPECT_TRUE(IsErr<KeyIsLocked>(r.status())) << r.status();
}

// ---- Commit edge cases ----

TEST(CommitTest, CommitOfRolledBackTxnFails) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_rollback(e, "k", 5);
  must_unlocked(e, "k");
  must_get_rollback_ts(e, "k", 5);
  absl::Status s = must_commit_err(e, "k", 5, 10);
  auto nf = GetTxnErrorAs<TxnLockNotFound>(s);
  ASSERT_TRUE(nf.has_value()) << s;
  EXPECT_EQ(*nf, (TxnLockNotFound{5, 10, "k"}));
  must_get_none(e, "k", 20);
}

TEST(CommitTest, CommitWithoutPrewriteFails) {
  TestEngine e;
  EXPECT_TRUE(IsErr<TxnLockNotFound>(must_commit_err(e, "k", 5, 10)));
  // Another transaction's lock is not ours to commit.
  must_prewrite_put(e, "k", "v", "k", 6);
  EXPECT_TRUE(IsErr<TxnLockNotFound>(must_commit_err(e, "k", 5, 10)));
  must_locked(e, "k", 6);
}

TEST(CommitTest, DuplicatedCommitIsIdempotent) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_commit(e, "k", 5, 10);
  must_commit(e, "k", 5, 10);
  // Even with another commit_ts: the transaction is committed, nothing is rewritten.
  must_commit(e, "k", 5, 11);
  must_not_written(e, "k", 11);
}

TEST(CommitTest, CommitTsMustBeAboveStartTs) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  absl::Status s = e.store.Commit({{"k"}, 5, 5});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  must_locked(e, "k", 5);
}

// ---- Rollback and cleanup ----

TEST(RollbackTest, PrewriteAfterRollbackIsRejected) {
  TestEngine e;
  // The rollback arrives first (e.g. the lock resolver gave up on a slow prewrite).
  must_rollback(e, "k", 5);
  must_get_rollback_protected(e, "k", 5, false);
  EXPECT_TRUE(IsErr<WriteConflict>(must_prewrite_put_err(e, "k", "v", "k", 5)));
  must_unlocked(e, "k");
}

TEST(RollbackTest, RollbackOfCommittedTxnFails) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_commit(e, "k", 5, 10);
  absl::Status s = must_rollback_err(e, "k", 5);
  auto c = GetTxnErrorAs<Committed>(s);
  ASSERT_TRUE(c.has_value()) << s;
  EXPECT_EQ(c->commit_ts, 10u);
  must_get(e, "k", 10, "v");
}

TEST(RollbackTest, RollbackIsIdempotentAndCollapses) {
  TestEngine e;
  must_rollback(e, "k", 5);
  must_rollback(e, "k", 5);
  must_get_rollback_ts(e, "k", 5);
  // A newer unprotected rollback collapses the older one.
  must_rollback(e, "k", 7);
  must_get_rollback_ts(e, "k", 7);
  must_not_written(e, "k", 5);
  // A protected rollback (cleanup of a missing lock) is kept.
  must_cleanup(e, "k", 9, 0);
  must_get_rollback_protected(e, "k", 9, true);
  must_rollback(e, "k", 11);
  must_get_rollback_protected(e, "k", 9, true);
  must_get_rollback_ts(e, "k", 11);
}

TEST(CleanupTest, RespectsTtlWithCurrentTs) {
  TestEngine e;
  PrewriteRequest req = OptimisticReq(Mutation::Put("k", "v"), "k", ComposeTs(100, 0));
  req.lock_ttl = 50;
  must_prewrite(e, req);
  absl::Status s = must_cleanup_err(e, "k", ComposeTs(100, 0), ComposeTs(140, 0));
  EXPECT_TRUE(IsErr<KeyIsLocked>(s)) << s;
  must_locked(e, "k", ComposeTs(100, 0));
  must_cleanup(e, "k", ComposeTs(100, 0), ComposeTs(151, 0));
  must_unlocked(e, "k");
  must_get_rollback_ts(e, "k", ComposeTs(100, 0));
  // current_ts 0 rolls back a live lock.
  req.start_ts = ComposeTs(200, 0);
  must_prewrite(e, req);
  must_cleanup(e, "k", ComposeTs(200, 0), 0);
  must_unlocked(e, "k");
}

// ---- check_txn_status ----

TEST(CheckTxnStatusTest, TtlExpiryRollsBack) {
  TestEngine e;
  const TimeStamp ts = ComposeTs(100, 0);
  PrewriteRequest req = OptimisticReq(Mutation::Put("pk", "v"), "pk", ts);
  req.lock_ttl = 100;
  must_prewrite(e, req);
  TxnStatus st = must_check_txn_status(e, "pk", ts, 0, ComposeTs(150, 0), false,
                                       TxnStatus::Kind::kUncommitted);
  ASSERT_TRUE(st.lock.has_value());
  EXPECT_EQ(st.lock->ttl, 100u);
  must_locked(e, "pk", ts);
  must_check_txn_status(e, "pk", ts, 0, ComposeTs(201, 0), false, TxnStatus::Kind::kTtlExpire);
  must_unlocked(e, "pk");
  must_get_rollback_ts(e, "pk", ts);
  must_check_txn_status(e, "pk", ts, 0, ComposeTs(300, 0), false, TxnStatus::Kind::kRolledBack);
  EXPECT_TRUE(IsErr<TxnLockNotFound>(must_commit_err(e, "pk", ts, ComposeTs(301, 0))));
}

TEST(CheckTxnStatusTest, MissingLock) {
  TestEngine e;
  CheckTxnStatusRequest req;
  req.primary_key = "pk";
  req.lock_ts = 5;
  req.current_ts = 10;
  auto r = e.store.CheckTxnStatus(req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsErr<TxnNotFound>(r.status())) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  must_not_written(e, "pk", 5);
  // rollback_if_not_exist writes a protected rollback: a late prewrite fails.
  must_check_txn_status(e, "pk", 5, 0, 10, true, TxnStatus::Kind::kLockNotExist);
  must_get_rollback_protected(e, "pk", 5, true);
  EXPECT_TRUE(IsErr<WriteConflict>(must_prewrite_put_err(e, "pk", "v", "pk", 5)));
  // Committed transactions report their commit_ts.
  must_prewrite_put(e, "pk", "v", "pk", 20);
  must_commit(e, "pk", 20, 25);
  TxnStatus st = must_check_txn_status(e, "pk", 20, 0, 30, true, TxnStatus::Kind::kCommitted);
  EXPECT_EQ(st.commit_ts, 25u);
}

TEST(CheckTxnStatusTest, PushesMinCommitTs) {
  TestEngine e;
  const TimeStamp ts = ComposeTs(100, 0);
  PrewriteRequest req = OptimisticReq(Mutation::Put("pk", "v"), "pk", ts);
  req.lock_ttl = 1000;
  req.min_commit_ts = ts + 1;
  must_prewrite(e, req);
  const TimeStamp caller = ComposeTs(120, 5);
  TxnStatus st = must_check_txn_status(e, "pk", ts, caller, ComposeTs(110, 0), false,
                                       TxnStatus::Kind::kUncommitted);
  EXPECT_TRUE(st.min_commit_ts_pushed);
  EXPECT_EQ(must_locked(e, "pk", ts).min_commit_ts, caller + 1);
  EXPECT_GE(e.cm.max_ts(), caller);
  // The reader at caller now ignores the lock.
  must_get_none(e, "pk", caller);
  // Committing below the pushed min_commit_ts is refused.
  absl::Status s = must_commit_err(e, "pk", ts, caller);
  auto ex = GetTxnErrorAs<CommitTsExpired>(s);
  ASSERT_TRUE(ex.has_value()) << s;
  EXPECT_EQ(ex->min_commit_ts, caller + 1);
  must_commit(e, "pk", ts, caller + 1);
  // A lock with min_commit_ts 0 is never pushed.
  PrewriteRequest req2 = OptimisticReq(Mutation::Put("pk2", "v"), "pk2", ts);
  req2.lock_ttl = 1000;
  must_prewrite(e, req2);
  st = must_check_txn_status(e, "pk2", ts, caller, ComposeTs(110, 0), false,
                             TxnStatus::Kind::kUncommitted);
  EXPECT_FALSE(st.min_commit_ts_pushed);
  EXPECT_EQ(must_locked(e, "pk2", ts).min_commit_ts, 0u);
}

TEST(TxnHeartBeatTest, ExtendsTtl) {
  TestEngine e;
  PrewriteRequest req = OptimisticReq(Mutation::Put("pk", "v"), "pk", 5);
  req.lock_ttl = 100;
  must_prewrite(e, req);
  auto r = e.store.TxnHeartBeat({"pk", 5, 300});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 300u);
  r = e.store.TxnHeartBeat({"pk", 5, 200});  // Never shortens.
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 300u);
  EXPECT_EQ(must_locked(e, "pk", 5).ttl, 300u);
  r = e.store.TxnHeartBeat({"pk", 6, 200});
  EXPECT_TRUE(IsErr<TxnNotFound>(r.status())) << r.status();
}

// ---- Async commit and 1PC ----

TEST(AsyncCommitTest, MinCommitTsAboveMaxTs) {
  TestEngine e;
  e.cm.UpdateMaxTs(42);
  PrewriteRequest req;
  req.mutations = {Mutation::Put("k1", "v1"), Mutation::Put("k2", "v2")};
  req.primary = "k1";
  req.start_ts = 10;
  req.use_async_commit = true;
  req.secondaries = {"k2"};
  req.max_commit_ts = 50;
  req.lock_ttl = 1000;
  PrewriteResponse resp = must_prewrite(e, req);
  EXPECT_EQ(resp.min_commit_ts, 43u);
  EXPECT_FALSE(resp.fell_back);
  Lock p = must_locked(e, "k1", 10);
  EXPECT_TRUE(p.use_async_commit);
  EXPECT_EQ(p.secondaries, std::vector<std::string>{"k2"});
  EXPECT_EQ(p.min_commit_ts, 43u);
  Lock s = must_locked(e, "k2", 10);
  EXPECT_TRUE(s.use_async_commit);
  EXPECT_TRUE(s.secondaries.empty());
  // Readers at or below max_ts are not blocked: the transaction commits above them.
  must_get_none(e, "k1", 42);
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_get_err(e, "k1", 43)));
  EXPECT_EQ(e.cm.TEST_LockedKeys(), 0u);  // Memory locks are gone once written.
  // A retried prewrite reports the same min_commit_ts.
  e.cm.UpdateMaxTs(45);
  EXPECT_EQ(must_prewrite(e, req).min_commit_ts, 43u);
  EXPECT_TRUE(IsErr<CommitTsExpired>(must_commit_err(e, "k1", 10, 42)));
  must_commit(e, "k1", 10, 43);
  must_commit(e, "k2", 10, 43);
  must_get(e, "k2", 43, "v2");
}

TEST(AsyncCommitTest, TooLargeCommitTsFallsBackTo2pc) {
  TestEngine e;
  e.cm.UpdateMaxTs(60);
  PrewriteRequest req;
  req.mutations = {Mutation::Put("k1", "v1"), Mutation::Put("k2", "v2")};
  req.primary = "k1";
  req.start_ts = 10;
  req.use_async_commit = true;
  req.secondaries = {"k2"};
  req.max_commit_ts = 50;
  PrewriteResponse resp = must_prewrite(e, req);
  EXPECT_TRUE(resp.fell_back);
  EXPECT_EQ(resp.min_commit_ts, 0u);
  EXPECT_FALSE(must_locked(e, "k1", 10).use_async_commit);
  EXPECT_FALSE(must_locked(e, "k2", 10).use_async_commit);
}

TEST(AsyncCommitTest, AsyncLockIsNotRolledBackByTtl) {
  TestEngine e;
  PrewriteRequest req = OptimisticReq(Mutation::Put("pk", "v"), "pk", ComposeTs(100, 0));
  req.use_async_commit = true;
  req.lock_ttl = 10;
  must_prewrite(e, req);
  must_check_txn_status(e, "pk", ComposeTs(100, 0), 0, ComposeTs(500, 0), false,
                        TxnStatus::Kind::kUncommitted);
  must_locked(e, "pk", ComposeTs(100, 0));
  // force_sync_commit treats it as a normal lock.
  CheckTxnStatusRequest c;
  c.primary_key = "pk";
  c.lock_ts = ComposeTs(100, 0);
  c.current_ts = ComposeTs(500, 0);
  c.force_sync_commit = true;
  auto r = e.store.CheckTxnStatus(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, TxnStatus::Kind::kTtlExpire);
}

TEST(AsyncCommitTest, MemoryLockBlocksReadersUntilWritten) {
  TestEngine e;
  KeyHandleGuard g = e.cm.LockKey(EncodeKey("k"));
  Lock l;
  l.type = LockType::kPut;
  l.primary = "k";
  l.start_ts = 10;
  l.min_commit_ts = 20;
  l.use_async_commit = true;
  g.SetLock(l);
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_get_err(e, "k", 25)));
  must_get_none(e, "k", 15);  // min_commit_ts above the read.
  EXPECT_EQ(e.cm.max_ts(), 25u);
  ScanOptions so;
  so.ts = 30;
  EXPECT_TRUE(IsErr<KeyIsLocked>(e.store.Scan(so).status()));
  EXPECT_EQ(e.cm.GlobalMinLockTs(), std::optional<TimeStamp>(10));
  g = KeyHandleGuard();
  must_get_none(e, "k", 25);
  EXPECT_EQ(e.cm.GlobalMinLockTs(), std::nullopt);
}

// The max_ts race: a reader at 100 raises max_ts and checks the memory lock table while an
// async-commit prewrite (start_ts 10) holds its key in the table but has not published the
// lock yet. The prewrite used to read max_ts before that point (so it still saw 1) and
// publish min_commit_ts 11 after the reader had found nothing: the read at 100 missed a
// transaction committing at 11. Now max_ts is read in the same mutex hold that publishes
// the lock, so the reader either sees the lock or the commit lands above 100.
TEST(AsyncCommitTest, ReaderBetweenLockKeyAndPublishIsNotMissed) {
  if (!failpoint::CompiledIn()) GTEST_SKIP() << "failpoints compiled out";
  SimEnv sim(SimEnvOptions{.seed = 1});
  failpoint::SetEnv(&sim);
  TestEngine e;
  failpoint::ScopedFailPoint fp("async_commit_before_memory_lock", "pause");
  ASSERT_TRUE(fp.ok());
  PrewriteRequest req = OptimisticReq(Mutation::Put("k", "v"), "k", 10);
  req.use_async_commit = true;
  req.secondaries = {};
  absl::StatusOr<PrewriteResponse> prewrite = absl::UnknownError("not run");
  absl::StatusOr<std::optional<std::string>> read = absl::UnknownError("not run");
  sim.Spawn([&] { prewrite = e.store.Prewrite(req); });
  sim.Spawn([&] {
    while (failpoint::Evaluations("async_commit_before_memory_lock") == 0) sim.SleepForMicros(10);
    read = e.store.Get("k", 100, TxnReadOptions());
    failpoint::Remove("async_commit_before_memory_lock");
  });
  sim.RunUntilIdle();
  failpoint::SetEnv(nullptr);
  ASSERT_TRUE(prewrite.ok()) << prewrite.status();
  if (read.ok()) {
    EXPECT_EQ(*read, std::nullopt);
    // The read saw no lock: the transaction must commit above it.
    EXPECT_GT(prewrite->min_commit_ts, 100u);
  } else {
    EXPECT_TRUE(IsErr<KeyIsLocked>(read.status())) << read.status();
  }
  Lock l = must_locked(e, "k", 10);
  EXPECT_EQ(l.min_commit_ts, prewrite->min_commit_ts);
}

TEST(OnePcTest, CommitsInOnePhase) {
  TestEngine e;
  e.cm.UpdateMaxTs(30);
  PrewriteRequest req;
  req.mutations = {Mutation::Put("a", "1"), Mutation::Put("b", kLong), Mutation::Delete("c")};
  req.primary = "a";
  req.start_ts = 10;
  req.try_one_pc = true;
  PrewriteResponse resp = must_prewrite(e, req);
  EXPECT_EQ(resp.one_pc_commit_ts, 31u);
  EXPECT_EQ(resp.min_commit_ts, 0u);
  must_unlocked(e, "a");
  must_unlocked(e, "b");
  must_written(e, "a", 10, 31, WriteType::kPut);
  must_written(e, "c", 10, 31, WriteType::kDelete);
  must_get(e, "a", 31, "1");
  must_get(e, "b", 31, kLong);
  must_get_none(e, "a", 30);
  // Retrying the prewrite changes nothing.
  must_prewrite(e, req);
  must_unlocked(e, "a");
}

// The SQL layer's deferred duplicate check (an autocommit INSERT's rows as Insert
// mutations): an existing key fails the whole prewrite with AlreadyExist naming it, in one
// phase or two, and none of the other keys is written or locked.
TEST(OnePcTest, InsertOfExistingKeyWritesNothing) {
  for (bool one_pc : {true, false}) {
    SCOPED_TRACE(one_pc ? "1pc" : "2pc");
    TestEngine e;
    must_prewrite_put(e, "b", "old", "b", 5);
    must_commit(e, "b", 5, 6);
    PrewriteRequest req;
    req.mutations = {Mutation::Insert("a", "1"), Mutation::Insert("b", "2"),
                     Mutation::Put("c", "3")};
    req.primary = "a";
    req.start_ts = 10;
    req.try_one_pc = one_pc;
    auto r = e.store.Prewrite(req);
    ASSERT_FALSE(r.ok());
    std::optional<AlreadyExist> ae = GetTxnErrorAs<AlreadyExist>(r.status());
    ASSERT_TRUE(ae.has_value()) << r.status();
    EXPECT_EQ(ae->key, "b");
    for (const char* k : {"a", "b", "c"}) must_unlocked(e, k);
    must_get_none(e, "a", 100);
    must_get_none(e, "c", 100);
    must_get(e, "b", 100, "old");
    // Without the existing key the same inserts commit.
    req.mutations = {Mutation::Insert("a", "1"), Mutation::Put("c", "3")};
    PrewriteResponse resp = must_prewrite(e, req);
    if (one_pc) {
      EXPECT_GT(resp.one_pc_commit_ts, 10u);
      must_get(e, "a", resp.one_pc_commit_ts, "1");
    } else {
      must_locked(e, "a", 10);
      must_commit(e, "a", 10, 20);
      must_get(e, "a", 20, "1");
    }
  }
}

TEST(OnePcTest, FallsBackWhenMaxCommitTsTooSmall) {
  TestEngine e;
  e.cm.UpdateMaxTs(30);
  PrewriteRequest req = OptimisticReq(Mutation::Put("a", "1"), "a", 10);
  req.try_one_pc = true;
  req.max_commit_ts = 20;
  PrewriteResponse resp = must_prewrite(e, req);
  EXPECT_TRUE(resp.fell_back);
  EXPECT_EQ(resp.one_pc_commit_ts, 0u);
  must_locked(e, "a", 10);
}

TEST(OnePcTest, PessimisticOnePcRemovesLock) {
  TestEngine e;
  must_acquire_pessimistic_lock(e, "k", "k", 10, 12);
  PrewriteRequest req = OptimisticReq(Mutation::Put("k", "v"), "k", 10);
  req.for_update_ts = 12;
  req.is_pessimistic_lock = {true};
  req.try_one_pc = true;
  PrewriteResponse resp = must_prewrite(e, req);
  EXPECT_GT(resp.one_pc_commit_ts, 12u);
  must_unlocked(e, "k");
  must_get(e, "k", resp.one_pc_commit_ts, "v");
}

// ---- Overlapped rollbacks (async commit's calculated commit_ts) ----

TEST(OverlappedRollbackTest, RollbackAtAnotherTxnsCommitTs) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 10);
  must_commit(e, "k", 10, 20);
  // Transaction 20 is rolled back on k, where txn 10 committed at exactly 20.
  must_cleanup(e, "k", 20, 0);
  must_get_overlapped_rollback(e, "k", 20, 10, WriteType::kPut, 0);
  must_get(e, "k", 25, "v");  // The data record still reads.
  must_get_rollback_ts(e, "k", 20);
  EXPECT_TRUE(IsErr<WriteConflict>(must_prewrite_put_err(e, "k", "x", "k", 20)));
}

TEST(OverlappedRollbackTest, CommitOverProtectedRollbackKeepsIt) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 10);
  must_cleanup(e, "k", 20, 0);  // Protected rollback of txn 20 (lock of txn 10 is there).
  must_get_rollback_protected(e, "k", 20, true);
  must_commit(e, "k", 10, 20);
  Write w = must_written(e, "k", 10, 20, WriteType::kPut);
  EXPECT_TRUE(w.has_overlapped_rollback);
  must_get_rollback_ts(e, "k", 20);
  must_get_commit_ts(e, "k", 10, 20);
}

TEST(OverlappedRollbackTest, RollbackMarkedOnAsyncLock) {
  TestEngine e;
  PrewriteRequest req = OptimisticReq(Mutation::Put("k", "v"), "k", 10);
  req.use_async_commit = true;
  PrewriteResponse resp = must_prewrite(e, req);
  const TimeStamp t = resp.min_commit_ts + 5;
  // A protected rollback at t on the key that the async lock might commit at.
  must_check_txn_status(e, "k", t, 0, 0, true, TxnStatus::Kind::kLockNotExist);
  Lock l = must_locked(e, "k", 10);
  EXPECT_EQ(l.rollback_ts, std::vector<TimeStamp>{t});
  must_commit(e, "k", 10, t);
  EXPECT_TRUE(must_written(e, "k", 10, t, WriteType::kPut).has_overlapped_rollback);
}

// ---- Pessimistic transactions ----

TEST(PessimisticTest, LockThenPrewriteThenCommit) {
  TestEngine e;
  must_prewrite_put(e, "k", "v0", "k", 2);
  must_commit(e, "k", 2, 3);
  must_acquire_pessimistic_lock(e, "k", "k", 5, 8);
  must_pessimistic_locked(e, "k", 5, 8);
  // Pessimistic locks do not block readers.
  must_get(e, "k", 10, "v0");
  // They block other writers.
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_prewrite_put_err(e, "k", "x", "k", 9)));
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_acquire_pessimistic_lock_err(e, "k", "k", 9, 9)));
  // Re-acquiring with a larger for_update_ts updates the lock; a smaller one is a no-op.
  must_acquire_pessimistic_lock(e, "k", "k", 5, 9);
  must_pessimistic_locked(e, "k", 5, 9);
  must_acquire_pessimistic_lock(e, "k", "k", 5, 7);
  must_pessimistic_locked(e, "k", 5, 9);
  must_pessimistic_prewrite_put(e, "k", "v1", "k", 5, 9, true);
  Lock l = must_locked(e, "k", 5);
  EXPECT_EQ(l.type, LockType::kPut);
  EXPECT_EQ(l.for_update_ts, 9u);
  // A duplicated pessimistic prewrite is fine.
  must_pessimistic_prewrite_put(e, "k", "v1", "k", 5, 9, true);
  must_commit(e, "k", 5, 12);
  must_get(e, "k", 12, "v1");
  // Retried after commit: still fine, nothing changes.
  must_pessimistic_prewrite_put(e, "k", "v1", "k", 5, 9, true);
  must_unlocked(e, "k");
}

TEST(PessimisticTest, ConflictsAndRolledBack) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 10);
  must_commit(e, "k", 10, 20);
  // A commit newer than for_update_ts: read again with a newer for_update_ts.
  absl::Status s = must_acquire_pessimistic_lock_err(e, "k", "k", 15, 15);
  auto wc = GetTxnErrorAs<WriteConflict>(s);
  ASSERT_TRUE(wc.has_value()) << s;
  EXPECT_EQ(wc->conflict_commit_ts, 20u);
  must_acquire_pessimistic_lock(e, "k", "k", 15, 20);
  // Rolled back (pessimistic primary: protected), a stale lock request fails.
  must_rollback(e, "k", 15);
  must_unlocked(e, "k");
  EXPECT_TRUE(
      IsErr<PessimisticLockRolledBack>(must_acquire_pessimistic_lock_err(e, "k", "k", 15, 25)));
  // The rollback may hide below newer commits.
  must_prewrite_put(e, "k", "v2", "k", 30);
  must_commit(e, "k", 30, 35);
  EXPECT_TRUE(
      IsErr<PessimisticLockRolledBack>(must_acquire_pessimistic_lock_err(e, "k", "k", 15, 40)));
}

// A locking read (SELECT ... FOR UPDATE) as the client runs it: the lock at start_ts meets
// a newer commit, the client locks again at a fresh for_update_ts and gets the latest
// value; locking again higher raises the lock's for_update_ts and reads at it; the
// prewrite carries the highest for_update_ts, and an async-commit prewrite computes a
// min_commit_ts above it.
TEST(PessimisticTest, LockingReadAtAFreshForUpdateTs) {
  TestEngine e;
  must_prewrite_put(e, "k", "v20", "k", 18);
  must_commit(e, "k", 18, 20);
  auto r = try_acquire_pessimistic_lock(e, "k", "k", 15, 15, false, /*return_values=*/true);
  auto wc = GetTxnErrorAs<WriteConflict>(r.status());
  ASSERT_TRUE(wc.has_value()) << r.status();
  EXPECT_EQ(wc->conflict_commit_ts, 20u);
  must_unlocked(e, "k");
  r = try_acquire_pessimistic_lock(e, "k", "k", 15, 25, false, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->values.at(0), std::optional<std::string>("v20"));
  must_pessimistic_locked(e, "k", 15, 25);
  EXPECT_GE(e.cm.max_ts(), 25u);
  // Our own lock held: relocking higher raises for_update_ts; lower leaves it.
  r = try_acquire_pessimistic_lock(e, "k", "k", 15, 30, false, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->values.at(0), std::optional<std::string>("v20"));
  must_pessimistic_locked(e, "k", 15, 30);
  must_acquire_pessimistic_lock(e, "k", "k", 15, 26);
  must_pessimistic_locked(e, "k", 15, 30);
  // Others cannot write below our lock.
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_prewrite_put_err(e, "k", "x", "k", 31)));
  // Async-commit pessimistic prewrite: min_commit_ts above for_update_ts.
  PrewriteRequest req = OptimisticReq(Mutation::Put("k", "v15"), "k", 15);
  req.for_update_ts = 30;
  req.is_pessimistic_lock = {true};
  req.use_async_commit = true;
  req.min_commit_ts = 16;
  PrewriteResponse pr = must_prewrite(e, req);
  EXPECT_GT(pr.min_commit_ts, 30u);
  Lock l = must_locked(e, "k", 15);
  EXPECT_EQ(l.for_update_ts, 30u);
  EXPECT_TRUE(l.use_async_commit);
  must_commit(e, "k", 15, pr.min_commit_ts);
  must_written(e, "k", 15, pr.min_commit_ts, WriteType::kPut);
  must_get(e, "k", pr.min_commit_ts, "v15");
  must_get(e, "k", 29, "v20");
}

TEST(PessimisticTest, PrewriteWithoutItsLock) {
  TestEngine e;
  // Never locked, nothing committed since: the lock is amended.
  must_pessimistic_prewrite_put(e, "a", "v", "a", 10, 10, true);
  must_locked(e, "a", 10);
  // Never locked and a commit since start_ts: PessimisticLockNotFound.
  must_prewrite_put(e, "b", "v", "b", 12);
  must_commit(e, "b", 12, 14);
  auto r = try_pessimistic_prewrite_put(e, "b", "v2", "b", 10, 15, true);
  EXPECT_TRUE(IsErr<PessimisticLockNotFound>(r.status())) << r.status();
  // Another transaction's lock where ours was expected.
  must_prewrite_put(e, "c", "v", "c", 20);
  r = try_pessimistic_prewrite_put(e, "c", "v2", "c", 10, 15, true);
  EXPECT_TRUE(IsErr<PessimisticLockNotFound>(r.status())) << r.status();
  // An optimistic prewrite meeting our own pessimistic lock is a protocol error.
  must_acquire_pessimistic_lock(e, "d", "d", 30, 30);
  absl::Status s = must_prewrite_put_err(e, "d", "v", "d", 30);
  EXPECT_TRUE(IsErr<LockTypeNotMatch>(s)) << s;
}

TEST(PessimisticTest, NonLockedKeysCheckNewerWritesAgainstForUpdateTs) {
  TestEngine e;
  must_prewrite_put(e, "i", "v", "i", 12);
  must_commit(e, "i", 12, 14);
  must_pessimistic_prewrite_put(e, "i", "x", "k", 10, 15, false);  // 14 <= 15: fine.
  must_rollback(e, "i", 10);
  must_prewrite_put(e, "i", "v", "i", 16);
  must_commit(e, "i", 16, 18);
  auto r = try_pessimistic_prewrite_put(e, "i", "x", "k", 11, 15, false);
  EXPECT_TRUE(IsErr<WriteConflict>(r.status())) << r.status();
}

TEST(PessimisticTest, ShouldNotExistAndReturnValues) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_commit(e, "k", 5, 6);
  auto r = try_acquire_pessimistic_lock(e, "k", "k", 10, 10, /*should_not_exist=*/true);
  EXPECT_TRUE(IsErr<AlreadyExist>(r.status())) << r.status();
  must_unlocked(e, "k");
  r = try_acquire_pessimistic_lock(e, "k", "k", 10, 10, false, /*return_values=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->values.size(), 1u);
  EXPECT_EQ(r->values[0], std::optional<std::string>("v"));
  EXPECT_GE(e.cm.max_ts(), 10u);
  r = try_acquire_pessimistic_lock(e, "none", "k", 10, 10, true, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->values[0], std::nullopt);
}

TEST(PessimisticTest, PessimisticRollbackMatchesForUpdateTs) {
  TestEngine e;
  must_acquire_pessimistic_lock(e, "k", "k", 10, 12);
  must_pessimistic_rollback(e, "k", 10, 11);  // Older request: lock stays.
  must_pessimistic_locked(e, "k", 10, 12);
  must_pessimistic_rollback(e, "k", 9, 20);  // Other transaction: lock stays.
  must_pessimistic_locked(e, "k", 10, 12);
  must_pessimistic_rollback(e, "k", 10, 12);
  must_unlocked(e, "k");
  must_not_written(e, "k", 10);  // No rollback record.
  // Prewritten locks are not touched.
  must_prewrite_put(e, "p", "v", "p", 20);
  must_pessimistic_rollback(e, "p", 20, 100);
  must_locked(e, "p", 20);
}

TEST(PessimisticTest, ExpiredPessimisticPrimaryWhenResolving) {
  TestEngine e;
  AcquirePessimisticLockRequest a;
  a.keys = {{"pk", false}};
  a.primary = "pk";
  a.start_ts = ComposeTs(100, 0);
  a.for_update_ts = ComposeTs(100, 0);
  a.lock_ttl = 10;
  ASSERT_TRUE(e.store.AcquirePessimisticLock(a).ok());
  CheckTxnStatusRequest req;
  req.primary_key = "pk";
  req.lock_ts = ComposeTs(100, 0);
  req.current_ts = ComposeTs(200, 0);
  req.resolving_pessimistic_lock = true;
  auto r = e.store.CheckTxnStatus(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, TxnStatus::Kind::kPessimisticRollBack);
  must_unlocked(e, "pk");
  must_not_written(e, "pk", ComposeTs(100, 0));
}

// ---- check_secondary_locks (TiKV's test_check_async_commit_secondary_locks) ----

TEST(CheckSecondaryLocksTest, Statuses) {
  TestEngine e;
  auto check = [&](TimeStamp ts) {
    auto r = e.store.CheckSecondaryLocks({{"k1"}, ts});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SecondaryLocksStatus{};
  };
  must_prewrite_lock(e, "k1", "key", 1);
  must_commit(e, "k1", 1, 3);
  must_rollback(e, "k1", 5);
  must_prewrite_lock(e, "k1", "key", 7);
  must_commit(e, "k1", 7, 9);

  SecondaryLocksStatus st = check(7);
  EXPECT_EQ(st.kind, SecondaryLocksStatus::Kind::kCommitted);
  EXPECT_EQ(st.commit_ts, 9u);
  EXPECT_EQ(check(5).kind, SecondaryLocksStatus::Kind::kRolledBack);
  must_get_rollback_ts(e, "k1", 5);
  st = check(1);
  EXPECT_EQ(st.kind, SecondaryLocksStatus::Kind::kCommitted);
  EXPECT_EQ(st.commit_ts, 3u);
  EXPECT_EQ(check(6).kind, SecondaryLocksStatus::Kind::kRolledBack);
  must_get_rollback_protected(e, "k1", 6, true);

  // A pessimistic lock that was never prewritten: rolled back, protected.
  must_acquire_pessimistic_lock(e, "k1", "key", 11, 11);
  EXPECT_EQ(check(11).kind, SecondaryLocksStatus::Kind::kRolledBack);
  must_unlocked(e, "k1");
  must_get_rollback_protected(e, "k1", 11, true);

  // A prewritten lock is reported.
  must_prewrite_lock(e, "k1", "key", 13);
  st = check(13);
  EXPECT_EQ(st.kind, SecondaryLocksStatus::Kind::kLocked);
  ASSERT_EQ(st.locks.size(), 1u);
  EXPECT_EQ(st.locks[0].key, "k1");
  must_locked(e, "k1", 13);

  must_commit(e, "k1", 13, 15);
  EXPECT_EQ(check(14).kind, SecondaryLocksStatus::Kind::kRolledBack);
  must_get_rollback_protected(e, "k1", 14, true);
  EXPECT_EQ(check(15).kind, SecondaryLocksStatus::Kind::kRolledBack);
  must_get_overlapped_rollback(e, "k1", 15, 13, WriteType::kLock, 0);
  EXPECT_GE(e.cm.max_ts(), 15u);
}

// ---- resolve_lock and scan_lock ----

TEST(ResolveLockTest, CommitsAndRollsBackByScan) {
  TestEngine e;
  for (const char* k : {"a", "b", "c"}) must_prewrite_put(e, k, "v5", "a", 5);
  for (const char* k : {"d", "e"}) must_prewrite_put(e, k, "v6", "d", 6);
  must_prewrite_put(e, "f", "v7", "f", 7);

  ScanLockRequest sl;
  sl.max_ts = 6;
  auto locks = e.store.ScanLock(sl);
  ASSERT_TRUE(locks.ok());
  EXPECT_EQ(locks->size(), 5u);
  sl.limit = 2;
  sl.start_key = "b";
  locks = e.store.ScanLock(sl);
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->size(), 2u);
  EXPECT_EQ((*locks)[0].key, "b");
  EXPECT_EQ((*locks)[1].key, "c");
  EXPECT_GE(e.cm.max_ts(), 6u);

  ResolveLockRequest req;
  req.txn_status = {{5, 10}, {6, 0}};
  auto r = e.store.ResolveLock(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->resolved, 5u);
  for (const char* k : {"a", "b", "c"}) {
    must_unlocked(e, k);
    must_get(e, k, 10, "v5");
  }
  for (const char* k : {"d", "e"}) {
    must_unlocked(e, k);
    must_get_rollback_ts(e, k, 6);
  }
  must_locked(e, "f", 7);
  // Lite form: given keys.
  req = ResolveLockRequest();
  req.txn_status = {{7, 9}};
  req.keys = {"f"};
  ASSERT_TRUE(e.store.ResolveLock(req).ok());
  must_get(e, "f", 9, "v7");
  // Bad commit_ts.
  req.txn_status = {{7, 7}};
  EXPECT_EQ(e.store.ResolveLock(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveLockTest, ScanLimitReportsMore) {
  TestEngine e;
  for (const char* k : {"a", "b", "c"}) must_prewrite_put(e, k, "v", "a", 5);
  ResolveLockRequest req;
  req.txn_status = {{5, 0}};
  req.scan_limit = 2;
  auto r = e.store.ResolveLock(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resolved, 2u);
  EXPECT_TRUE(r->has_more);
  r = e.store.ResolveLock(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resolved, 1u);
  EXPECT_FALSE(r->has_more);
  for (const char* k : {"a", "b", "c"}) must_unlocked(e, k);
}

// ---- GC ----

TEST(GcTest, KeepsNewestVersionBelowSafePoint) {
  TestEngine e;
  auto put = [&](std::string_view v, TimeStamp s, TimeStamp c) {
    must_prewrite_put(e, "k", v, "k", s);
    must_commit(e, "k", s, c);
  };
  put("v1", 5, 10);
  put(kLong, 15, 20);
  must_prewrite_lock(e, "k", "k", 22);
  must_commit(e, "k", 22, 24);
  must_rollback(e, "k", 26);
  put("v3", 30, 40);
  // Record every read at or above the safe point before GC.
  const TimeStamp safe_point = 27;
  std::vector<std::optional<std::string>> before;
  for (TimeStamp ts = safe_point; ts <= 45; ++ts) {
    auto v = e.store.Get("k", ts);
    ASSERT_TRUE(v.ok());
    before.push_back(*v);
  }
  GcStats st = must_gc(e, "k", safe_point);
  EXPECT_EQ(st.versions_deleted, 3u);  // Rollback@26, Lock@24, Put@10.
  must_not_written(e, "k", 10);
  must_not_written(e, "k", 24);
  must_not_written(e, "k", 26);
  must_written(e, "k", 15, 20, WriteType::kPut);  // Newest Put at or below 27: kept.
  must_written(e, "k", 30, 40, WriteType::kPut);
  for (TimeStamp ts = safe_point; ts <= 45; ++ts) {
    auto v = e.store.Get("k", ts);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, before[ts - safe_point]) << ts;
  }
  // Once above 40 the long value of 20 goes too.
  st = must_gc(e, "k", 45);
  EXPECT_EQ(st.values_deleted, 1u);
  must_not_written(e, "k", 20);
  auto v = e.engine.Get(storage::CF::kDefault, AppendTs(EncodeKey("k"), 15));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  must_get(e, "k", 45, "v3");
}

TEST(GcTest, NewestDeleteBelowSafePointRemovesEverything) {
  TestEngine e;
  must_prewrite_put(e, "k", "v", "k", 5);
  must_commit(e, "k", 5, 10);
  must_prewrite_delete(e, "k", "k", 15);
  must_commit(e, "k", 15, 20);
  must_prewrite_put(e, "j", "v", "j", 5);
  must_commit(e, "j", 5, 10);
  GcRequest req;
  req.safe_point = 30;
  auto st = e.store.Gc(req);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->keys, 2u);
  must_not_written(e, "k", 20);
  must_not_written(e, "k", 10);
  must_written(e, "j", 5, 10, WriteType::kPut);
  must_get_none(e, "k", 30);
  must_get(e, "j", 30, "v");
}

TEST(DeleteRangeTest, RemovesAllCfs) {
  TestEngine e;
  for (const char* k : {"a", "b", "c"}) {
    must_prewrite_put(e, k, kLong, k, 5);
    must_commit(e, k, 5, 10);
  }
  must_prewrite_put(e, "b", "v", "b", 15);
  ASSERT_TRUE(e.store.DeleteRange({"b", "c"}).ok());
  must_get(e, "a", 20, kLong);
  must_get_none(e, "b", 20);
  must_unlocked(e, "b");
  must_get(e, "c", 20, kLong);
}

// ---- Bad stored bytes ----

TEST(CorruptionTest, BadLockAndWriteBytesAreDataLoss) {
  TestEngine e;
  storage::WriteBatch wb;
  wb.Put(storage::CF::kLock, EncodeKey("k"), "Zgarbage");
  wb.Put(storage::CF::kWrite, AppendTs(EncodeKey("w"), 10), "P");
  ASSERT_TRUE(e.engine.Write(wb, {}).ok());
  auto r = e.store.Prewrite(OptimisticReq(Mutation::Put("k", "v"), "k", 20));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  auto g = e.store.Get("w", 20);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kDataLoss) << g.status();
}

}  // namespace
}  // namespace rutile::txn::testing
