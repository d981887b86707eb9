// The catalog in meta keys (persistence, id ranges, reload across catalogs) and online
// index changes through F1's states with DML from other sessions at every state and
// backfill batch, checked by Catalog::CheckIndexes (every row has its entry, no extra).

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/sql.h"
#include "sql/catalog/catalog.h"
#include "sql/catalog/meta.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/kv/kv.h"

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

// A short schema lease for catalogs of one test: a schema change waits at most this long
// for a catalog that does not report the new version (catalog.h).
void ShortLease(Catalog* c) { c->SetLease(nullptr, 20'000, 2'000); }

std::shared_ptr<TableInfo> SampleTable() {
  auto t = std::make_shared<TableInfo>();
  t->db = "shop";
  t->name = "Items";
  ColumnInfo id;
  id.id = 1;
  id.name = "id";
  id.type = FieldType::LongLong();
  id.auto_increment = true;
  ColumnInfo name;
  name.id = 2;
  name.name = "name";
  name.type = FieldType::Varchar(20);
  name.has_default = true;
  name.default_value = Datum::String("none");
  t->columns = {id, name};
  t->handle_col = 0;
  IndexInfo idx;
  idx.id = 1;
  idx.name = "by_name";
  idx.columns = {1};
  idx.unique = true;
  t->indexes = {idx};
  return t;
}

TEST(CatalogMetaTest, SurvivesAReopenAndIdsStayUnique) {
  kv::LocalKvStore store;
  int64_t first_id = 0;
  {
    Catalog c(&store);
    ShortLease(&c);
    ASSERT_TRUE(c.Load().ok());
    ASSERT_TRUE(c.CreateDatabase("shop", false).ok());
    ASSERT_TRUE(c.AddTable(SampleTable()).ok());
    auto t = c.GetTable("shop", "items");
    ASSERT_TRUE(t.ok()) << t.status();
    auto a = (*t)->next_id->Next();
    auto b = (*t)->next_id->Next();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, 1);
    EXPECT_EQ(*b, 2);
    first_id = (*t)->id;
    EXPECT_GE(first_id, 100);
  }
  // A new catalog over the same store (a restart) sees everything.
  Catalog c(&store);
  ASSERT_TRUE(c.Load().ok());
  ASSERT_TRUE(c.HasDatabase("SHOP"));
  auto t = c.GetTable("shop", "Items");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->id, first_id);
  ASSERT_EQ((*t)->columns.size(), 2u);
  EXPECT_EQ((*t)->columns[1].name, "name");
  EXPECT_EQ((*t)->columns[1].type, FieldType::Varchar(20));
  EXPECT_EQ((*t)->columns[1].default_value.GetString(), "none");
  EXPECT_TRUE((*t)->columns[0].auto_increment);
  ASSERT_EQ((*t)->indexes.size(), 1u);
  EXPECT_TRUE((*t)->indexes[0].unique);
  EXPECT_TRUE((*t)->indexes[0].Public());
  // AUTO_INCREMENT continues above every range the first catalog reserved.
  auto next = (*t)->next_id->Next();
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, 2);
  // A second table gets a fresh id.
  auto t2 = SampleTable();
  t2->name = "other";
  ASSERT_TRUE(c.AddTable(t2).ok());
  EXPECT_GT(t2->id, first_id);
  EXPECT_EQ(c.CreateDatabase("shop", false).code(), absl::StatusCode::kAlreadyExists);
}

