#include "sql/parser/lexer.h"

#include <cstddef>

namespace rutile::sql {
namespace {

bool IsIdentChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || c >= 0x80;
}
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    out.reserve(in_.size() / 4 + 2);
    while (true) {
      Token t = Next();
      const bool stop = t.kind == TokenKind::kEof || t.kind == TokenKind::kError;
      out.push_back(std::move(t));
      if (stop) break;
    }
    return out;
  }

 private:
  unsigned char At(size_t i) const { return i < in_.size() ? in_[i] : 0; }

  // Moves the cursor to `to`, counting lines on the way.
  void MoveTo(size_t to) {
    for (; pos_ < to; ++pos_) {
      if (in_[pos_] == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
    }
  }

  Token Make(TokenKind kind, size_t start, size_t end) {
    Token t;
    t.kind = kind;
    t.offset = static_cast<uint32_t>(start);
    t.line = start_line_;
    t.column = static_cast<uint32_t>(start - start_line_start_ + 1);
    t.text = in_.substr(start, end - start);
    t.hint = pending_hint_;
    pending_hint_ = {};
    MoveTo(end);
    return t;
  }

  Token Error(size_t start, std::string what) {
    Token t = Make(TokenKind::kError, start, start);
    t.value = std::move(what);
    return t;
  }

  // Skips whitespace and comments; returns false with `*err` set on an unterminated
  // comment.
  bool SkipTrivia(Token* err) {
    while (pos_ < in_.size()) {
      const unsigned char c = in_[pos_];
      if (IsSpace(c)) {
        MoveTo(pos_ + 1);
      } else if (c == '#' ||
                 (c == '-' && At(pos_ + 1) == '-' &&
                  (pos_ + 2 >= in_.size() || IsSpace(At(pos_ + 2)) || At(pos_ + 2) < 0x20))) {
        size_t e = in_.find('\n', pos_);
        MoveTo(e == std::string_view::npos ? in_.size() : e);
      } else if (c == '*' && At(pos_ + 1) == '/' && in_exec_comment_) {
        in_exec_comment_ = false;
        MoveTo(pos_ + 2);
      } else if (c == '/' && At(pos_ + 1) == '*') {
        const size_t start = pos_;
        const unsigned char k = At(pos_ + 2);
        if (k == '!' && !in_exec_comment_) {
          size_t p = pos_ + 3;
          size_t digits = 0;
          while (digits < 6 && IsDigit(At(p + digits))) ++digits;
          int version = 0;
          if (digits == 5 || digits == 6) {
            for (size_t i = 0; i < digits; ++i) version = version * 10 + (At(p + i) - '0');
            p += digits;
          }
          if (version <= kServerVersion) {
            in_exec_comment_ = true;
            MoveTo(p);
            continue;
          }
        }
        const size_t e = in_.find("*/", pos_ + 2);
        if (e == std::string_view::npos) {
          *err = Error(start, "unterminated comment");
          return false;
        }
        if (k == '+') {
          pending_hint_ = in_.substr(pos_ + 3, e - (pos_ + 3));
        }
        MoveTo(e + 2);
      } else {
        break;
      }
    }
    return true;
  }

  // Reads a quoted string starting at `start` (the opening quote); decodes into *out.
  // Returns the end offset or npos when unterminated.
  size_t ReadQuoted(size_t start, char quote, bool backslash, std::string* out) {
    size_t p = start + 1;
    while (p < in_.size()) {
      const char c = in_[p];
      if (c == quote) {
        if (At(p + 1) == static_cast<unsigned char>(quote)) {
          out->push_back(quote);
          p += 2;
          continue;
        }
        return p + 1;
      }
      if (c == '\\' && backslash && p + 1 < in_.size()) {
        const char n = in_[p + 1];
        switch (n) {
          case '0':
            out->push_back('\0');
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'Z':
            out->push_back('\x1a');
            break;
          case '%':
            out->append("\\%");
            break;
          case '_':
            out->append("\\_");
            break;
          default:
            out->push_back(n);
            break;
        }
        p += 2;
        continue;
      }
      out->push_back(c);
      ++p;
    }
    return std::string_view::npos;
  }

  Token Next() {
    Token err;
    if (!SkipTrivia(&err)) return err;
    start_line_ = line_;
    start_line_start_ = line_start_;
    const size_t s = pos_;
    if (s >= in_.size()) {
      if (in_exec_comment_) return Error(s, "unterminated comment");
      return Make(TokenKind::kEof, s, s);
    }
    const unsigned char c = in_[s];
    const unsigned char c1 = At(s + 1);

    // Prefixed quoted literals: X'..', B'..', N'..'.
    if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && c1 == '\'') {
      const bool hex = c == 'x' || c == 'X';
      size_t p = s + 2;
      while (p < in_.size() && in_[p] != '\'') {
        const unsigned char d = in_[p];
        if (hex ? !IsHexDigit(d) : (d != '0' && d != '1')) return Error(s, "bad literal");
        ++p;
      }
      if (p >= in_.size()) return Error(s, "unterminated literal");
      if (hex && (p - s - 2) % 2 != 0) return Error(s, "odd number of hex digits");
      Token t = Make(hex ? TokenKind::kHex : TokenKind::kBit, s, p + 1);
      t.value = std::string(in_.substr(s + 2, p - s - 2));
      return t;
    }
    if ((c == 'n' || c == 'N') && c1 == '\'') {
      std::string v;
      const size_t e = ReadQuoted(s + 1, '\'', true, &v);
      if (e == std::string_view::npos) return Error(s, "unterminated string");
      Token t = Make(TokenKind::kNationalString, s, e);
      t.value = std::move(v);
      return t;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(c1))) return Number(s);
    if (IsIdentChar(c)) {
      size_t p = s;
      while (p < in_.size() && IsIdentChar(in_[p])) ++p;
      Token t = Make(TokenKind::kIdent, s, p);
      t.kw = LookupKeyword(t.text);
      if (t.kw != Kw::kNone && IsReserved(t.kw)) t.kind = TokenKind::kKeyword;
      return t;
    }
    switch (c) {
      case '`': {
        std::string v;
        const size_t e = ReadQuoted(s, '`', false, &v);
        if (e == std::string_view::npos) return Error(s, "unterminated quoted identifier");
        Token t = Make(TokenKind::kQuotedIdent, s, e);
        t.value = std::move(v);
        return t;
      }
      case '\'':
      case '"': {
        std::string v;
        const size_t e = ReadQuoted(s, static_cast<char>(c), true, &v);
        if (e == std::string_view::npos) return Error(s, "unterminated string");
        Token t = Make(TokenKind::kString, s, e);
        t.value = std::move(v);
        return t;
      }
      case '@':
        return Variable(s);
      case '?':
        return Make(TokenKind::kParam, s, s + 1);
      case '(':
        return Make(TokenKind::kLParen, s, s + 1);
      case ')':
        return Make(TokenKind::kRParen, s, s + 1);
      case ',':
        return Make(TokenKind::kComma, s, s + 1);
      case ';':
        return Make(TokenKind::kSemicolon, s, s + 1);
      case '.':
        return Make(TokenKind::kDot, s, s + 1);
      case '+':
        return Make(TokenKind::kPlus, s, s + 1);
      case '-':
        if (c1 == '>') {
          if (At(s + 2) == '>') return Make(TokenKind::kDoubleArrow, s, s + 3);
          return Make(TokenKind::kArrow, s, s + 2);
        }
        return Make(TokenKind::kMinus, s, s + 1);
      case '*':
        return Make(TokenKind::kStar, s, s + 1);
      case '/':
        return Make(TokenKind::kSlash, s, s + 1);
      case '%':
        return Make(TokenKind::kPercent, s, s + 1);
      case '^':
        return Make(TokenKind::kCaret, s, s + 1);
      case '~':
        return Make(TokenKind::kTilde, s, s + 1);
      case '{':
        return Make(TokenKind::kLBrace, s, s + 1);
      case '}':
        return Make(TokenKind::kRBrace, s, s + 1);
      case '=':
        return Make(TokenKind::kEq, s, s + 1);
      case '!':
        if (c1 == '=') return Make(TokenKind::kNe, s, s + 2);
        return Make(TokenKind::kBang, s, s + 1);
      case '<':
        if (c1 == '=') {
          if (At(s + 2) == '>') return Make(TokenKind::kNullSafeEq, s, s + 3);
          return Make(TokenKind::kLe, s, s + 2);
        }
        if (c1 == '>') return Make(TokenKind::kNe, s, s + 2);
        if (c1 == '<') return Make(TokenKind::kShl, s, s + 2);
        return Make(TokenKind::kLt, s, s + 1);
      case '>':
        if (c1 == '=') return Make(TokenKind::kGe, s, s + 2);
        if (c1 == '>') return Make(TokenKind::kShr, s, s + 2);
        return Make(TokenKind::kGt, s, s + 1);
      case ':':
        if (c1 == '=') return Make(TokenKind::kAssign, s, s + 2);
        break;
      case '|':
        if (c1 == '|') return Make(TokenKind::kPipes, s, s + 2);
        return Make(TokenKind::kPipe, s, s + 1);
      case '&':
        if (c1 == '&') return Make(TokenKind::kAndAnd, s, s + 2);
        return Make(TokenKind::kAmp, s, s + 1);
      case '\\':
        if (c1 == 'N') {  // \N is NULL.
          Token t = Make(TokenKind::kKeyword, s, s + 2);
          t.kw = Kw::kNULL;
          return t;
        }
        break;
      default:
        break;
    }
    return Error(s, "unexpected character");
  }

  Token Number(size_t s) {
    size_t p = s;
    // 0x.. and 0b.. (an identifier if letters follow the digits).
    if (in_[s] == '0' && (At(s + 1) == 'x' || At(s + 1) == 'b')) {
      const bool hex = At(s + 1) == 'x';
      size_t q = s + 2;
      while (q < in_.size() && (hex ? IsHexDigit(in_[q]) : (in_[q] == '0' || in_[q] == '1'))) {
        ++q;
      }
      if (q > s + 2 && !IsIdentChar(At(q))) {
        Token t = Make(hex ? TokenKind::kHex : TokenKind::kBit, s, q);
        t.value = std::string(in_.substr(s + 2, q - s - 2));
        return t;
      }
    }
    TokenKind kind = TokenKind::kInt;
    while (p < in_.size() && IsDigit(in_[p])) ++p;
    if (At(p) == '.') {
      kind = TokenKind::kDecimal;
      ++p;
      while (p < in_.size() && IsDigit(in_[p])) ++p;
    }
    if ((At(p) == 'e' || At(p) == 'E') &&
        (IsDigit(At(p + 1)) || ((At(p + 1) == '+' || At(p + 1) == '-') && IsDigit(At(p + 2))))) {
      kind = TokenKind::kFloat;
      p += 2;
      while (p < in_.size() && IsDigit(in_[p])) ++p;
    }
    if (kind == TokenKind::kInt && IsIdentChar(At(p))) {
      // Identifiers may start with digits (123abc).
      while (p < in_.size() && IsIdentChar(in_[p])) ++p;
      Token t = Make(TokenKind::kIdent, s, p);
      return t;
    }
    return Make(kind, s, p);
  }

  Token Variable(size_t s) {
    const bool system = At(s + 1) == '@';
    size_t p = s + (system ? 2 : 1);
    VarScope scope = VarScope::kDefault;
    auto read_name = [&](std::string* out) -> bool {
      const unsigned char q = At(p);
      if (q == '`' || (!system && (q == '\'' || q == '"'))) {
        const size_t e = ReadQuoted(p, static_cast<char>(q), q != '`', out);
        if (e == std::string_view::npos) return false;
        p = e;
        return true;
      }
      const size_t b = p;
      while (p < in_.size() && (IsIdentChar(in_[p]) || (!system && in_[p] == '.'))) ++p;
      out->assign(in_.substr(b, p - b));
      return p > b;
    };
    std::string name;
    if (!read_name(&name)) return Error(s, "bad variable name");
    if (system && At(p) == '.') {
      const Kw kw = LookupKeyword(name);
      if (kw == Kw::kGLOBAL || kw == Kw::kSESSION || kw == Kw::kLOCAL) {
        scope = kw == Kw::kGLOBAL ? VarScope::kGlobal
                                  : (kw == Kw::kSESSION ? VarScope::kSession : VarScope::kLocal);
        ++p;
        name.clear();
        if (!read_name(&name)) return Error(s, "bad variable name");
      }
    }
    Token t = Make(system ? TokenKind::kSysVar : TokenKind::kUserVar, s, p);
    t.value = std::move(name);
    t.scope = scope;
    return t;
  }

  std::string_view in_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
  uint32_t start_line_ = 1;
  size_t start_line_start_ = 0;
  bool in_exec_comment_ = false;
  std::string_view pending_hint_;
};

}  // namespace

std::vector<Token> Tokenize(std::string_view input) { return Lexer(input).Run(); }

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEof:
      return "end of input";
    case TokenKind::kError:
      return "error";
    case TokenKind::kIdent:
      return "identifier";
    case TokenKind::kQuotedIdent:
      return "quoted identifier";
    case TokenKind::kKeyword:
      return "keyword";
    case TokenKind::kString:
      return "string";
    case TokenKind::kNationalString:
      return "national string";
    case TokenKind::kInt:
      return "integer";
    case TokenKind::kDecimal:
      return "decimal";
    case TokenKind::kFloat:
      return "float";
    case TokenKind::kHex:
      return "hex literal";
    case TokenKind::kBit:
      return "bit literal";
    case TokenKind::kParam:
      return "?";
    case TokenKind::kUserVar:
      return "user variable";
    case TokenKind::kSysVar:
      return "system variable";
    default:
      return "operator";
  }
}

}  // namespace rutile::sql
