// The narrow transactional KV interface the SQL layer runs on, and its first
// implementation over the store-side Percolator commands (txn/txn_storage.h).
//
// A KvTxn reads a snapshot at its start_ts and buffers its writes in memory (TiDB's
// membuffer); reads see the transaction's own writes first. Commit runs Percolator's two
// phases (prewrite with the first written key as primary, then commit at a fresh
// timestamp); a write conflict or a lock left by another live transaction comes back as
// Aborted, which the session reports as MySQL error 1213 / 1205.
//
// Statement atomicity: BeginStatement() marks a point the buffer can go back to with
// RollbackStatement(), so a failing statement inside an explicit transaction changes
// nothing.
//
// Two stores implement it:
//   ClientKvStore (kv/client_kv.h) runs over the cluster's transactional client
//     (txn/client: timestamps from PD's TSO, keys routed to region leaders, 2PC / 1PC);
//     this is what a Database over a cluster uses.
//   LocalKvStore owns a storage::Engine (MemEngine by default), a ConcurrencyManager,
//     latches, a TxnStorage and a counter for timestamps: no Raft, no PD. It backs
//     Database::OpenInMemory(), the unit-test store. Its coprocessor is the same DAG
//     executor (sql/coprocessor/dag.h) run in process over its TxnStorage
//     (LocalCoprocessor), one request per read instead of one per region.
// Both buffer writes and run statement rollback the same way (BufferedTxn below).
//
// Thread safety: KvStore is thread-safe; a KvTxn is used by one session at a time.

#ifndef RUTILE_SQL_KV_KV_H_
#define RUTILE_SQL_KV_KV_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coprocessor.pb.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "txn/concurrency_manager.h"
#include "txn/latches.h"
#include "txn/region_store.h"
#include "txn/txn_storage.h"

namespace rutile::txn::client {
class Client;
}  // namespace rutile::txn::client

