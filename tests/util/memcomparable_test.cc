// Tests the memcomparable codec: known layouts, and property tests over 100,000 random
// pairs per encoding checking that byte order equals value order (reversed for *Desc),
// that decode(encode(x)) == x, and that every truncation and corruption is either
// rejected without moving the cursor or decodes to something that re-encodes to exactly
// the bytes consumed.

#include "util/memcomparable.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"

namespace rutile::memcomparable {
namespace {

constexpr int kPairs = 100000;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// Order of encoded keys: unsigned bytewise, shorter first on a common prefix.
int CompareKeys(const std::string& a, const std::string& b) {
  return std::string_view(a).compare(std::string_view(b)) < 0   ? -1
         : std::string_view(a).compare(std::string_view(b)) > 0 ? 1
                                                                : 0;
}

template <typename T>
int CompareValues(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// One encoding under test.
template <typename T>
struct Codec {
  const char* name;
  std::function<void(std::string*, const T&)> encode;
  // Decodes one value from *in; returns false on error (and must not move *in then).
  std::function<bool(std::string_view*, T*)> decode;
  bool descending;
};

template <typename T>
void CheckPair(const Codec<T>& codec, const T& a, const T& b) {
  std::string ea, eb;
  codec.encode(&ea, a);
  codec.encode(&eb, b);
  int want = CompareValues(a, b);
  if (codec.descending) want = -want;
  ASSERT_EQ(CompareKeys(ea, eb), want)
      << codec.name << ": " << absl::CHexEscape(absl::string_view(ea)) << " vs "
      << absl::CHexEscape(absl::string_view(eb));
  // Decoding consumes exactly the encoding, even when another value follows.
  std::string both = ea + eb;
  std::string_view in = both;
  T da{}, db{};
  ASSERT_TRUE(codec.decode(&in, &da)) << codec.name;
  ASSERT_EQ(in.size(), eb.size()) << codec.name;
  ASSERT_TRUE(codec.decode(&in, &db)) << codec.name;
  ASSERT_TRUE(in.empty()) << codec.name;
  ASSERT_EQ(CompareValues(da, a), 0) << codec.name;
  ASSERT_EQ(CompareValues(db, b), 0) << codec.name;
}

// Every strict prefix fails and leaves the cursor alone; a corrupted byte either fails
// the same way or decodes to a value that re-encodes to exactly the consumed bytes.
template <typename T>
void CheckDamage(const Codec<T>& codec, const T& v, std::mt19937_64& rng) {
  std::string e;
  codec.encode(&e, v);
  for (size_t n = 0; n < e.size(); ++n) {
    // Copy into an exactly sized heap buffer so ASan flags any read past the prefix.
    std::unique_ptr<char[]> buf(new char[n == 0 ? 1 : n]);
    memcpy(buf.get(), e.data(), n);
    std::string_view in(buf.get(), n);
    T out{};
    ASSERT_FALSE(codec.decode(&in, &out)) << codec.name << " prefix " << n;
    ASSERT_EQ(in.size(), n) << codec.name;
  }
  std::string bad = e;
  bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
  std::unique_ptr<char[]> buf(new char[bad.size()]);
  memcpy(buf.get(), bad.data(), bad.size());
  std::string_view in(buf.get(), bad.size());
  T out{};
  if (codec.decode(&in, &out)) {
    const size_t consumed = bad.size() - in.size();
    std::string again;
    codec.encode(&again, out);
    ASSERT_EQ(again, bad.substr(0, consumed)) << codec.name << " " << absl::CHexEscape(bad);
  } else {
    ASSERT_EQ(in.size(), bad.size()) << codec.name;
  }
}

template <typename T>
void RunProperty(const Codec<T>& codec, const std::function<T(std::mt19937_64&)>& gen) {
  std::mt19937_64 rng(0x5eed);
  for (int i = 0; i < kPairs; ++i) {
    const T a = gen(rng);
    const T b = (rng() % 8 == 0) ? a : gen(rng);
    CheckPair(codec, a, b);
    if (::testing::Test::HasFatalFailure()) return;
    if (i % 10 == 0) {
      CheckDamage(codec, a, rng);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

int64_t RandomInt64(std::mt19937_64& rng) {
  static const int64_t kEdges[] = {0,
                                   1,
                                   -1,
                                   239,
                                   240,
                                   255,
                                   256,
                                   -255,
                                   -256,
                                   std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int32_t>::min(),
                                   std::numeric_limits<int32_t>::max()};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % std::size(kEdges)];
    case 1:
      return static_cast<int64_t>(rng() % 1000) - 500;
    case 2:  // Random magnitude, both signs.
      return static_cast<int64_t>(rng()) >> (rng() % 64);
    default:
      return static_cast<int64_t>(rng());
  }
}

uint64_t RandomUint64(std::mt19937_64& rng) {
  switch (rng() % 3) {
    case 0:
      return rng() % 600;
    case 1:
      return rng() >> (rng() % 64);
    default:
      return rng();
  }
}

double RandomDouble(std::mt19937_64& rng) {
  static const double kEdges[] = {0.0,
                                  -0.0,
                                  1.0,
                                  -1.0,
                                  std::numeric_limits<double>::infinity(),
                                  -std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::max(),
                                  std::numeric_limits<double>::lowest(),
                                  std::numeric_limits<double>::min(),
                                  -std::numeric_limits<double>::min(),
                                  std::numeric_limits<double>::denorm_min(),
                                  -std::numeric_limits<double>::denorm_min()};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % std::size(kEdges)];
    case 1:
      return static_cast<double>(static_cast<int64_t>(rng() % 200) - 100) / 8;
    default: {
      // Any bit pattern except NaN, which has no place in an order.
      double d;
      do {
        d = std::bit_cast<double>(rng());
      } while (std::isnan(d));
      return d;
    }
  }
}

std::string RandomString(std::mt19937_64& rng) {
  // Short strings over a tiny alphabet that includes 0x00 and 0xFF, so equal prefixes,
  // group boundaries (lengths 7, 8, 9, 16) and pad-like bytes are all common.
  static const char kAlphabet[] = {'\0', '\x01', 'a', 'b', '\xfe', '\xff'};
  const size_t len = rng() % 4 == 0 ? 8 * (rng() % 3) + rng() % 2 : rng() % 20;
  std::string s(len, '\0');
  for (char& c : s) c = kAlphabet[rng() % std::size(kAlphabet)];
  return s;
}

template <typename T>
std::function<bool(std::string_view*, T*)> FromStatusOr(
    absl::StatusOr<T> (*decode)(std::string_view*)) {
  return [decode](std::string_view* in, T* out) {
    absl::StatusOr<T> v = decode(in);
    if (!v.ok()) return false;
    *out = *v;
    return true;
  };
}

std::function<bool(std::string_view*, std::string*)> FromStatus(
    absl::Status (*decode)(std::string_view*, std::string*)) {
  return [decode](std::string_view* in, std::string* out) {
    out->clear();
    return decode(in, out).ok();
  };
}

TEST(MemcomparableTest, BytesKnownLayout) {
  std::string e;
  EncodeBytes(&e, "");
  EXPECT_EQ(e, Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0xf7}));
  e.clear();
  EncodeBytes(&e, std::string("\x01\x02\x03", 3));
  EXPECT_EQ(e, Bytes({1, 2, 3, 0, 0, 0, 0, 0, 0xfa}));
  e.clear();
  EncodeBytes(&e, std::string("\x01\x02\x03\x00", 4));
  EXPECT_EQ(e, Bytes({1, 2, 3, 0, 0, 0, 0, 0, 0xfb}));
  e.clear();
  EncodeBytes(&e, "12345678");
  EXPECT_EQ(e, std::string("12345678\xff", 9) + Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0xf7}));
  EXPECT_EQ(e.size(), EncodedBytesLength(8));
  e.clear();
  EncodeBytesDesc(&e, "");
  EXPECT_EQ(e, Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x08}));
}

