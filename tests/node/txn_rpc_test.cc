// Transactions over RPC (lib/node/txn_kv_service.h): three in-memory nodes over a
// LocalTransport, each with its own RpcEndpoint, node 1 hosting the PD and nodes 2 and 3
// reaching it (and the deadlock detector it keeps) by RPC, as separate processes would.
// A TxnClient that reaches the cluster only through the transport (TxnClient::Connect)
// commits in every mode across regions and agrees with an in-process client; conflicts,
// locks and deadlocks come back typed; a dead client's locks are resolved over RPC; GC
// runs over RPC; malformed requests change nothing.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "fiber_test_util.h"
#include "gtest/gtest.h"
#include "kvrpcpb.pb.h"
#include "node/txn_kv_service.h"
#include "node/txn_service.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "transport/rpc.h"
#include "txn/errors.h"
#include "util/sync.h"

namespace rutile {
namespace {

constexpr uint64_t kTimeout = 5'000'000;

std::string Key(int i) { return absl::StrFormat("k%03d", i); }

class Cluster {
 public:
  void Open() {
    transport_ = NewLocalTransport(Env::Default());
    std::vector<uint64_t> ids = {1, 2, 3};
    std::vector<Node*> raw;
    for (uint64_t id : ids) {
      NodeOptions o;
      o.id = id;
      o.transport = transport_.get();
      o.host_pd = id == 1;
      if (id != 1) o.pd_node = 1;
      o.initial_stores = ids;
      o.raft_tick_micros = 20'000;
      o.pd_heartbeat_interval_micros = 200'000;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
      ASSERT_TRUE(node.ok()) << node.status();
      raw.push_back(node->get());
      nodes_.push_back(std::move(*node));
    }
    TxnClientOptions co;
    co.timeout_micros = 10'000'000;
    absl::StatusOr<std::unique_ptr<TxnClient>> c =
        TxnClient::Connect(Env::Default(), transport_.get(), 900, 1, co);
    ASSERT_TRUE(c.ok()) << c.status();
    rpc_ = std::move(*c);
    c = TxnClient::Open(raw, co);
    ASSERT_TRUE(c.ok()) << c.status();
    local_ = std::move(*c);
    endpoint_ = std::make_shared<transport::RpcEndpoint>(Env::Default(), transport_.get(), 901);
    ASSERT_TRUE(endpoint_->status().ok());
  }

  void Close() {
    if (endpoint_ != nullptr) endpoint_->Shutdown();
    endpoint_.reset();
    rpc_.reset();
    local_.reset();
    for (auto& n : nodes_) n->Close();
    nodes_.clear();
    transport_.reset();
  }

  TxnClient& rpc() { return *rpc_; }
  TxnClient& local() { return *local_; }
  std::shared_ptr<transport::RpcEndpoint> endpoint() { return endpoint_; }

 private:
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<TxnClient> rpc_;
  std::unique_ptr<TxnClient> local_;
  std::shared_ptr<transport::RpcEndpoint> endpoint_;
};

std::optional<std::string> MustGet(TxnClient& c, const std::string& key) {
  absl::StatusOr<std::unique_ptr<Transaction>> t = c.Begin();
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return std::nullopt;
  absl::StatusOr<std::optional<std::string>> v = (*t)->Get(key);
  EXPECT_TRUE(v.ok()) << key << ": " << v.status();
  return v.ok() ? *v : std::nullopt;
}

TEST(TxnRpcTest, CommitsInEveryModeAcrossRegionsAndAgreesWithInProcessClient) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    ASSERT_TRUE(c.rpc().SplitAt(Key(50)).ok());
    ASSERT_TRUE(c.rpc().SplitAt(Key(50)).ok());  // Already a boundary: no-op.
    struct Mode {
      const char* name;
      TxnOptions options;
    };
    std::vector<Mode> modes = {{"2pc", {}},
                               {"async", {.async_commit = true}},
                               {"1pc", {.try_one_pc = true}},
                               {"pessimistic", {.pessimistic = true}}};
    int round = 0;
    for (const Mode& m : modes) {
      ++round;
      absl::StatusOr<std::unique_ptr<Transaction>> t = c.rpc().Begin(m.options);
      ASSERT_TRUE(t.ok()) << t.status();
      // Keys on both sides of the split (1PC falls back to 2PC across regions), and a
      // long value that lives in CF default.
      ASSERT_TRUE((*t)->Put(Key(10), absl::StrCat(m.name, round)).ok());
      ASSERT_TRUE((*t)->Put(Key(90), std::string(1000, 'a' + round)).ok());
      ASSERT_TRUE((*t)->Delete(Key(11)).ok());
      absl::Status s = (*t)->Commit();
      ASSERT_TRUE(s.ok()) << m.name << ": " << s;
      EXPECT_GT((*t)->commit_ts(), (*t)->start_ts());
      c.rpc().WaitForBackgroundCommits();
      // Single-region 1PC.
      t = c.rpc().Begin(m.options);
      ASSERT_TRUE(t.ok());
      ASSERT_TRUE((*t)->Put(Key(20), m.name).ok());
      ASSERT_TRUE((*t)->Commit().ok()) << m.name;
      c.rpc().WaitForBackgroundCommits();
      for (TxnClient* client : {&c.rpc(), &c.local()}) {
        EXPECT_EQ(MustGet(*client, Key(10)), absl::StrCat(m.name, round)) << m.name;
        EXPECT_EQ(MustGet(*client, Key(90)), std::string(1000, 'a' + round)) << m.name;
        EXPECT_EQ(MustGet(*client, Key(11)), std::nullopt) << m.name;
        EXPECT_EQ(MustGet(*client, Key(20)), m.name) << m.name;
      }
    }
    // Scans over RPC cross the region boundary, forwards.
    absl::StatusOr<std::unique_ptr<Transaction>> t = c.rpc().Begin();
    ASSERT_TRUE(t.ok());
    absl::StatusOr<std::vector<Transaction::KvPair>> scan = (*t)->Scan(Key(0), "");
    ASSERT_TRUE(scan.ok()) << scan.status();
    ASSERT_EQ(scan->size(), 3u);
    EXPECT_EQ((*scan)[0].first, Key(10));
    EXPECT_EQ((*scan)[2].first, Key(90));
    // Batch get.
    absl::StatusOr<std::vector<std::optional<std::string>>> got =
        (*t)->BatchGet({Key(90), Key(11), Key(20)});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)[1], std::nullopt);
    EXPECT_EQ((*got)[2], "pessimistic");
    t->reset();  // Transactions go before their client.
    c.Close();
  });
}

