#include "util/failpoint.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rutile/env.h"
#include "rutile/logging.h"

namespace rutile::failpoint {
namespace {

class FailPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CompiledIn()) GTEST_SKIP() << "failpoints compiled out";
    RemoveAll();
  }
  void TearDown() override {
    RemoveAll();
    SetEnv(nullptr);
  }
};

std::optional<std::string> Hit(const char* name) { return RUTILE_FAIL_POINT_VALUE(name); }

absl::Status GuardedOperation() {
  RUTILE_FAIL_POINT_RETURN("op_fail",
                           [](const std::string& v) { return absl::UnavailableError(v); });
  return absl::OkStatus();
}

TEST_F(FailPointTest, UnconfiguredFailPointDoesNothing) {
  EXPECT_EQ(Hit("nobody"), std::nullopt);
  RUTILE_FAIL_POINT("nobody");
  EXPECT_EQ(Evaluations("nobody"), 0u);
  EXPECT_TRUE(List().empty());
}

TEST_F(FailPointTest, ReturnYieldsTheArgument) {
  ASSERT_TRUE(Configure("a", "return(hello)").ok());
  ASSERT_TRUE(Configure("b", "return").ok());
  EXPECT_EQ(Hit("a"), "hello");
  EXPECT_EQ(Hit("b"), "");
  EXPECT_EQ(Hit("c"), std::nullopt);
  EXPECT_EQ(Evaluations("a"), 1u);
}

TEST_F(FailPointTest, ReturnMacroReturnsFromTheCaller) {
  EXPECT_TRUE(GuardedOperation().ok());
  ScopedFailPoint fp("op_fail", "return(injected)");
  ASSERT_TRUE(fp.ok());
  absl::Status s = GuardedOperation();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "injected");
}

TEST_F(FailPointTest, ScopedFailPointRemovesOnExit) {
  {
    ScopedFailPoint fp("scoped", "return(1)");
    ASSERT_TRUE(fp.ok());
    EXPECT_EQ(Hit("scoped"), "1");
  }
  EXPECT_EQ(Hit("scoped"), std::nullopt);
  EXPECT_TRUE(List().empty());
}

TEST_F(FailPointTest, CountLimitsTheAction) {
  ASSERT_TRUE(Configure("n", "2*return(x)").ok());
  EXPECT_EQ(Hit("n"), "x");
  EXPECT_EQ(Hit("n"), "x");
  EXPECT_EQ(Hit("n"), std::nullopt);
  EXPECT_EQ(Hit("n"), std::nullopt);
  EXPECT_EQ(Evaluations("n"), 4u);
}

TEST_F(FailPointTest, ChainRunsTheFirstAvailableAction) {
  ASSERT_TRUE(Configure("c", "1*return(1)->return(2)").ok());
  EXPECT_EQ(Hit("c"), "1");
  EXPECT_EQ(Hit("c"), "2");
  EXPECT_EQ(Hit("c"), "2");
  // `off` consumes its count too, so this skips two evaluations and then returns.
  ASSERT_TRUE(Configure("d", "2*off->return(z)").ok());
  EXPECT_EQ(Hit("d"), std::nullopt);
  EXPECT_EQ(Hit("d"), std::nullopt);
  EXPECT_EQ(Hit("d"), "z");
}

TEST_F(FailPointTest, ReconfigureResetsCountsAndEvaluations) {
  ASSERT_TRUE(Configure("r", "1*return(a)").ok());
  EXPECT_EQ(Hit("r"), "a");
  EXPECT_EQ(Hit("r"), std::nullopt);
  ASSERT_TRUE(Configure("r", "1*return(b)").ok());
  EXPECT_EQ(Evaluations("r"), 0u);
  EXPECT_EQ(Hit("r"), "b");
  EXPECT_TRUE(Remove("r"));
  EXPECT_FALSE(Remove("r"));
  EXPECT_EQ(Hit("r"), std::nullopt);
}

TEST_F(FailPointTest, ListShowsNamesAndSpecsSorted) {
  ASSERT_TRUE(Configure("zeta", " 1*return(1) -> sleep(5) ").ok());
  ASSERT_TRUE(Configure("alpha", "pause").ok());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"alpha", "pause"}, {"zeta", "1*return(1) -> sleep(5)"}};
  EXPECT_EQ(List(), want);
}

