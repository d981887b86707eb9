// The txn client's routing retries must let virtual time pass. Stale NotLeader hints can
// point in a circle (store 1 names store 3, store 3 names store 2, which is down), and
// in-process answers take no time: retrying each hint at once forever spun the client at
// one virtual instant, so its deadline never came (txn sim seed 1001137 hung in a
// pessimistic transaction's primary commit). Here a fake cluster answers exactly that way
// and the client must give up with DeadlineExceeded once its timeout passed, for a point
// read (WithRegion), a batch read and a commit (ForEachGroup). The same holds for the
// loops that retry a request after resolving the locks it met: a lock that stays after
// its transaction was found committed and resolved must not make a read spin.
//
// In process, one attempt waits for the store's Raft answer no longer than the client's
// attempt timeout and never past the call's deadline (it was a fixed 3 s), on a simulated
// cluster whose leader is cut off; and bad timing options are rejected.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/node_internal.h"
#include "node/txn_service.h"
#include "raftstore/errors.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/simulation.h"
#include "txn/client/txn_client.h"
#include "txn/errors.h"
#include "txn/region_store.h"
#include "txn/types.h"

namespace rutile::txn::client {
namespace {

// More attempts than this at one virtual instant is a spin: the fake then fails the call
// with a non-retryable error, so a regression fails the test instead of hanging it.
constexpr int kSpinLimit = 10'000;

// Every command answers Answer(); CheckTxnStatus and ResolveLock answer as the scenario
// says. Counts attempts, and fails a call (not retryable) on a spin.
class FakeService : public TxnService {
 public:
  explicit FakeService(Env* env) : env_(env) {}
  int attempts() const { return attempts_; }

  absl::StatusOr<std::optional<std::string>> Get(const RegionContext&, const std::string&,
                                                 TimeStamp, const TxnReadOptions&) override {
    return Counted();
  }
  absl::StatusOr<std::vector<KvPair>> BatchGet(const RegionContext&,
                                               const std::vector<std::string>&, TimeStamp,
                                               const TxnReadOptions&) override {
    return Counted();
  }
  absl::StatusOr<std::vector<KvPair>> Scan(const RegionContext&, const ScanOptions&) override {
    return Counted();
  }
  absl::StatusOr<PrewriteResponse> Prewrite(const RegionContext&, const PrewriteRequest&) override {
    return Counted();
  }
  absl::Status Commit(const RegionContext&, const CommitRequest&) override { return Counted(); }
  absl::Status Rollback(const RegionContext&, const RollbackRequest&) override { return Counted(); }
  absl::StatusOr<TxnStatus> CheckTxnStatus(const RegionContext&,
                                           const CheckTxnStatusRequest&) override {
    absl::Status s = Spin();
    if (!s.ok() || !committed_at_.has_value()) return s.ok() ? Answer() : s;
    TxnStatus st;
    st.kind = TxnStatus::Kind::kCommitted;
    st.commit_ts = *committed_at_;
    return st;
  }
  absl::StatusOr<uint64_t> TxnHeartBeat(const RegionContext&, const TxnHeartBeatRequest&) override {
    return Counted();
  }
  absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(
      const RegionContext&, const CheckSecondaryLocksRequest&) override {
    return Counted();
  }
  absl::StatusOr<ResolveLockResponse> ResolveLock(const RegionContext&,
                                                  const ResolveLockRequest&) override {
    absl::Status s = Spin();
    if (!s.ok() || !committed_at_.has_value()) return s.ok() ? Answer() : s;
    return ResolveLockResponse{};
  }
  absl::StatusOr<std::vector<LockInfo>> ScanLock(const RegionContext&,
                                                 const ScanLockRequest&) override {
    return Counted();
  }
  absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
      const RegionContext&, const AcquirePessimisticLockRequest&, uint64_t) override {
    return Counted();
  }
  absl::Status PessimisticRollback(const RegionContext&,
                                   const PessimisticRollbackRequest&) override {
    return Counted();
  }
  absl::StatusOr<GcStats> Gc(const RegionContext&, TimeStamp) override { return Counted(); }

