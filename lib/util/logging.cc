#include "util/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cctype>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>

namespace rutile {
namespace {

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

LogLevel FromSpdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return LogLevel::kTrace;
    case spdlog::level::debug:
      return LogLevel::kDebug;
    case spdlog::level::info:
      return LogLevel::kInfo;
    case spdlog::level::warn:
      return LogLevel::kWarn;
    case spdlog::level::err:
    case spdlog::level::critical:
      return LogLevel::kError;
    default:
      return LogLevel::kOff;
  }
}

// The logger's only sink. It forwards each record to the current target: a LogSink
// callback or an spdlog sink (stderr by default). base_sink's mutex serializes records
// and target changes.
class DispatchSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  DispatchSink() : default_sink_(std::make_shared<spdlog::sinks::stderr_sink_mt>()) {
    target_ = default_sink_;
  }

  void SetCallback(LogSink sink) {
    std::lock_guard<std::mutex> lock(mutex_);
    callback_ = std::move(sink);
    target_ = callback_ ? nullptr : default_sink_;
  }

  void SetTarget(std::shared_ptr<spdlog::sinks::sink> sink) {
    std::lock_guard<std::mutex> lock(mutex_);
    callback_ = nullptr;
    target_ = sink ? std::move(sink) : default_sink_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (callback_) {
      LogRecord record;
      record.level = FromSpdlog(msg.level);
      record.message = std::string_view(msg.payload.data(), msg.payload.size());
      record.file = msg.source.filename != nullptr ? msg.source.filename : "";
      record.line = msg.source.line;
      callback_(record);
      return;
    }
    if (target_ != nullptr && target_->should_log(msg.level)) target_->log(msg);
  }

  void flush_() override {
    if (target_ != nullptr) target_->flush();
  }

 private:
  const std::shared_ptr<spdlog::sinks::sink> default_sink_;
  std::shared_ptr<spdlog::sinks::sink> target_;
  LogSink callback_;
};

struct State {
  std::shared_ptr<DispatchSink> sink = std::make_shared<DispatchSink>();
  spdlog::logger logger{"rutile", sink};
};

State& GetState() {
  // Leaked on purpose: logging must keep working during static destruction.
  static State* state = [] {
    auto* s = new State;
    s->logger.set_level(spdlog::level::info);
    s->logger.flush_on(spdlog::level::warn);
    LogLevel level;
    if (const char* env = std::getenv("RUTILE_LOG_LEVEL");
        env != nullptr && ParseLogLevel(env, &level)) {
      s->logger.set_level(ToSpdlog(level));
    }
    return s;
  }();
  return *state;
}

}  // namespace

namespace logging_internal {

spdlog::logger& Logger() { return GetState().logger; }

}  // namespace logging_internal

void SetLogSink(LogSink sink) { GetState().sink->SetCallback(std::move(sink)); }

void SetSpdlogSink(std::shared_ptr<spdlog::sinks::sink> sink) {
  GetState().sink->SetTarget(std::move(sink));
}

void SetLogLevel(LogLevel level) { GetState().logger.set_level(ToSpdlog(level)); }

LogLevel GetLogLevel() { return FromSpdlog(GetState().logger.level()); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},  {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},   {"warning", LogLevel::kWarn}, {"error", LogLevel::kError},
      {"off", LogLevel::kOff},
  };
  for (const auto& [name, value] : kNames) {
    if (lower == name) {
      *level = value;
      return true;
    }
  }
  return false;
}

}  // namespace rutile
