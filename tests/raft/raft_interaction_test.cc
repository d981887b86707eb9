// Datadriven interaction tests (after etcd-io/raft's interaction_test.go): scripts under
// testdata/ drive a set of RawNodes command by command and record the full trace of
// Readies, message deliveries and log lines. Regenerate with RUTILE_REWRITE=1 and read
// the diff: the expected output is the specification.
//
// Commands:
//   add-nodes <n> voters=(..) [learners=(..)] [index=<i>] [prevote=true]
//       [checkquorum=true] [step-down-on-removal=true] [read-only=lease]
//       [max-inflight=<n>] [max-inflight-bytes=<n>] [disable-forwarding=true]
//   campaign <id>            propose <id> <data>        propose-conf-change <id> [transition=..]
//   stabilize [ids..]        process-ready <id..>       deliver-msgs <id..>
//   tick-heartbeat <id>      tick-election <id>         isolate <id>   recover
//   transfer-leadership from=<id> to=<id>               read-index <id> <ctx>
//   raft-log <id>            status <id>                compact <id>
//   report-snapshot <id> <target> [failed]               report-unreachable <id> <target>

#include <map>
#include <memory>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "raft/describe.h"
#include "raft/errors.h"
#include "raft/memory_log_storage.h"
#include "raft/raw_node.h"
#include "testutil/datadriven.h"

namespace rutile::raft {
namespace {

using testutil::TestData;

class BufferLogger : public Logger {
 public:
  void Log(LogLevel level, const std::string& msg) override {
    if (level == LogLevel::kDebug) return;
    const char* l = level == LogLevel::kInfo      ? "INFO"
                    : level == LogLevel::kWarning ? "WARN"
                                                  : "ERROR";
    absl::StrAppend(&buf_, indent_, l, " ", msg, "\n");
  }
  std::string Take() {
    std::string s;
    s.swap(buf_);
    return s;
  }
  void Append(const std::string& s) { absl::StrAppend(&buf_, indent_, s, "\n"); }
  void set_indent(const std::string& i) { indent_ = i; }

 private:
  std::string buf_;
  std::string indent_;
};

struct Node {
  std::unique_ptr<MemoryLogStorage> storage;
  std::unique_ptr<RawNode> node;
  ConfState conf_state;
  uint64_t applied_index = 0;
  std::vector<std::string> applied;
};

class InteractionEnv {
 public:
  std::string Handle(const TestData& d) {
    logger_.set_indent("");
    if (d.cmd == "add-nodes") {
      AddNodes(d);
    } else if (d.cmd == "campaign") {
      absl::Status s = node(FirstId(d))->Campaign();
      if (!s.ok()) logger_.Append(s.ToString());
    } else if (d.cmd == "propose") {
      absl::Status s = node(FirstId(d))->Propose(d.cmd_args.at(1).key);
      if (!s.ok()) logger_.Append(StatusText(s));
    } else if (d.cmd == "propose-conf-change") {
      ProposeConfChange(d);
    } else if (d.cmd == "stabilize") {
      Stabilize(Ids(d));
    } else if (d.cmd == "process-ready") {
      for (uint64_t id : Ids(d)) ProcessReady(id, Ids(d).size() > 1);
    } else if (d.cmd == "deliver-msgs") {
      for (uint64_t id : Ids(d)) DeliverMsgs(id, Ids(d).size() > 1);
    } else if (d.cmd == "tick-heartbeat") {
      node(FirstId(d))->Tick();
    } else if (d.cmd == "tick-election") {
      Raft* r = node(FirstId(d))->raft();
      int n = r->randomized_election_timeout();
      for (int i = 0; i < n; ++i) node(FirstId(d))->Tick();
    } else if (d.cmd == "isolate") {
      isolated_.insert(FirstId(d));
    } else if (d.cmd == "recover") {
      isolated_.clear();
    } else if (d.cmd == "transfer-leadership") {
      uint64_t from = 0, to = 0;
      d.ScanUint("from", &from);
      d.ScanUint("to", &to);
      node(from)->TransferLeader(to);
    } else if (d.cmd == "read-index") {
      node(FirstId(d))->ReadIndex(d.cmd_args.at(1).key);
    } else if (d.cmd == "raft-log") {
      RaftLog(FirstId(d));
    } else if (d.cmd == "status") {
      logger_.Append(node(FirstId(d))->Status().String());
    } else if (d.cmd == "compact") {
      Compact(FirstId(d));
    } else if (d.cmd == "report-snapshot") {
      uint64_t target = 0;
      absl::SimpleAtoi(d.cmd_args.at(1).key, &target);
      node(FirstId(d))
          ->ReportSnapshot(target,
                           d.HasArg("failed") ? SnapshotStatus::kFailure : SnapshotStatus::kFinish);
    } else if (d.cmd == "report-unreachable") {
      uint64_t target = 0;
      absl::SimpleAtoi(d.cmd_args.at(1).key, &target);
      node(FirstId(d))->ReportUnreachable(target);
    } else {
      ADD_FAILURE() << d.pos << ": unknown command " << d.cmd;
    }
    std::string out = logger_.Take();
    return out.empty() ? "ok" : out;
  }

