// Accounts and privileges: see privileges.h.

#include "server/privileges.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/protocol.h"
#include "sql/errors.h"

namespace rutile::server {

namespace {

struct PrivName {
  uint64_t bit;
  const char* name;
};

constexpr PrivName kPrivNames[] = {
    {kPrivSelect, "SELECT"},
    {kPrivInsert, "INSERT"},
    {kPrivUpdate, "UPDATE"},
    {kPrivDelete, "DELETE"},
    {kPrivCreate, "CREATE"},
    {kPrivDrop, "DROP"},
    {kPrivReload, "RELOAD"},
    {kPrivShutdown, "SHUTDOWN"},
    {kPrivProcess, "PROCESS"},
    {kPrivFile, "FILE"},
    {kPrivGrantOption, "GRANT OPTION"},
    {kPrivReferences, "REFERENCES"},
    {kPrivIndex, "INDEX"},
    {kPrivAlter, "ALTER"},
    {kPrivShowDatabases, "SHOW DATABASES"},
    {kPrivSuper, "SUPER"},
    {kPrivCreateTmpTable, "CREATE TEMPORARY TABLES"},
    {kPrivLockTables, "LOCK TABLES"},
    {kPrivExecute, "EXECUTE"},
    {kPrivReplSlave, "REPLICATION SLAVE"},
    {kPrivReplClient, "REPLICATION CLIENT"},
    {kPrivCreateView, "CREATE VIEW"},
    {kPrivShowView, "SHOW VIEW"},
    {kPrivCreateRoutine, "CREATE ROUTINE"},
    {kPrivAlterRoutine, "ALTER ROUTINE"},
    {kPrivCreateUser, "CREATE USER"},
    {kPrivEvent, "EVENT"},
    {kPrivTrigger, "TRIGGER"},
};

absl::Status MySqlErr(absl::StatusCode code, uint16_t mysql_code, const char* sqlstate,
                      std::string message) {
  return sql::MakeMySqlStatus(code, sql::MySqlError{mysql_code, sqlstate, std::move(message)});
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(std::string(s)); }

// A SQL string literal.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string BackQuote(std::string_view s) {
  std::string out = "`";
  for (char c : s) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

// Every `(Table "db" "name"` in a statement's structural dump: each TableName the
// statement mentions, at any depth (subqueries, joins, DDL targets).
void CollectTables(const sql::Node& node, std::string_view current_db,
                   std::vector<std::pair<std::string, std::string>>* out) {
  const std::string dump = sql::DumpAst(node);
  auto read_str = [&](size_t* pos, std::string* s) -> bool {
    if (*pos + 1 >= dump.size() || dump[*pos] != ' ' || dump[*pos + 1] != '"') return false;
    *pos += 2;
    while (*pos < dump.size() && dump[*pos] != '"') {
      char c = dump[*pos];
      if (c == '\\' && *pos + 1 < dump.size()) {
        char e = dump[*pos + 1];
        if (e == 'x' && *pos + 3 < dump.size()) {
          int v = 0;
          for (int k = 2; k <= 3; ++k) {
            const char h = dump[*pos + k];
            v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : h - 'a' + 10);
          }
          s->push_back(static_cast<char>(v));
          *pos += 4;
          continue;
        }
        s->push_back(e);
        *pos += 2;
        continue;
      }
      s->push_back(c);
      ++*pos;
    }
    ++*pos;
    return true;
  };
  constexpr std::string_view kOpen = "(Table \"";
  size_t at = 0;
  while ((at = dump.find(kOpen, at)) != std::string::npos) {
    size_t pos = at + kOpen.size() - 2;
    std::string db, name;
    if (read_str(&pos, &db) && read_str(&pos, &name)) {
      if (db.empty()) db = std::string(current_db);
      if (!db.empty()) out->emplace_back(Lower(db), Lower(name));
    }
    at = pos;
  }
}

// Adds `privs` on each table of `tables` not already in `skip`.
void Require(std::vector<Requirement>* reqs, uint64_t privs,
             const std::vector<std::pair<std::string, std::string>>& tables, bool any = false) {
  for (const auto& [db, table] : tables) {
    if (db == "information_schema" || db == "performance_schema") continue;
    reqs->push_back(Requirement{privs, db, table, any});
  }
}

// Tables of `all` that are not in `targets`.
std::vector<std::pair<std::string, std::string>> Others(
    const std::vector<std::pair<std::string, std::string>>& all,
    const std::vector<std::pair<std::string, std::string>>& targets) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : all) {
    if (std::find(targets.begin(), targets.end(), t) == targets.end()) out.push_back(t);
  }
  return out;
}

