// Raft benchmark (DESIGN.md section 15).
//
// cpu_path: three RawNodes in this thread, each on a MemoryLogStorage, messages handed from
//   one node's Ready straight to the others' Step. The leader proposes batches of 128-byte
//   entries (RawNode::ProposeBatch); the rate is entries committed (applied on the leader)
//   per second of wall time. There is no other Raft in this process to compare with, so
//   its ratio line is against the target: RATIO raft_cpu_vs_500k <rate/500,000>.
//
// Durable path: three replicas in this process, each with its own LevelDbEngine (synced
//   writes) under one temporary directory and an EngineLogStorage, connected by one
//   transport::LocalTransport (each raft message a frame: a serialized raft.Message).
//   Every replica runs RawNode with asynchronous storage writes (raw_node.h) on fibers of
//   one Env (Env::Default(); RAFT_BENCH_WORKERS=N runs a private pool of N workers
//   instead, for comparison): its Ready loop fiber sends MsgApp at
//   once (the leader before its own append is durable, thesis §10.2.1), applies, and
//   queues the Ready's writes to its log writer, a loop that holds one of the Env's I/O
//   threads for the replica's life and merges everything queued into one synced write
//   (group commit across Readys: consecutive MsgApps a follower receives during one fsync
//   share the next one), then releases the acknowledgements (a follower's MsgAppResp, the
//   leader's own ack) from that thread and goes straight on to what queued meanwhile. The
//   leader applies what a quorum made durable, whether or not its own write is done yet
//   (Config::max_apply_unpersisted_entries). The client is a
//   fiber too: whenever entries apply it hands every free slot's proposal to the leader at once
//   (one hand-over, not one per proposal; see session 6 below). The leader drains every
//   waiting client proposal into one ProposeBatch, and keeps up to max_inflight_msgs
//   MsgApps in flight per follower (pipelined replication).
//   With RAFT_BENCH_VERBOSE set, each run also prints the median time of every hop of an
//   entry (propose, leader step, MsgApp out, follower frame/step/write/durable, MsgAppResp
//   back, leader durable, applied, client woken) and each replica's write statistics.
//   fdatasync_baseline  this disk's synced-write latency, measured first: 1,000 x (pwrite
//                       4 KiB + fdatasync) on a file in the same directory, zero-filled
//                       beforehand so that each write overwrites (the headline p50: the
//                       cheapest synced write of this disk), and again appending to a new
//                       file (append_p50_us; what runs before session 4 used).
//   commit_latency      one proposal in flight: p50/p99 from Propose to applied on the leader.
//                       RATIO raft_commit_latency <fdatasync p50 / commit p50> (higher is
//                       better; >= 0.333 meets "p50 <= 3x fdatasync p50"), and for context
//                       RATIO raft_commit_latency_vs_append_fdatasync (the appending probe)
//                       and RATIO raft_commit_latency_vs_concurrent_fdatasync (three threads
//                       syncing three zero-filled files at once, as three replicas on one
//                       disk do).
//   throughput_64       64 proposals in flight: entries committed per second.
//                       RATIO raft_throughput_64_vs_100k <rate/100,000>, and
//                       RATIO raft_throughput_64_vs_bound <rate / (64 / fdatasync p50)>:
//                       by Little's law no system that syncs before acknowledging can beat
//                       64 / fdatasync latency with 64 requests in flight.
//
// Where the durable path's time went, and what session 4 changed (throughput_64 was
// 52.6k entries/s on a quiet machine, one synced 64-entry LevelDB write 700-1050 us):
//   - strace: one write(2) of ~10 KiB and one fdatasync per synced batch, no second
//     write; but every LevelDB log write appended, so every fdatasync also had to write
//     the file's inode (this ext4 has no journal: ext4_fsync_nojournal), and three
//     replicas doing so at once on one disk took ~300 us each against ~160 us for
//     overwrites of an allocated file (and under other processes' writeback, a lone
//     appending fdatasync took milliseconds, an overwrite did not). The engine now keeps
//     its write-ahead logs zero-filled ahead of the data (LevelDbEngineOptions::
//     wal_zero_fill_bytes), and the baseline probe is measured the same way, so the
//     latency ratio did not get easier. RAFT_BENCH_ZERO_FILL=0 shows the old behaviour.
//   - perf: with two worker threads, ~30% of all CPU was boost.fiber spinlocks (the
//     replicas' fibers migrate between the workers and contend on every Mutex/CondVar);
//     session 4 ran this path on a one-worker Env. Session 5 replaced Boost's fiber
//     mutex and condition variable (util/sync.h: no lock held across a fiber switch):
//     the spinlocks left the profile, two workers use the same user CPU per entry as
//     one (0.20-0.24 s per 40,000 entries against 0.35-0.50 s before), and the bench
//     runs on Env::Default() again.
//   - the storage takes a Ready's entries over (EngineLogStorage::BuildReadyWrite with an
//     rvalue) instead of copying them twice on their way into its cache.
// Session 6 (measured under chrt -f, which reproduced the lead's quiet-machine kv_bench
// figures exactly on the loaded 2-core machine; fdatasync p50 152 us alone, 224 us three
// at once): 0.73-0.85 of 100k entries/s. The verbose statistics showed every replica's
// writer busy back to back with ~34 entries per synced write, 2 Readys each: the 64
// proposals travelled as two half-batches that took turns at each disk, every entry
// waiting for the other half's fsync before its own. The split came from the client:
// it proposed one entry per hand-over, and with two workers the leader's Ready loop,
// woken by the first, ran beside the client and took the first few proposals alone;
// once split, the halves stay apart (each commits, and is refilled, at its own time).
// With one worker (RAFT_BENCH_WORKERS=1) the batch stayed whole: 63.5 entries per write,
// ratio ~1.0. The client now hands all its free slots over at once (as any client that
// has N requests ready would): one batch per round trip, 63.5 entries per synced write
// with two workers, 0.77-1.03 (p50 commit ~550 us). What remains per round: the synced
// LevelDB write (~330 us against 224 us for a bare fdatasync of three files at once), the
// I/O-thread hops of RunBlocking (~25 us there, ~35 us back), and the Ready loops' entry
// copies (GetReady, MsgApp slices, committed entries from the storage cache: malloc/free
// were a quarter of all CPU with the fsync switched off). The p99 (2-4.6 ms) is the
// write-ahead log's zero-fill extensions: RAFT_BENCH_ZERO_FILL=0 gives p99 ~1.5 ms but
// p50 ~800 us. Spinning idle workers and I/O threads before parking (to skip the VM's
// wake-up latency) was tried and made it worse on two cores (0.63-0.66).
// Session 7 (load 19-22 from eight engineers' builds; only runs under chrt -f 1 were
// comparable, and those sit beside a disk whose lone fdatasync p99 was 40-48 ms): the
// writer's I/O thread now sends the acknowledgements of a durable write and hands it to
// the Ready loop itself, instead of first waking the writer fiber (the "hop out", 45-215
// us per write) on the critical path of every MsgAppResp. Five interleaved runs each,
// same library: 0.85-1.04 (mean 0.985) before, 1.01-1.09 (mean 1.062) after. And the
// engine's memtables are 64 MiB (LevelDbEngineOptions::write_buffer_size): the Raft log
// database no longer switches logs and flushes a 4 MiB table during a run (20,000 entries
// of ~220 B of memtable each).
// Session 8 (load 11-15 at nice 0, disk fdatasync p90 of 0.5-10 ms under the others'
// builds): the leader no longer waits for its own fsync to apply what two followers
// persisted (RAFT_BENCH_APPLY_UNPERSISTED=0 for the old rule), and the log writer stays on
// its I/O thread between writes instead of a writer fiber calling RunBlocking for each one:
// every write cost a fiber -> I/O thread hop in (19-200 us) and a hop back out to the fiber
// (41-316 us under load) before the next write could start. Four interleaved pairs at load
// 15, nice 0: 0.59/0.74/0.74/0.50 before, 0.81/0.82/0.74/0.94 after.
// RAFT_BENCH_DIR picks the directory (default /tmp); RAFT_BENCH_N scales the durable runs.

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "raft/engine_log_storage.h"
#include "raft/memory_log_storage.h"
#include "raft/raw_node.h"
#include "rutile/env.h"
#include "rutile/storage.h"
#include "rutile/transport.h"
#include "storage/leveldb_engine.h"
#include "storage/write_batch.h"
#include "transport/local_transport.h"
#include "util/env_internal.h"
#include "util/sync.h"

