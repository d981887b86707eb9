// RPC over frames. An RpcEndpoint is the one FrameReceiver of a node on a Transport: it
// decodes every frame as a rutile.transport.Envelope and dispatches on the body —
// requests, responses and cancels to the RPC machinery here, `raft` and `opaque` bodies to
// handlers a higher layer registers (raftstore receives its Raft batches this way on the
// same node id).
//
// Client side: Call(to, method, request, timeout) returns a fiber Future that resolves
// exactly once, with the handler's answer, DeadlineExceeded when the timeout (measured
// with the endpoint's Env, so in virtual time under SimEnv) expires first, or Cancelled
// when the caller cancels or the endpoint stops. Whatever resolves the call removes it
// from the pending table, so a duplicated or late response finds nothing and is ignored.
// A transport is best effort: a lost request or response shows up only as a deadline.
//
// Server side: handlers are registered by method name ("Service.Method") and each request
// runs on a fiber of its own. An unknown method answers Unimplemented. A cancel from the
// caller marks the request's RpcContext cancelled and suppresses its response. Delivery is
// at-least-once from the handler's point of view: a request duplicated by the network
// while the first copy is still running is dropped, but one duplicated after the first
// copy finished runs again, so handlers with side effects must be idempotent or dedupe.
//
// Bad input never crashes: a frame that does not parse, names another node, or carries
// no body is counted (stats().malformed_frames) and dropped.
//
// Lifetime: the Env and the Transport must outlive the endpoint and every fiber it
// started. Under SimEnv, destroying the SimEnv unwinds handler fibers still blocked; under
// a threaded Env call Shutdown() from a fiber, which waits for running handlers.
//
// Thread safety: every method may be called from any fiber or thread of the Env.

#ifndef RUTILE_TRANSPORT_RPC_H_
#define RUTILE_TRANSPORT_RPC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/transport.h"
#include "util/sync.h"

namespace rutile::transport {

// What a handler knows about the request it serves.
class RpcContext {
 public:
  RpcContext(NodeId from, std::string method, uint64_t call_id, uint64_t deadline_micros)
      : from_(from),
        method_(std::move(method)),
        call_id_(call_id),
        deadline_micros_(deadline_micros) {}

  NodeId from() const { return from_; }
  const std::string& method() const { return method_; }
  uint64_t call_id() const { return call_id_; }

  // The caller's absolute deadline in the caller's Env microseconds. Informational: the
  // server's clock need not agree with the caller's.
  uint64_t deadline_micros() const { return deadline_micros_; }

  // True once the caller cancelled the call (or it timed out on the caller's side and the
  // cancel arrived) or the endpoint stopped. The response of a cancelled call is dropped.
  bool IsCancelled() const { return cancelled_.HasBeenNotified(); }

  // Notified on cancellation; a handler that waits may wait on it with a timeout.
  const Notification& cancelled() const { return cancelled_; }

  void Cancel() { cancelled_.Notify(); }

 private:
  NodeId from_;
  std::string method_;
  uint64_t call_id_;
  uint64_t deadline_micros_;
  Notification cancelled_;
};

// Serves one method. Runs on its own fiber; may block. The returned status travels back
// to the caller with its code and message; a payload is sent only with an OK status.
using RpcHandler =
    std::function<absl::StatusOr<std::string>(const RpcContext& ctx, std::string_view request)>;

// Receives a `raft` or `opaque` Envelope body. Called on the transport's delivery context:
// must not block for long (hand the body to a fiber or a Channel).
using BodyHandler = std::function<void(NodeId from, uint64_t region_id, std::string body)>;

// Counters of an endpoint, for tests and metrics.
struct RpcStats {
  uint64_t frames_received = 0;
  // Frames that failed to parse, were addressed to another node, or had no body.
  uint64_t malformed_frames = 0;
  uint64_t calls_started = 0;
  uint64_t calls_succeeded = 0;  // An answer arrived (any status from the handler).
  uint64_t calls_deadline_exceeded = 0;
  uint64_t calls_cancelled = 0;
  // Responses for no pending call (late, duplicated, or after a cancel), or from a node
  // other than the one called.
  uint64_t stale_responses = 0;
  uint64_t requests_served = 0;
  uint64_t unknown_method = 0;
  // Requests dropped because the same call was still being served.
  uint64_t duplicate_requests = 0;
  uint64_t cancels_received = 0;
  // Responses not sent because the call was cancelled first.
  uint64_t responses_suppressed = 0;
  // `raft`/`opaque` bodies with no handler registered.
  uint64_t unhandled_bodies = 0;
};

struct RpcEndpointOptions {
  // Register with the transport in the constructor. When false, the owner feeds frames
  // by calling OnFrame itself (a node-level dispatcher).
  bool register_with_transport = true;
};

// A call in flight: its id (for Cancel) and the future of its result.
struct RpcCall {
  uint64_t id = 0;
  Future<absl::StatusOr<std::string>> result;
};

class RpcEndpoint : public FrameReceiver {
 public:
  // Creates the endpoint of node `self`. `env` and `transport` must outlive it. If the
  // options ask for it and registration fails (e.g. `self` already registered), the
  // endpoint is left stopped and status() says why.
  RpcEndpoint(Env* env, Transport* transport, NodeId self,
              const RpcEndpointOptions& options = RpcEndpointOptions());

