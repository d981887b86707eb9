// Shared vocabulary of the quorum package: log indexes as acknowledged by voters, the
// outcome of a vote, and the interface through which a configuration reads each voter's
// acknowledged index. Quorum math is pure and allocation-light; nothing here is
// thread-safe beyond being free of shared mutable state.

#ifndef RUTILE_RAFT_QUORUM_QUORUM_H_
#define RUTILE_RAFT_QUORUM_QUORUM_H_

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace rutile::raft::quorum {

using Index = uint64_t;

// Returned by CommittedIndex for an empty configuration: an empty majority agrees on
// everything, so it never holds back a joint configuration.
inline constexpr Index kMaxIndex = std::numeric_limits<Index>::max();

enum class VoteResult {
  // Neither won nor lost yet: missing votes could still decide either way.
  kPending,
  kLost,
  kWon,
};

const char* VoteResultName(VoteResult r);

// Reads the highest log index a voter has acknowledged, or nullopt when the voter has
// not reported one (it then counts as having acknowledged nothing).
class AckedIndexer {
 public:
  virtual ~AckedIndexer() = default;
  virtual std::optional<Index> AckedIndex(uint64_t voter_id) const = 0;
};

// An AckedIndexer over a plain map, for tests and small callers.
class MapAckIndexer : public AckedIndexer {
 public:
  explicit MapAckIndexer(std::map<uint64_t, Index> m) : m_(std::move(m)) {}
  MapAckIndexer(std::initializer_list<std::pair<const uint64_t, Index>> l) : m_(l) {}
  std::optional<Index> AckedIndex(uint64_t voter_id) const override {
    auto it = m_.find(voter_id);
    if (it == m_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<uint64_t, Index> m_;
};

// Votes cast so far: voter id -> granted.
using VoteMap = std::map<uint64_t, bool>;

}  // namespace rutile::raft::quorum

#endif  // RUTILE_RAFT_QUORUM_QUORUM_H_
