// RawKvClient: the raw (non-transactional) key-value API of a Rutile cluster, TiKV's
// RawKV: Get, Put, Delete, Scan, BatchGet, BatchPut over keys partitioned into regions.
// Each request goes to the leader of the region holding its key, found through a region
// cache filled from PD lookups. Region errors are retried with exponential backoff
// (measured on the Env) until the request's deadline: NotLeader (retry at the hinted
// leader, or the next replica), EpochNotMatch and KeyNotInRegion (refresh the cache, from
// the regions the error carries when it has them), RegionNotFound (next replica),
// ServerIsBusy and StaleCommand (back off).
//
// Writes of one region are atomic; a BatchPut spanning regions is not (one write per
// region). A request that timed out may still have applied (DeadlineExceeded).
//
// Open() reaches the stores of the given in-process nodes directly (no RPC) unless
// RawKvOptions::rpc_client_id asks for RPC; Connect() works over a Transport only, through
// the KV RPC service each Node serves (lib/proto/kvrpcpb.proto). The transactional API
// comes later in this header.
//
// Thread safety: every method may be called from any fiber of the nodes' Env
// concurrently. The nodes must outlive the client.

#ifndef RUTILE_KV_H_
#define RUTILE_KV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/transport.h"

namespace rutile {

class Node;
class Pd;
namespace node {
struct Access;     // Internal: lib/node's helpers (node_internal.h).
struct TxnAccess;  // Internal: lib/node/txn_service.h.
}  // namespace node

struct RawKvOptions {
  // How long one call (including its retries) may take.
  uint64_t timeout_micros = 20'000'000;
  // Backoff between retries: doubles from the first to the max.
  uint64_t backoff_first_micros = 2'000;
  uint64_t backoff_max_micros = 500'000;
  // Open() only: when non-zero the client reaches the stores and PD over RPC (the KV and PD
  // services every Node serves), as node `rpc_client_id` on the nodes' Transport, an id no
  // node uses; zero: in-process, straight to the stores (faster).
  uint64_t rpc_client_id = 0;
  // How long one call to one store may wait for its answer before the client tries again
  // (elsewhere when no leader is known), never past the call's timeout: over RPC the RPC's
  // timeout (a killed store shows up only this way), in process the store's wait for the
  // Raft answer. Opening a client rejects zero timeouts and backoffs and a
  // backoff_max_micros below backoff_first_micros (InvalidArgument).
  uint64_t attempt_timeout_micros = 3'000'000;
};

// A region as the client sees it (for layout displays and tests).
struct RegionDescription {
  uint64_t id = 0;
  std::string start_key;  // Inclusive; empty: -inf.
  std::string end_key;    // Exclusive; empty: +inf.
  std::vector<uint64_t> stores;
  uint64_t leader_store = 0;  // 0: not known.
};

class RawKvClient {
 public:
  using KvPair = std::pair<std::string, std::string>;

  // A client over the stores of `nodes` (all of one cluster).
  static absl::StatusOr<std::unique_ptr<RawKvClient>> Open(
      const std::vector<Node*>& nodes, const RawKvOptions& options = RawKvOptions());
  // A client of a cluster it reaches only over `transport` (nodes in other processes):
  // registers as node `client_id` (an id no node uses) and finds regions at the PD hosted
  // by node `pd_node`. `env` (a real Env) and `transport` must outlive the client.
  static absl::StatusOr<std::unique_ptr<RawKvClient>> Connect(
      Env* env, Transport* transport, uint64_t client_id, uint64_t pd_node,
      const RawKvOptions& options = RawKvOptions());
  ~RawKvClient();
  RawKvClient(const RawKvClient&) = delete;
  RawKvClient& operator=(const RawKvClient&) = delete;

  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // Pairs with start <= key < end (empty end: no bound), in key order, at most `limit`
  // (0: no limit).
  absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start, const std::string& end,
                                           size_t limit = 0);
  // One result per key, in the order asked.
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      const std::vector<std::string>& keys);
  absl::Status BatchPut(const std::vector<KvPair>& pairs);

  // Admin: splits the region holding `key` so that `key` starts a region (no-op when it
  // already does). Waits for the split to apply at the leader.
  absl::Status SplitAt(const std::string& key);
  // The regions PD knows, in key order.
  std::vector<RegionDescription> Regions();

  struct Impl;

 private:
  friend struct node::Access;
  explicit RawKvClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- Transactions ----
