// Transaction benchmark: a durable 3-replica cluster in one process (three rutile::Nodes
// on LevelDB in temporary directories, LocalTransport, every Raft Ready synced), driven
// through TxnClient beside RawKvClient on the same cluster in the same run.
//
// Cases (Google Benchmark, wall clock). The two sides of each comparison run inside ONE
// case in alternating slices -- baseline, rutile, rutile, baseline (ABBA) per iteration --
// and each side's rate is its items over its own slices' time. On a shared, loaded machine
// the CPU left to the benchmark moves by 2-3x within seconds; run one after the other (two
// 0.5 s cases, as before), the sides saw different machines and the ratio swung with them
// (snap_get 0.51 / 2.26 / 0.67 in three runs at load 12; 1pc@64 1.23 / 0.47 / 0.88).
//   1pc_vs_raw_put/c<N>
//                     N fibers each putting 16 fresh keys with RawKvClient::Put (baseline)
//                     vs committing 16 single-key transactions (Begin, Put, Commit with
//                     try_one_pc: one TSO call and one Raft write); N = 1, 16, 64
//   snap_get_vs_raw_get/c16
//                     16 fibers reading 16 present keys each with RawKvClient::Get vs
//                     Transaction::Get (one transaction, one start_ts, per 16 gets)
//   async_vs_2pc/10_regions
//                     one fiber committing 10-key transactions whose keys lie in 10
//                     regions, classic 2PC vs async commit, alternating (2pc, async,
//                     async, 2pc); per-commit latency kept; each commit starts after the
//                     previous one's background commits finished (untimed)
//   commit_2pc_b2b, commit_async_b2b
//                     each kind back to back: the previous transaction's background
//                     commits run during the next one's prewrites
// Lines:
//   RATIO 1pc@N_vs_raw_put           target >= 0.7
//   RATIO snap_get@16_vs_raw_get     target >= 0.8
//   RATIO async_p50_vs_2pc_p50       target <= 0.6 (latency: lower is better)
//   RATIO async_p99_vs_2pc_p99
//   RATIO async_p50_vs_2pc_p50_b2b, async_p99_vs_2pc_p99_b2b   (back to back; no target)
// Diagnostics (environment): TXN_BENCH_MIN_TIME=<s> per case; TXN_BENCH_COMMIT_REGIONS=k puts
// the 10 keys of a multi-region commit in k regions; TXN_BENCH_LEADERS_ON_STORE1=1 puts
// every leader on store 1 (PD scheduling off).

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "node/txn_service.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "util/sync.h"

