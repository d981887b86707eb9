#include "sql/parser/ast.h"

#include <string>

#include "sql/parser/lexer.h"
#include "sql/parser/restore.h"

namespace rutile::sql {
namespace {

bool IsPlainName(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '$')) {
      return false;
    }
  }
  return true;
}

// Appends `s` with Dumper/Restorer-independent escaping for dumps.
void AppendEscaped(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  size_t run = 0;  // start of the pending run of characters that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c != '"' && c != '\\' && c >= 0x20 && c < 0x7f) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
}

void RestoreHints(Restorer* r, const std::vector<std::string>& hints) {
  for (const std::string& h : hints) {
    r->Write("/*+ ");
    r->Write(h);
    r->Write(" */ ");
  }
}

std::string_view SetOpText(SetOp op) {
  switch (op) {
    case SetOp::kUnion:
      return "UNION";
    case SetOp::kExcept:
      return "EXCEPT";
    case SetOp::kIntersect:
      return "INTERSECT";
  }
  return "";
}

int SetOpPrec(SetOp op) { return op == SetOp::kIntersect ? 2 : 1; }

void RestoreAssignments(Restorer* r, const std::vector<Assignment>& set) {
  for (size_t i = 0; i < set.size(); ++i) {
    if (i > 0) r->Write(", ");
    set[i].column->Restore(r);
    r->Write(" = ");
    r->Expr(*set[i].value, kPrecLowest);
  }
}

void DumpAssignments(Dumper* d, const std::vector<Assignment>& set) {
  d->Open("Set");
  for (const Assignment& a : set) {
    d->Node(a.column.get());
    d->Node(a.value.get());
  }
  d->Close();
}

void RestoreLimitAndOrder(Restorer* r, const std::vector<OrderItem>& order,
                          const std::optional<Limit>& limit) {
  if (!order.empty()) {
    r->Write(" ORDER BY ");
    r->OrderBy(order);
  }
  if (limit.has_value()) {
    r->Write(" ");
    r->LimitClause(*limit);
  }
}

void RestoreUser(Restorer* r, const UserSpec& u) {
  r->String(u.user);
  r->Write("@");
  r->String(u.host);
}

void RestoreIndexParts(Restorer* r, const std::vector<IndexPart>& parts) {
  r->Write("(");
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) r->Write(", ");
    const IndexPart& p = parts[i];
    if (p.expr) {
      r->Write("(");
      r->Expr(*p.expr, kPrecLowest);
      r->Write(")");
    } else {
      r->Ident(p.column);
      if (p.length >= 0) r->Write("(" + std::to_string(p.length) + ")");
    }
    if (p.desc) r->Write(" DESC");
  }
  r->Write(")");
}

void DumpIndexParts(Dumper* d, const std::vector<IndexPart>& parts) {
  d->Open("Parts");
  for (const IndexPart& p : parts) {
    d->Open("Part");
    d->Str(p.column);
    d->Int(p.length);
    d->Node(p.expr.get());
    d->Bool(p.desc);
    d->Close();
  }
  d->Close();
}

std::string_view TableOptionName(TableOptionKind k) {
  switch (k) {
    case TableOptionKind::kEngine:
      return "ENGINE";
    case TableOptionKind::kCharset:
      return "CHARACTER SET";
    case TableOptionKind::kCollate:
      return "COLLATE";
    case TableOptionKind::kAutoIncrement:
      return "AUTO_INCREMENT";
    case TableOptionKind::kComment:
      return "COMMENT";
    case TableOptionKind::kRowFormat:
      return "ROW_FORMAT";
    case TableOptionKind::kKeyBlockSize:
      return "KEY_BLOCK_SIZE";
    case TableOptionKind::kAvgRowLength:
      return "AVG_ROW_LENGTH";
    case TableOptionKind::kChecksum:
      return "CHECKSUM";
    case TableOptionKind::kCompression:
      return "COMPRESSION";
    case TableOptionKind::kMaxRows:
      return "MAX_ROWS";
    case TableOptionKind::kMinRows:
      return "MIN_ROWS";
    case TableOptionKind::kStatsPersistent:
      return "STATS_PERSISTENT";
    case TableOptionKind::kPackKeys:
      return "PACK_KEYS";
    case TableOptionKind::kDelayKeyWrite:
      return "DELAY_KEY_WRITE";
  }
  return "";
}

void RestoreTableOptions(Restorer* r, const std::vector<TableOption>& options) {
  for (size_t i = 0; i < options.size(); ++i) {
    if (i > 0) r->Write(" ");
    const TableOption& o = options[i];
    r->Write(TableOptionName(o.kind));
    r->Write(" = ");
    switch (o.kind) {
      case TableOptionKind::kEngine:
      case TableOptionKind::kCharset:
      case TableOptionKind::kCollate:
      case TableOptionKind::kRowFormat:
        r->Ident(o.value);
        break;
      case TableOptionKind::kComment:
      case TableOptionKind::kCompression:
        r->String(o.value);
        break;
      default:
        r->Write(o.value);
        break;
    }
  }
}

void DumpTableOptions(Dumper* d, const std::vector<TableOption>& options) {
  d->Open("Options");
  for (const TableOption& o : options) {
    d->Open("Opt");
    d->Int(static_cast<int>(o.kind));
    d->Str(o.value);
    d->Close();
  }
  d->Close();
}

void RestoreTableList(Restorer* r, const std::vector<std::unique_ptr<TableName>>& tables) {
  for (size_t i = 0; i < tables.size(); ++i) {
    if (i > 0) r->Write(", ");
    tables[i]->Restore(r);
  }
}

void DumpTableList(Dumper* d, const std::vector<std::unique_ptr<TableName>>& tables) {
  d->Open("Tables");
  for (const auto& t : tables) d->Node(t.get());
  d->Close();
}

void DumpUsers(Dumper* d, const std::vector<UserSpec>& users) {
  d->Open("Users");
  for (const UserSpec& u : users) {
    d->Str(u.user);
    d->Str(u.host);
    d->Bool(u.has_password);
    d->Str(u.password);
  }
  d->Close();
}

void RestoreQualified(Restorer* r, std::string_view db, std::string_view name) {
  if (!db.empty()) {
    r->Ident(db);
    r->Write(".");
  }
  r->Ident(name);
}

}  // namespace

// ---- Restorer / Dumper ----------------------------------------------------------------

void Restorer::Ident(std::string_view name) {
  out_.push_back('`');
  size_t run = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '`') continue;
    out_.append(name.data() + run, i + 1 - run);
    out_.push_back('`');
    run = i + 1;
  }
  out_.append(name.data() + run, name.size() - run);
  out_.push_back('`');
}

void Restorer::String(std::string_view s) {
  out_.push_back('\'');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char* esc = nullptr;
    switch (c) {
      case '\'':
        esc = "\\'";
        break;
      case '\\':
        esc = "\\\\";
        break;
      case '\0':
        esc = "\\0";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      case '\x1a':
        esc = "\\Z";
        break;
      default:
        continue;
    }
    out_.append(s.data() + run, i - run);
    out_.append(esc);
    run = i + 1;
  }
  out_.append(s.data() + run, s.size() - run);
  out_.push_back('\'');
}

void Restorer::Expr(const sql::Expr& e, int min_prec) {
  if (e.Precedence() < min_prec) {
    out_.push_back('(');
    e.Restore(this);
    out_.push_back(')');
  } else {
    e.Restore(this);
  }
}

void Restorer::ExprList(const std::vector<ExprPtr>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) Write(", ");
    Expr(*items[i], kPrecLowest);
  }
}

void Restorer::IdentList(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) Write(", ");
    Ident(names[i]);
  }
}

void Restorer::OrderBy(const std::vector<OrderItem>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) Write(", ");
    Expr(*items[i].expr, kPrecLowest);
    if (items[i].desc) Write(" DESC");
  }
}

void Restorer::LimitClause(const Limit& limit) {
  Write("LIMIT ");
  if (limit.offset && limit.comma_form) {
    Expr(*limit.offset, kPrecLowest);
    Write(", ");
    Expr(*limit.count, kPrecLowest);
  } else {
    Expr(*limit.count, kPrecLowest);
    if (limit.offset) {
      Write(" OFFSET ");
      Expr(*limit.offset, kPrecLowest);
    }
  }
}

