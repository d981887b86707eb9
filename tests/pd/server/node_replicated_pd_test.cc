// rutile::Node on the replicated PD (NodeOptions::pd_members) under SimEnv + SimTransport:
// nodes 1..3 host the PD members and the first region, node 4 is a spare store. The
// stores register and report through pd::Client; when a store (and the PD member on its
// node) stops, the PD leader rebuilds its replicas on the spare. Failures print the seed
// (replay with RUTILE_SIM_SEED).

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/node_internal.h"
#include "node/replicated_pd.h"
#include "rutile/env.h"
#include "rutile/node.h"
#include "rutile/testing/simulation.h"
#include "transport/sim_transport.h"

namespace rutile {
namespace {

TEST(NodeReplicatedPdTest, NodesHostPdMembersAndAreRepaired) {
  const uint64_t seed = testing::SeedFromEnvironment().value_or(51);
  SimEnvOptions eo;
  eo.seed = seed;
  auto env = std::make_unique<SimEnv>(eo);
  auto transport = std::make_unique<transport::SimTransport>(env.get());
  std::map<uint64_t, std::unique_ptr<Node>> nodes;
  auto run = [&](std::function<void()> fn) {
    bool done = false;
    env->Spawn([&done, fn = std::move(fn)] {
      fn();
      done = true;
    });
    return env->RunUntil([&] { return done; }, 60'000'000);
  };
  auto rpd = [&](uint64_t id) -> node::ReplicatedPd& {
    return *node::Access::ImplOf(nodes.at(id).get())->replicated_pd;
  };
  const std::string replay = testing::SeedReplayMessage(seed);
  // Polls `done` (which may itself run fibers) every 500 ms of virtual time.
  auto eventually = [&](const std::function<bool()>& done, uint64_t timeout_micros) {
    const uint64_t end = env->NowMicros() + timeout_micros;
    while (env->NowMicros() < end) {
      if (done()) return true;
      env->RunFor(500'000);
    }
    return done();
  };

  ASSERT_TRUE(run([&] {
    for (uint64_t id = 1; id <= 4; ++id) {
      NodeOptions o;
      o.id = id;
      o.env = env.get();
      o.transport = transport.get();
      o.pd_members = {1, 2, 3};
      o.initial_stores = {1, 2, 3};
      o.raft_tick_micros = 50'000;
      o.pd_heartbeat_interval_micros = 200'000;
      absl::StatusOr<std::unique_ptr<Node>> n = Node::Open(o);
      ASSERT_TRUE(n.ok()) << n.status();
      EXPECT_EQ((*n)->pd(), nullptr);
      nodes[id] = std::move(*n);
    }
  })) << replay;
  // Both PD roles at once are refused.
  ASSERT_TRUE(run([&] {
    NodeOptions o;
    o.id = 9;
    o.env = env.get();
    o.transport = transport.get();
    o.host_pd = true;
    o.pd_members = {1, 2, 3};
    EXPECT_TRUE(absl::IsInvalidArgument(Node::Open(o).status()));
  })) << replay;

  // The PD leader learns the region and all four stores from heartbeats.
  uint64_t leader = 0;
  auto find_leader = [&] {
    leader = 0;
    for (uint64_t id = 1; id <= 3; ++id) {
      if (rpd(id).server() != nullptr && rpd(id).server()->IsServing()) leader = id;
    }
    return leader != 0;
  };
  ASSERT_TRUE(env->RunUntil(find_leader, 20'000'000)) << replay;
  std::string stores;
  ASSERT_TRUE(eventually(
      [&] {
        bool got = false;
        run([&] {
          absl::StatusOr<std::string> out = rpd(4).AdminExecute("store");
          got = out.ok() && out->find("s4 UP") != std::string::npos;
          if (out.ok()) stores = *out;
        });
        return got;
      },
      20'000'000))
      << stores << replay;
  ASSERT_TRUE(run([&] {
    absl::StatusOr<std::string> out = rpd(4).AdminExecute("config set max-store-down-time 3s");
    ASSERT_TRUE(out.ok()) << out.status();
  })) << replay;

  // Stop a node that is not the PD leader (its config lives in the leader's memory).
  const uint64_t down = leader == 3 ? 2 : 3;
  ASSERT_TRUE(run([&] { nodes.at(down)->Close(); })) << replay;
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 4; ++s) {
    if (s != down) want.push_back(s);
  }
  std::vector<uint64_t> got;
  ASSERT_TRUE(eventually(
      [&] {
        run([&] {
          absl::StatusOr<std::vector<node::LocalPd::RegionRoute>> rs = rpd(1).Regions();
          got.clear();
          if (rs.ok() && rs->size() == 1) {
            for (const metapb::Peer& p : (*rs)[0].region.peers()) got.push_back(p.store_id());
            std::sort(got.begin(), got.end());
          }
        });
        return got == want && nodes.at(4)->RegionCount() == 1;
      },
      60'000'000))
      << "down " << down << " " << replay;

  ASSERT_TRUE(run([&] {
    absl::StatusOr<uint64_t> a = rpd(4).GetTimestamp();
    absl::StatusOr<uint64_t> b = rpd(1).GetTimestamp();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(*a, *b);
    for (auto& [id, n] : nodes) n->Close();
  })) << replay;
  nodes.clear();
  transport.reset();
  env.reset();
}

}  // namespace
}  // namespace rutile
