// Store: the multi-raft store of one node (TiKV's fsm/store.rs with its batch system). It
// hosts a peer per region replica on one storage::Engine and drives them all:
//
//   - Router: every peer has a mailbox. Raft messages from the transport, ticks, proposals
//     and reads are queued there; a peer with mail is put on the ready queue once.
//   - Pollers (StoreConfig::poller_count fibers) take up to max_batch_size ready peers at
//     a time, drain their mailboxes into their RawNodes, collect the Readys, persist all of
//     them in ONE synced WriteBatch (group commit across regions), send the messages, hand
//     the committed entries to the apply fibers (one task per peer; each task writes the
//     data and the apply state in one batch), wait for them, act on the results (conf
//     changes, splits creating peers, log compaction, reads), and Advance.
//   - Background fibers: the ticker, the split checker, and heartbeats to PD.
//   - Hibernation (TiKV's hibernate regions): the ticker ticks only the peers in its tick
//     set; a peer asleep (Peer::asleep: its region idle and every member told) leaves it
//     and costs nothing until a message, a request or a wake-up brings it back. A region
//     whose leader's store dies would then never notice, so stores check each other's
//     liveness instead, at a cost per store, not per region: every heartbeat_tick ticks a
//     store pings each store it knows (an empty raft body), and any raft traffic counts as
//     hearing from its sender; a store silent for 2 * election_tick ticks gets every
//     local asleep peer whose leader it hosts woken, to tick and elect a new leader.
//   - Peers are created at start from the engine, by splits, and on demand for messages to
//     unknown regions when valid (TiKV's maybe_create_peer: only a vote, pre-vote or first
//     heartbeat creates a peer, never for a range overlapping a local region, never for a
//     region this store already saw destroyed at a newer configuration).
//
// Requests (Propose, Read, SplitRegion, TransferLeader) may come from any fiber of the
// Env. Store ids are transport node ids: the peer on store S is reached at node S.
//
// Lifetime: Create() returns a shared_ptr that the store's own fibers share, so fibers of
// a crashed simulated node that never run again keep it valid. Stop() ends the fibers'
// loops; the engine, the endpoint and the PD client must outlive the store object.
//
// Thread safety: every public method may be called from any fiber of the Env.

#ifndef RUTILE_RAFTSTORE_STORE_H_
#define RUTILE_RAFTSTORE_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "metapb.pb.h"
#include "raft_cmdpb.pb.h"
#include "raft_serverpb.pb.h"
#include "raftstore/config.h"
#include "raftstore/pd_client.h"
#include "raftstore/peer.h"
#include "raftstore/snap.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "transport/rpc.h"
#include "util/sync.h"

namespace rutile::raftstore {

// Counters of a store, for tests and metrics.
struct StoreCounters {
  uint64_t polls = 0;             // Poller rounds.
  uint64_t ready_writes = 0;      // Group-commit writes of Raft state.
  uint64_t readys_persisted = 0;  // Readys that wrote something in those writes.
  uint64_t peers_created_by_message = 0;
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_applied = 0;
  uint64_t ticks_sent = 0;
  uint64_t hibernating_peers = 0;   // Peers whose region is hibernating (Peer::hibernating).
  uint64_t asleep_peers = 0;        // Of those, peers the ticker skips (Peer::asleep).
  uint64_t store_pings_sent = 0;    // Store liveness heartbeats.
  uint64_t liveness_wakeups = 0;    // Asleep peers woken because their leader's store fell silent.
  uint64_t local_reads = 0;         // Reads served by the local reader (no poller hop).
  uint64_t raft_messages_sent = 0;  // Raft messages its peers sent.
};

class Store : public std::enable_shared_from_this<Store> {
 public:
  struct Options {
    StoreConfig config;
    Env* env = nullptr;
    storage::Engine* engine = nullptr;
    // The node's endpoint; the store installs its raft body handler on it.
    transport::RpcEndpoint* endpoint = nullptr;
    PdClient* pd = nullptr;
  };

