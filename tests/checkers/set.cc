#include "checkers/set.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::checkers {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

std::string Head(const std::vector<int64_t>& v) {
  constexpr size_t kShown = 10;
  std::vector<int64_t> shown(v.begin(),
                             v.begin() + static_cast<ptrdiff_t>(std::min(v.size(), kShown)));
  return absl::StrCat("[", absl::StrJoin(shown, " "), v.size() > kShown ? " ..." : "", "]");
}

}  // namespace

std::string SetResult::Summary() const {
  std::string out =
      absl::StrCat(valid ? "valid" : "INVALID", ": adds ok=", adds_ok, " failed=", adds_failed,
                   " unknown=", adds_unknown, " (recovered ", recovered, "), reads=", reads,
                   ", lost ", lost.size(), " ", Head(lost), ", unexpected ", unexpected.size(), " ",
                   Head(unexpected), ", duplicated ", duplicated.size(), " ", Head(duplicated));
  for (const std::string& e : errors) absl::StrAppend(&out, "\n  ", e);
  return out;
}

absl::StatusOr<SetResult> CheckSet(const std::vector<SetAdd>& adds,
                                   const std::vector<SetRead>& reads, const SetOptions& options) {
  SetResult result;
  result.reads = reads.size();
  absl::flat_hash_map<int64_t, const SetAdd*> add_of;
  for (const SetAdd& add : adds) {
    if (!add_of.emplace(add.element, &add).second) {
      return absl::InvalidArgumentError(absl::StrCat("element ", add.element, " added twice"));
    }
    if (add.outcome != SetOutcome::kInfo && add.complete < add.invoke) {
      return absl::InvalidArgumentError(
          absl::StrCat("add of ", add.element, " completes before it is invoked"));
    }
    switch (add.outcome) {
      case SetOutcome::kOk:
        ++result.adds_ok;
        break;
      case SetOutcome::kFail:
        ++result.adds_failed;
        break;
      case SetOutcome::kInfo:
        ++result.adds_unknown;
        break;
    }
  }
  // Element -> the time from which it is known present.
  absl::flat_hash_map<int64_t, int64_t> known;
  for (const SetAdd& add : adds) {
    if (add.outcome == SetOutcome::kOk) known[add.element] = add.complete;
  }
  std::vector<absl::flat_hash_set<int64_t>> contents(reads.size());
  absl::flat_hash_set<int64_t> unexpected;
  absl::flat_hash_set<int64_t> duplicated;
  absl::flat_hash_set<int64_t> recovered;
  for (size_t i = 0; i < reads.size(); ++i) {
    const SetRead& read = reads[i];
    if (read.complete < read.invoke) {
      return absl::InvalidArgumentError(absl::StrCat("read ", i, " completes before it starts"));
    }
    for (int64_t e : read.elements) {
      if (!contents[i].insert(e).second) {
        if (duplicated.insert(e).second && result.errors.size() < options.max_reported) {
          result.errors.push_back(absl::StrCat("read ", i, " lists ", e, " more than once"));
        }
        continue;
      }
      auto a = add_of.find(e);
      if (a == add_of.end() || a->second->outcome == SetOutcome::kFail) {
        if (unexpected.insert(e).second && result.errors.size() < options.max_reported) {
          result.errors.push_back(absl::StrCat(
              "read ", i, " (invoked at ", read.invoke, ") saw ", e,
              a == add_of.end() ? ", which nobody added" : ", whose add definitely failed"));
        }
        continue;
      }
      if (a->second->outcome == SetOutcome::kInfo) recovered.insert(e);
      auto [it, inserted] = known.try_emplace(e, read.complete);
      if (!inserted) it->second = std::min(it->second, read.complete);
    }
  }
  result.recovered = recovered.size();
  // Reads by invocation time, so each element only visits the reads that began after it
  // was known.
  std::vector<size_t> order(reads.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return reads[a].invoke < reads[b].invoke; });
  std::map<int64_t, int64_t> known_sorted(known.begin(), known.end());
  for (const auto& [element, since] : known_sorted) {
    if (since == kNever) continue;
    auto first = std::upper_bound(order.begin(), order.end(), since,
                                  [&](int64_t t, size_t r) { return t < reads[r].invoke; });
    for (auto it = first; it != order.end(); ++it) {
      if (contents[*it].contains(element)) continue;
      result.lost.push_back(element);
      if (result.errors.size() < options.max_reported) {
        result.errors.push_back(absl::StrCat("lost ", element, ": present from ", since,
                                             ", missing from read ", *it, " invoked at ",
                                             reads[*it].invoke));
      }
      break;
    }
  }
  result.unexpected.assign(unexpected.begin(), unexpected.end());
  std::sort(result.unexpected.begin(), result.unexpected.end());
  result.duplicated.assign(duplicated.begin(), duplicated.end());
  std::sort(result.duplicated.begin(), result.duplicated.end());
  result.valid = result.lost.empty() && result.unexpected.empty() && result.duplicated.empty();
  return result;
}

}  // namespace rutile::checkers
