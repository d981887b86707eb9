// The storage::Engine conformance suite: the same behaviour checked against every engine
// (TiKV engine_traits' habit). Engine-specific behaviour (opening directories, crashes) is
// in leveldb_engine_test.cc and mem_engine_test.cc.

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "storage/engine.h"
#include "storage/engine_test_util.h"

namespace rutile::storage {
namespace {

using testing::Bounds;
using testing::GetOr;
using testing::kAllCfs;
using testing::KVs;
using testing::MustDelete;
using testing::MustPut;
using testing::ReverseScan;
using testing::Scan;

template <typename Factory>
class EngineConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    holder_ = Factory::Make();
    ASSERT_NE(holder_.engine, nullptr);
  }
  Engine* engine() { return holder_.engine.get(); }

  // Puts keys "a".."e" (value "v" + key) into `cf`.
  void PutAlphabet(CF cf) {
    WriteBatch b;
    for (const char* k : {"a", "b", "c", "d", "e"}) b.Put(cf, k, std::string("v") + k);
    ASSERT_TRUE(engine()->Write(b, WriteOptions()).ok());
  }

  testing::EngineHolder holder_;
};

using Factories = ::testing::Types<testing::LevelDbFactory, testing::MemFactory>;
TYPED_TEST_SUITE(EngineConformanceTest, Factories, testing::FactoryNames);

std::vector<std::string> Keys(const KVs& kvs) {
  std::vector<std::string> out;
  for (const auto& [k, v] : kvs) out.push_back(k);
  return out;
}

using Strs = std::vector<std::string>;

TYPED_TEST(EngineConformanceTest, GetReturnsNulloptForAbsentKey) {
  for (CF cf : kAllCfs) {
    auto v = this->engine()->Get(cf, "missing");
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_FALSE(v->has_value());
  }
}

TYPED_TEST(EngineConformanceTest, PutGetDeleteRoundTrip) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) {
    MustPut(e, cf, "k", "v1");
    EXPECT_EQ(GetOr(e, cf, "k"), "v1");
    MustPut(e, cf, "k", "v2");
    EXPECT_EQ(GetOr(e, cf, "k"), "v2");
    MustDelete(e, cf, "k");
    EXPECT_EQ(GetOr(e, cf, "k"), "<absent>");
  }
}

TYPED_TEST(EngineConformanceTest, EmptyKeysValuesAndBinaryBytesRoundTrip) {
  Engine* e = this->engine();
  const std::string binary("\x00\xff\x01\x00", 4);
  for (CF cf : kAllCfs) {
    MustPut(e, cf, "", "empty-key");
    MustPut(e, cf, "empty-value", "");
    MustPut(e, cf, binary, binary);
    EXPECT_EQ(GetOr(e, cf, ""), "empty-key");
    EXPECT_EQ(GetOr(e, cf, "empty-value"), "");
    EXPECT_EQ(GetOr(e, cf, binary), binary);
    EXPECT_EQ(Keys(Scan(e, cf)), (Strs{"", binary, "empty-value"}));
  }
}

