// rutile::sql::Database over a cluster (include/rutile/sql.h): Database::Open over a
// TxnClient, and Database::OpenLocalCluster, which starts in-process Nodes first. They
// live here, not in lib/sql, because they reach into TxnClient and Node (the node layer
// may use every layer; sql may not use node).

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/txn_service.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/sql.h"
#include "sql/kv/client_kv.h"
#include "sql/session/database_access.h"
#include "util/sync.h"

namespace rutile {

namespace sql {
namespace {

// Runs `fn` on a fiber of `env` and waits for it (from a fiber or a plain thread).
void OnFiber(Env* env, const std::function<void()>& fn) {
  WaitGroup wg;
  wg.Add(1);
  env->Spawn([&] {
    fn();
    wg.Done();
  });
  wg.Wait();
}

// The cluster a Database from OpenLocalCluster owns: closed (on a fiber of its Env) when
// the Database releases it, after the Database's store.
struct LocalCluster {
  Env* env = nullptr;
  std::unique_ptr<Transport> transport;
  std::vector<std::unique_ptr<Node>> nodes;
  std::unique_ptr<TxnClient> client;

  ~LocalCluster() {
    OnFiber(env, [&] {
      client.reset();
      for (auto& n : nodes) n->Close();
      nodes.clear();
    });
    transport.reset();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  txn::client::Client* client = node::TxnAccess::ClientOf(options.client);
  if (client == nullptr) return absl::InvalidArgumentError("DatabaseOptions.client is required");
  kv::ClientKvOptions ko;
  ko.try_one_pc = options.try_one_pc;
  // The client's Env: the schema lease, NOW() and the background ANALYZE fibers run where
  // the cluster does (a SimEnv's virtual time and its one thread, not Env::Default()).
  return DatabaseAccess::Make(std::make_unique<kv::ClientKvStore>(client, ko), nullptr,
                              client->env());
}

absl::StatusOr<std::unique_ptr<Database>> Database::OpenLocalCluster(
    const LocalClusterOptions& options) {
  if (options.nodes < 1 || options.nodes > 9) {
    return absl::InvalidArgumentError(
        absl::StrCat("LocalClusterOptions.nodes must be 1..9, not ", options.nodes));
  }
  auto cluster = std::make_shared<LocalCluster>();
  cluster->env = options.env != nullptr ? options.env : Env::Default();
  cluster->transport = NewLocalTransport(cluster->env);
  absl::Status status;
  OnFiber(cluster->env, [&] {
    std::vector<uint64_t> ids;
    for (int i = 1; i <= options.nodes; ++i) ids.push_back(static_cast<uint64_t>(i));
    std::shared_ptr<Pd> pd;
    std::vector<Node*> ptrs;
    for (uint64_t id : ids) {
      NodeOptions o;
      o.id = id;
      if (!options.data_dir.empty()) o.data_dir = absl::StrCat(options.data_dir, "/node", id);
      o.env = cluster->env;
      o.transport = cluster->transport.get();
      o.host_pd = id == 1;
      o.pd = pd;
      o.initial_stores = ids;
      o.raft_tick_micros = options.raft_tick_micros;
      o.block_cache_bytes = options.block_cache_bytes;
      o.columnar_cache_bytes = options.columnar_cache_bytes;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
      if (!node.ok()) {
        status = node.status();
        return;
      }
      if (id == 1) pd = (*node)->pd();
      ptrs.push_back(node->get());
      cluster->nodes.push_back(*std::move(node));
    }
    absl::StatusOr<std::unique_ptr<TxnClient>> client = TxnClient::Open(ptrs);
    if (!client.ok()) {
      status = client.status();
      return;
    }
    cluster->client = *std::move(client);
  });
  if (!status.ok()) return status;
  return DatabaseAccess::Make(
      std::make_unique<kv::ClientKvStore>(node::TxnAccess::ClientOf(cluster->client.get())),
      cluster, cluster->env);
}

}  // namespace sql
}  // namespace rutile
