// MySqlServer serves a sql::Database over the MySQL client/server protocol (v10 handshake,
// mysql_native_password), so the mariadb CLI, sysbench, libmariadb and other drivers can
// use Rutile. StatusServer serves the HTTP status port: /metrics (Prometheus text),
// /status (JSON) and, when the host supplies it, /regions.
//
// Each connection is a fiber on the server's Env that runs one command at a time against
// its own sql::Session. Socket I/O is Boost.Asio: every socket operation is started on one
// io_context whose run loop occupies a thread borrowed from a private fiber Env's I/O pool
// (util/env_internal.h), and the connection fiber waits on a fiber Future for the
// completion, so an idle connection holds no thread.
//
// Supported commands: COM_QUIT, COM_INIT_DB, COM_QUERY (multi-statements when the client
// asks), COM_FIELD_LIST, COM_STATISTICS, COM_PING, COM_CHANGE_USER, COM_RESET_CONNECTION,
// COM_SET_OPTION, COM_STMT_PREPARE / EXECUTE / SEND_LONG_DATA / CLOSE / RESET. Anything
// else gets ERR 1047. Malformed or truncated payloads get ERR 1835 and the connection
// stays usable; a packet larger than max_allowed_packet gets ERR 1153 and the connection
// is closed; a connection beyond max_connections (counted when accepted) gets ERR 1040
// and is closed. Limits for untrusted clients: packets before the login are at most 16 KiB
// (ERR 1153, closed); COM_STMT_PREPARE with more than 65535 placeholders gets ERR 1390, and
// beyond max_prepared_statements open statements ERR 1461; SEND_LONG_DATA beyond
// max_allowed_packet per connection makes the statement's next execute fail with ERR 1105.
//
// Accounts (privileges.h): the built-in accounts of ServerOptions::users are superusers;
// CREATE USER / DROP USER / GRANT / REVOKE / SHOW GRANTS manage further accounts stored in
// the database's system tables (mysql.user, mysql.grants), checked at the handshake and at
// COM_CHANGE_USER (ERR 1045), and their privileges are checked before each statement
// (COM_QUERY, COM_STMT_PREPARE and each COM_STMT_EXECUTE, COM_INIT_DB, COM_FIELD_LIST) with
// MySQL's errors (1142 table, 1044 database, 1227 global).
//
// Thread safety: Start/Stop/port/GetStats may be called from any thread.

#ifndef RUTILE_SERVER_SERVER_H_
#define RUTILE_SERVER_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/sql.h"

namespace rutile::server {

struct ServerOptions {
  // Address to listen on; port 0 picks a free port (see MySqlServer::port()).
  std::string host = "127.0.0.1";
  uint16_t port = 4000;
  // Connections beyond this many get ERR 1040 "Too many connections".
  size_t max_connections = 1000;
  // The largest command payload accepted (MySQL's max_allowed_packet). It also caps the
  // COM_STMT_SEND_LONG_DATA bytes one connection may hold. Before the login completes
  // only packets up to 16 KiB are accepted.
  size_t max_allowed_packet = 64 << 20;
  // Prepared statements one connection may hold open (MySQL's max_prepared_stmt_count,
  // there server-wide); COM_STMT_PREPARE beyond it gets ERR 1461.
  size_t max_prepared_statements = 16382;
  // A client that has not completed the login this long after connecting is disconnected,
  // so idle sockets cannot hold the connection slots.
  uint64_t handshake_timeout_micros = 10'000'000;
  // Built-in accounts, user name to password (mysql_native_password), each with every
  // privilege; accounts made by CREATE USER live in the database. Default: root, no password.
  std::map<std::string, std::string> users = {{"root", ""}};
  // The version string sent in the handshake.
  std::string server_version = "8.0.11-Rutile-0.1";
  // The Env whose fibers run connections; Env::Default() when null.
  Env* env = nullptr;
};

class MySqlServer {
 public:
  struct Stats {
    uint64_t connections = 0;        // Open now.
    uint64_t total_connections = 0;  // Accepted since start.
    uint64_t questions = 0;          // Commands run.
    uint64_t uptime_seconds = 0;
  };

  // Listens on options.host:options.port and starts serving `db`, which must outlive the
  // server. Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MySqlServer>> Start(sql::Database* db,
                                                            const ServerOptions& options);

  // Stops: closes the listener and every connection, and waits for their fibers.
  ~MySqlServer();
  void Stop();

  uint16_t port() const;
  Stats GetStats() const;

  struct Impl;

 private:
  explicit MySqlServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

struct StatusOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 10080;  // 0 picks a free port.
  // Optional: the MySQL server whose counters /status reports.
  const MySqlServer* mysql = nullptr;
  // Optional: the body of /regions (JSON), supplied by the host.
  std::function<std::string()> regions;
};

class StatusServer {
 public:
  static absl::StatusOr<std::unique_ptr<StatusServer>> Start(const StatusOptions& options);
  ~StatusServer();
  void Stop();
  uint16_t port() const;

  struct Impl;

 private:
  explicit StatusServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rutile::server

#endif  // RUTILE_SERVER_SERVER_H_