// SeekVisit: the keys from the first >= target, in order, while the visitor wants more;
// never another CF's keys; the latest state or a snapshot; a bad CF is InvalidArgument.
TYPED_TEST(EngineConformanceTest, SeekVisitWalksFromTheTargetWithinItsCf) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) this->PutAlphabet(cf);
  MustPut(e, CF::kWrite, "bb", "vbb");
  auto visit = [&](CF cf, std::string_view target, size_t want, const Snapshot* snap = nullptr) {
    KVs out;
    ReadOptions ro;
    ro.snapshot = snap;
    absl::Status s = e->SeekVisit(cf, target, ro, [&](std::string_view k, std::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return out.size() < want;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  EXPECT_EQ(visit(CF::kWrite, "b", 2), (KVs{{"b", "vb"}, {"bb", "vbb"}}));
  EXPECT_EQ(visit(CF::kWrite, "ba", 1), (KVs{{"bb", "vbb"}}));
  EXPECT_EQ(Keys(visit(CF::kLock, "c", 100)), (Strs{"c", "d", "e"}));
  EXPECT_EQ(Keys(visit(CF::kDefault, "", 1)), (Strs{"a"}));
  EXPECT_TRUE(visit(CF::kDefault, "f", 100).empty());
  EXPECT_EQ(Keys(visit(CF::kRaft, "d", 100)), (Strs{"d", "e"}));
  // Latest state each time (a reused LevelDB iterator must not hide a write); a snapshot
  // keeps its view.
  std::unique_ptr<Snapshot> snap = e->GetSnapshot();
  MustPut(e, CF::kWrite, "bc", "vbc");
  EXPECT_EQ(Keys(visit(CF::kWrite, "ba", 2)), (Strs{"bb", "bc"}));
  EXPECT_EQ(Keys(visit(CF::kWrite, "ba", 2, snap.get())), (Strs{"bb", "c"}));
  MustDelete(e, CF::kWrite, "bb");
  EXPECT_EQ(Keys(visit(CF::kWrite, "ba", 1)), (Strs{"bc"}));
  EXPECT_TRUE(absl::IsInvalidArgument(
      e->SeekVisit(static_cast<CF>(200), "a", ReadOptions(),
                   [](std::string_view, std::string_view) { return true; })));
}

TYPED_TEST(EngineConformanceTest, ColumnFamiliesAreIsolated) {
  Engine* e = this->engine();
  // The same keys, including extreme bytes, in every CF with CF-specific values.
  const std::vector<std::string> keys = {"", std::string(1, '\0'), "k", "\xff",
                                         std::string(8, '\xff')};
  for (CF cf : kAllCfs) {
    WriteBatch b;
    for (const std::string& k : keys) b.Put(cf, k, CfName(cf) + ":" + k);
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  }
  for (CF cf : kAllCfs) {
    KVs kvs = Scan(e, cf);
    ASSERT_EQ(kvs.size(), keys.size()) << CfName(cf);
    for (const auto& [k, v] : kvs) EXPECT_EQ(v, CfName(cf) + ":" + k);
    KVs rev = ReverseScan(e, cf);
    ASSERT_EQ(rev.size(), keys.size()) << CfName(cf);
    EXPECT_EQ(rev.front().first, std::string(8, '\xff'));
    EXPECT_EQ(rev.back().first, "");
  }
  // Deleting everything in one CF leaves the others whole.
  WriteBatch b;
  b.DeleteRange(CF::kLock, "", "");
  ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  EXPECT_TRUE(Scan(e, CF::kLock).empty());
  for (CF cf : {CF::kDefault, CF::kWrite, CF::kRaft}) {
    EXPECT_EQ(Scan(e, cf).size(), keys.size()) << CfName(cf);
    EXPECT_EQ(GetOr(e, cf, "k"), CfName(cf) + ":k");
  }
  EXPECT_EQ(GetOr(e, CF::kLock, "k"), "<absent>");
}

TYPED_TEST(EngineConformanceTest, SeeksNeverLeaveTheColumnFamily) {
  Engine* e = this->engine();
  MustPut(e, CF::kDefault, "m", "default");
  MustPut(e, CF::kWrite, "m", "write");
  // kLock is empty: every seek must find nothing, although neighbours hold keys.
  auto it = e->NewIterator(CF::kLock, {});
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek("");
  EXPECT_FALSE(it->Valid());
  it->Seek("zzz");
  EXPECT_FALSE(it->Valid());
  it->SeekForPrev("\xff\xff");
  EXPECT_FALSE(it->Valid());
  it->SeekForPrev("");
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TYPED_TEST(EngineConformanceTest, BatchAppliesOperationsInOrder) {
  Engine* e = this->engine();
  WriteBatch b;
  b.Put(CF::kDefault, "a", "1");
  b.Put(CF::kDefault, "a", "2");
  b.Put(CF::kDefault, "b", "1");
  b.Delete(CF::kDefault, "b");
  b.Delete(CF::kDefault, "c");
  b.Put(CF::kDefault, "c", "3");
  ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  EXPECT_EQ(Scan(e, CF::kDefault), (KVs{{"a", "2"}, {"c", "3"}}));
}

TYPED_TEST(EngineConformanceTest, EmptyBatchIsOk) {
  WriteOptions sync;
  sync.sync = true;
  EXPECT_TRUE(this->engine()->Write(WriteBatch(), WriteOptions()).ok());
  EXPECT_TRUE(this->engine()->Write(WriteBatch(), sync).ok());
}

TYPED_TEST(EngineConformanceTest, BadBatchFailsWholeAndChangesNothing) {
  Engine* e = this->engine();
  MustPut(e, CF::kDefault, "keep", "old");
  {
    WriteBatch b;
    b.Put(CF::kDefault, "keep", "new");
    b.Put(CF::kRaft, "r", "x");
    b.Put(static_cast<CF>(9), "k", "v");
    absl::Status s = e->Write(b, WriteOptions());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  }
  {
    WriteBatch b;
    b.Put(CF::kDefault, "keep", "new");
    b.DeleteRange(CF::kWrite, "z", "a");
    absl::Status s = e->Write(b, WriteOptions());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  }
  EXPECT_EQ(GetOr(e, CF::kDefault, "keep"), "old");
  EXPECT_EQ(GetOr(e, CF::kRaft, "r"), "<absent>");
}

TYPED_TEST(EngineConformanceTest, InvalidColumnFamilyIsInvalidArgument) {
  Engine* e = this->engine();
  const CF bad = static_cast<CF>(200);
  EXPECT_TRUE(absl::IsInvalidArgument(e->Get(bad, "k").status()));
  auto it = e->NewIterator(bad, {});
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsInvalidArgument(it->status()));
  EXPECT_TRUE(absl::IsInvalidArgument(e->ApproximateSize(bad, "", "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(e->CompactRange(bad, "", "")));
}

TYPED_TEST(EngineConformanceTest, ForeignSnapshotIsInvalidArgument) {
  testing::EngineHolder other = TypeParam::Make();
  std::unique_ptr<Snapshot> snap = other.engine->GetSnapshot();
  ReadOptions ro;
  ro.snapshot = snap.get();
  EXPECT_TRUE(absl::IsInvalidArgument(this->engine()->Get(CF::kDefault, "k", ro).status()));
  IterOptions io;
  io.snapshot = snap.get();
  auto it = this->engine()->NewIterator(CF::kDefault, io);
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsInvalidArgument(it->status()));
}

TYPED_TEST(EngineConformanceTest, LargeBatchThenSmallBatchOnTheSameThread) {
  // A batch far above any buffer an engine keeps for reuse, then a small one: the second
  // must carry nothing over from the first.
  Engine* e = this->engine();
  WriteBatch big;
  const std::string value(2000, 'b');
  for (int i = 0; i < 2000; ++i) {
    big.Put(CF::kWrite, absl::StrFormat("big%05d", i), value);
    big.Put(CF::kRaft, absl::StrFormat("big%05d", i), value);
  }
  ASSERT_TRUE(e->Write(big, WriteOptions()).ok());
  MustPut(e, CF::kDefault, "small", "1");
  EXPECT_EQ(Scan(e, CF::kWrite).size(), 2000u);
  EXPECT_EQ(Scan(e, CF::kRaft).size(), 2000u);
  EXPECT_EQ(Scan(e, CF::kDefault), (KVs{{"small", "1"}}));
  EXPECT_EQ(GetOr(e, CF::kWrite, "big01999"), value);
}

TYPED_TEST(EngineConformanceTest, SnapshotSeesFrozenView) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) MustPut(e, cf, "old", "1");
  for (CF cf : kAllCfs) MustPut(e, cf, "gone", "1");
  std::unique_ptr<Snapshot> snap = e->GetSnapshot();
  for (CF cf : kAllCfs) {
    MustPut(e, cf, "old", "2");
    MustPut(e, cf, "new", "2");
    MustDelete(e, cf, "gone");
  }
  for (CF cf : kAllCfs) {
    EXPECT_EQ(GetOr(e, cf, "old", snap.get()), "1");
    EXPECT_EQ(GetOr(e, cf, "new", snap.get()), "<absent>");
    EXPECT_EQ(GetOr(e, cf, "gone", snap.get()), "1");
    IterOptions o;
    o.snapshot = snap.get();
    EXPECT_EQ(Scan(e, cf, o), (KVs{{"gone", "1"}, {"old", "1"}})) << CfName(cf);
    EXPECT_EQ(ReverseScan(e, cf, o), (KVs{{"old", "1"}, {"gone", "1"}})) << CfName(cf);
    // The latest state, for contrast.
    EXPECT_EQ(Scan(e, cf), (KVs{{"new", "2"}, {"old", "2"}})) << CfName(cf);
  }
}

TYPED_TEST(EngineConformanceTest, IteratorWithoutSnapshotIgnoresLaterWrites) {
  Engine* e = this->engine();
  this->PutAlphabet(CF::kWrite);
  auto it = e->NewIterator(CF::kWrite, {});
  MustPut(e, CF::kWrite, "bb", "new");
  MustDelete(e, CF::kWrite, "c");
  KVs seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    seen.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  EXPECT_EQ(Keys(seen), (Strs{"a", "b", "c", "d", "e"}));
}

TYPED_TEST(EngineConformanceTest, IteratorMayOutliveItsSnapshot) {
  Engine* e = this->engine();
  this->PutAlphabet(CF::kDefault);
  std::unique_ptr<Snapshot> snap = e->GetSnapshot();
  IterOptions o;
  o.snapshot = snap.get();
  auto it = e->NewIterator(CF::kDefault, o);
  snap.reset();
  // Overwrite and delete many times, so engines that prune old versions would drop them.
  for (int round = 0; round < 50; ++round) {
    WriteBatch b;
    for (const char* k : {"a", "b", "c", "d", "e"}) b.Put(CF::kDefault, k, "x");
    b.Delete(CF::kDefault, "c");
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  }
  ASSERT_TRUE(e->CompactRange(CF::kDefault, "", "").ok());
  KVs seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    seen.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  EXPECT_EQ(seen, (KVs{{"a", "va"}, {"b", "vb"}, {"c", "vc"}, {"d", "vd"}, {"e", "ve"}}));
}

TYPED_TEST(EngineConformanceTest, BoundsClampEverySeek) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) {
    this->PutAlphabet(cf);
    auto it = e->NewIterator(cf, Bounds("b", "d"));  // Sees b, c.
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "b");
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "c");
    it->Seek("a");  // Below the lower bound: the first key in bounds.
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "b");
    it->Seek("bb");
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "c");
    it->Seek("d");  // At the (exclusive) upper bound.
    EXPECT_FALSE(it->Valid());
    it->SeekForPrev("z");  // Above the upper bound: the last key in bounds.
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "c");
    it->SeekForPrev("bb");
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "b");
    it->SeekForPrev("c");  // Exact match.
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "c");
    it->SeekForPrev("a");  // Below the lower bound.
    EXPECT_FALSE(it->Valid());
    it->Seek("b");
    it->Prev();  // Off the lower end.
    EXPECT_FALSE(it->Valid());
    it->Seek("c");
    it->Next();  // Off the upper end.
    EXPECT_FALSE(it->Valid());
    EXPECT_EQ(Keys(Scan(e, cf, Bounds("b", "d"))), (Strs{"b", "c"})) << CfName(cf);
    EXPECT_EQ(Keys(ReverseScan(e, cf, Bounds("b", "d"))), (Strs{"c", "b"})) << CfName(cf);
    EXPECT_EQ(Keys(Scan(e, cf, Bounds("", "c"))), (Strs{"a", "b"})) << CfName(cf);
    EXPECT_EQ(Keys(Scan(e, cf, Bounds("d", ""))), (Strs{"d", "e"})) << CfName(cf);
    EXPECT_EQ(Keys(ReverseScan(e, cf, Bounds("d", ""))), (Strs{"e", "d"})) << CfName(cf);
    EXPECT_EQ(Keys(Scan(e, cf, Bounds("bb", "bc"))), Strs{}) << CfName(cf);
    EXPECT_EQ(Keys(Scan(e, cf, Bounds("x", "y"))), Strs{}) << CfName(cf);
    EXPECT_EQ(Keys(ReverseScan(e, cf, Bounds("x", "y"))), Strs{}) << CfName(cf);
    EXPECT_EQ(Keys(ReverseScan(e, cf, Bounds("0", "1"))), Strs{}) << CfName(cf);
  }
}

