// CREATE TABLE, DROP TABLE and TRUNCATE as DDL jobs run by the owner (sql/catalog/ddl.cc):
// concurrent CREATE of one name, DML from another session at every state of DROP TABLE,
// the dropped table's keys and saved statistics removed, TRUNCATE under a new id.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/sql.h"
#include "sql/catalog/catalog.h"
#include "sql/catalog/meta.h"
#include "sql/codec/tablecodec.h"
#include "sql/kv/kv.h"
#include "sql/planner/analyze.h"
#include "txn/commands.h"

namespace rutile::sql {
namespace {

ResultSet Ok(Session* s, const std::string& sql) {
  auto r = s->Execute(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status();
  return r.ok() ? *std::move(r) : ResultSet();
}

uint16_t ErrCode(Session* s, const std::string& sql) {
  auto r = s->Execute(sql);
  if (r.ok()) return 0;
  return MySqlErrorOf(r.status()).code;
}

std::string One(Session* s, const std::string& sql) {
  ResultSet r = Ok(s, sql);
  if (r.rows.size() != 1 || r.rows[0].empty() || !r.rows[0][0].has_value()) return "<none>";
  return *r.rows[0][0];
}

class TableJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    catalog_ = CatalogOf(db_.get());
    a_ = db_->NewSession();
    b_ = db_->NewSession();
    Ok(a_.get(), "USE test");
    Ok(b_.get(), "USE test");
  }

  // Keys under t{id}: rows and index entries.
  size_t KeysOf(int64_t table_id) {
    auto txn = catalog_->store()->Begin();
    EXPECT_TRUE(txn.ok());
    const std::string start = codec::EncodeTablePrefix(table_id);
    auto r = (*txn)->Scan(start, codec::PrefixNext(start), 0, false);
    EXPECT_TRUE(r.ok()) << r.status();
    (*txn)->Rollback();
    return r.ok() ? r->size() : 0;
  }

  bool HasKey(const std::string& key) {
    auto txn = catalog_->store()->Begin();
    EXPECT_TRUE(txn.ok());
    auto v = (*txn)->Get(key);
    EXPECT_TRUE(v.ok());
    (*txn)->Rollback();
    return v.ok() && v->has_value();
  }

  int64_t IdOf(const std::string& name) {
    TablePtr t = catalog_->FindTable("test", name);
    return t == nullptr ? 0 : t->id;
  }