TEST(CatalogMetaTest, SyncReloadsChangesOfAnotherCatalog) {
  kv::LocalKvStore store;
  Catalog a(&store), b(&store);
  ShortLease(&a);
  ShortLease(&b);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  ASSERT_TRUE(a.CreateDatabase("shop", false).ok());
  ASSERT_TRUE(a.AddTable(SampleTable()).ok());
  EXPECT_FALSE(b.HasDatabase("shop"));
  auto txn = store.Begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(b.Sync(txn->get()).ok());
  EXPECT_TRUE(b.HasDatabase("shop"));
  EXPECT_NE(b.FindTable("shop", "items"), nullptr);
  EXPECT_EQ(b.schema_version(), a.schema_version());
  // b's stale view makes its change conflict-free: it reloads first, then sees the name.
  EXPECT_EQ(b.AddTable(SampleTable()).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(a.RemoveTable("shop", "items").ok());
  auto txn2 = store.Begin();
  ASSERT_TRUE(txn2.ok());
  ASSERT_TRUE(b.Sync(txn2->get()).ok());
  EXPECT_EQ(b.FindTable("shop", "items"), nullptr);
}

TEST(CatalogMetaTest, CorruptValuesAreErrorsNotCrashes) {
  std::string good = EncodeTableInfo(*SampleTable());
  ASSERT_TRUE(DecodeTableInfo(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeTableInfo(good.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DecodeTableInfo(good + "x").ok());
  EXPECT_FALSE(DecodeDdlJob("garbage").ok());
}

IndexInfo NewIndex(int64_t id, const std::string& name) {
  IndexInfo i;
  i.id = id;
  i.name = name;
  i.columns = {1};
  return i;
}

// The job queue is shared through the store; one owner (the lease key) runs every
// catalog's jobs.
TEST(DdlOwnerTest, TheOwnerRunsJobsQueuedByAnotherCatalog) {
  kv::LocalKvStore store;
  Catalog a(&store), b(&store);
  ShortLease(&a);
  ShortLease(&b);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  ASSERT_TRUE(a.CreateDatabase("shop", false).ok());
  ASSERT_TRUE(a.AddTable(SampleTable()).ok());
  auto ta = a.GetTable("shop", "items");
  ASSERT_TRUE(ta.ok());
  ASSERT_TRUE(a.AddIndexOnline(*ta, NewIndex(2, "n2")).ok());
  // Another live owner holds the lease (as if in the middle of its own job).
  auto hold = [&](uint64_t expiry) {
    auto w = store.Begin();
    ASSERT_TRUE(w.ok());
    Meta((*w).get()).SetOwner("elsewhere", expiry);
    ASSERT_TRUE((*w)->Commit().ok());
  };
  hold(UINT64_MAX);
  auto txn = store.Begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(b.Sync(txn->get()).ok());
  auto tb = b.GetTable("shop", "items");
  ASSERT_TRUE(tb.ok());
  ASSERT_EQ((*tb)->indexes.size(), 2u);
  absl::Status queued = b.AddIndexOnline(*tb, NewIndex(3, "n3"));
  EXPECT_EQ(MySqlErrorOf(queued).code, 8214) << queued;
  EXPECT_EQ(MySqlErrorOf(a.AddIndexOnline(*ta, NewIndex(4, "n4"))).code, 8214);
  // The lease expires; the next DDL takes it and runs the queue in order.
  hold(1);
  ASSERT_TRUE(a.AddIndexOnline(*ta, NewIndex(6, "n6")).ok());
  // An idle owner gives the lease up: b runs its own DDL at once.
  auto txn3 = store.Begin();
  ASSERT_TRUE(txn3.ok());
  ASSERT_TRUE(b.Sync(txn3->get()).ok());
  auto tb2 = b.GetTable("shop", "items");
  ASSERT_TRUE(tb2.ok());
  ASSERT_TRUE(b.DropIndexOnline(*tb2, 6).ok());
  // A job whose name is taken by then is cancelled with 1061 and changes nothing.
  EXPECT_EQ(MySqlErrorOf(a.AddIndexOnline(*ta, NewIndex(5, "N3"))).code, kErDupKeyName);
  auto sync = store.Begin();
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(a.Sync(sync->get()).ok());
  auto t = a.GetTable("shop", "items");
  ASSERT_TRUE(t.ok());
  std::vector<std::string> names;
  for (const IndexInfo& i : (*t)->indexes) {
    EXPECT_TRUE(i.Public()) << i.name;
    names.push_back(i.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"by_name", "n2", "n3", "n4"}));
  EXPECT_TRUE(a.CheckIndexes(*t).ok());
}

// The owner loads other catalogs' changes before each step: a step never moves its cache
// to a version whose changes it has not loaded.
TEST(DdlOwnerTest, OwnerLoadsOtherCatalogsChangesBeforeEachStep) {
  kv::LocalKvStore store;
  Catalog a(&store), b(&store);
  ShortLease(&a);
  ShortLease(&b);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  ASSERT_TRUE(a.CreateDatabase("shop", false).ok());
  ASSERT_TRUE(a.AddTable(SampleTable()).ok());
  // b adds a table and a database a has not loaded.
  auto other = SampleTable();
  other->name = "other";
  ASSERT_TRUE(b.AddTable(other).ok());
  ASSERT_TRUE(b.CreateDatabase("depot", false).ok());
  auto ta = a.GetTable("shop", "items");
  ASSERT_TRUE(ta.ok());
  ASSERT_TRUE(a.AddIndexOnline(*ta, NewIndex(2, "n2")).ok());
  EXPECT_NE(a.FindTable("shop", "other"), nullptr);
  EXPECT_TRUE(a.HasDatabase("depot"));
  auto txn = store.Begin();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(a.Sync(txn->get()).ok());
  ASSERT_TRUE(b.Sync(txn->get()).ok());
  EXPECT_NE(a.FindTable("shop", "other"), nullptr);
  EXPECT_EQ(a.schema_version(), b.schema_version());
  auto items = a.GetTable("shop", "items");
  ASSERT_TRUE(items.ok());
  EXPECT_EQ((*items)->indexes.size(), 2u);
  EXPECT_TRUE((*items)->indexes[1].Public());
}

class OnlineDdlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    catalog_ = CatalogOf(db_.get());
    catalog_->set_backfill_batch(8);
    ddl_ = db_->NewSession();
    dml_ = db_->NewSession();
    late_ = db_->NewSession();
    for (Session* s : {ddl_.get(), dml_.get(), late_.get()}) Ok(s, "USE test");
    Ok(ddl_.get(), "CREATE TABLE t (id INT PRIMARY KEY, v INT, w VARCHAR(10))");
    for (int i = 1; i <= 60; ++i) {
      Ok(ddl_.get(), absl::StrCat("INSERT INTO t VALUES (", i, ", ", i % 7, ", 'w", i, "')"));
    }
  }

  void CheckIndexes() {
    auto t = catalog_->GetTable("test", "t");
    ASSERT_TRUE(t.ok());
    absl::Status s = catalog_->CheckIndexes(*t);
    EXPECT_TRUE(s.ok()) << s;
  }

  static SchemaState StateOf(const TableInfo& t, const std::string& name) {
    for (const IndexInfo& i : t.indexes) {
      if (i.name == name) return i.state;
    }
    return SchemaState::kNone;
  }

  std::unique_ptr<Database> db_;
  Catalog* catalog_ = nullptr;
  std::unique_ptr<Session> ddl_, dml_, late_;
};