void Restorer::Subquery(const QueryStmt& q) {
  Write("(");
  q.Restore(this);
  Write(")");
}

void Dumper::Open(std::string_view name) {
  if (!out_.empty() && out_.back() != '(') out_.push_back(' ');
  out_.push_back('(');
  out_.append(name.data(), name.size());
}

void Dumper::Str(std::string_view s) {
  out_.append(" \"");
  AppendEscaped(&out_, s);
  out_.push_back('"');
}

void Dumper::Int(int64_t v) { Word(std::to_string(v)); }

void Dumper::Word(std::string_view w) {
  out_.push_back(' ');
  out_.append(w.data(), w.size());
}

void Dumper::Node(const sql::Node* n) {
  if (n == nullptr) {
    Word("nil");
  } else {
    n->Dump(this);
  }
}

void Dumper::Exprs(const std::vector<ExprPtr>& items) {
  Open("List");
  for (const auto& e : items) Node(e.get());
  Close();
}

void Dumper::Strs(const std::vector<std::string>& items) {
  Open("Names");
  for (const auto& s : items) Str(s);
  Close();
}

void Dumper::Order(const std::vector<OrderItem>& items) {
  Open("Order");
  for (const auto& o : items) {
    Node(o.expr.get());
    Bool(o.desc);
  }
  Close();
}

void Dumper::LimitOpt(const std::optional<Limit>& limit) {
  if (!limit.has_value()) {
    Word("nil");
    return;
  }
  Open("Limit");
  Node(limit->count.get());
  Node(limit->offset.get());
  Bool(limit->comma_form);
  Close();
}

std::string RestoreSql(const Node& node) {
  Restorer r;
  node.Restore(&r);
  return std::move(r.out());
}

std::string DumpAst(const Node& node) {
  Dumper d;
  node.Dump(&d);
  return std::move(d.out());
}

bool AstEqual(const Node& a, const Node& b) { return DumpAst(a) == DumpAst(b); }

// ---- Operators ------------------------------------------------------------------------

std::string_view BinaryOpText(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return "OR";
    case BinaryOp::kXor:
      return "XOR";
    case BinaryOp::kAnd:
      return "AND";
    case BinaryOp::kEq:
      return "=";
    case BinaryOp::kNullSafeEq:
      return "<=>";
    case BinaryOp::kNe:
      return "!=";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kLe:
      return "<=";
    case BinaryOp::kGt:
      return ">";
    case BinaryOp::kGe:
      return ">=";
    case BinaryOp::kBitOr:
      return "|";
    case BinaryOp::kBitAnd:
      return "&";
    case BinaryOp::kShl:
      return "<<";
    case BinaryOp::kShr:
      return ">>";
    case BinaryOp::kPlus:
      return "+";
    case BinaryOp::kMinus:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kIntDiv:
      return "DIV";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kBitXor:
      return "^";
    case BinaryOp::kAssign:
      return ":=";
  }
  return "?";
}

int BinaryOpPrecedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return kPrecOr;
    case BinaryOp::kXor:
      return kPrecXor;
    case BinaryOp::kAnd:
      return kPrecAnd;
    case BinaryOp::kEq:
    case BinaryOp::kNullSafeEq:
    case BinaryOp::kNe:
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe:
      return kPrecCmp;
    case BinaryOp::kBitOr:
      return kPrecBitOr;
    case BinaryOp::kBitAnd:
      return kPrecBitAnd;
    case BinaryOp::kShl:
    case BinaryOp::kShr:
      return kPrecShift;
    case BinaryOp::kPlus:
    case BinaryOp::kMinus:
      return kPrecAdd;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kIntDiv:
    case BinaryOp::kMod:
      return kPrecMul;
    case BinaryOp::kBitXor:
      return kPrecBitXor;
    case BinaryOp::kAssign:
      return kPrecAssign;
  }
  return kPrecLowest;
}

bool IsComparison(BinaryOp op) { return BinaryOpPrecedence(op) == kPrecCmp; }

bool IsAggregateName(std::string_view n) {
  static constexpr std::string_view kNames[] = {
      "COUNT",       "SUM",      "AVG",     "MIN",     "MAX",    "GROUP_CONCAT",
      "BIT_AND",     "BIT_OR",   "BIT_XOR", "STD",     "STDDEV", "STDDEV_POP",
      "STDDEV_SAMP", "VARIANCE", "VAR_POP", "VAR_SAMP"};
  for (std::string_view k : kNames) {
    if (k == n) return true;
  }
  return false;
}

// ---- Expressions ----------------------------------------------------------------------

void LiteralExpr::Restore(Restorer* r) const {
  if (!charset.empty()) {
    r->Write("_");
    r->Write(charset);
    r->Write(" ");
  }
  switch (kind) {
    case LiteralKind::kNull:
      r->Write("NULL");
      break;
    case LiteralKind::kBool:
    case LiteralKind::kInt:
    case LiteralKind::kDecimal:
    case LiteralKind::kFloat:
      r->Write(text);
      break;
    case LiteralKind::kString:
      r->String(text);
      break;
    case LiteralKind::kHex:
      if (text.size() % 2 == 0) {
        r->Write("X'");
        r->Write(text);
        r->Write("'");
      } else {
        r->Write("0x");
        r->Write(text);
      }
      break;
    case LiteralKind::kBit:
      r->Write("b'");
      r->Write(text);
      r->Write("'");
      break;
  }
}

void LiteralExpr::Dump(Dumper* d) const {
  d->Open("Lit");
  d->Int(static_cast<int>(kind));
  d->Str(text);
  d->Str(charset);
  d->Close();
}

void ColumnRefExpr::Restore(Restorer* r) const {
  if (!db.empty()) {
    r->Ident(db);
    r->Write(".");
  }
  if (!table.empty()) {
    r->Ident(table);
    r->Write(".");
  }
  r->Ident(column);
}

void ColumnRefExpr::Dump(Dumper* d) const {
  d->Open("Col");
  d->Str(db);
  d->Str(table);
  d->Str(column);
  d->Close();
}

void ParamExpr::Restore(Restorer* r) const { r->Write("?"); }

void ParamExpr::Dump(Dumper* d) const {
  d->Open("Param");
  d->Int(index);
  d->Close();
}

void VariableExpr::Restore(Restorer* r) const {
  r->Write(system ? "@@" : "@");
  if (system) {
    switch (static_cast<VarScope>(scope)) {
      case VarScope::kDefault:
        break;
      case VarScope::kSession:
        r->Write("SESSION.");
        break;
      case VarScope::kGlobal:
        r->Write("GLOBAL.");
        break;
      case VarScope::kLocal:
        r->Write("LOCAL.");
        break;
    }
  }
  if (IsPlainName(name) && !(system && scope == 0 && LookupKeyword(name) != Kw::kNone)) {
    r->Write(name);
  } else {
    r->Ident(name);
  }
}

void VariableExpr::Dump(Dumper* d) const {
  d->Open("Var");
  d->Bool(system);
  d->Int(scope);
  d->Str(name);
  d->Close();
}

int UnaryExpr::Precedence() const { return op == UnaryOp::kNot ? kPrecNot : kPrecUnary; }

void UnaryExpr::Restore(Restorer* r) const {
  switch (op) {
    case UnaryOp::kMinus:
      r->Write("-");
      break;
    case UnaryOp::kPlus:
      r->Write("+");
      break;
    case UnaryOp::kBitNeg:
      r->Write("~");
      break;
    case UnaryOp::kNot:
      r->Write("NOT ");
      break;
    case UnaryOp::kBinary:
      r->Write("BINARY ");
      break;
  }
  // A prefix operator applied to a prefix operator needs no parentheses (NOT NOT a,
  // - -a); a space keeps "- -" from reading as a comment or "--".
  const auto* inner = dynamic_cast<const UnaryExpr*>(operand.get());
  if (inner != nullptr && (op == UnaryOp::kNot) == (inner->op == UnaryOp::kNot)) {
    if (op != UnaryOp::kNot) r->Write(" ");
    operand->Restore(r);
    return;
  }
  r->Expr(*operand, op == UnaryOp::kNot ? kPrecCmp : kPrecUnary + 1);
}

