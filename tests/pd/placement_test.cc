// Location labels: DistinctScore weighs a different zone above any number of different
// hosts; IsolationLevel names the widest level at which replicas are apart.

#include "pd/placement.h"

#include "gtest/gtest.h"
#include "pd_test_util.h"

namespace rutile::pd {
namespace {

StoreInfo Store(uint64_t id, const std::string& zone, const std::string& host) {
  StoreInfo s;
  s.meta = testing::MakeStore(id, {{"zone", zone}, {"host", host}});
  return s;
}

const std::vector<std::string> kLabels{"zone", "host"};

TEST(PlacementTest, FirstDifferentLevel) {
  StoreInfo a = Store(1, "z1", "h1"), b = Store(2, "z1", "h2"), c = Store(3, "z2", "h1");
  EXPECT_EQ(FirstDifferentLevel(a, b, kLabels), 1u);
  EXPECT_EQ(FirstDifferentLevel(a, c, kLabels), 0u);
  EXPECT_EQ(FirstDifferentLevel(a, a, kLabels), 2u);
  EXPECT_EQ(FirstDifferentLevel(a, c, {}), 0u);
}

TEST(PlacementTest, OtherZoneOutweighsOtherHosts) {
  StoreInfo a = Store(1, "z1", "h1"), b = Store(2, "z1", "h2"), c = Store(3, "z2", "h3");
  StoreInfo same_zone = Store(4, "z1", "h4"), other_zone = Store(5, "z3", "h5");
  std::vector<const StoreInfo*> others{&a, &b, &c};
  // Against a and b: two other hosts (1 + 1); against c: another zone (100).
  EXPECT_EQ(DistinctScore(kLabels, others, same_zone), 102u);
  // Against all three: three other zones.
  EXPECT_EQ(DistinctScore(kLabels, others, other_zone), 300u);
  // The candidate itself is skipped; a store in exactly the same place adds nothing.
  StoreInfo twin = Store(6, "z1", "h1");
  EXPECT_EQ(DistinctScore(kLabels, {&a}, twin), 0u);
  EXPECT_EQ(DistinctScore(kLabels, {&a}, a), 0u);
  EXPECT_EQ(DistinctScore({}, others, other_zone), 0u);
}

TEST(PlacementTest, MissingLabelCountsAsItsOwnValue) {
  StoreInfo a = Store(1, "z1", "h1");
  StoreInfo unlabeled;
  unlabeled.meta = testing::MakeStore(2);
  EXPECT_EQ(FirstDifferentLevel(a, unlabeled, kLabels), 0u);
}

TEST(PlacementTest, IsolationLevel) {
  StoreInfo a = Store(1, "z1", "h1"), b = Store(2, "z2", "h2"), c = Store(3, "z3", "h3");
  StoreInfo d = Store(4, "z1", "h4"), e = Store(5, "z1", "h1");
  EXPECT_EQ(IsolationLevel(kLabels, {&a, &b, &c}), "zone");
  EXPECT_EQ(IsolationLevel(kLabels, {&a, &b, &d}), "host");
  EXPECT_EQ(IsolationLevel(kLabels, {&a, &b, &e}), "");
}

}  // namespace
}  // namespace rutile::pd