// Whether an expression reads a column (a column reference anywhere in it).
bool ReadsColumns(const sql::Node* e) {
  return e != nullptr && sql::DumpAst(*e).find("(Col ") != std::string::npos;
}

bool LikeMatch(std::string_view pattern, std::string_view s) {
  if (pattern.empty()) return s.empty();
  if (pattern[0] == '%') {
    for (size_t i = 0; i <= s.size(); ++i) {
      if (LikeMatch(pattern.substr(1), s.substr(i))) return true;
    }
    return false;
  }
  if (s.empty()) return false;
  if (pattern[0] != '_' && pattern[0] != s[0]) return false;
  return LikeMatch(pattern.substr(1), s.substr(1));
}

// How specific a host pattern is (higher matches first, as MySQL sorts its user table).
int Specificity(std::string_view host) {
  if (host == "%") return 0;
  if (host.find_first_of("%_") != std::string_view::npos) return 1;
  return 2;
}

std::string AccountName(std::string_view user, std::string_view host) {
  return "'" + std::string(user) + "'@'" + std::string(host) + "'";
}

}  // namespace

std::string PrivNames(uint64_t privs) {
  std::vector<std::string> names;
  for (const PrivName& p : kPrivNames) {
    if (privs & p.bit) names.push_back(p.name);
  }
  return absl::StrJoin(names, ", ");
}

std::shared_ptr<const Grants> Grants::Superuser() {
  static const std::shared_ptr<const Grants> g = [] {
    auto x = std::make_shared<Grants>();
    x->superuser_ = true;
    return x;
  }();
  return g;
}

void Grants::Index() {
  global_ = 0;
  dbs_.clear();
  tables_.clear();
  for (const auto& [level, privs] : levels) {
    if (level.first.empty()) {
      global_ |= privs;
    } else if (level.second.empty()) {
      dbs_[Lower(level.first)] |= privs;
    } else {
      tables_[{Lower(level.first), Lower(level.second)}] |= privs;
    }
  }
}

uint64_t Grants::OnDatabase(std::string_view db) const {
  if (superuser_) return kGlobalPrivs;
  uint64_t p = global_;
  auto it = dbs_.find(Lower(db));
  if (it != dbs_.end()) p |= it->second;
  return p;
}

uint64_t Grants::OnTable(std::string_view db, std::string_view table) const {
  if (superuser_) return kGlobalPrivs;
  uint64_t p = OnDatabase(db);
  auto it = tables_.find({Lower(db), Lower(table)});
  if (it != tables_.end()) p |= it->second;
  return p;
}

bool Grants::AnyIn(std::string_view db) const {
  if (superuser_) return true;
  if (OnDatabase(db) != 0) return true;
  const std::string d = Lower(db);
  for (auto it = tables_.lower_bound({d, ""}); it != tables_.end() && it->first.first == d; ++it) {
    if (it->second != 0) return true;
  }
  return false;
}

bool Grants::Visible(std::string_view db, std::string_view table) const {
  if (superuser_) return true;
  if (Lower(db) == "information_schema") return true;
  if (table.empty()) return (global_ & kPrivShowDatabases) != 0 || AnyIn(db);
  return OnTable(db, table) != 0;
}

