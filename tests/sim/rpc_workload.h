// An RPC workload for simulation tests: every node runs an RpcEndpoint serving
// "Echo.Call" and a few client fibers that call random nodes and check each answer.
//
// The server answers "<server id>:<request>" or, when the request asks for it, a
// FailedPrecondition error carrying the request; some handlers are slow (longer than the
// caller's timeout), and some callers cancel their call. The invariant is FoundationDB
// Cycle-style and simple: every call resolves to exactly the right answer for its request
// and target, or to DeadlineExceeded / Unavailable, or to Cancelled when the caller
// cancelled or its node crashed — never to a wrong answer or another error. Check also
// requires liveness once the faults are over: every up node can call every other one.

#ifndef RUTILE_TESTS_SIM_RPC_WORKLOAD_H_
#define RUTILE_TESTS_SIM_RPC_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rutile/testing/simulation.h"
#include "rutile/testing/workload.h"
#include "transport/rpc.h"
#include "util/sync.h"

namespace rutile::sim_test {

struct EchoRpcOptions {
  int nodes = 5;
  int clients_per_node = 2;
  uint64_t call_timeout_micros = 200'000;
  // A client waits uniform [0, think] between calls.
  uint64_t think_micros = 20'000;
  // Chance that a handler sleeps for up to twice the call timeout.
  double slow_handler_probability = 0.1;
  // Chance that a request asks for an error answer.
  double error_probability = 0.1;
  // Chance that a caller cancels its call after a short while.
  double cancel_probability = 0.05;
  // Check: at least this many calls must have been answered correctly.
  uint64_t min_correct = 100;
};

// Outcome counts; `wrong` must stay 0.
struct EchoRpcCounts {
  uint64_t started = 0;
  uint64_t correct = 0;
  uint64_t deadline = 0;
  uint64_t unavailable = 0;
  uint64_t cancelled = 0;
  uint64_t wrong = 0;
  std::vector<std::string> wrong_examples;

  std::string ToString() const {
    return absl::StrCat("started=", started, " correct=", correct, " deadline=", deadline,
                        " unavailable=", unavailable, " cancelled=", cancelled, " wrong=", wrong);
  }
};

class EchoRpcWorkload : public testing::Workload {
 public:
  explicit EchoRpcWorkload(EchoRpcOptions options = EchoRpcOptions())
      : options_(options), counts_(std::make_shared<EchoRpcCounts>()) {}

  std::string Name() const override { return "EchoRpc"; }

