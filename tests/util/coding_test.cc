#include "util/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace rutile {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

TEST(CodingTest, FixedLittleAndBigEndianLayout) {
  std::string s;
  PutFixed32(&s, 0x01020304);
  PutFixed32BE(&s, 0x01020304);
  PutFixed64(&s, 0x0102030405060708ULL);
  PutFixed64BE(&s, 0x0102030405060708ULL);
  EXPECT_EQ(s, Bytes({4, 3, 2, 1, 1, 2, 3, 4, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8}));

  std::string_view in = s;
  uint32_t a = 0, b = 0;
  uint64_t c = 0, d = 0;
  ASSERT_TRUE(GetFixed32(&in, &a));
  ASSERT_TRUE(GetFixed32BE(&in, &b));
  ASSERT_TRUE(GetFixed64(&in, &c));
  ASSERT_TRUE(GetFixed64BE(&in, &d));
  EXPECT_EQ(a, 0x01020304u);
  EXPECT_EQ(b, 0x01020304u);
  EXPECT_EQ(c, 0x0102030405060708ULL);
  EXPECT_EQ(d, 0x0102030405060708ULL);
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, FixedDecodeFailsOnTruncatedInputAndKeepsCursor) {
  std::string s(7, 'x');
  std::string_view in(s.data(), 3);
  uint32_t v32 = 0;
  uint64_t v64 = 0;
  EXPECT_FALSE(GetFixed32(&in, &v32));
  EXPECT_FALSE(GetFixed32BE(&in, &v32));
  EXPECT_EQ(in.size(), 3u);
  in = std::string_view(s.data(), 7);
  EXPECT_FALSE(GetFixed64(&in, &v64));
  EXPECT_FALSE(GetFixed64BE(&in, &v64));
  EXPECT_EQ(in.size(), 7u);
}

TEST(CodingTest, VarintKnownEncodings) {
  std::string s;
  PutVarint32(&s, 0);
  PutVarint32(&s, 127);
  PutVarint32(&s, 128);
  PutVarint32(&s, 300);
  EXPECT_EQ(s, Bytes({0x00, 0x7f, 0x80, 0x01, 0xac, 0x02}));
  s.clear();
  PutVarint64(&s, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(s, Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  EXPECT_EQ(VarintLength(0), 1u);
  EXPECT_EQ(VarintLength(127), 1u);
  EXPECT_EQ(VarintLength(128), 2u);
  EXPECT_EQ(VarintLength(std::numeric_limits<uint64_t>::max()), 10u);
}

TEST(CodingTest, VarintRoundTripRandomAndBoundaries) {
  std::vector<uint64_t> values = {
      0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT32_MAX + 1ULL, UINT64_MAX - 1, UINT64_MAX};
  for (int shift = 0; shift < 64; ++shift) {
    values.push_back(1ULL << shift);
    values.push_back((1ULL << shift) - 1);
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) values.push_back(rng() >> (rng() % 64));

  std::string s;
  for (uint64_t v : values) PutVarint64(&s, v);
  std::string_view in = s;
  for (uint64_t v : values) {
    uint64_t got = 0;
    ASSERT_TRUE(GetVarint64(&in, &got));
    ASSERT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());

  for (uint64_t v : values) {
    std::string one;
    PutVarint64(&one, v);
    ASSERT_EQ(one.size(), VarintLength(v));
    // Every strict prefix is truncated and fails without moving the cursor.
    for (size_t n = 0; n < one.size(); ++n) {
      std::string_view prefix(one.data(), n);
      uint64_t got = 0;
      ASSERT_FALSE(GetVarint64(&prefix, &got)) << v << " prefix " << n;
      ASSERT_EQ(prefix.size(), n);
    }
    if (v <= UINT32_MAX) {
      std::string_view in32 = one;
      uint32_t got = 0;
      ASSERT_TRUE(GetVarint32(&in32, &got));
      ASSERT_EQ(got, v);
    } else {
      std::string_view in32 = one;
      uint32_t got = 0;
      ASSERT_FALSE(GetVarint32(&in32, &got)) << v;
    }
  }
}

TEST(CodingTest, VarintRejectsOverflowOverlongAndNonMinimal) {
  uint64_t v64 = 0;
  uint32_t v32 = 0;
  // 11 bytes.
  std::string s = Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01});
  std::string_view in = s;
  EXPECT_FALSE(GetVarint64(&in, &v64));
  // Tenth byte carries bits above 2^64.
  s = Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
  in = s;
  EXPECT_FALSE(GetVarint64(&in, &v64));
  // 2^32 as a varint32.
  s = Bytes({0x80, 0x80, 0x80, 0x80, 0x10});
  in = s;
  EXPECT_FALSE(GetVarint32(&in, &v32));
  // Non-minimal zero and one.
  s = Bytes({0x80, 0x00});
  in = s;
  EXPECT_FALSE(GetVarint64(&in, &v64));
  s = Bytes({0x81, 0x80, 0x00});
  in = s;
  EXPECT_FALSE(GetVarint32(&in, &v32));
  EXPECT_EQ(in.size(), 3u);
}

TEST(CodingTest, ZigZagSignedVarint) {
  EXPECT_EQ(ZigZagEncode64(0), 0u);
  EXPECT_EQ(ZigZagEncode64(-1), 1u);
  EXPECT_EQ(ZigZagEncode64(1), 2u);
  EXPECT_EQ(ZigZagEncode64(std::numeric_limits<int64_t>::min()), UINT64_MAX);
  std::string s;
  const std::vector<int64_t> values = {
      0, -1, 1, -64, 64, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  for (int64_t v : values) PutVarsint64(&s, v);
  std::string_view in = s;
  for (int64_t v : values) {
    int64_t got = 0;
    ASSERT_TRUE(GetVarsint64(&in, &got));
    EXPECT_EQ(got, v);
  }
}

TEST(CodingTest, LengthPrefixedRoundTripAndTruncation) {
  std::string s;
  PutLengthPrefixed(&s, "");
  PutLengthPrefixed(&s, "hello");
  PutLengthPrefixed(&s, std::string(300, 'z'));
  std::string_view in = s;
  std::string_view v;
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "hello");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, std::string(300, 'z'));
  EXPECT_TRUE(in.empty());

  std::string one;
  PutLengthPrefixed(&one, "hello");
  for (size_t n = 0; n < one.size(); ++n) {
    std::string_view prefix(one.data(), n);
    EXPECT_FALSE(GetLengthPrefixed(&prefix, &v));
    EXPECT_EQ(prefix.size(), n);
  }
}

}  // namespace
}  // namespace rutile
