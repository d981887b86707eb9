// Jepsen's bank workload, black box: three rutile-server processes, one node each, over
// gRPC on loopback (--node-id/--peers), and clients that see only the MySQL protocol
// through libmariadb. Eight client threads transfer money between 8 accounts (read both
// balances, refuse to go negative, write both, and record the transfer in a `transfers`
// table, all in one transaction) and read all accounts, while the nemesis kills one
// process with SIGKILL and restarts it on its data directory, twice (more with --long).
// Then every process is stopped and started again. Checked:
//   - every read of all accounts sees the 8 accounts, no NULL, none negative, sum 100
//     (tests/checkers/bank.h);
//   - every acknowledged transfer survives: its row is in `transfers` at the end, read
//     through every process, before and after the full restart;
//   - nothing else committed: every row in `transfers` was acknowledged or indeterminate
//     (the connection died during COMMIT), and the final balances are exactly the initial
//     ones plus the recorded transfers.
// The test also demands progress: transfers and reads succeed, also after the restarts.
//
// A second test starts a fourth process with --join and reads and writes through it.
//
// `--long` (ctest server_jepsen_bank_slow_test) runs for a minute with a kill every few
// seconds, cycling through the processes.

#include <errmsg.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "checkers/bank.h"
#include "rutile/env.h"

extern "C" const char* __lsan_default_suppressions() { return "leak:libmariadb.so\n"; }

extern char** environ;

namespace rutile {
namespace {

constexpr int kNodes = 3;
constexpr int kAccounts = 8;
constexpr int64_t kTotal = 100;
constexpr int kClients = 8;

bool LongRun() {
  for (const std::string& a : ::testing::internal::GetArgvs()) {
    if (a == "--long") return true;
  }
  return false;
}

void Sleep(uint64_t micros) { Env::Default()->SleepForMicros(micros); }
uint64_t NowMicros() { return Env::Default()->NowMicros(); }

// A free loopback TCP port (bound and released; the server binds it again soon after).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return 0;
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// The three server processes.
class Cluster {
 public:
  Cluster() {
    char tmpl[] = "/tmp/rutile_jepsen_XXXXXX";
    root_ = mkdtemp(tmpl);
    std::vector<std::string> peers;
    for (int i = 1; i <= kNodes + 1; ++i) {
      peers.push_back(absl::StrFormat("%d=127.0.0.1:%d", i, FreePort()));
    }
    joined_peers_ = absl::StrJoin(peers, ",");
    peers.pop_back();
    peers_ = absl::StrJoin(peers, ",");
    for (auto& p : ports_) p.store(0);
  }
  ~Cluster() {
    for (int i = 1; i <= kNodes + 1; ++i) Kill(i);
    if (!::testing::Test::HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    } else {
      fprintf(stderr, "server logs kept under %s\n", root_.c_str());
    }
  }

  // Starts process i: one of the initial nodes, or (i = kNodes + 1) a node joining them.
  void Start(int i) {
    std::filesystem::remove(ReadyFile(i));
    const bool join = i > kNodes;
    std::vector<std::string> args = {RUTILE_SERVER_BIN,
                                     "--node-id",
                                     std::to_string(i),
                                     "--peers",
                                     join ? joined_peers_ : peers_,
                                     "--data-dir",
                                     root_,
                                     "--port",
                                     "0",
                                     "--status-port",
                                     "0",
                                     "--raft-tick-ms",
                                     "50",
                                     "--ready-file",
                                     ReadyFile(i)};
    if (join) args.push_back("--join");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = absl::StrCat(root_, "/log", i);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ASSERT_EQ(rc, 0) << "posix_spawn " << argv[0];
    pids_[i] = pid;
  }