TEST(TxnRpcTest, WriteConflictComesBackTyped) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    absl::StatusOr<std::unique_ptr<Transaction>> a = c.rpc().Begin();
    absl::StatusOr<std::unique_ptr<Transaction>> b = c.rpc().Begin();
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*a)->Put("x", "a").ok());
    ASSERT_TRUE((*b)->Put("x", "b").ok());
    ASSERT_TRUE((*a)->Commit().ok());
    absl::Status s = (*b)->Commit();
    EXPECT_TRUE(absl::IsAborted(s)) << s;
    EXPECT_TRUE(txn::GetTxnErrorAs<txn::WriteConflict>(s).has_value()) << s;
    EXPECT_EQ(MustGet(c.rpc(), "x"), "a");
    // Use after commit.
    EXPECT_TRUE(absl::IsFailedPrecondition((*a)->Put("y", "1")));
    a->reset();
    b->reset();
    c.Close();
  });
}

TEST(TxnRpcTest, LocksOfADeadClientAreResolvedOverRpc) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    ASSERT_TRUE(c.rpc().SplitAt(Key(50)).ok());
    TxnOptions o;
    o.lock_ttl_ms = 50;
    absl::StatusOr<std::unique_ptr<Transaction>> t = c.rpc().Begin(o);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->Put(Key(1), "dead").ok());
    ASSERT_TRUE((*t)->Put(Key(99), "dead").ok());
    ASSERT_TRUE((*t)->impl()->txn->TEST_PrewriteOnlyAndAbandon().ok());
    Env::Default()->SleepForMicros(100'000);
    // A reader meets the locks, finds the primary's lock expired, rolls the transaction
    // back and reads past them.
    EXPECT_EQ(MustGet(c.rpc(), Key(1)), std::nullopt);
    EXPECT_EQ(MustGet(c.rpc(), Key(99)), std::nullopt);
    EXPECT_EQ(MustGet(c.local(), Key(99)), std::nullopt);
    // The keys are free again.
    t = c.rpc().Begin();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->Put(Key(1), "alive").ok());
    ASSERT_TRUE((*t)->Put(Key(99), "alive").ok());
    ASSERT_TRUE((*t)->Commit().ok());
    EXPECT_EQ(MustGet(c.local(), Key(99)), "alive");
    t->reset();
    c.Close();
  });
}

TEST(TxnRpcTest, DeadlockAcrossClientsIsDetected) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    ASSERT_TRUE(c.rpc().SplitAt(Key(50)).ok());
    TxnOptions o;
    o.pessimistic = true;
    o.lock_wait_timeout_ms = 20'000;
    absl::StatusOr<std::unique_ptr<Transaction>> a = c.rpc().Begin(o);
    absl::StatusOr<std::unique_ptr<Transaction>> b = c.rpc().Begin(o);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*a)->LockKeys({Key(10)}).ok());
    ASSERT_TRUE((*b)->LockKeys({Key(90)}).ok());
    const uint64_t start = Env::Default()->NowMicros();
    absl::Status sa;
    WaitGroup wg;
    wg.Add(1);
    Env::Default()->Spawn([&] {
      sa = (*a)->LockKeys({Key(90)});  // Waits for b.
      wg.Done();
    });
    Env::Default()->SleepForMicros(100'000);
    // b closes the cycle a -> b -> a and is the victim; its rollback frees a.
    absl::Status sb = (*b)->LockKeys({Key(10)});
    EXPECT_TRUE(txn::IsDeadlock(sb)) << sb;
    ASSERT_TRUE((*b)->Rollback().ok());
    wg.Wait();
    EXPECT_TRUE(sa.ok()) << sa;
    EXPECT_LT(Env::Default()->NowMicros() - start, 10'000'000u)
        << "detected by the wait-for graph, not by the timeout";
    ASSERT_TRUE((*a)->Commit().ok());
    a->reset();
    b->reset();
    c.Close();
  });
}

