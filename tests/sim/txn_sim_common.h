// Jepsen's transactional workloads (txn_workloads.h) on a simulated Rutile cluster
// (testing::TestCluster: 3 nodes, SimEnv + SimTransport) through TxnClient, in each
// commit mode the client offers, under the full nemesis: partitions, isolated and clogged
// nodes, crashes that lose unsynced writes, clock skew, frame loss, duplication and
// reordering from the Simulation, plus region splits and leader transfers during the load
// from a chaos workload. Shared by txn_sim_test.cc (many cheap seeds) and
// txn_sim_slow_test.cc (the soak). Every failure carries its seed; RUTILE_SIM_SEED replays
// one (with the mode and workload named in the message).

#ifndef RUTILE_TESTS_SIM_TXN_SIM_COMMON_H_
#define RUTILE_TESTS_SIM_TXN_SIM_COMMON_H_

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "node/node_internal.h"
#include "node/txn_service.h"
#include "rutile/kv.h"
#include "rutile/logging.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/simulation.h"
#include "rutile/testing/workload.h"
#include "txn/types.h"
#include "txn_workloads.h"

namespace rutile::sim_test {

enum class TxnMode { kOptimistic, kPessimistic, kAsyncCommit, kOnePc };

inline const char* TxnModeName(TxnMode mode) {
  switch (mode) {
    case TxnMode::kOptimistic:
      return "optimistic";
    case TxnMode::kPessimistic:
      return "pessimistic";
    case TxnMode::kAsyncCommit:
      return "async-commit";
    case TxnMode::kOnePc:
      return "1pc";
  }
  return "?";
}

inline constexpr TxnMode kAllTxnModes[] = {TxnMode::kOptimistic, TxnMode::kPessimistic,
                                           TxnMode::kAsyncCommit, TxnMode::kOnePc};

enum class TxnWorkloadKind { kBank, kListAppend, kLongFork, kSet, kRegister };

inline const char* TxnWorkloadKindName(TxnWorkloadKind kind) {
  switch (kind) {
    case TxnWorkloadKind::kBank:
      return "bank";
    case TxnWorkloadKind::kListAppend:
      return "list-append";
    case TxnWorkloadKind::kLongFork:
      return "long-fork";
    case TxnWorkloadKind::kSet:
      return "set";
    case TxnWorkloadKind::kRegister:
      return "register";
  }
  return "?";
}

inline constexpr TxnWorkloadKind kAllTxnWorkloads[] = {
    TxnWorkloadKind::kBank, TxnWorkloadKind::kListAppend, TxnWorkloadKind::kLongFork,
    TxnWorkloadKind::kSet, TxnWorkloadKind::kRegister};

// The workload adapter over rutile::Transaction. With RUTILE_TXN_TRACE set, every
// transaction prints its operations, timestamps and outcome (for diagnosing a seed).
class RutileTxn : public TxnAdapter {
 public:
  explicit RutileTxn(std::unique_ptr<Transaction> txn)
      : txn_(std::move(txn)), trace_(std::getenv("RUTILE_TXN_TRACE") != nullptr) {}
  ~RutileTxn() override {
    if (trace_) std::cout << "txn start_ts=" << txn_->start_ts() << log_ << std::endl;
  }
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    absl::StatusOr<std::optional<std::string>> v = txn_->Get(key);
    if (trace_) {
      absl::StrAppend(&log_, " | get ", key, " -> ",
                      !v.ok()          ? v.status().ToString()
                      : v->has_value() ? **v
                                       : "nil");
    }
    return v;
  }
  absl::Status Put(const std::string& key, const std::string& value) override {
    absl::Status s = txn_->Put(key, value);
    if (trace_) absl::StrAppend(&log_, " | put ", key, " ", value, s.ok() ? "" : s.ToString());
    return s;
  }
  absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start,
                                           const std::string& end) override {
    absl::StatusOr<std::vector<KvPair>> r = txn_->Scan(start, end);
    if (trace_) {
      absl::StrAppend(&log_, " | scan ", start, " ", end, " -> ",
                      r.ok() ? absl::StrCat(r->size(), " pairs") : r.status().ToString());
    }
    return r;
  }
  absl::Status Commit() override {
    absl::Status s = txn_->Commit();
    if (trace_) {
      absl::StrAppend(&log_, " | commit -> ", s.ToString(),
                      s.ok() ? absl::StrCat(" commit_ts=", txn_->commit_ts()) : "");
    }
    return s;
  }
  void Rollback() override {
    absl::Status s = txn_->Rollback();
    if (trace_) absl::StrAppend(&log_, " | rollback ", s.ToString());
  }

 private:
  std::unique_ptr<Transaction> txn_;
  bool trace_;
  std::string log_;
};

