// End-to-end tests of the MySQL server through the clients applications use: libmariadb
// (text and binary protocol, prepared statements, errors, multi-statements, change user,
// large values, limits), raw sockets (malformed and truncated packets), and the mariadb
// CLI binary in batch mode through a pipe.

#include <arpa/inet.h>
#include <errmsg.h>
#include <gtest/gtest.h>
#include <mysql.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "server/protocol.h"
#include "server/server.h"
#include "util/failpoint.h"

// libmariadb leaks a few allocations when a connection attempt is refused during the
// handshake (ERR 1040 / 1045); those are the client library's, not the server's.
extern "C" const char* __lsan_default_suppressions() { return "leak:libmariadb.so\n"; }

namespace rutile::server {
namespace {

// Whether d1.types exists in this run of the suite (the suite's database is fresh each run).
bool types_created = false;

class MySqlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mysql_library_init(0, nullptr, nullptr);
    db_ = sql::Database::OpenInMemory()->release();
    types_created = false;
    ServerOptions o;
    o.port = 0;
    o.users = {{"root", ""}, {"alice", "secret"}};
    o.max_allowed_packet = 40 << 20;
    server_ = MySqlServer::Start(db_, o)->release();
    MYSQL* m = Connect();
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(mysql_query(m, "CREATE DATABASE d1"), 0) << mysql_error(m);
    mysql_close(m);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete db_;
    db_ = nullptr;
  }

  static MYSQL* Connect(const char* user = "root", const char* password = "",
                        const char* db = nullptr, unsigned long flags = 0, uint16_t port = 0) {
    MYSQL* m = mysql_init(nullptr);
    unsigned int timeout = 20;
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    if (mysql_real_connect(m, "127.0.0.1", user, password, db, port ? port : server_->port(),
                           nullptr, flags) == nullptr) {
      last_connect_errno_ = mysql_errno(m);
      last_connect_error_ = mysql_error(m);
      mysql_close(m);
      return nullptr;
    }
    return m;
  }

  // Runs a statement that must succeed.
  static void Exec(MYSQL* m, const std::string& q) {
    ASSERT_EQ(mysql_real_query(m, q.data(), q.size()), 0) << q << ": " << mysql_error(m);
    MYSQL_RES* r = mysql_store_result(m);
    if (r != nullptr) mysql_free_result(r);
  }

  // Runs a query and returns its rows as strings ("NULL" for NULL), one tab-joined line per
  // row.
  static std::vector<std::string> Rows(MYSQL* m, const std::string& q) {
    std::vector<std::string> out;
    if (mysql_real_query(m, q.data(), q.size()) != 0) {
      ADD_FAILURE() << q << ": " << mysql_error(m);
      return out;
    }
    MYSQL_RES* r = mysql_store_result(m);
    if (r == nullptr) return out;
    const unsigned n = mysql_num_fields(r);
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      unsigned long* lens = mysql_fetch_lengths(r);
      std::string line;
      for (unsigned i = 0; i < n; ++i) {
        if (i > 0) line += "\t";
        line += row[i] ? std::string(row[i], lens[i]) : "NULL";
      }
      out.push_back(line);
    }
    mysql_free_result(r);
    return out;
  }

  static sql::Database* db_;
  static MySqlServer* server_;
  static unsigned last_connect_errno_;
  static std::string last_connect_error_;
};

sql::Database* MySqlTest::db_ = nullptr;
MySqlServer* MySqlTest::server_ = nullptr;
unsigned MySqlTest::last_connect_errno_ = 0;
std::string MySqlTest::last_connect_error_;

constexpr char kTypesTable[] =
    "CREATE TABLE d1.types (id INT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT, "
    "bi BIGINT, ub BIGINT UNSIGNED, f FLOAT, dbl DOUBLE, dec1 DECIMAL(10,2), c CHAR(5), "
    "vc VARCHAR(20), tx TEXT, bl BLOB, dt DATE, dtm DATETIME(6), tm TIME, y YEAR)";
constexpr char kTypesRow[] =
    "-7\t-300\t70000\t-9000000000\t18446744073709551615\t1.5\t-2.25\t12345.67\tab\thello\t"
    "some text\tbytes\t2024-02-29\t2024-02-29 13:14:15.000123\t-12:34:56\t2024";
constexpr char kNullRow[] =
    "NULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\t"
    "NULL";

void CreateTypes(MYSQL* m) {
  if (types_created) return;
  types_created = true;
  ASSERT_EQ(mysql_query(m, kTypesTable), 0) << mysql_error(m);
  ASSERT_EQ(mysql_query(m,
                        "INSERT INTO d1.types VALUES (1, -7, -300, 70000, -9000000000, "
                        "18446744073709551615, 1.5, -2.25, 12345.67, 'ab', 'hello', "
                        "'some text', 'bytes', '2024-02-29', '2024-02-29 13:14:15.000123', "
                        "'-12:34:56', 2024), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"),
            0)
      << mysql_error(m);
}

