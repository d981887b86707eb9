// RawNode is the application's handle on a Raft node: a deterministic state machine
// driven entirely by its caller (DESIGN.md section 5, after etcd-raft's RawNode).
//
// The loop:
//   1. Feed it: Tick() on a timer, Step(msg) for each message from a peer, Propose() and
//      friends for client requests.
//   2. If HasReady(): rd = GetReady(), then in this order
//        persist rd.hard_state, rd.entries and rd.snapshot (durably when rd.must_sync),
//        send rd.messages,
//        apply rd.committed_entries (calling ApplyConfChange for conf change entries),
//      and finally Advance(rd).
//   Ready is not to be requested again before Advance of the previous one.
//   A Ready with !must_sync whose hard_state differs from the persisted one only in its
//   commit index may leave it unwritten (or written later), provided the application
//   restarts Raft with Config::applied: Raft::Create raises the commit to it.
//
// A leader's messages in a Ready may be sent before its entries are persisted (thesis
// §10.2.1) only when the leader's vote alone cannot commit them: without
// async_storage_writes the leader counts its own log at append, so a single-voter group
// (e.g. one voter with learners) would commit, and let learners apply, entries a crash
// could lose; and only if the write finishes before any follower's ack is stepped. A
// follower's messages must never precede its write. The simplest correct order is the one
// above (raftstore/store.cc states the conditions under which it sends early).
//
// With Config::async_storage_writes the Ready loop need not wait for the disk (etcd-raft's
// AsyncStorageWrites): for each Ready
//   hand rd.hard_state, rd.entries, rd.snapshot (and rd.must_sync) to a writer, together
//     with rd.messages_after_append and rd.append_ack, in Ready order;
//   send rd.messages at once; apply rd.committed_entries; Advance(rd);
// and, as the writer finishes each write (in order; one synced write may cover several
// Readys: group commit), send its messages_after_append and call AdvanceAppend with its
// append_ack. GetReady may be called again right after Advance, while writes are pending.
// The leader counts its own log, and a candidate its own vote, only in AdvanceAppend;
// committed entries are handed out only once persisted locally (or, with
// Config::max_apply_unpersisted_entries, on the leader, up to that many entries of its
// term past the durable log: committed means durable on a quorum, so a leader need not
// wait for its own disk).
//
// Thread safety: none. One thread (or fiber) drives a RawNode.

#ifndef RUTILE_RAFT_RAW_NODE_H_
#define RUTILE_RAFT_RAW_NODE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft.pb.h"
#include "raft/config.h"
#include "raft/raft.h"

namespace rutile::raft {

// Asynchronous storage writes: what AdvanceAppend needs to know about one Ready's writes.
// Opaque to the application: move it out of the Ready and hand it back when durable.
struct AppendAck {
  std::optional<std::pair<uint64_t, uint64_t>> last_entry;  // (index, term)
  std::optional<uint64_t> snapshot_index;
  // Our own acknowledgement or vote, stepped once the write is durable.
  std::vector<Message> self_messages;
};

// Everything the application must do after a batch of input.
struct Ready {
  // Set when lead or role changed.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed; persist before sending messages.
  std::optional<HardState> hard_state;
  // Completed ReadIndex requests.
  std::vector<ReadState> read_states;
  // Entries to persist (append, truncating any conflicting suffix in storage).
  std::vector<Entry> entries;
  // A snapshot to persist and install, if set.
  std::optional<Snapshot> snapshot;
  // Committed entries to apply, in order.
  std::vector<Entry> committed_entries;
  // Messages to send after persisting.
  std::vector<Message> messages;
  // Whether hard state and entries must be fsynced before messages go out.
  bool must_sync = false;
  // Asynchronous storage writes only (see the top of this file); otherwise always empty,
  // every message being in `messages`.
  std::vector<Message> messages_after_append;
  AppendAck append_ack;
};

enum class SnapshotStatus { kFinish, kFailure };

// A node's state for status pages and tests.
struct RaftStatus {
  uint64_t id = 0;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  // Leader only: progress of every member.
  std::map<uint64_t, std::string> progress;
  std::string config;
  uint64_t lead_transferee = 0;
  // "id=1 term=2 lead=1 state=StateLeader applied=5 commit=5 ...".
  std::string String() const;
};

class RawNode {
 public:
  // Creates a node from `config`; its storage must already hold the initial state (a
  // snapshot with the initial ConfState for a new group, or whatever was persisted).
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(const Config& config);

