// Peer: one region's replica on a store (TiKV's peer.rs and the apply half of apply.rs).
// It owns the RawNode, the PeerStorage it reads, the proposals waiting for their entries to
// apply, the reads waiting for a read index, and the leader lease. A Store's poller drives
// it (store.h): it feeds messages, ticks and requests in, takes the Ready, persists it in a
// group commit with other peers' Readys, sends the messages, has ApplyEntries run on an apply
// fiber, then calls PostApply and Advance.
//
// Thread safety: none. At any moment one fiber uses a Peer: the poller that holds it, or the
// apply fiber the poller waits for.

#ifndef RUTILE_RAFTSTORE_PEER_H_
#define RUTILE_RAFTSTORE_PEER_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "raft/raw_node.h"
#include "raft_cmdpb.pb.h"
#include "raft_serverpb.pb.h"
#include "raftstore/config.h"
#include "raftstore/peer_storage.h"
#include "raftstore/region_snapshot.h"
#include "raftstore/snap.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "util/sync.h"

namespace rutile::raftstore {

// The leader lease as the store's local reader sees it (Peer::local_lease). Only the fiber
// driving the peer writes it; readers on any fiber bracket their engine reads with
// Begin/HeldThroughout, a sequence-lock check:
//
//   uint64_t gen;
//   if (!lease.Begin(&gen)) -> no local read
//   ... read the engine ...
//   if (!lease.HeldThroughout(gen, env)) -> discard what was read, take the slow path
//
// Every event that ends the lease early (stepping down, a transfer starting, a term
// change, PrepareMerge) zeroes `expire` and then bumps `generation`; a new lease is only
// ever published after such a zeroing (a new term always passes through one), and within
// one generation `expire` only grows. So a reader that finds the same generation before
// and after, a non-zero expiry after, and the clock still below it, read while this peer
// held one unbroken lease.
struct LocalLease {
  std::atomic<uint64_t> expire{0};  // On the store's clock (Env::NowMicros); 0: none.
  std::atomic<uint64_t> generation{0};
  // The leader's term the lease belongs to; stored before a non-zero `expire` is, and
  // never changed within one generation, so a reader between Begin and a successful
  // HeldThroughout reads the term of the lease it held (RegionSnapshot::leader_term).
  std::atomic<uint64_t> term{0};

  bool Begin(uint64_t* gen) const {
    *gen = generation.load(std::memory_order_acquire);
    return expire.load(std::memory_order_acquire) != 0;
  }
  bool HeldThroughout(uint64_t gen, Env* env) const {
    // The reads above happen before the loads below (seqlock reader's fence).
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint64_t e = expire.load(std::memory_order_acquire);
    return e != 0 && generation.load(std::memory_order_acquire) == gen && env->NowMicros() < e;
  }
  // Writer side (the peer's fiber).
  void Set(uint64_t e) {
    if (e == 0) {
      Zero();
    } else {
      expire.store(e, std::memory_order_release);
    }
  }
  void Zero() {
    if (expire.load(std::memory_order_relaxed) == 0) return;
    expire.store(0, std::memory_order_release);
    generation.fetch_add(1, std::memory_order_acq_rel);
  }
};

using WriteCallback = Promise<absl::Status>;
using ReadResult = absl::StatusOr<std::shared_ptr<RegionSnapshot>>;
using ReadCallback = Promise<ReadResult>;

// What applying committed entries changed beyond data, for the store to act on.
struct ExecResult {
  enum class Kind { kConfChange, kSplit, kCompactLog, kPrepareMerge, kCommitMerge, kRollbackMerge };
  Kind kind = Kind::kConfChange;
  // kConfChange: the change to hand to RawNode::ApplyConfChange.
  raft::ConfChangeV2 cc;
  // kConfChange, kSplit: the region after the change (for a split, the parent's part).
  metapb::Region region;
  // kSplit: the regions split off, in key order.
  std::vector<metapb::Region> new_regions;
  // kCompactLog.
  uint64_t compact_index = 0;
  // kCommitMerge: `region` is the target after absorbing `source` (as merged).
  metapb::Region source;
};

// A target peer's apply stopped at a CommitMerge because the local source peer has not
// applied up to the source's PrepareMerge: the store hands `commit_merge` to the source
// peer to catch up with (Peer::CatchUpLogs), and the target retries.
struct WaitMerge {
  uint64_t source_id = 0;
  raft_cmdpb::CommitMergeRequest commit_merge;
};

struct ApplyOutput {
  std::vector<ExecResult> results;
  // This peer was removed from its region by an applied conf change.
  bool removed_self = false;
  absl::Status error;  // An engine write failed (fatal for the store).
  // Proposals whose entries applied (or turned out stale), with their outcomes. The store
  // resolves them once it has published the new state, so a caller that sees its write
  // done also sees its effects in the store's views.
  std::vector<std::pair<WriteCallback, absl::Status>> callbacks;
  std::optional<WaitMerge> wait_merge;
};

class Peer {
 public:
  // Creates the peer `self` of `region` (as persisted; an uninitialized peer has a region
  // with only its id), loading its Raft state from `engine`.
  static absl::StatusOr<std::unique_ptr<Peer>> Create(const StoreConfig* config, Env* env,
                                                      storage::Engine* engine, SnapManager* snaps,
                                                      const metapb::Region& region,
                                                      const metapb::Peer& self,
                                                      raft_serverpb::RaftApplyState apply);

