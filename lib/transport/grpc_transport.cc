// GrpcTransport over gRPC's callback API. No thread of our own: gRPC's threads run the
// reactors, Send runs on the caller's thread, reconnection timers run on the Env.
//
// Objects and ownership:
// - Core: everything one transport owns, held by shared_ptr so that a reconnection timer
//   firing during shutdown (it holds a weak_ptr) finds either nothing or a Core that knows
//   it is shutting down.
// - Peer: the outgoing state of one ordered pair (from, to): the bounded queue, the
//   current stream and the backoff. Owned by Core's map and by its streams.
// - ClientStream: one attempt at FrameService.Stream for a Peer. Deletes itself in OnDone.
//   It carries one gRPC "hold" from before StartCall until we decide it is finished,
//   because Send starts writes from outside gRPC's reactions; the hold is what keeps the
//   reactor alive while another thread may still call StartWrite on it.
// - ServerStream: one incoming stream; hands each batch's frames to the receiver of the
//   batch's destination node. Deletes itself in OnDone.
//
// Locks: Core::mu_ (peers, channels, live streams) may be held while taking Peer::mu, never
// the reverse; Core::reg_mu_ (registrations) is a leaf. No lock is held while calling into
// gRPC (StartWrite, TryCancel, RemoveHold can run reactions inline on this thread) or while
// calling a receiver.

#include "transport/grpc_transport.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "transport/grpc_batch_codec.h"
#include "util/logging.h"
#include "util/metrics.h"
#include "util/sync.h"

namespace rutile::transport {
namespace {

// Process-wide metrics (all GrpcTransports together); Stats() gives per-transport counts.
struct GlobalMetrics {
  metrics::Counter* sent;
  metrics::Counter* received;
  metrics::Counter* stream_failures;
  // Children of rutile_transport_grpc_dropped_frames_total{reason}, looked up once.
  std::map<std::string, metrics::Counter*, std::less<>> dropped;

  static const GlobalMetrics& Get() {
    static const GlobalMetrics m = [] {
      auto& r = metrics::Registry::Default();
      GlobalMetrics g;
      g.sent =
          r.AddCounter("rutile_transport_grpc_frames_sent_total", "Frames written to gRPC streams.")
              .value();
      g.received = r.AddCounter("rutile_transport_grpc_frames_received_total",
                                "Frames received over gRPC and handed to a receiver.")
                       .value();
      g.stream_failures = r.AddCounter("rutile_transport_grpc_stream_failures_total",
                                       "Outgoing gRPC frame streams that ended in an error.")
                              .value();
      auto* family = r.AddCounterFamily("rutile_transport_grpc_dropped_frames_total",
                                        "Frames the gRPC transport dropped, by reason "
                                        "(malformed_batch counts batches).",
                                        {"reason"})
                         .value();
      for (const char* reason : {"oversize", "unknown_peer", "queue_full", "write_failed",
                                 "unregistered", "malformed_batch"}) {
        g.dropped[reason] = family->WithLabels({reason});
      }
      return g;
    }();
    return m;
  }
};

// Per-transport counters behind GrpcTransportStats, each with its global twin.
struct Counters {
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> batches_sent{0};
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> dropped_oversize{0};
  std::atomic<uint64_t> dropped_unknown_peer{0};
  std::atomic<uint64_t> dropped_queue_full{0};
  std::atomic<uint64_t> dropped_write_failed{0};
  std::atomic<uint64_t> dropped_unregistered{0};
  std::atomic<uint64_t> dropped_malformed{0};
  std::atomic<uint64_t> streams_started{0};
  std::atomic<uint64_t> stream_failures{0};
};

// Adds `n` to a per-transport counter and to the global dropped-frames family; returns the
// new per-transport value.
uint64_t CountDrop(std::atomic<uint64_t>* counter, std::string_view reason, uint64_t n = 1) {
  GlobalMetrics::Get().dropped.find(reason)->second->Increment(n);
  return counter->fetch_add(n, std::memory_order_relaxed) + n;
}

// True for 1, 2, 4, 8, ...: log the first occurrence of a repeated problem and then ever
// more rarely, so a flood of bad frames cannot flood the log.
bool ShouldLog(uint64_t count) { return (count & (count - 1)) == 0; }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Clients write FrameBatch through grpc_batch_codec.h on a generic stub; the server
// reads it with a generic service. Nothing uses the generated message classes on the
// data path.
using FrameStub = grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer>;
constexpr char kStreamMethod[] = "/rutile.transport.FrameService/Stream";

class Core;
struct Peer;

class ClientStream : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  ClientStream(Core* core, std::shared_ptr<Peer> peer) : core_(core), peer_(std::move(peer)) {}

