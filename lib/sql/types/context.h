// EvalContext: what type conversion and expression evaluation need from the session and
// statement: the SQL mode, whether the statement writes (which turns data truncation into
// errors under strict mode), the statement's NOW, and the warnings raised so far.
//
// MySQL error codes the types and expressions raise live here too, with helpers that make
// the absl::Status carrying them (sql/errors.h).
//
// Thread safety: an EvalContext belongs to one statement execution; not thread-safe.

#ifndef RUTILE_SQL_TYPES_CONTEXT_H_
#define RUTILE_SQL_TYPES_CONTEXT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "sql/errors.h"
#include "sql/types/time.h"

namespace rutile::sql {

// MySQL error codes (and their SQLSTATEs) raised by types and expressions.
inline constexpr uint16_t kErBadNull = 1048;                      // 23000
inline constexpr uint16_t kErUnknown = 1105;                      // HY000
inline constexpr uint16_t kErWrongArguments = 1210;               // HY000
inline constexpr uint16_t kErWarnDataOutOfRange = 1264;           // 22003
inline constexpr uint16_t kErWarnDataTruncated = 1265;            // 01000
inline constexpr uint16_t kErTruncatedWrongValue = 1292;          // 22007
inline constexpr uint16_t kErWarnAllowedPacketOverflowed = 1301;  // HY000
inline constexpr uint16_t kErSpDoesNotExist = 1305;               // 42000
inline constexpr uint16_t kErDivisionByZero = 1365;               // 22012
inline constexpr uint16_t kErTruncatedWrongValueForField = 1366;  // HY000
inline constexpr uint16_t kErDataTooLong = 1406;                  // 22001
inline constexpr uint16_t kErWrongValueForType = 1411;            // HY000
inline constexpr uint16_t kErWrongParamCountToNativeFct = 1582;   // 42000
inline constexpr uint16_t kErDataOutOfRange = 1690;               // 22003
inline constexpr uint16_t kErInvalidArgumentForLogarithm = 3020;  // 2201E

// The SQLSTATE MySQL pairs with `code` ("HY000" when not listed above).
std::string_view SqlStateFor(uint16_t code);
// An InvalidArgument status carrying MySqlError{code, SqlStateFor(code), message}.
absl::Status MySqlErrorStatus(uint16_t code, std::string message);

// Flags of @@sql_mode that evaluation reads.
struct SqlMode {
  bool strict_trans_tables = true;
  bool strict_all_tables = false;
  bool error_for_division_by_zero = true;
  bool no_zero_date = true;
  bool no_zero_in_date = true;
  bool no_unsigned_subtraction = false;
  bool pipes_as_concat = false;
  bool only_full_group_by = true;

  bool Strict() const { return strict_trans_tables || strict_all_tables; }
  // Parses a comma-separated mode list ("" is all flags off); unknown names are ignored.
  static SqlMode Parse(std::string_view modes);
  // MySQL 8's default mode.
  static SqlMode Default() { return SqlMode(); }
};

enum class WarnLevel : uint8_t { kNote, kWarning, kError };

struct SqlWarning {
  WarnLevel level = WarnLevel::kWarning;
  MySqlError error;
};

class EvalContext {
 public:
  EvalContext() = default;

  SqlMode sql_mode;
  // Set while evaluating values an INSERT/UPDATE stores under a strict mode: truncation,
  // bad values, out-of-range values and (with ERROR_FOR_DIVISION_BY_ZERO) division by
  // zero are errors instead of warnings.
  bool strict_writes = false;
  // The statement's NOW(), given by the session.
  Time now = Time::FromDatetime(2000, 1, 1, 0, 0, 0);
  // max_allowed_packet: string functions return NULL with a warning beyond it.
  int64_t max_allowed_packet = 64 << 20;
  // Warnings beyond this many are counted but not kept (max_error_count).
  size_t max_warnings = 1024;

  void AppendWarning(uint16_t code, std::string message);
  void AppendNote(uint16_t code, std::string message);
  // Appends another context's warnings: `kept` in order, and `count` in all (count >=
  // kept.size(): that context counted some past its max_warnings without keeping them).
  void AppendWarnings(std::span<const SqlWarning> kept, size_t count);
  // A data conversion problem: an error when strict_writes, else a warning.
  absl::Status HandleTruncate(uint16_t code, std::string message);
  // Division by zero: NULL plus a warning, or an error when strict_writes and
  // ERROR_FOR_DIVISION_BY_ZERO.
  absl::Status HandleDivisionByZero();

  const std::vector<SqlWarning>& warnings() const { return warnings_; }
  size_t warning_count() const { return warning_count_; }
  void ClearWarnings() {
    warnings_.clear();
    warning_count_ = 0;
  }

 private:
  std::vector<SqlWarning> warnings_;
  size_t warning_count_ = 0;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_CONTEXT_H_
