// Accounts and privileges through libmariadb: CREATE USER / DROP USER, logins with
// mysql_native_password against the stored hash (handshake and COM_CHANGE_USER), GRANT /
// REVOKE at global, database and table level with MySQL's errors (1044, 1045, 1142, 1227,
// 1396, 1141), prepared statements, SHOW GRANTS, and accounts shared by two servers over
// one database (they live in its system tables).

#include <gtest/gtest.h>
#include <mysql.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/server.h"

extern "C" const char* __lsan_default_suppressions() { return "leak:libmariadb.so\n"; }

namespace rutile::server {
namespace {

class UsersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mysql_library_init(0, nullptr, nullptr);
    db_ = sql::Database::OpenInMemory()->release();
    ServerOptions o;
    o.port = 0;
    o.users = {{"root", "rootpw"}};
    server_ = MySqlServer::Start(db_, o)->release();
    second_ = MySqlServer::Start(db_, o)->release();
    MYSQL* m = Connect("root", "rootpw");
    ASSERT_NE(m, nullptr);
    for (const char* q :
         {"CREATE DATABASE d", "CREATE TABLE d.t1 (id INT PRIMARY KEY, v INT)",
          "CREATE TABLE d.t2 (id INT PRIMARY KEY, v INT)", "INSERT INTO d.t1 VALUES (1, 10)",
          "CREATE DATABASE e", "CREATE TABLE e.t (id INT PRIMARY KEY)"}) {
      ASSERT_EQ(mysql_query(m, q), 0) << q << ": " << mysql_error(m);
    }
    mysql_close(m);
  }
  static void TearDownTestSuite() {
    delete second_;
    delete server_;
    delete db_;
  }

  static MYSQL* Connect(const char* user, const char* password, const char* db = nullptr,
                        MySqlServer* server = nullptr) {
    MYSQL* m = mysql_init(nullptr);
    unsigned int timeout = 20;
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    if (mysql_real_connect(m, "127.0.0.1", user, password, db, (server ? server : server_)->port(),
                           nullptr, 0) == nullptr) {
      last_errno_ = mysql_errno(m);
      last_error_ = mysql_error(m);
      mysql_close(m);
      return nullptr;
    }
    return m;
  }

  // Runs `q`; returns 0 or the MySQL error code.
  static unsigned Run(MYSQL* m, const std::string& q) {
    if (mysql_real_query(m, q.data(), q.size()) != 0) return mysql_errno(m);
    MYSQL_RES* r = mysql_store_result(m);
    if (r != nullptr) mysql_free_result(r);
    return 0;
  }

