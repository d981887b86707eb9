// Nodes in separate processes over GrpcTransport on loopback: three
// multiprocess_node_server processes (each one rutile::Node on LevelDB in a temporary
// directory; node 1 hosts the PD and serves it over RPC) and a RawKvClient in this process
// that reaches them only through the KV and PD RPC services. The client writes and reads
// back across regions it splits; one process is killed with SIGKILL and the cluster keeps
// serving; the killed process restarts on its data and catches up, which is then proven
// by killing another one: the remaining quorum needs the restarted node.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/logging.h"
#include "util/sync.h"

#if RUTILE_WITH_GRPC && defined(RUTILE_NODE_SERVER)
#include "fiber_test_util.h"
#include "transport/grpc_transport.h"
#endif

extern char** environ;

namespace rutile {
namespace {

#if RUTILE_WITH_GRPC && defined(RUTILE_NODE_SERVER)

constexpr uint64_t kClientId = 900;
constexpr uint64_t kPdNode = 1;

std::string Key(int i) { return absl::StrFormat("k%05d", i); }

// The server processes; kills whatever still runs when destroyed (a failed ASSERT too).
class Servers {
 public:
  explicit Servers(std::string root) : root_(std::move(root)) {
    std::filesystem::create_directories(meet());
  }
  ~Servers() {
    for (auto& [id, pid] : pids_) Kill(id);
  }

  std::string meet() const { return root_ + "/meet"; }

  // Starts node `id` on its data directory (kept across restarts).
  void Start(uint64_t id) {
    std::filesystem::remove(ReadyFile(id));
    std::vector<std::string> args = {RUTILE_NODE_SERVER,
                                     std::to_string(id),
                                     absl::StrFormat("%s/node%d", root_, id),
                                     meet(),
                                     "1,2,3",
                                     std::to_string(kPdNode)};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    ASSERT_EQ(rc, 0) << "posix_spawn " << argv[0];
    pids_[id] = pid;
  }

