// rutile-server: Rutile's main program. Serves SQL over the MySQL protocol (connect with
// `mariadb -h127.0.0.1 -P4000 -uroot`) and an HTTP status port (/metrics, /status).
//
// On defaults it runs an embedded 3-node cluster in this process (node 1 hosts PD; every
// region replicated on all three nodes by Raft over a LocalTransport; durable LevelDB under
// ./rutile-data/node<id>) and serves SQL over it through the cluster's transactional client
// (sql::Database::OpenLocalCluster). Restarting on the same --data-dir recovers every
// committed row. --nodes picks the node count; --in-memory runs the same cluster on memory
// engines (nothing survives the process).
//
// Runs until SIGINT or SIGTERM; --demo runs a short scripted session through the mariadb
// CLI (or, without the CLI, through a session) and exits.

#include <signal.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "rutile/env.h"
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
  bool in_memory = false;
  bool demo = false;
};

// Runs `fn` on a fiber of Env::Default() (where the cluster's calls must run) and waits.
template <typename T>
T OnFiber(std::function<T()> fn) {
  std::promise<T> done;
  rutile::Env::Default()->Spawn([&] { done.set_value(fn()); });
  return done.get_future().get();
}

int RunScript(const std::string& script, rutile::sql::Database* db);

int RunDemo(const Flags& f, int port, rutile::sql::Database* db) {
  const std::string cli = "mariadb";
  const std::string script =
      "CREATE DATABASE IF NOT EXISTS demo;\n"
      "USE demo;\n"
      "CREATE TABLE IF NOT EXISTS fruit (id INT PRIMARY KEY, name VARCHAR(20), price "
      "DECIMAL(6,2));\n"
      "REPLACE INTO fruit VALUES (1, 'apple', 0.50), (2, 'pear', 0.75), (3, 'fig', 1.20);\n"
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
  return OnFiber<int>([&] { return RunScript(script, db); });
}

int RunScript(const std::string& script, rutile::sql::Database* db) {
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
  app.add_option("--data-dir", f.data_dir, "Data directory (LevelDB under <dir>/node<id>)")
      ->capture_default_str();
  app.add_option("--nodes", f.nodes, "Nodes of the embedded cluster")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  app.add_flag("--in-memory", f.in_memory, "Run the cluster on memory engines (not durable)");
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

  rutile::sql::LocalClusterOptions co;
  co.nodes = f.nodes;
  if (!f.in_memory) co.data_dir = f.data_dir;
  co.raft_tick_micros = 100'000;  // Elections after 1-2 s, as a real deployment would tick.
  auto db = OnFiber<absl::StatusOr<std::unique_ptr<rutile::sql::Database>>>(
      [&] { return rutile::sql::Database::OpenLocalCluster(co); });
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
      "  store: an embedded %d-node cluster, %s\n"
      "  connect: mariadb -h%s -P%d -uroot\n",
      f.host.c_str(), (*server)->port(), f.host.c_str(), (*status)->port(), f.nodes,
      f.in_memory ? "in memory (lost on exit)"
                  : absl::StrCat("durable LevelDB under ", f.data_dir).c_str(),
      f.host.c_str(), (*server)->port());
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
  // Closing the cluster runs on its Env, as opening did.
  OnFiber<int>([&] {
    db->reset();
    return 0;
  });
  return rc;
}
