// The MySQL-dialect parser: SQL text in, AST (ast.h) out.
//
// A hand-written recursive descent parser over the tokens of lexer.h; expressions are
// parsed by precedence climbing (Pratt) with MySQL's operator precedence. Syntax errors
// are MySQL error 1064 (SQLSTATE 42000) with MySQL's message, naming the rest of the input
// from the offending token and its line; the status is InvalidArgument and carries the
// MySQL identity as a payload (sql/errors.h). Input never crashes the parser: nesting
// deeper than ParserOptions::max_depth (parentheses, subqueries, or an expression tree
// that deep), or parser recursion using more than max_stack_bytes of stack, is reported
// as a syntax error at the token where the limit was reached. That keeps parsing,
// restoring and destroying a tree within a 256 KiB fiber stack, sanitizers included.
//
// Thread safety: the functions are reentrant; they share nothing.

#ifndef RUTILE_SQL_PARSER_PARSER_H_
#define RUTILE_SQL_PARSER_PARSER_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sql/parser/ast.h"

namespace rutile::sql {

struct ParserOptions {
  // sql_mode PIPES_AS_CONCAT: `a || b` is CONCAT(a, b) instead of OR.
  bool pipes_as_concat = false;
  // sql_mode HIGH_NOT_PRECEDENCE: NOT binds as tightly as `!`.
  bool high_not_precedence = false;
  // Deepest nesting accepted, in parser recursion and in tree depth.
  int max_depth = 200;
  // Most stack the parser may use below its entry point, whatever max_depth allows:
  // unoptimised and sanitizer builds have much larger frames. Half a fiber stack.
  size_t max_stack_bytes = 128 * 1024;
};

// Parses a script of statements separated by ';' (empty statements are skipped).
absl::StatusOr<std::vector<StmtPtr>> Parse(std::string_view sql, const ParserOptions& options = {});

// Parses exactly one statement (a trailing ';' is allowed). Empty input is an error.
absl::StatusOr<StmtPtr> ParseOne(std::string_view sql, const ParserOptions& options = {});

// Splits `sql` on the ';' that end statements (not those inside strings, quoted names
// or comments) and returns the non-empty pieces, trimmed of surrounding whitespace. The
// views point into `sql`. Text after an unterminated string or comment is one piece.
std::vector<std::string_view> SplitStatements(std::string_view sql);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PARSER_PARSER_H_
