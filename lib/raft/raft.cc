#include "raft/raft.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "raft/check.h"
#include "raft/confchange/changer.h"
#include "raft/confchange/restore.h"
#include "raft/describe.h"
#include "raft/errors.h"

namespace rutile::raft {
namespace {

// Context of a MsgVote sent on behalf of a leader transfer: voters grant it even inside
// a leader lease.
constexpr char kCampaignTransfer[] = "CampaignTransfer";

// Context of a heartbeat that renews a read lease: this prefix and the leader's tick at
// sending, which the follower echoes back.
constexpr char kLeaseCtxPrefix[] = "\x01raft-lease:";
constexpr size_t kLeaseCtxPrefixLen = sizeof(kLeaseCtxPrefix) - 1;
// Ticks of the lease given up for tick phase between nodes and clock drift.
constexpr uint64_t kLeaseMarginTicks = 2;

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

size_t NumPendingConf(const std::vector<Entry>& ents) {
  size_t n = 0;
  for (const Entry& e : ents) {
    n += e.type() == ENTRY_CONF_CHANGE || e.type() == ENTRY_CONF_CHANGE_V2;
  }
  return n;
}

// Whether cc (V2 form) asks to leave a joint configuration: the empty change.
bool LeavesJoint(const ConfChangeV2& cc) {
  return cc.transition() == CONF_CHANGE_TRANSITION_AUTO && cc.changes_size() == 0;
}

// Whether cc enters a joint configuration, and if so whether it leaves automatically.
bool EntersJoint(const ConfChangeV2& cc, bool* auto_leave) {
  if (cc.transition() != CONF_CHANGE_TRANSITION_AUTO || cc.changes_size() > 1) {
    *auto_leave = cc.transition() != CONF_CHANGE_TRANSITION_JOINT_EXPLICIT;
    return true;
  }
  return false;
}

std::string ConfStateKey(const ConfState& cs) {
  auto sorted = [](const google::protobuf::RepeatedField<uint64_t>& f) {
    std::vector<uint64_t> v(f.begin(), f.end());
    std::sort(v.begin(), v.end());
    return absl::StrJoin(v, ",");
  };
  return absl::StrCat(sorted(cs.voters()), "|", sorted(cs.learners()), "|",
                      sorted(cs.voters_outgoing()), "|", sorted(cs.learners_next()), "|",
                      cs.auto_leave());
}

void AssertConfStatesEquivalent(const ConfState& want, const ConfState& got) {
  RAFT_CHECK(ConfStateKey(want) == ConfStateKey(got),
             absl::StrCat("conf states differ: want ", DescribeConfState(want), ", got ",
                          DescribeConfState(got)));
}

}  // namespace

const char* StateTypeName(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "StateFollower";
    case StateType::kCandidate:
      return "StateCandidate";
    case StateType::kLeader:
      return "StateLeader";
    case StateType::kPreCandidate:
      return "StatePreCandidate";
  }
  return "?";
}

Raft::Raft(const Config& c)
    : id_(c.id),
      raft_log_(c.storage, c.max_committed_size_per_ready != 0 ? c.max_committed_size_per_ready
                                                               : c.max_size_per_msg),
      max_msg_size_(c.max_size_per_msg),
      max_uncommitted_size_(c.max_uncommitted_entries_size == 0 ? kNoLimit
                                                                : c.max_uncommitted_entries_size),
      trk_(c.max_inflight_msgs, c.max_inflight_bytes),
      read_only_(c.read_only_option),
      check_quorum_(c.check_quorum),
      pre_vote_(c.pre_vote),
      disable_proposal_forwarding_(c.disable_proposal_forwarding),
      step_down_on_removal_(c.step_down_on_removal),
      heartbeat_timeout_(c.heartbeat_tick),
      election_timeout_(c.election_tick),
      rng_state_(c.random_seed ^ (c.id * 0xd1342543de82ef95ULL)),
      logger_(c.logger) {
  async_storage_writes_ = c.async_storage_writes;
  max_apply_unpersisted_ = async_storage_writes_ ? c.max_apply_unpersisted_entries : 0;
}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& c) {
  absl::Status s = c.Validate();
  if (!s.ok()) return s;
  absl::StatusOr<InitialState> init = c.storage->GetInitialState();
  if (!init.ok()) return init.status();
  std::unique_ptr<Raft> r(new Raft(c));
  absl::StatusOr<confchange::Result> restored =
      confchange::Restore(r->trk_, r->raft_log_.LastIndex(), init->conf_state);
  if (!restored.ok()) return restored.status();
  ConfState cs = r->SwitchToConfig(std::move(restored->first), std::move(restored->second));
  AssertConfStatesEquivalent(init->conf_state, cs);
  if (!IsEmptyHardState(init->hard_state)) r->LoadState(init->hard_state);
  // A node that has been in a term before may have acknowledged a leader's lease.
  r->restarted_with_lease_ = c.check_quorum && c.read_only_option == ReadOnlyOption::kLeaseBased &&
                             init->hard_state.term() > 0;
  if (c.applied > r->raft_log_.committed()) {
    // Only committed entries are ever applied, so `applied` is committed even when the
    // hard state persisted with an older commit index (asynchronous storage writes apply
    // as soon as entries are durable, before the Ready carrying the new commit is).
    RAFT_CHECK(c.applied <= r->raft_log_.LastIndex(),
               absl::StrCat(c.id, " applied ", c.applied, " is past the last index ",
                            r->raft_log_.LastIndex()));
    r->raft_log_.CommitTo(c.applied);
  }
  if (c.applied > 0) r->raft_log_.AppliedTo(c.applied);
  r->BecomeFollower(r->term_, kNone);
  std::vector<std::string> nodes;
  for (uint64_t id : r->trk_.VoterNodes()) nodes.push_back(absl::StrCat(id));
  r->Logf(LogLevel::kInfo,
          "newRaft %d [peers: [%s], term: %d, commit: %d, applied: %d, lastindex: %d, "
          "lastterm: %d]",
          r->id_, absl::StrJoin(nodes, ","), r->term_, r->raft_log_.committed(),
          r->raft_log_.applied(), r->raft_log_.LastIndex(), r->raft_log_.LastTerm());
  return r;
}

HardState Raft::GetHardState() const {
  HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(raft_log_.committed());
  return hs;
}