TEST_F(MySqlTest, TextProtocolEveryColumnTypeAndNull) {
  MYSQL* m = Connect();
  ASSERT_NE(m, nullptr) << last_connect_error_;
  CreateTypes(m);
  auto rows = Rows(m, "SELECT * FROM d1.types ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], absl::StrCat("1\t", kTypesRow));
  EXPECT_EQ(rows[1], absl::StrCat("2\t", kNullRow));

  ASSERT_EQ(mysql_query(m, "SELECT * FROM d1.types WHERE id = 1"), 0);
  MYSQL_RES* r = mysql_store_result(m);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(mysql_num_fields(r), 17u);
  MYSQL_FIELD* f = mysql_fetch_fields(r);
  const enum_field_types expected[] = {
      MYSQL_TYPE_LONG,       MYSQL_TYPE_TINY,     MYSQL_TYPE_SHORT,      MYSQL_TYPE_INT24,
      MYSQL_TYPE_LONGLONG,   MYSQL_TYPE_LONGLONG, MYSQL_TYPE_FLOAT,      MYSQL_TYPE_DOUBLE,
      MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_STRING,   MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_BLOB,
      MYSQL_TYPE_BLOB,       MYSQL_TYPE_DATE,     MYSQL_TYPE_DATETIME,   MYSQL_TYPE_TIME,
      MYSQL_TYPE_YEAR};
  for (int i = 0; i < 17; ++i) EXPECT_EQ(f[i].type, expected[i]) << f[i].name;
  EXPECT_STREQ(f[0].name, "id");
  EXPECT_STREQ(f[0].table, "types");
  EXPECT_STREQ(f[0].db, "d1");
  EXPECT_TRUE(f[0].flags & PRI_KEY_FLAG);
  EXPECT_TRUE(f[5].flags & UNSIGNED_FLAG);
  EXPECT_EQ(f[8].decimals, 2u);
  mysql_free_result(r);
  mysql_close(m);
}

// Binary protocol: every column bound as a string (libmariadb converts from the binary
// form, which checks our encoding) and a few bound natively.
TEST_F(MySqlTest, BinaryProtocolEveryColumnTypeAndNull) {
  MYSQL* m = Connect();
  ASSERT_NE(m, nullptr) << last_connect_error_;
  CreateTypes(m);
  MYSQL_STMT* st = mysql_stmt_init(m);
  const char* q = "SELECT * FROM d1.types WHERE id = ?";
  ASSERT_EQ(mysql_stmt_prepare(st, q, strlen(q)), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_param_count(st), 1u);
  // The result columns are known at prepare time, before any execution.
  ASSERT_EQ(mysql_stmt_field_count(st), 17u);
  MYSQL_RES* meta = mysql_stmt_result_metadata(st);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(mysql_fetch_fields(meta)[14].type, MYSQL_TYPE_DATETIME);
  mysql_free_result(meta);
  for (int id : {1, 2}) {
    int32_t param = id;
    MYSQL_BIND pb{};
    pb.buffer_type = MYSQL_TYPE_LONG;
    pb.buffer = &param;
    ASSERT_EQ(mysql_stmt_bind_param(st, &pb), 0);
    ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
    ASSERT_EQ(mysql_stmt_field_count(st), 17u);
    char bufs[17][64];
    unsigned long lens[17];
    my_bool nulls[17];
    MYSQL_BIND rb[17];
    std::memset(rb, 0, sizeof(rb));
    for (int i = 0; i < 17; ++i) {
      rb[i].buffer_type = MYSQL_TYPE_STRING;
      rb[i].buffer = bufs[i];
      rb[i].buffer_length = sizeof(bufs[i]);
      rb[i].length = &lens[i];
      rb[i].is_null = &nulls[i];
    }
    // Natively: the unsigned BIGINT, the DOUBLE and the DATETIME.
    unsigned long long ub = 0;
    double dbl = 0;
    MYSQL_TIME dtm{};
    rb[5].buffer_type = MYSQL_TYPE_LONGLONG;
    rb[5].buffer = &ub;
    rb[5].is_unsigned = 1;
    rb[7].buffer_type = MYSQL_TYPE_DOUBLE;
    rb[7].buffer = &dbl;
    rb[14].buffer_type = MYSQL_TYPE_DATETIME;
    rb[14].buffer = &dtm;
    ASSERT_EQ(mysql_stmt_bind_result(st, rb), 0) << mysql_stmt_error(st);
    ASSERT_EQ(mysql_stmt_store_result(st), 0) << mysql_stmt_error(st);
    ASSERT_EQ(mysql_stmt_fetch(st), 0) << mysql_stmt_error(st);
    std::string line;
    for (int i = 0; i < 17; ++i) {
      if (i > 0) line += "\t";
      if (nulls[i]) {
        line += "NULL";
      } else if (i == 5) {
        line += std::to_string(ub);
      } else if (i == 7) {
        line += absl::StrCat(dbl);
      } else if (i == 14) {
        line += absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d", dtm.year, dtm.month, dtm.day,
                                dtm.hour, dtm.minute, dtm.second, dtm.second_part);
      } else {
        line += std::string(bufs[i], lens[i]);
      }
    }
    if (id == 1) {
      // The client prints FLOAT from its binary form and TIME with its sign.
      EXPECT_EQ(line, absl::StrCat("1\t", kTypesRow));
    } else {
      EXPECT_EQ(line, absl::StrCat("2\t", kNullRow));
    }
    EXPECT_EQ(mysql_stmt_fetch(st), MYSQL_NO_DATA);
    mysql_stmt_free_result(st);
  }
  mysql_stmt_close(st);
  mysql_close(m);
}