std::vector<Requirement> RequiredPrivileges(const sql::Stmt& stmt, std::string_view current_db) {
  using Tables = std::vector<std::pair<std::string, std::string>>;
  std::vector<Requirement> reqs;
  Tables all;
  CollectTables(stmt, current_db, &all);
  auto targets_of = [&](const sql::Node* n) {
    Tables t;
    if (n != nullptr) CollectTables(*n, current_db, &t);
    return t;
  };
  auto db_of = [&](std::string_view db) { return Lower(db.empty() ? current_db : db); };

  if (dynamic_cast<const sql::QueryStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivSelect, all);
  } else if (auto* s = dynamic_cast<const sql::InsertStmt*>(&stmt)) {
    uint64_t p = kPrivInsert;
    if (s->replace) p |= kPrivDelete;
    if (!s->on_duplicate.empty()) p |= kPrivUpdate;
    Tables t = targets_of(s->table.get());
    Require(&reqs, p, t);
    Require(&reqs, kPrivSelect, Others(all, t));
  } else if (auto* s = dynamic_cast<const sql::UpdateStmt*>(&stmt)) {
    // Reading columns (in WHERE, ORDER BY, a join's conditions or a SET value) needs
    // SELECT, as in MySQL (here at table level): UPDATE alone must not be an oracle for
    // values the account may not read.
    Tables t = targets_of(s->table.get());
    bool reads = ReadsColumns(s->where.get()) || !s->order_by.empty() ||
                 dynamic_cast<const sql::TableName*>(s->table.get()) == nullptr;
    for (const sql::Assignment& a : s->set) reads = reads || ReadsColumns(a.value.get());
    Require(&reqs, reads ? kPrivUpdate | kPrivSelect : kPrivUpdate, t);
    Require(&reqs, kPrivSelect, Others(all, t));
  } else if (auto* s = dynamic_cast<const sql::DeleteStmt*>(&stmt)) {
    Tables t = targets_of(s->table.get());
    const bool reads = ReadsColumns(s->where.get()) || !s->order_by.empty();
    Require(&reqs, reads ? kPrivDelete | kPrivSelect : kPrivDelete, t);
    Require(&reqs, kPrivSelect, Others(all, t));
  } else if (auto* s = dynamic_cast<const sql::CreateDatabaseStmt*>(&stmt)) {
    reqs.push_back(Requirement{kPrivCreate, db_of(s->name), "", false});
  } else if (auto* s = dynamic_cast<const sql::DropDatabaseStmt*>(&stmt)) {
    reqs.push_back(Requirement{kPrivDrop, db_of(s->name), "", false});
  } else if (auto* s = dynamic_cast<const sql::CreateTableStmt*>(&stmt)) {
    Tables t = targets_of(s->table.get());
    Require(&reqs, kPrivCreate, t);
    Require(&reqs, kPrivSelect, Others(all, t));
  } else if (dynamic_cast<const sql::DropTableStmt*>(&stmt) != nullptr ||
             dynamic_cast<const sql::TruncateStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivDrop, all);
  } else if (dynamic_cast<const sql::CreateIndexStmt*>(&stmt) != nullptr ||
             dynamic_cast<const sql::DropIndexStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivIndex, all);
  } else if (dynamic_cast<const sql::AlterTableStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivAlter, all);
  } else if (dynamic_cast<const sql::RenameTableStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivAlter | kPrivDrop | kPrivCreate | kPrivInsert, all);
  } else if (auto* s = dynamic_cast<const sql::CreateViewStmt*>(&stmt)) {
    Tables t = targets_of(s->name.get());
    Require(&reqs, kPrivCreateView, t);
    Require(&reqs, kPrivSelect, Others(all, t));
  } else if (dynamic_cast<const sql::CreateTriggerStmt*>(&stmt) != nullptr ||
             dynamic_cast<const sql::DropTriggerStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivTrigger, all);
  } else if (dynamic_cast<const sql::AnalyzeTableStmt*>(&stmt) != nullptr) {
    Require(&reqs, kPrivSelect | kPrivInsert, all);
  } else if (auto* s = dynamic_cast<const sql::ExplainStmt*>(&stmt)) {
    if (s->stmt != nullptr) reqs = RequiredPrivileges(*s->stmt, current_db);
  } else if (auto* s = dynamic_cast<const sql::ShowStmt*>(&stmt)) {
    if (s->kind == sql::ShowKind::kTables || s->kind == sql::ShowKind::kTableStatus) {
      // Some privilege in the database, as USE needs (the list shows only the tables the
      // account holds a privilege on: the server's visibility filter).
      const std::string db = db_of(s->db);
      if (!db.empty() && db != "information_schema") {
        reqs.push_back(Requirement{0, db, "", /*any=*/true});
      }
    } else if (!s->table.empty() && s->kind != sql::ShowKind::kCreateDatabase) {
      const std::string db = db_of(s->db);
      if (!db.empty() && db != "information_schema") {
        reqs.push_back(Requirement{kGlobalPrivs, db, Lower(s->table), /*any=*/true});
      }
    }
  } else if (auto* s = dynamic_cast<const sql::UseStmt*>(&stmt)) {
    const std::string db = Lower(s->db);
    if (db != "information_schema") reqs.push_back(Requirement{0, db, "", /*any=*/true});
  } else if (auto* s = dynamic_cast<const sql::SetStmt*>(&stmt)) {
    // Values may read tables; SET GLOBAL changes every session's defaults.
    Require(&reqs, kPrivSelect, all);
    constexpr uint8_t kGlobalScope = 2;  // lexer.h's VarScope::kGlobal.
    for (const sql::SetItem& item : s->items) {
      const bool global =
          (item.kind == sql::SetKind::kVariable && item.target != nullptr && item.target->system &&
           item.target->scope == kGlobalScope) ||
          (item.kind == sql::SetKind::kTransaction && item.txn_scope == kGlobalScope);
      if (global) reqs.push_back(Requirement{kPrivSuper, "", "", false});
    }
  } else if (dynamic_cast<const sql::TxnStmt*>(&stmt) != nullptr) {
    // Nothing.
  } else {
    // A statement this table does not know: only an account with every privilege.
    reqs.push_back(Requirement{kGlobalPrivs & ~kPrivGrantOption, "", "", false});
  }
  return reqs;
}

