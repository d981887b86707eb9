// The MySQL-dialect lexer: turns SQL text into tokens with positions.
//
// Recognised: identifiers (plain, and backquoted with `` as an escaped backquote),
// keywords (see keywords.h), string literals ('...' and "..." with backslash escapes and
// doubled quotes, N'...' national strings), numbers (integer, decimal, float with
// exponent, 0x.. and X'..' hex, 0b.. and b'..' bit values), operators, `?` placeholders,
// user variables (@v, @'v', @`v`), system variables (@@v, @@session.v, @@global.v,
// @@local.v), and comments: `-- ` to end of line, `#` to end of line, `/* ... */`.
// `/*! ... */` and `/*!NNNNN ... */` executable comments are lexed as SQL when their
// version is at most kServerVersion (8.0.11) and skipped otherwise. The text of an
// optimizer hint comment `/*+ ... */` is attached to the token that follows it (the
// parser keeps it only after SELECT/INSERT/REPLACE/UPDATE/DELETE, as MySQL does).
//
// Malformed input (an unterminated string, comment or quoted identifier, a stray byte)
// yields a kError token; the parser turns it into a syntax error at that position.
//
// Thread safety: a Lexer is a value used by one thread.

#ifndef RUTILE_SQL_PARSER_LEXER_H_
#define RUTILE_SQL_PARSER_LEXER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sql/parser/keywords.h"

namespace rutile::sql {

// The server version executable comments are compared with (MySQL's 5-digit form).
inline constexpr int kServerVersion = 80011;

enum class TokenKind : uint8_t {
  kEof,
  kError,           // Malformed input; `value` says what.
  kIdent,           // Unquoted word; `kw` is set when it is a non-reserved keyword.
  kQuotedIdent,     // `...`; `value` is the name.
  kKeyword,         // Reserved word; `kw` says which.
  kString,          // '...' or "..."; `value` is the decoded text.
  kNationalString,  // N'...'.
  kInt,             // Decimal digits.
  kDecimal,         // Digits with a '.', no exponent.
  kFloat,           // With an exponent.
  kHex,             // 0x.. or X'..'; `value` holds the hex digits.
  kBit,             // 0b.. or b'..'; `value` holds the binary digits.
  kParam,           // ?
  kUserVar,         // @name; `value` is the name.
  kSysVar,          // @@[scope.]name; `value` is the name, `scope` the scope.
  // Punctuation and operators.
  kLParen,
  kRParen,
  kComma,
  kSemicolon,
  kDot,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kEq,
  kNullSafeEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAssign,
  kPipes,
  kAndAnd,
  kBang,
  kTilde,
  kCaret,
  kAmp,
  kPipe,
  kShl,
  kShr,
  kLBrace,
  kRBrace,
  kArrow,
  kDoubleArrow,
};

// Scope of a system variable as written: @@v, @@session.v, @@global.v, @@local.v.
enum class VarScope : uint8_t { kDefault, kSession, kGlobal, kLocal };

struct Token {
  TokenKind kind = TokenKind::kEof;
  Kw kw = Kw::kNone;
  VarScope scope = VarScope::kDefault;
  // Where the token starts: byte offset into the input, 1-based line and column.
  uint32_t offset = 0;
  uint32_t line = 1;
  uint32_t column = 1;
  // The token's source text.
  std::string_view text;
  // Decoded value for strings, quoted identifiers, variables, hex and bit literals, and
  // the error description of kError.
  std::string value;
  // Text of a `/*+ ... */` comment right before this token (without the delimiters).
  std::string_view hint;
};

// Returns all tokens of `input`, ending with a kEof token (or stopping at the first
// kError token). The tokens' string_views point into `input`.
std::vector<Token> Tokenize(std::string_view input);

// Returns a short description of a token kind, for messages.
std::string_view TokenKindName(TokenKind kind);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PARSER_LEXER_H_