TEST_F(MySqlTest, PreparedParametersOfEveryType) {
  MYSQL* m = Connect("root", "", "d1");
  ASSERT_NE(m, nullptr) << last_connect_error_;
  CreateTypes(m);
  Exec(m, absl::StrReplaceAll(kTypesTable, {{"d1.types", "params"}}));
  MYSQL_STMT* st = mysql_stmt_init(m);
  const char* q = "INSERT INTO params VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  ASSERT_EQ(mysql_stmt_prepare(st, q, strlen(q)), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_param_count(st), 17u);
  int32_t id = 1;
  signed char ti = -7;
  int16_t si = -300;
  int32_t mi = 70000;
  int64_t bi = -9000000000LL;
  uint64_t ub = 18446744073709551615ULL;
  float f = 1.5f;
  double dbl = -2.25;
  std::string dec = "12345.67", c = "ab", vc = "hello", tx = "some text", bl = "bytes";
  MYSQL_TIME dt{}, dtm{}, tm{};
  dt.year = 2024, dt.month = 2, dt.day = 29, dt.time_type = MYSQL_TIMESTAMP_DATE;
  dtm.year = 2024, dtm.month = 2, dtm.day = 29, dtm.hour = 13, dtm.minute = 14, dtm.second = 15;
  dtm.second_part = 123, dtm.time_type = MYSQL_TIMESTAMP_DATETIME;
  tm.neg = 1, tm.hour = 12, tm.minute = 34, tm.second = 56, tm.time_type = MYSQL_TIMESTAMP_TIME;
  int16_t y = 2024;
  MYSQL_BIND b[17];
  std::memset(b, 0, sizeof(b));
  auto bind = [&](int i, enum_field_types t, void* p, unsigned long len = 0) {
    b[i].buffer_type = t;
    b[i].buffer = p;
    b[i].buffer_length = len;
  };
  unsigned long lens[17] = {};
  bind(0, MYSQL_TYPE_LONG, &id);
  bind(1, MYSQL_TYPE_TINY, &ti);
  bind(2, MYSQL_TYPE_SHORT, &si);
  bind(3, MYSQL_TYPE_LONG, &mi);
  bind(4, MYSQL_TYPE_LONGLONG, &bi);
  bind(5, MYSQL_TYPE_LONGLONG, &ub);
  b[5].is_unsigned = 1;
  bind(6, MYSQL_TYPE_FLOAT, &f);
  bind(7, MYSQL_TYPE_DOUBLE, &dbl);
  std::string* strs[] = {&dec, &c, &vc, &tx, &bl};
  enum_field_types stypes[] = {MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_STRING, MYSQL_TYPE_VAR_STRING,
                               MYSQL_TYPE_BLOB, MYSQL_TYPE_BLOB};
  for (int i = 0; i < 5; ++i) {
    lens[8 + i] = strs[i]->size();
    bind(8 + i, stypes[i], strs[i]->data(), strs[i]->size());
    b[8 + i].length = &lens[8 + i];
  }
  bind(13, MYSQL_TYPE_DATE, &dt);
  bind(14, MYSQL_TYPE_DATETIME, &dtm);
  bind(15, MYSQL_TYPE_TIME, &tm);
  bind(16, MYSQL_TYPE_SHORT, &y);
  ASSERT_EQ(mysql_stmt_bind_param(st, b), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
  EXPECT_EQ(mysql_stmt_affected_rows(st), 1u);
  // Again with every parameter but the key NULL, and types not resent.
  my_bool is_null = 1;
  for (int i = 1; i < 17; ++i) b[i].is_null = &is_null;
  id = 2;
  ASSERT_EQ(mysql_stmt_bind_param(st, b), 0);
  ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
  mysql_stmt_close(st);
  auto rows = Rows(m, "SELECT * FROM params ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], absl::StrCat("1\t", kTypesRow));
  EXPECT_EQ(rows[1], absl::StrCat("2\t", kNullRow));

  // A prepared statement reused many times, with BEGIN/COMMIT prepared too (as sysbench).
  MYSQL_STMT* begin = mysql_stmt_init(m);
  MYSQL_STMT* commit = mysql_stmt_init(m);
  MYSQL_STMT* upd = mysql_stmt_init(m);
  ASSERT_EQ(mysql_stmt_prepare(begin, "BEGIN", 5), 0);
  ASSERT_EQ(mysql_stmt_prepare(commit, "COMMIT", 6), 0);
  const char* uq = "UPDATE params SET bi = bi + ? WHERE id = ?";
  ASSERT_EQ(mysql_stmt_prepare(upd, uq, strlen(uq)), 0) << mysql_stmt_error(upd);
  int64_t delta = 1;
  int32_t key = 1;
  MYSQL_BIND ub2[2];
  std::memset(ub2, 0, sizeof(ub2));
  ub2[0].buffer_type = MYSQL_TYPE_LONGLONG;
  ub2[0].buffer = &delta;
  ub2[1].buffer_type = MYSQL_TYPE_LONG;
  ub2[1].buffer = &key;
  ASSERT_EQ(mysql_stmt_bind_param(upd, ub2), 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(mysql_stmt_execute(begin), 0) << mysql_stmt_error(begin);
    ASSERT_EQ(mysql_stmt_execute(upd), 0) << mysql_stmt_error(upd);
    ASSERT_EQ(mysql_stmt_execute(commit), 0) << mysql_stmt_error(commit);
  }
  EXPECT_EQ(Rows(m, "SELECT bi FROM params WHERE id = 1"), std::vector<std::string>{"-8999999980"});
  mysql_stmt_close(begin);
  mysql_stmt_close(commit);
  mysql_stmt_close(upd);
  mysql_close(m);
}

TEST_F(MySqlTest, ErrorsCarryMySqlCodesAndSqlState) {
  MYSQL* m = Connect("root", "", "d1");
  ASSERT_NE(m, nullptr) << last_connect_error_;
  EXPECT_NE(mysql_query(m, "SELEC 1"), 0);
  EXPECT_EQ(mysql_errno(m), 1064u);
  EXPECT_STREQ(mysql_sqlstate(m), "42000");
  EXPECT_NE(mysql_query(m, "SELECT * FROM no_such_table"), 0);
  EXPECT_EQ(mysql_errno(m), 1146u);
  Exec(m, "CREATE TABLE dup (id INT PRIMARY KEY)");
  Exec(m, "INSERT INTO dup VALUES (1)");
  EXPECT_NE(mysql_query(m, "INSERT INTO dup VALUES (1)"), 0);
  EXPECT_EQ(mysql_errno(m), 1062u);
  EXPECT_STREQ(mysql_sqlstate(m), "23000");
  EXPECT_NE(mysql_select_db(m, "no_such_db"), 0);
  EXPECT_EQ(mysql_errno(m), 1049u);
  EXPECT_NE(mysql_query(m, ""), 0);
  EXPECT_EQ(mysql_errno(m), 1065u);
  // The connection is still fine.
  EXPECT_EQ(Rows(m, "SELECT 1 + 1"), std::vector<std::string>{"2"});
  // A prepared statement that does not parse, and one executed with a bad handle.
  MYSQL_STMT* st = mysql_stmt_init(m);
  EXPECT_NE(mysql_stmt_prepare(st, "SELEC ?", 7), 0);
  EXPECT_EQ(mysql_stmt_errno(st), 1064u);
  mysql_stmt_close(st);
  mysql_close(m);

  EXPECT_EQ(Connect("alice", "wrong"), nullptr);
  EXPECT_EQ(last_connect_errno_, 1045u);
  EXPECT_EQ(Connect("nobody", ""), nullptr);
  EXPECT_EQ(last_connect_errno_, 1045u);
  EXPECT_EQ(Connect("root", "", "no_such_db"), nullptr);
  EXPECT_EQ(last_connect_errno_, 1049u);
  MYSQL* a = Connect("alice", "secret", "d1");
  ASSERT_NE(a, nullptr) << last_connect_error_;
  mysql_close(a);
}

TEST_F(MySqlTest, WriteConflictIs1213) {
  MYSQL* a = Connect("root", "", "d1");
  MYSQL* b = Connect("root", "", "d1");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Exec(a, "CREATE TABLE acct (id INT PRIMARY KEY, v INT)");
  Exec(a, "INSERT INTO acct VALUES (1, 0)");
  // Optimistic: the conflict shows at b's COMMIT (pessimistic, b's UPDATE would wait for
  // a's lock on this one-threaded client).
  Exec(a, "BEGIN OPTIMISTIC");
  Exec(b, "BEGIN OPTIMISTIC");
  Exec(a, "UPDATE acct SET v = 1 WHERE id = 1");
  int rb = mysql_query(b, "UPDATE acct SET v = 2 WHERE id = 1");
  Exec(a, "COMMIT");
  if (rb == 0) rb = mysql_query(b, "COMMIT");
  EXPECT_NE(rb, 0);
  EXPECT_EQ(mysql_errno(b), 1213u) << mysql_error(b);
  EXPECT_EQ(Rows(a, "SELECT v FROM acct"), std::vector<std::string>{"1"});
  mysql_close(a);
  mysql_close(b);
}

TEST_F(MySqlTest, MultiStatements) {
  MYSQL* m = Connect("root", "", "d1", CLIENT_MULTI_STATEMENTS);
  ASSERT_NE(m, nullptr) << last_connect_error_;
  const char* q =
      "CREATE TABLE ms (id INT PRIMARY KEY); INSERT INTO ms VALUES (1), (2); "
      "SELECT count(*) FROM ms; SELECT 'a;b' AS s";
  ASSERT_EQ(mysql_query(m, q), 0) << mysql_error(m);
  std::vector<std::string> seen;
  do {
    MYSQL_RES* r = mysql_store_result(m);
    if (r != nullptr) {
      MYSQL_ROW row = mysql_fetch_row(r);
      seen.push_back(row[0]);
      mysql_free_result(r);
    } else {
      seen.push_back(absl::StrCat("affected=", mysql_affected_rows(m)));
    }
  } while (mysql_next_result(m) == 0);
  EXPECT_EQ(seen, (std::vector<std::string>{"affected=0", "affected=2", "2", "a;b"}));
  // An error stops the batch: the third statement never runs.
  ASSERT_EQ(mysql_query(m,
                        "INSERT INTO ms VALUES (3); INSERT INTO ms VALUES (1); "
                        "INSERT INTO ms VALUES (4)"),
            0);
  EXPECT_GT(mysql_next_result(m), 0);
  EXPECT_EQ(mysql_errno(m), 1062u);
  EXPECT_EQ(Rows(m, "SELECT id FROM ms ORDER BY id"), (std::vector<std::string>{"1", "2", "3"}));
  mysql_close(m);

  // Without CLIENT_MULTI_STATEMENTS the text is one statement, and that is a syntax error.
  MYSQL* single = Connect("root", "", "d1");
  ASSERT_NE(single, nullptr);
  EXPECT_NE(mysql_query(single, "SELECT 1; SELECT 2"), 0);
  EXPECT_EQ(mysql_errno(single), 1064u);
  mysql_close(single);
}

TEST_F(MySqlTest, PingStatisticsFieldListInitDbChangeUser) {
  MYSQL* m = Connect();
  ASSERT_NE(m, nullptr) << last_connect_error_;
  EXPECT_EQ(mysql_ping(m), 0);
  const char* stat = mysql_stat(m);
  ASSERT_NE(stat, nullptr);
  EXPECT_NE(std::string(stat).find("Uptime:"), std::string::npos) << stat;
  EXPECT_EQ(mysql_select_db(m, "d1"), 0) << mysql_error(m);
  Exec(m, "CREATE TABLE fl (a INT PRIMARY KEY, b VARCHAR(10))");
  MYSQL_RES* r = mysql_list_fields(m, "fl", nullptr);
  ASSERT_NE(r, nullptr) << mysql_error(m);
  ASSERT_EQ(mysql_num_fields(r), 2u);
  EXPECT_STREQ(mysql_fetch_fields(r)[1].name, "b");
  EXPECT_EQ(mysql_fetch_fields(r)[1].type, MYSQL_TYPE_VAR_STRING);
  mysql_free_result(r);
  EXPECT_EQ(Rows(m, "SELECT DATABASE()"), std::vector<std::string>{"d1"});
  ASSERT_EQ(mysql_change_user(m, "alice", "secret", nullptr), 0) << mysql_error(m);
  EXPECT_EQ(Rows(m, "SELECT DATABASE()"), std::vector<std::string>{"NULL"});
  ASSERT_EQ(mysql_change_user(m, "root", "", "d1"), 0) << mysql_error(m);
  EXPECT_EQ(Rows(m, "SELECT count(*) FROM fl"), std::vector<std::string>{"0"});
  EXPECT_NE(mysql_change_user(m, "alice", "bad", nullptr), 0);
  EXPECT_EQ(mysql_errno(m), 1045u);
  mysql_close(m);
  auto stats = server_->GetStats();
  EXPECT_GT(stats.total_connections, 0u);
  EXPECT_GT(stats.questions, 0u);
}

// A 16 MiB value in both directions: sent as long data (binary protocol) and inside a text
// query whose packet spans continuation packets; returned in rows that span several
// 16 MiB packets in both protocols; and a 1 MiB value (beyond BLOB's 65,535 bytes) makes
// the round trip through a LONGBLOB column.
TEST_F(MySqlTest, SixteenMebibyteValue) {
  MYSQL* m = Connect("root", "", "d1");
  ASSERT_NE(m, nullptr) << last_connect_error_;
  std::string value((16 << 20) + 10, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 26);

  // Binary protocol: long data in, two copies out.
  MYSQL_STMT* st = mysql_stmt_init(m);
  const char* q = "SELECT ? AS v, 7 AS k";
  ASSERT_EQ(mysql_stmt_prepare(st, q, strlen(q)), 0) << mysql_stmt_error(st);
  MYSQL_BIND b{};
  b.buffer_type = MYSQL_TYPE_LONG_BLOB;
  ASSERT_EQ(mysql_stmt_bind_param(st, &b), 0);
  for (size_t at = 0; at < value.size(); at += 4 << 20) {
    size_t n = std::min<size_t>(4 << 20, value.size() - at);
    ASSERT_EQ(mysql_stmt_send_long_data(st, 0, value.data() + at, n), 0) << mysql_stmt_error(st);
  }
  ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
  std::string out(value.size(), '\0');
  unsigned long len = 0;
  int64_t k = 0;
  MYSQL_BIND rb[2];
  std::memset(rb, 0, sizeof(rb));
  rb[0].buffer_type = MYSQL_TYPE_LONG_BLOB;
  rb[0].buffer = out.data();
  rb[0].buffer_length = out.size();
  rb[0].length = &len;
  rb[1].buffer_type = MYSQL_TYPE_LONGLONG;
  rb[1].buffer = &k;
  ASSERT_EQ(mysql_stmt_bind_result(st, rb), 0);
  ASSERT_EQ(mysql_stmt_fetch(st), 0) << mysql_stmt_error(st);
  EXPECT_EQ(len, value.size());
  EXPECT_TRUE(out == value);
  EXPECT_EQ(k, 7);
  mysql_stmt_close(st);

  // Text protocol: the query itself is over 16 MiB, and so is the row.
  std::string text = absl::StrCat("SELECT '", value, "' AS v, 42 AS n");
  ASSERT_EQ(mysql_real_query(m, text.data(), text.size()), 0) << mysql_error(m);
  MYSQL_RES* r = mysql_store_result(m);
  ASSERT_NE(r, nullptr) << mysql_error(m);
  MYSQL_ROW row = mysql_fetch_row(r);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(mysql_fetch_lengths(r)[0], value.size());
  EXPECT_TRUE(std::string_view(row[0], mysql_fetch_lengths(r)[0]) == value);
  EXPECT_EQ(std::string(row[1]), "42");
  mysql_free_result(r);

  Exec(m, "CREATE TABLE big (id INT PRIMARY KEY, v LONGBLOB)");
  std::string stored = value.substr(0, 1 << 20);
  Exec(m, absl::StrCat("INSERT INTO big VALUES (1, '", stored, "')"));
  EXPECT_EQ(Rows(m, "SELECT v FROM big"), std::vector<std::string>{stored});
  mysql_close(m);
}

TEST_F(MySqlTest, PacketLargerThanMaxAllowedIsRefusedAndServerKeepsServing) {
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  o.max_allowed_packet = 1 << 20;
  auto small = MySqlServer::Start(db, o);
  ASSERT_TRUE(small.ok()) << small.status();
  MYSQL* m = Connect("root", "", nullptr, 0, (*small)->port());
  ASSERT_NE(m, nullptr) << last_connect_error_;
  std::string q = absl::StrCat("SELECT '", std::string(2 << 20, 'x'), "'");
  EXPECT_NE(mysql_real_query(m, q.data(), q.size()), 0);
  const unsigned e = mysql_errno(m);
  EXPECT_TRUE(e == 1153 || e == CR_SERVER_LOST || e == CR_SERVER_GONE_ERROR) << e;
  mysql_close(m);
  MYSQL* again = Connect("root", "", nullptr, 0, (*small)->port());
  ASSERT_NE(again, nullptr) << last_connect_error_;
  EXPECT_EQ(Rows(again, "SELECT 'fine'"), std::vector<std::string>{"fine"});
  mysql_close(again);
  small->reset();
  delete db;
}

TEST_F(MySqlTest, ConnectionLimit) {
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  o.max_connections = 2;
  auto limited = MySqlServer::Start(db, o);
  ASSERT_TRUE(limited.ok()) << limited.status();
  const uint16_t port = (*limited)->port();
  MYSQL* a = Connect("root", "", nullptr, 0, port);
  MYSQL* b = Connect("root", "", nullptr, 0, port);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Connect("root", "", nullptr, 0, port), nullptr);
  EXPECT_EQ(last_connect_errno_, 1040u) << last_connect_error_;
  mysql_close(a);
  // The slot frees once the server has seen the close.
  MYSQL* c = nullptr;
  for (int i = 0; i < 200 && c == nullptr; ++i) {
    c = Connect("root", "", nullptr, 0, port);
    if (c == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_NE(c, nullptr) << last_connect_error_;
  mysql_close(b);
  mysql_close(c);
  limited->reset();
  delete db;
}

// ---- Raw sockets: what no well-behaved client sends ----

class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{20, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }

  void SendRaw(std::string_view bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return;
      at += static_cast<size_t>(n);
    }
  }
  void SendPacket(std::string_view payload, uint8_t seq) {
    std::string p;
    PutU24(&p, static_cast<uint32_t>(payload.size()));
    PutU8(&p, seq);
    p.append(payload);
    SendRaw(p);
  }
  // The next packet's payload, or nullopt when the server closed the connection.
  std::optional<std::string> ReadPacket() {
    std::string h(4, '\0');
    if (!ReadExactly(h.data(), 4)) return std::nullopt;
    size_t len = static_cast<uint8_t>(h[0]) | (static_cast<uint8_t>(h[1]) << 8) |
                 (static_cast<uint8_t>(h[2]) << 16);
    std::string p(len, '\0');
    if (!ReadExactly(p.data(), len)) return std::nullopt;
    return p;
  }
  // Reads the greeting and logs in as root (no password). Returns whether it got OK.
  bool Login() {
    auto greeting = ReadPacket();
    if (!greeting || (*greeting)[0] != 10) return false;
    std::string r;
    PutU32(&r,
           kClientProtocol41 | kClientSecureConnection | kClientPluginAuth | kClientLongPassword);
    PutU32(&r, 1 << 24);
    PutU8(&r, 45);
    r.append(23, '\0');
    PutNulString(&r, "root");
    PutU8(&r, 0);
    PutNulString(&r, "mysql_native_password");
    SendPacket(r, 1);
    auto ok = ReadPacket();
    return ok && !ok->empty() && (*ok)[0] == 0;
  }

 private:
  bool ReadExactly(char* p, size_t n) {
    size_t at = 0;
    while (at < n) {
      ssize_t k = recv(fd_, p + at, n - at, 0);
      if (k == 0 || (k < 0 && errno == ECONNRESET)) closed_by_server_ = true;
      if (k <= 0) return false;
      at += static_cast<size_t>(k);
    }
    return true;
  }
  int fd_;
  bool connected_ = false;
  bool closed_by_server_ = false;

 public:
  // Whether a read failed because the server closed the connection (not a read timeout).
  bool closed_by_server() const { return closed_by_server_; }

  // Reads one command's response: an OK or ERR packet, or a whole result set (or prepare
  // response) up to its last EOF. Returns the packets; empty when the server closed.
  std::vector<std::string> ReadResponse() {
    std::vector<std::string> out;
    auto first = ReadPacket();
    if (!first) return out;
    out.push_back(*first);
    const uint8_t head = static_cast<uint8_t>((*first)[0]);
    if (head == 0xFF || first->empty()) return out;
    int eofs = 0;
    if (head == 0x00) {  // OK, or COM_STMT_PREPARE_OK with its definitions.
      if (first->size() < 12) return out;
      auto u16 = [&](size_t at) {
        return static_cast<uint8_t>((*first)[at]) | (static_cast<uint8_t>((*first)[at + 1]) << 8);
      };
      eofs = (u16(5) > 0) + (u16(7) > 0);
    } else {
      eofs = 2;  // Column count: definitions, EOF, rows, EOF.
    }
    while (eofs > 0) {
      auto p = ReadPacket();
      if (!p) return {};
      out.push_back(*p);
      if (!p->empty() && static_cast<uint8_t>((*p)[0]) == 0xFE && p->size() < 9) --eofs;
      if (!p->empty() && static_cast<uint8_t>((*p)[0]) == 0xFF) return out;
    }
    return out;
  }
};

uint16_t ErrCode(const std::optional<std::string>& p) {
  if (!p || p->size() < 3 || static_cast<uint8_t>((*p)[0]) != 0xFF) return 0;
  return static_cast<uint8_t>((*p)[1]) | (static_cast<uint8_t>((*p)[2]) << 8);
}

TEST_F(MySqlTest, MalformedAndTruncatedPacketsGetCleanErrors) {
  const uint16_t port = server_->port();
  {  // A garbage handshake response: ERR 1043, then the server closes.
    RawClient c(port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.ReadPacket().has_value());
    c.SendPacket("\x01\x02\x03", 1);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErHandshake);
    EXPECT_FALSE(c.ReadPacket().has_value());
  }
  {  // A handshake response cut inside the user name.
    RawClient c(port);
    ASSERT_TRUE(c.ReadPacket().has_value());
    std::string r;
    PutU32(&r, kClientProtocol41 | kClientSecureConnection);
    r.append(28, '\0');
    r.append("roo");
    c.SendPacket(r, 1);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErHandshake);
  }
  {  // A header promising more than is sent, then the client goes away.
    RawClient c(port);
    ASSERT_TRUE(c.Login());
    c.SendRaw(std::string("\x64\x00\x00\x00\x03SELECT", 10));
  }
  {  // Bad commands on a logged-in connection, each answered; the connection stays usable.
    RawClient c(port);
    ASSERT_TRUE(c.Login());
    c.SendPacket("", 0);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErMalformedPacket);
    c.SendPacket("\x55garbage", 0);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErUnknownCom);
    c.SendPacket(std::string("\x17\x01", 2), 0);  // COM_STMT_EXECUTE cut in the id.
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErMalformedPacket);
    c.SendPacket(std::string("\x17\x63\x00\x00\x00\x00\x01\x00\x00\x00", 10), 0);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErUnknownStmtHandler);
    c.SendPacket("\x16SELECT ?", 0);  // Prepare: OK, one parameter definition, EOF.
    auto prep = c.ReadPacket();
    ASSERT_TRUE(prep && prep->size() == 12 && (*prep)[0] == 0);
    const uint32_t id = static_cast<uint8_t>((*prep)[1]);
    const int columns = static_cast<uint8_t>((*prep)[5]);
    EXPECT_EQ(static_cast<uint8_t>((*prep)[7]), 1);  // One parameter.
    for (int i = 0; i < 1 + 1 + (columns > 0 ? columns + 1 : 0); ++i) {
      ASSERT_TRUE(c.ReadPacket().has_value());
    }
    std::string exec;
    PutU8(&exec, kComStmtExecute);
    PutU32(&exec, id);
    PutU8(&exec, 0);
    PutU32(&exec, 1);
    PutU8(&exec, 0);        // Null bitmap.
    c.SendPacket(exec, 0);  // No new-params-bound flag.
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErMalformedPacket);
    PutU8(&exec, 1);
    PutU16(&exec, kTypeLongLong);
    PutU32(&exec, 7);  // Half a BIGINT.
    c.SendPacket(exec, 0);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErMalformedPacket);
    std::string bad_type = exec.substr(0, 12);  // Up to the new-params-bound flag.
    PutU16(&bad_type, 0x42);
    c.SendPacket(bad_type, 0);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErMalformedPacket);
    c.SendPacket("\x03SELECT 40 + 2", 0);
    auto count = c.ReadPacket();
    ASSERT_TRUE(count.has_value());
    EXPECT_EQ((*count)[0], 1);
  }
  {  // Random payloads after login; the server answers or closes, never falls over.
    std::mt19937_64 rng(7);
    const uint8_t commands[] = {kComInitDb,      kComQuery,       kComFieldList,
                                kComStmtPrepare, kComStmtExecute, kComStmtSendLongData,
                                kComStmtClose,   kComStmtReset,   kComSetOption,
                                kComChangeUser,  kComStatistics,  kComPing};
    for (int conn = 0; conn < 20; ++conn) {
      RawClient c(port);
      ASSERT_TRUE(c.Login());
      for (int i = 0; i < 20; ++i) {
        std::string p(1 + rng() % 40, '\0');
        for (auto& ch : p) ch = static_cast<char>(rng());
        p[0] = static_cast<char>(commands[rng() % std::size(commands)]);
        c.SendPacket(p, 0);
      }
    }
  }
  MYSQL* m = Connect();
  ASSERT_NE(m, nullptr) << last_connect_error_;
  EXPECT_EQ(Rows(m, "SELECT 'still serving'"), std::vector<std::string>{"still serving"});
  mysql_close(m);
}

