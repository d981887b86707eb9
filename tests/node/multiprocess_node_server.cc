// One rutile::Node in its own process over GrpcTransport on loopback, for
// multiprocess_test.cc. Usage:
//
//   multiprocess_node_server <id> <data_dir> <rendezvous_dir> <initial_stores> <pd_node>
//
// e.g. `multiprocess_node_server 2 /tmp/x/node2 /tmp/x/meet 1,2,3 1`. The node listens on a
// free loopback port and publishes "127.0.0.1:<port>" in <rendezvous_dir>/node<id>.addr;
// it finds every other node (and the test's client) by reading their files, at each
// (re)connection, so a restarted process on a new port is found again. Node <pd_node>
// hosts the PD and serves it over RPC; the others reach it through the transport. Once
// the node is open the server creates <rendezvous_dir>/node<id>.ready and serves until it
// is killed. On any failure it prints why and exits with status 1.

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "rutile/env.h"
#include "rutile/logging.h"
#include "rutile/node.h"
#include "transport/grpc_transport.h"
#include "util/sync.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "multiprocess_node_server: %s\n", what.c_str());
  fflush(stderr);
  _exit(1);
}

// Writes `content` to `path` atomically (a reader sees all of it or no file).
void Publish(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.good()) Fail("cannot write " + tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) Fail("cannot rename " + tmp);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    Fail("usage: multiprocess_node_server <id> <data_dir> <rendezvous_dir> <stores> <pd_node>");
  }
  uint64_t id = 0, pd_node = 0;
  if (!absl::SimpleAtoi(argv[1], &id) || !absl::SimpleAtoi(argv[5], &pd_node)) {
    Fail("bad node id");
  }
  const std::string data_dir = argv[2];
  const std::string meet = argv[3];
  std::vector<uint64_t> stores;
  for (absl::string_view s : absl::StrSplit(argv[4], ',')) {
    uint64_t v = 0;
    if (!absl::SimpleAtoi(s, &v)) Fail("bad store list");
    stores.push_back(v);
  }
  rutile::SetLogLevel(rutile::LogLevel::kWarn);

  rutile::transport::GrpcTransportOptions to;
  to.listen_address = "127.0.0.1:0";
  to.resolver = [meet](rutile::NodeId node) -> absl::StatusOr<std::string> {
    std::ifstream in(meet + "/node" + std::to_string(node) + ".addr");
    std::string addr;
    if (!(in >> addr)) return absl::NotFoundError("node has not published its address");
    return addr;
  };
  // Notice a killed peer quickly and come back soon after it restarts.
  to.max_backoff_micros = 200'000;
  absl::StatusOr<std::unique_ptr<rutile::transport::GrpcTransport>> transport =
      rutile::transport::GrpcTransport::Create(to);
  if (!transport.ok()) Fail("transport: " + transport.status().ToString());
  Publish(meet + "/node" + std::to_string(id) + ".addr", (*transport)->address());

  rutile::Env* env = rutile::Env::Default();
  std::unique_ptr<rutile::Node> node;
  absl::Status opened = absl::UnknownError("not run");
  rutile::WaitGroup wg;
  wg.Add(1);
  env->Spawn([&] {
    rutile::NodeOptions o;
    o.id = id;
    o.data_dir = data_dir;
    o.transport = transport->get();
    o.host_pd = id == pd_node;
    if (!o.host_pd) o.pd_node = pd_node;
    o.initial_stores = stores;
    o.raft_tick_micros = 50'000;
    o.pd_heartbeat_interval_micros = 200'000;
    // The PD's process may still be starting: retry while it cannot be reached.
    for (int attempt = 0; attempt < 20; ++attempt) {
      absl::StatusOr<std::unique_ptr<rutile::Node>> n = rutile::Node::Open(o);
      opened = n.status();
      if (n.ok()) {
        node = std::move(*n);
        break;
      }
      if (!absl::IsDeadlineExceeded(opened) && !absl::IsUnavailable(opened)) break;
      env->SleepForMicros(250'000);
    }
    wg.Done();
  });
  wg.Wait();
  if (!opened.ok()) Fail("open node: " + opened.ToString());
  Publish(meet + "/node" + std::to_string(id) + ".ready", "ready\n");
  // Serve until killed. The test ends every server with SIGKILL: a crash is exactly what
  // the node must survive.
  while (true) pause();
}
