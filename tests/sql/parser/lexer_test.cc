#include "sql/parser/lexer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rutile::sql {
namespace {

std::vector<TokenKind> Kinds(std::string_view sql) {
  std::vector<TokenKind> out;
  for (const Token& t : Tokenize(sql)) out.push_back(t.kind);
  return out;
}

using K = TokenKind;

TEST(LexerTest, OperatorsAreLongestMatch) {
  EXPECT_EQ(
      Kinds("<=> := || && << >> != <> <= >= < > = ! ~ ^ & | + - * / % -> ->>"),
      (std::vector<K>{K::kNullSafeEq,  K::kAssign, K::kPipes, K::kAndAnd, K::kShl,     K::kShr,
                      K::kNe,          K::kNe,     K::kLe,    K::kGe,     K::kLt,      K::kGt,
                      K::kEq,          K::kBang,   K::kTilde, K::kCaret,  K::kAmp,     K::kPipe,
                      K::kPlus,        K::kMinus,  K::kStar,  K::kSlash,  K::kPercent, K::kArrow,
                      K::kDoubleArrow, K::kEof}));
}

TEST(LexerTest, ReservedAndNonReservedKeywords) {
  std::vector<Token> t = Tokenize("select Status `select` value");
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0].kind, K::kKeyword);
  EXPECT_EQ(t[0].kw, Kw::kSELECT);
  EXPECT_EQ(t[1].kind, K::kIdent);  // non-reserved: usable as a name
  EXPECT_EQ(t[1].kw, Kw::kSTATUS);
  EXPECT_EQ(t[2].kind, K::kQuotedIdent);
  EXPECT_EQ(t[2].value, "select");
  EXPECT_EQ(t[2].kw, Kw::kNone);
  EXPECT_EQ(t[3].kind, K::kIdent);
  EXPECT_EQ(t[3].kw, Kw::kVALUE);
  EXPECT_TRUE(IsReserved(Kw::kSELECT));
  EXPECT_FALSE(IsReserved(Kw::kCOMMENT));
  EXPECT_EQ(LookupKeyword("sElEcT"), Kw::kSELECT);
  EXPECT_EQ(LookupKeyword("col0"), Kw::kNone);
}

TEST(LexerTest, QuotedIdentifierDoublesBackquote) {
  std::vector<Token> t = Tokenize("`a``b`");
  EXPECT_EQ(t[0].kind, K::kQuotedIdent);
  EXPECT_EQ(t[0].value, "a`b");
}