TEST_F(MySqlTest, ClientSilentDuringLoginIsDisconnected) {
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  // Generous, so the prompt client below logs in well within it even under ASan on a
  // loaded machine; the test asserts what happens, not how long it took.
  o.handshake_timeout_micros = 4'000'000;
  auto server = MySqlServer::Start(db, o);
  ASSERT_TRUE(server.ok()) << server.status();
  // A client that logs in in time keeps its connection past the timeout: it connects
  // first, so once the silent client (connected later) has been dropped, its own timeout
  // has passed too.
  RawClient prompt((*server)->port());
  ASSERT_TRUE(prompt.Login());
  {
    RawClient silent((*server)->port());
    ASSERT_TRUE(silent.ReadPacket().has_value());  // The greeting; then say nothing.
    EXPECT_FALSE(silent.ReadPacket().has_value());
    EXPECT_TRUE(silent.closed_by_server()) << "no disconnect within the client's 20 s timeout";
  }
  prompt.SendPacket("\x0e", 0);  // COM_PING.
  auto ok = prompt.ReadPacket();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)[0], 0);
  server->reset();
  delete db;
}

TEST_F(MySqlTest, ConnectionLimitHoldsForABurstOfConnects) {
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  o.max_connections = 2;
  auto server = MySqlServer::Start(db, o);
  ASSERT_TRUE(server.ok()) << server.status();
  // All connect before any connection fiber runs: the failpoint (when compiled in) holds
  // each one back until the accept loop has taken all six, which is when a limit counted
  // in the connection fiber would let every one in.
  constexpr char kHold[] = "mysql_server_before_serve";
  const bool held = failpoint::Configure(kHold, "pause").ok();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<RawClient>((*server)->port()));
  if (held) {
    for (int i = 0; i < 2000 && failpoint::Evaluations(kHold) < 6; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(failpoint::Evaluations(kHold), 6u);
    failpoint::Remove(kHold);
  }
  int greeted = 0, refused = 0;
  for (auto& c : clients) {
    auto p = c->ReadPacket();
    ASSERT_TRUE(p.has_value());
    if ((*p)[0] == 10) ++greeted;
    if (ErrCode(p) == kErConCount) ++refused;
  }
  EXPECT_EQ(greeted, 2);
  EXPECT_EQ(refused, 4);
  clients.clear();
  server->reset();
  delete db;
}

