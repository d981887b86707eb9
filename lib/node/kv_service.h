// The KV RPC service (lib/proto/kvrpcpb.proto): what a store node serves on its
// RpcEndpoint so that clients in other processes (or other node ids on the same
// Transport) can read and write its regions. Every method runs the request through
// raftstore's RaftKv on the node's Store: a write is proposed and answers once applied at
// the leader; a read takes a consistent snapshot at the leader.
//
// Methods are registered per command family, each family in its own source file: this
// file's RegisterRawKvService adds the raw commands ("Kv.RawGet", ...); the transactional
// commands register theirs the same way with RegisterKvMethod, which is the one place that
// maps raftstore's typed region errors into a response's `region_error` field.
//
// Error mapping, both ways:
//   server: a handler's status carrying a region error (raftstore/errors.h) becomes the
//           response's region_error with an OK RPC status; any other non-OK status is the
//           RPC status (code and message).
//   client: RegionErrorToStatus turns a response's region_error back into the same typed
//           absl::Status, so callers react exactly as to an in-process RaftKv.
// Malformed requests (unparsable bytes, no region id or epoch, a key outside what the
// command allows) answer InvalidArgument and change nothing.
//
// Thread safety: handlers run concurrently on the endpoint's fibers; everything here is
// safe for that.

#ifndef RUTILE_NODE_KV_SERVICE_H_
#define RUTILE_NODE_KV_SERVICE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kvrpcpb.pb.h"
#include "raft_cmdpb.pb.h"
#include "raftstore/errors.h"
#include "raftstore/raft_kv.h"
#include "raftstore/store.h"
#include "transport/rpc.h"

namespace rutile::node {

// Method names of the raw commands.
inline constexpr char kRawGetMethod[] = "Kv.RawGet";
inline constexpr char kRawBatchGetMethod[] = "Kv.RawBatchGet";
inline constexpr char kRawPutMethod[] = "Kv.RawPut";
inline constexpr char kRawBatchPutMethod[] = "Kv.RawBatchPut";
inline constexpr char kRawDeleteMethod[] = "Kv.RawDelete";
inline constexpr char kRawScanMethod[] = "Kv.RawScan";
inline constexpr char kSplitRegionMethod[] = "Kv.SplitRegion";

// What the service's handlers run against: the node's store and a RaftKv over it.
struct KvServiceContext {
  std::shared_ptr<raftstore::Store> store;
  std::shared_ptr<raftstore::RaftKv> kv;
};

// Checks and converts a request's Context: InvalidArgument without a region id or epoch.
absl::StatusOr<raftstore::Context> FromRpcContext(const kvrpcpb::Context& ctx);
void ToRpcContext(const raftstore::Context& ctx, kvrpcpb::Context* out);

// The typed status (raftstore/errors.h codes, the error as payload) of a region error.
absl::Status RegionErrorToStatus(const raft_cmdpb::Error& error);

// Registers `method`: `fn` fills the response or returns a status; a status carrying a
// region error is answered as the response's region_error (see above). `Resp` must have a
// `region_error` field of type raft_cmdpb.Error.
template <typename Req, typename Resp>
absl::Status RegisterKvMethod(transport::RpcEndpoint& endpoint, std::string method,
                              std::function<absl::Status(const Req& request, Resp* response)> fn) {
  return transport::RegisterTypedMethod<Req, Resp>(
      endpoint, std::move(method),
      [fn = std::move(fn)](const transport::RpcContext&, const Req& req) -> absl::StatusOr<Resp> {
        Resp resp;
        absl::Status s = fn(req, &resp);
        if (s.ok()) return resp;
        std::optional<raft_cmdpb::Error> region_error = raftstore::GetRegionError(s);
        if (!region_error.has_value()) return s;
        Resp with_error;
        *with_error.mutable_region_error() = std::move(*region_error);
        return with_error;
      });
}

// Client side of RegisterKvMethod: the call's RPC status, else the response's region error
// as a typed status, else the response.
template <typename Resp, typename Req>
absl::StatusOr<Resp> CallKvMethod(transport::RpcEndpoint& endpoint, NodeId to, std::string method,
                                  const Req& request, uint64_t timeout_micros) {
  absl::StatusOr<Resp> resp =
      transport::CallTyped<Resp>(endpoint, to, std::move(method), request, timeout_micros);
  if (!resp.ok()) return resp.status();
  if (resp->has_region_error()) return RegionErrorToStatus(resp->region_error());
  return resp;
}

// Registers the raw KV commands on `endpoint`. AlreadyExists if one is registered.
absl::Status RegisterRawKvService(transport::RpcEndpoint& endpoint,
                                  std::shared_ptr<KvServiceContext> context);

}  // namespace rutile::node

#endif  // RUTILE_NODE_KV_SERVICE_H_