void UnaryExpr::Dump(Dumper* d) const {
  d->Open("Unary");
  d->Int(static_cast<int>(op));
  d->Node(operand.get());
  d->Close();
}

void BinaryExpr::Restore(Restorer* r) const {
  const int p = Precedence();
  r->Expr(*left, op == BinaryOp::kAssign ? p + 1 : p);
  r->Write(" ");
  r->Write(BinaryOpText(op));
  r->Write(" ");
  r->Expr(*right, op == BinaryOp::kAssign ? p : p + 1);
}

void BinaryExpr::Dump(Dumper* d) const {
  d->Open("Bin");
  d->Word(BinaryOpText(op));
  d->Node(left.get());
  d->Node(right.get());
  d->Close();
}

void IsExpr::Restore(Restorer* r) const {
  r->Expr(*operand, kPrecCmp);
  r->Write(negated ? " IS NOT " : " IS ");
  switch (what) {
    case IsWhat::kNull:
      r->Write("NULL");
      break;
    case IsWhat::kTrue:
      r->Write("TRUE");
      break;
    case IsWhat::kFalse:
      r->Write("FALSE");
      break;
    case IsWhat::kUnknown:
      r->Write("UNKNOWN");
      break;
  }
}

void IsExpr::Dump(Dumper* d) const {
  d->Open("Is");
  d->Node(operand.get());
  d->Bool(negated);
  d->Int(static_cast<int>(what));
  d->Close();
}

void BetweenExpr::Restore(Restorer* r) const {
  r->Expr(*operand, kPrecPred);
  r->Write(negated ? " NOT BETWEEN " : " BETWEEN ");
  r->Expr(*low, kPrecPred + 1);
  r->Write(" AND ");
  r->Expr(*high, kPrecPred + 1);
}

void BetweenExpr::Dump(Dumper* d) const {
  d->Open("Between");
  d->Node(operand.get());
  d->Bool(negated);
  d->Node(low.get());
  d->Node(high.get());
  d->Close();
}

void InExpr::Restore(Restorer* r) const {
  r->Expr(*operand, kPrecPred);
  r->Write(negated ? " NOT IN " : " IN ");
  if (subquery) {
    r->Subquery(*subquery);
  } else {
    r->Write("(");
    r->ExprList(list);
    r->Write(")");
  }
}

void InExpr::Dump(Dumper* d) const {
  d->Open("In");
  d->Node(operand.get());
  d->Bool(negated);
  d->Exprs(list);
  d->Node(subquery.get());
  d->Close();
}

void PatternExpr::Restore(Restorer* r) const {
  r->Expr(*operand, kPrecPred);
  if (negated) r->Write(" NOT");
  r->Write(regexp ? " REGEXP " : " LIKE ");
  r->Expr(*pattern, kPrecPred + 1);
  if (escape) {
    r->Write(" ESCAPE ");
    r->Expr(*escape, kPrecPred + 1);
  }
}

void PatternExpr::Dump(Dumper* d) const {
  d->Open(regexp ? "Regexp" : "Like");
  d->Node(operand.get());
  d->Bool(negated);
  d->Node(pattern.get());
  d->Node(escape.get());
  d->Close();
}

void CompareSubqueryExpr::Restore(Restorer* r) const {
  r->Expr(*left, kPrecCmp);
  r->Write(" ");
  r->Write(BinaryOpText(op));
  r->Write(all ? " ALL " : " ANY ");
  r->Subquery(*subquery);
}

void CompareSubqueryExpr::Dump(Dumper* d) const {
  d->Open("CmpSub");
  d->Word(BinaryOpText(op));
  d->Bool(all);
  d->Node(left.get());
  d->Node(subquery.get());
  d->Close();
}

void CollateExpr::Restore(Restorer* r) const {
  r->Expr(*operand, kPrecCollate);
  r->Write(" COLLATE ");
  r->Ident(collation);
}

void CollateExpr::Dump(Dumper* d) const {
  d->Open("Collate");
  d->Node(operand.get());
  d->Str(collation);
  d->Close();
}

void IntervalExpr::Restore(Restorer* r) const {
  r->Write("INTERVAL ");
  r->Expr(*value, kPrecLowest);
  r->Write(" ");
  r->Write(unit);
}

void IntervalExpr::Dump(Dumper* d) const {
  d->Open("Interval");
  d->Node(value.get());
  d->Str(unit);
  d->Close();
}

void KeywordExpr::Restore(Restorer* r) const { r->Write(word); }

void KeywordExpr::Dump(Dumper* d) const {
  d->Open("Kw");
  d->Str(word);
  d->Close();
}

void CaseExpr::Restore(Restorer* r) const {
  r->Write("CASE");
  if (operand) {
    r->Write(" ");
    r->Expr(*operand, kPrecLowest);
  }
  for (const WhenClause& w : whens) {
    r->Write(" WHEN ");
    r->Expr(*w.condition, kPrecLowest);
    r->Write(" THEN ");
    r->Expr(*w.result, kPrecLowest);
  }
  if (else_result) {
    r->Write(" ELSE ");
    r->Expr(*else_result, kPrecLowest);
  }
  r->Write(" END");
}

void CaseExpr::Dump(Dumper* d) const {
  d->Open("Case");
  d->Node(operand.get());
  for (const WhenClause& w : whens) {
    d->Open("When");
    d->Node(w.condition.get());
    d->Node(w.result.get());
    d->Close();
  }
  d->Node(else_result.get());
  d->Close();
}

std::string_view TypeKindText(TypeKind kind) {
  switch (kind) {
    case TypeKind::kTinyInt:
      return "TINYINT";
    case TypeKind::kSmallInt:
      return "SMALLINT";
    case TypeKind::kMediumInt:
      return "MEDIUMINT";
    case TypeKind::kInt:
      return "INT";
    case TypeKind::kBigInt:
      return "BIGINT";
    case TypeKind::kDecimal:
      return "DECIMAL";
    case TypeKind::kFloat:
      return "FLOAT";
    case TypeKind::kDouble:
      return "DOUBLE";
    case TypeKind::kBit:
      return "BIT";
    case TypeKind::kBool:
      return "BOOLEAN";
    case TypeKind::kChar:
      return "CHAR";
    case TypeKind::kVarChar:
      return "VARCHAR";
    case TypeKind::kBinary:
      return "BINARY";
    case TypeKind::kVarBinary:
      return "VARBINARY";
    case TypeKind::kTinyText:
      return "TINYTEXT";
    case TypeKind::kText:
      return "TEXT";
    case TypeKind::kMediumText:
      return "MEDIUMTEXT";
    case TypeKind::kLongText:
      return "LONGTEXT";
    case TypeKind::kTinyBlob:
      return "TINYBLOB";
    case TypeKind::kBlob:
      return "BLOB";
    case TypeKind::kMediumBlob:
      return "MEDIUMBLOB";
    case TypeKind::kLongBlob:
      return "LONGBLOB";
    case TypeKind::kDate:
      return "DATE";
    case TypeKind::kDateTime:
      return "DATETIME";
    case TypeKind::kTimestamp:
      return "TIMESTAMP";
    case TypeKind::kTime:
      return "TIME";
    case TypeKind::kYear:
      return "YEAR";
    case TypeKind::kEnum:
      return "ENUM";
    case TypeKind::kSet:
      return "SET";
    case TypeKind::kJson:
      return "JSON";
    case TypeKind::kSigned:
      return "SIGNED";
    case TypeKind::kUnsigned:
      return "UNSIGNED";
  }
  return "";
}

void DataType::Restore(Restorer* r) const {
  r->Write(TypeKindText(kind));
  if (kind == TypeKind::kEnum || kind == TypeKind::kSet) {
    r->Write("(");
    for (size_t i = 0; i < elems.size(); ++i) {
      if (i > 0) r->Write(", ");
      r->String(elems[i]);
    }
    r->Write(")");
  } else if (length >= 0) {
    r->Write("(" + std::to_string(length));
    if (scale >= 0) r->Write(", " + std::to_string(scale));
    r->Write(")");
  }
  if (is_unsigned) r->Write(" UNSIGNED");
  if (zerofill) r->Write(" ZEROFILL");
  if (binary) r->Write(" BINARY");
  if (!charset.empty()) {
    r->Write(" CHARACTER SET ");
    r->Ident(charset);
  }
  if (!collation.empty()) {
    r->Write(" COLLATE ");
    r->Ident(collation);
  }
}

