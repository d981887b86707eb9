#include "sql/codec/codec.h"

#include <algorithm>
#include <random>

#include "gtest/gtest.h"
#include "sql/types/compare.h"

namespace rutile::sql::codec {
namespace {

Decimal Dec(const std::string& s) {
  Decimal d;
  EXPECT_NE(Decimal::Parse(s, &d), DecimalStatus::kBadNumber);
  return d;
}

std::string Key(const Datum& d, Collation c = Collation::kBinary) {
  std::string out;
  EncodeKeyDatum(&out, d, c);
  return out;
}

int Sign(int x) { return x < 0 ? -1 : (x > 0 ? 1 : 0); }

// Random values of one kind, including edge cases.
class Values {
 public:
  explicit Values(uint64_t seed) : rng_(seed) {}

  Datum Int() {
    switch (rng_() % 5) {
      case 0:
        return Datum::Int(static_cast<int64_t>(rng_()));
      case 1:
        return Datum::Int(rng_() % 2 ? INT64_MIN : INT64_MAX);
      default:
        return Datum::Int(static_cast<int64_t>(rng_() % 200) - 100);
    }
  }
  Datum Uint() { return Datum::Uint(rng_() % 3 ? rng_() % 1000 : rng_()); }
  Datum Double() {
    switch (rng_() % 4) {
      case 0:
        return Datum::Double(static_cast<double>(static_cast<int64_t>(rng_())) / 1e9);
      case 1:
        return Datum::Double(rng_() % 2 ? -0.0 : 0.0);
      default:
        return Datum::Double((static_cast<int>(rng_() % 2001) - 1000) / 8.0);
    }
  }
  Datum Dec(int scale) {
    std::string s = rng_() % 2 ? "-" : "";
    int digits = 1 + static_cast<int>(rng_() % 40);
    if (rng_() % 5 == 0) digits = 1;
    for (int i = 0; i < digits; ++i) s.push_back(static_cast<char>('0' + rng_() % 10));
    if (scale > 0) {
      s.push_back('.');
      for (int i = 0; i < scale; ++i) s.push_back(static_cast<char>('0' + rng_() % 10));
    }
    Decimal d;
    Decimal::Parse(s, &d);
    return Datum::Dec(d);
  }
  Datum Bytes() {
    std::string s;
    int n = static_cast<int>(rng_() % 20);
    static const char kBytes[] = {0x00, 0x01, 'a', 'b', static_cast<char>(0xff)};
    for (int i = 0; i < n; ++i) s.push_back(kBytes[rng_() % 5]);
    return Datum::String(s);
  }
  Datum Text() {
    static const char* kPool[] = {"a", "A", "b", "B ", "ab", "Ab", "é", "E", "", "z", "Zz", "a "};
    return Datum::String(kPool[rng_() % 12]);
  }
  Datum Time() {
    return Datum::FromTime(
        Time::FromDatetime(1000 + static_cast<int>(rng_() % 9000),
                           1 + static_cast<int>(rng_() % 12), 1 + static_cast<int>(rng_() % 28),
                           static_cast<int>(rng_() % 24), static_cast<int>(rng_() % 60),
                           static_cast<int>(rng_() % 60), static_cast<int>(rng_() % 1000000), 6));
  }
  Datum Dur() {
    Duration d;
    d.micros = static_cast<int64_t>(rng_() % (2 * Duration::kMaxMicros)) - Duration::kMaxMicros;
    d.fsp = 6;
    return Datum::FromDuration(d);
  }