namespace rutile::sql::kv {

struct Pair {
  std::string key;
  std::string value;
};

// A key a transaction's reads see differently from its snapshot (KvTxn::SnapshotOverlay).
struct OverlayEntry {
  std::string key;
  std::optional<std::string> value;  // nullopt: the key is absent.
};

// A coprocessor in this process (LocalKvStore's): runs a DAG request over the store's
// MVCC data at req.start_ts(), every range at once.
class LocalCoprocessor {
 public:
  virtual ~LocalCoprocessor() = default;
  // Fills `resp` (chunks, warnings, scanned rows); a lock that keeps blocking the read
  // is KeyIsLocked, a malformed DAG InvalidArgument.
  virtual absl::Status Run(const rutile::coprocessor::Request& req,
                           rutile::coprocessor::Response* resp) = 0;
};

// Requests LocalCoprocessor::Run answered, over every local store of the process (tests).
uint64_t TotalLocalCoprocessorRequests();

// What a coprocessor read of a key range needs: the cluster's client (distsql, region
// leaders: sql/coprocessor/distsql.h) or a local coprocessor (exactly one is set), and
// the timestamp the transaction's snapshot reads at now.
struct CopSnapshot {
  txn::client::Client* client = nullptr;
  LocalCoprocessor* local = nullptr;
  uint64_t read_ts = 0;
  bool read_committed = false;
};

// How a transaction runs (TiDB's tidb_txn_mode and isolation).
struct TxnOptions {
  // Pessimistic (TiDB's pessimistic mode): a statement that writes or locks (DML,
  // SELECT ... FOR UPDATE) reads the latest committed data at a fresh for_update_ts
  // ("current read", BeginLockingStatement) and, when it ends, locks the keys it wrote
  // (and, for FOR UPDATE, the keys it read) at that for_update_ts (LockStatement),
  // waiting for other transactions' locks with deadlock detection. A key committed by
  // another transaction after the statement read is no error: the lock is taken on the
  // latest version and the statement runs again over it, so an update never loses
  // another's committed write and only a deadlock is 1213. Plain SELECTs read the
  // snapshot at start_ts.
  bool pessimistic = false;
};

// How a pessimistic transaction runs one statement that writes or locks
// (KvTxn::BeginLockingStatement).
struct LockingOptions {
  // SELECT ... FOR UPDATE: the keys the statement reads are locked too.
  bool lock_reads = false;
  // TiDB's point-get DML and INSERT ... VALUES (its PessimisticRRTxnContextProvider
  // optimization): read at the transaction's current for_update_ts instead of a fresh TSO
  // timestamp, and lock every key read as it is read (Get/BatchGet lock it with its
  // latest value, one request; see lock_on_read). What the statement depends on is then
  // locked at its latest version, so no TSO call is needed; a range read (Scan), whose
  // absent keys cannot be locked, makes the statement run again at a fresh timestamp.
  bool reuse_for_update_ts = false;
};

class KvTxn {
 public:
  virtual ~KvTxn() = default;
  virtual uint64_t start_ts() const = 0;
  virtual absl::StatusOr<std::optional<std::string>> Get(const std::string& key) = 0;
  // Values of the keys present, in key order.
  virtual absl::StatusOr<std::vector<Pair>> BatchGet(const std::vector<std::string>& keys) = 0;
  // Keys in [start, end) (end empty: unbounded), ascending or, with `reverse`, descending;
  // at most `limit` pairs (0: no limit).
  virtual absl::StatusOr<std::vector<Pair>> Scan(const std::string& start, const std::string& end,
                                                 size_t limit, bool reverse) = 0;
  virtual void Put(const std::string& key, std::string value) = 0;
  virtual void Delete(const std::string& key) = 0;
  // Pessimistic transactions: writes whose key needs no lock of its own because every
  // writer of it locks another key first (a non-unique index entry is covered by its row's
  // lock; TiDB locks row keys and unique index keys only). Otherwise Put/Delete.
  virtual void PutWithoutLock(const std::string& key, std::string value) {
    Put(key, std::move(value));
  }
  virtual void DeleteWithoutLock(const std::string& key) { Delete(key); }
  // Whether PutNotExists defers its existence check to the commit: an optimistic
  // transaction over a store whose prewrite checks it (TiDB's lazy uniqueness check,
  // tidb_constraint_check_in_place = OFF; TiKV's Mutation::Insert).
  virtual bool DefersExistenceCheck() const { return false; }
  // Only where DefersExistenceCheck(): a Put of `key`, which the caller found absent from
  // this transaction's own writes, that requires the key to have no committed version.
  // When one exists the commit fails with an error ExistingKeyOf() names the key by, and
  // nothing is written. A later Put of the key keeps the requirement.
  virtual void PutNotExists(const std::string& key, std::string value) {
    Put(key, std::move(value));
  }
  // This transaction's own write of `key` (nullopt inside: a delete), without a read of
  // the store; nullopt when it wrote none (or does not buffer).
  virtual std::optional<std::optional<std::string>> BufferedValue(const std::string& key) const {
    (void)key;
    return std::nullopt;
  }
  virtual void BeginStatement() = 0;
  virtual void RollbackStatement() = 0;
  // Buffered writes not yet committed.
  virtual size_t BufferedWrites() const = 0;
  virtual absl::Status Commit() = 0;
  // Commit gated by the schema validator (Catalog::CommitChecked, TiDB's schema lease
  // checker): `check` runs after the prewrite, just before the commit point, and an error
  // from it rolls the transaction back and is returned as is. A commit with no second
  // phase (1PC, async commit) must get a commit_ts within `window_micros` of now, else it
  // falls back to two phases and the check.
  virtual absl::Status CommitWithCheck(std::function<absl::Status()> check,
                                       uint64_t window_micros) = 0;
  virtual void Rollback() = 0;
  // Pessimistic transactions: BeginStatement for a statement that writes or locks. Its
  // reads see the latest committed data (at a fresh for_update_ts, or see
  // LockingOptions::reuse_for_update_ts) overlaid by this transaction's writes, and with
  // `lock_reads` (SELECT ... FOR UPDATE) the keys it reads are locked too. Optimistic:
  // BeginStatement.
  virtual absl::Status BeginLockingStatement(const LockingOptions& options) {
    (void)options;
    BeginStatement();
    return absl::OkStatus();
  }
  // Pessimistic: locks the keys the running statement wrote (but not those written
  // WithoutLock) and, with lock_reads, read, at its for_update_ts, waiting for other
  // holders. When some key had a commit newer than what the statement read, the keys are
  // still locked (on their latest version), the statement's writes are rolled back and
  // `*retry` is set: the statement must run again (BeginLockingStatement; it then reads
  // at the newer for_update_ts). On failure the statement's writes are rolled back and
  // the error is returned mapped (1213 deadlock, 1205 lock wait timeout). Optimistic:
  // nothing.
  virtual absl::Status LockStatement(bool* retry) {
    *retry = false;
    return absl::OkStatus();
  }
  // READ COMMITTED: later snapshot reads see what was committed before this call
  // (writes still commit at start_ts).
  virtual absl::Status RefreshSnapshot() { return absl::OkStatus(); }
  // The snapshot a coprocessor may read raw keys [start, end) at instead of Scan, or
  // nullopt when the read must go through Scan: the store runs no coprocessor, or a
  // locking statement is running (see BufferedTxn::CoprocessorSnapshot). What the
  // coprocessor returns is the committed data only: the reader merges SnapshotOverlay
  // over it (TiDB's UnionScan, exec/reader.h).
  virtual std::optional<CopSnapshot> CoprocessorSnapshot(const std::string& start,
                                                         const std::string& end) {
    (void)start;
    (void)end;
    return std::nullopt;
  }
  // What this transaction's reads of [start, end) (end empty: unbounded) see over the
  // snapshot CoprocessorSnapshot names, ascending by key, each key once: its buffered
  // writes (TiDB's membuffer) and, in a pessimistic transaction, the latest values its
  // locking reads locked (newer than the snapshot; Get and Scan return them too). A
  // value of nullopt hides the key (a delete, or a key locked while absent).
  virtual std::vector<OverlayEntry> SnapshotOverlay(const std::string& start,
                                                    const std::string& end) {
    (void)start;
    (void)end;
    return {};
  }
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual absl::StatusOr<std::unique_ptr<KvTxn>> Begin() = 0;
  // A transaction with `options`; a store without pessimistic locking runs it optimistic.
  virtual absl::StatusOr<std::unique_ptr<KvTxn>> BeginWith(const TxnOptions& options) {
    (void)options;
    return Begin();
  }
};

// Percolator outcomes as MySQL errors: conflicts are retryable (1213, SQLSTATE 40001), a
// lock another transaction holds (or a lock wait that timed out) is 1205.
absl::Status MapTxnError(const absl::Status& s);
// The key a commit found existing for a PutNotExists write (the store's AlreadyExist), or
// nullopt for any other status.
std::optional<std::string> ExistingKeyOf(const absl::Status& s);

// A KvTxn that buffers its writes (TiDB's membuffer) over a snapshot a subclass reads:
// reads merge the buffer over the snapshot, statements roll back through an undo log,
// and Commit hands the buffer to the subclass. Snapshot scans are cached per
// transaction (a correlated subquery re-runs the same scan once per outer row).
class BufferedTxn : public KvTxn {
 public:
  using Buffer = std::map<std::string, std::optional<std::string>>;  // nullopt: delete.

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) override;
  absl::StatusOr<std::vector<Pair>> BatchGet(const std::vector<std::string>& keys) override;
  absl::StatusOr<std::vector<Pair>> Scan(const std::string& start, const std::string& end,
                                         size_t limit, bool reverse) override;
  void Put(const std::string& key, std::string value) override;
  void Delete(const std::string& key) override;
  void PutWithoutLock(const std::string& key, std::string value) override;
  void DeleteWithoutLock(const std::string& key) override;
  bool DefersExistenceCheck() const override { return !Pessimistic() && StoreChecksExistence(); }
  void PutNotExists(const std::string& key, std::string value) override;
  std::optional<std::optional<std::string>> BufferedValue(const std::string& key) const override {
    return Buffered(key);
  }
  void BeginStatement() override;
  void RollbackStatement() override;
  size_t BufferedWrites() const override { return buffer_.size(); }
  absl::Status Commit() override;
  absl::Status CommitWithCheck(std::function<absl::Status()> check,
                               uint64_t window_micros) override;
  void Rollback() override;
  absl::Status BeginLockingStatement(const LockingOptions& options) override;
  absl::Status LockStatement(bool* retry) override;
  absl::Status RefreshSnapshot() override;
  std::optional<CopSnapshot> CoprocessorSnapshot(const std::string& start,
                                                 const std::string& end) override;
  std::vector<OverlayEntry> SnapshotOverlay(const std::string& start,
                                            const std::string& end) override;