void Raft::LoadState(const HardState& hs) {
  RAFT_CHECK(hs.commit() <= raft_log_.LastIndex(),
             absl::StrCat(id_, " state.commit ", hs.commit(), " is out of range [",
                          raft_log_.committed(), ", ", raft_log_.LastIndex(), "]"));
  // A persisted commit index below the log's start is stale, not wrong: with asynchronous
  // storage writes the application may apply, snapshot and compact entries whose commit
  // index had not reached the disk yet when it crashed. Everything up to the snapshot is
  // committed regardless (CommitTo never moves back).
  raft_log_.CommitTo(hs.commit());
  term_ = hs.term();
  vote_ = hs.vote();
}

// ---- Sending -----------------------------------------------------------------------

void Raft::Send(Message m) {
  if (m.from() == kNone) m.set_from(id_);
  MessageType t = m.type();
  if (t == MSG_VOTE || t == MSG_VOTE_RESP || t == MSG_PRE_VOTE || t == MSG_PRE_VOTE_RESP) {
    // Vote messages carry the term being campaigned for (pre-votes: the future term),
    // so it is set explicitly by the caller.
    RAFT_CHECK(m.term() != 0, absl::StrCat("term should be set when sending ", MessageTypeName(t)));
  } else {
    RAFT_CHECK(m.term() == 0, absl::StrCat("term should not be set when sending ",
                                           MessageTypeName(t), " (was ", m.term(), ")"));
    // Proposals and read requests forwarded to the leader are local in nature and carry
    // no term, like etcd-raft.
    if (t != MSG_PROP && t != MSG_READ_INDEX) m.set_term(term_);
  }
  if (async_storage_writes_ &&
      (t == MSG_APP_RESP || t == MSG_VOTE_RESP || t == MSG_PRE_VOTE_RESP || m.to() == id_)) {
    // These promise durable state (the entries acknowledged, the vote cast), so they wait
    // for the writes handed out before them; to ourselves, they are our own ack or vote.
    msgs_after_append_.push_back(std::move(m));
    return;
  }
  msgs_.push_back(std::move(m));
}

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  tracker::Progress* pr = trk_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  Message m;
  m.set_to(to);
  absl::StatusOr<uint64_t> term = raft_log_.Term(pr->next - 1);
  absl::StatusOr<std::vector<Entry>> ents = raft_log_.EntriesFrom(pr->next, max_msg_size_);
  if (ents.ok() && ents->empty() && !send_if_empty) return false;
  if (!term.ok() || !ents.ok()) {
    // The entries the follower needs were compacted: send a snapshot.
    if (!pr->recent_active) {
      Logf(LogLevel::kDebug, "ignore sending snapshot to %d since it is not recently active", to);
      return false;
    }
    absl::StatusOr<Snapshot> snap = raft_log_.GetSnapshot();
    if (!snap.ok()) {
      if (IsRaftError(snap.status(), RaftError::kSnapshotTemporarilyUnavailable)) {
        Logf(LogLevel::kDebug,
             "%d failed to send snapshot to %d because snapshot is temporarily unavailable", id_,
             to);
        return false;
      }
      RaftFatal(snap.status().ToString());
    }
    RAFT_CHECK(!IsEmptySnapshot(*snap), "need non-empty snapshot");
    uint64_t sindex = snap->metadata().index(), sterm = snap->metadata().term();
    Logf(LogLevel::kDebug,
         "%d [firstindex: %d, commit: %d] sent snapshot[index: %d, term: %d] to %d [%s]", id_,
         raft_log_.FirstIndex(), raft_log_.committed(), sindex, sterm, to, pr->String());
    m.set_type(MSG_SNAP);
    *m.mutable_snapshot() = *std::move(snap);
    pr->BecomeSnapshot(sindex);
    Logf(LogLevel::kDebug, "%d paused sending replication messages to %d [%s]", id_, to,
         pr->String());
  } else {
    m.set_type(MSG_APP);
    m.set_index(pr->next - 1);
    m.set_log_term(*term);
    uint64_t bytes = PayloadSize(*ents);
    size_t n = ents->size();
    uint64_t last = n > 0 ? ents->back().index() : 0;
    for (Entry& e : *ents) *m.add_entries() = std::move(e);
    m.set_commit(raft_log_.committed());
    if (n > 0 || pr->state == tracker::StateType::kProbe) pr->UpdateOnEntriesSend(n, bytes, last);
  }
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(uint64_t to, const std::string& ctx) {
  // The follower may not have all committed entries yet; never tell it to commit past
  // what it is known to have (it would have to commit entries it lacks).
  const tracker::Progress* pr = trk_.Get(to);
  uint64_t commit = std::min(pr->match, raft_log_.committed());
  Message m;
  m.set_to(to);
  m.set_type(MSG_HEARTBEAT);
  m.set_commit(commit);
  m.set_context(ctx);
  Send(std::move(m));
}