//
// TxnClient is the transactional API (TiKV's TxnKV, Percolator): Begin() takes a start_ts
// from PD's TSO; a Transaction reads the snapshot at start_ts (resolving the locks of
// other transactions it meets: committing or rolling them back through their primary, or
// waiting for live ones), buffers its writes and commits them atomically across regions
// with two-phase commit, async commit, or one-phase commit when every key lives in one
// region. Pessimistic transactions lock keys as they write or LockKeys them, waiting for
// other holders (up to lock_wait_timeout_ms) with deadlock detection.
//
// Errors of a transaction:
//   Aborted             write conflict (the message names the key, start_ts, and the
//                       conflicting start_ts/commit_ts), deadlock, lock wait timeout, or
//                       rolled back by another transaction. Run the transaction again with
//                       a new Begin(); the client never retries it for you.
//   FailedPrecondition  the transaction was already committed or rolled back, or a write
//                       in a read-only (read_ts) transaction.
//   DeadlineExceeded    Commit's outcome is unknown (it may have committed).
//   AlreadyExists       an insert-style conflict reported by the store.
//   InvalidArgument     an empty key.
//
// Keys live in Percolator's encoded key space: use TxnClient::SplitAt (not RawKvClient's)
// to place region boundaries between transactional keys. Raw and transactional keys must
// not be mixed in one key range.
//
// Thread safety: a TxnClient may be shared by fibers of the nodes' Env; a Transaction is
// used by one fiber at a time. The client must outlive its transactions and the nodes
// must outlive the client; destroying the client waits for background commits.

struct TxnClientOptions {
  // How long one call (a read, a prewrite, a commit), retries included, may take.
  uint64_t timeout_micros = 20'000'000;
  uint64_t backoff_first_micros = 2'000;
  uint64_t backoff_max_micros = 200'000;
  // Open(nodes) only: when non-zero the client reaches the stores and PD over RPC (the
  // transactional KV service every Node serves), as node `rpc_client_id` on the nodes'
  // Transport, an id no node uses; zero: in process, straight to the stores (faster).
  uint64_t rpc_client_id = 0;
  // How long one call to one store may wait for its answer (beyond a lock wait) before the
  // client tries again, and never past the call's timeout: over RPC the RPC's timeout (a
  // killed store shows up only this way), in process the store's wait for the Raft
  // answer. Open and Connect reject zero timeouts and backoffs and a backoff_max_micros
  // below backoff_first_micros (InvalidArgument).
  uint64_t attempt_timeout_micros = 3'000'000;
};

struct TxnOptions {
  bool pessimistic = false;
  // Commit as soon as every key is prewritten (the commit_ts is computed by the stores).
  bool async_commit = false;
  // Commit in one phase when every key is in one region.
  bool try_one_pc = false;
  // Non-zero: a read-only transaction reading at this timestamp (stale read).
  uint64_t read_ts = 0;
  // Locks of a client that died are resolvable this long after start_ts (a live
  // transaction extends it with heartbeats).
  uint64_t lock_ttl_ms = 3'000;
  // Pessimistic mode: how long a lock request waits for another transaction's lock.
  uint64_t lock_wait_timeout_ms = 3'000;
};

class Transaction {
 public:
  using KvPair = std::pair<std::string, std::string>;
  // A transaction dropped while active is rolled back.
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  uint64_t start_ts() const;
  // After a successful Commit: the commit timestamp (start_ts when nothing was written).
  uint64_t commit_ts() const;