  // Starts the RPC on `stub`; see Core::StartStream.
  void Begin(FrameStub* stub);

  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  friend class Core;

  // Whether the hold can be released now: the stream is finished for us, no write is
  // outstanding or about to start, and nobody is using the reactor from outside. Marks the
  // hold released when it returns true; the caller then calls RemoveHold() after
  // unlocking. Requires peer_->mu.
  bool TakeHoldRelease();

  // Encodes the frames in `pending_` and starts writing them. Called by whoever set
  // `writing_`, without the lock.
  void WritePending();

  Core* const core_;
  const std::shared_ptr<Peer> peer_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer ack_;  // The server sends none; the read detects the stream's end.
  // The frames of the next write, then the encoded batch being written, and how many
  // frames it holds. Only touched by whoever set `writing_`.
  std::vector<std::string> pending_;
  grpc::ByteBuffer batch_;
  size_t batch_frames_ = 0;

  // Guarded by peer_->mu.
  bool writing_ = false;        // A write is outstanding or about to be started.
  bool broken_ = false;         // A read or write failed; no new writes.
  bool accepted_ = false;       // The server sent its initial metadata; writes may start.
  bool hold_released_ = false;  // RemoveHold was (or is about to be) called.
  int pins_ = 0;                // Callers using the reactor outside reactions.
};

struct Peer {
  Peer(NodeId from, NodeId to, uint64_t initial_backoff)
      : from(from), to(to), backoff_micros(initial_backoff) {}

  const NodeId from;
  const NodeId to;

  absl::Mutex mu;
  std::deque<std::string> queue ABSL_GUARDED_BY(mu);
  size_t queue_bytes ABSL_GUARDED_BY(mu) = 0;
  // The stream new frames go to, or null.
  ClientStream* stream ABSL_GUARDED_BY(mu) = nullptr;
  // Set while a stream is being started, a failed stream is winding down, or a reconnect
  // timer is pending: whoever set it owns starting the next stream, so Send must not.
  bool reconnect_pending ABSL_GUARDED_BY(mu) = false;
  TimerId timer ABSL_GUARDED_BY(mu) = 0;
  uint64_t backoff_micros ABSL_GUARDED_BY(mu);
};

// A node registered on this transport.
struct Registration {
  explicit Registration(FrameReceiver* r) : receiver(r) {}
  FrameReceiver* const receiver;
  // Set once by Unregister; checked between frames so delivery stops promptly.
  std::atomic<bool> removed{false};
  // Guarded by Core::reg_mu_.
  int active = 0;       // Deliveries in progress.
  int wait_target = 0;  // Unregister waits until active drops to this.
  std::optional<Notification> drained;
};

// The registration whose receiver the current thread is calling, so that an Unregister
// from inside OnFrame does not wait for itself.
thread_local Registration* tls_delivering = nullptr;

class Service final : public grpc::CallbackGenericService {
 public:
  explicit Service(Core* core) : core_(core) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  Core* const core_;
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  explicit Core(GrpcTransportOptions options) : opts_(std::move(options)), service_(this) {}

  absl::Status Start();
  void Shutdown();

  absl::Status Register(NodeId self, FrameReceiver* receiver);
  void Unregister(NodeId self);
  void Send(NodeId from, NodeId to, std::string frame);

  int port() const { return port_; }
  std::string address() const { return address_; }
  GrpcTransportStats Stats() const;

  // Called by the reactors.
  // Hands the frames of an encoded batch to their receiver. Returns an error for a
  // malformed batch (counted).
  absl::Status Deliver(const grpc::ByteBuffer& batch);
  void ServerStreamStarted();
  void ServerStreamDone();
  // A client stream ended: updates its peer and forgets the stream. The stream deletes
  // itself next and then calls ClientStreamGone.
  void ClientStreamDone(ClientStream* stream, const grpc::Status& status);
  void ClientStreamGone();
  Counters& counters() { return counters_; }
  const GrpcTransportOptions& options() const { return opts_; }
  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }

