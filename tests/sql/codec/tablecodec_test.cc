#include "sql/codec/tablecodec.h"

#include <random>

#include "gtest/gtest.h"
#include "sql/codec/codec.h"

namespace rutile::sql::codec {
namespace {

TEST(TableCodecTest, RowKeyLayoutAndRoundTrip) {
  std::string key = EncodeRowKey(5, 7);
  ASSERT_EQ(key.size(), 19u);
  EXPECT_EQ(key[0], 't');
  EXPECT_EQ(key.substr(9, 2), "_r");
  // Ids are sign-flipped big-endian: 5 -> 80 00 00 00 00 00 00 05.
  EXPECT_EQ(static_cast<uint8_t>(key[1]), 0x80);
  EXPECT_EQ(static_cast<uint8_t>(key[8]), 0x05);
  EXPECT_TRUE(IsRecordKey(key));
  EXPECT_FALSE(IsIndexKey(key));
  int64_t table = 0, handle = 0;
  ASSERT_TRUE(DecodeRowKey(key, &table, &handle).ok());
  EXPECT_EQ(table, 5);
  EXPECT_EQ(handle, 7);
  EXPECT_EQ(*DecodeTableId(key), 5);
  // Row keys sort by table, then handle (negative handles first).
  EXPECT_LT(EncodeRowKey(5, -1), EncodeRowKey(5, 0));
  EXPECT_LT(EncodeRowKey(5, INT64_MAX), EncodeRowKey(6, INT64_MIN));
  EXPECT_LT(EncodeRowKey(5, 1), PrefixNext(EncodeRecordPrefix(5)));
  EXPECT_EQ(EncodeRowKey(5, 1).rfind(EncodeRecordPrefix(5), 0), 0u);
  // Malformed row keys.
  EXPECT_FALSE(DecodeRowKey(key.substr(0, 18), &table, &handle).ok());
  EXPECT_FALSE(DecodeRowKey(key + "x", &table, &handle).ok());
  EXPECT_FALSE(DecodeRowKey(EncodeIndexPrefix(5, 1) + std::string(8, 'a'), &table, &handle).ok());
  EXPECT_FALSE(DecodeRowKey("", &table, &handle).ok());
}

TEST(TableCodecTest, IndexKeys) {
  std::vector<Datum> values = {Datum::Int(3), Datum::String("abc")};
  std::string unique = EncodeIndexKey(5, 2, values);
  std::string non_unique = EncodeIndexKey(5, 2, values, int64_t{42});
  EXPECT_TRUE(IsIndexKey(unique));
  EXPECT_EQ(unique.rfind(EncodeIndexPrefix(5, 2), 0), 0u);
  EXPECT_EQ(non_unique.rfind(unique, 0), 0u);
  int64_t table = 0, index = 0;
  std::vector<Datum> got;
  ASSERT_TRUE(DecodeIndexKey(non_unique, &table, &index, &got).ok());
  EXPECT_EQ(table, 5);
  EXPECT_EQ(index, 2);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].GetInt64(), 3);
  EXPECT_EQ(got[1].GetString(), "abc");
  EXPECT_EQ(got[2].GetInt64(), 42);
  // Index entries sort by values: (3, 'abc') < (3, 'abd') < (4, '').
  EXPECT_LT(unique, EncodeIndexKey(5, 2, std::vector<Datum>{Datum::Int(3), Datum::String("abd")}));
  EXPECT_LT(EncodeIndexKey(5, 2, std::vector<Datum>{Datum::Int(3), Datum::String("zzz")}),
            EncodeIndexKey(5, 2, std::vector<Datum>{Datum::Int(4), Datum::String("")}));
  // NULL first.
  EXPECT_LT(EncodeIndexKey(5, 2, std::vector<Datum>{Datum()}),
            EncodeIndexKey(5, 2, std::vector<Datum>{Datum::Int(INT64_MIN)}));
  // Case-insensitive columns encode sort keys.
  std::vector<Collation> ci = {Collation::kUtf8mb4GeneralCi};
  EXPECT_EQ(EncodeIndexKey(5, 2, std::vector<Datum>{Datum::String("ABC")}, std::nullopt, ci),
            EncodeIndexKey(5, 2, std::vector<Datum>{Datum::String("abc")}, std::nullopt, ci));
  EXPECT_FALSE(DecodeIndexKey(EncodeRowKey(5, 1), &table, &index, &got).ok());
  EXPECT_FALSE(DecodeIndexKey(unique + "\x63", &table, &index, &got).ok());
}

TEST(TableCodecTest, MetaKeys) {
  std::string s = MetaStringKey("NextGlobalID");
  EXPECT_EQ(s[0], 'm');
  std::string h = MetaHashKey("DBs", "db:1");
  EXPECT_EQ(h.rfind(MetaHashPrefix("DBs"), 0), 0u);
  std::string key, field;
  ASSERT_TRUE(DecodeMetaHashKey(h, &key, &field).ok());
  EXPECT_EQ(key, "DBs");
  EXPECT_EQ(field, "db:1");
  EXPECT_FALSE(DecodeMetaHashKey(s, &key, &field).ok());
  EXPECT_FALSE(DecodeMetaHashKey(h + "x", &key, &field).ok());
  // Fields of one hash sort together and by field.
  EXPECT_LT(MetaHashKey("DBs", "a"), MetaHashKey("DBs", "b"));
  EXPECT_LT(MetaHashKey("DBs", "zzz"), PrefixNext(MetaHashPrefix("DBs")));
}

TEST(TableCodecTest, PrefixNext) {
  EXPECT_EQ(PrefixNext("ab"), "ac");
  EXPECT_EQ(PrefixNext(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixNext(std::string("\xff\xff", 2)), "");
}

TEST(TableCodecTest, RandomBytesNeverCrashDecoders) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    std::string k = i % 2 ? EncodeIndexPrefix(static_cast<int64_t>(rng()), 1) : "t";
    int n = static_cast<int>(rng() % 30);
    for (int j = 0; j < n; ++j) k.push_back(static_cast<char>(rng()));
    int64_t t, h;
    std::vector<Datum> v;
    (void)DecodeRowKey(k, &t, &h);
    (void)DecodeIndexKey(k, &t, &h, &v);
    std::string a, b;
    (void)DecodeMetaHashKey("m" + k, &a, &b);
  }
}

}  // namespace
}  // namespace rutile::sql::codec
