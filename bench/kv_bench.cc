// Raw KV benchmark: a durable 3-replica cluster in one process (three rutile::Nodes on
// LevelDB in temporary directories, connected by LocalTransport, every Raft Ready synced)
// driven through RawKvClient, beside raw LevelDB in the same program and run.
//
// Cases (each a Google Benchmark timed on the wall clock, rates in items per second):
//   kv_put/c<N>        N client fibers each putting fresh 16-byte keys with 100-byte values
//                      (one RawKvClient::Put per item: propose, commit on 2 of 3 synced
//                      logs, apply at the leader), N = 1, 16, 64
//   kv_get/c<N>        N client fibers each reading present keys (leader lease reads)
//   kv_get_rpc/c16     kv_get through the KV RPC service (RawKvOptions::rpc_client_id)
//   kv_put_rpc/c64     kv_put through the KV RPC service
//   tso/c64            64 fibers each taking timestamps from Pd::GetTimestamp
//   leveldb_put_synced raw LevelDB Put with sync, one thread (one fsync per write)
//   leveldb_get        raw LevelDB Get of present keys, one thread
//   leveldb_get_2t     the same on two threads (every core of the 2-core target machine):
//                      the cluster's readers run on Env::Default's worker threads, so
//                      this stricter baseline is reported beside the issue's one
//   idle regions       after the suite, not a Google Benchmark: a 3-store raftstore cluster
//                      (LevelDB under /dev/shm, LocalTransport, the in-process PD with its
//                      schedulers off so nothing moves, NodeOptions' timing) bootstrapped
//                      with N regions, all of them elected and then hibernated; the
//                      process's CPU seconds per wall second over a quiet window, for
//                      N = RUTILE_KV_BENCH_IDLE_REGIONS (default 10,000; 0 skips) and for
//                      N = 1 in the same run:
//   RATIO idle_cpu@<N>_regions_vs_1_region    target: near 1 (quiet regions cost nothing)
// The suite runs in rounds (RUTILE_KV_BENCH_ROUNDS, default 3) so that a shared machine's
// load falls on both sides; every RATIO is the median over rounds of the ratio within a
// round:
//   RATIO put@N_vs_leveldb_synced_put   target >= 3 at N = 64 (group commit)
//   RATIO get@N_vs_leveldb_get          target >= 0.3 at N = 16
//   RATIO tso@64_vs_500k                timestamps/s over the 500,000/s target
//
// Gets after puts (session 7): both sides open LevelDB with the engine's options
// (LevelDbResources::MakeOptions). With LevelDB's 4 MiB memtable the cluster's data
// database, which the put cases fill with tens of thousands of keys (the baseline gets a
// few hundred synced puts), had flushed the read keys to a table file by the get cases,
// while the baseline still read them from its memtable: a LevelDB Get from a table file
// costs about twice one from the memtable, and get@16 fell from 0.36-0.40 (gets alone) to
// 0.276. The engine's memtables are now 64 MiB (RocksDB's default; TiKV uses 128 MiB), on
// both sides; in a run under load 22 that moved kv_get/c16's process CPU per get from
// 0.79-1.49 us to 0.64-0.68 us (4 MiB vs 64 MiB in the same binary).

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "node/local_pd.h"
#include "raftstore/store.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "storage/leveldb_engine.h"
#include "transport/rpc.h"
#include "util/sync.h"

