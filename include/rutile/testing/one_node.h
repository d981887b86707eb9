// A one-node cluster in this process, the set-up of the SQL tests over Raft and of
// bench/sql_bench: node 1 on a LocalTransport, hosting the PD and store 1 (which holds the
// first region), and a TxnClient over it.
//
//   auto c = rutile::testing::OneNodeCluster::Open();   // on a fiber of Env::Default()
//   DatabaseOptions o;
//   o.client = (*c)->client.get();
//
// Thread safety: Open and the destructor run on a fiber of Env::Default(); the members are
// the node's and the client's (thread-safe as they are).

#ifndef RUTILE_TESTING_ONE_NODE_H_
#define RUTILE_TESTING_ONE_NODE_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/transport.h"

namespace rutile::testing {

// The options of node 1 of a one-node cluster on `transport`: it hosts the PD, store 1
// holds the first region, and Raft ticks every 10 ms (an election within 100-200 ms).
NodeOptions OneNodeOptions(Transport* transport);

struct OneNodeCluster {
  // Opens the transport (Env::Default()), the node (OneNodeOptions, then `configure` if
  // given) and the client. Errors: the node's or the client's.
  static absl::StatusOr<std::unique_ptr<OneNodeCluster>> Open(
      const std::function<void(NodeOptions*)>& configure = nullptr);
  // Closes the client, then the node.
  ~OneNodeCluster();

  std::unique_ptr<Transport> transport;
  std::unique_ptr<Node> node;
  std::unique_ptr<TxnClient> client;
};

}  // namespace rutile::testing

#endif  // RUTILE_TESTING_ONE_NODE_H_
