// Transport filters: the faults a test injects between nodes, shaped after TiKV's
// test_raftstore transport_simulate (drop with a probability, delay, partition, isolate,
// rules by message type and by region, hold-and-release).
//
// A filter looks at one frame at a time (a FrameView: sender, receiver, bytes and, parsed
// on first use, the rutile.transport.Envelope inside) and returns a Verdict: pass (maybe
// with a delay), drop (with a reason, which the transport counts), or hold (the transport
// keeps the frame until the test calls Release on that filter's handle). A transport runs
// its filters in the order they were added: the first drop or hold wins, delays add up.
//
// FilterSet is the ordered, handle-addressed collection a transport keeps; it also owns
// the frames held by hold filters. LocalTransport and SimTransport both use it.
//
// Thread safety: Filter::Check may be called concurrently from any fiber or thread, so
// filters with state synchronize it themselves (the ones here do). FilterSet is
// thread-safe.

#ifndef RUTILE_TRANSPORT_FILTER_H_
#define RUTILE_TRANSPORT_FILTER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rutile/env.h"
#include "rutile/transport.h"
#include "transport.pb.h"

namespace rutile::transport {

// Why a frame was dropped. Every transport counts drops per reason.
enum class DropReason : int {
  kUnknownNode = 0,  // No receiver registered for the destination when sent.
  kTooLarge,         // Over the transport's maximum frame size.
  kUnregistered,     // The destination unregistered (or crashed) while it was in flight.
  kRandom,           // A DropFilter's coin, or SimTransport's loss probability.
  kPartition,        // Sender and receiver are on different sides of a partition.
  kIsolated,         // Sender or receiver is isolated.
  kRule,             // A Rule (by message type, region, node, predicate) matched.
  kCrashed,          // SimTransport: to or from a crashed node.
  kShutdown,         // The transport was destroyed with the frame still queued or held.
};
inline constexpr int kNumDropReasons = 9;

// A short lowercase name ("unknown_node", "too_large", ...), used as a metrics label.
std::string_view DropReasonName(DropReason reason);

// What the body of an Envelope is.
enum class FrameKind : int {
  kRequest = 0,  // RpcRequest.
  kResponse,     // RpcResponse.
  kCancel,       // RpcCancel.
  kRaft,         // A raft batch.
  kOpaque,       // A layer's own encoding.
  kUnknown,      // Not a parsable Envelope, or no body set.
};

std::string_view FrameKindName(FrameKind kind);

// Returns the kind of `envelope`'s body.
FrameKind Classify(const rutile::transport::Envelope& envelope);

// One frame as filters see it. The Envelope is parsed on first use of envelope(), kind()
// or region_id() and cached, so filters that look only at nodes cost no parsing. Not
// thread-safe; each frame has its own view.
class FrameView {
 public:
  FrameView(NodeId from, NodeId to, const std::string* bytes)
      : from_(from), to_(to), bytes_(bytes) {}

  NodeId from() const { return from_; }
  NodeId to() const { return to_; }
  const std::string& bytes() const { return *bytes_; }

  // The parsed Envelope, or null when the bytes are not one.
  const rutile::transport::Envelope* envelope() const;
  FrameKind kind() const;
  // Envelope.region_id, 0 when absent or unparsable.
  uint64_t region_id() const;

 private:
  NodeId from_;
  NodeId to_;
  const std::string* bytes_;
  mutable bool parsed_ = false;
  mutable std::optional<rutile::transport::Envelope> envelope_;
};

// A filter's decision about one frame.
struct Verdict {
  enum class Action { kPass, kDrop, kHold };
  Action action = Action::kPass;
  // kPass: extra delay before delivery, in Env microseconds.
  uint64_t delay_micros = 0;
  // kPass: the frame may overtake earlier frames of its pair (a varying delay).
  bool unordered = false;
  // kDrop: why.
  DropReason reason = DropReason::kRule;

  static Verdict Pass() { return Verdict(); }
  static Verdict Delay(uint64_t micros) {
    Verdict v;
    v.delay_micros = micros;
    return v;
  }
  static Verdict Drop(DropReason reason) {
    Verdict v;
    v.action = Action::kDrop;
    v.reason = reason;
    return v;
  }
  static Verdict Hold() {
    Verdict v;
    v.action = Action::kHold;
    return v;
  }
};

// A fault between nodes. Subclass it for a one-off rule, or use the factories below.
class Filter {
 public:
  virtual ~Filter() = default;