TEST_F(OnlineDdlTest, AddIndexWithDmlAtEveryStateAndBatch) {
  int step = 0;
  int next_id = 1000;
  std::vector<SchemaState> seen;
  bool late_open = false;
  int late_ok = 0;
  int64_t late_revision = -1;
  catalog_->set_ddl_hook([&](const TableInfo& t) {
    SchemaState st = StateOf(t, "iv");
    seen.push_back(st);
    ++step;
    // Readers use the index only once it is public, and only then do SHOW INDEX,
    // information_schema and SHOW CREATE TABLE list it.
    EXPECT_EQ(One(dml_.get(), "SELECT COUNT(*) FROM t WHERE v = 3"),
              One(dml_.get(), "SELECT COUNT(*) FROM t WHERE v + 0 = 3"));
    const size_t listed = st == SchemaState::kPublic ? 1 : 0;
    EXPECT_EQ(Ok(dml_.get(), "SHOW INDEX FROM t").rows.size(), 1 + listed);
    EXPECT_EQ(One(dml_.get(),
                  "SELECT COUNT(*) FROM information_schema.STATISTICS "
                  "WHERE TABLE_NAME = 't' AND INDEX_NAME = 'iv'"),
              absl::StrCat(listed));
    ResultSet create = Ok(dml_.get(), "SHOW CREATE TABLE t");
    ASSERT_EQ(create.rows.size(), 1u);
    EXPECT_EQ(create.rows[0][1]->find("KEY `iv` (`v`)") != std::string::npos, listed == 1)
        << *create.rows[0][1];
    // Inserts, updates that move index entries, deletes, and an update of a row the
    // backfill has not reached yet, from another session, in autocommit transactions.
    for (int k = 0; k < 2; ++k) {
      int id = next_id++;
      auto r = dml_->Execute(absl::StrCat("INSERT INTO t VALUES (", id, ", ", id % 5, ", 'n')"));
      EXPECT_TRUE(r.ok()) << r.status();
    }
    Ok(dml_.get(), absl::StrCat("UPDATE t SET v = v + 10 WHERE id = ", step));
    Ok(dml_.get(), absl::StrCat("UPDATE t SET v = v + 1 WHERE id = ", 61 - step));
    Ok(dml_.get(), absl::StrCat("DELETE FROM t WHERE id = ", 30 + step));
    // An explicit transaction that spans a state change is refused (8028, the schema
    // validator) and changes nothing; one that spans only a backfill batch commits unless
    // the batch wrote the same index entry (a write conflict, 1213, changes nothing).
    if (late_open) {
      auto r = late_->Execute("COMMIT");
      if (!r.ok()) {
        EXPECT_EQ(MySqlErrorOf(r.status()).code, t.revision != late_revision ? 8028 : 1213)
            << r.status();
      } else {
        EXPECT_EQ(t.revision, late_revision);
      }
      late_ok += r.ok() ? 1 : 0;
      late_open = false;
    } else {
      late_revision = t.revision;
      // Optimistic: a pessimistic transaction's row locks would make the backfill, run
      // by this same thread, wait for them.
      Ok(late_.get(), "BEGIN OPTIMISTIC");
      Ok(late_.get(), absl::StrCat("INSERT INTO t VALUES (", next_id++, ", 3, 'late')"));
      // The row the other session just inserted: no write conflict with its statements.
      Ok(late_.get(), absl::StrCat("UPDATE t SET v = v + 100 WHERE id = ", next_id - 2));
      late_open = true;
    }
  });
  Ok(ddl_.get(), "ALTER TABLE t ADD INDEX iv (v)");
  catalog_->set_ddl_hook(nullptr);
  if (late_open) Ok(late_.get(), "COMMIT");
  // Every state was visited, in order, with several backfill batches in write-reorg.
  std::vector<SchemaState> distinct;
  for (SchemaState s : seen) {
    if (distinct.empty() || distinct.back() != s) distinct.push_back(s);
  }
  EXPECT_EQ(distinct, (std::vector<SchemaState>{SchemaState::kDeleteOnly, SchemaState::kWriteOnly,
                                                SchemaState::kWriteReorg, SchemaState::kPublic}));
  EXPECT_GE(std::count(seen.begin(), seen.end(), SchemaState::kWriteReorg), 5);
  EXPECT_GT(late_ok, 0);
  CheckIndexes();
  // The index serves reads and agrees with a full scan.
  for (int v = 0; v < 120; v += 13) {
    EXPECT_EQ(One(ddl_.get(), absl::StrCat("SELECT COUNT(*) FROM t WHERE v = ", v)),
              One(ddl_.get(), absl::StrCat("SELECT COUNT(*) FROM t WHERE v + 0 = ", v)))
        << v;
  }
  ResultSet idx = Ok(ddl_.get(), "SHOW INDEX FROM t");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(*idx.rows[1][2], "iv");
  // DML after the change keeps the index exact.
  Ok(dml_.get(), "UPDATE t SET v = v * 2");
  Ok(dml_.get(), "DELETE FROM t WHERE id % 3 = 0");
  CheckIndexes();
}

