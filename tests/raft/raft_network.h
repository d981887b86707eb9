// A network of RawNodes for tests, after etcd-raft's `network` in raft_test.go, but driving
// the full Ready/Advance loop: every node persists to its own MemoryLogStorage, applies
// committed entries (normal entries into a list, conf changes through ApplyConfChange)
// and emits its messages into a shared FIFO queue. Delivery honours partitions, dropped
// message types and crashed nodes. Deterministic for a given seed.

#ifndef RUTILE_TESTS_RAFT_RAFT_NETWORK_H_
#define RUTILE_TESTS_RAFT_RAFT_NETWORK_H_

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "raft/describe.h"
#include "raft/errors.h"
#include "raft/memory_log_storage.h"
#include "raft/raw_node.h"

namespace rutile::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryLogStorage> storage;
  std::unique_ptr<RawNode> node;
  // Data of applied normal entries, in order (empty no-op entries skipped).
  std::vector<std::string> applied;
  ConfState conf_state;
  uint64_t applied_index = 0;
};

// A ConfState with the given voters and learners.
inline ConfState MakeConfState(const std::vector<uint64_t>& voters,
                               const std::vector<uint64_t>& learners = {}) {
  ConfState cs;
  for (uint64_t v : voters) cs.add_voters(v);
  for (uint64_t l : learners) cs.add_learners(l);
  return cs;
}

inline ConfChangeSingle Cc(ConfChangeType t, uint64_t id) {
  ConfChangeSingle c;
  c.set_type(t);
  c.set_node_id(id);
  return c;
}

// Prints raft log lines to stderr when RUTILE_RAFT_TEST_LOG is set, for debugging.
class StderrLogger : public Logger {
 public:
  void Log(LogLevel level, const std::string& msg) override {
    std::fprintf(stderr, "%s\n", msg.c_str());
  }
};

inline Logger* TestLogger() {
  static StderrLogger logger;
  return std::getenv("RUTILE_RAFT_TEST_LOG") != nullptr ? &logger : nullptr;
}

class Network {
 public:
  using ConfigFn = std::function<void(Config&)>;

  // Voters and learners bootstrapped from a snapshot at index 1, term 1 (so every node
  // starts with the same configuration and an empty log after it).
  Network(const std::vector<uint64_t>& voters, ConfigFn cfg_fn = {},
          const std::vector<uint64_t>& learners = {})
      : cfg_fn_(std::move(cfg_fn)) {
    ConfState cs = MakeConfState(voters, learners);
    for (uint64_t id : voters) AddNode(id, &cs);
    for (uint64_t id : learners) AddNode(id, &cs);
  }

  // Adds node `id`; with `cs` it is bootstrapped with that configuration, otherwise it
  // starts empty and learns everything from the leader (a joining node).
  void AddNode(uint64_t id, const ConfState* cs) {
    auto tn = std::make_unique<TestNode>();
    tn->storage = std::make_unique<MemoryLogStorage>();
    if (cs != nullptr) {
      Snapshot snap;
      snap.mutable_metadata()->set_index(1);
      snap.mutable_metadata()->set_term(1);
      *snap.mutable_metadata()->mutable_conf_state() = *cs;
      EXPECT_TRUE(tn->storage->ApplySnapshot(snap).ok());
      tn->conf_state = *cs;
      tn->applied_index = 1;
    }
    Config c;
    c.id = id;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.storage = tn->storage.get();
    c.max_size_per_msg = kNoLimit;
    c.max_inflight_msgs = 256;
    c.random_seed = 42;
    c.logger = TestLogger();
    if (cfg_fn_) cfg_fn_(c);
    auto rn = RawNode::Create(c);
    EXPECT_TRUE(rn.ok()) << rn.status();
    tn->node = *std::move(rn);
    nodes_[id] = std::move(tn);
  }

