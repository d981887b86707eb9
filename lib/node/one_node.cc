// rutile::testing::OneNodeCluster (rutile/testing/one_node.h).

#include "rutile/testing/one_node.h"

#include <utility>

#include "rutile/env.h"

namespace rutile::testing {

NodeOptions OneNodeOptions(Transport* transport) {
  NodeOptions o;
  o.id = 1;
  o.transport = transport;
  o.host_pd = true;
  o.initial_stores = {1};
  o.raft_tick_micros = 10'000;
  return o;
}

absl::StatusOr<std::unique_ptr<OneNodeCluster>> OneNodeCluster::Open(
    const std::function<void(NodeOptions*)>& configure) {
  auto c = std::make_unique<OneNodeCluster>();
  c->transport = NewLocalTransport(Env::Default());
  NodeOptions o = OneNodeOptions(c->transport.get());
  if (configure) configure(&o);
  absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
  if (!node.ok()) return node.status();
  c->node = *std::move(node);
  absl::StatusOr<std::unique_ptr<TxnClient>> client = TxnClient::Open({c->node.get()});
  if (!client.ok()) return client.status();
  c->client = *std::move(client);
  return c;
}

OneNodeCluster::~OneNodeCluster() {
  client.reset();
  if (node != nullptr) node->Close();
}

}  // namespace rutile::testing