namespace rutile::raft {
namespace {

constexpr size_t kEntryBytes = 128;

uint64_t NowNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

std::string Payload(uint64_t id) {
  std::string s(kEntryBytes, 'p');
  std::memcpy(s.data(), &id, sizeof(id));
  return s;
}

uint64_t PayloadId(const std::string& s) {
  uint64_t id = 0;
  std::memcpy(&id, s.data(), sizeof(id));
  return id;
}

Snapshot Bootstrap() {
  Snapshot snap;
  snap.mutable_metadata()->set_index(1);
  snap.mutable_metadata()->set_term(1);
  for (uint64_t id : {1, 2, 3}) snap.mutable_metadata()->mutable_conf_state()->add_voters(id);
  return snap;
}

Config NodeConfig(uint64_t id, LogStorage* storage) {
  Config c;
  c.id = id;
  c.storage = storage;
  c.applied = 1;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.max_size_per_msg = 1 << 20;
  c.max_inflight_msgs = 1024;
  c.random_seed = id;
  return c;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::abort();
  }
}

std::string BenchDir() {
  const char* base = getenv("RAFT_BENCH_DIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/rutile_raft_bench_XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) std::abort();
  return templ;
}

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// ---- Per-hop trace (RAFT_BENCH_VERBOSE) ----------------------------------------------

// Timestamps of one log entry's way through the durable path, keyed by log index; with
// one proposal in flight the medians of consecutive differences say where the time goes.
enum Hop : int {
  kPropose,          // Client calls Propose.
  kLeaderStep,       // The leader's Ready loop takes the proposal.
  kMsgAppSent,       // The leader hands a MsgApp ending at this index to the transport.
  kFollowerFrame,    // OnFrame of that MsgApp on a follower.
  kFollowerStep,     // The follower's Ready loop steps it.
  kFollowerWrite,    // The follower's writer starts the synced write.
  kFollowerDurable,  // ... and finishes it (then sends MsgAppResp).
  kLeaderRespFrame,  // OnFrame of the first MsgAppResp at the leader.
  kLeaderDurable,    // The leader's own synced write of the entry is done.
  kApplied,          // Applied on the leader.
  kClientWoken,      // The client sees it applied.
  kNumHops
};
const char* const kHopNames[kNumHops] = {"propose",          "leader_step",       "msgapp_sent",
                                         "follower_frame",   "follower_step",     "follower_write",
                                         "follower_durable", "leader_resp_frame", "leader_durable",
                                         "applied",          "client_woken"};

class HopTrace {
 public:
  static bool Enabled() {
    static const bool on = getenv("RAFT_BENCH_VERBOSE") != nullptr;
    return on;
  }
  // Records the first time `hop` happens for `index` (later ones are ignored). `node` 1 is
  // the leader; follower hops are kept per follower and the faster one reported.
  void Mark(uint64_t index, Hop hop, uint64_t node = 1) {
    if (Enabled()) MarkAt(index, hop, node, NowNanos());
  }
  void MarkAt(uint64_t index, Hop hop, uint64_t node, uint64_t at) {
    if (!Enabled() || index == 0) return;
    std::lock_guard<std::mutex> l(mu_);
    auto& slot = at_[index][node - 1][hop];
    if (slot == 0) slot = at;
  }
  // The leader appended proposal `id` at `index`.
  void MapId(uint64_t id, uint64_t index) {
    if (!Enabled()) return;
    std::lock_guard<std::mutex> l(mu_);
    index_of_[id] = index;
  }
  void MarkId(uint64_t id, Hop hop) {
    if (!Enabled()) return;
    uint64_t now = NowNanos();
    uint64_t index;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = index_of_.find(id);
      if (it == index_of_.end()) return;
      index = it->second;
    }
    MarkAt(index, hop, 1, now);
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    at_.clear();
    index_of_.clear();
  }
  // Prints the median of each step, following per entry the follower whose MsgAppResp
  // reached the leader first. Without `client_hop` the last step (client woken) is left
  // out and the total ends at applied.
  void Print(const char* what, bool client_hop) {
    if (!Enabled()) return;
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::vector<uint64_t>> d(kNumHops);
    for (auto& [index, per] : at_) {
      int f = 1;
      if (per[2][kLeaderRespFrame] != 0 &&
          (per[1][kLeaderRespFrame] == 0 || per[2][kLeaderRespFrame] < per[1][kLeaderRespFrame])) {
        f = 2;
      }
      std::array<uint64_t, kNumHops> t = per[0];
      if (!client_hop) t[kClientWoken] = t[kApplied];
      for (int h :
           {kFollowerFrame, kFollowerStep, kFollowerWrite, kFollowerDurable, kLeaderRespFrame}) {
        t[h] = per[f][h];
      }
      bool complete = true;
      for (uint64_t v : t) complete = complete && v != 0;
      if (!complete) continue;
      for (int h = 1; h < kNumHops; ++h) {
        uint64_t prev = h == kLeaderDurable ? t[kMsgAppSent] : t[h - 1];
        if (h == kApplied) prev = std::max(t[kLeaderRespFrame], t[kLeaderDurable]);
        d[h].push_back(t[h] > prev ? t[h] - prev : 0);
      }
      d[0].push_back(t[kClientWoken] - t[kPropose]);
    }
    std::fprintf(stderr, "%s: per-hop p50 over %zu entries (us):", what, d[0].size());
    for (int h = 1; h < kNumHops; ++h) {
      std::fprintf(stderr, " %s=%.0f", kHopNames[h],
                   static_cast<double>(Percentile(d[h], 0.5)) / 1e3);
    }
    std::fprintf(stderr, " | total=%.0f\n", static_cast<double>(Percentile(d[0], 0.5)) / 1e3);
    // The mean round decides throughput, and stalls decide the mean: the p90 of each hop.
    std::fprintf(stderr, "%s: per-hop p90 (us):", what);
    for (int h = 1; h < kNumHops; ++h) {
      std::fprintf(stderr, " %s=%.0f", kHopNames[h],
                   static_cast<double>(Percentile(d[h], 0.9)) / 1e3);
    }
    std::fprintf(stderr, " | total=%.0f\n", static_cast<double>(Percentile(d[0], 0.9)) / 1e3);
    std::fprintf(stderr,
                 "  (leader_durable is measured from msgapp_sent, applied from the later of "
                 "leader_resp_frame and leader_durable)\n");
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, std::array<std::array<uint64_t, kNumHops>, 3>> at_;
  std::map<uint64_t, uint64_t> index_of_;
};

HopTrace g_trace;

// The last entry index a MsgApp carries, or 0.
uint64_t MsgAppLast(const Message& m) {
  if (m.type() != MSG_APP || m.entries().empty()) return 0;
  return m.entries(m.entries().size() - 1).index();
}

// ---- CPU path ----------------------------------------------------------------------

class CpuCluster {
 public:
  CpuCluster() {
    for (int i = 0; i < 3; ++i) {
      storages_[i] = std::make_unique<MemoryLogStorage>();
      Check(storages_[i]->ApplySnapshot(Bootstrap()), "bootstrap");
      auto n = RawNode::Create(NodeConfig(i + 1, storages_[i].get()));
      Check(n.status(), "create");
      nodes_[i] = *std::move(n);
    }
    Check(nodes_[0]->Campaign(), "campaign");
    Pump();
  }

  RawNode* leader() { return nodes_[0].get(); }
  uint64_t applied_on_leader() const { return applied_on_leader_; }

  // Processes Readys and delivers messages until nothing moves.
  void Pump() {
    bool any = true;
    while (any) {
      any = false;
      for (int i = 0; i < 3; ++i) {
        while (nodes_[i]->HasReady()) {
          any = true;
          Ready rd = nodes_[i]->GetReady();
          if (rd.snapshot.has_value()) Check(storages_[i]->ApplySnapshot(*rd.snapshot), "snap");
          Check(storages_[i]->Append(std::move(rd.entries)), "append");
          if (rd.hard_state.has_value()) storages_[i]->SetHardState(*rd.hard_state);
          for (Message& m : rd.messages) inbox_[m.to() - 1].push_back(std::move(m));
          if (i == 0) {
            for (const Entry& e : rd.committed_entries) {
              if (!e.data().empty()) ++applied_on_leader_;
            }
          }
          nodes_[i]->Advance(rd);
        }
      }
      for (int i = 0; i < 3; ++i) {
        std::vector<Message> msgs;
        msgs.swap(inbox_[i]);
        for (Message& m : msgs) {
          any = true;
          (void)nodes_[i]->Step(std::move(m));
        }
      }
    }
  }

  // Keeps the in-memory logs short: what every node applied is compacted away.
  void Compact() {
    for (int i = 0; i < 3; ++i) {
      uint64_t applied = nodes_[i]->raft()->log().applied();
      uint64_t first = *storages_[i]->FirstIndex();
      if (applied > first + 65536) (void)storages_[i]->Compact(applied - 1024);
    }
  }

 private:
  std::unique_ptr<MemoryLogStorage> storages_[3];
  std::unique_ptr<RawNode> nodes_[3];
  std::vector<Message> inbox_[3];
  uint64_t applied_on_leader_ = 0;
};

void BM_CpuPath(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  CpuCluster c;
  uint64_t next_id = 0;
  uint64_t start_applied = c.applied_on_leader();
  uint64_t t0 = NowNanos();
  uint64_t cpu0 = ThreadCpuNanos();
  for (auto _ : state) {
    std::vector<std::string> data;
    data.reserve(batch);
    for (size_t k = 0; k < batch; ++k) data.push_back(Payload(next_id++));
    Check(c.leader()->ProposeBatch(std::move(data)), "propose");
    c.Pump();
    c.Compact();
  }
  double wall_secs = static_cast<double>(NowNanos() - t0) / 1e9;
  uint64_t committed = c.applied_on_leader() - start_applied;
  if (committed != next_id) {
    state.SkipWithError("not every proposal committed");
    return;
  }
  // items_per_second is per CPU second (the repo's convention: the machine is shared);
  // wall_per_s is the same count over wall time.
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.counters["wall_per_s"] = static_cast<double>(committed) / wall_secs;
  double cpu_rate =
      static_cast<double>(committed) / (static_cast<double>(ThreadCpuNanos() - cpu0) / 1e9);
  state.counters["cpu_per_s"] = cpu_rate;
  if (batch == 256) bench::RecordRatio("raft_cpu_vs_500k", cpu_rate / 500'000.0);
}
BENCHMARK(BM_CpuPath)->Arg(64)->Arg(256)->Iterations(2000)->Unit(benchmark::kMicrosecond);

// ---- Durable path ------------------------------------------------------------------

Env* BenchEnv() {
  static Env* env = [] {
    const char* w = getenv("RAFT_BENCH_WORKERS");
    if (w == nullptr) return Env::Default();
    ThreadedEnvOptions o;
    o.worker_threads = std::max(1, atoi(w));
    return NewThreadedEnv(o).release();
  }();
  return env;
}

// Microseconds; the fdatasync baseline measured by BM_FdatasyncBaseline.
double g_fdatasync_p50_us = 0;
double g_fdatasync3_p50_us = 0;
double g_fdatasync_append_p50_us = 0;
std::string g_dir;

// Latencies of `n` x (pwrite 4 KiB at the next offset + fdatasync) on a new file at `path`.
// With `prefill`, the file is first written with n x 4 KiB of zeros and synced, so each
// probe overwrites blocks inside the file and its fdatasync flushes only the data (as the
// engine's zero-filled write-ahead logs do); without, each probe appends, and its
// fdatasync must also write the file's new size.
std::vector<uint64_t> ProbeFdatasync(const std::string& path, int n, bool prefill) {
  std::vector<uint64_t> lat;
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return lat;
  if (prefill) {
    std::string zeros(1 << 20, '\0');
    for (off_t off = 0; off < static_cast<off_t>(n) * 4096;
         off += static_cast<off_t>(zeros.size())) {
      if (::pwrite(fd, zeros.data(), zeros.size(), off) < 0) {
        ::close(fd);
        return lat;
      }
    }
    if (::fsync(fd) != 0) {
      ::close(fd);
      return lat;
    }
  }
  std::string block(4096, 'x');
  for (int i = 0; i < n; ++i) {
    uint64_t t = NowNanos();
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096) < 0 ||
        ::fdatasync(fd) != 0) {
      break;
    }
    lat.push_back(NowNanos() - t);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return lat;
}

// The baseline the issue asks for (one thread, 1,000 synced 4 KiB writes), twice: into a
// zero-filled file (the headline: the cheapest synced write this disk offers, and what
// the engine's write-ahead logs now do) and appending to a new file (the figure earlier
// runs reported). For context also the zero-filled probe from three threads on three
// files at once, as three replicas on one disk do.
void BM_FdatasyncBaseline(benchmark::State& state) {
  std::vector<uint64_t> lat;
  std::vector<uint64_t> lat_append;
  std::vector<uint64_t> lat3;
  for (auto _ : state) {
    lat = ProbeFdatasync(g_dir + "/fdatasync_probe", 1000, /*prefill=*/true);
    lat_append = ProbeFdatasync(g_dir + "/fdatasync_probe_append", 1000, /*prefill=*/false);
    std::vector<std::vector<uint64_t>> per(3);
    std::vector<std::thread> threads;
    for (int k = 0; k < 3; ++k) {
      threads.emplace_back([&per, k] {
        per[k] = ProbeFdatasync(g_dir + "/fdatasync_probe3_" + std::to_string(k), 300,
                                /*prefill=*/true);
      });
    }
    for (std::thread& t : threads) t.join();
    lat3.clear();
    for (const auto& v : per) lat3.insert(lat3.end(), v.begin(), v.end());
  }
  if (lat.size() != 1000 || lat_append.size() != 1000) {
    state.SkipWithError("fdatasync probe failed");
    return;
  }
  g_fdatasync_p50_us = static_cast<double>(Percentile(lat, 0.5)) / 1000.0;
  g_fdatasync_append_p50_us = static_cast<double>(Percentile(lat_append, 0.5)) / 1000.0;
  g_fdatasync3_p50_us = static_cast<double>(Percentile(lat3, 0.5)) / 1000.0;
  state.counters["p50_us"] = g_fdatasync_p50_us;
  state.counters["p99_us"] = static_cast<double>(Percentile(lat, 0.99)) / 1000.0;
  state.counters["append_p50_us"] = g_fdatasync_append_p50_us;
  state.counters["concurrent3_p50_us"] = g_fdatasync3_p50_us;
  state.SetItemsProcessed(static_cast<int64_t>(lat.size()));
}
BENCHMARK(BM_FdatasyncBaseline)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The persisted part of one Ready (or of several, merged), on its way to the writer.
struct WriteJob {
  std::optional<HardState> hard_state;
  std::vector<Entry> entries;
  std::optional<Snapshot> snapshot;
  bool must_sync = false;
  // Sent, and acknowledged to the RawNode, once the write is durable.
  std::vector<Message> after;
  AppendAck ack;
  uint64_t queued_ns = 0;  // When the Ready loop queued it (statistics).

  bool HasWrite() const { return hard_state.has_value() || !entries.empty() || snapshot; }
};

// Folds the persisted part of `next` (a later Ready) into `into`: what one write of both
// must persist. Moves `next`'s entries, snapshot and hard state; its acknowledgements stay.
void MergeWrite(WriteJob& into, WriteJob& next) {
  if (next.snapshot.has_value()) {
    into.snapshot = std::move(next.snapshot);
    into.entries.clear();
  }
  if (!next.entries.empty()) {
    uint64_t first = next.entries.front().index();
    while (!into.entries.empty() && into.entries.back().index() >= first) into.entries.pop_back();
    if (into.entries.empty()) {
      into.entries = std::move(next.entries);
    } else {
      into.entries.insert(into.entries.end(), std::make_move_iterator(next.entries.begin()),
                          std::make_move_iterator(next.entries.end()));
    }
  }
  if (next.hard_state.has_value()) into.hard_state = std::move(next.hard_state);
  into.must_sync = into.must_sync || next.must_sync;
}

// The RawNode reads its storage on the Ready loop fiber while an I/O thread persists for
// the log writer: every read and the two in-memory steps of a write take this lock (held
// briefly, never across a wait, so a std::mutex is fine on a fiber); the engine write
// itself (the fsync) runs outside it.
class LockedLogStorage : public LogStorage {
 public:
  explicit LockedLogStorage(EngineLogStorage* log) : log_(log) {}
  absl::StatusOr<InitialState> GetInitialState() override {
    std::lock_guard<std::mutex> l(mu_);
    return log_->GetInitialState();
  }
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_size) override {
    std::lock_guard<std::mutex> l(mu_);
    return log_->Entries(lo, hi, max_size);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) override {
    std::lock_guard<std::mutex> l(mu_);
    return log_->Term(i);
  }
  absl::StatusOr<uint64_t> FirstIndex() override {
    std::lock_guard<std::mutex> l(mu_);
    return log_->FirstIndex();
  }
  absl::StatusOr<uint64_t> LastIndex() override {
    std::lock_guard<std::mutex> l(mu_);
    return log_->LastIndex();
  }
  absl::StatusOr<Snapshot> GetSnapshot() override {
    std::lock_guard<std::mutex> l(mu_);
    return log_->GetSnapshot();
  }
  // One engine write for `job` (synced if it must be).
  // The entries are moved into the storage's cache.
  // `build_ns` and `write_ns` (may be null) get the time spent building the batch and in
  // the engine write.
  void Persist(storage::Engine* engine, WriteJob& job, uint64_t* build_ns = nullptr,
               uint64_t* write_ns = nullptr) {
    const uint64_t t0 = NowNanos();
    storage::WriteBatch batch;
    {
      std::lock_guard<std::mutex> l(mu_);
      Check(log_->BuildReadyWrite(job.hard_state, std::move(job.entries), job.snapshot, &batch),
            "build");
    }
    const uint64_t t1 = NowNanos();
    storage::WriteOptions wo;
    wo.sync = job.must_sync;
    Check(engine->Write(batch, wo), "write");
    const uint64_t t2 = NowNanos();
    if (build_ns != nullptr) *build_ns += t1 - t0;
    if (write_ns != nullptr) *write_ns += t2 - t1;
    std::lock_guard<std::mutex> l(mu_);
    log_->OnReadyWritten();
  }

 private:
  std::mutex mu_;
  EngineLogStorage* log_;
};

// One replica: a RawNode with asynchronous storage writes on an EngineLogStorage over its
// own LevelDbEngine. The Ready loop runs on a fiber of Env::Default() (steps messages,
// proposes, sends, applies) and the log writer on one of its I/O threads (held through one
// RunBlocking call; everything queued while a write is in progress goes into the next
// write, so one fsync carries many Readys). Frames arrive on the transport's delivery
// fibers.
class Replica;

class DurableCluster {
 public:
  // Call on a fiber of Env::Default(), as every method.
  explicit DurableCluster(const std::string& dir);
  ~DurableCluster();

