// Merges racing splits and conf changes: clients read and write four registers spread over
// the regions while a chaos fiber splits regions at random boundaries, merges random
// adjacent pairs, and adds or removes a fourth store's peer of random regions, all at once
// and optionally under the nemesis. The history must stay linearizable (a lost or
// duplicated write shows as a stale or resurrected read), and every live store's regions
// must tile the key space without overlap once things settle. Shared by the fast test and
// the slow soak; a failure prints the seed (RUTILE_SIM_SEED replays it).

#ifndef RUTILE_TESTS_RAFTSTORE_MERGE_RACE_H_
#define RUTILE_TESTS_RAFTSTORE_MERGE_RACE_H_

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checkers/linearizability.h"
#include "checkers/models.h"
#include "gtest/gtest.h"
#include "raftstore/cluster.h"
#include "raftstore/register_workload.h"
#include "rutile/testing/simulation.h"

namespace rutile::raftstore {
namespace merge_race {

struct Counts {
  int splits = 0;
  int merges = 0;  // PrepareMerge applied (the merge then commits or rolls back).
  int conf_changes = 0;
  int refused = 0;
};

// The regions covering the four register keys' neighbourhood, each at its leader.
inline std::vector<Cluster::Route> Regions(Cluster& c) {
  std::map<uint64_t, Cluster::Route> by_id;
  for (const char* k : {"", "k0", "k1", "k2", "k3", "k4"}) {
    if (std::optional<Cluster::Route> r = c.FindLeader(k)) by_id[r->region.id()] = *r;
  }
  std::vector<Cluster::Route> out;
  for (auto& [id, r] : by_id) out.push_back(r);
  return out;
}

inline void Chaos(Cluster& c, Counts* n, const bool* stop) {
  Env* env = c.env();
  while (!*stop) {
    env->SleepForMicros(100'000 + env->Uniform(300'000));
    std::vector<Cluster::Route> rs = Regions(c);
    if (rs.empty()) continue;
    const Cluster::Route& r = rs[env->Uniform(rs.size())];
    std::shared_ptr<Store> st = c.store(r.store);
    if (st == nullptr) continue;
    absl::Status s;
    switch (env->Uniform(4)) {
      case 0: {
        std::string key = absl::StrCat("k", 1 + env->Uniform(3));
        if (!KeyInRegion(key, r.region) || key == r.region.start_key()) continue;
        s = st->SplitRegion(r.region.id(), {key});
        if (s.ok()) ++n->splits;
        break;
      }
      case 1:
      case 2: {
        // A neighbour on either side, as its own leader sees it.
        std::optional<Cluster::Route> nb;
        for (const Cluster::Route& o : rs) {
          if (o.region.id() == r.region.id()) continue;
          if ((!r.region.end_key().empty() && o.region.start_key() == r.region.end_key()) ||
              (!r.region.start_key().empty() && o.region.end_key() == r.region.start_key())) {
            if (!nb.has_value() || env->OneIn(0.5)) nb = o;
          }
        }
        if (!nb.has_value()) continue;
        s = st->MergeRegion(r.region.id(), nb->region);
        if (s.ok()) ++n->merges;
        break;
      }
      default: {
        const metapb::Peer* on4 = FindPeerOnStore(r.region, 4);
        raft_cmdpb::ChangePeerRequest ch;
        if (on4 != nullptr) {
          if (r.store == 4) {
            for (const metapb::Peer& p : r.region.peers()) {
              if (p.store_id() != 4) {
                s = st->TransferLeader(r.region.id(), p);
                break;
              }
            }
            continue;
          }
          ch.set_change_type(raft::CONF_CHANGE_REMOVE_NODE);
          *ch.mutable_peer() = *on4;
        } else {
          absl::StatusOr<uint64_t> id = c.pd().AllocId();
          if (!id.ok()) continue;
          ch.set_change_type(raft::CONF_CHANGE_ADD_NODE);
          ch.mutable_peer()->set_id(*id);
          ch.mutable_peer()->set_store_id(4);
        }
        s = st->ChangePeers(r.region.id(), {ch});
        if (s.ok()) ++n->conf_changes;
        break;
      }
    }
    if (!s.ok()) ++n->refused;
  }
}

// Regions of each live store (initialized peers) must not overlap.
inline void ExpectNoOverlap(Cluster& c, uint64_t seed) {
  for (uint64_t id : c.store_ids()) {
    std::shared_ptr<Store> st = c.store(id);
    if (st == nullptr) continue;
    std::map<std::string, metapb::Region> by_start;
    for (const metapb::Region& r : st->Regions()) {
      if (r.peers_size() == 0) continue;
      by_start[r.start_key()] = r;
    }
    std::string prev_end;
    bool first = true;
    for (auto& [start, r] : by_start) {
      if (!first) {
        EXPECT_TRUE(!prev_end.empty() && prev_end <= start)
            << "store " << id << " holds overlapping regions at " << DescribeRegion(r) << " "
            << testing::SeedReplayMessage(seed);
      }
      first = false;
      prev_end = r.end_key();
    }
  }
}

inline void RunSeed(uint64_t seed, bool nemesis) {
  ClusterOptions o{.stores = 3, .seed = seed};
  o.sim.min_latency_micros = 200;
  o.sim.max_latency_micros = 5'000;
  Cluster c(o);
  c.Start();
  c.AddStore(4);
  ASSERT_TRUE(c.Run([&] { ASSERT_TRUE(c.WaitLeader("").has_value()); }));
  if (nemesis) {
    testing::NemesisOptions n;
    n.min_interval_micros = 500'000;
    n.max_interval_micros = 2'000'000;
    n.min_fault_micros = 200'000;
    n.max_fault_micros = 1'500'000;
    n.crash_weight = 1;
    c.sim().StartNemesis(n);
  }
  register_workload::History h;
  Counts counts;
  bool stop = false;
  constexpr int kClients = 3;
  WaitGroup wg;
  wg.Add(kClients + 1);
  for (int i = 0; i < kClients; ++i) {
    c.env()->Spawn([&, i, wg]() mutable {
      register_workload::ClientLoop(&c, i, 50, &h, c.env());
      wg.Done();
    });
  }
  c.env()->Spawn([&, wg]() mutable {
    Chaos(c, &counts, &stop);
    wg.Done();
  });
  c.sim().RunFor(6'000'000);
  stop = true;
  if (nemesis) c.sim().StopNemesis();
  bool done = c.Run([&] { wg.Wait(); }, 120'000'000);
  ASSERT_TRUE(done) << testing::SeedReplayMessage(seed);
  checkers::LinearizabilityOptions lo;
  lo.timeout = absl::Seconds(20);
  checkers::LinearizabilityReport r = checkers::CheckLinearizable(checkers::KvModel(), h.ops, lo);
  EXPECT_NE(r.result, checkers::CheckResult::kIllegal) << testing::SeedReplayMessage(seed) << "\n"
                                                       << r.explanation << "\nnemesis:\n"
                                                       << absl::StrJoin(c.sim().NemesisLog(), "\n");
  // Let merges finish or roll back and stale peers go, then look at every store.
  c.sim().RunFor(10'000'000);
  ExpectNoOverlap(c, seed);
  int completed = 0;
  for (const checkers::KvOp& op : h.ops) completed += op.ret != checkers::kInfiniteTime;
  EXPECT_GT(completed, 40) << testing::SeedReplayMessage(seed) << " unknown " << h.unknown
                           << " failed " << h.definite_failures;
  ::testing::Test::RecordProperty(absl::StrCat("seed", seed).c_str(),
                                  absl::StrCat(counts.splits, "s/", counts.merges, "m/",
                                               counts.conf_changes, "c/", counts.refused, "r")
                                      .c_str());
  std::printf("seed %llu: %d splits, %d merges prepared, %d conf changes, %d refused; %d ops\n",
              static_cast<unsigned long long>(seed), counts.splits, counts.merges,
              counts.conf_changes, counts.refused, completed);
}

}  // namespace merge_race
}  // namespace rutile::raftstore

#endif  // RUTILE_TESTS_RAFTSTORE_MERGE_RACE_H_