TEST(MemcomparableTest, NumbersKnownLayout) {
  std::string e;
  EncodeInt64(&e, 0);
  EXPECT_EQ(e, Bytes({0x80, 0, 0, 0, 0, 0, 0, 0}));
  e.clear();
  EncodeInt64(&e, -1);
  EXPECT_EQ(e, Bytes({0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  e.clear();
  EncodeUint64(&e, 0x0102);
  EXPECT_EQ(e, Bytes({0, 0, 0, 0, 0, 0, 1, 2}));
  e.clear();
  EncodeFloat64(&e, 0.0);
  EXPECT_EQ(e, Bytes({0x80, 0, 0, 0, 0, 0, 0, 0}));
  std::string neg_zero;
  EncodeFloat64(&neg_zero, -0.0);
  EXPECT_EQ(neg_zero, e);
  e.clear();
  EncodeComparableUvarint(&e, 5);
  EncodeComparableUvarint(&e, 239);
  EncodeComparableUvarint(&e, 240);
  EncodeComparableUvarint(&e, 300);
  EXPECT_EQ(e, Bytes({0x0d, 0xf7, 0xf8, 0xf0, 0xf9, 0x01, 0x2c}));
  e.clear();
  EncodeComparableVarint(&e, -1);
  EncodeComparableVarint(&e, -300);
  EXPECT_EQ(e, Bytes({0x07, 0xff, 0x06, 0xfe, 0xd4}));
}

TEST(MemcomparableTest, BytesOrderAndRoundTrip) {
  RunProperty<std::string>({"bytes", EncodeBytes, FromStatus(DecodeBytes), false}, RandomString);
}

TEST(MemcomparableTest, BytesDescOrderAndRoundTrip) {
  RunProperty<std::string>({"bytes_desc", EncodeBytesDesc, FromStatus(DecodeBytesDesc), true},
                           RandomString);
}

TEST(MemcomparableTest, Int64OrderAndRoundTrip) {
  RunProperty<int64_t>({"int64", EncodeInt64, FromStatusOr(DecodeInt64), false}, RandomInt64);
  RunProperty<int64_t>({"int64_desc", EncodeInt64Desc, FromStatusOr(DecodeInt64Desc), true},
                       RandomInt64);
}

TEST(MemcomparableTest, Uint64OrderAndRoundTrip) {
  RunProperty<uint64_t>({"uint64", EncodeUint64, FromStatusOr(DecodeUint64), false}, RandomUint64);
  RunProperty<uint64_t>({"uint64_desc", EncodeUint64Desc, FromStatusOr(DecodeUint64Desc), true},
                        RandomUint64);
}

TEST(MemcomparableTest, Float64OrderAndRoundTrip) {
  RunProperty<double>({"float64", EncodeFloat64, FromStatusOr(DecodeFloat64), false}, RandomDouble);
  RunProperty<double>({"float64_desc", EncodeFloat64Desc, FromStatusOr(DecodeFloat64Desc), true},
                      RandomDouble);
}

TEST(MemcomparableTest, ComparableVarintOrderAndRoundTrip) {
  RunProperty<int64_t>(
      {"cmp_varint", EncodeComparableVarint, FromStatusOr(DecodeComparableVarint), false},
      RandomInt64);
  RunProperty<uint64_t>(
      {"cmp_uvarint", EncodeComparableUvarint, FromStatusOr(DecodeComparableUvarint), false},
      RandomUint64);
}

TEST(MemcomparableTest, ComparableVarintLengthsAtEveryBoundary) {
  for (int n = 1; n <= 8; ++n) {
    // The largest magnitude that fits n bytes, and the next one.
    const uint64_t top = n == 8 ? UINT64_MAX : (1ULL << (8 * n)) - 1;
    for (uint64_t u : {top - 1, top, top + 1}) {
      std::string e;
      EncodeComparableUvarint(&e, u);
      std::string_view in = e;
      absl::StatusOr<uint64_t> got = DecodeComparableUvarint(&in);
      ASSERT_TRUE(got.ok()) << u;
      EXPECT_EQ(*got, u);
      EXPECT_TRUE(in.empty());
    }
    if (n < 8) {
      const int64_t edge = -static_cast<int64_t>(top);
      for (int64_t v : {edge + 1, edge, edge - 1}) {
        std::string e;
        EncodeComparableVarint(&e, v);
        std::string_view in = e;
        absl::StatusOr<int64_t> got = DecodeComparableVarint(&in);
        ASSERT_TRUE(got.ok()) << v;
        EXPECT_EQ(*got, v);
      }
    }
  }
}

TEST(MemcomparableTest, CompactBytesRoundTripAndErrors) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const std::string s = RandomString(rng);
    std::string e;
    EncodeCompactBytes(&e, s);
    e += "tail";
    std::string_view in = e;
    absl::StatusOr<std::string_view> got = DecodeCompactBytes(&in);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, s);
    EXPECT_EQ(in, "tail");
  }
  std::string negative = Bytes({0x01});  // Zigzag -1.
  std::string_view in = negative;
  EXPECT_EQ(DecodeCompactBytes(&in).status().code(), absl::StatusCode::kInvalidArgument);
  std::string too_long = Bytes({0x0a, 'a', 'b'});  // Length 5, two bytes.
  in = too_long;
  EXPECT_EQ(DecodeCompactBytes(&in).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(in.size(), 3u);
}

TEST(MemcomparableTest, BytesRejectsBadMarkerAndPadding) {
  std::string e;
  EncodeBytes(&e, "abc");
  std::string out = "keep";

  std::string bad_marker = e;
  bad_marker[8] = static_cast<char>(0xF6);  // Nine pad bytes.
  std::string_view in = bad_marker;
  absl::Status s = DecodeBytes(&in, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("marker"), std::string_view::npos) << s;
  EXPECT_EQ(in.size(), bad_marker.size());
  EXPECT_EQ(out, "keep");

  std::string bad_pad = e;
  bad_pad[5] = 'x';
  in = bad_pad;
  s = DecodeBytes(&in, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("padding"), std::string_view::npos) << s;
  EXPECT_EQ(out, "keep");

  // A full group promises more; if none follows, the input is truncated.
  std::string full;
  EncodeBytes(&full, "12345678");
  in = std::string_view(full.data(), 9);
  s = DecodeBytes(&in, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("truncated"), std::string_view::npos) << s;

  // An ascending encoding read as descending is garbage, and vice versa.
  in = e;
  EXPECT_FALSE(DecodeBytesDesc(&in, &out).ok());
}

TEST(MemcomparableTest, PeekBytesLengthSkipsAColumn) {
  std::string e;
  EncodeBytes(&e, "0123456789");
  const size_t first = e.size();
  EncodeInt64(&e, 7);
  absl::StatusOr<size_t> n = PeekBytesLength(e);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, first);
  std::string d;
  EncodeBytesDesc(&d, "xy");
  n = PeekBytesLength(d, /*descending=*/true);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 9u);
  EXPECT_FALSE(PeekBytesLength(std::string_view(d.data(), 8), true).ok());
}

