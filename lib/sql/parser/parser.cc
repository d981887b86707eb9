#include "sql/parser/parser.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "sql/errors.h"
#include "sql/parser/lexer.h"
#include "sql/parser/restore.h"

namespace rutile::sql {
namespace {

// Evaluates `cond`; on failure returns a falsy value ({}: false or nullptr) from the
// calling function. The parser's error is already recorded by then.
#define TRY(cond)           \
  do {                      \
    if (!(cond)) return {}; \
  } while (0)

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int DepthOf(const Node* n) { return n == nullptr ? 0 : n->depth; }

int MaxDepth(const std::vector<ExprPtr>& v) {
  int d = 0;
  for (const auto& e : v) d = std::max(d, DepthOf(e.get()));
  return d;
}

int MaxDepth(const std::vector<OrderItem>& v) {
  int d = 0;
  for (const auto& o : v) d = std::max(d, DepthOf(o.expr.get()));
  return d;
}

int LimitDepth(const std::optional<Limit>& l) {
  return l.has_value() ? std::max(DepthOf(l->count.get()), DepthOf(l->offset.get())) : 0;
}

// Character sets accepted as _charset introducers.
bool IsIntroducer(std::string_view word) {
  static constexpr std::string_view kCharsets[] = {
      "_utf8mb4", "_utf8",  "_utf8mb3", "_latin1", "_binary", "_ascii", "_gbk",
      "_gb18030", "_utf16", "_utf16le", "_utf32",  "_ucs2",   "_big5",  "_cp1252"};
  for (std::string_view c : kCharsets) {
    if (EqualsIgnoreCase(c, word)) return true;
  }
  return false;
}

// Units of INTERVAL, EXTRACT, TIMESTAMPADD and TIMESTAMPDIFF.
bool IsTimeUnit(std::string_view word) {
  static constexpr std::string_view kUnits[] = {"MICROSECOND",
                                                "SECOND",
                                                "MINUTE",
                                                "HOUR",
                                                "DAY",
                                                "WEEK",
                                                "MONTH",
                                                "QUARTER",
                                                "YEAR",
                                                "SECOND_MICROSECOND",
                                                "MINUTE_MICROSECOND",
                                                "MINUTE_SECOND",
                                                "HOUR_MICROSECOND",
                                                "HOUR_SECOND",
                                                "HOUR_MINUTE",
                                                "DAY_MICROSECOND",
                                                "DAY_SECOND",
                                                "DAY_MINUTE",
                                                "DAY_HOUR",
                                                "YEAR_MONTH",
                                                "SQL_TSI_SECOND",
                                                "SQL_TSI_MINUTE",
                                                "SQL_TSI_HOUR",
                                                "SQL_TSI_DAY",
                                                "SQL_TSI_WEEK",
                                                "SQL_TSI_MONTH",
                                                "SQL_TSI_QUARTER",
                                                "SQL_TSI_YEAR"};
  for (std::string_view u : kUnits) {
    if (EqualsIgnoreCase(u, word)) return true;
  }
  return false;
}

// Reserved words that may name a built-in function when followed by '('.
bool IsFunctionKeyword(Kw kw) {
  switch (kw) {
    case Kw::kIF:
    case Kw::kINSERT:
    case Kw::kLEFT:
    case Kw::kRIGHT:
    case Kw::kREPEAT:
    case Kw::kREPLACE:
    case Kw::kMOD:
    case Kw::kDATABASE:
    case Kw::kSCHEMA:
    case Kw::kCHAR:
    case Kw::kVALUES:
    case Kw::kCURRENT_USER:
    case Kw::kUTC_DATE:
    case Kw::kUTC_TIME:
    case Kw::kUTC_TIMESTAMP:
    case Kw::kCURRENT_DATE:
    case Kw::kCURRENT_TIME:
    case Kw::kCURRENT_TIMESTAMP:
    case Kw::kLOCALTIME:
    case Kw::kLOCALTIMESTAMP:
    case Kw::kGROUPING:
    case Kw::kCONVERT:
      return true;
    default:
      return false;
  }
}

// Keywords that are functions without parentheses too.
bool IsNiladicKeyword(Kw kw) {
  switch (kw) {
    case Kw::kCURRENT_DATE:
    case Kw::kCURRENT_TIME:
    case Kw::kCURRENT_TIMESTAMP:
    case Kw::kLOCALTIME:
    case Kw::kLOCALTIMESTAMP:
    case Kw::kUTC_DATE:
    case Kw::kUTC_TIME:
    case Kw::kUTC_TIMESTAMP:
    case Kw::kCURRENT_USER:
      return true;
    default:
      return false;
  }
}

class Parser {
 public:
  Parser(std::string_view input, const ParserOptions& options)
      : input_(input), toks_(Tokenize(input)), opt_(options) {}

  absl::StatusOr<std::vector<StmtPtr>> ParseScript() {
    stack_base_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    std::vector<StmtPtr> out;
    while (true) {
      while (Accept(TokenKind::kSemicolon)) {
      }
      if (Is(TokenKind::kEof)) break;
      params_ = 0;
      StmtPtr s = ParseStatement();
      if (s == nullptr || (!Is(TokenKind::kEof) && !Is(TokenKind::kSemicolon))) {
        if (!failed_) Fail();
        return err_;
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  // ---- Token access ---------------------------------------------------------------------

  const Token& Peek(size_t ahead = 0) const {
    const size_t i = std::min(p_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  bool Is(TokenKind k, size_t ahead = 0) const { return Peek(ahead).kind == k; }
  bool IsKw(Kw kw, size_t ahead = 0) const {
    const Token& t = Peek(ahead);
    return t.kw == kw && (t.kind == TokenKind::kKeyword || t.kind == TokenKind::kIdent);
  }
  // An unquoted non-keyword word spelled `word` (any case).
  bool IsWord(std::string_view word, size_t ahead = 0) const {
    const Token& t = Peek(ahead);
    return t.kind == TokenKind::kIdent && EqualsIgnoreCase(t.text, word);
  }
  void Advance() {
    if (p_ + 1 < toks_.size()) ++p_;
  }
  bool Accept(TokenKind k) {
    if (!Is(k)) return false;
    Advance();
    return true;
  }
  bool AcceptKw(Kw kw) {
    if (!IsKw(kw)) return false;
    Advance();
    return true;
  }
  bool AcceptWord(std::string_view w) {
    if (!IsWord(w)) return false;
    Advance();
    return true;
  }
  bool Expect(TokenKind k) { return Accept(k) || Fail(); }
  bool ExpectKw(Kw kw) { return AcceptKw(kw) || Fail(); }

  // Records a syntax error at the current token (the first error wins) and returns false.
  bool Fail() {
    if (failed_) return false;
    failed_ = true;
    const Token& t = Peek();
    std::string_view near = input_.substr(std::min<size_t>(t.offset, input_.size()));
    if (near.size() > 80) {
      size_t n = 80;
      // Do not cut a UTF-8 sequence.
      while (n > 0 && (static_cast<unsigned char>(near[n]) & 0xC0) == 0x80) --n;
      near = near.substr(0, n);
    }
    MySqlError e;
    e.code = kErParseError;
    e.sqlstate = "42000";
    e.message =
        "You have an error in your SQL syntax; check the manual that corresponds to your "
        "MySQL server version for the right syntax to use near '" +
        std::string(near) + "' at line " + std::to_string(t.line);
    err_ = MakeMySqlStatus(absl::StatusCode::kInvalidArgument, e);
    return false;
  }

  // Bounds parser recursion.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~DepthGuard() { --p_->depth_; }
    bool ok() const {
      const uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
      const uintptr_t used = p_->stack_base_ > here ? p_->stack_base_ - here : 0;
      return (p_->depth_ <= p_->opt_.max_depth && used <= p_->opt_.max_stack_bytes) || p_->Fail();
    }

   private:
    Parser* p_;
  };

  // Sets `n`'s tree depth to one more than its deepest child; fails past max_depth.
  bool Seal(Node* n, int child_depth) {
    n->depth = child_depth + 1;
    return n->depth <= opt_.max_depth || Fail();
  }
  bool Seal(Node* n, std::initializer_list<const Node*> children) {
    int d = 0;
    for (const Node* c : children) d = std::max(d, DepthOf(c));
    return Seal(n, d);
  }

  template <typename T>
  std::unique_ptr<T> New() {
    auto n = std::make_unique<T>();
    const Token& t = Peek();
    n->pos = SourcePos{t.offset, t.line, t.column};
    return n;
  }

  // ---- Names ----------------------------------------------------------------------------

  static bool IsIdentTok(const Token& t) {
    return t.kind == TokenKind::kIdent || t.kind == TokenKind::kQuotedIdent;
  }
  static std::string IdentText(const Token& t) {
    return t.kind == TokenKind::kQuotedIdent ? t.value : std::string(t.text);
  }
  bool ParseIdent(std::string* out) {
    if (!IsIdentTok(Peek())) return Fail();
    *out = IdentText(Peek());
    Advance();
    return true;
  }
  // After a '.', any word is a name, reserved or not.
  bool ParseNameAfterDot(std::string* out) {
    const Token& t = Peek();
    if (t.kind == TokenKind::kKeyword) {
      *out = std::string(t.text);
      Advance();
      return true;
    }
    return ParseIdent(out);
  }
  // A name that may also be written as a string (charset, collation, engine, alias).
  bool ParseIdentOrString(std::string* out) {
    if (Is(TokenKind::kString)) {
      *out = Peek().value;
      Advance();
      return true;
    }
    return ParseIdent(out);
  }
  bool ParseCharsetName(std::string* out) {
    if (AcceptKw(Kw::kBINARY)) {
      *out = "binary";
      return true;
    }
    TRY(ParseIdentOrString(out));
    *out = Lower(*out);
    return true;
  }

  std::unique_ptr<TableName> ParseTableName() {
    auto t = New<TableName>();
    TRY(ParseIdent(&t->name));
    if (Accept(TokenKind::kDot)) {
      t->db = std::move(t->name);
      TRY(ParseNameAfterDot(&t->name));
    }
    return t;
  }

  bool ParseIdentList(std::vector<std::string>* out) {
    TRY(Expect(TokenKind::kLParen));
    do {
      std::string s;
      TRY(ParseIdent(&s));
      out->push_back(std::move(s));
    } while (Accept(TokenKind::kComma));
    return Expect(TokenKind::kRParen);
  }

  // ---- Statements -----------------------------------------------------------------------

  StmtPtr ParseStatement() {
    DepthGuard g(this);
    TRY(g.ok());
    const Token& t = Peek();
    switch (t.kw) {
      case Kw::kSELECT:
        return ParseQuery(nullptr);
      case Kw::kINSERT:
      case Kw::kREPLACE:
        return ParseInsert();
      case Kw::kUPDATE:
        return ParseUpdate();
      case Kw::kDELETE:
        return ParseDelete();
      case Kw::kCREATE:
        return ParseCreate();
      case Kw::kDROP:
        return ParseDrop();
      case Kw::kALTER:
        return ParseAlter();
      case Kw::kRENAME:
        return ParseRenameTable();
      case Kw::kTRUNCATE: {
        Advance();
        AcceptKw(Kw::kTABLE);
        auto s = New<TruncateStmt>();
        TRY(s->table = ParseTableName());
        return s;
      }
      case Kw::kBEGIN:
      case Kw::kSTART:
      case Kw::kCOMMIT:
      case Kw::kROLLBACK:
      case Kw::kSAVEPOINT:
      case Kw::kRELEASE:
        return ParseTxn();
      case Kw::kSET:
        return ParseSet();
      case Kw::kSHOW:
        return ParseShow();
      case Kw::kUSE: {
        Advance();
        auto s = New<UseStmt>();
        TRY(ParseIdent(&s->db));
        return s;
      }
      case Kw::kEXPLAIN:
      case Kw::kDESCRIBE:
      case Kw::kDESC:
        return ParseExplain();
      case Kw::kANALYZE: {
        Advance();
        AcceptKw(Kw::kNO_WRITE_TO_BINLOG) || AcceptKw(Kw::kLOCAL);
        TRY(ExpectKw(Kw::kTABLE));
        auto s = New<AnalyzeTableStmt>();
        do {
          std::unique_ptr<TableName> tn;
          TRY(tn = ParseTableName());
          s->tables.push_back(std::move(tn));
        } while (Accept(TokenKind::kComma));
        return s;
      }
      case Kw::kGRANT:
      case Kw::kREVOKE:
        return ParseGrant();
      default:
        break;
    }
    if (t.kind == TokenKind::kLParen) return ParseQuery(nullptr);
    Fail();
    return nullptr;
  }

  // ---- Queries --------------------------------------------------------------------------

  bool IsQueryStart() const { return IsKw(Kw::kSELECT); }

  // Whether a '(' at `ahead` opens a parenthesised query: '('s followed by SELECT.
  bool ParenStartsQuery(size_t ahead) const {
    while (Is(TokenKind::kLParen, ahead)) ++ahead;
    return IsKw(Kw::kSELECT, ahead);
  }

  // At a '(' in FROM: whether it opens a subquery (a derived table) rather than
  // parenthesised table references. `((SELECT 1) UNION (SELECT 2)) AS t` and
  // `((SELECT 1)) AS t` are subqueries; `((SELECT 1) AS x JOIN t ON ..)` is not.
  bool ParenOpensDerivedTable() const {
    if (IsKw(Kw::kSELECT, 1)) return true;
    if (!ParenStartsQuery(1)) return false;
    // Find the ')' closing the inner '(' at offset 1 and look at what follows it.
    int open = 0;
    size_t i = 1;
    for (; p_ + i < toks_.size(); ++i) {
      const TokenKind k = Peek(i).kind;
      if (k == TokenKind::kLParen) ++open;
      if (k == TokenKind::kRParen && --open == 0) break;
      if (k == TokenKind::kEof || k == TokenKind::kError) return false;
    }
    const Token& next = Peek(i + 1);
    return next.kind == TokenKind::kRParen || next.kw == Kw::kUNION || next.kw == Kw::kEXCEPT ||
           next.kw == Kw::kINTERSECT || next.kw == Kw::kORDER || next.kw == Kw::kLIMIT;
  }

  bool IsSetOpAhead() const {
    return IsKw(Kw::kUNION) || IsKw(Kw::kEXCEPT) || IsKw(Kw::kINTERSECT);
  }

  // query: set_expr [ORDER BY ..] [LIMIT ..] [locking]. `first`, when given, is an
  // already parsed first operand (a parenthesised query seen as an expression).
  std::unique_ptr<QueryStmt> ParseQuery(std::unique_ptr<QueryStmt> first) {
    DepthGuard g(this);
    TRY(g.ok());
    std::unique_ptr<QueryStmt> q;
    TRY(q = ParseSetExpr(0, std::move(first)));
    if (IsKw(Kw::kORDER)) {
      if (!q->order_by.empty()) {
        Fail();
        return nullptr;
      }
      Advance();
      TRY(ExpectKw(Kw::kBY));
      TRY(ParseOrderList(&q->order_by));
    }
    if (IsKw(Kw::kLIMIT)) {
      if (q->limit.has_value()) {
        Fail();
        return nullptr;
      }
      TRY(ParseLimit(&q->limit));
    }
    if (IsKw(Kw::kFOR) || IsKw(Kw::kLOCK)) {
      auto* s = dynamic_cast<SelectStmt*>(q.get());
      if (s == nullptr || s->lock != LockMode::kNone) {
        Fail();
        return nullptr;
      }
      TRY(ParseLock(s));
    }
    int d = std::max(MaxDepth(q->order_by), LimitDepth(q->limit));
    TRY(Seal(q.get(), std::max(d, q->depth - 1)));
    return q;
  }

  bool ParseLock(SelectStmt* s) {
    if (AcceptKw(Kw::kLOCK)) {
      TRY(ExpectKw(Kw::kIN));
      TRY(ExpectKw(Kw::kSHARE));
      TRY(ExpectKw(Kw::kMODE));
      s->lock = LockMode::kShare;
      return true;
    }
    TRY(ExpectKw(Kw::kFOR));
    if (AcceptKw(Kw::kSHARE)) {
      s->lock = LockMode::kShare;
      return true;
    }
    TRY(ExpectKw(Kw::kUPDATE));
    s->lock = LockMode::kForUpdate;
    if (AcceptKw(Kw::kNOWAIT)) {
      s->lock = LockMode::kForUpdateNoWait;
    } else if (AcceptKw(Kw::kSKIP)) {
      TRY(ExpectKw(Kw::kLOCKED));
      s->lock = LockMode::kForUpdateSkipLocked;
    }
    return true;
  }

  static int SetOpPrecOf(const Token& t) {
    if (t.kw == Kw::kUNION || t.kw == Kw::kEXCEPT) return 1;
    if (t.kw == Kw::kINTERSECT) return 2;
    return 0;
  }

  std::unique_ptr<QueryStmt> ParseSetExpr(int min_prec, std::unique_ptr<QueryStmt> first) {
    std::unique_ptr<QueryStmt> left = std::move(first);
    if (left == nullptr) TRY(left = ParseQueryPrimary());
    while (true) {
      const Token& t = Peek();
      if (t.kind != TokenKind::kKeyword) break;
      const int prec = SetOpPrecOf(t);
      if (prec == 0 || prec <= min_prec) break;
      auto s = New<SetOprStmt>();
      s->op = t.kw == Kw::kUNION ? SetOp::kUnion
                                 : (t.kw == Kw::kEXCEPT ? SetOp::kExcept : SetOp::kIntersect);
      Advance();
      if (AcceptKw(Kw::kALL)) {
        s->all = true;
      } else {
        AcceptKw(Kw::kDISTINCT);
      }
      DepthGuard g(this);
      TRY(g.ok());
      TRY(s->right = ParseSetExpr(prec, nullptr));
      s->left = std::move(left);
      TRY(Seal(s.get(), {s->left.get(), s->right.get()}));
      left = std::move(s);
    }
    return left;
  }

  std::unique_ptr<QueryStmt> ParseQueryPrimary() {
    if (Accept(TokenKind::kLParen)) {
      std::unique_ptr<QueryStmt> q;
      TRY(q = ParseQuery(nullptr));
      TRY(Expect(TokenKind::kRParen));
      return q;
    }
    if (IsKw(Kw::kSELECT)) return ParseSelectCore();
    Fail();
    return nullptr;
  }

  // Reads an optimizer hint attached to the current token (right after a statement
  // keyword).
  void TakeHint(std::vector<std::string>* hints) {
    std::string_view h = Peek().hint;
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.front()))) h.remove_prefix(1);
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.back()))) h.remove_suffix(1);
    if (!h.empty()) hints->emplace_back(h);
  }