  // Decides what happens to `frame`. `env` is the transport's Env (for randomness and
  // time). Runs under the transport's filter lock: must not block or call back into the
  // transport.
  virtual Verdict Check(const FrameView& frame, Env* env) = 0;
};

// Identifies an installed filter; never 0.
using FilterId = uint64_t;

// Drops each frame with probability `probability` (drawn from env->Random64, so seeded
// under SimEnv). Reason kRandom.
std::shared_ptr<Filter> DropFilter(double probability);

// Delays every frame by `micros` of Env time. A constant delay keeps per-pair order.
std::shared_ptr<Filter> DelayFilter(uint64_t micros);

// Delays each frame by a uniform draw in [min_micros, max_micros], letting frames
// overtake each other.
std::shared_ptr<Filter> RandomDelayFilter(uint64_t min_micros, uint64_t max_micros);

// Drops frames between nodes of different groups (reason kPartition). Nodes in no group
// are unaffected, as are frames within a group.
std::shared_ptr<Filter> PartitionFilter(std::vector<std::vector<NodeId>> groups);

// Drops every frame to or from `node` except its frames to itself (reason kIsolated).
std::shared_ptr<Filter> IsolateFilter(NodeId node);

// Which way a Rule looks at `node`.
enum class Direction { kSend, kRecv, kBoth };

// A rule in the style of TiKV's RegionPacketFilter: frames that match every set field
// get `action`. Unset fields match anything.
struct Rule {
  enum class Action { kDrop, kDelay, kHold };
  Action action = Action::kDrop;
  // kDelay: how long.
  uint64_t delay_micros = 0;

  // Matches frames whose sender (kSend), receiver (kRecv) or either (kBoth) is `node`.
  std::optional<NodeId> node;
  Direction direction = Direction::kBoth;
  // Matches frames whose Envelope.region_id is this.
  std::optional<uint64_t> region_id;
  // Matches frames of these kinds; empty matches every kind.
  std::vector<FrameKind> kinds;
  // A finer classification (for example a raft message type decoded from the raft
  // bytes); the frame matches when it returns true. Null matches everything.
  std::function<bool(const FrameView&)> match;
  // Lets this many matching frames through before the rule takes effect, as TiKV's
  // RegionPacketFilter::allow. 0 = act on the first one.
  uint64_t allow = 0;
  // Called with every frame the rule acts on (after `allow` is used up), under the
  // filter's lock; must not block. For tests that want to see what was dropped.
  std::function<void(const FrameView&)> on_match;
};

// A filter applying `rule`. Drops count as kRule.
std::shared_ptr<Filter> RuleFilter(Rule rule);

// Holds every frame for which `match` returns true (every frame when null) until the
// transport's Release(id) for this filter, or until the filter is removed.
std::shared_ptr<Filter> HoldFilter(std::function<bool(const FrameView&)> match = nullptr);

// A frame on its way: what a transport queues, holds and delivers.
struct Frame {
  NodeId from = 0;
  NodeId to = 0;
  std::string bytes;
  // The hold filter that held this frame, if any; skipped when the frame is released and
  // filtered again.
  FilterId held_by = 0;
};

// The filters of one transport, in the order added, each under a handle, plus the frames
// hold filters are holding.
class FilterSet {
 public:
  FilterSet() = default;
  FilterSet(const FilterSet&) = delete;
  FilterSet& operator=(const FilterSet&) = delete;

  // Adds `filter` after the existing ones and returns its handle.
  FilterId Add(std::shared_ptr<Filter> filter);

  // Removes the filter `id`, returning the frames it was holding (in the order held)
  // through `released`. Returns false if `id` is unknown.
  bool Remove(FilterId id, std::vector<Frame>* released);

  // Removes every filter; returns all held frames through `released`, by filter in the
  // order the filters were added, then in the order held.
  void Clear(std::vector<Frame>* released);

  // Takes the frames held by filter `id`, leaving the filter in place. Returns false if
  // `id` is unknown.
  bool TakeHeld(FilterId id, std::vector<Frame>* released);

  // Number of frames filter `id` holds (0 for an unknown id).
  size_t HeldCount(FilterId id) const;

  // Number of frames all filters hold.
  size_t TotalHeld() const;

  // The outcome of running the filters on one frame.
  struct Outcome {
    Verdict::Action action = Verdict::Action::kPass;
    uint64_t delay_micros = 0;
    bool unordered = false;
    DropReason reason = DropReason::kRule;
  };

  // Runs the filters on `frame` in order, skipping frame.held_by (the filter that released
  // it). On kHold the frame is moved into the holding filter's queue; otherwise it is left
  // untouched. Filters run under this set's lock, so they see frames one at a time.
  Outcome Apply(Frame& frame, Env* env);

  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }

 private:
  struct Entry {
    FilterId id;
    std::shared_ptr<Filter> filter;
    std::vector<Frame> held;
  };

  mutable absl::Mutex mu_;
  FilterId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> count_{0};
};

}  // namespace rutile::transport

#endif  // RUTILE_TRANSPORT_FILTER_H_
