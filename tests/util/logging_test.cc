#include "util/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <string>
#include <vector>

#include "rutile/logging.h"

namespace rutile {
namespace {

struct Captured {
  LogLevel level;
  std::string message;
  std::string file;
  int line;
};

// Routes records into a vector for one test and restores defaults afterwards.
class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = GetLogLevel();
    SetLogLevel(LogLevel::kTrace);
    SetLogSink([this](const LogRecord& r) {
      records_.push_back({r.level, std::string(r.message), std::string(r.file), r.line});
    });
  }
  void TearDown() override {
    SetLogSink(nullptr);
    SetLogLevel(saved_level_);
  }

  std::vector<Captured> records_;
  LogLevel saved_level_ = LogLevel::kInfo;
};

TEST_F(LoggingTest, MacrosFormatAndCarryLevelAndSourceLocation) {
  const int line = __LINE__ + 1;
  RUTILE_LOG_INFO("region {} split at {}", 7, "k");
  RUTILE_LOG_WARN("warn {}", 1.5);
  RUTILE_LOG_ERROR("plain");
  RUTILE_LOG_DEBUG("dbg");
  RUTILE_LOG_TRACE("trc");
  ASSERT_EQ(records_.size(), 5u);
  EXPECT_EQ(records_[0].level, LogLevel::kInfo);
  EXPECT_EQ(records_[0].message, "region 7 split at k");
  EXPECT_EQ(records_[0].line, line);
  EXPECT_NE(records_[0].file.find("logging_test.cc"), std::string::npos) << records_[0].file;
  EXPECT_EQ(records_[1].level, LogLevel::kWarn);
  EXPECT_EQ(records_[1].message, "warn 1.5");
  EXPECT_EQ(records_[2].level, LogLevel::kError);
  EXPECT_EQ(records_[3].level, LogLevel::kDebug);
  EXPECT_EQ(records_[4].level, LogLevel::kTrace);
}

TEST_F(LoggingTest, LevelFiltersAndSkipsArgumentEvaluation) {
  SetLogLevel(LogLevel::kWarn);
  EXPECT_EQ(GetLogLevel(), LogLevel::kWarn);
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  RUTILE_LOG_INFO("dropped {}", count());
  RUTILE_LOG_DEBUG("dropped {}", count());
  EXPECT_EQ(evaluated, 0);
  RUTILE_LOG_WARN("kept {}", count());
  EXPECT_EQ(evaluated, 1);
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].message, "kept 1");

  SetLogLevel(LogLevel::kOff);
  RUTILE_LOG_ERROR("dropped too");
  EXPECT_EQ(records_.size(), 1u);
}

TEST_F(LoggingTest, SpdlogSinkReceivesFormattedRecordsAndCallbackStops) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_pattern("%l|%v");
  SetSpdlogSink(sink);
  RUTILE_LOG_INFO("to spdlog {}", 42);
  EXPECT_EQ(out.str(), "info|to spdlog 42\n");
  EXPECT_TRUE(records_.empty());

  // A callback replaces the spdlog sink; nullptr goes back to stderr (no crash).
  SetLogSink([this](const LogRecord& r) {
    records_.push_back({r.level, std::string(r.message), "", 0});
  });
  RUTILE_LOG_INFO("to callback");
  EXPECT_EQ(out.str(), "info|to spdlog 42\n");
  ASSERT_EQ(records_.size(), 1u);
  SetSpdlogSink(nullptr);
  RUTILE_LOG_INFO("to stderr");
  EXPECT_EQ(records_.size(), 1u);
}

TEST(LogLevelTest, Parse) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("DEBUG", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("off", &level));
  EXPECT_EQ(level, LogLevel::kOff);
  EXPECT_TRUE(ParseLogLevel("warning", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
}

}  // namespace
}  // namespace rutile
