// Snapshot reads against a naive model: random committed, rolled-back and pending
// transactions, then point gets and scans (forward, reverse, limits, key-only, SI and RC)
// at random timestamps must equal what a map of versions says (DESIGN.md §14 item 2).

#include "txn/reads.h"

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <utility>

#include "gtest/gtest.h"
#include "storage/leveldb_engine.h"
#include "txn/txn_test_util.h"

namespace rutile::txn::testing {
namespace {

// A fresh directory under $TEST_TMPDIR (or /tmp), removed at the end; empty path if none
// could be made.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string p = std::string(base != nullptr ? base : "/tmp") + "/rutile_reads_XXXXXX";
    if (mkdtemp(p.data()) != nullptr) path = std::move(p);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

struct Model {
  // key -> commit_ts -> value (nullopt: deleted).
  std::map<std::string, std::map<TimeStamp, std::optional<std::string>>> versions;
  // key -> pending lock (start_ts, is a Put/Delete lock).
  std::map<std::string, std::pair<TimeStamp, bool>> locks;

  std::optional<std::string> Get(const std::string& k, TimeStamp ts) const {
    auto it = versions.find(k);
    if (it == versions.end()) return std::nullopt;
    auto v = it->second.upper_bound(ts);
    if (v == it->second.begin()) return std::nullopt;
    return std::prev(v)->second;
  }
  bool Blocks(const std::string& k, TimeStamp ts) const {
    auto it = locks.find(k);
    return it != locks.end() && it->second.second && it->second.first <= ts;
  }
};

TEST(ReadsModelTest, RandomHistories) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    TestEngine e;
    Model m;
    auto key = [&] { return std::string(1, static_cast<char>('a' + rng() % 12)); };
    TimeStamp ts = 10;
    for (int t = 0; t < 40; ++t) {
      const TimeStamp start = ts++, commit = ts++;
      std::map<std::string, Mutation> muts;
      for (int i = 0, n = 1 + rng() % 4; i < n; ++i) {
        std::string k = key();
        const int kind = rng() % 5;
        Mutation mu = kind == 0   ? Mutation::Delete(k)
                      : kind == 1 ? Mutation::LockKey(k)
                      : kind == 2 ? Mutation::Put(k, std::string(300, 'L') + std::to_string(t))
                                  : Mutation::Put(k, "v" + std::to_string(t));
        muts[k] = mu;
      }
      PrewriteRequest req;
      for (auto& [k, mu] : muts) req.mutations.push_back(mu);
      req.primary = req.mutations[0].key;
      req.start_ts = start;
      ASSERT_TRUE(e.store.Prewrite(req).ok());
      std::vector<std::string> keys;
      for (auto& [k, mu] : muts) keys.push_back(k);
      if (rng() % 4 == 0) {
        ASSERT_TRUE(e.store.Rollback({keys, start}).ok());
        continue;
      }
      ASSERT_TRUE(e.store.Commit({keys, start, commit}).ok());
      for (auto& [k, mu] : muts) {
        if (mu.type == MutationType::kPut) m.versions[k][commit] = mu.value;
        if (mu.type == MutationType::kDelete) m.versions[k][commit] = std::nullopt;
      }
    }
    // A few pending transactions at the end.
    for (int t = 0; t < 3; ++t) {
      const TimeStamp start = ts++;
      std::string k = key();
      if (m.locks.count(k)) continue;
      const bool data = rng() % 3 != 0;
      PrewriteRequest req =
          OptimisticReq(data ? Mutation::Put(k, "pending") : Mutation::LockKey(k), k, start);
      ASSERT_TRUE(e.store.Prewrite(req).ok());
      m.locks[k] = {start, data};
    }
    const TimeStamp max_ts = ts + 2;
    for (int q = 0; q < 200; ++q) {
      const TimeStamp read_ts = 5 + rng() % (max_ts - 5);
      const bool rc = rng() % 4 == 0;
      // Point get.
      const std::string k = key();
      TxnReadOptions ro;
      if (rc) ro.isolation = IsolationLevel::kRC;
      auto g = e.store.Get(k, read_ts, ro);
      if (!rc && m.Blocks(k, read_ts)) {
        EXPECT_TRUE(IsErr<KeyIsLocked>(g.status())) << k << "@" << read_ts;
      } else {
        ASSERT_TRUE(g.ok()) << g.status();
        EXPECT_EQ(*g, m.Get(k, read_ts)) << k << "@" << read_ts;
      }
      // Scan.
      ScanOptions so;
      so.ts = read_ts;
      std::string a = key(), b = key();
      if (a > b) std::swap(a, b);
      so.start_key = rng() % 5 == 0 ? "" : a;
      so.end_key = rng() % 5 == 0 ? "" : b;
      so.limit = rng() % 3 == 0 ? 0 : 1 + rng() % 5;
      so.reverse = rng() % 2 == 0;
      so.key_only = rng() % 4 == 0;
      if (rc) so.read.isolation = IsolationLevel::kRC;
      std::vector<std::pair<std::string, std::optional<std::string>>> expect;  // nullopt: locked.
      std::vector<std::string> all;
      for (char c = 'a'; c < 'a' + 12; ++c) all.emplace_back(1, c);
      if (so.reverse) std::reverse(all.begin(), all.end());
      for (const std::string& k2 : all) {
        if (k2 < so.start_key || (!so.end_key.empty() && k2 >= so.end_key)) continue;
        if (so.limit != 0 && expect.size() == so.limit) break;
        if (!rc && m.Blocks(k2, read_ts)) {
          expect.emplace_back(k2, std::nullopt);
          continue;
        }
        auto v = m.Get(k2, read_ts);
        if (v.has_value()) expect.emplace_back(k2, so.key_only ? std::string() : *v);
      }
      auto s = e.store.Scan(so);
      ASSERT_TRUE(s.ok()) << s.status();
      std::vector<std::pair<std::string, std::optional<std::string>>> got;
      for (const KvPair& p : *s) {
        if (!p.error.ok()) {
          EXPECT_TRUE(IsErr<KeyIsLocked>(p.error));
          got.emplace_back(p.key, std::nullopt);
        } else {
          got.emplace_back(p.key, p.value);
        }
      }
      EXPECT_EQ(got, expect) << "scan [" << so.start_key << "," << so.end_key << ") @" << read_ts
                             << " limit=" << so.limit << " reverse=" << so.reverse;
      // ScanEach (no limit): the visible pairs up to the first locked key, whose lock is
      // then among those of the KeyIsLocked error.
      if (so.limit == 0) {
        std::vector<std::pair<std::string, std::optional<std::string>>> seen;
        absl::Status es = ScanEach(e.Reader(), so, [&](std::string_view k2, std::string_view v) {
          seen.emplace_back(std::string(k2), std::string(v));
          return true;
        });
        size_t first_locked = 0;
        while (first_locked < expect.size() && expect[first_locked].second.has_value()) {
          ++first_locked;
        }
        std::vector<std::pair<std::string, std::optional<std::string>>> prefix(
            expect.begin(), expect.begin() + static_cast<std::ptrdiff_t>(first_locked));
        EXPECT_EQ(seen, prefix) << "ScanEach @" << read_ts << " reverse=" << so.reverse;
        if (first_locked == expect.size()) {
          EXPECT_TRUE(es.ok()) << es;
        } else {
          std::optional<KeyIsLocked> kl = GetTxnErrorAs<KeyIsLocked>(es);
          ASSERT_TRUE(kl.has_value()) << es;
          bool named = false;
          for (const LockInfo& li : kl->locks)
            named = named || li.key == expect[first_locked].first;
          EXPECT_TRUE(named) << expect[first_locked].first;
        }
      }
    }
  }
}

