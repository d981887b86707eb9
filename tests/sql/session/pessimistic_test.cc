// Pessimistic transactions (the default of explicit transactions) as TiDB runs them, over
// both stores: Database::OpenInMemory (LocalKvStore) and a one-node local cluster
// (ClientKvStore over the transactional client). A statement that writes reads the latest
// committed rows and locks them at a fresh for_update_ts, so a row committed by another
// transaction after BEGIN is updated over that value (no lost update, no 1213); SELECT ...
// FOR UPDATE locks what it reads and returns the latest values; a writer waits for the
// lock; only a real deadlock is 1213. Every call runs on a fiber of Env::Default().

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "sql/errors.h"
#include "sql/kv/kv.h"
#include "sql/session/session_test_util.h"
#include "txn/errors.h"
#include "util/sync.h"

namespace rutile::sql {
namespace {

class PessimisticTest : public ::testing::TestWithParam<bool> {
 protected:
  // GetParam(): over a local cluster (true) or in memory (false).
  std::unique_ptr<Database> Open() {
    auto db = GetParam() ? Database::OpenLocalCluster() : Database::OpenInMemory();
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }
};

// T1 begins and reads; T2 updates the row and commits; T1's UPDATE of the row succeeds
// over T2's value, T1's plain SELECT of another row still reads the snapshot.
// A commit whose outcome is unknown is 8224 (TiDB's ErrResultUndetermined), never 1205 or
// 1213, which tell the client to run the transaction again: it may have committed. Its
// message may well mention locks ("prewrite blocked by live locks"), as a lock wait's does.
TEST(MapTxnErrorTest, UndeterminedCommitIsNotALockWaitTimeout) {
  absl::Status undetermined = txn::UndeterminedError(
      "commit outcome unknown (the primary may or may not have committed): prewrite blocked "
      "by live locks");
  ASSERT_TRUE(txn::IsUndetermined(undetermined));
  std::optional<MySqlError> e = GetMySqlError(kv::MapTxnError(undetermined));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 8224);
  // A lock wait that gave up is still 1205.
  e = GetMySqlError(kv::MapTxnError(absl::DeadlineExceededError("read blocked by a live lock")));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 1205);
  EXPECT_FALSE(txn::IsUndetermined(absl::DeadlineExceededError("x")));
}

TEST_P(PessimisticTest, UpdateAfterOthersCommitReadsLatestNoLostUpdate) {
  OnFiber([this] {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    auto a = db->NewSession();
    auto b = db->NewSession();
    for (Session* s : {a.get(), b.get()}) Ok(s, "USE test");
    Ok(a.get(), "CREATE TABLE acct (id INT PRIMARY KEY, bal INT, note VARCHAR(10))");
    Ok(a.get(), "INSERT INTO acct VALUES (1, 100, 'x'), (2, 100, 'y')");

    Ok(a.get(), "BEGIN");
    EXPECT_EQ(One(a.get(), "SELECT bal FROM acct WHERE id = 1"), "100");
    Ok(b.get(), "UPDATE acct SET bal = bal + 1 WHERE id = 1");
    Ok(b.get(), "UPDATE acct SET note = 'z' WHERE id = 2");
    auto r = a->Execute("UPDATE acct SET bal = bal + 10 WHERE id = 1");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->affected_rows, 1u);
    EXPECT_EQ(One(a.get(), "SELECT bal FROM acct WHERE id = 1"), "111");
    EXPECT_EQ(One(a.get(), "SELECT note FROM acct WHERE id = 2"), "y");  // The snapshot.
    // A DELETE by a predicate over a column another transaction changed sees the change.
    Ok(b.get(), "UPDATE acct SET bal = 5 WHERE id = 2");
    r = a->Execute("DELETE FROM acct WHERE bal < 50");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->affected_rows, 1u);
    Ok(a.get(), "COMMIT");
    EXPECT_EQ(One(b.get(), "SELECT GROUP_CONCAT(id, ':', bal) FROM acct"), "1:111");
  });
}