 protected:
  // Pessimistic: the values locking reads locked in [start, end) that this transaction's
  // snapshot reads return over the snapshot (ascending; nullopt: locked while absent).
  // Default: none (the snapshot reads do not overlay them).
  virtual std::vector<OverlayEntry> LockedOverlay(const std::string& start,
                                                  const std::string& end) {
    (void)start;
    (void)end;
    return {};
  }
  // The coprocessor snapshot of the store (see CoprocessorSnapshot), or nullopt when the
  // store has none. Default: none.
  virtual std::optional<CopSnapshot> StoreCopSnapshot() { return std::nullopt; }
  // Pessimistic: locks `keys` (sorted, distinct; written or read by the running locking
  // statement) at the for_update_ts its reads used, on their latest versions; sets
  // `*moved` when some key had a newer commit (the for_update_ts moved past it).
  // Default: nothing to lock.
  virtual absl::Status LockKeys(const std::vector<std::string>& keys, bool* moved) {
    (void)keys;
    *moved = false;
    return absl::OkStatus();
  }
  // Pessimistic: locks `keys` (sorted, distinct, none buffered) like LockKeys and returns
  // the present ones with the latest values it locked, in key order. Default: LockKeys,
  // then a snapshot read (a subclass whose snapshot reads are not at the lock's timestamp
  // must override it).
  virtual absl::StatusOr<std::vector<Pair>> LockAndRead(const std::vector<std::string>& keys) {
    bool moved = false;
    absl::Status s = LockKeys(keys, &moved);
    if (!s.ok()) return s;
    return SnapshotBatchGet(keys);
  }
  // Pessimistic: snapshot reads from now on are current reads (`on`) at a fresh
  // for_update_ts (`fresh`) or at the transaction's present one, or go back to the
  // transaction's snapshot (`!on`). Default: nothing changes.
  virtual absl::Status SetCurrentRead(bool on, bool fresh) {
    (void)on;
    (void)fresh;
    return absl::OkStatus();
  }
  // READ COMMITTED: reads from now on come from a fresh snapshot.
  virtual absl::Status NewReadSnapshot() { return absl::OkStatus(); }
  // Whether the transaction is pessimistic (locking statements lock).
  virtual bool Pessimistic() const { return false; }
  // Whether CommitBuffer checks the keys MustNotExist() names at the store (a prewrite
  // of Mutation::Insert). Default: no (PutNotExists is not deferred).
  virtual bool StoreChecksExistence() const { return false; }
  // Whether the buffered write of `key` requires the key to have no committed version
  // (PutNotExists; the buffered value is present).
  bool MustNotExist(const std::string& key) const { return must_not_exist_.count(key) != 0; }
  // Whether the buffered write of `key` was made WithoutLock (it needs no lock).
  bool WrittenWithoutLock(const std::string& key) const { return unlocked_.count(key) != 0; }
  // The buffered write of `key` (nullopt inside: a delete), or nullopt when unbuffered.
  std::optional<std::optional<std::string>> Buffered(const std::string& key) const {
    auto it = buffer_.find(key);
    if (it == buffer_.end()) return std::nullopt;
    return it->second;
  }

