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
#include "pdpb.pb.h"
#include "rutile/env.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "transport/rpc.h"

namespace rutile {
namespace {

constexpr NodeId kClientNode = 100;

// Three PD members (nodes 1..3) and a client endpoint (node 100, never crashed).
class PdWorld {
 public:
  explicit PdWorld(uint64_t seed) : sim_(Options(seed)) {
    for (NodeId id : {1, 2, 3}) {
      auto m = std::make_shared<Member>();
      m->engine = std::make_shared<storage::MemEngine>();
      members_[id] = m;
      absl::Status s =
          sim_.AddNode(id, {.start = [m](const testing::NodeHandle& h) { StartMember(h, m); },
                            .crash =
                                [m](NodeId) {
                                  m->server.reset();  // No wait: the node's fibers are dead.
                                  if (m->endpoint) m->endpoint->Stop();
                                  m->endpoint.reset();
                                  m->engine->SimulateCrash();
                                }});
      EXPECT_TRUE(s.ok()) << s;
    }
    bool ready = false;
    sim_.env()->Spawn([&] {
      client_endpoint_ =
          std::make_shared<transport::RpcEndpoint>(sim_.env(), sim_.transport(), kClientNode);
      pd::ClientOptions co;
      co.rpc_timeout_micros = 500'000;
      client_ = std::make_unique<pd::Client>(sim_.env(), client_endpoint_.get(),
                                             std::vector<uint64_t>{1, 2, 3}, co);
      ready = true;
    });
    EXPECT_TRUE(sim_.RunUntil([&] { return ready; }, 1'000'000));
  }

  ~PdWorld() {
    bool closed = false;
    sim_.env()->Spawn([&] {
      client_->Close();
      closed = true;
    });
    sim_.RunUntil([&] { return closed; }, 5'000'000);
  }

  testing::Simulation& sim() { return sim_; }
  pd::Client& client() { return *client_; }
  transport::RpcEndpoint& client_endpoint() { return *client_endpoint_; }
  std::string Seed() { return testing::SeedReplayMessage(sim_.seed()); }

  // The member serving as leader, 0 when none.
  NodeId Leader() {
    for (auto& [id, m] : members_) {
      if (sim_.IsUp(id) && m->server != nullptr && m->server->IsServing()) return id;
    }
    return 0;
  }

  // Runs `fn` on a fiber of the simulation (not of a node) until it returns.
  bool Run(std::function<void()> fn, uint64_t timeout_micros = 120'000'000) {
    bool done = false;
    sim_.env()->Spawn([&] {
      fn();
      done = true;
    });
    return sim_.RunUntil([&] { return done; }, timeout_micros);
  }

 private:
  struct Member {
    std::shared_ptr<storage::MemEngine> engine;
    std::shared_ptr<transport::RpcEndpoint> endpoint;
    std::unique_ptr<pd::PdServer> server;
  };

  static testing::SimulationOptions Options(uint64_t seed) {
    testing::SimulationOptions o;
    o.seed = seed;
    return o;
  }

  static void StartMember(const testing::NodeHandle& h, const std::shared_ptr<Member>& m) {
    m->endpoint = std::make_shared<transport::RpcEndpoint>(h.env, h.transport, h.id);
    pd::PdServerOptions o;
    o.member_id = h.id;
    o.members = {1, 2, 3};
    o.env = h.env;
    o.engine = m->engine.get();
    o.endpoint = m->endpoint.get();
    o.id_floor = 1000;
    absl::StatusOr<std::unique_ptr<pd::PdServer>> s = pd::PdServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    m->server = std::move(*s);
  }

  testing::Simulation sim_;
  std::map<NodeId, std::shared_ptr<Member>> members_;
  std::shared_ptr<transport::RpcEndpoint> client_endpoint_;
  std::unique_ptr<pd::Client> client_;
};

uint64_t SeedOr(uint64_t fallback) {
  std::optional<uint64_t> s = testing::SeedFromEnvironment();
  return s.has_value() ? *s : fallback;
}

struct TsoCall {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t ts = 0;
};

TEST(ReplicatedPdTest, TimestampsStrictlyIncreaseAcrossLeaderFailovers) {
  PdWorld w(SeedOr(7));
  constexpr int kFibers = 32;
  constexpr size_t kWanted = 100'000;
  std::vector<std::vector<TsoCall>> calls(kFibers);
  size_t total = 0;
  int errors = 0;
  bool stop = false;
  int failovers = 0;
  int running = kFibers;
  Env* env = w.sim().env();
  for (int f = 0; f < kFibers; ++f) {
    env->Spawn([&, f] {
      while (!stop) {
        TsoCall c;
        c.start = env->NowMicros();
        absl::StatusOr<uint64_t> ts = w.client().GetTimestamp();
        c.end = env->NowMicros();
        if (!ts.ok()) {
          ++errors;
          continue;
        }
        c.ts = *ts;
        calls[f].push_back(c);
        if (++total >= kWanted) stop = true;
      }
      --running;
    });
  }
  // Crash the serving leader every ~1.5 s of virtual time and bring it back 1 s later.
  bool nemesis_done = false;
  env->Spawn([&] {
    while (!stop) {
      env->SleepForMicros(1'500'000);
      NodeId leader = w.Leader();
      if (leader == 0 || stop) continue;
      w.sim().Crash(leader);
      ++failovers;
      env->SleepForMicros(1'000'000);
      w.sim().Restart(leader);
    }
    nemesis_done = true;
  });
  ASSERT_TRUE(w.sim().RunUntil([&] { return running == 0 && nemesis_done; }, 600'000'000))
      << "only " << total << " timestamps; " << w.Seed();
  EXPECT_GE(failovers, 5) << w.Seed();
  EXPECT_EQ(errors, 0) << w.Seed();

  // Unique, increasing per fiber, and real-time ordered across fibers: a call that began
  // after another ended got a larger timestamp.
  std::vector<TsoCall> all;
  for (int f = 0; f < kFibers; ++f) {
    for (size_t i = 1; i < calls[f].size(); ++i) {
      ASSERT_LT(calls[f][i - 1].ts, calls[f][i].ts) << "fiber " << f << " " << w.Seed();
    }
    all.insert(all.end(), calls[f].begin(), calls[f].end());
  }
  ASSERT_GE(all.size(), kWanted);
  std::set<uint64_t> unique;
  for (const TsoCall& c : all) unique.insert(c.ts);
  ASSERT_EQ(unique.size(), all.size()) << "duplicated timestamps; " << w.Seed();
  std::vector<TsoCall> by_end = all;
  std::sort(by_end.begin(), by_end.end(),
            [](const TsoCall& a, const TsoCall& b) { return a.end < b.end; });
  std::sort(all.begin(), all.end(),
            [](const TsoCall& a, const TsoCall& b) { return a.start < b.start; });
  uint64_t max_ended = 0;
  size_t j = 0;
  for (const TsoCall& c : all) {
    while (j < by_end.size() && by_end[j].end < c.start)
      max_ended = std::max(max_ended, by_end[j++].ts);
    ASSERT_GT(c.ts, max_ended) << "a timestamp went back in real time; " << w.Seed();
  }
  pd::ClientStats st = w.client().stats();
  std::printf("%zu timestamps in %llu calls over %.1f virtual s, %d leader failovers\n", all.size(),
              static_cast<unsigned long long>(st.tso_calls), (env->NowMicros() - 1'000'000) / 1e6,
              failovers);
  // Batching: far fewer calls than timestamps.
  EXPECT_LT(st.tso_calls * 4, st.timestamps) << w.Seed();
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