void DataType::Dump(Dumper* d) const {
  d->Open("Type");
  d->Word(TypeKindText(kind));
  d->Int(length);
  d->Int(scale);
  d->Bool(is_unsigned);
  d->Bool(zerofill);
  d->Bool(binary);
  d->Str(charset);
  d->Str(collation);
  d->Strs(elems);
  d->Close();
}

void CastExpr::Restore(Restorer* r) const {
  if (!using_charset.empty()) {
    r->Write("CONVERT(");
    r->Expr(*operand, kPrecLowest);
    r->Write(" USING ");
    r->Ident(using_charset);
    r->Write(")");
    return;
  }
  r->Write("CAST(");
  r->Expr(*operand, kPrecLowest);
  r->Write(" AS ");
  type.Restore(r);
  r->Write(")");
}

void CastExpr::Dump(Dumper* d) const {
  d->Open("Cast");
  d->Node(operand.get());
  if (using_charset.empty()) {
    type.Dump(d);
  } else {
    d->Str(using_charset);
  }
  d->Close();
}

void FuncCallExpr::Restore(Restorer* r) const {
  if (IsPlainName(name)) {
    r->Write(name);
  } else {
    r->Ident(name);
  }
  r->Write("(");
  if (name == "EXTRACT" && args.size() == 2) {
    r->Expr(*args[0], kPrecLowest);
    r->Write(" FROM ");
    r->Expr(*args[1], kPrecLowest);
  } else if (name == "POSITION" && args.size() == 2) {
    r->Expr(*args[0], kPrecPred + 1);
    r->Write(" IN ");
    r->Expr(*args[1], kPrecLowest);
  } else if (name == "TRIM" && args.size() >= 2) {
    const bool dir = dynamic_cast<const KeywordExpr*>(args.back().get()) != nullptr;
    if (dir) {
      args.back()->Restore(r);
      r->Write(" ");
    }
    if (args.size() == 3 || (!dir && args.size() == 2)) {
      r->Expr(*args[1], kPrecLowest);
      r->Write(" ");
    }
    r->Write("FROM ");
    r->Expr(*args[0], kPrecLowest);
  } else {
    r->ExprList(args);
  }
  r->Write(")");
}

void FuncCallExpr::Dump(Dumper* d) const {
  d->Open("Func");
  d->Str(name);
  d->Exprs(args);
  d->Close();
}

void AggregateExpr::Restore(Restorer* r) const {
  r->Write(name);
  r->Write("(");
  if (star) {
    r->Write("*");
  } else {
    if (distinct) r->Write("DISTINCT ");
    r->ExprList(args);
  }
  if (!order_by.empty()) {
    r->Write(" ORDER BY ");
    r->OrderBy(order_by);
  }
  if (separator.has_value()) {
    r->Write(" SEPARATOR ");
    r->String(*separator);
  }
  r->Write(")");
}

void AggregateExpr::Dump(Dumper* d) const {
  d->Open("Agg");
  d->Str(name);
  d->Bool(distinct);
  d->Bool(star);
  d->Exprs(args);
  d->Order(order_by);
  if (separator.has_value()) {
    d->Str(*separator);
  } else {
    d->Word("nil");
  }
  d->Close();
}

void SubqueryExpr::Restore(Restorer* r) const { r->Subquery(*query); }

void SubqueryExpr::Dump(Dumper* d) const {
  d->Open("Subquery");
  d->Node(query.get());
  d->Close();
}

void ExistsExpr::Restore(Restorer* r) const {
  r->Write("EXISTS ");
  r->Subquery(*query);
}

void ExistsExpr::Dump(Dumper* d) const {
  d->Open("Exists");
  d->Node(query.get());
  d->Close();
}

void RowExpr::Restore(Restorer* r) const {
  r->Write("(");
  r->ExprList(items);
  r->Write(")");
}

void RowExpr::Dump(Dumper* d) const {
  d->Open("Row");
  for (const auto& e : items) d->Node(e.get());
  d->Close();
}

void DefaultExpr::Restore(Restorer* r) const {
  r->Write("DEFAULT");
  if (!column.empty()) {
    r->Write("(");
    r->Ident(column);
    r->Write(")");
  }
}

void DefaultExpr::Dump(Dumper* d) const {
  d->Open("Default");
  d->Str(column);
  d->Close();
}

// ---- Table references -----------------------------------------------------------------

void TableName::Restore(Restorer* r) const {
  RestoreQualified(r, db, name);
  if (!alias.empty()) {
    r->Write(" AS ");
    r->Ident(alias);
  }
  for (const IndexHint& h : index_hints) {
    switch (h.kind) {
      case IndexHintKind::kUse:
        r->Write(" USE INDEX");
        break;
      case IndexHintKind::kIgnore:
        r->Write(" IGNORE INDEX");
        break;
      case IndexHintKind::kForce:
        r->Write(" FORCE INDEX");
        break;
    }
    switch (h.scope) {
      case IndexHintScope::kAll:
        break;
      case IndexHintScope::kJoin:
        r->Write(" FOR JOIN");
        break;
      case IndexHintScope::kOrderBy:
        r->Write(" FOR ORDER BY");
        break;
      case IndexHintScope::kGroupBy:
        r->Write(" FOR GROUP BY");
        break;
    }
    r->Write(" (");
    r->IdentList(h.indexes);
    r->Write(")");
  }
}

void TableName::Dump(Dumper* d) const {
  d->Open("Table");
  d->Str(db);
  d->Str(name);
  d->Str(alias);
  for (const IndexHint& h : index_hints) {
    d->Open("Hint");
    d->Int(static_cast<int>(h.kind));
    d->Int(static_cast<int>(h.scope));
    d->Strs(h.indexes);
    d->Close();
  }
  d->Close();
}

void DerivedTable::Restore(Restorer* r) const {
  r->Subquery(*query);
  if (!alias.empty()) {
    r->Write(" AS ");
    r->Ident(alias);
  }
  if (!columns.empty()) {
    r->Write(" (");
    r->IdentList(columns);
    r->Write(")");
  }
}

void DerivedTable::Dump(Dumper* d) const {
  d->Open("Derived");
  d->Node(query.get());
  d->Str(alias);
  d->Strs(columns);
  d->Close();
}

void JoinRef::Restore(Restorer* r) const {
  const auto* lj = dynamic_cast<const JoinRef*>(left.get());
  if (lj != nullptr && lj->kind == JoinKind::kComma && kind != JoinKind::kComma) {
    r->Write("(");
    left->Restore(r);
    r->Write(")");
  } else {
    left->Restore(r);
  }
  if (kind == JoinKind::kComma) {
    r->Write(", ");
  } else {
    r->Write(" ");
    if (natural) r->Write("NATURAL ");
    switch (kind) {
      case JoinKind::kInner:
        r->Write("JOIN ");
        break;
      case JoinKind::kCross:
        r->Write("CROSS JOIN ");
        break;
      case JoinKind::kLeft:
        r->Write("LEFT JOIN ");
        break;
      case JoinKind::kRight:
        r->Write("RIGHT JOIN ");
        break;
      case JoinKind::kStraight:
        r->Write("STRAIGHT_JOIN ");
        break;
      case JoinKind::kComma:
        break;
    }
  }
  if (dynamic_cast<const JoinRef*>(right.get()) != nullptr) {
    r->Write("(");
    right->Restore(r);
    r->Write(")");
  } else {
    right->Restore(r);
  }
  if (on) {
    r->Write(" ON ");
    r->Expr(*on, kPrecLowest);
  } else if (!using_columns.empty()) {
    r->Write(" USING (");
    r->IdentList(using_columns);
    r->Write(")");
  }
}

void JoinRef::Dump(Dumper* d) const {
  d->Open("Join");
  d->Int(static_cast<int>(kind));
  d->Bool(natural);
  d->Node(left.get());
  d->Node(right.get());
  d->Node(on.get());
  d->Strs(using_columns);
  d->Close();
}

// ---- Queries --------------------------------------------------------------------------

