// Storage engine benchmark: LevelDbEngine against raw LevelDB (leveldb::DB used directly,
// opened with exactly the engine's options), in the same program and run.
//
// Operations (each "<op>/rutile" and "<op>/baseline"):
//   put_unsynced   one 16-byte key, 100-byte value per write, no fsync
//   put_synced     the same with sync (one fsync per write)
//   batch100       100 such puts per atomic write batch, no fsync
//   get_hit        point read of a present key (100,000 keys, compacted)
//   get_miss       point read of an absent key in the same key range
//   scan10k        forward scan of 10,000 consecutive keys from a random start
// Both sides use fresh temporary directories, the same keys in the same order and the same
// options. Rates are items per second as measured by Google Benchmark (SetItemsProcessed):
// of CPU time, except put_synced which is timed on the wall clock. The suite runs in rounds
// (RUTILE_STORAGE_BENCH_ROUNDS, default 5), the two sides of each op back to back; the
// program ends with one `RATIO <op> <rutile/baseline>` line per operation, the median over
// rounds of the paired ratio.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "leveldb/db.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"
#include "rutile/storage.h"
#include "storage/engine.h"
#include "storage/leveldb_engine.h"

namespace rutile::storage {
namespace {

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr uint64_t kReadKeys = 100'000;  // Present keys: even indices 0, 2, ..., 2 * (n - 1).
constexpr int kScanLength = 10'000;

uint64_t Mix(uint64_t x) {  // splitmix64: a fixed permutation, so both sides see one order.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Writes the 16-byte zero-padded decimal key of `i` into `out`.
void MakeKey(uint64_t i, char* out) {
  for (int p = kKeySize - 1; p >= 0; --p) {
    out[p] = static_cast<char>('0' + i % 10);
    i /= 10;
  }
}

const std::string& Value() {
  static const std::string* value = new std::string(kValueSize, 'v');
  return *value;
}

class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/rutile_storage_bench_XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) std::abort();
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

LevelDbEngineOptions BenchOptions() { return LevelDbEngineOptions(); }

// One side of the comparison: an open store in a fresh directory.
struct RutileSide {
  RutileSide() {
    auto opened = LevelDbEngine::Open(dir.path() + "/engine", BenchOptions());
    if (!opened.ok()) {
      std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
      std::abort();
    }
    engine = std::move(*opened);
  }
  TempDir dir;
  std::unique_ptr<Engine> engine;
};

struct BaselineSide {
  BaselineSide() : resources(BenchOptions()) {
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(resources.MakeOptions(true), dir.path() + "/db", &raw);
    if (!s.ok()) {
      std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
      std::abort();
    }
    db.reset(raw);
  }
  TempDir dir;
  LevelDbResources resources;  // Before db: destroyed after it.
  std::unique_ptr<leveldb::DB> db;
};

// ---- Writes. ----

void PutRutile(benchmark::State& state, bool sync) {
  RutileSide side;
  WriteBatch batch;
  WriteOptions options;
  options.sync = sync;
  char key[kKeySize];
  uint64_t i = 0;
  for (auto _ : state) {
    MakeKey(Mix(i++), key);
    batch.Clear();
    batch.Put(CF::kDefault, std::string_view(key, kKeySize), Value());
    if (!side.engine->Write(batch, options).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void PutBaseline(benchmark::State& state, bool sync) {
  BaselineSide side;
  leveldb::WriteOptions options;
  options.sync = sync;
  char key[kKeySize];
  uint64_t i = 0;
  for (auto _ : state) {
    MakeKey(Mix(i++), key);
    if (!side.db->Put(options, leveldb::Slice(key, kKeySize), Value()).ok()) {
      state.SkipWithError("write failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void Batch100Rutile(benchmark::State& state) {
  RutileSide side;
  WriteBatch batch;
  char key[kKeySize];
  uint64_t i = 0;
  for (auto _ : state) {
    batch.Clear();
    for (int j = 0; j < 100; ++j) {
      MakeKey(Mix(i++), key);
      batch.Put(CF::kDefault, std::string_view(key, kKeySize), Value());
    }
    if (!side.engine->Write(batch, WriteOptions()).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations() * 100);
}

void Batch100Baseline(benchmark::State& state) {
  BaselineSide side;
  leveldb::WriteBatch batch;
  char key[kKeySize];
  uint64_t i = 0;
  for (auto _ : state) {
    batch.Clear();
    for (int j = 0; j < 100; ++j) {
      MakeKey(Mix(i++), key);
      batch.Put(leveldb::Slice(key, kKeySize), Value());
    }
    if (!side.db->Write(leveldb::WriteOptions(), &batch).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations() * 100);
}

// ---- Reads, over one preloaded and compacted store per side, built on first use. ----

template <typename Side>
void Preload(Side* side);

template <>
void Preload(RutileSide* side) {
  char key[kKeySize];
  WriteBatch batch;
  for (uint64_t i = 0; i < kReadKeys; ++i) {
    MakeKey(2 * i, key);
    batch.Put(CF::kDefault, std::string_view(key, kKeySize), Value());
    if (batch.Count() == 1000) {
      if (!side->engine->Write(batch, WriteOptions()).ok()) std::abort();
      batch.Clear();
    }
  }
  if (!side->engine->CompactRange(CF::kDefault, "", "").ok()) std::abort();
}

template <>
void Preload(BaselineSide* side) {
  char key[kKeySize];
  leveldb::WriteBatch batch;
  int in_batch = 0;
  for (uint64_t i = 0; i < kReadKeys; ++i) {
    MakeKey(2 * i, key);
    batch.Put(leveldb::Slice(key, kKeySize), Value());
    if (++in_batch == 1000) {
      if (!side->db->Write(leveldb::WriteOptions(), &batch).ok()) std::abort();
      batch.Clear();
      in_batch = 0;
    }
  }
  side->db->CompactRange(nullptr, nullptr);
}

template <typename Side>
std::unique_ptr<Side>& ReadStoreSlot() {
  static std::unique_ptr<Side>* slot = new std::unique_ptr<Side>();
  return *slot;
}

template <typename Side>
Side* ReadStore() {
  std::unique_ptr<Side>& slot = ReadStoreSlot<Side>();
  if (slot == nullptr) {
    slot = std::make_unique<Side>();
    Preload(slot.get());
  }
  return slot.get();
}

// Closes the read stores and removes their directories.
void DropReadStores() {
  ReadStoreSlot<RutileSide>().reset();
  ReadStoreSlot<BaselineSide>().reset();
}

void GetRutile(benchmark::State& state, bool hit) {
  Engine* engine = ReadStore<RutileSide>()->engine.get();
  char key[kKeySize];
  uint64_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    MakeKey(2 * (Mix(i++) % kReadKeys) + (hit ? 0 : 1), key);
    absl::StatusOr<std::optional<std::string>> v =
        engine->Get(CF::kDefault, std::string_view(key, kKeySize));
    if (!v.ok()) state.SkipWithError("get failed");
    found += v->has_value();
    benchmark::DoNotOptimize(v);
  }
  if (found != (hit ? state.iterations() : 0)) state.SkipWithError("wrong hit count");
  state.SetItemsProcessed(state.iterations());
}

void GetBaseline(benchmark::State& state, bool hit) {
  leveldb::DB* db = ReadStore<BaselineSide>()->db.get();
  char key[kKeySize];
  uint64_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    MakeKey(2 * (Mix(i++) % kReadKeys) + (hit ? 0 : 1), key);
    std::string value;
    leveldb::Status s = db->Get(leveldb::ReadOptions(), leveldb::Slice(key, kKeySize), &value);
    if (!s.ok() && !s.IsNotFound()) state.SkipWithError("get failed");
    found += s.ok();
    benchmark::DoNotOptimize(value);
  }
  if (found != (hit ? state.iterations() : 0)) state.SkipWithError("wrong hit count");
  state.SetItemsProcessed(state.iterations());
}

void ScanRutile(benchmark::State& state) {
  Engine* engine = ReadStore<RutileSide>()->engine.get();
  char key[kKeySize];
  uint64_t i = 0;
  for (auto _ : state) {
    MakeKey(2 * (Mix(i++) % (kReadKeys - kScanLength)), key);
    std::unique_ptr<Iterator> it = engine->NewIterator(CF::kDefault, IterOptions());
    size_t bytes = 0;
    int n = 0;
    for (it->Seek(std::string_view(key, kKeySize)); n < kScanLength && it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      ++n;
    }
    if (n != kScanLength) state.SkipWithError("short scan");
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

void ScanBaseline(benchmark::State& state) {
  leveldb::DB* db = ReadStore<BaselineSide>()->db.get();
  char key[kKeySize];
  uint64_t i = 0;
  for (auto _ : state) {
    MakeKey(2 * (Mix(i++) % (kReadKeys - kScanLength)), key);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    size_t bytes = 0;
    int n = 0;
    for (it->Seek(leveldb::Slice(key, kKeySize)); n < kScanLength && it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      ++n;
    }
    if (n != kScanLength) state.SkipWithError("short scan");
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

// Rounds of the whole suite; see RegisterAll. RUTILE_STORAGE_BENCH_ROUNDS overrides.
int Rounds() {
  const char* env = getenv("RUTILE_STORAGE_BENCH_ROUNDS");
  const int n = env != nullptr ? atoi(env) : 0;
  return n > 0 ? n : 5;
}

void RegisterAll() {
  // Rates are per second of the benchmark thread's CPU time: the machine is shared with
  // builds, and wall time mostly measures their load. Synced writes are the exception:
  // their cost is the wait for fsync, so they are timed on the wall clock.
  auto reg = [](const std::string& name, auto fn, bool wall) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
    b->Unit(benchmark::kMicrosecond)->MinTime(0.2);
    if (wall) b->UseRealTime();
  };
  struct Case {
    const char* op;
    void (*rutile)(benchmark::State&);
    void (*baseline)(benchmark::State&);
    bool wall;
  };
  const Case cases[] = {
      {"put_unsynced", [](benchmark::State& s) { PutRutile(s, false); },
       [](benchmark::State& s) { PutBaseline(s, false); }, false},
      {"put_synced", [](benchmark::State& s) { PutRutile(s, true); },
       [](benchmark::State& s) { PutBaseline(s, true); }, true},
      {"batch100", Batch100Rutile, Batch100Baseline, false},
      {"get_hit", [](benchmark::State& s) { GetRutile(s, true); },
       [](benchmark::State& s) { GetBaseline(s, true); }, false},
      {"get_miss", [](benchmark::State& s) { GetRutile(s, false); },
       [](benchmark::State& s) { GetBaseline(s, false); }, false},
      {"scan10k", ScanRutile, ScanBaseline, false},
  };
  // The suite runs in rounds, each side of a pair right after the other (alternating which
  // goes first), so that the load of a shared machine falls on both sides alike; the
  // reported ratio is the median over rounds of the paired ratio.
  const int rounds = Rounds();
  for (int round = 0; round < rounds; ++round) {
    for (const Case& c : cases) {
      const std::string suffix = "/r" + std::to_string(round);
      const std::string op = c.op;
      if (round % 2 == 0) {
        reg(op + "/rutile" + suffix, c.rutile, c.wall);
        reg(op + "/baseline" + suffix, c.baseline, c.wall);
      } else {
        reg(op + "/baseline" + suffix, c.baseline, c.wall);
        reg(op + "/rutile" + suffix, c.rutile, c.wall);
      }
    }
  }
}

// Prints as the console reporter does and collects each run's items_per_second, as the
// benchmark library computed it, by op, side and round (the parts of the name). With
// --benchmark_repetitions the mean of each is taken.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  // Colours only on a terminal, so piped output has clean `RATIO` lines.
  RecordingReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      const bool mean = run.run_type == Run::RT_Aggregate && run.aggregate_name == "mean";
      if (!single && !mean) continue;
      auto rate = run.counters.find("items_per_second");
      if (rate == run.counters.end()) continue;
      // "<op>/<side>/r<round>[/...]".
      const std::string& name = run.run_name.function_name;
      const size_t a = name.find('/');
      const size_t b = name.find('/', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      const size_t c = name.find('/', b + 1);
      const std::string op = name.substr(0, a);
      const std::string side = name.substr(a + 1, b - a - 1);
      const std::string round = name.substr(b + 1, c == std::string::npos ? c : c - b - 1);
      rates_[op][side][round] = rate->second.value;
    }
  }

  // Records, per op, the baseline's median rate and a rutile rate equal to it times the
  // median over rounds of rutile/baseline within the round. Each round's two sides ran
  // back to back, so the paired ratio cancels most of a shared machine's load swings; the
  // printed RATIO is that median paired ratio.
  void RecordMedians() {
    for (auto& [op, sides] : rates_) {
      const auto& rutile = sides["rutile"];
      const auto& baseline = sides["baseline"];
      std::vector<double> ratios;
      std::vector<double> base_rates;
      for (const auto& [round, base_rate] : baseline) {
        base_rates.push_back(base_rate);
        auto r = rutile.find(round);
        if (r != rutile.end() && base_rate > 0) ratios.push_back(r->second / base_rate);
      }
      if (ratios.empty()) continue;
      const double base = Median(base_rates);
      bench::RecordRate(op, "baseline", base);
      bench::RecordRate(op, "rutile", base * Median(ratios));
    }
  }

 private:
  static double Median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  // op -> side -> round -> items per second.
  std::map<std::string, std::map<std::string, std::map<std::string, double>>> rates_;
};

}  // namespace
}  // namespace rutile::storage

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  rutile::storage::RegisterAll();
  rutile::storage::RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.RecordMedians();
  rutile::storage::DropReadStores();
  benchmark::Shutdown();
  rutile::bench::PrintRatios();
  return 0;
}
