// Validates the linearizability checker on published histories with known
// verdicts: Jepsen's etcd logs (porcupine's test data, 102 logs) and
// porcupine's kv histories.

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "checkers/jepsen_logs.h"
#include "checkers/linearizability.h"
#include "checkers/models.h"
#include "checkers/test_util.h"
#include "gtest/gtest.h"

namespace rutile::checkers {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(EtcdVectors, EveryLogGetsItsPublishedVerdict) {
  const std::string dir = CheckerTestdataDir() + "/linearizability/etcd";
  absl::StatusOr<std::string> verdicts = ReadFileToString(dir + "/VERDICTS.txt");
  ASSERT_TRUE(verdicts.ok()) << verdicts.status();
  RegisterModel model;
  int checked = 0, linearizable = 0;
  double slowest = 0;
  std::string slowest_name;
  auto all_start = std::chrono::steady_clock::now();
  for (absl::string_view line : absl::StrSplit(*verdicts, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    ASSERT_EQ(parts.size(), 2u) << line;
    const bool expected = parts[1] == "linearizable";
    ASSERT_TRUE(expected || parts[1] == "not-linearizable") << line;
    absl::StatusOr<std::string> text = ReadFileToString(dir + "/" + parts[0]);
    ASSERT_TRUE(text.ok()) << text.status();
    absl::StatusOr<std::vector<RegisterOp>> ops = ParseEtcdLog(*text);
    ASSERT_TRUE(ops.ok()) << parts[0] << ": " << ops.status();
    auto start = std::chrono::steady_clock::now();
    LinearizabilityReport report = CheckLinearizable<std::optional<int64_t>>(
        model, absl::MakeConstSpan(*ops), {.timeout = absl::Seconds(30)});
    double secs = Seconds(start);
    if (secs > slowest) {
      slowest = secs;
      slowest_name = parts[0];
    }
    EXPECT_EQ(report.result, expected ? CheckResult::kOk : CheckResult::kIllegal)
        << parts[0] << " (" << ops->size() << " ops): " << CheckResultName(report.result) << " "
        << report.explanation;
    if (report.result == CheckResult::kIllegal) {
      EXPECT_NE(report.explanation.find("longest linearizable prefix"), std::string::npos);
    }
    ++checked;
    linearizable += expected;
  }
  EXPECT_EQ(checked, 102);
  EXPECT_EQ(linearizable, 23);
  std::printf("etcd: %d logs in %.3fs, slowest %s %.3fs\n", checked, Seconds(all_start),
              slowest_name.c_str(), slowest);
}

TEST(EtcdVectors, IllegalLogExplainsItself) {
  absl::StatusOr<std::string> text =
      ReadFileToString(CheckerTestdataDir() + "/linearizability/etcd/etcd_000.log");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::vector<RegisterOp>> ops = ParseEtcdLog(*text);
  ASSERT_TRUE(ops.ok());
  LinearizabilityReport report =
      CheckLinearizable<std::optional<int64_t>>(RegisterModel(), absl::MakeConstSpan(*ops));
  ASSERT_EQ(report.result, CheckResult::kIllegal);
  ASSERT_EQ(report.partitions.size(), 1u);
  EXPECT_GT(report.partitions[0].longest_prefix.size(), 0u);
  EXPECT_LT(report.partitions[0].longest_prefix.size(), ops->size());
  std::printf("etcd_000: %s\n", report.explanation.c_str());
}

struct KvCase {
  const char* name;
  bool linearizable;
};

class KvVectors : public testing::TestWithParam<KvCase> {};

TEST_P(KvVectors, MatchesPublishedVerdict) {
  absl::StatusOr<std::string> text =
      ReadFileToString(CheckerTestdataDir() + "/linearizability/kv/" + GetParam().name + ".txt");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::vector<KvOp>> ops = ParseKvLog(*text);
  ASSERT_TRUE(ops.ok()) << ops.status();
  auto start = std::chrono::steady_clock::now();
  LinearizabilityReport report = CheckLinearizable<std::optional<std::string>>(
      KvModel(/*absent_reads_empty=*/true), absl::MakeConstSpan(*ops),
      {.timeout = absl::Seconds(30)});
  EXPECT_EQ(report.result, GetParam().linearizable ? CheckResult::kOk : CheckResult::kIllegal)
      << CheckResultName(report.result) << " " << report.explanation;
  EXPECT_GT(report.partitions.size(), 1u);  // Checked per key.
  std::printf("kv %s: %zu ops, %zu partitions, %s in %.3fs %s\n", GetParam().name, ops->size(),
              report.partitions.size(), CheckResultName(report.result), Seconds(start),
              report.explanation.substr(0, 300).c_str());
}

INSTANTIATE_TEST_SUITE_P(All, KvVectors,
                         testing::Values(KvCase{"c01-ok", true}, KvCase{"c01-bad", false},
                                         KvCase{"c10-ok", true}, KvCase{"c10-bad", false},
                                         KvCase{"c50-ok", true}, KvCase{"c50-bad", false}),
                         [](const testing::TestParamInfo<KvCase>& info) {
                           std::string n = info.param.name;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace rutile::checkers
