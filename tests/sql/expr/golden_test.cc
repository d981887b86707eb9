// MySQL-semantics golden tests: each expression's value (as the text protocol shows it),
// warnings and errors are what MySQL 8 gives for the same SELECT.

#include "expr_test_util.h"
#include "gtest/gtest.h"

namespace rutile::sql::expr {
namespace {

using testing::Dec;
using testing::EvalBoth;
using testing::F;
using testing::I;
using testing::N;
using testing::R;
using testing::S;
using testing::U;

std::string V(const ExprPtr& e) { return EvalBoth(*e).Text(); }

TEST(GoldenTest, BriefExamples) {
  // SELECT 1/3 -> 0.3333
  EXPECT_EQ(V(F("div", I(1), I(3))), "0.3333");
  // SELECT 5 DIV 2 -> 2
  EXPECT_EQ(V(F("intdiv", I(5), I(2))), "2");
  // SELECT '10' + 1 -> 11
  EXPECT_EQ(V(F("plus", S("10"), I(1))), "11");
  // SELECT 'abc' = 0 -> 1, with a warning.
  auto r = EvalBoth(*F("eq", S("abc"), I(0)));
  EXPECT_EQ(r.Text(), "1");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "1292 Truncated incorrect DOUBLE value: 'abc'");
  // SELECT NULL <=> NULL -> 1
  EXPECT_EQ(V(F("nulleq", N(), N())), "1");
  // SELECT -9223372036854775808 - 1 -> ERROR 1690
  r = EvalBoth(*F("minus", I(INT64_MIN), I(1)));
  EXPECT_EQ(r.ErrorCode(), 1690);
  EXPECT_EQ(r.value.status().message(),
            "BIGINT value is out of range in '(-9223372036854775808 - 1)'");
  // SELECT CAST('2024-13-01' AS DATE) -> NULL, with a warning.
  r = EvalBoth(*NewCast(S("2024-13-01"), FieldType::Date()));
  EXPECT_EQ(r.Text(), "NULL");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "1292 Incorrect datetime value: '2024-13-01'");
  // ROUND(2.5) -> 3, ROUND(-2.5) -> -3
  EXPECT_EQ(V(F("round", Dec("2.5"))), "3");
  EXPECT_EQ(V(F("round", Dec("-2.5"))), "-3");
  // 7 % -3 -> 1
  EXPECT_EQ(V(F("mod", I(7), I(-3))), "1");
  // '1e2' + 0 -> 100
  EXPECT_EQ(V(F("plus", S("1e2"), I(0))), "100");
}

TEST(GoldenTest, Arithmetic) {
  EXPECT_EQ(V(F("plus", I(1), Dec("1.5"))), "2.5");
  EXPECT_EQ(V(F("plus", I(1), R(1.5))), "2.5");
  EXPECT_EQ(V(F("div", I(10), I(4))), "2.5000");
  EXPECT_EQ(V(F("div", Dec("1.0"), I(3))), "0.33333");
  EXPECT_EQ(V(F("div", R(1), I(4))), "0.25");
  EXPECT_EQ(V(F("mul", Dec("1.10"), Dec("2.0"))), "2.200");
  EXPECT_EQ(V(F("mod", I(-7), I(3))), "-1");
  EXPECT_EQ(V(F("mod", Dec("7.5"), I(2))), "1.5");
  EXPECT_EQ(V(F("mod", R(7.5), I(2))), "1.5");
  EXPECT_EQ(V(F("intdiv", Dec("5.5"), I(2))), "2");
  EXPECT_EQ(V(F("intdiv", I(-7), I(2))), "-3");
  EXPECT_EQ(V(F("unaryminus", I(5))), "-5");
  EXPECT_EQ(V(F("unaryminus", Dec("1.50"))), "-1.50");
  EXPECT_EQ(V(F("plus", N(), I(1))), "NULL");
  // Division by zero: NULL and a warning.
  auto r = EvalBoth(*F("div", I(1), I(0)));
  EXPECT_EQ(r.Text(), "NULL");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "1365 Division by 0");
  EXPECT_EQ(V(F("mod", I(1), I(0))), "NULL");
  EXPECT_EQ(V(F("intdiv", I(1), I(0))), "NULL");
  // Overflow is an error.
  EXPECT_EQ(EvalBoth(*F("plus", I(INT64_MAX), I(1))).ErrorCode(), 1690);
  EXPECT_EQ(EvalBoth(*F("mul", I(INT64_MAX), I(2))).ErrorCode(), 1690);
  EXPECT_EQ(EvalBoth(*F("unaryminus", I(INT64_MIN))).ErrorCode(), 1690);
  EXPECT_EQ(EvalBoth(*F("intdiv", I(INT64_MIN), I(-1))).ErrorCode(), 1690);
  r = EvalBoth(*F("minus", NewCast(I(0), FieldType::LongLong(true)), I(1)));
  EXPECT_EQ(r.ErrorCode(), 1690);
  EXPECT_NE(r.value.status().message().find("BIGINT UNSIGNED value is out of range"),
            std::string::npos);
  EXPECT_EQ(EvalBoth(*F("mul", R(1e308), I(10))).ErrorCode(), 1690);
  EXPECT_EQ(V(F("plus", U(18446744073709551614ULL), I(1))), "18446744073709551615");
  EXPECT_EQ(V(F("minus", U(5), I(3))), "2");
}

