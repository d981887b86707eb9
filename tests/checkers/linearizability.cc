#include "checkers/linearizability.h"

#include <algorithm>
#include <tuple>

namespace rutile::checkers {

const char* CheckResultName(CheckResult result) {
  switch (result) {
    case CheckResult::kOk:
      return "Ok";
    case CheckResult::kIllegal:
      return "Illegal";
    case CheckResult::kUnknown:
      return "Unknown";
  }
  return "?";
}

namespace internal {

EntryList EntryList::Build(const std::vector<std::pair<int64_t, int64_t>>& times) {
  // (time, is_return, op): calls sort before returns at equal times.
  std::vector<std::tuple<int64_t, int, int>> entries;
  entries.reserve(times.size() * 2);
  for (size_t i = 0; i < times.size(); ++i) {
    entries.emplace_back(times[i].first, 0, static_cast<int>(i));
    entries.emplace_back(std::max(times[i].second, times[i].first), 1, static_cast<int>(i));
  }
  std::sort(entries.begin(), entries.end());
  EntryList list;
  size_t n = entries.size() + 1;
  list.next.assign(n, -1);
  list.prev.assign(n, -1);
  list.match.assign(n, -1);
  list.op.assign(n, -1);
  std::vector<int> return_node(times.size(), -1);
  for (size_t k = 0; k < entries.size(); ++k) {
    int node = static_cast<int>(k + 1);
    list.op[node] = std::get<2>(entries[k]);
    list.prev[node] = node - 1;
    list.next[node - 1] = node;
    if (std::get<1>(entries[k]) == 1) return_node[list.op[node]] = node;
  }
  for (size_t k = 0; k < entries.size(); ++k) {
    int node = static_cast<int>(k + 1);
    if (std::get<1>(entries[k]) == 0) list.match[node] = return_node[list.op[node]];
  }
  return list;
}

uint64_t ZobristValue(size_t i) {
  // splitmix64 of the index: deterministic and well mixed.
  uint64_t z = (static_cast<uint64_t>(i) + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<size_t> NextCandidates(const std::vector<std::pair<int64_t, int64_t>>& times,
                                   const std::vector<size_t>& prefix) {
  std::vector<bool> done(times.size(), false);
  for (size_t pos : prefix) done[pos] = true;
  int64_t min_ret = kInfiniteTime;
  for (size_t i = 0; i < times.size(); ++i) {
    if (!done[i]) min_ret = std::min(min_ret, times[i].second);
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < times.size(); ++i) {
    if (!done[i] && times[i].first <= min_ret) out.push_back(i);
  }
  return out;
}

}  // namespace internal
}  // namespace rutile::checkers
