// Databases over a cluster (rutile/sql.h Database::OpenLocalCluster and Database::Open
// over a TxnClient): rows in regions, timestamps from PD's TSO, conflicts between
// sessions, the prepared point-select plan cache and its invalidation by DDL, NOW() from
// the Env. Every call runs on a fiber of Env::Default(), the clusters' Env.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/logging.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "rutile/testing/cluster.h"
#include "sql/planner/stats.h"
#include "sql/session/session_test_util.h"
#include "util/failpoint.h"
#include "util/sync.h"

namespace rutile::sql {
namespace {

TEST(ClusterDatabaseTest, SingleNodeSessionsConflictsAndPlanCache) {
  OnFiber([] {
    auto db = Database::OpenLocalCluster();
    ASSERT_TRUE(db.ok()) << db.status();
    auto a = (*db)->NewSession();
    auto b = (*db)->NewSession();
    Ok(a.get(), "USE test");
    Ok(b.get(), "USE test");
    Ok(a.get(), "CREATE TABLE t (id BIGINT PRIMARY KEY, v INT, s VARCHAR(10), UNIQUE KEY us (s))");
    Ok(a.get(), "INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')");
    EXPECT_EQ(One(b.get(), "SELECT SUM(v) FROM t"), "60");
    EXPECT_EQ(One(b.get(), "SELECT v FROM t ORDER BY id DESC LIMIT 1"), "30");

    // Snapshot isolation and a write conflict: the later committer of an optimistic
    // transaction gets 1213 (a pessimistic one would hold b's update on its lock).
    Ok(a.get(), "BEGIN OPTIMISTIC");
    Ok(a.get(), "UPDATE t SET v = 11 WHERE id = 1");
    EXPECT_EQ(One(b.get(), "SELECT v FROM t WHERE id = 1"), "10");
    Ok(b.get(), "UPDATE t SET v = 12 WHERE id = 1");
    auto commit = a->Execute("COMMIT");
    ASSERT_FALSE(commit.ok());
    EXPECT_EQ(MySqlErrorOf(commit.status()).code, 1213) << commit.status();
    EXPECT_EQ(One(a.get(), "SELECT v FROM t WHERE id = 1"), "12");

    // Duplicate keys are 1062 and change nothing.
    auto dup = a->Execute("INSERT INTO t VALUES (4, 40, 'a')");
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(MySqlErrorOf(dup.status()).code, 1062);
    EXPECT_EQ(One(a.get(), "SELECT COUNT(*) FROM t"), "3");

    // A prepared point select keeps its plan across executions ...
    auto id = a->Prepare("SELECT * FROM t WHERE id = ?");
    ASSERT_TRUE(id.ok()) << id.status();
    for (int64_t k : {1, 2, 3, 9, 2}) {
      auto r = a->ExecutePrepared(*id, {Value::Int(k)});
      ASSERT_TRUE(r.ok()) << r.status();
      if (k == 9) {
        EXPECT_TRUE(r->rows.empty());
        continue;
      }
      ASSERT_EQ(r->rows.size(), 1u) << k;
      EXPECT_EQ(r->rows[0][0].value_or("NULL"), std::to_string(k));
      EXPECT_EQ(r->rows[0].size(), 3u);
    }
    // ... sees other sessions' writes (the plan is cached, the rows are not) ...
    Ok(b.get(), "UPDATE t SET v = 99 WHERE id = 2");
    auto r = a->ExecutePrepared(*id, {Value::Int(2)});
    ASSERT_TRUE(r.ok() && r->rows.size() == 1);
    EXPECT_EQ(r->rows[0][1].value_or("NULL"), "99");
    // ... non-integer parameters take the general path ...
    r = a->ExecutePrepared(*id, {Value::String("3")});
    ASSERT_TRUE(r.ok() && r->rows.size() == 1);
    EXPECT_EQ(r->rows[0][1].value_or("NULL"), "30");
    // ... and a schema change rebuilds it.
    Ok(b.get(), "ALTER TABLE t ADD COLUMN extra INT DEFAULT 7");
    r = a->ExecutePrepared(*id, {Value::Int(3)});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->rows.size(), 1u);
    ASSERT_EQ(r->rows[0].size(), 4u);
    EXPECT_EQ(r->rows[0][3].value_or("NULL"), "7");
    Ok(b.get(), "DROP TABLE t");
    Ok(b.get(), "CREATE TABLE t (id BIGINT PRIMARY KEY, w VARCHAR(5))");
    Ok(b.get(), "INSERT INTO t VALUES (3, 'new')");
    r = a->ExecutePrepared(*id, {Value::Int(3)});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->rows.size(), 1u);
    ASSERT_EQ(r->rows[0].size(), 2u);
    EXPECT_EQ(r->rows[0][1].value_or("NULL"), "new");

    // NOW() is the Env's wall clock, not a constant.
    EXPECT_GE(One(a.get(), "SELECT YEAR(NOW())"), "2024");
  });
}

