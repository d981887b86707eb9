// Readers for the published linearizability test vectors
// (../shared/testdata/checkers/linearizability): Jepsen's etcd logs, as
// porcupine parses them, and porcupine's kv histories (one EDN map per line).

#ifndef RUTILE_TESTS_CHECKERS_JEPSEN_LOGS_H_
#define RUTILE_TESTS_CHECKERS_JEPSEN_LOGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "checkers/models.h"

namespace rutile::checkers {

// Reads a whole file.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses lines like `INFO  jepsen.util - 3 :invoke :cas [1 4]` (tabs or spaces).
// Times are line numbers. `:ok` and `:fail` complete the process's pending
// operation (`:fail :read :timed-out` completes it with an unknown output);
// `:info` lines are ignored, so the operation stays pending and returns at
// kInfiniteTime with an unknown output, as for a process that never returns.
absl::StatusOr<std::vector<RegisterOp>> ParseEtcdLog(absl::string_view text);

// Parses `{:process 0, :type :invoke|:ok|:fail|:info, :f :get|:put|:append,
// :key "4", :value "..."}` lines. Operations without a completion, or completed
// with :info, have an unknown outcome.
absl::StatusOr<std::vector<KvOp>> ParseKvLog(absl::string_view text);

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_JEPSEN_LOGS_H_