  // Client side: proposes entry `id` at the leader (replica 1).
  void Propose(uint64_t id);
  // Proposes entries [from, to) at the leader in one hand-over.
  void ProposeRange(uint64_t from, uint64_t to);
  // Waits until at least `n` proposals were applied on the leader.
  void WaitApplied(uint64_t n);
  uint64_t applied() {
    MutexLock l(mu_);
    return applied_;
  }
  // When proposal `id` was made.
  uint64_t StartNanos(uint64_t id) {
    MutexLock l(mu_);
    return id < start_ns_.size() ? start_ns_[id] : 0;
  }
  std::vector<uint64_t> TakeLatencies();

  // Called by the leader replica as it applies entries (ids of client proposals).
  void OnApplied(const std::vector<uint64_t>& ids);
  // Sends a raft message over the transport.
  void Send(const Message& m);
  transport::LocalTransport* transport() { return transport_.get(); }
  Env* env() { return env_; }

 private:
  friend class Replica;
  Env* const env_;
  std::unique_ptr<transport::LocalTransport> transport_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  Mutex mu_;
  CondVar cv_;
  uint64_t applied_ = 0;
  std::vector<uint64_t> start_ns_;
  std::vector<uint64_t> latencies_ns_;
};

class Replica : public FrameReceiver {
 public:
  Replica(DurableCluster* cluster, uint64_t id, const std::string& dir)
      : cluster_(cluster), env_(cluster->env()), id_(id) {
    env_->RunBlocking([&] {
      storage::LevelDbEngineOptions eo;
      // RAFT_BENCH_ZERO_FILL=0: LevelDB's own appending log writes, for comparison.
      if (const char* z = getenv("RAFT_BENCH_ZERO_FILL"))
        eo.wal_zero_fill_bytes = strtoull(z, nullptr, 10);
      auto e = storage::LevelDbEngine::Open(dir, eo);
      Check(e.status(), "open engine");
      engine_ = *std::move(e);
      auto s = EngineLogStorage::Open(engine_.get(), /*group_id=*/1);
      Check(s.status(), "open log");
      log_ = *std::move(s);
      Check(log_->ApplySnapshot(Bootstrap()), "bootstrap");
    });
    locked_ = std::make_unique<LockedLogStorage>(log_.get());
    Config c = NodeConfig(id, locked_.get());
    c.async_storage_writes = true;
    // Committed entries apply once durable on a quorum, not only once durable here: the
    // leader answers its client when two of three replicas have synced, whichever two
    // (RAFT_BENCH_APPLY_UNPERSISTED=0: only after its own sync, as before session 8).
    c.max_apply_unpersisted_entries = 1 << 20;
    if (const char* a = getenv("RAFT_BENCH_APPLY_UNPERSISTED"))
      c.max_apply_unpersisted_entries = strtoull(a, nullptr, 10);
    auto n = RawNode::Create(c);
    Check(n.status(), "create");
    node_ = *std::move(n);
  }