  static std::vector<std::string> Rows(MYSQL* m, const std::string& q) {
    std::vector<std::string> out;
    if (mysql_real_query(m, q.data(), q.size()) != 0) {
      ADD_FAILURE() << q << ": " << mysql_error(m);
      return out;
    }
    MYSQL_RES* r = mysql_store_result(m);
    if (r == nullptr) return out;
    while (MYSQL_ROW row = mysql_fetch_row(r)) out.push_back(row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    return out;
  }

  struct Closer {
    void operator()(MYSQL* m) const { mysql_close(m); }
  };
  using Conn = std::unique_ptr<MYSQL, Closer>;

  static Conn Root() { return Conn(Connect("root", "rootpw")); }

  static sql::Database* db_;
  static MySqlServer* server_;
  static MySqlServer* second_;
  static unsigned last_errno_;
  static std::string last_error_;
};

sql::Database* UsersTest::db_ = nullptr;
MySqlServer* UsersTest::server_ = nullptr;
MySqlServer* UsersTest::second_ = nullptr;
unsigned UsersTest::last_errno_ = 0;
std::string UsersTest::last_error_;

TEST_F(UsersTest, CreateUserLoginAndDropUser) {
  Conn root = Root();
  ASSERT_TRUE(root);
  EXPECT_EQ(Connect("root", "wrong"), nullptr);
  EXPECT_EQ(last_errno_, 1045u);
  ASSERT_EQ(Run(root.get(), "CREATE USER 'bob'@'%' IDENTIFIED BY 'pw'"), 0u)
      << mysql_error(root.get());
  EXPECT_EQ(Run(root.get(), "CREATE USER bob IDENTIFIED BY 'other'"), 1396u);
  EXPECT_EQ(Run(root.get(), "CREATE USER IF NOT EXISTS bob"), 0u);
  EXPECT_EQ(Run(root.get(), "CREATE USER root"), 1396u);  // Built in.

  Conn bob(Connect("bob", "pw"));
  ASSERT_TRUE(bob) << last_error_;
  EXPECT_EQ(Rows(bob.get(), "SELECT 1 + 1"), std::vector<std::string>{"2"});
  EXPECT_EQ(Connect("bob", "wrong"), nullptr);
  EXPECT_EQ(last_errno_, 1045u);
  EXPECT_NE(last_error_.find("Access denied for user 'bob'"), std::string::npos) << last_error_;
  EXPECT_EQ(Connect("bob", ""), nullptr);
  EXPECT_EQ(last_errno_, 1045u);
  EXPECT_EQ(Connect("nobody", ""), nullptr);
  EXPECT_EQ(last_errno_, 1045u);
  // The account lives in the database: the second server knows it too.
  Conn bob2(Connect("bob", "pw", nullptr, second_));
  EXPECT_TRUE(bob2) << last_error_;

  // A user without CREATE USER cannot manage accounts.
  EXPECT_EQ(Run(bob.get(), "CREATE USER eve"), 1227u);
  EXPECT_EQ(Run(bob.get(), "DROP USER bob"), 1227u);

  ASSERT_EQ(Run(root.get(), "DROP USER bob"), 0u) << mysql_error(root.get());
  EXPECT_EQ(Connect("bob", "pw"), nullptr);
  EXPECT_EQ(last_errno_, 1045u);
  EXPECT_EQ(Run(root.get(), "DROP USER bob"), 1396u);
  EXPECT_EQ(Run(root.get(), "DROP USER IF EXISTS bob"), 0u);
  // The user without a password.
  ASSERT_EQ(Run(root.get(), "CREATE USER nopw"), 0u);
  Conn nopw(Connect("nopw", ""));
  EXPECT_TRUE(nopw) << last_error_;
  EXPECT_EQ(Connect("nopw", "x"), nullptr);
}

TEST_F(UsersTest, GrantAndRevokeAtEachLevel) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER carol IDENTIFIED BY 'c'"), 0u);
  Conn c(Connect("carol", "c"));
  ASSERT_TRUE(c) << last_error_;
  // Nothing granted yet.
  EXPECT_EQ(Run(c.get(), "SELECT * FROM d.t1"), 1142u);
  EXPECT_NE(std::string(mysql_error(c.get())).find("SELECT command denied to user 'carol'"),
            std::string::npos)
      << mysql_error(c.get());
  EXPECT_EQ(Run(c.get(), "USE d"), 1044u);
  EXPECT_NE(mysql_select_db(c.get(), "d"), 0);
  EXPECT_EQ(mysql_errno(c.get()), 1044u);
  EXPECT_EQ(Connect("carol", "c", "d"), nullptr);
  EXPECT_EQ(last_errno_, 1044u);
  EXPECT_EQ(Run(c.get(), "SELECT * FROM mysql.user"), 1142u);
  EXPECT_EQ(Run(c.get(), "SELECT count(*) FROM information_schema.tables"), 0u);

  // Table level.
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.t1 TO carol"), 0u) << mysql_error(root.get());
  EXPECT_EQ(Rows(c.get(), "SELECT v FROM d.t1"), std::vector<std::string>{"10"});
  EXPECT_EQ(Run(c.get(), "SELECT * FROM d.t2"), 1142u);
  EXPECT_EQ(Run(c.get(), "SELECT * FROM d.t1 WHERE id IN (SELECT id FROM d.t2)"), 1142u);
  EXPECT_EQ(Run(c.get(), "INSERT INTO d.t1 VALUES (2, 20)"), 1142u);
  EXPECT_EQ(Run(c.get(), "USE d"), 0u) << mysql_error(c.get());  // Some privilege in d.
  EXPECT_EQ(Rows(c.get(), "SELECT v FROM t1"), std::vector<std::string>{"10"});

