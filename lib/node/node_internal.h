// The insides of rutile::Node and rutile::Pd (include/rutile/node.h), shared by node.cc
// and raw_kv_client.cc. Not a public header.

#ifndef RUTILE_NODE_NODE_INTERNAL_H_
#define RUTILE_NODE_NODE_INTERNAL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "node/local_pd.h"
#include "node/pd_service.h"
#include "node/replicated_pd.h"
#include "raftstore/store.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "storage/engine.h"
#include "transport/rpc.h"

namespace rutile {

struct Pd::Impl {
  // Either the in-process PD: the engine it keeps its allocator limits in (the hosting
  // node's), shared so the PD stays valid while any node still holds the handle ...
  std::shared_ptr<storage::Engine> engine;
  std::unique_ptr<node::LocalPd> pd;
  // ... or a client of the replicated PD on an endpoint of its own (TestCluster). Its
  // owner closes it on a fiber before dropping the handle (ReplicatedPd::Close waits).
  std::unique_ptr<transport::RpcEndpoint> endpoint;
  std::unique_ptr<node::ReplicatedPd> replicated;
  // What rutile::Pd and the clients call: `pd` or `replicated`.
  node::PdApi* api = nullptr;
};

struct Node::Impl {
  NodeOptions options;
  Env* env = nullptr;
  std::shared_ptr<storage::Engine> engine;
  std::shared_ptr<Pd> pd;
  // Shared (as are the PD handles below) so that the transaction service's handlers can
  // hold weak references that fail cleanly after Close.
  std::shared_ptr<transport::RpcEndpoint> endpoint;
  // The PD of another process (NodeOptions::pd_node), called through `endpoint`.
  std::shared_ptr<node::RemotePd> remote_pd;
  // The replicated PD (NodeOptions::pd_members): a member when this node is one, and the
  // client of the leader, on `endpoint`.
  std::shared_ptr<node::ReplicatedPd> replicated_pd;
  std::shared_ptr<raftstore::Store> store;
  std::atomic<bool> closed{false};
};

namespace node {
// For the client: the store of a node and the PD behind a handle.
inline std::shared_ptr<raftstore::Store> StoreOf(Node::Impl* n) { return n->store; }
inline PdApi* PdApiOf(Pd::Impl* p) { return p->api; }
// The in-process PD behind a handle, null for the replicated PD.
inline LocalPd* LocalPdOf(Pd::Impl* p) { return p->pd.get(); }

// Private constructors and members of the public classes, for lib/node only.
struct Access {
  static std::shared_ptr<Pd> NewPd(std::unique_ptr<Pd::Impl> impl) {
    return std::shared_ptr<Pd>(new Pd(std::move(impl)));
  }
  static Pd::Impl* ImplOf(Pd* pd) { return pd->impl_.get(); }
  static std::unique_ptr<Node> NewNode(std::unique_ptr<Node::Impl> impl) {
    return std::unique_ptr<Node>(new Node(std::move(impl)));
  }
  static std::unique_ptr<Node::Impl>& ImplOf(Node* node) { return node->impl_; }
  // Defined in raw_kv_client.cc, where RawKvClient::Impl is complete.
  static std::unique_ptr<RawKvClient> NewRawKvClient(std::unique_ptr<RawKvClient::Impl> impl);
};

// The store serving a store id now, or null (for RawKvClient).
using StoreResolver = std::function<std::shared_ptr<raftstore::Store>(uint64_t store_id)>;

// A raw KV client whose waits and backoffs run on `env` and which reaches stores through
// `resolve` (TestCluster: nodes crash and restart under it).
absl::StatusOr<std::unique_ptr<RawKvClient>> OpenRawKvClient(Env* env, std::shared_ptr<Pd> pd,
                                                             StoreResolver resolve,
                                                             const RawKvOptions& options);

// Registers the transactional KV service (txn_kv_service.h) on the node's endpoint, over
// the node's store, timestamps from its PD (`pd` when in process) and the cluster's
// deadlock detector (served here when this node keeps it).
absl::Status ServeTransactions(Node::Impl* impl, LocalPd* pd);

// The split key a store's split checker proposes, cut back to a user-key boundary: a key
// of the Percolator write/default column families is a memcomparable user key followed by
// a timestamp, and a region boundary between two versions of one user key would leave a
// reader at its region without the key's other versions (TiKV truncates the timestamp
// too). Keys that do not start with an encoded user key (raw KV) are kept as they are.
std::string TxnSplitKey(std::string_view key);

// Node::Open's body, with three hooks for rutile::testing::TestCluster: a non-null `engine`
// replaces the one options.data_dir names (a MemEngine that outlives a crashed incarnation),
// `tune` may adjust the store's configuration and `tune_pd` the replicated PD member's and
// client's (options.pd_members) beyond what NodeOptions exposes.
absl::StatusOr<std::unique_ptr<Node::Impl>> OpenNodeImpl(
    const NodeOptions& options, std::shared_ptr<storage::Engine> engine = nullptr,
    const std::function<void(raftstore::StoreConfig*)>& tune = nullptr,
    const std::function<void(ReplicatedPdOptions*)>& tune_pd = nullptr);

// A handle on an in-process LocalPd whose limits live in `engine`.
std::shared_ptr<Pd> NewLocalPdHandle(std::shared_ptr<storage::Engine> engine,
                                     std::unique_ptr<LocalPd> pd);
}  // namespace node

}  // namespace rutile

#endif  // RUTILE_NODE_NODE_INTERNAL_H_
