// rutile-server: Rutile's main program. Serves SQL over the MySQL protocol (connect with
// `mariadb -h127.0.0.1 -P4000 -uroot`) and an HTTP status port (/metrics, /status).
//
// Today the SQL engine's store is the in-process transactional store over an in-memory
// engine (sql::Database::OpenInMemory): data lives as long as the process. The
// cluster-backed SQL database (regions replicated by Raft on durable LevelDB under
// --data-dir) is not wired to the SQL layer yet; --data-dir and --nodes are accepted and
// reported so scripts keep working when it is.
//
// Runs until SIGINT or SIGTERM; --demo runs a short scripted session through the mariadb
// CLI (or, without the CLI, through a session) and exits.

#include <signal.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "rutile/logging.h"
#include "rutile/sql.h"
#include "server/server.h"

namespace {

struct Flags {
  std::string host = "127.0.0.1";
  int port = 4000;
  int status_port = 10080;
  std::string data_dir = "./rutile-data";
  int nodes = 3;
  int max_connections = 1000;
  bool demo = false;
};

int RunDemo(const Flags& f, int port, rutile::sql::Database* db) {
  const std::string cli = "mariadb";
  const std::string script =
      "CREATE DATABASE IF NOT EXISTS demo;\n"
      "USE demo;\n"
      "CREATE TABLE IF NOT EXISTS fruit (id INT PRIMARY KEY, name VARCHAR(20), price "
      "DECIMAL(6,2));\n"
      "INSERT INTO fruit VALUES (1, 'apple', 0.50), (2, 'pear', 0.75), (3, 'fig', 1.20);\n"
      "SELECT name, price FROM fruit WHERE price > 0.6 ORDER BY price;\n"
      "SELECT count(*), sum(price) FROM fruit;\n";
  if (std::system("command -v mariadb >/dev/null 2>&1") == 0) {
    std::printf("demo: piping a script through the mariadb CLI:\n%s\n", script.c_str());
    std::fflush(stdout);
    std::string cmd = absl::StrCat(cli, " --no-defaults -t -h", f.host, " -P", port, " -uroot");
    FILE* p = popen(cmd.c_str(), "w");
    if (p == nullptr) return 1;
    std::fputs(script.c_str(), p);
    return pclose(p) == 0 ? 0 : 1;
  }
  std::printf("demo: the mariadb CLI is not installed; running the script in-process\n");
  auto session = db->NewSession();
  size_t start = 0;
  while (start < script.size()) {
    size_t end = script.find('\n', start);
    std::string stmt = script.substr(start, end - start);
    start = end + 1;
    auto rs = session->Execute(stmt);
    if (!rs.ok()) {
      std::printf("%s: %s\n", stmt.c_str(), rs.status().ToString().c_str());
      return 1;
    }
    for (const auto& row : rs->rows) {
      std::string line;
      for (const auto& v : row) absl::StrAppend(&line, v.value_or("NULL"), "\t");
      std::printf("%s\n", line.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"rutile-server: Rutile's SQL server (MySQL protocol)"};
  app.add_option("--host", f.host, "Address to listen on")->capture_default_str();
  app.add_option("--port,-P", f.port, "MySQL protocol port")->capture_default_str();
  app.add_option("--status-port", f.status_port, "HTTP status port (/metrics, /status)")
      ->capture_default_str();
  app.add_option("--data-dir", f.data_dir, "Data directory (for the cluster-backed store)")
      ->capture_default_str();
  app.add_option("--nodes", f.nodes, "Nodes of the embedded cluster (cluster-backed store)")
      ->capture_default_str();
  app.add_option("--max-connections", f.max_connections, "Connection limit")->capture_default_str();
  app.add_flag("--demo", f.demo, "Run a short scripted session and exit");
  CLI11_PARSE(app, argc, argv);

  // SIGINT and SIGTERM are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  rutile::SetLogLevel(rutile::LogLevel::kWarn);

  auto db = rutile::sql::Database::OpenInMemory();
  if (!db.ok()) {
    std::fprintf(stderr, "rutile-server: %s\n", db.status().ToString().c_str());
    return 1;
  }
  rutile::server::ServerOptions so;
  so.host = f.host;
  so.port = static_cast<uint16_t>(f.port);
  so.max_connections = static_cast<size_t>(f.max_connections);
  auto server = rutile::server::MySqlServer::Start(db->get(), so);
  if (!server.ok()) {
    std::fprintf(stderr, "rutile-server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  rutile::server::StatusOptions st;
  st.host = f.host;
  st.port = static_cast<uint16_t>(f.status_port);
  st.mysql = server->get();
  auto status = rutile::server::StatusServer::Start(st);
  if (!status.ok()) {
    std::fprintf(stderr, "rutile-server: %s\n", status.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "rutile-server: SQL over the MySQL protocol on %s:%d, status on http://%s:%d/status\n"
      "  store: in-memory (the cluster-backed SQL store is not wired yet; --data-dir=%s and\n"
      "         --nodes=%d are not used, and data is lost when the process exits)\n"
      "  connect: mariadb -h%s -P%d -uroot\n",
      f.host.c_str(), (*server)->port(), f.host.c_str(), (*status)->port(), f.data_dir.c_str(),
      f.nodes, f.host.c_str(), (*server)->port());
  std::fflush(stdout);

  int rc = 0;
  if (f.demo) {
    rc = RunDemo(f, (*server)->port(), db->get());
  } else {
    int sig = 0;
    sigwait(&signals, &sig);
    std::printf("rutile-server: signal %d, shutting down\n", sig);
  }
  (*status)->Stop();
  (*server)->Stop();
  return rc;
}
