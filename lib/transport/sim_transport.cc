#include "transport/sim_transport.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace rutile::transport {

namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  // splitmix64 finalizer over the running hash.
  uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a: a content hash that is the same on every platform and run.
uint64_t HashBytes(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

class SimTransport::Network : public NetworkModel {
 public:
  Network(Env* env, const SimTransportOptions& options) : env_(env), options_(options) {}

  void Route(NodeId from, NodeId to, size_t bytes, std::vector<Copy>* copies,
             DropReason* reason) override {
    absl::MutexLock lock(&mu_);
    if (crashed_.count(from) != 0 || crashed_.count(to) != 0) {
      *reason = DropReason::kCrashed;
      return;
    }
    if (env_->OneIn(options_.loss_probability)) {
      *reason = DropReason::kRandom;
      return;
    }
    Copy copy;
    copy.delay_micros = LatencyLocked();
    if (env_->OneIn(options_.reorder_probability)) {
      copy.fifo = false;
      copy.delay_micros += env_->Uniform(options_.reorder_window_micros + 1);
    }
    copies->push_back(copy);
    if (env_->OneIn(options_.duplicate_probability)) {
      Copy dup;
      dup.delay_micros = LatencyLocked();
      dup.fifo = false;
      copies->push_back(dup);
    }
  }

  uint64_t ArrivalDelay(NodeId from, NodeId to) override {
    absl::MutexLock lock(&mu_);
    if (clogged_.empty() && pair_clogged_.empty()) return 0;
    uint64_t until = 0;
    if (auto it = clogged_.find(from); it != clogged_.end()) until = std::max(until, it->second);
    if (auto it = clogged_.find(to); it != clogged_.end()) until = std::max(until, it->second);
    if (auto it = pair_clogged_.find({from, to}); it != pair_clogged_.end()) {
      until = std::max(until, it->second);
    }
    const uint64_t now = env_->NowMicros();
    return until > now ? until - now : 0;
  }

  void OnDeliver(NodeId from, NodeId to, const std::string& bytes) override {
    if (!options_.trace_deliveries || !env_->IsSimulated()) return;
    uint64_t h = Mix(0x7472616e73706f72ULL, from);  // "transpor"
    h = Mix(h, to);
    h = Mix(h, bytes.size());
    h = Mix(h, HashBytes(bytes));
    static_cast<SimEnv*>(env_)->Trace(h);
  }

  void SetLoss(double p) {
    absl::MutexLock lock(&mu_);
    options_.loss_probability = p;
  }
  void SetDuplication(double p) {
    absl::MutexLock lock(&mu_);
    options_.duplicate_probability = p;
  }
  void SetReordering(double p) {
    absl::MutexLock lock(&mu_);
    options_.reorder_probability = p;
  }
  void SetLatency(uint64_t min_micros, uint64_t max_micros) {
    absl::MutexLock lock(&mu_);
    options_.min_latency_micros = min_micros;
    options_.max_latency_micros = std::max(min_micros, max_micros);
  }

  void Clog(NodeId node, uint64_t duration_micros) {
    absl::MutexLock lock(&mu_);
    uint64_t& until = clogged_[node];
    until = std::max(until, env_->NowMicros() + duration_micros);
  }
  void ClogPair(NodeId from, NodeId to, uint64_t duration_micros) {
    absl::MutexLock lock(&mu_);
    uint64_t& until = pair_clogged_[{from, to}];
    until = std::max(until, env_->NowMicros() + duration_micros);
  }
  void Unclog() {
    absl::MutexLock lock(&mu_);
    clogged_.clear();
    pair_clogged_.clear();
  }

  void SetCrashed(NodeId node, bool crashed) {
    absl::MutexLock lock(&mu_);
    if (crashed) {
      crashed_.insert(node);
    } else {
      crashed_.erase(node);
    }
  }
  bool IsDown(NodeId node) const override { return IsCrashed(node); }

  bool IsCrashed(NodeId node) const {
    absl::MutexLock lock(&mu_);
    return crashed_.count(node) != 0;
  }

 private:
  uint64_t LatencyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t lo = options_.min_latency_micros;
    uint64_t hi = std::max(lo, options_.max_latency_micros);
    uint64_t latency = lo == hi ? lo : lo + env_->Uniform(hi - lo + 1);
    if (env_->OneIn(options_.tail_probability)) {
      latency += env_->Uniform(options_.tail_latency_micros + 1);
    }
    return latency;
  }

  Env* const env_;
  mutable absl::Mutex mu_;
  SimTransportOptions options_ ABSL_GUARDED_BY(mu_);
  // Ordered containers only: nothing here may depend on hash or pointer order.
  std::map<NodeId, uint64_t> clogged_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<NodeId, NodeId>, uint64_t> pair_clogged_ ABSL_GUARDED_BY(mu_);
  std::set<NodeId> crashed_ ABSL_GUARDED_BY(mu_);
};

namespace {

LocalTransportOptions HubOptions(const SimTransportOptions& o) {
  LocalTransportOptions h;
  h.max_frame_bytes = o.max_frame_bytes;
  h.registry = o.registry;
  h.metrics_label = o.metrics_label;
  return h;
}

}  // namespace

SimTransport::SimTransport(Env* env, SimTransportOptions options)
    : SimTransport(env, options, std::make_shared<Network>(env, options)) {}

SimTransport::SimTransport(Env* env, SimTransportOptions options, std::shared_ptr<Network> network)
    : LocalTransport(env, HubOptions(options), network), network_(std::move(network)) {}

SimTransport::~SimTransport() = default;

void SimTransport::SetLoss(double probability) { network_->SetLoss(probability); }
void SimTransport::SetDuplication(double probability) { network_->SetDuplication(probability); }
void SimTransport::SetReordering(double probability) { network_->SetReordering(probability); }
void SimTransport::SetLatency(uint64_t min_micros, uint64_t max_micros) {
  network_->SetLatency(min_micros, max_micros);
}

void SimTransport::Clog(NodeId node, uint64_t duration_micros) {
  network_->Clog(node, duration_micros);
}

void SimTransport::ClogPair(NodeId from, NodeId to, uint64_t duration_micros) {
  network_->ClogPair(from, to, duration_micros);
}

void SimTransport::Crash(NodeId node) {
  network_->SetCrashed(node, true);
  // A new registration is a new incarnation: frames in flight to the old one are dropped
  // when they arrive.
  Unregister(node);
}

void SimTransport::Restart(NodeId node) { network_->SetCrashed(node, false); }

bool SimTransport::IsCrashed(NodeId node) const { return network_->IsCrashed(node); }

void SimTransport::Heal() {
  network_->Unclog();
  LocalTransport::Heal();
}

}  // namespace rutile::transport