  // Stops the endpoint (see Stop) without waiting for handler fibers.
  ~RpcEndpoint() override;

  RpcEndpoint(const RpcEndpoint&) = delete;
  RpcEndpoint& operator=(const RpcEndpoint&) = delete;

  // OK unless construction failed to register with the transport.
  absl::Status status() const;

  NodeId self() const;

  // Registers `handler` for `method`. AlreadyExists if a handler is registered for it.
  absl::Status RegisterMethod(std::string method, RpcHandler handler);

  // Replaces the handler of `raft` / `opaque` bodies (null: count and drop them).
  void SetRaftHandler(BodyHandler handler);
  void SetOpaqueHandler(BodyHandler handler);

  // Starts a call of `method` on node `to` with `request`. The result resolves with the
  // handler's StatusOr, DeadlineExceeded after `timeout_micros` of Env time without an
  // answer, Cancelled on Cancel(id) or Stop, or Unavailable at once if the endpoint is
  // stopped.
  RpcCall StartCall(NodeId to, std::string method, std::string request, uint64_t timeout_micros);

  // StartCall without the id.
  Future<absl::StatusOr<std::string>> Call(NodeId to, std::string method, std::string request,
                                           uint64_t timeout_micros) {
    return StartCall(to, std::move(method), std::move(request), timeout_micros).result;
  }

  // Calls and waits for the result. Must run on a fiber of the Env.
  absl::StatusOr<std::string> CallAndWait(NodeId to, std::string method, std::string request,
                                          uint64_t timeout_micros);

  // Cancels call `id`: its future resolves Cancelled and the server is told with an
  // RpcCancel. Returns false if the call had already resolved.
  bool Cancel(uint64_t id);

  // Sends a `raft` or `opaque` body to `to`, best effort.
  void SendRaft(NodeId to, uint64_t region_id, std::string body);
  void SendOpaque(NodeId to, std::string body);

  // Unregisters from the transport (if registered), resolves every pending call
  // Cancelled, and cancels every request being served. Idempotent. Does not wait.
  void Stop();

  // True once Stop ran (or registration failed).
  bool IsStopped() const;

  // Stop, then wait until every handler fiber has returned. Must run on a fiber of the Env.
  void Shutdown();

  // FrameReceiver: decodes and dispatches one frame. Never blocks: handlers run on fibers.
  void OnFrame(NodeId from, std::string frame) override;

  RpcStats stats() const;

  // Shared with fibers and timers, which may outlive the endpoint object.
  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

// Typed convenience over protobuf messages (any type with SerializeAsString and
// ParseFromString). A request that does not parse answers InvalidArgument; a response
// that does not parse resolves the call with DataLoss.
template <typename Req, typename Resp>
absl::Status RegisterTypedMethod(
    RpcEndpoint& endpoint, std::string method,
    std::function<absl::StatusOr<Resp>(const RpcContext& ctx, const Req& request)> fn) {
  return endpoint.RegisterMethod(
      std::move(method),
      [fn = std::move(fn)](const RpcContext& ctx,
                           std::string_view bytes) -> absl::StatusOr<std::string> {
        Req request;
        if (!request.ParseFromString(std::string(bytes))) {
          return absl::InvalidArgumentError("request does not parse");
        }
        absl::StatusOr<Resp> response = fn(ctx, request);
        if (!response.ok()) return response.status();
        return response->SerializeAsString();
      });
}

// Calls a typed method and waits for the answer. Must run on a fiber of the Env.
template <typename Resp, typename Req>
absl::StatusOr<Resp> CallTyped(RpcEndpoint& endpoint, NodeId to, std::string method,
                               const Req& request, uint64_t timeout_micros) {
  absl::StatusOr<std::string> bytes =
      endpoint.CallAndWait(to, std::move(method), request.SerializeAsString(), timeout_micros);
  if (!bytes.ok()) return bytes.status();
  Resp response;
  if (!response.ParseFromString(*bytes)) return absl::DataLossError("response does not parse");
  return response;
}

}  // namespace rutile::transport

#endif  // RUTILE_TRANSPORT_RPC_H_