// An automatic ANALYZE is claimed by one session at a time: sessions committing while a
// table is being analyzed do not scan it too (all of sysbench's connections stalled on
// one such pile-up), and the claim ends with the analysis.
TEST(ClusterDatabaseTest, AutoAnalyzeIsClaimedOnce) {
  StatsCache c;
  EXPECT_FALSE(c.ClaimAnalyze(7));  // Nothing modified: not due.
  c.NoteModified(7, 2000, 2000);    // Never analyzed, 2,000 rows: due.
  EXPECT_EQ(c.EstimatedRows(7), 2000);
  ASSERT_TRUE(c.ClaimAnalyze(7));
  EXPECT_FALSE(c.ClaimAnalyze(7));
  EXPECT_TRUE(c.DueForAnalyze(7));
  c.ReleaseAnalyze(7);  // The analysis failed: the next commit may try again.
  ASSERT_TRUE(c.ClaimAnalyze(7));
  auto stats = std::make_shared<TableStats>();
  stats->table_id = 7;
  stats->row_count = 2000;
  c.Put(stats);
  c.ReleaseAnalyze(7);
  EXPECT_FALSE(c.ClaimAnalyze(7));  // Analyzed: due again after 1,000 more changes.
  c.NoteModified(7, -300, 1001);
  EXPECT_EQ(c.EstimatedRows(7), 1700);
  EXPECT_TRUE(c.ClaimAnalyze(7));
}

// The estimated rows of the table scan in `sql`'s EXPLAIN ("" when there is none).
std::string ScanEstimate(Session* s, const std::string& sql) {
  auto r = s->Execute("EXPLAIN " + sql);
  if (!r.ok()) return "error: " + std::string(r.status().message());
  for (const auto& row : r->rows) {
    if (row.size() > 1 && row[0].value_or("").find("TableFullScan") != std::string::npos) {
      return row[1].value_or("NULL");
    }
  }
  return "";
}

