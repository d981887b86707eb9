// A simulated three-member PD group and a client (see replicated_pd_test.cc), and the TSO
// failover workload shared by the fast test and the slow soak.

#ifndef RUTILE_TESTS_PD_SERVER_PD_WORLD_H_
#define RUTILE_TESTS_PD_SERVER_PD_WORLD_H_

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pd/client.h"
#include "pd/server.h"
#include "pdpb.pb.h"
#include "rutile/env.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"
#include "transport/rpc.h"

namespace rutile::pdtest {

constexpr NodeId kClientNode = 100;

// Three PD members (nodes 1..3) and a client endpoint (node 100, never crashed).
class PdWorld {
 public:
  explicit PdWorld(uint64_t seed, double loss = 0, uint64_t compact_log_entries = 1000)
      : sim_(Options(seed, loss)) {
    for (NodeId id : {1, 2, 3}) {
      auto m = std::make_shared<Member>();
      m->engine = std::make_shared<storage::MemEngine>();
      m->compact_log_entries = compact_log_entries;
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
      if (!s.ok()) std::abort();
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
    if (!sim_.RunUntil([&] { return ready; }, 1'000'000)) std::abort();
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

  // Member `id`'s server, null while it is down.
  pd::PdServer* server(NodeId id) { return members_.at(id)->server.get(); }

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
    uint64_t compact_log_entries = 1000;
  };

  static testing::SimulationOptions Options(uint64_t seed, double loss) {
    testing::SimulationOptions o;
    o.seed = seed;
    o.loss_probability = loss;
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
    o.compact_log_entries = m->compact_log_entries;
    absl::StatusOr<std::unique_ptr<pd::PdServer>> s = pd::PdServer::Start(o);
    if (!s.ok()) std::abort();
    m->server = std::move(*s);
  }

  testing::Simulation sim_;
  std::map<NodeId, std::shared_ptr<Member>> members_;
  std::shared_ptr<transport::RpcEndpoint> client_endpoint_;
  std::unique_ptr<pd::Client> client_;
};

inline uint64_t SeedOr(uint64_t fallback) {
  std::optional<uint64_t> s = testing::SeedFromEnvironment();
  return s.has_value() ? *s : fallback;
}

struct TsoCall {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t ts = 0;
};

// "" when the timestamps are unique and a call that began after another ended got a
// larger one (real-time order); otherwise what went wrong.
inline std::string CheckTsoHistory(std::vector<TsoCall> all) {
  std::set<uint64_t> unique;
  for (const TsoCall& c : all) unique.insert(c.ts);
  if (unique.size() != all.size()) {
    return absl::StrCat(all.size() - unique.size(), " duplicated timestamps");
  }
  std::vector<TsoCall> by_end = all;
  std::sort(by_end.begin(), by_end.end(),
            [](const TsoCall& a, const TsoCall& b) { return a.end < b.end; });
  std::sort(all.begin(), all.end(),
            [](const TsoCall& a, const TsoCall& b) { return a.start < b.start; });
  uint64_t max_ended = 0;
  size_t j = 0;
  for (const TsoCall& c : all) {
    while (j < by_end.size() && by_end[j].end < c.start) {
      max_ended = std::max(max_ended, by_end[j++].ts);
    }
    if (c.ts <= max_ended) {
      return absl::StrCat("timestamp ", c.ts, " from a call started at ", c.start, " is not above ",
                          max_ended, ", returned before it began");
    }
  }
  return "";
}

// Fetches `wanted` timestamps (and goes on until `min_failovers` happened) from `fibers`
// concurrent fibers while the serving leader is,
// in turn, crashed (restarted 1 s later) and partitioned away from the other members
// (healed 1.5 s later; the client still reaches it), every ~1.5 s. Returns "" when every
// timestamp is unique, each fiber's increase, and a call that began after another ended
// got a larger one; otherwise what went wrong.
struct TsoRunResult {
  std::string error;
  size_t timestamps = 0;
  int failovers = 0;
  int errors = 0;
  pd::ClientStats stats;
};

inline TsoRunResult RunTsoFailovers(PdWorld& w, size_t wanted, int fibers, int min_failovers = 0) {
  TsoRunResult r;
  std::vector<std::vector<TsoCall>> calls(fibers);
  size_t total = 0;
  bool stop = false;
  int running = fibers;
  Env* env = w.sim().env();
  for (int f = 0; f < fibers; ++f) {
    env->Spawn([&, f] {
      while (!stop) {
        TsoCall c;
        c.start = env->NowMicros();
        absl::StatusOr<uint64_t> ts = w.client().GetTimestamp();
        c.end = env->NowMicros();
        if (!ts.ok()) {
          ++r.errors;
          continue;
        }
        c.ts = *ts;
        calls[f].push_back(c);
        if (++total >= wanted && r.failovers >= min_failovers) stop = true;
      }
      --running;
    });
  }
  bool nemesis_done = false;
  env->Spawn([&] {
    for (int round = 0; !stop; ++round) {
      env->SleepForMicros(1'500'000);
      NodeId leader = w.Leader();
      if (leader == 0 || stop) continue;
      ++r.failovers;
      if (round % 2 == 0) {
        w.sim().Crash(leader);
        env->SleepForMicros(1'000'000);
        w.sim().Restart(leader);
      } else {
        std::vector<NodeId> others;
        for (NodeId id : {1, 2, 3}) {
          if (id != leader) others.push_back(id);
        }
        w.sim().Partition({{leader}, others});
        env->SleepForMicros(1'500'000);
        w.sim().Heal();
      }
    }
    nemesis_done = true;
  });
  if (!w.sim().RunUntil([&] { return running == 0 && nemesis_done; }, 900'000'000)) {
    r.error = absl::StrCat("only ", total, " timestamps");
    return r;
  }
  r.stats = w.client().stats();
  std::vector<TsoCall> all;
  for (int f = 0; f < fibers; ++f) {
    for (size_t i = 1; i < calls[f].size(); ++i) {
      if (calls[f][i - 1].ts >= calls[f][i].ts) {
        r.error = absl::StrCat("fiber ", f, " got ", calls[f][i].ts, " after ", calls[f][i - 1].ts);
        return r;
      }
    }
    all.insert(all.end(), calls[f].begin(), calls[f].end());
  }
  r.timestamps = all.size();
  r.error = CheckTsoHistory(std::move(all));
  return r;
}

}  // namespace rutile::pdtest

#endif  // RUTILE_TESTS_PD_SERVER_PD_WORLD_H_