 private:
  static std::string StatusText(const absl::Status& s) {
    if (auto e = GetRaftError(s)) return RaftErrorName(*e);
    return s.ToString();
  }

  RawNode* node(uint64_t id) { return nodes_.at(id)->node.get(); }

  static uint64_t FirstId(const TestData& d) {
    uint64_t id = 0;
    EXPECT_TRUE(!d.cmd_args.empty() && absl::SimpleAtoi(d.cmd_args[0].key, &id)) << d.pos;
    return id;
  }

  std::vector<uint64_t> Ids(const TestData& d) {
    std::vector<uint64_t> ids;
    for (const auto& a : d.cmd_args) {
      uint64_t id;
      if (a.vals.empty() && absl::SimpleAtoi(a.key, &id)) ids.push_back(id);
    }
    if (ids.empty()) {
      for (const auto& [id, n] : nodes_) ids.push_back(id);
    }
    return ids;
  }

  static std::vector<uint64_t> UintList(const TestData& d, const char* key) {
    std::vector<uint64_t> out;
    if (const auto* a = d.Arg(key)) {
      for (const auto& v : a->vals) {
        uint64_t x;
        if (absl::SimpleAtoi(v, &x)) out.push_back(x);
      }
    }
    return out;
  }

  void AddNodes(const TestData& d) {
    uint64_t n = 0;
    absl::SimpleAtoi(d.cmd_args.at(0).key, &n);
    uint64_t index = 0;
    d.ScanUint("index", &index);
    ConfState cs;
    for (uint64_t v : UintList(d, "voters")) cs.add_voters(v);
    for (uint64_t l : UintList(d, "learners")) cs.add_learners(l);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t id = nodes_.size() + 1;
      auto nd = std::make_unique<Node>();
      nd->storage = std::make_unique<MemoryLogStorage>();
      if (index > 0) {
        Snapshot snap;
        snap.mutable_metadata()->set_index(index);
        snap.mutable_metadata()->set_term(1);
        *snap.mutable_metadata()->mutable_conf_state() = cs;
        EXPECT_TRUE(nd->storage->ApplySnapshot(snap).ok());
        nd->conf_state = cs;
        nd->applied_index = index;
      }
      Config c;
      c.id = id;
      c.election_tick = 3;
      c.heartbeat_tick = 1;
      c.storage = nd->storage.get();
      c.max_size_per_msg = kNoLimit;
      c.max_inflight_msgs = 256;
      c.logger = &logger_;
      bool b = false;
      if (d.ScanBool("prevote", &b)) c.pre_vote = b;
      if (d.ScanBool("checkquorum", &b)) c.check_quorum = b;
      if (d.ScanBool("step-down-on-removal", &b)) c.step_down_on_removal = b;
      if (d.ScanBool("disable-forwarding", &b)) c.disable_proposal_forwarding = b;
      std::string ro;
      if (d.ScanString("read-only", &ro) && ro == "lease") {
        c.read_only_option = ReadOnlyOption::kLeaseBased;
      }
      uint64_t v = 0;
      if (d.ScanUint("max-inflight", &v)) c.max_inflight_msgs = v;
      if (d.ScanUint("max-inflight-bytes", &v)) c.max_inflight_bytes = v;
      if (d.ScanUint("max-size-per-msg", &v)) c.max_size_per_msg = v;
      auto rn = RawNode::Create(c);
      if (!rn.ok()) {
        logger_.Append(rn.status().ToString());
        return;
      }
      nd->node = *std::move(rn);
      // Make tick-election deterministic and exactly one election timeout.
      nd->node->raft()->TEST_SetRandomizedElectionTimeout(c.election_tick);
      nodes_[id] = std::move(nd);
    }
  }

