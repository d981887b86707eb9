#include "transport/rpc.h"

#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "transport.pb.h"

namespace rutile::transport {
namespace {

using CallResult = absl::StatusOr<std::string>;

// The largest absl::StatusCode value; a response code outside [0, kMaxCode] is malformed.
constexpr int kMaxCode = static_cast<int>(absl::StatusCode::kUnauthenticated);

std::string ToStd(absl::string_view s) { return std::string(s.data(), s.size()); }

}  // namespace

struct RpcEndpoint::Core : std::enable_shared_from_this<Core> {
  Core(Env* e, Transport* t, NodeId s) : env(e), transport(t), self(s) {}

  struct Pending {
    NodeId to;
    Promise<CallResult> promise;
    TimerId timer = 0;
  };

  Env* const env;
  Transport* const transport;
  const NodeId self;
  absl::Status status;
  // Counts handler fibers still running, for Shutdown.
  WaitGroup handlers_running;

  mutable absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  bool registered ABSL_GUARDED_BY(mu) = false;
  uint64_t next_call_id ABSL_GUARDED_BY(mu) = 1;
  // Ordered maps so that Stop resolves calls in a deterministic order under SimEnv.
  std::map<uint64_t, Pending> pending ABSL_GUARDED_BY(mu);
  std::map<std::pair<NodeId, uint64_t>, std::shared_ptr<RpcContext>> serving ABSL_GUARDED_BY(mu);
  std::map<std::string, std::shared_ptr<const RpcHandler>, std::less<>> handlers
      ABSL_GUARDED_BY(mu);
  BodyHandler raft_handler ABSL_GUARDED_BY(mu);
  BodyHandler opaque_handler ABSL_GUARDED_BY(mu);
  RpcStats stats ABSL_GUARDED_BY(mu);

  bool IsStopped() const {
    absl::MutexLock lock(&mu);
    return stopped;
  }

  void SendEnvelope(NodeId to, Envelope& envelope) {
    envelope.set_from(self);
    envelope.set_to(to);
    transport->Send(self, to, envelope.SerializeAsString());
  }

  void SendCancel(NodeId to, uint64_t call_id) {
    Envelope envelope;
    envelope.mutable_cancel()->set_call_id(call_id);
    SendEnvelope(to, envelope);
  }

  void SendResponse(NodeId to, uint64_t call_id, const CallResult& result) {
    Envelope envelope;
    RpcResponse* response = envelope.mutable_response();
    response->set_call_id(call_id);
    if (result.ok()) {
      response->set_payload(*result);
    } else {
      response->set_code(static_cast<int32_t>(result.status().code()));
      response->set_message(ToStd(result.status().message()));
    }
    SendEnvelope(to, envelope);
  }

  // Removes call `id` from the pending table and returns it, or nullopt if it resolved.
  std::optional<Pending> TakePending(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = pending.find(id);
    if (it == pending.end()) return std::nullopt;
    Pending p = std::move(it->second);
    pending.erase(it);
    return p;
  }

  void OnDeadline(uint64_t id) {
    std::optional<Pending> p;
    bool tell_server;
    {
      absl::MutexLock lock(&mu);
      p = TakePending(id);
      if (!p) return;
      ++stats.calls_deadline_exceeded;
      tell_server = !stopped;
    }
    // The server may still be working on it; let it stop. Sent before the promise is set:
    // once the caller wakes, it may stop the endpoint and free the transport.
    if (tell_server) SendCancel(p->to, id);
    p->promise.Set(absl::DeadlineExceededError(
        absl::StrCat("RPC call ", id, " to node ", p->to, " timed out")));
  }

  void OnRequest(NodeId from, RpcRequest& request) {
    std::shared_ptr<const RpcHandler> handler;
    std::shared_ptr<RpcContext> ctx;
    {
      absl::MutexLock lock(&mu);
      if (stopped) return;
      auto it = handlers.find(request.method());
      if (it == handlers.end()) {
        ++stats.unknown_method;
      } else {
        auto key = std::make_pair(from, request.call_id());
        if (serving.count(key) > 0) {
          ++stats.duplicate_requests;
          return;
        }
        handler = it->second;
        ctx = std::make_shared<RpcContext>(from, request.method(), request.call_id(),
                                           request.deadline_micros());
        serving.emplace(key, ctx);
      }
    }
    if (handler == nullptr) {
      SendResponse(
          from, request.call_id(),
          absl::UnimplementedError(absl::StrCat("unknown RPC method \"", request.method(), "\"")));
      return;
    }
    handlers_running.Add(1);
    env->Spawn([core = shared_from_this(), handler = std::move(handler), ctx = std::move(ctx),
                payload = std::move(*request.mutable_payload())] {
      // Done runs on every exit, including the unwinding of a SimEnv being destroyed.
      struct DoneGuard {
        WaitGroup wg;
        ~DoneGuard() { wg.Done(); }
      } guard{core->handlers_running};
      CallResult result = (*handler)(*ctx, payload);
      core->FinishRequest(*ctx, result);
    });
  }