  // Reads see this transaction's own writes over the snapshot at start_ts.
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      const std::vector<std::string>& keys);
  // Pairs with start <= key < end (empty end: no bound), in key order, at most `limit`
  // (0: no limit).
  absl::StatusOr<std::vector<KvPair>> Scan(const std::string& start, const std::string& end,
                                           size_t limit = 0);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // Optimistic: the keys join the commit as locks (a concurrent write to them conflicts).
  // Pessimistic: a locking read (SELECT ... FOR UPDATE): locks them now on their latest
  // committed version (a commit after start_ts is no conflict: the lock is taken again
  // at a fresh for_update_ts), which later reads of these keys in this transaction see.
  // Put and Delete in pessimistic mode lock at start_ts: a commit after start_ts on the
  // key is a write conflict (Aborted), as snapshot isolation requires.
  absl::Status LockKeys(const std::vector<std::string>& keys);
  // LockKeys({key}) and the key's value as this transaction now sees it (pessimistic: the
  // latest committed version; optimistic: the snapshot's, checked for conflicts at commit).
  absl::StatusOr<std::optional<std::string>> GetForUpdate(const std::string& key);
  absl::Status Commit();
  absl::Status Rollback();

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  friend class TxnClient;
  explicit Transaction(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class TxnClient {
 public:
  // A client over the stores of in-process `nodes` (all of one cluster).
  static absl::StatusOr<std::unique_ptr<TxnClient>> Open(
      const std::vector<Node*>& nodes, const TxnClientOptions& options = TxnClientOptions());
  // A client of a cluster whose nodes come and go (rutile::testing::TestCluster): it asks
  // `node_of(store id)` for the node serving that store at every attempt (null: down),
  // takes timestamps and regions from `pd`, and waits on `env`.
  static absl::StatusOr<std::unique_ptr<TxnClient>> Open(
      Env* env, std::shared_ptr<Pd> pd, std::function<Node*(uint64_t)> node_of,
      const TxnClientOptions& options = TxnClientOptions());
  // A client of a cluster it reaches only over `transport` (nodes in other processes):
  // registers as node `client_id` (an id no node uses), takes timestamps and regions from
  // the PD hosted by node `pd_node` (NodeOptions::host_pd), and sends every command to the
  // store leading its region through the KV RPC service. `env` and `transport` must
  // outlive the client. Must run on a fiber of `env`.
  static absl::StatusOr<std::unique_ptr<TxnClient>> Connect(
      Env* env, Transport* transport, uint64_t client_id, uint64_t pd_node,
      const TxnClientOptions& options = TxnClientOptions());
  // The same for a cluster on the replicated PD (NodeOptions::pd_members).
  static absl::StatusOr<std::unique_ptr<TxnClient>> ConnectToPdMembers(
      Env* env, Transport* transport, uint64_t client_id, const std::vector<uint64_t>& pd_members,
      const TxnClientOptions& options = TxnClientOptions());
  ~TxnClient();
  TxnClient(const TxnClient&) = delete;
  TxnClient& operator=(const TxnClient&) = delete;

  absl::StatusOr<std::unique_ptr<Transaction>> Begin(const TxnOptions& options = TxnOptions());
  // A timestamp from PD's TSO (e.g. for read_ts or a GC safe point).
  absl::StatusOr<uint64_t> CurrentTimestamp();
  // Splits the region holding `key` so that `key` starts a region.
  absl::Status SplitAt(const std::string& key);
  // One GC pass over every region: locks older than `safe_point` are resolved, and
  // versions no read at or above it can see are removed. Returns the versions removed.
  // The safe point is recorded in PD first (it never moves back; above the current
  // timestamp is InvalidArgument); a stale read (TxnOptions::read_ts) below PD's safe
  // point fails with FailedPrecondition.
  absl::StatusOr<uint64_t> Gc(uint64_t safe_point);
  // PD's GC safe point (0: no GC has run).
  absl::StatusOr<uint64_t> GcSafePoint();
  // Waits until the commits a Commit left to the background are done: 2PC's secondaries
  // and every key of an async commit (their outcome is already decided; readers that meet
  // their locks resolve them). For benchmarks measuring one commit at a time, and tests.
  void WaitForBackgroundCommits();

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  friend struct node::TxnAccess;
  explicit TxnClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rutile

#endif  // RUTILE_KV_H_