  // Database level.
  ASSERT_EQ(Run(root.get(), "GRANT INSERT, UPDATE ON d.* TO carol"), 0u);
  EXPECT_EQ(Run(c.get(), "INSERT INTO t2 VALUES (1, 1)"), 0u) << mysql_error(c.get());
  EXPECT_EQ(Run(c.get(), "INSERT INTO t2 SELECT id + 10, v FROM t1"), 0u) << mysql_error(c.get());
  EXPECT_EQ(Run(c.get(), "DELETE FROM t2"), 1142u);
  EXPECT_EQ(Run(c.get(), "UPDATE t2 SET v = 5"), 0u) << mysql_error(c.get());
  EXPECT_EQ(Run(c.get(), "CREATE TABLE d.t3 (id INT PRIMARY KEY)"), 1142u);
  EXPECT_EQ(Run(c.get(), "SELECT * FROM e.t"), 1142u);
  EXPECT_EQ(Run(c.get(), "DROP DATABASE e"), 1044u);

  // Global level, then revoked again.
  ASSERT_EQ(Run(root.get(), "GRANT ALL ON *.* TO carol"), 0u);
  EXPECT_EQ(Run(c.get(), "CREATE DATABASE f"), 0u) << mysql_error(c.get());
  EXPECT_EQ(Run(c.get(), "SELECT * FROM e.t"), 0u);
  ASSERT_EQ(Run(root.get(), "REVOKE ALL PRIVILEGES ON *.* FROM carol"), 0u);
  EXPECT_EQ(Run(c.get(), "DROP DATABASE f"), 1044u);
  EXPECT_EQ(Run(c.get(), "SELECT * FROM e.t"), 1142u);

  std::vector<std::string> grants = Rows(c.get(), "SHOW GRANTS");
  EXPECT_EQ(grants, (std::vector<std::string>{"GRANT USAGE ON *.* TO `carol`@`%`",
                                              "GRANT INSERT, UPDATE ON `d`.* TO `carol`@`%`",
                                              "GRANT SELECT ON `d`.`t1` TO `carol`@`%`"}));
  EXPECT_EQ(Rows(root.get(), "SHOW GRANTS FOR carol"), grants);
  EXPECT_EQ(
      Rows(root.get(), "SHOW GRANTS"),
      std::vector<std::string>{"GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION"});
  EXPECT_EQ(Run(c.get(), "SHOW GRANTS FOR root"), 1044u);

  ASSERT_EQ(Run(root.get(), "REVOKE SELECT ON d.t1 FROM carol"), 0u);
  EXPECT_EQ(Run(c.get(), "SELECT * FROM t1"), 1142u);
  EXPECT_EQ(Run(root.get(), "REVOKE SELECT ON d.t1 FROM carol"), 1141u);
  EXPECT_EQ(Run(root.get(), "GRANT SELECT ON d.t1 TO nosuchuser"), 1133u);
  EXPECT_EQ(Run(root.get(), "GRANT SUPER ON d.* TO carol"), 1221u);
  EXPECT_EQ(Run(root.get(), "GRANT EXECUTE ON d.t1 TO carol"), 1144u);
}

TEST_F(UsersTest, GrantOptionAndPreparedStatements) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER dave IDENTIFIED BY 'd', erin IDENTIFIED BY 'e'"), 0u)
      << mysql_error(root.get());
  Conn d(Connect("dave", "d"));
  ASSERT_TRUE(d);
  // Without GRANT OPTION dave cannot pass on what he has.
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.* TO dave"), 0u);
  EXPECT_NE(Run(d.get(), "GRANT SELECT ON d.* TO erin"), 0u);
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.* TO dave WITH GRANT OPTION"), 0u);
  EXPECT_EQ(Run(d.get(), "GRANT SELECT ON d.t1 TO erin"), 0u) << mysql_error(d.get());
  EXPECT_NE(Run(d.get(), "GRANT INSERT ON d.t1 TO erin"), 0u);  // Not his to give.
  Conn e(Connect("erin", "e"));
  ASSERT_TRUE(e);
  EXPECT_EQ(Rows(e.get(), "SELECT v FROM d.t1 WHERE id = 1"), std::vector<std::string>{"10"});

  // Prepared statements are checked at prepare and again at each execute.
  MYSQL_STMT* denied = mysql_stmt_init(e.get());
  const std::string ins = "INSERT INTO d.t1 VALUES (?, 0)";
  EXPECT_NE(mysql_stmt_prepare(denied, ins.data(), ins.size()), 0);
  EXPECT_EQ(mysql_stmt_errno(denied), 1142u);
  mysql_stmt_close(denied);
  MYSQL_STMT* sel = mysql_stmt_init(e.get());
  const std::string q = "SELECT v FROM d.t1 WHERE id = 1";
  ASSERT_EQ(mysql_stmt_prepare(sel, q.data(), q.size()), 0) << mysql_stmt_error(sel);
  ASSERT_EQ(mysql_stmt_execute(sel), 0) << mysql_stmt_error(sel);
  mysql_stmt_store_result(sel);
  mysql_stmt_free_result(sel);
  ASSERT_EQ(Run(d.get(), "REVOKE SELECT ON d.t1 FROM erin"), 0u) << mysql_error(d.get());
  EXPECT_NE(mysql_stmt_execute(sel), 0);
  EXPECT_EQ(mysql_stmt_errno(sel), 1142u);
  mysql_stmt_close(sel);

  // COM_CHANGE_USER checks the stored password and switches the privileges.
  EXPECT_EQ(mysql_change_user(root.get(), "dave", "d", "d"), 0) << mysql_error(root.get());
  EXPECT_EQ(Run(root.get(), "INSERT INTO t1 VALUES (3, 30)"), 1142u);
  EXPECT_EQ(Rows(root.get(), "SELECT count(*) FROM t1"), std::vector<std::string>{"1"});
  EXPECT_NE(mysql_change_user(d.get(), "erin", "wrong", nullptr), 0);
  EXPECT_EQ(mysql_errno(d.get()), 1045u);
}

