// Rutile's embedded SQL interface: a Database (catalog plus a transactional KV store) and
// Sessions that execute MySQL-dialect statements against it.
//
//   auto db = rutile::sql::Database::OpenInMemory();
//   auto session = (*db)->NewSession();
//   session->Execute("CREATE DATABASE shop");
//   session->Execute("USE shop");
//   auto rs = session->Execute("SELECT 1 + 1");   // rs->rows[0][0] == "2"
//
// A Session runs statements one at a time: autocommit by default, or inside
// BEGIN/START TRANSACTION ... COMMIT/ROLLBACK (snapshot isolation; a conflict at commit
// is MySQL error 1213 and the transaction is rolled back). A failing statement changes
// nothing, also inside a transaction. Errors carry MySQL's code and SQLSTATE (see
// MySqlErrorOf). Prepared statements bind `?` parameters.
//
// Values come back in MySQL's text protocol form (NULL as nullopt), with MySQL column
// metadata (protocol type code, flags, length, decimals).
//
// Where the data lives:
//   Database::Open(DatabaseOptions{client})   over a cluster's transactional client
//       (rutile/kv.h): timestamps from PD's TSO, rows in the cluster's regions, commits
//       through Percolator (one-phase when every key is in one region).
//   Database::OpenLocalCluster(options)       starts an in-process cluster of 1 or more
//       Nodes (MemEngine, or LevelDB under data_dir) and opens a database over it; the
//       Database owns and closes the cluster.
//   Database::OpenInMemory()                  no cluster: txn/txn_storage over one
//       MemEngine with counter timestamps (unit tests; fastest).
// Over a cluster, every call (Open*, Execute, Prepare, ..., and destroying the Database)
// must run on a fiber of the cluster's Env (as rutile::TxnClient's calls do).
//
// The catalog lives in the store's meta keys: Databases over one cluster share it.
//
// Thread safety: a Database is thread-safe; a Session is used by one thread (fiber) at a
// time.

#ifndef RUTILE_SQL_H_
#define RUTILE_SQL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rutile {
class Env;
class TxnClient;
}  // namespace rutile

namespace rutile::sql {

class Session;
class Catalog;
struct DatabaseAccess;
struct DatabaseImpl;
struct SessionImpl;

struct DatabaseOptions {
  // The cluster's transactional client (rutile/kv.h). Required; must outlive the Database.
  TxnClient* client = nullptr;
  // Commit in one phase when every written key lives in one region.
  bool try_one_pc = true;
};

struct LocalClusterOptions {
  // Nodes in the in-process cluster (node ids 1..nodes over a LocalTransport, node 1
  // hosting PD, every region replicated on every node).
  int nodes = 1;
  // Empty: each node's engine is in memory. Otherwise LevelDB under data_dir/node<id>.
  std::string data_dir;
  // Null: Env::Default().
  Env* env = nullptr;
  // Raft tick (an election takes 10 to 20 ticks).
  uint64_t raft_tick_micros = 10'000;
  // Each node's LevelDB block cache (NodeOptions::block_cache_bytes); 0: the default.
  size_t block_cache_bytes = 0;
  // Each node's NodeOptions::columnar_cache_bytes; 0: off.
  size_t columnar_cache_bytes = 0;
};

// A MySQL column definition as the protocol sends it.
struct ColumnMeta {
  std::string name;
  std::string table;
  std::string db;
  uint8_t type = 0;    // MySQL type code (MYSQL_TYPE_*).
  uint32_t flags = 0;  // NOT_NULL_FLAG, UNSIGNED_FLAG, BINARY_FLAG, ...
  int32_t length = 0;
  uint8_t decimals = 0;
  uint16_t collation_id = 63;
};

using Row = std::vector<std::optional<std::string>>;

struct ResultSet {
  bool has_rows = false;  // A query (even one returning no rows) vs a statement.
  std::vector<ColumnMeta> columns;
  std::vector<Row> rows;
  uint64_t affected_rows = 0;
  uint64_t last_insert_id = 0;
  uint32_t warnings = 0;
};

// A parameter of a prepared statement.
struct Value {
  enum class Kind { kNull, kInt, kUint, kDouble, kString };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string s;

  static Value Null() { return Value(); }
  static Value Int(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value Uint(uint64_t v) {
    Value x;
    x.kind = Kind::kUint;
    x.u = v;
    return x;
  }
  static Value Double(double v) {
    Value x;
    x.kind = Kind::kDouble;
    x.d = v;
    return x;
  }
  static Value String(std::string v) {
    Value x;
    x.kind = Kind::kString;
    x.s = std::move(v);
    return x;
  }
};

struct MySqlErrorInfo {
  uint16_t code = 0;
  std::string sqlstate;
  std::string message;
};
// The MySQL error a failed Execute returned (code 1105 "unknown error" for statuses that
// carry none).
MySqlErrorInfo MySqlErrorOf(const absl::Status& status);

class Database {
 public:
  // A database over a fresh in-memory engine (no cluster).
  static absl::StatusOr<std::unique_ptr<Database>> OpenInMemory();
  // A database over a cluster (see DatabaseOptions). Implemented in lib/node: link
  // rutile::rutile.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  // Starts an in-process cluster and opens a database over it; the Database owns the
  // cluster and closes it when destroyed. Implemented in lib/node.
  static absl::StatusOr<std::unique_ptr<Database>> OpenLocalCluster(
      const LocalClusterOptions& options = LocalClusterOptions());
  ~Database();

  std::unique_ptr<Session> NewSession();

 private:
  friend Catalog* CatalogOf(Database* db);  // sql/catalog/catalog.h (tests, tools)
  friend struct DatabaseAccess;
  Database();
  std::unique_ptr<DatabaseImpl> impl_;
};

class Session {
 public:
  ~Session();

  // Executes one statement (a trailing ';' is allowed).
  absl::StatusOr<ResultSet> Execute(std::string_view sql);

  // Prepares a statement with `?` placeholders; returns its id.
  absl::StatusOr<uint32_t> Prepare(std::string_view sql);
  absl::StatusOr<ResultSet> ExecutePrepared(uint32_t id, const std::vector<Value>& params);
  absl::Status ClosePrepared(uint32_t id);
  // Number of `?` placeholders of a prepared statement.
  absl::StatusOr<size_t> ParamCount(uint32_t id) const;
  // The result columns a prepared query will return (bound with NULL parameters, without
  // running it); empty for statements that return no rows. What COM_STMT_PREPARE announces.
  absl::StatusOr<std::vector<ColumnMeta>> PreparedColumns(uint32_t id) const;

  // Who is connected, for CONNECTION_ID(), USER() and CURRENT_USER(): a server calls it
  // once the client authenticated (its protocol thread id, the account, the client host).
  // A session nobody told is root@localhost with an id unique within its Database.
  void SetConnectionInfo(uint64_t connection_id, std::string_view user, std::string_view host);
  uint64_t ConnectionId() const;

  // The current database ("" when none).
  std::string CurrentDatabase() const;
  bool InTransaction() const;

 private:
  friend class Database;
  friend struct SessionAccess;  // sql/session/session_access.h (lib/server)
  explicit Session(std::unique_ptr<SessionImpl> impl);
  std::unique_ptr<SessionImpl> impl_;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_H_
