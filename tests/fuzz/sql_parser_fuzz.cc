// Fuzz target for the SQL parser (lib/sql/parser).
//
// The input is SQL text. Parsing must never crash, hang or overflow the stack (the
// sanitizers and the parser's depth limit watch that). It fails only on:
//   - an error that is not a MySQL syntax error (InvalidArgument carrying code 1064);
//   - a parsed statement whose restored text does not parse back to an equal tree, or
//     whose canonical text is not stable (restore(parse(restore(x))) != restore(x)).
// Restored text may nest a little deeper in parser recursion than its source (a JOIN on
// the right of a comma gains parentheses), so it is re-parsed with twice the depth limit;
// the tree depth, what bounds Restore and destruction, is the same.

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_driver.h"
#include "sql/errors.h"
#include "sql/parser/ast.h"
#include "sql/parser/parser.h"

namespace rutile::fuzz {

std::vector<std::string> FuzzSeeds() {
  return {
      "SELECT a, b AS c, t.* FROM t WHERE a IN (1, 2) AND b LIKE 'x%' ORDER BY 1 LIMIT 2, 3",
      "SELECT * FROM t1 LEFT JOIN t2 ON t1.a = t2.a, (SELECT 1) AS d WHERE EXISTS (SELECT 1)",
      "SELECT CASE WHEN a THEN 1 ELSE 2 END, CAST(b AS SIGNED), COUNT(DISTINCT c) FROM t "
      "GROUP BY a HAVING SUM(b) > 1",
      "SELECT 1 UNION ALL (SELECT 2 INTERSECT SELECT 3) ORDER BY 1",
      "SELECT -a ^ b, NOT a = b, !c, a BETWEEN 1 AND 2, a IS NOT NULL, d + INTERVAL 1 DAY",
      "SELECT 'it''s', \"q\", _utf8mb4'x', X'0A', 0x1f, b'1', 1.5e3, @v, @@session.x, ?",
      "INSERT INTO t (a, b) VALUES (1, DEFAULT), (2, 3) ON DUPLICATE KEY UPDATE b = VALUES(b)",
      "REPLACE INTO t SET a = 1",
      "UPDATE t SET a = a + 1 WHERE b > 0 ORDER BY c LIMIT 1",
      "DELETE FROM t WHERE a = 1",
      "CREATE TABLE IF NOT EXISTS t (id INT NOT NULL AUTO_INCREMENT, c VARCHAR(10) DEFAULT '' "
      "COMMENT 'x', PRIMARY KEY (id), UNIQUE KEY u (c)) /*! ENGINE = innodb */",
      "ALTER TABLE t ADD COLUMN x INT AFTER y, DROP INDEX i, ADD INDEX j (x)",
      "CREATE UNIQUE INDEX i ON t (a DESC); DROP INDEX i ON t; DROP TABLE IF EXISTS t",
      "CREATE VIEW v AS SELECT 1; DROP VIEW v; TRUNCATE t",
      "START TRANSACTION READ ONLY; COMMIT; BEGIN; ROLLBACK",
      "SET autocommit = 1, @a := 2, NAMES utf8mb4; SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
      "SHOW FULL COLUMNS FROM t LIKE 'a%'; SHOW VARIABLES; USE d; EXPLAIN SELECT 1; DESC t",
      "SELECT /*+ HINT(a) */ a -- comment\nFROM t # other\n/* block */",
      "GRANT SELECT ON d.* TO 'u'@'%'; CREATE USER u IDENTIFIED BY 'p'",
  };
}

}  // namespace rutile::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rutile::fuzz::FuzzCheck;
  namespace sql = ::rutile::sql;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<sql::StmtPtr>> stmts = sql::Parse(input);
  if (!stmts.ok()) {
    std::optional<sql::MySqlError> e = sql::GetMySqlError(stmts.status());
    FuzzCheck(stmts.status().code() == absl::StatusCode::kInvalidArgument && e.has_value() &&
                  e->code == 1064 && e->sqlstate == "42000",
              "parse failure is not a MySQL 1064 syntax error");
    return 0;
  }
  sql::ParserOptions deeper;
  deeper.max_depth *= 2;
  for (const sql::StmtPtr& s : *stmts) {
    const std::string text = sql::RestoreSql(*s);
    absl::StatusOr<sql::StmtPtr> again = sql::ParseOne(text, deeper);
    if (!again.ok()) {
      std::fprintf(stderr, "restored text does not parse: %s\n", text.c_str());
    }
    FuzzCheck(again.ok(), "restored text does not parse");
    if (!sql::AstEqual(*s, **again)) {
      std::fprintf(stderr, "input: %.*s\nrestored: %s\n", static_cast<int>(size),
                   reinterpret_cast<const char*>(data), text.c_str());
    }
    FuzzCheck(sql::AstEqual(*s, **again), "restored text parses to a different tree");
    FuzzCheck(sql::RestoreSql(**again) == text, "canonical text is not stable");
  }
  return 0;
}