  void Start() {
    Check(cluster_->transport()->Register(id_, this), "register");
    running_.Add(2);
    env_->Spawn([this] {
      Loop();
      running_.Done();
    });
    // The log writer holds one of the Env's I/O threads for the replica's life (TiKV's
    // StoreWriter threads, etcd's WAL goroutine): it takes whatever is queued, writes it
    // with one synced write, releases the acknowledgements, and goes straight on to what
    // queued meanwhile, without handing control back to a fiber between writes.
    env_->Spawn([this] {
      env_->RunBlocking([this] { WriterLoop(); });
      running_.Done();
    });
  }
  void Stop() {
    {
      MutexLock l(mu_);
      stop_ = true;
    }
    cv_.NotifyAll();
    {
      std::lock_guard<std::mutex> l(wmu_);
      wstop_ = true;
    }
    wcv_.notify_all();
    running_.Wait();
    cluster_->transport()->Unregister(id_);
  }

  // FrameReceiver: runs on a delivery fiber of the Env.
  void OnFrame(NodeId /*from*/, std::string frame) override {
    Message m;
    if (!m.ParseFromString(frame)) return;
    if (id_ != 1) g_trace.Mark(MsgAppLast(m), kFollowerFrame, id_);
    if (id_ == 1 && m.type() == MSG_APP_RESP && !m.reject()) {
      g_trace.Mark(m.index(), kLeaderRespFrame, m.from());
    }
    MutexLock l(mu_);
    inbox_.push_back(std::move(m));
    l.unlock();
    cv_.NotifyOne();
  }
  void AddProposals(std::vector<std::string> data) {
    MutexLock l(mu_);
    if (proposals_.empty()) {
      proposals_ = std::move(data);
    } else {
      proposals_.insert(proposals_.end(), std::make_move_iterator(data.begin()),
                        std::make_move_iterator(data.end()));
    }
    l.unlock();
    cv_.NotifyOne();
  }
  void Campaign() {
    MutexLock l(mu_);
    campaign_ = true;
    l.unlock();
    cv_.NotifyOne();
  }
  bool IsLeader() {
    MutexLock l(mu_);
    return is_leader_;
  }

