#include "raft/describe.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "raft/check.h"

namespace rutile::raft {

const char* MessageTypeName(MessageType t) {
  switch (t) {
    case MSG_HUP:
      return "MsgHup";
    case MSG_BEAT:
      return "MsgBeat";
    case MSG_PROP:
      return "MsgProp";
    case MSG_APP:
      return "MsgApp";
    case MSG_APP_RESP:
      return "MsgAppResp";
    case MSG_VOTE:
      return "MsgVote";
    case MSG_VOTE_RESP:
      return "MsgVoteResp";
    case MSG_SNAP:
      return "MsgSnap";
    case MSG_HEARTBEAT:
      return "MsgHeartbeat";
    case MSG_HEARTBEAT_RESP:
      return "MsgHeartbeatResp";
    case MSG_UNREACHABLE:
      return "MsgUnreachable";
    case MSG_SNAP_STATUS:
      return "MsgSnapStatus";
    case MSG_CHECK_QUORUM:
      return "MsgCheckQuorum";
    case MSG_TRANSFER_LEADER:
      return "MsgTransferLeader";
    case MSG_TIMEOUT_NOW:
      return "MsgTimeoutNow";
    case MSG_READ_INDEX:
      return "MsgReadIndex";
    case MSG_READ_INDEX_RESP:
      return "MsgReadIndexResp";
    case MSG_PRE_VOTE:
      return "MsgPreVote";
    case MSG_PRE_VOTE_RESP:
      return "MsgPreVoteResp";
    default:
      return "MsgUnknown";
  }
}

const char* EntryTypeName(EntryType t) {
  switch (t) {
    case ENTRY_NORMAL:
      return "EntryNormal";
    case ENTRY_CONF_CHANGE:
      return "EntryConfChange";
    case ENTRY_CONF_CHANGE_V2:
      return "EntryConfChangeV2";
    default:
      return "EntryUnknown";
  }
}

ConfChangeV2 ConfChangeAsV2(const ConfChange& cc) {
  ConfChangeV2 v2;
  ConfChangeSingle* s = v2.add_changes();
  s->set_type(cc.type());
  s->set_node_id(cc.node_id());
  v2.set_context(cc.context());
  return v2;
}

std::string DescribeConfChanges(const std::vector<ConfChangeSingle>& ccs) {
  std::vector<std::string> parts;
  for (const ConfChangeSingle& cc : ccs) {
    const char* p = "?";
    switch (cc.type()) {
      case CONF_CHANGE_ADD_NODE:
        p = "v";
        break;
      case CONF_CHANGE_ADD_LEARNER_NODE:
        p = "l";
        break;
      case CONF_CHANGE_REMOVE_NODE:
        p = "r";
        break;
      case CONF_CHANGE_UPDATE_NODE:
        p = "u";
        break;
      default:
        break;
    }
    parts.push_back(absl::StrCat(p, cc.node_id()));
  }
  return absl::StrJoin(parts, " ");
}

std::string DescribeEntry(const Entry& e) {
  std::string data;
  switch (e.type()) {
    case ENTRY_NORMAL:
      data = absl::StrCat("\"", e.data(), "\"");
      break;
    case ENTRY_CONF_CHANGE: {
      ConfChange cc;
      if (cc.ParseFromString(e.data())) {
        ConfChangeV2 v2 = ConfChangeAsV2(cc);
        data = DescribeConfChanges({v2.changes().begin(), v2.changes().end()});
      } else {
        data = "<unparseable>";
      }
      break;
    }
    case ENTRY_CONF_CHANGE_V2: {
      ConfChangeV2 cc;
      if (cc.ParseFromString(e.data())) {
        data = DescribeConfChanges({cc.changes().begin(), cc.changes().end()});
      } else {
        data = "<unparseable>";
      }
      break;
    }
    default:
      break;
  }
  std::string s = absl::StrCat(e.term(), "/", e.index(), " ", EntryTypeName(e.type()));
  if (!data.empty()) absl::StrAppend(&s, " ", data);
  return s;
}

std::string DescribeEntries(const std::vector<Entry>& ents) {
  std::string s;
  for (const Entry& e : ents) absl::StrAppend(&s, DescribeEntry(e), "\n");
  return s;
}

std::string DescribeHardState(const HardState& hs) {
  return absl::StrCat("Term:", hs.term(), " Vote:", hs.vote(), " Commit:", hs.commit());
}

std::string DescribeConfState(const ConfState& cs) {
  return absl::StrCat("Voters:[", absl::StrJoin(cs.voters(), " "), "] VotersOutgoing:[",
                      absl::StrJoin(cs.voters_outgoing(), " "), "] Learners:[",
                      absl::StrJoin(cs.learners(), " "), "] LearnersNext:[",
                      absl::StrJoin(cs.learners_next(), " "),
                      "] AutoLeave:", cs.auto_leave() ? "true" : "false");
}

std::string DescribeSnapshot(const Snapshot& s) {
  const SnapshotMetadata& m = s.metadata();
  return absl::StrCat("Index:", m.index(), " Term:", m.term(),
                      " ConfState:", DescribeConfState(m.conf_state()));
}

std::string DescribeMessage(const Message& m) {
  std::string s = absl::StrCat(m.from(), "->", m.to(), " ", MessageTypeName(m.type()),
                               " Term:", m.term(), " Log:", m.log_term(), "/", m.index());
  if (m.reject()) absl::StrAppend(&s, " Rejected (Hint: ", m.reject_hint(), ")");
  if (m.commit() != 0) absl::StrAppend(&s, " Commit:", m.commit());
  if (m.entries_size() > 0) {
    std::vector<std::string> es;
    for (const Entry& e : m.entries()) es.push_back(DescribeEntry(e));
    absl::StrAppend(&s, " Entries:[", absl::StrJoin(es, ", "), "]");
  }
  if (m.has_snapshot() && !IsEmptySnapshot(m.snapshot())) {
    absl::StrAppend(&s, " Snapshot: ", DescribeSnapshot(m.snapshot()));
  }
  return s;
}

bool IsEmptyHardState(const HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

bool IsEmptySnapshot(const Snapshot& s) { return s.metadata().index() == 0; }

bool IsLocalMessage(MessageType t) {
  return t == MSG_HUP || t == MSG_BEAT || t == MSG_UNREACHABLE || t == MSG_SNAP_STATUS ||
         t == MSG_CHECK_QUORUM;
}

bool IsResponseMessage(MessageType t) {
  return t == MSG_APP_RESP || t == MSG_VOTE_RESP || t == MSG_HEARTBEAT_RESP ||
         t == MSG_UNREACHABLE || t == MSG_PRE_VOTE_RESP;
}

MessageType VoteResponseType(MessageType t) {
  switch (t) {
    case MSG_VOTE:
      return MSG_VOTE_RESP;
    case MSG_PRE_VOTE:
      return MSG_PRE_VOTE_RESP;
    default:
      RaftFatal(absl::StrCat("not a vote message: ", MessageTypeName(t)));
  }
}

}  // namespace rutile::raft