TEST_F(OnlineDdlTest, StaleTransactionTwoStatesBehindCannotCommit) {
  int calls = 0;
  catalog_->set_ddl_hook([&](const TableInfo& t) {
    ++calls;
    if (StateOf(t, "iv") == SchemaState::kDeleteOnly) {
      Ok(late_.get(), "BEGIN OPTIMISTIC");  // No locks the backfill would wait for.
      Ok(late_.get(), "INSERT INTO t VALUES (500, 4, 'stale')");
    }
  });
  Ok(ddl_.get(), "CREATE INDEX iv ON t (v)");
  catalog_->set_ddl_hook(nullptr);
  // Written in delete-only (no index entry), now public: must fail, not corrupt.
  EXPECT_EQ(ErrCode(late_.get(), "COMMIT"), kErInfoSchemaChanged);
  EXPECT_EQ(One(ddl_.get(), "SELECT COUNT(*) FROM t WHERE id = 500"), "0");
  CheckIndexes();
}

// F1 across catalogs: catalog b never loads a's steps; its DML, written for the table as
// b knows it (no index), must not commit once the store holds a state two steps on.
TEST_F(OnlineDdlTest, StaleCatalogCannotCommitTwoStatesBehind) {
  kv::KvStore* store = catalog_->store();
  Catalog b(store);
  // b never refreshes on its own (no statements run on it): with a short lease the owner
  // waits 50 ms per step for it, and b reloads before validating.
  b.SetLease(nullptr, 50'000, 5'000);
  ASSERT_TRUE(b.Load().ok());
  TablePtr tb = b.FindTable("test", "t");
  ASSERT_NE(tb, nullptr);
  ASSERT_EQ(tb->indexes.size(), 0u);
  // Deletes the row `id` as b sees the table (no index entry to remove).
  auto stale_delete = [&](int64_t id) {
    auto txn = store->Begin();
    if (!txn.ok()) return txn.status();
    (*txn)->Delete(codec::EncodeRowKey(tb->id, id));
    std::map<int64_t, int64_t> used = {{tb->id, tb->revision}};
    return b.CommitChecked(used, txn->get());
  };
  int reorg_calls = 0;
  std::vector<uint16_t> codes;
  catalog_->set_ddl_hook([&](const TableInfo& t) {
    SchemaState st = StateOf(t, "iv");
    // After the first backfill batch (rows 1..8 have entries), and once public.
    if (st == SchemaState::kWriteReorg && ++reorg_calls == 2) {
      codes.push_back(MySqlErrorOf(stale_delete(5)).code);
    } else if (st == SchemaState::kPublic) {
      codes.push_back(MySqlErrorOf(stale_delete(6)).code);
    }
  });
  Ok(ddl_.get(), "ALTER TABLE t ADD INDEX iv (v)");
  catalog_->set_ddl_hook(nullptr);
  EXPECT_EQ(codes, (std::vector<uint16_t>{kErInfoSchemaChanged, kErInfoSchemaChanged}));
  EXPECT_EQ(One(ddl_.get(), "SELECT COUNT(*) FROM t WHERE id IN (5, 6)"), "2");
  CheckIndexes();
  // Once b loads the change, its view includes the index and it may write again.
  auto sync = store->Begin();
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(b.Sync(sync->get()).ok());
  (*sync)->Rollback();
  tb = b.FindTable("test", "t");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->indexes.size(), 1u);
  auto txn = store->Begin();
  ASSERT_TRUE(txn.ok());
  EXPECT_TRUE(b.CommitChecked({{tb->id, tb->revision}}, txn->get()).ok());
}