void SelectStmt::Restore(Restorer* r) const {
  r->Write("SELECT ");
  RestoreHints(r, hints);
  if (distinct) r->Write("DISTINCT ");
  if (straight_join) r->Write("STRAIGHT_JOIN ");
  if (sql_calc_found_rows) r->Write("SQL_CALC_FOUND_ROWS ");
  if (sql_no_cache) r->Write("SQL_NO_CACHE ");
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) r->Write(", ");
    const SelectField& f = fields[i];
    if (f.wildcard) {
      if (!f.wildcard_db.empty()) {
        r->Ident(f.wildcard_db);
        r->Write(".");
      }
      if (!f.wildcard_table.empty()) {
        r->Ident(f.wildcard_table);
        r->Write(".");
      }
      r->Write("*");
      continue;
    }
    r->Expr(*f.expr, kPrecLowest);
    if (!f.alias.empty()) {
      r->Write(" AS ");
      r->Ident(f.alias);
    }
  }
  if (from) {
    r->Write(" FROM ");
    from->Restore(r);
  }
  if (where) {
    r->Write(" WHERE ");
    r->Expr(*where, kPrecLowest);
  }
  if (!group_by.empty()) {
    r->Write(" GROUP BY ");
    r->OrderBy(group_by);
    if (with_rollup) r->Write(" WITH ROLLUP");
  }
  if (having) {
    r->Write(" HAVING ");
    r->Expr(*having, kPrecLowest);
  }
  RestoreLimitAndOrder(r, order_by, limit);
  switch (lock) {
    case LockMode::kNone:
      break;
    case LockMode::kForUpdate:
      r->Write(" FOR UPDATE");
      break;
    case LockMode::kForUpdateNoWait:
      r->Write(" FOR UPDATE NOWAIT");
      break;
    case LockMode::kForUpdateSkipLocked:
      r->Write(" FOR UPDATE SKIP LOCKED");
      break;
    case LockMode::kShare:
      r->Write(" LOCK IN SHARE MODE");
      break;
  }
}

void SelectStmt::Dump(Dumper* d) const {
  d->Open("Select");
  d->Strs(hints);
  d->Bool(distinct);
  d->Bool(straight_join);
  d->Bool(sql_calc_found_rows);
  d->Bool(sql_no_cache);
  d->Open("Fields");
  for (const SelectField& f : fields) {
    d->Open("Field");
    d->Node(f.expr.get());
    d->Str(f.alias);
    d->Bool(f.wildcard);
    d->Str(f.wildcard_db);
    d->Str(f.wildcard_table);
    d->Close();
  }
  d->Close();
  d->Node(from.get());
  d->Node(where.get());
  d->Order(group_by);
  d->Bool(with_rollup);
  d->Node(having.get());
  d->Order(order_by);
  d->LimitOpt(limit);
  d->Int(static_cast<int>(lock));
  d->Close();
}

namespace {

// Whether `q`, as an operand of a set operation with `op` on side `right`, needs
// parentheses.
bool NeedsParens(const QueryStmt& q, SetOp op, bool right) {
  if (!q.order_by.empty() || q.limit.has_value()) return true;
  if (const auto* s = dynamic_cast<const SelectStmt*>(&q)) return s->lock != LockMode::kNone;
  const auto& so = static_cast<const SetOprStmt&>(q);
  return right ? SetOpPrec(so.op) <= SetOpPrec(op) : SetOpPrec(so.op) < SetOpPrec(op);
}

}  // namespace

void SetOprStmt::Restore(Restorer* r) const {
  if (NeedsParens(*left, op, false)) {
    r->Subquery(*left);
  } else {
    left->Restore(r);
  }
  r->Write(" ");
  r->Write(SetOpText(op));
  r->Write(all ? " ALL " : " ");
  if (NeedsParens(*right, op, true)) {
    r->Subquery(*right);
  } else {
    right->Restore(r);
  }
  RestoreLimitAndOrder(r, order_by, limit);
}

void SetOprStmt::Dump(Dumper* d) const {
  d->Open("SetOpr");
  d->Word(SetOpText(op));
  d->Bool(all);
  d->Node(left.get());
  d->Node(right.get());
  d->Order(order_by);
  d->LimitOpt(limit);
  d->Close();
}

// ---- DML ------------------------------------------------------------------------------

void InsertStmt::Restore(Restorer* r) const {
  r->Write(replace ? "REPLACE " : "INSERT ");
  RestoreHints(r, hints);
  if (ignore) r->Write("IGNORE ");
  r->Write("INTO ");
  table->Restore(r);
  if (!columns.empty()) {
    r->Write(" (");
    r->IdentList(columns);
    r->Write(")");
  }
  if (select) {
    r->Write(" ");
    select->Restore(r);
  } else if (!set.empty()) {
    r->Write(" SET ");
    RestoreAssignments(r, set);
  } else {
    r->Write(" VALUES ");
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) r->Write(", ");
      r->Write("(");
      r->ExprList(rows[i]);
      r->Write(")");
    }
  }
  if (!on_duplicate.empty()) {
    r->Write(" ON DUPLICATE KEY UPDATE ");
    RestoreAssignments(r, on_duplicate);
  }
}

void InsertStmt::Dump(Dumper* d) const {
  d->Open(replace ? "Replace" : "Insert");
  d->Strs(hints);
  d->Bool(ignore);
  d->Node(table.get());
  d->Strs(columns);
  d->Open("Rows");
  for (const auto& row : rows) d->Exprs(row);
  d->Close();
  DumpAssignments(d, set);
  d->Node(select.get());
  DumpAssignments(d, on_duplicate);
  d->Close();
}

void UpdateStmt::Restore(Restorer* r) const {
  r->Write("UPDATE ");
  RestoreHints(r, hints);
  if (low_priority) r->Write("LOW_PRIORITY ");
  if (ignore) r->Write("IGNORE ");
  table->Restore(r);
  r->Write(" SET ");
  RestoreAssignments(r, set);
  if (where) {
    r->Write(" WHERE ");
    r->Expr(*where, kPrecLowest);
  }
  RestoreLimitAndOrder(r, order_by, limit);
}

void UpdateStmt::Dump(Dumper* d) const {
  d->Open("Update");
  d->Strs(hints);
  d->Bool(low_priority);
  d->Bool(ignore);
  d->Node(table.get());
  DumpAssignments(d, set);
  d->Node(where.get());
  d->Order(order_by);
  d->LimitOpt(limit);
  d->Close();
}

void DeleteStmt::Restore(Restorer* r) const {
  r->Write("DELETE ");
  RestoreHints(r, hints);
  if (low_priority) r->Write("LOW_PRIORITY ");
  if (quick) r->Write("QUICK ");
  if (ignore) r->Write("IGNORE ");
  r->Write("FROM ");
  table->Restore(r);
  if (where) {
    r->Write(" WHERE ");
    r->Expr(*where, kPrecLowest);
  }
  RestoreLimitAndOrder(r, order_by, limit);
}

void DeleteStmt::Dump(Dumper* d) const {
  d->Open("Delete");
  d->Strs(hints);
  d->Bool(low_priority);
  d->Bool(quick);
  d->Bool(ignore);
  d->Node(table.get());
  d->Node(where.get());
  d->Order(order_by);
  d->LimitOpt(limit);
  d->Close();
}

// ---- DDL ------------------------------------------------------------------------------

void CreateDatabaseStmt::Restore(Restorer* r) const {
  r->Write("CREATE DATABASE ");
  if (if_not_exists) r->Write("IF NOT EXISTS ");
  r->Ident(name);
  if (!charset.empty()) {
    r->Write(" CHARACTER SET = ");
    r->Ident(charset);
  }
  if (!collation.empty()) {
    r->Write(" COLLATE = ");
    r->Ident(collation);
  }
}

void CreateDatabaseStmt::Dump(Dumper* d) const {
  d->Open("CreateDatabase");
  d->Bool(if_not_exists);
  d->Str(name);
  d->Str(charset);
  d->Str(collation);
  d->Close();
}

void DropDatabaseStmt::Restore(Restorer* r) const {
  r->Write("DROP DATABASE ");
  if (if_exists) r->Write("IF EXISTS ");
  r->Ident(name);
}

void DropDatabaseStmt::Dump(Dumper* d) const {
  d->Open("DropDatabase");
  d->Bool(if_exists);
  d->Str(name);
  d->Close();
}

