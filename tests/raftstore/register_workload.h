// A register workload for raftstore: clients put and get four keys over two regions of
// three stores under a random nemesis (partitions, isolation, clogging, crashes with
// unsynced-write loss, clock skew, loss, duplication, reordering); the history is checked
// with the linearizability checker. A failure prints the seed; RUTILE_SIM_SEED replays it.

#ifndef RUTILE_TESTS_RAFTSTORE_REGISTER_WORKLOAD_H_
#define RUTILE_TESTS_RAFTSTORE_REGISTER_WORKLOAD_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checkers/linearizability.h"
#include "checkers/models.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"
#include "rutile/testing/simulation.h"

namespace rutile::raftstore {
namespace register_workload {

using checkers::KvInput;
using checkers::KvOp;
using checkers::KvOutput;

struct History {
  std::vector<KvOp> ops;
  int definite_failures = 0;
  int unknown = 0;
};

// With replica_reads, reads go to a random live store as follower reads (replica read).
inline void ClientLoop(Cluster* c, int client, int ops, History* h, Env* env,
                       bool replica_reads = false) {
  for (int i = 0; i < ops; ++i) {
    std::string key = absl::StrCat("k", env->Uniform(4));
    KvOp op;
    op.client_id = client;
    op.call = static_cast<int64_t>(env->NowMicros());
    if (env->OneIn(0.5)) {
      std::string value = absl::StrCat("c", client, "-", i);
      op.input = KvInput{KvInput::Kind::kPut, key, value, std::nullopt};
      absl::Status s = c->Put(key, value, 3'000'000);
      if (s.ok()) {
        op.output = KvOutput{};
        op.ret = static_cast<int64_t>(env->NowMicros());
      } else if (absl::IsDeadlineExceeded(s)) {
        op.output = std::nullopt;  // May or may not have happened, at any later time.
        ++h->unknown;
      } else {
        ++h->definite_failures;  // A region error: the write had no effect.
        continue;
      }
    } else {
      op.input = KvInput{KvInput::Kind::kGet, key, "", std::nullopt};
      absl::StatusOr<std::optional<std::string>> v;
      if (replica_reads) {
        std::vector<uint64_t> live;
        for (uint64_t id : c->store_ids()) {
          if (c->store(id) != nullptr) live.push_back(id);
        }
        if (live.empty()) {
          env->SleepForMicros(50'000);
          continue;
        }
        v = c->ReplicaGet(live[env->Uniform(live.size())], key, 3'000'000);
      } else {
        v = c->Get(key, 3'000'000);
      }
      if (!v.ok()) {
        ++h->definite_failures;
        continue;
      }
      op.output = KvOutput{*v, true};
      op.ret = static_cast<int64_t>(env->NowMicros());
    }
    h->ops.push_back(std::move(op));
    env->SleepForMicros(env->Uniform(50'000));
  }
}

struct WorkloadOptions {
  bool replica_reads = false;
  // Per-store monotonic clock rates (Cluster's DriftEnv).
  std::map<uint64_t, double> clock_rates;
  uint64_t max_lease_micros = 0;  // 0: the store's default.
};

inline void RunSeed(uint64_t seed, const WorkloadOptions& wo = {}) {
  ClusterOptions o{.stores = 3, .seed = seed};
  o.clock_rates = wo.clock_rates;
  o.config.max_lease_micros = wo.max_lease_micros;
  o.sim.min_latency_micros = 200;
  o.sim.max_latency_micros = 5'000;
  Cluster c(o);
  c.Start();
  History h;
  // Two regions, so requests cross region boundaries.
  ASSERT_TRUE(c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.store(l->store)->SplitRegion(1, {"k2"}).ok());
  }));
  testing::NemesisOptions n;
  n.min_interval_micros = 300'000;
  n.max_interval_micros = 1'500'000;
  n.min_fault_micros = 200'000;
  n.max_fault_micros = 2'000'000;
  n.crash_weight = 2;
  c.sim().StartNemesis(n);
  constexpr int kClients = 4;
  WaitGroup wg;
  wg.Add(kClients);
  for (int i = 0; i < kClients; ++i) {
    c.env()->Spawn([&, i, wg]() mutable {
      ClientLoop(&c, i, 40, &h, c.env(), wo.replica_reads);
      wg.Done();
    });
  }
  c.sim().RunFor(8'000'000);
  c.sim().StopNemesis();
  bool done = c.Run([&] { wg.Wait(); }, 120'000'000);
  ASSERT_TRUE(done) << testing::SeedReplayMessage(c.sim().seed());
  checkers::LinearizabilityOptions lo;
  lo.timeout = absl::Seconds(20);
  checkers::LinearizabilityReport r = checkers::CheckLinearizable(checkers::KvModel(), h.ops, lo);
  EXPECT_NE(r.result, checkers::CheckResult::kIllegal)
      << testing::SeedReplayMessage(c.sim().seed()) << "\n"
      << r.explanation << "\nnemesis:\n"
      << absl::StrJoin(c.sim().NemesisLog(), "\n");
  // The cluster made progress despite the faults.
  int completed = 0;
  for (const KvOp& op : h.ops) completed += op.ret != checkers::kInfiniteTime;
  EXPECT_GT(completed, 40) << testing::SeedReplayMessage(c.sim().seed()) << " unknown " << h.unknown
                           << " failed " << h.definite_failures;
}

}  // namespace register_workload
}  // namespace rutile::raftstore

#endif  // RUTILE_TESTS_RAFTSTORE_REGISTER_WORKLOAD_H_
