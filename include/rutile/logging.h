// Host control over Rutile's log output. Rutile logs through one process-wide logger;
// by default records at level Info and above go to stderr. A host may raise or lower the
// level and send records to its own logging instead.
//
// The initial level may also be set with the environment variable RUTILE_LOG_LEVEL
// (trace, debug, info, warn, error, off), read when the logger is first used.
//
// Thread safety: every function here may be called from any thread at any time; records
// logged concurrently with a change go either to the old or to the new sink.

#ifndef RUTILE_LOGGING_H_
#define RUTILE_LOGGING_H_

#include <functional>
#include <string_view>

namespace rutile {

enum class LogLevel : int {
  kTrace = 0,
  kDebug = 1,
  kInfo = 2,
  kWarn = 3,
  kError = 4,
  kOff = 5,
};

// One log record as handed to a LogSink. The views are valid only during the call.
struct LogRecord {
  LogLevel level;
  // The formatted message, without a trailing newline.
  std::string_view message;
  // Source file and line of the logging statement (file may be empty).
  std::string_view file;
  int line = 0;
};

// Receives log records. Calls are serialized (never two at once). A sink must not log
// through Rutile itself, and should return quickly: the logging thread waits for it.
using LogSink = std::function<void(const LogRecord&)>;

// Sends every record at or above the current level to `sink` instead of stderr. An
// empty `sink` restores the default stderr output.
void SetLogSink(LogSink sink);

// Records below `level` are dropped without being formatted. kOff drops everything.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// "trace", "debug", "info", "warn", "error", "off" (case-insensitive); returns false and
// leaves *level unchanged for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

}  // namespace rutile

#endif  // RUTILE_LOGGING_H_