  std::unique_ptr<SelectStmt> ParseSelectCore() {
    auto s = New<SelectStmt>();
    TRY(ExpectKw(Kw::kSELECT));
    TakeHint(&s->hints);
    while (true) {
      if (AcceptKw(Kw::kALL)) continue;
      if (AcceptKw(Kw::kDISTINCT) || AcceptKw(Kw::kDISTINCTROW)) {
        s->distinct = true;
      } else if (AcceptKw(Kw::kSTRAIGHT_JOIN)) {
        s->straight_join = true;
      } else if (AcceptKw(Kw::kSQL_CALC_FOUND_ROWS)) {
        s->sql_calc_found_rows = true;
      } else if (AcceptWord("SQL_NO_CACHE")) {
        s->sql_no_cache = true;
      } else if (AcceptKw(Kw::kHIGH_PRIORITY) || AcceptKw(Kw::kSQL_SMALL_RESULT) ||
                 AcceptKw(Kw::kSQL_BIG_RESULT) || AcceptWord("SQL_BUFFER_RESULT") ||
                 AcceptWord("SQL_CACHE")) {
      } else {
        break;
      }
    }
    int d = 0;
    do {
      SelectField f;
      TRY(ParseSelectField(&f));
      d = std::max(d, DepthOf(f.expr.get()));
      s->fields.push_back(std::move(f));
    } while (Accept(TokenKind::kComma));
    if (AcceptKw(Kw::kFROM)) {
      if (!AcceptKw(Kw::kDUAL)) TRY(s->from = ParseTableRefs());
    }
    if (AcceptKw(Kw::kWHERE)) TRY(s->where = ParseExpr());
    if (AcceptKw(Kw::kGROUP)) {
      TRY(ExpectKw(Kw::kBY));
      TRY(ParseOrderList(&s->group_by));
      if (IsKw(Kw::kWITH) && IsKw(Kw::kROLLUP, 1)) {
        Advance();
        Advance();
        s->with_rollup = true;
      }
    }
    if (AcceptKw(Kw::kHAVING)) TRY(s->having = ParseExpr());
    d = std::max({d, DepthOf(s->from.get()), DepthOf(s->where.get()), DepthOf(s->having.get()),
                  MaxDepth(s->group_by)});
    TRY(Seal(s.get(), d));
    return s;
  }

  bool ParseSelectField(SelectField* f) {
    if (Accept(TokenKind::kStar)) {
      f->wildcard = true;
      return true;
    }
    if (IsIdentTok(Peek()) && Is(TokenKind::kDot, 1)) {
      if (Is(TokenKind::kStar, 2)) {
        f->wildcard = true;
        f->wildcard_table = IdentText(Peek());
        Advance();
        Advance();
        Advance();
        return true;
      }
      if (Is(TokenKind::kDot, 3) && Is(TokenKind::kStar, 4) &&
          (IsIdentTok(Peek(2)) || Is(TokenKind::kKeyword, 2))) {
        f->wildcard = true;
        f->wildcard_db = IdentText(Peek());
        f->wildcard_table =
            Peek(2).kind == TokenKind::kQuotedIdent ? Peek(2).value : std::string(Peek(2).text);
        for (int i = 0; i < 5; ++i) Advance();
        return true;
      }
    }
    TRY(f->expr = ParseExpr());
    if (AcceptKw(Kw::kAS)) {
      TRY(ParseIdentOrString(&f->alias));
    } else if (IsIdentTok(Peek()) || Is(TokenKind::kString)) {
      TRY(ParseIdentOrString(&f->alias));
    }
    return true;
  }

  bool ParseOrderList(std::vector<OrderItem>* out) {
    do {
      OrderItem o;
      TRY(o.expr = ParseExpr());
      if (AcceptKw(Kw::kDESC)) {
        o.desc = true;
      } else {
        AcceptKw(Kw::kASC);
      }
      out->push_back(std::move(o));
    } while (Accept(TokenKind::kComma));
    return true;
  }

  // A LIMIT operand: an integer literal, a `?` or a user variable.
  ExprPtr ParseLimitValue() {
    const Token& t = Peek();
    if (t.kind == TokenKind::kInt || t.kind == TokenKind::kParam || t.kind == TokenKind::kUserVar) {
      return ParsePrimary();
    }
    Fail();
    return nullptr;
  }

  bool ParseLimit(std::optional<Limit>* out) {
    TRY(ExpectKw(Kw::kLIMIT));
    Limit l;
    TRY(l.count = ParseLimitValue());
    if (Accept(TokenKind::kComma)) {
      l.offset = std::move(l.count);
      l.comma_form = true;
      TRY(l.count = ParseLimitValue());
    } else if (AcceptKw(Kw::kOFFSET)) {
      TRY(l.offset = ParseLimitValue());
    }
    *out = std::move(l);
    return true;
  }

  // ---- Table references -----------------------------------------------------------------

  TableRefPtr ParseTableRefs() {
    TableRefPtr left;
    TRY(left = ParseTableRef());
    while (Is(TokenKind::kComma)) {
      auto j = New<JoinRef>();
      Advance();
      j->kind = JoinKind::kComma;
      TRY(j->right = ParseTableRef());
      j->left = std::move(left);
      TRY(Seal(j.get(), {j->left.get(), j->right.get()}));
      left = std::move(j);
    }
    return left;
  }

  TableRefPtr ParseTableRef() {
    TableRefPtr left;
    TRY(left = ParseTableFactor());
    while (true) {
      auto j = New<JoinRef>();
      bool need_cond = false;
      bool allow_cond = true;
      if (AcceptKw(Kw::kINNER) || IsKw(Kw::kJOIN)) {
        TRY(ExpectKw(Kw::kJOIN));
        j->kind = JoinKind::kInner;
      } else if (AcceptKw(Kw::kCROSS)) {
        TRY(ExpectKw(Kw::kJOIN));
        j->kind = JoinKind::kCross;
      } else if (AcceptKw(Kw::kSTRAIGHT_JOIN)) {
        j->kind = JoinKind::kStraight;
      } else if (IsKw(Kw::kLEFT) || IsKw(Kw::kRIGHT)) {
        j->kind = IsKw(Kw::kLEFT) ? JoinKind::kLeft : JoinKind::kRight;
        Advance();
        AcceptKw(Kw::kOUTER);
        TRY(ExpectKw(Kw::kJOIN));
        need_cond = true;
      } else if (AcceptKw(Kw::kNATURAL)) {
        j->natural = true;
        j->kind = JoinKind::kInner;
        if (IsKw(Kw::kLEFT) || IsKw(Kw::kRIGHT)) {
          j->kind = IsKw(Kw::kLEFT) ? JoinKind::kLeft : JoinKind::kRight;
          Advance();
          AcceptKw(Kw::kOUTER);
        } else {
          AcceptKw(Kw::kINNER);
        }
        TRY(ExpectKw(Kw::kJOIN));
        allow_cond = false;
      } else {
        break;
      }
      TRY(j->right = ParseTableFactor());
      if (allow_cond && AcceptKw(Kw::kON)) {
        TRY(j->on = ParseExpr());
      } else if (allow_cond && AcceptKw(Kw::kUSING)) {
        TRY(ParseIdentList(&j->using_columns));
      } else if (need_cond) {
        Fail();
        return nullptr;
      }
      j->left = std::move(left);
      TRY(Seal(j.get(), {j->left.get(), j->right.get(), j->on.get()}));
      left = std::move(j);
    }
    return left;
  }

  bool ParseAlias(std::string* alias) {
    if (AcceptKw(Kw::kAS)) return ParseIdentOrString(alias);
    if (IsIdentTok(Peek()) || Is(TokenKind::kString)) return ParseIdentOrString(alias);
    return true;
  }

  TableRefPtr ParseTableFactor() {
    DepthGuard g(this);
    TRY(g.ok());
    if (Is(TokenKind::kLParen)) {
      if (ParenOpensDerivedTable()) {
        auto d = New<DerivedTable>();
        Advance();
        TRY(d->query = ParseQuery(nullptr));
        TRY(Expect(TokenKind::kRParen));
        TRY(ParseAlias(&d->alias));
        if (!d->alias.empty() && Is(TokenKind::kLParen)) TRY(ParseIdentList(&d->columns));
        TRY(Seal(d.get(), {d->query.get()}));
        return d;
      }
      Advance();
      TableRefPtr inner;
      TRY(inner = ParseTableRefs());
      TRY(Expect(TokenKind::kRParen));
      return inner;
    }
    std::unique_ptr<TableName> t;
    TRY(t = ParseTableName());
    if (AcceptKw(Kw::kPARTITION)) {
      std::vector<std::string> ignored;
      TRY(ParseIdentList(&ignored));
    }
    TRY(ParseAlias(&t->alias));
    while (IsKw(Kw::kUSE) || IsKw(Kw::kIGNORE) || IsKw(Kw::kFORCE)) {
      IndexHint h;
      h.kind = IsKw(Kw::kUSE)
                   ? IndexHintKind::kUse
                   : (IsKw(Kw::kIGNORE) ? IndexHintKind::kIgnore : IndexHintKind::kForce);
      Advance();
      if (!AcceptKw(Kw::kINDEX)) TRY(ExpectKw(Kw::kKEY));
      if (AcceptKw(Kw::kFOR)) {
        if (AcceptKw(Kw::kJOIN)) {
          h.scope = IndexHintScope::kJoin;
        } else if (AcceptKw(Kw::kORDER)) {
          TRY(ExpectKw(Kw::kBY));
          h.scope = IndexHintScope::kOrderBy;
        } else {
          TRY(ExpectKw(Kw::kGROUP));
          TRY(ExpectKw(Kw::kBY));
          h.scope = IndexHintScope::kGroupBy;
        }
      }
      TRY(Expect(TokenKind::kLParen));
      if (!Is(TokenKind::kRParen)) {
        do {
          std::string name;
          if (AcceptKw(Kw::kPRIMARY)) {
            name = "PRIMARY";
          } else {
            TRY(ParseIdent(&name));
          }
          h.indexes.push_back(std::move(name));
        } while (Accept(TokenKind::kComma));
      }
      TRY(Expect(TokenKind::kRParen));
      t->index_hints.push_back(std::move(h));
    }
    return t;
  }

  // ---- Expressions ----------------------------------------------------------------------

  ExprPtr ParseExpr() { return ParseExprPrec(kPrecLowest); }

