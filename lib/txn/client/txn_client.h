// The Percolator client (TiKV's client-go txnkv, DESIGN.md §9): a region cache with
// routing retries, a lock resolver, and transactions that read a snapshot at start_ts,
// buffer their writes and commit them with two-phase commit (mutations grouped by region,
// every group prewritten in parallel, the primary committed first, the secondaries in the
// background), async commit, one-phase commit when every key is in one region, or
// pessimistic locking with lock waiting and deadlock detection. Long transactions keep
// their primary lock alive with TTL heartbeats.
//
// Nothing is retried on the user's behalf in a way that could break snapshot isolation:
// a write conflict, a deadlock or a lock wait timeout fails the transaction with Aborted;
// the caller decides whether to run it again with a new start_ts.
//
// The client reaches PD and the stores through ClusterAccess, which lib/node implements
// (in process today; over RpcEndpoint later, with the same TxnService interface).
//
// Thread safety: a Client may be used from many fibers at once; one Txn from one fiber at
// a time. The Client must outlive its Txns; destroying it waits for background commits.

#ifndef RUTILE_TXN_CLIENT_TXN_CLIENT_H_
#define RUTILE_TXN_CLIENT_TXN_CLIENT_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "metapb.pb.h"
#include "rutile/env.h"
#include "txn/client/region_cache.h"
#include "txn/client/region_request_sender.h"
#include "txn/region_store.h"
#include "util/sync.h"

namespace rutile::txn::client {

// What the client needs from the cluster. Region keys are encoded (types.h EncodeKey).
class ClusterAccess {
 public:
  virtual ~ClusterAccess() = default;
  virtual Env* env() = 0;
  virtual absl::StatusOr<TimeStamp> GetTimestamp() = 0;
  // The region holding encoded `key`; NotFound when PD knows none.
  virtual absl::StatusOr<RegionRoute> GetRegionByKey(const std::string& key) = 0;
  // Every region PD knows, in key order.
  virtual std::vector<RegionRoute> Regions() = 0;
  // The transaction service of a store, or null when unreachable.
  virtual TxnService* Store(uint64_t store_id) = 0;
  // PD's GC safe point (0: none yet), and raising it: PD keeps the larger of the stored
  // and the given one and returns what it keeps.
  virtual absl::StatusOr<TimeStamp> GetGcSafePoint() = 0;
  virtual absl::StatusOr<TimeStamp> UpdateGcSafePoint(TimeStamp safe_point) = 0;
};

struct ClientOptions {
  // How long one client call (a read, a prewrite, a commit) may take with its retries.
  uint64_t timeout_micros = 20'000'000;
  uint64_t backoff_first_micros = 2'000;
  uint64_t backoff_max_micros = 200'000;
  // How long one attempt at one store may wait for the store's Raft answer (in process:
  // RegionContext::timeout_micros; over RPC the ClusterAccess has its own), never past
  // the call's deadline.
  uint64_t attempt_timeout_micros = 3'000'000;
};

struct BeginOptions {
  bool pessimistic = false;
  bool async_commit = false;
  bool try_one_pc = false;
  // Non-zero: a read-only transaction reading at this timestamp (stale read).
  TimeStamp read_ts = 0;
  // read_ts is not stale: a pessimistic transaction's for_update_ts (its current reads),
  // at or above the start_ts of that running transaction, so PD's GC safe point is not
  // asked (one PD call per locking statement saved).
  bool read_ts_is_current = false;
  uint64_t lock_ttl_ms = 3'000;
  // Pessimistic mode: how long LockKeys/Put/Delete wait for a lock held by another txn.
  uint64_t lock_wait_timeout_ms = 3'000;
};

class Txn;

class Client {
 public:
  // `options` must pass ValidateOptions.
  Client(ClusterAccess* cluster, ClientOptions options);
  ~Client();
  // InvalidArgument naming the first bad value: a zero timeout, attempt timeout or first
  // backoff (a zero backoff would retry without time passing), or a backoff_max_micros
  // below backoff_first_micros.
  static absl::Status ValidateOptions(const ClientOptions& options);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<std::unique_ptr<Txn>> Begin(const BeginOptions& options);
  absl::StatusOr<TimeStamp> GetTimestamp() { return cluster_->GetTimestamp(); }

