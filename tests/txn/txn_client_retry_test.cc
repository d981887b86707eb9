// The txn client's routing retries must let virtual time pass. Stale NotLeader hints can
// point in a circle (store 1 names store 3, store 3 names store 2, which is down), and
// in-process answers take no time: retrying each hint at once forever spun the client at
// one virtual instant, so its deadline never came (txn sim seed 1001137 hung in a
// pessimistic transaction's primary commit). Here a fake cluster answers exactly that way
// and the client must give up with DeadlineExceeded once its timeout passed, for a point
// read (WithRegion), a batch read and a commit (ForEachGroup).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raftstore/errors.h"
#include "rutile/testing/simulation.h"
#include "txn/client/txn_client.h"
#include "txn/region_store.h"
#include "txn/types.h"

namespace rutile::txn::client {
namespace {

// More attempts than this at one virtual instant is a spin: the fake then fails the call
// with a non-retryable error, so a regression fails the test instead of hanging it.
constexpr int kSpinLimit = 10'000;

class StaleLeaderService final : public TxnService {
 public:
  StaleLeaderService(Env* env, uint64_t region_id, uint64_t hint_store)
      : env_(env), region_id_(region_id) {
    hint_.set_id(hint_store * 10 + region_id);
    hint_.set_store_id(hint_store);
  }
  int attempts() const { return attempts_; }

  absl::StatusOr<std::optional<std::string>> Get(const RegionContext&, const std::string&,
                                                 TimeStamp, const TxnReadOptions&) override {
    return Answer();
  }
  absl::StatusOr<std::vector<KvPair>> BatchGet(const RegionContext&,
                                               const std::vector<std::string>&, TimeStamp,
                                               const TxnReadOptions&) override {
    return Answer();
  }
  absl::StatusOr<std::vector<KvPair>> Scan(const RegionContext&, const ScanOptions&) override {
    return Answer();
  }
  absl::StatusOr<PrewriteResponse> Prewrite(const RegionContext&, const PrewriteRequest&) override {
    return Answer();
  }
  absl::Status Commit(const RegionContext&, const CommitRequest&) override { return Answer(); }
  absl::Status Rollback(const RegionContext&, const RollbackRequest&) override { return Answer(); }
  absl::StatusOr<TxnStatus> CheckTxnStatus(const RegionContext&,
                                           const CheckTxnStatusRequest&) override {
    return Answer();
  }
  absl::StatusOr<uint64_t> TxnHeartBeat(const RegionContext&, const TxnHeartBeatRequest&) override {
    return Answer();
  }
  absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(
      const RegionContext&, const CheckSecondaryLocksRequest&) override {
    return Answer();
  }
  absl::StatusOr<ResolveLockResponse> ResolveLock(const RegionContext&,
                                                  const ResolveLockRequest&) override {
    return Answer();
  }
  absl::StatusOr<std::vector<LockInfo>> ScanLock(const RegionContext&,
                                                 const ScanLockRequest&) override {
    return Answer();
  }
  absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
      const RegionContext&, const AcquirePessimisticLockRequest&, uint64_t) override {
    return Answer();
  }
  absl::Status PessimisticRollback(const RegionContext&,
                                   const PessimisticRollbackRequest&) override {
    return Answer();
  }
  absl::StatusOr<GcStats> Gc(const RegionContext&, TimeStamp) override { return Answer(); }

 private:
  absl::Status Answer() {
    ++attempts_;
    const uint64_t now = env_->NowMicros();
    if (now != spin_at_) {
      spin_at_ = now;
      spin_ = 0;
    }
    if (++spin_ > kSpinLimit) {
      return absl::InternalError("the client retried without letting virtual time pass");
    }
    return raftstore::NotLeaderError(region_id_, &hint_);
  }

  Env* const env_;
  const uint64_t region_id_;
  metapb::Peer hint_;
  int attempts_ = 0;
  uint64_t spin_at_ = 0;
  int spin_ = 0;
};

// One region over every key, replicas on stores 1..3; store 2 is down (unreachable) and
// is what PD and store 3 name as the leader, while store 1 names store 3.
class CircleCluster final : public ClusterAccess {
 public:
  explicit CircleCluster(Env* env) : env_(env), s1_(env, 1, 3), s3_(env, 1, 2) {
    region_.set_id(1);
    region_.mutable_region_epoch()->set_conf_ver(1);
    region_.mutable_region_epoch()->set_version(1);
    for (uint64_t s = 1; s <= 3; ++s) {
      metapb::Peer* p = region_.add_peers();
      p->set_id(s * 10 + 1);
      p->set_store_id(s);
    }
  }
  int attempts() const { return s1_.attempts() + s3_.attempts(); }

  Env* env() override { return env_; }
  absl::StatusOr<TimeStamp> GetTimestamp() override {
    return ComposeTs(env_->NowMicros() / 1000 + 1, ++logical_);
  }
  absl::StatusOr<RegionRoute> GetRegionByKey(const std::string&) override {
    return RegionRoute{region_, 2};
  }
  std::vector<RegionRoute> Regions() override { return {RegionRoute{region_, 2}}; }
  TxnService* Store(uint64_t id) override {
    if (id == 1) return &s1_;
    if (id == 3) return &s3_;
    return nullptr;
  }
  absl::StatusOr<TimeStamp> GetGcSafePoint() override { return 0; }
  absl::StatusOr<TimeStamp> UpdateGcSafePoint(TimeStamp sp) override { return sp; }

 private:
  Env* const env_;
  metapb::Region region_;
  StaleLeaderService s1_;
  StaleLeaderService s3_;
  uint64_t logical_ = 0;
};

TEST(TxnClientRetryTest, CircularStaleLeaderHintsBackOffUntilTheDeadline) {
  testing::Simulation sim(7);
  Env* env = sim.env();
  CircleCluster cluster(env);
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
  EXPECT_LT(cluster.attempts(), 2'000) << "attempts " << cluster.attempts();
}

}  // namespace
}  // namespace rutile::txn::client
