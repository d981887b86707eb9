// Jepsen's transactional workloads (../shared/VERIFY.md, "Jepsen's workloads,
// re-implemented") as simulation Workloads over a small transaction adapter, so the same
// generators and checkers run against Rutile's TxnClient in every mode, and against the
// in-memory reference database of mem_txn_db.h that shows the checkers catch what they
// should.
//
//   bank         8 accounts holding 100 in total; transfers of 1-5 between two accounts
//                (read both, give up if the source would go negative, write both) and
//                reads of every account. Checked by checkers/bank.h on every read.
//   list-append  Elle: 1-4 micro-ops per transaction, each an append of a unique element
//                to a list stored as one value ("1,5,7") or a read of the whole list.
//                Checked by checkers/list_append.h for strong snapshot isolation (no G0,
//                G1a, G1b, G1c, G-single, G-nonadjacent, with realtime edges).
//   long-fork    writes of single fresh keys; reads of a whole 10-key group in random
//                order. Checked by checkers/long_fork.h.
//   set          adds of unique elements (one key each) and reads of the whole set by a
//                scan; a final read after the faults. Checked by checkers/set.h.
//   register     per key, reads, writes and compare-and-sets, each in its own
//                transaction. Checked per key for linearizability (checkers/models.h).
//
// Outcomes. A transaction whose Begin, reads or writes fail (or that the workload gives
// up) is rolled back and definitely did not commit (writes are buffered until Commit).
// A Commit error is a definite failure when TxnDb::CommitDefinitelyFailed says so
// (AbortedError by default) and otherwise indeterminate, as Jepsen's :info: the
// transaction may or may not have committed, at any later time. Read-only transactions
// are recorded only when their commit succeeded.
//
// Every workload fails its Check when its checker finds an anomaly, with the checker's
// summary in the status, and also when fewer than `min_ok` transactions committed (a
// test that did nothing proves nothing).
//
// Thread safety: as Simulation (one thread); the adapter is called from the workload's
// client fibers concurrently.

#ifndef RUTILE_TESTS_SIM_TXN_WORKLOADS_H_
#define RUTILE_TESTS_SIM_TXN_WORKLOADS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "checkers/bank.h"
#include "checkers/list_append.h"
#include "checkers/long_fork.h"
#include "checkers/models.h"
#include "checkers/set.h"
#include "rutile/testing/workload.h"

namespace rutile::sim_test {

// One transaction, as the workloads use it.
class TxnAdapter {
 public:
  using KvPair = std::pair<std::string, std::string>;
  virtual ~TxnAdapter() = default;

  // The value of `key` in the transaction's snapshot (with its own writes); nullopt when
  // absent.
  virtual absl::StatusOr<std::optional<std::string>> Get(const std::string& key) = 0;
  // Buffers a write.
  virtual absl::Status Put(const std::string& key, const std::string& value) = 0;
  // Pairs with start <= key < end, in key order.
  virtual absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start,
                                                   const std::string& end) = 0;
  virtual absl::Status Commit() = 0;
  // Abandons the transaction; never fails from the workload's point of view.
  virtual void Rollback() = 0;
};

// A database the workloads open transactions on (a TxnClient in one mode, or a model).
class TxnDb {
 public:
  virtual ~TxnDb() = default;
  virtual absl::StatusOr<std::unique_ptr<TxnAdapter>> Begin() = 0;
  // Whether a Commit that returned `status` (not OK) certainly had no effect.
  virtual bool CommitDefinitelyFailed(const absl::Status& status) const {
    return absl::IsAborted(status);
  }
  // A short name for messages ("optimistic", "mem-si").
  virtual std::string Name() const = 0;
};

struct TxnWorkloadOptions {
  int clients = 4;
  // A client waits uniform [0, think_micros] between transactions.
  uint64_t think_micros = 20'000;
  // Stop each client after this many transactions (0: only the duration limits it).
  uint64_t max_txns_per_client = 0;
  // Check fails when fewer transactions committed.
  uint64_t min_ok = 5;
  // Prefix of every key the workload touches, so workloads can share a cluster.
  std::string key_prefix;
  // How long Check keeps retrying its final read.
  uint64_t final_read_timeout_micros = 30'000'000;
};

// Counts of transaction outcomes.
struct TxnCounts {
  uint64_t ok = 0;
  uint64_t fail = 0;
  uint64_t info = 0;
  std::string ToString() const;
};

// What a workload's body tells RunTxn.
enum class TxnOutcome { kOk, kFail, kInfo };

class TxnWorkload : public testing::Workload {
 public:
  TxnWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options)
      : db_(std::move(db)), options_(std::move(options)) {}

  // Runs `options.clients` client fibers, each calling Step until the duration is over.
  absl::Status Start(testing::WorkloadContext& ctx) final;
  // Runs FinalCheck, then demands progress.
  absl::Status Check(testing::WorkloadContext& ctx) final;

  const TxnCounts& counts() const { return counts_; }
  // Transactions begun and not yet finished: while non-zero, fibers of the workload hold
  // transactions of the database.
  int in_flight() const { return in_flight_; }
  TxnDb& db() { return *db_; }
  const TxnWorkloadOptions& options() const { return options_; }

 protected:
  // One transaction of client `process`.
  virtual void Step(testing::WorkloadContext& ctx, int64_t process) = 0;
  // Final reads and the checker.
  virtual absl::Status FinalCheck(testing::WorkloadContext& ctx) = 0;

  // Begins a transaction, runs `body` on it and commits when body returns OK (rolls back
  // otherwise, a definite failure). Counts the outcome.
  TxnOutcome RunTxn(const std::function<absl::Status(TxnAdapter&)>& body);
  // RunTxn until it commits, sleeping between attempts, or `timeout_micros` pass.
  absl::Status RunTxnUntilOk(Env* env, uint64_t timeout_micros,
                             const std::function<absl::Status(TxnAdapter&)>& body);
  // The next position in the workload's real-time order of events.
  int64_t Tick() { return ++clock_; }
  std::string Key(const std::string& suffix) const { return options_.key_prefix + suffix; }

 private:
  TxnOutcome RunTxnInner(const std::function<absl::Status(TxnAdapter&)>& body);

  std::shared_ptr<TxnDb> db_;
  TxnWorkloadOptions options_;
  TxnCounts counts_;
  int in_flight_ = 0;
  int64_t clock_ = 0;
};

