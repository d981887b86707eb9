// The Transport conformance suite: what every rutile::Transport must do, checked the same
// way against LocalTransport, SimTransport and GrpcTransport (TiKV engine_traits' habit,
// as tests/storage/engine_conformance_test.cc does for engines).
//
// To run it against a transport, write a factory type with
//
//   static constexpr const char* kName = "Local";
//   static std::unique_ptr<TransportWorld> Make(const std::vector<NodeId>& nodes);
//
// where the world connects the given node ids (Make is called once per test), then, in
// namespace rutile::transport::testing (where the suite is registered),
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(Local, TransportConformanceTest,
//                                  ::testing::Types<LocalWorldFactory>);
//
// Tests talk to the world only through Env time: under a SimEnv they drive the simulation
// with RunUntil/RunFor; under a threaded Env (Env::Default(), gRPC) they poll and wait on
// the Env with timeouts. Sends happen from the test thread, in windows, so a transport
// with a bounded send queue is not overrun.

#ifndef RUTILE_TESTS_TRANSPORT_TRANSPORT_CONFORMANCE_H_
#define RUTILE_TESTS_TRANSPORT_TRANSPORT_CONFORMANCE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rutile/env.h"
#include "rutile/transport.h"
#include "transport/filter.h"
#include "util/sync.h"

namespace rutile::transport::testing {

// Waits until `done()` holds or `timeout_micros` of `env` time pass; returns done(). Under
// a SimEnv it runs the simulation (call it from the SimEnv's thread, outside its fibers);
// otherwise it polls every millisecond of Env time.
inline bool WaitOnEnv(Env* env, const std::function<bool()>& done, uint64_t timeout_micros) {
  if (env->IsSimulated()) return static_cast<SimEnv*>(env)->RunUntil(done, timeout_micros);
  const uint64_t deadline = env->NowMicros() + timeout_micros;
  while (!done()) {
    if (env->NowMicros() >= deadline) return done();
    Notification never;
    never.WaitFor(env, 1000);
  }
  return true;
}

// Lets `micros` of `env` time pass (running the simulation under a SimEnv).
inline void PassTime(Env* env, uint64_t micros) {
  if (env->IsSimulated()) {
    static_cast<SimEnv*>(env)->RunFor(micros);
  } else {
    Notification never;
    never.WaitFor(env, micros);
  }
}

// The transports under test, connecting a fixed set of node ids.
class TransportWorld {
 public:
  virtual ~TransportWorld() = default;

  virtual Env* env() = 0;

  // The transport node `id` registers on and sends through (one shared hub for
  // Local/Sim; each node's own for gRPC). `id` is one of the world's nodes.
  virtual Transport* transport(NodeId id) = 0;

  // The largest frame the transports deliver; one byte more is dropped and counted.
  virtual size_t max_frame_bytes() = 0;

  // Whether frames of one sender→receiver pair arrive in the order sent.
  virtual bool fifo_per_pair() = 0;

  // Counters summed over the world's transports.
  virtual uint64_t delivered() = 0;
  virtual uint64_t dropped_too_large() = 0;
  virtual uint64_t dropped_unknown_node() = 0;

  // A node id no transport of the world can reach.
  virtual NodeId unknown_node() { return 1'000'003; }

  // How long a test waits for frames that should arrive, in Env microseconds.
  virtual uint64_t delivery_timeout_micros() { return 30'000'000; }

  // How long a test watches for frames that must not arrive.
  virtual uint64_t quiet_period_micros() { return 200'000; }

  virtual bool WaitUntil(const std::function<bool()>& done, uint64_t timeout_micros) {
    return WaitOnEnv(env(), done, timeout_micros);
  }
  virtual void RunFor(uint64_t micros) { PassTime(env(), micros); }
};

// A world over one in-process hub (LocalTransport or SimTransport, which share the Stats
// and max_frame_bytes shape), on its own seeded SimEnv or on Env::Default().
template <typename Hub>
class HubWorld : public TransportWorld {
 public:
  HubWorld(bool simulated, uint64_t seed, const std::function<std::unique_ptr<Hub>(Env*)>& make) {
    if (simulated) {
      sim_ = std::make_unique<SimEnv>(SimEnvOptions{.seed = seed});
      env_ = sim_.get();
    } else {
      env_ = Env::Default();
    }
    transport_ = make(env_);
  }
  Env* env() override { return env_; }
  Transport* transport(NodeId) override { return transport_.get(); }
  size_t max_frame_bytes() override { return transport_->max_frame_bytes(); }
  bool fifo_per_pair() override { return true; }
  uint64_t delivered() override { return transport_->Stats().delivered; }
  uint64_t dropped_too_large() override {
    return transport_->Stats().Dropped(DropReason::kTooLarge);
  }
  uint64_t dropped_unknown_node() override {
    return transport_->Stats().Dropped(DropReason::kUnknownNode);
  }

 private:
  // Declared first, destroyed last: the transport goes before its Env.
  std::unique_ptr<SimEnv> sim_;
  Env* env_ = nullptr;
  std::unique_ptr<Hub> transport_;
};

// Records every frame it gets. Safe to use from any thread.
class RecordingReceiver : public FrameReceiver {
 public:
  void OnFrame(NodeId from, std::string frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    frames_.emplace_back(from, std::move(frame));
    count_.fetch_add(1, std::memory_order_release);
  }

  size_t count() const { return count_.load(std::memory_order_acquire); }

  std::vector<std::pair<NodeId, std::string>> frames() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<NodeId, std::string>> frames_;
  std::atomic<size_t> count_{0};
};

// Replies to every frame with the same bytes, from inside OnFrame, `rounds` times in all.
class EchoReceiver : public FrameReceiver {
 public:
  EchoReceiver(Transport* transport, NodeId self) : transport_(transport), self_(self) {}
  void OnFrame(NodeId from, std::string frame) override {
    count_.fetch_add(1, std::memory_order_acq_rel);
    transport_->Send(self_, from, std::move(frame));
  }
  size_t count() const { return count_.load(std::memory_order_acquire); }

 private:
  Transport* transport_;
  NodeId self_;
  std::atomic<size_t> count_{0};
};

template <typename Factory>
class TransportConformanceTest : public ::testing::Test {
 protected:
  void MakeWorld(std::vector<NodeId> nodes) {
    nodes_ = std::move(nodes);
    world_ = Factory::Make(nodes_);
    ASSERT_NE(world_, nullptr);
  }
  void MakeWorld(int n) {
    std::vector<NodeId> nodes;
    for (int i = 1; i <= n; ++i) nodes.push_back(static_cast<NodeId>(i));
    MakeWorld(std::move(nodes));
  }

  // Registers a RecordingReceiver for every node.
  void RegisterAll() {
    for (NodeId id : nodes_) {
      receivers_[id] = std::make_unique<RecordingReceiver>();
      ASSERT_TRUE(world_->transport(id)->Register(id, receivers_[id].get()).ok());
    }
  }

  void UnregisterAll() {
    for (NodeId id : nodes_) world_->transport(id)->Unregister(id);
  }

  bool WaitForCount(NodeId id, size_t n) {
    RecordingReceiver* r = receivers_[id].get();
    return world_->WaitUntil([r, n] { return r->count() >= n; }, world_->delivery_timeout_micros());
  }

  TransportWorld* world() { return world_.get(); }

  // Declared before world_ so it is destroyed after it: transports never outlive
  // receivers still registered with them.
  std::map<NodeId, std::unique_ptr<RecordingReceiver>> receivers_;
  std::vector<NodeId> nodes_;
  std::unique_ptr<TransportWorld> world_;
};

TYPED_TEST_SUITE_P(TransportConformanceTest);

TYPED_TEST_P(TransportConformanceTest, RegisterRejectsIdZeroAndDuplicates) {
  this->MakeWorld(2);
  Transport* t = this->world()->transport(1);
  RecordingReceiver a, b;
  EXPECT_EQ(t->Register(0, &a).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(t->Register(1, &a).ok());
  EXPECT_EQ(t->Register(1, &b).code(), absl::StatusCode::kAlreadyExists);
  t->Unregister(1);
  // After Unregister the id is free again.
  ASSERT_TRUE(t->Register(1, &b).ok());
  t->Unregister(1);
  // Unregistering an unknown node is harmless.
  t->Unregister(1);
}

TYPED_TEST_P(TransportConformanceTest, DeliversTenThousandFramesAmongEightNodes) {
  this->MakeWorld(8);
  this->RegisterAll();
  TransportWorld* w = this->world();
  const std::vector<NodeId>& nodes = this->nodes_;
  constexpr int kFrames = 10'000;
  constexpr int kWindow = 500;
  // Every ordered pair of distinct nodes, round robin; each frame says who sent it to whom
  // and its sequence number within the pair.
  std::vector<std::pair<NodeId, NodeId>> pairs;
  for (NodeId a : nodes) {
    for (NodeId b : nodes) {
      if (a != b) pairs.emplace_back(a, b);
    }
  }
  std::map<std::pair<NodeId, NodeId>, int> next_seq;
  std::map<NodeId, size_t> expected;
  for (int i = 0; i < kFrames; i += kWindow) {
    for (int j = i; j < i + kWindow && j < kFrames; ++j) {
      auto [from, to] = pairs[j % pairs.size()];
      int seq = next_seq[{from, to}]++;
      std::string frame = std::to_string(from) + ":" + std::to_string(to) + ":" +
                          std::to_string(seq) + ":" + std::string(j % 97, 'x');
      ++expected[to];
      w->transport(from)->Send(from, to, std::move(frame));
    }
    // Wait for the window before sending the next, so bounded queues are not overrun.
    for (NodeId id : nodes) ASSERT_TRUE(this->WaitForCount(id, expected[id])) << "node " << id;
  }
  w->RunFor(w->quiet_period_micros());
  size_t total = 0;
  for (NodeId id : nodes) {
    auto frames = this->receivers_[id]->frames();
    EXPECT_EQ(frames.size(), expected[id]) << "node " << id;
    total += frames.size();
    std::map<NodeId, int> last_seq;
    for (const auto& [from, bytes] : frames) {
      // Parse "from:to:seq:padding".
      size_t c1 = bytes.find(':');
      size_t c2 = bytes.find(':', c1 + 1);
      size_t c3 = bytes.find(':', c2 + 1);
      ASSERT_NE(c3, std::string::npos) << bytes;
      NodeId f = std::stoull(bytes.substr(0, c1));
      NodeId t = std::stoull(bytes.substr(c1 + 1, c2 - c1 - 1));
      int seq = std::stoi(bytes.substr(c2 + 1, c3 - c2 - 1));
      EXPECT_EQ(f, from) << "the transport names the sender";
      EXPECT_EQ(t, id) << "delivered to the addressee";
      if (w->fifo_per_pair()) {
        auto it = last_seq.find(from);
        int want = it == last_seq.end() ? 0 : it->second + 1;
        EXPECT_EQ(seq, want) << "pair " << from << "->" << id << " out of order";
      }
      last_seq[from] = seq;
    }
  }
  EXPECT_EQ(total, static_cast<size_t>(kFrames));
  EXPECT_GE(w->delivered(), static_cast<uint64_t>(kFrames));
  this->UnregisterAll();
}

TYPED_TEST_P(TransportConformanceTest, FramesUpToTheSizeLimitArriveAndLargerOnesAreDropped) {
  this->MakeWorld(2);
  this->RegisterAll();
  TransportWorld* w = this->world();
  const size_t limit = w->max_frame_bytes();
  ASSERT_GT(limit, 16u);
  Transport* t = w->transport(1);
  std::vector<size_t> sizes = {0, 1, 1000, limit - 1, limit};
  for (size_t i = 0; i < sizes.size(); ++i) {
    t->Send(1, 2, std::string(sizes[i], static_cast<char>('a' + i)));
  }
  ASSERT_TRUE(this->WaitForCount(2, sizes.size()));
  auto frames = this->receivers_[2]->frames();
  ASSERT_EQ(frames.size(), sizes.size());
  std::multiset<size_t> got, want(sizes.begin(), sizes.end());
  for (const auto& [from, bytes] : frames) {
    EXPECT_EQ(from, 1u);
    got.insert(bytes.size());
    if (!bytes.empty()) {
      // Content intact: every byte is the marker of that size.
      EXPECT_EQ(bytes.find_first_not_of(bytes[0]), std::string::npos);
    }
  }
  EXPECT_EQ(got, want);

  const uint64_t too_large_before = w->dropped_too_large();
  t->Send(1, 2, std::string(limit + 1, 'z'));
  EXPECT_TRUE(w->WaitUntil([&] { return w->dropped_too_large() == too_large_before + 1; },
                           w->delivery_timeout_micros()));
  // The transport still works afterwards.
  t->Send(1, 2, "after");
  ASSERT_TRUE(this->WaitForCount(2, sizes.size() + 1));
  w->RunFor(w->quiet_period_micros());
  frames = this->receivers_[2]->frames();
  ASSERT_EQ(frames.size(), sizes.size() + 1) << "the oversized frame must not arrive";
  EXPECT_EQ(frames.back().second, "after");
  EXPECT_EQ(w->dropped_too_large(), too_large_before + 1);
  this->UnregisterAll();
}

TYPED_TEST_P(TransportConformanceTest, UnregisterStopsDelivery) {
  this->MakeWorld(2);
  this->RegisterAll();
  TransportWorld* w = this->world();
  w->transport(1)->Send(1, 2, "before");
  ASSERT_TRUE(this->WaitForCount(2, 1));
  w->transport(2)->Unregister(2);
  for (int i = 0; i < 10; ++i) w->transport(1)->Send(1, 2, "while-unregistered");
  w->RunFor(w->quiet_period_micros());
  EXPECT_EQ(this->receivers_[2]->count(), 1u);

  // A new registration gets frames sent after it.
  RecordingReceiver again;
  ASSERT_TRUE(w->transport(2)->Register(2, &again).ok());
  w->transport(1)->Send(1, 2, "after");
  ASSERT_TRUE(w->WaitUntil([&] { return again.count() >= 1; }, w->delivery_timeout_micros()));
  w->RunFor(w->quiet_period_micros());
  auto frames = again.frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().second, "after");
  for (const auto& f : frames) EXPECT_NE(f.second, "before");
  EXPECT_EQ(this->receivers_[2]->count(), 1u);
  w->transport(2)->Unregister(2);
  w->transport(1)->Unregister(1);
}

TYPED_TEST_P(TransportConformanceTest, SendToUnknownNodeIsDroppedAndCounted) {
  this->MakeWorld(2);
  this->RegisterAll();
  TransportWorld* w = this->world();
  const uint64_t before = w->dropped_unknown_node();
  w->transport(1)->Send(1, w->unknown_node(), "nobody");
  EXPECT_TRUE(w->WaitUntil([&] { return w->dropped_unknown_node() >= before + 1; },
                           w->delivery_timeout_micros()));
  // Known nodes are unaffected.
  w->transport(1)->Send(1, 2, "somebody");
  ASSERT_TRUE(this->WaitForCount(2, 1));
  EXPECT_EQ(this->receivers_[1]->count(), 0u);
  this->UnregisterAll();
}

TYPED_TEST_P(TransportConformanceTest, ReceiverMaySendFromOnFrame) {
  this->MakeWorld(2);
  TransportWorld* w = this->world();
  // Node 1 and node 2 echo each other's frame: 200 hops, each sent from inside OnFrame.
  constexpr size_t kHops = 200;
  struct Bouncer : FrameReceiver {
    Transport* t;
    NodeId self;
    std::atomic<size_t>* hops;
    void OnFrame(NodeId from, std::string frame) override {
      if (hops->fetch_add(1) + 1 < kHops) t->Send(self, from, std::move(frame));
    }
  };
  std::atomic<size_t> hops{0};
  Bouncer b1, b2;
  b1.t = w->transport(1), b1.self = 1, b1.hops = &hops;
  b2.t = w->transport(2), b2.self = 2, b2.hops = &hops;
  ASSERT_TRUE(w->transport(1)->Register(1, &b1).ok());
  ASSERT_TRUE(w->transport(2)->Register(2, &b2).ok());
  w->transport(1)->Send(1, 2, "ball");
  EXPECT_TRUE(w->WaitUntil([&] { return hops.load() >= kHops; }, w->delivery_timeout_micros()));
  w->RunFor(w->quiet_period_micros());
  EXPECT_EQ(hops.load(), kHops);
  w->transport(1)->Unregister(1);
  w->transport(2)->Unregister(2);
}

REGISTER_TYPED_TEST_SUITE_P(TransportConformanceTest, RegisterRejectsIdZeroAndDuplicates,
                            DeliversTenThousandFramesAmongEightNodes,
                            FramesUpToTheSizeLimitArriveAndLargerOnesAreDropped,
                            UnregisterStopsDelivery, SendToUnknownNodeIsDroppedAndCounted,
                            ReceiverMaySendFromOnFrame);

}  // namespace rutile::transport::testing

#endif  // RUTILE_TESTS_TRANSPORT_TRANSPORT_CONFORMANCE_H_