TEST(LexerTest, StringEscapesAndDoubledQuotes) {
  std::vector<Token> t = Tokenize(R"('it''s' "say ""hi""" 'a\nb\t\0\\\'\Z\%\_\q')");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].value, "it's");
  EXPECT_EQ(t[1].kind, K::kString);
  EXPECT_EQ(t[1].value, "say \"hi\"");
  EXPECT_EQ(t[2].value, std::string("a\nb\t\0\\'\x1a\\%\\_q", 13));
}

TEST(LexerTest, Numbers) {
  std::vector<Token> t = Tokenize("42 3.14 .5 1. 1e10 2.5E-3 0x1F X'0a' 0b101 b'11' 123abc 0xZZ");
  EXPECT_EQ(t[0].kind, K::kInt);
  EXPECT_EQ(t[1].kind, K::kDecimal);
  EXPECT_EQ(t[2].kind, K::kDecimal);
  EXPECT_EQ(t[2].text, ".5");
  EXPECT_EQ(t[3].kind, K::kDecimal);
  EXPECT_EQ(t[4].kind, K::kFloat);
  EXPECT_EQ(t[5].kind, K::kFloat);
  EXPECT_EQ(t[5].text, "2.5E-3");
  EXPECT_EQ(t[6].kind, K::kHex);
  EXPECT_EQ(t[6].value, "1F");
  EXPECT_EQ(t[7].kind, K::kHex);
  EXPECT_EQ(t[7].value, "0a");
  EXPECT_EQ(t[8].kind, K::kBit);
  EXPECT_EQ(t[8].value, "101");
  EXPECT_EQ(t[9].kind, K::kBit);
  EXPECT_EQ(t[9].value, "11");
  EXPECT_EQ(t[10].kind, K::kIdent);  // identifiers may start with digits
  EXPECT_EQ(t[10].text, "123abc");
  EXPECT_EQ(t[11].kind, K::kIdent);
}

TEST(LexerTest, Variables) {
  std::vector<Token> t =
      Tokenize("@v @`a b` @'q' @@autocommit @@session.tx_isolation @@GLOBAL.x @@local.y ?");
  EXPECT_EQ(t[0].kind, K::kUserVar);
  EXPECT_EQ(t[0].value, "v");
  EXPECT_EQ(t[1].value, "a b");
  EXPECT_EQ(t[2].value, "q");
  EXPECT_EQ(t[3].kind, K::kSysVar);
  EXPECT_EQ(t[3].scope, VarScope::kDefault);
  EXPECT_EQ(t[3].value, "autocommit");
  EXPECT_EQ(t[4].scope, VarScope::kSession);
  EXPECT_EQ(t[4].value, "tx_isolation");
  EXPECT_EQ(t[5].scope, VarScope::kGlobal);
  EXPECT_EQ(t[6].scope, VarScope::kLocal);
  EXPECT_EQ(t[7].kind, K::kParam);
}

TEST(LexerTest, CommentsAreSkipped) {
  EXPECT_EQ(Kinds("1 -- comment\n2 # another\n3 /* block\n */ 4 --\n5"),
            (std::vector<K>{K::kInt, K::kInt, K::kInt, K::kInt, K::kInt, K::kEof}));
  // "--" not followed by a space is two minus signs.
  EXPECT_EQ(Kinds("1--2"), (std::vector<K>{K::kInt, K::kMinus, K::kMinus, K::kInt, K::kEof}));
}

TEST(LexerTest, ExecutableCommentsAreLexedAsSql) {
  std::vector<Token> t = Tokenize("a /*! ENGINE = innodb */ b /*!50100 c */ /*!99999 d */ e");
  std::vector<std::string> texts;
  for (const Token& tok : t) texts.emplace_back(tok.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"a", "ENGINE", "=", "innodb", "b", "c", "e", ""}));
}

TEST(LexerTest, HintAttachesToFollowingToken) {
  std::vector<Token> t = Tokenize("SELECT /*+ MAX_EXECUTION_TIME(10) */ a");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].hint, "");
  EXPECT_EQ(t[1].hint, " MAX_EXECUTION_TIME(10) ");
}

TEST(LexerTest, PositionsCountLinesAndColumns) {
  std::vector<Token> t = Tokenize("SELECT\n  a,\n\tbc");
  ASSERT_GE(t.size(), 4u);
  EXPECT_EQ(t[0].line, 1u);
  EXPECT_EQ(t[0].column, 1u);
  EXPECT_EQ(t[1].line, 2u);
  EXPECT_EQ(t[1].column, 3u);
  EXPECT_EQ(t[1].offset, 9u);
  EXPECT_EQ(t[3].line, 3u);
  EXPECT_EQ(t[3].column, 2u);
}

TEST(LexerTest, MalformedInputEndsWithAnErrorToken) {
  for (std::string_view bad :
       {"'abc", "\"abc", "`abc", "/* open", "X'0G'", "X'abc'", "a : b", "/*! SELECT 1"}) {
    std::vector<Token> t = Tokenize(bad);
    ASSERT_FALSE(t.empty());
    EXPECT_EQ(t.back().kind, K::kError) << bad;
  }
}

TEST(LexerTest, NullEscape) {
  std::vector<Token> t = Tokenize("\\N");
  EXPECT_EQ(t[0].kw, Kw::kNULL);
}

}  // namespace
}  // namespace rutile::sql