std::string PreparePacket(std::string_view sql_text) {
  std::string p(1, static_cast<char>(kComStmtPrepare));
  p.append(sql_text);
  return p;
}

uint32_t StmtId(const std::vector<std::string>& prepare_response) {
  const std::string& p = prepare_response.at(0);
  uint32_t id = 0;
  for (int i = 4; i >= 1; --i) id = (id << 8) | static_cast<uint8_t>(p[i]);
  return id;
}

// COM_STMT_EXECUTE of a one-parameter statement with a VAR_STRING value, or with no value
// (the parameter comes from long data).
std::string ExecutePacket(uint32_t id, std::optional<std::string_view> value) {
  std::string p(1, static_cast<char>(kComStmtExecute));
  PutU32(&p, id);
  PutU8(&p, 0);
  PutU32(&p, 1);
  PutU8(&p, 0);  // NULL bitmap.
  PutU8(&p, 1);  // Types follow.
  PutU16(&p, kTypeVarString);
  if (value) PutLenencString(&p, *value);
  return p;
}

std::string LongDataPacket(uint32_t id, uint16_t param, std::string_view data) {
  std::string p(1, static_cast<char>(kComStmtSendLongData));
  PutU32(&p, id);
  PutU16(&p, param);
  p.append(data);
  return p;
}