TEST(GoldenTest, ComparisonsAndLogic) {
  EXPECT_EQ(V(F("eq", S("a"), S("A"))), "1");
  EXPECT_EQ(V(F("eq", S("a", Collation::kBinary), S("A"))), "0");
  EXPECT_EQ(V(F("eq", S("a "), S("a"))), "1");  // PAD SPACE.
  EXPECT_EQ(V(F("lt", I(-1), U(1))), "1");
  EXPECT_EQ(V(F("eq", U(18446744073709551615ULL), I(-1))), "0");
  EXPECT_EQ(V(F("eq", Dec("1.0"), I(1))), "1");
  EXPECT_EQ(V(F("eq", S("1.0"), I(1))), "1");
  EXPECT_EQ(V(F("lt", S("10"), S("9"))), "1");  // String comparison.
  EXPECT_EQ(V(F("lt", S("10"), I(9))), "0");    // Numeric comparison.
  EXPECT_EQ(V(F("eq", N(), I(1))), "NULL");
  EXPECT_EQ(V(F("nulleq", N(), I(1))), "0");
  EXPECT_EQ(V(F("and", I(1), N())), "NULL");
  EXPECT_EQ(V(F("and", I(0), N())), "0");
  EXPECT_EQ(V(F("or", I(1), N())), "1");
  EXPECT_EQ(V(F("or", I(0), N())), "NULL");
  EXPECT_EQ(V(F("xor", I(1), N())), "NULL");
  EXPECT_EQ(V(F("xor", I(1), I(0))), "1");
  EXPECT_EQ(V(F("not", Dec("0.0"))), "1");
  EXPECT_EQ(V(F("and", Dec("0.5"), I(2))), "1");
  EXPECT_EQ(V(F("istrue", N())), "0");
  EXPECT_EQ(V(F("isfalse", I(0))), "1");
  EXPECT_EQ(V(F("isnottrue", N())), "1");
  EXPECT_EQ(V(F("isnull", N())), "1");
  EXPECT_EQ(V(F("isnotnull", I(0))), "1");
  EXPECT_EQ(V(F("between", I(2), I(1), I(3))), "1");
  EXPECT_EQ(V(F("between", I(5), N(), I(3))), "0");
  EXPECT_EQ(V(F("between", I(2), N(), I(3))), "NULL");
  EXPECT_EQ(V(F("between", S("b"), S("A"), S("C"))), "1");
  EXPECT_EQ(V(F("in", I(1), I(2), N())), "NULL");
  EXPECT_EQ(V(F("in", I(2), I(2), N())), "1");
  EXPECT_EQ(V(F("in", I(3), I(2), I(4))), "0");
  EXPECT_EQ(V(F("in", S("B"), S("a"), S("b"))), "1");
  EXPECT_EQ(V(F("in", I(1), S("1"), Dec("2.0"))), "1");
  // AND does not evaluate its right side when the left is false: no error.
  EXPECT_EQ(V(F("and", I(0), F("plus", I(INT64_MAX), I(1)))), "0");
  EXPECT_EQ(V(F("or", I(1), F("plus", I(INT64_MAX), I(1)))), "1");
}