  // Moves queued frames of `peer` into `out`, up to max_batch_bytes (at least one).
  void TakeBatch(Peer* peer, std::vector<std::string>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(peer->mu);

 private:
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials() const;
  grpc::ChannelArguments ChannelArgs() const;
  // The largest batch message either side accepts (gRPC takes an int).
  int MaxMessageBytes() const {
    const size_t bytes = opts_.max_batch_bytes + opts_.max_frame_bytes + (64 << 10);
    return static_cast<int>(std::min<size_t>(bytes, std::numeric_limits<int>::max()));
  }

  // Finds or creates the Peer for (from, to); null (and counted) if `to` is unknown.
  std::shared_ptr<Peer> GetPeer(NodeId from, NodeId to);

  // Opens a new stream for `peer`, whose reconnect_pending the caller set. On failure
  // (unknown address, shutdown) schedules a retry or gives up.
  void StartStream(const std::shared_ptr<Peer>& peer);

  // Arms the reconnection timer of `peer` with its current backoff, then doubles it.
  void ScheduleReconnect(const std::shared_ptr<Peer>& peer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(peer->mu);
  void OnReconnectTimer(const std::shared_ptr<Peer>& peer);

  // The stub for `address`, creating its channel on first use.
  FrameStub* StubFor(const std::string& address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const GrpcTransportOptions opts_;
  Env* env_ = nullptr;
  Counters counters_;
  Service service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::string tls_cert_, tls_key_, tls_ca_;

  std::atomic<bool> shutting_down_{false};

  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<NodeId, NodeId>, std::shared_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  struct ChannelEntry {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<FrameStub> stub;
  };
  absl::flat_hash_map<std::string, ChannelEntry> channels_ ABSL_GUARDED_BY(mu_);
  // Client streams not yet done (Shutdown cancels these), and the number not yet deleted.
  absl::flat_hash_set<ClientStream*> client_streams_ ABSL_GUARDED_BY(mu_);
  int live_client_streams_ ABSL_GUARDED_BY(mu_) = 0;
  int server_streams_ ABSL_GUARDED_BY(mu_) = 0;
  // Notified when shutting down and the last stream (client or server) is done.
  std::optional<Notification> streams_drained_ ABSL_GUARDED_BY(mu_);

  absl::Mutex reg_mu_;
  absl::flat_hash_map<NodeId, std::shared_ptr<Registration>> regs_ ABSL_GUARDED_BY(reg_mu_);
};

// ---------------------------------------------------------------------------------------
// Server side.

class ServerStream final : public grpc::ServerGenericBidiReactor {
 public:
  explicit ServerStream(Core* core) : core_(core) {
    // Tells the client the stream is accepted (it resets its backoff on this).
    StartSendInitialMetadata();
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client closed or cancelled the stream, or the server is shutting down.
      Finish(grpc::Status::OK);
      return;
    }
    absl::Status s = core_->Deliver(batch_);
    batch_.Clear();
    if (!s.ok()) {
      // A peer that sends garbage gets its stream closed, not a crash.
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message())));
      return;
    }
    StartRead(&batch_);
  }

  void OnDone() override {
    Core* core = core_;
    delete this;
    core->ServerStreamDone();
  }

 private:
  Core* const core_;
  grpc::ByteBuffer batch_;
};

// Answers any other method with UNIMPLEMENTED.
class UnimplementedStream final : public grpc::ServerGenericBidiReactor {
 public:
  UnimplementedStream() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")); }
  void OnDone() override { delete this; }
};

grpc::ServerGenericBidiReactor* Service::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  if (ctx->method() != kStreamMethod) return new UnimplementedStream();
  core_->ServerStreamStarted();
  return new ServerStream(core_);
}

// ---------------------------------------------------------------------------------------
// Client side.

void ClientStream::Begin(FrameStub* stub) {
  stub->PrepareBidiStreamingCall(&ctx_, kStreamMethod, grpc::StubOptions(), this);
  AddHold();  // After binding the reactor to the call, before StartCall.
  StartRead(&ack_);
  {
    absl::MutexLock l(&peer_->mu);
    peer_->stream = this;
    peer_->reconnect_pending = false;
  }
  // Nothing is written before the server accepts the stream (OnReadInitialMetadataDone),
  // so attempts against a peer that is down lose no frames: they wait in the queue.
  StartCall();
  bool release;
  {
    absl::MutexLock l(&peer_->mu);
    --pins_;  // Pinned by Core::StartStream until the call is started.
    release = TakeHoldRelease();
  }
  if (release) RemoveHold();
}

bool ClientStream::TakeHoldRelease() {
  if (hold_released_ || pins_ > 0 || writing_) return false;
  if (!broken_ && !core_->shutting_down()) return false;
  hold_released_ = true;
  return true;
}