  // Adds the nodes to `sim`. Call once, before running.
  absl::Status AddNodes(testing::Simulation& sim) {
    for (int i = 1; i <= options_.nodes; ++i) {
      NodeId id = static_cast<NodeId>(i);
      auto state = std::make_shared<NodeState>();
      nodes_[id] = state;
      absl::Status s = sim.AddNode(
          id, {.start = [this, state](const testing::NodeHandle& h) { StartNode(h, state); },
               .crash =
                   [state](NodeId) {
                     // Volatile state goes; fibers holding the endpoint see it stopped.
                     if (state->endpoint) state->endpoint->Stop();
                     state->endpoint.reset();
                   }});
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Start(testing::WorkloadContext& ctx) override {
    while (!ctx.Stopping()) ctx.env()->SleepForMicros(100'000);
    stopping_ = true;
    // Let the calls in flight resolve.
    ctx.env()->SleepForMicros(2 * options_.call_timeout_micros);
    return absl::OkStatus();
  }

  absl::Status Check(testing::WorkloadContext& ctx) override {
    const EchoRpcCounts& c = *counts_;
    if (c.wrong > 0) {
      return absl::InternalError(
          absl::StrCat("wrong answers: ", c.ToString(), "; e.g. ", c.wrong_examples.front()));
    }
    if (c.correct < options_.min_correct) {
      return absl::FailedPreconditionError(absl::StrCat("too little progress: ", c.ToString()));
    }
    // Liveness after healing: every node answers every other node.
    for (auto& [from, state] : nodes_) {
      for (auto& [to, unused] : nodes_) {
        std::shared_ptr<transport::RpcEndpoint> ep = state->endpoint;
        if (ep == nullptr) return absl::InternalError(absl::StrCat("node ", from, " is down"));
        std::string req = absl::StrCat("check-", from, "-", to);
        // A few attempts: a slow handler may eat one.
        absl::StatusOr<std::string> r;
        for (int attempt = 0; attempt < 5; ++attempt) {
          r = ep->CallAndWait(to, "Echo.Call", req, 5 * options_.call_timeout_micros);
          if (r.ok()) break;
        }
        if (!r.ok() || *r != absl::StrCat(to, ":", req)) {
          return absl::InternalError(absl::StrCat("after healing, ", from, " -> ", to, ": ",
                                                  r.ok() ? *r : r.status().ToString()));
        }
      }
    }
    return absl::OkStatus();
  }

  const EchoRpcCounts& counts() const { return *counts_; }

 private:
  struct NodeState {
    std::shared_ptr<transport::RpcEndpoint> endpoint;
  };

  void StartNode(const testing::NodeHandle& h, const std::shared_ptr<NodeState>& state) {
    Env* env = h.env;
    auto ep = std::make_shared<transport::RpcEndpoint>(env, h.transport, h.id);
    state->endpoint = ep;
    const NodeId self = h.id;
    const EchoRpcOptions o = options_;
    (void)ep->RegisterMethod(
        "Echo.Call",
        [env, self, o](const transport::RpcContext& ctx,
                       std::string_view req) -> absl::StatusOr<std::string> {
          if (env->OneIn(o.slow_handler_probability)) {
            ctx.cancelled().WaitFor(env, env->Uniform(2 * o.call_timeout_micros));
          }
          if (req.substr(0, 4) == "err|") {
            return absl::FailedPreconditionError(absl::StrCat(self, ":", std::string(req)));
          }
          return absl::StrCat(self, ":", std::string(req));
        });
    for (int c = 0; c < options_.clients_per_node; ++c) {
      env->Spawn(
          [this, env, ep, self, c, counts = counts_] { ClientLoop(env, ep, self, c, counts); });
    }
  }

  void ClientLoop(Env* env, std::shared_ptr<transport::RpcEndpoint> ep, NodeId self, int client,
                  std::shared_ptr<EchoRpcCounts> counts) {
    uint64_t seq = 0;
    while (!stopping_) {
      env->SleepForMicros(env->Uniform(options_.think_micros + 1));
      if (stopping_) break;
      NodeId to = 1 + env->Uniform(options_.nodes);
      bool want_error = env->OneIn(options_.error_probability);
      std::string req = absl::StrCat(want_error ? "err|" : "ok|", self, "/", client, "/", seq++);
      transport::RpcCall call = ep->StartCall(to, "Echo.Call", req, options_.call_timeout_micros);
      ++counts->started;
      bool cancelled = false;
      if (env->OneIn(options_.cancel_probability)) {
        if (!call.result.WaitFor(env, env->Uniform(options_.call_timeout_micros))) {
          cancelled = ep->Cancel(call.id);
        }
      }
      absl::StatusOr<std::string> r = call.result.Get();
      std::string expected = absl::StrCat(to, ":", req);
      if (r.ok()) {
        if (!want_error && *r == expected) {
          ++counts->correct;
          continue;
        }
      } else {
        switch (r.status().code()) {
          case absl::StatusCode::kFailedPrecondition:
            if (want_error && r.status().message() == expected) {
              ++counts->correct;
              continue;
            }
            break;
          case absl::StatusCode::kDeadlineExceeded:
            ++counts->deadline;
            continue;
          case absl::StatusCode::kUnavailable:
            ++counts->unavailable;
            continue;
          case absl::StatusCode::kCancelled:
            // Only the caller's own cancel or its node's crash (endpoint stopped) cancels.
            if (cancelled || ep->IsStopped()) {
              ++counts->cancelled;
              continue;
            }
            break;
          default:
            break;
        }
      }
      ++counts->wrong;
      if (counts->wrong_examples.size() < 5) {
        counts->wrong_examples.push_back(absl::StrCat(self, " -> ", to, " req=", req, " got ",
                                                      r.ok() ? *r : r.status().ToString()));
      }
    }
  }

  EchoRpcOptions options_;
  std::shared_ptr<EchoRpcCounts> counts_;
  std::map<NodeId, std::shared_ptr<NodeState>> nodes_;
  bool stopping_ = false;
};

}  // namespace rutile::sim_test

#endif  // RUTILE_TESTS_SIM_RPC_WORKLOAD_H_