TYPED_TEST(EngineConformanceTest, ReverseIterationMirrorsForward) {
  Engine* e = this->engine();
  WriteBatch b;
  for (int i = 0; i < 300; ++i) {
    b.Put(CF::kWrite, absl::StrFormat("key%05d", i * 7 % 300), absl::StrFormat("v%d", i));
  }
  ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  KVs fwd = Scan(e, CF::kWrite);
  KVs rev = ReverseScan(e, CF::kWrite);
  ASSERT_EQ(fwd.size(), 300u);
  std::reverse(rev.begin(), rev.end());
  EXPECT_EQ(fwd, rev);

  // Changing direction in the middle.
  auto it = e->NewIterator(CF::kWrite, {});
  it->Seek("key00100");
  ASSERT_TRUE(it->Valid());
  it->Next();
  it->Next();
  EXPECT_EQ(it->key(), "key00102");
  it->Prev();
  EXPECT_EQ(it->key(), "key00101");
  it->Prev();
  it->Prev();
  EXPECT_EQ(it->key(), "key00099");
  it->Next();
  EXPECT_EQ(it->key(), "key00100");
}

TYPED_TEST(EngineConformanceTest, DeleteRangeRemovesHalfOpenRange) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) {
    this->PutAlphabet(cf);
    WriteBatch b;
    b.DeleteRange(cf, "b", "d");
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
    EXPECT_EQ(Keys(Scan(e, cf)), (Strs{"a", "d", "e"})) << CfName(cf);
    b.Clear();
    b.DeleteRange(cf, "d", "");  // To the end of the CF.
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
    EXPECT_EQ(Keys(Scan(e, cf)), (Strs{"a"})) << CfName(cf);
    b.Clear();
    b.DeleteRange(cf, "q", "q");  // Empty range.
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
    EXPECT_EQ(Keys(Scan(e, cf)), (Strs{"a"})) << CfName(cf);
  }
}

