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
// With --node-id N --peers 1=host:port,2=host:port,... it runs ONE node per process
// instead, the way a cluster grows past one machine: node N listens for Raft, PD and KV
// RPC traffic over gRPC (GrpcTransport) at its own address in --peers and finds the others
// at theirs. The peers given at the first start host the replicated PD (one member each)
// and bootstrap the first region on all of them; a node started with --join is a new store
// of a running cluster (the other peers listed are its PD members) and receives replicas
// from PD's scheduling. Every process serves SQL (MySQL protocol) over the whole cluster
// through a transactional client that reaches every store over RPC. Restarting a process
// on the same --data-dir (SIGKILL included) recovers its node: every committed row stays.
//
// Runs until SIGINT or SIGTERM; --demo runs a short scripted session through the mariadb
// CLI (or, without the CLI, through a session) and exits. --ready-file names a file written
// (atomically) once the server accepts connections: "<mysql port> <status port>\n".

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/logging.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "server/server.h"
#include "transport/grpc_transport.h"
#include "util/sync.h"

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
  std::string ready_file;
  // One node per process (see the header).
  int node_id = 0;
  std::string peers;
  bool join = false;
  int raft_tick_ms = 100;
};

// The client id the SQL layer's transactional client uses on the transport of node `id`'s
// process (an id no node uses; the other processes route it to node `id`'s address).
constexpr uint64_t kClientIdBase = 1000;

// Each node's LevelDB block cache. The engine's 8 MiB default missed most point reads of a
// 100,000-row sysbench table (~40 MiB of blocks per node): each miss a pread and a Snappy
// decompression (1.4% of point_select CPU, 0.04% with this). It fills only as blocks are
// read.
constexpr size_t kBlockCacheBytes = size_t{64} << 20;

// "1=127.0.0.1:20161,2=..." -> {1: "127.0.0.1:20161", ...}.
absl::StatusOr<std::map<uint64_t, std::string>> ParsePeers(const std::string& text) {
  std::map<uint64_t, std::string> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    uint64_t id = 0;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[0], &id) || id == 0 || id >= 990 ||
        kv[1].find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peers: expected id=host:port (id 1..989), got '", std::string(item), "'"));
    }
    if (!out.emplace(id, kv[1]).second) {
      return absl::InvalidArgumentError(absl::StrCat("--peers: node ", id, " given twice"));
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("--peers is empty");
  return out;
}

// Writes `content` to `path` atomically (a reader sees all of it or no file).
bool Publish(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.good()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Where every node's process listens, for the transport's resolver. It starts from
// --peers and learns nodes that joined later: every process registers a directory
// receiver (node id kDirectoryIdBase + its node id) on its transport and, once a second,
// sends its whole book to the directory of every node it knows. A node's own entry
// (sent by its own directory) replaces what a receiver had; others only fill gaps. So the
// running nodes learn a --join'ed node's address from its first round (they could not
// answer it otherwise), and a node restarted with the original --peers learns it again.
constexpr uint64_t kDirectoryIdBase = 2000;

class AddressBook : public rutile::FrameReceiver {
 public:
  AddressBook(uint64_t self, std::map<uint64_t, std::string> initial)
      : self_(self), book_(std::move(initial)) {}

  absl::StatusOr<std::string> Resolve(rutile::NodeId node) {
    // Nodes, their SQL clients and their directories all live at the node's address.
    uint64_t id = node;
    if (id >= kDirectoryIdBase) {
      id -= kDirectoryIdBase;
    } else if (id >= kClientIdBase) {
      id -= kClientIdBase;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = book_.find(id);
    if (it == book_.end()) return absl::NotFoundError("unknown node");
    return it->second;
  }

  // A book from another process: "id=host:port" lines.
  void OnFrame(rutile::NodeId from, std::string frame) override {
    if (from < kDirectoryIdBase) return;
    const uint64_t sender = from - kDirectoryIdBase;
    std::lock_guard<std::mutex> lock(mu_);
    for (absl::string_view line : absl::StrSplit(frame, '\n', absl::SkipEmpty())) {
      std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      uint64_t id = 0;
      if (kv.size() != 2 || !absl::SimpleAtoi(kv[0], &id) || id == 0 || id >= 990 || id == self_ ||
          kv[1].find(':') == std::string::npos || kv[1].size() > 255) {
        continue;
      }
      if (id == sender) {
        book_[id] = kv[1];
      } else {
        book_.emplace(id, kv[1]);
      }
    }
  }

  std::string Encode() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& [id, addr] : book_) absl::StrAppend(&out, id, "=", addr, "\n");
    return out;
  }

  std::vector<uint64_t> Nodes() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<uint64_t> out;
    for (const auto& [id, addr] : book_) out.push_back(id);
    return out;
  }

 private:
  const uint64_t self_;
  std::mutex mu_;
  std::map<uint64_t, std::string> book_;
};