  void ProposeConfChange(const TestData& d) {
    ConfChangeV2 cc;
    std::string t;
    if (d.ScanString("transition", &t)) {
      if (t == "implicit") cc.set_transition(CONF_CHANGE_TRANSITION_JOINT_IMPLICIT);
      if (t == "explicit") cc.set_transition(CONF_CHANGE_TRANSITION_JOINT_EXPLICIT);
    }
    for (absl::string_view tok : absl::StrSplit(d.input, ' ', absl::SkipWhitespace())) {
      ConfChangeSingle* s = cc.add_changes();
      uint64_t id = 0;
      absl::SimpleAtoi(tok.substr(1), &id);
      s->set_node_id(id);
      switch (tok[0]) {
        case 'v':
          s->set_type(CONF_CHANGE_ADD_NODE);
          break;
        case 'l':
          s->set_type(CONF_CHANGE_ADD_LEARNER_NODE);
          break;
        case 'r':
          s->set_type(CONF_CHANGE_REMOVE_NODE);
          break;
        case 'u':
          s->set_type(CONF_CHANGE_UPDATE_NODE);
          break;
        default:
          ADD_FAILURE() << d.pos << ": bad conf change " << tok;
      }
    }
    absl::Status s = node(FirstId(d))->ProposeConfChangeV2(cc);
    if (!s.ok()) logger_.Append(StatusText(s));
  }

  // Handles one Ready; returns false if there was none.
  bool ProcessReady(uint64_t id, bool header_always = true) {
    Node& nd = *nodes_.at(id);
    if (!nd.node->HasReady()) return false;
    logger_.set_indent("");
    logger_.Append(absl::StrCat("> ", id, " handling Ready"));
    logger_.set_indent("  ");
    Ready rd = nd.node->GetReady();
    logger_.Append(absl::StrCat("Ready MustSync=", rd.must_sync ? "true" : "false", ":"));
    if (rd.soft_state.has_value()) {
      logger_.Append(absl::StrCat("Lead:", rd.soft_state->lead,
                                  " State:", StateTypeName(rd.soft_state->raft_state)));
    }
    if (rd.hard_state.has_value()) logger_.Append("HardState " + DescribeHardState(*rd.hard_state));
    if (!rd.entries.empty()) {
      logger_.Append("Entries:");
      for (const Entry& e : rd.entries) logger_.Append(DescribeEntry(e));
    }
    if (rd.snapshot.has_value()) logger_.Append("Snapshot " + DescribeSnapshot(*rd.snapshot));
    if (!rd.committed_entries.empty()) {
      logger_.Append("CommittedEntries:");
      for (const Entry& e : rd.committed_entries) logger_.Append(DescribeEntry(e));
    }
    if (!rd.messages.empty()) {
      logger_.Append("Messages:");
      for (const Message& m : rd.messages) logger_.Append(DescribeMessage(m));
    }
    if (!rd.read_states.empty()) {
      logger_.Append("ReadStates:");
      for (const ReadState& rs : rd.read_states) {
        logger_.Append(absl::StrCat("Index:", rs.index, " RequestCtx:", rs.request_ctx));
      }
    }
    if (rd.snapshot.has_value()) {
      EXPECT_TRUE(nd.storage->ApplySnapshot(*rd.snapshot).ok());
      nd.conf_state = rd.snapshot->metadata().conf_state();
      nd.applied_index = rd.snapshot->metadata().index();
    }
    EXPECT_TRUE(nd.storage->Append(rd.entries).ok());
    if (rd.hard_state.has_value()) nd.storage->SetHardState(*rd.hard_state);
    for (const Message& m : rd.messages) msgs_.push_back(m);
    for (const Entry& e : rd.committed_entries) {
      nd.applied_index = e.index();
      if (e.type() == ENTRY_CONF_CHANGE_V2) {
        ConfChangeV2 cc;
        cc.ParseFromString(e.data());
        nd.conf_state = nd.node->ApplyConfChange(cc);
      } else if (e.type() == ENTRY_CONF_CHANGE) {
        ConfChange cc;
        cc.ParseFromString(e.data());
        nd.conf_state = nd.node->ApplyConfChange(cc);
      }
    }
    nd.node->Advance(rd);
    return true;
  }