TEST_F(MySqlTest, TooManyPlaceholdersIsRefusedWith1390) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.Login());
  std::string q = "SELECT 1 IN (?";
  for (int i = 1; i < 65536; ++i) q += ",?";
  q += ")";
  c.SendPacket(PreparePacket(q), 0);
  auto r = c.ReadResponse();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(ErrCode(r[0]), kErPsManyParam);
  c.SendPacket(PreparePacket("SELECT ?"), 0);  // The connection still serves.
  r = c.ReadResponse();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0][0], 0);
  EXPECT_EQ(static_cast<uint8_t>(r[0][7]), 1);  // One parameter.
}

TEST_F(MySqlTest, PreparedStatementsPerConnectionAreCapped) {
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  o.max_prepared_statements = 3;
  auto server = MySqlServer::Start(db, o);
  ASSERT_TRUE(server.ok()) << server.status();
  RawClient c((*server)->port());
  ASSERT_TRUE(c.Login());
  std::vector<uint32_t> ids;
  for (int i = 0; i < 3; ++i) {
    c.SendPacket(PreparePacket("SELECT ?"), 0);
    auto r = c.ReadResponse();
    ASSERT_FALSE(r.empty());
    ASSERT_EQ(r[0][0], 0) << ErrCode(r[0]);
    ids.push_back(StmtId(r));
  }
  c.SendPacket(PreparePacket("SELECT ?"), 0);
  auto r = c.ReadResponse();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(ErrCode(r[0]), kErMaxPreparedStmtCount);
  std::string close(1, static_cast<char>(kComStmtClose));
  PutU32(&close, ids[0]);
  c.SendPacket(close, 0);  // No response.
  c.SendPacket(PreparePacket("SELECT ?"), 0);
  r = c.ReadResponse();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0][0], 0) << ErrCode(r[0]);
  server->reset();
  delete db;
}

