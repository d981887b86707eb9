// Who a session is: CONNECTION_ID() (unique per session, or the server's thread id),
// USER() / CURRENT_USER() / SESSION_USER(), and the character-set variables the mariadb
// CLI's `status` command reads.

#include <memory>
#include <string>

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

}  // namespace
}  // namespace rutile::sql