 private:
  std::mt19937_64 rng_;
};

TEST(CodecTest, OrderMatchesCompareForSameTypedValues) {
  Values gen(1);
  for (int iter = 0; iter < 20000; ++iter) {
    int kind = iter % 9;
    int scale = static_cast<int>(iter % 31);
    auto make = [&]() -> std::pair<Datum, Collation> {
      switch (kind) {
        case 0:
          return {gen.Int(), Collation::kBinary};
        case 1:
          return {gen.Uint(), Collation::kBinary};
        case 2:
          return {gen.Double(), Collation::kBinary};
        case 3:
          return {gen.Dec(scale), Collation::kBinary};
        case 4:
          return {gen.Bytes(), Collation::kBinary};
        case 5:
          return {gen.Text(), Collation::kUtf8mb4GeneralCi};
        case 6:
          return {gen.Time(), Collation::kBinary};
        case 7:
          return {gen.Dur(), Collation::kBinary};
        default:
          return {gen.Text(), Collation::kUtf8mb4Bin};
      }
    };
    auto [a, c] = make();
    auto [b, c2] = make();
    int want = CompareDatum(a, b, c);
    std::string ka = Key(a, c), kb = Key(b, c);
    ASSERT_EQ(Sign(ka.compare(kb)), Sign(want))
        << a.DebugString() << " vs " << b.DebugString() << " collation " << static_cast<int>(c);
    // NULL sorts first, MaxValue last.
    ASSERT_LT(Key(Datum()), ka);
    ASSERT_LT(ka, Key(Datum::MaxValue()));
  }
}

TEST(CodecTest, DecimalsOfDifferentScalesStillOrderByValue) {
  std::vector<std::string> sorted = {
      "-1000", "-10.5",  "-10.05", "-10",
      "-9.99", "-0.001", "0",      "0.0001",
      "0.1",   "0.25",   "1",      "1.000001",
      "9.9",   "10",     "10.5",   "99999999999999999999999999999999999999999"};
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    std::string a, b;
    EncodeDecimal(&a, Dec(sorted[i]));
    EncodeDecimal(&b, Dec(sorted[i + 1]));
    EXPECT_LT(a, b) << sorted[i] << " < " << sorted[i + 1];
  }
}

TEST(CodecTest, RoundTrips) {
  Values gen(2);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<Datum> row = {gen.Int(),   gen.Uint(), gen.Double(), gen.Dec(iter % 31),
                              gen.Bytes(), Datum(),    gen.Dur(),    Datum::MaxValue()};
    std::string key;
    EncodeKey(&key, row);
    absl::StatusOr<std::vector<Datum>> back = DecodeKey(key);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), row.size());
    for (size_t i = 0; i < row.size(); ++i) {
      ASSERT_TRUE((*back)[i].IdenticalTo(row[i]) ||
                  (row[i].kind() == DatumKind::kFloat64 && row[i].GetDouble() == 0 &&
                   (*back)[i].GetDouble() == 0))
          << i << ": " << row[i].DebugString() << " -> " << (*back)[i].DebugString();
    }
    // Times need their type to come back.
    Datum t = gen.Time();
    std::string tk = Key(t);
    std::string_view in = tk;
    absl::StatusOr<Datum> tb = DecodeKeyDatumAs(&in, FieldType::Datetime(6));
    ASSERT_TRUE(tb.ok());
    ASSERT_TRUE(tb->IdenticalTo(t)) << t.DebugString() << " -> " << tb->DebugString();
    ASSERT_TRUE(in.empty());
    // PeekKeyDatumLength agrees with decoding.
    absl::StatusOr<size_t> len = PeekKeyDatumLength(key);
    ASSERT_TRUE(len.ok());
    std::string first;
    EncodeKeyDatum(&first, row[0]);
    ASSERT_EQ(*len, first.size());
  }
}

TEST(CodecTest, CollatedStringsEncodeTheirSortKey) {
  EXPECT_EQ(Key(Datum::String("abc"), Collation::kUtf8mb4GeneralCi),
            Key(Datum::String("ABC  "), Collation::kUtf8mb4GeneralCi));
  EXPECT_NE(Key(Datum::String("abc")), Key(Datum::String("ABC")));
}

TEST(CodecTest, StrictDecodingRejectsBadBytes) {
  // Truncations of valid keys and random bytes never crash; decoding either fails or
  // returns values that re-encode to exactly the input.
  Values gen(3);
  std::mt19937_64 rng(4);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<Datum> row = {gen.Dec(iter % 31), gen.Bytes(), gen.Int(), gen.Dur()};
    std::string key;
    EncodeKey(&key, row);
    std::string bad = key;
    switch (iter % 3) {
      case 0:
        bad.resize(rng() % key.size());
        break;
      case 1:
        bad[rng() % bad.size()] = static_cast<char>(rng());
        break;
      default:
        bad.clear();
        for (int i = 0; i < static_cast<int>(rng() % 24); ++i)
          bad.push_back(static_cast<char>(rng()));
        break;
    }
    absl::StatusOr<std::vector<Datum>> got = DecodeKey(bad);
    if (got.ok()) {
      std::string again;
      EncodeKey(&again, *got);
      ASSERT_EQ(again, bad);
    }
  }
  std::string_view empty;
  EXPECT_FALSE(DecodeKeyDatum(&empty).ok());
  std::string unknown = "\x63";
  std::string_view u = unknown;
  EXPECT_FALSE(DecodeKeyDatum(&u).ok());
  EXPECT_EQ(u.size(), 1u);  // Cursor unchanged on error.
  // A decimal whose scale byte is too small for its digits.
  std::string d;
  EncodeDecimal(&d, Dec("1.25"));
  d.back() = 1;
  std::string_view dv = d;
  EXPECT_FALSE(DecodeDecimal(&dv).ok());
}

}  // namespace
}  // namespace rutile::sql::codec