namespace rutile::txnbench {
namespace {

constexpr int kOpsPerClient = 16;
constexpr int kReadKeys = 5'000;
constexpr int kRegions = 10;
const std::string kValue(100, 'v');

void Die(const std::string& what) {
  std::fprintf(stderr, "txn_bench: %s\n", what.c_str());
  std::abort();
}

using bench::OnFiber;

using bench::RunClients;

// Transactional keys ("t...") and raw keys ("r...", "p...") live in separate ranges.
std::string TxnKey(char prefix, uint64_t i) { return absl::StrFormat("t%c%012d", prefix, i); }
std::string RawKey(char prefix, uint64_t i) { return absl::StrFormat("%c%012d", prefix, i); }

class Cluster {
 public:
  Cluster() {
    char templ[] = "/tmp/rutile_txn_bench_XXXXXX";
    if (mkdtemp(templ) == nullptr) Die("mkdtemp");
    dir_ = templ;
    OnFiber([&] { Open(); });
  }
  ~Cluster() {
    OnFiber([&] {
      txn_.reset();
      raw_.reset();
      for (auto& n : nodes_) n->Close();
      nodes_.clear();
    });
    transport_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RawKvClient& raw() { return *raw_; }
  // One untimed operation of every kind, so each case starts with warm region caches and
  // leaders that have served a request.
  void Warm() {
    OnFiber([&] {
      if (absl::Status s = raw_->Put(RawKey('w', 0), kValue); !s.ok()) Die(s.ToString());
      if (auto v = raw_->Get(RawKey('r', 0)); !v.ok()) Die(v.status().ToString());
      for (int r = 0; r < kRegions; ++r) {
        auto t = txn_->Begin();
        if (!t.ok()) Die(t.status().ToString());
        if (auto v = (*t)->Get(TxnKey('m', r * 1000 + 999)); !v.ok()) Die(v.status().ToString());
        (void)(*t)->Put(TxnKey('w', r), kValue);
        (void)(*t)->Put(TxnKey('m', r * 1000 + 999), kValue);
        if (absl::Status s = (*t)->Commit(); !s.ok()) Die(s.ToString());
      }
    });
  }
  TxnClient& txn() { return *txn_; }

 private:
  void Open() {
    transport_ = NewLocalTransport(Env::Default());
    std::vector<uint64_t> ids = {1, 2, 3};
    std::shared_ptr<Pd> pd;
    std::vector<Node*> ptrs;
    for (uint64_t id : ids) {
      NodeOptions o;
      o.id = id;
      o.data_dir = dir_ + "/node" + std::to_string(id);
      o.transport = transport_.get();
      o.host_pd = id == 1;
      o.pd = pd;
      o.initial_stores = ids;
      o.raft_tick_micros = 50'000;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
      if (!node.ok()) Die("open node: " + node.status().ToString());
      if (id == 1) pd = (*node)->pd();
      ptrs.push_back(node->get());
      nodes_.push_back(std::move(*node));
    }
    auto r = RawKvClient::Open(ptrs);
    if (!r.ok()) Die(r.status().ToString());
    raw_ = std::move(*r);
    auto t = TxnClient::Open(ptrs);
    if (!t.ok()) Die(t.status().ToString());
    txn_ = std::move(*t);
    // Ten regions for the multi-region commits: boundaries "tm<i>".
    for (int i = 1; i < kRegions; ++i) {
      if (absl::Status s = txn_->SplitAt(TxnKey('m', i * 1000)); !s.ok()) Die(s.ToString());
    }
    // Diagnostic: TXN_BENCH_LEADERS_ON_STORE1=1 moves every region's leadership to store 1
    // and turns PD's scheduling off, so one store proposes and two only follow.
    if (getenv("TXN_BENCH_LEADERS_ON_STORE1") != nullptr) LeadersToStore1(*pd);
    // Present keys for the read cases.
    std::vector<RawKvClient::KvPair> batch;
    for (int i = 0; i < kReadKeys; ++i) {
      batch.emplace_back(RawKey('r', i), kValue);
      if (batch.size() == 500) {
        if (absl::Status s = raw_->BatchPut(batch); !s.ok()) Die(s.ToString());
        batch.clear();
      }
    }
    for (int i = 0; i < kReadKeys; i += 250) {
      auto txn = txn_->Begin();
      if (!txn.ok()) Die(txn.status().ToString());
      for (int j = i; j < i + 250; ++j) (void)(*txn)->Put(TxnKey('r', j), kValue);
      if (absl::Status s = (*txn)->Commit(); !s.ok()) Die(s.ToString());
    }
  }

  static void LeadersToStore1(Pd& pd) {
    pd.SetSchedulingEnabled(false);
    for (int attempt = 0; attempt < 100; ++attempt) {
      absl::StatusOr<std::string> list = pd.Admin("region");
      if (!list.ok()) Die(list.status().ToString());
      int moving = 0;
      for (const std::string& line : std::vector<std::string>(absl::StrSplit(*list, '\n'))) {
        if (line.size() < 2 || line[0] != 'r' || absl::StrContains(line, "@s1*")) continue;
        ++moving;
        const std::string id = line.substr(1, line.find(' ') - 1);
        (void)pd.Admin("operator add transfer-leader " + id + " 1");
      }
      if (moving == 0) return;
      Env::Default()->SleepForMicros(100'000);
    }
    Die("leaders did not move to store 1");
  }

  std::string dir_;
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<RawKvClient> raw_;
  std::unique_ptr<TxnClient> txn_;
};

std::unique_ptr<Cluster> cluster;
Cluster* C() {
  if (cluster == nullptr) cluster = std::make_unique<Cluster>();
  return cluster.get();
}

std::atomic<uint64_t> next_key{0};

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 31);
}

double ProcessCpuMicros() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Each paired comparison's figure from its case's last run, printed at the end.
std::map<std::string, double> paired_ratios;

// One side's totals over its slices.
struct Side {
  double items = 0;
  uint64_t micros = 0;
  double cpu_micros = 0;
};

// Runs `base` and `rutile` (each one slice of `items_per_slice` operations, counting
// failed operations in its argument) as baseline, rutile, rutile, baseline per iteration.
// The RATIO line for `comparison` is the median over iterations of rutile's rate over the
// baseline's in that iteration: a burst of load that hits one slice moves one iteration's
// ratio, not the figure. Each side's rate over all its slices is printed as a counter.
template <typename Base, typename Rutile>
void Paired(benchmark::State& state, const std::string& comparison, int items_per_slice, Base base,
            Rutile rutile) {
  std::atomic<int> failures{0};
  Side b;
  Side r;
  std::vector<double> ratios;
  auto slice = [&](Side& side, auto& fn) -> uint64_t {
    const double cpu0 = ProcessCpuMicros();
    const uint64_t t0 = Env::Default()->NowMicros();
    fn(failures);
    const uint64_t micros = std::max<uint64_t>(1, Env::Default()->NowMicros() - t0);
    side.micros += micros;
    side.cpu_micros += ProcessCpuMicros() - cpu0;
    side.items += items_per_slice;
    return micros;
  };
  for (auto _ : state) {
    uint64_t base_micros = slice(b, base);
    const uint64_t rutile_micros = slice(r, rutile) + slice(r, rutile);
    base_micros += slice(b, base);
    // Equal items on both sides: the rate ratio is the inverse time ratio.
    ratios.push_back(static_cast<double>(base_micros) / static_cast<double>(rutile_micros));
  }
  if (failures.load() > 0) state.SkipWithError("operation failed");
  state.SetItemsProcessed(static_cast<int64_t>(b.items + r.items));
  if (ratios.empty()) return;
  std::sort(ratios.begin(), ratios.end());
  const size_t n = ratios.size();
  const double median = n % 2 == 1 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
  state.counters["base/s"] = b.items * 1e6 / static_cast<double>(b.micros);
  state.counters["rutile/s"] = r.items * 1e6 / static_cast<double>(r.micros);
  // CPU of the whole process (every node's threads) per item, per side: on a loaded
  // machine a steadier comparison than the rates.
  state.counters["base_cpu_us"] = b.cpu_micros / b.items;
  state.counters["rutile_cpu_us"] = r.cpu_micros / r.items;
  state.counters["ratio_min"] = ratios.front();
  state.counters["ratio_max"] = ratios.back();
  // Google Benchmark runs a case more than once (to size it): the last run counts.
  paired_ratios[comparison] = median;
}

void OnePcVsRawPut(benchmark::State& state, int clients) {
  auto raw_put = [clients](std::atomic<int>& failures) {
    RunClients(clients, [&](int) {
      for (int i = 0; i < kOpsPerClient; ++i) {
        if (!C()->raw().Put(RawKey('p', next_key.fetch_add(1)), kValue).ok()) failures++;
      }
    });
  };
  auto txn_1pc = [clients](std::atomic<int>& failures) {
    RunClients(clients, [&](int) {
      for (int i = 0; i < kOpsPerClient; ++i) {
        TxnOptions o;
        o.try_one_pc = true;
        auto t = C()->txn().Begin(o);
        if (!t.ok() || !(*t)->Put(TxnKey('p', next_key.fetch_add(1)), kValue).ok() ||
            !(*t)->Commit().ok()) {
          failures++;
        }
      }
    });
  };
  Paired(state, "1pc@" + std::to_string(clients) + "_vs_raw_put", clients * kOpsPerClient, raw_put,
         txn_1pc);
}

void SnapGetVsRawGet(benchmark::State& state, int clients) {
  std::atomic<uint64_t> seq{0};
  auto raw_get = [clients, &seq](std::atomic<int>& failures) {
    RunClients(clients, [&](int) {
      uint64_t s = seq.fetch_add(kOpsPerClient);
      for (int i = 0; i < kOpsPerClient; ++i) {
        auto v = C()->raw().Get(RawKey('r', Mix(s + i) % kReadKeys));
        if (!v.ok() || !v->has_value()) failures++;
      }
    });
  };
  auto snap_get = [clients, &seq](std::atomic<int>& failures) {
    RunClients(clients, [&](int) {
      uint64_t s = seq.fetch_add(kOpsPerClient);
      auto t = C()->txn().Begin();
      if (!t.ok()) {
        failures++;
        return;
      }
      for (int i = 0; i < kOpsPerClient; ++i) {
        auto v = (*t)->Get(TxnKey('r', Mix(s + i) % kReadKeys));
        if (!v.ok() || !v->has_value()) failures++;
      }
    });
  };
  Paired(state, "snap_get@" + std::to_string(clients) + "_vs_raw_get", clients * kOpsPerClient,
         raw_get, snap_get);
}

std::map<std::string, std::vector<uint64_t>> latencies;
std::atomic<int> other_kind{0};
const int commit_regions = [] {
  const char* v = getenv("TXN_BENCH_COMMIT_REGIONS");
  int k = v == nullptr ? kRegions : atoi(v);
  return k < 1 || k > kRegions ? kRegions : k;
}();

// Commits one 10-key transaction spanning the regions (2PC or async commit) and records its
// latency under `kind`. `drained`: waits, untimed, for its background commits, so that
// the next commit's latency is its own; otherwise the next one runs back to back, where on
// this 2-core machine the previous transaction's background commits (10 Raft writes for
// async commit, 9 for 2PC) compete with its prewrites.
void CommitOne(bool async, bool drained, const std::string& kind, std::atomic<int>& failures) {
  std::vector<uint64_t>& lat = latencies[kind];
  OnFiber([&] {
    TxnOptions o;
    o.async_commit = async;
    const uint64_t t0 = Env::Default()->NowMicros();
    auto t = C()->txn().Begin(o);
    if (!t.ok()) {
      failures++;
      return;
    }
    const uint64_t n = next_key.fetch_add(1);
    for (int r = 0; r < kRegions; ++r) {
      // Diagnostic: TXN_BENCH_COMMIT_REGIONS=k spreads the 10 keys over k regions only.
      const int region = r % commit_regions;
      (void)(*t)->Put(TxnKey('m', region * 1000 + 1 + r * 50 + n % 47), kValue);
    }
    if (!(*t)->Commit().ok()) failures++;
    lat.push_back(Env::Default()->NowMicros() - t0);
    // An async commit that fell back to 2PC would be measured as async: count them.
    if ((*t)->impl()->txn->commit_kind() != (async ? "async" : "2pc")) other_kind++;
    if (drained) C()->txn().WaitForBackgroundCommits();
  });
}

// 2PC and async commit alternating (2pc, async, async, 2pc per iteration), each drained.
void AsyncVs2pc(benchmark::State& state) {
  latencies["2pc"].clear();
  latencies["async"].clear();
  std::atomic<int> failures{0};
  for (auto _ : state) {
    CommitOne(false, true, "2pc", failures);
    CommitOne(true, true, "async", failures);
    CommitOne(true, true, "async", failures);
    CommitOne(false, true, "2pc", failures);
  }
  if (failures.load() > 0) state.SkipWithError("commit failed");
  state.SetItemsProcessed(state.iterations() * 4);
}

// One kind back to back.
void BackToBack(benchmark::State& state, bool async) {
  const std::string kind = std::string(async ? "async" : "2pc") + "_b2b";
  latencies[kind].clear();
  std::atomic<int> failures{0};
  for (auto _ : state) CommitOne(async, false, kind, failures);
  if (failures.load() > 0) state.SkipWithError("commit failed");
  state.SetItemsProcessed(state.iterations());
}

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void RegisterAll() {
  // TXN_BENCH_MIN_TIME=<seconds> runs each case longer (for profiling).
  const char* min_time_env = getenv("TXN_BENCH_MIN_TIME");
  // Both sides share a case: 2 s gives each side about 1 s in 5 or more slices at 64
  // clients (a slice there is 1,024 operations).
  const double min_time = min_time_env == nullptr ? 2.0 : std::max(0.1, atof(min_time_env));
  auto reg = [](const std::string& name, double t, std::function<void(benchmark::State&)> fn) {
    benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& s) { fn(s); })
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(t)
        ->UseRealTime();
  };
  for (int c : {1, 16, 64}) {
    // At 64 clients an iteration (four slices of 1,024 operations) takes ~0.3 s: 2 s gave
    // 7 iterations whose ratios spread 0.24-1.43 on a loaded machine, and their median
    // moved 0.67-0.85 between runs. Twice the time, twice the iterations: a steadier
    // median of the same per-iteration figure.
    reg("1pc_vs_raw_put/c" + std::to_string(c), c == 64 ? 2 * min_time : min_time,
        [c](benchmark::State& s) { OnePcVsRawPut(s, c); });
  }
  reg("snap_get_vs_raw_get/c16", min_time, [](benchmark::State& s) { SnapGetVsRawGet(s, 16); });
  reg("async_vs_2pc/10_regions", min_time, [](benchmark::State& s) { AsyncVs2pc(s); });
  reg("commit_2pc_b2b/10_regions", min_time / 4, [](benchmark::State& s) { BackToBack(s, false); });
  reg("commit_async_b2b/10_regions", min_time / 4,
      [](benchmark::State& s) { BackToBack(s, true); });
}

}  // namespace
}  // namespace rutile::txnbench

