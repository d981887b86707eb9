// Unit tests of the parser, one group per statement kind. Most cases compare the
// canonical restored text, which shows both what was recognised and, through its
// parentheses, how operators grouped; Dump-based cases pin the tree shape directly.

#include "sql/parser/parser.h"

#include <pthread.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sql/errors.h"
#include "sql/parser/ast.h"

namespace rutile::sql {
namespace {

// Parses one statement and returns its canonical text, checking on the way that the
// text parses back to an equal tree. Errors come back as "ERROR: <message>".
std::string Canon(std::string_view sql, const ParserOptions& options = {}) {
  absl::StatusOr<StmtPtr> s = ParseOne(sql, options);
  if (!s.ok()) return "ERROR: " + std::string(s.status().message());
  std::string text = RestoreSql(**s);
  absl::StatusOr<StmtPtr> again = ParseOne(text, options);
  EXPECT_TRUE(again.ok()) << text << ": " << again.status();
  if (again.ok()) {
    EXPECT_TRUE(AstEqual(**s, **again)) << sql << "\n" << DumpAst(**s) << "\n" << DumpAst(**again);
  }
  return text;
}

// The select list of `SELECT <expr>`, canonical.
std::string Expr(std::string_view expr, const ParserOptions& options = {}) {
  std::string text = Canon("SELECT " + std::string(expr), options);
  return text.rfind("SELECT ", 0) == 0 ? text.substr(7) : text;
}

std::string DumpOf(std::string_view sql) {
  absl::StatusOr<StmtPtr> s = ParseOne(sql);
  return s.ok() ? DumpAst(**s) : "ERROR: " + std::string(s.status().message());
}

template <typename T>
const T* As(const StmtPtr& s) {
  return dynamic_cast<const T*>(s.get());
}

// ---- Expressions ------------------------------------------------------------------------

TEST(ExprTest, ArithmeticPrecedence) {
  EXPECT_EQ(Expr("1+2*3"), "1 + 2 * 3");
  EXPECT_EQ(Expr("(1+2)*3"), "(1 + 2) * 3");
  EXPECT_EQ(Expr("1-(2-3)"), "1 - (2 - 3)");
  EXPECT_EQ(Expr("1-2-3"), "1 - 2 - 3");
  EXPECT_EQ(Expr("a DIV 2 MOD 3 % 4"), "`a` DIV 2 % 3 % 4");
  EXPECT_EQ(Expr("a | b & c << 1 + 2 ^ 3"), "`a` | `b` & `c` << 1 + 2 ^ 3");
  EXPECT_EQ(Expr("(a | b) & c"), "(`a` | `b`) & `c`");
  EXPECT_EQ(Expr("a ^ b * c"), "`a` ^ `b` * `c`");
  EXPECT_EQ(Expr("(a * b) ^ c"), "(`a` * `b`) ^ `c`");
}

TEST(ExprTest, UnaryOperators) {
  EXPECT_EQ(Expr("- - 1"), "- -1");
  EXPECT_EQ(Expr("-a ^ b"), "-`a` ^ `b`");
  EXPECT_NE(DumpOf("SELECT -a ^ b").find("(Bin ^ (Unary 0 (Col"), std::string::npos);
  EXPECT_EQ(Expr("-(a ^ b)"), "-(`a` ^ `b`)");
  EXPECT_EQ(Expr("~a + +b"), "~`a` + +`b`");
  EXPECT_EQ(Expr("1 - -1"), "1 - -1");
  EXPECT_EQ(Expr("BINARY a = b"), "BINARY `a` = `b`");
}

TEST(ExprTest, LogicalPrecedence) {
  EXPECT_EQ(Expr("a OR b AND c"), "`a` OR `b` AND `c`");
  EXPECT_EQ(Expr("(a OR b) AND c"), "(`a` OR `b`) AND `c`");
  EXPECT_EQ(Expr("a XOR b OR c"), "`a` XOR `b` OR `c`");
  EXPECT_EQ(Expr("a OR b XOR c"), "`a` OR `b` XOR `c`");
  EXPECT_EQ(Expr("a && b || c"), "`a` AND `b` OR `c`");
  EXPECT_EQ(Expr("NOT a = b"), "NOT `a` = `b`");
  EXPECT_EQ(Expr("NOT a AND b"), "NOT `a` AND `b`");
  EXPECT_EQ(Expr("NOT (a AND b)"), "NOT (`a` AND `b`)");
  // `!` binds tighter than comparison, NOT looser.
  EXPECT_EQ(Expr("!a = b"), "(NOT `a`) = `b`");
  EXPECT_EQ(Expr("NOT NOT a"), "NOT NOT `a`");
  EXPECT_EQ(Expr("a = NOT b"), "`a` = (NOT `b`)");
}

TEST(ExprTest, PipesAreOrUnlessPipesAsConcat) {
  EXPECT_EQ(Expr("a || b"), "`a` OR `b`");
  ParserOptions o;
  o.pipes_as_concat = true;
  EXPECT_EQ(Expr("a || b || c", o), "CONCAT(CONCAT(`a`, `b`), `c`)");
  EXPECT_EQ(Expr("a || b = c", o), "CONCAT(`a`, `b`) = `c`");
}

TEST(ExprTest, HighNotPrecedence) {
  ParserOptions o;
  o.high_not_precedence = true;
  EXPECT_EQ(Expr("NOT a = b", o), "(NOT `a`) = `b`");
}

TEST(ExprTest, Comparisons) {
  EXPECT_EQ(Expr("a = b = c"), "`a` = `b` = `c`");
  EXPECT_EQ(Expr("a = (b = c)"), "`a` = (`b` = `c`)");
  EXPECT_EQ(Expr("a <=> b"), "`a` <=> `b`");
  EXPECT_EQ(Expr("a <> b"), "`a` != `b`");
  EXPECT_EQ(Expr("a < b + 1"), "`a` < `b` + 1");
  EXPECT_EQ(Expr("(a, b) = (1, 2)"), "(`a`, `b`) = (1, 2)");
  EXPECT_EQ(Expr("ROW(a, b) = ROW(1, 2)"), "(`a`, `b`) = (1, 2)");
}

TEST(ExprTest, IsPredicates) {
  EXPECT_EQ(Expr("a IS NULL"), "`a` IS NULL");
  EXPECT_EQ(Expr("a IS NOT NULL AND b"), "`a` IS NOT NULL AND `b`");
  EXPECT_EQ(Expr("a IS TRUE"), "`a` IS TRUE");
  EXPECT_EQ(Expr("a is not false"), "`a` IS NOT FALSE");
  EXPECT_EQ(Expr("a = 1 IS UNKNOWN"), "`a` = 1 IS UNKNOWN");
  EXPECT_EQ(Expr("NOT a IS NULL"), "NOT `a` IS NULL");
}

TEST(ExprTest, BetweenInLikeRegexp) {
  EXPECT_EQ(Expr("a BETWEEN 1 AND 2 AND b"), "`a` BETWEEN 1 AND 2 AND `b`");
  EXPECT_EQ(Expr("a NOT BETWEEN b + 1 AND c * 2"), "`a` NOT BETWEEN `b` + 1 AND `c` * 2");
  EXPECT_EQ(Expr("a IN (1, 2, 3)"), "`a` IN (1, 2, 3)");
  EXPECT_EQ(Expr("a NOT IN (1)"), "`a` NOT IN (1)");
  EXPECT_EQ(Expr("a IN (SELECT b FROM t)"), "`a` IN (SELECT `b` FROM `t`)");
  EXPECT_EQ(Expr("(a, b) IN ((1, 2), (3, 4))"), "(`a`, `b`) IN ((1, 2), (3, 4))");
  EXPECT_EQ(Expr("a IN ((SELECT 1) UNION (SELECT 2))"), "`a` IN (SELECT 1 UNION SELECT 2)");
  EXPECT_EQ(Expr("a LIKE 'x%'"), "`a` LIKE 'x%'");
  EXPECT_EQ(Expr("a NOT LIKE 'x!%' ESCAPE '!'"), "`a` NOT LIKE 'x!%' ESCAPE '!'");
  EXPECT_EQ(Expr("a = b LIKE c"), "`a` = `b` LIKE `c`");
  EXPECT_NE(DumpOf("SELECT a = b LIKE c").find("(Bin = (Col \"\" \"\" \"a\") (Like"),
            std::string::npos);
  EXPECT_EQ(Expr("a REGEXP '^x' OR a RLIKE 'y'"), "`a` REGEXP '^x' OR `a` REGEXP 'y'");
  EXPECT_EQ(Expr("a NOT REGEXP 'z'"), "`a` NOT REGEXP 'z'");
}

TEST(ExprTest, QuantifiedComparisons) {
  EXPECT_EQ(Expr("a > ANY (SELECT b FROM t)"), "`a` > ANY (SELECT `b` FROM `t`)");
  EXPECT_EQ(Expr("a = SOME (SELECT b FROM t)"), "`a` = ANY (SELECT `b` FROM `t`)");
  EXPECT_EQ(Expr("a <> ALL (SELECT b FROM t)"), "`a` != ALL (SELECT `b` FROM `t`)");
}

TEST(ExprTest, SubqueriesAndExists) {
  EXPECT_EQ(Expr("(SELECT 1) + 1"), "(SELECT 1) + 1");
  EXPECT_EQ(Expr("EXISTS (SELECT * FROM t WHERE t.a = u.a)"),
            "EXISTS (SELECT * FROM `t` WHERE `t`.`a` = `u`.`a`)");
  EXPECT_EQ(Expr("NOT EXISTS (SELECT 1)"), "NOT EXISTS (SELECT 1)");
  EXPECT_EQ(Expr("((SELECT 1))"), "(SELECT 1)");
}

TEST(ExprTest, CollateAndInterval) {
  EXPECT_EQ(Expr("a COLLATE utf8mb4_bin = 'x'"), "`a` COLLATE `utf8mb4_bin` = 'x'");
  EXPECT_EQ(Expr("(a + b) COLLATE 'latin1_bin'"), "(`a` + `b`) COLLATE `latin1_bin`");
  EXPECT_EQ(Expr("d + INTERVAL 1 DAY"), "`d` + INTERVAL 1 DAY");
  EXPECT_EQ(Expr("INTERVAL 2 hour_minute + d"), "INTERVAL 2 HOUR_MINUTE + `d`");
  EXPECT_EQ(Expr("d - INTERVAL (1 + 2) MONTH"), "`d` - INTERVAL 1 + 2 MONTH");
  EXPECT_EQ(Expr("DATE_ADD(d, INTERVAL 3 SECOND)"), "DATE_ADD(`d`, INTERVAL 3 SECOND)");
  EXPECT_EQ(Expr("INTERVAL(5, 1, 10)"), "INTERVAL(5, 1, 10)");
}

TEST(ExprTest, Case) {
  EXPECT_EQ(Expr("CASE a WHEN 1 THEN 'x' WHEN 2 THEN 'y' ELSE 'z' END"),
            "CASE `a` WHEN 1 THEN 'x' WHEN 2 THEN 'y' ELSE 'z' END");
  EXPECT_EQ(Expr("case when a > 1 then b end"), "CASE WHEN `a` > 1 THEN `b` END");
  EXPECT_EQ(Expr("CASE END"), Expr("CASE END"));
  EXPECT_EQ(Expr("CASE END").rfind("ERROR", 0), 0u);
}

TEST(ExprTest, CastAndConvert) {
  EXPECT_EQ(Expr("CAST(a AS SIGNED)"), "CAST(`a` AS SIGNED)");
  EXPECT_EQ(Expr("CAST(a AS UNSIGNED INTEGER)"), "CAST(`a` AS UNSIGNED)");
  EXPECT_EQ(Expr("CAST(a AS DECIMAL(10,2))"), "CAST(`a` AS DECIMAL(10, 2))");
  EXPECT_EQ(Expr("CAST(a AS CHAR(5) CHARACTER SET utf8mb4)"),
            "CAST(`a` AS CHAR(5) CHARACTER SET `utf8mb4`)");
  EXPECT_EQ(Expr("CAST(a AS DATETIME(3))"), "CAST(`a` AS DATETIME(3))");
  EXPECT_EQ(Expr("CONVERT(a, BINARY)"), "CAST(`a` AS BINARY)");
  EXPECT_EQ(Expr("CONVERT(a USING latin1)"), "CONVERT(`a` USING `latin1`)");
}

TEST(ExprTest, FunctionCalls) {
  EXPECT_EQ(Expr("abs(a)"), "ABS(`a`)");
  EXPECT_EQ(Expr("NOW()"), "NOW()");
  EXPECT_EQ(Expr("CURRENT_TIMESTAMP"), "CURRENT_TIMESTAMP()");
  EXPECT_EQ(Expr("IF(a, 1, 2)"), "IF(`a`, 1, 2)");
  EXPECT_EQ(Expr("LEFT(a, 2)"), "LEFT(`a`, 2)");
  EXPECT_EQ(Expr("COALESCE(a, NULLIF(b, 1))"), "COALESCE(`a`, NULLIF(`b`, 1))");
  EXPECT_EQ(Expr("SUBSTRING(a FROM 2 FOR 3)"), "SUBSTRING(`a`, 2, 3)");
  EXPECT_EQ(Expr("TRIM(LEADING 'x' FROM a)"), "TRIM(LEADING 'x' FROM `a`)");
  EXPECT_EQ(Expr("TRIM(BOTH FROM a)"), "TRIM(BOTH FROM `a`)");
  EXPECT_EQ(Expr("TRIM('x' FROM a)"), "TRIM('x' FROM `a`)");
  EXPECT_EQ(Expr("TRIM(a)"), "TRIM(`a`)");
  EXPECT_EQ(Expr("EXTRACT(YEAR FROM d)"), "EXTRACT(YEAR FROM `d`)");
  EXPECT_EQ(Expr("POSITION('b' IN a)"), "POSITION('b' IN `a`)");
  EXPECT_EQ(Expr("TIMESTAMPDIFF(MINUTE, a, b)"), "TIMESTAMPDIFF(MINUTE, `a`, `b`)");
  EXPECT_EQ(Expr("VALUES(a)"), "VALUES(`a`)");
  EXPECT_EQ(Expr("DEFAULT(a)"), "DEFAULT(`a`)");
}

TEST(ExprTest, Aggregates) {
  EXPECT_EQ(Expr("COUNT(*)"), "COUNT(*)");
  EXPECT_EQ(Expr("count(DISTINCT a, b)"), "COUNT(DISTINCT `a`, `b`)");
  EXPECT_EQ(Expr("SUM(DISTINCT a) + AVG(ALL b)"), "SUM(DISTINCT `a`) + AVG(`b`)");
  EXPECT_EQ(Expr("MIN(a), MAX(b)"), "MIN(`a`), MAX(`b`)");
  EXPECT_EQ(Expr("GROUP_CONCAT(DISTINCT a, b ORDER BY b DESC, a SEPARATOR ';')"),
            "GROUP_CONCAT(DISTINCT `a`, `b` ORDER BY `b` DESC, `a` SEPARATOR ';')");
  EXPECT_EQ(Expr("SUM(a, b)").rfind("ERROR", 0), 0u);
  EXPECT_EQ(Expr("COUNT(*) OVER ()").rfind("ERROR", 0), 0u);  // windows: not yet
}

TEST(ExprTest, Literals) {
  EXPECT_EQ(Expr("1, 1.50, .5, 1e3, -2.5E-3"), "1, 1.50, .5, 1e3, -2.5E-3");
  EXPECT_EQ(Expr("'a' 'b' \"c\""), "'abc'");
  EXPECT_EQ(Expr("'it''s\\n'"), "'it\\'s\\n'");
  EXPECT_EQ(Expr("_utf8mb4'x', N'y', _binary X'0A'"), "_utf8mb4 'x', _utf8 'y', _binary X'0A'");
  EXPECT_EQ(Expr("0x0A, 0xABC, X'', b'101', 0b1"), "X'0A', 0xABC, X'', b'101', b'1'");
  EXPECT_EQ(Expr("NULL, TRUE, false, \\N"), "NULL, TRUE, FALSE, NULL");
  EXPECT_EQ(Expr("DATE '2020-01-02', TIMESTAMP '2020-01-02 03:04:05'"),
            "DATE('2020-01-02'), TIMESTAMP('2020-01-02 03:04:05')");
}

TEST(ExprTest, NamesAndVariables) {
  EXPECT_EQ(Expr("db.t.c, t.c, `we``ird`"), "`db`.`t`.`c`, `t`.`c`, `we``ird`");
  EXPECT_EQ(Expr("t.select"), "`t`.`select`");  // reserved words are names after a dot
  EXPECT_EQ(Expr("status, value, comment"), "`status`, `value`, `comment`");
  EXPECT_EQ(Expr("@a, @@autocommit, @@session.x, @@GLOBAL.y"),
            "@a, @@autocommit, @@SESSION.x, @@GLOBAL.y");
  EXPECT_EQ(Expr("@a := 1"), "@a := 1");
  EXPECT_EQ(Expr("1 := 2").rfind("ERROR", 0), 0u);
}

TEST(ExprTest, PlaceholdersAreNumberedInOrder) {
  absl::StatusOr<StmtPtr> s = ParseOne("SELECT ? FROM t WHERE a = ? LIMIT ?, ?");
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string dump = DumpAst(**s);
  EXPECT_NE(dump.find("(Param 0)"), std::string::npos);
  EXPECT_NE(dump.find("(Limit (Param 3) (Param 2) t)"), std::string::npos) << dump;
  EXPECT_EQ(Canon("SELECT ? FROM t WHERE a = ? LIMIT ?, ?"),
            "SELECT ? FROM `t` WHERE `a` = ? LIMIT ?, ?");
}

// ---- SELECT -----------------------------------------------------------------------------

TEST(SelectTest, ClausesInOrder) {
  EXPECT_EQ(Canon("select distinct a as x, b y, 'z' 'w', t.*, * from t where a > 1 group by a, "
                  "b desc with rollup having count(*) > 1 order by 1, b desc limit 10"),
            "SELECT DISTINCT `a` AS `x`, `b` AS `y`, 'zw', `t`.*, * FROM `t` WHERE `a` > 1 "
            "GROUP BY `a`, `b` DESC WITH ROLLUP HAVING COUNT(*) > 1 ORDER BY 1, `b` DESC "
            "LIMIT 10");
  EXPECT_EQ(Canon("SELECT 1 FROM DUAL"), "SELECT 1");
  EXPECT_EQ(Canon("SELECT a AS 'quoted alias' FROM t"), "SELECT `a` AS `quoted alias` FROM `t`");
  EXPECT_EQ(Canon("SELECT db.t.* FROM db.t"), "SELECT `db`.`t`.* FROM `db`.`t`");
}

TEST(SelectTest, LimitForms) {
  EXPECT_EQ(Canon("SELECT a FROM t LIMIT 5"), "SELECT `a` FROM `t` LIMIT 5");
  EXPECT_EQ(Canon("SELECT a FROM t LIMIT 2, 5"), "SELECT `a` FROM `t` LIMIT 2, 5");
  EXPECT_EQ(Canon("SELECT a FROM t LIMIT 5 OFFSET 2"), "SELECT `a` FROM `t` LIMIT 5 OFFSET 2");
  EXPECT_EQ(Canon("SELECT a FROM t LIMIT a").rfind("ERROR", 0), 0u);
}

TEST(SelectTest, Joins) {
  EXPECT_EQ(Canon("SELECT * FROM a, b, c"), "SELECT * FROM `a`, `b`, `c`");
  EXPECT_EQ(Canon("SELECT * FROM a JOIN b ON a.x = b.x INNER JOIN c USING (y)"),
            "SELECT * FROM `a` JOIN `b` ON `a`.`x` = `b`.`x` JOIN `c` USING (`y`)");
  EXPECT_EQ(Canon("SELECT * FROM a LEFT OUTER JOIN b ON 1 RIGHT JOIN c ON 2 CROSS JOIN d"),
            "SELECT * FROM `a` LEFT JOIN `b` ON 1 RIGHT JOIN `c` ON 2 CROSS JOIN `d`");
  EXPECT_EQ(Canon("SELECT * FROM a NATURAL JOIN b NATURAL LEFT JOIN c"),
            "SELECT * FROM `a` NATURAL JOIN `b` NATURAL LEFT JOIN `c`");
  EXPECT_EQ(Canon("SELECT * FROM a STRAIGHT_JOIN b ON a.x = b.y"),
            "SELECT * FROM `a` STRAIGHT_JOIN `b` ON `a`.`x` = `b`.`y`");
  // Comma binds looser than JOIN.
  EXPECT_EQ(Canon("SELECT * FROM a, b JOIN c ON 1"), "SELECT * FROM `a`, (`b` JOIN `c` ON 1)");
  EXPECT_EQ(Canon("SELECT * FROM (a, b) JOIN c ON 1"), "SELECT * FROM (`a`, `b`) JOIN `c` ON 1");
  EXPECT_EQ(Canon("SELECT * FROM a JOIN (b JOIN c ON 1) ON 2"),
            "SELECT * FROM `a` JOIN (`b` JOIN `c` ON 1) ON 2");
  EXPECT_EQ(Canon("SELECT * FROM a LEFT JOIN b").rfind("ERROR", 0), 0u);
}

TEST(SelectTest, DerivedTablesAndAliases) {
  EXPECT_EQ(Canon("SELECT x.a FROM (SELECT a FROM t) AS x"),
            "SELECT `x`.`a` FROM (SELECT `a` FROM `t`) AS `x`");
  EXPECT_EQ(Canon("SELECT * FROM (SELECT 1, 2) d (p, q), t2 AS u, t3 v"),
            "SELECT * FROM (SELECT 1, 2) AS `d` (`p`, `q`), `t2` AS `u`, `t3` AS `v`");
  EXPECT_EQ(Canon("SELECT * FROM ((SELECT 1) UNION (SELECT 2)) AS z"),
            "SELECT * FROM (SELECT 1 UNION SELECT 2) AS `z`");
  EXPECT_EQ(Canon("SELECT * FROM ((SELECT 1)) AS z"), "SELECT * FROM (SELECT 1) AS `z`");
  // A parenthesised join whose first operand is a derived table (found by the fuzzer).
  EXPECT_EQ(Canon("SELECT * FROM a, ((SELECT 1) AS d JOIN b ON 1)"),
            "SELECT * FROM `a`, ((SELECT 1) AS `d` JOIN `b` ON 1)");
}

TEST(SelectTest, IndexHints) {
  EXPECT_EQ(Canon("SELECT * FROM t USE INDEX (i1, i2) IGNORE KEY FOR ORDER BY (i3) "
                  "FORCE INDEX FOR JOIN (PRIMARY)"),
            "SELECT * FROM `t` USE INDEX (`i1`, `i2`) IGNORE INDEX FOR ORDER BY (`i3`) "
            "FORCE INDEX FOR JOIN (`PRIMARY`)");
  EXPECT_EQ(Canon("SELECT * FROM t AS x USE INDEX ()"), "SELECT * FROM `t` AS `x` USE INDEX ()");
}

TEST(SelectTest, Locking) {
  EXPECT_EQ(Canon("SELECT * FROM t WHERE a = 1 FOR UPDATE"),
            "SELECT * FROM `t` WHERE `a` = 1 FOR UPDATE");
  EXPECT_EQ(Canon("SELECT * FROM t LOCK IN SHARE MODE"), "SELECT * FROM `t` LOCK IN SHARE MODE");
  EXPECT_EQ(Canon("SELECT * FROM t FOR SHARE"), "SELECT * FROM `t` LOCK IN SHARE MODE");
  EXPECT_EQ(Canon("SELECT * FROM t LIMIT 1 FOR UPDATE NOWAIT"),
            "SELECT * FROM `t` LIMIT 1 FOR UPDATE NOWAIT");
}

TEST(SelectTest, SetOperations) {
  EXPECT_EQ(Canon("SELECT a FROM t UNION SELECT b FROM u"),
            "SELECT `a` FROM `t` UNION SELECT `b` FROM `u`");
  EXPECT_EQ(Canon("SELECT 1 UNION ALL SELECT 2 UNION DISTINCT SELECT 3 ORDER BY 1 LIMIT 2"),
            "SELECT 1 UNION ALL SELECT 2 UNION SELECT 3 ORDER BY 1 LIMIT 2");
  // INTERSECT binds tighter than UNION and EXCEPT.
  EXPECT_EQ(Canon("SELECT 1 UNION SELECT 2 INTERSECT SELECT 3"),
            "SELECT 1 UNION SELECT 2 INTERSECT SELECT 3");
  EXPECT_NE(DumpOf("SELECT 1 UNION SELECT 2 INTERSECT SELECT 3").find("(SetOpr UNION"),
            std::string::npos);
  EXPECT_EQ(Canon("(SELECT 1 UNION SELECT 2) INTERSECT SELECT 3"),
            "(SELECT 1 UNION SELECT 2) INTERSECT SELECT 3");
  EXPECT_EQ(Canon("SELECT 1 EXCEPT (SELECT 2 EXCEPT SELECT 3)"),
            "SELECT 1 EXCEPT (SELECT 2 EXCEPT SELECT 3)");
  EXPECT_EQ(Canon("(SELECT a FROM t ORDER BY a LIMIT 1) UNION ALL (SELECT b FROM u LIMIT 2)"),
            "(SELECT `a` FROM `t` ORDER BY `a` LIMIT 1) UNION ALL (SELECT `b` FROM `u` LIMIT 2)");
  EXPECT_EQ(Canon("(SELECT 1)"), "SELECT 1");
  EXPECT_EQ(Canon("(SELECT a FROM t) ORDER BY a"), "SELECT `a` FROM `t` ORDER BY `a`");
  EXPECT_EQ(Canon("SELECT 1 INTERSECT ALL SELECT 1"), "SELECT 1 INTERSECT ALL SELECT 1");
}

// ---- DML --------------------------------------------------------------------------------

TEST(InsertTest, Forms) {
  EXPECT_EQ(Canon("INSERT INTO t VALUES (1, 'a'), (2, DEFAULT)"),
            "INSERT INTO `t` VALUES (1, 'a'), (2, DEFAULT)");
  EXPECT_EQ(Canon("insert t(a, b) value (1, 2)"), "INSERT INTO `t` (`a`, `b`) VALUES (1, 2)");
  EXPECT_EQ(Canon("INSERT INTO t () VALUES ()"), "INSERT INTO `t` VALUES ()");
  EXPECT_EQ(Canon("INSERT IGNORE INTO db.t SET a = 1, b = a + 1"),
            "INSERT IGNORE INTO `db`.`t` SET `a` = 1, `b` = `a` + 1");
  EXPECT_EQ(Canon("INSERT INTO t (a) SELECT x FROM u WHERE x > 1"),
            "INSERT INTO `t` (`a`) SELECT `x` FROM `u` WHERE `x` > 1");
  EXPECT_EQ(Canon("INSERT INTO t (SELECT * FROM u)"), "INSERT INTO `t` SELECT * FROM `u`");
  EXPECT_EQ(Canon("INSERT INTO t (a, b) VALUES (1, 2) ON DUPLICATE KEY UPDATE b = VALUES(b) + 1"),
            "INSERT INTO `t` (`a`, `b`) VALUES (1, 2) ON DUPLICATE KEY UPDATE `b` = VALUES(`b`) + "
            "1");
  EXPECT_EQ(Canon("REPLACE INTO t VALUES (1)"), "REPLACE INTO `t` VALUES (1)");
  EXPECT_EQ(Canon("REPLACE t SET a = 1"), "REPLACE INTO `t` SET `a` = 1");
  EXPECT_EQ(Canon("INSERT /*+ SET_VAR(x=1) */ INTO t VALUES (1)"),
            "INSERT /*+ SET_VAR(x=1) */ INTO `t` VALUES (1)");
  EXPECT_EQ(Canon("INSERT INTO t VALUES").rfind("ERROR", 0), 0u);
}

TEST(UpdateTest, Forms) {
  EXPECT_EQ(Canon("UPDATE t SET a = a + 1, t.b = DEFAULT WHERE c IS NULL ORDER BY d DESC LIMIT 3"),
            "UPDATE `t` SET `a` = `a` + 1, `t`.`b` = DEFAULT WHERE `c` IS NULL ORDER BY `d` DESC "
            "LIMIT 3");
  EXPECT_EQ(Canon("UPDATE LOW_PRIORITY IGNORE t AS x SET x.a = 1"),
            "UPDATE LOW_PRIORITY IGNORE `t` AS `x` SET `x`.`a` = 1");
  EXPECT_EQ(Canon("UPDATE t1, t2 SET t1.a = t2.a WHERE t1.id = t2.id"),
            "UPDATE `t1`, `t2` SET `t1`.`a` = `t2`.`a` WHERE `t1`.`id` = `t2`.`id`");
}

TEST(DeleteTest, Forms) {
  EXPECT_EQ(Canon("DELETE FROM t WHERE a = 1 ORDER BY b LIMIT 10"),
            "DELETE FROM `t` WHERE `a` = 1 ORDER BY `b` LIMIT 10");
  EXPECT_EQ(Canon("DELETE LOW_PRIORITY QUICK IGNORE FROM db.t"),
            "DELETE LOW_PRIORITY QUICK IGNORE FROM `db`.`t`");
  EXPECT_EQ(Canon("DELETE /*+ NO_INDEX(t) */ FROM t"), "DELETE /*+ NO_INDEX(t) */ FROM `t`");
}

// ---- DDL --------------------------------------------------------------------------------

TEST(DdlTest, Databases) {
  EXPECT_EQ(Canon("CREATE DATABASE IF NOT EXISTS d DEFAULT CHARACTER SET = utf8mb4 COLLATE "
                  "utf8mb4_bin"),
            "CREATE DATABASE IF NOT EXISTS `d` CHARACTER SET = `utf8mb4` COLLATE = `utf8mb4_bin`");
  EXPECT_EQ(Canon("create schema d"), "CREATE DATABASE `d`");
  EXPECT_EQ(Canon("DROP DATABASE IF EXISTS d"), "DROP DATABASE IF EXISTS `d`");
  EXPECT_EQ(Canon("DROP SCHEMA d"), "DROP DATABASE `d`");
}

TEST(DdlTest, CreateTableTypes) {
  EXPECT_EQ(
      Canon("CREATE TABLE t (a TINYINT, b SMALLINT UNSIGNED, c MEDIUMINT ZEROFILL, d INT(11), "
            "e INTEGER UNSIGNED ZEROFILL, f BIGINT(20) UNSIGNED, g DECIMAL(10,2), h NUMERIC(5), "
            "i FLOAT, j FLOAT(7,3), k DOUBLE, l DOUBLE PRECISION, m REAL, n BIT(8), o BOOL, "
            "p BOOLEAN)"),
      "CREATE TABLE `t` (`a` TINYINT, `b` SMALLINT UNSIGNED, `c` MEDIUMINT ZEROFILL, `d` INT(11), "
      "`e` INT UNSIGNED ZEROFILL, `f` BIGINT(20) UNSIGNED, `g` DECIMAL(10, 2), `h` DECIMAL(5), "
      "`i` FLOAT, `j` FLOAT(7, 3), `k` DOUBLE, `l` DOUBLE, `m` DOUBLE, `n` BIT(8), `o` BOOLEAN, "
      "`p` BOOLEAN)");
  EXPECT_EQ(
      Canon("CREATE TABLE t (a CHAR(10), b VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_bin, "
            "c TEXT, d TINYTEXT, e MEDIUMTEXT, f LONGTEXT, g BLOB, h TINYBLOB, i MEDIUMBLOB, "
            "j LONGBLOB, k BINARY(4), l VARBINARY(8), m DATE, n DATETIME(6), o TIMESTAMP, "
            "p TIME(3), q YEAR, r ENUM('x', 'y'), s SET('a','b'), u JSON, v CHAR BINARY, "
            "w NATIONAL VARCHAR(5), x CHARACTER VARYING(3))"),
      "CREATE TABLE `t` (`a` CHAR(10), `b` VARCHAR(255) CHARACTER SET `latin1` COLLATE "
      "`latin1_bin`, `c` TEXT, `d` TINYTEXT, `e` MEDIUMTEXT, `f` LONGTEXT, `g` BLOB, "
      "`h` TINYBLOB, `i` MEDIUMBLOB, `j` LONGBLOB, `k` BINARY(4), `l` VARBINARY(8), `m` DATE, "
      "`n` DATETIME(6), `o` TIMESTAMP, `p` TIME(3), `q` YEAR, `r` ENUM('x', 'y'), "
      "`s` SET('a', 'b'), `u` JSON, `v` CHAR BINARY, `w` VARCHAR(5) CHARACTER SET `utf8`, "
      "`x` VARCHAR(3))");
}

TEST(DdlTest, CreateTableOptionsAndConstraints) {
  EXPECT_EQ(
      Canon("CREATE TABLE IF NOT EXISTS sbtest1 (id INT NOT NULL AUTO_INCREMENT, k INT DEFAULT "
            "'0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, "
            "PRIMARY KEY (id)) /*! ENGINE = innodb */"),
      "CREATE TABLE IF NOT EXISTS `sbtest1` (`id` INT NOT NULL AUTO_INCREMENT, `k` INT DEFAULT "
      "'0' NOT NULL, `c` CHAR(120) DEFAULT '' NOT NULL, `pad` CHAR(60) DEFAULT '' NOT NULL, "
      "PRIMARY KEY (`id`)) ENGINE = `innodb`");
  EXPECT_EQ(
      Canon("create table t (id bigint primary key, u int unique key, v int unique, "
            "w varchar(10) null comment 'the w' collate utf8mb4_bin, "
            "ts timestamp default current_timestamp on update current_timestamp, "
            "n int default -1, m int default (n + 1), status int, value int, comment int, "
            "unique key uk (u, v), key idx_w (w(5) desc), index (ts), "
            "constraint pk2 unique index (n), fulltext key ft (w)) engine=InnoDB default "
            "charset=utf8mb4 collate=utf8mb4_general_ci auto_increment=100 comment='tbl'"),
      "CREATE TABLE `t` (`id` BIGINT PRIMARY KEY, `u` INT UNIQUE KEY, `v` INT UNIQUE KEY, "
      "`w` VARCHAR(10) NULL COMMENT 'the w' COLLATE `utf8mb4_bin`, `ts` TIMESTAMP DEFAULT "
      "CURRENT_TIMESTAMP() ON UPDATE CURRENT_TIMESTAMP(), `n` INT DEFAULT -1, `m` INT DEFAULT "
      "(`n` + 1), `status` INT, `value` INT, `comment` INT, UNIQUE KEY `uk` (`u`, `v`), "
      "KEY `idx_w` (`w`(5) DESC), KEY (`ts`), UNIQUE KEY `pk2` (`n`), FULLTEXT KEY `ft` (`w`)) "
      "ENGINE = `innodb` CHARACTER SET = `utf8mb4` COLLATE = `utf8mb4_general_ci` "
      "AUTO_INCREMENT = 100 COMMENT = 'tbl'");
  EXPECT_EQ(Canon("CREATE TABLE t2 LIKE t1"), "CREATE TABLE `t2` LIKE `t1`");
  EXPECT_EQ(Canon("CREATE TABLE t2 (LIKE t1)"), "CREATE TABLE `t2` LIKE `t1`");
  EXPECT_EQ(Canon("CREATE TABLE t2 AS SELECT * FROM t1"),
            "CREATE TABLE `t2` AS SELECT * FROM `t1`");
  EXPECT_EQ(Canon("CREATE TEMPORARY TABLE t (a INT, CONSTRAINT fk FOREIGN KEY (a) REFERENCES "
                  "p (id) ON DELETE CASCADE, CHECK (a > 0))"),
            "CREATE TEMPORARY TABLE `t` (`a` INT, CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES "
            "`p` (`id`), CHECK (`a` > 0))");
  EXPECT_EQ(Canon("CREATE TABLE t").rfind("ERROR", 0), 0u);
  EXPECT_EQ(Canon("CREATE TABLE t (select INT)").rfind("ERROR", 0), 0u);
}

TEST(DdlTest, DropTruncateRename) {
  EXPECT_EQ(Canon("DROP TABLE IF EXISTS t1, db.t2"), "DROP TABLE IF EXISTS `t1`, `db`.`t2`");
  EXPECT_EQ(Canon("DROP TEMPORARY TABLE t CASCADE"), "DROP TEMPORARY TABLE `t`");
  EXPECT_EQ(Canon("TRUNCATE t"), "TRUNCATE TABLE `t`");
  EXPECT_EQ(Canon("TRUNCATE TABLE db.t"), "TRUNCATE TABLE `db`.`t`");
  EXPECT_EQ(Canon("RENAME TABLE a TO b, c TO d"), "RENAME TABLE `a` TO `b`, `c` TO `d`");
}

TEST(DdlTest, Indexes) {
  EXPECT_EQ(Canon("CREATE INDEX i ON t (a, b DESC)"), "CREATE INDEX `i` ON `t` (`a`, `b` DESC)");
  EXPECT_EQ(Canon("CREATE UNIQUE INDEX IF NOT EXISTS i USING BTREE ON t (a(10)) COMMENT 'c'"),
            "CREATE UNIQUE INDEX IF NOT EXISTS `i` USING BTREE ON `t` (`a`(10)) COMMENT 'c'");
  EXPECT_EQ(Canon("CREATE INDEX i ON t ((a + b))"), "CREATE INDEX `i` ON `t` ((`a` + `b`))");
  EXPECT_EQ(Canon("DROP INDEX i ON t"), "DROP INDEX `i` ON `t`");
  EXPECT_EQ(Canon("DROP INDEX `PRIMARY` ON t"), "DROP INDEX `PRIMARY` ON `t`");
  EXPECT_EQ(Canon("DROP INDEX i").rfind("ERROR", 0), 0u);  // MySQL needs ON t
}

TEST(DdlTest, AlterTable) {
  EXPECT_EQ(Canon("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 0 AFTER b, ADD d TEXT FIRST"),
            "ALTER TABLE `t` ADD COLUMN `c` INT NOT NULL DEFAULT 0 AFTER `b`, ADD COLUMN `d` "
            "TEXT FIRST");
  EXPECT_EQ(Canon("ALTER TABLE t ADD (x INT, y INT)"),
            "ALTER TABLE `t` ADD COLUMN (`x` INT, `y` INT)");
  EXPECT_EQ(Canon("ALTER TABLE t DROP COLUMN c, DROP d"),
            "ALTER TABLE `t` DROP COLUMN `c`, DROP COLUMN `d`");
  EXPECT_EQ(Canon("ALTER TABLE t ADD INDEX i (a), ADD UNIQUE KEY u (b), ADD PRIMARY KEY (c)"),
            "ALTER TABLE `t` ADD KEY `i` (`a`), ADD UNIQUE KEY `u` (`b`), ADD PRIMARY KEY (`c`)");
  EXPECT_EQ(Canon("ALTER TABLE t ADD UNIQUE (b)"), "ALTER TABLE `t` ADD UNIQUE KEY (`b`)");
  EXPECT_EQ(Canon("ALTER TABLE t DROP INDEX i, DROP KEY j, DROP PRIMARY KEY"),
            "ALTER TABLE `t` DROP INDEX `i`, DROP INDEX `j`, DROP PRIMARY KEY");
  EXPECT_EQ(Canon("ALTER TABLE t MODIFY c BIGINT NULL, CHANGE COLUMN d e VARCHAR(3) AFTER c"),
            "ALTER TABLE `t` MODIFY COLUMN `c` BIGINT NULL, CHANGE COLUMN `d` `e` VARCHAR(3) "
            "AFTER `c`");
  EXPECT_EQ(Canon("ALTER TABLE t RENAME TO u"), "ALTER TABLE `t` RENAME TO `u`");
  EXPECT_EQ(Canon("ALTER TABLE t RENAME COLUMN a TO b, RENAME INDEX i TO j"),
            "ALTER TABLE `t` RENAME COLUMN `a` TO `b`, RENAME INDEX `i` TO `j`");
  EXPECT_EQ(Canon("ALTER TABLE t ALTER COLUMN a SET DEFAULT 5, ALTER b DROP DEFAULT"),
            "ALTER TABLE `t` ALTER COLUMN `a` SET DEFAULT 5, ALTER COLUMN `b` DROP DEFAULT");
  EXPECT_EQ(Canon("ALTER TABLE t ENGINE = InnoDB, COMMENT 'x'"),
            "ALTER TABLE `t` ENGINE = `innodb`, COMMENT = 'x'");
}

TEST(DdlTest, Views) {
  EXPECT_EQ(Canon("CREATE VIEW v AS SELECT a FROM t"), "CREATE VIEW `v` AS SELECT `a` FROM `t`");
  EXPECT_EQ(Canon("CREATE OR REPLACE ALGORITHM = MERGE DEFINER = CURRENT_USER SQL SECURITY "
                  "INVOKER VIEW db.v (x, y) AS SELECT 1, 2 UNION SELECT 3, 4 WITH LOCAL CHECK "
                  "OPTION"),
            "CREATE OR REPLACE VIEW `db`.`v` (`x`, `y`) AS SELECT 1, 2 UNION SELECT 3, 4 WITH "
            "LOCAL CHECK OPTION");
  EXPECT_EQ(Canon("DROP VIEW IF EXISTS v1, v2"), "DROP VIEW IF EXISTS `v1`, `v2`");
}

TEST(DdlTest, Triggers) {
  EXPECT_EQ(Canon("CREATE TRIGGER tr AFTER UPDATE ON t FOR EACH ROW BEGIN END"),
            "CREATE TRIGGER `tr` AFTER UPDATE ON `t` FOR EACH ROW BEGIN END");
  EXPECT_EQ(Canon("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @x = 1"),
            "CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET @x = 1");
  EXPECT_EQ(Canon("CREATE TRIGGER tr BEFORE DELETE ON t FOR EACH ROW BEGIN SET @x = 1; "
                  "DELETE FROM u; END"),
            "CREATE TRIGGER `tr` BEFORE DELETE ON `t` FOR EACH ROW BEGIN SET @x = 1; DELETE "
            "FROM `u`; END");
  EXPECT_EQ(Canon("DROP TRIGGER IF EXISTS db.tr"), "DROP TRIGGER IF EXISTS `db`.`tr`");
}

// ---- Transactions, SET, SHOW and the rest ---------------------------------------------------

TEST(TxnTest, Forms) {
  EXPECT_EQ(Canon("BEGIN"), "START TRANSACTION");
  EXPECT_EQ(Canon("begin work"), "START TRANSACTION");
  EXPECT_EQ(Canon("START TRANSACTION READ ONLY"), "START TRANSACTION READ ONLY");
  EXPECT_EQ(Canon("START TRANSACTION READ WRITE, WITH CONSISTENT SNAPSHOT"),
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE");
  EXPECT_EQ(Canon("COMMIT WORK"), "COMMIT");
  EXPECT_EQ(Canon("ROLLBACK"), "ROLLBACK");
  EXPECT_EQ(Canon("SAVEPOINT s1"), "SAVEPOINT `s1`");
  EXPECT_EQ(Canon("ROLLBACK TO SAVEPOINT s1"), "ROLLBACK TO SAVEPOINT `s1`");
  EXPECT_EQ(Canon("RELEASE SAVEPOINT s1"), "RELEASE SAVEPOINT `s1`");
}

TEST(SetTest, Forms) {
  EXPECT_EQ(Canon("SET autocommit=1"), "SET @@autocommit = 1");
  EXPECT_EQ(Canon("SET @a = 1, @b := 'x'"), "SET @a = 1, @b = 'x'");
  EXPECT_EQ(Canon("SET GLOBAL max_connections = 10, SESSION sql_mode = ''"),
            "SET @@GLOBAL.max_connections = 10, @@SESSION.sql_mode = ''");
  EXPECT_EQ(Canon("SET @@session.autocommit = ON"), "SET @@SESSION.autocommit = 'ON'");
  EXPECT_EQ(Canon("SET x = DEFAULT"), "SET @@x = DEFAULT");
  EXPECT_EQ(Canon("SET NAMES utf8mb4 COLLATE utf8mb4_bin"),
            "SET NAMES `utf8mb4` COLLATE `utf8mb4_bin`");
  EXPECT_EQ(Canon("SET NAMES 'latin1'"), "SET NAMES `latin1`");
  EXPECT_EQ(Canon("SET CHARACTER SET DEFAULT"), "SET CHARACTER SET DEFAULT");
  EXPECT_EQ(Canon("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"),
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  EXPECT_EQ(Canon("SET TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE"),
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY");
  EXPECT_EQ(Canon("SET GLOBAL TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            "SET GLOBAL TRANSACTION ISOLATION LEVEL REPEATABLE READ");
}

TEST(ShowTest, Forms) {
  EXPECT_EQ(Canon("SHOW DATABASES"), "SHOW DATABASES");
  EXPECT_EQ(Canon("SHOW SCHEMAS LIKE 'x%'"), "SHOW DATABASES LIKE 'x%'");
  EXPECT_EQ(Canon("SHOW FULL TABLES FROM db LIKE 't%'"), "SHOW FULL TABLES FROM `db` LIKE 't%'");
  EXPECT_EQ(Canon("SHOW TABLES IN db WHERE x = 1"), "SHOW TABLES FROM `db` WHERE `x` = 1");
  EXPECT_EQ(Canon("SHOW FULL COLUMNS FROM t FROM db"), "SHOW FULL COLUMNS FROM `db`.`t`");
  EXPECT_EQ(Canon("SHOW FIELDS IN db.t"), "SHOW COLUMNS FROM `db`.`t`");
  EXPECT_EQ(Canon("SHOW CREATE TABLE t"), "SHOW CREATE TABLE `t`");
  EXPECT_EQ(Canon("SHOW CREATE DATABASE d"), "SHOW CREATE DATABASE `d`");
  EXPECT_EQ(Canon("SHOW INDEX FROM t"), "SHOW INDEX FROM `t`");
  EXPECT_EQ(Canon("SHOW KEYS IN t"), "SHOW INDEX FROM `t`");
  EXPECT_EQ(Canon("SHOW VARIABLES LIKE 'auto%'"), "SHOW VARIABLES LIKE 'auto%'");
  EXPECT_EQ(Canon("SHOW GLOBAL VARIABLES"), "SHOW GLOBAL VARIABLES");
  EXPECT_EQ(Canon("SHOW SESSION STATUS"), "SHOW STATUS");
  EXPECT_EQ(Canon("SHOW WARNINGS"), "SHOW WARNINGS");
  EXPECT_EQ(Canon("SHOW ERRORS"), "SHOW ERRORS");
  EXPECT_EQ(Canon("SHOW FULL PROCESSLIST"), "SHOW FULL PROCESSLIST");
  EXPECT_EQ(Canon("SHOW STORAGE ENGINES"), "SHOW ENGINES");
  EXPECT_EQ(Canon("SHOW CHARACTER SET"), "SHOW CHARACTER SET");
  EXPECT_EQ(Canon("SHOW CHARSET LIKE 'utf8%'"), "SHOW CHARACTER SET LIKE 'utf8%'");
  EXPECT_EQ(Canon("SHOW COLLATION"), "SHOW COLLATION");
  EXPECT_EQ(Canon("SHOW TABLE STATUS"), "SHOW TABLE STATUS");
  EXPECT_EQ(Canon("SHOW GRANTS FOR 'u'@'h'"), "SHOW GRANTS FOR 'u'@'h'");
  EXPECT_EQ(Canon("SHOW FULL DATABASES").rfind("ERROR", 0), 0u);
}

TEST(MiscTest, UseExplainDescribeAnalyze) {
  EXPECT_EQ(Canon("USE db"), "USE `db`");
  EXPECT_EQ(Canon("EXPLAIN SELECT 1"), "EXPLAIN SELECT 1");
  EXPECT_EQ(Canon("EXPLAIN ANALYZE SELECT * FROM t"), "EXPLAIN ANALYZE SELECT * FROM `t`");
  EXPECT_EQ(Canon("EXPLAIN FORMAT = JSON DELETE FROM t"),
            "EXPLAIN FORMAT = `json` DELETE FROM `t`");
  EXPECT_EQ(Canon("DESCRIBE t"), "SHOW COLUMNS FROM `t`");
  EXPECT_EQ(Canon("DESC db.t"), "SHOW COLUMNS FROM `db`.`t`");
  EXPECT_EQ(Canon("EXPLAIN t a"), "DESCRIBE `t` `a`");
  EXPECT_EQ(Canon("ANALYZE TABLE t1, t2"), "ANALYZE TABLE `t1`, `t2`");
}

TEST(MiscTest, UsersAndGrants) {
  EXPECT_EQ(Canon("CREATE USER IF NOT EXISTS 'u'@'localhost' IDENTIFIED BY 'pw', v"),
            "CREATE USER IF NOT EXISTS 'u'@'localhost' IDENTIFIED BY 'pw', 'v'@'%'");
  EXPECT_EQ(Canon("DROP USER u@'%'"), "DROP USER 'u'@'%'");
  EXPECT_EQ(Canon("GRANT ALL PRIVILEGES ON *.* TO 'u'@'%' WITH GRANT OPTION"),
            "GRANT ALL ON *.* TO 'u'@'%' WITH GRANT OPTION");
  EXPECT_EQ(Canon("GRANT SELECT, INSERT ON db.* TO u"),
            "GRANT SELECT, INSERT ON `db`.* TO 'u'@'%'");
  EXPECT_EQ(Canon("REVOKE UPDATE ON db.t FROM u@h"), "REVOKE UPDATE ON `db`.`t` FROM 'u'@'h'");
}

// ---- Scripts, comments and hints ----------------------------------------------------------------

TEST(ScriptTest, MultipleStatementsSplitOnSemicolons) {
  absl::StatusOr<std::vector<StmtPtr>> s =
      Parse("SELECT ';' ; ; -- comment; not a split\nINSERT INTO t VALUES (1);\nSELECT `a;b`;");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ(RestoreSql(*(*s)[0]), "SELECT ';'");
  EXPECT_EQ(RestoreSql(*(*s)[2]), "SELECT `a;b`");
  EXPECT_EQ((*s)[1]->pos.line, 2u);
  EXPECT_TRUE(Parse("")->empty());
  EXPECT_TRUE(Parse(" ; ;; ")->empty());
  EXPECT_FALSE(ParseOne("").ok());
  EXPECT_FALSE(ParseOne("SELECT 1; SELECT 2").ok());
  EXPECT_TRUE(ParseOne("SELECT 1;").ok());
}

TEST(ScriptTest, SplitStatementsRespectsQuotesAndComments) {
  std::vector<std::string_view> parts =
      SplitStatements("SELECT 'a;b'; /* x; y */ SELECT \"c;\" # d;\n; SELECT `e;`;;");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "SELECT 'a;b'");
  EXPECT_EQ(parts[1], "/* x; y */ SELECT \"c;\" # d;");
  EXPECT_EQ(parts[2], "SELECT `e;`");
}

TEST(ScriptTest, HintsAttachToTheStatementKeyword) {
  absl::StatusOr<StmtPtr> s = ParseOne("SELECT /*+ MAX_EXECUTION_TIME(1000) */ a FROM t");
  ASSERT_TRUE(s.ok());
  const auto* sel = As<SelectStmt>(*s);
  ASSERT_NE(sel, nullptr);
  ASSERT_EQ(sel->hints.size(), 1u);
  EXPECT_EQ(sel->hints[0], "MAX_EXECUTION_TIME(1000)");
  EXPECT_EQ(Canon("UPDATE /*+ BKA(t) */ t SET a = 1"), "UPDATE /*+ BKA(t) */ `t` SET `a` = 1");
  // A hint comment anywhere else is just a comment.
  EXPECT_EQ(Canon("SELECT a /*+ ignored */ FROM t"), "SELECT `a` FROM `t`");
}

TEST(ScriptTest, ExecutableComments) {
  EXPECT_EQ(Canon("SELECT /*! STRAIGHT_JOIN */ a FROM t"), "SELECT STRAIGHT_JOIN `a` FROM `t`");
  EXPECT_EQ(Canon("SELECT 1 /*!50100 + 1 */"), "SELECT 1 + 1");
  EXPECT_EQ(Canon("SELECT 1 /*!90000 + 1 */"), "SELECT 1");
}

// ---- Errors -------------------------------------------------------------------------------------

void ExpectSyntaxError(std::string_view sql, std::string_view near, int line) {
  absl::StatusOr<std::vector<StmtPtr>> s = Parse(sql);
  ASSERT_FALSE(s.ok()) << sql;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "You have an error in your SQL syntax; check the manual that corresponds to your "
            "MySQL server version for the right syntax to use near '" +
                std::string(near) + "' at line " + std::to_string(line));
  std::optional<MySqlError> e = GetMySqlError(s.status());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 1064);
  EXPECT_EQ(e->sqlstate, "42000");
}

TEST(ErrorTest, SyntaxErrorsAre1064WithMySqlsMessage) {
  ExpectSyntaxError("SELECT * FROM", "", 1);
  ExpectSyntaxError("SELEC 1", "SELEC 1", 1);
  ExpectSyntaxError("SELECT 1 +", "", 1);
  ExpectSyntaxError("SELECT a FROM t WHERE", "", 1);
  ExpectSyntaxError("SELECT *\nFROM t\nWHERE a = = 1", "= 1", 3);
  ExpectSyntaxError("SELECT 'unterminated", "'unterminated", 1);
  ExpectSyntaxError("SELECT 1; SELEC 2", "SELEC 2", 1);
  ExpectSyntaxError("CREATE TABLE select (a INT)", "select (a INT)", 1);
  ExpectSyntaxError("SELECT 1 2", "2", 1);
  const std::string long_tail(200, 'x');
  ExpectSyntaxError("SELECT 1 FROM t AS u " + long_tail, long_tail.substr(0, 80), 1);
}

TEST(ErrorTest, MySqlErrorPayloadRoundTrips) {
  MySqlError e{1146, "42S02", "Table 'x.t' doesn't exist"};
  absl::Status s = MakeMySqlStatus(absl::StatusCode::kNotFound, e);
  EXPECT_EQ(GetMySqlError(s), e);
  EXPECT_FALSE(GetMySqlError(absl::OkStatus()).has_value());
  EXPECT_FALSE(GetMySqlError(absl::InternalError("x")).has_value());
}

TEST(ErrorTest, DeepNestingIsAnErrorNotACrash) {
  const std::string parens = std::string(1000, '(') + "1" + std::string(1000, ')');
  EXPECT_FALSE(ParseOne("SELECT " + parens).ok());
  std::string sub = "SELECT 1";
  for (int i = 0; i < 1000; ++i) sub = "SELECT (" + sub + ")";
  EXPECT_FALSE(ParseOne(sub).ok());
  std::string chain = "SELECT 1";
  for (int i = 0; i < 100000; ++i) chain += "+1";
  EXPECT_FALSE(ParseOne(chain).ok());
  std::string nots = "SELECT ";
  for (int i = 0; i < 100000; ++i) nots += "NOT ";
  EXPECT_FALSE(ParseOne(nots + "1").ok());
  std::string joins = "SELECT * FROM t0";
  for (int i = 0; i < 5000; ++i) joins += ", t" + std::to_string(i);
  EXPECT_FALSE(ParseOne(joins).ok());
  // Moderate nesting is fine.
  const std::string ok = std::string(50, '(') + "1" + std::string(50, ')');
  EXPECT_TRUE(ParseOne("SELECT " + ok).ok());
  std::string ok_chain = "SELECT 1";
  for (int i = 0; i < 150; ++i) ok_chain += " + 1";
  EXPECT_TRUE(ParseOne(ok_chain).ok());
}

// Runs `fn` on a thread with a 256 KiB stack, the size of a fiber stack.
void RunOnSmallStack(void (*fn)()) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* arg) -> void* {
                  reinterpret_cast<void (*)()>(arg)();
                  return nullptr;
                },
                reinterpret_cast<void*>(fn)),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

// Inputs nested `n` deep in each recursive construct: parentheses, operator chains,
// subqueries, function calls, parenthesised table references, NOT chains, CASE.
std::vector<std::string> NestedInputs(int n) {
  std::vector<std::string> inputs;
  inputs.push_back("SELECT " + std::string(n, '(') + "1" + std::string(n, ')'));
  std::string chain = "SELECT 1";
  for (int i = 0; i < n; ++i) chain += "+1";
  inputs.push_back(chain);
  std::string sub = "SELECT 1";
  for (int i = 0; i < n; ++i) sub = "SELECT (" + sub + ")";
  inputs.push_back(sub);
  std::string f = "SELECT ";
  for (int i = 0; i < n; ++i) f += "ABS(-";
  inputs.push_back(f + "1" + std::string(n, ')'));
  inputs.push_back("SELECT * FROM " + std::string(n, '(') + "t" + std::string(n, ')'));
  std::string nots = "SELECT ";
  for (int i = 0; i < n; ++i) nots += "NOT ";
  inputs.push_back(nots + "1");
  std::string cases = "SELECT ";
  for (int i = 0; i < n; ++i) cases += "CASE WHEN 1 THEN ";
  cases += "1";
  for (int i = 0; i < n; ++i) cases += " END";
  inputs.push_back(cases);
  return inputs;
}

// Parses, restores, re-parses, compares and destroys each input; returns how many parsed.
int Exercise(const std::vector<std::string>& inputs) {
  int parsed = 0;
  for (const std::string& in : inputs) {
    absl::StatusOr<StmtPtr> s = ParseOne(in);
    if (!s.ok()) continue;
    ++parsed;
    absl::StatusOr<StmtPtr> again = ParseOne(RestoreSql(**s));
    EXPECT_TRUE(again.ok() && AstEqual(**s, **again)) << in.substr(0, 100);
  }
  return parsed;
}

TEST(ErrorTest, NestingLimitIsReachableAndEnforced) {
  EXPECT_EQ(Exercise(NestedInputs(25)), 7);    // every construct 25 deep is fine
  EXPECT_EQ(Exercise(NestedInputs(5000)), 0);  // and none 5000 deep
}

TEST(ErrorTest, DeepestAcceptedInputFitsAFiberStack) {
  RunOnSmallStack([] {
    // Everything up to and past the limit, on a fiber-sized stack: accepted inputs must
    // parse, restore, compare and destroy without overflowing it.
    const int max_depth = ParserOptions().max_depth;
    int parsed = 0;
    for (int n = max_depth / 4; n <= max_depth + 2; n += 7) parsed += Exercise(NestedInputs(n));
    EXPECT_GT(parsed, 20);
  });
}

}  // namespace
}  // namespace rutile::sql