TEST_F(UsersTest, PreparedStatementsBindInTheCurrentDatabaseAndSetGlobalNeedsSuper) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER gina IDENTIFIED BY 'g'"), 0u);
  ASSERT_EQ(Run(root.get(), "CREATE TABLE e.t1 (id INT PRIMARY KEY, v INT)"), 0u);
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.* TO gina"), 0u);
  ASSERT_EQ(Run(root.get(), "GRANT INSERT ON e.* TO gina"), 0u);
  Conn g(Connect("gina", "g", "d"));
  ASSERT_TRUE(g) << last_error_;
  MYSQL_STMT* st = mysql_stmt_init(g.get());
  const std::string q = "SELECT count(*) FROM t1";
  ASSERT_EQ(mysql_stmt_prepare(st, q.data(), q.size()), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
  mysql_stmt_store_result(st);
  mysql_stmt_free_result(st);
  // In e, `t1` is e.t1, which gina may not read.
  ASSERT_EQ(Run(g.get(), "USE e"), 0u) << mysql_error(g.get());
  EXPECT_NE(mysql_stmt_execute(st), 0);
  EXPECT_EQ(mysql_stmt_errno(st), 1142u);
  mysql_stmt_close(st);
  EXPECT_EQ(Run(g.get(), "SET GLOBAL max_connections = 10"), 1227u);
  EXPECT_EQ(Run(g.get(), "SET @x = (SELECT count(*) FROM e.t1)"), 1142u);
  EXPECT_EQ(Run(g.get(), "SET @x = (SELECT count(*) FROM d.t1)"), 0u) << mysql_error(g.get());
}

TEST_F(UsersTest, GrantsThroughAnotherServerReachOpenConnections) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER frank IDENTIFIED BY 'f'"), 0u);
  Conn f(Connect("frank", "f", nullptr, second_));
  ASSERT_TRUE(f);
  EXPECT_EQ(Run(f.get(), "SELECT * FROM e.t"), 1142u);
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON e.t TO frank"), 0u);
  // The other server rereads grants within a second.
  unsigned rc = 1;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    rc = Run(f.get(), "SELECT * FROM e.t");
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rc, 0u);
}