  std::unique_ptr<Database> db_;
  Catalog* catalog_ = nullptr;
  std::unique_ptr<Session> a_, b_;
};

// Two sessions race CREATE TABLE of one name (queued from both before either runs, or
// checked against the other's published table): exactly one wins, the other gets 1050.
TEST_F(TableJobsTest, ConcurrentCreateOfOneNameHasOneWinner) {
  for (int round = 0; round < 8; ++round) {
    const std::string sql =
        absl::StrCat("CREATE TABLE race", round, " (id INT PRIMARY KEY, v INT)");
    std::atomic<int> go{0};
    uint16_t code_a = 99, code_b = 99;
    std::thread ta([&] {
      go.fetch_add(1);
      while (go.load() < 2) {
      }
      code_a = ErrCode(a_.get(), sql);
    });
    std::thread tb([&] {
      go.fetch_add(1);
      while (go.load() < 2) {
      }
      code_b = ErrCode(b_.get(), sql);
    });
    ta.join();
    tb.join();
    EXPECT_TRUE((code_a == 0 && code_b == kErTableExists) ||
                (code_b == 0 && code_a == kErTableExists))
        << "round " << round << ": " << code_a << " / " << code_b;
    Ok(a_.get(), absl::StrCat("INSERT INTO race", round, " VALUES (1, 1)"));
    EXPECT_EQ(One(b_.get(), absl::StrCat("SELECT COUNT(*) FROM race", round)), "1");
  }
}

// Two catalogs over one store (two processes) race too: the owner's check decides.
TEST(TableJobsCatalogTest, TwoCatalogsCreateOneName) {
  kv::LocalKvStore store;
  Catalog a(&store), b(&store);
  a.SetLease(nullptr, 20'000, 2'000);
  b.SetLease(nullptr, 20'000, 2'000);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  ASSERT_TRUE(a.CreateDatabase("shop", false).ok());
  for (int round = 0; round < 6; ++round) {
    auto make = [&] {
      auto t = std::make_shared<TableInfo>();
      t->db = "shop";
      t->name = absl::StrCat("t", round);
      ColumnInfo c;
      c.id = 1;
      c.name = "id";
      c.type = FieldType::LongLong();
      t->columns = {c};
      t->handle_col = 0;
      return t;
    };
    absl::Status sa, sb;
    std::thread ta([&] { sa = a.AddTable(make()); });
    std::thread tb([&] { sb = b.AddTable(make()); });
    ta.join();
    tb.join();
    EXPECT_NE(sa.ok(), sb.ok()) << sa << " / " << sb;
    const absl::Status& lost = sa.ok() ? sb : sa;
    EXPECT_EQ(MySqlErrorOf(lost).code, kErTableExists) << lost;
  }
}

// DML from another session at every state of DROP TABLE: new statements get 1146, a
// transaction that wrote the table while it was public cannot commit (8028), and nothing
// is left under the table's prefix, nor its saved statistics.
TEST_F(TableJobsTest, DmlDuringDropTableErrorsAndWritesNothing) {
  Ok(a_.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT, KEY iv (v))");
  for (int i = 1; i <= 20; ++i)
    Ok(a_.get(), absl::StrCat("INSERT INTO t VALUES (", i, ", ", i, ")"));
  Ok(a_.get(), "ANALYZE TABLE t");
  const int64_t id = IdOf("t");
  ASSERT_NE(id, 0);
  EXPECT_GT(KeysOf(id), 20u);
  EXPECT_TRUE(HasKey(StatsKey(id)));

  // A transaction that wrote t while it was public, committing after the drop began.
  auto late = db_->NewSession();
  Ok(late.get(), "USE test");
  Ok(late.get(), "BEGIN OPTIMISTIC");
  Ok(late.get(), "INSERT INTO t VALUES (100, 100)");

  std::vector<std::string> states;
  int next = 1000;
  catalog_->set_ddl_hook([&](const TableInfo& t) {
    if (t.id != id) return;
    states.push_back(std::string(SchemaStateName(t.state)));
    ++next;
    EXPECT_EQ(ErrCode(b_.get(), absl::StrCat("INSERT INTO t VALUES (", next, ", 1)")),
              kErNoSuchTable)
        << states.back();
    EXPECT_EQ(ErrCode(b_.get(), "UPDATE t SET v = v + 1"), kErNoSuchTable) << states.back();
    EXPECT_EQ(ErrCode(b_.get(), "SELECT * FROM t"), kErNoSuchTable) << states.back();
    if (t.state == SchemaState::kDeleteOnly) {
      // Stale at this point: two states behind.
      EXPECT_EQ(ErrCode(late.get(), "COMMIT"), kErInfoSchemaChanged);
    }
  });
  Ok(a_.get(), "DROP TABLE t");
  catalog_->set_ddl_hook(nullptr);
  EXPECT_EQ(states, (std::vector<std::string>{"write only", "delete only", "none"}));
  EXPECT_EQ(ErrCode(b_.get(), "SELECT * FROM t"), kErNoSuchTable);
  EXPECT_EQ(ErrCode(b_.get(), "INSERT INTO t VALUES (1, 1)"), kErNoSuchTable);
  EXPECT_EQ(KeysOf(id), 0u);
  EXPECT_FALSE(HasKey(StatsKey(id)));
  // No delete-range record is left behind.
  {
    auto txn = catalog_->store()->Begin();
    ASSERT_TRUE(txn.ok());
    auto recs = Meta(txn->get()).ListDeleteRanges();
    ASSERT_TRUE(recs.ok());
    EXPECT_TRUE(recs->empty());
    (*txn)->Rollback();
  }
  // The name is free again; the new table is a new id with nothing in it.
  Ok(a_.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
  EXPECT_NE(IdOf("t"), id);
  EXPECT_EQ(One(b_.get(), "SELECT COUNT(*) FROM t"), "0");
  EXPECT_EQ(ErrCode(a_.get(), "DROP TABLE nosuch"), kErBadTable);
  Ok(a_.get(), "DROP TABLE IF EXISTS nosuch");
}

// A transaction holding writes of a table commits into nothing after DROP TABLE finished.
TEST_F(TableJobsTest, CommitAfterDropFinishedFails) {
  Ok(a_.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
  const int64_t id = IdOf("t");
  Ok(b_.get(), "BEGIN OPTIMISTIC");
  Ok(b_.get(), "INSERT INTO t VALUES (1, 1)");
  Ok(a_.get(), "DROP TABLE t");
  EXPECT_EQ(ErrCode(b_.get(), "COMMIT"), kErInfoSchemaChanged);
  EXPECT_EQ(KeysOf(id), 0u);
}

TEST_F(TableJobsTest, TruncateIsANewIdAndTheOldKeysGo) {
  Ok(a_.get(), "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, UNIQUE KEY uv (v))");
  for (int i = 1; i <= 10; ++i) Ok(a_.get(), absl::StrCat("INSERT INTO t (v) VALUES (", i, ")"));
  Ok(a_.get(), "ANALYZE TABLE t");
  const int64_t old_id = IdOf("t");
  EXPECT_GT(KeysOf(old_id), 10u);
  Ok(b_.get(), "BEGIN OPTIMISTIC");
  Ok(b_.get(), "INSERT INTO t (v) VALUES (77)");
  Ok(a_.get(), "TRUNCATE TABLE t");
  const int64_t new_id = IdOf("t");
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(ErrCode(b_.get(), "COMMIT"), kErInfoSchemaChanged);
  EXPECT_EQ(KeysOf(old_id), 0u);
  EXPECT_FALSE(HasKey(StatsKey(old_id)));
  EXPECT_EQ(One(a_.get(), "SELECT COUNT(*) FROM t"), "0");
  Ok(b_.get(), "INSERT INTO t (v) VALUES (5)");
  EXPECT_EQ(One(a_.get(), "SELECT id FROM t"), "1");
  // The unique index works on the new id.
  EXPECT_EQ(ErrCode(b_.get(), "INSERT INTO t (v) VALUES (5)"), kErDupEntry);
  EXPECT_EQ(ErrCode(a_.get(), "TRUNCATE TABLE nosuch"), kErNoSuchTable);
}

// CREATE / DROP DATABASE are jobs the DDL owner runs, like CREATE / DROP TABLE: with
// another live owner holding the lease they stay queued (8214) and the next owner runs the
// queue in order; the owner checks names against the store.
TEST(DatabaseJobsTest, CreateAndDropDatabaseAreOwnerJobs) {
  kv::LocalKvStore store;
  Catalog a(&store), b(&store);
  a.SetLease(nullptr, 20'000, 2'000);
  b.SetLease(nullptr, 20'000, 2'000);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  auto hold = [&](uint64_t expiry) {
    auto w = store.Begin();
    ASSERT_TRUE(w.ok());
    Meta((*w).get()).SetOwner("elsewhere", expiry);
    ASSERT_TRUE((*w)->Commit().ok());
  };
  hold(UINT64_MAX);
  EXPECT_EQ(MySqlErrorOf(a.CreateDatabase("shop", false)).code, 8214);
  EXPECT_FALSE(a.HasDatabase("shop"));
  hold(1);
  ASSERT_TRUE(a.CreateDatabase("depot", false).ok());  // Runs "shop" first.
  EXPECT_TRUE(a.HasDatabase("shop"));
  EXPECT_TRUE(a.HasDatabase("depot"));
  EXPECT_EQ(MySqlErrorOf(a.CreateDatabase("SHOP", false)).code, kErDbCreateExists);
  EXPECT_TRUE(a.CreateDatabase("shop", true).ok());
  // b has not loaded "shop" yet; the owner's check against the store refuses it.
  EXPECT_EQ(MySqlErrorOf(b.CreateDatabase("Shop", false)).code, kErDbCreateExists);
  EXPECT_TRUE(b.HasDatabase("shop"));
  hold(UINT64_MAX);
  EXPECT_EQ(MySqlErrorOf(b.DropDatabase("shop", false, nullptr)).code, 8214);
  EXPECT_TRUE(b.HasDatabase("shop"));
  hold(1);
  ASSERT_TRUE(b.DropDatabase("depot", false, nullptr).ok());
  EXPECT_FALSE(b.HasDatabase("shop"));
  EXPECT_FALSE(b.HasDatabase("depot"));
  EXPECT_EQ(MySqlErrorOf(a.DropDatabase("shop", false, nullptr)).code, kErDbDropExists);
  EXPECT_TRUE(a.DropDatabase("shop", true, nullptr).ok());
}

// DROP DATABASE deletes its tables' keys through delete-range records written by the
// job's own transaction. Before, the session deleted them itself after the drop had
// committed: when that failed (here: a lock left by a dead transaction that the delete
// could not get past), the database was gone and its rows stayed forever. Now the record
// stays until the owner's next run succeeds.
TEST_F(TableJobsTest, DropDatabaseLeavesNoRowsEvenWhenItsDeleteFails) {
  Ok(a_.get(), "CREATE DATABASE shop");
  Ok(a_.get(), "CREATE TABLE shop.t (id INT PRIMARY KEY, v INT, KEY iv (v))");
  Ok(a_.get(), "CREATE TABLE shop.u (id INT PRIMARY KEY)");
  Ok(a_.get(), "CREATE VIEW shop.w AS SELECT id FROM shop.u");
  for (int i = 1; i <= 20; ++i) {
    Ok(a_.get(), absl::StrCat("INSERT INTO shop.t VALUES (", i, ", ", i, ")"));
    Ok(a_.get(), absl::StrCat("INSERT INTO shop.u VALUES (", i, ")"));
  }
  Ok(a_.get(), "ANALYZE TABLE shop.t");
  const int64_t t = catalog_->FindTable("shop", "t")->id;
  const int64_t u = catalog_->FindTable("shop", "u")->id;
  EXPECT_GT(KeysOf(t), 20u);
  EXPECT_TRUE(HasKey(StatsKey(t)));
  // A dead transaction's lock on a row of t (never resolved in the local store).
  auto* local = dynamic_cast<kv::LocalKvStore*>(catalog_->store());
  ASSERT_NE(local, nullptr);
  txn::PrewriteRequest pw;
  const std::string locked = codec::EncodeRowKey(t, 7);
  pw.mutations.push_back(txn::Mutation::Put(locked, "x"));
  pw.primary = locked;
  pw.start_ts = local->NextTs();
  pw.lock_ttl = 600'000;
  ASSERT_TRUE(local->storage()->Prewrite(pw).ok());
  // A transaction that wrote t while the database was there cannot commit after it.
  Ok(b_.get(), "BEGIN OPTIMISTIC");
  Ok(b_.get(), "INSERT INTO shop.t VALUES (100, 100)");
  ResultSet r = Ok(a_.get(), "DROP DATABASE shop");
  EXPECT_EQ(r.affected_rows, 3u);
  EXPECT_EQ(ErrCode(b_.get(), "COMMIT"), kErInfoSchemaChanged);
  EXPECT_FALSE(HasKey(StatsKey(t)));
  EXPECT_NE(ErrCode(a_.get(), "SELECT * FROM shop.t"), 0);
  // The lock's owner is rolled back; the owner's next run deletes what was left.
  txn::RollbackRequest rb;
  rb.keys = {locked};
  rb.start_ts = pw.start_ts;
  ASSERT_TRUE(local->storage()->Rollback(rb).ok());
  Ok(a_.get(), "CREATE DATABASE other");
  EXPECT_EQ(KeysOf(t), 0u);
  EXPECT_EQ(KeysOf(u), 0u);
  {
    auto txn = catalog_->store()->Begin();
    ASSERT_TRUE(txn.ok());
    auto recs = Meta(txn->get()).ListDeleteRanges();
    ASSERT_TRUE(recs.ok());
    EXPECT_TRUE(recs->empty());
    (*txn)->Rollback();
  }
  EXPECT_EQ(ErrCode(a_.get(), "DROP DATABASE shop"), kErDbDropExists);
  Ok(a_.get(), "DROP DATABASE IF EXISTS shop");
  Ok(a_.get(), "CREATE DATABASE shop");
  EXPECT_EQ(ErrCode(a_.get(), "SELECT * FROM shop.t"), kErNoSuchTable);
}

}  // namespace
}  // namespace rutile::sql