TEST_F(OnlineDdlTest, UniqueIndexOverDuplicatesRollsBack) {
  int in_reorg = 0;
  catalog_->set_ddl_hook([&](const TableInfo& t) {
    if (StateOf(t, "uv") == SchemaState::kWriteReorg) {
      ++in_reorg;
      // A writer in write-reorg meets the unique check of the index being built.
      if (in_reorg == 1) {
        Ok(dml_.get(), "INSERT INTO t VALUES (700, 70, 'u')");
        EXPECT_EQ(ErrCode(dml_.get(), "INSERT INTO t VALUES (701, 70, 'u')"), 1062);
      }
    }
  });
  // v repeats (i % 7): the backfill finds a duplicate.
  EXPECT_EQ(ErrCode(ddl_.get(), "ALTER TABLE t ADD UNIQUE INDEX uv (v)"), 1062);
  catalog_->set_ddl_hook(nullptr);
  EXPECT_GT(in_reorg, 0);
  auto t = catalog_->GetTable("test", "t");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE((*t)->indexes.empty());
  EXPECT_EQ(Ok(ddl_.get(), "SHOW INDEX FROM t").rows.size(), 1u);
  // No entries of the rolled-back index remain, and the name is free again.
  auto txn = catalog_->store()->Begin();
  ASSERT_TRUE(txn.ok());
  auto all = (*txn)->Scan("", "", 0, false);
  ASSERT_TRUE(all.ok());
  int index_keys = 0;
  for (const kv::Pair& p : *all) index_keys += codec::IsIndexKey(p.key) ? 1 : 0;
  EXPECT_EQ(index_keys, 0);
  Ok(ddl_.get(), "DELETE FROM t WHERE id > 7");
  Ok(ddl_.get(), "ALTER TABLE t ADD UNIQUE INDEX uv (v)");
  EXPECT_EQ(ErrCode(dml_.get(), "INSERT INTO t VALUES (900, 1, 'dup')"), 1062);
  CheckIndexes();
}