  uint64_t region_id() const { return storage_->region().id(); }
  const metapb::Region& region() const { return storage_->region(); }
  const metapb::Peer& self() const { return self_; }
  bool initialized() const { return storage_->initialized(); }
  bool IsLeader() const;
  uint64_t LeaderId() const { return raw_->raft()->lead(); }
  uint64_t Term() const { return raw_->raft()->term(); }
  uint64_t AppliedIndex() const { return storage_->apply_state().applied_index(); }
  raft::RawNode* raft() { return raw_.get(); }
  PeerStorage* storage() { return storage_.get(); }
  // The peer with `id` as this peer knows it (region members and peers heard from).
  std::optional<metapb::Peer> GetPeer(uint64_t id) const;
  std::optional<metapb::Peer> Leader() const;

  // ---- Input, on the poller ----

  // Steps a message from another peer. Returns false when it was dropped.
  bool Step(const raft_serverpb::RaftMessage& msg);
  // One Raft tick, plus the periodic leader duties that ride on ticks (log GC).
  void Tick();
  // Proposes a command; `cb` resolves when it applies, or at once with a region error.
  void Propose(raft_cmdpb::RaftCmdRequest req, WriteCallback cb);
  // Serves a consistent read: at once under a valid lease, otherwise after ReadIndex. With
  // header.replica_read a follower serves it too: it gets a read index from the leader
  // (Raft forwards MsgReadIndex) and reads locally once it applied that far.
  void Read(const raft_cmdpb::RaftRequestHeader& header, ReadCallback cb);
  // ---- Merge ----
  // The merge this region is in (PrepareMerge applied), if any. While set, proposals
  // other than RollbackMerge and all reads fail with ProposalInMergingMode.
  const std::optional<raft_serverpb::MergeState>& merge_state() const { return merge_state_; }
  void set_merge_state(std::optional<raft_serverpb::MergeState> ms) {
    merge_state_ = std::move(ms);
  }
  // A CommitMerge for the target from this (merging) source peer: its entries after
  // min_index up to the PrepareMerge, read from its own log.
  absl::StatusOr<raft_cmdpb::RaftCmdRequest> BuildCommitMerge() const;
  // Source side of a stalled CommitMerge at the local target: queues this peer's missing
  // entries up to the PrepareMerge (its own log up to min_index, the carried ones after)
  // for the next apply round. Returns true when it has applied them all already.
  bool CatchUpLogs(const raft_cmdpb::CommitMergeRequest& cm);
  // Entries wait to be applied outside a Ready (a stalled CommitMerge, catch-up logs) and
  // their retry is due. Clears the due flag.
  bool TakeApplyDue() {
    bool due = apply_due_ && !pending_apply_.empty();
    apply_due_ = false;
    return due;
  }
  void SetApplyDue() { apply_due_ = true; }
  bool HasPendingApply() const { return !pending_apply_.empty(); }
  // Set by ticks while merging: the store should push the merge forward (or roll back).
  bool TakeMergeCheckDue() {
    bool due = merge_check_due_;
    merge_check_due_ = false;
    return due;
  }

  // Fails every waiting proposal and read with `status` (the peer is going away).
  void FailPending(const absl::Status& status);
  void Campaign();
  // A peer loaded after a restart may have acknowledged a leader's lease and forgotten:
  // it ignores (pre-)votes for its first election_tick ticks, so a new leader cannot be
  // elected with its help while that lease may still hold (config.h, max_lease_micros).
  void IgnoreVotesAfterRestart() { ignore_votes_ticks_ = config_->election_tick; }

