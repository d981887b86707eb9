// A 3-node cluster on durable LevelDB restarted again and again, with writes in between, on
// an Env with a single I/O thread. Regression test for a hang: the store's group commit ran
// engine->Write inside Env::RunBlocking while LevelDbEngine runs its fsyncing writes through
// RunBlocking too, so a poller's write took an I/O thread and then waited for an inner job
// queued behind it. With every I/O thread held that way the pollers never came back:
// proposals timed out and Node::Close never returned. One I/O thread makes it certain at
// the first synced Ready; with Env::Default()'s four it hit about two restarts in three.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "util/env_internal.h"

namespace rutile {
namespace {

std::string Key(int i) { return absl::StrFormat("k%05d", i); }

// One open-write-verify-close cycle; returns false (with a failure recorded) on error.
void Cycle(Env* env, const std::string& dir, int cycle) {
  std::unique_ptr<Transport> transport = NewLocalTransport(env);
  std::vector<uint64_t> ids{1, 2, 3};
  std::vector<std::unique_ptr<Node>> nodes;
  std::shared_ptr<Pd> pd;
  for (uint64_t id : ids) {
    NodeOptions o;
    o.id = id;
    o.env = env;
    o.data_dir = absl::StrFormat("%s/node%d", dir, id);
    o.transport = transport.get();
    o.host_pd = id == 1;
    o.pd = pd;
    o.initial_stores = ids;
    o.raft_tick_micros = 20'000;
    o.pd_heartbeat_interval_micros = 200'000;
    absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
    ASSERT_TRUE(node.ok()) << node.status();
    if (id == 1) pd = (*node)->pd();
    nodes.push_back(std::move(*node));
  }
  std::vector<Node*> raw;
  for (auto& n : nodes) raw.push_back(n.get());
  absl::StatusOr<std::unique_ptr<RawKvClient>> client = RawKvClient::Open(raw);
  ASSERT_TRUE(client.ok()) << client.status();
  RawKvClient& kv = **client;
  // What earlier cycles wrote survived.
  for (int c = 0; c < cycle; ++c) {
    absl::StatusOr<std::optional<std::string>> v = kv.Get(Key(c * 10));
    ASSERT_TRUE(v.ok()) << "cycle " << cycle << ": " << v.status();
    EXPECT_EQ(*v, absl::StrFormat("c%d", c)) << "cycle " << cycle;
  }
  for (int i = 0; i < 10; ++i) {
    absl::Status s = kv.Put(Key(cycle * 10 + i), absl::StrFormat("c%d", cycle));
    ASSERT_TRUE(s.ok()) << "cycle " << cycle << ": " << s;
  }
  if (cycle == 1) {
    ASSERT_TRUE(kv.SplitAt(Key(50)).ok());
  }
  client->reset();
  for (auto& n : nodes) n->Close();
}

TEST(NodeRestartTest, RepeatedRestartsOnOneIoThreadDoNotHang) {
  std::string dir = ::testing::TempDir() + "/node_restart_io_test";
  std::filesystem::remove_all(dir);
  ThreadedEnvOptions eo;
  eo.io_threads = 1;
  // Leaked on purpose: if the bug is back, fibers stay parked forever and destroying the
  // Env would wait for them.
  Env* env = NewThreadedEnv(eo).release();
  std::promise<void> done;
  env->Spawn([&] {
    for (int cycle = 0; cycle < 10 && !::testing::Test::HasFatalFailure(); ++cycle) {
      Cycle(env, dir, cycle);
    }
    done.set_value();
  });
  if (done.get_future().wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    std::fprintf(stderr, "FAILED: the cluster hung (a write or Node::Close never returned)\n");
    std::fflush(stderr);
    std::_Exit(1);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rutile