// The point get of a transactional Get at a region leader reads the latest state through
// a single-key reader (MvccReader::GetValue over LevelDbEngine::SeekVisit), whose LevelDB
// iterators are pooled and reused across reads. After every commit, rollback or prewrite
// each key is read again at several timestamps: a pooled iterator made before a write must
// never answer a read after it, and the value must be the model's (short values, long
// values from the default CF, deletes, lock and rollback records skipped).
TEST(ReadsTest, PooledLatestPointGetsSeeEveryWrite) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path.empty());
  auto opened = storage::LevelDbEngine::Open(tmp.path + "/engine", storage::LevelDbEngineOptions());
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto* engine = static_cast<storage::LevelDbEngine*>(opened->get());
  ConcurrencyManager cm{1};
  Latches latches{64};
  TxnStorage store(engine, &cm, &latches);
  Model m;
  std::mt19937_64 rng(7);
  auto key = [&] { return std::string(1, static_cast<char>('a' + rng() % 6)); };
  size_t kept_seen = 0;
  TimeStamp ts = 10;
  // Reads every key at the newest ts and at a few older ones, as a point get does.
  auto check_all = [&](const std::string& when) {
    for (char c = 'a'; c < 'a' + 6; ++c) {
      const std::string k(1, c);
      for (TimeStamp read_ts : {ts, ts - 1, 5 + rng() % (ts - 4)}) {
        MvccReader reader(engine, nullptr);
        reader.set_single_key(true);
        auto g = PointGetEncoded(&reader, EncodeKey(k), read_ts, TxnReadOptions());
        if (m.Blocks(k, read_ts)) {
          EXPECT_TRUE(IsErr<KeyIsLocked>(g.status())) << k << "@" << read_ts << " " << when;
          continue;
        }
        ASSERT_TRUE(g.ok()) << g.status();
        EXPECT_EQ(*g, m.Get(k, read_ts)) << k << "@" << read_ts << " " << when;
      }
      kept_seen += engine->TEST_KeptIterators();
    }
  };
  for (int t = 0; t < 80; ++t) {
    const TimeStamp start = ts++, commit = ts++;
    std::map<std::string, Mutation> muts;
    for (int i = 0, n = 1 + rng() % 3; i < n; ++i) {
      std::string k = key();
      const int kind = rng() % 5;
      muts[k] = kind == 0   ? Mutation::Delete(k)
                : kind == 1 ? Mutation::LockKey(k)
                : kind == 2 ? Mutation::Put(k, std::string(300, 'L') + std::to_string(t))
                            : Mutation::Put(k, "v" + std::to_string(t));
    }
    PrewriteRequest req;
    std::vector<std::string> keys;
    for (auto& [k, mu] : muts) {
      req.mutations.push_back(mu);
      keys.push_back(k);
    }
    req.primary = req.mutations[0].key;
    req.start_ts = start;
    ASSERT_TRUE(store.Prewrite(req).ok());
    for (auto& [k, mu] : muts) m.locks[k] = {start, mu.type != MutationType::kLock};
    check_all("after prewrite " + std::to_string(t));
    for (auto& [k, mu] : muts) m.locks.erase(k);
    if (rng() % 4 == 0) {
      ASSERT_TRUE(store.Rollback({keys, start}).ok());
      check_all("after rollback " + std::to_string(t));
      continue;
    }
    ASSERT_TRUE(store.Commit({keys, start, commit}).ok());
    for (auto& [k, mu] : muts) {
      if (mu.type == MutationType::kPut) m.versions[k][commit] = mu.value;
      if (mu.type == MutationType::kDelete) m.versions[k][commit] = std::nullopt;
    }
    check_all("after commit " + std::to_string(t));
  }
  // The reads went through kept iterators (the path under test).
  EXPECT_GT(kept_seen, 0u);
}