TEST(GoldenTest, Like) {
  EXPECT_EQ(V(F("like", S("abc"), S("A%"))), "1");
  EXPECT_EQ(V(F("like", S("abc", Collation::kBinary), S("A%"))), "0");
  EXPECT_EQ(V(F("like", S("a_c"), S("a\\_c"))), "1");
  EXPECT_EQ(V(F("like", S("abc"), S("a\\_c"))), "0");
  EXPECT_EQ(V(F("like", S("a%c"), S("a|%c"), S("|"))), "1");
  EXPECT_EQ(V(F("like", S("abc"), S("%b%"))), "1");
  EXPECT_EQ(V(F("like", S("abc"), S("_b_"))), "1");
  EXPECT_EQ(V(F("like", S("abc"), S("ab"))), "0");
  EXPECT_EQ(V(F("like", S("a "), S("a"))), "0");
  EXPECT_EQ(V(F("like", S("Ünïcode"), S("üNI%"))), "1");
  EXPECT_EQ(V(F("like", S("aaa"), S("%%a%a"))), "1");
  EXPECT_EQ(V(F("like", I(10), S("1%"))), "1");
  EXPECT_EQ(V(F("like", N(), S("%"))), "NULL");
}

TEST(GoldenTest, ControlFlow) {
  EXPECT_EQ(V(F("case", I(0), I(1), Dec("2.5"))), "2.5");
  EXPECT_EQ(V(F("case", I(1), I(1), Dec("2.5"))), "1.0");
  EXPECT_EQ(V(F("case", I(0), I(1))), "NULL");
  EXPECT_EQ(V(F("case", N(), I(1), I(0), I(2), I(3))), "3");
  EXPECT_EQ(V(F("if", S("0"), S("yes"), S("no"))), "no");
  EXPECT_EQ(V(F("if", I(1), S("a"), I(2))), "a");
  EXPECT_EQ(V(F("ifnull", N(), S("x"))), "x");
  EXPECT_EQ(V(F("ifnull", I(1), F("div", I(1), I(0)))), "1.0000");
  EXPECT_EQ(V(F("nullif", I(1), I(1))), "NULL");
  EXPECT_EQ(V(F("nullif", I(1), I(2))), "1");
  EXPECT_EQ(V(F("nullif", S("a"), S("A"))), "NULL");
  EXPECT_EQ(V(F("coalesce", N(), N(), I(3))), "3");
  EXPECT_EQ(V(F("coalesce", N())), "NULL");
  // Untaken branches are not evaluated.
  EXPECT_EQ(V(F("case", I(1), I(7), F("plus", I(INT64_MAX), I(1)))), "7");
  EXPECT_EQ(V(F("coalesce", I(1), F("plus", I(INT64_MAX), I(1)))), "1");
}

TEST(GoldenTest, Casts) {
  auto r = EvalBoth(*NewCast(S("12abc"), FieldType::LongLong()));
  EXPECT_EQ(r.Text(), "12");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "1292 Truncated incorrect INTEGER value: '12abc'");
  EXPECT_EQ(V(NewCast(I(-1), FieldType::LongLong(true))), "18446744073709551615");
  EXPECT_EQ(V(NewCast(U(18446744073709551615ULL), FieldType::LongLong())), "-1");
  EXPECT_EQ(V(NewCast(Dec("1.5"), FieldType::LongLong())), "2");
  EXPECT_EQ(V(NewCast(Dec("-1.5"), FieldType::LongLong())), "-2");
  EXPECT_EQ(V(NewCast(R(2.5), FieldType::LongLong())), "2");  // rint: half to even.
  EXPECT_EQ(V(NewCast(S("1.255"), FieldType::NewDecimal(4, 2))), "1.26");
  r = EvalBoth(*NewCast(I(123), FieldType::NewDecimal(2, 1)));
  EXPECT_EQ(r.Text(), "9.9");
  EXPECT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(V(NewCast(S("2024-01-02 03:04:05.5"), FieldType::Datetime(0))), "2024-01-02 03:04:06");
  EXPECT_EQ(V(NewCast(S("2024-01-02 03:04:05.5"), FieldType::Datetime(2))),
            "2024-01-02 03:04:05.50");
  EXPECT_EQ(V(NewCast(I(20240102), FieldType::Date())), "2024-01-02");
  EXPECT_EQ(V(NewCast(S("2024-01-02 10:00:00"), FieldType::Date())), "2024-01-02");
  EXPECT_EQ(V(NewCast(S("10:11:12"), FieldType::Duration(0))), "10:11:12");
  r = EvalBoth(*NewCast(S("abc"), FieldType::Varchar(2)));
  EXPECT_EQ(r.Text(), "ab");
  EXPECT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(V(NewCast(R(0.1), FieldType::Varchar(-1))), "0.1");
  EXPECT_EQ(V(NewCast(R(1e20), FieldType::Varchar(-1))), "1e20");
  EXPECT_EQ(V(NewCast(Dec("1.50"), FieldType::Double())), "1.5");
  EXPECT_EQ(V(NewCast(NewCast(S("2024-02-03"), FieldType::Date()), FieldType::LongLong())),
            "20240203");
}

