// KeyIndex (storage/key_index.h): the in-memory key set of CF kLock that lets
// LevelDbEngine answer a latest-state Get of an absent lock without reading LevelDB. Its
// one promise: a key stored in the database is always in the index. Tested on the class
// (batch semantics, the races a delete can lose to a put, failed writes) and through
// LevelDbEngine (reopen, delete range, concurrent writers of the same keys).

#include "storage/key_index.h"

#include <atomic>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/engine_test_util.h"
#include "storage/leveldb_engine.h"

namespace rutile::storage {
namespace {

using testing::GetOr;
using testing::Scan;
using testing::TempDir;

std::vector<std::string> Keys(std::initializer_list<const char*> ks) {
  return std::vector<std::string>(ks.begin(), ks.end());
}

// Begin + End around a write that succeeds.
void Apply(KeyIndex& index, const WriteBatch& b) { index.End(index.Begin(b), true); }

TEST(KeyIndexTest, PutsEnterDeletesLeaveLastOpOfABatchDecides) {
  KeyIndex index(CF::kLock);
  EXPECT_FALSE(index.MayContain("a"));
  WriteBatch b;
  b.Put(CF::kLock, "a", "1");
  b.Put(CF::kLock, "b", "1");
  b.Put(CF::kWrite, "c", "1");  // Another CF: not indexed.
  Apply(index, b);
  EXPECT_EQ(index.TEST_Keys(), Keys({"a", "b"}));
  EXPECT_TRUE(index.MayContain("a"));
  EXPECT_FALSE(index.MayContain("c"));

  WriteBatch d;
  d.Delete(CF::kLock, "a");
  d.Put(CF::kLock, "x", "1");  // Put then delete in one batch: absent.
  d.Delete(CF::kLock, "x");
  d.Delete(CF::kLock, "b");  // Delete then put: present.
  d.Put(CF::kLock, "b", "2");
  d.Delete(CF::kLock, "never");
  Apply(index, d);
  EXPECT_EQ(index.TEST_Keys(), Keys({"b"}));
  EXPECT_EQ(index.size(), 1u);
}

TEST(KeyIndexTest, DeleteRangeCoversEarlierPutsOfTheBatchNotLaterOnes) {
  KeyIndex index(CF::kLock);
  index.Reset(Keys({"a", "c", "e", "g"}));
  WriteBatch b;
  b.Put(CF::kLock, "d", "1");          // Covered by the range below.
  b.DeleteRange(CF::kLock, "b", "f");  // Removes c, d, e.
  b.Put(CF::kLock, "e", "2");          // After the range: stays.
  Apply(index, b);
  EXPECT_EQ(index.TEST_Keys(), Keys({"a", "e", "g"}));
  WriteBatch all;
  all.DeleteRange(CF::kLock, "", "");  // Empty end: unbounded.
  Apply(index, all);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.MayContain("a"));
}

TEST(KeyIndexTest, DeleteThatRacedWithAPutOfTheSameKeyKeepsIt) {
  WriteBatch put;
  put.Put(CF::kLock, "k", "v");
  WriteBatch del;
  del.Delete(CF::kLock, "k");

  {  // The put is in flight when the delete begins: either may reach the database last.
    KeyIndex index(CF::kLock);
    KeyIndex::Pending p = index.Begin(put);
    KeyIndex::Pending d = index.Begin(del);
    index.End(std::move(p), true);
    index.End(std::move(d), true);
    EXPECT_TRUE(index.MayContain("k"));
  }
  {  // The put begins while the delete is in flight and ends first.
    KeyIndex index(CF::kLock);
    Apply(index, put);
    KeyIndex::Pending d = index.Begin(del);
    KeyIndex::Pending p = index.Begin(put);
    index.End(std::move(p), true);
    index.End(std::move(d), true);
    EXPECT_TRUE(index.MayContain("k"));
  }
  {  // A range delete with the same races.
    KeyIndex index(CF::kLock);
    Apply(index, put);
    WriteBatch other;
    other.Put(CF::kLock, "j", "v");
    KeyIndex::Pending p = index.Begin(other);  // In flight at the range's Begin.
    WriteBatch range;
    range.DeleteRange(CF::kLock, "a", "z");
    KeyIndex::Pending r = index.Begin(range);
    KeyIndex::Pending late = index.Begin(put);  // Begins after the range did.
    index.End(std::move(p), true);
    index.End(std::move(late), true);
    index.End(std::move(r), true);
    EXPECT_EQ(index.TEST_Keys(), Keys({"j", "k"}));
  }
  {  // No race: the put ended before the delete began, so the delete removes the key.
    KeyIndex index(CF::kLock);
    Apply(index, put);
    Apply(index, del);
    EXPECT_FALSE(index.MayContain("k"));
  }
}

TEST(KeyIndexTest, FailedWriteRemovesNothing) {
  KeyIndex index(CF::kLock);
  index.Reset(Keys({"a", "b"}));
  WriteBatch b;
  b.Delete(CF::kLock, "a");
  b.DeleteRange(CF::kLock, "b", "c");
  b.Put(CF::kLock, "n", "1");
  index.End(index.Begin(b), /*applied=*/false);
  // The put's key may stay (conservative); nothing that may be stored leaves.
  EXPECT_TRUE(index.MayContain("a"));
  EXPECT_TRUE(index.MayContain("b"));
}

// Through the engine: Get of the latest state answers from the index for absent locks and
// finds every stored one, after reopen and delete range too.
TEST(KeyIndexTest, LevelDbEngineLockReadsStayExact) {
  TempDir dir;
  const std::string path = dir.Sub("engine");
  {
    auto e = LevelDbEngine::Open(path, LevelDbEngineOptions());
    ASSERT_TRUE(e.ok()) << e.status();
    Engine* engine = e->get();
    WriteBatch b;
    for (int i = 0; i < 10; ++i) b.Put(CF::kLock, absl::StrCat("k", i), absl::StrCat("v", i));
    ASSERT_TRUE(engine->Write(b, WriteOptions()).ok());
    std::unique_ptr<Snapshot> snap = engine->GetSnapshot();
    WriteBatch d;
    d.DeleteRange(CF::kLock, "k2", "k5");
    d.Delete(CF::kLock, "k7");
    ASSERT_TRUE(engine->Write(d, WriteOptions()).ok());
    EXPECT_EQ(GetOr(engine, CF::kLock, "k1"), "v1");
    EXPECT_EQ(GetOr(engine, CF::kLock, "k3"), "<absent>");
    EXPECT_EQ(GetOr(engine, CF::kLock, "k7"), "<absent>");
    // A snapshot read still sees the past.
    EXPECT_EQ(GetOr(engine, CF::kLock, "k3", snap.get()), "v3");
    EXPECT_EQ(GetOr(engine, CF::kLock, "k7", snap.get()), "v7");
  }
  auto e = LevelDbEngine::Open(path, LevelDbEngineOptions());
  ASSERT_TRUE(e.ok()) << e.status();
  Engine* engine = e->get();
  for (int i = 0; i < 10; ++i) {
    const bool gone = (i >= 2 && i < 5) || i == 7;
    EXPECT_EQ(GetOr(engine, CF::kLock, absl::StrCat("k", i)),
              gone ? "<absent>" : absl::StrCat("v", i))
        << i;
  }
}

std::string KeyName(int i) { return std::string("k") + static_cast<char>('a' + i); }

// Writers racing on the same few keys (puts, deletes, delete ranges, mixed batches) while
// readers read: afterwards every lock stored in LevelDB (an iterator, which does not use
// the index) is found by Get. A lost race in the index would make Get miss a stored lock.
TEST(KeyIndexTest, LevelDbEngineConcurrentWritersOfTheSameKeys) {
  TempDir dir;
  auto e = LevelDbEngine::Open(dir.Sub("engine"), LevelDbEngineOptions());
  ASSERT_TRUE(e.ok()) << e.status();
  Engine* engine = e->get();
  constexpr int kKeys = 8;
  constexpr int kWriters = 4;
  constexpr int kRounds = 8;
  constexpr int kOpsPerRound = 150;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        std::mt19937 rng(round * 100 + w);
        for (int i = 0; i < kOpsPerRound; ++i) {
          WriteBatch b;
          const int n = 1 + static_cast<int>(rng() % 3);
          for (int j = 0; j < n; ++j) {
            const int ki = static_cast<int>(rng() % kKeys);
            const std::string k = KeyName(ki);
            switch (rng() % 7) {
              case 0:
              case 1:
              case 2:
                b.Put(CF::kLock, k, absl::StrCat(w, ":", i));
                break;
              case 3:
              case 4:
              case 5:
                b.Delete(CF::kLock, k);
                break;
              default:
                b.DeleteRange(CF::kLock, k, KeyName(ki + 1 + static_cast<int>(rng() % 3)));
                b.Put(CF::kWrite, k, "w");
                break;
            }
          }
          if (!engine->Write(b, WriteOptions()).ok()) errors++;
        }
      });
    }
    threads.emplace_back([&] {
      while (!stop.load()) {
        for (int k = 0; k < kKeys; ++k) {
          if (GetOr(engine, CF::kLock, KeyName(k)).rfind("<error", 0) == 0) errors++;
        }
      }
    });
    for (int w = 0; w < kWriters; ++w) threads[w].join();
    stop = true;
    threads.back().join();
    ASSERT_EQ(errors.load(), 0);
    for (const auto& [k, v] : Scan(engine, CF::kLock)) {
      ASSERT_EQ(GetOr(engine, CF::kLock, k), v) << "round " << round << " key " << k;
    }
  }
}

}  // namespace
}  // namespace rutile::storage