void Raft::BcastAppend() {
  for (const auto& [id, pr] : trk_.progress()) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::BcastHeartbeat() {
  std::string ctx = read_only_.LastPendingRequestCtx();
  if (ctx.empty() && read_only_.option() == ReadOnlyOption::kLeaseBased) {
    ctx = absl::StrCat(kLeaseCtxPrefix, ticks_);
  }
  BcastHeartbeatWithCtx(ctx);
}

void Raft::BcastHeartbeatWithCtx(const std::string& ctx) {
  for (const auto& [id, pr] : trk_.progress()) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

void Raft::SendTimeoutNow(uint64_t to) {
  // The transferee's election ignores leases, so ours ends here.
  lease_revoked_ = true;
  Message m;
  m.set_to(to);
  m.set_type(MSG_TIMEOUT_NOW);
  Send(std::move(m));
}

// ---- Log and commit ----------------------------------------------------------------

bool Raft::MaybeCommit() { return raft_log_.MaybeCommit(trk_.Committed(), term_); }

bool Raft::IncreaseUncommittedSize(const std::vector<Entry>& ents) {
  uint64_t s = PayloadSize(ents);
  // Always admit a proposal when nothing is uncommitted, so a single large entry can
  // make progress; empty entries (leader no-op, leave-joint) are always admitted.
  if (uncommitted_size_ > 0 && s > 0 && max_uncommitted_size_ != kNoLimit &&
      uncommitted_size_ + s > max_uncommitted_size_) {
    return false;
  }
  uncommitted_size_ += s;
  return true;
}

void Raft::ReduceUncommittedSize(uint64_t s) {
  if (uncommitted_size_ == 0) return;  // Followers never track it.
  uncommitted_size_ = s > uncommitted_size_ ? 0 : uncommitted_size_ - s;
}

bool Raft::AppendEntry(std::vector<Entry> es) {
  uint64_t li = raft_log_.LastIndex();
  for (size_t i = 0; i < es.size(); ++i) {
    es[i].set_term(term_);
    es[i].set_index(li + 1 + i);
  }
  if (!IncreaseUncommittedSize(es)) {
    Logf(LogLevel::kWarning,
         "%d appending new entries to log would exceed uncommitted entry size limit; dropping "
         "proposal",
         id_);
    return false;
  }
  li = raft_log_.Append(std::move(es));
  if (async_storage_writes_) {
    // Our own log counts towards the quorum once durable: this ack is stepped when the
    // application reports the write done (RawNode::AdvanceAppend).
    Message ack;
    ack.set_to(id_);
    ack.set_type(MSG_APP_RESP);
    ack.set_index(li);
    Send(std::move(ack));
    return true;
  }
  // The leader counts its own log towards the quorum right away, before it is durable.
  // Safe only if the application finishes this Ready's write before it steps any
  // MsgAppResp for these entries, and, if it sends before its write, sends no commit index
  // past its durable log (a single voter commits here, at append; raftstore/store.cc
  // sends a leader's messages early under exactly these conditions). An application writing
  // asynchronously must use async_storage_writes (the branch above).
  if (tracker::Progress* pr = trk_.Get(id_)) pr->MaybeUpdate(li);
  MaybeCommit();
  return true;
}

void Raft::Advance(uint64_t applied_cursor,
                   std::optional<std::pair<uint64_t, uint64_t>> persisted_last,
                   std::optional<uint64_t> persisted_snapshot_index, uint64_t applied_payload) {
  ReduceUncommittedSize(applied_payload);
  if (applied_cursor > 0) {
    uint64_t old_applied = raft_log_.applied();
    raft_log_.AppliedTo(applied_cursor);
    if (trk_.config().auto_leave && old_applied <= pending_conf_index_ &&
        applied_cursor >= pending_conf_index_ && state_ == StateType::kLeader) {
      // The joint configuration entry was applied: propose leaving it. An empty V2
      // change has no payload so it is always admitted.
      Entry e;
      e.set_type(ENTRY_CONF_CHANGE_V2);
      RAFT_CHECK(AppendEntry({e}), "refused un-refusable auto-leaving ConfChangeV2");
      pending_conf_index_ = raft_log_.LastIndex();
      Logf(LogLevel::kInfo, "initiating automatic transition out of joint configuration %s",
           trk_.config().String());
      BcastAppend();
    }
  }
  if (persisted_last.has_value()) raft_log_.StableTo(persisted_last->first, persisted_last->second);
  if (persisted_snapshot_index.has_value()) raft_log_.StableSnapTo(*persisted_snapshot_index);
}

// ---- State transitions -------------------------------------------------------------

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      election_timeout_ + static_cast<int>(SplitMix64(&rng_state_) % election_timeout_);
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  trk_.ResetVotes();
  uint64_t last = raft_log_.LastIndex();
  for (auto& [id, pr] : trk_.mutable_progress()) {
    bool learner = pr.is_learner;
    pr = tracker::Progress(0, last + 1, trk_.max_inflight(), trk_.max_inflight_bytes(), learner);
    if (id == id_) pr.match = last;
  }
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  // Committed entries are applied before they are durable locally only on a leader, and
  // only those of its own term (BecomeLeader). A follower may hold in memory entries that
  // replace a stale suffix still on its disk (raft-rs resets applied_unpersisted_log_limit
  // in become_follower likewise; TiKV enables it on the leader only).
  raft_log_.set_max_apply_unpersisted(0, 0);
  read_only_ = ReadOnly(read_only_.option());
  lease_acks_.clear();
  lease_revoked_ = false;
  // Reads postponed by a previous leadership are dropped; their clients retry.
  pending_read_index_messages_.clear();
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
  Logf(LogLevel::kInfo, "%d became follower at term %d", id_, term_);
}

void Raft::BecomeCandidate() {
  RAFT_CHECK(state_ != StateType::kLeader, "invalid transition [leader -> candidate]");
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
  Logf(LogLevel::kInfo, "%d became candidate at term %d", id_, term_);
}

void Raft::BecomePreCandidate() {
  RAFT_CHECK(state_ != StateType::kLeader, "invalid transition [leader -> pre-candidate]");
  // A pre-candidate changes neither term nor vote: it only asks whether it could win.
  trk_.ResetVotes();
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
  Logf(LogLevel::kInfo, "%d became pre-candidate at term %d", id_, term_);
}

void Raft::BecomeLeader() {
  RAFT_CHECK(state_ != StateType::kFollower, "invalid transition [follower -> leader]");
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  // The leader's own progress is always in replicate: it has every entry.
  tracker::Progress* self = trk_.Get(id_);
  self->BecomeReplicate();
  // The leader always counts as active for CheckQuorum (the loop there skips it).
  self->recent_active = true;
  // Conservatively assume the log tail may hold an unapplied conf change; the next one
  // is refused until everything up to here is applied.
  pending_conf_index_ = raft_log_.LastIndex();
  // Entries of this term, from the empty entry on, may apply before they are durable
  // here (Config::max_apply_unpersisted_entries); everything before waits for its write.
  raft_log_.set_max_apply_unpersisted(max_apply_unpersisted_, raft_log_.LastIndex() + 1);
  // An empty entry of the new term: committing it commits everything before (§5.4.2)
  // and lets ReadIndex know the leader's commit index is current.
  RAFT_CHECK(AppendEntry({Entry()}), "empty entry was dropped");
  Logf(LogLevel::kInfo, "%d became leader at term %d", id_, term_);
}

// ---- Elections ---------------------------------------------------------------------

bool Raft::Promotable() const {
  auto it = trk_.progress().find(id_);
  return it != trk_.progress().end() && !it->second.is_learner && !raft_log_.HasPendingSnapshot();
}

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader) {
    Logf(LogLevel::kDebug, "%d ignoring MsgHup because already leader", id_);
    return;
  }
  if (!Promotable()) {
    Logf(LogLevel::kWarning, "%d is unpromotable and can not campaign", id_);
    return;
  }
  // A node with an unapplied conf change in its committed log must not campaign: as
  // leader it could not know its own configuration.
  absl::StatusOr<std::vector<Entry>> ents =
      raft_log_.Slice(raft_log_.applied() + 1, raft_log_.committed() + 1, kNoLimit);
  RAFT_CHECK(ents.ok(), absl::StrCat("unexpected error getting unapplied entries: ",
                                     ents.status().ToString()));
  size_t n = NumPendingConf(*ents);
  if (n != 0 && raft_log_.committed() > raft_log_.applied()) {
    Logf(LogLevel::kWarning,
         "%d cannot campaign at term %d since there are still %d pending configuration "
         "changes to apply",
         id_, term_, n);
    return;
  }
  Logf(LogLevel::kInfo, "%d is starting a new election at term %d", id_, term_);
  Campaign(t);
}