// Forwards to a LevelDbEngine; the first lock read of `trigger` runs `hook` first (a
// commit applied by another thread just before that read).
class HookedEngine final : public storage::Engine {
 public:
  HookedEngine(storage::Engine* base, std::string trigger, std::function<void()> hook)
      : base_(base), trigger_(std::move(trigger)), hook_(std::move(hook)) {}
  absl::StatusOr<std::optional<std::string>> Get(storage::CF cf, std::string_view key,
                                                 const storage::ReadOptions& o) override {
    if (cf == storage::CF::kLock && key == trigger_ && hook_) std::exchange(hook_, nullptr)();
    return base_->Get(cf, key, o);
  }
  std::unique_ptr<storage::Iterator> NewIterator(storage::CF cf,
                                                 const storage::IterOptions& o) override {
    return base_->NewIterator(cf, o);
  }
  std::unique_ptr<storage::Snapshot> GetSnapshot() override { return base_->GetSnapshot(); }
  absl::Status Write(const storage::WriteBatch& b, const storage::WriteOptions& o) override {
    return base_->Write(b, o);
  }
  absl::Status SyncWAL() override { return base_->SyncWAL(); }
  absl::StatusOr<uint64_t> ApproximateSize(storage::CF cf, std::string_view start,
                                           std::string_view end) override {
    return base_->ApproximateSize(cf, start, end);
  }
  absl::Status CompactRange(storage::CF cf, std::string_view start, std::string_view end) override {
    return base_->CompactRange(cf, start, end);
  }

