// A cluster of stores under simulation: replication, reads, failover, crashes.

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"

namespace rutile::raftstore {
namespace {

std::string Key(int i) { return absl::StrCat("k", 1000 + i); }

TEST(StoreTest, SingleRegionReplicatesAndReads) {
  Cluster c({.stores = 3, .seed = 7});
  c.Start();
  bool ok = c.Run([&] {
    ASSERT_TRUE(c.WaitLeader("").has_value());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Put(Key(i), absl::StrCat("v", i)).ok());
    for (int i = 0; i < 20; ++i) {
      absl::StatusOr<std::optional<std::string>> v = c.Get(Key(i));
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(v->value_or("<none>"), absl::StrCat("v", i));
    }
    ASSERT_TRUE(c.Delete(Key(3)).ok());
    absl::StatusOr<std::optional<std::string>> gone = c.Get(Key(3));
    ASSERT_TRUE(gone.ok());
    EXPECT_FALSE(gone->has_value());
    EXPECT_TRUE(c.WaitReplicated(Key(19), "v19"));
    EXPECT_TRUE(c.WaitReplicated(Key(3), std::nullopt));
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace rutile::raftstore
