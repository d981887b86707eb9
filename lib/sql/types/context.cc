#include "sql/types/context.h"

#include "absl/strings/ascii.h"

namespace rutile::sql {

std::string_view SqlStateFor(uint16_t code) {
  switch (code) {
    case kErBadNull:
      return "23000";
    case kErWarnDataOutOfRange:
    case kErDataOutOfRange:
      return "22003";
    case kErWarnDataTruncated:
      return "01000";
    case kErTruncatedWrongValue:
      return "22007";
    case kErSpDoesNotExist:
    case kErWrongParamCountToNativeFct:
    case kErParseError:
      return "42000";
    case kErDivisionByZero:
      return "22012";
    case kErDataTooLong:
      return "22001";
    case kErInvalidArgumentForLogarithm:
      return "2201E";
    default:
      return "HY000";
  }
}

absl::Status MySqlErrorStatus(uint16_t code, std::string message) {
  MySqlError e;
  e.code = code;
  e.sqlstate = std::string(SqlStateFor(code));
  e.message = std::move(message);
  return MakeMySqlStatus(absl::StatusCode::kInvalidArgument, e);
}

SqlMode SqlMode::Parse(std::string_view modes) {
  SqlMode m;
  m.strict_trans_tables = false;
  m.error_for_division_by_zero = false;
  m.no_zero_date = false;
  m.no_zero_in_date = false;
  m.only_full_group_by = false;
  size_t start = 0;
  while (start <= modes.size()) {
    size_t comma = modes.find(',', start);
    if (comma == std::string_view::npos) comma = modes.size();
    std::string p(modes.substr(start, comma - start));
    start = comma + 1;
    absl::StripAsciiWhitespace(&p);
    absl::AsciiStrToUpper(&p);
    if (p == "STRICT_TRANS_TABLES") m.strict_trans_tables = true;
    if (p == "STRICT_ALL_TABLES") m.strict_all_tables = true;
    if (p == "ERROR_FOR_DIVISION_BY_ZERO") m.error_for_division_by_zero = true;
    if (p == "NO_ZERO_DATE") m.no_zero_date = true;
    if (p == "NO_ZERO_IN_DATE") m.no_zero_in_date = true;
    if (p == "NO_UNSIGNED_SUBTRACTION") m.no_unsigned_subtraction = true;
    if (p == "PIPES_AS_CONCAT" || p == "ANSI") m.pipes_as_concat = true;
    if (p == "ONLY_FULL_GROUP_BY") m.only_full_group_by = true;
    if (p == "TRADITIONAL") {
      m.strict_trans_tables = m.strict_all_tables = true;
      m.error_for_division_by_zero = m.no_zero_date = m.no_zero_in_date = true;
    }
  }
  return m;
}

void EvalContext::AppendWarning(uint16_t code, std::string message) {
  ++warning_count_;
  if (warnings_.size() >= max_warnings) return;
  SqlWarning w;
  w.level = WarnLevel::kWarning;
  w.error.code = code;
  w.error.sqlstate = std::string(SqlStateFor(code));
  w.error.message = std::move(message);
  warnings_.push_back(std::move(w));
}

void EvalContext::AppendNote(uint16_t code, std::string message) {
  ++warning_count_;
  if (warnings_.size() >= max_warnings) return;
  SqlWarning w;
  w.level = WarnLevel::kNote;
  w.error.code = code;
  w.error.sqlstate = std::string(SqlStateFor(code));
  w.error.message = std::move(message);
  warnings_.push_back(std::move(w));
}

absl::Status EvalContext::HandleTruncate(uint16_t code, std::string message) {
  if (strict_writes) return MySqlErrorStatus(code, std::move(message));
  AppendWarning(code, std::move(message));
  return absl::OkStatus();
}

void EvalContext::AppendWarnings(std::span<const SqlWarning> kept, size_t count) {
  for (const SqlWarning& w : kept) {
    ++warning_count_;
    if (warnings_.size() < max_warnings) warnings_.push_back(w);
  }
  if (count > kept.size()) warning_count_ += count - kept.size();
}

absl::Status EvalContext::HandleDivisionByZero() {
  if (strict_writes && sql_mode.error_for_division_by_zero) {
    return MySqlErrorStatus(kErDivisionByZero, "Division by 0");
  }
  AppendWarning(kErDivisionByZero, "Division by 0");
  return absl::OkStatus();
}

}  // namespace rutile::sql
