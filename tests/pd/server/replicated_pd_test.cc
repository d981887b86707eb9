// The replicated PD under simulation (testing::Simulation: SimEnv, SimTransport, nodes
// that crash and restart with what their engines synced): three PdServer members form one
// Raft group, pd::Client finds the leader, and the TSO stays strictly increasing and
// unique across repeated leader failovers; ids and the GC safe point survive crashes; bad
// frames get errors. Failures print the seed (replay with RUTILE_SIM_SEED).

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pd/client.h"
#include "pd/server.h"
#include "pd/server/pd_world.h"
#include "pdpb.pb.h"
#include "rutile/env.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "transport/rpc.h"

namespace rutile {
namespace {

using pdtest::kClientNode;
using pdtest::PdWorld;
using pdtest::SeedOr;

TEST(ReplicatedPdTest, TimestampsStrictlyIncreaseAcrossLeaderFailovers) {
  PdWorld w(SeedOr(7));
  pdtest::TsoRunResult r = pdtest::RunTsoFailovers(w, 100'000, 32, /*min_failovers=*/5);
  ASSERT_EQ(r.error, "") << w.Seed();
  EXPECT_GE(r.failovers, 5) << w.Seed();
  EXPECT_EQ(r.errors, 0) << w.Seed();
  std::printf("%zu timestamps in %llu calls over %.1f virtual s, %d leader failovers\n",
              r.timestamps, static_cast<unsigned long long>(r.stats.tso_calls),
              (w.sim().NowMicros() - 1'000'000) / 1e6, r.failovers);
  // Batching: far fewer calls than timestamps.
  EXPECT_LT(r.stats.tso_calls * 4, r.stats.timestamps) << w.Seed();
}

// The leader lease: the serving leader is partitioned away from the other members but
// every member stays reachable by clients, and one fiber per member asks that member
// directly for timestamps all along (pd::Client would stay with whichever member answers).
// The deposed leader, which does not know it is deposed until the partition heals, must
// stop answering within one lease of the partition, before its successor can start, so
// every answer, from any member, is above every answer received before its call began.
// (Without the lease check it answers until the heal, below its successor's timestamps.)
TEST(ReplicatedPdTest, PartitionedLeaderStopsHandingOutTimestampsBeforeItsSuccessor) {
  PdWorld w(SeedOr(11));
  ASSERT_TRUE(w.Run([&] { ASSERT_TRUE(w.client().GetTimestamp().ok()); })) << w.Seed();
  Env* env = w.sim().env();
  struct Answer {
    pdtest::TsoCall call;
    NodeId member = 0;
  };
  std::vector<Answer> answers;
  bool stop = false;
  int running = 3;
  for (NodeId member : {1, 2, 3}) {
    env->Spawn([&, member] {
      pdpb::TsoRequest req;
      req.set_count(1);
      const std::string body = req.SerializeAsString();
      while (!stop) {
        Answer a;
        a.member = member;
        a.call.start = env->NowMicros();
        absl::StatusOr<std::string> out =
            w.client_endpoint().CallAndWait(member, "Pd.Tso", body, 200'000);
        a.call.end = env->NowMicros();
        pdpb::TsoResponse resp;
        if (out.ok() && resp.ParseFromString(*out) && !resp.header().not_leader() &&
            resp.timestamp() != 0) {
          a.call.ts = resp.timestamp();
          answers.push_back(a);
          env->SleepForMicros(1'000);
        } else {
          env->SleepForMicros(10'000);
        }
      }
      --running;
    });
  }
  struct Round {
    NodeId deposed = 0;
    uint64_t partitioned_at = 0;
    uint64_t healed_at = 0;
  };
  std::vector<Round> rounds;
  bool nemesis_done = false;
  env->Spawn([&] {
    for (int i = 0; i < 3; ++i) {
      env->SleepForMicros(1'000'000);
      Round r;
      r.deposed = w.Leader();
      if (r.deposed == 0) continue;
      std::vector<NodeId> others;
      for (NodeId id : {1, 2, 3}) {
        if (id != r.deposed) others.push_back(id);
      }
      r.partitioned_at = env->NowMicros();
      w.sim().Partition({{r.deposed}, others});
      env->SleepForMicros(2'000'000);
      r.healed_at = env->NowMicros();
      w.sim().Heal();
      rounds.push_back(r);
    }
    stop = true;
    nemesis_done = true;
  });
  ASSERT_TRUE(w.sim().RunUntil([&] { return running == 0 && nemesis_done; }, 120'000'000))
      << w.Seed();
  ASSERT_GE(rounds.size(), 2u) << w.Seed();
  std::vector<pdtest::TsoCall> calls;
  for (const Answer& a : answers) calls.push_back(a.call);
  EXPECT_EQ(pdtest::CheckTsoHistory(calls), "") << w.Seed();
  pd::PdServerOptions defaults;
  const uint64_t lease = pd::MaxSafePdLeaseMicros(defaults);
  for (const Round& r : rounds) {
    uint64_t last_deposed = 0;
    NodeId successor = 0;
    for (const Answer& a : answers) {
      if (a.call.start < r.partitioned_at || a.call.start >= r.healed_at) continue;
      if (a.member == r.deposed) {
        last_deposed = std::max(last_deposed, a.call.start);
      } else {
        successor = a.member;
      }
    }
    // The deposed leader answered nothing asked after its lease ran out ...
    EXPECT_LT(last_deposed, r.partitioned_at + lease) << "member " << r.deposed << " " << w.Seed();
    // ... and a successor served during the partition.
    EXPECT_NE(successor, 0u) << "partition of " << r.deposed << " " << w.Seed();
  }
  std::printf("%zu answers over %zu partitions of the leader\n", answers.size(), rounds.size());
}

TEST(ReplicatedPdTest, IdsAndSafePointSurviveCrashesOfEveryMember) {
  PdWorld w(SeedOr(8));
  uint64_t first = 0;
  ASSERT_TRUE(w.Run([&] {
    absl::StatusOr<uint64_t> id = w.client().AllocIds(10);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_GE(*id, 1000u);
    first = *id;
    absl::StatusOr<uint64_t> sp = w.client().UpdateGcSafePoint(500);
    ASSERT_TRUE(sp.ok()) << sp.status();
    EXPECT_EQ(*sp, 500u);
    sp = w.client().UpdateGcSafePoint(400);  // Never down.
    ASSERT_TRUE(sp.ok()) << sp.status();
    EXPECT_EQ(*sp, 500u);
    metapb::Store store;
    store.set_id(7);
    store.set_address("host7");
    ASSERT_TRUE(w.client().PutStore(store).ok());
  })) << w.Seed();

  // A follower, then the leader, then all three at once.
  NodeId leader = w.Leader();
  ASSERT_NE(leader, 0u);
  NodeId follower = leader == 1 ? 2 : 1;
  w.sim().Crash(follower);
  w.sim().RunFor(2'000'000);
  w.sim().Restart(follower);
  w.sim().Crash(leader);
  w.sim().RunFor(3'000'000);
  w.sim().Restart(leader);
  for (NodeId id : {1, 2, 3}) w.sim().Crash(id);
  w.sim().RunFor(1'000'000);
  for (NodeId id : {1, 2, 3}) w.sim().Restart(id);

  ASSERT_TRUE(w.Run([&] {
    absl::StatusOr<uint64_t> id = w.client().AllocIds(1);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_GE(*id, first + 10);
    absl::StatusOr<uint64_t> sp = w.client().GetGcSafePoint();
    ASSERT_TRUE(sp.ok()) << sp.status();
    EXPECT_EQ(*sp, 500u);
    absl::StatusOr<std::string> stores = w.client().Admin("store 7");
    ASSERT_TRUE(stores.ok()) << stores.status();
    EXPECT_NE(stores->find("7"), std::string::npos) << *stores;
    // The TSO keeps working after a full restart.
    absl::StatusOr<uint64_t> a = w.client().GetTimestamp();
    absl::StatusOr<uint64_t> b = w.client().GetTimestamp();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(*a, *b);
  })) << w.Seed();
}

// Log compaction: with a snapshot every 20 applied entries, every member's log is cut
// short while timestamps and ids keep flowing; a member that was down through several
// compactions catches up from the leader's snapshot (its state machine restored from it:
// stores, limits, safe point), and after it becomes the leader its timestamps and ids
// still exceed every earlier one.
TEST(ReplicatedPdTest, LogIsCompactedAndALaggingMemberCatchesUpFromASnapshot) {
  PdWorld w(SeedOr(10), 0, /*compact_log_entries=*/20);
  uint64_t last_ts = 0;
  uint64_t last_id = 0;
  NodeId down = 0;
  ASSERT_TRUE(w.Run([&] {
    ASSERT_TRUE(w.client().GetTimestamp().ok());
    metapb::Store st;
    st.set_id(7);
    st.set_node_id(7);
    ASSERT_TRUE(w.client().PutStore(st).ok());
    ASSERT_TRUE(w.client().UpdateGcSafePoint(777).ok());
    absl::StatusOr<std::string> out = w.client().Admin("config set max-store-down-time 5s");
    ASSERT_TRUE(out.ok()) << out.status();
    // Take a follower down, then let the log grow (each id batch and TSO window is an
    // entry) far past several compactions.
    down = w.Leader() == 1 ? 2 : 1;
    w.sim().Crash(down);
    for (int i = 0; i < 150; ++i) {
      absl::StatusOr<uint64_t> id = w.client().AllocIds(1'000'000);
      ASSERT_TRUE(id.ok()) << id.status();
      last_id = *id + 1'000'000 - 1;
      absl::StatusOr<uint64_t> ts = w.client().GetTimestamp();
      ASSERT_TRUE(ts.ok()) << ts.status();
      last_ts = *ts;
    }
  })) << w.Seed();
  for (NodeId id : {1, 2, 3}) {
    if (id == down) continue;
    ASSERT_NE(w.server(id), nullptr);
    EXPECT_GT(w.server(id)->TEST_FirstLogIndex(), 100u) << "member " << id << " " << w.Seed();
  }
  // The lagging member comes back and catches up (from a snapshot: its log was cut).
  w.sim().Restart(down);
  ASSERT_TRUE(w.sim().RunUntil(
      [&] {
        pd::PdServer* s = w.server(down);
        pd::PdServer* l = w.Leader() != 0 ? w.server(w.Leader()) : nullptr;
        return s != nullptr && l != nullptr && s->TEST_AppliedIndex() + 5 >= l->TEST_AppliedIndex();
      },
      30'000'000))
      << w.Seed();
  // Make it the leader: crash the others in turn until it serves (it needs one of them).
  for (int round = 0; round < 10 && w.Leader() != down; ++round) {
    NodeId leader = w.Leader();
    if (leader != 0) {
      w.sim().Crash(leader);
      w.sim().RunFor(2'000'000);
      w.sim().Restart(leader);
    }
    w.sim().RunFor(2'000'000);
  }
  ASSERT_EQ(w.Leader(), down) << w.Seed();
  ASSERT_TRUE(w.Run([&] {
    absl::StatusOr<uint64_t> ts = w.client().GetTimestamp();
    ASSERT_TRUE(ts.ok()) << ts.status();
    EXPECT_GT(*ts, last_ts);
    absl::StatusOr<uint64_t> id = w.client().AllocIds(1);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_GT(*id, last_id);
    absl::StatusOr<uint64_t> sp = w.client().GetGcSafePoint();
    ASSERT_TRUE(sp.ok()) << sp.status();
    EXPECT_EQ(*sp, 777u);
    absl::StatusOr<std::string> out = w.client().Admin("store");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_NE(out->find("s7"), std::string::npos) << *out;
    out = w.client().Admin("config show");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_NE(out->find("max-store-down-time = 5s"), std::string::npos) << *out;
  })) << w.Seed();
}

TEST(ReplicatedPdTest, BadRequestsGetErrorsAndChangeNothing) {
  PdWorld w(SeedOr(9));
  ASSERT_TRUE(w.Run([&] {
    // Wait for a leader through a good call first.
    ASSERT_TRUE(w.client().GetTimestamp().ok());
    NodeId leader = w.client().leader_hint();
    ASSERT_NE(leader, 0u);
    transport::RpcEndpoint& ep = w.client_endpoint();
    auto call = [&](NodeId to, const std::string& method, const std::string& body) {
      return ep.CallAndWait(to, method, body, 1'000'000);
    };
    const std::string garbage("\xff\xff\xff\x01garbage", 11);
    EXPECT_TRUE(absl::IsInvalidArgument(call(leader, "Pd.Tso", garbage).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(call(leader, "Pd.Raft", garbage).status()));
    EXPECT_TRUE(absl::IsUnimplemented(call(leader, "Pd.NoSuchMethod", "").status()));
    pdpb::TsoRequest zero;
    EXPECT_TRUE(absl::IsInvalidArgument(call(leader, "Pd.Tso", zero.SerializeAsString()).status()));
    pdpb::TsoRequest huge;
    huge.set_count(1u << 20);
    EXPECT_TRUE(absl::IsInvalidArgument(call(leader, "Pd.Tso", huge.SerializeAsString()).status()));
    pdpb::AllocIdRequest no_ids;
    EXPECT_TRUE(
        absl::IsInvalidArgument(call(leader, "Pd.AllocId", no_ids.SerializeAsString()).status()));
    // A Raft message addressed to another member is refused, not stepped.
    pdpb::RaftBatch wrong;
    raft::Message* m = wrong.add_messages();
    m->set_to(leader == 1 ? 2 : 1);
    m->set_from(3);
    m->set_term(1'000'000);
    m->set_type(raft::MSG_VOTE);
    EXPECT_TRUE(
        absl::IsInvalidArgument(call(leader, "Pd.Raft", wrong.SerializeAsString()).status()));
    // A lease longer than the election timeout allows is refused.
    storage::MemEngine engine;
    pd::PdServerOptions o;
    o.member_id = 1;
    o.members = {1};
    o.env = w.sim().env();
    o.engine = &engine;
    o.endpoint = &ep;
    o.lease_micros = pd::MaxSafePdLeaseMicros(o) + 1;
    EXPECT_TRUE(absl::IsInvalidArgument(pd::PdServer::Start(o).status()));
    pdpb::PutStoreRequest no_id;
    EXPECT_TRUE(absl::IsInvalidArgument(w.client().PutStore(no_id.store())));
    EXPECT_TRUE(absl::IsInvalidArgument(w.client().Admin("operator add nonsense").status()));
    // A frame that is not an Envelope at all is dropped and counted.
    w.sim().transport()->Send(kClientNode, leader, garbage);
    w.sim().env()->SleepForMicros(100'000);
    // Nothing changed: the same leader still serves, timestamps still increase.
    absl::StatusOr<uint64_t> a = w.client().GetTimestamp();
    absl::StatusOr<uint64_t> b = w.client().GetTimestamp();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(*a, *b);
    EXPECT_EQ(w.client().leader_hint(), leader);
  })) << w.Seed();
}

}  // namespace
}  // namespace rutile