  // Advances logical time by one tick (one election_tick / heartbeat_tick unit).
  void Tick();

  // Starts an election now (still subject to PreVote when configured).
  absl::Status Campaign();

  // Proposes `data` for the log. kProposalDropped (raft/errors.h) when it cannot be
  // accepted here: no leader known, forwarding disabled, a leader transfer is in
  // progress, or the uncommitted-size limit is reached. Success does not mean it will
  // commit: watch committed entries.
  absl::Status Propose(std::string data);

  // Proposes several entries at once: one append and one round of MsgApp for all of them
  // (what an application batching its clients' requests uses). All or none are accepted;
  // errors as Propose. An empty batch is a no-op.
  absl::Status ProposeBatch(std::vector<std::string> data);

  // Proposes a configuration change; errors as Propose. The leader refuses (turns into an
  // empty entry) a change while another is unapplied or when it does not fit the joint
  // state.
  absl::Status ProposeConfChange(const ConfChange& cc);
  absl::Status ProposeConfChangeV2(const ConfChangeV2& cc);

  // Applies a committed conf change entry's change; returns the new configuration, to be
  // persisted with the applied state.
  ConfState ApplyConfChange(const ConfChangeV2& cc);
  ConfState ApplyConfChange(const ConfChange& cc);

  // Processes a message from a peer. kStepLocalMsg for local-only types, and
  // kStepPeerNotFound for responses from non-members.
  absl::Status Step(const Message& m);
  // As above, taking the message's contents (no copy of its entries).
  absl::Status Step(Message&& m);

  // Requests a linearizable read point. The answer arrives as a ReadState with the same
  // `ctx` (which must be unique among outstanding requests) in a later Ready.
  void ReadIndex(std::string ctx);

  // Asks the leader to hand leadership to `transferee`.
  void TransferLeader(uint64_t transferee);

  // The leader failed to reach `id` (lost message); it probes the peer again.
  void ReportUnreachable(uint64_t id);
  // Outcome of sending the snapshot in a MsgSnap to `id`.
  void ReportSnapshot(uint64_t id, SnapshotStatus status);

  bool HasReady() const;
  // Collects the pending work; see the class comment for what to do with it.
  Ready GetReady();
  // Acknowledges that `rd` was handled (persisted, sent and applied). Advance uses what
  // GetReady recorded, not the vectors in `rd`, so the application may move entries,
  // committed entries and messages out of `rd` (into its storage, state machine and
  // transport) before calling it.
  void Advance(const Ready& rd);

  // Asynchronous storage writes only: the writes of the Ready that carried `ack` (and of
  // every Ready before it) are durable.
  void AdvanceAppend(AppendAck ack);

  RaftStatus Status() const;

  // For tests and the interaction harness.
  Raft* raft() { return raft_.get(); }
  const Raft* raft() const { return raft_.get(); }

 private:
  explicit RawNode(std::unique_ptr<Raft> r);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  // What the last GetReady handed out, for Advance.
  struct ReadyMarks {
    std::optional<HardState> hard_state;
    std::optional<std::pair<uint64_t, uint64_t>> last_entry;  // (index, term)
    std::optional<uint64_t> snapshot_index;
    uint64_t applied_cursor = 0;
    uint64_t committed_payload = 0;
  };
  ReadyMarks marks_;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_RAW_NODE_H_