  void FinishRequest(const RpcContext& ctx, const CallResult& result) {
    {
      absl::MutexLock lock(&mu);
      auto it = serving.find({ctx.from(), ctx.call_id()});
      if (it != serving.end() && it->second.get() == &ctx) serving.erase(it);
      if (stopped || ctx.IsCancelled()) {
        ++stats.responses_suppressed;
        return;
      }
      ++stats.requests_served;
    }
    SendResponse(ctx.from(), ctx.call_id(), result);
  }

  void OnResponse(NodeId from, const RpcResponse& response) {
    if (response.code() < 0 || response.code() > kMaxCode) {
      absl::MutexLock lock(&mu);
      ++stats.malformed_frames;
      return;
    }
    std::optional<Pending> p;
    {
      absl::MutexLock lock(&mu);
      auto it = pending.find(response.call_id());
      if (it == pending.end() || it->second.to != from) {
        ++stats.stale_responses;
        return;
      }
      p = TakePending(response.call_id());
      ++stats.calls_succeeded;
    }
    if (p->timer != 0) env->Cancel(p->timer);
    if (response.code() == 0) {
      p->promise.Set(response.payload());
    } else {
      p->promise.Set(
          absl::Status(static_cast<absl::StatusCode>(response.code()), response.message()));
    }
  }

  void OnCancel(NodeId from, const RpcCancel& cancel) {
    std::shared_ptr<RpcContext> ctx;
    {
      absl::MutexLock lock(&mu);
      ++stats.cancels_received;
      auto it = serving.find({from, cancel.call_id()});
      if (it == serving.end()) return;
      ctx = it->second;
    }
    ctx->Cancel();
  }

  void OnBody(NodeId from, uint64_t region_id, std::string body, bool raft) {
    BodyHandler handler;
    {
      absl::MutexLock lock(&mu);
      if (stopped) return;
      handler = raft ? raft_handler : opaque_handler;
      if (!handler) {
        ++stats.unhandled_bodies;
        return;
      }
    }
    handler(from, region_id, std::move(body));
  }
};

RpcEndpoint::RpcEndpoint(Env* env, Transport* transport, NodeId self,
                         const RpcEndpointOptions& options)
    : core_(std::make_shared<Core>(env, transport, self)) {
  {
    absl::MutexLock lock(&core_->mu);
    // Call ids start at a random point so that a restarted node (a new endpoint with the
    // same id) does not reuse the ids its previous incarnation had in flight.
    core_->next_call_id = (env->Random64() >> 16) + 1;
  }
  if (options.register_with_transport) {
    core_->status = transport->Register(self, this);
    absl::MutexLock lock(&core_->mu);
    if (core_->status.ok()) {
      core_->registered = true;
    } else {
      core_->stopped = true;
    }
  }
}

RpcEndpoint::~RpcEndpoint() { Stop(); }

absl::Status RpcEndpoint::status() const { return core_->status; }

NodeId RpcEndpoint::self() const { return core_->self; }

absl::Status RpcEndpoint::RegisterMethod(std::string method, RpcHandler handler) {
  absl::MutexLock lock(&core_->mu);
  auto [it, inserted] = core_->handlers.try_emplace(std::move(method), nullptr);
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat("method ", it->first));
  it->second = std::make_shared<const RpcHandler>(std::move(handler));
  return absl::OkStatus();
}

void RpcEndpoint::SetRaftHandler(BodyHandler handler) {
  absl::MutexLock lock(&core_->mu);
  core_->raft_handler = std::move(handler);
}

void RpcEndpoint::SetOpaqueHandler(BodyHandler handler) {
  absl::MutexLock lock(&core_->mu);
  core_->opaque_handler = std::move(handler);
}

