// Round trip: for every statement below, and for random expressions built from every
// operator, parse(restore(ast)) is structurally equal to ast, and restoring is idempotent
// (the canonical text of the re-parsed tree is the same text).

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sql/parser/ast.h"
#include "sql/parser/parser.h"

namespace rutile::sql {
namespace {

void ExpectRoundTrip(std::string_view sql, const ParserOptions& options = {}) {
  absl::StatusOr<StmtPtr> s = ParseOne(sql, options);
  ASSERT_TRUE(s.ok()) << sql << "\n" << s.status();
  const std::string text = RestoreSql(**s);
  absl::StatusOr<StmtPtr> again = ParseOne(text, options);
  ASSERT_TRUE(again.ok()) << sql << "\nrestored: " << text << "\n" << again.status();
  EXPECT_TRUE(AstEqual(**s, **again)) << sql << "\nrestored: " << text << "\n"
                                      << DumpAst(**s) << "\n"
                                      << DumpAst(**again);
  EXPECT_EQ(RestoreSql(**again), text) << sql;
}

const char* const kStatements[] = {
    "SELECT 1",
    "SELECT a, b AS c, t.*, * FROM t",
    "SELECT DISTINCT a FROM t WHERE a IN (1, 2) AND b NOT IN (SELECT c FROM u)",
    "SELECT a FROM t WHERE (a, b) = (1, 2) OR (a, b) IN ((1, 2), (3, 4))",
    "SELECT * FROM t1, t2 WHERE t1.a = t2.b",
    "SELECT * FROM t1 JOIN t2 ON t1.a = t2.a LEFT JOIN t3 USING (b) RIGHT OUTER JOIN t4 ON 1",
    "SELECT * FROM t1 CROSS JOIN t2 NATURAL JOIN t3 STRAIGHT_JOIN t4",
    "SELECT * FROM (t1, t2) JOIN (t3 LEFT JOIN t4 ON t3.a = t4.a) ON t1.x = t3.x",
    "SELECT * FROM (SELECT a FROM t) x JOIN (SELECT b FROM u) AS y (c) ON x.a = y.c",
    "SELECT a, COUNT(*), SUM(DISTINCT b), GROUP_CONCAT(c ORDER BY c SEPARATOR '|') FROM t "
    "GROUP BY a WITH ROLLUP HAVING COUNT(*) > 1 ORDER BY 2 DESC LIMIT 1, 2",
    "SELECT a FROM t ORDER BY a LIMIT 10 OFFSET 5 FOR UPDATE",
    "SELECT a FROM t LOCK IN SHARE MODE",
    "SELECT a FROM t FORCE INDEX (i) IGNORE INDEX FOR GROUP BY (j) WHERE a > 0",
    "SELECT 1 UNION SELECT 2 UNION ALL SELECT 3 EXCEPT SELECT 4 INTERSECT SELECT 5",
    "(SELECT 1 UNION SELECT 2) EXCEPT ALL (SELECT 3 INTERSECT DISTINCT SELECT 4) ORDER BY 1",
    "(SELECT a FROM t LIMIT 1) UNION (SELECT b FROM u ORDER BY b LIMIT 2) LIMIT 3",
    "SELECT (SELECT MAX(a) FROM t) + 1, EXISTS (SELECT 1), a > ALL (SELECT b FROM u) FROM v",
    "SELECT CASE WHEN a THEN b WHEN c THEN d ELSE e END, CASE a WHEN 1 THEN 2 END FROM t",
    "SELECT CAST(a AS CHAR(3)), CONVERT(b, DECIMAL(5, 2)), CONVERT(c USING utf8mb4) FROM t",
    "SELECT a COLLATE utf8mb4_bin, BINARY b, -c, +d, ~e, !f, NOT g FROM t",
    "SELECT a BETWEEN b AND c, a NOT BETWEEN 1 AND 2 FROM t",
    "SELECT a LIKE 'x' ESCAPE '\\\\', a NOT LIKE b, a REGEXP c, a NOT RLIKE d FROM t",
    "SELECT a IS NULL, a IS NOT NULL, a IS TRUE, a IS NOT FALSE, a IS UNKNOWN FROM t",
    "SELECT a DIV b, a MOD b, a % b, a & b, a | b, a ^ b, a << b, a >> b FROM t",
    "SELECT a <=> b, a != b, a <> b, a < b, a <= b, a > b, a >= b FROM t",
    "SELECT d + INTERVAL 1 DAY, INTERVAL 2 HOUR + d, DATE_SUB(d, INTERVAL '1:2' MINUTE_SECOND)",
    "SELECT EXTRACT(DAY FROM d), TRIM(TRAILING 'x' FROM s), POSITION('a' IN s), "
    "SUBSTRING(s FROM 1 FOR 2), TIMESTAMPADD(HOUR, 1, d) FROM t",
    "SELECT @a := 1, @b, @@autocommit, @@global.x, @@session.y",
    "SELECT ?, ? + ? FROM t WHERE a = ? LIMIT ?",
    "SELECT 'a' 'b', \"c\", _utf8mb4'd', N'e', X'0F', 0x1, b'1', 1.5, 1e-3, .5, NULL, TRUE",
    "SELECT 'quote''s', 'back\\\\slash', 'nl\\n', 'tab\\t', 'zero\\0', 'pct\\%'",
    "SELECT `weird``name`, `select`, status, value, comment FROM `t t`",
    "SELECT /*+ HINT1(a) HINT2 */ a FROM t",
    "INSERT INTO t VALUES (1, 2), (3, DEFAULT)",
    "INSERT INTO t (a, b) VALUES (1, 'x') ON DUPLICATE KEY UPDATE b = VALUES(b), a = a + 1",
    "INSERT IGNORE INTO t SET a = 1, b = DEFAULT",
    "INSERT INTO t SELECT * FROM u UNION SELECT * FROM v",
    "REPLACE INTO t (a) VALUES (1)",
    "UPDATE t SET a = 1, b = b * 2 WHERE c = 3 ORDER BY d LIMIT 4",
    "UPDATE IGNORE t1 JOIN t2 ON t1.a = t2.a SET t1.b = t2.b",
    "DELETE FROM t WHERE a < 10 ORDER BY a DESC LIMIT 5",
    "CREATE DATABASE IF NOT EXISTS d CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    "DROP DATABASE d",
    "CREATE TABLE t1(a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER)",
    "CREATE TABLE tab0(pk INTEGER PRIMARY KEY, col0 INTEGER, col1 FLOAT, col2 TEXT, col3 "
    "INTEGER, col4 FLOAT, col5 TEXT)",
    "CREATE TABLE IF NOT EXISTS t (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, name "
    "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '' COMMENT 'n', "
    "price DECIMAL(10,2) DEFAULT 0.00, created DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3), "
    "flag BOOL DEFAULT FALSE, kind ENUM('a','b') DEFAULT 'a', PRIMARY KEY (id), UNIQUE KEY "
    "uk_name (name), KEY idx_price (price DESC, created)) ENGINE=InnoDB DEFAULT "
    "CHARSET=utf8mb4 AUTO_INCREMENT=7 COMMENT='things'",
    "CREATE TABLE t (a INT, b INT AS (a + 1) STORED, c INT GENERATED ALWAYS AS (a * 2))",
    "CREATE TABLE t2 LIKE t1",
    "CREATE TABLE t3 SELECT a FROM t1",
    "DROP TABLE IF EXISTS t1, t2",
    "CREATE UNIQUE INDEX i ON t (a, b(4) DESC)",
    "DROP INDEX i ON t",
    "ALTER TABLE t ADD COLUMN x INT FIRST, DROP COLUMN y, ADD INDEX i (x), ADD UNIQUE u (z), "
    "DROP INDEX j, MODIFY w TEXT, CHANGE v vv INT AFTER x, RENAME TO t9",
    "CREATE OR REPLACE VIEW v (a, b) AS SELECT 1, 2 WITH CHECK OPTION",
    "DROP VIEW IF EXISTS v",
    "TRUNCATE TABLE t",
    "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SET autocommit = 1, @x = 'y', GLOBAL z = 2, @@session.w = DEFAULT",
    "SET NAMES utf8mb4",
    "SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED, READ WRITE",
    "SHOW DATABASES",
    "SHOW FULL TABLES FROM d LIKE 'x'",
    "SHOW COLUMNS FROM t",
    "SHOW CREATE TABLE t",
    "SHOW INDEX FROM t",
    "SHOW GLOBAL VARIABLES LIKE 'a%'",
    "SHOW WARNINGS",
    "SHOW PROCESSLIST",
    "SHOW COLLATION WHERE Charset = 'utf8mb4'",
    "USE d",
    "EXPLAIN SELECT * FROM t WHERE a = 1",
    "EXPLAIN ANALYZE UPDATE t SET a = 1",
    "DESCRIBE t",
    "ANALYZE TABLE t",
    "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
    "GRANT SELECT, UPDATE ON d.* TO 'u'@'%'",
    "REVOKE ALL PRIVILEGES ON *.* FROM 'u'@'%'",
    "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW BEGIN SET @a = 1; END",
};

TEST(RoundTripTest, StatementList) {
  for (const char* sql : kStatements) ExpectRoundTrip(sql);
}

TEST(RoundTripTest, UnderPipesAsConcat) {
  ParserOptions o;
  o.pipes_as_concat = true;
  ExpectRoundTrip("SELECT a || b || c, a OR b FROM t", o);
}

// Builds random expressions over every operator with random parenthesisation; the
// restored text must parse back to the same tree.
class ExprGen {
 public:
  explicit ExprGen(uint64_t seed) : rng_(seed) {}