void ClientStream::OnReadInitialMetadataDone(bool ok) {
  if (!ok) return;  // OnReadDone(false) follows and handles the failure.
  bool write = false;
  {
    absl::MutexLock l(&peer_->mu);
    accepted_ = true;
    peer_->backoff_micros = core_->options().initial_backoff_micros;
    if (!writing_ && !broken_ && !core_->shutting_down() && !peer_->queue.empty()) {
      writing_ = true;
      core_->TakeBatch(peer_.get(), &pending_);
      write = true;
    }
  }
  if (write) WritePending();
}

void ClientStream::WritePending() {
  batch_frames_ = pending_.size();
  EncodeFrameBatch(peer_->from, peer_->to, &pending_, &batch_);
  StartWrite(&batch_);
}

void ClientStream::OnReadDone(bool ok) {
  if (ok) {
    // The server sends no acks today; ignore any and keep the read pending.
    StartRead(&ack_);
    return;
  }
  // The stream ended: the peer went away, or we cancelled it.
  bool release;
  {
    absl::MutexLock l(&peer_->mu);
    broken_ = true;
    if (peer_->stream == this) {
      peer_->stream = nullptr;
      peer_->reconnect_pending = true;  // OnDone schedules the next attempt.
    }
    release = TakeHoldRelease();
  }
  if (release) RemoveHold();
}

// Performance-critical path: one call per batch.
void ClientStream::OnWriteDone(bool ok) {
  Counters& c = core_->counters();
  const uint64_t n = batch_frames_;
  if (ok) {
    c.frames_sent.fetch_add(n, std::memory_order_relaxed);
    c.batches_sent.fetch_add(1, std::memory_order_relaxed);
    GlobalMetrics::Get().sent->Increment(n);
  } else {
    CountDrop(&c.dropped_write_failed, "write_failed", n);
  }
  bool write = false;
  bool release;
  {
    absl::MutexLock l(&peer_->mu);
    writing_ = false;
    if (!ok) {
      broken_ = true;
      if (peer_->stream == this) {
        peer_->stream = nullptr;
        peer_->reconnect_pending = true;
      }
    }
    if (!broken_ && !core_->shutting_down() && !peer_->queue.empty()) {
      writing_ = true;
      core_->TakeBatch(peer_.get(), &pending_);
      write = true;
    }
    release = TakeHoldRelease();
  }
  if (write) WritePending();
  if (release) RemoveHold();
}

void ClientStream::OnDone(const grpc::Status& status) {
  Core* core = core_;
  core->ClientStreamDone(this, status);
  // Deleting the stream drops its ClientContext's reference to the channel. That must
  // happen before Shutdown can proceed to release the channel itself, so that the last
  // reference to a grpc::Channel is never dropped here, on a gRPC callback thread: the
  // channel's destructor may then stop the callback thread pool it runs on, which gRPC
  // 1.51 does not survive (the join fails with EDEADLK; grpc/grpc#32584).
  delete this;
  core->ClientStreamGone();
}

// ---------------------------------------------------------------------------------------
// Core.

