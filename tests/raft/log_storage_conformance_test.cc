// The LogStorage conformance suite: the same behaviour checked against MemoryLogStorage and
// EngineLogStorage (on MemEngine and on LevelDbEngine), including a randomized comparison
// with MemoryLogStorage as the model. Engine-specific behaviour (reopening, crash recovery
// with unsynced writes lost, groups sharing an engine, group commit, the tail cache,
// corruption) follows in EngineLogStorageTest.

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raft/engine_log_storage.h"
#include "raft/errors.h"
#include "raft/memory_log_storage.h"
#include "storage/leveldb_engine.h"
#include "storage/mem_engine.h"

namespace rutile::raft {
namespace {

Entry Ent(uint64_t term, uint64_t index, std::string data = "") {
  Entry e;
  e.set_term(term);
  e.set_index(index);
  e.set_data(std::move(data));
  return e;
}

Snapshot Snap(uint64_t index, uint64_t term, std::vector<uint64_t> voters = {1, 2, 3},
              std::string data = "") {
  Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  for (uint64_t v : voters) s.mutable_metadata()->mutable_conf_state()->add_voters(v);
  s.set_data(std::move(data));
  return s;
}

HardState Hs(uint64_t term, uint64_t vote, uint64_t commit) {
  HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string templ = std::string(base != nullptr ? base : "/tmp") + "/rutile_raftlog_XXXXXX";
    EXPECT_NE(mkdtemp(templ.data()), nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Factories: Make() returns a fresh, empty storage; the factory owns what it needs.
struct MemoryFactory {
  using Storage = MemoryLogStorage;
  std::unique_ptr<Storage> Make() { return std::make_unique<MemoryLogStorage>(); }
  // Whatever survives a restart; the memory storage has no such thing.
  std::unique_ptr<Storage> Reopen() { return nullptr; }
};

struct MemEngineFactory {
  using Storage = EngineLogStorage;
  storage::MemEngine engine;
  std::unique_ptr<Storage> Make() {
    EngineLogStorageOptions o;
    o.cache_entries = 3;  // Small, so reads cross from the engine into the cache.
    auto s = EngineLogStorage::Open(&engine, 42, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }
  std::unique_ptr<Storage> Reopen() { return Make(); }
};

struct LevelDbFactory {
  using Storage = EngineLogStorage;
  TempDir dir;
  std::unique_ptr<storage::Engine> engine;
  std::unique_ptr<Storage> Make() {
    auto e = storage::LevelDbEngine::Open(dir.path() + "/engine", {});
    EXPECT_TRUE(e.ok()) << e.status();
    engine = *std::move(e);
    EngineLogStorageOptions o;
    o.sync = false;  // Durability is the engine's business; keep the suite fast.
    auto s = EngineLogStorage::Open(engine.get(), 42, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }
  std::unique_ptr<Storage> Reopen() {
    EngineLogStorageOptions o;
    o.sync = false;
    auto s = EngineLogStorage::Open(engine.get(), 42, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
};

// MemoryLogStorage::SetHardState returns nothing; the engine's returns a status.
template <typename S>
absl::Status SetHardState(S* s, const HardState& hs) {
  if constexpr (std::is_void_v<decltype(s->SetHardState(hs))>) {
    s->SetHardState(hs);
    return absl::OkStatus();
  } else {
    return s->SetHardState(hs);
  }
}

template <typename F>
class LogStorageConformanceTest : public ::testing::Test {
 protected:
  using Storage = typename F::Storage;

  // Snapshot at (3, 3) followed by entries 4 and 5 of terms 4 and 5.
  std::unique_ptr<Storage> MakeFilled() {
    std::unique_ptr<Storage> s = factory_.Make();
    EXPECT_TRUE(s->ApplySnapshot(Snap(3, 3)).ok());
    EXPECT_TRUE(s->Append({Ent(4, 4, "d4"), Ent(5, 5, "d5")}).ok());
    return s;
  }

  F factory_;
};

using Factories = ::testing::Types<MemoryFactory, MemEngineFactory, LevelDbFactory>;
TYPED_TEST_SUITE(LogStorageConformanceTest, Factories);

TYPED_TEST(LogStorageConformanceTest, EmptyLogStartsAtOne) {
  auto s = this->factory_.Make();
  EXPECT_EQ(*s->FirstIndex(), 1u);
  EXPECT_EQ(*s->LastIndex(), 0u);
  EXPECT_EQ(*s->Term(0), 0u);
  EXPECT_TRUE(IsRaftError(s->Term(1).status(), RaftError::kUnavailable));
  EXPECT_TRUE(s->Entries(1, 1, kNoLimit)->empty());
  auto init = s->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state.term(), 0u);
  EXPECT_EQ(init->conf_state.voters_size(), 0);
}

TYPED_TEST(LogStorageConformanceTest, TermAndIndexesReportTypedErrors) {
  auto s = this->MakeFilled();
  EXPECT_EQ(*s->FirstIndex(), 4u);
  EXPECT_EQ(*s->LastIndex(), 5u);
  EXPECT_EQ(*s->Term(3), 3u);
  EXPECT_EQ(*s->Term(4), 4u);
  EXPECT_EQ(*s->Term(5), 5u);
  EXPECT_TRUE(IsRaftError(s->Term(2).status(), RaftError::kCompacted));
  EXPECT_TRUE(IsRaftError(s->Term(6).status(), RaftError::kUnavailable));
}

TYPED_TEST(LogStorageConformanceTest, EntriesHonourBoundsAndSizeLimit) {
  auto s = this->MakeFilled();
  ASSERT_TRUE(s->Append({Ent(5, 6, "d6"), Ent(5, 7, "d7")}).ok());
  EXPECT_TRUE(IsRaftError(s->Entries(3, 5, kNoLimit).status(), RaftError::kCompacted));
  EXPECT_TRUE(IsRaftError(s->Entries(4, 9, kNoLimit).status(), RaftError::kUnavailable));
  auto all = s->Entries(4, 8, kNoLimit);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].index(), 4 + i);
    EXPECT_EQ((*all)[i].data(), absl::StrCat("d", 4 + i));
  }
  uint64_t one = (*all)[0].ByteSizeLong();
  // A limit below one entry still returns one; the limit counts whole entries.
  EXPECT_EQ(s->Entries(4, 8, 0)->size(), 1u);
  EXPECT_EQ(s->Entries(4, 8, one)->size(), 1u);
  EXPECT_EQ(s->Entries(4, 8, 2 * one)->size(), 2u);
  EXPECT_EQ(s->Entries(4, 8, 3 * one + 1)->size(), 3u);
  EXPECT_EQ(s->Entries(5, 7, kNoLimit)->size(), 2u);
  EXPECT_EQ(s->Entries(6, 6, kNoLimit)->size(), 0u);
}

TYPED_TEST(LogStorageConformanceTest, AppendTruncatesConflictsAndRejectsGaps) {
  auto s = this->MakeFilled();
  ASSERT_TRUE(s->Append({Ent(6, 5, "x5"), Ent(6, 6, "x6")}).ok());
  EXPECT_EQ(*s->Term(5), 6u);
  EXPECT_EQ(*s->LastIndex(), 6u);
  EXPECT_EQ((*s->Entries(5, 6, kNoLimit))[0].data(), "x5");
  // A gap is refused and changes nothing.
  EXPECT_TRUE(IsRaftError(s->Append({Ent(6, 9)}), RaftError::kUnavailable));
  EXPECT_EQ(*s->LastIndex(), 6u);
  // Entries below the first index are ignored; the rest truncates the suffix.
  ASSERT_TRUE(s->Append({Ent(3, 3), Ent(4, 4, "y4")}).ok());
  EXPECT_EQ(*s->LastIndex(), 4u);
  EXPECT_EQ((*s->Entries(4, 5, kNoLimit))[0].data(), "y4");
  // Entirely compacted: ignored.
  ASSERT_TRUE(s->Append({Ent(1, 2), Ent(3, 3)}).ok());
  EXPECT_EQ(*s->LastIndex(), 4u);
  // Appending the same entries again is harmless.
  ASSERT_TRUE(s->Append({Ent(4, 4, "y4"), Ent(7, 5, "z5")}).ok());
  ASSERT_TRUE(s->Append({Ent(4, 4, "y4"), Ent(7, 5, "z5")}).ok());
  EXPECT_EQ(*s->LastIndex(), 5u);
  EXPECT_EQ(*s->Term(5), 7u);
}

TYPED_TEST(LogStorageConformanceTest, CompactKeepsTheDummyTerm) {
  auto s = this->MakeFilled();
  EXPECT_TRUE(IsRaftError(s->Compact(3), RaftError::kCompacted));
  EXPECT_TRUE(IsRaftError(s->Compact(6), RaftError::kUnavailable));
  ASSERT_TRUE(s->Compact(4).ok());
  EXPECT_EQ(*s->FirstIndex(), 5u);
  EXPECT_EQ(*s->LastIndex(), 5u);
  EXPECT_EQ(*s->Term(4), 4u);
  EXPECT_TRUE(IsRaftError(s->Term(3).status(), RaftError::kCompacted));
  EXPECT_TRUE(IsRaftError(s->Entries(4, 6, kNoLimit).status(), RaftError::kCompacted));
  EXPECT_EQ(s->Entries(5, 6, kNoLimit)->size(), 1u);
  // Compacting everything leaves an empty log after the dummy.
  ASSERT_TRUE(s->Compact(5).ok());
  EXPECT_EQ(*s->FirstIndex(), 6u);
  EXPECT_EQ(*s->LastIndex(), 5u);
  EXPECT_EQ(*s->Term(5), 5u);
  ASSERT_TRUE(s->Append({Ent(5, 6)}).ok());
  EXPECT_EQ(*s->LastIndex(), 6u);
}

TYPED_TEST(LogStorageConformanceTest, CreateAndApplySnapshots) {
  auto s = this->MakeFilled();
  ConfState cs;
  cs.add_voters(1);
  cs.add_learners(4);
  auto snap = s->CreateSnapshot(5, &cs, "state");
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->metadata().index(), 5u);
  EXPECT_EQ(snap->metadata().term(), 5u);
  EXPECT_EQ(s->GetSnapshot()->data(), "state");
  // Creating a snapshot does not discard entries.
  EXPECT_EQ(*s->FirstIndex(), 4u);
  EXPECT_TRUE(IsRaftError(s->CreateSnapshot(4, &cs, "").status(), RaftError::kSnapshotOutOfDate));
  EXPECT_TRUE(IsRaftError(s->CreateSnapshot(9, &cs, "").status(), RaftError::kUnavailable));
  EXPECT_TRUE(IsRaftError(s->ApplySnapshot(Snap(2, 2)), RaftError::kSnapshotOutOfDate));
  auto init = s->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state.voters_size(), 1);
  EXPECT_EQ(init->conf_state.learners_size(), 1);

  // Installing a newer snapshot replaces the whole log.
  ASSERT_TRUE(s->ApplySnapshot(Snap(10, 7, {1, 2}, "newer")).ok());
  EXPECT_EQ(*s->FirstIndex(), 11u);
  EXPECT_EQ(*s->LastIndex(), 10u);
  EXPECT_EQ(*s->Term(10), 7u);
  EXPECT_TRUE(IsRaftError(s->Term(5).status(), RaftError::kCompacted));
  EXPECT_EQ(s->GetSnapshot()->data(), "newer");
  ASSERT_TRUE(s->Append({Ent(7, 11, "a"), Ent(8, 12, "b")}).ok());
  EXPECT_EQ(*s->LastIndex(), 12u);
}

TYPED_TEST(LogStorageConformanceTest, HardStateRoundTrips) {
  auto s = this->MakeFilled();
  ASSERT_TRUE(SetHardState(s.get(), Hs(5, 2, 4)).ok());
  auto init = s->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state.term(), 5u);
  EXPECT_EQ(init->hard_state.vote(), 2u);
  EXPECT_EQ(init->hard_state.commit(), 4u);
}

// Random operations on the storage under test and on MemoryLogStorage (the model); every
// observable answer must agree.
TYPED_TEST(LogStorageConformanceTest, AgreesWithTheModelOnRandomOperations) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed=", seed));
    TypeParam factory;
    auto s = factory.Make();
    MemoryLogStorage model;
    std::mt19937_64 rng(seed);
    auto pick = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
    uint64_t term = 1;
    for (int step = 0; step < 200; ++step) {
      uint64_t first = *model.FirstIndex();
      uint64_t last = *model.LastIndex();
      int op = static_cast<int>(pick(10));
      absl::Status ms;
      absl::Status ts;
      if (op < 6) {
        // Append 1..5 entries starting somewhere in [first-2, last+2] (gaps included).
        uint64_t start = first > 2 ? first - 2 + pick(last + 5 - first) : 1 + pick(last + 2);
        if (pick(3) == 0) ++term;
        std::vector<Entry> ents;
        size_t n = 1 + pick(5);
        for (size_t k = 0; k < n; ++k) {
          ents.push_back(Ent(term, start + k, absl::StrCat("s", seed, "t", step, "k", k)));
        }
        ms = model.Append(ents);
        ts = s->Append(ents);
      } else if (op < 8) {
        uint64_t i = first > 1 ? first - 1 + pick(last + 3 - first) : pick(last + 2);
        ms = model.Compact(i);
        ts = s->Compact(i);
      } else if (op == 8) {
        uint64_t i = first + pick(last + 3 - first);
        ConfState cs;
        cs.add_voters(1 + pick(5));
        if (i >= first - 1) {
          auto m = model.CreateSnapshot(i, &cs, absl::StrCat("snap", step));
          auto t = s->CreateSnapshot(i, &cs, absl::StrCat("snap", step));
          ms = m.status();
          ts = t.status();
        }
      } else {
        uint64_t i = last + pick(4);
        if (pick(2) == 0) ++term;
        Snapshot snap = Snap(i, term, {1, 2, 3}, absl::StrCat("applied", step));
        ms = model.ApplySnapshot(snap);
        ts = s->ApplySnapshot(snap);
      }
      if (step % 7 == 6) {
        // What was written must read back the same after a restart.
        if (auto reopened = factory.Reopen()) s = std::move(reopened);
      }
      ASSERT_EQ(ms.ok(), ts.ok()) << "op " << op << " step " << step << ": model " << ms << " vs "
                                  << ts;
      if (!ms.ok()) {
        EXPECT_EQ(GetRaftError(ms), GetRaftError(ts));
      }
      ASSERT_EQ(*model.FirstIndex(), *s->FirstIndex()) << "step " << step;
      ASSERT_EQ(*model.LastIndex(), *s->LastIndex()) << "step " << step;
      uint64_t f = *model.FirstIndex();
      uint64_t l = *model.LastIndex();
      for (uint64_t i = f - 1; i <= l; ++i) ASSERT_EQ(*model.Term(i), *s->Term(i)) << i;
      auto me = model.Entries(f, l + 1, kNoLimit);
      auto te = s->Entries(f, l + 1, kNoLimit);
      ASSERT_TRUE(me.ok() && te.ok());
      ASSERT_EQ(me->size(), te->size());
      for (size_t k = 0; k < me->size(); ++k) {
        ASSERT_EQ((*me)[k].SerializeAsString(), (*te)[k].SerializeAsString());
      }
      if (l >= f) {
        uint64_t limit = pick(400);
        ASSERT_EQ(model.Entries(f, l + 1, limit)->size(), s->Entries(f, l + 1, limit)->size());
      }
      ASSERT_EQ(model.GetSnapshot()->SerializeAsString(), s->GetSnapshot()->SerializeAsString());
    }
  }
}