class RutileTxnDb : public TxnDb {
 public:
  RutileTxnDb(std::shared_ptr<TxnClient> client, TxnMode mode)
      : client_(std::move(client)), mode_(mode) {
    options_.pessimistic = mode == TxnMode::kPessimistic;
    options_.async_commit = mode == TxnMode::kAsyncCommit;
    options_.try_one_pc = mode == TxnMode::kOnePc;
  }
  absl::StatusOr<std::unique_ptr<TxnAdapter>> Begin() override {
    absl::StatusOr<std::unique_ptr<Transaction>> t = client_->Begin(options_);
    if (!t.ok()) return t.status();
    return std::unique_ptr<TxnAdapter>(new RutileTxn(std::move(*t)));
  }
  std::string Name() const override { return TxnModeName(mode_); }

 private:
  std::shared_ptr<TxnClient> client_;
  TxnMode mode_;
  TxnOptions options_;
};

// Splits regions at keys `split_key` draws and moves region leaders while the workloads
// run, through TestCluster's verbs. Errors are expected under faults and only counted.
class RegionChaosWorkload : public testing::Workload {
 public:
  RegionChaosWorkload(testing::TestCluster* cluster, std::function<std::string(Env*)> split_key)
      : cluster_(cluster), split_key_(std::move(split_key)) {}
  std::string Name() const override { return "RegionChaos"; }

  absl::Status Start(testing::WorkloadContext& ctx) override {
    Env* env = ctx.env();
    while (!ctx.Stopping()) {
      env->SleepForMicros(100'000 + env->Uniform(400'000));
      if (ctx.Stopping()) break;
      ++in_flight_;
      if (env->OneIn(0.5)) {
        ++splits_;
        std::string key = split_key_(env);
        if (trace_) std::cout << "chaos: split at " << key << std::endl;
        // TestCluster's verb (bounded even when the leader crashes mid-call), at the
        // key's Percolator encoding. TxnClient::SplitAt can hang on a crashed leader.
        absl::Status st = cluster_->SplitRegion(txn::EncodeKey(key), 2'000'000);
        if (trace_) std::cout << "chaos: split at " << key << " -> " << st << std::endl;
        if (!st.ok()) ++failed_;
        --in_flight_;
        continue;
      }
      std::vector<RegionDescription> regions = cluster_->Regions();
      if (!regions.empty()) {
        const RegionDescription& r = regions[env->Uniform(regions.size())];
        if (!r.stores.empty()) {
          ++transfers_;
          uint64_t to = r.stores[env->Uniform(r.stores.size())];
          if (trace_) std::cout << "chaos: transfer " << r.id << " to " << to << std::endl;
          absl::Status st = cluster_->TransferLeader(r.id, to, 2'000'000);
          if (trace_) std::cout << "chaos: transfer " << r.id << " -> " << st << std::endl;
          if (!st.ok()) ++failed_;
        }
      }
      --in_flight_;
    }
    return absl::OkStatus();
  }

  // Calls in progress (they use the client).
  int in_flight() const { return in_flight_; }

  std::string ToString() const {
    return absl::StrCat("splits=", splits_, " transfers=", transfers_, " failed=", failed_);
  }

 private:
  testing::TestCluster* cluster_;
  std::function<std::string(Env*)> split_key_;
  uint64_t splits_ = 0;
  uint64_t transfers_ = 0;
  uint64_t failed_ = 0;
  int in_flight_ = 0;
  bool trace_ = std::getenv("RUTILE_TXN_TRACE") != nullptr;
};

