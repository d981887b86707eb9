// GrpcTransport: a Transport over gRPC for nodes in different processes or machines.
//
// Each GrpcTransport listens on one address and may host any number of registered nodes.
// Sending from node `from` to node `to` uses one stream per ordered pair (from, to)
// (FrameService.Stream in lib/proto/transport_service.proto); streams to one address share
// a channel, so one TCP connection per pair of processes. Frames wait in a bounded queue
// per stream; each write takes what is queued, up to `max_batch_bytes`, as one FrameBatch,
// so while one batch is on the wire the next one fills up. That batching is what gives
// throughput. Batches are encoded on gRPC slices (grpc_batch_codec.h): a frame of 1 KiB or
// more is written from the string given to Send without a copy.
//
// Failure handling is best effort, as the Transport contract allows:
// - A frame larger than `max_frame_bytes` is dropped, logged and counted.
// - A frame for a node the resolver does not know is dropped and counted.
// - A frame that finds its stream's queue full (`max_queue_frames` or `max_queue_bytes`)
//   is dropped and counted, so memory never grows without bound while a peer is slow or
//   down.
// - Nothing is written to a stream before the peer accepts it, so frames queued while the
//   peer is down are kept (up to the bounds) and sent once it is back. A batch being
//   written when its stream fails is lost (counted). A failed stream is re-established
//   after an exponential backoff measured on the Env, resolving the address again.
// - A dead peer is noticed at once when its connection closes, otherwise (a frozen host,
//   a partition) by HTTP/2 keepalive.
// - A malformed batch from a peer is counted and closes that stream; nothing crashes.
//
// Threads: gRPC runs its own threads. Send never blocks: it appends to the queue and, if
// the stream is idle, starts a write with gRPC's callback API (gRPC may perform that
// non-blocking socket write on the calling thread); later batches are started from
// gRPC's write-completion callbacks. Received frames are handed to the receiver on a gRPC
// thread; a receiver must not block for long (hand the frame to a fiber) and may be called
// concurrently for frames arriving on different streams. Frames of one stream are
// delivered in order, one at a time. A receiver may call Send and Unregister (even for its
// own node) but must not destroy the transport.
//
// Unlike LocalTransport, a node that unregisters and registers again may receive frames
// that were already in flight to its previous registration.
//
// Memory: glibc's malloc returns freed memory to the kernel eagerly, and buffers handed
// between threads (a frame made by the sender, freed on a gRPC thread) then cost page
// faults: bench/transport_bench measured ~20 us of CPU per 16 KiB frame with glibc's
// defaults and ~13 us with M_TRIM_THRESHOLD raised. Hosts moving much data should raise
// it (or link jemalloc/tcmalloc).
//
// Thread safety: every method may be called from any thread or fiber.

#ifndef RUTILE_TRANSPORT_GRPC_TRANSPORT_H_
#define RUTILE_TRANSPORT_GRPC_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/transport.h"

namespace rutile::transport {

// Mutual TLS from PEM files. All three empty means plaintext; otherwise all three are
// required: the server presents `cert_file` and requires a client certificate signed by
// `ca_file`; the client presents `cert_file` and verifies the server against `ca_file`.
struct GrpcTlsOptions {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  // When set, the name a client expects in the server's certificate instead of the host
  // part of the resolved address (for certificates issued to a DNS name).
  std::string target_name_override;

  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
};

struct GrpcTransportOptions {
  // "host:port" to listen on; port 0 picks a free port (read it back with port()).
  std::string listen_address = "127.0.0.1:0";

  // Maps a node to the "host:port" of the GrpcTransport hosting it. Called on the first
  // Send to a node and again before each reconnection, from whatever thread sends or from
  // the Env's timer context, so it must be quick and must not block. Returning an error
  // (NotFound, say) makes frames to that node drop as unknown. Required.
  std::function<absl::StatusOr<std::string>(NodeId)> resolver;

  // Largest frame accepted by Send and by the receiving side.
  size_t max_frame_bytes = 16 << 20;

  // Bounds of the queue of one stream; a frame that would exceed either is dropped.
  size_t max_queue_frames = 1 << 16;
  size_t max_queue_bytes = 64 << 20;

  // A write takes every queued frame up to this many bytes (at least one frame).
  // 1 MiB: in bench/transport_bench, 16 KiB frames cost the least CPU per frame with
  // batches of 256 KiB to 1 MiB; 64 KiB batches cost ~15% more, 4 MiB no less.
  size_t max_batch_bytes = 1 << 20;

  // Delay before re-establishing a failed stream: starts at `initial_backoff_micros`,
  // doubles on each consecutive failure up to `max_backoff_micros`, with up to 20% random
  // jitter drawn from the Env; reset once a stream is accepted by the peer.
  uint64_t initial_backoff_micros = 20'000;
  uint64_t max_backoff_micros = 2'000'000;

  // HTTP/2 keepalive: a ping after this long without activity, and the connection is
  // declared dead if the ping is not answered within `keepalive_timeout_micros`. Finds a
  // vanished peer that did not close its connection.
  uint64_t keepalive_time_micros = 10'000'000;
  uint64_t keepalive_timeout_micros = 5'000'000;

  GrpcTlsOptions tls;

  // Clock, timers and randomness for backoff. Null means Env::Default(). Must be a real
  // (not simulated) Env and outlive the transport.
  Env* env = nullptr;
};

// Counters of one GrpcTransport since it was created.
struct GrpcTransportStats {
  uint64_t frames_sent = 0;           // Frames in batches whose write completed.
  uint64_t batches_sent = 0;          // Writes completed.
  uint64_t frames_received = 0;       // Frames handed to a receiver.
  uint64_t dropped_oversize = 0;      // Send or receive of a frame over the limit.
  uint64_t dropped_unknown_peer = 0;  // The resolver did not know the destination.
  uint64_t dropped_queue_full = 0;    // The stream's queue was full.
  uint64_t dropped_write_failed = 0;  // Frames in a batch whose stream failed.
  uint64_t dropped_unregistered = 0;  // Received for a node not registered here.
  uint64_t malformed_batches = 0;     // Received batches that did not decode.
  uint64_t streams_started = 0;       // Outgoing streams attempted.
  uint64_t stream_failures = 0;       // Outgoing streams that ended in an error.
};

class GrpcTransport : public Transport {
 public:
  // Starts a transport listening on `options.listen_address`. InvalidArgument for missing
  // or inconsistent options (no resolver, a partial TLS configuration, a simulated Env),
  // NotFound/PermissionDenied if a TLS file cannot be read, Unavailable if the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcTransport>> Create(GrpcTransportOptions options);

  // Stops listening, cancels every stream and waits for gRPC's callbacks to finish.
  // Frames still queued are dropped. No receiver is called after it returns.
  ~GrpcTransport() override = default;

  // The port actually bound (useful with port 0).
  virtual int port() const = 0;

  // "host:port" with the bound port, suitable for a resolver.
  virtual std::string address() const = 0;

  virtual GrpcTransportStats Stats() const = 0;
};

}  // namespace rutile::transport

#endif  // RUTILE_TRANSPORT_GRPC_TRANSPORT_H_