  // Loads every region persisted in the engine and creates its peer. Does not start.
  static absl::StatusOr<std::shared_ptr<Store>> Create(const Options& options);

  // Writes the first region of a cluster into `engine` (every store of its peers must be
  // bootstrapped with the same region before starting).
  static absl::Status BootstrapRegion(storage::Engine* engine, const metapb::Region& region);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Starts the fibers and the delivery of Raft messages.
  void Start();
  // Ends the fibers' loops and stops taking requests (they fail with ServerIsBusy). Does
  // not wait.
  void Stop();
  // Stop, then wait until every fiber of the store has returned. Must run on a fiber of
  // the Env (or the thread of Env::Default()).
  void Shutdown();

  uint64_t store_id() const { return config_.store_id; }
  const StoreConfig& config() const { return config_; }
  Env* env() const { return env_; }

  // Proposes `req` to its region (header.region_id); resolves when it applied, or with a
  // region error (errors.h).
  Future<absl::Status> Propose(raft_cmdpb::RaftCmdRequest req);
  // The same, resolving the caller's `promise` (its future is returned).
  Future<absl::Status> Propose(raft_cmdpb::RaftCmdRequest req, Promise<absl::Status> promise);
  // For a proposer that stopped waiting for a proposal whose outcome is still unknown
  // (RaftKv's timeout) but must learn it: Stop resolves `promise`, unless it was resolved
  // before, with Unavailable (at once when the store is stopped already). After Stop no
  // command reads through this store any more (reads fail with ServerIsBusy), so what
  // waited for the outcome may go on as if the proposal failed here; it may still apply
  // after a restart, which reads it from the log.
  void ResolveAtStop(Promise<absl::Status> promise);
  // A consistent snapshot of the region at its leader (lease or ReadIndex). Tries
  // LocalRead first.
  Future<ReadResult> Read(const raft_cmdpb::RaftRequestHeader& header);
  // The local reader (TiKV's LocalReader): when this store's peer of the region leads
  // with a valid lease, no transfer or merge under way, an entry of its term applied and
  // the header's epoch version current, a snapshot taken in the CALLER's fiber, with no
  // hop through the peer's mailbox and poller. nullopt when any of that does not hold
  // (or StoreConfig::local_read is off): go through Read, which decides (and errs)
  // exactly as before. As safe as the poller's lease read: the lease it checks is the
  // peer's own (config.h, max_lease_micros), on this store's clock, checked after the
  // engine snapshot was taken; every event that ends the lease zeroes it at once
  // (Peer::local_lease).
  std::optional<ReadResult> LocalRead(const raft_cmdpb::RaftRequestHeader& header);

  // The local reader's snapshot-free path, for point reads (RaftKv::ReadLatest; the raw
  // client's Get). Under the same conditions as LocalRead (leader with a valid lease, an
  // entry of its term applied, no transfer or merge, `epoch_version` current, `peer_id`
  // this store's peer or 0), runs `fn` in the caller's fiber with a LIVE view of the
  // region (RegionSnapshot::live): each read returns the engine's latest applied state,
  // with no engine snapshot taken or released. After `fn` returns it checks that the peer
  // held one unbroken lease throughout (LocalLease::HeldThroughout); if so it returns
  // fn's status, otherwise (or when the conditions do not hold) nullopt, and the caller
  // must discard what `fn` read and take the slow path (Read). `fn` must only read.
  //
  // Why this is linearizable. Each read is linearized at the instant it reads the engine.
  // At that instant this peer was the leader of some term T and held the lease: no other
  // peer can be elected (and so nothing can commit) before the lease ends (config.h,
  // max_lease_micros) or is dropped (a transfer: the drop is seen by the check after).
  // Every write acknowledged to any client before that instant is in the engine: a write
  // acknowledged in term T was applied by this leader before the acknowledgement (the
  // store resolves a proposal only after applying it), and a write acknowledged in an
  // earlier term was committed before T began, so it precedes T's first entry in the log,
  // which this peer has applied (the lease is only published once applied_term == T).
  // And nothing a follower read returned before that instant is missing: a follower
  // serves state up to a commit index it learned from this leader's messages, and the
  // reader declines while this peer has not applied the commit index it revealed
  // (PeerFsm::revealed_commit, stored before the messages are sent).
  // Conversely everything the engine holds for the region is committed (only committed
  // entries are applied), so nothing the read returns can be rolled back. The engine
  // snapshot LocalRead takes buys nothing more for a single read: it freezes the same
  // latest applied state. Several reads through one view are each linearizable but are
  // not one frozen snapshot; read in an order where that is harmless (Percolator: lock
  // CF before write CF before default CF).
  std::optional<absl::Status> ReadLatest(uint64_t region_id, uint64_t epoch_version,
                                         uint64_t peer_id,
                                         absl::FunctionRef<absl::Status(const RegionSnapshot&)> fn);

