// Building expressions: the function registry (by lower-case name, with arity checks and
// result-type inference), CAST, column references and constants.
//
// Operators are functions with these names: plus minus mul div ("/") intdiv ("DIV") mod
// ("%", also MOD()) unaryminus; eq ne lt le gt ge nulleq ("<=>"); and or xor not;
// istrue isfalse isnottrue isnotfalse isnull isnotnull; between (x, lo, hi); in (x, v1,
// ...); like (s, pattern[, escape]); case (when1, then1, ..., [else]); if; ifnull;
// nullif; coalesce. TRIM(BOTH|LEADING|TRAILING r FROM s) is trim(s, r, 0|1|2).
// DATE_ADD(d, INTERVAL v unit) is date_add(d, v, 'unit') with the unit a constant.
//
// Errors: an unknown name is MySQL error 1305, a wrong argument count 1582.
//
// Thread safety: the registry is built once (thread-safe static) and read-only.

#ifndef RUTILE_SQL_EXPR_REGISTRY_H_
#define RUTILE_SQL_EXPR_REGISTRY_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sql/expr/expression.h"

namespace rutile::sql::expr {

// Builds a call of `name` (case-insensitive) on `args`.
absl::StatusOr<ExprPtr> NewFunction(std::string_view name, std::vector<ExprPtr> args);
// CAST(arg AS target): SIGNED is FieldType::LongLong(), UNSIGNED LongLong(true),
// DECIMAL(p,s) NewDecimal(p,s), CHAR(n) Varchar(n) (n = -1 for no limit), BINARY(n)
// VarBinary(n), DATE Date(), DATETIME(fsp) Datetime(fsp), TIME(fsp) Duration(fsp),
// DOUBLE Double().
ExprPtr NewCast(ExprPtr arg, const FieldType& target);
ExprPtr NewColumn(size_t index, const FieldType& type, std::string name = "");
ExprPtr NewConstant(const Datum& value, const FieldType& type);

// Literal helpers with MySQL's literal types.
ExprPtr NewNull();
ExprPtr NewInt(int64_t v);
ExprPtr NewUint(uint64_t v);
ExprPtr NewDouble(double v);
// A decimal literal from its text ("1.50"); InvalidArgument if it is not a number.
absl::StatusOr<ExprPtr> NewDecimalLiteral(std::string_view text);
ExprPtr NewString(std::string v, Collation collation = kDefaultCollation);

bool FunctionExists(std::string_view name);
// Every registered name, sorted (for tests and SHOW FUNCTIONS).
std::vector<std::string> FunctionNames();

}  // namespace rutile::sql::expr

#endif  // RUTILE_SQL_EXPR_REGISTRY_H_
