// The coprocessor end to end over a one-node cluster whose table spans several regions:
// pushed-down selection, aggregation, TopN and limit return what the KV path returns
// (tidb_allow_coprocessor = 0), in process and over RPC, EXPLAIN shows the pushed operators,
// a lock met by a coprocessor read is resolved, and a transaction still reads its own
// writes.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/txn_service.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/coprocessor/distsql.h"
#include "sql/session/session_test_util.h"
#include "util/failpoint.h"

namespace rutile::sql {
namespace {

std::vector<std::string> Rows(Session* s, const std::string& sql, bool sort) {
  ResultSet r = Ok(s, sql);
  std::vector<std::string> out;
  for (const auto& row : r.rows) {
    std::string line;
    for (const auto& v : row) line += v.value_or("NULL") + "|";
    out.push_back(line);
  }
  if (sort) std::sort(out.begin(), out.end());
  return out;
}

class CopClusterTest : public ::testing::Test {
 protected:
  // One node, table t(id, k, v, s) of 2,000 rows split into 5 regions.
  // With `rpc`, the SQL layer's client reaches the store over the transport ("Kv.Coprocessor"
  // and the txn commands) instead of in process.
  void Start(bool rpc = false) {
    transport_ = NewLocalTransport(Env::Default());
    NodeOptions o = OneNodeOptions(transport_.get());
    auto n = Node::Open(o);
    ASSERT_TRUE(n.ok()) << n.status();
    node_ = *std::move(n);
    auto client = rpc ? TxnClient::Connect(Env::Default(), transport_.get(), 1000, 1)
                      : TxnClient::Open({node_.get()});
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    DatabaseOptions d;
    d.client = client_.get();
    auto db = Database::Open(d);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    s_ = db_->NewSession();
    Ok(s_.get(), "USE test");
    Ok(s_.get(),
       "CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v INT, s VARCHAR(10), d DECIMAL(8,2))");
    for (int b = 0; b < 4; ++b) {
      std::string sql = "INSERT INTO t VALUES ";
      for (int i = b * 500 + 1; i <= (b + 1) * 500; ++i) {
        if (i > b * 500 + 1) sql += ",";
        sql += "(" + std::to_string(i) + "," + std::to_string(i % 10) + "," +
               (i % 13 == 0 ? std::string("NULL") : std::to_string((i * 37) % 1000)) + ",'s" +
               std::to_string(i % 17) + "'," + std::to_string(i % 100) + ".5)";
      }
      Ok(s_.get(), sql);
    }
    table_id_ = std::stoll(One(s_.get(),
                               "SELECT TIDB_TABLE_ID FROM information_schema.tables WHERE "
                               "table_schema = 'test' AND table_name = 't'"));
    for (int64_t h : {400, 800, 1200, 1600}) {
      ASSERT_TRUE(client_->SplitAt(codec::EncodeRowKey(table_id_, h)).ok());
    }
  }

  void Stop() {
    s_.reset();
    db_.reset();
    client_.reset();
    node_->Close();
  }