  // Splits the region holding raw `key` so that the key starts a region (through `split`,
  // given the store to ask, the region as cached and the encoded split key).
  absl::Status SplitAt(
      const std::string& key,
      const std::function<absl::Status(uint64_t store, const metapb::Region& region,
                                       const std::string&)>& split);

  // One GC pass: raises PD's GC safe point to `safe_point` (it never moves back; a
  // `safe_point` above the TSO is InvalidArgument), then every region resolves its locks
  // older than PD's safe point and drops the versions no read at or above it can see.
  absl::StatusOr<GcStats> Gc(TimeStamp safe_point);
  // PD's GC safe point. A stale read (BeginOptions::read_ts) below it fails with
  // FailedPrecondition: the versions it would need may be gone.
  absl::StatusOr<TimeStamp> GcSafePoint() { return cluster_->GetGcSafePoint(); }

  // ---- Internals shared with Txn. ----

  using GroupFn = std::function<absl::Status(const RegionContext& ctx, TxnService* svc,
                                             const metapb::Region& region,
                                             const std::vector<std::string>& raw_keys)>;
  // Groups raw keys by region and runs `fn` per group (in parallel fibers when `parallel`),
  // regrouping and retrying after region errors until `deadline`. Returns the first
  // non-region error.
  absl::Status ForEachGroup(const std::vector<std::string>& raw_keys, uint64_t deadline,
                            bool parallel, const GroupFn& fn);
  // Runs `fn` at the region holding encoded key `ekey`.
  absl::Status WithRegion(
      const std::string& ekey, uint64_t deadline,
      absl::FunctionRef<absl::Status(const RegionContext&, TxnService*, const metapb::Region&)> fn);

  // Resolves locks met at caller_start_ts. Returns true when each lock is gone or no
  // longer blocks a reader at caller_start_ts; false when some lock is alive (back off).
  // A reader (caller_start_ts != 0) passing `bypass` gets there the start_ts of
  // transactions known to commit above caller_start_ts, whose locks it may read past.
  absl::StatusOr<bool> ResolveLocks(const std::vector<LockInfo>& locks, TimeStamp caller_start_ts,
                                    uint64_t deadline, std::vector<TimeStamp>* bypass = nullptr);

  // Runs `fn` in a background fiber the destructor waits for.
  void Background(std::function<void()> fn);
  // Waits until the background work started so far (commits of secondaries, and of every
  // key after an async commit) is done.
  void WaitBackground() { background_.Wait(); }

  Env* env() { return env_; }
  const ClientOptions& options() const { return options_; }
  uint64_t Deadline() { return env_->NowMicros() + options_.timeout_micros; }
  // Sleeps `*backoff` (capped by the deadline) and doubles it. False when past deadline.
  bool Backoff(uint64_t* backoff, uint64_t deadline);
  // Before retrying a request after resolving locks: backs off when `must_wait` (a lock
  // is still alive) or after a few immediate retries in a row (`*immediate` counts them),
  // so a retry loop never spins without virtual time passing. False when past deadline.
  bool RetryPause(bool must_wait, uint64_t* backoff, int* immediate, uint64_t deadline);

 private:
  // The fate of a transaction: commit_ts (0: rolled back), or nullopt while alive.
  absl::StatusOr<std::optional<TimeStamp>> TxnFate(const LockInfo& lock, TimeStamp caller_start_ts,
                                                   uint64_t deadline);
  absl::Status ResolveKeys(const std::vector<std::string>& keys, TimeStamp start_ts,
                           TimeStamp commit_ts, uint64_t deadline);

