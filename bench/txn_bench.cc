// Transaction benchmark: a durable 3-replica cluster in one process (three rutile::Nodes
// on LevelDB in temporary directories, LocalTransport, every Raft Ready synced), driven
// through TxnClient beside RawKvClient on the same cluster in the same run.
//
// Cases (Google Benchmark, wall clock, rates in items per second):
//   raw_put/c<N>      N fibers each putting fresh keys with RawKvClient::Put, N = 1, 16, 64
//   txn_1pc/c<N>      N fibers each committing single-key transactions (Begin, Put,
//                     Commit with try_one_pc: one TSO call and one Raft write)
//   raw_get/c16       16 fibers reading present keys with RawKvClient::Get
//   snap_get/c16      16 fibers reading present keys with Transaction::Get, one
//                     transaction (one start_ts from the TSO) per 16 gets
//   commit_2pc, commit_async
//                     one fiber committing 10-key transactions whose keys lie in 10
//                     regions, classic 2PC vs async commit; per-commit latency kept;
//                     each commit starts after the previous one's background commits
//                     finished (untimed)
//   commit_2pc_b2b, commit_async_b2b
//                     the same back to back: the previous transaction's background
//                     commits run during the next one's prewrites
// Lines:
//   RATIO 1pc@N_vs_raw_put           target >= 0.7
//   RATIO snap_get@16_vs_raw_get     target >= 0.8
//   RATIO async_p50_vs_2pc_p50       target <= 0.6 (latency: lower is better)
//   RATIO async_p99_vs_2pc_p99
//   RATIO async_p50_vs_2pc_p50_b2b, async_p99_vs_2pc_p99_b2b   (back to back; no target)

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

#include "absl/strings/str_format.h"
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

// Times the loop on the Env clock and records the final run's rate for `comparison`.
template <typename Body>
void Timed(benchmark::State& state, const std::string& comparison, const std::string& side,
           int items_per_iteration, Body body) {
  std::atomic<int> failures{0};
  const double cpu0 = ProcessCpuMicros();
  const uint64_t t0 = Env::Default()->NowMicros();
  for (auto _ : state) body(failures);
  const uint64_t t1 = Env::Default()->NowMicros();
  const double cpu1 = ProcessCpuMicros();
  if (failures.load() > 0) state.SkipWithError("operation failed");
  const double items = static_cast<double>(state.iterations()) * items_per_iteration;
  state.SetItemsProcessed(static_cast<int64_t>(items));
  // CPU of the whole process (every node's threads) per item: on a loaded machine a
  // steadier comparison of two cases than their rates.
  if (items > 0) state.counters["cpu_us/item"] = (cpu1 - cpu0) / items;
  if (t1 > t0) bench::RecordRate(comparison, side, items * 1e6 / static_cast<double>(t1 - t0));
}

void RawPut(benchmark::State& state, int clients) {
  Timed(state, "1pc@" + std::to_string(clients) + "_vs_raw_put", "baseline",
        clients * kOpsPerClient, [&](std::atomic<int>& failures) {
          RunClients(clients, [&](int) {
            for (int i = 0; i < kOpsPerClient; ++i) {
              if (!C()->raw().Put(RawKey('p', next_key.fetch_add(1)), kValue).ok()) failures++;
            }
          });
        });
}

void Txn1pc(benchmark::State& state, int clients) {
  Timed(state, "1pc@" + std::to_string(clients) + "_vs_raw_put", "rutile", clients * kOpsPerClient,
        [&](std::atomic<int>& failures) {
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
        });
}

void RawGet(benchmark::State& state, int clients) {
  std::atomic<uint64_t> seq{0};
  Timed(state, "snap_get@16_vs_raw_get", "baseline", clients * kOpsPerClient,
        [&](std::atomic<int>& failures) {
          RunClients(clients, [&](int) {
            uint64_t s = seq.fetch_add(kOpsPerClient);
            for (int i = 0; i < kOpsPerClient; ++i) {
              auto v = C()->raw().Get(RawKey('r', Mix(s + i) % kReadKeys));
              if (!v.ok() || !v->has_value()) failures++;
            }
          });
        });
}

void SnapGet(benchmark::State& state, int clients) {
  std::atomic<uint64_t> seq{0};
  Timed(state, "snap_get@16_vs_raw_get", "rutile", clients * kOpsPerClient,
        [&](std::atomic<int>& failures) {
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
        });
}

std::map<std::string, std::vector<uint64_t>> latencies;
std::atomic<int> other_kind{0};
const int commit_regions = [] {
  const char* v = getenv("TXN_BENCH_COMMIT_REGIONS");
  int k = v == nullptr ? kRegions : atoi(v);
  return k < 1 || k > kRegions ? kRegions : k;
}();

// `drained`: each commit starts once the previous one's background commits are done
// (untimed), so its latency is its own; otherwise back to back, where on this 2-core
// machine the previous transaction's background commits (10 Raft writes for async
// commit, 9 for 2PC) compete with the next prewrite.
void MultiRegionCommit(benchmark::State& state, bool async, bool drained) {
  std::vector<uint64_t>& lat =
      latencies[std::string(async ? "async" : "2pc") + (drained ? "" : "_b2b")];
  lat.clear();
  std::atomic<int> failures{0};
  for (auto _ : state) {
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
  const double min_time = min_time_env == nullptr ? 0.5 : std::max(0.1, atof(min_time_env));
  auto reg = [min_time](const std::string& name, std::function<void(benchmark::State&)> fn) {
    benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& s) { fn(s); })
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(min_time)
        ->UseRealTime();
  };
  for (int c : {1, 16, 64}) {
    reg("raw_put/c" + std::to_string(c), [c](benchmark::State& s) { RawPut(s, c); });
    reg("txn_1pc/c" + std::to_string(c), [c](benchmark::State& s) { Txn1pc(s, c); });
  }
  reg("raw_get/c16", [](benchmark::State& s) { RawGet(s, 16); });
  reg("snap_get/c16", [](benchmark::State& s) { SnapGet(s, 16); });
  reg("commit_2pc/10_regions", [](benchmark::State& s) { MultiRegionCommit(s, false, true); });
  reg("commit_async/10_regions", [](benchmark::State& s) { MultiRegionCommit(s, true, true); });
  reg("commit_2pc_b2b/10_regions", [](benchmark::State& s) { MultiRegionCommit(s, false, false); });
  reg("commit_async_b2b/10_regions",
      [](benchmark::State& s) { MultiRegionCommit(s, true, false); });
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
  rutile::bench::PrintRatios();
  return 0;
}
