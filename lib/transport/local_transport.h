// LocalTransport: an in-process hub connecting the nodes of one process, with the
// filters of filter.h between them (TiKV's transport_simulate). What tests and
// single-process clusters run on.
//
// Delivery: Send never calls a receiver. It runs the filters, then queues the frame in the
// destination's mailbox (at once, or from an Env timer when a filter delays it). A fiber
// of the Env drains each mailbox, one frame at a time, so a receiver may Send (even to
// itself) from OnFrame without reentrancy, and frames from one sender to one receiver
// arrive in the order sent unless a filter reorders them (RandomDelayFilter does).
//
// A frame in flight to a node that unregisters is dropped (kUnregistered), even if the
// node registers again before it would have arrived: a new registration is a new
// incarnation. Frames a hold filter keeps are delivered when the test calls Release or
// removes the filter; they then pass through the other filters again.
//
// Counters (sent, delivered, dropped per DropReason) are kept per transport and, when
// options name a metrics::Registry, exported there as
// rutile_transport_frames_{sent,delivered,dropped}_total{transport=<label>[,reason]}.
//
// Thread safety: every method may be called from any fiber or thread of the Env (under a
// SimEnv: from its thread). Under a SimEnv, call Unregister from a fiber of it, or when no
// receiver of that node is suspended inside OnFrame.

#ifndef RUTILE_TRANSPORT_LOCAL_TRANSPORT_H_
#define RUTILE_TRANSPORT_LOCAL_TRANSPORT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rutile/env.h"
#include "rutile/transport.h"
#include "transport/filter.h"

namespace rutile::metrics {
class Registry;
}  // namespace rutile::metrics

namespace rutile::transport {

// A snapshot of a transport's counters.
struct TransportStats {
  // Send calls, including ones dropped at once.
  uint64_t sent = 0;
  // OnFrame calls.
  uint64_t delivered = 0;
  // Extra copies a SimTransport made (each is delivered or dropped like any frame).
  uint64_t duplicated = 0;
  // Frames held by hold filters right now.
  uint64_t held = 0;
  std::array<uint64_t, kNumDropReasons> dropped{};

  uint64_t Dropped(DropReason reason) const { return dropped[static_cast<int>(reason)]; }
  uint64_t TotalDropped() const;
};

struct LocalTransportOptions {
  // Frames larger than this are dropped at Send (kTooLarge).
  size_t max_frame_bytes = 64 << 20;
  // When set, counters are also exported to this registry (which must outlive the
  // transport), labelled transport=`metrics_label`. Use a distinct label per transport.
  metrics::Registry* registry = nullptr;
  std::string metrics_label = "local";
};

// The network between filtering and delivery; what SimTransport plugs into a hub. The
// default (LocalTransport's) delivers one copy at once. Methods are called with no lock of
// the hub held, possibly from Env timer callbacks, and must not block.
class NetworkModel {
 public:
  virtual ~NetworkModel() = default;

  // One copy of a frame to deliver: after `delay_micros` of Env time. When `fifo` is set
  // the hub never delivers it before an earlier fifo copy of the same pair.
  struct Copy {
    uint64_t delay_micros = 0;
    bool fifo = true;
  };

  // Decides the fate of a frame that passed the filters. Appends the copies to deliver to
  // `copies`; none means the frame is lost and `*reason` says why.
  virtual void Route(NodeId from, NodeId to, size_t bytes, std::vector<Copy>* copies,
                     DropReason* reason);

  // Called when a copy reaches the destination: returns how many more microseconds it
  // must wait (a clogged node), or 0 to queue it for delivery now.
  virtual uint64_t ArrivalDelay(NodeId from, NodeId to) { return 0; }

  // Called on each delivery, just before the receiver's OnFrame.
  virtual void OnDeliver(NodeId from, NodeId to, const std::string& bytes) {}

  // Whether `node` is down (crashed): frames found undeliverable to it count as kCrashed
  // rather than kUnregistered.
  virtual bool IsDown(NodeId node) const { return false; }
};

class LocalTransport : public Transport {
 public:
  // `env` must outlive the transport and every frame in flight on it.
  explicit LocalTransport(Env* env, LocalTransportOptions options = LocalTransportOptions());
  ~LocalTransport() override;

  LocalTransport(const LocalTransport&) = delete;
  LocalTransport& operator=(const LocalTransport&) = delete;

  // Transport. Register: AlreadyExists, InvalidArgument for id 0 or a null receiver.
  absl::Status Register(NodeId self, FrameReceiver* receiver) override;
  void Unregister(NodeId self) override;
  void Send(NodeId from, NodeId to, std::string frame) override;

  // Installs `filter` after the others; returns its handle.
  FilterId AddFilter(std::shared_ptr<Filter> filter);

  // Removes a filter; frames it held are released. Returns false for an unknown id.
  bool RemoveFilter(FilterId id);

  // Removes every filter and releases every held frame.
  void ClearFilters();

  // Restores fault-free delivery. Here: ClearFilters. SimTransport also lifts clogs.
  virtual void Heal();

  // Sends on the frames filter `id` holds so far (they pass the other filters again);
  // the filter stays and keeps holding new frames. Returns how many were released.
  size_t Release(FilterId id);

  // Frames filter `id` holds.
  size_t HeldCount(FilterId id) const;

  // Shorthands for AddFilter(PartitionFilter(groups)) and AddFilter(IsolateFilter(node)).
  FilterId Partition(std::vector<std::vector<NodeId>> groups);
  FilterId Isolate(NodeId node);

  TransportStats Stats() const;
  Env* env() const;
  size_t max_frame_bytes() const;

 protected:
  // For SimTransport: a hub whose network is `network`.
  // Every copy after the first that Route returns counts as duplicated.
  LocalTransport(Env* env, LocalTransportOptions options, std::shared_ptr<NetworkModel> network);

 public:
  // The implementation, shared with timers and delivery fibers so that they outlive the
  // transport safely. Opaque outside local_transport.cc.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace rutile::transport

#endif  // RUTILE_TRANSPORT_LOCAL_TRANSPORT_H_
