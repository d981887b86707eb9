// Sessions through the public API: autocommit and explicit transactions, snapshot
// isolation between sessions, write conflicts, statement atomicity, prepared statements,
// system variables and MySQL result metadata.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rutile/sql.h"

namespace rutile::sql {
namespace {

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::OpenInMemory();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    a_ = db_->NewSession();
    b_ = db_->NewSession();
    Ok(a_.get(), "CREATE DATABASE shop");
    Ok(a_.get(), "USE shop");
    Ok(b_.get(), "USE shop");
    Ok(a_.get(),
       "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(10), UNIQUE KEY us (s))");
  }

  static ResultSet Ok(Session* s, const std::string& sql) {
    auto r = s->Execute(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status();
    return r.ok() ? *std::move(r) : ResultSet();
  }
  static uint16_t ErrCode(Session* s, const std::string& sql) {
    auto r = s->Execute(sql);
    if (r.ok()) return 0;
    return MySqlErrorOf(r.status()).code;
  }
  static std::string One(Session* s, const std::string& sql) {
    ResultSet r = Ok(s, sql);
    if (r.rows.size() != 1 || r.rows[0].size() != 1) return "<shape>";
    return r.rows[0][0].value_or("NULL");
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Session> a_, b_;
};

TEST_F(SessionTest, AutocommitIsVisibleToOtherSessions) {
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x')");
  EXPECT_EQ(One(b_.get(), "SELECT v FROM t WHERE id = 1"), "10");
}

TEST_F(SessionTest, ExplicitTransactionCommitAndRollback) {
  Ok(a_.get(), "BEGIN");
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x')");
  EXPECT_TRUE(a_->InTransaction());
  EXPECT_EQ(One(a_.get(), "SELECT COUNT(*) FROM t"), "1");
  EXPECT_EQ(One(b_.get(), "SELECT COUNT(*) FROM t"), "0");
  Ok(a_.get(), "COMMIT");
  EXPECT_EQ(One(b_.get(), "SELECT COUNT(*) FROM t"), "1");

  Ok(a_.get(), "START TRANSACTION");
  Ok(a_.get(), "UPDATE t SET v = 99 WHERE id = 1");
  EXPECT_EQ(One(a_.get(), "SELECT v FROM t"), "99");
  Ok(a_.get(), "ROLLBACK");
  EXPECT_EQ(One(a_.get(), "SELECT v FROM t"), "10");
}

TEST_F(SessionTest, SnapshotIsolation) {
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x')");
  Ok(a_.get(), "BEGIN");
  EXPECT_EQ(One(a_.get(), "SELECT v FROM t WHERE id = 1"), "10");
  Ok(b_.get(), "UPDATE t SET v = 20 WHERE id = 1");
  EXPECT_EQ(One(a_.get(), "SELECT v FROM t WHERE id = 1"), "10");
  Ok(a_.get(), "COMMIT");
  EXPECT_EQ(One(a_.get(), "SELECT v FROM t WHERE id = 1"), "20");
}

TEST_F(SessionTest, WriteConflictAbortsTheLaterCommitter) {
  // Optimistic: the conflict shows at COMMIT (pessimistic_test.cc: b would wait for a).
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x')");
  Ok(a_.get(), "BEGIN OPTIMISTIC");
  Ok(b_.get(), "BEGIN OPTIMISTIC");
  Ok(a_.get(), "UPDATE t SET v = v + 1 WHERE id = 1");
  Ok(b_.get(), "UPDATE t SET v = v + 100 WHERE id = 1");
  Ok(a_.get(), "COMMIT");
  EXPECT_EQ(ErrCode(b_.get(), "COMMIT"), 1213);
  EXPECT_FALSE(b_->InTransaction());
  EXPECT_EQ(One(b_.get(), "SELECT v FROM t"), "11");
}

TEST_F(SessionTest, FailedStatementInsideTransactionChangesNothing) {
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x')");
  Ok(a_.get(), "BEGIN");
  Ok(a_.get(), "INSERT INTO t VALUES (2, 20, 'y')");
  // The third row collides with row 1: the whole statement, rows 3 and 4, is undone.
  EXPECT_EQ(ErrCode(a_.get(), "INSERT INTO t VALUES (3, 30, 'z'), (1, 40, 'w')"), 1062);
  EXPECT_EQ(ErrCode(a_.get(), "INSERT INTO t VALUES (4, 40, 'x')"), 1062);
  Ok(a_.get(), "COMMIT");
  ResultSet r = Ok(a_.get(), "SELECT id FROM t ORDER BY id");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(*r.rows[0][0], "1");
  EXPECT_EQ(*r.rows[1][0], "2");
  // The unique index was maintained: 'z' is free again, 'y' is taken.
  Ok(a_.get(), "INSERT INTO t VALUES (3, 30, 'z')");
  EXPECT_EQ(ErrCode(a_.get(), "UPDATE t SET s = 'y' WHERE id = 3"), 1062);
  EXPECT_EQ(One(a_.get(), "SELECT id FROM t WHERE s = 'z'"), "3");
}

TEST_F(SessionTest, NotNullAndBadSqlErrors) {
  EXPECT_EQ(ErrCode(a_.get(), "INSERT INTO t VALUES (1, NULL, 'x')"), 1048);
  EXPECT_EQ(ErrCode(a_.get(), "SELEC 1"), 1064);
  EXPECT_EQ(ErrCode(a_.get(), "SELECT nope FROM t"), 1054);
  EXPECT_EQ(ErrCode(a_.get(), "SELECT * FROM nope"), 1146);
  EXPECT_EQ(One(a_.get(), "SELECT COUNT(*) FROM t"), "0");
}

TEST_F(SessionTest, PreparedStatements) {
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x'), (2, 20, 'y')");
  auto id = a_->Prepare("SELECT v, s FROM t WHERE id = ?");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*a_->ParamCount(*id), 1u);
  auto r = a_->ExecutePrepared(*id, {Value::Int(2)});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(*r->rows[0][0], "20");
  EXPECT_EQ(*r->rows[0][1], "y");
  r = a_->ExecutePrepared(*id, {Value::String("1")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->rows[0][0], "10");
  EXPECT_FALSE(a_->ExecutePrepared(*id, {}).ok());
  auto ins = a_->Prepare("INSERT INTO t VALUES (?, ?, ?)");
  ASSERT_TRUE(ins.ok()) << ins.status();
  ASSERT_TRUE(a_->ExecutePrepared(*ins, {Value::Int(3), Value::Int(30), Value::Null()}).ok());
  EXPECT_EQ(One(a_.get(), "SELECT v FROM t WHERE id = 3"), "30");
  EXPECT_TRUE(a_->ClosePrepared(*id).ok());
  EXPECT_FALSE(a_->ExecutePrepared(*id, {Value::Int(1)}).ok());
}

// A prepared INSERT keeps its binding across executions (only the parameters change):
// every execution writes what the same INSERT with literals writes, with parameters of
// any kind (converted to the column, NULL for AUTO_INCREMENT, bad values rejected),
// literals and DEFAULT beside them, several rows, and the binding is redone after a
// schema change, in another database and under another sql_mode.
TEST_F(SessionTest, PreparedInsertsRebindOnlyTheirParameters) {
  Ok(a_.get(),
     "CREATE TABLE p (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL DEFAULT 7, "
     "s VARCHAR(4), d DECIMAL(6,2))");
  auto rows = [&] {
    std::string out;
    for (const auto& r : Ok(a_.get(), "SELECT id, v, s, d FROM p ORDER BY id").rows) {
      out += "(";
      for (const auto& c : r) out += c.value_or("NULL") + ",";
      out += ")";
    }
    return out;
  };
  auto ins =
      a_->Prepare("INSERT INTO p (id, v, s, d) VALUES (?, ?, 'lit', ?), (?, DEFAULT, ?, 1.5)");
  ASSERT_TRUE(ins.ok()) << ins.status();
  auto run = [&](std::vector<Value> params) {
    auto r = a_->ExecutePrepared(*ins, params);
    return r.ok() ? std::string("ok") : absl::StrCat("error ", MySqlErrorOf(r.status()).code);
  };
  EXPECT_EQ(run({Value::Int(1), Value::Int(10), Value::String("2.25"), Value::Int(2),
                 Value::String("ab")}),
            "ok");
  EXPECT_EQ(
      run({Value::Null(), Value::String("11"), Value::Double(3.25), Value::Null(), Value::Int(42)}),
      "ok");
  EXPECT_EQ(rows(), "(1,10,lit,2.25,)(2,7,ab,1.50,)(3,11,lit,3.25,)(4,7,42,1.50,)");
  // Bad values fail the statement (strict mode) and write nothing.
  EXPECT_EQ(run({Value::Int(9), Value::Null(), Value::Null(), Value::Int(10), Value::Null()}),
            "error 1048");
  EXPECT_EQ(
      run({Value::Int(9), Value::Int(1), Value::Null(), Value::Int(10), Value::String("toolong")}),
      "error 1406");
  EXPECT_EQ(run({Value::Int(1), Value::Int(1), Value::Null(), Value::Int(10), Value::Null()}),
            "error 1062");
  EXPECT_EQ(One(a_.get(), "SELECT COUNT(*) FROM p"), "4");
  // Outside strict mode the bad value is adjusted with a warning (the binding is redone
  // under the new sql_mode).
  Ok(a_.get(), "SET sql_mode = ''");
  EXPECT_EQ(
      run({Value::Int(20), Value::Int(1), Value::Null(), Value::Int(21), Value::String("toolong")}),
      "ok");
  EXPECT_EQ(One(a_.get(), "SELECT s FROM p WHERE id = 21"), "tool");
  Ok(a_.get(), "SET sql_mode = 'STRICT_TRANS_TABLES'");
  // A schema change redoes the binding: the new column takes its default.
  Ok(b_.get(), "ALTER TABLE p ADD COLUMN e INT DEFAULT 5");
  EXPECT_EQ(run({Value::Int(30), Value::Int(1), Value::Null(), Value::Int(31), Value::Null()}),
            "ok");
  EXPECT_EQ(One(a_.get(), "SELECT SUM(e) FROM p WHERE id IN (30, 31)"), "10");
  // In another database the table name means another table.
  Ok(a_.get(), "CREATE DATABASE other");
  Ok(a_.get(), "USE other");
  EXPECT_EQ(run({Value::Int(40), Value::Int(1), Value::Null(), Value::Int(41), Value::Null()}),
            "error 1146");
  Ok(a_.get(), "CREATE TABLE p (id INT PRIMARY KEY, v INT DEFAULT 0, s VARCHAR(9), d INT)");
  EXPECT_EQ(run({Value::Int(40), Value::Int(1), Value::Null(), Value::Int(41), Value::Null()}),
            "ok");
  EXPECT_EQ(One(a_.get(), "SELECT COUNT(*) FROM other.p"), "2");
  EXPECT_EQ(One(a_.get(), "SELECT COUNT(*) FROM shop.p WHERE id >= 40"), "0");
  EXPECT_TRUE(a_->ClosePrepared(*ins).ok());
  EXPECT_EQ(run({Value::Int(50), Value::Int(1), Value::Null(), Value::Int(51), Value::Null()}),
            "error 1243");
}

TEST_F(SessionTest, SystemVariables) {
  EXPECT_EQ(One(a_.get(), "SELECT @@autocommit"), "1");
  EXPECT_NE(One(a_.get(), "SELECT @@version").find("Rutile"), std::string::npos);
  EXPECT_EQ(One(a_.get(), "SELECT @@tx_isolation"), "REPEATABLE-READ");
  Ok(a_.get(), "SET autocommit = 0");
  Ok(a_.get(), "INSERT INTO t VALUES (1, 10, 'x')");
  EXPECT_TRUE(a_->InTransaction());
  EXPECT_EQ(One(b_.get(), "SELECT COUNT(*) FROM t"), "0");
  Ok(a_.get(), "COMMIT");
  EXPECT_EQ(One(b_.get(), "SELECT COUNT(*) FROM t"), "1");
  Ok(a_.get(), "SET @x = 41");
  EXPECT_EQ(One(a_.get(), "SELECT @x + 1"), "42");
  EXPECT_EQ(ErrCode(a_.get(), "SELECT @@no_such_variable"), 1193);
}

TEST_F(SessionTest, ResultMetadataFollowsMySql) {
  ResultSet r =
      Ok(a_.get(), "SELECT 1, 1.50, 'a', 1e0, 1/2, id FROM t RIGHT JOIN (SELECT 1) d ON 1 = 1");
  ASSERT_EQ(r.columns.size(), 6u);
  EXPECT_EQ(r.columns[0].type, 8);    // BIGINT
  EXPECT_EQ(r.columns[1].type, 246);  // DECIMAL
  EXPECT_EQ(r.columns[2].type, 253);  // VARCHAR
  EXPECT_EQ(r.columns[3].type, 5);    // DOUBLE
  EXPECT_EQ(r.columns[4].type, 246);
  EXPECT_EQ(r.columns[5].type, 3);  // INT
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(*r.rows[0][4], "0.5000");
  EXPECT_FALSE(r.rows[0][5].has_value());
}

TEST_F(SessionTest, AutoIncrementAndLastInsertId) {
  Ok(a_.get(), "CREATE TABLE a (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)");
  ResultSet r = Ok(a_.get(), "INSERT INTO a (v) VALUES (1), (2)");
  EXPECT_EQ(r.affected_rows, 2u);
  EXPECT_EQ(r.last_insert_id, 1u);
  Ok(a_.get(), "INSERT INTO a VALUES (10, 3)");
  Ok(a_.get(), "INSERT INTO a (v) VALUES (4)");
  EXPECT_EQ(One(a_.get(), "SELECT LAST_INSERT_ID()"), "11");
  EXPECT_EQ(One(a_.get(), "SELECT SUM(id) FROM a"), "24");
}

}  // namespace
}  // namespace rutile::sql