  std::string Gen(int depth) {
    if (depth <= 0 || Pick(5) == 0) return Leaf();
    std::string e;
    switch (Pick(12)) {
      case 0:
      case 1:
      case 2:
      case 3: {
        static const char* const kOps[] = {
            " OR ", " || ", " XOR ", " AND ", " && ",  " = ", " <=> ", " != ", " <> ",
            " < ",  " <= ", " > ",   " >= ",  " | ",   " & ", " << ",  " >> ", " + ",
            " - ",  " * ",  " / ",   " DIV ", " MOD ", " % ", " ^ "};
        e = Gen(depth - 1) + kOps[Pick(sizeof(kOps) / sizeof(kOps[0]))] + Gen(depth - 1);
        break;
      }
      case 4: {
        static const char* const kPrefix[] = {"-", "+", "~", "!", "NOT ", "BINARY "};
        e = std::string(kPrefix[Pick(6)]) + Gen(depth - 1);
        break;
      }
      case 5: {
        static const char* const kIs[] = {" IS NULL", " IS NOT NULL", " IS TRUE", " IS NOT FALSE",
                                          " IS UNKNOWN"};
        e = Gen(depth - 1) + kIs[Pick(5)];
        break;
      }
      case 6:
        e = Gen(depth - 1) + (Pick(2) ? " NOT" : "") + " BETWEEN " + Gen(depth - 1) + " AND " +
            Gen(depth - 1);
        break;
      case 7:
        e = Gen(depth - 1) + (Pick(2) ? " NOT" : "") + " IN (" + Gen(depth - 1) + ", " +
            Gen(depth - 1) + ")";
        break;
      case 8:
        e = Gen(depth - 1) + (Pick(2) ? " NOT LIKE " : " REGEXP ") + Gen(depth - 1);
        break;
      case 9:
        e = "CASE WHEN " + Gen(depth - 1) + " THEN " + Gen(depth - 1) + " ELSE " + Gen(depth - 1) +
            " END";
        break;
      case 10:
        e = Gen(depth - 1) + " COLLATE utf8mb4_bin";
        break;
      default:
        e = "COALESCE(" + Gen(depth - 1) + ", " + Gen(depth - 1) + ")";
        break;
    }
    return Pick(3) == 0 ? "(" + e + ")" : e;
  }

 private:
  size_t Pick(size_t n) { return rng_() % n; }
  std::string Leaf() {
    static const char* const kLeaves[] = {"a",    "t.b", "1",  "2.5",        "'s'", "NULL",
                                          "TRUE", "?",   "@v", "(SELECT 1)", "-1",  "x'0A'"};
    return kLeaves[Pick(sizeof(kLeaves) / sizeof(kLeaves[0]))];
  }
  std::mt19937_64 rng_;
};

TEST(RoundTripTest, RandomExpressions) {
  ExprGen gen(20240611);
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string sql = "SELECT " + gen.Gen(5);
    absl::StatusOr<StmtPtr> s = ParseOne(sql);
    if (!s.ok()) continue;  // e.g. BETWEEN operands that need parentheses
    ++parsed;
    ExpectRoundTrip(sql);
    if (HasFailure()) {
      ADD_FAILURE() << "first failing input: " << sql;
      return;
    }
  }
  EXPECT_GT(parsed, 2500);
}

}  // namespace
}  // namespace rutile::sql