TEST_F(MySqlTest, LongDataIsCappedPerConnection) {
  sql::Database* db = sql::Database::OpenInMemory()->release();
  ServerOptions o;
  o.port = 0;
  o.max_allowed_packet = 1 << 20;
  auto server = MySqlServer::Start(db, o);
  ASSERT_TRUE(server.ok()) << server.status();
  RawClient c((*server)->port());
  ASSERT_TRUE(c.Login());
  uint32_t a = 0, b = 0;
  for (uint32_t* id : {&a, &b}) {
    c.SendPacket(PreparePacket("SELECT ?"), 0);
    auto r = c.ReadResponse();
    ASSERT_FALSE(r.empty());
    ASSERT_EQ(r[0][0], 0) << ErrCode(r[0]);
    *id = StmtId(r);
  }
  const std::string chunk(600 << 10, 'x');
  // Within the cap: executes with the accumulated value.
  c.SendPacket(LongDataPacket(a, 0, chunk), 0);
  c.SendPacket(ExecutePacket(a, std::nullopt), 0);
  auto r = c.ReadResponse();
  ASSERT_EQ(r.size(), 5u) << ErrCode(r[0]);
  EXPECT_GT(r[3].size(), chunk.size());
  // One statement past the cap: its execute fails, and the state is cleared.
  c.SendPacket(LongDataPacket(a, 0, chunk), 0);
  c.SendPacket(LongDataPacket(a, 0, chunk), 0);
  c.SendPacket(ExecutePacket(a, std::nullopt), 0);
  r = c.ReadResponse();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(ErrCode(r[0]), kErUnknownError);
  c.SendPacket(ExecutePacket(a, "abc"), 0);
  r = c.ReadResponse();
  ASSERT_EQ(r.size(), 5u) << ErrCode(r[0]);
  EXPECT_TRUE(r[3].ends_with("abc"));
  // Two statements together past the cap: the second one's execute fails.
  c.SendPacket(LongDataPacket(a, 0, chunk), 0);
  c.SendPacket(LongDataPacket(b, 0, chunk), 0);
  c.SendPacket(ExecutePacket(b, std::nullopt), 0);
  r = c.ReadResponse();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(ErrCode(r[0]), kErUnknownError);
  c.SendPacket(ExecutePacket(a, std::nullopt), 0);
  r = c.ReadResponse();
  ASSERT_EQ(r.size(), 5u) << ErrCode(r[0]);
  EXPECT_GT(r[3].size(), chunk.size());
  server->reset();
  delete db;
}

