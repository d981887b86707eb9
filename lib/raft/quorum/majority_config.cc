#include "raft/quorum/majority_config.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::raft::quorum {

const char* VoteResultName(VoteResult r) {
  switch (r) {
    case VoteResult::kPending:
      return "VotePending";
    case VoteResult::kLost:
      return "VoteLost";
    case VoteResult::kWon:
      return "VoteWon";
  }
  return "?";
}

Index MajorityConfig::CommittedIndex(const AckedIndexer& acked) const {
  const size_t n = ids_.size();
  if (n == 0) return kMaxIndex;
  // Small configurations (the common case) sort on the stack.
  std::array<Index, 7> stack_buf;
  std::vector<Index> heap_buf;
  Index* srt;
  if (n <= stack_buf.size()) {
    srt = stack_buf.data();
  } else {
    heap_buf.resize(n);
    srt = heap_buf.data();
  }
  size_t i = 0;
  for (uint64_t id : ids_) {
    std::optional<Index> idx = acked.AckedIndex(id);
    srt[i++] = idx.value_or(0);
  }
  std::sort(srt, srt + n);
  // With ascending order, the element at n - (n/2 + 1) is acked by n/2 + 1 voters.
  return srt[n - (n / 2 + 1)];
}

VoteResult MajorityConfig::GetVoteResult(const VoteMap& votes) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t yes = 0, missing = 0;
  for (uint64_t id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++yes;
    }
  }
  const size_t q = ids_.size() / 2 + 1;
  if (yes >= q) return VoteResult::kWon;
  if (yes + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::String() const {
  return absl::StrCat("(", absl::StrJoin(ids_, " "), ")");
}

}  // namespace rutile::raft::quorum
