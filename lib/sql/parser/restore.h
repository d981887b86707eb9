// Restorer and Dumper: the text builders behind Node::Restore and Node::Dump.
//
// Restorer writes canonical SQL: keywords as given by the caller (upper case), names in
// backquotes, strings in single quotes with backslash escapes. Dumper writes the
// structural S-expression compared by AstEqual. Both append to one std::string.
//
// Thread safety: a Restorer or Dumper is used by one thread.

#ifndef RUTILE_SQL_PARSER_RESTORE_H_
#define RUTILE_SQL_PARSER_RESTORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sql/parser/ast.h"

namespace rutile::sql {

class Restorer {
 public:
  // Appends `text` verbatim (keywords, punctuation).
  void Write(std::string_view text) { out_.append(text.data(), text.size()); }
  // Appends `name` in backquotes, doubling backquotes inside.
  void Ident(std::string_view name);
  // Appends `s` as a single-quoted string literal.
  void String(std::string_view s);
  // Appends `e`, in parentheses when its precedence is below `min_prec`.
  void Expr(const sql::Expr& e, int min_prec);
  // Appends `items` separated by ", ", each with minimum precedence kPrecLowest.
  void ExprList(const std::vector<ExprPtr>& items);
  void IdentList(const std::vector<std::string>& names);
  void OrderBy(const std::vector<OrderItem>& items);
  void LimitClause(const Limit& limit);
  // Appends a parenthesised query: (SELECT ...).
  void Subquery(const QueryStmt& q);

  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Dumper {
 public:
  // Opens "(Name".
  void Open(std::string_view name);
  // Closes ")".
  void Close() { out_.push_back(')'); }
  void Str(std::string_view s);
  void Int(int64_t v);
  void Bool(bool v) { Word(v ? "t" : "f"); }
  void Word(std::string_view w);
  void Node(const sql::Node* n);
  void Exprs(const std::vector<ExprPtr>& items);
  void Strs(const std::vector<std::string>& items);
  void Order(const std::vector<OrderItem>& items);
  void LimitOpt(const std::optional<Limit>& limit);

  std::string& out() { return out_; }

 private:
  std::string out_;
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PARSER_RESTORE_H_