namespace rutile::kvbench {
namespace {

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr uint64_t kReadKeys = 20'000;  // Present keys "r" + index, in both stores.
constexpr int kOpsPerClient = 16;       // Puts per client per benchmark iteration.
// Gets per client per iteration: enough that a round's fiber spawns and the bench thread's
// wake-ups (each a thread hand-off on a loaded 2-core machine) do not dominate a read that
// the local reader serves in a few microseconds.
constexpr int kGetOpsPerClient = 256;
constexpr int kTsoPerRequester = 256;

uint64_t Mix(uint64_t x) {  // splitmix64.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A 16-byte key: `prefix` then the zero-padded decimal of `i`.
std::string MakeKey(char prefix, uint64_t i) {
  std::string k(kKeySize, '0');
  k[0] = prefix;
  for (size_t p = kKeySize - 1; p > 0 && i > 0; --p) {
    k[p] = static_cast<char>('0' + i % 10);
    i /= 10;
  }
  return k;
}

const std::string& Value() {
  static const std::string* value = new std::string(kValueSize, 'v');
  return *value;
}

void Die(const std::string& what) {
  std::fprintf(stderr, "kv_bench: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

class TempDir {
 public:
  explicit TempDir(const std::string& parent = "/tmp") {
    std::string templ = parent + "/rutile_kv_bench_XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) Die("mkdtemp failed");
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

using bench::OnFiber;

using bench::RunClients;

// The 3-node cluster, built on first use and kept for the whole run.
class Cluster {
 public:
  static constexpr uint64_t kClientId = 900;  // The RPC client's node id on the transport.

  Cluster() {
    OnFiber([&] { Open(); });
  }
  ~Cluster() {
    OnFiber([&] {
      rpc_client_.reset();
      client_.reset();
      for (auto& n : nodes_) n->Close();
      nodes_.clear();
    });
    transport_.reset();
  }

  RawKvClient& kv() { return *client_; }
  RawKvClient& rpc_kv() { return *rpc_client_; }
  Pd& pd() { return *nodes_[0]->pd(); }

 private:
  void Open() {
    transport_ = NewLocalTransport(Env::Default());
    std::vector<uint64_t> ids = {1, 2, 3};
    std::shared_ptr<Pd> pd;
    std::vector<Node*> raw;
    for (uint64_t id : ids) {
      NodeOptions o;
      o.id = id;
      o.data_dir = dir_.path() + "/node" + std::to_string(id);
      o.transport = transport_.get();
      o.host_pd = id == 1;
      o.pd = pd;
      o.initial_stores = ids;
      o.raft_tick_micros = 50'000;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
      if (!node.ok()) Die("open node: " + node.status().ToString());
      if (id == 1) pd = (*node)->pd();
      raw.push_back(node->get());
      nodes_.push_back(std::move(*node));
    }
    absl::StatusOr<std::unique_ptr<RawKvClient>> c = RawKvClient::Open(raw);
    if (!c.ok()) Die("open client: " + c.status().ToString());
    client_ = std::move(*c);
    RawKvOptions ro;
    ro.rpc_client_id = kClientId;
    c = RawKvClient::Open(raw, ro);
    if (!c.ok()) Die("open rpc client: " + c.status().ToString());
    rpc_client_ = std::move(*c);
    // The first write waits for the election; then the read keys, in batches.
    std::vector<RawKvClient::KvPair> batch;
    for (uint64_t i = 0; i < kReadKeys; ++i) {
      batch.emplace_back(MakeKey('r', i), Value());
      if (batch.size() == 500 || i + 1 == kReadKeys) {
        if (absl::Status s = client_->BatchPut(batch); !s.ok()) Die("preload: " + s.ToString());
        batch.clear();
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<RawKvClient> client_;
  std::unique_ptr<RawKvClient> rpc_client_;
};

std::unique_ptr<Cluster> cluster;

Cluster* GetCluster() {
  if (cluster == nullptr) cluster = std::make_unique<Cluster>();
  return cluster.get();
}

// Raw LevelDB opened with the engine's own options, preloaded with the read keys.
struct Baseline {
  Baseline() : resources(storage::LevelDbEngineOptions()) {
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(resources.MakeOptions(true), dir.path() + "/db", &raw);
    if (!s.ok()) Die("open leveldb: " + s.ToString());
    db.reset(raw);
    for (uint64_t i = 0; i < kReadKeys; ++i) {
      if (!db->Put(leveldb::WriteOptions(), MakeKey('r', i), Value()).ok()) Die("preload");
    }
  }
  TempDir dir;
  storage::LevelDbResources resources;  // Before db: destroyed after it.
  std::unique_ptr<leveldb::DB> db;
};

std::unique_ptr<Baseline> baseline;

Baseline* GetBaseline() {
  if (baseline == nullptr) baseline = std::make_unique<Baseline>();
  return baseline.get();
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Counter cpu_us: the whole process's CPU microseconds per item since `cpu0` (every
// thread: the Env's workers, LevelDB's, the benchmark's). On a shared machine the wall
// rates swing with other processes' load; CPU per item is what a change to the path moves.
void SetCpuPerItem(benchmark::State& state, double cpu0, int64_t items) {
  if (items > 0) {
    state.counters["cpu_us"] = (ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(items);
  }
}

std::atomic<uint64_t> next_put_key{0};

void KvPut(benchmark::State& state, int clients, bool rpc) {
  RawKvClient& kv = rpc ? GetCluster()->rpc_kv() : GetCluster()->kv();
  std::atomic<int> failures{0};
  for (auto _ : state) {
    RunClients(clients, [&](int) {
      for (int i = 0; i < kOpsPerClient; ++i) {
        if (!kv.Put(MakeKey('p', next_put_key.fetch_add(1)), Value()).ok()) failures++;
      }
    });
  }
  if (failures.load() > 0) state.SkipWithError("put failed");
  state.SetItemsProcessed(state.iterations() * clients * kOpsPerClient);
}

void KvGet(benchmark::State& state, int clients, bool rpc) {
  RawKvClient& kv = rpc ? GetCluster()->rpc_kv() : GetCluster()->kv();
  std::atomic<int> failures{0};
  std::atomic<uint64_t> seq{0};
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    RunClients(clients, [&](int) {
      uint64_t s = seq.fetch_add(kGetOpsPerClient);
      for (int i = 0; i < kGetOpsPerClient; ++i) {
        absl::StatusOr<std::optional<std::string>> v = kv.Get(MakeKey('r', Mix(s + i) % kReadKeys));
        if (!v.ok() || !v->has_value()) failures++;
      }
    });
  }
  if (failures.load() > 0) state.SkipWithError("get failed");
  const auto items = state.iterations() * clients * kGetOpsPerClient;
  state.SetItemsProcessed(items);
  SetCpuPerItem(state, cpu0, items);
}

void Tso(benchmark::State& state, int requesters) {
  Pd& pd = GetCluster()->pd();
  std::atomic<int> failures{0};
  for (auto _ : state) {
    RunClients(requesters, [&](int) {
      uint64_t last = 0;
      for (int i = 0; i < kTsoPerRequester; ++i) {
        absl::StatusOr<uint64_t> ts = pd.GetTimestamp();
        if (!ts.ok() || *ts <= last) {
          failures++;
        } else {
          last = *ts;
        }
      }
    });
  }
  if (failures.load() > 0) state.SkipWithError("timestamp failed or not increasing");
  state.SetItemsProcessed(state.iterations() * requesters * kTsoPerRequester);
}

void LevelDbPutSynced(benchmark::State& state) {
  leveldb::DB* db = GetBaseline()->db.get();
  leveldb::WriteOptions wo;
  wo.sync = true;
  uint64_t i = 0;
  for (auto _ : state) {
    if (!db->Put(wo, MakeKey('p', Mix(i++)), Value()).ok()) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void LevelDbGet(benchmark::State& state) {
  leveldb::DB* db = GetBaseline()->db.get();
  std::string value;
  uint64_t i = 0;
  const double cpu0 = state.thread_index() == 0 ? ProcessCpuSeconds() : 0;
  for (auto _ : state) {
    if (!db->Get(leveldb::ReadOptions(), MakeKey('r', Mix(i++) % kReadKeys), &value).ok()) {
      state.SkipWithError("get failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.threads() == 1) SetCpuPerItem(state, cpu0, state.iterations());
}

// ---- Idle regions ----

struct IdleResult {
  bool ok = false;            // Every region fell asleep and stayed asleep.
  double cpu_per_second = 0;  // Process CPU seconds per wall second while quiet.
  double settle_seconds = 0;  // From start until every region hibernated on every store.
};

// Runs on a fiber of Env::Default().
IdleResult MeasureIdle(int regions) {
  constexpr int kStores = 3;
  Env* env = Env::Default();
  std::error_code ec;
  // tmpfs when there is one: bootstrapping writes two synced batches per peer.
  TempDir dir(std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp");
  std::unique_ptr<Transport> transport = NewLocalTransport(env);
  std::vector<std::unique_ptr<storage::Engine>> engines;
  std::vector<std::unique_ptr<transport::RpcEndpoint>> endpoints;
  std::vector<std::shared_ptr<raftstore::Store>> stores;
  for (int s = 1; s <= kStores; ++s) {
    storage::LevelDbEngineOptions eo;
    eo.io_env = env;
    absl::StatusOr<std::unique_ptr<storage::Engine>> e =
        storage::LevelDbEngine::Open(dir.path() + "/s" + std::to_string(s), eo);
    if (!e.ok()) Die("open engine: " + e.status().ToString());
    engines.push_back(std::move(*e));
  }
  absl::StatusOr<std::unique_ptr<node::LocalPd>> pd = node::LocalPd::Open(env, engines[0].get());
  if (!pd.ok()) Die("open pd: " + pd.status().ToString());
  (void)(*pd)->SetSchedulingEnabled(false);  // LocalPd: never fails.
  // Region k+1 covers [b(k), b(k+1)) with peer (k+1)*10+s on store s (ids stay clear of
  // what the PD allocates only because nothing splits here).
  auto boundary = [](int k) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "i%07d", k);
    return std::string(buf);
  };
  for (int k = 0; k < regions; ++k) {
    metapb::Region r;
    r.set_id(static_cast<uint64_t>(k) + 1);
    r.mutable_region_epoch()->set_conf_ver(1);
    r.mutable_region_epoch()->set_version(1);
    if (k > 0) r.set_start_key(boundary(k));
    if (k + 1 < regions) r.set_end_key(boundary(k + 1));
    for (int s = 1; s <= kStores; ++s) {
      metapb::Peer* p = r.add_peers();
      p->set_id((static_cast<uint64_t>(k) + 1) * 10 + static_cast<uint64_t>(s));
      p->set_store_id(static_cast<uint64_t>(s));
    }
    for (auto& e : engines) {
      if (absl::Status st = raftstore::Store::BootstrapRegion(e.get(), r); !st.ok()) {
        Die("bootstrap: " + st.ToString());
      }
    }
    (*pd)->ReportRegion(r);
  }
  const NodeOptions defaults;
  for (int s = 1; s <= kStores; ++s) {
    const auto id = static_cast<uint64_t>(s);
    if (absl::Status st = (*pd)->PutStore(id); !st.ok()) Die("put store: " + st.ToString());
    endpoints.push_back(std::make_unique<transport::RpcEndpoint>(env, transport.get(), id));
    raftstore::Store::Options so;
    so.config.store_id = id;
    so.config.tick_interval_micros = defaults.raft_tick_micros;
    so.config.pd_heartbeat_interval_micros = defaults.pd_heartbeat_interval_micros;
    so.config.store_heartbeat_interval_micros = defaults.pd_heartbeat_interval_micros;
    so.config.hibernate_regions = true;
    so.env = env;
    so.engine = engines[static_cast<size_t>(s - 1)].get();
    so.endpoint = endpoints.back().get();
    so.pd = pd->get();
    absl::StatusOr<std::shared_ptr<raftstore::Store>> st = raftstore::Store::Create(so);
    if (!st.ok()) Die("create store: " + st.status().ToString());
    stores.push_back(*st);
  }
  const uint64_t start = env->NowMicros();
  for (auto& st : stores) st->Start();
  // Every region elects a leader and, with nothing to do, goes to sleep everywhere.
  const uint64_t deadline = start + 300'000'000;
  auto all_asleep = [&] {
    for (auto& st : stores) {
      if (st->stats().asleep_peers < static_cast<uint64_t>(regions)) return false;
    }
    return true;
  };
  IdleResult out;
  while (!all_asleep() && env->NowMicros() < deadline) env->SleepForMicros(200'000);
  out.ok = all_asleep();
  out.settle_seconds = static_cast<double>(env->NowMicros() - start) / 1e6;
  env->SleepForMicros(2'000'000);  // Let the last wake-ups and heartbeats pass.
  constexpr uint64_t kWindow = 6'000'000;
  const double cpu0 = ProcessCpuSeconds();
  const uint64_t t0 = env->NowMicros();
  env->SleepForMicros(kWindow);
  const double cpu1 = ProcessCpuSeconds();
  const uint64_t t1 = env->NowMicros();
  out.cpu_per_second = (cpu1 - cpu0) / (static_cast<double>(t1 - t0) / 1e6);
  out.ok = out.ok && all_asleep();
  for (auto& st : stores) st->Shutdown();
  for (auto& ep : endpoints) ep->Stop();
  stores.clear();
  endpoints.clear();
  pd->reset();
  engines.clear();
  return out;
}

int IdleRegions() {
  const char* env = getenv("RUTILE_KV_BENCH_IDLE_REGIONS");
  return env != nullptr ? atoi(env) : 10'000;
}

void RunIdleRegions() {
  const int n = IdleRegions();
  if (n <= 0) return;
  IdleResult one;
  IdleResult many;
  OnFiber([&] { one = MeasureIdle(1); });
  OnFiber([&] { many = MeasureIdle(n); });
  std::printf(
      "idle regions (3 stores, every region on each): 1 region %.4f CPU s/s; %d regions %.4f "
      "CPU s/s (%.2f us per region per second, all asleep after %.1f s)\n",
      one.cpu_per_second, n, many.cpu_per_second,
      (many.cpu_per_second - one.cpu_per_second) * 1e6 / n, many.settle_seconds);
  std::fflush(stdout);
  if (!one.ok || !many.ok) {
    std::printf("idle regions: NOT ALL ASLEEP within 300 s (or one woke while idle); no ratio\n");
    return;
  }
  if (one.cpu_per_second > 0) {
    bench::RecordRatio("idle_cpu@" + std::to_string(n) + "_regions_vs_1_region",
                       many.cpu_per_second / one.cpu_per_second);
  }
}

int Rounds() {
  const char* env = getenv("RUTILE_KV_BENCH_ROUNDS");
  const int n = env != nullptr ? atoi(env) : 0;
  return n > 0 ? n : 3;
}

constexpr int kClientCounts[] = {1, 16, 64};

void RegisterAll() {
  auto reg = [](const std::string& name, std::function<void(benchmark::State&)> fn) {
    benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& s) { fn(s); })
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(0.3)
        ->UseRealTime();
  };
  for (int round = 0; round < Rounds(); ++round) {
    const std::string r = "/r" + std::to_string(round);
    reg("leveldb_put_synced" + r, LevelDbPutSynced);
    for (int c : kClientCounts) {
      reg("kv_put/c" + std::to_string(c) + r, [c](benchmark::State& s) { KvPut(s, c, false); });
    }
    reg("leveldb_get" + r, LevelDbGet);
    benchmark::RegisterBenchmark(("leveldb_get_2t" + r).c_str(), LevelDbGet)
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(0.3)
        ->Threads(2)
        ->UseRealTime();
    for (int c : kClientCounts) {
      reg("kv_get/c" + std::to_string(c) + r, [c](benchmark::State& s) { KvGet(s, c, false); });
    }
    reg("kv_get_rpc/c16" + r, [](benchmark::State& s) { KvGet(s, 16, true); });
    reg("kv_put_rpc/c64" + r, [](benchmark::State& s) { KvPut(s, 64, true); });
    reg("tso/c64" + r, [](benchmark::State& s) { Tso(s, 64); });
  }
}

// Prints as the console reporter does and keeps each run's items_per_second by case and
// round ("<case>/r<round>").
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  RecordingReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      auto rate = run.counters.find("items_per_second");
      if (rate == run.counters.end()) continue;
      const std::string& name = run.run_name.function_name;
      const size_t r = name.rfind("/r");
      if (r == std::string::npos) continue;
      rates_[name.substr(0, r)][name.substr(r + 2)] = rate->second.value;
    }
  }

  // Records `RATIO <name> <median over rounds of case/baseline>`.
  void RecordRatio(const std::string& name, const std::string& kase, const std::string& base,
                   double fixed_base = 0) {
    std::vector<double> ratios;
    for (const auto& [round, rate] : rates_[kase]) {
      double b = fixed_base;
      if (b == 0) {
        auto it = rates_[base].find(round);
        if (it == rates_[base].end()) continue;
        b = it->second;
      }
      if (b > 0) ratios.push_back(rate / b);
    }
    if (ratios.empty()) return;
    std::sort(ratios.begin(), ratios.end());
    const size_t n = ratios.size();
    bench::RecordRatio(name, n % 2 == 1 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2);
  }

 private:
  std::map<std::string, std::map<std::string, double>> rates_;
};

}  // namespace
}  // namespace rutile::kvbench

int main(int argc, char** argv) {
  using rutile::kvbench::kClientCounts;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  rutile::kvbench::RegisterAll();
  rutile::kvbench::RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  for (int c : kClientCounts) {
    const std::string n = std::to_string(c);
    reporter.RecordRatio("put@" + n + "_vs_leveldb_synced_put", "kv_put/c" + n,
                         "leveldb_put_synced");
  }
  for (int c : kClientCounts) {
    const std::string n = std::to_string(c);
    reporter.RecordRatio("get@" + n + "_vs_leveldb_get", "kv_get/c" + n, "leveldb_get");
  }
  reporter.RecordRatio("get@16_vs_leveldb_get_2threads", "kv_get/c16", "leveldb_get_2t");
  reporter.RecordRatio("get_rpc@16_vs_leveldb_get", "kv_get_rpc/c16", "leveldb_get");
  reporter.RecordRatio("put_rpc@64_vs_leveldb_synced_put", "kv_put_rpc/c64", "leveldb_put_synced");
  reporter.RecordRatio("tso@64_vs_500k", "tso/c64", "", 500'000);
  benchmark::Shutdown();
  rutile::kvbench::cluster.reset();  // Closes the nodes and removes their directories.
  rutile::kvbench::baseline.reset();
  rutile::kvbench::RunIdleRegions();
  rutile::bench::PrintRatios();
  return 0;
}
