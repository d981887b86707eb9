// ReadOnly tracks ReadIndex requests on the leader (§6.4 of the Raft thesis). Under
// kSafe each request records the commit index at arrival and waits until a quorum
// acknowledges a heartbeat carrying its context, which proves this node was still leader
// when the request arrived. Under kLeaseBased the leader answers at once, relying on
// CheckQuorum's lease (assumes bounded clock drift). Not thread-safe; owned by Raft.

#ifndef RUTILE_RAFT_READ_ONLY_H_
#define RUTILE_RAFT_READ_ONLY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "raft.pb.h"
#include "raft/quorum/quorum.h"

namespace rutile::raft {

enum class ReadOnlyOption { kSafe, kLeaseBased };

struct ReadIndexStatus {
  Message req;
  uint64_t index = 0;
  // Voters that acknowledged a heartbeat carrying this request's context.
  quorum::VoteMap acks;
};

class ReadOnly {
 public:
  explicit ReadOnly(ReadOnlyOption option) : option_(option) {}

  ReadOnlyOption option() const { return option_; }

  // Queues request `m` (context in m.entries(0).data()) to be served at `index`.
  // Duplicate contexts are ignored.
  void AddRequest(uint64_t index, const Message& m);

  // Records that `id` acknowledged the heartbeat with `context`. Returns the acks of that
  // request, or nullptr when there is no such pending request.
  const quorum::VoteMap* RecvAck(uint64_t id, const std::string& context);

  // Removes and returns every request up to and including the one with m.context(): a
  // quorum acknowledging a later heartbeat also confirms earlier requests.
  std::vector<ReadIndexStatus> Advance(const Message& m);

  // Context of the newest pending request, "" if none.
  std::string LastPendingRequestCtx() const;

  size_t PendingCount() const { return queue_.size(); }

 private:
  ReadOnlyOption option_;
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_READ_ONLY_H_