absl::Status Core::Start() {
  env_ = opts_.env != nullptr ? opts_.env : Env::Default();
  if (env_->IsSimulated()) {
    return absl::InvalidArgumentError("GrpcTransport needs a real Env, not a SimEnv");
  }
  if (!opts_.resolver) return absl::InvalidArgumentError("GrpcTransport needs a resolver");
  if (opts_.max_frame_bytes == 0 || opts_.max_batch_bytes == 0 || opts_.max_queue_frames == 0 ||
      opts_.max_queue_bytes == 0) {
    return absl::InvalidArgumentError("GrpcTransport size limits must be positive");
  }
  if (opts_.initial_backoff_micros == 0 ||
      opts_.max_backoff_micros < opts_.initial_backoff_micros) {
    return absl::InvalidArgumentError("GrpcTransport backoff must satisfy 0 < initial <= max");
  }
  std::shared_ptr<grpc::ServerCredentials> server_creds;
  if (opts_.tls.enabled()) {
    const GrpcTlsOptions& t = opts_.tls;
    if (t.cert_file.empty() || t.key_file.empty() || t.ca_file.empty()) {
      return absl::InvalidArgumentError(
          "GrpcTransport TLS needs cert_file, key_file and ca_file together");
    }
    absl::StatusOr<std::string> cert = ReadFile(t.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(t.key_file);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> ca = ReadFile(t.ca_file);
    if (!ca.ok()) return ca.status();
    tls_cert_ = *std::move(cert);
    tls_key_ = *std::move(key);
    tls_ca_ = *std::move(ca);
    grpc::SslServerCredentialsOptions so(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    so.pem_root_certs = tls_ca_;
    so.pem_key_cert_pairs.push_back({tls_key_, tls_cert_});
    server_creds = grpc::SslServerCredentials(so);
  } else {
    server_creds = grpc::InsecureServerCredentials();
  }

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(opts_.listen_address, server_creds, &selected_port);
  builder.RegisterCallbackGenericService(&service_);
  builder.SetMaxReceiveMessageSize(MaxMessageBytes());
  // A second transport on a taken port must fail, not share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Accept the clients' keepalive pings.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(opts_.keepalive_time_micros / 2000));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || selected_port == 0) {
    server_.reset();
    return absl::UnavailableError("GrpcTransport cannot listen on " + opts_.listen_address);
  }
  port_ = selected_port;
  const std::string& la = opts_.listen_address;
  const size_t colon = la.rfind(':');
  address_ =
      (colon == std::string::npos ? la : la.substr(0, colon)) + ":" + std::to_string(selected_port);
  return absl::OkStatus();
}

void Core::Shutdown() {
  std::vector<ClientStream*> to_cancel;
  std::vector<std::shared_ptr<Peer>> peers;
  {
    absl::MutexLock l(&mu_);
    shutting_down_.store(true, std::memory_order_release);
    for (auto& [key, peer] : peers_) peers.push_back(peer);
    // Pin every stream that still holds its hold, so it stays alive while we cancel it.
    // Streams are erased from client_streams_ under mu_ before they are deleted.
    for (ClientStream* s : client_streams_) {
      absl::MutexLock pl(&s->peer_->mu);
      if (!s->hold_released_) {
        ++s->pins_;
        to_cancel.push_back(s);
      }
    }
  }
  for (auto& peer : peers) {
    absl::MutexLock l(&peer->mu);
    if (peer->timer != 0) {
      env_->Cancel(peer->timer);
      peer->timer = 0;
    }
  }
  for (ClientStream* s : to_cancel) {
    s->ctx_.TryCancel();
    bool release;
    {
      absl::MutexLock l(&s->peer_->mu);
      --s->pins_;
      release = s->TakeHoldRelease();
    }
    if (release) s->RemoveHold();
  }
  // Cancels every incoming stream at once (the deadline has passed).
  if (server_ != nullptr) server_->Shutdown(gpr_inf_past(GPR_CLOCK_MONOTONIC));

  std::optional<Notification> drained;
  {
    absl::MutexLock l(&mu_);
    if (live_client_streams_ > 0 || server_streams_ > 0) {
      streams_drained_.emplace();
      drained = streams_drained_;
    }
  }
  if (drained.has_value()) drained->Wait();
  if (server_ != nullptr) server_->Wait();
  server_.reset();
  absl::MutexLock l(&mu_);
  channels_.clear();
  for (auto& [key, peer] : peers_) {
    absl::MutexLock pl(&peer->mu);
    peer->queue.clear();
    peer->queue_bytes = 0;
  }
}

std::shared_ptr<grpc::ChannelCredentials> Core::ClientCredentials() const {
  if (!opts_.tls.enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions co;
  co.pem_root_certs = tls_ca_;
  co.pem_private_key = tls_key_;
  co.pem_cert_chain = tls_cert_;
  return grpc::SslCredentials(co);
}

grpc::ChannelArguments Core::ChannelArgs() const {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(MaxMessageBytes());
  args.SetMaxReceiveMessageSize(MaxMessageBytes());
  // Our own backoff decides when to retry a stream; keep the channel's reconnection
  // backoff in the same range so a restarted peer is found again quickly.
  const int initial_ms =
      static_cast<int>(std::max<uint64_t>(opts_.initial_backoff_micros / 1000, 1));
  const int max_ms = static_cast<int>(std::max<uint64_t>(opts_.max_backoff_micros / 1000, 1));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(opts_.keepalive_time_micros / 1000));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(opts_.keepalive_timeout_micros / 1000));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Channels of different transports in one process must not share connections: their
  // credentials differ, and a test restarting one must not disturb another.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!opts_.tls.target_name_override.empty()) {
    args.SetSslTargetNameOverride(opts_.tls.target_name_override);
  }
  return args;
}

FrameStub* Core::StubFor(const std::string& address) {
  auto it = channels_.find(address);
  if (it == channels_.end()) {
    ChannelEntry e;
    e.channel = grpc::CreateCustomChannel(address, ClientCredentials(), ChannelArgs());
    e.stub = std::make_unique<FrameStub>(e.channel);
    it = channels_.emplace(address, std::move(e)).first;
  }
  return it->second.stub.get();
}