  // The snapshot at start_ts. Errors are mapped by the caller (MapTxnError).
  virtual absl::StatusOr<std::optional<std::string>> SnapshotGet(const std::string& key) = 0;
  // `keys` sorted and distinct; returns the present ones in key order.
  virtual absl::StatusOr<std::vector<Pair>> SnapshotBatchGet(
      const std::vector<std::string>& keys) = 0;
  // Ascending; `reverse`: descending. At most `limit` pairs (0: no limit).
  virtual absl::StatusOr<std::vector<Pair>> SnapshotScan(const std::string& start,
                                                         const std::string& end, size_t limit,
                                                         bool reverse) = 0;
  // Writes `buffer` (not empty) atomically at a commit timestamp; when commit_check() is
  // set (CommitWithCheck), runs it between the prewrite and the commit.
  virtual absl::Status CommitBuffer(const Buffer& buffer) = 0;
  const std::function<absl::Status()>& commit_check() const { return commit_check_; }
  uint64_t commit_window_micros() const { return commit_window_micros_; }
  // Called on Rollback and after a failed or finished Commit.
  virtual void Abandon() {}

 private:
  // Notes the write of `key` in the statement's undo log; `needs_lock`: it is locked when
  // a pessimistic statement ends.
  void Record(const std::string& key, bool needs_lock);
  // Ends a locking statement's current read.
  void EndLocking();
  void ClearScanCache() {
    scan_cache_.clear();
    cache_bytes_ = 0;
  }