RpcCall RpcEndpoint::StartCall(NodeId to, std::string method, std::string request,
                               uint64_t timeout_micros) {
  Core* core = core_.get();
  RpcCall call;
  Promise<CallResult> promise;
  call.result = promise.GetFuture();
  {
    absl::MutexLock lock(&core->mu);
    if (core->stopped) {
      promise.Set(absl::UnavailableError("RPC endpoint stopped"));
      return call;
    }
    call.id = core->next_call_id++;
    ++core->stats.calls_started;
    core->pending.emplace(call.id, Core::Pending{to, promise});
  }
  // The timer is set after the call is pending so an early firing finds it.
  TimerId timer = core->env->ScheduleCallback(timeout_micros,
                                              [weak = std::weak_ptr<Core>(core_), id = call.id] {
                                                if (auto c = weak.lock()) c->OnDeadline(id);
                                              });
  {
    absl::MutexLock lock(&core->mu);
    auto it = core->pending.find(call.id);
    if (it != core->pending.end()) {
      it->second.timer = timer;
      timer = 0;
    }
  }
  if (timer != 0) core->env->Cancel(timer);

  Envelope envelope;
  RpcRequest* req = envelope.mutable_request();
  req->set_call_id(call.id);
  req->set_method(std::move(method));
  req->set_payload(std::move(request));
  req->set_deadline_micros(core->env->NowMicros() + timeout_micros);
  core->SendEnvelope(to, envelope);
  return call;
}

absl::StatusOr<std::string> RpcEndpoint::CallAndWait(NodeId to, std::string method,
                                                     std::string request, uint64_t timeout_micros) {
  Future<CallResult> f = Call(to, std::move(method), std::move(request), timeout_micros);
  return f.Get();
}

bool RpcEndpoint::Cancel(uint64_t id) {
  Core* core = core_.get();
  std::optional<Core::Pending> p;
  bool tell_server;
  {
    absl::MutexLock lock(&core->mu);
    p = core->TakePending(id);
    if (!p) return false;
    ++core->stats.calls_cancelled;
    tell_server = !core->stopped;
  }
  if (p->timer != 0) core->env->Cancel(p->timer);
  p->promise.Set(absl::CancelledError(absl::StrCat("RPC call ", id, " cancelled")));
  if (tell_server) core->SendCancel(p->to, id);
  return true;
}

void RpcEndpoint::SendRaft(NodeId to, uint64_t region_id, std::string body) {
  if (core_->IsStopped()) return;
  Envelope envelope;
  envelope.set_region_id(region_id);
  envelope.set_raft(std::move(body));
  core_->SendEnvelope(to, envelope);
}

void RpcEndpoint::SendOpaque(NodeId to, std::string body) {
  if (core_->IsStopped()) return;
  Envelope envelope;
  envelope.set_opaque(std::move(body));
  core_->SendEnvelope(to, envelope);
}

void RpcEndpoint::Stop() {
  Core* core = core_.get();
  std::map<uint64_t, Core::Pending> pending;
  std::vector<std::shared_ptr<RpcContext>> serving;
  bool unregister;
  {
    absl::MutexLock lock(&core->mu);
    unregister = core->registered;
    core->registered = false;
    core->stopped = true;
    pending.swap(core->pending);
    core->stats.calls_cancelled += pending.size();
    for (auto& [key, ctx] : core->serving) serving.push_back(ctx);
  }
  // After Unregister returns the transport no longer calls OnFrame.
  if (unregister) core->transport->Unregister(core->self);
  for (auto& [id, p] : pending) {
    if (p.timer != 0) core->env->Cancel(p.timer);
    p.promise.Set(absl::CancelledError("RPC endpoint stopped"));
  }
  for (auto& ctx : serving) ctx->Cancel();
}

bool RpcEndpoint::IsStopped() const { return core_->IsStopped(); }

void RpcEndpoint::Shutdown() {
  Stop();
  core_->handlers_running.Wait();
}

void RpcEndpoint::OnFrame(NodeId from, std::string frame) {
  Core* core = core_.get();
  Envelope envelope;
  bool ok = envelope.ParseFromString(frame) && envelope.to() == core->self &&
            (envelope.from() == 0 || envelope.from() == from) &&
            envelope.body_case() != Envelope::BODY_NOT_SET;
  {
    absl::MutexLock lock(&core->mu);
    ++core->stats.frames_received;
    if (!ok) {
      ++core->stats.malformed_frames;
      return;
    }
    if (core->stopped) return;
  }
  switch (envelope.body_case()) {
    case Envelope::kRequest:
      core->OnRequest(from, *envelope.mutable_request());
      break;
    case Envelope::kResponse:
      core->OnResponse(from, envelope.response());
      break;
    case Envelope::kCancel:
      core->OnCancel(from, envelope.cancel());
      break;
    case Envelope::kRaft:
      core->OnBody(from, envelope.region_id(), std::move(*envelope.mutable_raft()), true);
      break;
    case Envelope::kOpaque:
      core->OnBody(from, envelope.region_id(), std::move(*envelope.mutable_opaque()), false);
      break;
    case Envelope::BODY_NOT_SET:
      break;
  }
}

RpcStats RpcEndpoint::stats() const {
  absl::MutexLock lock(&core_->mu);
  return core_->stats;
}

}  // namespace rutile::transport