  // Waits until process i serves MySQL; records its port.
  bool WaitReady(int i, uint64_t timeout_micros = 180'000'000) {
    const uint64_t deadline = NowMicros() + timeout_micros;
    while (NowMicros() < deadline) {
      std::ifstream in(ReadyFile(i));
      int port = 0;
      if (in >> port && port > 0) {
        ports_[i - 1].store(port);
        return true;
      }
      int status = 0;
      if (pids_.count(i) && waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
        pids_.erase(i);
        ADD_FAILURE() << "server " << i << " exited with status " << status << "\n" << Log(i);
        return false;
      }
      Sleep(50'000);
    }
    ADD_FAILURE() << "server " << i << " not ready in time\n" << Log(i);
    return false;
  }

  void Kill(int i, int sig = SIGKILL) {
    ports_[i - 1].store(0);
    auto it = pids_.find(i);
    if (it == pids_.end()) return;
    kill(it->second, sig);
    int status = 0;
    if (sig != SIGKILL) {
      // A clean stop; SIGKILL if it takes too long.
      const uint64_t deadline = NowMicros() + 30'000'000;
      while (waitpid(it->second, &status, WNOHANG) == 0) {
        if (NowMicros() > deadline) {
          ADD_FAILURE() << "server " << i << " did not stop on SIGTERM";
          kill(it->second, SIGKILL);
          break;
        }
        Sleep(20'000);
      }
    }
    waitpid(it->second, &status, 0);
    pids_.erase(it);
  }

  // MySQL port of process i (1-based), 0 while it is down.
  int port(int i) const { return ports_[i - 1].load(); }

  std::string Log(int i) const {
    std::ifstream in(absl::StrCat(root_, "/log", i));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
  }

 private:
  std::string ReadyFile(int i) const { return absl::StrCat(root_, "/ready", i); }

  std::string root_;
  std::string peers_;
  std::string joined_peers_;  // With the joining node.
  std::map<int, pid_t> pids_;
  std::atomic<int> ports_[kNodes + 1];
};

MYSQL* Connect(int port) {
  if (port == 0) return nullptr;
  MYSQL* m = mysql_init(nullptr);
  unsigned int timeout = 10;
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  if (mysql_real_connect(m, "127.0.0.1", "root", "", nullptr, port, nullptr, 0) == nullptr) {
    mysql_close(m);
    return nullptr;
  }
  return m;
}

// Runs `q`; on success returns the rows (empty for statements).
absl::StatusOr<std::vector<std::vector<std::optional<std::string>>>> Query(MYSQL* m,
                                                                           const std::string& q) {
  if (mysql_real_query(m, q.data(), q.size()) != 0) {
    return absl::UnknownError(absl::StrCat(mysql_errno(m), " ", mysql_error(m)));
  }
  std::vector<std::vector<std::optional<std::string>>> rows;
  MYSQL_RES* r = mysql_store_result(m);
  if (r == nullptr) {
    if (mysql_field_count(m) != 0) {
      return absl::UnknownError(absl::StrCat(mysql_errno(m), " ", mysql_error(m)));
    }
    return rows;
  }
  const unsigned n = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    std::vector<std::optional<std::string>> out;
    for (unsigned i = 0; i < n; ++i) {
      out.push_back(row[i] ? std::optional<std::string>(row[i]) : std::nullopt);
    }
    rows.push_back(std::move(out));
  }
  mysql_free_result(r);
  return rows;
}

// The MySQL error code in a Query status (0 if none).
unsigned Code(const absl::Status& s) {
  return static_cast<unsigned>(std::atoi(std::string(s.message()).c_str()));
}

// A client connection that moves to another process when its process dies.
class Client {
 public:
  Client(Cluster* c, int preferred) : cluster_(c), node_(preferred) {}
  ~Client() { Close(); }

  MYSQL* Get() {
    if (m_ != nullptr) return m_;
    for (int k = 0; k < kNodes; ++k) {
      const int node = (node_ + k - 1) % kNodes + 1;
      m_ = Connect(cluster_->port(node));
      if (m_ != nullptr) {
        node_ = node;
        if (mysql_query(m_, "USE jepsen") != 0) {
          Close();
          continue;
        }
        return m_;
      }
    }
    return nullptr;
  }
  void Close() {
    if (m_ != nullptr) mysql_close(m_);
    m_ = nullptr;
  }
  // After an error: drop the connection if it is broken (or the server may have lost it).
  void MaybeDrop(const absl::Status& s) {
    const unsigned code = Code(s);
    if (code >= 2000) Close();  // Client-side errors: lost connection, timeout.
  }

