#include "sql/codec/rowcodec.h"

#include <random>

#include "gtest/gtest.h"

namespace rutile::sql::codec {
namespace {

Decimal Dec(const std::string& s) {
  Decimal d;
  Decimal::Parse(s, &d);
  return d;
}

std::vector<RowColumn> Schema() {
  std::vector<RowColumn> cols(8);
  cols[0] = {1, FieldType::LongLong(), Datum(), true};
  cols[1] = {2, FieldType::Int(TypeCode::kLong), Datum(), false};
  cols[2] = {3, FieldType::LongLong(true), Datum(), false};
  cols[3] = {4, FieldType::Double(), Datum(), false};
  cols[4] = {5, FieldType::NewDecimal(12, 3), Datum(), false};
  cols[5] = {6, FieldType::Varchar(20), Datum(), false};
  cols[6] = {7, FieldType::Datetime(3), Datum(), false};
  cols[7] = {300, FieldType::Duration(0), Datum::FromDuration(Duration{5000000, 0}), false};
  return cols;
}

TEST(RowCodecTest, RoundTripIntoDatumsAndChunk) {
  std::vector<int64_t> ids = {2, 3, 4, 5, 6, 7};
  Time t = Time::FromDatetime(2024, 1, 2, 3, 4, 5, 123000, 3);
  std::vector<Datum> values = {Datum::Int(-70000),     Datum::Uint(UINT64_MAX),
                               Datum::Double(1.5),     Datum::Dec(Dec("-12.500")),
                               Datum::String("héllo"), Datum::FromTime(t)};
  absl::StatusOr<std::string> row = EncodeRow(ids, values);
  ASSERT_TRUE(row.ok()) << row.status();
  RowDecoder dec(Schema());
  absl::StatusOr<std::vector<Datum>> got = dec.Decode(*row, 99);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 8u);
  EXPECT_EQ((*got)[0].GetInt64(), 99);  // The handle.
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_TRUE((*got)[i + 1].IdenticalTo(values[i]))
        << i << ": " << values[i].DebugString() << " -> " << (*got)[i + 1].DebugString();
  }
  // Column 300 is not in the row: its default.
  EXPECT_EQ((*got)[7].ToString(), "00:00:05");

  std::vector<FieldType> types;
  for (const RowColumn& c : Schema()) types.push_back(c.type);
  Chunk chunk(types);
  ASSERT_TRUE(dec.DecodeToChunk(*row, 99, &chunk).ok());
  ASSERT_EQ(chunk.NumRows(), 1u);
  EXPECT_EQ(chunk.GetDatum(0, 5).GetString(), "héllo");
  EXPECT_EQ(chunk.GetDatum(0, 4).ToString(), "-12.500");
}

TEST(RowCodecTest, NullsAndLargeIds) {
  std::vector<int64_t> ids = {300, 6, 2};
  std::vector<Datum> values = {Datum(), Datum::String(std::string(70000, 'x')), Datum::Int(1)};
  absl::StatusOr<std::string> row = EncodeRow(ids, values);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(static_cast<uint8_t>((*row)[1]), 1);  // Large: id 300 and data > 64 KiB.
  RowDecoder dec(Schema());
  absl::StatusOr<std::vector<Datum>> got = dec.Decode(*row, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE((*got)[7].IsNull());  // Stored NULL beats the default.
  EXPECT_EQ((*got)[5].GetString().size(), 70000u);
  EXPECT_EQ((*got)[1].GetInt64(), 1);
  EXPECT_TRUE((*got)[2].IsNull());  // Absent, default NULL.
}

TEST(RowCodecTest, EncodeErrors) {
  std::vector<int64_t> dup = {1, 1};
  std::vector<Datum> two = {Datum::Int(1), Datum::Int(2)};
  EXPECT_FALSE(EncodeRow(dup, two).ok());
  std::vector<int64_t> one = {1};
  std::vector<Datum> bound = {Datum::MaxValue()};
  EXPECT_FALSE(EncodeRow(one, bound).ok());
  std::vector<int64_t> neg = {-1};
  std::vector<Datum> v = {Datum::Int(1)};
  EXPECT_FALSE(EncodeRow(neg, v).ok());
}

TEST(RowCodecTest, StrictDecodingNeverCrashes) {
  std::vector<int64_t> ids = {2, 3, 4, 5, 6, 7};
  std::vector<Datum> values = {
      Datum::Int(5),        Datum::Uint(7),
      Datum::Double(2.5),   Datum::Dec(Dec("1.250")),
      Datum::String("abc"), Datum::FromTime(Time::FromDatetime(2024, 1, 2, 3, 4, 5, 0, 3))};
  std::string good = *EncodeRow(ids, values);
  RowDecoder dec(Schema());
  std::mt19937_64 rng(6);
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bad = good;
    switch (i % 4) {
      case 0:
        bad.resize(rng() % bad.size());
        break;
      case 1:
        bad[rng() % bad.size()] = static_cast<char>(rng());
        break;
      case 2:
        bad.push_back(static_cast<char>(rng()));
        break;
      default:
        for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
        break;
    }
    absl::StatusOr<std::vector<Datum>> got = dec.Decode(bad, 1);
    if (!got.ok()) ++rejected;
  }
  EXPECT_GT(rejected, 5000);
  EXPECT_FALSE(dec.Decode("", 1).ok());
  EXPECT_FALSE(dec.Decode(good + "x", 1).ok());
  std::string wrong_version = good;
  wrong_version[0] = 1;
  EXPECT_FALSE(dec.Decode(wrong_version, 1).ok());
  // A float column must hold 8 bytes; an int column 1/2/4/8.
  std::vector<int64_t> fid = {4};
  std::vector<Datum> fv = {Datum::Int(3)};
  EXPECT_FALSE(dec.Decode(*EncodeRow(fid, fv), 1).ok());
  std::vector<int64_t> iid = {2};
  std::vector<Datum> iv = {Datum::String("abc")};
  EXPECT_FALSE(dec.Decode(*EncodeRow(iid, iv), 1).ok());
  // A failed decode leaves the chunk untouched.
  std::vector<FieldType> types;
  for (const RowColumn& c : Schema()) types.push_back(c.type);
  Chunk chunk(types);
  EXPECT_FALSE(dec.DecodeToChunk(*EncodeRow(iid, iv), 1, &chunk).ok());
  EXPECT_EQ(chunk.NumRows(), 0u);
}

}  // namespace
}  // namespace rutile::sql::codec