namespace {

// A DEFAULT / ON UPDATE value restores bare when the parser reads it back bare (a
// primary or a signed operand), else in parentheses.
void RestoreDefaultValue(Restorer* r, const Expr& e) {
  const auto* u = dynamic_cast<const UnaryExpr*>(&e);
  if (e.Precedence() == kPrecPrimary ||
      (u != nullptr && (u->op == UnaryOp::kMinus || u->op == UnaryOp::kPlus) &&
       u->operand->Precedence() == kPrecPrimary)) {
    e.Restore(r);
  } else {
    r->Write("(");
    e.Restore(r);
    r->Write(")");
  }
}

}  // namespace

void ColumnDef::Restore(Restorer* r) const {
  r->Ident(name);
  r->Write(" ");
  type.Restore(r);
  for (const ColumnOption& o : options) {
    switch (o.kind) {
      case ColumnOptionKind::kNotNull:
        r->Write(" NOT NULL");
        break;
      case ColumnOptionKind::kNull:
        r->Write(" NULL");
        break;
      case ColumnOptionKind::kDefault:
        r->Write(" DEFAULT ");
        RestoreDefaultValue(r, *o.expr);
        break;
      case ColumnOptionKind::kAutoIncrement:
        r->Write(" AUTO_INCREMENT");
        break;
      case ColumnOptionKind::kPrimaryKey:
        r->Write(" PRIMARY KEY");
        break;
      case ColumnOptionKind::kUniqueKey:
        r->Write(" UNIQUE KEY");
        break;
      case ColumnOptionKind::kComment:
        r->Write(" COMMENT ");
        r->String(o.text);
        break;
      case ColumnOptionKind::kCollate:
        r->Write(" COLLATE ");
        r->Ident(o.text);
        break;
      case ColumnOptionKind::kOnUpdate:
        r->Write(" ON UPDATE ");
        RestoreDefaultValue(r, *o.expr);
        break;
      case ColumnOptionKind::kGenerated:
        r->Write(" GENERATED ALWAYS AS (");
        r->Expr(*o.expr, kPrecLowest);
        r->Write(o.stored ? ") STORED" : ") VIRTUAL");
        break;
      case ColumnOptionKind::kCheck:
        r->Write(" CHECK (");
        r->Expr(*o.expr, kPrecLowest);
        r->Write(")");
        break;
      case ColumnOptionKind::kReferences:
        r->Write(" REFERENCES ");
        r->Ident(o.text);
        r->Write(" (");
        r->IdentList(o.columns);
        r->Write(")");
        break;
    }
  }
}

void ColumnDef::Dump(Dumper* d) const {
  d->Open("ColumnDef");
  d->Str(name);
  type.Dump(d);
  for (const ColumnOption& o : options) {
    d->Open("ColOpt");
    d->Int(static_cast<int>(o.kind));
    d->Node(o.expr.get());
    d->Str(o.text);
    d->Bool(o.stored);
    d->Strs(o.columns);
    d->Close();
  }
  d->Close();
}

void Constraint::Restore(Restorer* r) const {
  switch (kind) {
    case ConstraintKind::kPrimaryKey:
      r->Write("PRIMARY KEY");
      break;
    case ConstraintKind::kUnique:
      r->Write("UNIQUE KEY");
      break;
    case ConstraintKind::kIndex:
      r->Write("KEY");
      break;
    case ConstraintKind::kFulltext:
      r->Write("FULLTEXT KEY");
      break;
    case ConstraintKind::kForeignKey:
      if (!name.empty()) {
        r->Write("CONSTRAINT ");
        r->Ident(name);
        r->Write(" ");
      }
      r->Write("FOREIGN KEY ");
      RestoreIndexParts(r, parts);
      r->Write(" REFERENCES ");
      r->Ident(ref_table);
      r->Write(" (");
      r->IdentList(ref_columns);
      r->Write(")");
      return;
    case ConstraintKind::kCheck:
      if (!name.empty()) {
        r->Write("CONSTRAINT ");
        r->Ident(name);
        r->Write(" ");
      }
      r->Write("CHECK (");
      r->Expr(*check, kPrecLowest);
      r->Write(")");
      return;
  }
  if (!name.empty() && kind != ConstraintKind::kPrimaryKey) {
    r->Write(" ");
    r->Ident(name);
  }
  if (!index_type.empty()) {
    r->Write(" USING ");
    r->Write(index_type);
  }
  r->Write(" ");
  RestoreIndexParts(r, parts);
  if (has_comment) {
    r->Write(" COMMENT ");
    r->String(comment);
  }
}

void Constraint::Dump(Dumper* d) const {
  d->Open("Constraint");
  d->Int(static_cast<int>(kind));
  d->Str(name);
  DumpIndexParts(d, parts);
  d->Str(index_type);
  d->Bool(has_comment);
  d->Str(comment);
  d->Str(ref_table);
  d->Strs(ref_columns);
  d->Node(check.get());
  d->Close();
}

void CreateTableStmt::Restore(Restorer* r) const {
  r->Write(temporary ? "CREATE TEMPORARY TABLE " : "CREATE TABLE ");
  if (if_not_exists) r->Write("IF NOT EXISTS ");
  table->Restore(r);
  if (like) {
    r->Write(" LIKE ");
    like->Restore(r);
    return;
  }
  if (!columns.empty() || !constraints.empty()) {
    r->Write(" (");
    bool first = true;
    for (const ColumnDef& c : columns) {
      if (!first) r->Write(", ");
      first = false;
      c.Restore(r);
    }
    for (const Constraint& c : constraints) {
      if (!first) r->Write(", ");
      first = false;
      c.Restore(r);
    }
    r->Write(")");
  }
  if (!options.empty()) {
    r->Write(" ");
    RestoreTableOptions(r, options);
  }
  if (select) {
    r->Write(" AS ");
    select->Restore(r);
  }
}

void CreateTableStmt::Dump(Dumper* d) const {
  d->Open("CreateTable");
  d->Bool(temporary);
  d->Bool(if_not_exists);
  d->Node(table.get());
  d->Open("Columns");
  for (const ColumnDef& c : columns) c.Dump(d);
  d->Close();
  d->Open("Constraints");
  for (const Constraint& c : constraints) c.Dump(d);
  d->Close();
  DumpTableOptions(d, options);
  d->Node(like.get());
  d->Node(select.get());
  d->Close();
}

void DropTableStmt::Restore(Restorer* r) const {
  r->Write("DROP ");
  if (temporary) r->Write("TEMPORARY ");
  r->Write(is_view ? "VIEW " : "TABLE ");
  if (if_exists) r->Write("IF EXISTS ");
  RestoreTableList(r, tables);
}

void DropTableStmt::Dump(Dumper* d) const {
  d->Open(is_view ? "DropView" : "DropTable");
  d->Bool(temporary);
  d->Bool(if_exists);
  DumpTableList(d, tables);
  d->Close();
}

void CreateIndexStmt::Restore(Restorer* r) const {
  r->Write("CREATE ");
  if (kind == ConstraintKind::kUnique) r->Write("UNIQUE ");
  if (kind == ConstraintKind::kFulltext) r->Write("FULLTEXT ");
  r->Write("INDEX ");
  if (if_not_exists) r->Write("IF NOT EXISTS ");
  r->Ident(name);
  if (!index_type.empty()) {
    r->Write(" USING ");
    r->Write(index_type);
  }
  r->Write(" ON ");
  table->Restore(r);
  r->Write(" ");
  RestoreIndexParts(r, parts);
  if (has_comment) {
    r->Write(" COMMENT ");
    r->String(comment);
  }
}

void CreateIndexStmt::Dump(Dumper* d) const {
  d->Open("CreateIndex");
  d->Int(static_cast<int>(kind));
  d->Bool(if_not_exists);
  d->Str(name);
  d->Node(table.get());
  DumpIndexParts(d, parts);
  d->Str(index_type);
  d->Bool(has_comment);
  d->Str(comment);
  d->Close();
}

void DropIndexStmt::Restore(Restorer* r) const {
  r->Write("DROP INDEX ");
  if (if_exists) r->Write("IF EXISTS ");
  r->Ident(name);
  r->Write(" ON ");
  table->Restore(r);
}

void DropIndexStmt::Dump(Dumper* d) const {
  d->Open("DropIndex");
  d->Bool(if_exists);
  d->Str(name);
  d->Node(table.get());
  d->Close();
}