  // Written by the log writer; read after Stop.
  struct Stats {
    uint64_t synced_writes = 0;
    uint64_t synced_entries = 0;
    uint64_t synced_readys = 0;
    uint64_t sync_nanos = 0;
    uint64_t unsynced_writes = 0;
    uint64_t unsynced_nanos = 0;
    uint64_t carried_writes = 0;
    uint64_t build_nanos = 0;   // Building the engine batches (in the writes' time).
    uint64_t engine_nanos = 0;  // Inside Engine::Write (in the writes' time).
    uint64_t queue_nanos = 0;   // The first Ready queued -> its write starts.
  };
  const Stats& stats() const { return stats_; }

 private:
  void Loop() {
    std::vector<Message> msgs;
    std::vector<std::string> props;
    std::vector<WriteJob> done;
    std::vector<uint64_t> applied;
    for (;;) {
      bool campaign = false;
      {
        MutexLock l(mu_);
        cv_.Wait(l, [&] {
          return stop_ || campaign_ || !inbox_.empty() || !proposals_.empty() || !done_.empty();
        });
        if (stop_) return;
        msgs.swap(inbox_);
        props.swap(proposals_);
        done.swap(done_);
        campaign = campaign_;
        campaign_ = false;
      }
      const uint64_t picked = NowNanos();
      // Durable writes first (the writer already sent their acknowledgements): the leader
      // counts its own log, a follower may apply.
      for (WriteJob& j : done) node_->AdvanceAppend(std::move(j.ack));
      done.clear();
      if (campaign) Check(node_->Campaign(), "campaign");
      for (Message& m : msgs) {
        if (id_ != 1) g_trace.Mark(MsgAppLast(m), kFollowerStep, id_);
        (void)node_->Step(std::move(m));
      }
      msgs.clear();
      if (!props.empty()) {
        // Group commit: every waiting proposal in one append.
        Check(node_->ProposeBatch(std::move(props)), "propose");
        props.clear();
      }
      while (node_->HasReady()) {
        Ready rd = node_->GetReady();
        if (rd.soft_state.has_value()) {
          MutexLock l(mu_);
          is_leader_ = node_->raft()->state() == StateType::kLeader;
        }
        if (id_ == 1 && HopTrace::Enabled()) {
          for (const Entry& e : rd.entries) {
            if (e.data().empty()) continue;
            uint64_t pid = PayloadId(e.data());
            g_trace.MapId(pid, e.index());
            g_trace.MarkAt(e.index(), kPropose, 1, cluster_->StartNanos(pid));
            g_trace.MarkAt(e.index(), kLeaderStep, 1, picked);
          }
        }
        // The write goes to the writer first, so that its fsync overlaps the followers':
        // MsgApp is sent at once, before our own append is durable (thesis §10.2.1);
        // acknowledgements wait in rd.messages_after_append.
        WriteJob job;
        job.hard_state = std::move(rd.hard_state);
        job.entries = std::move(rd.entries);
        job.snapshot = std::move(rd.snapshot);
        job.must_sync = rd.must_sync;
        job.after = std::move(rd.messages_after_append);
        job.ack = std::move(rd.append_ack);
        job.queued_ns = NowNanos();
        if (job.HasWrite() || !job.after.empty() || !job.ack.self_messages.empty() ||
            job.ack.last_entry.has_value() || job.ack.snapshot_index.has_value()) {
          {
            std::lock_guard<std::mutex> l(wmu_);
            wqueue_.push_back(std::move(job));
          }
          wcv_.notify_one();
        }
        for (const Message& m : rd.messages) {
          if (id_ == 1) g_trace.Mark(MsgAppLast(m), kMsgAppSent);
          cluster_->Send(m);
        }
        if (id_ == 1) {
          for (const Entry& e : rd.committed_entries) {
            if (e.type() == ENTRY_NORMAL && !e.data().empty()) {
              g_trace.Mark(e.index(), kApplied);
              applied.push_back(PayloadId(e.data()));
            }
          }
          if (!applied.empty()) cluster_->OnApplied(applied);
          applied.clear();
        }
        node_->Advance(rd);
      }
      loop_nanos_ += NowNanos() - picked;
      loop_rounds_++;
    }
  }

