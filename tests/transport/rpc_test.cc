// RPC over frames (lib/transport/rpc.h): the basics — echo, handler errors, unknown
// method, deadline, cancellation, malformed frames, duplicated and stray responses,
// duplicated requests, raft/opaque dispatch, typed calls, stopping — over LocalTransport
// and SimTransport on a SimEnv, and concurrent calls on Env::Default().

#include "transport/rpc.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "rutile/env.h"
#include "transport.pb.h"
#include "transport/local_transport.h"
#include "transport/sim_transport.h"
#include "util/sync.h"

namespace rutile::transport {
namespace {

enum class Kind { kLocal, kSim };

std::string KindName(const ::testing::TestParamInfo<Kind>& info) {
  return info.param == Kind::kLocal ? "Local" : "Sim";
}

// Records raw frames (a node that is not an RpcEndpoint).
class RawNode : public FrameReceiver {
 public:
  void OnFrame(NodeId from, std::string frame) override {
    frames.emplace_back(from, std::move(frame));
  }
  std::vector<std::pair<NodeId, std::string>> frames;
};

std::string Serialize(Envelope e) { return e.SerializeAsString(); }

class RpcTest : public ::testing::TestWithParam<Kind> {
 protected:
  RpcTest() : env_(SimEnvOptions{.seed = 17}) {
    if (GetParam() == Kind::kLocal) {
      transport_ = std::make_unique<LocalTransport>(&env_);
    } else {
      transport_ = std::make_unique<SimTransport>(&env_);
    }
    client_ = std::make_unique<RpcEndpoint>(&env_, transport_.get(), 1);
    server_ = std::make_unique<RpcEndpoint>(&env_, transport_.get(), 2);
    EXPECT_TRUE(client_->status().ok());
    EXPECT_TRUE(server_->status().ok());
    EXPECT_TRUE(server_
                    ->RegisterMethod(
                        "Test.Echo",
                        [](const RpcContext&, std::string_view req) -> absl::StatusOr<std::string> {
                          return std::string(req);
                        })
                    .ok());
  }

  ~RpcTest() override {
    client_.reset();
    server_.reset();
    transport_.reset();
  }