absl::Status Core::Register(NodeId self, FrameReceiver* receiver) {
  if (self == 0) return absl::InvalidArgumentError("node id 0 is invalid");
  if (receiver == nullptr) return absl::InvalidArgumentError("receiver is null");
  if (shutting_down()) return absl::FailedPreconditionError("transport is shutting down");
  absl::MutexLock l(&reg_mu_);
  auto [it, inserted] = regs_.try_emplace(self, nullptr);
  if (!inserted) {
    return absl::AlreadyExistsError("node " + std::to_string(self) + " is registered already");
  }
  it->second = std::make_shared<Registration>(receiver);
  return absl::OkStatus();
}

void Core::Unregister(NodeId self) {
  std::optional<Notification> wait;
  {
    absl::MutexLock l(&reg_mu_);
    auto it = regs_.find(self);
    if (it == regs_.end()) return;
    std::shared_ptr<Registration> reg = std::move(it->second);
    regs_.erase(it);
    reg->removed.store(true, std::memory_order_release);
    // A receiver that unregisters its own node from inside OnFrame must not wait for the
    // delivery it is part of.
    reg->wait_target = tls_delivering == reg.get() ? 1 : 0;
    if (reg->active > reg->wait_target) {
      reg->drained.emplace();
      wait = reg->drained;
    }
  }
  if (wait.has_value()) wait->Wait();
}

// Delivers the frames of one batch to the registration of its destination.
class DeliverySink : public FrameBatchSink {
 public:
  DeliverySink(absl::Mutex* reg_mu,
               absl::flat_hash_map<NodeId, std::shared_ptr<Registration>>* regs)
      : reg_mu_(reg_mu), regs_(regs) {}

  ~DeliverySink() override {
    if (reg_ == nullptr) return;
    tls_delivering = prev_;
    std::optional<Notification> drained;
    {
      absl::MutexLock l(reg_mu_);
      if (--reg_->active <= reg_->wait_target) drained = reg_->drained;
    }
    if (drained.has_value()) drained->Notify();
  }

  bool OnHeader(NodeId from, NodeId to) override {
    from_ = from;
    {
      absl::MutexLock l(reg_mu_);
      auto it = regs_->find(to);
      if (it == regs_->end()) return false;
      reg_ = it->second;
      ++reg_->active;
    }
    prev_ = tls_delivering;
    tls_delivering = reg_.get();
    return !reg_->removed.load(std::memory_order_acquire);
  }

  bool OnFrame(std::string frame) override {
    reg_->receiver->OnFrame(from_, std::move(frame));
    // Stop at once when the node unregisters meanwhile.
    return !reg_->removed.load(std::memory_order_acquire);
  }

  NodeId from() const { return from_; }

 private:
  absl::Mutex* const reg_mu_;
  absl::flat_hash_map<NodeId, std::shared_ptr<Registration>>* const regs_;
  NodeId from_ = 0;
  std::shared_ptr<Registration> reg_;
  Registration* prev_ = nullptr;
};

// Performance-critical path: runs once per received batch on a gRPC thread.
absl::Status Core::Deliver(const grpc::ByteBuffer& batch) {
  FrameBatchDecodeStats stats;
  absl::Status status;
  NodeId from;
  {
    DeliverySink sink(&reg_mu_, &regs_);
    status = DecodeFrameBatch(batch, opts_.max_frame_bytes, &sink, &stats);
    from = sink.from();
  }
  if (stats.delivered > 0) {
    counters_.frames_received.fetch_add(stats.delivered, std::memory_order_relaxed);
    GlobalMetrics::Get().received->Increment(stats.delivered);
  }
  if (stats.skipped > 0) CountDrop(&counters_.dropped_unregistered, "unregistered", stats.skipped);
  if (stats.oversize > 0) {
    const uint64_t c = CountDrop(&counters_.dropped_oversize, "oversize", stats.oversize);
    if (ShouldLog(c)) {
      RUTILE_LOG_WARN(
          "GrpcTransport: dropped {} received frames from node {} over max_frame_bytes {} ({} "
          "such drops)",
          stats.oversize, from, opts_.max_frame_bytes, c);
    }
  }
  if (!status.ok()) {
    const uint64_t c = CountDrop(&counters_.dropped_malformed, "malformed_batch");
    if (ShouldLog(c)) {
      RUTILE_LOG_WARN("GrpcTransport: malformed batch from node {}: {} ({} such batches)", from,
                      status.ToString(), c);
    }
  }
  return status;
}

void Core::ServerStreamStarted() {
  absl::MutexLock l(&mu_);
  ++server_streams_;
}