TEST_F(OnlineDdlTest, DropIndexWithDmlAtEveryState) {
  Ok(ddl_.get(), "CREATE INDEX iv ON t (v)");
  Ok(ddl_.get(), "CREATE INDEX iw ON t (w)");
  int n = 0;
  catalog_->set_ddl_hook([&](const TableInfo&) {
    ++n;
    Ok(dml_.get(), absl::StrCat("INSERT INTO t VALUES (", 800 + n, ", 1, 'd')"));
    Ok(dml_.get(), absl::StrCat("UPDATE t SET v = v + 1, w = 'x' WHERE id = ", n));
    Ok(dml_.get(), absl::StrCat("DELETE FROM t WHERE id = ", 40 + n));
  });
  Ok(ddl_.get(), "DROP INDEX iv ON t");
  catalog_->set_ddl_hook(nullptr);
  EXPECT_EQ(n, 3);  // write-only, delete-only, gone
  auto t = catalog_->GetTable("test", "t");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ((*t)->indexes.size(), 1u);
  EXPECT_EQ((*t)->indexes[0].name, "iw");
  CheckIndexes();
  EXPECT_EQ(ErrCode(ddl_.get(), "DROP INDEX iv ON t"), 1091);
  // The dropped index's entries are gone.
  auto txn = catalog_->store()->Begin();
  ASSERT_TRUE(txn.ok());
  auto all = (*txn)->Scan("", "", 0, false);
  ASSERT_TRUE(all.ok());
  size_t index_keys = 0;
  for (const kv::Pair& p : *all) index_keys += codec::IsIndexKey(p.key) ? 1 : 0;
  EXPECT_EQ(index_keys, static_cast<size_t>(std::stoi(One(ddl_.get(), "SELECT COUNT(*) FROM t"))));
}

// Real concurrency: two threads run DML in their own sessions for as long as ADD INDEX
// runs (interleaving is up to the scheduler; the outcome checked is not): every statement
// either succeeds or fails with a retryable error, and the index ends exact.
TEST_F(OnlineDdlTest, AddIndexWhileThreadsRunDml) {
  catalog_->set_backfill_batch(4);
  std::atomic<bool> stop{false};
  std::atomic<int> ok_statements{0};
  auto worker = [&](int base) {
    auto s = db_->NewSession();
    Ok(s.get(), "USE test");
    for (int i = 0; !stop.load() || i < 20; ++i) {
      std::string sql;
      switch (i % 4) {
        case 0:
          sql = absl::StrCat("INSERT INTO t VALUES (", base + i, ", ", i % 9, ", 'x')");
          break;
        case 1:
          sql = absl::StrCat("UPDATE t SET v = v + 1 WHERE id = ", 1 + (base / 1000 + i) % 60);
          break;
        case 2:
          sql = absl::StrCat("DELETE FROM t WHERE id = ", base + i - 2);
          break;
        default:
          sql = absl::StrCat("UPDATE t SET v = ", i % 5, " WHERE id = ", base + i - 3);
          break;
      }
      auto r = s->Execute(sql);
      if (r.ok()) {
        ok_statements.fetch_add(1);
      } else {
        uint16_t code = MySqlErrorOf(r.status()).code;
        // 1213 write conflict, 1205 a lock of an in-flight backfill batch, 8028 schema.
        EXPECT_TRUE(code == 1213 || code == 1205 || code == kErInfoSchemaChanged)
            << sql << ": " << r.status();
      }
    }
  };
  std::thread t1(worker, 10000), t2(worker, 20000);
  Ok(ddl_.get(), "CREATE INDEX iv ON t (v)");
  stop.store(true);
  t1.join();
  t2.join();
  EXPECT_GT(ok_statements.load(), 0);
  CheckIndexes();
  EXPECT_EQ(One(ddl_.get(), "SELECT COUNT(*) FROM t WHERE v = 3"),
            One(ddl_.get(), "SELECT COUNT(*) FROM t WHERE v + 0 = 3"));
}