 private:
  Cluster* cluster_;
  int node_;
  MYSQL* m_ = nullptr;
};

struct Transfer {
  int64_t id = 0;
  int from = 0;
  int to = 0;
  int amount = 0;
};

struct History {
  std::mutex mu;
  std::vector<checkers::BankRead> reads;
  std::map<int64_t, Transfer> acknowledged;
  std::map<int64_t, Transfer> indeterminate;
  int64_t failed = 0;
  std::map<std::string, int64_t> errors;  // Failed operations by error, for the log.
  int64_t index = 0;
  // Successes after the last restart (progress must resume).
  std::atomic<int64_t> ok_since_mark{0};
};

absl::StatusOr<checkers::BankRead> ReadAccounts(MYSQL* m) {
  auto rows = Query(m, "SELECT id, balance FROM accounts");
  if (!rows.ok()) return rows.status();
  checkers::BankRead r;
  for (const auto& row : *rows) {
    if (row.size() != 2 || !row[0]) return absl::InternalError("bad row");
    std::optional<int64_t> balance;
    if (row[1]) balance = std::atoll(row[1]->c_str());
    r.balances[std::atoll(row[0]->c_str())] = balance;
  }
  return r;
}

// One transfer; returns the outcome: 1 acknowledged, 0 failed, -1 indeterminate.
int DoTransfer(MYSQL* m, const Transfer& t, absl::Status* error) {
  auto fail = [&](const absl::Status& s) {
    *error = s;
    (void)Query(m, "ROLLBACK");
    return 0;
  };
  if (auto s = Query(m, "BEGIN"); !s.ok()) return fail(s.status());
  // FOR UPDATE: the balance checked is the latest one, locked until COMMIT. A pessimistic
  // UPDATE works on the latest committed balance (as in TiDB and InnoDB), so a check
  // against the transaction's snapshot could let a balance go negative.
  auto rows = Query(m, absl::StrFormat("SELECT id, balance FROM accounts WHERE id IN (%d, %d) "
                                       "FOR UPDATE",
                                       t.from, t.to));
  if (!rows.ok()) return fail(rows.status());
  int64_t from_balance = -1;
  for (const auto& row : *rows) {
    if (row.size() == 2 && row[0] && row[1] && std::atoi(row[0]->c_str()) == t.from) {
      from_balance = std::atoll(row[1]->c_str());
    }
  }
  if (from_balance < t.amount) return fail(absl::FailedPreconditionError("insufficient"));
  for (const std::string& q :
       {absl::StrFormat("UPDATE accounts SET balance = balance - %d WHERE id = %d", t.amount,
                        t.from),
        absl::StrFormat("UPDATE accounts SET balance = balance + %d WHERE id = %d", t.amount, t.to),
        absl::StrFormat("INSERT INTO transfers VALUES (%d, %d, %d, %d)", t.id, t.from, t.to,
                        t.amount)}) {
    if (auto s = Query(m, q); !s.ok()) return fail(s.status());
  }
  auto c = Query(m, "COMMIT");
  if (c.ok()) return 1;
  *error = c.status();
  // A conflict or another answer from the server: not committed. No answer: unknown.
  const unsigned code = Code(c.status());
  if (code == 1213 || code == 1205 || code == 1020) return 0;
  return -1;
}

void Worker(int thread, Cluster* cluster, History* h, std::atomic<bool>* stop) {
  mysql_thread_init();
  {
    Client client(cluster, thread % kNodes + 1);
    std::mt19937_64 rng(static_cast<uint64_t>(thread) * 7919 + 17);
    int64_t seq = 0;
    while (!stop->load()) {
      MYSQL* m = client.Get();
      if (m == nullptr) {
        Sleep(100'000);
        continue;
      }
      if (rng() % 2 == 0) {
        auto r = ReadAccounts(m);
        if (!r.ok()) {
          {
            std::lock_guard<std::mutex> lock(h->mu);
            ++h->errors[absl::StrCat("read: ", r.status().message().substr(0, 54))];
          }
          client.MaybeDrop(r.status());
          continue;
        }
        std::lock_guard<std::mutex> lock(h->mu);
        r->index = h->index++;
        r->process = thread;
        h->reads.push_back(*std::move(r));
        h->ok_since_mark.fetch_add(1);
        continue;
      }
      Transfer t;
      t.id = static_cast<int64_t>(thread) * 1'000'000 + ++seq;
      t.from = static_cast<int>(rng() % kAccounts);
      t.to = static_cast<int>((t.from + 1 + rng() % (kAccounts - 1)) % kAccounts);
      t.amount = static_cast<int>(1 + rng() % 5);
      absl::Status error;
      const int outcome = DoTransfer(m, t, &error);
      {
        std::lock_guard<std::mutex> lock(h->mu);
        if (outcome == 1) {
          h->acknowledged[t.id] = t;
          h->ok_since_mark.fetch_add(1);
        } else if (outcome == -1) {
          h->indeterminate[t.id] = t;
        } else {
          ++h->failed;
          ++h->errors[std::string(error.message().substr(0, 60))];
        }
      }
      if (outcome != 1) client.MaybeDrop(error);
      if (outcome == -1) client.Close();
    }
  }
  mysql_thread_end();
}

// Runs `q` through process `node`, retrying for a while (the cluster may be electing).
absl::StatusOr<std::vector<std::vector<std::optional<std::string>>>> QueryWithRetry(
    Cluster* cluster, int node, const std::string& q, uint64_t timeout_micros = 60'000'000) {
  const uint64_t deadline = NowMicros() + timeout_micros;
  absl::Status last = absl::UnavailableError("no attempt");
  while (NowMicros() < deadline) {
    MYSQL* m = Connect(cluster->port(node));
    if (m != nullptr) {
      auto r = Query(m, q);
      mysql_close(m);
      if (r.ok()) return r;
      last = r.status();
    }
    Sleep(200'000);
  }
  return last;
}

// The final state through process `node`: every acknowledged transfer is there, nothing
// unacknowledged but indeterminate is, and the balances are the initial ones plus the
// recorded transfers.
void CheckFinalState(Cluster* cluster, int node, History* h, const char* when) {
  SCOPED_TRACE(absl::StrCat(when, ", through process ", node));
  auto rows = QueryWithRetry(cluster, node, "SELECT id, src, dst, amount FROM jepsen.transfers");
  ASSERT_TRUE(rows.ok()) << rows.status();
  auto accounts = QueryWithRetry(cluster, node, "SELECT id, balance FROM jepsen.accounts");
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  std::set<int64_t> present;
  int64_t expected[kAccounts] = {kTotal};
  for (const auto& row : *rows) {
    ASSERT_EQ(row.size(), 4u);
    const int64_t id = std::atoll(row[0]->c_str());
    present.insert(id);
    const int from = std::atoi(row[1]->c_str()), to = std::atoi(row[2]->c_str());
    const int amount = std::atoi(row[3]->c_str());
    expected[from] -= amount;
    expected[to] += amount;
    EXPECT_TRUE(h->acknowledged.count(id) || h->indeterminate.count(id))
        << "transfer " << id << " committed but was neither acknowledged nor indeterminate";
  }
  size_t lost = 0;
  for (const auto& [id, t] : h->acknowledged) {
    if (!present.count(id)) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "acknowledged transfers lost, of " << h->acknowledged.size();
  ASSERT_EQ(accounts->size(), static_cast<size_t>(kAccounts));
  for (const auto& row : *accounts) {
    const int id = std::atoi(row[0]->c_str());
    ASSERT_TRUE(row[1].has_value());
    EXPECT_EQ(std::atoll(row[1]->c_str()), expected[id]) << "account " << id;
  }
}

TEST(JepsenBankTest, KillAndRestartProcessesUnderBankWorkload) {
  const bool long_run = LongRun();
  mysql_library_init(0, nullptr, nullptr);
  Cluster cluster;
  for (int i = 1; i <= kNodes; ++i) cluster.Start(i);
  for (int i = 1; i <= kNodes; ++i) ASSERT_TRUE(cluster.WaitReady(i));

  // Schema and the initial balances, through process 1.
  for (const std::string& q :
       {std::string("CREATE DATABASE IF NOT EXISTS jepsen"),
        std::string("CREATE TABLE IF NOT EXISTS jepsen.accounts (id INT PRIMARY KEY, balance "
                    "BIGINT NOT NULL)"),
        std::string("CREATE TABLE IF NOT EXISTS jepsen.transfers (id BIGINT PRIMARY KEY, src "
                    "INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL)"),
        std::string("REPLACE INTO jepsen.accounts VALUES (0, 100), (1, 0), (2, 0), (3, 0), (4, "
                    "0), (5, 0), (6, 0), (7, 0)")}) {
    auto r = QueryWithRetry(&cluster, 1, q);
    ASSERT_TRUE(r.ok()) << q << ": " << r.status() << "\n" << cluster.Log(1);
  }

  History h;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < kClients; ++t) workers.emplace_back(Worker, t, &cluster, &h, &stop);

  // The nemesis: kill a process, let the others serve, restart it; then the next one.
  const int cycles = long_run ? 8 : 2;
  const uint64_t up_micros = long_run ? 3'000'000 : 2'000'000;
  const uint64_t down_micros = long_run ? 3'000'000 : 2'000'000;
  for (int c = 0; c < cycles; ++c) {
    Sleep(up_micros);
    const int victim = c % kNodes + 1;
    cluster.Kill(victim);
    Sleep(down_micros);
    cluster.Start(victim);
    ASSERT_TRUE(cluster.WaitReady(victim));
  }
  // Progress must resume once everyone is back.
  h.ok_since_mark.store(0);
  const uint64_t deadline = NowMicros() + 60'000'000;
  // (On a loaded machine the workload may need longer for its minimum of transfers.)
  auto acknowledged = [&] {
    std::lock_guard<std::mutex> lock(h.mu);
    return h.acknowledged.size();
  };
  while ((h.ok_since_mark.load() < 20 || acknowledged() < 10) && NowMicros() < deadline) {
    Sleep(100'000);
  }
  stop.store(true);
  for (auto& w : workers) w.join();

  {
    std::lock_guard<std::mutex> lock(h.mu);
    fprintf(stderr, "bank: %zu reads, %zu acknowledged, %zu indeterminate, %lld failed transfers\n",
            h.reads.size(), h.acknowledged.size(), h.indeterminate.size(),
            static_cast<long long>(h.failed));
    for (const auto& [e, n] : h.errors)
      fprintf(stderr, "  %6lld x %s\n", static_cast<long long>(n), e.c_str());
    EXPECT_GE(h.ok_since_mark.load(), 20) << "no progress after the restarts";
    EXPECT_GE(h.acknowledged.size(), 10u);
    EXPECT_GE(h.reads.size(), 10u);
    checkers::BankOptions bo;
    bo.accounts = kAccounts;
    bo.total = kTotal;
    checkers::BankResult result = checkers::CheckBank(h.reads, bo);
    EXPECT_TRUE(result.valid) << result.Summary();
  }
  for (int i = 1; i <= kNodes; ++i) CheckFinalState(&cluster, i, &h, "after the kills");

  // Every process stopped and started again on its data: everything committed is there.
  for (int i = 1; i <= kNodes; ++i) cluster.Kill(i, i == 1 ? SIGTERM : SIGKILL);
  for (int i = 1; i <= kNodes; ++i) cluster.Start(i);
  for (int i = 1; i <= kNodes; ++i) ASSERT_TRUE(cluster.WaitReady(i));
  for (int i = 1; i <= kNodes; ++i) CheckFinalState(&cluster, i, &h, "after a full restart");
}

// A fourth process joins the running cluster (--join): the others learn its address, and it
// serves SQL over the cluster's rows.
TEST(JepsenBankTest, JoinedProcessServesTheCluster) {
  mysql_library_init(0, nullptr, nullptr);
  Cluster cluster;
  for (int i = 1; i <= kNodes; ++i) cluster.Start(i);
  for (int i = 1; i <= kNodes; ++i) ASSERT_TRUE(cluster.WaitReady(i));
  for (const std::string& q : {std::string("CREATE DATABASE j"),
                               std::string("CREATE TABLE j.t (id INT PRIMARY KEY, v INT)"),
                               std::string("INSERT INTO j.t VALUES (1, 10), (2, 20)")}) {
    auto r = QueryWithRetry(&cluster, 1, q);
    ASSERT_TRUE(r.ok()) << q << ": " << r.status() << "\n" << cluster.Log(1);
  }
  const int joined = kNodes + 1;
  cluster.Start(joined);
  ASSERT_TRUE(cluster.WaitReady(joined));
  auto rows = QueryWithRetry(&cluster, joined, "SELECT sum(v) FROM j.t");
  ASSERT_TRUE(rows.ok()) << rows.status() << "\n" << cluster.Log(joined);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0].value_or("NULL"), "30");
  ASSERT_TRUE(QueryWithRetry(&cluster, joined, "INSERT INTO j.t VALUES (3, 30)").ok());
  rows = QueryWithRetry(&cluster, 2, "SELECT sum(v) FROM j.t");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0][0].value_or("NULL"), "60");
}

}  // namespace
}  // namespace rutile
