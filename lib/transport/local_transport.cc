#include "transport/local_transport.h"

#include <boost/fiber/operations.hpp>
#include <deque>
#include <map>
#include <utility>

#include "util/metrics.h"
#include "util/sync.h"

namespace rutile::transport {

uint64_t TransportStats::TotalDropped() const {
  uint64_t n = 0;
  for (uint64_t d : dropped) n += d;
  return n;
}

void NetworkModel::Route(NodeId from, NodeId to, size_t bytes, std::vector<Copy>* copies,
                         DropReason* reason) {
  copies->push_back(Copy{});
}

namespace {

// The frames queued for one registration of a node, and the fiber handing them over.
struct Mailbox {
  FrameReceiver* receiver = nullptr;
  // Distinguishes registrations of the same node id; frames carry the incarnation they
  // were sent to.
  uint64_t incarnation = 0;
  std::deque<Frame> queue;
  // A drain fiber is running for this mailbox.
  bool draining = false;
  // The drain fiber is inside receiver->OnFrame.
  bool in_callback = false;
  boost::fibers::fiber::id delivering_fiber;
  // Unregistered: deliver nothing more.
  bool closed = false;
};

// Per sender→receiver pair: the sequence numbers that keep fifo copies in order, whatever
// order their timers fire in.
struct PairOrder {
  uint64_t next_seq = 0;
  uint64_t next_to_deliver = 0;
  // Arrived copies waiting for an earlier one.
  std::map<uint64_t, Frame> waiting;
};

}  // namespace

struct LocalTransport::State : std::enable_shared_from_this<LocalTransport::State> {
  State(Env* e, LocalTransportOptions o, std::shared_ptr<NetworkModel> n)
      : env(e), options(std::move(o)), network(std::move(n)) {
    if (options.registry != nullptr) {
      auto sent_family = options.registry->AddCounterFamily(
          "rutile_transport_frames_sent_total", "Frames handed to Transport::Send.", {"transport"});
      auto delivered_family = options.registry->AddCounterFamily(
          "rutile_transport_frames_delivered_total", "Frames handed to a receiver.", {"transport"});
      auto duplicated_family = options.registry->AddCounterFamily(
          "rutile_transport_frames_duplicated_total",
          "Extra copies of frames made by a simulated network.", {"transport"});
      auto dropped_family =
          options.registry->AddCounterFamily("rutile_transport_frames_dropped_total",
                                             "Frames dropped, by reason.", {"transport", "reason"});
      if (sent_family.ok() && delivered_family.ok() && duplicated_family.ok() &&
          dropped_family.ok()) {
        const std::string& label = options.metrics_label;
        sent = (*sent_family)->WithLabels({label});
        delivered = (*delivered_family)->WithLabels({label});
        duplicated = (*duplicated_family)->WithLabels({label});
        for (int r = 0; r < kNumDropReasons; ++r) {
          dropped[r] =
              (*dropped_family)->WithLabels({label, DropReasonName(static_cast<DropReason>(r))});
        }
      }
    }
  }

  void Drop(DropReason reason, uint64_t n = 1) {
    if (n > 0) dropped[static_cast<int>(reason)]->Increment(n);
  }

  // Sends `frame` through the filters and the network. `released` marks a frame a hold
  // filter let go.
  void Route(Frame frame, bool released);

  // A copy reached its destination (after its delay): waits out a clog, keeps pair order,
  // and queues it for delivery.
  void Arrive(Frame frame, uint64_t incarnation, bool fifo, uint64_t seq);

  // Queues `frame` in the mailbox of `incarnation` if that registration still exists.
  void Enqueue(Frame frame, uint64_t incarnation);

  // The body of a mailbox's drain fiber.
  void Drain(std::shared_ptr<Mailbox> mailbox);

  // Routes frames released by hold filters.
  void Reinject(std::vector<Frame> frames) {
    for (Frame& f : frames) Route(std::move(f), /*released=*/true);
  }

  // Waits until `mailbox` is not inside OnFrame, unless the caller is the fiber that is.
  void WaitOutCallback(MutexLock& lock, const std::shared_ptr<Mailbox>& mailbox) {
    if (!mailbox->in_callback) return;
    if (mailbox->delivering_fiber == boost::this_fiber::get_id()) return;
    callback_done.Wait(lock, [&] { return !mailbox->in_callback; });
  }

  Env* const env;
  const LocalTransportOptions options;
  const std::shared_ptr<NetworkModel> network;
  FilterSet filters;

  Mutex mu;
  CondVar callback_done;
  std::map<NodeId, std::shared_ptr<Mailbox>> nodes;      // Guarded by mu.
  std::map<std::pair<NodeId, NodeId>, PairOrder> pairs;  // Guarded by mu.
  uint64_t next_incarnation = 1;                         // Guarded by mu.
  bool shutdown = false;                                 // Guarded by mu.

