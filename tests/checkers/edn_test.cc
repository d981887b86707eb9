#include "checkers/edn.h"

#include "gtest/gtest.h"

namespace rutile::checkers {
namespace {

TEST(Edn, ParsesScalars) {
  EXPECT_TRUE(ParseEdn("nil")->IsNil());
  EXPECT_EQ(ParseEdn("-42")->int_value, -42);
  EXPECT_EQ(ParseEdn("7N")->int_value, 7);
  EXPECT_EQ(ParseEdn("1.5")->float_value, 1.5);
  EXPECT_TRUE(ParseEdn("true")->bool_value);
  EXPECT_EQ(ParseEdn(R"("a \"q\"\n")")->text, "a \"q\"\n");
  EXPECT_TRUE(ParseEdn(":invoke")->IsKeyword("invoke"));
  EXPECT_EQ(ParseEdn("jepsen.util")->kind, EdnValue::Kind::kSymbol);
}

TEST(Edn, ParsesCollections) {
  absl::StatusOr<EdnValue> v = ParseEdn("{:a [1 2, (3 nil)] :b #{:x} ; comment\n :c {\"k\" -1}}");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->kind, EdnValue::Kind::kMap);
  const EdnValue* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 3u);
  EXPECT_EQ(a->items[2].kind, EdnValue::Kind::kList);
  EXPECT_TRUE(a->items[2].items[1].IsNil());
  EXPECT_EQ(v->Find("b")->kind, EdnValue::Kind::kSet);
  EXPECT_EQ(v->Find("c")->items[1].int_value, -1);
  EXPECT_EQ(v->Find("missing"), nullptr);
  EXPECT_EQ(v->ToString(), "{:a [1 2 (3 nil)] :b #{:x} :c {\"k\" -1}}");
}

TEST(Edn, ParsesManyTopLevelValues) {
  absl::StatusOr<std::vector<EdnValue>> vs = ParseEdnAll("{:a 1}\n{:a 2}\n#_ {:a 3} [4]\n");
  ASSERT_TRUE(vs.ok()) << vs.status();
  ASSERT_EQ(vs->size(), 3u);
  EXPECT_EQ((*vs)[1].Find("a")->int_value, 2);
  EXPECT_TRUE((*vs)[2].IsSequence());
}

TEST(Edn, RejectsMalformedInput) {
  EXPECT_FALSE(ParseEdn("[1 2").ok());
  EXPECT_FALSE(ParseEdn("{:a}").ok());
  EXPECT_FALSE(ParseEdn("\"open").ok());
  EXPECT_FALSE(ParseEdn("]").ok());
  EXPECT_FALSE(ParseEdn("1 2").ok());
  EXPECT_FALSE(ParseEdn("").ok());
}

}  // namespace
}  // namespace rutile::checkers