  ClusterAccess* const cluster_;
  Env* const env_;
  const ClientOptions options_;
  RegionCache cache_;  // By encoded key.
  RegionRequestSender sender_;
  absl::Mutex mu_;
  std::map<TimeStamp, TimeStamp> resolved_ ABSL_GUARDED_BY(mu_);  // start_ts -> commit_ts.
  WaitGroup background_;
};

class Txn {
 public:
  Txn(Client* client, BeginOptions options, TimeStamp start_ts);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  TimeStamp start_ts() const { return start_ts_; }
  // The commit timestamp once committed (start_ts for a read-only transaction).
  TimeStamp commit_ts() const { return commit_ts_; }
  // How the last Commit finished: "1pc", "async", "2pc" or "read-only".
  const std::string& commit_kind() const { return commit_kind_; }

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      const std::vector<std::string>& keys);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(const std::string& start,
                                                                        const std::string& end,
                                                                        size_t limit);
  absl::Status Put(const std::string& key, const std::string& value);
  // Optimistic only: a Put that requires `key` to have no committed version (TiKV's
  // Mutation::Insert, TiDB's presumed-not-exists write): the prewrite fails with
  // AlreadyExist{key} when one exists, and nothing commits. A later Put of the key keeps
  // the requirement. InvalidArgument in a pessimistic transaction (its statements check
  // under their locks).
  absl::Status Insert(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // Pessimistic: buffers a write (nullopt: a delete) without a lock of its own, for a key
  // whose every writer first locks another key of this transaction: a non-unique index
  // entry, covered by its row's lock (TiDB locks only row keys and unique index keys). Its
  // prewrite still fails on a commit above for_update_ts. Optimistic: Put/Delete.
  absl::Status WriteWithoutLock(const std::string& key, const std::optional<std::string>& value);
  // Optimistic: the keys join the commit as locks. Pessimistic: a locking read (SELECT ...
  // FOR UPDATE): locks each key at for_update_ts, taking a fresh for_update_ts from the
  // TSO when a commit newer than it exists, so the lock succeeds on the latest committed
  // version; later Gets of a locked key return that version.
  absl::Status LockKeys(const std::vector<std::string>& keys);
  // Pessimistic: LockKeys({key}) and the latest committed value it locked (overlaid by
  // this transaction's own writes). Optimistic: Get plus LockKeys({key}).
  absl::StatusOr<std::optional<std::string>> GetForUpdate(const std::string& key);
  // Pessimistic: LockKeys(keys) and the latest committed values they locked (overlaid by
  // this transaction's own writes), in the order of `keys` (TiDB's locking point get with
  // return values: one request locks and reads). Optimistic: BatchGet plus LockKeys.
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGetForUpdate(
      const std::vector<std::string>& keys);
  // Pessimistic: the values locking reads locked (nullopt: the key was absent) for keys
  // in [start, end) (end empty: unbounded), ascending. Get, BatchGet and Scan return them
  // over the snapshot; a reader that reads the snapshot elsewhere (the SQL layer's
  // coprocessor reads) merges them itself.
  std::vector<std::pair<std::string, std::optional<std::string>>> LockedValues(
      const std::string& start, const std::string& end) const {
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    for (auto it = locked_values_.lower_bound(start);
         it != locked_values_.end() && (end.empty() || it->first < end); ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }
  // Pessimistic: the timestamp locking reads lock at (start_ts until raised, by
  // RaiseForUpdateTs or by a locking read that met a newer commit).
  TimeStamp for_update_ts() const { return for_update_ts_; }
  // Pessimistic: locking reads from now on lock at `ts` or later (it never goes down). A
  // caller that read the latest data at `ts` (TiDB's current read for a DML statement)
  // raises it first, so that a commit after `ts` is what moves for_update_ts.
  void RaiseForUpdateTs(TimeStamp ts) { for_update_ts_ = std::max(for_update_ts_, ts); }
  absl::Status Commit();
  absl::Status Rollback();
  // A commit gate (TiDB's schema lease checker, for the SQL layer's schema validator):
  // `check` runs after every key is prewritten and the commit_ts is chosen, just before
  // the primary commits; an error from it rolls the transaction back and is returned
  // (unless the rollback finds the transaction committed by a 1PC or async-commit prewrite
  // that was sent again: then Commit succeeds; Undetermined when that cannot be told).
  // 1PC and async commit, which commit during the prewrite, are held to commit_ts <=
  // `max_commit_ts` (a prewrite above it falls back to 2PC, where `check` runs);
  // max_commit_ts <= start_ts disables them. Set before Commit().
  void SetCommitCheck(std::function<absl::Status()> check, TimeStamp max_commit_ts) {
    commit_check_ = std::move(check);
    check_max_commit_ts_ = max_commit_ts;
  }

  // Test hook: prewrites every mutation (2PC, no commit) and then behaves as if the
  // client died: no commit, no rollback, no heartbeat.
  absl::Status TEST_PrewriteOnlyAndAbandon();

 private:
  enum class State { kActive, kCommitted, kRolledBack, kFailed };
  absl::Status CheckActive(bool writing) const;
  absl::Status SnapshotGet(const std::string& key, std::optional<std::string>* out);
  // Locks `keys` (pessimistic mode). `latest`: a locking read at for_update_ts_,
  // refreshed from the TSO on a write conflict, remembering the values locked; otherwise
  // the keys are locked at start_ts and a newer commit is a write conflict (Put and
  // Delete keep first-committer-wins, as snapshot isolation needs).
  absl::Status AcquirePessimistic(const std::vector<std::string>& keys, bool latest);
  struct PrewriteResult {
    TimeStamp min_commit_ts = 0;
    TimeStamp one_pc_commit_ts = 0;
    bool fell_back = false;
  };
  absl::Status PrewriteAll(bool async, bool one_pc, PrewriteResult* out, uint64_t deadline);
  void CleanupAfterFailure(const std::vector<std::string>& keys);
  // Rolls the failed transaction back, its primary first: the primary's rollback decides
  // its fate. A prewrite that was sent again after a lost response (1PC, async commit) may
  // have committed the transaction already: then the primary's rollback finds the commit
  // and this returns its commit_ts (and leaves the rest alone). Returns 0 once the primary
  // is rolled back; an error (nothing else touched) when the primary's rollback failed.
  absl::StatusOr<TimeStamp> RollBackPrimaryFirst(const std::vector<std::string>& keys);
  void ReleasePessimisticLocks();
  void StartHeartbeat();
  void StopHeartbeat();

  Client* const client_;
  const BeginOptions options_;
  const TimeStamp start_ts_;
  TimeStamp commit_ts_ = 0;
  std::string commit_kind_;
  State state_ = State::kActive;
  absl::Status failure_;
  std::map<std::string, std::optional<std::string>> writes_;  // nullopt: delete.
  std::set<std::string> lock_only_;                           // LockKeys (optimistic).
  std::set<std::string> must_not_exist_;                      // Insert (in writes_).
  std::set<std::string> pessimistic_locked_;
  // Pessimistic: the highest for_update_ts any lock was taken at (start_ts until a
  // locking read met a newer commit), and the values locking reads locked.
  TimeStamp for_update_ts_ = 0;
  std::map<std::string, std::optional<std::string>> locked_values_;
  std::string primary_;
  std::function<absl::Status()> commit_check_;
  TimeStamp check_max_commit_ts_ = 0;
  std::vector<TimeStamp> bypass_;  // Locks of txns known to commit above start_ts.
  std::shared_ptr<Notification> hb_stop_;
  WaitGroup hb_done_;
  bool hb_running_ = false;
};

}  // namespace rutile::txn::client

#endif  // RUTILE_TXN_CLIENT_TXN_CLIENT_H_