int main(int argc, char** argv) {
  using namespace rutile::txnbench;  // NOLINT: a program's main.
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RegisterAll();
  // Open the cluster (three nodes, ten regions, the read keys) before any timed case: the
  // first case used to open it inside its first iteration (raw_put@1 took 2.2 s).
  C()->Warm();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("commits of another kind than asked (async fallen back to 2pc): %d\n",
              other_kind.load());
  for (const std::string suffix : {"", "_b2b"}) {
    const auto& two = latencies["2pc" + suffix];
    const auto& async = latencies["async" + suffix];
    if (two.empty() || async.empty()) continue;
    std::printf(
        "latency%s 2pc p50=%lu us p99=%lu us; async p50=%lu us p99=%lu us (%zu/%zu commits)\n",
        suffix.c_str(), Percentile(two, 0.5), Percentile(two, 0.99), Percentile(async, 0.5),
        Percentile(async, 0.99), two.size(), async.size());
    rutile::bench::RecordRatio(
        "async_p50_vs_2pc_p50" + suffix,
        static_cast<double>(Percentile(async, 0.5)) / static_cast<double>(Percentile(two, 0.5)));
    rutile::bench::RecordRatio(
        "async_p99_vs_2pc_p99" + suffix,
        static_cast<double>(Percentile(async, 0.99)) / static_cast<double>(Percentile(two, 0.99)));
  }
  cluster.reset();
  for (const auto& [name, value] : paired_ratios) rutile::bench::RecordRatio(name, value);
  rutile::bench::PrintRatios();
  return 0;
}
