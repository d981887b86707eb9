// MySQL error identity carried on an absl::Status.
//
// SQL errors reach clients as MySQL's (code, SQLSTATE, message) triple. Inside Rutile they
// travel as ordinary absl::Status values whose canonical code follows DESIGN.md section 13
// (InvalidArgument for bad SQL, ...); the MySQL code and SQLSTATE ride as a payload under
// kMySqlErrorPayloadUrl, so the server layer can build an ERR packet from any status.
//
// Thread safety: all functions are pure.

#ifndef RUTILE_SQL_ERRORS_H_
#define RUTILE_SQL_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rutile::sql {

// MySQL error codes used by the SQL layer.
inline constexpr uint16_t kErParseError = 1064;  // SQLSTATE 42000.

// Payload type URL under which MySqlError is attached to a status, encoded as
// "<code> <sqlstate>".
inline constexpr char kMySqlErrorPayloadUrl[] = "type.rutile.dev/rutile.sql.MySqlError";

// What a MySQL client sees: error code, five-character SQLSTATE, message.
struct MySqlError {
  uint16_t code = 0;
  std::string sqlstate;
  std::string message;

  bool operator==(const MySqlError&) const = default;
};

// Returns a status with canonical code `code` and message `error.message`, carrying
// `error.code` and `error.sqlstate` as a payload.
inline absl::Status MakeMySqlStatus(absl::StatusCode code, const MySqlError& error) {
  absl::Status status(code, error.message);
  status.SetPayload(kMySqlErrorPayloadUrl,
                    absl::Cord(absl::StrCat(error.code, " ", error.sqlstate)));
  return status;
}

// Returns the MySQL identity of `status`, or nullopt when it has none (an OK status or
// one that did not come from MakeMySqlStatus).
inline std::optional<MySqlError> GetMySqlError(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  auto payload = status.GetPayload(kMySqlErrorPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  const size_t space = text.find(' ');
  uint32_t code = 0;
  if (space == std::string::npos || !absl::SimpleAtoi(text.substr(0, space), &code) ||
      code > 0xFFFF) {
    return std::nullopt;
  }
  MySqlError error;
  error.code = static_cast<uint16_t>(code);
  error.sqlstate = text.substr(space + 1);
  error.message = std::string(status.message());
  return error;
}

}  // namespace rutile::sql

#endif  // RUTILE_SQL_ERRORS_H_
