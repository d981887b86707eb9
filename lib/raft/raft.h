// Raft is the consensus state machine of one node (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", and Ongaro's thesis), after etcd-raft's design:
// messages and ticks go in through Step and Tick; messages to send, entries to persist
// and entries to apply accumulate inside and are drained by RawNode into a Ready.
// Nothing here performs I/O, reads a clock or starts a thread, so a run is fully
// determined by its inputs and the configured PRNG seed.
//
// Most callers use RawNode; Raft is exposed for RawNode and for tests.
// Not thread-safe.

#ifndef RUTILE_RAFT_RAFT_H_
#define RUTILE_RAFT_RAFT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "raft.pb.h"
#include "raft/config.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/tracker/progress_tracker.h"

namespace rutile::raft {

// The id meaning "no node" (no leader, no vote).
inline constexpr uint64_t kNone = 0;

enum class StateType { kFollower, kCandidate, kLeader, kPreCandidate };
const char* StateTypeName(StateType s);

// Volatile state worth reporting when it changes (not persisted).
struct SoftState {
  uint64_t lead = kNone;
  StateType raft_state = StateType::kFollower;
  bool operator==(const SoftState& o) const { return lead == o.lead && raft_state == o.raft_state; }
};

// A completed ReadIndex request: reads may be served once applied >= index.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

class Raft {
 public:
  // Validates `c` and restores state from c.storage. kInvalidArgument on a bad config.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& c);

  // Advances logical time by one tick.
  void Tick();
  // Processes one message (local or from a peer). Returns kProposalDropped for
  // proposals this node cannot accept; other errors are not expected.
  absl::Status Step(Message m);

  // Applies a committed configuration change and returns the resulting ConfState.
  // Fatal if the change is invalid (it was validated when proposed).
  ConfState ApplyConfChange(const ConfChangeV2& cc);

  // Called by RawNode::Advance with the parts of a Ready the application handled.
  // `persisted_last` is the (index, term) of the last persisted entry, if any;
  // `applied_payload` the payload bytes of the applied entries.
  void Advance(uint64_t applied_cursor, std::optional<std::pair<uint64_t, uint64_t>> persisted_last,
               std::optional<uint64_t> persisted_snapshot_index, uint64_t applied_payload);