  // Delivers every queued message addressed to `id`. Returns whether any was.
  bool DeliverMsgs(uint64_t id, bool unused = true) {
    std::vector<Message> mine, rest;
    for (Message& m : msgs_) (m.to() == id ? mine : rest).push_back(std::move(m));
    msgs_ = std::move(rest);
    if (mine.empty()) return false;
    logger_.set_indent("");
    logger_.Append(absl::StrCat("> ", id, " receiving messages"));
    logger_.set_indent("  ");
    for (const Message& m : mine) {
      if (isolated_.count(m.from()) || isolated_.count(m.to())) {
        logger_.Append("dropped: " + DescribeMessage(m));
        continue;
      }
      logger_.Append(DescribeMessage(m));
      absl::Status s = node(id)->Step(m);
      if (!s.ok()) logger_.Append(StatusText(s));
    }
    return true;
  }

  void Stabilize(const std::vector<uint64_t>& ids) {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (uint64_t id : ids) any |= ProcessReady(id);
      for (uint64_t id : ids) any |= DeliverMsgs(id);
      if (!any) return;
    }
    ADD_FAILURE() << "did not stabilize";
  }

  void RaftLog(uint64_t id) {
    std::vector<Entry> ents = node(id)->raft()->log().AllEntries();
    if (ents.empty()) {
      logger_.Append(
          absl::StrCat("log is empty: first index=", node(id)->raft()->log().FirstIndex(),
                       ", last index=", node(id)->raft()->log().LastIndex()));
    }
    for (const Entry& e : ents) logger_.Append(DescribeEntry(e));
  }

  void Compact(uint64_t id) {
    Node& nd = *nodes_.at(id);
    auto snap = nd.storage->CreateSnapshot(nd.applied_index, &nd.conf_state, "");
    EXPECT_TRUE(snap.ok()) << snap.status();
    EXPECT_TRUE(nd.storage->Compact(nd.applied_index).ok());
    RaftLog(id);
  }

  BufferLogger logger_;
  std::map<uint64_t, std::unique_ptr<Node>> nodes_;
  std::vector<Message> msgs_;
  std::set<uint64_t> isolated_;
};

TEST(RaftInteractionTest, Scripts) {
  std::vector<std::string> files = testutil::ListScripts(testutil::TestDataDir("raft/testdata"));
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    InteractionEnv env;
    testutil::RunTest(f, [&](const TestData& d) { return env.Handle(d); });
  }
}

}  // namespace
}  // namespace rutile::raft