// One node of a multi-process cluster and the SQL database over the whole cluster.
struct ProcessNode {
  std::shared_ptr<AddressBook> book;
  std::atomic<bool> stop{false};
  rutile::WaitGroup gossip;
  std::unique_ptr<rutile::transport::GrpcTransport> transport;
  std::unique_ptr<rutile::Node> node;
  std::unique_ptr<rutile::TxnClient> client;
  std::unique_ptr<rutile::sql::Database> db;
};

// Opens node f.node_id over gRPC. Runs on a fiber of Env::Default().
absl::Status OpenProcessNode(const Flags& f, ProcessNode* out) {
  auto peers = ParsePeers(f.peers);
  if (!peers.ok()) return peers.status();
  const uint64_t self = static_cast<uint64_t>(f.node_id);
  auto me = peers->find(self);
  if (me == peers->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--peers does not list this node (--node-id ", self, ")"));
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, addr] : *peers) ids.push_back(id);
  std::vector<uint64_t> members;  // The replicated PD's members.
  for (uint64_t id : ids) {
    if (!f.join || id != self) members.push_back(id);
  }
  if (members.empty())
    return absl::InvalidArgumentError("--join needs the running peers in --peers");

  rutile::transport::GrpcTransportOptions to;
  to.listen_address = me->second;
  out->book = std::make_shared<AddressBook>(self, *peers);
  std::shared_ptr<AddressBook> book = out->book;
  to.resolver = [book](rutile::NodeId node) { return book->Resolve(node); };
  // Notice a killed peer quickly and come back soon after it restarts.
  to.max_backoff_micros = 500'000;
  auto transport = rutile::transport::GrpcTransport::Create(to);
  if (!transport.ok()) return transport.status();
  out->transport = *std::move(transport);
  const rutile::NodeId directory = kDirectoryIdBase + self;
  if (absl::Status s = out->transport->Register(directory, book.get()); !s.ok()) return s;
  out->gossip.Add(1);
  rutile::Env::Default()->Spawn([out, self, directory] {
    while (!out->stop.load()) {
      const std::string encoded = out->book->Encode();
      for (uint64_t id : out->book->Nodes()) {
        if (id != self) out->transport->Send(directory, kDirectoryIdBase + id, encoded);
      }
      rutile::Env::Default()->SleepForMicros(1'000'000);
    }
    out->gossip.Done();
  });

  rutile::NodeOptions o;
  o.id = self;
  if (!f.in_memory) o.data_dir = absl::StrCat(f.data_dir, "/node", self);
  o.block_cache_bytes = kBlockCacheBytes;
  o.transport = out->transport.get();
  o.pd_members = members;
  if (!f.join) o.initial_stores = ids;
  o.raft_tick_micros = static_cast<uint64_t>(f.raft_tick_ms) * 1000;
  o.pd_heartbeat_interval_micros = 1'000'000;
  // The other processes may still be starting: wait for them.
  o.pd_connect_timeout_micros = 120'000'000;
  auto node = rutile::Node::Open(o);
  if (!node.ok()) return node.status();
  out->node = *std::move(node);

  rutile::TxnClientOptions co;
  // A killed store shows up as an unanswered call: try another soon.
  co.attempt_timeout_micros = 2'000'000;
  auto client = rutile::TxnClient::ConnectToPdMembers(rutile::Env::Default(), out->transport.get(),
                                                      kClientIdBase + self, members, co);
  if (!client.ok()) return client.status();
  out->client = *std::move(client);
  rutile::sql::DatabaseOptions dbo;
  dbo.client = out->client.get();
  auto db = rutile::sql::Database::Open(dbo);
  if (!db.ok()) return db.status();
  out->db = *std::move(db);
  return absl::OkStatus();
}

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
  app.add_option("--ready-file", f.ready_file,
                 "Write '<mysql port> <status port>' here once serving");
  app.add_option("--node-id", f.node_id, "Run only this node, over gRPC (needs --peers)")
      ->check(CLI::Range(1, 989));
  app.add_option("--peers", f.peers,
                 "Every node's gRPC address: 1=host:port,2=host:port,... (with --node-id)");
  app.add_flag("--join", f.join,
               "Join a running cluster as a new store (the other --peers are its PD members)");
  app.add_option("--raft-tick-ms", f.raft_tick_ms, "Raft tick (an election takes 10-20)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000));
  CLI11_PARSE(app, argc, argv);
  if ((f.node_id != 0) != !f.peers.empty()) {
    std::fprintf(stderr, "rutile-server: --node-id and --peers go together\n");
    return 2;
  }

  // SIGINT and SIGTERM are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  rutile::SetLogLevel(rutile::LogLevel::kWarn);

  ProcessNode process;
  absl::StatusOr<std::unique_ptr<rutile::sql::Database>> db;
  if (f.node_id != 0) {
    absl::Status s = OnFiber<absl::Status>([&] { return OpenProcessNode(f, &process); });
    if (!s.ok()) {
      process.stop.store(true);
      process.gossip.Wait();
      std::fprintf(stderr, "rutile-server: node %d: %s\n", f.node_id, s.ToString().c_str());
      return 1;
    }
    db = std::move(process.db);
  } else {
    rutile::sql::LocalClusterOptions co;
    co.nodes = f.nodes;
    if (!f.in_memory) co.data_dir = f.data_dir;
    co.block_cache_bytes = kBlockCacheBytes;
    // Elections after 1-2 s, as a real deployment would tick.
    co.raft_tick_micros = static_cast<uint64_t>(f.raft_tick_ms) * 1000;
    db = OnFiber<absl::StatusOr<std::unique_ptr<rutile::sql::Database>>>(
        [&] { return rutile::sql::Database::OpenLocalCluster(co); });
  }
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
  const std::string storage =
      f.in_memory ? "in memory (lost on exit)" : absl::StrCat("durable LevelDB under ", f.data_dir);
  const std::string store =
      f.node_id != 0 ? absl::StrCat("node ", f.node_id, " of a multi-process cluster (peers ",
                                    f.peers, f.join ? ", joined" : "", "), ", storage)
                     : absl::StrCat("an embedded ", f.nodes, "-node cluster, ", storage);
  std::printf(
      "rutile-server: SQL over the MySQL protocol on %s:%d, status on http://%s:%d/status\n"
      "  store: %s\n"
      "  connect: mariadb -h%s -P%d -uroot\n",
      f.host.c_str(), (*server)->port(), f.host.c_str(), (*status)->port(), store.c_str(),
      f.host.c_str(), (*server)->port());
  std::fflush(stdout);
  if (!f.ready_file.empty() &&
      !Publish(f.ready_file, absl::StrCat((*server)->port(), " ", (*status)->port(), "\n"))) {
    std::fprintf(stderr, "rutile-server: cannot write %s\n", f.ready_file.c_str());
    return 1;
  }

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
    process.client.reset();
    if (process.node != nullptr) process.node->Close();
    if (process.transport != nullptr) {
      process.stop.store(true);
      process.gossip.Wait();
      process.transport->Unregister(kDirectoryIdBase + static_cast<uint64_t>(f.node_id));
    }
    return 0;
  });
  process.node.reset();
  process.transport.reset();
  return rc;
}