 protected:
  virtual absl::Status Answer() = 0;
  // Set: CheckTxnStatus says the lock's transaction committed at this timestamp, and
  // ResolveLock succeeds.
  std::optional<TimeStamp> committed_at_;

 private:
  absl::Status Counted() {
    absl::Status s = Spin();
    return s.ok() ? Answer() : s;
  }
  absl::Status Spin() {
    ++attempts_;
    const uint64_t now = env_->NowMicros();
    if (now != spin_at_) {
      spin_at_ = now;
      spin_ = 0;
    }
    if (++spin_ > kSpinLimit) {
      return absl::InternalError("the client retried without letting virtual time pass");
    }
    return absl::OkStatus();
  }

  Env* const env_;
  int attempts_ = 0;
  uint64_t spin_at_ = 0;
  int spin_ = 0;
};

// Answers NotLeader naming `hint_store`.
class StaleLeaderService final : public FakeService {
 public:
  StaleLeaderService(Env* env, uint64_t region_id, uint64_t hint_store)
      : FakeService(env), region_id_(region_id) {
    hint_.set_id(hint_store * 10 + region_id);
    hint_.set_store_id(hint_store);
  }

 private:
  absl::Status Answer() override { return raftstore::NotLeaderError(region_id_, &hint_); }

  const uint64_t region_id_;
  metapb::Peer hint_;
};

// Every read meets the same lock of a transaction that committed; resolving it
// "succeeds", yet the lock is there again on the next read.
class StubbornLockService final : public FakeService {
 public:
  explicit StubbornLockService(Env* env) : FakeService(env) {
    committed_at_ = ComposeTs(1, 5);
    lock_.key = "k";
    lock_.primary = "k";
    lock_.lock_version = ComposeTs(1, 1);
    lock_.lock_ttl = 3'000;
  }

 private:
  absl::Status Answer() override { return MakeTxnError(KeyIsLocked{{lock_}}); }

  LockInfo lock_;
};

// One region over every key, replicas on stores 1..3, PD naming `pd_leader` as its
// leader; `services[i]` serves store i + 1 (null: the store is down).
class FakeCluster final : public ClusterAccess {
 public:
  FakeCluster(Env* env, uint64_t pd_leader, std::vector<TxnService*> services)
      : env_(env), pd_leader_(pd_leader), services_(std::move(services)) {
    region_.set_id(1);
    region_.mutable_region_epoch()->set_conf_ver(1);
    region_.mutable_region_epoch()->set_version(1);
    for (uint64_t s = 1; s <= services_.size(); ++s) {
      metapb::Peer* p = region_.add_peers();
      p->set_id(s * 10 + 1);
      p->set_store_id(s);
    }
  }

  Env* env() override { return env_; }
  absl::StatusOr<TimeStamp> GetTimestamp() override {
    return ComposeTs(env_->NowMicros() / 1000 + 1, ++logical_);
  }
  absl::StatusOr<RegionRoute> GetRegionByKey(const std::string&) override {
    return RegionRoute{region_, pd_leader_};
  }
  std::vector<RegionRoute> Regions() override { return {RegionRoute{region_, pd_leader_}}; }
  TxnService* Store(uint64_t id) override {
    return id >= 1 && id <= services_.size() ? services_[id - 1] : nullptr;
  }
  absl::StatusOr<TimeStamp> GetGcSafePoint() override { return 0; }
  absl::StatusOr<TimeStamp> UpdateGcSafePoint(TimeStamp sp) override { return sp; }