struct TxnSimOptions {
  TxnMode mode = TxnMode::kOptimistic;
  TxnWorkloadKind workload = TxnWorkloadKind::kBank;
  int nodes = 3;
  // Virtual time of load under faults, and of quiet before the checks.
  uint64_t duration_micros = 2'000'000;
  uint64_t quiet_micros = 3'000'000;
  bool nemesis = true;
  bool region_chaos = true;
  int clients = 4;
  // The client reaches the stores over RPC (TxnClient over the SimTransport, as node
  // kTxnSimRpcClientId, through each node's transactional KV service) instead of in
  // process; PD stays in process (it lives beside the nodes and never crashes).
  bool rpc = false;
};

inline constexpr uint64_t kTxnSimRpcClientId = 995;

// A split point inside the workload's keys.
inline std::string TxnSimSplitKey(TxnWorkloadKind kind, Env* env) {
  switch (kind) {
    case TxnWorkloadKind::kBank:
      return absl::StrCat("bank/", env->Uniform(8));
    case TxnWorkloadKind::kListAppend:
      return absl::StrCat("append/", env->Uniform(40));
    case TxnWorkloadKind::kLongFork:
      return absl::StrCat("fork/", env->Uniform(200));
    case TxnWorkloadKind::kSet:
      return absl::StrFormat("set/%010d", env->Uniform(300));
    case TxnWorkloadKind::kRegister:
      return absl::StrCat("reg/", env->Uniform(4));
  }
  return "";
}

inline std::unique_ptr<TxnWorkload> MakeTxnWorkload(TxnWorkloadKind kind, std::shared_ptr<TxnDb> db,
                                                    TxnWorkloadOptions o) {
  switch (kind) {
    case TxnWorkloadKind::kBank:
      return std::make_unique<BankWorkload>(db, o);
    case TxnWorkloadKind::kListAppend:
      return std::make_unique<ListAppendWorkload>(db, o);
    case TxnWorkloadKind::kLongFork:
      return std::make_unique<LongForkWorkload>(db, o);
    case TxnWorkloadKind::kSet:
      return std::make_unique<SetWorkload>(db, o);
    case TxnWorkloadKind::kRegister:
      return std::make_unique<RegisterWorkload>(db, o);
  }
  return nullptr;
}

struct TxnSimResult {
  absl::Status status;
  TxnCounts counts;
  std::string chaos;
  std::vector<std::string> nemesis_log;
};

