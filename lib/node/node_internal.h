// The insides of rutile::Node and rutile::Pd (include/rutile/node.h), shared by node.cc
// and raw_kv_client.cc. Not a public header.

#ifndef RUTILE_NODE_NODE_INTERNAL_H_
#define RUTILE_NODE_NODE_INTERNAL_H_

#include <atomic>
#include <memory>

#include "node/local_pd.h"
#include "raftstore/store.h"
#include "rutile/node.h"
#include "storage/engine.h"
#include "transport/rpc.h"

namespace rutile {

struct Pd::Impl {
  // The engine the PD keeps its allocator limits in (the hosting node's); shared so the
  // PD stays valid while any node still holds the handle.
  std::shared_ptr<storage::Engine> engine;
  std::unique_ptr<node::LocalPd> pd;
};

struct Node::Impl {
  NodeOptions options;
  Env* env = nullptr;
  std::shared_ptr<storage::Engine> engine;
  std::shared_ptr<Pd> pd;
  std::unique_ptr<transport::RpcEndpoint> endpoint;
  std::shared_ptr<raftstore::Store> store;
  std::atomic<bool> closed{false};
};

namespace node {
// For the client: the store of a node and the PD behind a handle.
inline std::shared_ptr<raftstore::Store> StoreOf(Node::Impl* n) { return n->store; }
inline LocalPd* LocalPdOf(Pd::Impl* p) { return p->pd.get(); }
}  // namespace node

}  // namespace rutile

#endif  // RUTILE_NODE_NODE_INTERNAL_H_