absl::Status CheckPrivileges(const Grants& grants, const std::vector<Requirement>& reqs,
                             std::string_view user, std::string_view host) {
  if (grants.superuser()) return absl::OkStatus();
  for (const Requirement& r : reqs) {
    if (r.db.empty()) {
      const uint64_t have = grants.Global();
      if (r.any ? (have & r.privs) == 0 : (have & r.privs) != r.privs) {
        return MySqlErr(
            absl::StatusCode::kPermissionDenied, 1227, "42000",
            absl::StrCat("Access denied; you need (at least one of) the ",
                         PrivNames(r.privs & ~have), " privilege(s) for this operation"));
      }
    } else if (r.table.empty()) {
      const bool ok =
          r.any ? (r.privs == 0 ? grants.AnyIn(r.db) : (grants.OnDatabase(r.db) & r.privs) != 0)
                : (grants.OnDatabase(r.db) & r.privs) == r.privs;
      if (!ok) {
        return MySqlErr(absl::StatusCode::kPermissionDenied, 1044, "42000",
                        absl::StrCat("Access denied for user ", AccountName(user, host),
                                     " to database '", r.db, "'"));
      }
    } else {
      const uint64_t have = grants.OnTable(r.db, r.table);
      const uint64_t missing = r.any ? ((have & r.privs) ? 0 : r.privs) : (r.privs & ~have);
      if (missing != 0) {
        // MySQL names the first missing privilege as the command.
        std::string command = "SELECT";
        for (const PrivName& p : kPrivNames) {
          if (missing & p.bit) {
            command = p.name;
            break;
          }
        }
        if (r.any) command = "SHOW";
        return MySqlErr(absl::StatusCode::kPermissionDenied, 1142, "42000",
                        absl::StrCat(command, " command denied to user ", AccountName(user, host),
                                     " for table '", r.table, "'"));
      }
    }
  }
  return absl::OkStatus();
}

bool HostMatches(std::string_view pattern, std::string_view client) {
  if (pattern == "%") return true;
  const bool loopback = client == "127.0.0.1" || client == "::1" || client == "localhost" ||
                        client == "::ffff:127.0.0.1";
  if (loopback && (pattern == "localhost" || pattern == "127.0.0.1" || pattern == "::1")) {
    return true;
  }
  return LikeMatch(Lower(pattern), Lower(client));
}

std::string NativePasswordHash(std::string_view password) {
  if (password.empty()) return "";
  auto stage1 = Sha1(password);
  auto stage2 = Sha1(std::string_view(reinterpret_cast<const char*>(stage1.data()), 20));
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "*";
  for (uint8_t b : stage2) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool CheckNativePasswordHash(std::string_view hash, std::string_view scramble,
                             std::string_view auth_response) {
  if (hash.empty()) return auth_response.empty();
  if (hash.size() != 41 || hash[0] != '*' || auth_response.size() != 20) return false;
  std::string stage2(20, '\0');
  for (size_t i = 0; i < 20; ++i) {
    int v = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char h =
          static_cast<char>(std::toupper(static_cast<unsigned char>(hash[1 + 2 * i + k])));
      if (h >= '0' && h <= '9') {
        v = v * 16 + (h - '0');
      } else if (h >= 'A' && h <= 'F') {
        v = v * 16 + (h - 'A' + 10);
      } else {
        return false;
      }
    }
    stage2[i] = static_cast<char>(v);
  }
  // auth = SHA1(pw) XOR SHA1(scramble + stage2): recover SHA1(pw), check SHA1 of it.
  auto mix = Sha1(std::string(scramble) + stage2);
  std::string stage1(20, '\0');
  for (size_t i = 0; i < 20; ++i) stage1[i] = static_cast<char>(auth_response[i] ^ mix[i]);
  auto check = Sha1(stage1);
  return std::string_view(reinterpret_cast<const char*>(check.data()), 20) == stage2;
}