  // ---- The Ready cycle, on the poller (ApplyEntries on an apply fiber) ----

  // Installs the data of the Ready's snapshot before its Raft part is persisted.
  absl::Status ApplySnapshot(const raft::Snapshot& snap);
  // Wraps Raft messages for the transport.
  std::vector<raft_serverpb::RaftMessage> WrapMessages(std::vector<raft::Message> msgs);
  // Notes a Ready's soft state and read states.
  void OnReady(const raft::Ready& rd);
  // Applies committed entries: data and apply state in one batch.
  ApplyOutput ApplyEntries(std::vector<raft::Entry> entries);
  // Acts on what ApplyEntries reported that concerns this peer (conf changes into Raft,
  // log compaction) and serves reads that became possible.
  void PostApply(const ApplyOutput& out);

  // ---- Local reads (Store's local reader) ----
  // When the lease lets readers outside the poller serve reads, the lease's expiry on
  // this store's clock (Env::NowMicros), else 0. Shared with the store's read delegate:
  // every event that ends the lease (stepping down, a transfer starting, a term change,
  // PrepareMerge proposed or applied) zeroes it at once, on the fiber that saw it;
  // PublishLocalLease sets it from the lease when the peer may serve lease reads at all
  // (leader, no transfer, an entry of its term applied, no merge). Returns what it set.
  const std::shared_ptr<LocalLease>& local_lease() const { return local_lease_; }
  // The version of this peer's region data (region_snapshot.h), shared with the store's
  // local reader.
  const std::shared_ptr<DataVersion>& data_version() const { return data_version_; }
  uint64_t PublishLocalLease();
  void DropLease();

  // ---- Hibernation ----
  // The leader found the region idle (every follower caught up, nothing pending) for
  // hibernate_idle_ticks ticks; a follower heard so from its leader (RaftMessage.hibernate).
  bool hibernating() const { return hibernating_; }
  // Hibernating and the group knows it: the store stops ticking the peer altogether until
  // a message or a request wakes it (Store's tick set), or its leader's store falls
  // silent (store liveness). A leader sleeps once it ticked 2 * heartbeat_tick times while
  // hibernating, so a heartbeat carrying the flag went to every follower and the answers
  // had time to come back; a follower as soon as that heartbeat arrived.
  bool asleep() const;
  void Wake();

  // Written bytes and keys since the last split check.
  uint64_t written_bytes() const { return written_bytes_; }
  uint64_t written_keys() const { return written_keys_; }
  void ResetWritten() {
    written_bytes_ = 0;
    written_keys_ = 0;
  }
  // Called before this peer's Ready messages are sent: notes the commit index they may
  // reveal (Raft's committed index, an upper bound) and returns it. A follower that learns
  // commit index C applies up to C and serves follower reads from that state at once, so
  // a lease read here must not return state older than C: the lease read (Read) and the
  // store's local reader (which compares this to the applied index it publishes) serve
  // only once this peer applied what it revealed; before that they take the ReadIndex
  // path or the mailbox, which waits for the apply.
  uint64_t RevealCommit() {
    revealed_commit_ = std::max(revealed_commit_, raw_->raft()->log().committed());
    return revealed_commit_;
  }
  // Entries proposed and not applied, and reads waiting (for tests and metrics).
  size_t PendingProposals() const { return proposals_.size(); }
  // The siblings of the last split this peer applied (including its own region).
  const std::vector<uint64_t>& last_split_regions() const { return last_split_regions_; }

  // How EpochNotMatch errors find the current descriptors of this region's split siblings.
  using RegionLookup = std::function<std::optional<metapb::Region>(uint64_t region_id)>;
  void set_region_lookup(RegionLookup lookup) { region_lookup_ = std::move(lookup); }

 private:
  // A failpoint's "<store id>:<micros>" naming this store: sleeps that long (tests).
  void FailPointDelay(const std::optional<std::string>& v);

  struct Proposal {
    uint64_t index = 0;
    uint64_t term = 0;
    uint64_t propose_micros = 0;
    WriteCallback cb;
  };
  struct PendingRead {
    uint64_t id = 0;
    uint64_t read_index = 0;  // 0 until the ReadIndex answer arrives.
    uint64_t term = 0;
    uint64_t issue_micros = 0;
    ReadCallback cb;
    // A follower read: served locally once applied to read_index, whoever leads by then.
    bool replica = false;
    // The region version the reader named (checked when the read arrived). A split or
    // merge applied while the read waited for its read index changes the region the
    // snapshot would show, so ServeReads checks it again.
    uint64_t epoch_version = 0;
  };