void AlterSpec::Restore(Restorer* r) const {
  auto position_clause = [&] {
    if (position == ColumnPosition::kFirst) r->Write(" FIRST");
    if (position == ColumnPosition::kAfter) {
      r->Write(" AFTER ");
      r->Ident(after);
    }
  };
  switch (kind) {
    case AlterKind::kAddColumns:
      r->Write("ADD COLUMN ");
      if (parenthesized) {
        r->Write("(");
        for (size_t i = 0; i < columns.size(); ++i) {
          if (i > 0) r->Write(", ");
          columns[i].Restore(r);
        }
        r->Write(")");
      } else {
        columns[0].Restore(r);
        position_clause();
      }
      break;
    case AlterKind::kDropColumn:
      r->Write("DROP COLUMN ");
      r->Ident(name);
      break;
    case AlterKind::kAddConstraint:
      r->Write("ADD ");
      constraint->Restore(r);
      break;
    case AlterKind::kDropIndex:
      r->Write("DROP INDEX ");
      r->Ident(name);
      break;
    case AlterKind::kDropPrimaryKey:
      r->Write("DROP PRIMARY KEY");
      break;
    case AlterKind::kDropForeignKey:
      r->Write("DROP FOREIGN KEY ");
      r->Ident(name);
      break;
    case AlterKind::kModifyColumn:
      r->Write("MODIFY COLUMN ");
      columns[0].Restore(r);
      position_clause();
      break;
    case AlterKind::kChangeColumn:
      r->Write("CHANGE COLUMN ");
      r->Ident(name);
      r->Write(" ");
      columns[0].Restore(r);
      position_clause();
      break;
    case AlterKind::kRenameTable:
      r->Write("RENAME TO ");
      RestoreQualified(r, new_db, new_name);
      break;
    case AlterKind::kRenameColumn:
      r->Write("RENAME COLUMN ");
      r->Ident(name);
      r->Write(" TO ");
      r->Ident(new_name);
      break;
    case AlterKind::kRenameIndex:
      r->Write("RENAME INDEX ");
      r->Ident(name);
      r->Write(" TO ");
      r->Ident(new_name);
      break;
    case AlterKind::kAlterColumnSetDefault:
      r->Write("ALTER COLUMN ");
      r->Ident(name);
      r->Write(" SET DEFAULT ");
      RestoreDefaultValue(r, *default_value);
      break;
    case AlterKind::kAlterColumnDropDefault:
      r->Write("ALTER COLUMN ");
      r->Ident(name);
      r->Write(" DROP DEFAULT");
      break;
    case AlterKind::kTableOptions:
      RestoreTableOptions(r, options);
      break;
  }
}

void AlterSpec::Dump(Dumper* d) const {
  d->Open("AlterSpec");
  d->Int(static_cast<int>(kind));
  d->Open("Columns");
  for (const ColumnDef& c : columns) c.Dump(d);
  d->Close();
  d->Bool(parenthesized);
  if (constraint.has_value()) {
    constraint->Dump(d);
  } else {
    d->Word("nil");
  }
  d->Str(name);
  d->Str(new_name);
  d->Str(new_db);
  d->Int(static_cast<int>(position));
  d->Str(after);
  d->Node(default_value.get());
  DumpTableOptions(d, options);
  d->Close();
}

void AlterTableStmt::Restore(Restorer* r) const {
  r->Write("ALTER TABLE ");
  table->Restore(r);
  for (size_t i = 0; i < specs.size(); ++i) {
    r->Write(i == 0 ? " " : ", ");
    specs[i].Restore(r);
  }
}

void AlterTableStmt::Dump(Dumper* d) const {
  d->Open("AlterTable");
  d->Node(table.get());
  for (const AlterSpec& s : specs) s.Dump(d);
  d->Close();
}

void RenameTableStmt::Restore(Restorer* r) const {
  r->Write("RENAME TABLE ");
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) r->Write(", ");
    pairs[i].first->Restore(r);
    r->Write(" TO ");
    pairs[i].second->Restore(r);
  }
}

void RenameTableStmt::Dump(Dumper* d) const {
  d->Open("RenameTable");
  for (const auto& p : pairs) {
    d->Node(p.first.get());
    d->Node(p.second.get());
  }
  d->Close();
}

void CreateViewStmt::Restore(Restorer* r) const {
  r->Write(or_replace ? "CREATE OR REPLACE VIEW " : "CREATE VIEW ");
  name->Restore(r);
  if (!columns.empty()) {
    r->Write(" (");
    r->IdentList(columns);
    r->Write(")");
  }
  r->Write(" AS ");
  select->Restore(r);
  if (check_option) {
    r->Write(" WITH ");
    if (!check_option_kind.empty()) {
      r->Write(check_option_kind);
      r->Write(" ");
    }
    r->Write("CHECK OPTION");
  }
}

void CreateViewStmt::Dump(Dumper* d) const {
  d->Open("CreateView");
  d->Bool(or_replace);
  d->Node(name.get());
  d->Strs(columns);
  d->Node(select.get());
  d->Bool(check_option);
  d->Str(check_option_kind);
  d->Close();
}

void TruncateStmt::Restore(Restorer* r) const {
  r->Write("TRUNCATE TABLE ");
  table->Restore(r);
}

void TruncateStmt::Dump(Dumper* d) const {
  d->Open("Truncate");
  d->Node(table.get());
  d->Close();
}

// ---- Transactions, SET, SHOW and the rest ---------------------------------------------

void TxnStmt::Restore(Restorer* r) const {
  switch (kind) {
    case TxnKind::kBegin: {
      if (!mode.empty()) {
        r->Write("BEGIN ");
        r->Write(mode);
        break;
      }
      r->Write("START TRANSACTION");
      const char* sep = " ";
      if (consistent_snapshot) {
        r->Write(" WITH CONSISTENT SNAPSHOT");
        sep = ", ";
      }
      if (read_only) {
        r->Write(sep);
        r->Write("READ ONLY");
      } else if (read_write) {
        r->Write(sep);
        r->Write("READ WRITE");
      }
      break;
    }
    case TxnKind::kCommit:
      r->Write("COMMIT");
      break;
    case TxnKind::kRollback:
      r->Write("ROLLBACK");
      break;
    case TxnKind::kSavepoint:
      r->Write("SAVEPOINT ");
      r->Ident(savepoint);
      break;
    case TxnKind::kRollbackToSavepoint:
      r->Write("ROLLBACK TO SAVEPOINT ");
      r->Ident(savepoint);
      break;
    case TxnKind::kReleaseSavepoint:
      r->Write("RELEASE SAVEPOINT ");
      r->Ident(savepoint);
      break;
  }
}

void TxnStmt::Dump(Dumper* d) const {
  d->Open("Txn");
  d->Int(static_cast<int>(kind));
  d->Bool(read_only);
  d->Bool(read_write);
  d->Bool(consistent_snapshot);
  d->Str(mode);
  d->Str(savepoint);
  d->Close();
}

void SetStmt::Restore(Restorer* r) const {
  r->Write("SET ");
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) r->Write(", ");
    const SetItem& it = items[i];
    switch (it.kind) {
      case SetKind::kVariable:
        it.target->Restore(r);
        r->Write(" = ");
        r->Expr(*it.value, kPrecAssign + 1);
        break;
      case SetKind::kNames:
      case SetKind::kCharset:
        r->Write(it.kind == SetKind::kNames ? "NAMES " : "CHARACTER SET ");
        if (it.charset == "default") {
          r->Write("DEFAULT");
        } else {
          r->Ident(it.charset);
        }
        if (!it.collation.empty()) {
          r->Write(" COLLATE ");
          r->Ident(it.collation);
        }
        break;
      case SetKind::kTransaction: {
        if (it.txn_scope == static_cast<uint8_t>(VarScope::kGlobal)) r->Write("GLOBAL ");
        if (it.txn_scope == static_cast<uint8_t>(VarScope::kSession)) r->Write("SESSION ");
        r->Write("TRANSACTION ");
        if (!it.isolation.empty()) {
          r->Write("ISOLATION LEVEL ");
          r->Write(it.isolation);
          if (!it.access_mode.empty()) r->Write(", ");
        }
        r->Write(it.access_mode);
        break;
      }
    }
  }
}

