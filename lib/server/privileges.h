// Accounts and privileges of the MySQL server: CREATE USER / DROP USER / GRANT / REVOKE /
// SHOW GRANTS, the privilege a statement needs, and mysql_native_password against stored
// hashes.
//
// Accounts live in the cluster, in two system tables created by the first CREATE USER (so
// every server over the same cluster, in any process, sees them):
//   mysql.user(user, host, authentication_string)     authentication_string is MySQL's
//       mysql_native_password hash, "*" + hex(SHA1(SHA1(password))), or "" for none;
//   mysql.grants(user, host, db, tbl, privs)          one row per account and level: global
//       (db = tbl = ""), database (tbl = "") or table; privs is a bit set of Priv.
// The accounts of ServerOptions::users are built in: they are superusers (every privilege,
// no checks) and cannot be created, dropped or changed by SQL.
//
// Names of databases and tables compare case-insensitively (as the catalog does); user
// names exactly. Host patterns: '%' matches any client, 'localhost' and '127.0.0.1' match
// loopback clients, other patterns match the client's address with % and _ wildcards.
//
// Thread safety: AccountStore is thread-safe (its calls run statements on fresh sessions
// and must run on a fiber of the Database's Env); Grants is immutable once loaded.

#ifndef RUTILE_SERVER_PRIVILEGES_H_
#define RUTILE_SERVER_PRIVILEGES_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/sql.h"
#include "sql/parser/ast.h"

namespace rutile::server {

// Privilege bits (persisted in mysql.grants.privs: never renumber).
enum Priv : uint64_t {
  kPrivSelect = 1 << 0,
  kPrivInsert = 1 << 1,
  kPrivUpdate = 1 << 2,
  kPrivDelete = 1 << 3,
  kPrivCreate = 1 << 4,
  kPrivDrop = 1 << 5,
  kPrivReload = 1 << 6,
  kPrivShutdown = 1 << 7,
  kPrivProcess = 1 << 8,
  kPrivFile = 1 << 9,
  kPrivGrantOption = 1 << 10,
  kPrivReferences = 1 << 11,
  kPrivIndex = 1 << 12,
  kPrivAlter = 1 << 13,
  kPrivShowDatabases = 1 << 14,
  kPrivSuper = 1 << 15,
  kPrivCreateTmpTable = 1 << 16,
  kPrivLockTables = 1 << 17,
  kPrivExecute = 1 << 18,
  kPrivReplSlave = 1 << 19,
  kPrivReplClient = 1 << 20,
  kPrivCreateView = 1 << 21,
  kPrivShowView = 1 << 22,
  kPrivCreateRoutine = 1 << 23,
  kPrivAlterRoutine = 1 << 24,
  kPrivCreateUser = 1 << 25,
  kPrivEvent = 1 << 26,
  kPrivTrigger = 1 << 27,
};

// The privileges that may be granted at each level (ALL at a level means these, without
// GRANT OPTION).
inline constexpr uint64_t kTablePrivs = kPrivSelect | kPrivInsert | kPrivUpdate | kPrivDelete |
                                        kPrivCreate | kPrivDrop | kPrivGrantOption |
                                        kPrivReferences | kPrivIndex | kPrivAlter |
                                        kPrivCreateView | kPrivShowView | kPrivTrigger;
inline constexpr uint64_t kDbPrivs = kTablePrivs | kPrivCreateTmpTable | kPrivLockTables |
                                     kPrivExecute | kPrivCreateRoutine | kPrivAlterRoutine |
                                     kPrivEvent;
inline constexpr uint64_t kGlobalPrivs = (uint64_t{1} << 28) - 1;

// "SELECT, INSERT" etc. for a privilege set, in bit order.
std::string PrivNames(uint64_t privs);

// One account's privileges, as loaded from mysql.grants.
class Grants {
 public:
  // Every privilege everywhere (a built-in account).
  static std::shared_ptr<const Grants> Superuser();

