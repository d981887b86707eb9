// Who a session is: CONNECTION_ID() (unique per session, or the server's thread id),
// USER() / CURRENT_USER() / SESSION_USER(), and the character-set variables the mariadb
// CLI's `status` command reads; and what the last statement reported (SHOW WARNINGS,
// SHOW ERRORS).

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/sql.h"

namespace rutile::sql {
namespace {

std::string One(Session* s, const std::string& sql) {
  auto r = s->Execute(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status();
  if (!r.ok() || r->rows.size() != 1 || r->rows[0].size() != 1) return "<error>";
  return r->rows[0][0].value_or("NULL");
}

TEST(ConnectionInfoTest, ConnectionIdIsPerSession) {
  auto db = Database::OpenInMemory();
  ASSERT_TRUE(db.ok()) << db.status();
  std::unique_ptr<Session> a = (*db)->NewSession(), b = (*db)->NewSession();
  std::string ia = One(a.get(), "SELECT CONNECTION_ID()");
  std::string ib = One(b.get(), "SELECT CONNECTION_ID()");
  EXPECT_NE(ia, ib);
  EXPECT_EQ(ia, std::to_string(a->ConnectionId()));
  EXPECT_EQ(ib, std::to_string(b->ConnectionId()));
  // A server names the session after its protocol thread id.
  a->SetConnectionInfo(4242, "app", "10.0.0.7");
  EXPECT_EQ(One(a.get(), "SELECT CONNECTION_ID()"), "4242");
  auto bad = a->Execute("SELECT CONNECTION_ID(1)");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(MySqlErrorOf(bad.status()).code, 1582);
}

TEST(ConnectionInfoTest, UserFunctions) {
  auto db = Database::OpenInMemory();
  ASSERT_TRUE(db.ok()) << db.status();
  std::unique_ptr<Session> s = (*db)->NewSession();
  EXPECT_EQ(One(s.get(), "SELECT USER()"), "root@localhost");
  s->SetConnectionInfo(7, "app", "10.0.0.7");
  EXPECT_EQ(One(s.get(), "SELECT USER()"), "app@10.0.0.7");
  EXPECT_EQ(One(s.get(), "SELECT SESSION_USER()"), "app@10.0.0.7");
  EXPECT_EQ(One(s.get(), "SELECT SYSTEM_USER()"), "app@10.0.0.7");
  EXPECT_EQ(One(s.get(), "SELECT CURRENT_USER()"), "app@%");
  EXPECT_EQ(One(s.get(), "SELECT CURRENT_USER"), "app@%");
  // What `status` in the mariadb CLI runs.
  auto r = s->Execute(
      "SELECT DATABASE(), USER(), @@character_set_client, @@character_set_connection, "
      "@@character_set_server, @@character_set_database");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 1u);
  ASSERT_EQ(r->rows[0].size(), 6u);
  EXPECT_FALSE(r->rows[0][0].has_value());
  EXPECT_EQ(r->rows[0][1], "app@10.0.0.7");
  EXPECT_EQ(r->rows[0][5], "utf8mb4");
  EXPECT_EQ(One(s.get(), "SELECT @@collation_database"), "utf8mb4_general_ci");
}

std::vector<std::string> Diagnostics(Session* s, const std::string& show) {
  auto r = s->Execute(show);
  EXPECT_TRUE(r.ok()) << show << ": " << r.status();
  std::vector<std::string> out;
  if (!r.ok()) return out;
  EXPECT_EQ(r->columns.size(), 3u);
  for (const Row& row : r->rows) {
    out.push_back(row[0].value_or("NULL") + "|" + row[1].value_or("NULL") + "|" +
                  row[2].value_or("NULL"));
  }
  return out;
}

TEST(ConnectionInfoTest, ShowWarningsAndErrorsDescribeTheLastStatement) {
  auto db = Database::OpenInMemory();
  ASSERT_TRUE(db.ok()) << db.status();
  std::unique_ptr<Session> s = (*db)->NewSession();
  auto r = s->Execute("SELECT 1/0, CAST('12abc' AS SIGNED)");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->warnings, 2u);
  std::vector<std::string> w = Diagnostics(s.get(), "SHOW WARNINGS");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "Warning|1365|Division by 0");
  EXPECT_EQ(w[1].substr(0, 13), "Warning|1292|") << w[1];
  // SHOW WARNINGS does not replace them; SHOW ERRORS lists errors only.
  EXPECT_EQ(Diagnostics(s.get(), "SHOW WARNINGS").size(), 2u);
  EXPECT_TRUE(Diagnostics(s.get(), "SHOW ERRORS").empty());

  // A failed statement (also one that does not parse) leaves its error.
  EXPECT_FALSE(s->Execute("SELECT * FROM nowhere.t").ok());
  w = Diagnostics(s.get(), "SHOW ERRORS");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].substr(0, 11), "Error|1146|") << w[0];
  EXPECT_FALSE(s->Execute("SELEC 1").ok());
  w = Diagnostics(s.get(), "SHOW WARNINGS");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].substr(0, 11), "Error|1064|") << w[0];

  // A clean statement clears them.
  ASSERT_TRUE(s->Execute("SELECT 1").ok());
  EXPECT_TRUE(Diagnostics(s.get(), "SHOW WARNINGS").empty());
}

}  // namespace
}  // namespace rutile::sql