void Core::ServerStreamDone() {
  std::optional<Notification> drained;
  {
    absl::MutexLock l(&mu_);
    --server_streams_;
    if (server_streams_ == 0 && live_client_streams_ == 0) drained = streams_drained_;
  }
  // Notified without mu_ held: the waiter may destroy this Core as soon as it wakes.
  if (drained.has_value()) drained->Notify();
}

std::shared_ptr<Peer> Core::GetPeer(NodeId from, NodeId to) {
  {
    absl::ReaderMutexLock l(&mu_);
    auto it = peers_.find(std::make_pair(from, to));
    if (it != peers_.end()) return it->second;
  }
  // Unknown destinations never get a Peer, so bogus ids cannot grow the map.
  absl::StatusOr<std::string> address = opts_.resolver(to);
  if (!address.ok()) {
    const uint64_t c = CountDrop(&counters_.dropped_unknown_peer, "unknown_peer");
    if (ShouldLog(c)) {
      RUTILE_LOG_WARN(
          "GrpcTransport: dropping frame from node {} to unknown node {}: {} ({} "
          "such drops)",
          from, to, address.status().ToString(), c);
    }
    return nullptr;
  }
  absl::MutexLock l(&mu_);
  auto [it, inserted] = peers_.try_emplace(std::make_pair(from, to), nullptr);
  if (inserted) {
    it->second = std::make_shared<Peer>(from, to, opts_.initial_backoff_micros);
  }
  return it->second;
}

void Core::TakeBatch(Peer* peer, std::vector<std::string>* out) {
  size_t bytes = 0;
  while (!peer->queue.empty()) {
    std::string& f = peer->queue.front();
    if (!out->empty() && bytes + f.size() > opts_.max_batch_bytes) break;
    bytes += f.size();
    out->push_back(std::move(f));
    peer->queue.pop_front();
  }
  peer->queue_bytes -= bytes;
}

// Performance-critical path.
void Core::Send(NodeId from, NodeId to, std::string frame) {
  if (frame.size() > opts_.max_frame_bytes) {
    const uint64_t c = CountDrop(&counters_.dropped_oversize, "oversize");
    if (ShouldLog(c)) {
      RUTILE_LOG_WARN(
          "GrpcTransport: dropping frame of {} bytes from node {} to node {}: over "
          "max_frame_bytes {} ({} such drops)",
          frame.size(), from, to, opts_.max_frame_bytes, c);
    }
    return;
  }
  if (shutting_down()) return;
  std::shared_ptr<Peer> peer = GetPeer(from, to);
  if (peer == nullptr) return;
  ClientStream* write_on = nullptr;
  bool start_stream = false;
  {
    absl::MutexLock l(&peer->mu);
    if (peer->queue.size() >= opts_.max_queue_frames ||
        peer->queue_bytes + frame.size() > opts_.max_queue_bytes) {
      const uint64_t c = CountDrop(&counters_.dropped_queue_full, "queue_full");
      if (ShouldLog(c)) {
        RUTILE_LOG_WARN(
            "GrpcTransport: queue from node {} to node {} is full ({} frames, {} "
            "bytes); dropping ({} such drops)",
            from, to, peer->queue.size(), peer->queue_bytes, c);
      }
      return;
    }
    peer->queue_bytes += frame.size();
    peer->queue.push_back(std::move(frame));
    ClientStream* s = peer->stream;
    if (s != nullptr) {
      if (s->accepted_ && !s->writing_ && !s->broken_) {
        s->writing_ = true;
        TakeBatch(peer.get(), &s->pending_);
        write_on = s;
      }
    } else if (!peer->reconnect_pending) {
      peer->reconnect_pending = true;
      start_stream = true;
    }
  }
  // `write_on` stays alive: it cannot release its hold while `writing_` is set.
  if (write_on != nullptr) write_on->WritePending();
  if (start_stream) StartStream(peer);
}

void Core::StartStream(const std::shared_ptr<Peer>& peer) {
  absl::StatusOr<std::string> address = opts_.resolver(peer->to);
  ClientStream* s = nullptr;
  FrameStub* stub = nullptr;
  if (address.ok()) {
    absl::MutexLock l(&mu_);
    if (shutting_down()) return;
    stub = StubFor(*address);
    s = new ClientStream(this, peer);
    s->pins_ = 1;  // Until Begin has started the call.
    client_streams_.insert(s);
    ++live_client_streams_;
  }
  if (s == nullptr) {
    RUTILE_LOG_WARN("GrpcTransport: cannot resolve node {}: {}", peer->to,
                    address.status().ToString());
    counters_.stream_failures.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock l(&peer->mu);
    ScheduleReconnect(peer);
    return;
  }
  counters_.streams_started.fetch_add(1, std::memory_order_relaxed);
  s->Begin(stub);
}