TYPED_TEST(EngineConformanceTest, DeleteRangeSeesEarlierPutsOfItsBatchNotLaterOnes) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) {
    MustPut(e, cf, "a", "old");
    WriteBatch b;
    b.Put(cf, "b", "earlier");
    b.Put(cf, "z", "outside");
    b.DeleteRange(cf, "a", "c");
    b.Put(cf, "bb", "later");
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
    EXPECT_EQ(Scan(e, cf), (KVs{{"bb", "later"}, {"z", "outside"}})) << CfName(cf);
  }
}

TYPED_TEST(EngineConformanceTest, DeleteRangeLeavesSnapshotsAlone) {
  Engine* e = this->engine();
  this->PutAlphabet(CF::kDefault);
  auto snap = e->GetSnapshot();
  WriteBatch b;
  b.DeleteRange(CF::kDefault, "", "");
  ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  IterOptions o;
  o.snapshot = snap.get();
  EXPECT_EQ(Scan(e, CF::kDefault, o).size(), 5u);
  EXPECT_TRUE(Scan(e, CF::kDefault).empty());
}

TYPED_TEST(EngineConformanceTest, MixedRaftAndDataBatchAppliesBoth) {
  Engine* e = this->engine();
  WriteBatch b;
  b.Put(CF::kRaft, "log-1", "entry");
  b.Put(CF::kDefault, "k", "v");
  b.Put(CF::kWrite, "k", "w");
  ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  EXPECT_EQ(GetOr(e, CF::kRaft, "log-1"), "entry");
  EXPECT_EQ(GetOr(e, CF::kDefault, "k"), "v");
  EXPECT_EQ(GetOr(e, CF::kWrite, "k"), "w");
}