TEST_F(MySqlTest, BigPacketBeforeLoginIsRefused) {
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.ReadPacket().has_value());
    // Only the header, announcing 64 KiB: the server must refuse without waiting for it.
    std::string header;
    PutU24(&header, 64 << 10);
    PutU8(&header, 1);
    c.SendRaw(header);
    EXPECT_EQ(ErrCode(c.ReadPacket()), kErNetPacketTooLarge);
    EXPECT_FALSE(c.ReadPacket().has_value());
  }
  MYSQL* m = Connect();
  ASSERT_NE(m, nullptr) << last_connect_error_;
  EXPECT_EQ(Rows(m, "SELECT 'still serving'"), std::vector<std::string>{"still serving"});
  mysql_close(m);
}

#ifdef RUTILE_MARIADB_CLI
std::string RunShell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (rc != 0) out += absl::StrCat("[exit ", rc, "]");
  return out;
}

TEST_F(MySqlTest, MariadbCliThroughAPipeAndInBatchMode) {
  const std::string cli =
      absl::StrCat(RUTILE_MARIADB_CLI, " --no-defaults -h127.0.0.1 -P", server_->port(), " -uroot");
  const std::string path = absl::StrCat(::testing::TempDir(), "/rutile_cli_", getpid(), ".sql");
  {
    std::ofstream f(path);
    f << "CREATE DATABASE cli;\nUSE cli;\n"
         "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));\n"
         "INSERT INTO t VALUES (1, 'one'), (2, NULL);\n"
         "SELECT * FROM t ORDER BY id;\n";
  }
  EXPECT_EQ(RunShell(absl::StrCat("cat ", path, " | ", cli, " 2>&1")), "id\tv\n1\tone\n2\tNULL\n");
  EXPECT_EQ(RunShell(absl::StrCat(cli, " -N -e 'SELECT count(*) FROM cli.t' 2>&1")), "2\n");
  const std::string err = RunShell(absl::StrCat(cli, " -e 'SELECT * FROM cli.nope' 2>&1"));
  EXPECT_NE(err.find("ERROR 1146 (42S02)"), std::string::npos) << err;
}

// The CLI's `status` command: USER(), the connection id and the character sets.
TEST_F(MySqlTest, MariadbCliStatus) {
  const std::string cli =
      absl::StrCat(RUTILE_MARIADB_CLI, " --no-defaults -h127.0.0.1 -P", server_->port(), " -uroot");
  const std::string out = RunShell(absl::StrCat(cli, " -e status 2>&1"));
  EXPECT_EQ(out.find("ERROR"), std::string::npos) << out;
  EXPECT_EQ(out.find("[exit"), std::string::npos) << out;
  EXPECT_NE(out.find("Current user:\t\troot@"), std::string::npos) << out;
  EXPECT_NE(out.find("Db     characterset:\tutf8mb4"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection id:"), std::string::npos) << out;
}
#endif

}  // namespace
}  // namespace rutile::server