 private:
  storage::Engine* const base_;
  const std::string trigger_;
  std::function<void()> hook_;
};

// A batch get over the latest state (RegionTxnStore::BatchGet's ReadLatest view, a reader
// without a snapshot) must see a commit at or below its ts that was applied while it ran:
// here k2's commit (ts 100) lands just before k2's lock read, after k1 was read. Reading
// key by key, k1's write-CF iterator (kept for k2) predates the commit and k2's lock is
// gone: k2 read as absent, an SI violation (found in review of b8c4100's live-view reads).
TEST(ReadsTest, LatestBatchGetSeesACommitAppliedWhileItReads) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path.empty());
  auto opened = storage::LevelDbEngine::Open(tmp.path + "/engine", storage::LevelDbEngineOptions());
  ASSERT_TRUE(opened.ok()) << opened.status();
  storage::Engine* engine = opened->get();
  ConcurrencyManager cm{1};
  Latches latches{64};
  TxnStorage store(engine, &cm, &latches);
  auto prewrite = [&](const std::string& k, const std::string& v, TimeStamp start) {
    PrewriteRequest req;
    req.mutations.push_back(Mutation::Put(k, v));
    req.primary = k;
    req.start_ts = start;
    ASSERT_TRUE(store.Prewrite(req).ok());
  };
  prewrite("k1", "v1", 10);
  ASSERT_TRUE(store.Commit({{"k1"}, 10, 11}).ok());
  prewrite("k2", "v2", 90);
  bool committed = false;
  HookedEngine hooked(engine, EncodeKey("k2"), [&] {
    committed = store.Commit({{"k2"}, 90, 100}).ok();
  });
  MvccReader reader(&hooked, nullptr);
  auto got = BatchGet(&reader, {"k1", "k2"}, 105, TxnReadOptions());
  ASSERT_TRUE(committed);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].key, "k1");
  EXPECT_EQ((*got)[0].value, "v1");
  EXPECT_EQ((*got)[1].key, "k2");
  EXPECT_EQ((*got)[1].value, "v2");
}

TEST(ReadsTest, LockExceptions) {
  TestEngine e;
  must_prewrite_put(e, "k", "v0", "k", 1);
  must_commit(e, "k", 1, 2);
  must_prewrite_put(e, "k", "v1", "k", 5);
  must_prewrite_put(e, "s", "s1", "k", 5);
  // "Read latest" ignores the primary's own lock (not a secondary's).
  must_get(e, "k", kMaxTs, "v0");
  EXPECT_TRUE(IsErr<KeyIsLocked>(must_get_err(e, "s", kMaxTs)));
  // bypass_locks and resolved_locks.
  TxnReadOptions ro;
  ro.bypass_locks = {5};
  auto v = e.store.Get("k", 10, ro);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::optional<std::string>("v0"));
  ro = TxnReadOptions();
  ro.resolved_locks = {5};
  v = e.store.Get("k", 10, ro);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::optional<std::string>("v1"));
  // Batch get reports the locked key and continues.
  auto b = e.store.BatchGet({"k", "none", "s"}, 3);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);  // Locks above ts do not block; absent keys are skipped.
  EXPECT_EQ((*b)[0].value, "v0");
  b = e.store.BatchGet({"k", "s"}, 6);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 2u);
  EXPECT_TRUE(IsErr<KeyIsLocked>((*b)[0].error));
  EXPECT_TRUE(IsErr<KeyIsLocked>((*b)[1].error));
  EXPECT_EQ(e.cm.max_ts(), 10u);  // Reads raised max_ts (kMaxTs excepted).
}

}  // namespace
}  // namespace rutile::txn::testing
