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
//     Database::OpenInMemory(), the unit-test store.
// Both buffer writes and run statement rollback the same way (BufferedTxn below).
//
// Thread safety: KvStore is thread-safe; a KvTxn is used by one session at a time.

#ifndef RUTILE_SQL_KV_KV_H_
#define RUTILE_SQL_KV_KV_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/engine.h"
#include "txn/concurrency_manager.h"
#include "txn/latches.h"
#include "txn/txn_storage.h"

namespace rutile::sql::kv {

struct Pair {
  std::string key;
  std::string value;
};

// How a transaction runs (TiDB's tidb_txn_mode and isolation).
struct TxnOptions {
  // Pessimistic: the keys each statement writes are locked when the statement ends
  // (LockStatement), waiting for other transactions' locks with deadlock detection, so
  // a conflict fails the statement (1213, or 1205 after the lock wait timeout) instead
  // of the COMMIT. The write keeps snapshot isolation's first-committer-wins: a key
  // committed by another transaction after start_ts is a conflict.
  bool pessimistic = false;
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
  virtual void BeginStatement() = 0;
  virtual void RollbackStatement() = 0;
  // Buffered writes not yet committed.
  virtual size_t BufferedWrites() const = 0;
  virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;
  // Pessimistic transactions: locks the keys the running statement wrote. On failure the
  // statement's writes are rolled back (as RollbackStatement) and the error is returned
  // mapped (1213 conflict or deadlock, 1205 lock wait timeout). Optimistic: nothing.
  virtual absl::Status LockStatement() { return absl::OkStatus(); }
  // READ COMMITTED: later snapshot reads see what was committed before this call
  // (writes still commit at start_ts).
  virtual absl::Status RefreshSnapshot() { return absl::OkStatus(); }
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
  void BeginStatement() override;
  void RollbackStatement() override;
  size_t BufferedWrites() const override { return buffer_.size(); }
  absl::Status Commit() override;
  void Rollback() override;
  absl::Status LockStatement() override;
  absl::Status RefreshSnapshot() override;

 protected:
  // Pessimistic: locks `keys` (written by the running statement; their values in
  // `Buffered`). Default: nothing to lock.
  virtual absl::Status LockWritten(const std::vector<std::string>& keys) {
    (void)keys;
    return absl::OkStatus();
  }
  // READ COMMITTED: reads from now on come from a fresh snapshot.
  virtual absl::Status NewReadSnapshot() { return absl::OkStatus(); }
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
  // Writes `buffer` (not empty) atomically at a commit timestamp.
  virtual absl::Status CommitBuffer(const Buffer& buffer) = 0;
  // Called on Rollback and after a failed or finished Commit.
  virtual void Abandon() {}

 private:
  void Record(const std::string& key);

  static constexpr size_t kScanCacheBytes = 32 << 20;
  static constexpr size_t kUncachedBatch = 4096;
  Buffer buffer_;
  std::map<std::tuple<std::string, std::string, size_t, bool>, std::vector<Pair>> scan_cache_;
  size_t cache_bytes_ = 0;
  std::vector<std::pair<std::string, std::optional<std::optional<std::string>>>> undo_;
  bool in_statement_ = false;
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
  txn::TimeStamp NextTs() { return next_ts_.fetch_add(1) + 1; }
  txn::TxnStorage* storage() { return storage_.get(); }

 private:
  std::unique_ptr<storage::Engine> owned_engine_;
  storage::Engine* engine_;
  std::unique_ptr<txn::ConcurrencyManager> cm_;
  std::unique_ptr<txn::Latches> latches_;
  std::unique_ptr<txn::TxnStorage> storage_;
  std::atomic<txn::TimeStamp> next_ts_;
};

}  // namespace rutile::sql::kv

#endif  // RUTILE_SQL_KV_KV_H_
