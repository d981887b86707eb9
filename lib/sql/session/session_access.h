// Internal: how lib/server runs a statement it has checked first. The server parses a
// statement with the session's own parser options (sql_mode), decides on that syntax tree
// (privileges, account statements) and runs exactly that tree, so what is checked is what
// runs; a prepared statement is checked on the tree the session prepared.

#ifndef RUTILE_SQL_SESSION_SESSION_ACCESS_H_
#define RUTILE_SQL_SESSION_SESSION_ACCESS_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/statusor.h"
#include "rutile/sql.h"
#include "sql/parser/ast.h"

namespace rutile::sql {

struct SessionAccess {
  // Parses `sql` as Session::Execute does (the session's sql_mode); a syntax error is
  // recorded for SHOW WARNINGS / SHOW ERRORS as Execute records it.
  static absl::StatusOr<StmtPtr> Parse(Session* s, std::string_view sql);
  // Runs a statement Parse returned, as Session::Execute runs it.
  static absl::StatusOr<ResultSet> Run(Session* s, const Stmt& stmt);
  // The syntax tree of prepared statement `id` (what ExecutePrepared runs), or null.
  static const Stmt* Prepared(const Session& s, uint32_t id);
  // Limits what SHOW DATABASES, SHOW TABLES and information_schema list to the databases
  // (table "") and tables `visible` accepts (an account's privileges); empty: everything.
  static void SetVisibility(
      Session* s, std::function<bool(std::string_view db, std::string_view table)> visible);
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_SESSION_SESSION_ACCESS_H_
