// An in-memory multi-version database with snapshot isolation, the reference the
// transactional workloads are validated against before they judge Rutile: Begin takes a
// start timestamp, reads see the newest version at or below it (and the transaction's
// own writes), Commit fails with Aborted when a written key has a version newer than the
// start (first committer wins) and otherwise installs every write at one new commit
// timestamp, atomically. Each call sleeps a random latency, so transactions of different
// clients interleave.
//
// `Bug` breaks it in one way, so tests can show each checker catches the anomaly it
// exists for: reads of the latest committed value instead of the snapshot (fractured
// reads, long forks), no write-write conflict check (lost updates), commits that install
// their writes one at a time with pauses (partial visibility), acknowledged commits that
// are silently dropped (lost writes), and commits reported Aborted that did apply.
//
// Thread safety: one SimEnv thread; calls may interleave at their sleeps.

#ifndef RUTILE_TESTS_SIM_MEM_TXN_DB_H_
#define RUTILE_TESTS_SIM_MEM_TXN_DB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rutile/env.h"
#include "txn_workloads.h"

namespace rutile::sim_test {

struct MemTxnDbOptions {
  enum class Bug {
    kNone,
    kReadLatest,
    kNoConflictCheck,
    kNonAtomicCommit,
    kLoseAckedCommit,
    kApplyAbortedCommit,
  };
  Bug bug = Bug::kNone;
  // How often the bugs that act per commit (kLoseAckedCommit, kApplyAbortedCommit) do.
  double bug_probability = 0.1;
  // Every call sleeps uniform [0, max_latency_micros].
  uint64_t max_latency_micros = 2'000;
  // Chance that Commit reports DeadlineExceeded; half of those did commit.
  double unknown_commit_probability = 0.05;
};

class MemTxnDb : public TxnDb, public std::enable_shared_from_this<MemTxnDb> {
 public:
  MemTxnDb(Env* env, MemTxnDbOptions options) : env_(env), options_(options) {}

  std::string Name() const override {
    return options_.bug == MemTxnDbOptions::Bug::kNone
               ? "mem-si"
               : absl::StrCat("mem-si-bug", static_cast<int>(options_.bug));
  }

  absl::StatusOr<std::unique_ptr<TxnAdapter>> Begin() override {
    Sleep();
    return std::unique_ptr<TxnAdapter>(new Txn(shared_from_this(), ++clock_));
  }

 private:
  using Bug = MemTxnDbOptions::Bug;

  class Txn : public TxnAdapter {
   public:
    Txn(std::shared_ptr<MemTxnDb> db, uint64_t start_ts)
        : db_(std::move(db)), start_ts_(start_ts) {}

    absl::StatusOr<std::optional<std::string>> Get(const std::string& key) override {
      if (done_) return absl::FailedPreconditionError("transaction finished");
      db_->Sleep();
      auto w = writes_.find(key);
      if (w != writes_.end()) return std::optional<std::string>(w->second);
      return db_->Read(key, db_->ReadTs(start_ts_));
    }

    absl::Status Put(const std::string& key, const std::string& value) override {
      if (done_) return absl::FailedPreconditionError("transaction finished");
      writes_[key] = value;
      return absl::OkStatus();
    }

    absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start,
                                             const std::string& end) override {
      if (done_) return absl::FailedPreconditionError("transaction finished");
      db_->Sleep();
      uint64_t ts = db_->ReadTs(start_ts_);
      std::map<std::string, std::string> out;
      for (auto it = db_->versions_.lower_bound(start);
           it != db_->versions_.end() && it->first < end; ++it) {
        std::optional<std::string> v = db_->Read(it->first, ts);
        if (v.has_value()) out[it->first] = *v;
      }
      for (auto it = writes_.lower_bound(start); it != writes_.end() && it->first < end; ++it) {
        out[it->first] = it->second;
      }
      return std::vector<KvPair>(out.begin(), out.end());
    }

    absl::Status Commit() override {
      if (done_) return absl::FailedPreconditionError("transaction finished");
      done_ = true;
      return db_->Commit(start_ts_, writes_);
    }

    void Rollback() override { done_ = true; }

   private:
    std::shared_ptr<MemTxnDb> db_;
    uint64_t start_ts_;
    std::map<std::string, std::string> writes_;
    bool done_ = false;
  };

  void Sleep() { env_->SleepForMicros(env_->Uniform(options_.max_latency_micros + 1)); }

  uint64_t ReadTs(uint64_t start_ts) const {
    return options_.bug == Bug::kReadLatest ? clock_ : start_ts;
  }

  std::optional<std::string> Read(const std::string& key, uint64_t ts) const {
    auto k = versions_.find(key);
    if (k == versions_.end()) return std::nullopt;
    auto v = k->second.upper_bound(ts);
    if (v == k->second.begin()) return std::nullopt;
    return std::prev(v)->second;
  }

  absl::Status Commit(uint64_t start_ts, const std::map<std::string, std::string>& writes) {
    Sleep();
    if (writes.empty()) return absl::OkStatus();
    if (options_.bug != Bug::kNoConflictCheck) {
      for (const auto& [key, value] : writes) {
        auto k = versions_.find(key);
        if (k != versions_.end() && !k->second.empty() && k->second.rbegin()->first > start_ts) {
          return absl::AbortedError(absl::StrCat("write conflict on ", key));
        }
      }
    }
    bool unknown = env_->OneIn(options_.unknown_commit_probability);
    if (unknown && env_->OneIn(0.5)) return absl::DeadlineExceededError("commit timed out");
    bool drop = options_.bug == Bug::kLoseAckedCommit && env_->OneIn(options_.bug_probability);
    bool lie = options_.bug == Bug::kApplyAbortedCommit && env_->OneIn(options_.bug_probability);
    uint64_t commit_ts = ++clock_;
    if (!drop) {
      for (const auto& [key, value] : writes) {
        versions_[key][commit_ts] = value;
        // Others may read in between (after the commit timestamp is taken).
        if (options_.bug == Bug::kNonAtomicCommit) Sleep();
      }
    }
    if (unknown) return absl::DeadlineExceededError("commit timed out");
    if (lie) return absl::AbortedError("write conflict (but applied)");
    return absl::OkStatus();
  }

  Env* env_;
  MemTxnDbOptions options_;
  uint64_t clock_ = 0;
  std::map<std::string, std::map<uint64_t, std::string>> versions_;
};

}  // namespace rutile::sim_test

#endif  // RUTILE_TESTS_SIM_MEM_TXN_DB_H_
