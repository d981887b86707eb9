// Rutile's internal logging: spdlog behind a handful of macros. Messages use fmt syntax:
//
//   RUTILE_LOG_INFO("region {} split at {}", region_id, HexKey(key));
//
// Arguments are evaluated only when the level is enabled (one relaxed atomic load
// otherwise). Host control (level, sink) is the public API in rutile/logging.h; hosts
// that already use spdlog can attach one of their sinks with SetSpdlogSink.
//
// Thread safety: the macros and every function here may be used from any thread.

#ifndef RUTILE_UTIL_LOGGING_H_
#define RUTILE_UTIL_LOGGING_H_

#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <memory>

#include "rutile/logging.h"

namespace rutile {

// Sends records to an spdlog sink (its own level and formatter apply) instead of stderr
// or a LogSink callback. nullptr restores the default stderr output.
void SetSpdlogSink(std::shared_ptr<spdlog::sinks::sink> sink);

namespace logging_internal {

// The process-wide logger. Never destroyed, so logging from static destructors is safe.
spdlog::logger& Logger();

}  // namespace logging_internal
}  // namespace rutile

#define RUTILE_LOG_AT_(spd_level, ...)                                                             \
  do {                                                                                             \
    ::spdlog::logger& rutile_log_logger_ = ::rutile::logging_internal::Logger();                   \
    if (rutile_log_logger_.should_log(spd_level)) {                                                \
      rutile_log_logger_.log(                                                                      \
          ::spdlog::source_loc{__FILE__, __LINE__, static_cast<const char*>(__func__)}, spd_level, \
          __VA_ARGS__);                                                                            \
    }                                                                                              \
  } while (0)

#define RUTILE_LOG_TRACE(...) RUTILE_LOG_AT_(::spdlog::level::trace, __VA_ARGS__)
#define RUTILE_LOG_DEBUG(...) RUTILE_LOG_AT_(::spdlog::level::debug, __VA_ARGS__)
#define RUTILE_LOG_INFO(...) RUTILE_LOG_AT_(::spdlog::level::info, __VA_ARGS__)
#define RUTILE_LOG_WARN(...) RUTILE_LOG_AT_(::spdlog::level::warn, __VA_ARGS__)
#define RUTILE_LOG_ERROR(...) RUTILE_LOG_AT_(::spdlog::level::err, __VA_ARGS__)

#endif  // RUTILE_UTIL_LOGGING_H_