  // Splits region `region_id` at `split_keys` (ids from PD) and waits for the split to apply
  // on this store (its leader).
  absl::Status SplitRegion(uint64_t region_id, std::vector<std::string> split_keys);
  // Asks the region's leader (on this store) to hand leadership to `target`.
  absl::Status TransferLeader(uint64_t region_id, const metapb::Peer& target);
  // Proposes a configuration change at the region's leader on this store.
  absl::Status ChangePeers(uint64_t region_id, std::vector<raft_cmdpb::ChangePeerRequest> changes);
  // Starts merging region `source_id` (led by this store) into the adjacent `target` (as
  // PD sees it): proposes PrepareMerge and waits until it applied here. The merge then
  // finishes on its own: the source's peers propose CommitMerge to their local target
  // peers, or roll the merge back once the target's epoch moved past `target`'s.
  absl::Status MergeRegion(uint64_t source_id, const metapb::Region& target);

  // Per-leadership state kept beside the store (the txn layer's in-memory pessimistic
  // locks, which belong to one leader term and epoch version) learns here when it is void:
  // `hook(region_id, term, version)` runs, on a poller fiber, when this store's peer of
  // the region stops leading, changes its epoch version while leading, or is destroyed;
  // every leadership tagged (term', version') <= (term, version) is over, and any later
  // one is tagged above. One hook per store, installed by `owner` (replacing any other);
  // ClearLeadershipEndHook(owner) removes it if `owner` still holds it, waiting for a call
  // in progress. The hook must not block or call into the store.
  using LeadershipEndHook =
      std::function<void(uint64_t region_id, uint64_t term, uint64_t version)>;
  void SetLeadershipEndHook(const void* owner, LeadershipEndHook hook);
  void ClearLeadershipEndHook(const void* owner);

  // Views (copies of what the pollers last published).
  std::optional<metapb::Region> GetRegion(uint64_t region_id);
  // The region on this store whose range contains `key` (initialized peers only).
  std::optional<metapb::Region> FindRegionByKey(std::string_view key);
  std::vector<metapb::Region> Regions();
  bool IsLeader(uint64_t region_id);
  std::optional<metapb::Peer> GetLeader(uint64_t region_id);
  uint64_t AppliedIndex(uint64_t region_id);
  bool IsHibernating(uint64_t region_id);
  size_t PeerCount();
  StoreCounters stats();

  // Runs one split check over every leader region now (tests).
  void TEST_CheckSplits();
  // The data version of this store's peer of `region_id` (tests), or null.
  std::shared_ptr<const DataVersion> TEST_DataVersion(uint64_t region_id);