  // The rows of `sql` through the coprocessor and through the KV path; expects both to
  // agree and the first to have used the coprocessor.
  void Same(const std::string& sql, bool sort = true) {
    // The coprocessor first: after a split it is the one that meets the stale cache.
    const uint64_t before = coprocessor::TotalRegionRequests();
    std::vector<std::string> cop = Rows(s_.get(), sql, sort);
    const uint64_t after = coprocessor::TotalRegionRequests();
    EXPECT_GT(after, before) << sql;
    Ok(s_.get(), "SET tidb_allow_coprocessor = 0");
    std::vector<std::string> kv = Rows(s_.get(), sql, sort);
    EXPECT_EQ(coprocessor::TotalRegionRequests(), after) << sql;
    Ok(s_.get(), "SET tidb_allow_coprocessor = 1");
    EXPECT_EQ(cop, kv) << sql;
    EXPECT_FALSE(kv.empty()) << sql;
  }

  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<TxnClient> client_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Session> s_;
  int64_t table_id_ = 0;
};

TEST_F(CopClusterTest, PushedDownResultsEqualTheKvPath) {
  OnFiber([&] {
    Start();
    Same("SELECT * FROM t", false);
    Same("SELECT id, s FROM t WHERE v > 500 AND k <> 3", false);
    Same("SELECT id FROM t WHERE id BETWEEN 350 AND 1250 AND v < 100", false);
    Same("SELECT COUNT(*) FROM t WHERE v > 500");
    Same(
        "SELECT k % 10, SUM(v), COUNT(*), COUNT(v), AVG(v), MIN(s), MAX(d) FROM t GROUP BY k % 10");
    Same("SELECT s, COUNT(DISTINCT k), SUM(d), AVG(d) FROM t WHERE id > 100 GROUP BY s");
    Same("SELECT COUNT(*), SUM(v), MAX(v) FROM t WHERE v > 5000");  // No rows in.
    Same("SELECT id, v FROM t WHERE v % 3 = 0 ORDER BY v DESC, id LIMIT 7", false);
    Same("SELECT id, v FROM t ORDER BY s, v LIMIT 3, 20", false);
    Same("SELECT id FROM t WHERE k > 3 LIMIT 5", false);
    Same("SELECT id FROM t LIMIT 1990, 20", false);

    // Regions split behind the SQL client's back (another client splits them): its region
    // cache is stale, the stores answer EpochNotMatch, and the requests are re-split.
    {
      auto other = TxnClient::Open({node_.get()});
      ASSERT_TRUE(other.ok()) << other.status();
      for (int64_t h : {100, 1000, 1900}) {
        ASSERT_TRUE((*other)->SplitAt(codec::EncodeRowKey(table_id_, h)).ok());
      }
    }
    Same("SELECT COUNT(*), SUM(v), MIN(id), MAX(id) FROM t WHERE k <> 4");
    Same("SELECT id FROM t WHERE v < 50", false);

    // EXPLAIN shows the partial aggregation at the coprocessor under a TableReader.
    ResultSet e = Ok(s_.get(), "EXPLAIN SELECT k, SUM(v) FROM t WHERE v > 3 GROUP BY k");
    std::string plan;
    for (const auto& row : e.rows) {
      for (const auto& v : row) plan += v.value_or("NULL") + " | ";
      plan += "\n";
    }
    EXPECT_NE(plan.find("TableReader"), std::string::npos) << plan;
    EXPECT_NE(plan.find("cop[tikv] |  | partial"), std::string::npos) << plan;
    Stop();
  });
}

TEST_F(CopClusterTest, OverRpc) {
  OnFiber([&] {
    Start(/*rpc=*/true);
    Same("SELECT id, s FROM t WHERE v > 500 AND k <> 3", false);
    Same("SELECT k % 10, SUM(v), COUNT(*), AVG(d) FROM t GROUP BY k % 10");
    Same("SELECT id, v FROM t ORDER BY v DESC, id LIMIT 5", false);
    Stop();
  });
}

TEST_F(CopClusterTest, OwnWritesAndLocksAreSeen) {
  OnFiber([&] {
    Start();
    // A transaction's own writes in the table: the read falls back to the KV path, which
    // merges them; other tables still go to the coprocessor.
    Ok(s_.get(), "BEGIN");
    Ok(s_.get(), "INSERT INTO t VALUES (5000, 1, 1, 'new', 1.5)");
    Ok(s_.get(), "DELETE FROM t WHERE id <= 10");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t"), "1991");
    EXPECT_EQ(One(s_.get(), "SELECT MAX(id) FROM t WHERE k = 1"), "5000");
    Ok(s_.get(), "ROLLBACK");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t"), "2000");

    // A transaction that died after its prewrite leaves a lock on a row in the third
    // region; the coprocessor read meets it, the lock resolver rolls it back once its TTL
    // has passed, and the read then succeeds.
    TxnOptions to;
    to.lock_ttl_ms = 50;
    auto dead = client_->Begin(to);
    ASSERT_TRUE(dead.ok());
    std::vector<int64_t> ids = {2, 3};
    std::vector<Datum> vals = {Datum::Int(1), Datum::Int(1)};
    auto row = codec::EncodeRow(ids, vals);
    ASSERT_TRUE(row.ok());
    ASSERT_TRUE((*dead)->Put(codec::EncodeRowKey(table_id_, 900), *row).ok());
    ASSERT_TRUE((*dead)->impl()->txn->TEST_PrewriteOnlyAndAbandon().ok());
    const uint64_t before = coprocessor::TotalRegionRequests();
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t"), "2000");
    EXPECT_EQ(One(s_.get(), "SELECT v FROM t WHERE id >= 900 AND id < 901"), "300");
    EXPECT_GT(coprocessor::TotalRegionRequests(), before);
    Stop();
  });
}

// A reader that stops early (a satisfied LIMIT, an error) leaves the other regions'
// requests behind at once instead of waiting for them, and keeps the warnings of what it
// read. The last region answers ServerIsBusy to every coprocessor request (failpoint), a
// region error the client retries until its timeout (20 s): a statement that needs only
// the first regions must not wait for it. Over RPC, so that every region's request is
// under way (each worker waits for its answer) before the reader has what it needs.
TEST_F(CopClusterTest, EarlyStopDoesNotWaitForBlockedRegionsAndKeepsWarnings) {
  OnFiber([&] {
    Start(/*rpc=*/true);
    failpoint::ScopedFailPoint busy(
        "coprocessor_busy_key",
        absl::StrCat("return(", absl::BytesToHexString(codec::EncodeRowKey(table_id_, 1700)), ")"));
    Env* env = Env::Default();
    const uint64_t start = env->NowMicros();
    const uint64_t before = coprocessor::TotalRegionRequests();
    // LIMIT satisfied by the first three regions.
    EXPECT_EQ(Rows(s_.get(), "SELECT id FROM t WHERE k >= 0 LIMIT 1000", false).size(), 1000u);
    // An error in the first region (BIGINT overflow) fails the statement at once.
    absl::StatusOr<ResultSet> err =
        s_->Execute("SELECT id FROM t WHERE v * 9223372036854775807 > 0");
    ASSERT_FALSE(err.ok());
    EXPECT_EQ(MySqlErrorOf(err.status()).code, 1690) << err.status();
    // Warnings of the pushed filter (each 's<n>' is a truncated INTEGER, 1292) raised at
    // the first region: the statement stops there and still reports them.
    ResultSet w = Ok(s_.get(), "SELECT id FROM t WHERE CAST(s AS SIGNED) = 0 LIMIT 2");
    EXPECT_EQ(w.rows.size(), 2u);
    EXPECT_GT(w.warnings, 0u);
    ResultSet shown = Ok(s_.get(), "SHOW WARNINGS");
    ASSERT_FALSE(shown.rows.empty());
    EXPECT_EQ(shown.rows[0][1].value_or(""), "1292");
    EXPECT_GT(coprocessor::TotalRegionRequests(), before);
    // Each statement took what the first region needed, not the blocked region's 20 s.
    EXPECT_LT(env->NowMicros() - start, 10'000'000u);
    Stop();
  });
}

// Index reads (IndexLookUp, covering IndexReader) scan the index at the coprocessor and
// look the rows up through the transaction, which merges its own writes to the rows; a
// transaction's own index entries in the range read send the read to the KV path, which
// merges them (an UPDATE rewrites every index entry of its row).
TEST_F(CopClusterTest, IndexReadsRunAtTheCoprocessor) {
  OnFiber([&] {
    Start();
    Ok(s_.get(), "CREATE INDEX ik ON t (k)");
    std::string plan;
    for (const auto& row : Ok(s_.get(), "EXPLAIN SELECT id, v FROM t WHERE k = 3").rows) {
      plan += row[0].value_or("") + "\n";
    }
    ASSERT_NE(plan.find("IndexLookUp"), std::string::npos) << plan;
    Same("SELECT id, v FROM t WHERE k = 3");
    Same("SELECT id, s FROM t WHERE k IN (2, 7) AND v > 300");
    Same("SELECT k, id FROM t WHERE k BETWEEN 2 AND 4");
    Same("SELECT COUNT(*) FROM t WHERE k = 7");
    Same("SELECT id FROM t WHERE k = 1 LIMIT 3");

    // Optimistic: a pessimistic transaction that locked keys reads through KV (its locked
    // values may be newer than its snapshot).
    Ok(s_.get(), "BEGIN OPTIMISTIC");
    // Own writes outside the index range read: the index scan runs at the regions.
    Ok(s_.get(), "UPDATE t SET v = -1 WHERE id = 4");
    Ok(s_.get(), "INSERT INTO t VALUES (5000, 4, 1, 'new', 1.5)");
    const uint64_t before = coprocessor::TotalRegionRequests();
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 3"), "200");
    EXPECT_EQ(One(s_.get(), "SELECT MIN(v) FROM t WHERE k = 3"), "1");
    EXPECT_GT(coprocessor::TotalRegionRequests(), before);
    // Index entries written by the transaction in the range: it reads through KV, which
    // merges them.
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 4"), "201");
    EXPECT_EQ(One(s_.get(), "SELECT MIN(v) FROM t WHERE k = 4"), "-1");
    Ok(s_.get(), "UPDATE t SET k = 3 WHERE id = 5");
    Ok(s_.get(), "DELETE FROM t WHERE id = 13");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 3"), "200");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 5"), "199");
    Ok(s_.get(), "ROLLBACK");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 3"), "200");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 4"), "200");
    Stop();
  });
}

}  // namespace
}  // namespace rutile::sql