  // Runs on an I/O thread (see Start).
  void WriterLoop() {
    std::vector<WriteJob> jobs;
    // A hard state whose write was put off (see below); persisted with the next write.
    std::optional<HardState> carried;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(wmu_);
        wcv_.wait(l, [&] { return wstop_ || !wqueue_.empty(); });
        if (wstop_) return;
        jobs.swap(wqueue_);
      }
      WriteJob merged;
      merged.hard_state = std::move(carried);
      carried.reset();
      bool new_log_data = false;
      for (WriteJob& j : jobs) {
        new_log_data = new_log_data || j.ack.last_entry.has_value() ||
                       j.ack.snapshot_index.has_value() || !j.ack.self_messages.empty();
        MergeWrite(merged, j);
      }
      // Only the commit index moved (no entries, no snapshot, same term and vote: nothing
      // that must be synced): that needs no write of its own, which under a busy disk can
      // take as long as a synced one and would hold up the next MsgApp's write. It goes
      // with the next write; a restart may then find an older commit index, which Raft
      // allows (etcd-raft persists it lazily too). The acknowledgements of these Readys
      // are about entries made durable by earlier writes and may leave now.
      if (!merged.must_sync && merged.entries.empty() && !merged.snapshot.has_value() &&
          !new_log_data) {
        carried = std::move(merged.hard_state);
        merged.hard_state.reset();
        stats_.carried_writes++;
      }
      if (merged.HasWrite()) {
        const uint64_t w0 = NowNanos();
        std::vector<uint64_t> indexes;
        if (HopTrace::Enabled() && merged.must_sync) {
          for (const Entry& e : merged.entries) indexes.push_back(e.index());
          if (id_ != 1) {
            for (uint64_t i : indexes) g_trace.MarkAt(i, kFollowerWrite, id_, w0);
          }
        }
        const size_t entries = merged.entries.size();
        const size_t readys = jobs.size();
        locked_->Persist(engine_.get(), merged, &stats_.build_nanos, &stats_.engine_nanos);
        const uint64_t w1 = NowNanos();
        for (uint64_t i : indexes) {
          g_trace.MarkAt(i, id_ == 1 ? kLeaderDurable : kFollowerDurable, id_, w1);
        }
        stats_.queue_nanos += w0 - jobs.front().queued_ns;
        if (merged.must_sync) {
          stats_.synced_writes++;
          stats_.synced_entries += entries;
          stats_.synced_readys += readys;
          stats_.sync_nanos += w1 - w0;
        } else {
          stats_.unsynced_writes++;
          stats_.unsynced_nanos += w1 - w0;
        }
      }
      // The write is durable (or there was nothing to write: acknowledgements of entries
      // an earlier write made durable): the acknowledgements leave from this thread, and
      // the Ready loop learns of it from here too. The transport and the Ready loop's
      // Mutex/CondVar may be used from any thread of the Env.
      Release(jobs);
    }
  }

  // Sends the acknowledgements of `jobs` (their writes are durable) and hands the jobs to
  // the Ready loop (AdvanceAppend); empties `jobs`.
  void Release(std::vector<WriteJob>& jobs) {
    for (WriteJob& j : jobs) {
      for (const Message& m : j.after) cluster_->Send(m);
      j.after.clear();
    }
    {
      MutexLock l(mu_);
      for (WriteJob& j : jobs) done_.push_back(std::move(j));
    }
    cv_.NotifyOne();
    jobs.clear();
  }

  DurableCluster* cluster_;
  Env* const env_;
  const uint64_t id_;
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<EngineLogStorage> log_;
  std::unique_ptr<LockedLogStorage> locked_;
  std::unique_ptr<RawNode> node_;
  WaitGroup running_;
  // Ready loop input.
  Mutex mu_;
  CondVar cv_;
  std::vector<Message> inbox_;
  std::vector<std::string> proposals_;
  std::vector<WriteJob> done_;
  bool campaign_ = false;
  bool stop_ = false;
  bool is_leader_ = false;
  // Writer input (the writer is a thread: std:: primitives).
  std::mutex wmu_;
  std::condition_variable wcv_;
  std::vector<WriteJob> wqueue_;
  bool wstop_ = false;
  Stats stats_;

 public:
  uint64_t loop_nanos_ = 0;  // The Ready loop's time between waits (read after Stop).
  uint64_t loop_rounds_ = 0;
};