void Raft::Campaign(CampaignType t) {
  uint64_t term;
  MessageType vote_msg;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_msg = MSG_PRE_VOTE;
    // Pre-votes are requested for the term we would campaign in.
    term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_msg = MSG_VOTE;
    term = term_;
  }
  int gr, rj;
  if (async_storage_writes_) {
    // Our own vote counts once the term and vote are durable: it comes back to us after
    // the write (RawNode::AdvanceAppend), like a peer's.
    Message self;
    self.set_term(term);
    self.set_to(id_);
    self.set_type(VoteResponseType(vote_msg));
    Send(std::move(self));
  } else if (Poll(id_, VoteResponseType(vote_msg), true, &gr, &rj) == quorum::VoteResult::kWon) {
    // Single-voter configuration: won by our own vote.
    if (t == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t id : trk_.VoterNodes()) {
    if (id == id_) continue;
    Logf(LogLevel::kInfo, "%d [logterm: %d, index: %d] sent %s request to %d at term %d", id_,
         raft_log_.LastTerm(), raft_log_.LastIndex(), MessageTypeName(vote_msg), id, term_);
    Message m;
    m.set_term(term);
    m.set_to(id);
    m.set_type(vote_msg);
    m.set_index(raft_log_.LastIndex());
    m.set_log_term(raft_log_.LastTerm());
    if (t == CampaignType::kTransfer) m.set_context(kCampaignTransfer);
    Send(std::move(m));
  }
}

quorum::VoteResult Raft::Poll(uint64_t id, MessageType t, bool granted, int* gr, int* rj) {
  if (granted) {
    Logf(LogLevel::kInfo, "%d received %s from %d at term %d", id_, MessageTypeName(t), id, term_);
  } else {
    Logf(LogLevel::kInfo, "%d received %s rejection from %d at term %d", id_, MessageTypeName(t),
         id, term_);
  }
  trk_.RecordVote(id, granted);
  return trk_.TallyVotes(gr, rj);
}

// ---- Ticks -------------------------------------------------------------------------

void Raft::Tick() {
  ++ticks_;
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Message m;
    m.set_from(id_);
    m.set_type(MSG_HUP);
    (void)Step(std::move(m));
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      Message m;
      m.set_from(id_);
      m.set_type(MSG_CHECK_QUORUM);
      (void)Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (state_ == StateType::kLeader && lead_transferee_ != kNone) AbortLeaderTransfer();
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.set_from(id_);
    m.set_type(MSG_BEAT);
    (void)Step(std::move(m));
  }
}

// ---- Step --------------------------------------------------------------------------

absl::Status Raft::Step(Message m) {
  if (m.term() == 0) {
    // Local message.
  } else if (m.term() > term_) {
    if (m.type() == MSG_VOTE || m.type() == MSG_PRE_VOTE) {
      bool force = m.context() == kCampaignTransfer;
      bool in_lease = check_quorum_ && lead_ != kNone && election_elapsed_ < election_timeout_;
      if (restarted_with_lease_ && ticks_ < static_cast<uint64_t>(election_timeout_)) {
        // Just restarted: we may have acknowledged a leader's lease before and forgotten.
        in_lease = true;
      }
      if (!force && in_lease) {
        // Within the lease of a leader we heard from: a disruptive candidate (e.g. one
        // rejoining after a partition) must not depose it (thesis §4.2.3).
        Logf(LogLevel::kInfo,
             "%d [logterm: %d, index: %d, vote: %d] ignored %s from %d [logterm: %d, index: "
             "%d] at term %d: lease is not expired (remaining ticks: %d)",
             id_, raft_log_.LastTerm(), raft_log_.LastIndex(), vote_, MessageTypeName(m.type()),
             m.from(), m.log_term(), m.index(), term_, election_timeout_ - election_elapsed_);
        return absl::OkStatus();
      }
    }
    if (m.type() == MSG_PRE_VOTE) {
      // Never change our term in response to a pre-vote.
    } else if (m.type() == MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the future term; the term changes only if the
      // pre-election is won and a real election starts.
    } else {
      Logf(LogLevel::kInfo,
           "%d [term: %d] received a %s message with higher term from %d [term: %d]", id_, term_,
           MessageTypeName(m.type()), m.from(), m.term());
      if (m.type() == MSG_APP || m.type() == MSG_HEARTBEAT || m.type() == MSG_SNAP) {
        BecomeFollower(m.term(), m.from());
      } else {
        BecomeFollower(m.term(), kNone);
      }
    }
  } else if (m.term() < term_) {
    if ((check_quorum_ || pre_vote_) && (m.type() == MSG_HEARTBEAT || m.type() == MSG_APP)) {
      // A stale leader (e.g. one that was partitioned) would otherwise never learn of
      // the new term: with CheckQuorum/PreVote this node will not campaign to tell it.
      // A response with our term makes it step down.
      Message r;
      r.set_to(m.from());
      r.set_type(MSG_APP_RESP);
      Send(std::move(r));
    } else if (m.type() == MSG_PRE_VOTE) {
      // Rejecting with our term lets a pre-candidate with a stale term catch up.
      Logf(LogLevel::kInfo,
           "%d [logterm: %d, index: %d, vote: %d] rejected %s from %d [logterm: %d, index: %d] "
           "at term %d",
           id_, raft_log_.LastTerm(), raft_log_.LastIndex(), vote_, MessageTypeName(m.type()),
           m.from(), m.log_term(), m.index(), term_);
      Message r;
      r.set_to(m.from());
      r.set_term(term_);
      r.set_type(MSG_PRE_VOTE_RESP);
      r.set_reject(true);
      Send(std::move(r));
    } else {
      Logf(LogLevel::kInfo, "%d [term: %d] ignored a %s message with lower term from %d [term: %d]",
           id_, term_, MessageTypeName(m.type()), m.from(), m.term());
    }
    return absl::OkStatus();
  }

  switch (m.type()) {
    case MSG_HUP:
      Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return absl::OkStatus();
    case MSG_VOTE:
    case MSG_PRE_VOTE: {
      // §5.2/§5.4.1: grant if we have not voted for someone else this term and the
      // candidate's log is at least as up-to-date as ours. A pre-vote for a future term
      // may be granted even after voting in the current one.
      bool can_vote = vote_ == m.from() || (vote_ == kNone && lead_ == kNone) ||
                      (m.type() == MSG_PRE_VOTE && m.term() > term_);
      if (can_vote && raft_log_.IsUpToDate(m.index(), m.log_term())) {
        Logf(LogLevel::kInfo,
             "%d [logterm: %d, index: %d, vote: %d] cast %s for %d [logterm: %d, index: %d] at "
             "term %d",
             id_, raft_log_.LastTerm(), raft_log_.LastIndex(), vote_, MessageTypeName(m.type()),
             m.from(), m.log_term(), m.index(), term_);
        // The response carries the candidate's term: for pre-votes that is the future
        // term, which the pre-candidate recognizes as granted.
        Message r;
        r.set_to(m.from());
        r.set_term(m.term());
        r.set_type(VoteResponseType(m.type()));
        Send(std::move(r));
        if (m.type() == MSG_VOTE) {
          election_elapsed_ = 0;
          vote_ = m.from();
        }
      } else {
        Logf(LogLevel::kInfo,
             "%d [logterm: %d, index: %d, vote: %d] rejected %s from %d [logterm: %d, index: "
             "%d] at term %d",
             id_, raft_log_.LastTerm(), raft_log_.LastIndex(), vote_, MessageTypeName(m.type()),
             m.from(), m.log_term(), m.index(), term_);
        Message r;
        r.set_to(m.from());
        r.set_term(term_);
        r.set_type(VoteResponseType(m.type()));
        r.set_reject(true);
        Send(std::move(r));
      }
      return absl::OkStatus();
    }
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return StepLeader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return StepCandidate(m);
    case StateType::kFollower:
      return StepFollower(m);
  }
  return absl::OkStatus();
}

