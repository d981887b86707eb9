// rutile-demo: an embedded 3-node Rutile cluster in one process (PD and store roles,
// durable LevelDB under --data-dir/node<i>, LocalTransport, Env::Default()). It waits for
// a leader, writes --keys keys through the raw KV client from 16 concurrent fibers, splits
// the key space into a few regions, reads everything back, verifies it, and prints
// throughput, latency and the region layout. Run it again over the same directory and it
// first checks that every key of the previous run survived (recovery).

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/logging.h"
#include "rutile/node.h"

namespace {

constexpr int kFibers = 16;
// Written after a run verified everything, so the next run knows what to look for.
constexpr char kRunMarker[] = "__rutile_demo/last_run_keys";

std::string Key(int i) { return absl::StrFormat("key%08d", i); }
std::string Value(int i, uint64_t run) { return absl::StrFormat("value-%d-run%d", i, run); }

struct Flags {
  std::string data_dir = "./rutile-data";
  int nodes = 3;
  int keys = 10'000;
  bool verbose = false;
};

double Percentile(std::vector<uint64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1000.0;
}

// Waits (on the calling fiber) until `running` drops to zero.
void WaitAll(rutile::Env* env, const std::atomic<int>& running) {
  while (running.load() > 0) env->SleepForMicros(1'000);
}

std::string Printable(const std::string& k, const char* empty) { return k.empty() ? empty : k; }

// The whole demo; runs on a fiber of Env::Default(). Returns the exit code.
int Run(const Flags& f) {
  rutile::Env* env = rutile::Env::Default();
  rutile::SetLogLevel(f.verbose ? rutile::LogLevel::kInfo : rutile::LogLevel::kWarn);
  std::unique_ptr<rutile::Transport> transport = rutile::NewLocalTransport(env);
  std::vector<uint64_t> ids;
  for (int i = 1; i <= f.nodes; ++i) ids.push_back(i);

  std::vector<std::unique_ptr<rutile::Node>> nodes;
  std::shared_ptr<rutile::Pd> pd;
  for (uint64_t id : ids) {
    rutile::NodeOptions o;
    o.id = id;
    o.data_dir = absl::StrFormat("%s/node%d", f.data_dir, id);
    o.env = env;
    o.transport = transport.get();
    o.host_pd = id == 1;
    o.pd = pd;
    o.initial_stores = ids;
    absl::StatusOr<std::unique_ptr<rutile::Node>> n = rutile::Node::Open(o);
    if (!n.ok()) {
      std::fprintf(stderr, "node %d: %s\n", static_cast<int>(id), n.status().ToString().c_str());
      return 1;
    }
    if (id == 1) pd = (*n)->pd();
    nodes.push_back(std::move(*n));
  }
  std::vector<rutile::Node*> raw;
  for (auto& n : nodes) raw.push_back(n.get());
  std::printf("cluster: %d nodes (PD on node 1), data in %s\n", f.nodes, f.data_dir.c_str());

  absl::StatusOr<std::unique_ptr<rutile::RawKvClient>> client = rutile::RawKvClient::Open(raw);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  rutile::RawKvClient& kv = **client;

  // Wait for a leader: the first read that succeeds.
  uint64_t t0 = env->NowMicros();
  absl::StatusOr<std::optional<std::string>> marker = kv.Get(kRunMarker);
  if (!marker.ok()) {
    std::fprintf(stderr, "no leader: %s\n", marker.status().ToString().c_str());
    return 1;
  }
  std::printf("leader elected after %.0f ms\n", (env->NowMicros() - t0) / 1000.0);

  // Recovery check. The marker is "<keys> <run> <done> <base>": a run writes done=0 before
  // it starts overwriting and done=1 once it verified everything; base is the last run that
  // completed (0: none). After interrupted runs a key may hold the value of any run from
  // base on (or be missing when no run completed).
  uint64_t run = 1, base = 0;
  if (marker->has_value()) {
    int prev_keys = 0, done = 0;
    uint64_t prev_run = 0, prev_base = 0;
    std::sscanf((*marker)->c_str(), "%d %lu %d %lu", &prev_keys, &prev_run, &done, &prev_base);
    run = prev_run + 1;
    base = done != 0 ? prev_run : prev_base;
    std::vector<std::string> keys;
    for (int i = 0; i < prev_keys; ++i) keys.push_back(Key(i));
    absl::StatusOr<std::vector<std::optional<std::string>>> got = kv.BatchGet(keys);
    if (!got.ok()) {
      std::fprintf(stderr, "recovery read: %s\n", got.status().ToString().c_str());
      return 1;
    }
    int bad = 0;
    for (int i = 0; i < prev_keys; ++i) {
      const std::optional<std::string>& v = (*got)[i];
      bool ok = base == 0 && !v.has_value();
      for (uint64_t r = std::max<uint64_t>(base, 1); r <= prev_run && !ok; ++r) {
        ok = v == Value(i, r);
      }
      bad += !ok;
    }
    if (bad != 0) {
      std::printf("RECOVERY FAILED: %d of %d keys of run %lu missing or wrong\n", bad, prev_keys,
                  prev_run);
      return 1;
    }
    if (done != 0) {
      std::printf("recovery: all %d keys written by run %lu are intact\n", prev_keys, prev_run);
    } else {
      std::printf(
          "recovery: run %lu was interrupted; all %d keys hold a value written by runs "
          "%lu..%lu\n",
          prev_run, prev_keys, std::max<uint64_t>(base, 1), prev_run);
    }
  } else {
    std::printf("fresh data directory: nothing to recover\n");
  }
  if (absl::Status s = kv.Put(kRunMarker, absl::StrFormat("%d %d 0 %d", f.keys, run, base));
      !s.ok()) {
    std::fprintf(stderr, "marker: %s\n", s.ToString().c_str());
    return 1;
  }

  // Write with 16 fibers, each its own slice of keys.
  std::vector<std::vector<uint64_t>> lat(kFibers);
  std::atomic<int> errors{0};
  uint64_t start = env->NowMicros();
  {
    std::atomic<int> running{kFibers};
    for (int fi = 0; fi < kFibers; ++fi) {
      env->Spawn([&, fi] {
        for (int i = fi; i < f.keys && errors.load() == 0; i += kFibers) {
          uint64_t a = env->NowMicros();
          absl::Status s = kv.Put(Key(i), Value(i, run));
          lat[fi].push_back(env->NowMicros() - a);
          if (!s.ok() && errors.fetch_add(1) == 0) {
            std::fprintf(stderr, "put: %s\n", s.ToString().c_str());
          }
        }
        running.fetch_sub(1);
      });
    }
    WaitAll(env, running);
  }
  double secs = (env->NowMicros() - start) / 1e6;
  std::vector<uint64_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf(
      "wrote %d keys with %d fibers in %.2f s: %.0f puts/s, latency p50 %.2f ms, p99 "
      "%.2f ms\n",
      f.keys, kFibers, secs, f.keys / secs, Percentile(all, 0.50), Percentile(all, 0.99));
  if (errors > 0) {
    std::printf("%d puts failed\n", errors.load());
    return 1;
  }

  // Split into 4 regions (no-ops on a rerun where they exist already).
  for (int q = 1; q < 4; ++q) {
    absl::Status s = kv.SplitAt(Key(f.keys * q / 4));
    if (!s.ok()) {
      std::fprintf(stderr, "split: %s\n", s.ToString().c_str());
      return 1;
    }
  }

  // Read everything back, by scan and by point reads.
  start = env->NowMicros();
  absl::StatusOr<std::vector<rutile::RawKvClient::KvPair>> scan = kv.Scan("key", "kez");
  if (!scan.ok()) {
    std::fprintf(stderr, "scan: %s\n", scan.status().ToString().c_str());
    return 1;
  }
  int bad = 0;
  if (static_cast<int>(scan->size()) < f.keys) bad += f.keys - static_cast<int>(scan->size());
  for (const auto& [k, v] : *scan) {
    int i = std::atoi(k.c_str() + 3);
    if (i < f.keys && v != Value(i, run)) ++bad;
  }
  std::vector<std::vector<uint64_t>> rlat(kFibers);
  {
    std::atomic<int> running{kFibers};
    for (int fi = 0; fi < kFibers; ++fi) {
      env->Spawn([&, fi] {
        for (int i = fi; i < f.keys; i += kFibers) {
          uint64_t a = env->NowMicros();
          absl::StatusOr<std::optional<std::string>> v = kv.Get(Key(i));
          rlat[fi].push_back(env->NowMicros() - a);
          if (!v.ok() || *v != Value(i, run)) errors.fetch_add(1);
        }
        running.fetch_sub(1);
      });
    }
    WaitAll(env, running);
  }
  secs = (env->NowMicros() - start) / 1e6;
  all.clear();
  for (auto& v : rlat) all.insert(all.end(), v.begin(), v.end());
  std::printf(
      "read back %zu keys by scan and %d by get in %.2f s: get p50 %.2f ms, p99 %.2f "
      "ms\n",
      scan->size(), f.keys, secs, Percentile(all, 0.50), Percentile(all, 0.99));
  if (bad != 0 || errors != 0) {
    std::printf("VERIFY FAILED: %d bad by scan, %d bad by get\n", bad, errors.load());
    return 1;
  }
  std::printf("verified: every key holds the value of run %lu\n", run);

  // Leaders report to PD once a second; give the layout a moment to settle.
  env->SleepForMicros(1'500'000);
  std::printf("regions:\n");
  for (const rutile::RegionDescription& r : kv.Regions()) {
    std::string stores;
    for (uint64_t s : r.stores) stores += absl::StrFormat("%s%d", stores.empty() ? "" : ",", s);
    std::printf("  region %-5lu [%s, %s)  stores {%s}  leader %s\n", r.id,
                Printable(r.start_key, "-inf").c_str(), Printable(r.end_key, "+inf").c_str(),
                stores.c_str(),
                r.leader_store == 0 ? "?" : absl::StrFormat("%d", r.leader_store).c_str());
  }

  if (absl::Status s = kv.Put(kRunMarker, absl::StrFormat("%d %d 1 %d", f.keys, run, run));
      !s.ok()) {
    std::fprintf(stderr, "marker: %s\n", s.ToString().c_str());
    return 1;
  }
  client->reset();
  for (auto& n : nodes) n->Close();
  std::printf("closed cleanly; run again to check recovery\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"rutile-demo: an embedded 3-node Rutile cluster with raw KV"};
  app.add_option("--data-dir", f.data_dir, "where node<i> directories live");
  app.add_option("--nodes", f.nodes, "number of nodes")->check(CLI::Range(1, 9));
  app.add_option("--keys", f.keys, "keys to write")->check(CLI::Range(4, 10'000'000));
  app.add_flag("--verbose", f.verbose, "log at info level");
  CLI11_PARSE(app, argc, argv);

  // Everything runs on a fiber of the Env; the main thread just waits.
  std::promise<int> rc;
  rutile::Env::Default()->Spawn([&] { rc.set_value(Run(f)); });
  return rc.get_future().get();
}