bool AccountStore::Handles(const sql::Stmt& stmt) {
  if (dynamic_cast<const sql::CreateUserStmt*>(&stmt) != nullptr ||
      dynamic_cast<const sql::DropUserStmt*>(&stmt) != nullptr ||
      dynamic_cast<const sql::GrantStmt*>(&stmt) != nullptr) {
    return true;
  }
  auto* show = dynamic_cast<const sql::ShowStmt*>(&stmt);
  return show != nullptr && show->kind == sql::ShowKind::kGrants;
}

absl::StatusOr<sql::ResultSet> AccountStore::Run(sql::Session* s, const std::string& q) {
  return s->Execute(q);
}

absl::Status AccountStore::EnsureTables() {
  if (tables_ready_.load()) return absl::OkStatus();
  auto s = db_->NewSession();
  for (const char* q :
       {"CREATE DATABASE IF NOT EXISTS mysql",
        "CREATE TABLE IF NOT EXISTS mysql.user (user VARCHAR(80) NOT NULL, host VARCHAR(255) "
        "NOT NULL, authentication_string VARCHAR(64) NOT NULL, PRIMARY KEY (user, host))",
        "CREATE TABLE IF NOT EXISTS mysql.grants (user VARCHAR(80) NOT NULL, host "
        "VARCHAR(255) NOT NULL, db VARCHAR(64) NOT NULL, tbl VARCHAR(64) NOT NULL, privs "
        "BIGINT UNSIGNED NOT NULL, PRIMARY KEY (user, host, db, tbl))"}) {
    auto r = s->Execute(q);
    if (!r.ok()) return r.status();
  }
  tables_ready_.store(true);
  return absl::OkStatus();
}

namespace {

// Whether a status says a table or database does not exist (no account was ever created).
bool IsNoSuchTable(const absl::Status& s) {
  auto e = sql::GetMySqlError(s);
  return e.has_value() && (e->code == 1146 || e->code == 1049);
}

}  // namespace

absl::StatusOr<std::optional<AccountStore::Account>> AccountStore::Find(std::string_view user,
                                                                        std::string_view client) {
  auto s = db_->NewSession();
  auto rs = s->Execute(absl::StrCat(
      "SELECT host, authentication_string FROM mysql.user WHERE user = ", Quote(user)));
  if (!rs.ok()) {
    if (IsNoSuchTable(rs.status())) return std::optional<Account>();
    return rs.status();
  }
  std::optional<Account> best;
  int best_rank = -1;
  for (const auto& row : rs->rows) {
    if (row.size() < 2 || !row[0] || !row[1]) continue;
    if (!HostMatches(*row[0], client)) continue;
    const int rank = Specificity(*row[0]);
    if (rank > best_rank) {
      best_rank = rank;
      best = Account{std::string(user), *row[0], *row[1]};
    }
  }
  return best;
}

absl::StatusOr<std::shared_ptr<const Grants>> AccountStore::LoadGrants(std::string_view user,
                                                                       std::string_view host) {
  auto g = std::make_shared<Grants>();
  auto s = db_->NewSession();
  auto rs =
      s->Execute(absl::StrCat("SELECT db, tbl, privs FROM mysql.grants WHERE user = ", Quote(user),
                              " AND host = ", Quote(host)));
  if (!rs.ok()) {
    if (IsNoSuchTable(rs.status())) return std::shared_ptr<const Grants>(g);
    return rs.status();
  }
  for (const auto& row : rs->rows) {
    if (row.size() < 3 || !row[0] || !row[1] || !row[2]) continue;
    uint64_t privs = 0;
    if (!absl::SimpleAtoi(*row[2], &privs)) continue;
    g->levels[{*row[0], *row[1]}] |= privs;
  }
  g->Index();
  return std::shared_ptr<const Grants>(g);
}

absl::StatusOr<sql::ResultSet> AccountStore::Execute(const sql::Stmt& stmt, const Grants& grants,
                                                     std::string_view grantor,
                                                     std::string_view grantor_host,
                                                     std::string_view current_db) {
  if (auto* s = dynamic_cast<const sql::CreateUserStmt*>(&stmt)) return CreateUser(*s, grants);
  if (auto* s = dynamic_cast<const sql::DropUserStmt*>(&stmt)) return DropUser(*s, grants);
  if (auto* s = dynamic_cast<const sql::GrantStmt*>(&stmt)) return Grant(*s, grants, current_db);
  if (auto* s = dynamic_cast<const sql::ShowStmt*>(&stmt)) {
    return ShowGrants(*s, grants, grantor, grantor_host);
  }
  return absl::InvalidArgumentError("not an account statement");
}