// Automatic ANALYZE of a table of more than 10,000 rows runs on a background fiber (its
// commit does not wait for the scan): its statistics arrive after the commit, and a
// Database destroyed while one runs waits for it (under ASan a use after free otherwise).
// Smaller tables are still analyzed inside the commit (planner/testdata/access_path.txt).
TEST(ClusterDatabaseTest, BigTablesAreAnalyzedInTheBackground) {
  OnFiber([] {
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    auto a = (*db)->NewSession();
    Ok(a.get(), "USE test");
    Ok(a.get(), "CREATE TABLE big (id INT PRIMARY KEY, g INT)");
    // Rows go in 512 at a time: a statement of thousands of rows can outlast the schema
    // lease under ASan on a loaded machine (8027).
    int64_t rows = 0;
    auto add = [&](int chunks) {
      for (int c = 0; c < chunks; ++c) {
        std::string ins = "INSERT INTO big VALUES ";
        for (int i = 0; i < 512; ++i) {
          ++rows;
          absl::StrAppend(&ins, i > 0 ? "," : "", "(", rows, ",", rows % 7, ")");
        }
        Ok(a.get(), ins);
      }
    };
    // Analyzed inside the commits that made it due: at 1,024, 2,048, 3,584, 5,632 and
    // 8,704 rows (each time more than half the rows analyzed last changed).
    add(17);
    EXPECT_EQ(ScanEstimate(a.get(), "SELECT g FROM big"), "8704.00");
    // Due again at 13,312 rows: analyzed in the background.
    add(9);
    std::string est;
    for (int i = 0; i < 1200; ++i) {
      est = ScanEstimate(a.get(), "SELECT g FROM big");
      if (est == "13312.00") break;
      Env::Default()->SleepForMicros(50'000);
    }
    EXPECT_EQ(est, "13312.00");
    EXPECT_EQ(One(a.get(), "SELECT COUNT(*) FROM big"), "13312");
    // Due again after 6,657 changes; the Database goes away at once, its analysis still
    // running or not.
    add(14);
    a.reset();
    db->reset();
  });
}

// The Rutile_auto_analyze_* rows of SHOW STATUS, "name=value" joined by spaces.
std::string AnalyzeStatus(Session* s) {
  ResultSet r = Ok(s, "SHOW GLOBAL STATUS LIKE 'rutile_auto_analyze%'");
  std::string out;
  for (const auto& row : r.rows) {
    if (!out.empty()) out += " ";
    out += row[0].value_or("NULL") + "=" + row[1].value_or("NULL");
  }
  return out;
}

// An automatic ANALYZE that fails fails no statement, but is not silent: SHOW STATUS
// counts it (Rutile_auto_analyze_errors, with the last failure's text) and it is logged
// at Warn, at most once a minute however often it fails.
TEST(ClusterDatabaseTest, AutoAnalyzeFailuresAreCountedAndLogged) {
  if (!failpoint::CompiledIn()) GTEST_SKIP() << "failpoints are compiled out";
  std::mutex mu;
  std::vector<std::string> logged;
  SetLogSink([&](const LogRecord& r) {
    if (r.level != LogLevel::kWarn || r.message.find("automatic ANALYZE") == std::string::npos) {
      return;
    }
    std::lock_guard<std::mutex> l(mu);
    logged.emplace_back(r.message);
  });
  OnFiber([] {
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    auto a = (*db)->NewSession();
    Ok(a.get(), "USE test");
    Ok(a.get(), "CREATE TABLE f (id INT PRIMARY KEY, g INT)");
    EXPECT_EQ(AnalyzeStatus(a.get()),
              "Rutile_auto_analyze_errors=0 Rutile_auto_analyze_last_error= "
              "Rutile_auto_analyze_runs=0");
    int64_t rows = 0;
    auto add = [&](int n) {
      std::string ins = "INSERT INTO f VALUES ";
      for (int i = 0; i < n; ++i) {
        ++rows;
        absl::StrAppend(&ins, i > 0 ? "," : "", "(", rows, ",", rows % 7, ")");
      }
      Ok(a.get(), ins);
    };
    {
      failpoint::ScopedFailPoint fail("sql_analyze_table_error", "return(disk on fire)");
      ASSERT_TRUE(fail.ok()) << fail.status();
      add(1100);  // Due (never analyzed, over 1,000 rows): the analysis fails.
      add(10);    // Still due: tried again, fails again.
      EXPECT_EQ(One(a.get(), "SELECT COUNT(*) FROM f"), "1110");
      EXPECT_EQ(AnalyzeStatus(a.get()),
                "Rutile_auto_analyze_errors=2 Rutile_auto_analyze_last_error=table f: injected: "
                "disk on fire Rutile_auto_analyze_runs=2");
    }
    add(10);  // Analyzed.
    EXPECT_EQ(AnalyzeStatus(a.get()),
              "Rutile_auto_analyze_errors=2 Rutile_auto_analyze_last_error=table f: injected: "
              "disk on fire Rutile_auto_analyze_runs=3");
    EXPECT_EQ(ScanEstimate(a.get(), "SELECT g FROM f"), "1120.00");
    // The status rows by exact name, and nothing for a pattern that matches none.
    EXPECT_EQ(One(a.get(), "SHOW STATUS LIKE 'Rutile_auto_analyze_runs'"),
              "Rutile_auto_analyze_runs");
    EXPECT_TRUE(Ok(a.get(), "SHOW SESSION STATUS LIKE 'no_such%'").rows.empty());
  });
  SetLogSink(nullptr);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("table f: injected: disk on fire"), std::string::npos) << logged[0];
}

