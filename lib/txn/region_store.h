// The transaction store at region leaders (TiKV's Storage + scheduler, DESIGN.md §9).
//
// RegionKv is what the store side needs from replication, defined here so that MVCC code
// never sees Raft (DESIGN.md §2): Write applies one WriteBatch atomically at the region's
// leader; Snapshot is a consistent read view of the region at its leader reflecting every
// write acknowledged before the call. lib/node adapts raftstore::RaftKv to it. Keys in
// RegionKv are the MVCC keys of types.h (encoded user key, maybe with a timestamp); region
// boundaries live in the same encoded key space. Errors from RegionKv are passed to the
// caller unchanged: region errors (NotLeader, EpochNotMatch, ...) carry their own payload
// that the client understands.
//
// TxnService is the set of transaction commands one store serves, each addressed to a
// region (RegionContext); a client calls it in process or, later, through RPC.
// RegionTxnStore implements it over a RegionKv with the store's latches, concurrency
// manager, a lock wait queue for pessimistic locks and a (possibly shared) deadlock
// detector.
//
// Thread safety: every method may be called from many fibers at once.

#ifndef RUTILE_TXN_REGION_STORE_H_
#define RUTILE_TXN_REGION_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coprocessor.pb.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "txn/commands.h"
#include "txn/concurrency_manager.h"
#include "txn/latches.h"
#include "txn/mem_locks.h"
#include "txn/reads.h"
#include "util/sync.h"

namespace rutile::txn {

// Where a command goes: the region and the epoch the caller believes current.
struct RegionContext {
  uint64_t region_id = 0;
  uint64_t conf_ver = 0;
  uint64_t version = 0;
  // RegionKv::Write only, set by the store (RegionTxnStore::RunWrite), not by clients: the
  // leader term the command's view was read under (RegionView::leader_term). The write
  // applies only if the region's leader is still in that term; otherwise it fails with a
  // region error (StaleCommand) and changes nothing. 0: not checked.
  uint64_t term = 0;
  // Set by an in-process client: how long the store may wait for the Raft answer of this
  // attempt (a proposal, a read index), on the Env its transaction service waits on:
  // `timeout_micros` (the client's attempt timeout; 0: the store's own), cut short at
  // `deadline` (Env micros, the client call's deadline; 0: none). Past the deadline
  // nothing is proposed and the command fails with DeadlineExceeded. Not sent over RPC.
  uint64_t timeout_micros = 0;
  uint64_t deadline = 0;
};

// A consistent read view of one region.
class RegionView {
 public:
  virtual ~RegionView() = default;
  // The view as an engine (reads only; keys outside the region are invisible or fail
  // with a region error). Owned by the view.
  virtual storage::Engine* engine() const = 0;
  // True when encoded `key` belongs to the region.
  virtual bool Contains(std::string_view key) const = 0;
  // The region error for encoded `key` not being in the region.
  virtual absl::Status NotInRegion(std::string_view key) const = 0;
  // The term in which this store's peer led the region when the view was taken, or 0
  // (not known, or not taken at the leader): in-memory pessimistic locks (mem_locks.h)
  // belong to one term and one epoch version and are used only by views that name both.
  virtual uint64_t leader_term() const { return 0; }
  virtual uint64_t epoch_version() const { return 0; }
  // The version of the region data the view holds (raftstore::DataVersion): two views of
  // one region with the same non-zero version hold the same data. 0: not known.
  virtual uint64_t data_version() const { return 0; }
};

// Told a write's outcome once it is known (RegionKv::Write).
using WriteOutcome = std::function<void(const absl::Status& outcome)>;

class RegionKv {
 public:
  virtual ~RegionKv() = default;
  virtual absl::StatusOr<std::shared_ptr<RegionView>> Snapshot(const RegionContext& ctx) = 0;
  // Point reads without a frozen snapshot: runs `fn` over a view whose every read is
  // linearizable and current (at a leader holding its lease: no engine snapshot is taken),
  // or over Snapshot(ctx); `fn` may run twice, so it must only read and overwrite what it
  // fills. Reads of one view are not one snapshot: Percolator point reads at ts stay exact
  // because they read each key's lock before its write records (a commit at or below ts
  // that a later read could see held its lock when the lock was read, or would have had to
  // take a commit_ts above ts: see RegionTxnStore::Get).
  virtual absl::Status ReadLatest(const RegionContext& ctx,
                                  absl::FunctionRef<absl::Status(const RegionView&)> fn) {
    absl::StatusOr<std::shared_ptr<RegionView>> view = Snapshot(ctx);
    if (!view.ok()) return view.status();
    return fn(**view);
  }
  // Applies `batch` at the region's leader (in leader term ctx.term when it is not 0).
  // DeadlineExceeded means the outcome is not known yet (the write may still apply); a
  // writer that must learn it passes
  // `on_timeout`: when the write times out, Write calls it (in the caller's fiber, before
  // returning) and calls the function it returns, if not empty, exactly once with the
  // outcome once known (OK: applied; an error: it did not apply, or the store stopped and
  // nothing reads through it any more), from any fiber, possibly before Write returns.
  absl::Status Write(const RegionContext& ctx, const storage::WriteBatch& batch) {
    return Write(ctx, batch, [] { return WriteOutcome(); });
  }
  virtual absl::Status Write(const RegionContext& ctx, const storage::WriteBatch& batch,
                             absl::FunctionRef<WriteOutcome()> on_timeout) = 0;
  // A fresh timestamp from PD's TSO (a new leader raises max_ts with it).
  virtual absl::StatusOr<TimeStamp> GetTimestamp() = 0;
};

// Wait-for graph of transactions blocked on pessimistic locks (TiKV's deadlock detector,
// which runs at one leader of the cluster). Detect adds the edge waiter -> holder unless
// it closes a cycle, in which case it returns true and adds nothing. The methods are
// virtual so that stores in other processes can reach the cluster's one graph by RPC
// (lib/node/txn_kv_service.h); this class is the graph itself.
class DeadlockDetector {
 public:
  virtual ~DeadlockDetector() = default;
  virtual bool Detect(TimeStamp waiter, TimeStamp holder);
  virtual void CleanUpWaitFor(TimeStamp waiter, TimeStamp holder);
  virtual void CleanUp(TimeStamp waiter);
  size_t TEST_EdgeCount();

