#include "raft/raw_node.h"

#include "absl/strings/str_cat.h"
#include "raft/describe.h"
#include "raft/errors.h"

namespace rutile::raft {
namespace {

bool HardStateEqual(const HardState& a, const HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}

}  // namespace

std::string RaftStatus::String() const {
  std::string s =
      absl::StrCat("id=", id, " term=", hard_state.term(), " vote=", hard_state.vote(),
                   " commit=", hard_state.commit(), " applied=", applied, " lead=", soft_state.lead,
                   " state=", StateTypeName(soft_state.raft_state));
  if (lead_transferee != 0) absl::StrAppend(&s, " transferee=", lead_transferee);
  absl::StrAppend(&s, " config=", config);
  for (const auto& [pid, p] : progress) absl::StrAppend(&s, "\n", pid, ": ", p);
  return s;
}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(const Config& config) {
  absl::StatusOr<std::unique_ptr<Raft>> r = Raft::Create(config);
  if (!r.ok()) return r.status();
  return std::unique_ptr<RawNode>(new RawNode(*std::move(r)));
}

RawNode::RawNode(std::unique_ptr<Raft> r) : raft_(std::move(r)) {
  prev_soft_state_ = raft_->GetSoftState();
  prev_hard_state_ = raft_->GetHardState();
}

void RawNode::Tick() { raft_->Tick(); }

absl::Status RawNode::Campaign() {
  Message m;
  m.set_type(MSG_HUP);
  return raft_->Step(std::move(m));
}

absl::Status RawNode::Propose(std::string data) {
  Message m;
  m.set_type(MSG_PROP);
  m.set_from(raft_->id());
  m.add_entries()->set_data(std::move(data));
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeBatch(std::vector<std::string> data) {
  if (data.empty()) return absl::OkStatus();
  Message m;
  m.set_type(MSG_PROP);
  m.set_from(raft_->id());
  m.mutable_entries()->Reserve(static_cast<int>(data.size()));
  for (std::string& d : data) m.add_entries()->set_data(std::move(d));
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChange(const ConfChange& cc) {
  Message m;
  m.set_type(MSG_PROP);
  Entry* e = m.add_entries();
  e->set_type(ENTRY_CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChangeV2(const ConfChangeV2& cc) {
  Message m;
  m.set_type(MSG_PROP);
  Entry* e = m.add_entries();
  e->set_type(ENTRY_CONF_CHANGE_V2);
  e->set_data(cc.SerializeAsString());
  return raft_->Step(std::move(m));
}

ConfState RawNode::ApplyConfChange(const ConfChangeV2& cc) { return raft_->ApplyConfChange(cc); }

ConfState RawNode::ApplyConfChange(const ConfChange& cc) {
  return raft_->ApplyConfChange(ConfChangeAsV2(cc));
}

absl::Status RawNode::Step(const Message& m) { return Step(Message(m)); }

absl::Status RawNode::Step(Message&& m) {
  // Local messages never come from the network.
  if (IsLocalMessage(m.type())) return MakeRaftError(RaftError::kStepLocalMsg);
  if (raft_->tracker().progress().count(m.from()) > 0 || !IsResponseMessage(m.type())) {
    return raft_->Step(std::move(m));
  }
  return MakeRaftError(RaftError::kStepPeerNotFound);
}

void RawNode::ReadIndex(std::string ctx) {
  Message m;
  m.set_type(MSG_READ_INDEX);
  m.add_entries()->set_data(std::move(ctx));
  (void)raft_->Step(std::move(m));
}

void RawNode::TransferLeader(uint64_t transferee) {
  Message m;
  m.set_type(MSG_TRANSFER_LEADER);
  m.set_from(transferee);
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportUnreachable(uint64_t id) {
  Message m;
  m.set_type(MSG_UNREACHABLE);
  m.set_from(id);
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportSnapshot(uint64_t id, SnapshotStatus status) {
  Message m;
  m.set_type(MSG_SNAP_STATUS);
  m.set_from(id);
  m.set_reject(status == SnapshotStatus::kFailure);
  (void)raft_->Step(std::move(m));
}

bool RawNode::HasReady() const {
  const Raft& r = *raft_;
  if (!(r.GetSoftState() == prev_soft_state_)) return true;
  HardState hs = r.GetHardState();
  if (!IsEmptyHardState(hs) && !HardStateEqual(hs, prev_hard_state_)) return true;
  if (r.async_storage_writes()) {
    return r.log().HasPendingSnapshotNotInProgress() ||
           !const_cast<Raft&>(r).mutable_msgs().empty() ||
           !const_cast<Raft&>(r).mutable_msgs_after_append().empty() ||
           r.log().HasUnstableEntriesNotInProgress() ||
           r.log().HasNextCommittedEnts(/*allow_unstable=*/false) ||
           !const_cast<Raft&>(r).mutable_read_states().empty();
  }
  if (r.log().HasPendingSnapshot()) return true;
  if (!const_cast<Raft&>(r).mutable_msgs().empty() || !r.log().UnstableEntries().empty() ||
      r.log().HasNextCommittedEnts()) {
    return true;
  }
  return !const_cast<Raft&>(r).mutable_read_states().empty();
}

Ready RawNode::GetReady() {
  Raft& r = *raft_;
  const bool async = r.async_storage_writes();
  Ready rd;
  if (async) {
    rd.entries = r.log().UnstableEntriesNotInProgress();
  } else {
    rd.entries.assign(r.log().UnstableEntries().begin(), r.log().UnstableEntries().end());
  }
  rd.committed_entries = r.log().NextCommittedEnts(/*allow_unstable=*/!async);
  rd.messages = std::move(r.mutable_msgs());
  r.mutable_msgs().clear();
  SoftState ss = r.GetSoftState();
  if (!(ss == prev_soft_state_)) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs = r.GetHardState();
  if (!HardStateEqual(hs, prev_hard_state_)) rd.hard_state = hs;
  if (r.log().PendingSnapshot().has_value() &&
      (!async || r.log().HasPendingSnapshotNotInProgress())) {
    rd.snapshot = *r.log().PendingSnapshot();
  }
  rd.read_states = std::move(r.mutable_read_states());
  r.mutable_read_states().clear();
  // A snapshot is synced too: the follower acknowledges its index, and a leader counting
  // that acknowledgement must not see it vanish in a crash.
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() ||
                 hs.vote() != prev_hard_state_.vote() || hs.term() != prev_hard_state_.term();
  marks_ = ReadyMarks();
  marks_.hard_state = rd.hard_state;
  if (!rd.entries.empty())
    marks_.last_entry = {rd.entries.back().index(), rd.entries.back().term()};
  if (rd.snapshot.has_value()) marks_.snapshot_index = rd.snapshot->metadata().index();
  if (!rd.committed_entries.empty()) {
    marks_.applied_cursor = rd.committed_entries.back().index();
  } else if (rd.snapshot.has_value()) {
    marks_.applied_cursor = rd.snapshot->metadata().index();
  }
  marks_.committed_payload = PayloadSize(rd.committed_entries);
  if (async) {
    // Persistence is reported separately, by AdvanceAppend.
    rd.append_ack.last_entry = marks_.last_entry;
    rd.append_ack.snapshot_index = marks_.snapshot_index;
    marks_.last_entry.reset();
    marks_.snapshot_index.reset();
    for (Message& m : r.mutable_msgs_after_append()) {
      if (m.to() == r.id()) {
        rd.append_ack.self_messages.push_back(std::move(m));
      } else {
        rd.messages_after_append.push_back(std::move(m));
      }
    }
    r.mutable_msgs_after_append().clear();
    r.mutable_log().AcceptUnstable();
  }
  return rd;
}

void RawNode::Advance(const Ready& /*rd*/) {
  if (marks_.hard_state.has_value()) prev_hard_state_ = *marks_.hard_state;
  raft_->Advance(marks_.applied_cursor, marks_.last_entry, marks_.snapshot_index,
                 marks_.committed_payload);
  marks_ = ReadyMarks();
}

void RawNode::AdvanceAppend(AppendAck ack) {
  raft_->Advance(/*applied_cursor=*/0, ack.last_entry, ack.snapshot_index, /*applied_payload=*/0);
  for (Message& m : ack.self_messages) (void)raft_->Step(std::move(m));
}

RaftStatus RawNode::Status() const {
  RaftStatus s;
  s.id = raft_->id();
  s.hard_state = raft_->GetHardState();
  s.soft_state = raft_->GetSoftState();
  s.applied = raft_->log().applied();
  s.config = raft_->tracker().config().String();
  s.lead_transferee = raft_->lead_transferee();
  if (raft_->state() == StateType::kLeader) {
    for (const auto& [id, pr] : raft_->tracker().progress()) s.progress[id] = pr.String();
  }
  return s;
}

}  // namespace rutile::raft