// ---- bank ----

struct BankWorkloadOptions {
  int64_t accounts = 8;
  int64_t total = 100;
  int64_t max_transfer = 5;
  // Chance that a transaction is a read of every account (else a transfer).
  double read_probability = 0.5;
};

class BankWorkload : public TxnWorkload {
 public:
  BankWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
               BankWorkloadOptions bank = BankWorkloadOptions());
  std::string Name() const override { return "Bank"; }
  // Creates the accounts (account 0 holds the total) unless they exist.
  absl::Status Setup(testing::WorkloadContext& ctx) override;

  const std::vector<checkers::BankRead>& reads() const { return reads_; }

 protected:
  void Step(testing::WorkloadContext& ctx, int64_t process) override;
  absl::Status FinalCheck(testing::WorkloadContext& ctx) override;

 private:
  std::string AccountKey(int64_t account) const;
  // Reads every account into `read`.
  absl::Status ReadAll(TxnAdapter& txn, checkers::BankRead* read);

  BankWorkloadOptions bank_;
  std::vector<checkers::BankRead> reads_;
};

// ---- list-append ----

struct ListAppendWorkloadOptions {
  // Keys appended to at once; a key retires after max_appends_per_key appends and a fresh
  // one takes its place (keeps lists short and the checker fast, as Elle's generator).
  int active_keys = 5;
  int max_appends_per_key = 16;
  int max_mops = 4;
  // The anomalies that fail the check: strong snapshot isolation by default.
  checkers::ListAppendOptions check = checkers::ListAppendOptions::StrongSnapshotIsolation();
};

class ListAppendWorkload : public TxnWorkload {
 public:
  ListAppendWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                     ListAppendWorkloadOptions append = ListAppendWorkloadOptions());
  std::string Name() const override { return "ListAppend"; }

  const checkers::AppendHistory& history() const { return history_; }
  // The last check's result (after Check).
  const std::optional<checkers::ListAppendResult>& result() const { return result_; }

 protected:
  void Step(testing::WorkloadContext& ctx, int64_t process) override;
  absl::Status FinalCheck(testing::WorkloadContext& ctx) override;

 private:
  std::string ListKey(int64_t key) const;

  ListAppendWorkloadOptions append_;
  std::vector<int64_t> active_;
  std::map<int64_t, int> appends_;
  int64_t next_key_ = 0;
  int64_t next_element_ = 1;
  checkers::AppendHistory history_;
  std::optional<checkers::ListAppendResult> result_;
};

// ---- long-fork ----

struct LongForkWorkloadOptions {
  int64_t group_size = 10;
  double read_probability = 0.5;
};

class LongForkWorkload : public TxnWorkload {
 public:
  LongForkWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                   LongForkWorkloadOptions fork = LongForkWorkloadOptions());
  std::string Name() const override { return "LongFork"; }

 protected:
  void Step(testing::WorkloadContext& ctx, int64_t process) override;
  absl::Status FinalCheck(testing::WorkloadContext& ctx) override;

 private:
  std::string ForkKey(int64_t key) const;

  LongForkWorkloadOptions fork_;
  int64_t next_key_ = 0;
  std::map<int64_t, int64_t> writes_;
  std::vector<checkers::LongForkRead> reads_;
};

// ---- set ----

struct SetWorkloadOptions {
  double read_probability = 0.2;
};

class SetWorkload : public TxnWorkload {
 public:
  SetWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
              SetWorkloadOptions set = SetWorkloadOptions());
  std::string Name() const override { return "Set"; }

 protected:
  void Step(testing::WorkloadContext& ctx, int64_t process) override;
  absl::Status FinalCheck(testing::WorkloadContext& ctx) override;

 private:
  std::string ElementKey(int64_t element) const;
  absl::StatusOr<std::vector<int64_t>> ReadAll(TxnAdapter& txn);

  SetWorkloadOptions set_;
  int64_t next_element_ = 0;
  std::vector<checkers::SetAdd> adds_;
  std::vector<checkers::SetRead> reads_;
};

// ---- register ----

struct RegisterWorkloadOptions {
  int keys = 4;
  // Values written and compared are drawn from [0, values), so compare-and-sets succeed
  // often enough to matter.
  int values = 5;
  // Wall-clock budget of the linearizability check.
  int64_t check_timeout_seconds = 20;
};

class RegisterWorkload : public TxnWorkload {
 public:
  RegisterWorkload(std::shared_ptr<TxnDb> db, TxnWorkloadOptions options,
                   RegisterWorkloadOptions reg = RegisterWorkloadOptions());
  std::string Name() const override { return "Register"; }

  // Partitions the check could not decide within its budget (not a failure).
  size_t undecided() const { return undecided_; }

 protected:
  void Step(testing::WorkloadContext& ctx, int64_t process) override;
  absl::Status FinalCheck(testing::WorkloadContext& ctx) override;

 private:
  RegisterWorkloadOptions reg_;
  std::vector<checkers::KvOp> ops_;
  size_t undecided_ = 0;
};

}  // namespace rutile::sim_test

#endif  // RUTILE_TESTS_SIM_TXN_WORKLOADS_H_
