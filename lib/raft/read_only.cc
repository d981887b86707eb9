#include "raft/read_only.h"

namespace rutile::raft {

void ReadOnly::AddRequest(uint64_t index, const Message& m) {
  const std::string& ctx = m.entries(0).data();
  if (pending_.count(ctx) > 0) return;
  pending_[ctx] = ReadIndexStatus{m, index, {}};
  queue_.push_back(ctx);
}

const quorum::VoteMap* ReadOnly::RecvAck(uint64_t id, const std::string& context) {
  auto it = pending_.find(context);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::Advance(const Message& m) {
  const std::string& ctx = m.context();
  size_t n = 0;
  bool found = false;
  for (const std::string& c : queue_) {
    ++n;
    if (pending_.count(c) == 0) continue;
    if (c == ctx) {
      found = true;
      break;
    }
  }
  std::vector<ReadIndexStatus> out;
  if (!found) return out;
  for (size_t i = 0; i < n; ++i) {
    auto it = pending_.find(queue_.front());
    if (it != pending_.end()) {
      out.push_back(std::move(it->second));
      pending_.erase(it);
    }
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::LastPendingRequestCtx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace rutile::raft