// The privilege check sees exactly the statement that runs: text that parses only under
// the session's sql_mode (ANSI makes `||` concatenation, so the BETWEEN bound below parses
// only there) is checked on that parse, and text that does not parse runs nothing.
TEST_F(UsersTest, StatementParsedUnderSessionSqlModeIsChecked) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER mallory IDENTIFIED BY 'm'"), 0u)
      << mysql_error(root.get());
  Conn m(Connect("mallory", "m"));
  ASSERT_TRUE(m) << last_error_;
  EXPECT_EQ(Run(m.get(), "SET sql_mode = 'ANSI'"), 0u) << mysql_error(m.get());
  const std::string grab =
      "INSERT INTO mysql.grants SELECT 'mallory', '%', '', '', 268435455 FROM dual "
      "WHERE 1 BETWEEN 0 || '' AND 2";
  EXPECT_EQ(Run(m.get(), grab), 1142u) << mysql_error(m.get());
  EXPECT_NE(std::string(mysql_error(m.get())).find("INSERT command denied"), std::string::npos)
      << mysql_error(m.get());
  // The same through the prepared statement protocol.
  MYSQL_STMT* st = mysql_stmt_init(m.get());
  EXPECT_NE(mysql_stmt_prepare(st, grab.data(), grab.size()), 0);
  EXPECT_EQ(mysql_stmt_errno(st), 1142u) << mysql_stmt_error(st);
  mysql_stmt_close(st);
  // Nothing changed: no grant row, and mallory still reads nothing.
  EXPECT_EQ(Rows(root.get(), "SELECT count(*) FROM mysql.grants WHERE user = 'mallory'"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(Rows(m.get(), "SHOW GRANTS"),
            std::vector<std::string>{"GRANT USAGE ON *.* TO `mallory`@`%`"});
  EXPECT_EQ(Run(m.get(), "SELECT * FROM d.t1"), 1142u);
  // Text that does not parse under the session's sql_mode is a syntax error.
  EXPECT_EQ(Run(m.get(), "SET sql_mode = ''"), 0u) << mysql_error(m.get());
  EXPECT_EQ(Run(m.get(), grab), 1064u) << mysql_error(m.get());
  EXPECT_EQ(Run(m.get(), "INSERT INTO mysql.grants VALUES ('mallory'"), 1064u);
  EXPECT_EQ(Rows(root.get(), "SELECT count(*) FROM mysql.grants WHERE user = 'mallory'"),
            std::vector<std::string>{"0"});
}

// SHOW DATABASES, SHOW TABLES and information_schema list only what the account holds
// some privilege on, as MySQL does; SHOW TABLES of a database it holds nothing in is 1044.
TEST_F(UsersTest, ShowAndInformationSchemaListOnlyVisibleObjects) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER ivy IDENTIFIED BY 'i'"), 0u) << mysql_error(root.get());
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.t1 TO ivy"), 0u) << mysql_error(root.get());
  Conn v(Connect("ivy", "i"));
  ASSERT_TRUE(v) << last_error_;
  const std::vector<std::string> dbs = Rows(v.get(), "SHOW DATABASES");
  EXPECT_NE(std::find(dbs.begin(), dbs.end(), "d"), dbs.end());
  EXPECT_EQ(std::find(dbs.begin(), dbs.end(), "e"), dbs.end());
  EXPECT_EQ(std::find(dbs.begin(), dbs.end(), "mysql"), dbs.end());
  EXPECT_EQ(Rows(v.get(), "SHOW TABLES FROM d"), std::vector<std::string>{"t1"});
  EXPECT_EQ(Run(v.get(), "SHOW TABLES FROM e"), 1044u);
  EXPECT_EQ(Run(v.get(), "SHOW TABLES FROM mysql"), 1044u);
  EXPECT_EQ(Rows(v.get(),
                 "SELECT table_name FROM information_schema.tables WHERE table_schema IN "
                 "('d', 'e', 'mysql') ORDER BY table_name"),
            std::vector<std::string>{"t1"});
  EXPECT_EQ(Rows(v.get(),
                 "SELECT DISTINCT table_name FROM information_schema.columns WHERE "
                 "table_schema <> 'information_schema'"),
            std::vector<std::string>{"t1"});
  EXPECT_EQ(Rows(v.get(),
                 "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN "
                 "('d', 'e', 'mysql')"),
            std::vector<std::string>{"d"});
  EXPECT_EQ(
      Rows(v.get(), "SELECT count(*) FROM information_schema.statistics WHERE table_schema = 'e'"),
      std::vector<std::string>{"0"});
  // A database-level grant shows every table of the database.
  ASSERT_EQ(Run(root.get(), "GRANT INSERT ON e.* TO ivy"), 0u) << mysql_error(root.get());
  EXPECT_EQ(Rows(v.get(), "SHOW TABLES FROM e"), Rows(root.get(), "SHOW TABLES FROM e"));
  // Built-in accounts see everything.
  const std::vector<std::string> all = Rows(root.get(), "SHOW DATABASES");
  EXPECT_NE(std::find(all.begin(), all.end(), "mysql"), all.end());
}

