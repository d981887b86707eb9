// The txn client's routing retries must let virtual time pass. Stale NotLeader hints can
// point in a circle (store 1 names store 3, store 3 names store 2, which is down), and
// in-process answers take no time: retrying each hint at once forever spun the client at
// one virtual instant, so its deadline never came (txn sim seed 1001137 hung in a
// pessimistic transaction's primary commit). Here a fake cluster answers exactly that way
// and the client must give up with DeadlineExceeded once its timeout passed, for a point
// read (WithRegion), a batch read and a commit (ForEachGroup). The same holds for the
// loops that retry a request after resolving the locks it met: a lock that stays after
// its transaction was found committed and resolved must not make a read spin.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raftstore/errors.h"
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

}  // namespace
}  // namespace rutile::txn::client
