// A checker for Jepsen's set workload (in the shape of its set-full checker): clients add
// unique elements and read the whole set. Times are positions in one real-time order of
// events (a call's invocation and completion, a counter or virtual clock).
//
// An element is known present from the earlier of its add's acknowledgement and the
// completion of the first read that saw it. It is LOST when a read invoked after that
// point does not contain it: nothing may be lost, and every acknowledged add must be in
// the final read. An element read that nobody tried to add, or whose add definitely
// failed, is UNEXPECTED (invented). Adds whose outcome is unknown may show up or not;
// those seen count as recovered. A read listing an element twice is a DUPLICATE.
//
// Thread safety: CheckSet is a pure function.

#ifndef RUTILE_TESTS_CHECKERS_SET_H_
#define RUTILE_TESTS_CHECKERS_SET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rutile::checkers {

enum class SetOutcome { kOk, kFail, kInfo };

struct SetAdd {
  int64_t element = 0;
  int64_t invoke = 0;
  // Completion time; ignored for kInfo (the add may take effect at any later time).
  int64_t complete = 0;
  SetOutcome outcome = SetOutcome::kOk;
};

// One successful read of the whole set.
struct SetRead {
  int64_t invoke = 0;
  int64_t complete = 0;
  std::vector<int64_t> elements;
};

struct SetOptions {
  size_t max_reported = 5;
};

struct SetResult {
  bool valid = true;
  size_t adds_ok = 0;
  size_t adds_failed = 0;
  size_t adds_unknown = 0;
  // Unknown adds some read saw.
  size_t recovered = 0;
  size_t reads = 0;
  // Distinct elements lost / unexpected / duplicated, and examples.
  std::vector<int64_t> lost;
  std::vector<int64_t> unexpected;
  std::vector<int64_t> duplicated;
  std::vector<std::string> errors;

  std::string Summary() const;
};

// InvalidArgument when two adds share an element, or an event completes before it starts.
absl::StatusOr<SetResult> CheckSet(const std::vector<SetAdd>& adds,
                                   const std::vector<SetRead>& reads, const SetOptions& options);

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_SET_H_
