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
// LocalKvStore owns a storage::Engine (MemEngine by default), a ConcurrencyManager,
// latches, a TxnStorage and a timestamp allocator (a counter; the PD TSO takes over when
// the SQL layer moves to the transactional client).
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
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual absl::StatusOr<std::unique_ptr<KvTxn>> Begin() = 0;
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
