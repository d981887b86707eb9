#include "sql/chunk/chunk.h"

#include <random>

#include "gtest/gtest.h"

namespace rutile::sql {
namespace {

std::vector<FieldType> Types() {
  return {FieldType::LongLong(),       FieldType::LongLong(true), FieldType::Double(),
          FieldType::NewDecimal(8, 2), FieldType::Varchar(10),    FieldType::Datetime(3),
          FieldType::Duration(1),      FieldType::Float()};
}

std::vector<Datum> Row(int i) {
  Decimal d;
  Decimal::Parse(std::to_string(i) + ".25", &d);
  Duration dur{i * 1000000LL + 500000, 1};
  return {i % 3 == 0 ? Datum() : Datum::Int(-i),
          Datum::Uint(static_cast<uint64_t>(i)),
          Datum::Double(i * 0.5),
          Datum::Dec(d),
          i % 4 == 0 ? Datum() : Datum::String(std::string(static_cast<size_t>(i % 5), 'x')),
          Datum::FromTime(Time::FromDatetime(2024, 1, 1 + i % 28, 0, 0, 0, 1000, 3)),
          Datum::FromDuration(dur),
          Datum::Float(static_cast<float>(i) / 4)};
}

TEST(ChunkTest, AppendAndReadRows) {
  Chunk c(Types());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(c.AppendRow(Row(i)));
  EXPECT_EQ(c.NumRows(), 100u);
  EXPECT_EQ(c.NumEffectiveRows(), 100u);
  for (int i = 0; i < 100; ++i) {
    std::vector<Datum> want = Row(i);
    std::vector<Datum> got = c.GetRow(static_cast<size_t>(i));
    for (size_t k = 0; k < want.size(); ++k) {
      ASSERT_TRUE(got[k].IdenticalTo(want[k]))
          << i << "," << k << ": " << want[k].DebugString() << " vs " << got[k].DebugString();
    }
  }
  EXPECT_TRUE(c.column(0).IsNull(0));
  EXPECT_FALSE(c.column(0).IsNull(1));
  EXPECT_TRUE(c.column(0).HasNulls());
  EXPECT_FALSE(c.column(1).HasNulls());
  // A datum of the wrong kind is refused.
  std::vector<Datum> bad = Row(1);
  bad[2] = Datum::String("x");
  Chunk c2(Types());
  EXPECT_FALSE(c2.AppendRow(bad));
  EXPECT_FALSE(c2.AppendRow(std::vector<Datum>{Datum::Int(1)}));
}

TEST(ChunkTest, SelectionSliceCompact) {
  Chunk c(Types());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.AppendRow(Row(i)));
  c.SetSel({1, 5, 7, 49});
  EXPECT_EQ(c.NumEffectiveRows(), 4u);
  EXPECT_EQ(c.NumRows(), 50u);
  Chunk compact = c.Compact();
  ASSERT_EQ(compact.NumRows(), 4u);
  EXPECT_EQ(compact.sel(), nullptr);
  EXPECT_TRUE(compact.GetDatum(2, 4).IdenticalTo(Row(7)[4]));
  EXPECT_TRUE(compact.GetDatum(3, 3).IdenticalTo(Row(49)[3]));
  Chunk slice = c.Slice(10, 13);
  ASSERT_EQ(slice.NumRows(), 3u);
  EXPECT_TRUE(slice.GetDatum(0, 0).IdenticalTo(Row(10)[0]));
  c.Reset();
  EXPECT_EQ(c.NumRows(), 0u);
  EXPECT_EQ(c.sel(), nullptr);
}

TEST(ChunkTest, BulkAccessAndNullMerge) {
  Column a(PhysicalType::kInt64), b(PhysicalType::kInt64);
  for (int i = 0; i < 20; ++i) {
    if (i % 3 == 0) {
      a.AppendNull();
    } else {
      a.AppendInt64(i);
    }
    if (i % 5 == 0) {
      b.AppendNull();
    } else {
      b.AppendInt64(i);
    }
  }
  Column out(PhysicalType::kInt64);
  out.ResizeFixed(20);
  out.MergeNulls(a);
  out.MergeNulls(b);
  for (int i = 0; i < 20; ++i) {
    out.Int64Data()[i] = a.GetInt64(i) + b.GetInt64(i);
    EXPECT_EQ(out.IsNull(i), i % 3 == 0 || i % 5 == 0);
  }
  Column copy(PhysicalType::kInt64);
  for (int i = 0; i < 20; ++i) copy.AppendFrom(out, i);
  EXPECT_EQ(copy.IsNull(15), true);
  EXPECT_EQ(copy.GetInt64(7), 14);
}

TEST(ChunkTest, RandomAppendFromMatchesSource) {
  std::mt19937_64 rng(3);
  Chunk src(Types());
  for (int i = 0; i < 1024; ++i) ASSERT_TRUE(src.AppendRow(Row(static_cast<int>(rng() % 1000))));
  EXPECT_TRUE(src.IsFull());
  Chunk dst(Types());
  std::vector<size_t> picked;
  for (int i = 0; i < 500; ++i) {
    size_t r = rng() % src.NumRows();
    picked.push_back(r);
    dst.AppendRowFrom(src, r);
  }
  for (size_t i = 0; i < picked.size(); ++i) {
    for (size_t k = 0; k < src.NumCols(); ++k) {
      ASSERT_TRUE(dst.GetDatum(i, k).IdenticalTo(src.GetDatum(picked[i], k)));
    }
  }
}

// The bulk appends (a column at a time) give what row-at-a-time AppendRowFrom gives,
// onto a chunk that already holds rows (null bits mid-byte, string offsets shifted).
TEST(ChunkTest, RandomBulkAppendsMatchRowAppends) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 20; ++round) {
    Chunk src(Types());
    const size_t n = 1 + rng() % 300;
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(src.AppendRow(Row(static_cast<int>(rng() % 1000))));
    Chunk bulk(Types()), rows(Types());
    const size_t pre = rng() % 13;
    for (size_t i = 0; i < pre; ++i) {
      ASSERT_TRUE(bulk.AppendRow(Row(static_cast<int>(i))));
      ASSERT_TRUE(rows.AppendRow(Row(static_cast<int>(i))));
    }
    std::vector<uint32_t> picked;
    for (size_t i = 0; i < rng() % 200; ++i) picked.push_back(static_cast<uint32_t>(rng() % n));
    bulk.AppendGather(src, picked);
    for (uint32_t r : picked) rows.AppendRowFrom(src, r);
    const size_t begin = rng() % n, end = begin + rng() % (n - begin + 1);
    Chunk sliced = src.Slice(begin, end);
    ASSERT_EQ(sliced.NumRows(), end - begin);
    bulk.Append(sliced);
    for (size_t r = begin; r < end; ++r) rows.AppendRowFrom(src, r);
    ASSERT_EQ(bulk.NumRows(), rows.NumRows());
    for (size_t i = 0; i < rows.NumRows(); ++i) {
      for (size_t k = 0; k < rows.NumCols(); ++k) {
        ASSERT_TRUE(bulk.GetDatum(i, k).IdenticalTo(rows.GetDatum(i, k))) << round << " " << i;
      }
    }
  }
}

}  // namespace
}  // namespace rutile::sql