TEST(GoldenTest, StrictWritesTurnWarningsIntoErrors) {
  EvalContext strict;
  strict.strict_writes = true;
  EXPECT_EQ(EvalBoth(*NewCast(S("abc"), FieldType::LongLong()), strict).ErrorCode(), 1292);
  EXPECT_EQ(EvalBoth(*F("div", I(1), I(0)), strict).ErrorCode(), 1365);
  EXPECT_EQ(EvalBoth(*NewCast(S("2024-13-01"), FieldType::Date()), strict).ErrorCode(), 1292);
  strict.sql_mode.error_for_division_by_zero = false;
  EXPECT_EQ(EvalBoth(*F("div", I(1), I(0)), strict).Text(), "NULL");
}

TEST(GoldenTest, StringFunctions) {
  EXPECT_EQ(V(F("concat", S("a"), I(1), Dec("2.50"))), "a12.50");
  EXPECT_EQ(V(F("concat", S("a"), N())), "NULL");
  EXPECT_EQ(V(F("concat_ws", S(","), S("a"), N(), S("b"))), "a,b");
  EXPECT_EQ(V(F("concat_ws", N(), S("a"))), "NULL");
  EXPECT_EQ(V(F("length", S("héllo"))), "6");
  EXPECT_EQ(V(F("char_length", S("héllo"))), "5");
  EXPECT_EQ(V(F("upper", S("abcé"))), "ABCÉ");
  EXPECT_EQ(V(F("lower", S("ABC"))), "abc");
  EXPECT_EQ(V(F("upper", S("abc", Collation::kBinary))), "abc");
  EXPECT_EQ(V(F("substring", S("Quadratically"), I(5), I(6))), "ratica");
  EXPECT_EQ(V(F("substring", S("Sakila"), I(-3))), "ila");
  EXPECT_EQ(V(F("substring", S("Sakila"), I(0))), "");
  EXPECT_EQ(V(F("substring", S("Sakila"), I(-10))), "");
  EXPECT_EQ(V(F("substring", S("héllo"), I(2), I(2))), "él");
  EXPECT_EQ(V(F("trim", S("  bar  "))), "bar");
  EXPECT_EQ(V(F("trim", S("xxbarxx"), S("x"), I(1))), "barxx");
  EXPECT_EQ(V(F("trim", S("xxbarxx"), S("x"), I(2))), "xxbar");
  EXPECT_EQ(V(F("trim", S("xyxbarxy"), S("xy"))), "xbar");
  EXPECT_EQ(V(F("ltrim", S("  a "))), "a ");
  EXPECT_EQ(V(F("rtrim", S("  a "))), "  a");
  EXPECT_EQ(V(F("replace", S("www.mysql.com"), S("w"), S("Ww"))), "WwWwWw.mysql.com");
  EXPECT_EQ(V(F("left", S("foobarbar"), I(5))), "fooba");
  EXPECT_EQ(V(F("right", S("foobarbar"), I(4))), "rbar");
  EXPECT_EQ(V(F("lpad", S("hi"), I(4), S("??"))), "??hi");
  EXPECT_EQ(V(F("lpad", S("hi"), I(1), S("??"))), "h");
  EXPECT_EQ(V(F("rpad", S("hi"), I(5), S("?"))), "hi???");
  EXPECT_EQ(V(F("rpad", S("hi"), I(5), S(""))), "NULL");
  EXPECT_EQ(V(F("lpad", S("hi"), I(-1), S("x"))), "NULL");
  EXPECT_EQ(V(F("reverse", S("abç"))), "çba");
  EXPECT_EQ(V(F("instr", S("foobarbar"), S("bar"))), "4");
  EXPECT_EQ(V(F("instr", S("foobarbar"), S("BAR"))), "4");
  EXPECT_EQ(V(F("instr", S("xbar"), S("foobar"))), "0");
  EXPECT_EQ(V(F("locate", S("bar"), S("foobarbar"), I(5))), "7");
  EXPECT_EQ(V(F("locate", S("bar"), S("foobarbar"))), "4");
  EXPECT_EQ(V(F("repeat", S("ab"), I(3))), "ababab");
  EXPECT_EQ(V(F("repeat", S("ab"), I(0))), "");
  EXPECT_EQ(V(F("length", I(12345))), "5");
}

