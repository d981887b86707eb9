// The schema lease and validator across catalogs: two Databases over one cluster (as two
// SQL servers over one TiKV cluster). DDL runs on one while the other runs DML through
// the change; no index entry may be lost, and a transaction that spans a schema change
// of a table it wrote fails with a clear retryable error and changes nothing. Every call
// runs on a fiber of Env::Default(), the cluster's Env.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "sql/catalog/catalog.h"
#include "sql/session/session_test_util.h"
#include "util/sync.h"

namespace rutile::sql {
namespace {

// A one-node cluster and a TxnClient over it, closed at the end.
struct Cluster {
  std::unique_ptr<OneNodeCluster> c;

  absl::Status Open() {
    auto opened = OneNodeCluster::Open();
    if (!opened.ok()) return opened.status();
    c = *std::move(opened);
    return absl::OkStatus();
  }
  std::unique_ptr<Database> NewDatabase(bool try_one_pc = true) {
    DatabaseOptions o;
    o.client = c->client.get();
    o.try_one_pc = try_one_pc;
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }
  void Close() { c.reset(); }
};

TEST(SchemaLeaseTest, AddIndexOnOneDatabaseWhileAnotherRunsDml) {
  OnFiber([] {
    Cluster cluster;
    ASSERT_TRUE(cluster.Open().ok());
    {
      std::unique_ptr<Database> a = cluster.NewDatabase();
      ASSERT_NE(a, nullptr);
      auto ddl = a->NewSession();
      Ok(ddl.get(), "USE test");
      Ok(ddl.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
      std::string values;
      for (int i = 1; i <= 120; ++i)
        absl::StrAppend(&values, i > 1 ? "," : "", "(", i, ",", i % 7, ")");
      Ok(ddl.get(), "INSERT INTO t VALUES " + values);
      CatalogOf(a.get())->set_backfill_batch(16);

      std::unique_ptr<Database> b = cluster.NewDatabase();
      ASSERT_NE(b, nullptr);
      std::atomic<bool> stop{false};
      std::atomic<int> ok_statements{0}, schema_refusals{0}, spanning_commits{0};
      WaitGroup workers;
      // Autocommit DML on b: inserts, updates that move index entries, deletes.
      for (int w = 0; w < 2; ++w) {
        workers.Add(1);
        Env::Default()->Spawn([&, w] {
          auto s = b->NewSession();
          Ok(s.get(), "USE test");
          const int base = 1000 * (w + 1);
          for (int i = 0; !stop.load() || i < 30; ++i) {
            std::string sql;
            switch (i % 3) {
              case 0:
                sql = absl::StrCat("INSERT INTO t VALUES (", base + i, ", ", i % 5, ")");
                break;
              case 1:
                sql = absl::StrCat("UPDATE t SET v = v + 1 WHERE id = ", 1 + (w * 60 + i) % 120);
                break;
              default:
                sql = absl::StrCat("DELETE FROM t WHERE id = ", base + i - 2);
                break;
            }
            auto r = s->Execute(sql);
            if (r.ok()) {
              ok_statements.fetch_add(1);
            } else {
              const uint16_t code = MySqlErrorOf(r.status()).code;
              EXPECT_TRUE(code == 1213 || code == 1205 || code == kErInfoSchemaChanged)
                  << sql << ": " << r.status();
            }
          }
          workers.Done();
        });
      }
      // Explicit transactions on b that may span a state change: 8028 then, nothing kept.
      workers.Add(1);
      Env::Default()->Spawn([&] {
        auto s = b->NewSession();
        Ok(s.get(), "USE test");
        for (int i = 0; !stop.load() || i < 5; ++i) {
          const int id = 5000 + i;
          Ok(s.get(), "BEGIN");
          auto ins = s->Execute(absl::StrCat("INSERT INTO t VALUES (", id, ", 3)"));
          Env::Default()->SleepForMicros(3'000);
          auto r = s->Execute("COMMIT");
          if (!ins.ok()) {
            Ok(s.get(), "ROLLBACK");
            continue;
          }
          if (r.ok()) {
            spanning_commits.fetch_add(1);
            continue;
          }
          const MySqlErrorInfo e = MySqlErrorOf(r.status());
          if (e.code == kErInfoSchemaChanged) {
            schema_refusals.fetch_add(1);
            EXPECT_EQ(One(s.get(), absl::StrCat("SELECT COUNT(*) FROM t WHERE id = ", id)), "0");
          } else {
            EXPECT_TRUE(e.code == 1213 || e.code == 1205) << r.status();
          }
        }
        workers.Done();
      });
      Ok(ddl.get(), "ALTER TABLE t ADD INDEX iv (v)");
      stop.store(true);
      workers.Wait();
      EXPECT_GT(ok_statements.load(), 0);
      EXPECT_GT(spanning_commits.load() + schema_refusals.load(), 0);

      // No lost or dangling entries, as a's catalog and as b's see the table.
      for (Database* db : {a.get(), b.get()}) {
        Catalog* c = CatalogOf(db);
        ASSERT_TRUE(c->EnsureFresh().ok());
        auto t = c->GetTable("test", "t");
        ASSERT_TRUE(t.ok());
        ASSERT_EQ((*t)->indexes.size(), 1u);
        absl::Status check = c->CheckIndexes(*t);
        EXPECT_TRUE(check.ok()) << check;
      }
      auto reader = b->NewSession();
      Ok(reader.get(), "USE test");
      for (int v = 0; v < 12; ++v) {
        EXPECT_EQ(One(reader.get(), absl::StrCat("SELECT COUNT(*) FROM t WHERE v = ", v)),
                  One(reader.get(), absl::StrCat("SELECT COUNT(*) FROM t WHERE v + 0 = ", v)))
            << v;
      }
    }
    cluster.Close();
  });
}

// A transaction on b that wrote a table, then saw a's schema change of it, is refused at
// COMMIT with 8028 (retryable, nothing written); run again it succeeds. A table it did not
// write does not stop it.
TEST(SchemaLeaseTest, TransactionSpanningAnotherDatabasesDdlIsRefused) {
  OnFiber([] {
    Cluster cluster;
    ASSERT_TRUE(cluster.Open().ok());
    {
      std::unique_ptr<Database> a = cluster.NewDatabase();
      ASSERT_NE(a, nullptr);
      auto sa = a->NewSession();
      Ok(sa.get(), "USE test");
      Ok(sa.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
      Ok(sa.get(), "CREATE TABLE u (id INT PRIMARY KEY, v INT)");
      std::unique_ptr<Database> b = cluster.NewDatabase();
      ASSERT_NE(b, nullptr);
      auto sb = b->NewSession();
      Ok(sb.get(), "USE test");
      Ok(sb.get(), "BEGIN");
      Ok(sb.get(), "INSERT INTO t VALUES (1, 1)");
      auto other = b->NewSession();
      Ok(other.get(), "USE test");
      Ok(other.get(), "BEGIN");
      Ok(other.get(), "INSERT INTO u VALUES (1, 1)");
      // b keeps refreshing while a's DDL runs (as a busy server does), so a does not wait
      // out the lease at each state.
      std::atomic<bool> stop{false};
      WaitGroup poller;
      poller.Add(1);
      Env::Default()->Spawn([&] {
        auto s = b->NewSession();
        while (!stop.load()) {
          EXPECT_TRUE(s->Execute("SELECT 1").ok());
          Env::Default()->SleepForMicros(2'000);
        }
        poller.Done();
      });
      const uint64_t start = Env::Default()->NowMicros();
      Ok(sa.get(), "CREATE INDEX iv ON t (v)");
      const uint64_t took = Env::Default()->NowMicros() - start;
      stop.store(true);
      poller.Wait();
      // Four states, none waiting out b's one-second lease.
      EXPECT_LT(took, 3'000'000u);
      auto r = sb->Execute("COMMIT");
      ASSERT_FALSE(r.ok());
      const MySqlErrorInfo e = MySqlErrorOf(r.status());
      EXPECT_EQ(e.code, kErInfoSchemaChanged);
      EXPECT_EQ(e.sqlstate, "HY000");
      EXPECT_NE(e.message.find("try again"), std::string::npos) << e.message;
      EXPECT_EQ(One(sa.get(), "SELECT COUNT(*) FROM t"), "0");
      Ok(other.get(), "COMMIT");  // u did not change.
      EXPECT_EQ(One(sa.get(), "SELECT COUNT(*) FROM u"), "1");
      // Retried over the new schema, it commits with its index entry.
      Ok(sb.get(), "BEGIN");
      Ok(sb.get(), "INSERT INTO t VALUES (1, 1)");
      Ok(sb.get(), "COMMIT");
      EXPECT_EQ(One(sa.get(), "SELECT COUNT(*) FROM t WHERE v = 1"), "1");
      auto t = CatalogOf(a.get())->GetTable("test", "t");
      ASSERT_TRUE(t.ok());
      EXPECT_TRUE(CatalogOf(a.get())->CheckIndexes(*t).ok());
    }
    cluster.Close();
  });
}

// DDL from two Databases at once: one becomes the owner and runs both jobs from the
// queue; the other waits for its job to finish instead of reporting it queued.
TEST(SchemaLeaseTest, ConcurrentDdlFromTwoDatabasesBothComplete) {
  OnFiber([] {
    Cluster cluster;
    ASSERT_TRUE(cluster.Open().ok());
    {
      std::unique_ptr<Database> a = cluster.NewDatabase();
      ASSERT_NE(a, nullptr);
      auto sa = a->NewSession();
      Ok(sa.get(), "USE test");
      Ok(sa.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT, w INT)");
      Ok(sa.get(), "INSERT INTO t VALUES (1, 1, 1), (2, 2, 2), (3, 3, 3)");
      std::unique_ptr<Database> b = cluster.NewDatabase();
      ASSERT_NE(b, nullptr);
      auto sb = b->NewSession();
      Ok(sb.get(), "USE test");
      absl::StatusOr<ResultSet> ra, rb;
      WaitGroup wg;
      wg.Add(2);
      Env::Default()->Spawn([&] {
        ra = sa->Execute("ALTER TABLE t ADD INDEX iv (v)");
        wg.Done();
      });
      Env::Default()->Spawn([&] {
        rb = sb->Execute("ALTER TABLE t ADD COLUMN x INT DEFAULT 7");
        wg.Done();
      });
      wg.Wait();
      EXPECT_TRUE(ra.ok()) << ra.status();
      EXPECT_TRUE(rb.ok()) << rb.status();
      EXPECT_EQ(One(sa.get(), "SELECT SUM(x) FROM t WHERE v = 2"), "7");
      EXPECT_EQ(One(sb.get(), "SELECT SUM(x) FROM t WHERE v = 2"), "7");
      auto t = CatalogOf(a.get())->GetTable("test", "t");
      ASSERT_TRUE(t.ok());
      EXPECT_EQ((*t)->indexes.size(), 1u);
      EXPECT_TRUE(CatalogOf(a.get())->CheckIndexes(*t).ok());
    }
    cluster.Close();
  });
}

// Reviewer's finding: the validator passed an insert before its prewrite, and the commit
// then took longer than the lease while another Database's ADD INDEX went on to
// write-reorg (and public), so the row could commit after the backfill's snapshot with no
// index entry. The commit hook holds b's commit after its prewrite until a's DDL
// published write-reorg: by then b's lease ran out (a waited it out, b being silent), so
// the lease check just before the commit point rolls the insert back with 8027.
TEST(SchemaLeaseTest, CommitDelayedPastTheLeaseAfterPrewriteIsRolledBack) {
  OnFiber([] {
    Cluster cluster;
    ASSERT_TRUE(cluster.Open().ok());
    {
      std::unique_ptr<Database> a = cluster.NewDatabase();
      ASSERT_NE(a, nullptr);
      auto sa = a->NewSession();
      Ok(sa.get(), "USE test");
      Ok(sa.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
      Ok(sa.get(), "INSERT INTO t VALUES (1, 1), (2, 2)");
      // Two phases: a 1PC commit has no point between prewrite and commit (it is held
      // to max_commit_ts instead).
      std::unique_ptr<Database> b = cluster.NewDatabase(/*try_one_pc=*/false);
      ASSERT_NE(b, nullptr);
      auto sb = b->NewSession();
      Ok(sb.get(), "USE test");
      EXPECT_EQ(One(sb.get(), "SELECT COUNT(*) FROM t"), "2");

      Notification reorg;
      CatalogOf(a.get())->set_ddl_hook([&](const TableInfo& t) {
        for (const IndexInfo& i : t.indexes) {
          if (i.name == "iv" && i.state >= SchemaState::kWriteReorg) reorg.Notify();
        }
      });
      absl::StatusOr<ResultSet> ddl;
      WaitGroup ddl_done;
      int hooked = 0;
      CatalogOf(b.get())->set_commit_hook([&] {
        if (hooked++ > 0) return;
        ddl_done.Add(1);
        Env::Default()->Spawn([&] {
          ddl = sa->Execute("CREATE INDEX iv ON t (v)");
          ddl_done.Done();
        });
        // b holds its commit (prewritten, not committed) until a's index is backfilling.
        EXPECT_TRUE(reorg.WaitFor(Env::Default(), 60'000'000));
      });
      auto r = sb->Execute("INSERT INTO t VALUES (3, 3)");
      ASSERT_FALSE(r.ok());
      const MySqlErrorInfo e = MySqlErrorOf(r.status());
      EXPECT_EQ(e.code, kErInfoSchemaExpired) << r.status();
      EXPECT_EQ(hooked, 1);
      ddl_done.Wait();
      ASSERT_TRUE(ddl.ok()) << ddl.status();
      CatalogOf(a.get())->set_ddl_hook(nullptr);
      CatalogOf(b.get())->set_commit_hook(nullptr);
      // Nothing of the insert stayed; retried over the new schema it commits with its entry.
      EXPECT_EQ(One(sa.get(), "SELECT COUNT(*) FROM t"), "2");
      Ok(sb.get(), "INSERT INTO t VALUES (3, 3)");
      EXPECT_EQ(One(sa.get(), "SELECT id FROM t WHERE v = 3"), "3");
      auto t = CatalogOf(a.get())->GetTable("test", "t");
      ASSERT_TRUE(t.ok());
      absl::Status check = CatalogOf(a.get())->CheckIndexes(*t);
      EXPECT_TRUE(check.ok()) << check;
    }
    cluster.Close();
  });
}

}  // namespace
}  // namespace rutile::sql