TYPED_TEST(EngineConformanceTest, SyncedWritesAndSyncWalSucceed) {
  Engine* e = this->engine();
  for (CF cf : kAllCfs) MustPut(e, cf, "k", "v", /*sync=*/true);
  EXPECT_TRUE(e->SyncWAL().ok());
  for (CF cf : kAllCfs) EXPECT_EQ(GetOr(e, cf, "k"), "v");
}

// Readers must never see part of a batch across the data column families: a writer
// stores the same counter in three CFs per batch; readers check the three agree.
TYPED_TEST(EngineConformanceTest, BatchAcrossDataCfsIsAtomicForReaders) {
  Engine* e = this->engine();
  const CF cfs[] = {CF::kDefault, CF::kLock, CF::kWrite};
  {
    WriteBatch b;
    for (CF cf : cfs) b.Put(cf, "counter", "0");
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0};
  std::atomic<int> reads{0};
  std::thread writer([&] {
    for (int i = 1; i <= 2000; ++i) {
      WriteBatch b;
      for (CF cf : cfs) b.Put(cf, "counter", std::to_string(i));
      if (!e->Write(b, WriteOptions()).ok()) mismatches++;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      do {  // At least once, even if the writer finishes first on a loaded machine.
        auto snap = e->GetSnapshot();
        std::string first = GetOr(e, CF::kDefault, "counter", snap.get());
        for (CF cf : cfs) {
          if (GetOr(e, cf, "counter", snap.get()) != first) mismatches++;
        }
        reads++;
      } while (!done);
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(reads.load(), 0);
  for (CF cf : cfs) EXPECT_EQ(GetOr(e, cf, "counter"), "2000");
}

TYPED_TEST(EngineConformanceTest, ConcurrentWritersAllLand) {
  Engine* e = this->engine();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch b;
        b.Put(CF::kDefault, absl::StrFormat("t%d-%04d", t, i), "v");
        b.Put(CF::kRaft, absl::StrFormat("t%d-%04d", t, i), "r");
        // Some DeleteRanges of keys nobody else writes, to mix exclusive writes in.
        if (i % 50 == 0) b.DeleteRange(CF::kLock, "nothing", "nothing2");
        WriteOptions o;
        o.sync = i % 100 == 0;
        if (!e->Write(b, o).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Scan(e, CF::kDefault).size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(Scan(e, CF::kRaft).size(), size_t{kThreads * kPerThread});
}

TYPED_TEST(EngineConformanceTest, ThousandsOfSnapshotsEachSeeTheirValue) {
  Engine* e = this->engine();
  std::vector<std::unique_ptr<Snapshot>> snaps;
  constexpr int kSnaps = 3000;
  for (int i = 0; i < kSnaps; ++i) {
    WriteBatch b;
    b.Put(CF::kWrite, "counter", std::to_string(i));
    b.Put(CF::kWrite, absl::StrFormat("k%05d", i), "x");
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
    snaps.push_back(e->GetSnapshot());
  }
  for (int i = 0; i < kSnaps; i += 97) {
    EXPECT_EQ(GetOr(e, CF::kWrite, "counter", snaps[i].get()), std::to_string(i));
    IterOptions o;
    o.snapshot = snaps[i].get();
    o.lower_bound = "k";
    EXPECT_EQ(Scan(e, CF::kWrite, o).size(), size_t(i + 1));
  }
  // Release in a scrambled order; the survivors still read correctly.
  for (int i = 0; i < kSnaps; ++i) {
    if (i % 3 != 0) snaps[i].reset();
  }
  for (int i = 0; i < kSnaps; i += 3 * 41) {
    EXPECT_EQ(GetOr(e, CF::kWrite, "counter", snaps[i].get()), std::to_string(i));
  }
}

TYPED_TEST(EngineConformanceTest, ApproximateSizeGrowsWithTheRange) {
  Engine* e = this->engine();
  const std::string value(1000, 'v');
  for (int batch = 0; batch < 10; ++batch) {
    WriteBatch b;
    for (int i = 0; i < 200; ++i) {
      b.Put(CF::kWrite, absl::StrFormat("k%05d", batch * 200 + i), value);
      b.Put(CF::kRaft, absl::StrFormat("k%05d", batch * 200 + i), value);
    }
    ASSERT_TRUE(e->Write(b, WriteOptions()).ok());
  }
  for (CF cf : {CF::kWrite, CF::kRaft}) {
    ASSERT_TRUE(e->CompactRange(cf, "", "").ok());
    auto all = e->ApproximateSize(cf, "", "");
    auto half = e->ApproximateSize(cf, "k00000", "k01000");
    auto tail = e->ApproximateSize(cf, "k01000", "");
    auto none = e->ApproximateSize(cf, "x", "y");
    ASSERT_TRUE(all.ok() && half.ok() && tail.ok() && none.ok());
    // 2000 values of 1000 bytes; LevelDB compresses the repeated bytes, so allow a wide
    // margin but require the shape: all >= each part, parts non-trivial, empty ~ 0.
    EXPECT_GT(*all, 10'000u) << CfName(cf);
    EXPECT_GE(*all, *half) << CfName(cf);
    EXPECT_GE(*all, *tail) << CfName(cf);
    EXPECT_GT(*half, *all / 5) << CfName(cf);
    EXPECT_GT(*tail, *all / 5) << CfName(cf);
    EXPECT_LT(*none, 5'000u) << CfName(cf);
  }
  // The empty lock CF has no size, although its neighbours are full.
  auto lock = e->ApproximateSize(CF::kLock, "", "");
  ASSERT_TRUE(lock.ok());
  EXPECT_LT(*lock, 5'000u);
}

}  // namespace
}  // namespace rutile::storage
