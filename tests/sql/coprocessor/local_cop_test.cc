// Database::OpenInMemory runs the coprocessor too: the same DAG executor in process over
// LocalKvStore's TxnStorage (kv::LocalCoprocessor). Pushed-down reads return what the KV
// path returns (tidb_allow_coprocessor = 0), the coprocessor really ran, and a transaction
// still reads its own writes.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/sql.h"
#include "sql/exec/reader.h"
#include "sql/kv/kv.h"
#include "sql/session/session_test_util.h"

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

class LocalCopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    s_ = db_->NewSession();
    Ok(s_.get(), "CREATE DATABASE IF NOT EXISTS test");
    Ok(s_.get(), "USE test");
    Ok(s_.get(), "CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v INT, s VARCHAR(10))");
    std::string sql = "INSERT INTO t VALUES ";
    for (int i = 1; i <= 1500; ++i) {
      if (i > 1) sql += ",";
      sql += "(" + std::to_string(i) + "," + std::to_string(i % 7) + "," +
             (i % 11 == 0 ? std::string("NULL") : std::to_string((i * 37) % 1000)) + ",'s" +
             std::to_string(i % 13) + "')";
    }
    Ok(s_.get(), sql);
  }

  // The rows of `sql` through the local coprocessor and through the KV path.
  void Same(const std::string& sql, bool sort = true) {
    const uint64_t before = kv::TotalLocalCoprocessorRequests();
    std::vector<std::string> cop = Rows(s_.get(), sql, sort);
    const uint64_t after = kv::TotalLocalCoprocessorRequests();
    EXPECT_GT(after, before) << sql;
    Ok(s_.get(), "SET tidb_allow_coprocessor = 0");
    std::vector<std::string> kv = Rows(s_.get(), sql, sort);
    EXPECT_EQ(kv::TotalLocalCoprocessorRequests(), after) << sql;
    Ok(s_.get(), "SET tidb_allow_coprocessor = 1");
    EXPECT_EQ(cop, kv) << sql;
    EXPECT_FALSE(kv.empty()) << sql;
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Session> s_;
};

TEST_F(LocalCopTest, PushedDownResultsEqualTheKvPath) {
  OnFiber([&] {
    Same("SELECT * FROM t", false);
    Same("SELECT id, s FROM t WHERE v > 500 AND k <> 3", false);
    Same("SELECT id FROM t WHERE id BETWEEN 350 AND 1250 AND v < 100", false);
    Same("SELECT k, SUM(v), COUNT(*), COUNT(v), AVG(v), MIN(s), MAX(v) FROM t GROUP BY k");
    Same("SELECT COUNT(*), SUM(v) FROM t WHERE v > 5000");
    Same("SELECT id, v FROM t WHERE v % 3 = 0 ORDER BY v DESC, id LIMIT 7", false);
    Same("SELECT id FROM t WHERE k > 3 LIMIT 5", false);
    // Warnings raised at the coprocessor reach the statement.
    ResultSet w = Ok(s_.get(), "SELECT COUNT(*) FROM t WHERE CAST(s AS SIGNED) = 0");
    EXPECT_GT(w.warnings, 0u);
  });
}

// Column pruning (DagRequest.output_offsets): plain reads ship only the columns the plan
// reads, through joins, projections, a pushed TopN and correlated subqueries.
TEST_F(LocalCopTest, ReadsShipOnlyTheColumnsThePlanReads) {
  OnFiber([&] {
    // SELECT * reads every column but the hidden handle.
    uint64_t before = TotalPrunedCopReads();
    Same("SELECT * FROM t", false);
    EXPECT_EQ(TotalPrunedCopReads(), before + 1);
    before = TotalPrunedCopReads();
    Same("SELECT t.id, t2.s, t.v FROM t JOIN t AS t2 ON t.k = t2.id WHERE t.v > 900");
    EXPECT_GT(TotalPrunedCopReads(), before);
    Same("SELECT s FROM t WHERE v > 990", false);
    Same("SELECT id, k FROM t ORDER BY v DESC, id LIMIT 3", false);
    Same("SELECT COUNT(*) FROM t JOIN t AS t2 ON t.k = t2.id");
    Same("SELECT 1 FROM t WHERE id < 5", false);
    Same(
        "SELECT id, (SELECT MAX(t2.v) FROM t AS t2 WHERE t2.k = t.k AND t2.s = t.s) FROM t "
        "WHERE v > 980 AND EXISTS (SELECT 1 FROM t AS t3 WHERE t3.id = t.k + 1 AND t3.s <> t.s)");
    // With the transaction's own writes the read merges whole rows (a UnionScan).
    Ok(s_.get(), "BEGIN");
    Ok(s_.get(), "INSERT INTO t VALUES (5000, 1, 999, 'own')");
    Same("SELECT t.id, t2.s FROM t JOIN t AS t2 ON t.k = t2.id WHERE t.v > 990");
    Ok(s_.get(), "ROLLBACK");
  });
}

TEST_F(LocalCopTest, TransactionsReadTheirOwnWrites) {
  OnFiber([&] {
    Ok(s_.get(), "BEGIN");
    Ok(s_.get(), "INSERT INTO t VALUES (5000, 1, 1, 'new')");
    Ok(s_.get(), "DELETE FROM t WHERE id <= 10");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t"), "1491");
    EXPECT_EQ(One(s_.get(), "SELECT MAX(id) FROM t WHERE k = 1"), "5000");
    Ok(s_.get(), "ROLLBACK");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t"), "1500");
    // Another session's commit is seen by a new snapshot, not by an open one.
    auto other = db_->NewSession();
    Ok(other.get(), "USE test");
    Ok(s_.get(), "BEGIN");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 2"), "215");
    Ok(other.get(), "DELETE FROM t WHERE k = 2");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 2"), "215");
    Ok(s_.get(), "COMMIT");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 2"), "0");
  });
}

TEST_F(LocalCopTest, IndexReads) {
  OnFiber([&] {
    Ok(s_.get(), "CREATE INDEX ik ON t (k)");
    Same("SELECT id, v FROM t WHERE k = 3");
    Same("SELECT k, id FROM t WHERE k BETWEEN 2 AND 4");
    Same("SELECT id FROM t WHERE k = 1 AND v > 100 LIMIT 4");
    Ok(s_.get(), "BEGIN OPTIMISTIC");
    Ok(s_.get(), "UPDATE t SET v = -1 WHERE id = 4");
    const uint64_t before = kv::TotalLocalCoprocessorRequests();
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 3"), "214");
    EXPECT_GT(kv::TotalLocalCoprocessorRequests(), before);
    EXPECT_EQ(One(s_.get(), "SELECT MIN(v) FROM t WHERE k = 4"), "-1");
    Ok(s_.get(), "UPDATE t SET k = 3 WHERE id = 4");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 3"), "215");
    Ok(s_.get(), "ROLLBACK");
    EXPECT_EQ(One(s_.get(), "SELECT COUNT(*) FROM t WHERE k = 3"), "214");
  });
}

}  // namespace
}  // namespace rutile::sql