void SetStmt::Dump(Dumper* d) const {
  d->Open("SetStmt");
  for (const SetItem& it : items) {
    d->Open("Item");
    d->Int(static_cast<int>(it.kind));
    d->Node(it.target.get());
    d->Node(it.value.get());
    d->Str(it.charset);
    d->Str(it.collation);
    d->Int(it.txn_scope);
    d->Str(it.isolation);
    d->Str(it.access_mode);
    d->Close();
  }
  d->Close();
}

void ShowStmt::Restore(Restorer* r) const {
  auto from_table = [&] {
    r->Write(" FROM ");
    RestoreQualified(r, db, table);
  };
  switch (kind) {
    case ShowKind::kDatabases:
      r->Write("SHOW DATABASES");
      break;
    case ShowKind::kTables:
      r->Write(full ? "SHOW FULL TABLES" : "SHOW TABLES");
      if (!db.empty()) {
        r->Write(" FROM ");
        r->Ident(db);
      }
      break;
    case ShowKind::kTableStatus:
      r->Write("SHOW TABLE STATUS");
      if (!db.empty()) {
        r->Write(" FROM ");
        r->Ident(db);
      }
      break;
    case ShowKind::kColumns:
      if (!column.empty()) {
        r->Write("DESCRIBE ");
        RestoreQualified(r, db, table);
        r->Write(" ");
        r->Ident(column);
        return;
      }
      r->Write(full ? "SHOW FULL COLUMNS" : "SHOW COLUMNS");
      from_table();
      break;
    case ShowKind::kCreateTable:
      r->Write("SHOW CREATE TABLE ");
      RestoreQualified(r, db, table);
      break;
    case ShowKind::kCreateView:
      r->Write("SHOW CREATE VIEW ");
      RestoreQualified(r, db, table);
      break;
    case ShowKind::kCreateDatabase:
      r->Write("SHOW CREATE DATABASE ");
      r->Ident(db);
      break;
    case ShowKind::kIndex:
      r->Write("SHOW INDEX");
      from_table();
      break;
    case ShowKind::kVariables:
      r->Write(global ? "SHOW GLOBAL VARIABLES" : "SHOW VARIABLES");
      break;
    case ShowKind::kStatus:
      r->Write(global ? "SHOW GLOBAL STATUS" : "SHOW STATUS");
      break;
    case ShowKind::kWarnings:
      r->Write("SHOW WARNINGS");
      break;
    case ShowKind::kErrors:
      r->Write("SHOW ERRORS");
      break;
    case ShowKind::kProcessList:
      r->Write(full ? "SHOW FULL PROCESSLIST" : "SHOW PROCESSLIST");
      break;
    case ShowKind::kEngines:
      r->Write("SHOW ENGINES");
      break;
    case ShowKind::kCharset:
      r->Write("SHOW CHARACTER SET");
      break;
    case ShowKind::kCollation:
      r->Write("SHOW COLLATION");
      break;
    case ShowKind::kGrants:
      r->Write("SHOW GRANTS");
      if (!user.empty()) {
        r->Write(" FOR ");
        r->Write(user);
      }
      break;
    case ShowKind::kPrivileges:
      r->Write("SHOW PRIVILEGES");
      break;
  }
  if (like) {
    r->Write(" LIKE ");
    r->Expr(*like, kPrecLowest);
  } else if (where) {
    r->Write(" WHERE ");
    r->Expr(*where, kPrecLowest);
  }
}

void ShowStmt::Dump(Dumper* d) const {
  d->Open("Show");
  d->Int(static_cast<int>(kind));
  d->Bool(full);
  d->Bool(global);
  d->Str(db);
  d->Str(table);
  d->Str(column);
  d->Node(like.get());
  d->Node(where.get());
  d->Str(user);
  d->Close();
}

void UseStmt::Restore(Restorer* r) const {
  r->Write("USE ");
  r->Ident(db);
}

void UseStmt::Dump(Dumper* d) const {
  d->Open("Use");
  d->Str(db);
  d->Close();
}

void ExplainStmt::Restore(Restorer* r) const {
  r->Write("EXPLAIN ");
  if (analyze) r->Write("ANALYZE ");
  if (!format.empty()) {
    r->Write("FORMAT = ");
    r->Ident(format);
    r->Write(" ");
  }
  stmt->Restore(r);
}

void ExplainStmt::Dump(Dumper* d) const {
  d->Open("Explain");
  d->Bool(analyze);
  d->Str(format);
  d->Node(stmt.get());
  d->Close();
}

void AnalyzeTableStmt::Restore(Restorer* r) const {
  r->Write("ANALYZE TABLE ");
  RestoreTableList(r, tables);
}

void AnalyzeTableStmt::Dump(Dumper* d) const {
  d->Open("AnalyzeTable");
  DumpTableList(d, tables);
  d->Close();
}

void CreateTriggerStmt::Restore(Restorer* r) const {
  r->Write("CREATE TRIGGER ");
  name->Restore(r);
  r->Write(before ? " BEFORE " : " AFTER ");
  r->Write(event);
  r->Write(" ON ");
  table->Restore(r);
  r->Write(" FOR EACH ROW ");
  if (!compound) {
    body[0]->Restore(r);
    return;
  }
  r->Write("BEGIN ");
  for (const StmtPtr& s : body) {
    s->Restore(r);
    r->Write("; ");
  }
  r->Write("END");
}

void CreateTriggerStmt::Dump(Dumper* d) const {
  d->Open("CreateTrigger");
  d->Node(name.get());
  d->Bool(before);
  d->Str(event);
  d->Node(table.get());
  d->Bool(compound);
  for (const StmtPtr& s : body) d->Node(s.get());
  d->Close();
}

void DropTriggerStmt::Restore(Restorer* r) const {
  r->Write("DROP TRIGGER ");
  if (if_exists) r->Write("IF EXISTS ");
  name->Restore(r);
}

void DropTriggerStmt::Dump(Dumper* d) const {
  d->Open("DropTrigger");
  d->Bool(if_exists);
  d->Node(name.get());
  d->Close();
}

void CreateUserStmt::Restore(Restorer* r) const {
  r->Write("CREATE USER ");
  if (if_not_exists) r->Write("IF NOT EXISTS ");
  for (size_t i = 0; i < users.size(); ++i) {
    if (i > 0) r->Write(", ");
    RestoreUser(r, users[i]);
    if (users[i].has_password) {
      r->Write(" IDENTIFIED BY ");
      r->String(users[i].password);
    }
  }
}

void CreateUserStmt::Dump(Dumper* d) const {
  d->Open("CreateUser");
  d->Bool(if_not_exists);
  DumpUsers(d, users);
  d->Close();
}

void DropUserStmt::Restore(Restorer* r) const {
  r->Write("DROP USER ");
  if (if_exists) r->Write("IF EXISTS ");
  for (size_t i = 0; i < users.size(); ++i) {
    if (i > 0) r->Write(", ");
    RestoreUser(r, users[i]);
  }
}

void DropUserStmt::Dump(Dumper* d) const {
  d->Open("DropUser");
  d->Bool(if_exists);
  DumpUsers(d, users);
  d->Close();
}

void GrantStmt::Restore(Restorer* r) const {
  r->Write(revoke ? "REVOKE " : "GRANT ");
  for (size_t i = 0; i < privileges.size(); ++i) {
    if (i > 0) r->Write(", ");
    r->Write(privileges[i]);
  }
  r->Write(" ON ");
  if (!db.empty()) {
    if (db == "*") {
      r->Write("*");
    } else {
      r->Ident(db);
    }
    r->Write(".");
  }
  if (table == "*") {
    r->Write("*");
  } else {
    r->Ident(table);
  }
  r->Write(revoke ? " FROM " : " TO ");
  for (size_t i = 0; i < users.size(); ++i) {
    if (i > 0) r->Write(", ");
    RestoreUser(r, users[i]);
  }
  if (with_grant_option) r->Write(" WITH GRANT OPTION");
}

void GrantStmt::Dump(Dumper* d) const {
  d->Open(revoke ? "Revoke" : "Grant");
  d->Strs(privileges);
  d->Str(db);
  d->Str(table);
  DumpUsers(d, users);
  d->Bool(with_grant_option);
  d->Close();
}

}  // namespace rutile::sql