  // Counters: private ones unless options name a registry.
  metrics::Counter own_sent, own_delivered, own_duplicated;
  std::array<metrics::Counter, kNumDropReasons> own_dropped;
  metrics::Counter* sent = &own_sent;
  metrics::Counter* delivered = &own_delivered;
  metrics::Counter* duplicated = &own_duplicated;
  std::array<metrics::Counter*, kNumDropReasons> dropped = [this] {
    std::array<metrics::Counter*, kNumDropReasons> a;
    for (int i = 0; i < kNumDropReasons; ++i) a[i] = &own_dropped[i];
    return a;
  }();
};

void LocalTransport::State::Route(Frame frame, bool released) {
  uint64_t incarnation;
  {
    MutexLock lock(mu);
    if (shutdown) {
      Drop(DropReason::kShutdown);
      return;
    }
    auto it = nodes.find(frame.to);
    if (it == nodes.end()) {
      Drop(released ? DropReason::kUnregistered : DropReason::kUnknownNode);
      return;
    }
    incarnation = it->second->incarnation;
  }
  FilterSet::Outcome outcome = filters.Apply(frame, env);
  if (outcome.action == Verdict::Action::kDrop) {
    Drop(outcome.reason);
    return;
  }
  if (outcome.action == Verdict::Action::kHold) return;

  std::vector<NetworkModel::Copy> copies;
  DropReason reason = DropReason::kRandom;
  network->Route(frame.from, frame.to, frame.bytes.size(), &copies, &reason);
  if (copies.empty()) {
    Drop(reason);
    return;
  }
  if (copies.size() > 1) duplicated->Increment(copies.size() - 1);
  const auto pair = std::make_pair(frame.from, frame.to);
  for (size_t i = 0; i < copies.size(); ++i) {
    Frame copy = i + 1 == copies.size() ? std::move(frame) : frame;
    const bool fifo = copies[i].fifo && !outcome.unordered;
    uint64_t seq = 0;
    if (fifo) {
      MutexLock lock(mu);
      seq = pairs[pair].next_seq++;
    }
    const uint64_t delay = outcome.delay_micros + copies[i].delay_micros;
    if (delay == 0) {
      Arrive(std::move(copy), incarnation, fifo, seq);
    } else {
      env->ScheduleCallback(
          delay, [self = shared_from_this(), copy = std::move(copy), incarnation, fifo,
                  seq]() mutable { self->Arrive(std::move(copy), incarnation, fifo, seq); });
    }
  }
}

void LocalTransport::State::Arrive(Frame frame, uint64_t incarnation, bool fifo, uint64_t seq) {
  if (uint64_t wait = network->ArrivalDelay(frame.from, frame.to); wait > 0) {
    env->ScheduleCallback(
        wait, [self = shared_from_this(), frame = std::move(frame), incarnation, fifo,
               seq]() mutable { self->Arrive(std::move(frame), incarnation, fifo, seq); });
    return;
  }
  if (!fifo) {
    Enqueue(std::move(frame), incarnation);
    return;
  }
  // Deliver this copy and every waiting successor, in sequence order.
  std::vector<Frame> ready;
  {
    MutexLock lock(mu);
    PairOrder& order = pairs[{frame.from, frame.to}];
    if (seq != order.next_to_deliver) {
      order.waiting.emplace(seq, std::move(frame));
      return;
    }
    ready.push_back(std::move(frame));
    ++order.next_to_deliver;
    for (auto it = order.waiting.begin();
         it != order.waiting.end() && it->first == order.next_to_deliver;
         it = order.waiting.erase(it)) {
      ready.push_back(std::move(it->second));
      ++order.next_to_deliver;
    }
  }
  for (Frame& f : ready) Enqueue(std::move(f), incarnation);
}

void LocalTransport::State::Enqueue(Frame frame, uint64_t incarnation) {
  MutexLock lock(mu);
  if (shutdown) {
    Drop(DropReason::kShutdown);
    return;
  }
  auto it = nodes.find(frame.to);
  if (it == nodes.end() || it->second->incarnation != incarnation) {
    lock.unlock();
    Drop(network->IsDown(frame.to) ? DropReason::kCrashed : DropReason::kUnregistered);
    return;
  }
  std::shared_ptr<Mailbox> mailbox = it->second;
  mailbox->queue.push_back(std::move(frame));
  if (mailbox->draining) return;
  mailbox->draining = true;
  lock.unlock();
  env->Spawn([self = shared_from_this(), mailbox = std::move(mailbox)]() mutable {
    self->Drain(std::move(mailbox));
  });
}

void LocalTransport::State::Drain(std::shared_ptr<Mailbox> mailbox) {
  // Frames handed over before this fiber lets others run: a receiver that keeps feeding
  // its own mailbox must not starve the rest of the Env.
  constexpr int kBurst = 64;
  int burst = 0;
  MutexLock lock(mu);
  while (!mailbox->closed && !mailbox->queue.empty()) {
    if (++burst > kBurst) {
      burst = 0;
      lock.unlock();
      env->Yield();
      lock.lock();
      continue;
    }
    Frame frame = std::move(mailbox->queue.front());
    mailbox->queue.pop_front();
    mailbox->in_callback = true;
    mailbox->delivering_fiber = boost::this_fiber::get_id();
    lock.unlock();
    network->OnDeliver(frame.from, frame.to, frame.bytes);
    delivered->Increment();
    mailbox->receiver->OnFrame(frame.from, std::move(frame.bytes));
    lock.lock();
    mailbox->in_callback = false;
    callback_done.NotifyAll();
  }
  mailbox->draining = false;
}

LocalTransport::LocalTransport(Env* env, LocalTransportOptions options)
    : LocalTransport(env, std::move(options), std::make_shared<NetworkModel>()) {}

LocalTransport::LocalTransport(Env* env, LocalTransportOptions options,
                               std::shared_ptr<NetworkModel> network)
    : state_(std::make_shared<State>(env, std::move(options), std::move(network))) {}

LocalTransport::~LocalTransport() {
  std::vector<Frame> held;
  state_->filters.Clear(&held);
  state_->Drop(DropReason::kShutdown, held.size());
  MutexLock lock(state_->mu);
  state_->shutdown = true;
  for (auto& [id, mailbox] : state_->nodes) {
    mailbox->closed = true;
    state_->Drop(DropReason::kShutdown, mailbox->queue.size());
    mailbox->queue.clear();
    state_->WaitOutCallback(lock, mailbox);
  }
  state_->nodes.clear();
  state_->pairs.clear();
}

absl::Status LocalTransport::Register(NodeId self, FrameReceiver* receiver) {
  if (self == 0) return absl::InvalidArgumentError("node id 0 is not valid");
  if (receiver == nullptr) return absl::InvalidArgumentError("null receiver");
  MutexLock lock(state_->mu);
  if (state_->nodes.count(self) != 0) {
    return absl::AlreadyExistsError("node " + std::to_string(self) + " is registered already");
  }
  auto mailbox = std::make_shared<Mailbox>();
  mailbox->receiver = receiver;
  mailbox->incarnation = state_->next_incarnation++;
  state_->nodes.emplace(self, std::move(mailbox));
  return absl::OkStatus();
}

void LocalTransport::Unregister(NodeId self) {
  const DropReason reason =
      state_->network->IsDown(self) ? DropReason::kCrashed : DropReason::kUnregistered;
  MutexLock lock(state_->mu);
  auto it = state_->nodes.find(self);
  if (it == state_->nodes.end()) return;
  std::shared_ptr<Mailbox> mailbox = std::move(it->second);
  state_->nodes.erase(it);
  mailbox->closed = true;
  state_->Drop(reason, mailbox->queue.size());
  mailbox->queue.clear();
  state_->WaitOutCallback(lock, mailbox);
}

void LocalTransport::Send(NodeId from, NodeId to, std::string frame) {
  state_->sent->Increment();
  if (frame.size() > state_->options.max_frame_bytes) {
    state_->Drop(DropReason::kTooLarge);
    return;
  }
  state_->Route(Frame{from, to, std::move(frame)}, /*released=*/false);
}

FilterId LocalTransport::AddFilter(std::shared_ptr<Filter> filter) {
  return state_->filters.Add(std::move(filter));
}

bool LocalTransport::RemoveFilter(FilterId id) {
  std::vector<Frame> released;
  if (!state_->filters.Remove(id, &released)) return false;
  state_->Reinject(std::move(released));
  return true;
}

void LocalTransport::ClearFilters() {
  std::vector<Frame> released;
  state_->filters.Clear(&released);
  state_->Reinject(std::move(released));
}

void LocalTransport::Heal() { ClearFilters(); }

size_t LocalTransport::Release(FilterId id) {
  std::vector<Frame> released;
  state_->filters.TakeHeld(id, &released);
  const size_t n = released.size();
  state_->Reinject(std::move(released));
  return n;
}

size_t LocalTransport::HeldCount(FilterId id) const { return state_->filters.HeldCount(id); }

FilterId LocalTransport::Partition(std::vector<std::vector<NodeId>> groups) {
  return AddFilter(PartitionFilter(std::move(groups)));
}

FilterId LocalTransport::Isolate(NodeId node) { return AddFilter(IsolateFilter(node)); }

TransportStats LocalTransport::Stats() const {
  TransportStats s;
  s.sent = state_->sent->Value();
  s.delivered = state_->delivered->Value();
  s.duplicated = state_->duplicated->Value();
  s.held = state_->filters.TotalHeld();
  for (int i = 0; i < kNumDropReasons; ++i) s.dropped[i] = state_->dropped[i]->Value();
  return s;
}

Env* LocalTransport::env() const { return state_->env; }

size_t LocalTransport::max_frame_bytes() const { return state_->options.max_frame_bytes; }

}  // namespace rutile::transport
