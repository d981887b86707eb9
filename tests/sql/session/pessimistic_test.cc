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
#include "sql/session/session_test_util.h"
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

INSTANTIATE_TEST_SUITE_P(Stores, PessimisticTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Cluster") : std::string("InMemory");
                         });

}  // namespace
}  // namespace rutile::sql