 private:
  struct PeerMsg {
    enum class Kind {
      kRaft,
      kTick,
      kPropose,
      kRead,
      kCampaign,
      kDestroy,
      // Merge: catch up to a CommitMerge (cmd.admin_request().commit_merge()), retry a
      // held-back apply, go away after the target absorbed this region.
      kCatchUpLogs,
      kApplyWake,
      kDestroyMerged,
      // Hibernation: the leader's store fell silent.
      kWake
    };
    Kind kind = Kind::kTick;
    raft_serverpb::RaftMessage raft;
    raft_cmdpb::RaftCmdRequest cmd;
    raft_cmdpb::RaftRequestHeader header;
    WriteCallback wcb;
    ReadCallback rcb;
  };

  // A peer and its mailbox.
  struct PeerFsm {
    absl::Mutex mu;
    std::deque<PeerMsg> mailbox ABSL_GUARDED_BY(mu);
    bool scheduled ABSL_GUARDED_BY(mu) = false;
    bool stopped ABSL_GUARDED_BY(mu) = false;
    bool tick_queued ABSL_GUARDED_BY(mu) = false;
    // What the pollers last published about the peer.
    metapb::Region region ABSL_GUARDED_BY(mu);
    std::optional<metapb::Peer> leader ABSL_GUARDED_BY(mu);
    bool is_leader ABSL_GUARDED_BY(mu) = false;
    bool hibernating ABSL_GUARDED_BY(mu) = false;
    bool asleep ABSL_GUARDED_BY(mu) = false;  // Out of the tick set (ticking_).
    uint64_t applied_index ABSL_GUARDED_BY(mu) = 0;
    // Peer::RevealCommit, stored before the peer's messages go out: the local reader
    // serves only while applied_index has reached it.
    uint64_t revealed_commit ABSL_GUARDED_BY(mu) = 0;
    uint64_t written_bytes ABSL_GUARDED_BY(mu) = 0;
    uint64_t written_keys ABSL_GUARDED_BY(mu) = 0;
    // The read delegate: the local reader reads these and applied_index above under mu
    // (Publish updates region and lease together). read_region is `region`, shared with
    // the views the local reader hands out; replaced (not changed) when region changes.
    std::shared_ptr<const metapb::Region> read_region ABSL_GUARDED_BY(mu);
    uint64_t self_peer_id = 0;                  // Set once at registration.
    std::shared_ptr<LocalLease> local_lease;    // Set once at registration.
    std::shared_ptr<DataVersion> data_version;  // Set once at registration.
    // Only the poller holding the fsm (scheduled) touches the peer.
    std::unique_ptr<Peer> peer;
    // Also the poller's: the newest hard state not written yet (only its commit index
    // differs from the persisted one; ProcessBatch).
    std::optional<raft::HardState> unsaved_hard_state;
  };
  using FsmPtr = std::shared_ptr<PeerFsm>;

  explicit Store(const Options& options);

  absl::Status LoadPeers();
  absl::StatusOr<FsmPtr> CreatePeer(
      const metapb::Region& region, const metapb::Peer& self, raft_serverpb::RaftApplyState apply,
      std::optional<raft_serverpb::MergeState> merge_state = std::nullopt);
  void RegisterFsm(const FsmPtr& fsm);
  FsmPtr Lookup(uint64_t region_id);
  // Queues `msg` for the peer; false when the peer is gone or its mailbox is full.
  bool Send(const FsmPtr& fsm, PeerMsg msg);

  void PollerLoop();
  void ApplyLoop();
  void TickLoop();
  void SplitCheckLoop();
  void HeartbeatLoop();
  void ReceiveLoop();