TEST(GoldenTest, MathFunctions) {
  EXPECT_EQ(V(F("abs", I(-5))), "5");
  EXPECT_EQ(V(F("abs", Dec("-1.50"))), "1.50");
  EXPECT_EQ(EvalBoth(*F("abs", I(INT64_MIN))).ErrorCode(), 1690);
  EXPECT_EQ(V(F("ceil", Dec("1.2"))), "2");
  EXPECT_EQ(V(F("floor", Dec("-1.2"))), "-2");
  EXPECT_EQ(V(F("ceil", R(-1.5))), "-1");
  EXPECT_EQ(V(F("round", Dec("1.298"), I(1))), "1.3");
  EXPECT_EQ(V(F("round", Dec("1.298"), I(0))), "1");
  EXPECT_EQ(V(F("round", Dec("23.298"), I(-1))), "20");
  EXPECT_EQ(V(F("round", I(15), I(-1))), "20");
  EXPECT_EQ(V(F("round", I(-15), I(-1))), "-20");
  EXPECT_EQ(V(F("round", R(2.5))), "2");  // Doubles round half to even.
  EXPECT_EQ(V(F("round", R(1.5))), "2");
  EXPECT_EQ(V(F("round", Dec("1.5"), I(3))), "1.500");
  EXPECT_EQ(V(F("truncate", Dec("1.223"), I(1))), "1.2");
  EXPECT_EQ(V(F("truncate", Dec("-1.999"), I(1))), "-1.9");
  EXPECT_EQ(V(F("truncate", I(122), I(-2))), "100");
  EXPECT_EQ(V(F("pow", I(2), I(10))), "1024");
  EXPECT_EQ(EvalBoth(*F("pow", I(10), I(400))).ErrorCode(), 1690);
  EXPECT_EQ(V(F("sqrt", I(4))), "2");
  EXPECT_EQ(V(F("sqrt", I(-1))), "NULL");
  EXPECT_EQ(V(F("sign", Dec("-3.2"))), "-1");
  auto r = EvalBoth(*F("ln", I(0)));
  EXPECT_EQ(r.Text(), "NULL");
  EXPECT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(V(F("log", I(2), I(8))), "3");
  EXPECT_EQ(V(F("log10", I(100))), "2");
  EXPECT_EQ(V(F("exp", I(0))), "1");
  EXPECT_EQ(V(F("pi")), "3.141592653589793");
  EXPECT_EQ(V(F("greatest", I(1), Dec("2.5"), I(0))), "2.5");
  EXPECT_EQ(V(F("least", S("b"), S("a"))), "a");
  EXPECT_EQ(V(F("greatest", I(1), N())), "NULL");
  EXPECT_EQ(V(F("greatest", I(1), I(3), I(2))), "3");
  EXPECT_EQ(V(F("mod", I(10), I(3))), "1");
}