DurableCluster::DurableCluster(const std::string& dir) : env_(BenchEnv()) {
  transport_ = std::make_unique<transport::LocalTransport>(env_);
  for (uint64_t id = 1; id <= 3; ++id) {
    replicas_.push_back(std::make_unique<Replica>(this, id, dir + "/r" + std::to_string(id)));
  }
  for (auto& r : replicas_) r->Start();
  replicas_[0]->Campaign();
  while (!replicas_[0]->IsLeader()) env_->SleepForMicros(1000);
}

DurableCluster::~DurableCluster() {
  for (auto& r : replicas_) r->Stop();
  if (HopTrace::Enabled()) {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      const Replica::Stats& s = replicas_[i]->stats();
      std::fprintf(
          stderr,
          "replica %zu: %llu synced writes (%.1f entries, %.1f Readys each, %.0f us "
          "each; build %.0f us, engine write %.0f us, queued %.0f us before), %llu "
          "unsynced (%.0f us each), %llu put off\n",
          i + 1, static_cast<unsigned long long>(s.synced_writes),
          s.synced_writes ? static_cast<double>(s.synced_entries) / s.synced_writes : 0.0,
          s.synced_writes ? static_cast<double>(s.synced_readys) / s.synced_writes : 0.0,
          s.synced_writes ? static_cast<double>(s.sync_nanos) / s.synced_writes / 1e3 : 0.0,
          s.synced_writes ? static_cast<double>(s.build_nanos) / s.synced_writes / 1e3 : 0.0,
          s.synced_writes ? static_cast<double>(s.engine_nanos) / s.synced_writes / 1e3 : 0.0,
          s.synced_writes ? static_cast<double>(s.queue_nanos) / s.synced_writes / 1e3 : 0.0,
          static_cast<unsigned long long>(s.unsynced_writes),
          s.unsynced_writes ? static_cast<double>(s.unsynced_nanos) / s.unsynced_writes / 1e3 : 0.0,
          static_cast<unsigned long long>(s.carried_writes));
      std::fprintf(stderr, "replica %zu: Ready loop %llu rounds, %.1f us each\n", i + 1,
                   static_cast<unsigned long long>(replicas_[i]->loop_rounds_),
                   replicas_[i]->loop_rounds_ ? static_cast<double>(replicas_[i]->loop_nanos_) /
                                                    replicas_[i]->loop_rounds_ / 1e3
                                              : 0.0);
    }
  }
  transport_.reset();
  // The engines close on an I/O thread: closing flushes and syncs.
  env_->RunBlocking([&] { replicas_.clear(); });
}