// UPDATE and DELETE that read columns (WHERE, ORDER BY, SET values) need SELECT on the
// table, so an account holding only DELETE cannot probe values with it.
TEST_F(UsersTest, UpdateAndDeleteReadingColumnsNeedSelect) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE TABLE d.secret (id INT PRIMARY KEY, pw VARCHAR(20))"), 0u)
      << mysql_error(root.get());
  ASSERT_EQ(Run(root.get(), "INSERT INTO d.secret VALUES (1, 'abc'), (2, 'xyz')"), 0u);
  ASSERT_EQ(Run(root.get(), "CREATE USER jack IDENTIFIED BY 'j'"), 0u);
  ASSERT_EQ(Run(root.get(), "GRANT UPDATE, DELETE ON d.secret TO jack"), 0u);
  Conn j(Connect("jack", "j"));
  ASSERT_TRUE(j) << last_error_;
  EXPECT_EQ(Run(j.get(), "DELETE FROM d.secret WHERE pw LIKE 'a%'"), 1142u);
  EXPECT_NE(std::string(mysql_error(j.get())).find("SELECT command denied"), std::string::npos)
      << mysql_error(j.get());
  EXPECT_EQ(Run(j.get(), "DELETE FROM d.secret ORDER BY pw LIMIT 1"), 1142u);
  EXPECT_EQ(Run(j.get(), "UPDATE d.secret SET pw = 'q' WHERE pw LIKE 'a%'"), 1142u);
  EXPECT_EQ(Run(j.get(), "UPDATE d.secret SET pw = concat(pw, 'q')"), 1142u);
  EXPECT_EQ(Rows(root.get(), "SELECT pw FROM d.secret ORDER BY id"),
            (std::vector<std::string>{"abc", "xyz"}));
  // Writing without reading needs no SELECT.
  EXPECT_EQ(Run(j.get(), "UPDATE d.secret SET pw = 'same'"), 0u) << mysql_error(j.get());
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.secret TO jack"), 0u);
  EXPECT_EQ(Run(j.get(), "DELETE FROM d.secret WHERE id = 2"), 0u) << mysql_error(j.get());
  ASSERT_EQ(Run(root.get(), "REVOKE SELECT ON d.secret FROM jack"), 0u);
  EXPECT_EQ(Run(j.get(), "DELETE FROM d.secret"), 0u) << mysql_error(j.get());
  EXPECT_EQ(Rows(root.get(), "SELECT count(*) FROM d.secret"), std::vector<std::string>{"0"});
}

// When mysql.grants cannot be read the account holds nothing (fail closed) and the error
// says why, instead of keeping grants a REVOKE elsewhere may have changed.
TEST_F(UsersTest, UnreadableGrantsDenyInsteadOfKeepingStaleOnes) {
  Conn root = Root();
  ASSERT_EQ(Run(root.get(), "CREATE USER kim IDENTIFIED BY 'k'"), 0u) << mysql_error(root.get());
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.t1 TO kim"), 0u);
  Conn k(Connect("kim", "k"));
  ASSERT_TRUE(k) << last_error_;
  EXPECT_EQ(Run(k.get(), "SELECT * FROM d.t1"), 0u) << mysql_error(k.get());
  // mysql.grants loses the column the privileges are read from.
  ASSERT_EQ(Run(root.get(), "ALTER TABLE mysql.grants DROP COLUMN privs"), 0u)
      << mysql_error(root.get());
  // An account statement through this server makes its connections read grants again.
  ASSERT_EQ(Run(root.get(), "CREATE USER kim2"), 0u) << mysql_error(root.get());
  EXPECT_EQ(Run(k.get(), "SELECT * FROM d.t1"), 1105u);
  EXPECT_NE(std::string(mysql_error(k.get())).find("Cannot read the privileges"), std::string::npos)
      << mysql_error(k.get());
  EXPECT_EQ(Run(k.get(), "SHOW TABLES FROM d"), 1105u);
  // Readable again (the privileges granted anew: the column came back empty).
  ASSERT_EQ(Run(root.get(),
                "ALTER TABLE mysql.grants ADD COLUMN privs BIGINT UNSIGNED NOT NULL DEFAULT 0"),
            0u)
      << mysql_error(root.get());
  EXPECT_EQ(Run(k.get(), "SELECT * FROM d.t1"), 1142u);
  ASSERT_EQ(Run(root.get(), "GRANT SELECT ON d.t1 TO kim"), 0u) << mysql_error(root.get());
  EXPECT_EQ(Run(k.get(), "SELECT * FROM d.t1"), 0u) << mysql_error(k.get());
}

}  // namespace
}  // namespace rutile::server
