// Inflights bounds how many MsgApp messages (and how many payload bytes) a leader keeps
// unacknowledged towards one follower in the replicate state. Each entry is the last log
// index of one sent message and its payload size; acknowledgements free a prefix.
// Not thread-safe; owned by a Progress.

#ifndef RUTILE_RAFT_TRACKER_INFLIGHTS_H_
#define RUTILE_RAFT_TRACKER_INFLIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <deque>

namespace rutile::raft::tracker {

class Inflights {
 public:
  // `max_count` > 0 messages at most; `max_bytes` total payload, 0 for unlimited. A single
  // message larger than max_bytes is still admitted when nothing else is in flight.
  Inflights(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  // Records a message whose last entry is `index` carrying `bytes` of payload. Indexes
  // must be increasing. Must not be called while Full().
  void Add(uint64_t index, uint64_t bytes);

  // Frees every message whose last index is <= `to`.
  void FreeLE(uint64_t to);

  // Frees the oldest message, if any (used when a heartbeat response shows the follower
  // is alive but the window is stuck).
  void FreeFirstOne();

  bool Full() const {
    return entries_.size() >= max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
  }
  size_t Count() const { return entries_.size(); }
  uint64_t Bytes() const { return bytes_; }
  void Reset() {
    entries_.clear();
    bytes_ = 0;
  }

 private:
  struct Item {
    uint64_t index;
    uint64_t bytes;
  };
  size_t max_count_;
  uint64_t max_bytes_;
  std::deque<Item> entries_;
  uint64_t bytes_ = 0;
};

}  // namespace rutile::raft::tracker

#endif  // RUTILE_RAFT_TRACKER_INFLIGHTS_H_