// ADD COLUMN and DROP COLUMN through F1's states with DML from another session at every
// state. A writer at write-only keeps a value a catalog one state ahead (public) stored.
TEST_F(OnlineDdlTest, AddAndDropColumnWithDmlAtEveryState) {
  Ok(ddl_.get(), "CREATE INDEX iv ON t (v)");
  auto state_of_x = [](const TableInfo& t) -> std::string {
    if (t.FindColumn("x") >= 0) return "public";
    for (const ColumnInfo& c : t.changing_columns) {
      if (c.name == "x") return std::string(SchemaStateName(c.state));
    }
    return "none";
  };
  std::vector<std::string> seen;
  int n = 0;
  bool stored = false;
  catalog_->set_ddl_hook([&](const TableInfo& t) {
    const std::string st = state_of_x(t);
    seen.push_back(st);
    ++n;
    Ok(dml_.get(), absl::StrCat("INSERT INTO t (id, v, w) VALUES (", 900 + n, ", ", n, ", 'c')"));
    Ok(dml_.get(), absl::StrCat("UPDATE t SET v = v + 1 WHERE id = ", n));
    Ok(dml_.get(), absl::StrCat("DELETE FROM t WHERE id = ", 40 + n));
    EXPECT_EQ(ErrCode(dml_.get(), "SELECT x FROM t WHERE id = 1") == 0, st == "public") << st;
    if (!stored && st == SchemaStateName(SchemaState::kWriteOnly)) {
      // Row 5 as a catalog where x is already public writes it: x = 77.
      int64_t x_id = 0;
      for (const ColumnInfo& c : t.changing_columns) {
        if (c.name == "x") x_id = c.id;
      }
      const std::string v = One(dml_.get(), "SELECT v FROM t WHERE id = 5");
      const std::string w = One(dml_.get(), "SELECT w FROM t WHERE id = 5");
      std::vector<int64_t> ids = {t.columns[1].id, t.columns[2].id, x_id};
      std::vector<Datum> vals = {Datum::Int(std::stoll(v)), Datum::String(w), Datum::Int(77)};
      auto value = codec::EncodeRow(ids, vals);
      ASSERT_TRUE(value.ok());
      auto txn = catalog_->store()->Begin();
      ASSERT_TRUE(txn.ok());
      (*txn)->Put(codec::EncodeRowKey(t.id, 5), *value);
      ASSERT_TRUE((*txn)->Commit().ok());
      // An update here (x invisible) keeps x.
      Ok(dml_.get(), "UPDATE t SET v = v + 100, w = 'kept' WHERE id = 5");
      stored = true;
    }
  });
  Ok(ddl_.get(), "ALTER TABLE t ADD COLUMN x INT DEFAULT 9");
  EXPECT_EQ(seen, (std::vector<std::string>{std::string(SchemaStateName(SchemaState::kDeleteOnly)),
                                            std::string(SchemaStateName(SchemaState::kWriteOnly)),
                                            std::string(SchemaStateName(SchemaState::kWriteReorg)),
                                            "public"}));
  EXPECT_TRUE(stored);
  EXPECT_EQ(One(ddl_.get(), "SELECT x FROM t WHERE id = 5"), "77");
  EXPECT_EQ(One(ddl_.get(), "SELECT w FROM t WHERE id = 5"), "kept");
  EXPECT_EQ(One(ddl_.get(), "SELECT COUNT(*) FROM t WHERE x = 9"),
            One(ddl_.get(), "SELECT COUNT(*) - 1 FROM t"));
  CheckIndexes();
  seen.clear();
  stored = true;
  Ok(ddl_.get(), "ALTER TABLE t DROP COLUMN x");
  catalog_->set_ddl_hook(nullptr);
  EXPECT_EQ(seen, (std::vector<std::string>{std::string(SchemaStateName(SchemaState::kWriteOnly)),
                                            std::string(SchemaStateName(SchemaState::kDeleteOnly)),
                                            "none"}));
  EXPECT_EQ(ErrCode(ddl_.get(), "SELECT x FROM t"), 1054);
  CheckIndexes();
  // Added again, the name is a new column: the dropped values do not come back.
  Ok(ddl_.get(), "ALTER TABLE t ADD COLUMN x INT DEFAULT 1");
  EXPECT_EQ(One(ddl_.get(), "SELECT x FROM t WHERE id = 5"), "1");
  EXPECT_EQ(One(ddl_.get(), "SELECT COUNT(*) FROM t WHERE x <> 1"), "0");
}