  // The infix operator at the current token: its precedence (0 when there is none).
  int InfixPrec() const {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kPipes:
        return opt_.pipes_as_concat ? kPrecConcat : kPrecOr;
      case TokenKind::kAndAnd:
        return kPrecAnd;
      case TokenKind::kEq:
      case TokenKind::kNullSafeEq:
      case TokenKind::kNe:
      case TokenKind::kLt:
      case TokenKind::kLe:
      case TokenKind::kGt:
      case TokenKind::kGe:
        return kPrecCmp;
      case TokenKind::kAssign:
        return kPrecAssign;
      case TokenKind::kPipe:
        return kPrecBitOr;
      case TokenKind::kAmp:
        return kPrecBitAnd;
      case TokenKind::kShl:
      case TokenKind::kShr:
        return kPrecShift;
      case TokenKind::kPlus:
      case TokenKind::kMinus:
        return kPrecAdd;
      case TokenKind::kStar:
      case TokenKind::kSlash:
      case TokenKind::kPercent:
        return kPrecMul;
      case TokenKind::kCaret:
        return kPrecBitXor;
      case TokenKind::kKeyword:
      case TokenKind::kIdent:
        break;
      default:
        return 0;
    }
    switch (t.kw) {
      case Kw::kOR:
        return kPrecOr;
      case Kw::kXOR:
        return kPrecXor;
      case Kw::kAND:
        return kPrecAnd;
      case Kw::kIS:
        return kPrecCmp;
      case Kw::kIN:
      case Kw::kLIKE:
      case Kw::kBETWEEN:
      case Kw::kREGEXP:
      case Kw::kRLIKE:
        return kPrecPred;
      case Kw::kNOT: {
        const Kw n = Peek(1).kw;
        if (n == Kw::kIN || n == Kw::kLIKE || n == Kw::kBETWEEN || n == Kw::kREGEXP ||
            n == Kw::kRLIKE) {
          return kPrecPred;
        }
        return 0;
      }
      case Kw::kDIV:
      case Kw::kMOD:
        return kPrecMul;
      case Kw::kCOLLATE:
        return kPrecCollate;
      default:
        return 0;
    }
  }

  static BinaryOp CmpOp(TokenKind k) {
    switch (k) {
      case TokenKind::kEq:
        return BinaryOp::kEq;
      case TokenKind::kNullSafeEq:
        return BinaryOp::kNullSafeEq;
      case TokenKind::kNe:
        return BinaryOp::kNe;
      case TokenKind::kLt:
        return BinaryOp::kLt;
      case TokenKind::kLe:
        return BinaryOp::kLe;
      case TokenKind::kGt:
        return BinaryOp::kGt;
      default:
        return BinaryOp::kGe;
    }
  }

  ExprPtr MakeBinary(BinaryOp op, ExprPtr left, ExprPtr right, const SourcePos& pos) {
    auto b = std::make_unique<BinaryExpr>();
    b->pos = pos;
    b->op = op;
    b->left = std::move(left);
    b->right = std::move(right);
    TRY(Seal(b.get(), {b->left.get(), b->right.get()}));
    return b;
  }

  ExprPtr ParseExprPrec(int min_prec) {
    DepthGuard g(this);
    TRY(g.ok());
    ExprPtr left;
    TRY(left = ParsePrimary());
    while (true) {
      const int prec = InfixPrec();
      if (prec == 0 || prec <= min_prec) break;
      TRY(left = ParseInfix(std::move(left), prec));
    }
    return left;
  }

  // One infix or postfix operator of precedence `prec` after `left`. Kept out of
  // ParseExprPrec so that the recursive path has small stack frames.
  ExprPtr ParseInfix(ExprPtr left, int prec) {
    const Token& t = Peek();
    const SourcePos pos = left->pos;
    const TokenKind kind = t.kind;
    const Kw kw = t.kw;
    Advance();
    ExprPtr right;
    switch (prec) {
      case kPrecOr:
      case kPrecXor:
      case kPrecAnd: {
        TRY(right = ParseExprPrec(prec));
        const BinaryOp op =
            prec == kPrecOr ? BinaryOp::kOr : (prec == kPrecXor ? BinaryOp::kXor : BinaryOp::kAnd);
        TRY(left = MakeBinary(op, std::move(left), std::move(right), pos));
        break;
      }
      case kPrecAssign: {
        const auto* v = dynamic_cast<const VariableExpr*>(left.get());
        if (v == nullptr || v->system) {
          Fail();
          return nullptr;
        }
        TRY(right = ParseExprPrec(kPrecAssign - 1));
        TRY(left = MakeBinary(BinaryOp::kAssign, std::move(left), std::move(right), pos));
        break;
      }
      case kPrecCmp:
        if (kw == Kw::kIS) {
          auto e = New<IsExpr>();
          e->pos = pos;
          e->negated = AcceptKw(Kw::kNOT);
          if (AcceptKw(Kw::kNULL)) {
            e->what = IsWhat::kNull;
          } else if (AcceptKw(Kw::kTRUE)) {
            e->what = IsWhat::kTrue;
          } else if (AcceptKw(Kw::kFALSE)) {
            e->what = IsWhat::kFalse;
          } else {
            TRY(ExpectKw(Kw::kUNKNOWN));
            e->what = IsWhat::kUnknown;
          }
          e->operand = std::move(left);
          TRY(Seal(e.get(), {e->operand.get()}));
          left = std::move(e);
        } else if ((IsKw(Kw::kANY) || IsKw(Kw::kSOME) || IsKw(Kw::kALL)) &&
                   Is(TokenKind::kLParen, 1)) {
          auto e = New<CompareSubqueryExpr>();
          e->pos = pos;
          e->op = CmpOp(kind);
          e->all = IsKw(Kw::kALL);
          Advance();
          Advance();
          TRY(e->subquery = ParseQuery(nullptr));
          TRY(Expect(TokenKind::kRParen));
          e->left = std::move(left);
          TRY(Seal(e.get(), {e->left.get(), e->subquery.get()}));
          left = std::move(e);
        } else {
          TRY(right = ParseExprPrec(kPrecCmp));
          TRY(left = MakeBinary(CmpOp(kind), std::move(left), std::move(right), pos));
        }
        break;
      case kPrecPred:
        TRY(left = ParsePredicate(std::move(left), kw, pos));
        break;
      case kPrecCollate: {
        auto e = New<CollateExpr>();
        e->pos = pos;
        TRY(ParseIdentOrString(&e->collation));
        e->collation = Lower(e->collation);
        e->operand = std::move(left);
        TRY(Seal(e.get(), {e->operand.get()}));
        left = std::move(e);
        break;
      }
      case kPrecConcat: {
        TRY(right = ParseExprPrec(prec));
        auto f = New<FuncCallExpr>();
        f->pos = pos;
        f->name = "CONCAT";
        f->args.push_back(std::move(left));
        f->args.push_back(std::move(right));
        TRY(Seal(f.get(), MaxDepth(f->args)));
        left = std::move(f);
        break;
      }
      default: {
        BinaryOp op;
        switch (kind) {
          case TokenKind::kPipe:
            op = BinaryOp::kBitOr;
            break;
          case TokenKind::kAmp:
            op = BinaryOp::kBitAnd;
            break;
          case TokenKind::kShl:
            op = BinaryOp::kShl;
            break;
          case TokenKind::kShr:
            op = BinaryOp::kShr;
            break;
          case TokenKind::kPlus:
            op = BinaryOp::kPlus;
            break;
          case TokenKind::kMinus:
            op = BinaryOp::kMinus;
            break;
          case TokenKind::kStar:
            op = BinaryOp::kMul;
            break;
          case TokenKind::kSlash:
            op = BinaryOp::kDiv;
            break;
          case TokenKind::kPercent:
            op = BinaryOp::kMod;
            break;
          case TokenKind::kCaret:
            op = BinaryOp::kBitXor;
            break;
          default:
            op = kw == Kw::kDIV ? BinaryOp::kIntDiv : BinaryOp::kMod;
            break;
        }
        TRY(right = ParseExprPrec(prec));
        TRY(left = MakeBinary(op, std::move(left), std::move(right), pos));
        break;
      }
    }
    return left;
  }

  // [NOT] IN / LIKE / BETWEEN / REGEXP after `left`; the first keyword is consumed.
  ExprPtr ParsePredicate(ExprPtr left, Kw kw, const SourcePos& pos) {
    bool negated = false;
    if (kw == Kw::kNOT) {
      negated = true;
      kw = Peek().kw;
      Advance();
    }
    switch (kw) {
      case Kw::kIN: {
        auto e = New<InExpr>();
        e->pos = pos;
        e->negated = negated;
        TRY(Expect(TokenKind::kLParen));
        TRY(ParseParenBody(&e->subquery, &e->list));
        e->operand = std::move(left);
        TRY(Seal(e.get(), std::max({DepthOf(e->operand.get()), DepthOf(e->subquery.get()),
                                    MaxDepth(e->list)})));
        return e;
      }
      case Kw::kBETWEEN: {
        auto e = New<BetweenExpr>();
        e->pos = pos;
        e->negated = negated;
        TRY(e->low = ParseExprPrec(kPrecPred));
        TRY(ExpectKw(Kw::kAND));
        TRY(e->high = ParseExprPrec(kPrecPred));
        e->operand = std::move(left);
        TRY(Seal(e.get(), {e->operand.get(), e->low.get(), e->high.get()}));
        return e;
      }
      default: {
        auto e = New<PatternExpr>();
        e->pos = pos;
        e->negated = negated;
        e->regexp = kw != Kw::kLIKE;
        TRY(e->pattern = ParseExprPrec(kPrecPred));
        if (!e->regexp && AcceptKw(Kw::kESCAPE)) TRY(e->escape = ParseExprPrec(kPrecPred));
        e->operand = std::move(left);
        TRY(Seal(e.get(), {e->operand.get(), e->pattern.get(), e->escape.get()}));
        return e;
      }
    }
  }

  // After a '(' that may open a query or an expression list: fills `*query` or `*list`
  // and consumes the ')'. `((SELECT ..) UNION (SELECT ..))` is a query.
  bool ParseParenBody(std::unique_ptr<QueryStmt>* query, std::vector<ExprPtr>* list) {
    if (IsQueryStart()) {
      TRY(*query = ParseQuery(nullptr));
      return Expect(TokenKind::kRParen);
    }
    ExprPtr first;
    TRY(first = ParseExpr());
    auto* sub = dynamic_cast<SubqueryExpr*>(first.get());
    if (sub != nullptr && (IsSetOpAhead() || IsKw(Kw::kORDER) || IsKw(Kw::kLIMIT))) {
      TRY(*query = ParseQuery(std::move(sub->query)));
      return Expect(TokenKind::kRParen);
    }
    list->push_back(std::move(first));
    while (Accept(TokenKind::kComma)) {
      ExprPtr e;
      TRY(e = ParseExpr());
      list->push_back(std::move(e));
    }
    return Expect(TokenKind::kRParen);
  }

  ExprPtr MakeUnary(UnaryOp op, int operand_prec) {
    auto u = New<UnaryExpr>();
    u->op = op;
    Advance();
    TRY(u->operand = ParseExprPrec(operand_prec));
    TRY(Seal(u.get(), {u->operand.get()}));
    return u;
  }

  ExprPtr MakeFunc(std::string name, const SourcePos& pos) {
    auto f = std::make_unique<FuncCallExpr>();
    f->pos = pos;
    f->name = std::move(name);
    return f;
  }

  // A literal, name, function call, parenthesised expression or prefix operator.
  ExprPtr ParsePrimary() {
    DepthGuard g(this);
    TRY(g.ok());
    const Token& t = Peek();
    const SourcePos pos{t.offset, t.line, t.column};
    switch (t.kind) {
      case TokenKind::kParam: {
        auto e = New<ParamExpr>();
        e->index = params_++;
        Advance();
        return e;
      }
      case TokenKind::kString:
      case TokenKind::kNationalString:
      case TokenKind::kInt:
      case TokenKind::kDecimal:
      case TokenKind::kFloat:
      case TokenKind::kHex:
      case TokenKind::kBit:
        return ParseLiteral("");
      case TokenKind::kUserVar:
      case TokenKind::kSysVar: {
        auto v = New<VariableExpr>();
        v->system = t.kind == TokenKind::kSysVar;
        v->scope = static_cast<uint8_t>(t.scope);
        v->name = t.value;
        Advance();
        return v;
      }
      case TokenKind::kLParen: {
        Advance();
        std::unique_ptr<QueryStmt> q;
        std::vector<ExprPtr> list;
        TRY(ParseParenBody(&q, &list));
        if (q != nullptr) {
          auto s = std::make_unique<SubqueryExpr>();
          s->pos = pos;
          s->query = std::move(q);
          TRY(Seal(s.get(), {s->query.get()}));
          return s;
        }
        if (list.size() == 1) return std::move(list[0]);
        auto r = std::make_unique<RowExpr>();
        r->pos = pos;
        r->items = std::move(list);
        TRY(Seal(r.get(), MaxDepth(r->items)));
        return r;
      }
      case TokenKind::kMinus:
        return MakeUnary(UnaryOp::kMinus, kPrecUnary);
      case TokenKind::kPlus:
        return MakeUnary(UnaryOp::kPlus, kPrecUnary);
      case TokenKind::kTilde:
        return MakeUnary(UnaryOp::kBitNeg, kPrecUnary);
      case TokenKind::kBang:
        return MakeUnary(UnaryOp::kNot, kPrecUnary);
      case TokenKind::kKeyword:
        return ParseKeywordPrimary();
      case TokenKind::kIdent:
      case TokenKind::kQuotedIdent:
        return ParseNamePrimary();
      default:
        Fail();
        return nullptr;
    }
  }

  // A literal at the current token; `charset` is an introducer already consumed.
  ExprPtr ParseLiteral(std::string charset) {
    auto e = New<LiteralExpr>();
    e->charset = std::move(charset);
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kString:
        e->kind = LiteralKind::kString;
        e->text = t.value;
        Advance();
        while (Is(TokenKind::kString)) {  // Adjacent strings concatenate.
          e->text += Peek().value;
          Advance();
        }
        return e;
      case TokenKind::kNationalString:
        if (!e->charset.empty()) break;
        e->kind = LiteralKind::kString;
        e->charset = "utf8";
        e->text = t.value;
        Advance();
        while (Is(TokenKind::kString)) {
          e->text += Peek().value;
          Advance();
        }
        return e;
      case TokenKind::kHex:
      case TokenKind::kBit:
        e->kind = t.kind == TokenKind::kHex ? LiteralKind::kHex : LiteralKind::kBit;
        e->text = t.value;
        Advance();
        return e;
      case TokenKind::kInt:
      case TokenKind::kDecimal:
      case TokenKind::kFloat:
        if (!e->charset.empty()) break;
        e->kind = t.kind == TokenKind::kInt ? LiteralKind::kInt
                                            : (t.kind == TokenKind::kDecimal ? LiteralKind::kDecimal
                                                                             : LiteralKind::kFloat);
        e->text = std::string(t.text);
        Advance();
        return e;
      default:
        break;
    }
    Fail();
    return nullptr;
  }

  ExprPtr ParseKeywordPrimary() {
    const Token& t = Peek();
    const SourcePos pos{t.offset, t.line, t.column};
    const Kw kw = t.kw;
    switch (kw) {
      case Kw::kNULL: {
        auto e = New<LiteralExpr>();
        e->kind = LiteralKind::kNull;
        Advance();
        return e;
      }
      case Kw::kTRUE:
      case Kw::kFALSE: {
        auto e = New<LiteralExpr>();
        e->kind = LiteralKind::kBool;
        e->text = kw == Kw::kTRUE ? "TRUE" : "FALSE";
        Advance();
        return e;
      }
      case Kw::kNOT:
        return MakeUnary(UnaryOp::kNot, opt_.high_not_precedence ? kPrecUnary : kPrecNot);
      case Kw::kBINARY:
        return MakeUnary(UnaryOp::kBinary, kPrecUnary);
      case Kw::kEXISTS: {
        auto e = New<ExistsExpr>();
        Advance();
        TRY(Expect(TokenKind::kLParen));
        TRY(e->query = ParseQuery(nullptr));
        TRY(Expect(TokenKind::kRParen));
        TRY(Seal(e.get(), {e->query.get()}));
        return e;
      }
      case Kw::kCASE:
        return ParseCase();
      case Kw::kCONVERT:
        return ParseConvert();
      case Kw::kINTERVAL:
        return ParseInterval();
      case Kw::kDEFAULT: {
        auto e = New<DefaultExpr>();
        Advance();
        if (Accept(TokenKind::kLParen)) {
          TRY(ParseIdent(&e->column));
          TRY(Expect(TokenKind::kRParen));
        }
        return e;
      }
      case Kw::kROW: {
        Advance();
        if (!Is(TokenKind::kLParen)) break;
        Advance();
        auto r = New<RowExpr>();
        r->pos = pos;
        do {
          ExprPtr e;
          TRY(e = ParseExpr());
          r->items.push_back(std::move(e));
        } while (Accept(TokenKind::kComma));
        TRY(Expect(TokenKind::kRParen));
        if (r->items.size() < 2) {
          Fail();
          return nullptr;
        }
        TRY(Seal(r.get(), MaxDepth(r->items)));
        return r;
      }
      default:
        break;
    }
    if (IsFunctionKeyword(kw) && Is(TokenKind::kLParen, 1)) {
      std::string name(KeywordText(kw));
      Advance();
      return ParseFuncArgs(std::move(name), pos);
    }
    if (IsNiladicKeyword(kw)) {
      Advance();
      return MakeFunc(std::string(KeywordText(kw)), pos);
    }
    Fail();
    return nullptr;
  }

  ExprPtr ParseNamePrimary() {
    const Token& t = Peek();
    const SourcePos pos{t.offset, t.line, t.column};
    // _charset'string'
    if (t.kind == TokenKind::kIdent && !t.text.empty() && t.text[0] == '_' &&
        (Is(TokenKind::kString, 1) || Is(TokenKind::kHex, 1) || Is(TokenKind::kBit, 1)) &&
        IsIntroducer(t.text)) {
      std::string cs = Lower(t.text.substr(1));
      Advance();
      return ParseLiteral(std::move(cs));
    }
    // DATE '...', TIME '...', TIMESTAMP '...'
    if ((t.kw == Kw::kDATE || t.kw == Kw::kTIME || t.kw == Kw::kTIMESTAMP) &&
        t.kind == TokenKind::kIdent && Is(TokenKind::kString, 1)) {
      auto f = MakeFunc(std::string(KeywordText(t.kw)), pos);
      auto* fn = static_cast<FuncCallExpr*>(f.get());
      Advance();
      ExprPtr lit;
      TRY(lit = ParseLiteral(""));
      fn->args.push_back(std::move(lit));
      TRY(Seal(f.get(), 1));
      return f;
    }
    if (Is(TokenKind::kLParen, 1)) {
      std::string name = t.kind == TokenKind::kQuotedIdent ? t.value : Upper(t.text);
      if (t.kind == TokenKind::kIdent && name == "CAST") {
        Advance();
        return ParseCast(pos);
      }
      Advance();
      return ParseFuncArgs(std::move(name), pos);
    }
    auto c = New<ColumnRefExpr>();
    TRY(ParseIdent(&c->column));
    if (Accept(TokenKind::kDot)) {
      c->table = std::move(c->column);
      TRY(ParseNameAfterDot(&c->column));
      if (Accept(TokenKind::kDot)) {
        c->db = std::move(c->table);
        c->table = std::move(c->column);
        TRY(ParseNameAfterDot(&c->column));
      }
    }
    return c;
  }

  ExprPtr ParseCase() {
    auto c = New<CaseExpr>();
    Advance();
    if (!IsKw(Kw::kWHEN)) TRY(c->operand = ParseExpr());
    int d = DepthOf(c->operand.get());
    while (AcceptKw(Kw::kWHEN)) {
      WhenClause w;
      TRY(w.condition = ParseExpr());
      TRY(ExpectKw(Kw::kTHEN));
      TRY(w.result = ParseExpr());
      d = std::max({d, DepthOf(w.condition.get()), DepthOf(w.result.get())});
      c->whens.push_back(std::move(w));
    }
    if (c->whens.empty()) {
      Fail();
      return nullptr;
    }
    if (AcceptKw(Kw::kELSE)) TRY(c->else_result = ParseExpr());
    TRY(ExpectKw(Kw::kEND));
    TRY(Seal(c.get(), std::max(d, DepthOf(c->else_result.get()))));
    return c;
  }

  ExprPtr ParseCast(const SourcePos& pos) {
    auto c = std::make_unique<CastExpr>();
    c->pos = pos;
    TRY(Expect(TokenKind::kLParen));
    TRY(c->operand = ParseExpr());
    TRY(ExpectKw(Kw::kAS));
    TRY(ParseCastType(&c->type));
    TRY(Expect(TokenKind::kRParen));
    TRY(Seal(c.get(), {c->operand.get()}));
    return c;
  }

  ExprPtr ParseConvert() {
    auto c = New<CastExpr>();
    Advance();
    TRY(Expect(TokenKind::kLParen));
    TRY(c->operand = ParseExpr());
    if (AcceptKw(Kw::kUSING)) {
      TRY(ParseCharsetName(&c->using_charset));
    } else {
      TRY(Expect(TokenKind::kComma));
      TRY(ParseCastType(&c->type));
    }
    TRY(Expect(TokenKind::kRParen));
    TRY(Seal(c.get(), {c->operand.get()}));
    return c;
  }

  bool ParseTimeUnit(std::string* out) {
    const Token& t = Peek();
    if ((t.kind == TokenKind::kIdent || t.kind == TokenKind::kKeyword) && IsTimeUnit(t.text)) {
      *out = Upper(t.text);
      Advance();
      return true;
    }
    return Fail();
  }

  // INTERVAL expr unit, or the function INTERVAL(n, n1, ...).
  ExprPtr ParseInterval() {
    const Token& t = Peek();
    const SourcePos pos{t.offset, t.line, t.column};
    Advance();
    ExprPtr value;
    TRY(value = ParseExpr());
    if (auto* row = dynamic_cast<RowExpr*>(value.get()); row != nullptr && !IsTimeUnitAhead()) {
      auto f = MakeFunc("INTERVAL", pos);
      static_cast<FuncCallExpr*>(f.get())->args = std::move(row->items);
      TRY(Seal(f.get(), row->depth - 1));
      return f;
    }
    auto e = std::make_unique<IntervalExpr>();
    e->pos = pos;
    e->value = std::move(value);
    TRY(ParseTimeUnit(&e->unit));
    TRY(Seal(e.get(), {e->value.get()}));
    return e;
  }

  bool IsTimeUnitAhead() const {
    const Token& t = Peek();
    return (t.kind == TokenKind::kIdent || t.kind == TokenKind::kKeyword) && IsTimeUnit(t.text);
  }

  // Arguments after a function name; the current token is '('.
  static bool IsSpecialFunction(std::string_view n) {
    return n == "EXTRACT" || n == "POSITION" || n == "TIMESTAMPADD" || n == "TIMESTAMPDIFF" ||
           n == "TRIM" || n == "SUBSTRING" || n == "SUBSTR" || n == "MID";
  }

  // Arguments after a function name; the current token is '('.
  ExprPtr ParseFuncArgs(std::string name, const SourcePos& pos) {
    TRY(Expect(TokenKind::kLParen));
    if (IsAggregateName(name)) return ParseAggregate(std::move(name), pos);
    auto f = std::make_unique<FuncCallExpr>();
    f->pos = pos;
    f->name = std::move(name);
    if (IsSpecialFunction(f->name) && !Is(TokenKind::kRParen)) {
      TRY(ParseSpecialFunctionArgs(f.get()));
    } else if (!Is(TokenKind::kRParen)) {
      do {
        ExprPtr e;
        TRY(e = ParseExpr());
        f->args.push_back(std::move(e));
      } while (Accept(TokenKind::kComma));
    }
    TRY(Expect(TokenKind::kRParen));
    if (IsKw(Kw::kOVER)) {  // Window functions are not supported yet.
      Fail();
      return nullptr;
    }
    TRY(Seal(f.get(), MaxDepth(f->args)));
    return f;
  }

  // The arguments of EXTRACT, POSITION, TIMESTAMPADD/DIFF, TRIM and SUBSTRING, whose
  // syntax is special; the closing ')' is left for the caller.
  bool ParseSpecialFunctionArgs(FuncCallExpr* f) {
    const std::string& n = f->name;
    auto push = [&](ExprPtr e) { f->args.push_back(std::move(e)); };
    auto keyword = [&](std::string word) {
      auto k = std::make_unique<KeywordExpr>();
      k->word = std::move(word);
      return k;
    };
    if (n == "EXTRACT") {
      std::string unit;
      TRY(ParseTimeUnit(&unit));
      push(keyword(std::move(unit)));
      TRY(ExpectKw(Kw::kFROM));
      ExprPtr e;
      TRY(e = ParseExpr());
      push(std::move(e));
    } else if (n == "POSITION") {
      ExprPtr a, b;
      TRY(a = ParseExprPrec(kPrecPred));
      TRY(ExpectKw(Kw::kIN));
      TRY(b = ParseExpr());
      push(std::move(a));
      push(std::move(b));
    } else if ((n == "TIMESTAMPADD" || n == "TIMESTAMPDIFF") && IsTimeUnitAhead()) {
      std::string unit;
      TRY(ParseTimeUnit(&unit));
      push(keyword(std::move(unit)));
      while (Accept(TokenKind::kComma)) {
        ExprPtr e;
        TRY(e = ParseExpr());
        push(std::move(e));
      }
    } else if (n == "TRIM") {
      std::string dir;
      if (IsKw(Kw::kBOTH) || IsKw(Kw::kLEADING) || IsKw(Kw::kTRAILING)) {
        dir = std::string(KeywordText(Peek().kw));
        Advance();
      }
      ExprPtr first, remstr;
      if (!dir.empty() && AcceptKw(Kw::kFROM)) {
        TRY(first = ParseExpr());
        push(std::move(first));
      } else {
        TRY(first = ParseExpr());
        if (AcceptKw(Kw::kFROM)) {
          ExprPtr str;
          TRY(str = ParseExpr());
          push(std::move(str));
          push(std::move(first));
        } else if (!dir.empty()) {
          return Fail();
        } else {
          push(std::move(first));
        }
      }
      if (!dir.empty()) push(keyword(std::move(dir)));
    } else if ((n == "SUBSTRING" || n == "SUBSTR" || n == "MID") && !Is(TokenKind::kRParen)) {
      ExprPtr e;
      TRY(e = ParseExpr());
      push(std::move(e));
      if (AcceptKw(Kw::kFROM)) {
        TRY(e = ParseExpr());
        push(std::move(e));
        if (AcceptKw(Kw::kFOR)) {
          TRY(e = ParseExpr());
          push(std::move(e));
        }
      } else {
        while (Accept(TokenKind::kComma)) {
          TRY(e = ParseExpr());
          push(std::move(e));
        }
      }
    }
    return true;
  }

  ExprPtr ParseAggregate(std::string name, const SourcePos& pos) {
    auto a = std::make_unique<AggregateExpr>();
    a->pos = pos;
    a->name = std::move(name);
    if (a->name == "COUNT" && Is(TokenKind::kStar)) {
      Advance();
      a->star = true;
    } else {
      if (AcceptKw(Kw::kDISTINCT) || AcceptKw(Kw::kDISTINCTROW)) {
        a->distinct = true;
      } else {
        AcceptKw(Kw::kALL);
      }
      do {
        ExprPtr e;
        TRY(e = ParseExpr());
        a->args.push_back(std::move(e));
      } while (Accept(TokenKind::kComma));
      if (a->args.size() > 1 && a->name != "COUNT" && a->name != "GROUP_CONCAT") {
        Fail();
        return nullptr;
      }
      if (a->name == "COUNT" && a->args.size() > 1 && !a->distinct) {
        Fail();
        return nullptr;
      }
      if (a->name == "GROUP_CONCAT") {
        if (AcceptKw(Kw::kORDER)) {
          TRY(ExpectKw(Kw::kBY));
          TRY(ParseOrderList(&a->order_by));
        }
        if (AcceptKw(Kw::kSEPARATOR)) {
          if (!Is(TokenKind::kString)) {
            Fail();
            return nullptr;
          }
          a->separator = Peek().value;
          Advance();
        }
      }
    }
    TRY(Expect(TokenKind::kRParen));
    if (IsKw(Kw::kOVER)) {
      Fail();
      return nullptr;
    }
    TRY(Seal(a.get(), std::max(MaxDepth(a->args), MaxDepth(a->order_by))));
    return a;
  }

  // DEFAULT / ON UPDATE values: a primary, optionally signed.
  ExprPtr ParseDefaultValue() {
    if (Is(TokenKind::kMinus) || Is(TokenKind::kPlus)) {
      auto u = New<UnaryExpr>();
      u->op = Is(TokenKind::kMinus) ? UnaryOp::kMinus : UnaryOp::kPlus;
      Advance();
      TRY(u->operand = ParsePrimary());
      TRY(Seal(u.get(), {u->operand.get()}));
      return u;
    }
    return ParsePrimary();
  }

  // ---- Types ----------------------------------------------------------------------------

  bool ParseLength(DataType* t, bool allow_scale) {
    if (!Accept(TokenKind::kLParen)) return true;
    TRY(ParseNumber(&t->length));
    if (allow_scale && Accept(TokenKind::kComma)) TRY(ParseNumber(&t->scale));
    return Expect(TokenKind::kRParen);
  }

  bool ParseNumber(int64_t* out) {
    const Token& t = Peek();
    if (t.kind != TokenKind::kInt || t.text.size() > 18) return Fail();
    int64_t v = 0;
    for (char c : t.text) v = v * 10 + (c - '0');
    *out = v;
    Advance();
    return true;
  }

  bool ParseNumericFlags(DataType* t) {
    while (true) {
      if (AcceptKw(Kw::kUNSIGNED)) {
        t->is_unsigned = true;
      } else if (AcceptKw(Kw::kSIGNED)) {
      } else if (AcceptKw(Kw::kZEROFILL)) {
        t->zerofill = true;
      } else {
        return true;
      }
    }
  }

  // [BINARY] [CHARACTER SET x | CHARSET x | ASCII | UNICODE] [COLLATE x] [BINARY].
  bool ParseStringAttrs(DataType* t) {
    while (true) {
      if (AcceptKw(Kw::kBINARY)) {
        t->binary = true;
      } else if ((IsKw(Kw::kCHARACTER) && IsKw(Kw::kSET, 1)) || IsKw(Kw::kCHARSET)) {
        if (AcceptKw(Kw::kCHARACTER))
          Advance();
        else
          Advance();
        TRY(ParseCharsetName(&t->charset));
      } else if (AcceptWord("ASCII")) {
        t->charset = "latin1";
      } else if (AcceptWord("UNICODE")) {
        t->charset = "ucs2";
      } else if (IsKw(Kw::kCOLLATE)) {
        Advance();
        TRY(ParseCharsetName(&t->collation));
      } else {
        return true;
      }
    }
  }

  bool ParseDataType(DataType* t) {
    const Token& tok = Peek();
    const Kw kw =
        (tok.kind == TokenKind::kKeyword || tok.kind == TokenKind::kIdent) ? tok.kw : Kw::kNone;
    auto integer = [&](TypeKind k) {
      Advance();
      t->kind = k;
      return ParseLength(t, false) && ParseNumericFlags(t);
    };
    auto real = [&](TypeKind k) {
      Advance();
      t->kind = k;
      return ParseLength(t, true) && ParseNumericFlags(t);
    };
    auto string = [&](TypeKind k, bool length) -> bool {
      t->kind = k;
      if (length) TRY(ParseLength(t, false));
      return ParseStringAttrs(t);
    };
    switch (kw) {
      case Kw::kTINYINT:
      case Kw::kINT1:
        return integer(TypeKind::kTinyInt);
      case Kw::kSMALLINT:
      case Kw::kINT2:
        return integer(TypeKind::kSmallInt);
      case Kw::kMEDIUMINT:
      case Kw::kINT3:
      case Kw::kMIDDLEINT:
        return integer(TypeKind::kMediumInt);
      case Kw::kINT:
      case Kw::kINTEGER:
      case Kw::kINT4:
        return integer(TypeKind::kInt);
      case Kw::kBIGINT:
      case Kw::kINT8:
        return integer(TypeKind::kBigInt);
      case Kw::kDECIMAL:
      case Kw::kDEC:
      case Kw::kNUMERIC:
      case Kw::kFIXED:
        return real(TypeKind::kDecimal);
      case Kw::kFLOAT:
      case Kw::kFLOAT4:
        return real(TypeKind::kFloat);
      case Kw::kFLOAT8:
      case Kw::kREAL:
        return real(TypeKind::kDouble);
      case Kw::kDOUBLE:
        Advance();
        AcceptKw(Kw::kPRECISION);
        t->kind = TypeKind::kDouble;
        return ParseLength(t, true) && ParseNumericFlags(t);
      case Kw::kBIT:
        Advance();
        t->kind = TypeKind::kBit;
        return ParseLength(t, false);
      case Kw::kBOOL:
      case Kw::kBOOLEAN:
        Advance();
        t->kind = TypeKind::kBool;
        return true;
      case Kw::kCHAR:
      case Kw::kCHARACTER:
        Advance();
        if (AcceptKw(Kw::kVARYING)) return string(TypeKind::kVarChar, true);
        return string(TypeKind::kChar, true);
      case Kw::kNCHAR:
        Advance();
        t->charset = "utf8";
        if (AcceptKw(Kw::kVARCHAR) || AcceptKw(Kw::kVARYING)) {
          return string(TypeKind::kVarChar, true);
        }
        return string(TypeKind::kChar, true);
      case Kw::kNATIONAL:
        Advance();
        t->charset = "utf8";
        if (AcceptKw(Kw::kVARCHAR)) return string(TypeKind::kVarChar, true);
        if (!AcceptKw(Kw::kCHAR)) TRY(ExpectKw(Kw::kCHARACTER));
        if (AcceptKw(Kw::kVARYING)) return string(TypeKind::kVarChar, true);
        return string(TypeKind::kChar, true);
      case Kw::kVARCHAR:
      case Kw::kVARCHARACTER:
        Advance();
        return string(TypeKind::kVarChar, true);
      case Kw::kNVARCHAR:
        Advance();
        t->charset = "utf8";
        return string(TypeKind::kVarChar, true);
      case Kw::kBINARY:
        Advance();
        t->kind = TypeKind::kBinary;
        return ParseLength(t, false);
      case Kw::kVARBINARY:
        Advance();
        t->kind = TypeKind::kVarBinary;
        return ParseLength(t, false);
      case Kw::kTINYTEXT:
        Advance();
        return string(TypeKind::kTinyText, false);
      case Kw::kTEXT:
        Advance();
        return string(TypeKind::kText, true);
      case Kw::kMEDIUMTEXT:
        Advance();
        return string(TypeKind::kMediumText, false);
      case Kw::kLONGTEXT:
        Advance();
        return string(TypeKind::kLongText, false);
      case Kw::kLONG:
        Advance();
        if (AcceptKw(Kw::kVARBINARY)) {
          t->kind = TypeKind::kMediumBlob;
          return true;
        }
        AcceptKw(Kw::kVARCHAR);
        return string(TypeKind::kMediumText, false);
      case Kw::kTINYBLOB:
        Advance();
        t->kind = TypeKind::kTinyBlob;
        return true;
      case Kw::kBLOB:
        Advance();
        t->kind = TypeKind::kBlob;
        return ParseLength(t, false);
      case Kw::kMEDIUMBLOB:
        Advance();
        t->kind = TypeKind::kMediumBlob;
        return true;
      case Kw::kLONGBLOB:
        Advance();
        t->kind = TypeKind::kLongBlob;
        return true;
      case Kw::kDATE:
        Advance();
        t->kind = TypeKind::kDate;
        return true;
      case Kw::kDATETIME:
        Advance();
        t->kind = TypeKind::kDateTime;
        return ParseLength(t, false);
      case Kw::kTIMESTAMP:
        Advance();
        t->kind = TypeKind::kTimestamp;
        return ParseLength(t, false);
      case Kw::kTIME:
        Advance();
        t->kind = TypeKind::kTime;
        return ParseLength(t, false);
      case Kw::kYEAR:
        Advance();
        t->kind = TypeKind::kYear;
        return ParseLength(t, false);
      case Kw::kJSON:
        Advance();
        t->kind = TypeKind::kJson;
        return true;
      case Kw::kENUM:
      case Kw::kSET: {
        Advance();
        t->kind = kw == Kw::kENUM ? TypeKind::kEnum : TypeKind::kSet;
        TRY(Expect(TokenKind::kLParen));
        do {
          if (!Is(TokenKind::kString)) return Fail();
          t->elems.push_back(Peek().value);
          Advance();
        } while (Accept(TokenKind::kComma));
        TRY(Expect(TokenKind::kRParen));
        return ParseStringAttrs(t);
      }
      default:
        return Fail();
    }
  }

  bool ParseCastType(DataType* t) {
    if (IsKw(Kw::kSIGNED) || IsKw(Kw::kUNSIGNED)) {
      t->kind = IsKw(Kw::kSIGNED) ? TypeKind::kSigned : TypeKind::kUnsigned;
      Advance();
      AcceptKw(Kw::kINT) || AcceptKw(Kw::kINTEGER);
      return true;
    }
    return ParseDataType(t);
  }

  // ---- DML ------------------------------------------------------------------------------

  StmtPtr ParseInsert() {
    auto s = New<InsertStmt>();
    s->replace = IsKw(Kw::kREPLACE);
    Advance();
    TakeHint(&s->hints);
    AcceptKw(Kw::kLOW_PRIORITY) || AcceptKw(Kw::kDELAYED) || AcceptKw(Kw::kHIGH_PRIORITY);
    if (AcceptKw(Kw::kIGNORE)) s->ignore = true;
    AcceptKw(Kw::kINTO);
    TRY(s->table = ParseTableName());
    int d = 0;
    if (Is(TokenKind::kLParen) && !ParenStartsQuery(1)) {
      Advance();
      if (!Is(TokenKind::kRParen)) {
        do {
          std::string c;
          TRY(ParseIdent(&c));
          if (Accept(TokenKind::kDot)) {  // t.col
            TRY(ParseNameAfterDot(&c));
            if (Accept(TokenKind::kDot)) TRY(ParseNameAfterDot(&c));
          }
          s->columns.push_back(std::move(c));
        } while (Accept(TokenKind::kComma));
      }
      TRY(Expect(TokenKind::kRParen));
    }
    if (AcceptKw(Kw::kVALUES) || AcceptKw(Kw::kVALUE)) {
      do {
        TRY(Expect(TokenKind::kLParen));
        std::vector<ExprPtr> row;
        if (!Is(TokenKind::kRParen)) {
          do {
            ExprPtr e;
            TRY(e = ParseExpr());
            row.push_back(std::move(e));
          } while (Accept(TokenKind::kComma));
        }
        TRY(Expect(TokenKind::kRParen));
        d = std::max(d, MaxDepth(row));
        s->rows.push_back(std::move(row));
      } while (Accept(TokenKind::kComma));
    } else if (AcceptKw(Kw::kSET)) {
      if (!s->columns.empty()) {
        Fail();
        return nullptr;
      }
      TRY(ParseAssignments(&s->set, &d));
    } else if (IsQueryStart() || Is(TokenKind::kLParen)) {
      TRY(s->select = ParseQuery(nullptr));
      d = std::max(d, s->select->depth);
    } else {
      Fail();
      return nullptr;
    }
    if (!s->replace && AcceptKw(Kw::kON)) {
      TRY(ExpectKw(Kw::kDUPLICATE));
      TRY(ExpectKw(Kw::kKEY));
      TRY(ExpectKw(Kw::kUPDATE));
      TRY(ParseAssignments(&s->on_duplicate, &d));
    }
    TRY(Seal(s.get(), d));
    return s;
  }

  std::unique_ptr<ColumnRefExpr> ParseColumnName() {
    auto c = New<ColumnRefExpr>();
    TRY(ParseIdent(&c->column));
    if (Accept(TokenKind::kDot)) {
      c->table = std::move(c->column);
      TRY(ParseNameAfterDot(&c->column));
      if (Accept(TokenKind::kDot)) {
        c->db = std::move(c->table);
        c->table = std::move(c->column);
        TRY(ParseNameAfterDot(&c->column));
      }
    }
    return c;
  }

  bool ParseAssignments(std::vector<Assignment>* out, int* depth) {
    do {
      Assignment a;
      TRY(a.column = ParseColumnName());
      if (!Accept(TokenKind::kEq)) TRY(Expect(TokenKind::kAssign));
      TRY(a.value = ParseExpr());
      *depth = std::max(*depth, a.value->depth);
      out->push_back(std::move(a));
    } while (Accept(TokenKind::kComma));
    return true;
  }

  bool ParseWhereOrderLimit(ExprPtr* where, std::vector<OrderItem>* order,
                            std::optional<Limit>* limit) {
    if (AcceptKw(Kw::kWHERE)) TRY(*where = ParseExpr());
    if (AcceptKw(Kw::kORDER)) {
      TRY(ExpectKw(Kw::kBY));
      TRY(ParseOrderList(order));
    }
    if (IsKw(Kw::kLIMIT)) TRY(ParseLimit(limit));
    return true;
  }

  StmtPtr ParseUpdate() {
    auto s = New<UpdateStmt>();
    Advance();
    TakeHint(&s->hints);
    if (AcceptKw(Kw::kLOW_PRIORITY)) s->low_priority = true;
    if (AcceptKw(Kw::kIGNORE)) s->ignore = true;
    TRY(s->table = ParseTableRefs());
    TRY(ExpectKw(Kw::kSET));
    int d = s->table->depth;
    TRY(ParseAssignments(&s->set, &d));
    TRY(ParseWhereOrderLimit(&s->where, &s->order_by, &s->limit));
    TRY(Seal(s.get(), std::max({d, DepthOf(s->where.get()), MaxDepth(s->order_by)})));
    return s;
  }

  StmtPtr ParseDelete() {
    auto s = New<DeleteStmt>();
    Advance();
    TakeHint(&s->hints);
    while (true) {
      if (AcceptKw(Kw::kLOW_PRIORITY)) {
        s->low_priority = true;
      } else if (AcceptKw(Kw::kQUICK)) {
        s->quick = true;
      } else if (AcceptKw(Kw::kIGNORE)) {
        s->ignore = true;
      } else {
        break;
      }
    }
    TRY(ExpectKw(Kw::kFROM));
    TRY(s->table = ParseTableName());
    TRY(ParseAlias(&s->table->alias));
    TRY(ParseWhereOrderLimit(&s->where, &s->order_by, &s->limit));
    TRY(Seal(s.get(), std::max(DepthOf(s->where.get()), MaxDepth(s->order_by))));
    return s;
  }

  // ---- DDL ------------------------------------------------------------------------------

  bool ParseIfNotExists() {
    if (IsKw(Kw::kIF)) {
      Advance();
      TRY(ExpectKw(Kw::kNOT));
      TRY(ExpectKw(Kw::kEXISTS));
      return true;
    }
    return false;
  }
  // Returns whether IF EXISTS was present; sets failed_ on a malformed clause.
  bool ParseIfExists() {
    if (IsKw(Kw::kIF)) {
      Advance();
      TRY(ExpectKw(Kw::kEXISTS));
      return true;
    }
    return false;
  }

  StmtPtr ParseCreate() {
    Advance();  // CREATE
    bool or_replace = false;
    if (AcceptKw(Kw::kOR)) {
      TRY(ExpectKw(Kw::kREPLACE));
      or_replace = true;
    }
    // View attributes.
    if (AcceptKw(Kw::kALGORITHM)) {
      TRY(Expect(TokenKind::kEq));
      if (!AcceptKw(Kw::kMERGE) && !AcceptKw(Kw::kTEMPTABLE)) TRY(ExpectKw(Kw::kUNDEFINED));
    }
    if (AcceptKw(Kw::kDEFINER)) {
      TRY(Expect(TokenKind::kEq));
      if (!AcceptKw(Kw::kCURRENT_USER)) {
        UserSpec u;
        TRY(ParseUser(&u));
      } else if (Accept(TokenKind::kLParen)) {
        TRY(Expect(TokenKind::kRParen));
      }
    }
    if (AcceptKw(Kw::kSQL)) {
      TRY(ExpectKw(Kw::kSECURITY));
      if (!AcceptKw(Kw::kDEFINER)) TRY(ExpectKw(Kw::kINVOKER));
    }
    if (IsKw(Kw::kVIEW)) return ParseCreateView(or_replace);
    if (or_replace) {
      Fail();
      return nullptr;
    }
    if (IsKw(Kw::kTABLE) || IsKw(Kw::kTEMPORARY)) return ParseCreateTable();
    if (IsKw(Kw::kDATABASE) || IsKw(Kw::kSCHEMA)) {
      Advance();
      auto s = New<CreateDatabaseStmt>();
      s->if_not_exists = ParseIfNotExists();
      TRY(!failed_);
      TRY(ParseIdent(&s->name));
      while (true) {
        AcceptKw(Kw::kDEFAULT);
        if ((IsKw(Kw::kCHARACTER) && IsKw(Kw::kSET, 1)) || IsKw(Kw::kCHARSET)) {
          if (AcceptKw(Kw::kCHARACTER))
            Advance();
          else
            Advance();
          Accept(TokenKind::kEq);
          TRY(ParseCharsetName(&s->charset));
        } else if (AcceptKw(Kw::kCOLLATE)) {
          Accept(TokenKind::kEq);
          TRY(ParseCharsetName(&s->collation));
        } else {
          break;
        }
      }
      return s;
    }
    if (IsKw(Kw::kUNIQUE) || IsKw(Kw::kINDEX) || IsKw(Kw::kFULLTEXT) || IsKw(Kw::kSPATIAL)) {
      return ParseCreateIndex();
    }
    if (IsKw(Kw::kTRIGGER)) return ParseCreateTrigger();
    if (AcceptKw(Kw::kUSER)) {
      auto s = New<CreateUserStmt>();
      s->if_not_exists = ParseIfNotExists();
      TRY(!failed_);
      do {
        UserSpec u;
        TRY(ParseUser(&u));
        if (AcceptKw(Kw::kIDENTIFIED)) {
          TRY(ExpectKw(Kw::kBY));
          if (!Is(TokenKind::kString)) {
            Fail();
            return nullptr;
          }
          u.has_password = true;
          u.password = Peek().value;
          Advance();
        }
        s->users.push_back(std::move(u));
      } while (Accept(TokenKind::kComma));
      return s;
    }
    Fail();
    return nullptr;
  }

  StmtPtr ParseCreateTrigger() {
    auto s = New<CreateTriggerStmt>();
    Advance();  // TRIGGER
    TRY(s->name = ParseTableName());
    if (AcceptKw(Kw::kBEFORE)) {
      s->before = true;
    } else {
      TRY(ExpectKw(Kw::kAFTER));
    }
    if (!IsKw(Kw::kINSERT) && !IsKw(Kw::kUPDATE) && !IsKw(Kw::kDELETE)) {
      Fail();
      return nullptr;
    }
    s->event = std::string(KeywordText(Peek().kw));
    Advance();
    TRY(ExpectKw(Kw::kON));
    TRY(s->table = ParseTableName());
    TRY(ExpectKw(Kw::kFOR));
    TRY(ExpectKw(Kw::kEACH));
    TRY(ExpectKw(Kw::kROW));
    int d = 0;
    if (AcceptKw(Kw::kBEGIN)) {
      s->compound = true;
      while (!AcceptKw(Kw::kEND)) {
        StmtPtr b;
        TRY(b = ParseStatement());
        TRY(Expect(TokenKind::kSemicolon));
        d = std::max(d, b->depth);
        s->body.push_back(std::move(b));
      }
    } else {
      StmtPtr b;
      TRY(b = ParseStatement());
      d = b->depth;
      s->body.push_back(std::move(b));
    }
    TRY(Seal(s.get(), d));
    return s;
  }

  // 'user'[@'host'], user[@host]; the lexer reads @'host' as a user variable.
  bool ParseUser(UserSpec* u) {
    TRY(ParseIdentOrString(&u->user));
    u->host = "%";
    if (Is(TokenKind::kUserVar)) {
      u->host = Peek().value;
      Advance();
    }
    return true;
  }

  StmtPtr ParseCreateView(bool or_replace) {
    auto s = New<CreateViewStmt>();
    s->or_replace = or_replace;
    Advance();  // VIEW
    TRY(s->name = ParseTableName());
    if (Is(TokenKind::kLParen)) TRY(ParseIdentList(&s->columns));
    TRY(ExpectKw(Kw::kAS));
    TRY(s->select = ParseQuery(nullptr));
    if (AcceptKw(Kw::kWITH)) {
      if (AcceptKw(Kw::kCASCADED)) {
        s->check_option_kind = "CASCADED";
      } else if (AcceptKw(Kw::kLOCAL)) {
        s->check_option_kind = "LOCAL";
      }
      TRY(ExpectKw(Kw::kCHECK));
      TRY(ExpectKw(Kw::kOPTION));
      s->check_option = true;
    }
    TRY(Seal(s.get(), {s->select.get()}));
    return s;
  }

  bool ParseIndexParts(std::vector<IndexPart>* parts, int* depth) {
    TRY(Expect(TokenKind::kLParen));
    do {
      IndexPart p;
      if (Is(TokenKind::kLParen)) {
        Advance();
        TRY(p.expr = ParseExpr());
        TRY(Expect(TokenKind::kRParen));
        *depth = std::max(*depth, p.expr->depth);
      } else {
        TRY(ParseIdent(&p.column));
        if (Accept(TokenKind::kLParen)) {
          TRY(ParseNumber(&p.length));
          TRY(Expect(TokenKind::kRParen));
        }
      }
      if (AcceptKw(Kw::kDESC)) {
        p.desc = true;
      } else {
        AcceptKw(Kw::kASC);
      }
      parts->push_back(std::move(p));
    } while (Accept(TokenKind::kComma));
    return Expect(TokenKind::kRParen);
  }

  bool ParseIndexType(std::string* out) {
    if (AcceptKw(Kw::kBTREE)) {
      *out = "BTREE";
    } else {
      TRY(ExpectKw(Kw::kHASH));
      *out = "HASH";
    }
    return true;
  }

  // Index options after the key parts.
  bool ParseIndexOptions(std::string* index_type, std::string* comment, bool* has_comment) {
    while (true) {
      if (AcceptKw(Kw::kUSING)) {
        TRY(ParseIndexType(index_type));
      } else if (AcceptKw(Kw::kCOMMENT)) {
        if (!Is(TokenKind::kString)) return Fail();
        *comment = Peek().value;
        *has_comment = true;
        Advance();
      } else if (AcceptKw(Kw::kKEY_BLOCK_SIZE)) {
        Accept(TokenKind::kEq);
        int64_t ignored;
        TRY(ParseNumber(&ignored));
      } else if (AcceptWord("VISIBLE") || AcceptWord("INVISIBLE")) {
      } else {
        return true;
      }
    }
  }

  StmtPtr ParseCreateIndex() {
    auto s = New<CreateIndexStmt>();
    if (AcceptKw(Kw::kUNIQUE)) {
      s->kind = ConstraintKind::kUnique;
    } else if (AcceptKw(Kw::kFULLTEXT) || AcceptKw(Kw::kSPATIAL)) {
      s->kind = ConstraintKind::kFulltext;
    }
    TRY(ExpectKw(Kw::kINDEX));
    s->if_not_exists = ParseIfNotExists();
    TRY(!failed_);
    TRY(ParseIdent(&s->name));
    if (AcceptKw(Kw::kUSING)) TRY(ParseIndexType(&s->index_type));
    TRY(ExpectKw(Kw::kON));
    TRY(s->table = ParseTableName());
    int d = 0;
    TRY(ParseIndexParts(&s->parts, &d));
    TRY(ParseIndexOptions(&s->index_type, &s->comment, &s->has_comment));
    while (AcceptKw(Kw::kALGORITHM) || AcceptKw(Kw::kLOCK)) {
      Accept(TokenKind::kEq);
      if (!IsIdentTok(Peek()) && !IsKw(Kw::kDEFAULT)) {
        Fail();
        return nullptr;
      }
      Advance();
    }
    TRY(Seal(s.get(), d));
    return s;
  }

  StmtPtr ParseCreateTable() {
    auto s = New<CreateTableStmt>();
    if (AcceptKw(Kw::kTEMPORARY)) s->temporary = true;
    TRY(ExpectKw(Kw::kTABLE));
    s->if_not_exists = ParseIfNotExists();
    TRY(!failed_);
    TRY(s->table = ParseTableName());
    if (AcceptKw(Kw::kLIKE)) {
      TRY(s->like = ParseTableName());
      return s;
    }
    if (Is(TokenKind::kLParen) && IsKw(Kw::kLIKE, 1)) {
      Advance();
      Advance();
      TRY(s->like = ParseTableName());
      TRY(Expect(TokenKind::kRParen));
      return s;
    }
    int d = 0;
    if (Is(TokenKind::kLParen) && !ParenStartsQuery(1)) {
      Advance();
      do {
        if (IsConstraintStart()) {
          Constraint c;
          TRY(ParseConstraint(&c, &d));
          s->constraints.push_back(std::move(c));
        } else {
          ColumnDef c;
          TRY(ParseColumnDef(&c, &d));
          s->columns.push_back(std::move(c));
        }
      } while (Accept(TokenKind::kComma));
      TRY(Expect(TokenKind::kRParen));
    }
    TRY(ParseTableOptions(&s->options, true));
    AcceptKw(Kw::kIGNORE) || AcceptKw(Kw::kREPLACE);
    if (AcceptKw(Kw::kAS) || IsQueryStart() || Is(TokenKind::kLParen)) {
      TRY(s->select = ParseQuery(nullptr));
      d = std::max(d, s->select->depth);
    }
    if (s->columns.empty() && s->constraints.empty() && s->select == nullptr) {
      Fail();
      return nullptr;
    }
    TRY(Seal(s.get(), d));
    return s;
  }

  bool IsConstraintStart() const {
    switch (Peek().kw) {
      case Kw::kPRIMARY:
      case Kw::kUNIQUE:
      case Kw::kKEY:
      case Kw::kINDEX:
      case Kw::kFULLTEXT:
      case Kw::kSPATIAL:
      case Kw::kCONSTRAINT:
      case Kw::kFOREIGN:
      case Kw::kCHECK:
        return Peek().kind == TokenKind::kKeyword;
      default:
        return false;
    }
  }

  bool ParseReferenceActions() {
    while (IsKw(Kw::kON)) {
      Advance();
      if (!AcceptKw(Kw::kDELETE)) TRY(ExpectKw(Kw::kUPDATE));
      if (AcceptKw(Kw::kRESTRICT) || AcceptKw(Kw::kCASCADE)) continue;
      if (AcceptKw(Kw::kSET)) {
        if (!AcceptKw(Kw::kNULL)) TRY(ExpectKw(Kw::kDEFAULT));
        continue;
      }
      TRY(ExpectKw(Kw::kNO));
      TRY(ExpectKw(Kw::kACTION));
    }
    return true;
  }

  bool ParseConstraint(Constraint* c, int* depth) {
    std::string symbol;
    if (AcceptKw(Kw::kCONSTRAINT)) {
      if (IsIdentTok(Peek())) TRY(ParseIdent(&symbol));
    }
    if (AcceptKw(Kw::kPRIMARY)) {
      TRY(ExpectKw(Kw::kKEY));
      c->kind = ConstraintKind::kPrimaryKey;
    } else if (AcceptKw(Kw::kUNIQUE)) {
      AcceptKw(Kw::kINDEX) || AcceptKw(Kw::kKEY);
      c->kind = ConstraintKind::kUnique;
      c->name = symbol;
      if (IsIdentTok(Peek())) TRY(ParseIdent(&c->name));
    } else if (AcceptKw(Kw::kFOREIGN)) {
      TRY(ExpectKw(Kw::kKEY));
      c->kind = ConstraintKind::kForeignKey;
      c->name = symbol;
      if (IsIdentTok(Peek())) {
        std::string ignored;
        TRY(ParseIdent(&ignored));
      }
      TRY(ParseIndexParts(&c->parts, depth));
      TRY(ExpectKw(Kw::kREFERENCES));
      std::unique_ptr<TableName> ref;
      TRY(ref = ParseTableName());
      c->ref_table = ref->name;
      TRY(ParseIdentList(&c->ref_columns));
      return ParseReferenceActions();
    } else if (AcceptKw(Kw::kCHECK)) {
      c->kind = ConstraintKind::kCheck;
      c->name = symbol;
      TRY(Expect(TokenKind::kLParen));
      TRY(c->check = ParseExpr());
      TRY(Expect(TokenKind::kRParen));
      *depth = std::max(*depth, c->check->depth);
      if (AcceptKw(Kw::kNOT)) {
        TRY(AcceptWord("ENFORCED") || Fail());
      } else {
        AcceptWord("ENFORCED");
      }
      return true;
    } else if (!symbol.empty() || IsKw(Kw::kCONSTRAINT)) {
      return Fail();
    } else {
      if (AcceptKw(Kw::kFULLTEXT) || AcceptKw(Kw::kSPATIAL)) {
        c->kind = ConstraintKind::kFulltext;
        AcceptKw(Kw::kINDEX) || AcceptKw(Kw::kKEY);
      } else {
        if (!AcceptKw(Kw::kINDEX)) TRY(ExpectKw(Kw::kKEY));
        c->kind = ConstraintKind::kIndex;
      }
      if (IsIdentTok(Peek())) TRY(ParseIdent(&c->name));
    }
    if (AcceptKw(Kw::kUSING)) TRY(ParseIndexType(&c->index_type));
    TRY(ParseIndexParts(&c->parts, depth));
    return ParseIndexOptions(&c->index_type, &c->comment, &c->has_comment);
  }

  bool ParseColumnDef(ColumnDef* c, int* depth) {
    TRY(ParseIdent(&c->name));
    TRY(ParseDataType(&c->type));
    while (true) {
      ColumnOption o;
      if (AcceptKw(Kw::kNOT)) {
        TRY(ExpectKw(Kw::kNULL));
        o.kind = ColumnOptionKind::kNotNull;
      } else if (AcceptKw(Kw::kNULL)) {
        o.kind = ColumnOptionKind::kNull;
      } else if (AcceptKw(Kw::kDEFAULT)) {
        o.kind = ColumnOptionKind::kDefault;
        TRY(o.expr = ParseDefaultValue());
      } else if (AcceptKw(Kw::kAUTO_INCREMENT)) {
        o.kind = ColumnOptionKind::kAutoIncrement;
      } else if (AcceptKw(Kw::kPRIMARY)) {
        TRY(ExpectKw(Kw::kKEY));
        o.kind = ColumnOptionKind::kPrimaryKey;
      } else if (AcceptKw(Kw::kKEY)) {
        o.kind = ColumnOptionKind::kPrimaryKey;
      } else if (AcceptKw(Kw::kUNIQUE)) {
        AcceptKw(Kw::kKEY);
        o.kind = ColumnOptionKind::kUniqueKey;
      } else if (AcceptKw(Kw::kCOMMENT)) {
        if (!Is(TokenKind::kString)) return Fail();
        o.kind = ColumnOptionKind::kComment;
        o.text = Peek().value;
        Advance();
      } else if (AcceptKw(Kw::kCOLLATE)) {
        o.kind = ColumnOptionKind::kCollate;
        TRY(ParseCharsetName(&o.text));
      } else if ((IsKw(Kw::kCHARACTER) && IsKw(Kw::kSET, 1)) || IsKw(Kw::kCHARSET)) {
        if (!c->type.charset.empty()) return Fail();
        TRY(ParseStringAttrs(&c->type));
        continue;
      } else if (IsKw(Kw::kON) && IsKw(Kw::kUPDATE, 1)) {
        Advance();
        Advance();
        o.kind = ColumnOptionKind::kOnUpdate;
        TRY(o.expr = ParseDefaultValue());
      } else if (IsKw(Kw::kGENERATED) || IsKw(Kw::kAS)) {
        if (AcceptKw(Kw::kGENERATED)) TRY(ExpectKw(Kw::kALWAYS));
        TRY(ExpectKw(Kw::kAS));
        o.kind = ColumnOptionKind::kGenerated;
        TRY(Expect(TokenKind::kLParen));
        TRY(o.expr = ParseExpr());
        TRY(Expect(TokenKind::kRParen));
        if (AcceptKw(Kw::kSTORED)) {
          o.stored = true;
        } else {
          AcceptKw(Kw::kVIRTUAL);
        }
      } else if (AcceptKw(Kw::kCHECK)) {
        o.kind = ColumnOptionKind::kCheck;
        TRY(Expect(TokenKind::kLParen));
        TRY(o.expr = ParseExpr());
        TRY(Expect(TokenKind::kRParen));
      } else if (AcceptKw(Kw::kREFERENCES)) {
        o.kind = ColumnOptionKind::kReferences;
        std::unique_ptr<TableName> ref;
        TRY(ref = ParseTableName());
        o.text = ref->name;
        TRY(ParseIdentList(&o.columns));
        TRY(ParseReferenceActions());
      } else if (AcceptKw(Kw::kCOLUMN_FORMAT) || AcceptKw(Kw::kSTORAGE)) {
        if (!IsIdentTok(Peek()) && !IsKw(Kw::kDEFAULT)) return Fail();
        Advance();
        continue;
      } else {
        return true;
      }
      if (o.expr) *depth = std::max(*depth, o.expr->depth);
      c->options.push_back(std::move(o));
    }
  }

  bool ParseOptionValue(std::string* out, bool name) {
    Accept(TokenKind::kEq);
    const Token& t = Peek();
    if (t.kind == TokenKind::kInt || t.kind == TokenKind::kString) {
      *out = t.kind == TokenKind::kString ? t.value : std::string(t.text);
      Advance();
      return true;
    }
    if (IsIdentTok(t) || IsKw(Kw::kDEFAULT)) {
      *out = name ? Lower(IdentText(t)) : IdentText(t);
      Advance();
      return true;
    }
    return Fail();
  }

  bool ParseTableOptions(std::vector<TableOption>* out, bool allow_comma) {
    while (true) {
      TableOption o;
      const bool had_default = AcceptKw(Kw::kDEFAULT);
      if ((IsKw(Kw::kCHARACTER) && IsKw(Kw::kSET, 1)) || IsKw(Kw::kCHARSET)) {
        if (AcceptKw(Kw::kCHARACTER))
          Advance();
        else
          Advance();
        Accept(TokenKind::kEq);
        o.kind = TableOptionKind::kCharset;
        TRY(ParseCharsetName(&o.value));
      } else if (AcceptKw(Kw::kCOLLATE)) {
        Accept(TokenKind::kEq);
        o.kind = TableOptionKind::kCollate;
        TRY(ParseCharsetName(&o.value));
      } else if (had_default) {
        return Fail();
      } else if (AcceptKw(Kw::kENGINE)) {
        o.kind = TableOptionKind::kEngine;
        TRY(ParseOptionValue(&o.value, true));
      } else if (AcceptKw(Kw::kAUTO_INCREMENT)) {
        o.kind = TableOptionKind::kAutoIncrement;
        Accept(TokenKind::kEq);
        if (!Is(TokenKind::kInt)) return Fail();
        o.value = std::string(Peek().text);
        Advance();
      } else if (AcceptKw(Kw::kCOMMENT)) {
        o.kind = TableOptionKind::kComment;
        Accept(TokenKind::kEq);
        if (!Is(TokenKind::kString)) return Fail();
        o.value = Peek().value;
        Advance();
      } else if (AcceptKw(Kw::kROW_FORMAT)) {
        o.kind = TableOptionKind::kRowFormat;
        TRY(ParseOptionValue(&o.value, true));
      } else if (AcceptWord("COMPRESSION")) {
        o.kind = TableOptionKind::kCompression;
        Accept(TokenKind::kEq);
        if (!Is(TokenKind::kString)) return Fail();
        o.value = Peek().value;
        Advance();
      } else {
        static constexpr std::pair<std::string_view, TableOptionKind> kNumeric[] = {
            {"KEY_BLOCK_SIZE", TableOptionKind::kKeyBlockSize},
            {"AVG_ROW_LENGTH", TableOptionKind::kAvgRowLength},
            {"CHECKSUM", TableOptionKind::kChecksum},
            {"MAX_ROWS", TableOptionKind::kMaxRows},
            {"MIN_ROWS", TableOptionKind::kMinRows},
            {"STATS_PERSISTENT", TableOptionKind::kStatsPersistent},
            {"PACK_KEYS", TableOptionKind::kPackKeys},
            {"DELAY_KEY_WRITE", TableOptionKind::kDelayKeyWrite}};
        bool found = false;
        for (const auto& [word, kind] : kNumeric) {
          if (IsWord(word)) {
            Advance();
            o.kind = kind;
            Accept(TokenKind::kEq);
            if (Is(TokenKind::kInt)) {
              o.value = std::string(Peek().text);
            } else if (IsKw(Kw::kDEFAULT)) {
              o.value = "DEFAULT";
            } else {
              return Fail();
            }
            Advance();
            found = true;
            break;
          }
        }
        if (!found) return true;
      }
      out->push_back(std::move(o));
      if (allow_comma) Accept(TokenKind::kComma);
    }
  }

  StmtPtr ParseDrop() {
    Advance();  // DROP
    if (IsKw(Kw::kTABLE) || IsKw(Kw::kTEMPORARY) || IsKw(Kw::kVIEW)) {
      auto s = New<DropTableStmt>();
      if (AcceptKw(Kw::kTEMPORARY)) s->temporary = true;
      if (AcceptKw(Kw::kVIEW)) {
        s->is_view = true;
      } else {
        TRY(ExpectKw(Kw::kTABLE));
      }
      s->if_exists = ParseIfExists();
      TRY(!failed_);
      do {
        std::unique_ptr<TableName> t;
        TRY(t = ParseTableName());
        s->tables.push_back(std::move(t));
      } while (Accept(TokenKind::kComma));
      AcceptKw(Kw::kRESTRICT) || AcceptKw(Kw::kCASCADE);
      return s;
    }
    if (AcceptKw(Kw::kDATABASE) || AcceptKw(Kw::kSCHEMA)) {
      auto s = New<DropDatabaseStmt>();
      s->if_exists = ParseIfExists();
      TRY(!failed_);
      TRY(ParseIdent(&s->name));
      return s;
    }
    if (AcceptKw(Kw::kINDEX)) {
      auto s = New<DropIndexStmt>();
      s->if_exists = ParseIfExists();
      TRY(!failed_);
      if (AcceptKw(Kw::kPRIMARY)) {
        s->name = "PRIMARY";
      } else {
        TRY(ParseIdent(&s->name));
      }
      TRY(ExpectKw(Kw::kON));
      TRY(s->table = ParseTableName());
      return s;
    }
    if (AcceptKw(Kw::kTRIGGER)) {
      auto s = New<DropTriggerStmt>();
      s->if_exists = ParseIfExists();
      TRY(!failed_);
      TRY(s->name = ParseTableName());
      return s;
    }
    if (AcceptKw(Kw::kUSER)) {
      auto s = New<DropUserStmt>();
      s->if_exists = ParseIfExists();
      TRY(!failed_);
      do {
        UserSpec u;
        TRY(ParseUser(&u));
        s->users.push_back(std::move(u));
      } while (Accept(TokenKind::kComma));
      return s;
    }
    Fail();
    return nullptr;
  }

  bool ParseColumnPosition(AlterSpec* a) {
    if (AcceptKw(Kw::kFIRST)) {
      a->position = ColumnPosition::kFirst;
    } else if (AcceptKw(Kw::kAFTER)) {
      a->position = ColumnPosition::kAfter;
      TRY(ParseIdent(&a->after));
    }
    return true;
  }

  bool ParseAlterSpec(AlterSpec* a, int* depth) {
    if (AcceptKw(Kw::kADD)) {
      if (IsConstraintStart()) {
        a->kind = AlterKind::kAddConstraint;
        a->constraint.emplace();
        return ParseConstraint(&*a->constraint, depth);
      }
      AcceptKw(Kw::kCOLUMN);
      a->kind = AlterKind::kAddColumns;
      if (Accept(TokenKind::kLParen)) {
        a->parenthesized = true;
        do {
          ColumnDef c;
          TRY(ParseColumnDef(&c, depth));
          a->columns.push_back(std::move(c));
        } while (Accept(TokenKind::kComma));
        return Expect(TokenKind::kRParen);
      }
      ColumnDef c;
      TRY(ParseColumnDef(&c, depth));
      a->columns.push_back(std::move(c));
      return ParseColumnPosition(a);
    }
    if (AcceptKw(Kw::kDROP)) {
      if (AcceptKw(Kw::kPRIMARY)) {
        TRY(ExpectKw(Kw::kKEY));
        a->kind = AlterKind::kDropPrimaryKey;
        return true;
      }
      if (AcceptKw(Kw::kINDEX) || AcceptKw(Kw::kKEY)) {
        a->kind = AlterKind::kDropIndex;
        return ParseIdent(&a->name);
      }
      if (AcceptKw(Kw::kFOREIGN)) {
        TRY(ExpectKw(Kw::kKEY));
        a->kind = AlterKind::kDropForeignKey;
        return ParseIdent(&a->name);
      }
      AcceptKw(Kw::kCOLUMN);
      a->kind = AlterKind::kDropColumn;
      TRY(ParseIdent(&a->name));
      AcceptKw(Kw::kRESTRICT) || AcceptKw(Kw::kCASCADE);
      return true;
    }
    if (AcceptKw(Kw::kMODIFY)) {
      AcceptKw(Kw::kCOLUMN);
      a->kind = AlterKind::kModifyColumn;
      ColumnDef c;
      TRY(ParseColumnDef(&c, depth));
      a->columns.push_back(std::move(c));
      return ParseColumnPosition(a);
    }
    if (AcceptKw(Kw::kCHANGE)) {
      AcceptKw(Kw::kCOLUMN);
      a->kind = AlterKind::kChangeColumn;
      TRY(ParseIdent(&a->name));
      ColumnDef c;
      TRY(ParseColumnDef(&c, depth));
      a->columns.push_back(std::move(c));
      return ParseColumnPosition(a);
    }
    if (AcceptKw(Kw::kRENAME)) {
      if (AcceptKw(Kw::kCOLUMN)) {
        a->kind = AlterKind::kRenameColumn;
        TRY(ParseIdent(&a->name));
        TRY(ExpectKw(Kw::kTO));
        return ParseIdent(&a->new_name);
      }
      if (AcceptKw(Kw::kINDEX) || AcceptKw(Kw::kKEY)) {
        a->kind = AlterKind::kRenameIndex;
        TRY(ParseIdent(&a->name));
        TRY(ExpectKw(Kw::kTO));
        return ParseIdent(&a->new_name);
      }
      AcceptKw(Kw::kTO) || AcceptKw(Kw::kAS);
      a->kind = AlterKind::kRenameTable;
      std::unique_ptr<TableName> t;
      TRY(t = ParseTableName());
      a->new_db = t->db;
      a->new_name = t->name;
      return true;
    }
    if (AcceptKw(Kw::kALTER)) {
      AcceptKw(Kw::kCOLUMN);
      TRY(ParseIdent(&a->name));
      if (AcceptKw(Kw::kSET)) {
        TRY(ExpectKw(Kw::kDEFAULT));
        a->kind = AlterKind::kAlterColumnSetDefault;
        TRY(a->default_value = ParseDefaultValue());
        *depth = std::max(*depth, a->default_value->depth);
        return true;
      }
      TRY(ExpectKw(Kw::kDROP));
      TRY(ExpectKw(Kw::kDEFAULT));
      a->kind = AlterKind::kAlterColumnDropDefault;
      return true;
    }
    a->kind = AlterKind::kTableOptions;
    TRY(ParseTableOptions(&a->options, false));
    return !a->options.empty() || Fail();
  }

  StmtPtr ParseAlter() {
    Advance();  // ALTER
    TRY(ExpectKw(Kw::kTABLE));
    auto s = New<AlterTableStmt>();
    TRY(s->table = ParseTableName());
    int d = 0;
    do {
      AlterSpec a;
      TRY(ParseAlterSpec(&a, &d));
      s->specs.push_back(std::move(a));
    } while (Accept(TokenKind::kComma));
    TRY(Seal(s.get(), d));
    return s;
  }

  StmtPtr ParseRenameTable() {
    Advance();  // RENAME
    TRY(ExpectKw(Kw::kTABLE));
    auto s = New<RenameTableStmt>();
    do {
      std::unique_ptr<TableName> from, to;
      TRY(from = ParseTableName());
      TRY(ExpectKw(Kw::kTO));
      TRY(to = ParseTableName());
      s->pairs.emplace_back(std::move(from), std::move(to));
    } while (Accept(TokenKind::kComma));
    return s;
  }

  // ---- Transactions, SET, SHOW, EXPLAIN, GRANT ------------------------------------------

  StmtPtr ParseTxn() {
    auto s = New<TxnStmt>();
    const Kw kw = Peek().kw;
    Advance();
    switch (kw) {
      case Kw::kBEGIN:
        s->kind = TxnKind::kBegin;
        if (AcceptWord("PESSIMISTIC")) {
          s->mode = "PESSIMISTIC";
        } else if (AcceptWord("OPTIMISTIC")) {
          s->mode = "OPTIMISTIC";
        } else {
          AcceptKw(Kw::kWORK);
        }
        return s;
      case Kw::kSTART:
        TRY(ExpectKw(Kw::kTRANSACTION));
        s->kind = TxnKind::kBegin;
        if (IsKw(Kw::kWITH) || IsKw(Kw::kREAD)) {
          do {
            if (AcceptKw(Kw::kWITH)) {
              TRY(ExpectKw(Kw::kCONSISTENT));
              TRY(ExpectKw(Kw::kSNAPSHOT));
              s->consistent_snapshot = true;
            } else {
              TRY(ExpectKw(Kw::kREAD));
              if (AcceptKw(Kw::kONLY)) {
                s->read_only = true;
                s->read_write = false;
              } else {
                TRY(ExpectKw(Kw::kWRITE));
                s->read_write = true;
                s->read_only = false;
              }
            }
          } while (Accept(TokenKind::kComma));
        }
        return s;
      case Kw::kCOMMIT:
      case Kw::kROLLBACK:
        s->kind = kw == Kw::kCOMMIT ? TxnKind::kCommit : TxnKind::kRollback;
        AcceptKw(Kw::kWORK);
        if (kw == Kw::kROLLBACK && AcceptKw(Kw::kTO)) {
          AcceptKw(Kw::kSAVEPOINT);
          s->kind = TxnKind::kRollbackToSavepoint;
          TRY(ParseIdent(&s->savepoint));
          return s;
        }
        if (AcceptKw(Kw::kAND)) {
          AcceptKw(Kw::kNO);
          TRY(ExpectKw(Kw::kCHAIN));
        }
        if (AcceptKw(Kw::kNO)) {
          TRY(ExpectKw(Kw::kRELEASE));
        } else {
          AcceptKw(Kw::kRELEASE);
        }
        return s;
      case Kw::kSAVEPOINT:
        s->kind = TxnKind::kSavepoint;
        TRY(ParseIdent(&s->savepoint));
        return s;
      default:  // RELEASE
        TRY(ExpectKw(Kw::kSAVEPOINT));
        s->kind = TxnKind::kReleaseSavepoint;
        TRY(ParseIdent(&s->savepoint));
        return s;
    }
  }

  bool ParseTransactionCharacteristics(SetItem* it) {
    do {
      if (AcceptKw(Kw::kISOLATION)) {
        TRY(ExpectKw(Kw::kLEVEL));
        if (AcceptKw(Kw::kREPEATABLE)) {
          TRY(ExpectKw(Kw::kREAD));
          it->isolation = "REPEATABLE READ";
        } else if (AcceptKw(Kw::kSERIALIZABLE)) {
          it->isolation = "SERIALIZABLE";
        } else {
          TRY(ExpectKw(Kw::kREAD));
          if (AcceptKw(Kw::kCOMMITTED)) {
            it->isolation = "READ COMMITTED";
          } else {
            TRY(ExpectKw(Kw::kUNCOMMITTED));
            it->isolation = "READ UNCOMMITTED";
          }
        }
      } else {
        TRY(ExpectKw(Kw::kREAD));
        if (AcceptKw(Kw::kONLY)) {
          it->access_mode = "READ ONLY";
        } else {
          TRY(ExpectKw(Kw::kWRITE));
          it->access_mode = "READ WRITE";
        }
      }
    } while (Accept(TokenKind::kComma));
    return true;
  }

  StmtPtr ParseSet() {
    auto s = New<SetStmt>();
    Advance();  // SET
    // SET [GLOBAL|SESSION] TRANSACTION ...
    {
      size_t k = 0;
      VarScope scope = VarScope::kDefault;
      if (IsKw(Kw::kGLOBAL)) {
        scope = VarScope::kGlobal;
        k = 1;
      } else if (IsKw(Kw::kSESSION) || IsKw(Kw::kLOCAL)) {
        scope = VarScope::kSession;
        k = 1;
      }
      if (IsKw(Kw::kTRANSACTION, k)) {
        for (size_t i = 0; i <= k; ++i) Advance();
        SetItem it;
        it.kind = SetKind::kTransaction;
        it.txn_scope = static_cast<uint8_t>(scope);
        TRY(ParseTransactionCharacteristics(&it));
        s->items.push_back(std::move(it));
        return s;
      }
    }
    int d = 0;
    do {
      SetItem it;
      if (AcceptKw(Kw::kNAMES)) {
        it.kind = SetKind::kNames;
        if (AcceptKw(Kw::kDEFAULT)) {
          it.charset = "default";
        } else {
          TRY(ParseCharsetName(&it.charset));
          if (AcceptKw(Kw::kCOLLATE)) TRY(ParseCharsetName(&it.collation));
        }
      } else if ((IsKw(Kw::kCHARACTER) && IsKw(Kw::kSET, 1)) || IsKw(Kw::kCHARSET)) {
        if (AcceptKw(Kw::kCHARACTER))
          Advance();
        else
          Advance();
        it.kind = SetKind::kCharset;
        if (AcceptKw(Kw::kDEFAULT)) {
          it.charset = "default";
        } else {
          TRY(ParseCharsetName(&it.charset));
        }
      } else {
        it.kind = SetKind::kVariable;
        auto v = New<VariableExpr>();
        const Token& t = Peek();
        if (t.kind == TokenKind::kUserVar || t.kind == TokenKind::kSysVar) {
          v->system = t.kind == TokenKind::kSysVar;
          v->scope = static_cast<uint8_t>(t.scope);
          v->name = t.value;
          Advance();
        } else {
          v->system = true;
          if (AcceptKw(Kw::kGLOBAL)) {
            v->scope = static_cast<uint8_t>(VarScope::kGlobal);
          } else if (AcceptKw(Kw::kSESSION)) {
            v->scope = static_cast<uint8_t>(VarScope::kSession);
          } else if (AcceptKw(Kw::kLOCAL)) {
            v->scope = static_cast<uint8_t>(VarScope::kLocal);
          }
          if (v->scope != 0 && Is(TokenKind::kSysVar)) {
            Fail();
            return nullptr;
          }
          TRY(ParseIdent(&v->name));
          if (Accept(TokenKind::kDot)) {  // SET @@x.y style names: component.variable
            std::string rest;
            TRY(ParseNameAfterDot(&rest));
            v->name += "." + rest;
          }
        }
        it.target = std::move(v);
        if (!Accept(TokenKind::kEq)) TRY(Expect(TokenKind::kAssign));
        if (IsKw(Kw::kON) || IsKw(Kw::kALL) || IsKw(Kw::kBINARY)) {
          auto lit = New<LiteralExpr>();
          lit->kind = LiteralKind::kString;
          lit->text = std::string(KeywordText(Peek().kw));
          Advance();
          it.value = std::move(lit);
        } else {
          TRY(it.value = ParseExprPrec(kPrecAssign));
        }
        d = std::max(d, it.value->depth);
      }
      s->items.push_back(std::move(it));
    } while (Accept(TokenKind::kComma));
    TRY(Seal(s.get(), d));
    return s;
  }

  bool ParseLikeOrWhere(ShowStmt* s) {
    if (AcceptKw(Kw::kLIKE)) {
      TRY(s->like = ParsePrimary());
    } else if (AcceptKw(Kw::kWHERE)) {
      TRY(s->where = ParseExpr());
      TRY(Seal(s, {s->where.get()}));
    }
    return true;
  }

  bool ParseFromTable(ShowStmt* s) {
    if (!AcceptKw(Kw::kFROM)) TRY(ExpectKw(Kw::kIN));
    std::unique_ptr<TableName> t;
    TRY(t = ParseTableName());
    s->db = t->db;
    s->table = t->name;
    if (AcceptKw(Kw::kFROM) || AcceptKw(Kw::kIN)) TRY(ParseIdent(&s->db));
    return true;
  }

  StmtPtr ParseShow() {
    Advance();  // SHOW
    auto s = New<ShowStmt>();
    if (AcceptKw(Kw::kFULL)) s->full = true;
    if (AcceptKw(Kw::kGLOBAL)) {
      s->global = true;
    } else {
      AcceptKw(Kw::kSESSION) || AcceptKw(Kw::kLOCAL);
    }
    const Kw kw = Peek().kw;
    const bool word = IsKw(kw);
    if (!word) {
      Fail();
      return nullptr;
    }
    Advance();
    switch (kw) {
      case Kw::kDATABASES:
      case Kw::kSCHEMAS:
        s->kind = ShowKind::kDatabases;
        break;
      case Kw::kTABLES:
        s->kind = ShowKind::kTables;
        if (AcceptKw(Kw::kFROM) || AcceptKw(Kw::kIN)) TRY(ParseIdent(&s->db));
        break;
      case Kw::kTABLE:
        TRY(ExpectKw(Kw::kSTATUS));
        s->kind = ShowKind::kTableStatus;
        if (AcceptKw(Kw::kFROM) || AcceptKw(Kw::kIN)) TRY(ParseIdent(&s->db));
        break;
      case Kw::kCOLUMNS:
      case Kw::kFIELDS:
        s->kind = ShowKind::kColumns;
        TRY(ParseFromTable(s.get()));
        break;
      case Kw::kINDEX:
      case Kw::kINDEXES:
      case Kw::kKEYS:
        s->kind = ShowKind::kIndex;
        TRY(ParseFromTable(s.get()));
        break;
      case Kw::kCREATE: {
        if (AcceptKw(Kw::kDATABASE) || AcceptKw(Kw::kSCHEMA)) {
          s->kind = ShowKind::kCreateDatabase;
          ParseIfNotExists();
          TRY(!failed_);
          TRY(ParseIdent(&s->db));
          return s;
        }
        if (AcceptKw(Kw::kVIEW)) {
          s->kind = ShowKind::kCreateView;
        } else {
          TRY(ExpectKw(Kw::kTABLE));
          s->kind = ShowKind::kCreateTable;
        }
        std::unique_ptr<TableName> t;
        TRY(t = ParseTableName());
        s->db = t->db;
        s->table = t->name;
        return s;
      }
      case Kw::kVARIABLES:
        s->kind = ShowKind::kVariables;
        break;
      case Kw::kSTATUS:
        s->kind = ShowKind::kStatus;
        break;
      case Kw::kWARNINGS:
        s->kind = ShowKind::kWarnings;
        return s;
      case Kw::kERRORS:
        s->kind = ShowKind::kErrors;
        return s;
      case Kw::kPROCESSLIST:
        s->kind = ShowKind::kProcessList;
        return s;
      case Kw::kENGINES:
        s->kind = ShowKind::kEngines;
        return s;
      case Kw::kSTORAGE:
        TRY(ExpectKw(Kw::kENGINES));
        s->kind = ShowKind::kEngines;
        return s;
      case Kw::kCHARACTER:
        TRY(ExpectKw(Kw::kSET));
        s->kind = ShowKind::kCharset;
        break;
      case Kw::kCHARSET:
        s->kind = ShowKind::kCharset;
        break;
      case Kw::kCOLLATION:
        s->kind = ShowKind::kCollation;
        break;
      case Kw::kPRIVILEGES:
        s->kind = ShowKind::kPrivileges;
        return s;
      case Kw::kGRANTS: {
        s->kind = ShowKind::kGrants;
        if (AcceptKw(Kw::kFOR)) {
          UserSpec u;
          if (AcceptKw(Kw::kCURRENT_USER)) {
            if (Accept(TokenKind::kLParen)) TRY(Expect(TokenKind::kRParen));
            s->user = "CURRENT_USER";
          } else {
            TRY(ParseUser(&u));
            Restorer r;
            r.String(u.user);
            r.Write("@");
            r.String(u.host);
            s->user = std::move(r.out());
          }
        }
        return s;
      }
      default:
        Fail();
        return nullptr;
    }
    if ((s->full && s->kind != ShowKind::kTables && s->kind != ShowKind::kColumns) ||
        (s->global && s->kind != ShowKind::kVariables && s->kind != ShowKind::kStatus)) {
      Fail();
      return nullptr;
    }
    TRY(ParseLikeOrWhere(s.get()));
    return s;
  }

  StmtPtr ParseExplain() {
    Advance();  // EXPLAIN | DESCRIBE | DESC
    // EXPLAIN tbl [col]: the columns of a table.
    if (IsIdentTok(Peek()) && !(IsKw(Kw::kFORMAT) && Is(TokenKind::kEq, 1))) {
      auto s = New<ShowStmt>();
      s->kind = ShowKind::kColumns;
      std::unique_ptr<TableName> t;
      TRY(t = ParseTableName());
      s->db = t->db;
      s->table = t->name;
      if (IsIdentTok(Peek()) || Is(TokenKind::kString)) TRY(ParseIdentOrString(&s->column));
      return s;
    }
    auto s = New<ExplainStmt>();
    if (AcceptKw(Kw::kANALYZE)) s->analyze = true;
    if (IsKw(Kw::kFORMAT) && Is(TokenKind::kEq, 1)) {
      Advance();
      Advance();
      TRY(ParseIdentOrString(&s->format));
      s->format = Lower(s->format);
    }
    const Kw kw = Peek().kw;
    if (kw != Kw::kSELECT && kw != Kw::kINSERT && kw != Kw::kREPLACE && kw != Kw::kUPDATE &&
        kw != Kw::kDELETE && !Is(TokenKind::kLParen)) {
      Fail();
      return nullptr;
    }
    TRY(s->stmt = ParseStatement());
    TRY(Seal(s.get(), {s->stmt.get()}));
    return s;
  }

  StmtPtr ParseGrant() {
    auto s = New<GrantStmt>();
    s->revoke = IsKw(Kw::kREVOKE);
    Advance();
    do {
      std::string priv;
      while (!Is(TokenKind::kComma) && !IsKw(Kw::kON) && !Is(TokenKind::kEof) &&
             !Is(TokenKind::kError) && !Is(TokenKind::kSemicolon)) {
        if (Is(TokenKind::kLParen)) {  // Column lists are not kept.
          std::vector<std::string> ignored;
          TRY(ParseIdentList(&ignored));
          continue;
        }
        if (Peek().kind != TokenKind::kKeyword && Peek().kind != TokenKind::kIdent) {
          Fail();
          return nullptr;
        }
        if (!priv.empty()) priv += " ";
        priv += Upper(Peek().text);
        Advance();
      }
      if (priv == "ALL PRIVILEGES") priv = "ALL";
      if (priv.empty()) {
        Fail();
        return nullptr;
      }
      s->privileges.push_back(std::move(priv));
    } while (Accept(TokenKind::kComma));
    TRY(ExpectKw(Kw::kON));
    AcceptKw(Kw::kTABLE);
    auto part = [&](std::string* out) -> bool {
      if (Accept(TokenKind::kStar)) {
        *out = "*";
        return true;
      }
      return ParseIdent(out);
    };
    TRY(part(&s->table));
    if (Accept(TokenKind::kDot)) {
      s->db = std::move(s->table);
      TRY(part(&s->table));
    }
    if (s->db == "*" && s->table != "*") {
      Fail();
      return nullptr;
    }
    if (s->revoke) {
      TRY(ExpectKw(Kw::kFROM));
    } else {
      TRY(ExpectKw(Kw::kTO));
    }
    do {
      UserSpec u;
      TRY(ParseUser(&u));
      s->users.push_back(std::move(u));
    } while (Accept(TokenKind::kComma));
    if (!s->revoke && AcceptKw(Kw::kWITH)) {
      TRY(ExpectKw(Kw::kGRANT));
      TRY(ExpectKw(Kw::kOPTION));
      s->with_grant_option = true;
    }
    return s;
  }

  std::string_view input_;
  std::vector<Token> toks_;
  ParserOptions opt_;
  size_t p_ = 0;
  int depth_ = 0;
  uintptr_t stack_base_ = 0;  // frame address at entry; the stack grows down from it
  int params_ = 0;
  bool failed_ = false;
  absl::Status err_;
};