  bool superuser() const { return superuser_; }
  // Privileges held on a table (global | database | table), a database (global | database)
  // or globally. Names compare case-insensitively.
  uint64_t OnTable(std::string_view db, std::string_view table) const;
  uint64_t OnDatabase(std::string_view db) const;
  uint64_t Global() const { return superuser_ ? kGlobalPrivs : global_; }
  // Whether any privilege is held on the database or on some table in it (what USE needs).
  bool AnyIn(std::string_view db) const;
  // Whether SHOW and information_schema list the database (table "": some privilege in
  // it, or SHOW DATABASES) or the table (some privilege on it), as MySQL lists them.
  bool Visible(std::string_view db, std::string_view table) const;

  // Levels as stored: key (db, table), "" for a wildcard.
  std::map<std::pair<std::string, std::string>, uint64_t> levels;

  // Builds the lookup maps from `levels`.
  void Index();

 private:
  bool superuser_ = false;
  uint64_t global_ = 0;
  std::map<std::string, uint64_t> dbs_;
  std::map<std::pair<std::string, std::string>, uint64_t> tables_;
};

// What a statement needs: `privs` (all of them; with `any`, at least one) on a table (db and
// table set), a database (table empty) or globally (both empty).
struct Requirement {
  uint64_t privs = 0;
  std::string db;
  std::string table;
  bool any = false;
};

// The privileges `stmt` needs, unqualified names resolved in `current_db` (left out when
// no database is selected: the statement fails on its own). information_schema is readable
// by everyone. User-management statements are not covered (AccountStore checks them).
std::vector<Requirement> RequiredPrivileges(const sql::Stmt& stmt, std::string_view current_db);

// Checks `reqs` against `grants` for `user`@`host`; the error is MySQL's (1142 for a table,
// 1044 for a database, 1227 for a global privilege).
absl::Status CheckPrivileges(const Grants& grants, const std::vector<Requirement>& reqs,
                             std::string_view user, std::string_view host);

// Whether the client address `client` (and its name, "localhost" for loopback) matches
// the account host pattern `pattern`.
bool HostMatches(std::string_view pattern, std::string_view client);

// mysql_native_password's stored form of `password`: "*" + 40 upper-case hex digits, or ""
// for an empty password.
std::string NativePasswordHash(std::string_view password);
// Whether `auth_response` proves the password whose stored form is `hash`.
bool CheckNativePasswordHash(std::string_view hash, std::string_view scramble,
                             std::string_view auth_response);

// The accounts created by SQL, in the cluster's system tables.
class AccountStore {
 public:
  explicit AccountStore(sql::Database* db) : db_(db) {}

  struct Account {
    std::string user;
    std::string host;  // The matching account's host pattern.
    std::string auth;  // Stored hash.
  };
  // The account `user` logging in from `client` (the most specific host pattern that
  // matches), or nullopt.
  absl::StatusOr<std::optional<Account>> Find(std::string_view user, std::string_view client);
  // The grants of account user@host.
  absl::StatusOr<std::shared_ptr<const Grants>> LoadGrants(std::string_view user,
                                                           std::string_view host);

  // Runs CREATE USER / DROP USER / GRANT / REVOKE for `grantor` (whose privileges are
  // `grants`), or SHOW GRANTS. `current_db` resolves unqualified GRANT levels.
  absl::StatusOr<sql::ResultSet> Execute(const sql::Stmt& stmt, const Grants& grants,
                                         std::string_view grantor, std::string_view grantor_host,
                                         std::string_view current_db);

  // Whether `stmt` is one Execute handles.
  static bool Handles(const sql::Stmt& stmt);

 private:
  absl::Status EnsureTables();
  absl::StatusOr<sql::ResultSet> Run(sql::Session* s, const std::string& q);
  absl::StatusOr<sql::ResultSet> CreateUser(const sql::CreateUserStmt& s, const Grants& g);
  absl::StatusOr<sql::ResultSet> DropUser(const sql::DropUserStmt& s, const Grants& g);
  absl::StatusOr<sql::ResultSet> Grant(const sql::GrantStmt& s, const Grants& g,
                                       std::string_view current_db);
  absl::StatusOr<sql::ResultSet> ShowGrants(const sql::ShowStmt& s, const Grants& g,
                                            std::string_view grantor,
                                            std::string_view grantor_host);

  sql::Database* db_;
  std::atomic<bool> tables_ready_{false};  // Set once the system tables exist.
};

}  // namespace rutile::server

#endif  // RUTILE_SERVER_PRIVILEGES_H_