  Peer(const StoreConfig* config, Env* env, storage::Engine* engine, SnapManager* snaps,
       metapb::Peer self, std::unique_ptr<PeerStorage> storage);

  absl::Status CheckEpoch(const raft_cmdpb::RaftCmdRequest& req, bool check_conf_ver) const;
  absl::Status EpochNotMatch(std::string_view why) const;
  void ProposeNormal(raft_cmdpb::RaftCmdRequest req, WriteCallback cb);
  void ProposeConfChange(raft_cmdpb::RaftCmdRequest req, WriteCallback cb);
  void ProposeTransferLeader(const raft_cmdpb::RaftCmdRequest& req, WriteCallback cb);
  absl::Status CheckPrepareMerge(raft_cmdpb::RaftCmdRequest* req);
  // Whether the local source of a CommitMerge has applied through its PrepareMerge.
  absl::StatusOr<bool> MergeSourceReady(const raft_cmdpb::CommitMergeRequest& cm) const;
  void WriteRegionState(storage::WriteBatch* wb, raft_serverpb::PeerState state) const;
  bool LeaseValid() const;
  void RenewLease(uint64_t from_micros);
  void CheckLocalLease();
  void ServeReads();
  // `replica`: a follower read's view, which carries no leader term.
  std::shared_ptr<RegionSnapshot> TakeSnapshot(bool replica);
  void MaybeGcLog();
  void MaybeHibernate();

  // Apply helpers (apply fiber).
  absl::Status ExecWrite(const raft_cmdpb::RaftCmdRequest& req, storage::WriteBatch* wb);
  absl::Status ExecChangePeer(const raft::ConfChangeV2& cc, const raft_cmdpb::RaftCmdRequest& req,
                              ApplyOutput* out);
  absl::Status ExecLeaveJoint(const raft::ConfChangeV2& cc, ApplyOutput* out);
  absl::Status ExecSplit(const raft_cmdpb::RaftCmdRequest& req, storage::WriteBatch* wb,
                         ApplyOutput* out);
  absl::Status ExecCompactLog(const raft_cmdpb::RaftCmdRequest& req, ApplyOutput* out);
  absl::Status ExecPrepareMerge(const raft_cmdpb::RaftCmdRequest& req, uint64_t index,
                                ApplyOutput* out);
  absl::Status ExecCommitMerge(const raft_cmdpb::RaftCmdRequest& req, storage::WriteBatch* wb,
                               ApplyOutput* out);
  absl::Status ExecRollbackMerge(const raft_cmdpb::RaftCmdRequest& req, ApplyOutput* out);

  const StoreConfig* const config_;
  Env* const env_;
  storage::Engine* const engine_;
  SnapManager* const snaps_;
  const metapb::Peer self_;
  std::unique_ptr<PeerStorage> storage_;
  std::unique_ptr<raft::RawNode> raw_;
  std::map<uint64_t, metapb::Peer> peer_cache_;

  std::deque<Proposal> proposals_;
  std::deque<PendingRead> reads_;
  uint64_t next_read_id_ = 1;
  uint64_t lease_expire_micros_ = 0;
  uint64_t max_lease_micros_ = 0;
  uint64_t revealed_commit_ = 0;  // See RevealCommit.
  std::shared_ptr<LocalLease> local_lease_ = std::make_shared<LocalLease>();
  std::shared_ptr<DataVersion> data_version_;  // Made in the constructor; never null.

  bool hibernating_ = false;
  int idle_ticks_ = 0;
  int hibernate_ticks_ = 0;  // Ticks a leader spent hibernating (see asleep()).
  int ticks_ = 0;

  uint64_t written_bytes_ = 0;
  uint64_t written_keys_ = 0;
  std::vector<uint64_t> last_split_regions_;
  RegionLookup region_lookup_;
  // Set during ApplyEntries: the apply batch must be synced (admin commands).
  bool sync_apply_ = false;

  // Merge.
  std::optional<raft_serverpb::MergeState> merge_state_;
  // Index of a PrepareMerge this leader proposed and has not applied (0: none).
  uint64_t prepare_merge_index_ = 0;
  std::deque<raft::Entry> pending_apply_;
  bool apply_due_ = false;
  bool merge_check_due_ = false;
  int last_wait_merge_tick_ = -1000;
  int ignore_votes_ticks_ = 0;
};

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_PEER_H_