TEST_F(FailPointTest, ProbabilityDrawsFromTheEnvAndIsDeterministic) {
  auto pattern = [](uint64_t seed) {
    SimEnv sim(SimEnvOptions{.seed = seed});
    SetEnv(&sim);
    EXPECT_TRUE(Configure("p", "50%return(1)").ok());
    std::string hits;
    for (int i = 0; i < 10000; ++i) hits.push_back(Hit("p").has_value() ? '1' : '0');
    SetEnv(nullptr);
    return hits;
  };
  const std::string a = pattern(7);
  const std::string b = pattern(7);
  const std::string c = pattern(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto ones = std::count(a.begin(), a.end(), '1');
  EXPECT_GT(ones, 4500);
  EXPECT_LT(ones, 5500);

  SimEnv sim;
  SetEnv(&sim);
  ASSERT_TRUE(Configure("never", "0%return").ok());
  ASSERT_TRUE(Configure("limited", "20%3*return(1)").ok());
  int never = 0, limited = 0;
  for (int i = 0; i < 1000; ++i) {
    never += Hit("never").has_value();
    limited += Hit("limited").has_value();
  }
  EXPECT_EQ(never, 0);
  EXPECT_EQ(limited, 3);
}

TEST_F(FailPointTest, SleepUsesTheEnvClock) {
  SimEnv sim;
  SetEnv(&sim);
  ASSERT_TRUE(Configure("s", "sleep(10)").ok());
  uint64_t slept = 0;
  sim.Spawn([&] {
    const uint64_t start = sim.NowMicros();
    RUTILE_FAIL_POINT("s");
    slept = sim.NowMicros() - start;
  });
  sim.RunUntilIdle();
  EXPECT_EQ(slept, 10'000u);
}

TEST_F(FailPointTest, PauseBlocksUntilRemovedOrReconfigured) {
  SimEnv sim;
  SetEnv(&sim);
  ASSERT_TRUE(Configure("hold", "pause").ok());
  int passed = 0;
  for (int i = 0; i < 2; ++i) {
    sim.Spawn([&] {
      RUTILE_FAIL_POINT("hold");
      ++passed;
    });
  }
  sim.RunFor(1'000'000);
  EXPECT_EQ(passed, 0);
  EXPECT_EQ(Evaluations("hold"), 2u);

  // Reconfiguring releases the fibers paused on the old configuration.
  ASSERT_TRUE(Configure("hold", "return(1)").ok());
  sim.RunUntilIdle();
  EXPECT_EQ(passed, 2);

  ASSERT_TRUE(Configure("hold", "pause").ok());
  sim.Spawn([&] {
    RUTILE_FAIL_POINT("hold");
    ++passed;
  });
  sim.RunFor(1'000'000);
  EXPECT_EQ(passed, 2);
  EXPECT_TRUE(Remove("hold"));
  sim.RunUntilIdle();
  EXPECT_EQ(passed, 3);
}

TEST_F(FailPointTest, PrintLogsNameAndArgument) {
  std::vector<std::string> lines;
  SetLogSink([&](const LogRecord& r) { lines.emplace_back(r.message); });
  ASSERT_TRUE(Configure("loud", "print(hello there)").ok());
  EXPECT_EQ(Hit("loud"), std::nullopt);
  SetLogSink(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "failpoint loud triggered: hello there");
}

TEST_F(FailPointTest, PanicAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_TRUE(Configure("boom", "panic(bad state)").ok());
  EXPECT_DEATH(RUTILE_FAIL_POINT("boom"), "failpoint boom panic: bad state");
}

TEST_F(FailPointTest, MalformedSpecsAreInvalidArgumentAndChangeNothing) {
  ASSERT_TRUE(Configure("keep", "return(1)").ok());
  struct Case {
    const char* spec;
    const char* hint;
  };
  const Case cases[] = {
      {"", "empty"},
      {"retrun(1)", "unknown task \"retrun\""},
      {"sleep", "milliseconds"},
      {"sleep(abc)", "milliseconds"},
      {"sleep(-1)", "milliseconds"},
      {"150%return", "probability"},
      {"x%return", "probability"},
      {"-1*return", "count"},
      {"a*return", "count"},
      {"pause(1)", "takes no argument"},
      {"return(1", "parentheses"},
      {"1*return(1)->", "empty action"},
  };
  for (const Case& c : cases) {
    absl::Status s = Configure("keep", c.spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.spec;
    EXPECT_NE(s.message().find(c.hint), std::string::npos) << c.spec << ": " << s;
  }
  EXPECT_EQ(Configure("", "return").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Configure("a b", "return").code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::pair<std::string, std::string>> want = {{"keep", "return(1)"}};
  EXPECT_EQ(List(), want);
  EXPECT_EQ(Hit("keep"), "1");
}

TEST_F(FailPointTest, ConfigureAllIsAllOrNothing) {
  ASSERT_TRUE(ConfigureAll("a=return(1); b=pause ;c=return(x;y->z)").ok());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"a", "return(1)"}, {"b", "pause"}, {"c", "return(x;y->z)"}};
  EXPECT_EQ(List(), want);
  EXPECT_EQ(Hit("c"), "x;y->z");

  RemoveAll();
  absl::Status s = ConfigureAll("a=return(1);b=bogus");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("failpoint b"), std::string::npos) << s;
  s = ConfigureAll("a=return(1);justaname");
  EXPECT_NE(s.message().find("name=spec"), std::string::npos) << s;
  EXPECT_TRUE(List().empty());
}

// Runs this binary again with RUTILE_FAILPOINTS set, executing only the
// FailPointEnvironmentChild tests, which check what the variable configured at startup.
int RunChild(const char* failpoints, const char* expect) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("RUTILE_FAILPOINTS", failpoints, 1);
    setenv("RUTILE_FP_TEST_EXPECT", expect, 1);
    const char* argv[] = {"failpoint_test", "--gtest_filter=FailPointEnvironmentChild.*", nullptr};
    execv("/proc/self/exe", const_cast<char* const*>(argv));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(FailPointTest, EnvironmentVariableConfiguresAtStartup) {
  EXPECT_EQ(RunChild("env_a=return(7);env_b=1*off->return", "valid"), 0);
  EXPECT_EQ(RunChild("env_a=return(7);env_b=nonsense", "invalid"), 0);
}

TEST(FailPointEnvironmentChild, AppliedFromEnvironment) {
  const char* expect = std::getenv("RUTILE_FP_TEST_EXPECT");
  if (expect == nullptr) GTEST_SKIP() << "runs only as a child of the test above";
  if (!CompiledIn()) GTEST_SKIP();
  if (std::string(expect) == "valid") {
    EXPECT_TRUE(EnvironmentStatus().ok()) << EnvironmentStatus();
    const std::vector<std::pair<std::string, std::string>> want = {{"env_a", "return(7)"},
                                                                   {"env_b", "1*off->return"}};
    EXPECT_EQ(List(), want);
    EXPECT_EQ(Hit("env_a"), "7");
  } else {
    absl::Status s = EnvironmentStatus();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("RUTILE_FAILPOINTS"), std::string::npos) << s;
    EXPECT_NE(s.message().find("nonsense"), std::string::npos) << s;
    EXPECT_TRUE(List().empty());
  }
}

TEST(FailPointCompiledOutTest, MacrosDoNothingAndConfigureFails) {
  if (CompiledIn()) GTEST_SKIP() << "runs in builds with RUTILE_FAILPOINTS=OFF";
  int evaluated = 0;
  auto name = [&] {
    ++evaluated;
    return "x";
  };
  RUTILE_FAIL_POINT(name());
  EXPECT_EQ(RUTILE_FAIL_POINT_VALUE(name()), std::nullopt);
  EXPECT_EQ(evaluated, 0);
  EXPECT_EQ(Configure("x", "return(1)").code(), absl::StatusCode::kFailedPrecondition);
  ScopedFailPoint fp("x", "return(1)");
  EXPECT_FALSE(fp.ok());
  EXPECT_TRUE(List().empty());
}

}  // namespace
}  // namespace rutile::failpoint
