#include "transport/filter.h"

#include <algorithm>
#include <map>
#include <utility>

namespace rutile::transport {

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kUnknownNode:
      return "unknown_node";
    case DropReason::kTooLarge:
      return "too_large";
    case DropReason::kUnregistered:
      return "unregistered";
    case DropReason::kRandom:
      return "random";
    case DropReason::kPartition:
      return "partition";
    case DropReason::kIsolated:
      return "isolated";
    case DropReason::kRule:
      return "rule";
    case DropReason::kCrashed:
      return "crashed";
    case DropReason::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

std::string_view FrameKindName(FrameKind kind) {
  switch (kind) {
    case FrameKind::kRequest:
      return "request";
    case FrameKind::kResponse:
      return "response";
    case FrameKind::kCancel:
      return "cancel";
    case FrameKind::kRaft:
      return "raft";
    case FrameKind::kOpaque:
      return "opaque";
    case FrameKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

FrameKind Classify(const rutile::transport::Envelope& envelope) {
  using E = rutile::transport::Envelope;
  switch (envelope.body_case()) {
    case E::kRequest:
      return FrameKind::kRequest;
    case E::kResponse:
      return FrameKind::kResponse;
    case E::kCancel:
      return FrameKind::kCancel;
    case E::kRaft:
      return FrameKind::kRaft;
    case E::kOpaque:
      return FrameKind::kOpaque;
    case E::BODY_NOT_SET:
      return FrameKind::kUnknown;
  }
  return FrameKind::kUnknown;
}

const rutile::transport::Envelope* FrameView::envelope() const {
  if (!parsed_) {
    parsed_ = true;
    rutile::transport::Envelope e;
    if (e.ParseFromString(*bytes_)) envelope_.emplace(std::move(e));
  }
  return envelope_.has_value() ? &*envelope_ : nullptr;
}

FrameKind FrameView::kind() const {
  const auto* e = envelope();
  return e == nullptr ? FrameKind::kUnknown : Classify(*e);
}

uint64_t FrameView::region_id() const {
  const auto* e = envelope();
  return e == nullptr ? 0 : e->region_id();
}

namespace {

class DropFilterImpl : public Filter {
 public:
  explicit DropFilterImpl(double p) : p_(p) {}
  Verdict Check(const FrameView&, Env* env) override {
    return env->OneIn(p_) ? Verdict::Drop(DropReason::kRandom) : Verdict::Pass();
  }

 private:
  const double p_;
};

class DelayFilterImpl : public Filter {
 public:
  DelayFilterImpl(uint64_t min, uint64_t max) : min_(min), max_(std::max(min, max)) {}
  Verdict Check(const FrameView&, Env* env) override {
    if (min_ == max_) return Verdict::Delay(min_);
    Verdict v = Verdict::Delay(min_ + env->Uniform(max_ - min_ + 1));
    v.unordered = true;
    return v;
  }

 private:
  const uint64_t min_;
  const uint64_t max_;
};

class PartitionFilterImpl : public Filter {
 public:
  explicit PartitionFilterImpl(const std::vector<std::vector<NodeId>>& groups) {
    for (size_t g = 0; g < groups.size(); ++g) {
      for (NodeId n : groups[g]) group_of_.emplace(n, g);
    }
  }
  Verdict Check(const FrameView& f, Env*) override {
    auto a = group_of_.find(f.from());
    auto b = group_of_.find(f.to());
    if (a == group_of_.end() || b == group_of_.end() || a->second == b->second) {
      return Verdict::Pass();
    }
    return Verdict::Drop(DropReason::kPartition);
  }

 private:
  // Node to group index. A node listed in two groups belongs to the last one.
  std::map<NodeId, size_t> group_of_;
};

class IsolateFilterImpl : public Filter {
 public:
  explicit IsolateFilterImpl(NodeId node) : node_(node) {}
  Verdict Check(const FrameView& f, Env*) override {
    if (f.from() == f.to()) return Verdict::Pass();
    if (f.from() == node_ || f.to() == node_) return Verdict::Drop(DropReason::kIsolated);
    return Verdict::Pass();
  }

 private:
  const NodeId node_;
};

class RuleFilterImpl : public Filter {
 public:
  explicit RuleFilterImpl(Rule rule) : rule_(std::move(rule)) {}

  Verdict Check(const FrameView& f, Env*) override {
    if (!Matches(f)) return Verdict::Pass();
    {
      absl::MutexLock lock(&mu_);
      if (allowed_ < rule_.allow) {
        ++allowed_;
        return Verdict::Pass();
      }
      if (rule_.on_match) rule_.on_match(f);
    }
    switch (rule_.action) {
      case Rule::Action::kDrop:
        return Verdict::Drop(DropReason::kRule);
      case Rule::Action::kDelay:
        return Verdict::Delay(rule_.delay_micros);
      case Rule::Action::kHold:
        return Verdict::Hold();
    }
    return Verdict::Pass();
  }

 private:
  bool Matches(const FrameView& f) const {
    if (rule_.node.has_value()) {
      const bool send = f.from() == *rule_.node;
      const bool recv = f.to() == *rule_.node;
      switch (rule_.direction) {
        case Direction::kSend:
          if (!send) return false;
          break;
        case Direction::kRecv:
          if (!recv) return false;
          break;
        case Direction::kBoth:
          if (!send && !recv) return false;
          break;
      }
    }
    if (rule_.region_id.has_value() && f.region_id() != *rule_.region_id) return false;
    if (!rule_.kinds.empty() &&
        std::find(rule_.kinds.begin(), rule_.kinds.end(), f.kind()) == rule_.kinds.end()) {
      return false;
    }
    if (rule_.match && !rule_.match(f)) return false;
    return true;
  }

  const Rule rule_;
  absl::Mutex mu_;
  uint64_t allowed_ ABSL_GUARDED_BY(mu_) = 0;
};

class HoldFilterImpl : public Filter {
 public:
  explicit HoldFilterImpl(std::function<bool(const FrameView&)> match) : match_(std::move(match)) {}
  Verdict Check(const FrameView& f, Env*) override {
    if (match_ && !match_(f)) return Verdict::Pass();
    return Verdict::Hold();
  }

 private:
  const std::function<bool(const FrameView&)> match_;
};

}  // namespace

std::shared_ptr<Filter> DropFilter(double probability) {
  return std::make_shared<DropFilterImpl>(probability);
}

std::shared_ptr<Filter> DelayFilter(uint64_t micros) {
  return std::make_shared<DelayFilterImpl>(micros, micros);
}

std::shared_ptr<Filter> RandomDelayFilter(uint64_t min_micros, uint64_t max_micros) {
  return std::make_shared<DelayFilterImpl>(min_micros, max_micros);
}

std::shared_ptr<Filter> PartitionFilter(std::vector<std::vector<NodeId>> groups) {
  return std::make_shared<PartitionFilterImpl>(groups);
}

std::shared_ptr<Filter> IsolateFilter(NodeId node) {
  return std::make_shared<IsolateFilterImpl>(node);
}

std::shared_ptr<Filter> RuleFilter(Rule rule) {
  return std::make_shared<RuleFilterImpl>(std::move(rule));
}

std::shared_ptr<Filter> HoldFilter(std::function<bool(const FrameView&)> match) {
  return std::make_shared<HoldFilterImpl>(std::move(match));
}

FilterId FilterSet::Add(std::shared_ptr<Filter> filter) {
  absl::MutexLock lock(&mu_);
  FilterId id = next_id_++;
  entries_.push_back(Entry{id, std::move(filter), {}});
  count_.store(entries_.size(), std::memory_order_release);
  return id;
}

bool FilterSet::Remove(FilterId id, std::vector<Frame>* released) {
  absl::MutexLock lock(&mu_);
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
  if (it == entries_.end()) return false;
  for (Frame& f : it->held) released->push_back(std::move(f));
  entries_.erase(it);
  count_.store(entries_.size(), std::memory_order_release);
  return true;
}

void FilterSet::Clear(std::vector<Frame>* released) {
  absl::MutexLock lock(&mu_);
  for (Entry& e : entries_) {
    for (Frame& f : e.held) released->push_back(std::move(f));
  }
  entries_.clear();
  count_.store(0, std::memory_order_release);
}

bool FilterSet::TakeHeld(FilterId id, std::vector<Frame>* released) {
  absl::MutexLock lock(&mu_);
  for (Entry& e : entries_) {
    if (e.id != id) continue;
    for (Frame& f : e.held) released->push_back(std::move(f));
    e.held.clear();
    return true;
  }
  return false;
}

size_t FilterSet::HeldCount(FilterId id) const {
  absl::MutexLock lock(&mu_);
  for (const Entry& e : entries_) {
    if (e.id == id) return e.held.size();
  }
  return 0;
}

size_t FilterSet::TotalHeld() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const Entry& e : entries_) n += e.held.size();
  return n;
}

FilterSet::Outcome FilterSet::Apply(Frame& frame, Env* env) {
  Outcome out;
  if (empty()) return out;
  FrameView view(frame.from, frame.to, &frame.bytes);
  const FilterId skip = frame.held_by;
  absl::MutexLock lock(&mu_);
  for (Entry& e : entries_) {
    if (e.id == skip) continue;
    Verdict v = e.filter->Check(view, env);
    switch (v.action) {
      case Verdict::Action::kPass:
        out.delay_micros += v.delay_micros;
        out.unordered = out.unordered || v.unordered;
        break;
      case Verdict::Action::kDrop:
        out.action = Verdict::Action::kDrop;
        out.reason = v.reason;
        return out;
      case Verdict::Action::kHold:
        out.action = Verdict::Action::kHold;
        frame.held_by = e.id;
        e.held.push_back(std::move(frame));
        return out;
    }
  }
  return out;
}

}  // namespace rutile::transport
