// Linearizable raw-KV registers under the full nemesis, over a simulated TestCluster: a few
// clients put unique values to and get a few keys through RawKvClient while the Simulation's
// random nemesis partitions, isolates and clogs nodes, loses, duplicates and reorders
// frames, skews clocks and crashes nodes (each crash drops the node's unsynced writes; the
// node restarts when the fault ends), and a second nemesis fiber transfers region leaders
// and splits regions at random. The history goes to the linearizability checker; a failure
// prints the seed (RUTILE_SIM_SEED replays it), the checker's explanation and the nemesis
// log.
//
// Each seed is cheap on purpose (1.5 seconds of faults, few keys and operations) so the fast
// suite can run hundreds; the slow soak runs longer seeds.

#ifndef RUTILE_TESTS_CLUSTER_REGISTER_WORKLOAD_H_
#define RUTILE_TESTS_CLUSTER_REGISTER_WORKLOAD_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checkers/linearizability.h"
#include "checkers/models.h"
#include "gtest/gtest.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/simulation.h"
#include "util/sync.h"

namespace rutile::testing {
namespace register_workload {

struct Options {
  // How long the nemesis runs (virtual time).
  uint64_t fault_micros = 1'500'000;
  int clients = 3;
  int keys = 3;
  // Operations per client at most (clients also stop when the faults end).
  int ops_per_client = 30;
  // PD's checkers and schedulers run too: the merge checker merges the nemesis's splits
  // back (split-merge-interval 0) and a store down for 1 s has its replicas repaired
  // elsewhere (conf changes), all under the checker.
  bool pd_scheduling = false;
  // The replicated PD on nodes 1..3 (TestCluster's default), or one LocalPd that never
  // crashes.
  bool replicated_pd = true;
};

struct History {
  std::vector<checkers::KvOp> ops;
  int failed_reads = 0;
  int unknown_writes = 0;
  int completed = 0;
};

inline std::string KeyName(uint64_t i) { return absl::StrCat("k", i); }

// One client: random puts of unique values and gets, until `ops` or `stop`.
inline void ClientLoop(TestCluster* c, int client, const Options& o, History* h,
                       const Notification* stop) {
  Env* env = c->env();
  for (int i = 0; i < o.ops_per_client && !stop->HasBeenNotified(); ++i) {
    checkers::KvOp op;
    op.client_id = client;
    std::string key = KeyName(env->Uniform(o.keys));
    op.call = static_cast<int64_t>(env->NowMicros());
    if (env->OneIn(0.5)) {
      std::string value = absl::StrCat("c", client, "-", i);
      op.input = checkers::KvInput{checkers::KvInput::Kind::kPut, key, value, std::nullopt};
      absl::Status s = c->kv().Put(key, value);
      if (s.ok()) {
        op.output = checkers::KvOutput{};
        op.ret = static_cast<int64_t>(env->NowMicros());
        ++h->completed;
      } else {
        // Any failed write may still apply later (an earlier attempt may have timed out):
        // its outcome is unknown, at any time after the call.
        op.output = std::nullopt;
        ++h->unknown_writes;
      }
    } else {
      op.input = checkers::KvInput{checkers::KvInput::Kind::kGet, key, "", std::nullopt};
      absl::StatusOr<std::optional<std::string>> v = c->kv().Get(key);
      if (!v.ok()) {
        ++h->failed_reads;  // A failed read has no effect: leave it out.
        env->SleepForMicros(env->Uniform(50'000));
        continue;
      }
      op.output = checkers::KvOutput{*v, true};
      op.ret = static_cast<int64_t>(env->NowMicros());
      ++h->completed;
    }
    h->ops.push_back(std::move(op));
    env->SleepForMicros(env->Uniform(50'000));
  }
}

// Leader transfers and splits at random until `stop`.
inline void TopologyNemesis(TestCluster* c, const Options& o, const Notification* stop,
                            std::vector<std::string>* log) {
  Env* env = c->env();
  while (!stop->HasBeenNotified()) {
    env->SleepForMicros(200'000 + env->Uniform(500'000));
    if (stop->HasBeenNotified()) return;
    if (env->OneIn(0.3)) {
      // Split at a key boundary, or between keys ("k1" < "k1~" < "k2").
      std::string at = KeyName(1 + env->Uniform(o.keys - 1));
      if (env->OneIn(0.5)) at += "~";
      absl::Status s = c->SplitRegion(at, 1'000'000);
      log->push_back(absl::StrCat("[", env->NowMicros(), "] split at ", at, ": ", s.ToString()));
    } else {
      std::vector<RegionDescription> regions = c->Regions();
      if (regions.empty()) continue;
      const RegionDescription& r = regions[env->Uniform(regions.size())];
      uint64_t to = r.stores[env->Uniform(r.stores.size())];
      absl::Status s = c->TransferLeader(r.id, to, 1'000'000);
      log->push_back(absl::StrCat("[", env->NowMicros(), "] transfer leader of region ", r.id,
                                  " to ", to, ": ", s.ToString()));
    }
  }
}

inline void RunSeed(uint64_t seed, const Options& o = Options()) {
  TestClusterOptions co;
  co.sim.seed = seed;
  co.sim.min_latency_micros = 200;
  co.sim.max_latency_micros = 5'000;
  // The nemesis moves leaders and splits; PD stays still unless o.pd_scheduling.
  co.manual_replication = !o.pd_scheduling;
  co.replicated_pd = o.replicated_pd;
  if (o.pd_scheduling) {
    co.nodes = 4;  // Room to repair a crashed store's replicas.
    co.max_store_down_time_micros = 1'000'000;
  }
  co.kv.timeout_micros = 2'000'000;
  TestCluster c(co);
  absl::Status started = c.Start();
  ASSERT_TRUE(started.ok()) << started << " " << c.SeedMessage();
  if (o.pd_scheduling) {
    bool set = false;
    ASSERT_TRUE(c.Run([&] { set = c.PdCtl("config set split-merge-interval 0s").ok(); }));
    ASSERT_TRUE(set) << c.SeedMessage();
  }

  NemesisOptions n;
  n.min_interval_micros = 150'000;
  n.max_interval_micros = 600'000;
  n.min_fault_micros = 100'000;
  n.max_fault_micros = 800'000;
  n.crash_weight = 2;
  c.sim()->StartNemesis(n);

  History h;
  Notification stop;
  std::vector<std::string> topology_log;
  WaitGroup wg;
  wg.Add(o.clients + 1);
  for (int i = 0; i < o.clients; ++i) {
    c.env()->Spawn([&, i, wg]() mutable {
      ClientLoop(&c, i, o, &h, &stop);
      wg.Done();
    });
  }
  c.env()->Spawn([&, wg]() mutable {
    TopologyNemesis(&c, o, &stop, &topology_log);
    wg.Done();
  });
  c.RunFor(o.fault_micros);
  stop.Notify();
  c.sim()->StopNemesis();
  ASSERT_TRUE(c.Run([&] { wg.Wait(); }, 120'000'000))
      << "clients did not finish " << c.SeedMessage();

  checkers::LinearizabilityOptions lo;
  lo.timeout = absl::Seconds(20);
  checkers::LinearizabilityReport r = checkers::CheckLinearizable(checkers::KvModel(), h.ops, lo);
  EXPECT_EQ(r.result, checkers::CheckResult::kOk)
      << c.SeedMessage() << "\n"
      << r.explanation << "\nnemesis:\n"
      << absl::StrJoin(c.sim()->NemesisLog(), "\n") << "\ntopology:\n"
      << absl::StrJoin(topology_log, "\n");
  if (std::getenv("RUTILE_CLUSTER_VERBOSE") != nullptr) {
    std::fprintf(stderr,
                 "seed %llu: %d ops completed, %d writes unknown, %d reads failed, %zu nemesis "
                 "actions, %zu topology changes, %zu regions at the end, virtual %.1fs\n",
                 static_cast<unsigned long long>(seed), h.completed, h.unknown_writes,
                 h.failed_reads, c.sim()->NemesisLog().size(), topology_log.size(),
                 c.Regions().size(), c.env()->NowMicros() / 1e6);
  }
  // The cluster made progress despite the faults.
  EXPECT_GT(h.completed, 0) << c.SeedMessage() << " unknown " << h.unknown_writes
                            << " failed reads " << h.failed_reads;
}

}  // namespace register_workload
}  // namespace rutile::testing

#endif  // RUTILE_TESTS_CLUSTER_REGISTER_WORKLOAD_H_
