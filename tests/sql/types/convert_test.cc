#include "sql/types/convert.h"

#include "gtest/gtest.h"
#include "sql/types/collation.h"
#include "sql/types/compare.h"
#include "sql/types/infer.h"

namespace rutile::sql {
namespace {

TEST(ConvertTest, StringsToNumbersTakeTheLongestPrefix) {
  EvalContext ctx;
  EXPECT_EQ(*StrToInt64(&ctx, "12abc"), 12);
  EXPECT_EQ(*StrToInt64(&ctx, " -7 "), -7);
  EXPECT_EQ(*StrToInt64(&ctx, "99999999999999999999"), INT64_MAX);
  EXPECT_EQ(*StrToDouble(&ctx, "1e2x"), 100);
  EXPECT_EQ(*StrToDouble(&ctx, ".5"), 0.5);
  EXPECT_EQ(*StrToDouble(&ctx, "abc"), 0);
  EXPECT_EQ(*StrToDouble(&ctx, "-"), 0);
  EXPECT_EQ(StrToDecimal(&ctx, "1.25xyz")->ToString(), "1.25");
  ASSERT_EQ(ctx.warnings().size(), 6u);
  EXPECT_EQ(ctx.warnings()[0].error.message, "Truncated incorrect INTEGER value: '12abc'");
  EXPECT_EQ(ctx.warnings()[2].error.message, "Truncated incorrect DOUBLE value: '1e2x'");
  EXPECT_EQ(ctx.warnings()[5].error.message, "Truncated incorrect DECIMAL value: '1.25xyz'");
  EvalContext clean;
  EXPECT_EQ(*StrToInt64(&clean, "42"), 42);
  EXPECT_EQ(*StrToDouble(&clean, " 1.5e3 "), 1500);
  EXPECT_TRUE(clean.warnings().empty());
  EXPECT_EQ(*StrToUint64(&clean, "18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(*StrToDouble(&clean, "0x1A"), 0);  // Only the '0' prefix: hex is not a number here.
  EXPECT_EQ(clean.warnings().size(), 1u);
}

TEST(ConvertTest, StrictWritesMakeTruncationAnError) {
  EvalContext ctx;
  ctx.strict_writes = true;
  absl::StatusOr<int64_t> v = StrToInt64(&ctx, "12abc");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(GetMySqlError(v.status())->code, 1292);
  EXPECT_TRUE(StrToInt64(&ctx, "12").ok());
}

TEST(ConvertTest, NumbersToIntegers) {
  EvalContext ctx;
  EXPECT_EQ(*DoubleToInt64(&ctx, 2.5), 2);
  EXPECT_EQ(*DoubleToInt64(&ctx, 3.5), 4);
  EXPECT_EQ(*DoubleToInt64(&ctx, -2.5), -2);
  EXPECT_EQ(*DoubleToInt64(&ctx, 1e30), INT64_MAX);
  EXPECT_EQ(*DoubleToUint64(&ctx, 1e30), UINT64_MAX);
  Decimal d;
  Decimal::Parse("-2.5", &d);
  EXPECT_EQ(*DecimalToInt64(&ctx, d), -3);
  EXPECT_EQ(*DecimalToUint64(&ctx, d), 0u);
}

TEST(ConvertTest, CastDatumClipsToColumnTypes) {
  EvalContext ctx;
  FieldType tiny = FieldType::Int(TypeCode::kTiny);
  EXPECT_EQ(CastDatum(&ctx, Datum::Int(300), FieldType::LongLong(), tiny)->GetInt64(), 127);
  FieldType utiny = FieldType::Int(TypeCode::kTiny, true);
  EXPECT_EQ(CastDatum(&ctx, Datum::Int(300), FieldType::LongLong(), utiny)->GetUint64(), 255u);
  FieldType dec = FieldType::NewDecimal(5, 2);
  EXPECT_EQ(CastDatum(&ctx, Datum::Double(1.005), FieldType::Double(), dec)->ToString(), "1.01");
  EXPECT_EQ(CastDatum(&ctx, Datum::String("123456"), FieldType::Varchar(6), dec)->ToString(),
            "999.99");
  EXPECT_EQ(CastDatum(&ctx, Datum::Int(5), FieldType::LongLong(), FieldType::Float())->kind(),
            DatumKind::kFloat32);
  EXPECT_EQ(CastDatum(&ctx, Datum::String("héllo"), FieldType::Varchar(9), FieldType::Varchar(2))
                ->GetString(),
            "hé");
  EXPECT_EQ(
      CastDatum(&ctx, Datum::Int(1), FieldType::LongLong(), FieldType::Datetime())->ToString(),
      "NULL");  // 1 is not a date.
  EXPECT_TRUE(CastDatum(&ctx, Datum(), FieldType::Null(), FieldType::LongLong())->IsNull());
  EvalContext strict;
  strict.strict_writes = true;
  EXPECT_FALSE(CastDatum(&strict, Datum::Int(300), FieldType::LongLong(), tiny).ok());
}

TEST(ConvertTest, FormatDouble) {
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatDouble(1e20), "1e20");
  EXPECT_EQ(FormatDouble(-1.5e-7), "-0.00000015");
  EXPECT_EQ(FormatDouble(1e-20), "1e-20");
  EXPECT_EQ(FormatDouble(123456789012345.0), "123456789012345");
  EXPECT_EQ(FormatDouble(100), "100");
  EXPECT_EQ(FormatFloat(0.1f), "0.1");
}

TEST(CollationTest, CompareAndSortKeys) {
  const Collation ci = Collation::kUtf8mb4GeneralCi;
  EXPECT_EQ(CompareStrings("abc", "ABC", ci), 0);
  EXPECT_EQ(CompareStrings("abc ", "abc", ci), 0);
  EXPECT_EQ(CompareStrings("abc ", "abc", Collation::kUtf8mb4Bin), 0);
  EXPECT_EQ(CompareStrings("abc ", "abc", Collation::kBinary), 1);
  EXPECT_EQ(CompareStrings("é", "E", ci), 0);
  EXPECT_EQ(CompareStrings("a", "B", ci), -1);
  EXPECT_EQ(CompareStrings("a", "B", Collation::kBinary), 1);
  EXPECT_EQ(CompareStrings("ß", "s", ci), 0);
  std::vector<std::string> words = {"a", "B", "ab", "Ab ", "é", "", "\xff", "z", "Zz", "ä"};
  for (const auto& x : words) {
    for (const auto& y : words) {
      for (Collation c : {Collation::kBinary, Collation::kUtf8mb4Bin, ci}) {
        int want = CompareStrings(x, y, c);
        int got = SortKey(x, c).compare(SortKey(y, c));
        EXPECT_EQ(want, got < 0 ? -1 : (got > 0 ? 1 : 0)) << x << " " << y;
      }
    }
  }
  EXPECT_EQ(CharLength("héllo", ci), 5u);
  EXPECT_EQ(CharLength("héllo", Collation::kBinary), 6u);
  EXPECT_EQ(ToUpper("straße é", ci), "STRAßE É");
  EXPECT_EQ(ToLower("ÀÉÎ", ci), "àéî");
}

TEST(CompareTest, CoercionRules) {
  FieldType i = FieldType::LongLong(), s = FieldType::Varchar(10), d = FieldType::NewDecimal(5, 2);
  FieldType r = FieldType::Double(), dt = FieldType::Datetime(), tm = FieldType::Duration();
  EXPECT_EQ(CmpEvalType(i, s), EvalType::kReal);
  EXPECT_EQ(CmpEvalType(s, s), EvalType::kString);
  EXPECT_EQ(CmpEvalType(i, i), EvalType::kInt);
  EXPECT_EQ(CmpEvalType(i, d), EvalType::kDecimal);
  EXPECT_EQ(CmpEvalType(r, d), EvalType::kReal);
  EXPECT_EQ(CmpEvalType(dt, s), EvalType::kDatetime);
  EXPECT_EQ(CmpEvalType(tm, s), EvalType::kDuration);
  EXPECT_EQ(CmpEvalType(dt, i), EvalType::kDecimal);
  EXPECT_EQ(CmpEvalType(FieldType::Null(), s), EvalType::kString);
  std::vector<FieldType> three = {i, d, s};
  EXPECT_EQ(AggCmpEvalType(three), EvalType::kReal);
  EXPECT_EQ(CompareDatum(Datum::Int(-1), Datum::Uint(UINT64_MAX)), -1);
  EXPECT_EQ(CompareDatum(Datum::Int(INT64_MAX), Datum::Double(9.2233720368547758e18)), -1);
  EXPECT_EQ(CompareDatum(Datum(), Datum::MinNotNull()), -1);
  EXPECT_EQ(CompareDatum(Datum::String("zz"), Datum::MaxValue()), -1);
}

TEST(InferTest, ArithmeticAndAggregates) {
  FieldType i = FieldType::LongLong(), d = FieldType::NewDecimal(10, 2), r = FieldType::Double();
  EXPECT_EQ(InferArithmetic(ArithOp::kDiv, i, i).decimal, 4);
  EXPECT_EQ(InferArithmetic(ArithOp::kDiv, d, i).decimal, 6);
  EXPECT_EQ(InferArithmetic(ArithOp::kIntDiv, d, i).tp, TypeCode::kLongLong);
  EXPECT_EQ(InferArithmetic(ArithOp::kPlus, i, d).ToString(), "decimal(23,2)");
  EXPECT_EQ(InferArithmetic(ArithOp::kMul, d, d).decimal, 4);
  EXPECT_EQ(InferArithmetic(ArithOp::kPlus, i, r).tp, TypeCode::kDouble);
  EXPECT_EQ(InferSum(i).GetEvalType(), EvalType::kDecimal);
  EXPECT_EQ(InferAvg(d).decimal, 6);
  EXPECT_EQ(InferAvg(r).tp, TypeCode::kDouble);
  std::vector<FieldType> mix = {i, d};
  EXPECT_EQ(UnifyTypes(mix).ToString(), "decimal(22,2)");
  std::vector<FieldType> with_str = {i, FieldType::Varchar(5)};
  EXPECT_EQ(UnifyTypes(with_str).GetEvalType(), EvalType::kString);
  std::vector<FieldType> dates = {FieldType::Date(), FieldType::Datetime(2)};
  EXPECT_EQ(UnifyTypes(dates).ToString(), "datetime(2)");
  std::vector<FieldType> nulls = {FieldType::Null(), i};
  EXPECT_EQ(UnifyTypes(nulls).GetEvalType(), EvalType::kInt);
}

}  // namespace
}  // namespace rutile::sql