 private:
  Env* const env_;
  const uint64_t pd_leader_;
  const std::vector<TxnService*> services_;
  metapb::Region region_;
  uint64_t logical_ = 0;
};

TEST(TxnClientRetryTest, CircularStaleLeaderHintsBackOffUntilTheDeadline) {
  testing::Simulation sim(7);
  Env* env = sim.env();
  // Store 2 is down and is what PD and store 3 name as the leader; store 1 names store 3.
  StaleLeaderService s1(env, 1, 3);
  StaleLeaderService s3(env, 1, 2);
  FakeCluster cluster(env, 2, {&s1, nullptr, &s3});
  constexpr uint64_t kTimeout = 1'000'000;
  Client client(&cluster, ClientOptions{.timeout_micros = kTimeout});
  absl::Status get_status;
  absl::Status batch_status;
  absl::Status commit_status;
  uint64_t get_took = 0;
  bool done = false;
  env->Spawn([&] {
    absl::StatusOr<std::unique_ptr<Txn>> txn = client.Begin(BeginOptions{});
    ASSERT_TRUE(txn.ok()) << txn.status();
    const uint64_t start = env->NowMicros();
    get_status = (*txn)->Get("k").status();
    get_took = env->NowMicros() - start;
    batch_status = (*txn)->BatchGet({"a", "b"}).status();
    ASSERT_TRUE((*txn)->Put("k", "v").ok());
    commit_status = (*txn)->Commit();
    done = true;
  });
  ASSERT_TRUE(sim.RunUntil([&] { return done; }, 60'000'000)) << "the client hung";
  // Each gave up at its deadline, after backing off, instead of spinning.
  EXPECT_TRUE(absl::IsDeadlineExceeded(get_status)) << get_status;
  EXPECT_GE(get_took, kTimeout);
  EXPECT_TRUE(absl::IsDeadlineExceeded(batch_status)) << batch_status;
  EXPECT_FALSE(commit_status.ok());
  EXPECT_FALSE(absl::IsInternal(commit_status)) << commit_status;
  // A backoff at least every few immediate retries: a bounded number of attempts.
  const int attempts = s1.attempts() + s3.attempts();
  EXPECT_LT(attempts, 2'000) << "attempts " << attempts;
}

TEST(TxnClientRetryTest, ReadsRetryingAfterResolvingLocksBackOffUntilTheDeadline) {
  testing::Simulation sim(8);
  Env* env = sim.env();
  StubbornLockService svc(env);
  FakeCluster cluster(env, 1, {&svc});
  constexpr uint64_t kTimeout = 1'000'000;
  Client client(&cluster, ClientOptions{.timeout_micros = kTimeout});
  absl::Status get_status;
  absl::Status batch_status;
  absl::Status scan_status;
  bool done = false;
  env->Spawn([&] {
    absl::StatusOr<std::unique_ptr<Txn>> txn = client.Begin(BeginOptions{});
    ASSERT_TRUE(txn.ok()) << txn.status();
    get_status = (*txn)->Get("k").status();
    batch_status = (*txn)->BatchGet({"k"}).status();
    scan_status = (*txn)->Scan("a", "z", 0).status();
    done = true;
  });
  ASSERT_TRUE(sim.RunUntil([&] { return done; }, 60'000'000)) << "the client hung";
  EXPECT_TRUE(absl::IsDeadlineExceeded(get_status)) << get_status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(batch_status)) << batch_status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(scan_status)) << scan_status;
  EXPECT_LT(svc.attempts(), 2'000) << "attempts " << svc.attempts();
}

// An in-process client on a simulated 3-node cluster (stores reached directly, as
// TxnClient::Open does).
absl::StatusOr<std::unique_ptr<TxnClient>> OpenInProcess(rutile::testing::TestCluster& c,
                                                         const TxnClientOptions& options) {
  rutile::testing::TestCluster* cp = &c;
  return node::TxnAccess::Open(
      c.env(), c.pd(),
      [cp](uint64_t id) -> std::shared_ptr<raftstore::Store> {
        Node* n = cp->node(id);
        return n == nullptr ? nullptr : node::StoreOf(node::Access::ImplOf(n).get());
      },
      options);
}

TEST(TxnClientTimeoutTest, InProcessAttemptsEndAtTheAttemptTimeoutOrTheDeadline) {
  rutile::testing::TestClusterOptions o;
  o.nodes = 3;
  o.sim.seed = 31;
  o.replicated_pd = false;  // PD beside the nodes: the leader's isolation does not touch it.
  o.manual_replication = true;
  rutile::testing::TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  // `fast_retry` gives up on a store after 300 ms; `short_call` has 1 s per call.
  absl::StatusOr<std::unique_ptr<TxnClient>> fast_retry =
      OpenInProcess(c, TxnClientOptions{.attempt_timeout_micros = 300'000});
  absl::StatusOr<std::unique_ptr<TxnClient>> short_call =
      OpenInProcess(c, TxnClientOptions{.timeout_micros = 1'000'000});
  ASSERT_TRUE(fast_retry.ok()) << fast_retry.status();
  ASSERT_TRUE(short_call.ok()) << short_call.status();
  auto commit = [&](TxnClient& client, const std::string& value, uint64_t* took) {
    const uint64_t start = c.env()->NowMicros();
    absl::StatusOr<std::unique_ptr<Transaction>> t = client.Begin(TxnOptions{});
    if (!t.ok()) return t.status();
    absl::Status s = (*t)->Put("k", value);
    if (s.ok()) s = (*t)->Commit();
    *took = c.env()->NowMicros() - start;
    return s;
  };
  uint64_t leader = 0;
  uint64_t took = 0;
  ASSERT_TRUE(c.Run([&] {
    // Both clients cache the region and its leader.
    ASSERT_TRUE(commit(**fast_retry, "1", &took).ok());
    ASSERT_TRUE(commit(**short_call, "2", &took).ok());
    leader = c.Regions().at(0).leader_store;
  }));
  ASSERT_NE(leader, 0u);
  // Cut off, the leader's proposals never commit: an attempt there waits out its timeout.
  c.sim()->Isolate(leader);
  absl::Status short_status;
  uint64_t short_took = 0;
  absl::Status fast_status;
  uint64_t fast_took = 0;
  ASSERT_TRUE(c.Run([&] {
    short_status = commit(**short_call, "3", &short_took);
    fast_status = commit(**fast_retry, "4", &fast_took);
  })) << c.SeedMessage();
  // The 1 s call gave up at its deadline (a prewrite's failure, so no commit happened),
  // then its rollback (a call of its own) waited for the key's latch no longer than 1 s
  // either: the stuck prewrite keeps it until its outcome is known.
  EXPECT_FALSE(short_status.ok());
  EXPECT_GE(short_took, 1'000'000u) << c.SeedMessage();
  EXPECT_LT(short_took, 2'500'000u) << short_status << " " << c.SeedMessage();
  // After 300 ms at the cut-off leader (waiting for the latch the stuck prewrite holds),
  // the other replicas (a new leader among them).
  EXPECT_TRUE(fast_status.ok()) << fast_status << " " << c.SeedMessage();
  EXPECT_LT(fast_took, 3'000'000u) << c.SeedMessage();
  c.Heal();
}

TEST(TxnClientTimeoutTest, BadTimingOptionsAreRejected) {
  rutile::testing::TestClusterOptions o;
  o.nodes = 1;
  o.sim.seed = 32;
  o.replicated_pd = false;
  rutile::testing::TestCluster c(o);
  ASSERT_TRUE(c.Start().ok()) << c.SeedMessage();
  const TxnClientOptions bad[] = {
      {.timeout_micros = 0},
      {.backoff_first_micros = 0},
      {.backoff_first_micros = 10'000, .backoff_max_micros = 5'000},
      {.attempt_timeout_micros = 0},
  };
  for (const TxnClientOptions& opts : bad) {
    absl::StatusOr<std::unique_ptr<TxnClient>> client = OpenInProcess(c, opts);
    EXPECT_TRUE(absl::IsInvalidArgument(client.status())) << client.status();
  }
  EXPECT_TRUE(OpenInProcess(c, TxnClientOptions{}).ok());
}

}  // namespace
}  // namespace rutile::txn::client