  static constexpr size_t kScanCacheBytes = 32 << 20;
  static constexpr size_t kUncachedBatch = 4096;
  Buffer buffer_;
  std::function<absl::Status()> commit_check_;
  uint64_t commit_window_micros_ = 0;
  std::map<std::tuple<std::string, std::string, size_t, bool>, std::vector<Pair>> scan_cache_;
  size_t cache_bytes_ = 0;
  struct Undo {
    std::string key;
    std::optional<std::optional<std::string>> prior;  // nullopt: was not buffered.
    bool prior_unlocked = false;
    bool prior_must_not_exist = false;
    bool needs_lock = true;
  };
  std::vector<Undo> undo_;
  // Buffered keys whose write was made WithoutLock.
  std::set<std::string> unlocked_;
  // Buffered keys written by PutNotExists.
  std::set<std::string> must_not_exist_;
  bool in_statement_ = false;
  // A locking statement is running: reads are current reads; with lock_reads_ the keys
  // returned are collected in read_keys_ to be locked when it ends; with lock_on_read_
  // (reuse_for_update_ts) point reads lock as they read, and scanned_ notes a range read.
  bool locking_ = false;
  bool lock_reads_ = false;
  bool lock_on_read_ = false;
  bool scanned_ = false;
  // The statement runs again at a fresh for_update_ts (a reuse_for_update_ts run scanned).
  bool force_fresh_ = false;
  std::vector<std::string> read_keys_;
};

// KvStore over txn::TxnStorage on a local engine.
class LocalKvStore : public KvStore {
 public:
  // Owns a fresh MemEngine.
  LocalKvStore();
  // Runs over `engine`, which must outlive the store.
  explicit LocalKvStore(storage::Engine* engine);
  ~LocalKvStore() override;

  absl::StatusOr<std::unique_ptr<KvTxn>> Begin() override;
  // Pessimistic transactions lock through the TxnStorage's pessimistic locks, waiting
  // (Env::Default()) for other holders up to 3 s with a deadlock detector of the store.
  absl::StatusOr<std::unique_ptr<KvTxn>> BeginWith(const TxnOptions& options) override;
  txn::TimeStamp NextTs() { return next_ts_.fetch_add(1) + 1; }
  txn::TxnStorage* storage() { return storage_.get(); }
  txn::DeadlockDetector* detector() { return detector_.get(); }
  Env* env() { return env_; }
  LocalCoprocessor* coprocessor() { return coprocessor_.get(); }

 private:
  std::unique_ptr<LocalCoprocessor> coprocessor_;
  std::unique_ptr<storage::Engine> owned_engine_;
  storage::Engine* engine_;
  std::unique_ptr<txn::ConcurrencyManager> cm_;
  std::unique_ptr<txn::Latches> latches_;
  std::unique_ptr<txn::TxnStorage> storage_;
  std::unique_ptr<txn::DeadlockDetector> detector_;
  Env* env_;
  std::atomic<txn::TimeStamp> next_ts_;
};

}  // namespace rutile::sql::kv

#endif  // RUTILE_SQL_KV_KV_H_