 private:
  Mutex mu_;
  std::map<TimeStamp, std::multiset<TimeStamp>> wait_for_;  // Guarded by mu_.
};

// The Aborted error a deadlock victim gets (the message names the key and both txns).
absl::Status DeadlockError(TimeStamp start_ts, TimeStamp blocker, std::string_view key);
bool IsDeadlock(const absl::Status& s);

class TxnService {
 public:
  virtual ~TxnService() = default;

  virtual absl::StatusOr<std::optional<std::string>> Get(const RegionContext& ctx,
                                                         const std::string& key, TimeStamp ts,
                                                         const TxnReadOptions& opts) = 0;
  // Get with the key also given encoded (`encoded_key` == EncodeKey(key)), as a client
  // that routed the request by it has it: a store in the same process need not encode the
  // key again.
  virtual absl::StatusOr<std::optional<std::string>> GetEncoded(const RegionContext& ctx,
                                                                const std::string& key,
                                                                std::string_view encoded_key,
                                                                TimeStamp ts,
                                                                const TxnReadOptions& opts) {
    (void)encoded_key;
    return Get(ctx, key, ts, opts);
  }
  virtual absl::StatusOr<std::vector<KvPair>> BatchGet(const RegionContext& ctx,
                                                       const std::vector<std::string>& keys,
                                                       TimeStamp ts,
                                                       const TxnReadOptions& opts) = 0;
  // The view clips the scan to the region.
  virtual absl::StatusOr<std::vector<KvPair>> Scan(const RegionContext& ctx,
                                                   const ScanOptions& opts) = 0;
  virtual absl::StatusOr<PrewriteResponse> Prewrite(const RegionContext& ctx,
                                                    const PrewriteRequest& req) = 0;
  virtual absl::Status Commit(const RegionContext& ctx, const CommitRequest& req) = 0;
  virtual absl::Status Rollback(const RegionContext& ctx, const RollbackRequest& req) = 0;
  virtual absl::StatusOr<TxnStatus> CheckTxnStatus(const RegionContext& ctx,
                                                   const CheckTxnStatusRequest& req) = 0;
  virtual absl::StatusOr<uint64_t> TxnHeartBeat(const RegionContext& ctx,
                                                const TxnHeartBeatRequest& req) = 0;
  virtual absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(
      const RegionContext& ctx, const CheckSecondaryLocksRequest& req) = 0;
  // Only the keyed form (req.keys non-empty, one transaction).
  virtual absl::StatusOr<ResolveLockResponse> ResolveLock(const RegionContext& ctx,
                                                          const ResolveLockRequest& req) = 0;
  // Bounds are ignored: the whole region is scanned.
  virtual absl::StatusOr<std::vector<LockInfo>> ScanLock(const RegionContext& ctx,
                                                         const ScanLockRequest& req) = 0;
  // Waits up to wait_timeout_ms for a lock held by another transaction to go away (0: no
  // waiting). A wait that would close a cycle in the wait-for graph fails with Aborted
  // (deadlock). After the wait the last KeyIsLocked is returned.
  virtual absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
      const RegionContext& ctx, const AcquirePessimisticLockRequest& req,
      uint64_t wait_timeout_ms) = 0;
  virtual absl::Status PessimisticRollback(const RegionContext& ctx,
                                           const PessimisticRollbackRequest& req) = 0;
  // GC of the whole region at the safe point.
  virtual absl::StatusOr<GcStats> Gc(const RegionContext& ctx, TimeStamp safe_point) = 0;
  // Runs a coprocessor request (a plan fragment over the region's snapshot at
  // req.start_ts(); sql/coprocessor) and returns its encoded result. Region errors and
  // KeyIsLocked come back as the status, as for Scan. Unimplemented when the store runs no
  // coprocessor.
  virtual absl::StatusOr<coprocessor::Response> Coprocessor(const RegionContext& ctx,
                                                            const coprocessor::Request& req) {
    (void)ctx;
    (void)req;
    return absl::UnimplementedError("this store runs no coprocessor");
  }
};