namespace {

absl::Status NeedCreateUser(const Grants& g) {
  if ((g.Global() & kPrivCreateUser) != 0) return absl::OkStatus();
  return MySqlErr(absl::StatusCode::kPermissionDenied, 1227, "42000",
                  "Access denied; you need (at least one of) the CREATE USER privilege(s) for "
                  "this operation");
}

// Runs `body` in a transaction on `s`, retrying write conflicts.
template <typename F>
absl::Status InTxn(sql::Session* s, F body) {
  absl::Status last;
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto b = s->Execute("BEGIN");
    if (!b.ok()) return b.status();
    absl::Status st = body();
    if (st.ok()) {
      auto c = s->Execute("COMMIT");
      if (c.ok()) return absl::OkStatus();
      st = c.status();
    } else {
      (void)s->Execute("ROLLBACK");
    }
    auto e = sql::GetMySqlError(st);
    if (!e.has_value() || e->code != 1213) return st;
    last = st;
  }
  return last;
}

}  // namespace

absl::StatusOr<sql::ResultSet> AccountStore::CreateUser(const sql::CreateUserStmt& stmt,
                                                        const Grants& g) {
  if (absl::Status st = NeedCreateUser(g); !st.ok()) return st;
  if (absl::Status st = EnsureTables(); !st.ok()) return st;
  auto s = db_->NewSession();
  std::vector<std::string> failed;
  uint32_t warnings = 0;
  absl::Status st = InTxn(s.get(), [&]() -> absl::Status {
    failed.clear();
    warnings = 0;
    for (const sql::UserSpec& u : stmt.users) {
      auto rs = s->Execute(absl::StrCat("SELECT 1 FROM mysql.user WHERE user = ", Quote(u.user),
                                        " AND host = ", Quote(u.host)));
      if (!rs.ok()) return rs.status();
      if (!rs->rows.empty() || u.user.empty() || u.user == "root") {
        if (stmt.if_not_exists && !rs->rows.empty()) {
          ++warnings;
        } else {
          failed.push_back(AccountName(u.user, u.host));
        }
        continue;
      }
      auto ins = s->Execute(
          absl::StrCat("INSERT INTO mysql.user VALUES (", Quote(u.user), ", ", Quote(u.host), ", ",
                       Quote(u.has_password ? NativePasswordHash(u.password) : ""), ")"));
      if (!ins.ok()) return ins.status();
    }
    if (!failed.empty()) {
      return MySqlErr(
          absl::StatusCode::kAlreadyExists, 1396, "HY000",
          absl::StrCat("Operation CREATE USER failed for ", absl::StrJoin(failed, ",")));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  sql::ResultSet r;
  r.warnings = warnings;
  return r;
}

absl::StatusOr<sql::ResultSet> AccountStore::DropUser(const sql::DropUserStmt& stmt,
                                                      const Grants& g) {
  if (absl::Status st = NeedCreateUser(g); !st.ok()) return st;
  if (absl::Status st = EnsureTables(); !st.ok()) return st;
  auto s = db_->NewSession();
  std::vector<std::string> failed;
  absl::Status st = InTxn(s.get(), [&]() -> absl::Status {
    failed.clear();
    for (const sql::UserSpec& u : stmt.users) {
      const std::string where =
          absl::StrCat(" WHERE user = ", Quote(u.user), " AND host = ", Quote(u.host));
      auto del = s->Execute("DELETE FROM mysql.user" + where);
      if (!del.ok()) return del.status();
      if (del->affected_rows == 0) {
        if (!stmt.if_exists) failed.push_back(AccountName(u.user, u.host));
        continue;
      }
      auto dg = s->Execute("DELETE FROM mysql.grants" + where);
      if (!dg.ok()) return dg.status();
    }
    if (!failed.empty()) {
      return MySqlErr(absl::StatusCode::kNotFound, 1396, "HY000",
                      absl::StrCat("Operation DROP USER failed for ", absl::StrJoin(failed, ",")));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return sql::ResultSet();
}

absl::StatusOr<sql::ResultSet> AccountStore::Grant(const sql::GrantStmt& stmt, const Grants& g,
                                                   std::string_view current_db) {
  // The level: global (*.*), a database (db.* or * with a current database) or a table.
  std::string db = stmt.db, table = stmt.table;
  if (db.empty()) {
    if (current_db.empty()) {
      return MySqlErr(absl::StatusCode::kInvalidArgument, 1046, "3D000", "No database selected");
    }
    db = std::string(current_db);
  }
  if (db == "*") db.clear();
  if (table == "*") table.clear();
  const uint64_t allowed = db.empty() ? kGlobalPrivs : table.empty() ? kDbPrivs : kTablePrivs;
  uint64_t privs = 0;
  for (const std::string& name : stmt.privileges) {
    if (name == "ALL") {
      privs |= allowed & ~kPrivGrantOption;
      continue;
    }
    if (name == "USAGE") continue;
    uint64_t bit = 0;
    for (const PrivName& p : kPrivNames) {
      if (name == p.name) bit = p.bit;
    }
    if (bit == 0) {
      return MySqlErr(absl::StatusCode::kInvalidArgument, 1064, "42000",
                      absl::StrCat("Unknown privilege '", name, "'"));
    }
    if ((bit & allowed) == 0) {
      if (table.empty()) {
        return MySqlErr(absl::StatusCode::kInvalidArgument, 1221, "HY000",
                        "Incorrect usage of DB GRANT and GLOBAL PRIVILEGES");
      }
      return MySqlErr(absl::StatusCode::kInvalidArgument, 1144, "42000",
                      "Illegal GRANT/REVOKE command; please consult the manual to see which "
                      "privileges can be used");
    }
    privs |= bit;
  }
  if (stmt.with_grant_option) privs |= kPrivGrantOption;
  // The grantor needs GRANT OPTION and every privilege it grants, at this level.
  const uint64_t have = db.empty()      ? g.Global()
                        : table.empty() ? g.OnDatabase(db)
                                        : g.OnTable(db, table);
  if ((have & kPrivGrantOption) == 0 || (privs & ~have) != 0) {
    if (db.empty()) {
      return MySqlErr(absl::StatusCode::kPermissionDenied, 1227, "42000",
                      "Access denied; you need (at least one of) the GRANT OPTION privilege(s) "
                      "for this operation");
    }
    if (table.empty()) {
      return MySqlErr(absl::StatusCode::kPermissionDenied, 1044, "42000",
                      absl::StrCat("Access denied for user to database '", db, "'"));
    }
    return MySqlErr(absl::StatusCode::kPermissionDenied, 1142, "42000",
                    absl::StrCat(stmt.revoke ? "REVOKE" : "GRANT",
                                 " command denied to user for table '", table, "'"));
  }
  if (absl::Status st = EnsureTables(); !st.ok()) return st;
  const std::string ldb = Lower(db), ltable = Lower(table);
  auto s = db_->NewSession();
  absl::Status st = InTxn(s.get(), [&]() -> absl::Status {
    for (const sql::UserSpec& u : stmt.users) {
      const std::string account =
          absl::StrCat(" user = ", Quote(u.user), " AND host = ", Quote(u.host));
      auto exists = s->Execute("SELECT 1 FROM mysql.user WHERE" + account);
      if (!exists.ok()) return exists.status();
      if (exists->rows.empty()) {
        if (stmt.revoke) {
          return MySqlErr(absl::StatusCode::kNotFound, 1141, "42000",
                          absl::StrCat("There is no such grant defined for user '", u.user,
                                       "' on host '", u.host, "'"));
        }
        return MySqlErr(absl::StatusCode::kNotFound, 1133, "42000",
                        "Can't find any matching row in the user table");
      }
      const std::string level =
          absl::StrCat(account, " AND db = ", Quote(ldb), " AND tbl = ", Quote(ltable));
      auto cur = s->Execute("SELECT privs FROM mysql.grants WHERE" + level);
      if (!cur.ok()) return cur.status();
      uint64_t old = 0;
      const bool had = !cur->rows.empty() && cur->rows[0].size() == 1 && cur->rows[0][0] &&
                       absl::SimpleAtoi(*cur->rows[0][0], &old);
      uint64_t now = stmt.revoke ? (old & ~privs) : (old | privs);
      if (stmt.revoke && !had) {
        return MySqlErr(absl::StatusCode::kNotFound, 1141, "42000",
                        absl::StrCat("There is no such grant defined for user '", u.user,
                                     "' on host '", u.host, "'"));
      }
      absl::StatusOr<sql::ResultSet> w;
      if (now == 0) {
        w = s->Execute("DELETE FROM mysql.grants WHERE" + level);
      } else if (had) {
        w = s->Execute(absl::StrCat("UPDATE mysql.grants SET privs = ", now, " WHERE", level));
      } else {
        w = s->Execute(absl::StrCat("INSERT INTO mysql.grants VALUES (", Quote(u.user), ", ",
                                    Quote(u.host), ", ", Quote(ldb), ", ", Quote(ltable), ", ", now,
                                    ")"));
      }
      if (!w.ok()) return w.status();
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return sql::ResultSet();
}

absl::StatusOr<sql::ResultSet> AccountStore::ShowGrants(const sql::ShowStmt& stmt, const Grants& g,
                                                        std::string_view grantor,
                                                        std::string_view grantor_host) {
  std::string user(grantor), host(grantor_host);
  std::shared_ptr<const Grants> shown;
  std::string spec = stmt.user;
  if (!spec.empty() && absl::AsciiStrToUpper(spec) != "CURRENT_USER" &&
      absl::AsciiStrToUpper(spec) != "CURRENT_USER()") {
    // 'user'@'host', `user`@`host` or user@host, as written.
    auto unquote = [](std::string_view x) {
      if (x.size() >= 2 && (x.front() == '\'' || x.front() == '`' || x.front() == '"') &&
          x.back() == x.front()) {
        x = x.substr(1, x.size() - 2);
      }
      return std::string(x);
    };
    const size_t at = spec.rfind('@');
    user = unquote(spec.substr(0, at));
    host = at == std::string::npos ? "%" : unquote(spec.substr(at + 1));
    // Someone else's grants need SELECT on the mysql database.
    if (user != grantor && (g.OnDatabase("mysql") & kPrivSelect) == 0) {
      return MySqlErr(absl::StatusCode::kPermissionDenied, 1044, "42000",
                      absl::StrCat("Access denied for user ", AccountName(grantor, grantor_host),
                                   " to database 'mysql'"));
    }
    auto s = db_->NewSession();
    auto rs = s->Execute(absl::StrCat("SELECT 1 FROM mysql.user WHERE user = ", Quote(user),
                                      " AND host = ", Quote(host)));
    if ((rs.ok() && rs->rows.empty()) || (!rs.ok() && IsNoSuchTable(rs.status()))) {
      return MySqlErr(absl::StatusCode::kNotFound, 1141, "42000",
                      absl::StrCat("There is no such grant defined for user '", user, "' on host '",
                                   host, "'"));
    }
    if (!rs.ok()) return rs.status();
    auto loaded = LoadGrants(user, host);
    if (!loaded.ok()) return loaded.status();
    shown = *loaded;
  }
  const Grants& show = shown ? *shown : g;
  sql::ResultSet r;
  r.has_rows = true;
  sql::ColumnMeta c;
  c.name = absl::StrCat("Grants for ", user, "@", host);
  c.type = kTypeVarString;
  c.collation_id = 45;
  c.length = 1024;
  r.columns.push_back(c);
  const std::string to = absl::StrCat(" TO ", BackQuote(user), "@", BackQuote(host));
  auto line = [&](uint64_t privs, uint64_t all, const std::string& on) {
    const uint64_t p = privs & ~kPrivGrantOption;
    std::string names = p == 0 ? "USAGE"
                        : (p & (all & ~kPrivGrantOption)) == (all & ~kPrivGrantOption)
                            ? "ALL PRIVILEGES"
                            : PrivNames(p);
    r.rows.push_back({absl::StrCat("GRANT ", names, " ON ", on, to,
                                   (privs & kPrivGrantOption) ? " WITH GRANT OPTION" : "")});
  };
  if (show.superuser()) {
    line(kGlobalPrivs, kGlobalPrivs, "*.*");
    return r;
  }
  uint64_t global = 0;
  auto it = show.levels.find({"", ""});
  if (it != show.levels.end()) global = it->second;
  line(global, kGlobalPrivs, "*.*");
  for (const auto& [level, privs] : show.levels) {
    if (level.first.empty()) continue;
    if (level.second.empty()) {
      line(privs, kDbPrivs, absl::StrCat(BackQuote(level.first), ".*"));
    } else {
      line(privs, kTablePrivs, absl::StrCat(BackQuote(level.first), ".", BackQuote(level.second)));
    }
  }
  return r;
}

}  // namespace rutile::server