TEST(MemcomparableTest, FloatRejectsNegativeZeroEncoding) {
  // The bytes -0.0 would map to if it were not folded into +0.0.
  std::string e = Bytes({0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  std::string_view in = e;
  EXPECT_FALSE(DecodeFloat64(&in).ok());
  EXPECT_EQ(in.size(), 8u);
}

TEST(MemcomparableTest, ComparableVarintRejectsNonCanonical) {
  // 5 written with a one-byte payload instead of the single-byte form.
  std::string e = Bytes({0xf8, 0x05});
  std::string_view in = e;
  EXPECT_FALSE(DecodeComparableUvarint(&in).ok());
  // -1 written with two payload bytes.
  e = Bytes({0x06, 0xff, 0xff});
  in = e;
  EXPECT_FALSE(DecodeComparableVarint(&in).ok());
  // A negative tag read as unsigned.
  e = Bytes({0x07, 0xff});
  in = e;
  EXPECT_FALSE(DecodeComparableUvarint(&in).ok());
  // Eight payload bytes holding a non-negative value under a negative tag.
  e = Bytes({0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  in = e;
  EXPECT_FALSE(DecodeComparableVarint(&in).ok());
  // A uvarint above INT64_MAX read as signed.
  e.clear();
  EncodeComparableUvarint(&e, UINT64_MAX);
  in = e;
  EXPECT_FALSE(DecodeComparableVarint(&in).ok());
  EXPECT_EQ(in.size(), e.size());
}

}  // namespace
}  // namespace rutile::memcomparable