class RegionTxnStore;
// What runs coprocessor requests at a store; installed by the layer that knows the DAG
// (lib/node), since txn may not depend on sql.
using CoprocessorHandler = std::function<absl::StatusOr<coprocessor::Response>(
    RegionTxnStore* store, const RegionContext& ctx, const coprocessor::Request& req)>;

class RegionTxnStore final : public TxnService {
 public:
  // `kv` and `detector` must outlive the store; `detector` may be shared among stores.
  RegionTxnStore(Env* env, RegionKv* kv, DeadlockDetector* detector);
  ~RegionTxnStore() override;

  ConcurrencyManager* cm() { return &cm_; }
  // In-memory pessimistic locks (mem_locks.h; on by default, as TiKV's
  // pessimistic-txn.in-memory): new pessimistic locks stay in the leader's memory instead
  // of being written through Raft. Off: they are written as before (locks already in
  // memory stay there until released).
  void set_in_memory_pessimistic_locks(bool on) { mem_locks_on_.store(on); }
  PessimisticLockTable* TEST_mem_locks() { return &mem_locks_; }
  // A leadership of `region` at tag `floor` and every older one ended (the store's
  // report, raftstore::Store::SetLeadershipEndHook): its in-memory locks go.
  // So does the max_ts sync of those leaderships.
  void LeadershipEnded(uint64_t region, const LeaderTag& floor);
  // Regions whose max_ts sync is remembered (tests).
  size_t TEST_MaxTsSyncedRegions();
  // How long a write command waits for its latches before it gives up with
  // DeadlineExceeded (changing nothing; the client retries). Latches are held past a
  // command's own return while its write's outcome is unknown (RunWrite), so this bounds
  // how long a caller can be kept waiting by a proposal stuck at a partitioned leader.
  void set_latch_wait_timeout(uint64_t micros) { latch_wait_micros_.store(micros); }
  // Writes whose command returned with their outcome unknown and whose latches are still
  // held (tests).
  size_t TEST_PendingWrites();

  absl::StatusOr<std::optional<std::string>> Get(const RegionContext& ctx, const std::string& key,
                                                 TimeStamp ts, const TxnReadOptions& opts) override;
  absl::StatusOr<std::optional<std::string>> GetEncoded(const RegionContext& ctx,
                                                        const std::string& key,
                                                        std::string_view encoded_key, TimeStamp ts,
                                                        const TxnReadOptions& opts) override;
  absl::StatusOr<std::vector<KvPair>> BatchGet(const RegionContext& ctx,
                                               const std::vector<std::string>& keys, TimeStamp ts,
                                               const TxnReadOptions& opts) override;
  absl::StatusOr<std::vector<KvPair>> Scan(const RegionContext& ctx,
                                           const ScanOptions& opts) override;
  absl::StatusOr<PrewriteResponse> Prewrite(const RegionContext& ctx,
                                            const PrewriteRequest& req) override;
  absl::Status Commit(const RegionContext& ctx, const CommitRequest& req) override;
  absl::Status Rollback(const RegionContext& ctx, const RollbackRequest& req) override;
  absl::StatusOr<TxnStatus> CheckTxnStatus(const RegionContext& ctx,
                                           const CheckTxnStatusRequest& req) override;
  absl::StatusOr<uint64_t> TxnHeartBeat(const RegionContext& ctx,
                                        const TxnHeartBeatRequest& req) override;
  absl::StatusOr<SecondaryLocksStatus> CheckSecondaryLocks(
      const RegionContext& ctx, const CheckSecondaryLocksRequest& req) override;
  absl::StatusOr<ResolveLockResponse> ResolveLock(const RegionContext& ctx,
                                                  const ResolveLockRequest& req) override;
  absl::StatusOr<std::vector<LockInfo>> ScanLock(const RegionContext& ctx,
                                                 const ScanLockRequest& req) override;
  absl::StatusOr<AcquirePessimisticLockResponse> AcquirePessimisticLock(
      const RegionContext& ctx, const AcquirePessimisticLockRequest& req,
      uint64_t wait_timeout_ms) override;
  absl::Status PessimisticRollback(const RegionContext& ctx,
                                   const PessimisticRollbackRequest& req) override;
  absl::StatusOr<GcStats> Gc(const RegionContext& ctx, TimeStamp safe_point) override;
  absl::StatusOr<coprocessor::Response> Coprocessor(const RegionContext& ctx,
                                                    const coprocessor::Request& req) override;