#undef TRY

}  // namespace

absl::StatusOr<std::vector<StmtPtr>> Parse(std::string_view sql, const ParserOptions& options) {
  Parser p(sql, options);
  return p.ParseScript();
}

absl::StatusOr<StmtPtr> ParseOne(std::string_view sql, const ParserOptions& options) {
  absl::StatusOr<std::vector<StmtPtr>> stmts = Parse(sql, options);
  if (!stmts.ok()) return stmts.status();
  if (stmts->size() != 1) {
    MySqlError e;
    e.code = kErParseError;
    e.sqlstate = "42000";
    if (stmts->empty()) {
      e.message = "Query was empty";
      e.code = 1065;
    } else {
      e.message = "expected exactly one statement, got " + std::to_string(stmts->size());
    }
    return MakeMySqlStatus(absl::StatusCode::kInvalidArgument, e);
  }
  return std::move((*stmts)[0]);
}

std::vector<std::string_view> SplitStatements(std::string_view sql) {
  std::vector<std::string_view> out;
  const std::vector<Token> toks = Tokenize(sql);
  size_t start = 0;
  auto emit = [&](size_t end) {
    std::string_view piece = sql.substr(start, end - start);
    while (!piece.empty() && std::isspace(static_cast<unsigned char>(piece.front()))) {
      piece.remove_prefix(1);
    }
    while (!piece.empty() && std::isspace(static_cast<unsigned char>(piece.back()))) {
      piece.remove_suffix(1);
    }
    if (!piece.empty()) out.push_back(piece);
  };
  for (const Token& t : toks) {
    if (t.kind == TokenKind::kSemicolon) {
      emit(t.offset);
      start = t.offset + 1;
    } else if (t.kind == TokenKind::kError) {
      break;
    }
  }
  emit(sql.size());
  return out;
}

}  // namespace rutile::sql
