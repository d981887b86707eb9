// RaftKv is how the layers above raftstore (the transactional store, the coprocessor)
// read and write a region without seeing Raft (DESIGN.md §2): a write is proposed to the
// region's Raft group and returns once it applied at the leader; a snapshot is a
// consistent read view at the leader — local under the leader lease (served in the
// caller's fiber by the store's local reader, Store::LocalRead), after a ReadIndex round
// otherwise — or, with Context::replica_read, at a follower after a ReadIndex round
// with the leader; limited to the region's range.
//
// Errors are the region errors of errors.h (NotLeader with the leader to retry at,
// EpochNotMatch with the current regions, RegionNotFound, KeyNotInRegion, ServerIsBusy,
// StaleCommand), or DeadlineExceeded when the outcome is unknown (the write may still
// apply).
//
// Thread safety: implementations accept calls from many fibers at once.

#ifndef RUTILE_RAFTSTORE_RAFT_KV_H_
#define RUTILE_RAFTSTORE_RAFT_KV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "raftstore/region_snapshot.h"
#include "rutile/env.h"
#include "storage/cf.h"

namespace rutile::raftstore {

class Store;

// Where a request goes: the region, the epoch the caller believes current, and the peer
// it believes leader (id 0: not checked).
struct Context {
  uint64_t region_id = 0;
  metapb::RegionEpoch region_epoch;
  metapb::Peer peer;
  // Snapshot only: the store's peer may be a follower (TiKV's replica read). It asks the
  // leader for a read index, waits until it applied that far and reads its own replica:
  // still linearizable, and it spreads reads over the replicas.
  bool replica_read = false;
  // Write only: the leader term the caller's read view was taken under
  // (RegionSnapshot::leader_term); the write is proposed only if this store's peer still
  // leads in that term, else it fails with StaleCommand and nothing applies. A command that
  // read at the leader, lost and regained the leadership (other leaders may have written
  // in between) must read again. 0: not checked.
  uint64_t term = 0;
  // Snapshot (when it must wait for a read index) and Write: how long the call may wait for
  // its answer, on the RaftKv's wait Env: `timeout_micros` (0: the RaftKv's own timeout),
  // cut short at `deadline` (Env micros; 0: none), the caller's deadline for the attempt.
  // Past the deadline a Snapshot does not start a read and a Write is not proposed: both
  // fail with DeadlineExceeded (the write did not apply).
  uint64_t timeout_micros = 0;
  uint64_t deadline = 0;
};

// One modification of a write.
struct Modify {
  enum class Type { kPut, kDelete, kDeleteRange };
  Type type = Type::kPut;
  storage::CF cf = storage::CF::kDefault;
  std::string key;
  // kPut: the value. kDeleteRange: the exclusive end key (empty: the region's end).
  std::string value;

  static Modify Put(storage::CF cf, std::string key, std::string value) {
    return {Type::kPut, cf, std::move(key), std::move(value)};
  }
  static Modify Delete(storage::CF cf, std::string key) {
    return {Type::kDelete, cf, std::move(key), {}};
  }
  static Modify DeleteRange(storage::CF cf, std::string start, std::string end) {
    return {Type::kDeleteRange, cf, std::move(start), std::move(end)};
  }
};

// Told a write's outcome once it is known (see RaftKv::Write).
using WriteOutcome = std::function<void(const absl::Status& outcome)>;

class RaftKv {
 public:
  virtual ~RaftKv() = default;

  // Applies `batch` atomically to the region once it is committed. OK when applied at the
  // leader.
  absl::Status Write(const Context& ctx, std::vector<Modify> batch) {
    return Write(ctx, std::move(batch), [] { return WriteOutcome(); });
  }
  // The same for a writer that must learn the outcome of a write that timed out (TiKV's
  // scheduler keeps a command's latches until its proposal's callback runs): when the
  // timeout ends the wait with the outcome unknown, Write calls `on_timeout()` in the
  // caller's fiber before it returns DeadlineExceeded, and calls the function that
  // returns (if not empty) exactly once when the outcome is known: OK when the write
  // applied; otherwise the error that ended the proposal (StaleCommand or Aborted when
  // Raft dropped the entry, RegionNotFound when the peer was destroyed, Unavailable when
  // the store stopped: nothing reads through it any more). It runs in whatever fiber
  // resolves the proposal, possibly the caller's before Write returns; it must not block.
  virtual absl::Status Write(const Context& ctx, std::vector<Modify> batch,
                             absl::FunctionRef<WriteOutcome()> on_timeout) = 0;

  // A consistent snapshot of the region at its leader, reflecting every write acknowledged
  // before the call. Shared: it stays valid as long as any holder keeps it.
  virtual absl::StatusOr<std::shared_ptr<RegionSnapshot>> Snapshot(const Context& ctx) = 0;

  // Point reads without an engine snapshot, the fast path for reading one key (a raw Get;
  // a transactional point get reading the lock, write and default CFs of one key): runs
  // `fn(view)` and returns its status, or the region error that kept it from running.
  // At a leader with a valid lease it runs in the caller's fiber over a LIVE view
  // (Store::ReadLatest: no engine snapshot taken; every read linearizable and current,
  // but several reads are not one frozen snapshot); otherwise, or when the lease ended
  // while `fn` ran, over Snapshot(ctx). So `fn` may run twice: it must only read, and
  // overwrite (not append to) what it fills.
  virtual absl::Status ReadLatest(const Context& ctx,
                                  absl::FunctionRef<absl::Status(const RegionSnapshot&)> fn);
};

// RaftKv over a local Store. `store` must outlive it; `timeout_micros` (the wait of a call
// whose Context names none) 0 means the store's request_timeout_micros. Timeouts are measured on
// `wait_env` when given (a caller outside the store's node, whose waits must end even when that
// node has crashed), else on the store's Env.
std::unique_ptr<RaftKv> NewStoreRaftKv(std::shared_ptr<Store> store, uint64_t timeout_micros = 0,
                                       Env* wait_env = nullptr);

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_RAFT_KV_H_