  // Installs the coprocessor. Call before the store is shared.
  void SetCoprocessorHandler(CoprocessorHandler handler) { cop_handler_ = std::move(handler); }

  // A snapshot of the region for reads at ts over the raw ranges [start, end) (empty end:
  // unbounded) with the same rules as Scan: under SI it raises max_ts to ts and checks the
  // memory lock table over every range first (KeyIsLocked), so an async-commit or 1PC
  // transaction cannot commit at or below ts in these ranges after the snapshot is taken.
  // A range starting outside the region is a region error.
  absl::StatusOr<std::shared_ptr<RegionView>> SnapshotForRead(
      const RegionContext& ctx, const std::vector<std::pair<std::string, std::string>>& ranges,
      TimeStamp ts, const TxnReadOptions& opts);

 private:
  // How long a command of `ctx` waits for its latches: the latch wait timeout, cut to the
  // client's attempt (RegionContext::timeout_micros and deadline).
  uint64_t LatchWait(const RegionContext& ctx);
  // Runs `body` over a view of the region under latches of `raw_keys` (when `latch`),
  // writes what it collected, then publishes its in-memory lock changes. `new_mem_locks`:
  // new pessimistic locks may stay in memory.
  // `sync_max_ts`: the body computes commit timestamps from max_ts (async commit, 1PC), so
  // max_ts must cover every read served by earlier leaders first (SyncMaxTs).
  template <typename F>
  auto RunWrite(const RegionContext& ctx, const std::vector<std::string>& raw_keys, bool latch,
                F&& body, bool new_mem_locks = false, bool sync_max_ts = false)
      -> decltype(body(static_cast<MvccReader*>(nullptr), static_cast<MvccTxn*>(nullptr)));
  // Raises max_ts with a fresh PD timestamp once per leadership term and epoch version of
  // the region at this store (TiKV's max_ts sync), `tag` being what the caller's view was
  // read under: a read served by an earlier leader was at a timestamp PD handed out before
  // this term began, below any fresh one; reads served here in this term raise max_ts
  // themselves. A new epoch version (a split, or a merge bringing in keys whose reads
  // another store served) syncs again. RunWrite makes the PD call without holding the
  // command's latches, then reads a new view under them; the sync counts when that view
  // names the same leadership. tag.term 0 (not known): a fresh timestamp for every
  // command.
  absl::Status SyncMaxTs(uint64_t region_id, const LeaderTag& tag);
  bool MaxTsSynced(uint64_t region_id, const LeaderTag& tag);
  absl::StatusOr<std::shared_ptr<RegionView>> ReadView(const RegionContext& ctx,
                                                       const std::vector<std::string>& raw_keys);
  // Wakes the pessimistic lock waiters of `raw_keys` (their locks may be gone).
  void WakeWaiters(const std::vector<std::string>& raw_keys);

  // A write whose command returned DeadlineExceeded while the write may still apply: what
  // the command held (latches, the async-commit memory-lock guards, its staged in-memory
  // pessimistic lock changes) stays held until the outcome is known (ResolvePending), so
  // no other command on these keys reads state the write may still change.
  struct PendingWrite;
  static void ResolvePending(const std::shared_ptr<PendingWrite>& p, const absl::Status& outcome);

  Env* const env_;
  RegionKv* const kv_;
  DeadlockDetector* const detector_;
  Latches latches_;
  ConcurrencyManager cm_;
  CoprocessorHandler cop_handler_;
  PessimisticLockTable mem_locks_;
  std::atomic<bool> mem_locks_on_{true};
  std::atomic<uint64_t> latch_wait_micros_{5'000'000};
  Mutex pending_mu_;
  std::set<std::shared_ptr<PendingWrite>> pending_;  // Guarded by pending_mu_.

  struct Waiters {
    std::vector<std::shared_ptr<Notification>> list;
  };
  Mutex wait_mu_;
  std::map<std::string, Waiters> waiters_;  // By raw key; guarded by wait_mu_.

  Mutex synced_mu_;
  // Region id -> the leadership (term, epoch version) in which max_ts was last synced;
  // guarded by synced_mu_. An entry goes when that leadership ends (LeadershipEnded).
  std::map<uint64_t, LeaderTag> max_ts_synced_;
};

}  // namespace rutile::txn

#endif  // RUTILE_TXN_REGION_STORE_H_