void Core::ScheduleReconnect(const std::shared_ptr<Peer>& peer) {
  if (shutting_down()) return;
  const uint64_t base = peer->backoff_micros;
  const uint64_t delay = base + env_->Uniform(base / 5 + 1);
  peer->backoff_micros = std::min(base * 2, opts_.max_backoff_micros);
  peer->reconnect_pending = true;
  std::weak_ptr<Core> weak_core = weak_from_this();
  std::weak_ptr<Peer> weak_peer = peer;
  peer->timer = env_->ScheduleCallback(delay, [weak_core, weak_peer] {
    std::shared_ptr<Core> core = weak_core.lock();
    std::shared_ptr<Peer> p = weak_peer.lock();
    if (core != nullptr && p != nullptr) core->OnReconnectTimer(p);
  });
}

void Core::OnReconnectTimer(const std::shared_ptr<Peer>& peer) {
  {
    absl::MutexLock l(&peer->mu);
    peer->timer = 0;
    if (shutting_down()) return;
    if (peer->queue.empty()) {
      // Nothing to send: stay idle until the next Send starts a stream.
      peer->reconnect_pending = false;
      return;
    }
  }
  StartStream(peer);
}

void Core::ClientStreamDone(ClientStream* stream, const grpc::Status& status) {
  const std::shared_ptr<Peer>& peer = stream->peer_;
  const bool failed = !status.ok() && !shutting_down();
  if (failed) {
    counters_.stream_failures.fetch_add(1, std::memory_order_relaxed);
    GlobalMetrics::Get().stream_failures->Increment();
    RUTILE_LOG_DEBUG("GrpcTransport: stream {}->{} ended: {} {}", peer->from, peer->to,
                     static_cast<int>(status.error_code()), status.error_message());
  }
  {
    absl::MutexLock l(&peer->mu);
    if (peer->stream == stream) {
      peer->stream = nullptr;
      peer->reconnect_pending = true;
    }
    if (peer->reconnect_pending && peer->stream == nullptr && peer->timer == 0) {
      ScheduleReconnect(peer);
      if (shutting_down()) peer->reconnect_pending = false;
    }
  }
  absl::MutexLock l(&mu_);
  client_streams_.erase(stream);
}

void Core::ClientStreamGone() {
  std::optional<Notification> drained;
  {
    absl::MutexLock l(&mu_);
    --live_client_streams_;
    if (live_client_streams_ == 0 && server_streams_ == 0) drained = streams_drained_;
  }
  // Notified without mu_ held: the waiter may destroy this Core as soon as it wakes.
  if (drained.has_value()) drained->Notify();
}

GrpcTransportStats Core::Stats() const {
  GrpcTransportStats s;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.frames_sent = get(counters_.frames_sent);
  s.batches_sent = get(counters_.batches_sent);
  s.frames_received = get(counters_.frames_received);
  s.dropped_oversize = get(counters_.dropped_oversize);
  s.dropped_unknown_peer = get(counters_.dropped_unknown_peer);
  s.dropped_queue_full = get(counters_.dropped_queue_full);
  s.dropped_write_failed = get(counters_.dropped_write_failed);
  s.dropped_unregistered = get(counters_.dropped_unregistered);
  s.malformed_batches = get(counters_.dropped_malformed);
  s.streams_started = get(counters_.streams_started);
  s.stream_failures = get(counters_.stream_failures);
  return s;
}

class GrpcTransportImpl final : public GrpcTransport {
 public:
  explicit GrpcTransportImpl(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~GrpcTransportImpl() override { core_->Shutdown(); }

  absl::Status Register(NodeId self, FrameReceiver* receiver) override {
    return core_->Register(self, receiver);
  }
  void Unregister(NodeId self) override { core_->Unregister(self); }
  void Send(NodeId from, NodeId to, std::string frame) override {
    core_->Send(from, to, std::move(frame));
  }
  int port() const override { return core_->port(); }
  std::string address() const override { return core_->address(); }
  GrpcTransportStats Stats() const override { return core_->Stats(); }

 private:
  const std::shared_ptr<Core> core_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcTransport>> GrpcTransport::Create(GrpcTransportOptions options) {
  auto core = std::make_shared<Core>(std::move(options));
  absl::Status s = core->Start();
  if (!s.ok()) return s;
  return std::unique_ptr<GrpcTransport>(new GrpcTransportImpl(std::move(core)));
}

}  // namespace rutile::transport