// ---- EngineLogStorage only ----

std::unique_ptr<EngineLogStorage> OpenOn(storage::Engine* engine, uint64_t group,
                                         EngineLogStorageOptions o = {}) {
  auto s = EngineLogStorage::Open(engine, group, o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

std::vector<Entry> Ents(uint64_t term, uint64_t from, uint64_t to) {
  std::vector<Entry> v;
  for (uint64_t i = from; i <= to; ++i) v.push_back(Ent(term, i, absl::StrCat("e", i)));
  return v;
}

TEST(EngineLogStorageTest, ReopenRestoresEverything) {
  storage::MemEngine engine;
  EngineLogStorageOptions o;
  o.cache_entries = 4;
  {
    auto s = OpenOn(&engine, 1, o);
    ASSERT_TRUE(s->ApplySnapshot(Snap(5, 2, {1, 2, 3}, "base")).ok());
    ASSERT_TRUE(s->SaveReady(Hs(3, 1, 12), Ents(3, 6, 20), std::nullopt, true).ok());
    ASSERT_TRUE(s->Compact(8).ok());
    ConfState cs;
    cs.add_voters(1);
    ASSERT_TRUE(s->SetConfState(cs).ok());
    EXPECT_LE(s->TEST_CachedEntries(), 4u);
  }
  auto s = OpenOn(&engine, 1, o);
  EXPECT_EQ(*s->FirstIndex(), 9u);
  EXPECT_EQ(*s->LastIndex(), 20u);
  EXPECT_EQ(*s->Term(8), 3u);
  EXPECT_EQ(s->GetSnapshot()->data(), "base");
  auto init = s->GetInitialState();
  EXPECT_EQ(init->hard_state.commit(), 12u);
  EXPECT_EQ(init->conf_state.voters_size(), 1);  // The recorded one, not the snapshot's.
  auto ents = s->Entries(9, 21, kNoLimit);
  ASSERT_TRUE(ents.ok());
  ASSERT_EQ(ents->size(), 12u);
  for (size_t k = 0; k < ents->size(); ++k) EXPECT_EQ((*ents)[k].data(), absl::StrCat("e", 9 + k));
}

TEST(EngineLogStorageTest, CrashLosesUnsyncedWritesOnly) {
  storage::MemEngine engine;
  {
    auto s = OpenOn(&engine, 1);
    ASSERT_TRUE(s->SaveReady(Hs(1, 1, 0), Ents(1, 1, 10), std::nullopt, /*sync=*/true).ok());
    // Unsynced: a commit-only hard state change, and more entries.
    ASSERT_TRUE(s->SaveReady(Hs(1, 1, 8), {}, std::nullopt, /*sync=*/false).ok());
    ASSERT_TRUE(s->SaveReady(Hs(2, 2, 8), Ents(2, 9, 15), std::nullopt, /*sync=*/false).ok());
    EXPECT_EQ(*s->LastIndex(), 15u);
    EXPECT_GT(engine.UnsyncedWriteCount(), 0u);
  }
  engine.SimulateCrash();
  {
    auto s = OpenOn(&engine, 1);
    EXPECT_EQ(*s->LastIndex(), 10u);
    EXPECT_EQ(*s->Term(9), 1u);
    auto init = s->GetInitialState();
    EXPECT_EQ(init->hard_state.term(), 1u);
    EXPECT_EQ(init->hard_state.commit(), 0u);
    // A synced write after unsynced ones makes them all durable.
    ASSERT_TRUE(s->SaveReady(Hs(1, 1, 5), {}, std::nullopt, false).ok());
    ASSERT_TRUE(s->SaveReady(std::nullopt, Ents(2, 9, 12), std::nullopt, false).ok());
    ASSERT_TRUE(s->SaveReady(Hs(2, 1, 11), {}, std::nullopt, true).ok());
  }
  engine.SimulateCrash();
  auto s = OpenOn(&engine, 1);
  EXPECT_EQ(*s->LastIndex(), 12u);
  EXPECT_EQ(*s->Term(12), 2u);
  EXPECT_EQ(s->GetInitialState()->hard_state.commit(), 11u);
}

TEST(EngineLogStorageTest, CrashKeepsEachReadyAtomic) {
  // A conflicting-suffix overwrite plus hard state is one batch: after a crash we see the
  // old log and old hard state, or the new ones, never a mix.
  storage::MemEngine engine;
  {
    auto s = OpenOn(&engine, 3);
    ASSERT_TRUE(s->SaveReady(Hs(1, 1, 2), Ents(1, 1, 6), std::nullopt, true).ok());
    ASSERT_TRUE(s->SaveReady(Hs(2, 2, 2), Ents(2, 4, 4), std::nullopt, false).ok());
    EXPECT_EQ(*s->LastIndex(), 4u);
  }
  engine.SimulateCrash();
  auto s = OpenOn(&engine, 3);
  EXPECT_EQ(*s->LastIndex(), 6u);
  EXPECT_EQ(*s->Term(4), 1u);
  EXPECT_EQ(s->GetInitialState()->hard_state.term(), 1u);
}

TEST(EngineLogStorageTest, GroupsShareAnEngineIndependently) {
  storage::MemEngine engine;
  auto a = OpenOn(&engine, 1);
  auto b = OpenOn(&engine, 2);
  auto c = OpenOn(&engine, 256);  // Differs from 1 only in another byte of the id.
  ASSERT_TRUE(a->SaveReady(Hs(1, 1, 0), Ents(1, 1, 5), std::nullopt, true).ok());
  ASSERT_TRUE(b->SaveReady(Hs(4, 2, 0), Ents(4, 1, 2), std::nullopt, true).ok());
  ASSERT_TRUE(c->ApplySnapshot(Snap(100, 9)).ok());
  ASSERT_TRUE(a->Compact(3).ok());
  auto a2 = OpenOn(&engine, 1);
  auto b2 = OpenOn(&engine, 2);
  auto c2 = OpenOn(&engine, 256);
  EXPECT_EQ(*a2->FirstIndex(), 4u);
  EXPECT_EQ(*a2->LastIndex(), 5u);
  EXPECT_EQ(*b2->FirstIndex(), 1u);
  EXPECT_EQ(*b2->LastIndex(), 2u);
  EXPECT_EQ(b2->GetInitialState()->hard_state.term(), 4u);
  EXPECT_EQ(*c2->FirstIndex(), 101u);
  EXPECT_EQ(*OpenOn(&engine, 3)->LastIndex(), 0u);
}

TEST(EngineLogStorageTest, GroupCommitWritesManyGroupsInOneBatch) {
  storage::MemEngine engine;
  auto a = OpenOn(&engine, 1);
  auto b = OpenOn(&engine, 2);
  storage::WriteBatch batch;
  ASSERT_TRUE(a->BuildReadyWrite(Hs(1, 1, 0), Ents(1, 1, 3), std::nullopt, &batch).ok());
  ASSERT_TRUE(b->BuildReadyWrite(Hs(1, 2, 0), Ents(1, 1, 2), std::nullopt, &batch).ok());
  // A second build for the same group before the first is acknowledged is refused.
  storage::WriteBatch other;
  EXPECT_EQ(a->BuildReadyWrite(std::nullopt, Ents(1, 4, 4), std::nullopt, &other).code(),
            absl::StatusCode::kFailedPrecondition);
  // Not visible until acknowledged.
  EXPECT_EQ(*a->LastIndex(), 0u);
  storage::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(engine.Write(batch, wo).ok());
  a->OnReadyWritten();
  b->OnReadyWritten();
  EXPECT_EQ(*a->LastIndex(), 3u);
  EXPECT_EQ(*b->LastIndex(), 2u);
  // The entries were taken over (rvalue BuildReadyWrite) into the cache intact.
  auto got = a->Entries(1, 4, UINT64_MAX);
  ASSERT_TRUE(got.ok());
  std::vector<Entry> want = Ents(1, 1, 3);
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].SerializeAsString(), want[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(engine.UnsyncedWriteCount(), 0u);
  engine.SimulateCrash();
  EXPECT_EQ(*OpenOn(&engine, 1)->LastIndex(), 3u);
  EXPECT_EQ(OpenOn(&engine, 2)->GetInitialState()->hard_state.vote(), 2u);
  // An abandoned write leaves the view alone.
  storage::WriteBatch third;
  ASSERT_TRUE(a->BuildReadyWrite(std::nullopt, Ents(1, 4, 4), std::nullopt, &third).ok());
  a->AbandonReadyWrite();
  EXPECT_EQ(*a->LastIndex(), 3u);
}

TEST(EngineLogStorageTest, ReadsCrossFromEngineIntoCache) {
  storage::MemEngine engine;
  EngineLogStorageOptions o;
  o.cache_entries = 5;
  auto s = OpenOn(&engine, 9, o);
  ASSERT_TRUE(s->Append(Ents(1, 1, 30)).ok());
  EXPECT_EQ(s->TEST_CachedEntries(), 5u);
  auto ents = s->Entries(20, 31, kNoLimit);
  ASSERT_TRUE(ents.ok());
  ASSERT_EQ(ents->size(), 11u);
  for (size_t k = 0; k < ents->size(); ++k) EXPECT_EQ((*ents)[k].index(), 20 + k);
  uint64_t one = (*ents)[0].ByteSizeLong();
  EXPECT_EQ(s->Entries(20, 31, 3 * one)->size(), 3u);
  EXPECT_EQ(s->Entries(20, 31, 8 * one)->size(), 8u);
  EXPECT_EQ(*s->Term(3), 1u);
  // Overwriting below the cache truncates correctly.
  ASSERT_TRUE(s->Append(Ents(2, 10, 12)).ok());
  EXPECT_EQ(*s->LastIndex(), 12u);
  EXPECT_EQ(*s->Term(12), 2u);
  EXPECT_EQ(*s->Term(9), 1u);
  auto reopened = OpenOn(&engine, 9, o);
  EXPECT_EQ(*reopened->LastIndex(), 12u);
}

TEST(EngineLogStorageTest, HoleInTheLogIsDataLoss) {
  storage::MemEngine engine;
  {
    auto s = OpenOn(&engine, 1);
    ASSERT_TRUE(s->Append(Ents(1, 1, 5)).ok());
  }
  storage::WriteBatch wb;
  wb.Delete(storage::CF::kRaft, EngineLogStorage::LogKey(1, 3));
  ASSERT_TRUE(engine.Write(wb, {}).ok());
  auto s = EngineLogStorage::Open(&engine, 1);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
}

TEST(EngineLogStorageTest, GarbageEntryIsDataLoss) {
  storage::MemEngine engine;
  storage::WriteBatch wb;
  wb.Put(storage::CF::kRaft, EngineLogStorage::LogKey(1, 1), "\xff\xff\xff");
  ASSERT_TRUE(engine.Write(wb, {}).ok());
  EXPECT_EQ(EngineLogStorage::Open(&engine, 1).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace rutile::raft
