// RpcRawKv: the raw KV client over RPC, behind RawKvClient when it runs in RPC mode
// (RawKvClient::Connect, or RawKvOptions::rpc_client_id). It registers its own node id on
// the Transport, looks regions up at the PD-hosting node (RemotePd) and sends every
// command to the store leading the key's region through the KV service (kv_service.h),
// with the same region cache, error handling and backoff as the in-process client (see
// rutile/kv.h). A store's node id is its store id.
//
// Thread safety: every method may be called from any fiber of the Env concurrently.

#ifndef RUTILE_NODE_RAW_KV_RPC_H_
#define RUTILE_NODE_RAW_KV_RPC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "node/pd_service.h"
#include "raftstore/raft_kv.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/transport.h"
#include "transport/rpc.h"
#include "txn/client/region_cache.h"
#include "txn/client/region_request_sender.h"

namespace rutile::node {

class RpcRawKv {
 public:
  using KvPair = std::pair<std::string, std::string>;

  // Registers node `self` on `transport` (AlreadyExists-style errors from the transport if
  // the id is taken) and talks to the PD hosted by `pd_node`. `env` and `transport` must
  // outlive the client.
  static absl::StatusOr<std::unique_ptr<RpcRawKv>> Open(Env* env, Transport* transport, NodeId self,
                                                        NodeId pd_node,
                                                        const RawKvOptions& options);
  // Unregisters from the transport; calls in flight resolve Cancelled.
  ~RpcRawKv();

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start, const std::string& end,
                                           size_t limit);
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      const std::vector<std::string>& keys);
  absl::Status BatchPut(const std::vector<KvPair>& pairs);
  absl::Status SplitAt(const std::string& key);
  std::vector<RegionDescription> Regions();
  absl::StatusOr<uint64_t> GetTimestamp() { return pd_.GetTimestamp(); }

 private:
  // One attempt at one store: the region as cached, the store called, the request context
  // and the call's deadline.
  using Attempt = std::function<absl::Status(const metapb::Region& region, NodeId store,
                                             const raftstore::Context& ctx, uint64_t deadline)>;

  RpcRawKv(Env* env, std::unique_ptr<transport::RpcEndpoint> endpoint, NodeId pd_node,
           const RawKvOptions& options);

  // Runs `attempt` against the region holding `key` until it succeeds, fails with an error
  // that is not retryable, or `deadline` passes (the sender's rules,
  // txn/client/region_request_sender.h).
  absl::Status WithRegion(const std::string& key, uint64_t deadline, const Attempt& attempt);
  uint64_t Deadline() const { return env_->NowMicros() + options_.timeout_micros; }
  // The timeout of one RPC: the attempt timeout, cut to what is left until `deadline`.
  uint64_t AttemptTimeout(uint64_t deadline) const;

  Env* const env_;
  const RawKvOptions options_;
  std::unique_ptr<transport::RpcEndpoint> endpoint_;
  RemotePd pd_;
  txn::client::RegionCache cache_;  // By raw key.
  txn::client::RegionRequestSender sender_;
};

}  // namespace rutile::node

#endif  // RUTILE_NODE_RAW_KV_RPC_H_