  void ProcessBatch(std::vector<FsmPtr>& batch);
  void HandleMsg(const FsmPtr& fsm, PeerMsg& msg);
  // RevealCommit, then SendMessages: how a Ready's messages leave.
  void SendReadyMessages(const FsmPtr& fsm, std::vector<raft::Message> msgs,
                         std::vector<std::pair<uint64_t, raft::SnapshotStatus>>* reports);
  void SendMessages(Peer* peer, std::vector<raft::Message> msgs,
                    std::vector<std::pair<uint64_t, raft::SnapshotStatus>>* snap_reports);
  void HandleSplit(Peer* parent, const ExecResult& res);
  // Destroys the peer: its Raft state always, its data unless `keep_data` (a merged
  // source, whose range now belongs to the target) or a merge already made it a tombstone.
  void DestroyPeer(const FsmPtr& fsm, bool keep_data = false);
  void HandleCommitMerge(Peer* target, const ExecResult& res);
  // A merging source pushes its merge forward: CommitMerge to the local target peer when
  // it leads, or RollbackMerge when the target moved on without it.
  void ScheduleMerge(Peer* source);
  void Publish(const FsmPtr& fsm);
  // Sets fsm->region (and read_region when it changed).
  void SetRegionLocked(PeerFsm* fsm, const metapb::Region& region)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(fsm->mu);
  // Store liveness (hibernation): pings every known store; wakes the asleep peers led
  // from a store silent for an election timeout.
  void PingStores();
  void CheckStoreLiveness();

  void OnRaftBody(uint64_t from_store, std::string body);
  void HandleRaftMessage(raft_serverpb::RaftMessage msg);
  void MaybeCreatePeer(raft_serverpb::RaftMessage msg);
  bool OverlapsLocked(std::string_view start, std::string_view end, uint64_t except_region)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void CheckSplit(const FsmPtr& fsm);
  // The middle key of the region when it is over a split threshold (or with `force`,
  // whenever it has at least two keys: PD's split without keys).
  std::optional<std::string> FindSplitKey(const metapb::Region& region, uint64_t* size,
                                          uint64_t* keys, bool force = false);
  void RunOperator(uint64_t region_id, const RegionOperator& op);
  [[noreturn]] void Fatal(const absl::Status& s, std::string_view what);

  const StoreConfig config_;
  Env* const env_;
  storage::Engine* const engine_;
  transport::RpcEndpoint* const endpoint_;
  PdClient* const pd_;
  SnapManager snaps_;

  absl::Mutex mu_;
  std::map<uint64_t, FsmPtr> peers_ ABSL_GUARDED_BY(mu_);
  // Initialized regions by start key.
  std::map<std::string, uint64_t> ranges_ ABSL_GUARDED_BY(mu_);
  StoreCounters stats_ ABSL_GUARDED_BY(mu_);
  // The peers the ticker ticks: every peer not asleep.
  std::map<uint64_t, FsmPtr> ticking_ ABSL_GUARDED_BY(mu_);

  // Store liveness. Taken after (never before) any other lock.
  absl::Mutex live_mu_;
  std::map<uint64_t, uint64_t> last_heard_ ABSL_GUARDED_BY(live_mu_);  // Store -> ticks_.
  std::set<uint64_t> known_stores_ ABSL_GUARDED_BY(live_mu_);          // Of local regions.
  std::set<uint64_t> silent_stores_ ABSL_GUARDED_BY(live_mu_);

  Channel<FsmPtr> ready_;
  Channel<std::function<void()>> apply_tasks_;
  Channel<std::string> inbox_;
  std::atomic<bool> stopped_{false};
  absl::Mutex hook_mu_;
  const void* hook_owner_ ABSL_GUARDED_BY(hook_mu_) = nullptr;
  LeadershipEndHook leadership_end_hook_ ABSL_GUARDED_BY(hook_mu_);
  void LeadershipEnded(uint64_t region_id, uint64_t term, uint64_t version);
  // ResolveAtStop's promises (resolved ones are pruned as more come).
  absl::Mutex late_mu_;
  std::vector<Promise<absl::Status>> late_ ABSL_GUARDED_BY(late_mu_);
  std::atomic<uint64_t> local_reads_{0};
  std::atomic<uint64_t> ticks_{0};  // Ticker rounds so far.
  std::atomic<uint64_t> raft_messages_sent_{0};
  // Notified by Stop; the background loops wait on it between rounds.
  Notification stop_note_;
  WaitGroup fibers_;
  std::atomic<bool> started_{false};
};

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_STORE_H_
