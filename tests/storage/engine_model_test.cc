// Randomized model test: random batches (Put, Delete, DeleteRange over every CF),
// snapshots, bounded iterators in both directions and, for MemEngine, syncs and simulated
// crashes, checked against a std::map model. A failure prints its seed.

#include <array>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "storage/engine_test_util.h"

namespace rutile::storage {
namespace {

using testing::kAllCfs;
using testing::KVs;

using CfModel = std::map<std::string, std::string>;
using Model = std::array<CfModel, kNumCfs>;

template <typename Factory>
class EngineModelTest : public ::testing::Test {};

using Factories = ::testing::Types<testing::LevelDbFactory, testing::MemFactory>;
TYPED_TEST_SUITE(EngineModelTest, Factories, testing::FactoryNames);

class Runner {
 public:
  Runner(Engine* engine, uint64_t seed) : engine_(engine), rng_(seed) {
    mem_ = dynamic_cast<MemEngine*>(engine);
  }

  void Run(int steps) {
    for (int step = 0; step < steps && !::testing::Test::HasFailure(); ++step) {
      step_ = step;
      const int dice = Uniform(100);
      if (dice < 55) {
        RandomBatch();
      } else if (dice < 65) {
        TakeSnapshot();
      } else if (dice < 72) {
        CheckSnapshot();
      } else if (dice < 85) {
        CheckRandomIterator();
      } else if (dice < 95) {
        CheckGet();
      } else if (dice < 97 && mem_ != nullptr) {
        Crash();
      } else if (dice < 98 && (mem_ != nullptr || Uniform(10) == 0)) {
        ASSERT_TRUE(engine_->SyncWAL().ok());
        durable_ = model_;
      } else {
        CheckAllScans(model_, nullptr);
      }
    }
    CheckAllScans(model_, nullptr);
  }

 private:
  struct SavedSnapshot {
    std::unique_ptr<Snapshot> snapshot;
    Model model;
  };

  int Uniform(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }

  std::string RandomKey() {
    switch (Uniform(10)) {
      case 0:
        return "";
      case 1:
        return std::string(Uniform(3) + 1, '\xff');
      case 2:
        return std::string(1, '\0') + std::to_string(Uniform(5));
      default:
        return absl::StrFormat("k%02d", Uniform(40));
    }
  }

  CF RandomCf() { return kAllCfs[Uniform(kNumCfs)]; }

  // Upper bound or DeleteRange end: sometimes empty (unbounded).
  std::pair<std::string, std::string> RandomRange() {
    std::string a = RandomKey();
    std::string b = Uniform(5) == 0 ? "" : RandomKey();
    if (!b.empty() && b < a) std::swap(a, b);
    return {a, b};
  }

  static bool InRange(const std::string& k, const std::string& lo, const std::string& hi) {
    return k >= lo && (hi.empty() || k < hi);
  }

  void RandomBatch() {
    WriteBatch b;
    Model next = model_;
    const int ops = 1 + Uniform(6);
    // Data-only, raft-only or mixed. A mixed batch always fsyncs its raft part, so on disk
    // they are kept rare to keep the test fast.
    const int mixed_one_in = mem_ != nullptr ? 3 : 20;
    const int mode = Uniform(mixed_one_in) == 0 ? 2 : Uniform(2);
    for (int i = 0; i < ops; ++i) {
      CF cf = RandomCf();
      if (mode == 0 && cf == CF::kRaft) cf = CF::kDefault;
      if (mode == 1) cf = CF::kRaft;
      CfModel& m = next[static_cast<int>(cf)];
      const int kind = Uniform(10);
      if (kind < 6) {
        std::string k = RandomKey();
        std::string v = absl::StrFormat("v%d-%d", step_, i);
        b.Put(cf, k, v);
        m[k] = v;
      } else if (kind < 9) {
        std::string k = RandomKey();
        b.Delete(cf, k);
        m.erase(k);
      } else {
        auto [lo, hi] = RandomRange();
        b.DeleteRange(cf, lo, hi);
        for (auto it = m.lower_bound(lo); it != m.end() && InRange(it->first, lo, hi);) {
          it = m.erase(it);
        }
      }
    }
    WriteOptions o;
    // Synced writes cost an fsync on disk; the crash model needs many only in memory.
    o.sync = Uniform(mem_ != nullptr ? 4 : 50) == 0;
    ASSERT_TRUE(engine_->Write(b, o).ok()) << "seed step " << step_;
    // Durability bookkeeping, as MemEngine models it: two logs; a mixed batch syncs its
    // raft part; a synced record makes its whole log durable.
    const bool has_raft = (b.cf_mask() & (1u << static_cast<int>(CF::kRaft))) != 0;
    const bool has_data = (b.cf_mask() & ~(1u << static_cast<int>(CF::kRaft))) != 0;
    model_ = next;
    if (has_raft && (o.sync || has_data)) {
      durable_[static_cast<int>(CF::kRaft)] = model_[static_cast<int>(CF::kRaft)];
    }
    if (has_data && o.sync) {
      for (CF cf : {CF::kDefault, CF::kLock, CF::kWrite}) {
        durable_[static_cast<int>(cf)] = model_[static_cast<int>(cf)];
      }
    }
  }

