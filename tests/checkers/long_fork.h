// A checker for Jepsen's long-fork workload. Writers insert single fresh keys (each key
// is written at most once); readers read a whole group of keys (group = key / group_size)
// in one transaction. Under snapshot isolation every transaction reads one prefix of a
// single total order of commits, so any two reads of a group are comparable: the keys one
// saw present are a subset of those the other saw. Two reads that each saw a write the
// other missed observed the writes in incomparable orders: a long fork (parallel snapshot
// isolation allows it, snapshot isolation does not).
//
// Also reported: a read of a value nobody wrote to that key, and a read that does not
// cover exactly one whole group (a malformed history).
//
// Thread safety: CheckLongFork is a pure function.

#ifndef RUTILE_TESTS_CHECKERS_LONG_FORK_H_
#define RUTILE_TESTS_CHECKERS_LONG_FORK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rutile::checkers {

// One successful read of a group.
struct LongForkRead {
  int64_t index = 0;  // Position in the history (for messages).
  int64_t process = 0;
  // Every key of the group -> the value read (std::nullopt: not present).
  std::map<int64_t, std::optional<int64_t>> values;
};

struct LongForkOptions {
  int64_t group_size = 10;
  // At most this many forks are described.
  size_t max_reported = 5;
};

struct LongForkResult {
  bool valid = true;
  size_t reads = 0;
  size_t groups = 0;
  // Pairs of incomparable reads found (at least one per forked group).
  size_t forks = 0;
  // Reads of values never written to that key.
  size_t garbage_reads = 0;
  std::vector<std::string> errors;

  std::string Summary() const;
};

// `writes`: every value any writer attempted to write, by key (acknowledged or not).
// InvalidArgument when a read does not cover exactly one whole group.
absl::StatusOr<LongForkResult> CheckLongFork(const std::vector<LongForkRead>& reads,
                                             const std::map<int64_t, int64_t>& writes,
                                             const LongForkOptions& options);

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_LONG_FORK_H_