TEST(TxnRpcTest, RemoteDeadlockDetectorReachesTheKeeper) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    node::RemoteDeadlockDetector d(c.endpoint(), 1);
    EXPECT_FALSE(d.Detect(1001, 1002));
    EXPECT_TRUE(d.Detect(1002, 1001));  // Closes 1001 -> 1002 -> 1001.
    d.CleanUpWaitFor(1001, 1002);
    EXPECT_FALSE(d.Detect(1002, 1001));
    d.CleanUp(1002);
    EXPECT_FALSE(d.Detect(1001, 1002));
    d.CleanUp(1001);
    // A node that keeps no graph answers Unimplemented: no deadlock, never an error.
    node::RemoteDeadlockDetector none(c.endpoint(), 2);
    EXPECT_FALSE(none.Detect(1, 2));
    EXPECT_FALSE(none.Detect(2, 1));
    c.Close();
  });
}

TEST(TxnRpcTest, GcOverRpc) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::unique_ptr<Transaction>> t = c.rpc().Begin();
      ASSERT_TRUE(t.ok());
      ASSERT_TRUE((*t)->Put("g", absl::StrCat(i)).ok());
      ASSERT_TRUE((*t)->Commit().ok());
    }
    absl::StatusOr<uint64_t> now = c.rpc().CurrentTimestamp();
    ASSERT_TRUE(now.ok());
    absl::StatusOr<uint64_t> removed = c.rpc().Gc(*now);
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_EQ(*removed, 2u);
    absl::StatusOr<uint64_t> sp = c.rpc().GcSafePoint();
    ASSERT_TRUE(sp.ok());
    EXPECT_EQ(*sp, *now);
    EXPECT_EQ(MustGet(c.rpc(), "g"), "2");
    // A stale read below the safe point is refused.
    TxnOptions o;
    o.read_ts = *now - 1;
    EXPECT_TRUE(absl::IsFailedPrecondition(c.rpc().Begin(o).status()));
    c.Close();
  });
}

TEST(TxnRpcTest, MalformedRequestsAreRejected) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    ASSERT_TRUE(MustGet(c.rpc(), "m") == std::nullopt);
    // No region.
    kvrpcpb::PrewriteRequest req;
    kvrpcpb::Mutation* m = req.add_mutations();
    m->set_key("m");
    m->set_value("v");
    req.set_primary("m");
    req.set_start_ts(1);
    absl::StatusOr<kvrpcpb::PrewriteResponse> r = transport::CallTyped<kvrpcpb::PrewriteResponse>(
        *c.endpoint(), 1, node::kPrewriteMethod, req, kTimeout);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    // An unknown mutation op, in a real region.
    req.mutable_context()->set_region_id(1);
    req.mutable_context()->mutable_region_epoch()->set_version(1);
    req.mutable_context()->mutable_region_epoch()->set_conf_ver(1);
    m->set_op(77);
    for (uint64_t store : {1, 2, 3}) {
      r = transport::CallTyped<kvrpcpb::PrewriteResponse>(*c.endpoint(), store,
                                                          node::kPrewriteMethod, req, kTimeout);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(absl::IsInvalidArgument(node::StatusFromProto(r->error())))
          << r->error().message();
    }
    // Garbage bytes.
    absl::StatusOr<std::string> raw =
        c.endpoint()->CallAndWait(1, node::kCommitMethod, "\xff\xff\xff", kTimeout);
    EXPECT_TRUE(absl::IsInvalidArgument(raw.status())) << raw.status();
    EXPECT_EQ(MustGet(c.rpc(), "m"), std::nullopt);
    c.Close();
  });
}

TEST(TxnRpcTest, StatusRoundTripsWithPayloads) {
  absl::Status s = txn::MakeTxnError(txn::WriteConflict{1, 2, 3, "k", "p"});
  s.SetPayload("type.example/other", absl::Cord("x"));
  kvrpcpb::ErrorStatus e;
  node::StatusToProto(s, &e);
  absl::Status back = node::StatusFromProto(e);
  EXPECT_EQ(back, s);
  node::StatusToProto(absl::OkStatus(), &e);
  EXPECT_TRUE(node::StatusFromProto(kvrpcpb::ErrorStatus()).ok());
  e.set_code(12345);
  EXPECT_EQ(node::StatusFromProto(e).code(), absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace rutile