// Reviewer's finding: CREATE UNIQUE INDEX u ON t(c) planned on a view of t(a, b, c, d),
// run after a DROP COLUMN b that went first. The job names c by column id, so the index
// is on c, not on whatever sits at c's old position (d).
TEST_F(OnlineDdlTest, AddIndexPlannedBeforeADropColumnIndexesTheNamedColumn) {
  Ok(ddl_.get(), "CREATE TABLE t4 (a INT PRIMARY KEY, b INT, c INT, d INT)");
  Ok(ddl_.get(), "INSERT INTO t4 VALUES (1, 10, 100, 7), (2, 20, 200, 7)");
  auto stale = catalog_->GetTable("test", "t4");
  ASSERT_TRUE(stale.ok());
  Ok(dml_.get(), "ALTER TABLE t4 DROP COLUMN b");
  IndexInfo u;
  u.id = 1;
  u.name = "u";
  u.unique = true;
  u.columns = {(*stale)->FindColumn("c")};
  ASSERT_EQ(u.columns[0], 2);
  absl::Status st = catalog_->AddIndexOnline(*stale, u);
  ASSERT_TRUE(st.ok()) << st;
  auto t = catalog_->GetTable("test", "t4");
  ASSERT_TRUE(t.ok());
  const IndexInfo* idx = nullptr;
  for (const IndexInfo& i : (*t)->indexes) {
    if (i.name == "u") idx = &i;
  }
  ASSERT_NE(idx, nullptr);
  ASSERT_EQ(idx->columns.size(), 1u);
  EXPECT_EQ((*t)->columns[idx->columns[0]].name, "c");
  EXPECT_TRUE(catalog_->CheckIndexes(*t).ok());
  // Uniqueness holds on c (a duplicate d is fine, a duplicate c is not).
  Ok(dml_.get(), "INSERT INTO t4 VALUES (3, 300, 7)");
  EXPECT_EQ(ErrCode(dml_.get(), "INSERT INTO t4 VALUES (4, 100, 8)"), 1062);
  EXPECT_EQ(One(dml_.get(), "SELECT a FROM t4 WHERE c = 200"), "2");
  // A job whose column was dropped before it ran fails with a clear error.
  auto stale2 = catalog_->GetTable("test", "t4");
  ASSERT_TRUE(stale2.ok());
  Ok(dml_.get(), "ALTER TABLE t4 DROP COLUMN d");
  IndexInfo v;
  v.id = 2;
  v.name = "v";
  v.columns = {(*stale2)->FindColumn("d")};
  absl::Status st2 = catalog_->AddIndexOnline(*stale2, v);
  EXPECT_FALSE(st2.ok());
  EXPECT_EQ(MySqlErrorOf(st2).code, kErKeyColumnDoesNotExist) << st2;
  auto t2 = catalog_->GetTable("test", "t4");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ((*t2)->indexes.size(), 1u);
}

}  // namespace
}  // namespace rutile::sql