  void Crash() {
    snapshots_.clear();
    mem_->SimulateCrash();
    model_ = durable_;
    CheckAllScans(model_, nullptr);
  }

  void TakeSnapshot() {
    if (snapshots_.size() >= 8) snapshots_.erase(snapshots_.begin() + Uniform(8));
    snapshots_.push_back(SavedSnapshot{engine_->GetSnapshot(), model_});
  }

  void CheckSnapshot() {
    if (snapshots_.empty()) return;
    const size_t i = Uniform(static_cast<int>(snapshots_.size()));
    CheckAllScans(snapshots_[i].model, snapshots_[i].snapshot.get());
    if (Uniform(2) == 0) snapshots_.erase(snapshots_.begin() + i);
  }

  void CheckGet() {
    const CF cf = RandomCf();
    const std::string k = RandomKey();
    const CfModel& m = model_[static_cast<int>(cf)];
    auto it = m.find(k);
    EXPECT_EQ(testing::GetOr(engine_, cf, k), it == m.end() ? "<absent>" : it->second)
        << "step " << step_ << " cf " << CfName(cf);
  }

  void CheckAllScans(const Model& model, const Snapshot* snapshot) {
    for (CF cf : kAllCfs) {
      IterOptions o;
      o.snapshot = snapshot;
      const CfModel& m = model[static_cast<int>(cf)];
      KVs want(m.begin(), m.end());
      ASSERT_EQ(testing::Scan(engine_, cf, o), want) << "step " << step_ << " " << CfName(cf);
      KVs rwant(m.rbegin(), m.rend());
      ASSERT_EQ(testing::ReverseScan(engine_, cf, o), rwant)
          << "step " << step_ << " " << CfName(cf);
    }
  }

  void CheckRandomIterator() {
    const CF cf = RandomCf();
    auto [lo, hi] = RandomRange();
    const CfModel& m = model_[static_cast<int>(cf)];
    CfModel in;
    for (const auto& [k, v] : m) {
      if (InRange(k, lo, hi)) in.emplace(k, v);
    }
    auto it = engine_->NewIterator(cf, testing::Bounds(lo, hi));
    // A few random moves, each checked against the bounded model.
    auto expect_at = [&](CfModel::const_iterator want, const char* what) {
      if (want == in.end()) {
        EXPECT_FALSE(it->Valid()) << what << " step " << step_;
      } else {
        ASSERT_TRUE(it->Valid()) << what << " step " << step_;
        EXPECT_EQ(it->key(), want->first) << what << " step " << step_;
        EXPECT_EQ(it->value(), want->second) << what << " step " << step_;
      }
    };
    CfModel::const_iterator pos = in.end();
    for (int move = 0; move < 8; ++move) {
      switch (Uniform(6)) {
        case 0: {
          const std::string t = RandomKey();
          it->Seek(t);
          pos = in.lower_bound(t);
          expect_at(pos, "Seek");
          break;
        }
        case 1: {
          const std::string t = RandomKey();
          it->SeekForPrev(t);
          pos = in.upper_bound(t);
          pos = pos == in.begin() ? in.end() : std::prev(pos);
          expect_at(pos, "SeekForPrev");
          break;
        }
        case 2:
          it->SeekToFirst();
          pos = in.begin();
          expect_at(pos, "SeekToFirst");
          break;
        case 3:
          it->SeekToLast();
          pos = in.empty() ? in.end() : std::prev(in.end());
          expect_at(pos, "SeekToLast");
          break;
        case 4:
          if (!it->Valid()) break;
          it->Next();
          ++pos;
          expect_at(pos, "Next");
          break;
        case 5:
          if (!it->Valid()) break;
          it->Prev();
          pos = pos == in.begin() ? in.end() : std::prev(pos);
          expect_at(pos, "Prev");
          break;
      }
      if (::testing::Test::HasFailure()) return;
    }
    EXPECT_TRUE(it->status().ok());
  }

  Engine* const engine_;
  MemEngine* mem_ = nullptr;
  std::mt19937_64 rng_;
  int step_ = 0;
  Model model_;
  Model durable_;
  std::vector<SavedSnapshot> snapshots_;
};

TYPED_TEST(EngineModelTest, RandomOperationsMatchAMapModel) {
  // Fewer seeds on disk, where fsyncs make each run slow.
  const uint64_t seeds = std::is_same_v<TypeParam, testing::MemFactory> ? 6 : 2;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE(absl::StrFormat("seed %d", seed));
    testing::EngineHolder holder = TypeParam::Make();
    ASSERT_NE(holder.engine, nullptr);
    Runner runner(holder.engine.get(), seed);
    runner.Run(3000);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace rutile::storage
