// A small runner for datadriven test scripts, in the format of cockroachdb/datadriven as
// used by etcd-io/raft's interaction tests. A script is a sequence of directives:
//
//   # comment
//   command arg1=val key=(a,b) flag
//   optional input lines
//   ----
//   expected output
//   <blank line>
//
// When the expected output itself contains blank lines it is enclosed in a second
// separator: "----\n----\n<output>\n----\n----".
//
// RunTest calls the handler for each directive and fails the current GoogleTest test on
// any difference. With the environment variable RUTILE_REWRITE=1 it instead rewrites the
// file with the actual outputs — which must then be read by a human, that being the
// point of the format.
//
// Not thread-safe; intended for test code only.

#ifndef RUTILE_TESTS_TESTUTIL_DATADRIVEN_H_
#define RUTILE_TESTS_TESTUTIL_DATADRIVEN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace rutile::testutil {

struct CmdArg {
  std::string key;
  // Empty for a bare flag; one value for key=val; several for key=(a,b,c).
  std::vector<std::string> vals;
};

struct TestData {
  // "file:line" of the command, for messages.
  std::string pos;
  std::string cmd;
  std::vector<CmdArg> cmd_args;
  // Lines between the command and the separator, joined with '\n' (no trailing newline).
  std::string input;
  // The expected output as written in the file.
  std::string expected;

  bool HasArg(absl::string_view key) const;
  // Returns the argument or nullptr.
  const CmdArg* Arg(absl::string_view key) const;
  // Reads the single value of `key` as an integer; returns false when absent. Aborts the
  // test (via a fatal GoogleTest failure) when the value is not an integer.
  bool ScanUint(absl::string_view key, uint64_t* out) const;
  bool ScanInt(absl::string_view key, int64_t* out) const;
  bool ScanString(absl::string_view key, std::string* out) const;
  bool ScanBool(absl::string_view key, bool* out) const;
};

// Parses `cmd_line` ("command a=1 b=(2,3) c") into a TestData's cmd and cmd_args.
bool ParseCommandLine(absl::string_view cmd_line, std::string* cmd, std::vector<CmdArg>* args,
                      std::string* error);

// Parses a whole script. Returns false and sets `error` on malformed input.
bool ParseScript(absl::string_view text, const std::string& file_name, std::vector<TestData>* out,
                 std::string* error);

// Formats one directive back into script form (used by rewrite and by tests).
std::string FormatDirective(const TestData& d, absl::string_view output);

// Runs every directive of the script at `path` through `handler`, comparing (or, with
// RUTILE_REWRITE=1, rewriting) the expected output. A trailing newline in the handler's
// output is ignored.
void RunTest(const std::string& path, const std::function<std::string(const TestData&)>& handler);

// The *.txt files directly in `dir`, sorted.
std::vector<std::string> ListScripts(const std::string& dir);

// The directory holding this source tree's test data: $RUTILE_SOURCE_DIR/tests/<sub> when
// set, otherwise the compile-time source directory.
std::string TestDataDir(const std::string& sub);

}  // namespace rutile::testutil

#endif  // RUTILE_TESTS_TESTUTIL_DATADRIVEN_H_
