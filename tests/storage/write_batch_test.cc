#include "storage/write_batch.h"

#include <string>

#include "gtest/gtest.h"

namespace rutile::storage {
namespace {

TEST(WriteBatchTest, RecordsOperationsInOrderWithPrefixedViews) {
  WriteBatch b;
  EXPECT_TRUE(b.Empty());
  b.Put(CF::kWrite, "k1", "v1");
  b.Delete(CF::kLock, "k2");
  b.DeleteRange(CF::kRaft, "a", "z");
  ASSERT_EQ(b.Count(), 3u);

  WriteBatch::Op put = b.op(0);
  EXPECT_EQ(put.type, WriteBatch::OpType::kPut);
  EXPECT_EQ(put.cf, CF::kWrite);
  EXPECT_EQ(put.key, "k1");
  EXPECT_EQ(put.value, "v1");
  EXPECT_EQ(put.prefixed_key, std::string("\x02k1"));
  EXPECT_EQ(put.prefixed_value, std::string("\x02v1"));

  WriteBatch::Op del = b.op(1);
  EXPECT_EQ(del.type, WriteBatch::OpType::kDelete);
  EXPECT_EQ(del.cf, CF::kLock);
  EXPECT_EQ(del.key, "k2");
  EXPECT_EQ(del.value, "");

  WriteBatch::Op range = b.op(2);
  EXPECT_EQ(range.type, WriteBatch::OpType::kDeleteRange);
  EXPECT_EQ(range.key, "a");
  EXPECT_EQ(range.value, "z");
  EXPECT_TRUE(b.has_delete_range());
  EXPECT_EQ(b.cf_mask(), (1u << 1) | (1u << 2) | (1u << 3));
}

TEST(WriteBatchTest, ViewsSurviveGrowth) {
  WriteBatch b;
  b.Put(CF::kDefault, "first", "value");
  for (int i = 0; i < 1000; ++i) b.Put(CF::kDefault, std::to_string(i), std::string(100, 'x'));
  EXPECT_EQ(b.op(0).key, "first");
  EXPECT_EQ(b.op(0).value, "value");
  EXPECT_EQ(b.op(1000).key, "999");
  EXPECT_GE(b.ByteSize(), 100'000u);
}

TEST(WriteBatchTest, ClearResetsEverything) {
  WriteBatch b;
  b.DeleteRange(CF::kRaft, "a", "b");
  b.Clear();
  EXPECT_TRUE(b.Empty());
  EXPECT_EQ(b.ByteSize(), 0u);
  EXPECT_EQ(b.cf_mask(), 0u);
  EXPECT_FALSE(b.has_delete_range());
  b.Put(CF::kDefault, "k", "v");
  EXPECT_EQ(b.op(0).key, "k");
}

TEST(WriteBatchTest, CopiesAreIndependent) {
  WriteBatch a;
  a.Put(CF::kDefault, "k", "v");
  WriteBatch b = a;
  a.Clear();
  ASSERT_EQ(b.Count(), 1u);
  EXPECT_EQ(b.op(0).value, "v");
}

TEST(WriteBatchTest, InvalidCfIsRecordedForEnginesToReject) {
  WriteBatch b;
  b.Put(static_cast<CF>(77), "k", "v");
  EXPECT_FALSE(IsValidCf(b.op(0).cf));
  EXPECT_EQ(b.cf_mask(), 1u << 31);
  EXPECT_EQ(CfName(static_cast<CF>(77)), "cf#77");
  EXPECT_EQ(CfName(CF::kLock), "lock");
}

}  // namespace
}  // namespace rutile::storage