// SELECT ... FOR UPDATE returns the latest committed values and locks them: a concurrent
// pessimistic writer waits until the locker commits and then updates over its value.
TEST_P(PessimisticTest, SelectForUpdateLocksLatestAndBlocksWriter) {
  OnFiber([this] {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    auto a = db->NewSession();
    auto b = db->NewSession();
    for (Session* s : {a.get(), b.get()}) Ok(s, "USE test");
    Ok(a.get(), "CREATE TABLE c (id INT PRIMARY KEY, v INT)");
    Ok(a.get(), "INSERT INTO c VALUES (1, 0), (2, 0)");

    Ok(a.get(), "BEGIN");
    EXPECT_EQ(One(a.get(), "SELECT v FROM c WHERE id = 1"), "0");
    Ok(b.get(), "UPDATE c SET v = 5 WHERE id = 1");
    EXPECT_EQ(One(a.get(), "SELECT v FROM c WHERE id = 1 FOR UPDATE"), "5");

    std::atomic<bool> committed{false};
    std::atomic<bool> writer_saw_commit{false};
    absl::StatusOr<ResultSet> w;
    WaitGroup wg;
    wg.Add(1);
    Env::Default()->Spawn([&] {
      Ok(b.get(), "BEGIN");
      w = b->Execute("UPDATE c SET v = v + 1 WHERE id = 1");  // Waits for a's lock.
      writer_saw_commit = committed.load();
      if (w.ok()) Ok(b.get(), "COMMIT");
      wg.Done();
    });
    Env::Default()->SleepForMicros(300'000);
    Ok(a.get(), "UPDATE c SET v = v * 10 WHERE id = 1");
    committed = true;
    Ok(a.get(), "COMMIT");
    wg.Wait();
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_TRUE(writer_saw_commit) << "the writer did not wait for the FOR UPDATE lock";
    EXPECT_EQ(One(a.get(), "SELECT v FROM c WHERE id = 1"), "51");
  });
}

// Sysbench's hot rows: several sessions increment one row in explicit transactions at
// once. Each waits for the others' locks; none fails and no increment is lost.
TEST_P(PessimisticTest, ConcurrentIncrementsOfOneRowAllCommit) {
  OnFiber([this] {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    auto setup = db->NewSession();
    Ok(setup.get(), "USE test");
    Ok(setup.get(), "CREATE TABLE h (id INT PRIMARY KEY, v INT)");
    Ok(setup.get(), "INSERT INTO h VALUES (1, 0), (2, 0)");
    constexpr int kSessions = 4;
    constexpr int kRounds = 5;
    std::atomic<int> failures{0};
    WaitGroup wg;
    wg.Add(kSessions);
    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < kSessions; ++i) sessions.push_back(db->NewSession());
    for (int i = 0; i < kSessions; ++i) {
      Session* s = sessions[i].get();
      Env::Default()->Spawn([&, s] {
        Ok(s, "USE test");
        for (int r = 0; r < kRounds; ++r) {
          Ok(s, "BEGIN");
          for (const char* sql :
               {"SELECT v FROM h WHERE id = 2", "UPDATE h SET v = v + 1 WHERE id = 1",
                "UPDATE h SET v = v + 1 WHERE id = 2", "COMMIT"}) {
            auto res = s->Execute(sql);
            if (!res.ok()) {
              ++failures;
              ADD_FAILURE() << sql << ": " << res.status();
              (void)s->Execute("ROLLBACK");
              break;
            }
          }
        }
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(One(setup.get(), "SELECT GROUP_CONCAT(v ORDER BY id) FROM h"),
              absl::StrCat(kSessions * kRounds, ",", kSessions * kRounds));
  });
}

// Two transactions waiting for each other's locks: one is the deadlock victim (1213,
// SQLSTATE 40001, rolled back), the other goes through.
TEST_P(PessimisticTest, TrueDeadlockIs1213) {
  OnFiber([this] {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    auto s1 = db->NewSession();
    auto s2 = db->NewSession();
    for (Session* s : {s1.get(), s2.get()}) Ok(s, "USE test");
    Ok(s1.get(), "CREATE TABLE d (id INT PRIMARY KEY, v INT)");
    Ok(s1.get(), "INSERT INTO d VALUES (1, 0), (2, 0)");
    Ok(s1.get(), "BEGIN");
    Ok(s2.get(), "BEGIN");
    Ok(s1.get(), "UPDATE d SET v = 1 WHERE id = 1");
    EXPECT_EQ(One(s2.get(), "SELECT v FROM d WHERE id = 2 FOR UPDATE"), "0");
    absl::StatusOr<ResultSet> r1, r2;
    WaitGroup wg;
    wg.Add(2);
    Env::Default()->Spawn([&] {
      r1 = s1->Execute("UPDATE d SET v = 1 WHERE id = 2");  // Waits for s2.
      wg.Done();
    });
    Env::Default()->Spawn([&] {
      Env::Default()->SleepForMicros(100'000);
      r2 = s2->Execute("UPDATE d SET v = 2 WHERE id = 1");  // Waits for s1: a cycle.
      wg.Done();
    });
    wg.Wait();
    ASSERT_NE(r1.ok(), r2.ok()) << r1.status() << " / " << r2.status();
    const absl::Status& failed = r1.ok() ? r2.status() : r1.status();
    const MySqlErrorInfo e = MySqlErrorOf(failed);
    EXPECT_EQ(e.code, 1213) << failed;
    EXPECT_EQ(e.sqlstate, "40001");
    Session* winner = r1.ok() ? s1.get() : s2.get();
    Ok(winner, "COMMIT");
    const std::string want = r1.ok() ? "1,1" : "2,2";
    EXPECT_EQ(One(s1.get(), "SELECT GROUP_CONCAT(v ORDER BY id) FROM d"), want);
  });
}

// Point DML and INSERT ... VALUES reuse the transaction's for_update_ts (no TSO call) and
// lock the keys they read by key as they read them: they still act on the latest commits.
TEST_P(PessimisticTest, PointStatementsActOnTheLatestCommits) {
  OnFiber([this] {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    auto a = db->NewSession();
    auto b = db->NewSession();
    for (Session* s : {a.get(), b.get()}) Ok(s, "USE test");
    Ok(a.get(), "CREATE TABLE p (id INT PRIMARY KEY, v INT, KEY kv (v))");
    Ok(a.get(), "INSERT INTO p VALUES (1, 1), (2, 2), (4, 4)");
    Ok(a.get(), "BEGIN");
    EXPECT_EQ(One(a.get(), "SELECT COUNT(*) FROM p"), "3");
    Ok(b.get(), "INSERT INTO p VALUES (3, 3), (5, 5)");
    Ok(b.get(), "DELETE FROM p WHERE id = 4");
    Ok(b.get(), "UPDATE p SET v = 20 WHERE id = 2");
    // Row 3 exists now: a duplicate, whatever a's snapshot says.
    auto r = a->Execute("INSERT INTO p VALUES (3, 30)");
    EXPECT_EQ(MySqlErrorOf(r.status()).code, 1062) << r.status();
    // Row 4 is gone now: the insert goes through.
    Ok(a.get(), "INSERT INTO p VALUES (4, 40)");
    r = a->Execute("DELETE FROM p WHERE id = 5");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->affected_rows, 1u);
    r = a->Execute("UPDATE p SET v = v + 1 WHERE id = 2");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->affected_rows, 1u);
    // The rows a wrote or locked are its own now: b waits for them (not tested here) and
    // a's later point statements see its writes.
    EXPECT_EQ(One(a.get(), "SELECT v FROM p WHERE id = 2"), "21");
    Ok(a.get(), "COMMIT");
    EXPECT_EQ(One(b.get(), "SELECT GROUP_CONCAT(id, ':', v ORDER BY id) FROM p"),
              "1:1,2:21,3:3,4:40");
    // The non-unique index agrees with the rows.
    EXPECT_EQ(One(b.get(), "SELECT GROUP_CONCAT(id ORDER BY id) FROM p USE INDEX (kv) WHERE v > 0"),
              "1,2,3,4");
    EXPECT_EQ(One(b.get(), "SELECT COUNT(*) FROM p USE INDEX (kv) WHERE v > 0"), "4");
    EXPECT_EQ(One(b.get(), "SELECT SUM(v) FROM p USE INDEX (kv) WHERE v > 0"), "65");
  });
}

// TiDB's lock set: a row's key and its unique index entries are locked, its non-unique
// index entries are not (the row's lock covers them). Two transactions may change rows
// to one indexed value at once; a unique value held by one makes the other wait, then fail
// as a duplicate once the first commits.
TEST_P(PessimisticTest, UniqueIndexEntriesAreLockedOthersAreNot) {
  OnFiber([this] {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    auto a = db->NewSession();
    auto b = db->NewSession();
    for (Session* s : {a.get(), b.get()}) Ok(s, "USE test");
    Ok(a.get(), "CREATE TABLE u (id INT PRIMARY KEY, k INT, w INT, KEY kk (k), UNIQUE KEY uw (w))");
    Ok(a.get(), "INSERT INTO u VALUES (1, 0, 1), (2, 0, 2)");
    Ok(a.get(), "BEGIN");
    Ok(b.get(), "BEGIN");
    Ok(a.get(), "UPDATE u SET k = 50 WHERE id = 1");
    Ok(b.get(), "UPDATE u SET k = 50 WHERE id = 2");
    Ok(b.get(), "COMMIT");
    Ok(a.get(), "UPDATE u SET w = 7 WHERE id = 1");
    std::atomic<bool> committed{false};
    std::atomic<bool> saw_commit{false};
    absl::StatusOr<ResultSet> w;
    WaitGroup wg;
    wg.Add(1);
    Env::Default()->Spawn([&] {
      Ok(b.get(), "BEGIN");
      w = b->Execute("UPDATE u SET w = 7 WHERE id = 2");  // Waits for a's unique entry.
      saw_commit = committed.load();
      (void)b->Execute("ROLLBACK");
      wg.Done();
    });
    Env::Default()->SleepForMicros(300'000);
    committed = true;
    Ok(a.get(), "COMMIT");
    wg.Wait();
    EXPECT_TRUE(saw_commit) << "b did not wait for the unique index entry";
    EXPECT_EQ(MySqlErrorOf(w.status()).code, 1062) << w.status();
    EXPECT_EQ(One(a.get(), "SELECT GROUP_CONCAT(id, ':', k, ':', w ORDER BY id) FROM u"),
              "1:50:7,2:50:2");
    EXPECT_EQ(One(a.get(), "SELECT COUNT(*) FROM u USE INDEX (kk) WHERE k = 50"), "2");
  });
}

INSTANTIATE_TEST_SUITE_P(Stores, PessimisticTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Cluster") : std::string("InMemory");
                         });

}  // namespace
}  // namespace rutile::sql