// One seed: a cluster, the workload in the mode, the nemesis; the status names the seed,
// mode and workload on failure.
inline TxnSimResult RunTxnSim(uint64_t seed, const TxnSimOptions& options) {
  TxnSimResult result;
  // Splits and elections log at info level; thousands of seeds need quiet.
  if (GetLogLevel() < LogLevel::kWarn) SetLogLevel(LogLevel::kWarn);
  testing::TestClusterOptions co;
  co.nodes = options.nodes;
  co.sim.seed = seed;
  co.sim.min_latency_micros = 200;
  co.sim.max_latency_micros = 3'000;
  // Declared before the cluster so they outlive its Simulation (see workload.h).
  std::shared_ptr<TxnClient> client;
  std::unique_ptr<TxnWorkload> workload;
  std::unique_ptr<RegionChaosWorkload> chaos;
  testing::TestCluster cluster(co);
  auto fail = [&](absl::Status s) {
    result.status =
        absl::Status(s.code(), absl::StrCat(options.rpc ? "rpc " : "", TxnModeName(options.mode),
                                            " ", TxnWorkloadKindName(options.workload), ": ",
                                            s.message(), " [", cluster.SeedMessage(), "]"));
    if (cluster.sim() != nullptr) result.nemesis_log = cluster.sim()->NemesisLog();
    return result;
  };
  absl::Status s = cluster.Start();
  if (!s.ok()) return fail(s);
  testing::TestCluster* c = &cluster;
  TxnClientOptions client_options{.timeout_micros = 5'000'000};
  absl::StatusOr<std::unique_ptr<TxnClient>> opened;
  if (options.rpc) {
    client_options.attempt_timeout_micros = 1'000'000;
    std::shared_ptr<Pd> pd = cluster.pd();
    cluster.Run([&] {
      opened = node::TxnAccess::OpenRpc(
          cluster.env(), cluster.sim()->transport(), kTxnSimRpcClientId,
          [pd](transport::RpcEndpoint*) -> absl::StatusOr<node::TxnPdAccess> {
            return node::PdAccessOf(node::PdApiOf(node::Access::ImplOf(pd.get())));
          },
          client_options);
    });
  } else {
    opened = node::TxnAccess::Open(
        cluster.env(), cluster.pd(),
        [c](uint64_t id) -> std::shared_ptr<raftstore::Store> {
          Node* n = c->node(id);
          return n == nullptr ? nullptr : node::StoreOf(node::Access::ImplOf(n).get());
        },
        client_options);
  }
  if (!opened.ok()) return fail(opened.status());
  client = std::move(*opened);
  auto db = std::make_shared<RutileTxnDb>(client, options.mode);
  TxnWorkloadOptions wo;
  wo.clients = options.clients;
  wo.think_micros = 10'000;
  wo.min_ok = 3;
  workload = MakeTxnWorkload(options.workload, db, wo);
  chaos = std::make_unique<RegionChaosWorkload>(
      c, [kind = options.workload](Env* env) { return TxnSimSplitKey(kind, env); });
  std::vector<testing::Workload*> workloads = {workload.get()};
  if (options.region_chaos) workloads.push_back(chaos.get());
  testing::WorkloadRunOptions ro;
  ro.duration_micros = options.duration_micros;
  ro.quiet_micros = options.quiet_micros;
  ro.nemesis = options.nemesis;
  testing::NemesisOptions& n = ro.nemesis_options;
  n.min_interval_micros = 100'000;
  n.max_interval_micros = 600'000;
  n.min_fault_micros = 100'000;
  n.max_fault_micros = 1'000'000;
  n.partition_weight = 3;
  n.isolate_weight = 2;
  n.clog_weight = 1;
  n.crash_weight = 2;
  n.skew_weight = 1;
  n.loss_weight = 1;
  n.duplicate_weight = 1;
  n.reorder_weight = 1;
  s = testing::RunWorkloads(*cluster.sim(), workloads, ro);
  result.counts = workload->counts();
  result.chaos = chaos->ToString();
  result.nemesis_log = cluster.sim()->NemesisLog();
  // The client goes before the cluster, on a fiber (its destructor waits for background
  // commits), once no fiber of the workloads can touch it again: they all ended (Start
  // returned) and no transaction or chaos call is open. Otherwise (a hung phase) it is
  // left alive on purpose: blocked fibers still hold its transactions.
  bool quiescent = (s.ok() || !absl::StrContains(s.message(), "did not finish")) &&
                   workload->in_flight() == 0 && chaos->in_flight() == 0;
  if (quiescent) {
    db.reset();
    workload.reset();
    chaos.reset();
    cluster.Run([&client] { client.reset(); }, 60'000'000);
  } else {
    new std::shared_ptr<TxnClient>(client);  // NOLINT: deliberately leaked, see above.
  }
  if (!s.ok()) return fail(s);
  return result;
}

}  // namespace rutile::sim_test

#endif  // RUTILE_TESTS_SIM_TXN_SIM_COMMON_H_