absl::Status Raft::StepLeader(Message& m) {
  switch (m.type()) {
    case MSG_BEAT:
      BcastHeartbeat();
      return absl::OkStatus();
    case MSG_CHECK_QUORUM:
      if (!trk_.QuorumActive()) {
        Logf(LogLevel::kWarning, "%d stepped down to follower since quorum is not active", id_);
        BecomeFollower(term_, kNone);
      }
      // Mark everyone but ourselves inactive for the next round.
      for (auto& [id, pr] : trk_.mutable_progress()) {
        if (id != id_) pr.recent_active = false;
      }
      return absl::OkStatus();
    case MSG_PROP: {
      RAFT_CHECK(m.entries_size() > 0, absl::StrCat(id_, " stepped empty MsgProp"));
      if (trk_.Get(id_) == nullptr) {
        // Removed from the configuration while still leader: cannot commit anything.
        return MakeRaftError(RaftError::kProposalDropped, "leader is not in the configuration");
      }
      if (lead_transferee_ != kNone) {
        Logf(LogLevel::kDebug,
             "%d [term %d] transfer leadership to %d is in progress; dropping proposal", id_, term_,
             lead_transferee_);
        return MakeRaftError(RaftError::kProposalDropped, "leader transfer in progress");
      }
      std::vector<Entry> ents;
      ents.reserve(m.entries_size());
      for (Entry& e : *m.mutable_entries()) ents.push_back(std::move(e));
      for (size_t i = 0; i < ents.size(); ++i) {
        Entry& e = ents[i];
        std::optional<ConfChangeV2> cc;
        if (e.type() == ENTRY_CONF_CHANGE) {
          ConfChange v1;
          RAFT_CHECK(v1.ParseFromString(e.data()), "unparseable ConfChange");
          cc = ConfChangeAsV2(v1);
        } else if (e.type() == ENTRY_CONF_CHANGE_V2) {
          ConfChangeV2 v2;
          RAFT_CHECK(v2.ParseFromString(e.data()), "unparseable ConfChangeV2");
          cc = std::move(v2);
        }
        if (!cc.has_value()) continue;
        bool already_pending = pending_conf_index_ > raft_log_.applied();
        bool already_joint = trk_.config().voters.joint();
        bool wants_leave_joint = cc->changes_size() == 0;
        std::string refused;
        if (already_pending) {
          refused = absl::StrCat("possible unapplied conf change at index ", pending_conf_index_,
                                 " (applied to ", raft_log_.applied(), ")");
        } else if (already_joint && !wants_leave_joint) {
          refused = "must transition out of joint config first";
        } else if (!already_joint && wants_leave_joint) {
          refused = "not in joint state; refusing empty conf change";
        }
        if (!refused.empty()) {
          // The entry still takes its log position (so the proposer's index math
          // holds), but as an empty normal entry.
          Logf(LogLevel::kInfo, "%d ignoring conf change %s at config %s: %s", id_,
               DescribeConfChanges({cc->changes().begin(), cc->changes().end()}),
               trk_.config().String(), refused);
          e = Entry();
        } else {
          pending_conf_index_ = raft_log_.LastIndex() + i + 1;
        }
      }
      if (!AppendEntry(std::move(ents))) {
        return MakeRaftError(RaftError::kProposalDropped, "uncommitted size limit");
      }
      BcastAppend();
      return absl::OkStatus();
    }
    case MSG_READ_INDEX:
      if (trk_.IsSingleton()) {
        // Only one voter: the commit index is authoritative.
        if (auto resp = ResponseToReadIndexReq(m, raft_log_.committed())) Send(*std::move(resp));
        return absl::OkStatus();
      }
      // Until an entry of this term commits, the leader's commit index may lag what a
      // previous leader committed (thesis §6.4): postpone.
      if (!CommittedEntryInCurrentTerm()) {
        pending_read_index_messages_.push_back(m);
        return absl::OkStatus();
      }
      SendReadIndexResponse(m);
      return absl::OkStatus();
    default:
      break;
  }

  tracker::Progress* pr = trk_.Get(m.from());
  if (pr == nullptr) {
    Logf(LogLevel::kDebug, "%d no progress available for %d", id_, m.from());
    return absl::OkStatus();
  }
  switch (m.type()) {
    case MSG_APP_RESP: {
      pr->recent_active = true;
      if (m.reject()) {
        Logf(LogLevel::kDebug,
             "%d received MsgAppResp(rejected, hint: (index %d, term %d)) from %d for index %d",
             id_, m.reject_hint(), m.log_term(), m.from(), m.index());
        // The follower's hint is its last index with term <= the probed term; skip back
        // over whole terms of ours that cannot match (§5.3 optimization).
        uint64_t next_probe = m.reject_hint();
        if (m.log_term() > 0)
          next_probe = raft_log_.FindConflictByTerm(m.reject_hint(), m.log_term());
        if (pr->MaybeDecrTo(m.index(), next_probe)) {
          Logf(LogLevel::kDebug, "%d decreased progress of %d to [%s]", id_, m.from(),
               pr->String());
          if (pr->state == tracker::StateType::kReplicate) pr->BecomeProbe();
          SendAppend(m.from());
        }
      } else if (m.from() == id_) {
        // Our own log became durable (asynchronous storage writes).
        if (pr->MaybeUpdate(m.index()) && MaybeCommit()) {
          ReleasePendingReadIndexMessages();
          BcastAppend();
        }
      } else {
        bool old_paused = pr->IsPaused();
        if (pr->MaybeUpdate(m.index())) {
          if (pr->state == tracker::StateType::kProbe) {
            pr->BecomeReplicate();
          } else if (pr->state == tracker::StateType::kSnapshot &&
                     pr->match + 1 >= raft_log_.FirstIndex()) {
            // The follower caught up past the compaction point (via the snapshot or
            // otherwise): plain appends work again.
            Logf(LogLevel::kDebug,
                 "%d recovered from needing snapshot, resumed sending replication messages to "
                 "%d [%s]",
                 id_, m.from(), pr->String());
            pr->BecomeProbe();
            pr->BecomeReplicate();
          } else if (pr->state == tracker::StateType::kReplicate) {
            pr->inflights.FreeLE(m.index());
          }
          if (MaybeCommit()) {
            ReleasePendingReadIndexMessages();
            BcastAppend();
          } else if (old_paused) {
            SendAppend(m.from());
          }
          // Flow control may now allow several (size-limited) messages at once.
          while (MaybeSendAppend(m.from(), false)) {
          }
          if (m.from() == lead_transferee_ && pr->match == raft_log_.LastIndex()) {
            Logf(LogLevel::kInfo, "%d sent MsgTimeoutNow to %d after received MsgAppResp", id_,
                 m.from());
            SendTimeoutNow(m.from());
          }
        }
      }
      return absl::OkStatus();
    }
    case MSG_HEARTBEAT_RESP: {
      pr->recent_active = true;
      pr->probe_sent = false;
      // The follower is alive: let one more message through a full window, in case
      // acknowledgements were lost.
      if (pr->state == tracker::StateType::kReplicate && pr->inflights.Full()) {
        pr->inflights.FreeFirstOne();
      }
      if (pr->match < raft_log_.LastIndex()) SendAppend(m.from());
      if (m.context().empty()) return absl::OkStatus();
      if (m.context().compare(0, kLeaseCtxPrefixLen, kLeaseCtxPrefix) == 0) {
        HandleLeaseAck(m.from(), m.context());
        return absl::OkStatus();
      }
      const quorum::VoteMap* acks = read_only_.RecvAck(m.from(), m.context());
      if (acks == nullptr ||
          trk_.config().voters.GetVoteResult(*acks) != quorum::VoteResult::kWon) {
        return absl::OkStatus();
      }
      for (ReadIndexStatus& rs : read_only_.Advance(m)) {
        if (auto resp = ResponseToReadIndexReq(rs.req, rs.index)) Send(*std::move(resp));
      }
      return absl::OkStatus();
    }
    case MSG_SNAP_STATUS:
      if (pr->state != tracker::StateType::kSnapshot) return absl::OkStatus();
      if (!m.reject()) {
        pr->BecomeProbe();
        Logf(LogLevel::kDebug,
             "%d snapshot succeeded, resumed sending replication messages to %d [%s]", id_,
             m.from(), pr->String());
      } else {
        // The snapshot was not applied: probe again from where the follower was.
        pr->pending_snapshot = 0;
        pr->BecomeProbe();
        Logf(LogLevel::kDebug,
             "%d snapshot failed, resumed sending replication messages to %d [%s]", id_, m.from(),
             pr->String());
      }
      // Wait for the follower's MsgAppResp (success) or a heartbeat interval (failure)
      // before the next append.
      pr->probe_sent = true;
      return absl::OkStatus();
    case MSG_UNREACHABLE:
      // In replicate, an unreachable peer most likely lost a MsgApp: go back to probing.
      if (pr->state == tracker::StateType::kReplicate) pr->BecomeProbe();
      Logf(LogLevel::kDebug, "%d failed to send message to %d because it is unreachable [%s]", id_,
           m.from(), pr->String());
      return absl::OkStatus();
    case MSG_TRANSFER_LEADER: {
      if (pr->is_learner) {
        Logf(LogLevel::kDebug, "%d is learner. Ignored transferring leadership", id_);
        return absl::OkStatus();
      }
      uint64_t transferee = m.from();
      if (lead_transferee_ != kNone) {
        if (lead_transferee_ == transferee) {
          Logf(LogLevel::kInfo,
               "%d [term %d] transfer leadership to %d is in progress, ignores request to same "
               "node %d",
               id_, term_, transferee, transferee);
          return absl::OkStatus();
        }
        Logf(LogLevel::kInfo, "%d [term %d] abort previous transferring leadership to %d", id_,
             term_, lead_transferee_);
        AbortLeaderTransfer();
      }
      if (transferee == id_) {
        Logf(LogLevel::kDebug, "%d is already leader. Ignored transferring leadership to self",
             id_);
        return absl::OkStatus();
      }
      Logf(LogLevel::kInfo, "%d [term %d] starts to transfer leadership to %d", id_, term_,
           transferee);
      // The transfer must finish within one election timeout.
      election_elapsed_ = 0;
      lead_transferee_ = transferee;
      if (pr->match == raft_log_.LastIndex()) {
        SendTimeoutNow(transferee);
        Logf(LogLevel::kInfo,
             "%d sends MsgTimeoutNow to %d immediately as %d already has up-to-date log", id_,
             transferee, transferee);
      } else {
        // Catch the transferee up first; MsgAppResp sends MsgTimeoutNow once it matches.
        SendAppend(transferee);
      }
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status Raft::StepCandidate(Message& m) {
  // A pre-candidate only counts pre-vote responses; a candidate only vote responses.
  MessageType my_resp = state_ == StateType::kPreCandidate ? MSG_PRE_VOTE_RESP : MSG_VOTE_RESP;
  switch (m.type()) {
    case MSG_PROP:
      Logf(LogLevel::kInfo, "%d no leader at term %d; dropping proposal", id_, term_);
      return MakeRaftError(RaftError::kProposalDropped, "no leader");
    case MSG_APP:
      BecomeFollower(m.term(), m.from());  // Always m.term() == term_ here.
      HandleAppendEntries(m);
      break;
    case MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      break;
    case MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      break;
    case MSG_TIMEOUT_NOW:
      Logf(LogLevel::kDebug, "%d [term %d state %s] ignored MsgTimeoutNow from %d", id_, term_,
           StateTypeName(state_), m.from());
      break;
    default:
      if (m.type() == my_resp) {
        int gr, rj;
        quorum::VoteResult res = Poll(m.from(), m.type(), !m.reject(), &gr, &rj);
        Logf(LogLevel::kInfo, "%d has received %d %s votes and %d vote rejections", id_, gr,
             MessageTypeName(m.type()), rj);
        if (res == quorum::VoteResult::kWon) {
          if (state_ == StateType::kPreCandidate) {
            Campaign(CampaignType::kElection);
          } else {
            BecomeLeader();
            BcastAppend();
          }
        } else if (res == quorum::VoteResult::kLost) {
          // A pre-vote response carries a future term; stay at ours.
          BecomeFollower(term_, kNone);
        }
      }
      break;
  }
  return absl::OkStatus();
}

absl::Status Raft::StepFollower(Message& m) {
  switch (m.type()) {
    case MSG_PROP:
      if (lead_ == kNone) {
        Logf(LogLevel::kInfo, "%d no leader at term %d; dropping proposal", id_, term_);
        return MakeRaftError(RaftError::kProposalDropped, "no leader");
      }
      if (disable_proposal_forwarding_) {
        Logf(LogLevel::kInfo, "%d not forwarding to leader %d at term %d; dropping proposal", id_,
             lead_, term_);
        return MakeRaftError(RaftError::kProposalDropped, "proposal forwarding disabled");
      }
      m.set_to(lead_);
      Send(m);
      break;
    case MSG_APP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      break;
    case MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case MSG_SNAP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case MSG_TRANSFER_LEADER:
      if (lead_ == kNone) {
        Logf(LogLevel::kInfo, "%d no leader at term %d; dropping leader transfer msg", id_, term_);
        return absl::OkStatus();
      }
      m.set_to(lead_);
      Send(m);
      break;
    case MSG_TIMEOUT_NOW:
      Logf(LogLevel::kInfo,
           "%d [term %d] received MsgTimeoutNow from %d and starts an election to get "
           "leadership.",
           id_, term_, m.from());
      // Transfers skip pre-vote: the old leader asked for it, nobody is partitioned.
      Hup(CampaignType::kTransfer);
      break;
    case MSG_READ_INDEX:
      if (lead_ == kNone) {
        Logf(LogLevel::kInfo, "%d no leader at term %d; dropping index reading msg", id_, term_);
        return absl::OkStatus();
      }
      m.set_to(lead_);
      Send(m);
      break;
    case MSG_READ_INDEX_RESP:
      if (m.entries_size() != 1) {
        Logf(LogLevel::kError, "%d invalid format of MsgReadIndexResp from %d, entries count: %d",
             id_, m.from(), m.entries_size());
        return absl::OkStatus();
      }
      read_states_.push_back(ReadState{m.index(), m.entries(0).data()});
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

// Performance-critical path: the entries are moved out of `m`.
void Raft::HandleAppendEntries(Message& m) {
  if (m.index() < raft_log_.committed()) {
    // Everything up to commit is known to match; tell the leader where we are.
    Message r;
    r.set_to(m.from());
    r.set_type(MSG_APP_RESP);
    r.set_index(raft_log_.committed());
    Send(std::move(r));
    return;
  }
  std::vector<Entry> ents;
  ents.reserve(m.entries_size());
  for (Entry& e : *m.mutable_entries()) ents.push_back(std::move(e));
  if (auto last = raft_log_.MaybeAppend(m.index(), m.log_term(), m.commit(), std::move(ents))) {
    Message r;
    r.set_to(m.from());
    r.set_type(MSG_APP_RESP);
    r.set_index(*last);
    Send(std::move(r));
    return;
  }
  Logf(LogLevel::kDebug,
       "%d [logterm: %d, index: %d] rejected MsgApp [logterm: %d, index: %d] from %d", id_,
       raft_log_.ZeroTermOnError(m.index()), m.index(), m.log_term(), m.index(), m.from());
  // Hint the largest index at which our log could match the leader's: at most our last
  // index, and with a term no greater than the probed one.
  uint64_t hint = std::min(m.index(), raft_log_.LastIndex());
  hint = raft_log_.FindConflictByTerm(hint, m.log_term());
  absl::StatusOr<uint64_t> hint_term = raft_log_.Term(hint);
  RAFT_CHECK(hint_term.ok(), absl::StrCat("term(", hint, ") must be valid"));
  Message r;
  r.set_to(m.from());
  r.set_type(MSG_APP_RESP);
  r.set_index(m.index());
  r.set_reject(true);
  r.set_reject_hint(hint);
  r.set_log_term(*hint_term);
  Send(std::move(r));
}

void Raft::HandleHeartbeat(const Message& m) {
  raft_log_.CommitTo(m.commit());
  Message r;
  r.set_to(m.from());
  r.set_type(MSG_HEARTBEAT_RESP);
  r.set_context(m.context());
  Send(std::move(r));
}

void Raft::HandleSnapshot(const Message& m) {
  uint64_t sindex = m.snapshot().metadata().index(), sterm = m.snapshot().metadata().term();
  Message r;
  r.set_to(m.from());
  r.set_type(MSG_APP_RESP);
  if (Restore(m.snapshot())) {
    Logf(LogLevel::kInfo, "%d [commit: %d] restored snapshot [index: %d, term: %d]", id_,
         raft_log_.committed(), sindex, sterm);
    r.set_index(raft_log_.LastIndex());
  } else {
    Logf(LogLevel::kInfo, "%d [commit: %d] ignored snapshot [index: %d, term: %d]", id_,
         raft_log_.committed(), sindex, sterm);
    r.set_index(raft_log_.committed());
  }
  Send(std::move(r));
}

bool Raft::Restore(const Snapshot& s) {
  if (s.metadata().index() <= raft_log_.committed()) return false;
  if (state_ != StateType::kFollower) {
    // Defense in depth: only followers install snapshots. Bump the term so a leader
    // cannot linger.
    Logf(LogLevel::kWarning, "%d attempted to restore snapshot as leader; should never happen",
         id_);
    BecomeFollower(term_ + 1, kNone);
    return false;
  }
  const ConfState& cs = s.metadata().conf_state();
  bool found = false;
  for (const auto* set : {&cs.voters(), &cs.learners(), &cs.voters_outgoing()}) {
    for (uint64_t id : *set) found |= id == id_;
  }
  if (!found) {
    Logf(LogLevel::kWarning,
         "%d attempted to restore snapshot but it is not in the ConfState %s; should never "
         "happen",
         id_, DescribeConfState(cs));
    return false;
  }
  if (raft_log_.MatchTerm(s.metadata().index(), s.metadata().term())) {
    // We already have the snapshot's last entry: just commit up to it.
    Logf(LogLevel::kInfo,
         "%d [commit: %d, lastindex: %d, lastterm: %d] fast-forwarded commit to snapshot "
         "[index: %d, term: %d]",
         id_, raft_log_.committed(), raft_log_.LastIndex(), raft_log_.LastTerm(),
         s.metadata().index(), s.metadata().term());
    raft_log_.CommitTo(s.metadata().index());
    return false;
  }
  raft_log_.Restore(s);
  // Rebuild the configuration from the snapshot's.
  trk_ = tracker::ProgressTracker(trk_.max_inflight(), trk_.max_inflight_bytes());
  absl::StatusOr<confchange::Result> restored =
      confchange::Restore(trk_, raft_log_.LastIndex(), cs);
  RAFT_CHECK(restored.ok(), absl::StrCat("unable to restore config ", DescribeConfState(cs), ": ",
                                         restored.status().ToString()));
  AssertConfStatesEquivalent(
      cs, SwitchToConfig(std::move(restored->first), std::move(restored->second)));
  Logf(LogLevel::kInfo,
       "%d [commit: %d, lastindex: %d, lastterm: %d] restored snapshot [index: %d, term: %d]", id_,
       raft_log_.committed(), raft_log_.LastIndex(), raft_log_.LastTerm(), s.metadata().index(),
       s.metadata().term());
  return true;
}

// ---- Configuration -----------------------------------------------------------------

ConfState Raft::ApplyConfChange(const ConfChangeV2& cc) {
  confchange::Changer changer(trk_, raft_log_.LastIndex());
  std::vector<ConfChangeSingle> ccs(cc.changes().begin(), cc.changes().end());
  absl::StatusOr<confchange::Result> r;
  bool auto_leave = false;
  if (LeavesJoint(cc)) {
    r = changer.LeaveJoint();
  } else if (EntersJoint(cc, &auto_leave)) {
    r = changer.EnterJoint(auto_leave, ccs);
  } else {
    r = changer.Simple(ccs);
  }
  RAFT_CHECK(r.ok(), r.status().ToString());
  return SwitchToConfig(std::move(r->first), std::move(r->second));
}

ConfState Raft::SwitchToConfig(tracker::Config cfg, tracker::ProgressMap prs) {
  trk_.Reset(std::move(cfg), std::move(prs));
  Logf(LogLevel::kInfo, "%d switched to configuration %s", id_, trk_.config().String());
  ConfState cs = trk_.GetConfState();
  const tracker::Progress* pr = trk_.Get(id_);
  is_learner_ = pr != nullptr && pr->is_learner;
  if ((pr == nullptr || is_learner_) && state_ == StateType::kLeader) {
    // This leader was removed or demoted. It can still replicate what it has, but it
    // can no longer commit or accept proposals.
    if (step_down_on_removal_) BecomeFollower(term_, kNone);
    return cs;
  }
  if (state_ != StateType::kLeader || cs.voters_size() == 0) return cs;
  if (MaybeCommit()) {
    // The new configuration commits more: tell everyone.
    BcastAppend();
  } else {
    // Probe new members right away rather than waiting for the next heartbeat.
    for (const auto& [id, p] : trk_.progress()) {
      if (id != id_) MaybeSendAppend(id, false);
    }
  }
  if (lead_transferee_ != kNone && !trk_.config().voters.contains(lead_transferee_)) {
    AbortLeaderTransfer();
  }
  return cs;
}

// ---- Reads -------------------------------------------------------------------------

bool Raft::CommittedEntryInCurrentTerm() const {
  return raft_log_.ZeroTermOnError(raft_log_.committed()) == term_;
}

std::optional<Message> Raft::ResponseToReadIndexReq(const Message& req, uint64_t read_index) {
  if (req.from() == kNone || req.from() == id_) {
    read_states_.push_back(ReadState{read_index, req.entries(0).data()});
    return std::nullopt;
  }
  Message r;
  r.set_type(MSG_READ_INDEX_RESP);
  r.set_to(req.from());
  r.set_index(read_index);
  *r.mutable_entries() = req.entries();
  return r;
}

void Raft::SendReadIndexResponse(const Message& m) {
  switch (read_only_.option()) {
    case ReadOnlyOption::kSafe:
      // Confirm leadership with a heartbeat round carrying the request's context; the
      // leader's own ack is implicit.
      read_only_.AddRequest(raft_log_.committed(), m);
      read_only_.RecvAck(id_, m.entries(0).data());
      BcastHeartbeatWithCtx(m.entries(0).data());
      break;
    case ReadOnlyOption::kLeaseBased:
      if (LeaseValid()) {
        if (auto resp = ResponseToReadIndexReq(m, raft_log_.committed())) Send(*std::move(resp));
        break;
      }
      // No valid lease: confirm leadership with a heartbeat round, as ReadOnlySafe.
      read_only_.AddRequest(raft_log_.committed(), m);
      read_only_.RecvAck(id_, m.entries(0).data());
      BcastHeartbeatWithCtx(m.entries(0).data());
      break;
  }
}

void Raft::HandleLeaseAck(uint64_t from, const std::string& ctx) {
  uint64_t sent = 0;
  if (!absl::SimpleAtoi(absl::string_view(ctx).substr(kLeaseCtxPrefixLen), &sent)) return;
  uint64_t& acked = lease_acks_[from];
  acked = std::max(acked, sent + 1);
}

bool Raft::LeaseValid() const {
  if (!check_quorum_ || lease_revoked_ || state_ != StateType::kLeader) return false;
  class Acks : public quorum::AckedIndexer {
   public:
    Acks(const Raft& r) : r_(r) {}
    std::optional<quorum::Index> AckedIndex(uint64_t id) const override {
      // Our own acknowledgement is always current.
      if (id == r_.id_) return r_.ticks_ + 1;
      auto it = r_.lease_acks_.find(id);
      if (it == r_.lease_acks_.end()) return std::nullopt;
      return it->second;
    }

   private:
    const Raft& r_;
  };
  quorum::Index q = trk_.config().voters.CommittedIndex(Acks(*this));
  if (q == 0 || q == quorum::kMaxIndex) return false;
  uint64_t sent = q - 1;
  uint64_t timeout = static_cast<uint64_t>(election_timeout_);
  if (timeout <= kLeaseMarginTicks) return false;
  return ticks_ < sent + timeout - kLeaseMarginTicks;
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty()) return;
  if (!CommittedEntryInCurrentTerm()) return;
  std::vector<Message> msgs = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const Message& m : msgs) SendReadIndexResponse(m);
}

}  // namespace rutile::raft
