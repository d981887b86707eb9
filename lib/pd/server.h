// PdServer: one member of the replicated placement driver (DESIGN.md section 8). The
// members form one Raft group (lib/raft RawNode over EngineLogStorage in the hosting
// node's engine, group id kPdRaftGroupId, a key range raftstore's region ids never reach)
// whose log holds the durable state: cluster id, the id allocator limit, the TSO window
// limit, the stores and the GC safe point. Raft messages travel as "Pd.Raft" calls over the
// node's RpcEndpoint; the service ("Pd.Tso", "Pd.AllocId", ... see pdpb.proto) answers
// only at the ready leader, every other member answers not_leader with its leader hint.
//
// Leadership. A member that becomes leader first applies everything committed before its
// term (its term's first entry applied), then starts the TSO (loads the committed window
// limit L, serves above it, commits a new limit ahead through Raft) and the id allocator,
// and builds a fresh scheduling view (pd::Scheduling) from the replicated stores; regions
// come back from heartbeats. Only then is it ready. Losing leadership stops all of it.
//
// The leader lease (PD's etcd lease, here derived from Raft as raftstore's). A quorum that
// acknowledged a message this leader sent at time t (a heartbeat round confirming a
// ReadIndex, or a proposal of its term that committed) refuses (pre-)votes until
// election_tick of its own ticks passed, so no successor can be elected before
// t + (election_tick - 1) * tick_micros of true time. The leader holds a lease until
// t + lease_micros on its own monotonic clock, lease_micros at most that bound shrunk by
// the clock drift allowed, (election_tick - 1) * tick_micros * (1 - d) / (1 + d)
// (MaxSafePdLeaseMicros). Every TSO request checks the lease when it arrives, before it
// allocates: held, it allocates from memory; not held, it first confirms leadership with
// a ReadIndex round (which renews the lease). So a deposed leader that has not noticed yet
// (partitioned away, still reachable by clients) stops handing out timestamps before a
// successor can start, and the successor starts above the window limit its predecessor
// committed: timestamps are strictly increasing in real time across failovers. A lease
// keeper fiber renews the lease (a ReadIndex round) when less than half of it remains. A
// restarted member may have acknowledged a lease and forgotten it, so it ignores
// (pre-)votes for its first election_tick ticks (as lib/raft and raftstore do).
//
// Configuration. Turning scheduling on or off and the pd-ctl verbs that change the
// configuration or the schedulers ("config set", "scheduler add|remove") run at the leader
// and are then committed to the log; a new leader replays them on its fresh scheduling
// view, so they survive failovers. Operators are not replicated (as in PD: a new leader's
// checkers and schedulers make new ones).
//
// The state machine is volatile: rebuilt at start from the last snapshot and the log after
// it. Every `compact_log_entries` applied entries the member snapshots its state machine
// (pdpb.State) into its log storage and compacts the log up to there; a member that lags
// behind the compacted log gets that snapshot from the leader.
//
// Thread safety: every method may be called from any fiber of the Env.

#ifndef RUTILE_PD_SERVER_H_
#define RUTILE_PD_SERVER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pd/scheduling.h"
#include "pd/tso.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "transport/rpc.h"

namespace rutile::pd {

// The EngineLogStorage group id of the PD Raft group (region ids come from PD's id
// allocator and never get near it).
inline constexpr uint64_t kPdRaftGroupId = ~uint64_t{0};

struct PdServerOptions {
  // This member's id (its node id on the transport) and every member's, this one included.
  uint64_t member_id = 0;
  std::vector<uint64_t> members;
  Env* env = nullptr;
  // Holds the PD Raft log; not owned, must outlive the server.
  storage::Engine* engine = nullptr;
  // The hosting node's endpoint; not owned, must outlive the server. The "Pd.*" methods
  // are registered on it.
  transport::RpcEndpoint* endpoint = nullptr;
  uint64_t tick_micros = 50'000;
  int election_tick = 10;
  int heartbeat_tick = 2;
  // Ids below this are never handed out (reserved for bootstrap).
  uint64_t id_floor = 1;
  SchedulingOptions scheduling;
  TsoOptions tso;
  // How often the leader advances the TSO (TsoAllocator::UpdateTimestamp).
  uint64_t tso_update_interval_micros = 50'000;
  // How long a proposal or a ReadIndex may take before it fails Unavailable.
  uint64_t propose_timeout_micros = 3'000'000;
  // Snapshot and compact the log after this many applied entries (0: never).
  uint64_t compact_log_entries = 1000;
  // The worst relative rate error of any member's monotonic clock, in [0, 1).
  double max_clock_drift = 0.05;
  // The leader lease (see the file comment); 0 means MaxSafePdLeaseMicros, a larger value
  // is refused by Start.
  uint64_t lease_micros = 0;
};

// The longest leader lease that keeps the TSO strictly increasing across failovers (see
// the file comment); 0 when the options allow none.
inline uint64_t MaxSafePdLeaseMicros(const PdServerOptions& o) {
  if (o.election_tick < 2 || o.max_clock_drift < 0 || o.max_clock_drift >= 1) return 0;
  const double ticks = static_cast<double>(o.election_tick - 1);
  return static_cast<uint64_t>(ticks * static_cast<double>(o.tick_micros) *
                               (1 - o.max_clock_drift) / (1 + o.max_clock_drift));
}

class PdServer {
 public:
  // Opens the member's Raft log (bootstrapping the group on first start), registers the
  // service methods and starts the member's fibers. Must run on a fiber of options.env.
  // InvalidArgument for bad options; the engine's errors.
  static absl::StatusOr<std::unique_ptr<PdServer>> Start(const PdServerOptions& options);
  // Stops the member without waiting for its fibers (they hold what they use).
  ~PdServer();
  PdServer(const PdServer&) = delete;
  PdServer& operator=(const PdServer&) = delete;

  // Stops the fibers and waits for them (on a fiber of the Env); service calls answer
  // Unavailable from then on. Idempotent.
  void Stop();

  uint64_t member_id() const;
  // True while this member is the leader and serves.
  bool IsServing() const;
  // True while this member serves and holds the leader lease (tests).
  bool TEST_HoldsLease() const;
  // The leader this member knows of (0: none).
  uint64_t leader() const;
  // The first index still in this member's log and the last applied (tests: compaction).
  uint64_t TEST_FirstLogIndex() const;
  uint64_t TEST_AppliedIndex() const;

  struct Core;

 private:
  explicit PdServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_SERVER_H_