  RawNode* node(uint64_t id) { return nodes_.at(id)->node.get(); }
  Raft* raft(uint64_t id) { return node(id)->raft(); }
  TestNode& test_node(uint64_t id) { return *nodes_.at(id); }
  MemoryLogStorage* storage(uint64_t id) { return nodes_.at(id)->storage.get(); }
  const std::vector<std::string>& applied(uint64_t id) { return nodes_.at(id)->applied; }
  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> v;
    for (const auto& [id, n] : nodes_) v.push_back(id);
    return v;
  }

  // Filters.
  void Cut(uint64_t a, uint64_t b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Isolate(uint64_t id) {
    for (const auto& [other, n] : nodes_) {
      if (other != id) Cut(id, other);
    }
  }
  void Recover() {
    cut_.clear();
    dropped_types_.clear();
    dropped_from_.clear();
  }
  void DropType(MessageType t) { dropped_types_.insert(t); }
  // Drops messages of type t sent by `from`.
  void DropFrom(uint64_t from, MessageType t) { dropped_from_.insert({from, t}); }
  void Crash(uint64_t id) { down_.insert(id); }
  void Restart(uint64_t id) { down_.erase(id); }

  bool Allowed(const Message& m) const {
    if (down_.count(m.to()) || down_.count(m.from())) return false;
    if (cut_.count({m.from(), m.to()})) return false;
    if (dropped_types_.count(m.type())) return false;
    if (dropped_from_.count({m.from(), m.type()})) return false;
    return true;
  }

  // Handles one Ready of node `id` if it has one. Returns whether it did.
  bool ProcessReady(uint64_t id) {
    TestNode& tn = *nodes_.at(id);
    if (!tn.node->HasReady()) return false;
    Ready rd = tn.node->GetReady();
    if (rd.soft_state.has_value() && rd.soft_state->raft_state == StateType::kLeader) {
      uint64_t term = tn.node->raft()->term();
      auto [it, inserted] = leaders_by_term_.insert({term, id});
      // Election safety (§5.2): at most one leader per term.
      EXPECT_EQ(it->second, id) << "two leaders in term " << term;
    }
    if (rd.snapshot.has_value()) {
      EXPECT_TRUE(tn.storage->ApplySnapshot(*rd.snapshot).ok());
      tn.conf_state = rd.snapshot->metadata().conf_state();
      tn.applied_index = rd.snapshot->metadata().index();
      tn.applied.clear();
      if (!rd.snapshot->data().empty()) {
        tn.applied = absl::StrSplit(rd.snapshot->data(), '\n');
      }
    }
    EXPECT_TRUE(tn.storage->Append(rd.entries).ok());
    if (rd.hard_state.has_value()) tn.storage->SetHardState(*rd.hard_state);
    for (Message& m : rd.messages) queue_.push_back(std::move(m));
    for (const Entry& e : rd.committed_entries) {
      tn.applied_index = e.index();
      if (e.type() == ENTRY_NORMAL) {
        if (!e.data().empty()) tn.applied.push_back(e.data());
      } else if (e.type() == ENTRY_CONF_CHANGE) {
        ConfChange cc;
        cc.ParseFromString(e.data());
        tn.conf_state = tn.node->ApplyConfChange(cc);
      } else {
        ConfChangeV2 cc;
        cc.ParseFromString(e.data());
        tn.conf_state = tn.node->ApplyConfChange(cc);
      }
    }
    for (const ReadState& rs : rd.read_states) read_states_[id].push_back(rs);
    tn.node->Advance(rd);
    return true;
  }

  // Delivers one message; returns false if it was filtered out.
  bool Deliver(const Message& m) {
    if (!Allowed(m) || nodes_.count(m.to()) == 0) return false;
    delivered_.push_back(m);
    absl::Status s = nodes_.at(m.to())->node->Step(m);
    (void)s;  // Peers may legitimately drop forwarded proposals.
    return true;
  }

  // Runs Ready processing and delivery until nothing moves.
  void Stabilize() {
    for (int round = 0; round < 10000; ++round) {
      bool any = false;
      for (auto& [id, n] : nodes_) {
        if (down_.count(id)) continue;
        while (ProcessReady(id)) any = true;
      }
      std::deque<Message> batch;
      batch.swap(queue_);
      for (const Message& m : batch) {
        Deliver(m);
        any = true;
      }
      if (!any) return;
    }
    ADD_FAILURE() << "network did not stabilize";
  }

  // Steps a local message into `id` and stabilizes.
  void Tick(uint64_t id, int n = 1) {
    for (int i = 0; i < n; ++i) {
      node(id)->Tick();
      Stabilize();
    }
  }
  // Ticks every live node n times, stabilizing after each round.
  void TickAll(int n) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, tn] : nodes_) {
        if (!down_.count(id)) tn->node->Tick();
      }
      Stabilize();
    }
  }
  void Campaign(uint64_t id) {
    EXPECT_TRUE(node(id)->Campaign().ok());
    Stabilize();
  }
  absl::Status Propose(uint64_t id, const std::string& data) {
    absl::Status s = node(id)->Propose(data);
    Stabilize();
    return s;
  }
  absl::Status ProposeConfChangeV2(uint64_t id, const std::vector<ConfChangeSingle>& ccs,
                                   ConfChangeTransition t = CONF_CHANGE_TRANSITION_AUTO) {
    ConfChangeV2 cc;
    cc.set_transition(t);
    for (const auto& c : ccs) *cc.add_changes() = c;
    absl::Status s = node(id)->ProposeConfChangeV2(cc);
    Stabilize();
    return s;
  }

  // The application's snapshot of node `id` at its applied index, then log compaction.
  void SnapshotAndCompact(uint64_t id) {
    TestNode& tn = test_node(id);
    auto snap = tn.storage->CreateSnapshot(tn.applied_index, &tn.conf_state,
                                           absl::StrJoin(tn.applied, "\n"));
    ASSERT_TRUE(snap.ok()) << snap.status();
    ASSERT_TRUE(tn.storage->Compact(tn.applied_index).ok());
  }

  StateType state(uint64_t id) { return raft(id)->state(); }
  uint64_t term(uint64_t id) { return raft(id)->term(); }
  uint64_t lead(uint64_t id) { return raft(id)->lead(); }
  std::vector<ReadState>& read_states(uint64_t id) { return read_states_[id]; }
  std::vector<Message>& delivered() { return delivered_; }
  std::deque<Message>& queue() { return queue_; }

 private:
  ConfigFn cfg_fn_;
  std::map<uint64_t, std::unique_ptr<TestNode>> nodes_;
  std::deque<Message> queue_;
  std::vector<Message> delivered_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::set<MessageType> dropped_types_;
  std::set<std::pair<uint64_t, MessageType>> dropped_from_;
  std::set<uint64_t> down_;
  std::map<uint64_t, uint64_t> leaders_by_term_;
  std::map<uint64_t, std::vector<ReadState>> read_states_;
};

}  // namespace rutile::raft::testing

#endif  // RUTILE_TESTS_RAFT_RAFT_NETWORK_H_
