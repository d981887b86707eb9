#include "pd/region_tree.h"

#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rutile::pd {
namespace {

using Ids = std::vector<uint64_t>;

TEST(RegionTreeTest, FindAndScan) {
  RegionTree t;
  EXPECT_TRUE(t.Insert(1, "", "b").empty());
  EXPECT_TRUE(t.Insert(2, "b", "d").empty());
  EXPECT_TRUE(t.Insert(3, "d", "").empty());
  EXPECT_EQ(t.Find(""), 1u);
  EXPECT_EQ(t.Find("a"), 1u);
  EXPECT_EQ(t.Find("b"), 2u);
  EXPECT_EQ(t.Find("c\xff"), 2u);
  EXPECT_EQ(t.Find("zzz"), 3u);
  EXPECT_EQ(t.Scan("a", "c", 0), (Ids{1, 2}));
  EXPECT_EQ(t.Scan("b", "d", 0), (Ids{2}));
  EXPECT_EQ(t.Scan("", "", 0), (Ids{1, 2, 3}));
  EXPECT_EQ(t.Scan("", "", 2), (Ids{1, 2}));
  EXPECT_EQ(t.Scan("c", "", 0), (Ids{2, 3}));
}

TEST(RegionTreeTest, GapsAreNotFound) {
  RegionTree t;
  t.Insert(1, "b", "d");
  EXPECT_FALSE(t.Find("a").has_value());
  EXPECT_FALSE(t.Find("d").has_value());
  EXPECT_EQ(t.Scan("", "b", 0), Ids{});
  EXPECT_EQ(t.Overlaps("c", "z"), Ids{1});
}

TEST(RegionTreeTest, InsertReplacesOverlaps) {
  RegionTree t;
  t.Insert(1, "", "b");
  t.Insert(2, "b", "d");
  t.Insert(3, "d", "f");
  t.Insert(4, "f", "");
  // A merged region covering 2 and 3.
  EXPECT_EQ(t.Insert(5, "b", "f"), (Ids{2, 3}));
  EXPECT_EQ(t.Scan("", "", 0), (Ids{1, 5, 4}));
  // A split of 5 reported left side first: it overlaps 5 only.
  EXPECT_EQ(t.Insert(6, "b", "c"), (Ids{5}));
  EXPECT_EQ(t.Scan("", "", 0), (Ids{1, 6, 4}));
  // Re-inserting the same range of the same id replaces itself.
  EXPECT_EQ(t.Insert(6, "b", "c"), (Ids{6}));
  // A region spanning everything replaces all.
  EXPECT_EQ(t.Insert(7, "", ""), (Ids{1, 6, 4}));
  EXPECT_EQ(t.size(), 1u);
}

TEST(RegionTreeTest, Neighbours) {
  RegionTree t;
  t.Insert(1, "", "b");
  t.Insert(2, "b", "d");
  t.Insert(3, "e", "");
  EXPECT_EQ(t.Prev("b"), 1u);
  EXPECT_FALSE(t.Prev("").has_value());
  EXPECT_EQ(t.Next("b"), 2u);
  EXPECT_FALSE(t.Next("d").has_value());  // gap between d and e
  EXPECT_FALSE(t.Prev("e").has_value());
  EXPECT_FALSE(t.Next("").has_value());
}

TEST(RegionTreeTest, RemoveOnlyMatchingId) {
  RegionTree t;
  t.Insert(1, "a", "b");
  EXPECT_FALSE(t.Remove(2, "a"));
  EXPECT_TRUE(t.Remove(1, "a"));
  EXPECT_EQ(t.size(), 0u);
}

// Property: against a dumb model (a map from each single-letter key to its region), random
// inserts agree on Find and on which regions were replaced.
TEST(RegionTreeTest, AgreesWithPointModel) {
  std::mt19937 rng(5);
  const std::string alphabet = "abcdefghijklmnop";
  for (int round = 0; round < 200; ++round) {
    RegionTree t;
    std::map<std::string, uint64_t> model;  // point -> region
    for (uint64_t id = 1; id <= 30; ++id) {
      int a = static_cast<int>(rng() % alphabet.size());
      int b = static_cast<int>(rng() % (alphabet.size() + 1));
      std::string start = rng() % 5 == 0 ? "" : std::string(1, alphabet[a]);
      std::string end = b == static_cast<int>(alphabet.size()) ? "" : std::string(1, alphabet[b]);
      if (!end.empty() && start >= end) continue;
      std::set<uint64_t> want_removed;
      // Every range contains its start point, and the points include "", so two ranges
      // overlap exactly when they share a point.
      std::vector<std::string> points{""};
      for (char c : alphabet) points.emplace_back(1, c);
      for (const std::string& k : points) {
        if (k >= start && (end.empty() || k < end) && model.count(k)) {
          want_removed.insert(model[k]);
        }
      }
      Ids removed = t.Insert(id, start, end);
      std::set<uint64_t> got(removed.begin(), removed.end());
      ASSERT_EQ(got, want_removed) << "round " << round << " id " << id;
      // Everything a removed region covered is now uncovered, except the new range.
      for (auto it = model.begin(); it != model.end();) {
        if (want_removed.count(it->second)) {
          it = model.erase(it);
        } else {
          ++it;
        }
      }
      for (const std::string& k : points) {
        if (k >= start && (end.empty() || k < end)) model[k] = id;
      }
      for (const std::string& k : points) {
        std::optional<uint64_t> f = t.Find(k);
        auto m = model.find(k);
        if (m == model.end()) {
          ASSERT_FALSE(f.has_value()) << k;
        } else {
          ASSERT_EQ(f, m->second) << k;
        }
      }
    }
  }
}

}  // namespace
}  // namespace rutile::pd
