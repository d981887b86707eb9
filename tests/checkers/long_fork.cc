#include "checkers/long_fork.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::checkers {

namespace {

// Keys seen present by a read.
std::vector<int64_t> Present(const LongForkRead& read) {
  std::vector<int64_t> keys;
  for (const auto& [key, value] : read.values) {
    if (value.has_value()) keys.push_back(key);
  }
  return keys;
}

std::string DescribeKeys(const std::vector<int64_t>& keys) {
  return absl::StrCat("{", absl::StrJoin(keys, " "), "}");
}

}  // namespace

std::string LongForkResult::Summary() const {
  std::string out = absl::StrCat(valid ? "valid" : "INVALID", ": ", reads, " reads of ", groups,
                                 " groups, ", forks, " forks, ", garbage_reads, " garbage reads");
  for (const std::string& e : errors) absl::StrAppend(&out, "\n  ", e);
  return out;
}

absl::StatusOr<LongForkResult> CheckLongFork(const std::vector<LongForkRead>& reads,
                                             const std::map<int64_t, int64_t>& writes,
                                             const LongForkOptions& options) {
  if (options.group_size <= 0) return absl::InvalidArgumentError("group_size must be positive");
  LongForkResult result;
  result.reads = reads.size();
  // group -> (present keys, read position) of each read of it.
  std::map<int64_t, std::vector<std::pair<std::vector<int64_t>, size_t>>> by_group;
  for (size_t i = 0; i < reads.size(); ++i) {
    const LongForkRead& read = reads[i];
    if (read.values.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("read at ", read.index, " read no keys"));
    }
    int64_t first = read.values.begin()->first;
    int64_t group = first >= 0 ? first / options.group_size : -1;
    bool whole = group >= 0 && static_cast<int64_t>(read.values.size()) == options.group_size;
    for (const auto& [key, value] : read.values) {
      whole = whole && key >= 0 && key / options.group_size == group;
    }
    if (!whole) {
      return absl::InvalidArgumentError(absl::StrCat("read at ", read.index,
                                                     " does not cover exactly one group of ",
                                                     options.group_size, " keys"));
    }
    for (const auto& [key, value] : read.values) {
      if (!value.has_value()) continue;
      auto w = writes.find(key);
      if (w == writes.end() || w->second != *value) {
        result.valid = false;
        ++result.garbage_reads;
        if (result.errors.size() < options.max_reported) {
          result.errors.push_back(absl::StrCat("read at ", read.index, " by process ", read.process,
                                               " saw key ", key, " = ", *value,
                                               ", which nobody wrote"));
        }
      }
    }
    by_group[group].emplace_back(Present(read), i);
  }
  result.groups = by_group.size();
  for (auto& [group, group_reads] : by_group) {
    // All reads are pairwise comparable iff, ordered by size, each is a subset of the
    // next (subset is transitive; comparable sets of equal size are equal).
    std::stable_sort(group_reads.begin(), group_reads.end(),
                     [](const auto& a, const auto& b) { return a.first.size() < b.first.size(); });
    for (size_t j = 1; j < group_reads.size(); ++j) {
      const std::vector<int64_t>& small = group_reads[j - 1].first;
      const std::vector<int64_t>& large = group_reads[j].first;
      if (std::includes(large.begin(), large.end(), small.begin(), small.end())) continue;
      result.valid = false;
      ++result.forks;
      if (result.errors.size() < options.max_reported) {
        std::vector<int64_t> only_small;
        std::vector<int64_t> only_large;
        std::set_difference(small.begin(), small.end(), large.begin(), large.end(),
                            std::back_inserter(only_small));
        std::set_difference(large.begin(), large.end(), small.begin(), small.end(),
                            std::back_inserter(only_large));
        const LongForkRead& a = reads[group_reads[j - 1].second];
        const LongForkRead& b = reads[group_reads[j].second];
        result.errors.push_back(absl::StrCat(
            "long fork in group ", group, ": read at ", a.index, " (process ", a.process, ") saw ",
            DescribeKeys(only_small), " but not ", DescribeKeys(only_large), "; read at ", b.index,
            " (process ", b.process, ") saw ", DescribeKeys(only_large), " but not ",
            DescribeKeys(only_small)));
      }
    }
  }
  return result;
}

}  // namespace rutile::checkers