  SoftState GetSoftState() const { return {lead_, state_}; }
  HardState GetHardState() const;

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  bool is_learner() const { return is_learner_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  int election_elapsed() const { return election_elapsed_; }
  const RaftLog& log() const { return raft_log_; }
  RaftLog& mutable_log() { return raft_log_; }
  const tracker::ProgressTracker& tracker() const { return trk_; }
  tracker::ProgressTracker& mutable_tracker() { return trk_; }
  std::vector<Message>& mutable_msgs() { return msgs_; }
  // Asynchronous storage writes only: messages to send (or, addressed to this node, to
  // step) once everything handed out so far is persisted.
  std::vector<Message>& mutable_msgs_after_append() { return msgs_after_append_; }
  bool async_storage_writes() const { return async_storage_writes_; }
  std::vector<ReadState>& mutable_read_states() { return read_states_; }

  // Test-only: fix the randomized election timeout.
  void TEST_SetRandomizedElectionTimeout(int t) { randomized_election_timeout_ = t; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  void TEST_BecomeFollower(uint64_t term, uint64_t lead) { BecomeFollower(term, lead); }
  void TEST_BecomeCandidate() { BecomeCandidate(); }
  void TEST_BecomeLeader() { BecomeLeader(); }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit Raft(const Config& c);

  // State transitions.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);

  // Elections.
  void Hup(CampaignType t);
  void Campaign(CampaignType t);
  quorum::VoteResult Poll(uint64_t id, MessageType t, bool granted, int* gr, int* rj);
  bool Promotable() const;
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void ResetRandomizedElectionTimeout();

  // Per-role message handling.
  absl::Status StepLeader(Message& m);
  absl::Status StepCandidate(Message& m);
  absl::Status StepFollower(Message& m);
  void HandleAppendEntries(Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  bool Restore(const Snapshot& s);

  void TickElection();
  void TickHeartbeat();

  // Sending.
  void Send(Message m);
  void SendAppend(uint64_t to) { MaybeSendAppend(to, true); }
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BcastAppend();
  void BcastHeartbeat();
  void BcastHeartbeatWithCtx(const std::string& ctx);
  void SendTimeoutNow(uint64_t to);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }

  // Log.
  bool AppendEntry(std::vector<Entry> es);
  bool MaybeCommit();
  bool IncreaseUncommittedSize(const std::vector<Entry>& ents);
  void ReduceUncommittedSize(uint64_t payload);
  void LoadState(const HardState& hs);

  // Reads.
  bool CommittedEntryInCurrentTerm() const;
  // Lease reads: whether a quorum acknowledged a heartbeat sent recently enough that no
  // other leader can have been elected since (see lease_acks_).
  bool LeaseValid() const;
  void HandleLeaseAck(uint64_t from, const std::string& ctx);
  void SendReadIndexResponse(const Message& m);
  // Either records a ReadState (local request) or returns a response to send.
  std::optional<Message> ResponseToReadIndexReq(const Message& req, uint64_t read_index);
  void ReleasePendingReadIndexMessages();

  ConfState SwitchToConfig(tracker::Config cfg, tracker::ProgressMap prs);

  template <typename... Args>
  void Logf(LogLevel level, const absl::FormatSpec<Args...>& fmt, const Args&... args) const {
    if (logger_ != nullptr) logger_->Log(level, absl::StrFormat(fmt, args...));
  }

  uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  std::vector<ReadState> read_states_;
  RaftLog raft_log_;
  uint64_t max_msg_size_;
  uint64_t max_uncommitted_size_;
  tracker::ProgressTracker trk_;
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_append_;
  bool async_storage_writes_;
  // Config::max_apply_unpersisted_entries (0 without async_storage_writes); in effect only
  // while leader.
  uint64_t max_apply_unpersisted_ = 0;
  uint64_t lead_ = kNone;
  // Id of the node leadership is being transferred to, kNone otherwise.
  uint64_t lead_transferee_ = kNone;
  // Only one conf change may be pending (proposed and not applied). The leader refuses
  // new ones while pending_conf_index_ > applied.
  uint64_t pending_conf_index_ = 0;
  // Payload bytes appended by this leader and not yet applied.
  uint64_t uncommitted_size_ = 0;
  ReadOnly read_only_;
  // Ticks since the last election timeout (or, on a leader, since the last CheckQuorum).
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  bool check_quorum_;
  bool pre_vote_;
  bool disable_proposal_forwarding_;
  bool step_down_on_removal_;
  int heartbeat_timeout_;
  int election_timeout_;
  int randomized_election_timeout_ = 0;
  // Lease reads (kLeaseBased, which requires CheckQuorum), thesis §6.4.1. A follower that
  // heard from the leader ignores votes for election_timeout ticks (the in_lease check in
  // Step); a restarted node, which forgot whom it heard from, for its first
  // election_timeout ticks (restarted_with_lease_). So a leader whose heartbeat sent at tick T was
  // acknowledged by a quorum keeps the lease until tick T + election_timeout (less a margin of
  // kLeaseMarginTicks for tick phase and drift), and serves reads from its commit index
  // without a heartbeat round until then; afterwards, or once it began a leader transfer
  // (whose vote ignores leases), it falls back to the ReadOnlySafe round.
  // ticks_: ticks since this node was created. lease_acks_: per voter, 1 + the tick at
  // which the latest heartbeat it acknowledged (in this term) was sent.
  uint64_t ticks_ = 0;
  std::map<uint64_t, uint64_t> lease_acks_;
  bool lease_revoked_ = false;
  // Restarted (hard state term > 0) with lease reads on: ignores votes for its first
  // election_timeout ticks.
  bool restarted_with_lease_ = false;
  // ReadIndex requests received before this leader committed an entry of its term.
  std::vector<Message> pending_read_index_messages_;
  // splitmix64 state for randomized election timeouts.
  uint64_t rng_state_;
  Logger* logger_;
};

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_RAFT_H_