  // Runs `fn` on a fiber and the simulation until it returns (or a minute of virtual time).
  void RunFiber(std::function<void()> fn) {
    bool done = false;
    env_.Spawn([&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(env_.RunUntil([&] { return done; }, 60'000'000));
  }

  SimEnv env_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<RpcEndpoint> client_;
  std::unique_ptr<RpcEndpoint> server_;
};

TEST_P(RpcTest, EchoReturnsTheRequest) {
  absl::StatusOr<std::string> r;
  RunFiber([&] { r = client_->CallAndWait(2, "Test.Echo", "hello", 1'000'000); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "hello");
  EXPECT_EQ(client_->stats().calls_succeeded, 1u);
  EXPECT_EQ(server_->stats().requests_served, 1u);
}

TEST_P(RpcTest, ManyConcurrentCallsEachGetTheirOwnAnswer) {
  constexpr int kCalls = 200;
  std::vector<Future<absl::StatusOr<std::string>>> futures;
  for (int i = 0; i < kCalls; ++i) {
    futures.push_back(client_->Call(2, "Test.Echo", std::to_string(i), 5'000'000));
  }
  env_.RunUntil(
      [&] {
        for (auto& f : futures) {
          if (!f.Ready()) return false;
        }
        return true;
      },
      10'000'000);
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(futures[i].Ready());
    ASSERT_TRUE(futures[i].Get().ok()) << futures[i].Get().status();
    EXPECT_EQ(*futures[i].Get(), std::to_string(i));
  }
}

TEST_P(RpcTest, HandlerErrorTravelsWithCodeAndMessage) {
  ASSERT_TRUE(server_
                  ->RegisterMethod(
                      "Test.Fail",
                      [](const RpcContext& ctx, std::string_view) -> absl::StatusOr<std::string> {
                        EXPECT_EQ(ctx.from(), 1u);
                        return absl::FailedPreconditionError("not today");
                      })
                  .ok());
  absl::StatusOr<std::string> r;
  RunFiber([&] { r = client_->CallAndWait(2, "Test.Fail", "", 1'000'000); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "not today");
}

TEST_P(RpcTest, RegisteringAMethodTwiceFails) {
  auto h = [](const RpcContext&, std::string_view) -> absl::StatusOr<std::string> {
    return std::string();
  };
  EXPECT_EQ(server_->RegisterMethod("Test.Echo", h).code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(RpcTest, UnknownMethodAnswersUnimplemented) {
  absl::StatusOr<std::string> r;
  RunFiber([&] { r = client_->CallAndWait(2, "Test.Nope", "x", 1'000'000); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(server_->stats().unknown_method, 1u);
}

TEST_P(RpcTest, DeadlineExpiresInEnvTimeAndTellsTheServer) {
  std::shared_ptr<const RpcContext> seen;
  Notification cancelled_seen;
  ASSERT_TRUE(server_
                  ->RegisterMethod(
                      "Test.Slow",
                      [&](const RpcContext& ctx, std::string_view) -> absl::StatusOr<std::string> {
                        // Waits for the caller's cancel rather than answering.
                        if (ctx.cancelled().WaitFor(&env_, 10'000'000)) {
                          cancelled_seen.Notify();
                        }
                        return std::string("too late");
                      })
                  .ok());
  absl::StatusOr<std::string> r;
  uint64_t start = 0, end = 0;
  RunFiber([&] {
    start = env_.NowMicros();
    r = client_->CallAndWait(2, "Test.Slow", "", 50'000);
    end = env_.NowMicros();
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(end - start, 50'000u);
  env_.RunFor(1'000'000);
  EXPECT_TRUE(cancelled_seen.HasBeenNotified());
  RpcStats c = client_->stats();
  EXPECT_EQ(c.calls_deadline_exceeded, 1u);
  EXPECT_EQ(c.calls_succeeded, 0u);
  // The handler's late answer was not sent.
  EXPECT_EQ(server_->stats().responses_suppressed, 1u);
  EXPECT_EQ(c.stale_responses, 0u);
}

TEST_P(RpcTest, LateResponseAfterDeadlineIsIgnored) {
  ASSERT_TRUE(
      server_
          ->RegisterMethod("Test.Sleepy",
                           [&](const RpcContext&, std::string_view) -> absl::StatusOr<std::string> {
                             env_.SleepForMicros(100'000);
                             return std::string("late");
                           })
          .ok());
  // The client's cancel is dropped, so the server answers after the deadline.
  auto* hub = static_cast<LocalTransport*>(transport_.get());
  Rule drop_cancels;
  drop_cancels.kinds = {FrameKind::kCancel};
  hub->AddFilter(RuleFilter(drop_cancels));
  auto f = client_->Call(2, "Test.Sleepy", "", 10'000);
  env_.RunFor(1'000'000);
  ASSERT_TRUE(f.Ready());
  EXPECT_EQ(f.Get().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client_->stats().stale_responses, 1u);
}

TEST_P(RpcTest, CancelResolvesCancelledAndStopsTheHandler) {
  Notification started, cancelled_seen;
  ASSERT_TRUE(server_
                  ->RegisterMethod(
                      "Test.Wait",
                      [&](const RpcContext& ctx, std::string_view) -> absl::StatusOr<std::string> {
                        started.Notify();
                        if (ctx.cancelled().WaitFor(&env_, 10'000'000)) {
                          cancelled_seen.Notify();
                        }
                        return std::string("ignored");
                      })
                  .ok());
  RpcCall call = client_->StartCall(2, "Test.Wait", "", 5'000'000);
  ASSERT_TRUE(env_.RunUntil([&] { return started.HasBeenNotified(); }, 1'000'000));
  EXPECT_FALSE(call.result.Ready());
  EXPECT_TRUE(client_->Cancel(call.id));
  ASSERT_TRUE(call.result.Ready());
  EXPECT_EQ(call.result.Get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(client_->Cancel(call.id));
  ASSERT_TRUE(env_.RunUntil([&] { return cancelled_seen.HasBeenNotified(); }, 1'000'000));
  env_.RunFor(1'000'000);
  EXPECT_EQ(server_->stats().cancels_received, 1u);
  EXPECT_EQ(server_->stats().responses_suppressed, 1u);
  EXPECT_EQ(client_->stats().calls_cancelled, 1u);
  // The deadline timer was cancelled with the call: nothing more happens to it.
  EXPECT_EQ(client_->stats().calls_deadline_exceeded, 0u);
}

TEST_P(RpcTest, MalformedFramesAreCountedAndDropped) {
  RawNode raw;
  ASSERT_TRUE(transport_->Register(3, &raw).ok());
  // Not an Envelope at all.
  transport_->Send(3, 2, std::string("\xff\xff\xff garbage", 12));
  // An Envelope addressed to another node.
  Envelope wrong_to;
  wrong_to.set_from(3);
  wrong_to.set_to(7);
  wrong_to.set_opaque("x");
  transport_->Send(3, 2, Serialize(wrong_to));
  // An Envelope claiming another sender than the transport reports.
  Envelope wrong_from = wrong_to;
  wrong_from.set_to(2);
  wrong_from.set_from(9);
  transport_->Send(3, 2, Serialize(wrong_from));
  // An Envelope with no body.
  Envelope empty;
  empty.set_from(3);
  empty.set_to(2);
  transport_->Send(3, 2, Serialize(empty));
  // A response with a status code that does not exist.
  Envelope bad_code;
  bad_code.set_from(3);
  bad_code.set_to(2);
  bad_code.mutable_response()->set_code(999);
  transport_->Send(3, 2, Serialize(bad_code));
  // An empty frame parses as an empty Envelope (to = 0): malformed too.
  transport_->Send(3, 2, "");
  env_.RunFor(1'000'000);
  RpcStats s = server_->stats();
  EXPECT_EQ(s.frames_received, 6u);
  EXPECT_EQ(s.malformed_frames, 6u);
  // The endpoint still works.
  absl::StatusOr<std::string> r;
  RunFiber([&] { r = client_->CallAndWait(2, "Test.Echo", "still here", 1'000'000); });
  EXPECT_EQ(r.value_or("error"), "still here");
  transport_->Unregister(3);
}

TEST_P(RpcTest, RandomFramesNeverCrashTheEndpoint) {
  // Invalid UTF-8 in a string field fails the parse, which protobuf also logs; keep quiet.
  google::protobuf::LogSilencer silence;
  RawNode raw;
  ASSERT_TRUE(transport_->Register(3, &raw).ok());
  std::string valid;
  {
    Envelope e;
    e.set_from(3);
    e.set_to(2);
    e.mutable_request()->set_call_id(5);
    e.mutable_request()->set_method("Test.Echo");
    e.mutable_request()->set_payload("abc");
    valid = Serialize(e);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string frame = valid;
    // Flip, truncate or extend at random.
    switch (env_.Uniform(3)) {
      case 0:
        frame[env_.Uniform(frame.size())] ^= static_cast<char>(1 + env_.Uniform(255));
        break;
      case 1:
        frame.resize(env_.Uniform(frame.size()));
        break;
      case 2:
        frame += static_cast<char>(env_.Uniform(256));
        break;
    }
    transport_->Send(3, 2, frame);
  }
  env_.RunFor(1'000'000);
  RpcStats s = server_->stats();
  EXPECT_EQ(s.frames_received, 2000u);
  EXPECT_GT(s.malformed_frames, 0u);
  absl::StatusOr<std::string> r;
  RunFiber([&] { r = client_->CallAndWait(2, "Test.Echo", "ok", 1'000'000); });
  EXPECT_EQ(r.value_or("error"), "ok");
  transport_->Unregister(3);
}

TEST_P(RpcTest, DuplicatedAndStrayResponsesAreIgnored) {
  // Node 3 is a hand-written server: it answers each request twice, with different
  // payloads, and also sends a response for a call nobody made.
  RawNode raw;
  ASSERT_TRUE(transport_->Register(3, &raw).ok());
  RpcCall call = client_->StartCall(3, "Any.Method", "q", 1'000'000);
  ASSERT_TRUE(env_.RunUntil([&] { return !raw.frames.empty(); }, 1'000'000));
  Envelope req;
  ASSERT_TRUE(req.ParseFromString(raw.frames[0].second));
  ASSERT_TRUE(req.has_request());
  EXPECT_EQ(req.request().call_id(), call.id);
  for (const char* payload : {"first", "second"}) {
    Envelope resp;
    resp.set_from(3);
    resp.set_to(1);
    resp.mutable_response()->set_call_id(call.id);
    resp.mutable_response()->set_payload(payload);
    transport_->Send(3, 1, Serialize(resp));
  }
  Envelope stray;
  stray.set_from(3);
  stray.set_to(1);
  stray.mutable_response()->set_call_id(call.id + 1000);
  transport_->Send(3, 1, Serialize(stray));
  env_.RunFor(1'000'000);
  ASSERT_TRUE(call.result.Ready());
  EXPECT_EQ(call.result.Get().value_or("error"), "first");
  EXPECT_EQ(client_->stats().stale_responses, 2u);
  EXPECT_EQ(client_->stats().calls_succeeded, 1u);
  transport_->Unregister(3);
}

TEST_P(RpcTest, ResponseFromAnotherNodeIsIgnored) {
  RawNode raw;
  ASSERT_TRUE(transport_->Register(3, &raw).ok());
  ASSERT_TRUE(server_
                  ->RegisterMethod(
                      "Test.Hang",
                      [&](const RpcContext& ctx, std::string_view) -> absl::StatusOr<std::string> {
                        ctx.cancelled().WaitFor(&env_, 10'000'000);
                        return std::string();
                      })
                  .ok());
  RpcCall call = client_->StartCall(2, "Test.Hang", "", 100'000);
  env_.RunFor(10);
  // Node 3 impersonates the answer to a call made to node 2.
  Envelope forged;
  forged.set_from(3);
  forged.set_to(1);
  forged.mutable_response()->set_call_id(call.id);
  forged.mutable_response()->set_payload("forged");
  transport_->Send(3, 1, Serialize(forged));
  env_.RunFor(1'000'000);
  ASSERT_TRUE(call.result.Ready());
  EXPECT_EQ(call.result.Get().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client_->stats().stale_responses, 1u);
  transport_->Unregister(3);
}

TEST_P(RpcTest, DuplicatedRequestRunsOnceWhileInFlight) {
  int runs = 0;
  ASSERT_TRUE(
      server_
          ->RegisterMethod("Test.Count",
                           [&](const RpcContext&, std::string_view) -> absl::StatusOr<std::string> {
                             ++runs;
                             env_.SleepForMicros(10'000);
                             return std::to_string(runs);
                           })
          .ok());
  RawNode raw;
  ASSERT_TRUE(transport_->Register(3, &raw).ok());
  Envelope req;
  req.set_from(3);
  req.set_to(2);
  req.mutable_request()->set_call_id(77);
  req.mutable_request()->set_method("Test.Count");
  transport_->Send(3, 2, Serialize(req));
  transport_->Send(3, 2, Serialize(req));
  env_.RunFor(1'000'000);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(server_->stats().duplicate_requests, 1u);
  ASSERT_EQ(raw.frames.size(), 1u);
  Envelope resp;
  ASSERT_TRUE(resp.ParseFromString(raw.frames[0].second));
  EXPECT_EQ(resp.response().call_id(), 77u);
  EXPECT_EQ(resp.response().payload(), "1");
  transport_->Unregister(3);
}

TEST_P(RpcTest, RaftAndOpaqueBodiesGoToTheirHandlers) {
  std::vector<std::string> got;
  server_->SetRaftHandler([&](NodeId from, uint64_t region, std::string body) {
    got.push_back("raft " + std::to_string(from) + " " + std::to_string(region) + " " + body);
  });
  server_->SetOpaqueHandler([&](NodeId from, uint64_t, std::string body) {
    got.push_back("opaque " + std::to_string(from) + " " + body);
  });
  client_->SendRaft(2, 42, "append");
  env_.RunFor(100'000);
  client_->SendOpaque(2, "blob");
  env_.RunFor(100'000);
  EXPECT_EQ(got, (std::vector<std::string>{"raft 1 42 append", "opaque 1 blob"}));
  // With no handler, bodies are counted and dropped.
  server_->SetRaftHandler(nullptr);
  client_->SendRaft(2, 1, "x");
  env_.RunFor(100'000);
  EXPECT_EQ(server_->stats().unhandled_bodies, 1u);
  EXPECT_EQ(got.size(), 2u);
}

TEST_P(RpcTest, TypedCallsRoundTripProtobufMessages) {
  // RpcCancel is a convenient one-field message: the handler adds one to call_id.
  ASSERT_TRUE((RegisterTypedMethod<RpcCancel, RpcCancel>(
                   *server_, "Test.Inc",
                   [](const RpcContext&, const RpcCancel& req) -> absl::StatusOr<RpcCancel> {
                     RpcCancel out;
                     out.set_call_id(req.call_id() + 1);
                     return out;
                   }))
                  .ok());
  absl::StatusOr<RpcCancel> r;
  absl::StatusOr<std::string> bad;
  RunFiber([&] {
    RpcCancel req;
    req.set_call_id(41);
    r = CallTyped<RpcCancel>(*client_, 2, "Test.Inc", req, 1'000'000);
    // Bytes that are not an RpcCancel answer InvalidArgument.
    bad = client_->CallAndWait(2, "Test.Inc", "\xff\xff", 1'000'000);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->call_id(), 42u);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(RpcTest, StopResolvesPendingCallsAndRefusesNewOnes) {
  ASSERT_TRUE(server_
                  ->RegisterMethod(
                      "Test.Hang",
                      [&](const RpcContext& ctx, std::string_view) -> absl::StatusOr<std::string> {
                        ctx.cancelled().WaitFor(&env_, 10'000'000);
                        return std::string();
                      })
                  .ok());
  auto f = client_->Call(2, "Test.Hang", "", 5'000'000);
  env_.RunFor(10'000);
  client_->Stop();
  ASSERT_TRUE(f.Ready());
  EXPECT_EQ(f.Get().status().code(), absl::StatusCode::kCancelled);
  auto g = client_->Call(2, "Test.Echo", "", 5'000'000);
  ASSERT_TRUE(g.Ready());
  EXPECT_EQ(g.Get().status().code(), absl::StatusCode::kUnavailable);
  // The node id is free again.
  RawNode raw;
  EXPECT_TRUE(transport_->Register(1, &raw).ok());
  transport_->Unregister(1);
}

TEST_P(RpcTest, SecondEndpointForTheSameNodeReportsTheRegistrationError) {
  RpcEndpoint dup(&env_, transport_.get(), 1);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  auto f = dup.Call(2, "Test.Echo", "", 1'000);
  ASSERT_TRUE(f.Ready());
  EXPECT_EQ(f.Get().status().code(), absl::StatusCode::kUnavailable);
}

TEST_P(RpcTest, CallToUnknownNodeTimesOut) {
  auto f = client_->Call(99, "Test.Echo", "", 20'000);
  env_.RunFor(1'000'000);
  ASSERT_TRUE(f.Ready());
  EXPECT_EQ(f.Get().status().code(), absl::StatusCode::kDeadlineExceeded);
}

INSTANTIATE_TEST_SUITE_P(Transports, RpcTest, ::testing::Values(Kind::kLocal, Kind::kSim),
                         KindName);

TEST(RpcSimTest, DuplicatingNetworkStillGivesOneAnswerPerCall) {
  SimEnv env(SimEnvOptions{.seed = 3});
  SimTransportOptions o;
  o.duplicate_probability = 1.0;
  o.reorder_probability = 0.5;
  SimTransport net(&env, o);
  RpcEndpoint a(&env, &net, 1), b(&env, &net, 2);
  ASSERT_TRUE(
      b.RegisterMethod("Test.Echo",
                       [](const RpcContext&, std::string_view req) -> absl::StatusOr<std::string> {
                         return std::string(req);
                       })
          .ok());
  std::vector<Future<absl::StatusOr<std::string>>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(a.Call(2, "Test.Echo", std::to_string(i), 1'000'000));
  env.RunFor(2'000'000);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(fs[i].Ready());
    EXPECT_EQ(fs[i].Get().value_or("error"), std::to_string(i));
  }
  // Every duplicated response after the first was ignored.
  EXPECT_GT(a.stats().stale_responses, 0u);
  EXPECT_EQ(a.stats().calls_succeeded, 100u);
}

TEST(RpcDefaultEnvTest, ConcurrentCallsFromManyFibersAcrossThreads) {
  Env* env = Env::Default();
  LocalTransport net(env);
  constexpr int kNodes = 4;
  constexpr int kCallsPerFiber = 50;
  constexpr int kFibersPerNode = 8;
  std::vector<std::unique_ptr<RpcEndpoint>> eps;
  for (int i = 1; i <= kNodes; ++i) {
    eps.push_back(std::make_unique<RpcEndpoint>(env, &net, i));
    ASSERT_TRUE(eps.back()
                    ->RegisterMethod(
                        "Test.Echo",
                        [](const RpcContext&, std::string_view req) -> absl::StatusOr<std::string> {
                          return std::string(req);
                        })
                    .ok());
  }
  std::atomic<int> ok{0}, wrong{0};
  WaitGroup wg;
  wg.Add(kNodes * kFibersPerNode);
  for (int n = 0; n < kNodes; ++n) {
    for (int f = 0; f < kFibersPerNode; ++f) {
      // wg by value: Done may still be running when Wait returns and the test ends.
      env->Spawn([&, wg, n, f]() mutable {
        for (int i = 0; i < kCallsPerFiber; ++i) {
          NodeId to = 1 + (n + f + i) % kNodes;
          std::string req = std::to_string(n) + "/" + std::to_string(f) + "/" + std::to_string(i);
          auto r = eps[n]->CallAndWait(to, "Test.Echo", req, 10'000'000);
          if (r.ok() && *r == req) {
            ok.fetch_add(1);
          } else {
            wrong.fetch_add(1);
          }
        }
        wg.Done();
      });
    }
  }
  wg.Wait();
  EXPECT_EQ(ok.load(), kNodes * kFibersPerNode * kCallsPerFiber);
  EXPECT_EQ(wrong.load(), 0);
  // Shutdown waits for handler fibers; it must run on a fiber.
  Notification down;
  env->Spawn([&, down]() mutable {
    for (auto& ep : eps) ep->Shutdown();
    down.Notify();
  });
  down.Wait();
}

}  // namespace
}  // namespace rutile::transport