  // Waits (on Env time) until node `id` has opened; fails the test after `timeout`.
  bool WaitReady(uint64_t id, uint64_t timeout_micros = 60'000'000) {
    for (uint64_t waited = 0; waited < timeout_micros; waited += 50'000) {
      if (std::filesystem::exists(ReadyFile(id))) return true;
      int status = 0;
      if (waitpid(pids_[id], &status, WNOHANG) == pids_[id]) {
        pids_.erase(id);
        ADD_FAILURE() << "node " << id << " server exited with status " << status;
        return false;
      }
      Env::Default()->SleepForMicros(50'000);
    }
    ADD_FAILURE() << "node " << id << " not ready in time";
    return false;
  }

  // SIGKILL: a crash, nothing flushed beyond what the node synced.
  void Kill(uint64_t id) {
    auto it = pids_.find(id);
    if (it == pids_.end()) return;
    kill(it->second, SIGKILL);
    int status = 0;
    waitpid(it->second, &status, 0);
    pids_.erase(it);
  }

 private:
  std::string ReadyFile(uint64_t id) const {
    return absl::StrFormat("%s/node%d.ready", meet(), id);
  }

  std::string root_;
  std::map<uint64_t, pid_t> pids_;
};

// Every key in [0, n) reads back as `value(i)` (nullopt: absent), by Get, BatchGet and a
// Scan across all regions.
void ExpectAll(RawKvClient& kv, int n,
               const std::function<std::optional<std::string>(int)>& value) {
  absl::StatusOr<std::vector<RawKvClient::KvPair>> all = kv.Scan(Key(0), Key(n));
  ASSERT_TRUE(all.ok()) << all.status();
  std::map<std::string, std::string> got(all->begin(), all->end());
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    keys.push_back(Key(i));
    std::optional<std::string> want = value(i);
    auto it = got.find(Key(i));
    if (want.has_value()) {
      ASSERT_NE(it, got.end()) << Key(i);
      EXPECT_EQ(it->second, *want) << Key(i);
    } else {
      EXPECT_EQ(it, got.end()) << Key(i);
    }
  }
  absl::StatusOr<std::vector<std::optional<std::string>>> batch = kv.BatchGet(keys);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (int i = 0; i < n; ++i) EXPECT_EQ((*batch)[i], value(i)) << Key(i);
  for (int i = 0; i < n; i += 37) {
    absl::StatusOr<std::optional<std::string>> v = kv.Get(Key(i));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, value(i)) << Key(i);
  }
}

TEST(MultiProcessTest, ServesAcrossRegionsThroughCrashAndRestart) {
  SetLogLevel(LogLevel::kWarn);
  const std::string root = ::testing::TempDir() + "/node_multiprocess_test";
  std::filesystem::remove_all(root);
  Servers servers(root);

  // This process is only a client on the transport, under node id kClientId.
  transport::GrpcTransportOptions to;
  const std::string meet = servers.meet();
  to.resolver = [meet](NodeId node) -> absl::StatusOr<std::string> {
    std::ifstream in(meet + "/node" + std::to_string(node) + ".addr");
    std::string addr;
    if (!(in >> addr)) return absl::NotFoundError("node has not published its address");
    return addr;
  };
  to.max_backoff_micros = 200'000;
  absl::StatusOr<std::unique_ptr<transport::GrpcTransport>> transport =
      transport::GrpcTransport::Create(to);
  ASSERT_TRUE(transport.ok()) << transport.status();
  {
    std::ofstream out(meet + "/node" + std::to_string(kClientId) + ".addr");
    out << (*transport)->address();
  }

  // The PD's node starts last: the others must wait for it (Node::Open retries its PD
  // registration while the PD's process is absent, then while it is still opening).
  for (uint64_t id : {3, 2, 1}) servers.Start(id);
  OnFiber([&] {
    for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(servers.WaitReady(id));
    RawKvOptions ko;
    ko.timeout_micros = 30'000'000;
    // A killed server is noticed by this timeout: keep it short (it is not a failure).
    ko.attempt_timeout_micros = 1'000'000;
    absl::StatusOr<std::unique_ptr<RawKvClient>> c =
        RawKvClient::Connect(Env::Default(), transport->get(), kClientId, kPdNode, ko);
    ASSERT_TRUE(c.ok()) << c.status();
    RawKvClient& kv = **c;

    // Write, split into three regions, overwrite and delete across them.
    constexpr int kKeys = 300;
    std::vector<RawKvClient::KvPair> pairs;
    for (int i = 0; i < kKeys; ++i) pairs.emplace_back(Key(i), absl::StrFormat("v%d", i));
    ASSERT_TRUE(kv.BatchPut(pairs).ok());
    ASSERT_TRUE(kv.SplitAt(Key(100)).ok());
    ASSERT_TRUE(kv.SplitAt(Key(200)).ok());
    ASSERT_TRUE(kv.Put(Key(150), "changed").ok());
    ASSERT_TRUE(kv.Delete(Key(250)).ok());
    auto first = [](int i) -> std::optional<std::string> {
      if (i == 250) return std::nullopt;
      return i == 150 ? "changed" : absl::StrFormat("v%d", i);
    };
    ExpectAll(kv, kKeys, first);
    EXPECT_GE(kv.Regions().size(), 3u);

    // Crash node 3: two of three replicas keep every region serving.
    servers.Kill(3);
    for (int i = 0; i < kKeys; i += 3) {
      ASSERT_TRUE(kv.Put(Key(i), absl::StrFormat("w%d", i)).ok()) << Key(i);
    }
    auto second = [&](int i) -> std::optional<std::string> {
      return i % 3 == 0 ? absl::StrFormat("w%d", i) : first(i);
    };
    ExpectAll(kv, kKeys, second);

    // Restart it on its data; then crash node 2, so every write and read below needs the
    // restarted node 3 to have rejoined and caught up.
    servers.Start(3);
    ASSERT_TRUE(servers.WaitReady(3));
    std::vector<RawKvClient::KvPair> more;
    for (int i = kKeys; i < kKeys + 60; ++i) more.emplace_back(Key(i), absl::StrFormat("x%d", i));
    ASSERT_TRUE(kv.BatchPut(more).ok());
    servers.Kill(2);
    ASSERT_TRUE(kv.Put(Key(1), "after restart").ok());
    ExpectAll(kv, kKeys + 60, [&](int i) -> std::optional<std::string> {
      if (i == 1) return "after restart";
      return i >= kKeys ? absl::StrFormat("x%d", i) : second(i);
    });
    c->reset();
  });
  servers.Kill(1);
  servers.Kill(3);
  transport->reset();
  std::filesystem::remove_all(root);
}

#else

TEST(MultiProcessTest, NeedsGrpc) { GTEST_SKIP() << "built without gRPC"; }

#endif

}  // namespace
}  // namespace rutile