void DurableCluster::Send(const Message& m) {
  transport_->Send(m.from(), m.to(), m.SerializeAsString());
}

void DurableCluster::Propose(uint64_t id) { ProposeRange(id, id + 1); }

void DurableCluster::ProposeRange(uint64_t from, uint64_t to) {
  std::vector<std::string> data;
  data.reserve(to - from);
  for (uint64_t id = from; id < to; ++id) data.push_back(Payload(id));
  {
    MutexLock l(mu_);
    if (start_ns_.size() < to) start_ns_.resize(to + 1024);
    const uint64_t now = NowNanos();
    for (uint64_t id = from; id < to; ++id) start_ns_[id] = now;
  }
  replicas_[0]->AddProposals(std::move(data));
}

void DurableCluster::OnApplied(const std::vector<uint64_t>& ids) {
  uint64_t now = NowNanos();
  {
    MutexLock l(mu_);
    for (uint64_t id : ids) {
      if (id < start_ns_.size()) latencies_ns_.push_back(now - start_ns_[id]);
    }
    applied_ += ids.size();
  }
  cv_.NotifyAll();
}

void DurableCluster::WaitApplied(uint64_t n) {
  MutexLock l(mu_);
  cv_.Wait(l, [&] { return applied_ >= n; });
}

std::vector<uint64_t> DurableCluster::TakeLatencies() {
  MutexLock l(mu_);
  std::vector<uint64_t> out;
  out.swap(latencies_ns_);
  return out;
}

// Runs `fn` on a fiber of Env::Default() and waits for it on this (benchmark) thread.
void RunOnEnv(const std::function<void()>& fn) {
  std::promise<void> done;
  BenchEnv()->Spawn([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

uint64_t DurableN(uint64_t dflt) {
  const char* n = getenv("RAFT_BENCH_N");
  return n != nullptr ? std::max<uint64_t>(1, strtoull(n, nullptr, 10)) : dflt;
}

void BM_CommitLatency(benchmark::State& state) {
  std::string dir = g_dir + "/latency";
  const uint64_t n = DurableN(1000);
  std::vector<uint64_t> lat;
  for (auto _ : state) {
    g_trace.Clear();
    RunOnEnv([&] {
      DurableCluster c(dir);
      for (uint64_t id = 0; id < n; ++id) {
        c.Propose(id);
        c.WaitApplied(id + 1);
        g_trace.MarkId(id, kClientWoken);
      }
      lat = c.TakeLatencies();
    });
  }
  g_trace.Print("commit_latency", /*client_hop=*/true);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  double p50 = static_cast<double>(Percentile(lat, 0.5)) / 1000.0;
  double p99 = static_cast<double>(Percentile(lat, 0.99)) / 1000.0;
  state.counters["p50_us"] = p50;
  state.counters["p99_us"] = p99;
  state.counters["fdatasync_p50_us"] = g_fdatasync_p50_us;
  state.counters["fdatasync3_p50_us"] = g_fdatasync3_p50_us;
  state.counters["fdatasync_append_p50_us"] = g_fdatasync_append_p50_us;
  state.SetItemsProcessed(static_cast<int64_t>(lat.size()));
  if (p50 > 0 && g_fdatasync_p50_us > 0) {
    bench::RecordRatio("raft_commit_latency", g_fdatasync_p50_us / p50);
    bench::RecordRatio("raft_commit_latency_vs_concurrent_fdatasync", g_fdatasync3_p50_us / p50);
    bench::RecordRatio("raft_commit_latency_vs_append_fdatasync", g_fdatasync_append_p50_us / p50);
  }
}
BENCHMARK(BM_CommitLatency)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Throughput(benchmark::State& state) {
  const uint64_t inflight = static_cast<uint64_t>(state.range(0));
  std::string dir = g_dir + "/throughput";
  const uint64_t n = DurableN(1000) * 20;
  double rate = 0;
  std::vector<uint64_t> lat;
  for (auto _ : state) {
    g_trace.Clear();
    RunOnEnv([&] {
      DurableCluster c(dir);
      uint64_t t0 = NowNanos();
      uint64_t submitted = 0;
      while (c.applied() < n) {
        uint64_t done = c.applied();
        // Every free slot at once: one hand-over to the leader for all of them (see above).
        const uint64_t upto = std::min(n, done + inflight);
        if (submitted < upto) {
          c.ProposeRange(submitted, upto);
          submitted = upto;
        }
        c.WaitApplied(done + 1);
      }
      rate = static_cast<double>(n) / (static_cast<double>(NowNanos() - t0) / 1e9);
      lat = c.TakeLatencies();
    });
  }
  g_trace.Print("throughput_64", /*client_hop=*/false);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  state.counters["entries_per_s"] = rate;
  state.counters["p50_us"] = static_cast<double>(Percentile(lat, 0.5)) / 1000.0;
  state.counters["p99_us"] = static_cast<double>(Percentile(lat, 0.99)) / 1000.0;
  state.SetItemsProcessed(static_cast<int64_t>(n));
  if (inflight == 64) {
    bench::RecordRatio("raft_throughput_64_vs_100k", rate / 100'000.0);
    if (g_fdatasync_p50_us > 0) {
      double bound = 64.0 / (g_fdatasync_p50_us / 1e6);
      bench::RecordRatio("raft_throughput_64_vs_bound", rate / bound);
    }
  }
}
BENCHMARK(BM_Throughput)->Arg(64)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rutile::raft

int main(int argc, char** argv) {
  rutile::raft::g_dir = rutile::raft::BenchDir();
  int rc = rutile::bench::RunAndReport(argc, argv);
  std::error_code ec;
  std::filesystem::remove_all(rutile::raft::g_dir, ec);
  return rc;
}