TEST(GoldenTest, DateFunctions) {
  EvalContext ctx;
  ctx.now = Time::FromDatetime(2024, 5, 6, 7, 8, 9, 123456, 6);
  EXPECT_EQ(EvalBoth(*F("now"), ctx).Text(), "2024-05-06 07:08:09");
  EXPECT_EQ(EvalBoth(*F("now", I(3)), ctx).Text(), "2024-05-06 07:08:09.123");
  EXPECT_EQ(EvalBoth(*F("curdate"), ctx).Text(), "2024-05-06");
  EXPECT_EQ(EvalBoth(*F("curtime"), ctx).Text(), "07:08:09");
  EXPECT_EQ(V(F("date_add", S("2024-01-31"), I(1), S("MONTH"))), "2024-02-29");
  EXPECT_EQ(V(F("date_add", S("2024-01-31"), I(1), S("DAY"))), "2024-02-01");
  EXPECT_EQ(V(F("date_add", S("2024-01-31"), I(1), S("HOUR"))), "2024-01-31 01:00:00");
  EXPECT_EQ(V(F("date_sub", NewCast(S("2024-03-01"), FieldType::Date()), I(1), S("DAY"))),
            "2024-02-29");
  EXPECT_EQ(V(F("date_add", NewCast(S("2024-12-31 23:59:59"), FieldType::Datetime()), S("1:1"),
                S("MINUTE_SECOND"))),
            "2025-01-01 00:01:00");
  EXPECT_EQ(V(F("date_add", S("2024-01-01"), I(-1), S("YEAR"))), "2023-01-01");
  EXPECT_EQ(V(F("date_add", S("9999-12-31"), I(1), S("DAY"))), "NULL");
  EXPECT_EQ(V(F("datediff", S("2024-03-01"), S("2024-02-01"))), "29");
  EXPECT_EQ(V(F("datediff", S("2024-02-01 23:00:00"), S("2024-03-01"))), "-29");
  EXPECT_EQ(V(F("year", S("2024-05-06"))), "2024");
  EXPECT_EQ(V(F("month", S("2024-05-06"))), "5");
  EXPECT_EQ(V(F("day", S("2024-05-06"))), "6");
  EXPECT_EQ(V(F("hour", S("10:05:03"))), "10");
  EXPECT_EQ(V(F("dayofweek", S("2024-05-05"))), "1");  // Sunday.
  EXPECT_EQ(V(F("weekday", S("2024-05-05"))), "6");
  EXPECT_EQ(V(F("date_format", S("2024-01-02 03:04:05"), S("%Y/%m/%d %H:%i:%s %W %M %D"))),
            "2024/01/02 03:04:05 Tuesday January 2nd");
  EXPECT_EQ(V(F("date_format", S("2024-01-02 13:04:05"), S("%r %p %j %y %e %c"))),
            "01:04:05 PM PM 002 24 2 1");
  EXPECT_EQ(V(F("date", S("2024-01-02 13:04:05"))), "2024-01-02");
  EXPECT_EQ(V(F("year", S("garbage"))), "NULL");
}

TEST(RegistryTest, ErrorsForUnknownFunctionsAndArity) {
  absl::StatusOr<ExprPtr> e = NewFunction("no_such_fn", {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(GetMySqlError(e.status())->code, 1305);
  e = NewFunction("abs", testing::List(I(1), I(2)));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(GetMySqlError(e.status())->code, 1582);
  EXPECT_EQ(e.status().message(), "Incorrect parameter count in the call to native function 'abs'");
  e = NewFunction("concat", {});
  EXPECT_FALSE(e.ok());
  e = NewFunction("date_add", testing::List(S("2024-01-01"), I(1), S("FORTNIGHT")));
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(FunctionExists("CONCAT"));
  EXPECT_GT(FunctionNames().size(), 80u);
}

TEST(TypeInferenceTest, ResultTypes) {
  EXPECT_EQ(F("div", I(1), I(2))->type().ToString(), "decimal(5,4)");
  EXPECT_EQ(F("intdiv", I(1), I(2))->type().tp, TypeCode::kLongLong);
  EXPECT_EQ(F("plus", I(1), Dec("1.5"))->type().GetEvalType(), EvalType::kDecimal);
  EXPECT_EQ(F("plus", I(1), R(1.5))->type().GetEvalType(), EvalType::kReal);
  EXPECT_EQ(F("plus", I(1), S("1"))->type().GetEvalType(), EvalType::kReal);
  EXPECT_EQ(F("plus", I(1), U(1))->type().ToString(), "bigint(20) unsigned");
  EXPECT_EQ(F("case", I(1), I(1), Dec("2.50"))->type().ToString(), "decimal(3,2)");
  EXPECT_EQ(F("if", I(1), S("a"), I(2))->type().GetEvalType(), EvalType::kString);
  EXPECT_EQ(F("coalesce", NewCast(S("2024-01-01"), FieldType::Date()),
              NewCast(S("2024-01-01"), FieldType::Datetime(3)))
                ->type()
                .ToString(),
            "datetime(3)");
  EXPECT_EQ(F("coalesce", N(), I(1))->type().GetEvalType(), EvalType::kInt);
  EXPECT_EQ(F("eq", I(1), I(2))->type().tp, TypeCode::kLongLong);
  EXPECT_EQ(F("round", Dec("1.2345"), I(2))->type().decimal, 2);
  EXPECT_EQ(F("ceil", Dec("1.5"))->type().tp, TypeCode::kLongLong);
}

}  // namespace
}  // namespace rutile::sql::expr