// Database::Open over a TxnClient runs on the client's Env: under a simulated cluster,
// NOW() is the simulation's wall clock (2023-11 at its start), the schema lease and the
// background ANALYZE fibers run on its virtual time and its one thread.
TEST(ClusterDatabaseTest, OpenOverASimulatedClusterUsesItsEnv) {
  rutile::testing::TestClusterOptions o;
  o.nodes = 1;
  o.replicated_pd = false;
  o.sim.seed = 11;
  rutile::testing::TestCluster c(o);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(c.Run([&] {
    auto client = TxnClient::Open(c.env(), c.pd(), [&](uint64_t id) { return c.node(id); });
    ASSERT_TRUE(client.ok()) << client.status();
    {
      DatabaseOptions dbo;
      dbo.client = client->get();
      auto db = Database::Open(dbo);
      ASSERT_TRUE(db.ok()) << db.status();
      auto s = (*db)->NewSession();
      Ok(s.get(), "USE test");
      Ok(s.get(), "CREATE TABLE k (id INT PRIMARY KEY, v INT)");
      Ok(s.get(), "INSERT INTO k VALUES (1, 10)");
      // The simulation's wall clock starts at 1,700,000,000 s (2023-11-14 22:13:20 UTC).
      ASSERT_LT(c.env()->WallMicros(), uint64_t{1'700'003'600'000'000});
      EXPECT_EQ(One(s.get(), "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H')"), "2023-11-14 22");
      EXPECT_EQ(One(s.get(), "SELECT v FROM k WHERE id = 1"), "10");
    }
    client->reset();
  })) << c.SeedMessage();
}

// A prepared `WHERE pk BETWEEN ? AND ?` select (sysbench's range selects) keeps its bound
// plan and only moves the handle range: every execution returns what the same query with
// literals returns, for ranges of any bounds (0xFF-ended keys, empty, reversed, outside
// the table), for aggregates, ORDER BY and DISTINCT, over a non-key column (not cached),
// and after DDL replaced the table.
TEST(ClusterDatabaseTest, PreparedRangeSelectsMatchLiteralQueries) {
  OnFiber([] {
    auto db = Database::OpenLocalCluster();
    ASSERT_TRUE(db.ok()) << db.status();
    auto a = (*db)->NewSession();
    Ok(a.get(), "USE test");
    Ok(a.get(), "CREATE TABLE r (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(10), KEY kk (k))");
    std::string ins = "INSERT INTO r VALUES ";
    for (int i = 1; i <= 600; ++i) {
      absl::StrAppend(&ins, i > 1 ? "," : "", "(", i, ",", (i * 7) % 50, ",'c", i % 13, "')");
    }
    Ok(a.get(), ins);
    const std::vector<std::string> shapes = {
        "SELECT c FROM r WHERE id BETWEEN ? AND ?",
        "SELECT SUM(k) FROM r WHERE id BETWEEN ? AND ?",
        "SELECT c FROM r WHERE id BETWEEN ? AND ? ORDER BY c",
        "SELECT DISTINCT c FROM r WHERE id BETWEEN ? AND ? ORDER BY c",
        "SELECT id, k FROM r WHERE k BETWEEN ? AND ?",
    };
    const std::vector<std::pair<int64_t, int64_t>> ranges = {
        {1, 100}, {250, 255}, {255, 511}, {500, 599}, {598, 700}, {700, 800},
        {-5, 3},  {10, 10},   {20, 10},   {0, 0},     {1, 600},   {-300, -1}};
    auto text_of = [](const ResultSet& r) {
      std::string out;
      for (const auto& row : r.rows) {
        for (const auto& v : row) absl::StrAppend(&out, v.value_or("NULL"), "|");
        out += "\n";
      }
      return out;
    };
    auto check_all = [&] {
      for (const std::string& q : shapes) {
        auto id = a->Prepare(q);
        ASSERT_TRUE(id.ok()) << id.status();
        for (int pass = 0; pass < 2; ++pass) {
          for (const auto& [lo, hi] : ranges) {
            auto p = a->ExecutePrepared(*id, {Value::Int(lo), Value::Int(hi)});
            ASSERT_TRUE(p.ok()) << q << " " << lo << " " << hi << ": " << p.status();
            std::string literal = q;
            literal.replace(literal.find('?'), 1, std::to_string(lo));
            literal.replace(literal.find('?'), 1, std::to_string(hi));
            auto t = a->Execute(literal);
            ASSERT_TRUE(t.ok()) << literal << ": " << t.status();
            EXPECT_EQ(text_of(*p), text_of(*t)) << literal << " (pass " << pass << ")";
          }
        }
        ASSERT_TRUE(a->ClosePrepared(*id).ok());
      }
    };
    check_all();
    // Rows written between executions are seen (the plan is kept, not the rows), and a
    // statement prepared before DDL replaced the table runs over the new one.
    auto id = a->Prepare("SELECT c FROM r WHERE id BETWEEN ? AND ?");
    ASSERT_TRUE(id.ok()) << id.status();
    auto before = a->ExecutePrepared(*id, {Value::Int(3), Value::Int(4)});
    ASSERT_TRUE(before.ok() && before->rows.size() == 2) << before.status();
    Ok(a.get(), "UPDATE r SET c = 'changed' WHERE id = 4");
    auto after = a->ExecutePrepared(*id, {Value::Int(4), Value::Int(4)});
    ASSERT_TRUE(after.ok() && after->rows.size() == 1) << after.status();
    EXPECT_EQ(after->rows[0][0].value_or("NULL"), "changed");
    Ok(a.get(), "DROP TABLE r");
    Ok(a.get(), "CREATE TABLE r (id VARCHAR(5) PRIMARY KEY, k INT, c CHAR(10))");
    Ok(a.get(), "INSERT INTO r VALUES ('3', 1, 'x'), ('30', 2, 'y'), ('4', 3, 'z')");
    auto s = a->ExecutePrepared(*id, {Value::Int(3), Value::Int(4)});
    ASSERT_TRUE(s.ok()) << s.status();
    auto t = a->Execute("SELECT c FROM r WHERE id BETWEEN 3 AND 4");
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(text_of(*s), text_of(*t));
  });
}

TEST(ClusterDatabaseTest, OpenOverTxnClientOfThreeNodes) {
  OnFiber([] {
    std::unique_ptr<Transport> transport = NewLocalTransport(Env::Default());
    std::vector<std::unique_ptr<Node>> nodes;
    std::vector<Node*> ptrs;
    std::shared_ptr<Pd> pd;
    for (uint64_t id = 1; id <= 3; ++id) {
      NodeOptions o;
      o.id = id;
      o.transport = transport.get();
      o.host_pd = id == 1;
      o.pd = pd;
      o.initial_stores = {1, 2, 3};
      o.raft_tick_micros = 10'000;
      auto n = Node::Open(o);
      ASSERT_TRUE(n.ok()) << n.status();
      if (id == 1) pd = (*n)->pd();
      ptrs.push_back(n->get());
      nodes.push_back(*std::move(n));
    }
    auto client = TxnClient::Open(ptrs);
    ASSERT_TRUE(client.ok()) << client.status();
    {
      DatabaseOptions o;
      EXPECT_FALSE(Database::Open(o).ok());  // No client.
      o.client = client->get();
      auto db = Database::Open(o);
      ASSERT_TRUE(db.ok()) << db.status();
      auto s = (*db)->NewSession();
      Ok(s.get(), "USE test");
      Ok(s.get(), "CREATE TABLE k (id INT PRIMARY KEY, v VARCHAR(8))");
      Ok(s.get(), "INSERT INTO k VALUES (1, 'one'), (2, 'two')");
      // The rows are in the cluster: a transactional scan of the table's keys finds them.
      auto txn = (*client)->Begin();
      ASSERT_TRUE(txn.ok());
      auto rows = (*txn)->Scan("t", "u");
      ASSERT_TRUE(rows.ok()) << rows.status();
      EXPECT_EQ(rows->size(), 2u);
      EXPECT_EQ(One(s.get(), "SELECT GROUP_CONCAT(v ORDER BY id) FROM k"), "one,two");
    }
    client->reset();
    for (auto& n : nodes) n->Close();
  });
}

// Pessimistic transactions (the default) wait for each other's locks; two that wait for
// each other are a deadlock: one fails with 1213 (SQLSTATE 40001) and is rolled back, so
// the other's statement goes through and commits.
TEST(ClusterDatabaseTest, PessimisticDeadlockIsError1213) {
  OnFiber([] {
    auto db = Database::OpenLocalCluster();
    ASSERT_TRUE(db.ok()) << db.status();
    auto s1 = (*db)->NewSession();
    auto s2 = (*db)->NewSession();
    for (Session* s : {s1.get(), s2.get()}) Ok(s, "USE test");
    Ok(s1.get(), "CREATE TABLE d (id INT PRIMARY KEY, v INT)");
    Ok(s1.get(), "INSERT INTO d VALUES (1, 0), (2, 0)");
    Ok(s1.get(), "BEGIN");
    Ok(s2.get(), "BEGIN PESSIMISTIC");
    Ok(s1.get(), "UPDATE d SET v = 1 WHERE id = 1");
    Ok(s2.get(), "UPDATE d SET v = 2 WHERE id = 2");
    absl::StatusOr<ResultSet> r1, r2;
    WaitGroup wg;
    wg.Add(2);
    Env::Default()->Spawn([&] {
      r1 = s1->Execute("UPDATE d SET v = 1 WHERE id = 2");  // waits for s2
      wg.Done();
    });
    Env::Default()->Spawn([&] {
      Env::Default()->SleepForMicros(100'000);
      r2 = s2->Execute("UPDATE d SET v = 2 WHERE id = 1");  // waits for s1: a cycle
      wg.Done();
    });
    wg.Wait();
    ASSERT_NE(r1.ok(), r2.ok()) << r1.status() << " / " << r2.status();
    const absl::Status& failed = r1.ok() ? r2.status() : r1.status();
    const MySqlErrorInfo e = MySqlErrorOf(failed);
    EXPECT_EQ(e.code, 1213) << failed;
    EXPECT_EQ(e.sqlstate, "40001");
    Session* winner = r1.ok() ? s1.get() : s2.get();
    Session* loser = r1.ok() ? s2.get() : s1.get();
    Ok(winner, "COMMIT");
    Ok(loser, "COMMIT");  // Nothing open: the deadlock rolled it back.
    const std::string want = r1.ok() ? "1" : "2";
    EXPECT_EQ(One(s1.get(), "SELECT GROUP_CONCAT(v ORDER BY id) FROM d"), want + "," + want);
  });
}

}  // namespace
}  // namespace rutile::sql
