// A leader's early messages (raw_node.h, raft.cc Raft::AppendEntry; raftstore/store.cc
// ProcessBatch sends a leader's Ready messages before its own group write): three RawNodes
// without async_storage_writes, each on an EngineLogStorage over its own MemEngine (a
// crash loses every unsynced write), driven in the store's order:
//   leader Ready that keeps role, term and vote, carries no MsgSnap and no commit index
//   past the durable log: send its messages, [failpoint raft_test_after_early_send],
//   then the synced write; everything else: write, then send.
// Messages are stepped only between Readys, so the write of a Ready always returns before
// any MsgAppResp for its entries is stepped: the invariant the early send rests on (the
// leader counts its own log at append). The failpoint crashes the leader between the send
// and the write, losing its unsynced writes; the followers may then hold entries the leader
// lost. Checked: no entry any node ever applied (committed) is lost or replaced; every
// node's applied sequence is a prefix of one history.
//
// And a control that shows the check can fail: a driver that breaks the invariant (the
// leader's early write is not synced before the followers' acks are stepped) loses a
// committed entry after the crash, and the same check catches it.

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raft/engine_log_storage.h"
#include "raft/raw_node.h"
#include "storage/mem_engine.h"
#include "util/failpoint.h"

namespace rutile::raft {
namespace {

constexpr char kFailPoint[] = "raft_test_after_early_send";

struct Replica {
  uint64_t id = 0;
  storage::MemEngine engine;
  std::unique_ptr<EngineLogStorage> log;
  std::unique_ptr<RawNode> node;
  bool up = true;
  uint64_t applied_index = 1;
  HardState durable_hs;  // The hard state of the last write (for the early-send rule).
};

class EarlySendCluster {
 public:
  // `break_invariant`: the leader's early writes are not synced (the control).
  EarlySendCluster(uint64_t seed, bool break_invariant)
      : seed_(seed), break_invariant_(break_invariant) {
    for (uint64_t id = 1; id <= 3; ++id) {
      auto r = std::make_unique<Replica>();
      r->id = id;
      auto log = EngineLogStorage::Open(&r->engine, 1);
      EXPECT_TRUE(log.ok()) << log.status();
      Snapshot snap;
      snap.mutable_metadata()->set_index(1);
      snap.mutable_metadata()->set_term(1);
      for (uint64_t v = 1; v <= 3; ++v)
        snap.mutable_metadata()->mutable_conf_state()->add_voters(v);
      EXPECT_TRUE((*log)->ApplySnapshot(snap).ok());
      r->log = *std::move(log);
      nodes_[id] = std::move(r);
      Start(id);
    }
  }

  Replica& n(uint64_t id) { return *nodes_[id]; }
  std::deque<Message>& net() { return net_; }
  uint64_t early_sends() const { return early_sends_; }
  uint64_t crashes_after_early_send() const { return crashes_after_early_send_; }

  // Crash of the machine: unsynced writes are lost, the node restarts from its engine.
  void Crash(uint64_t id) {
    Replica& r = n(id);
    r.node.reset();
    r.log.reset();
    r.engine.SimulateCrash();
    auto log = EngineLogStorage::Open(&r.engine, 1);
    ASSERT_TRUE(log.ok()) << log.status();
    r.log = *std::move(log);
    Start(id);
  }

  // Runs node `id`'s Ready loop in the store's order (see the top of the file).
  void Process(uint64_t id) {
    Replica& r = n(id);
    while (r.node != nullptr && r.node->HasReady()) {
      Ready rd = r.node->GetReady();
      const bool leader = r.node->raft()->state() == StateType::kLeader;
      bool early = leader && !rd.soft_state.has_value();
      if (rd.hard_state.has_value()) {
        early = early && rd.hard_state->term() == r.durable_hs.term() &&
                rd.hard_state->vote() == r.durable_hs.vote() &&
                rd.hard_state->commit() <= *r.log->LastIndex();
      }
      for (const Message& m : rd.messages) early = early && m.type() != MSG_SNAP;
      if (early) {
        if (!rd.entries.empty()) early_sends_++;
        for (Message& m : rd.messages) net_.push_back(std::move(m));
        if (RUTILE_FAIL_POINT_VALUE(kFailPoint).has_value()) {
          crashes_after_early_send_++;
          Crash(id);
          return;
        }
      }
      const bool sync = early && break_invariant_ ? false : true;
      ASSERT_TRUE(r.log->SaveReady(rd.hard_state, rd.entries, rd.snapshot, sync).ok());
      if (rd.hard_state.has_value()) r.durable_hs = *rd.hard_state;
      if (!early) {
        for (Message& m : rd.messages) net_.push_back(std::move(m));
      }
      if (rd.snapshot.has_value()) r.applied_index = rd.snapshot->metadata().index();
      for (const Entry& e : rd.committed_entries) {
        ASSERT_EQ(e.index(), r.applied_index + 1) << "node " << id;
        r.applied_index = e.index();
        Record(id, e);
      }
      r.node->Advance(rd);
    }
  }

  // Steps the queued messages for up nodes, in order; `drop` decides per message.
  template <typename Drop>
  void Deliver(Drop drop) {
    std::deque<Message> msgs;
    msgs.swap(net_);
    for (Message& m : msgs) {
      if (drop(m)) continue;
      Replica& r = n(m.to());
      if (r.node != nullptr) (void)r.node->Step(std::move(m));
    }
  }
  void Deliver() {
    Deliver([](const Message&) { return false; });
  }

  void ProcessAll() {
    for (uint64_t id = 1; id <= 3; ++id) Process(id);
  }

  // Delivers everything, ticking when the network is quiet, until one leader holds the
  // highest term and every node has applied its whole log; the leader's id or 0.
  uint64_t Settle(int rounds = 200) {
    for (int i = 0; i < rounds; ++i) {
      ProcessAll();
      Deliver();
      ProcessAll();
      if (!net_.empty()) continue;
      if (Settled()) return Leader();
      for (uint64_t id = 1; id <= 3; ++id) n(id).node->Tick();
    }
    return Settled() ? Leader() : 0;
  }

  bool Settled() {
    uint64_t l = Leader();
    if (l == 0) return false;
    Raft* lr = n(l).node->raft();
    for (uint64_t id = 1; id <= 3; ++id) {
      Raft* r = n(id).node->raft();
      if (id != l && r->state() == StateType::kLeader) return false;
      if (r->term() != lr->term() || n(id).applied_index != lr->log().LastIndex()) return false;
    }
    return true;
  }

  uint64_t Leader() {
    for (uint64_t id = 1; id <= 3; ++id) {
      if (n(id).node->raft()->state() == StateType::kLeader) return id;
    }
    return 0;
  }

  // Every entry any node applied, by index: (term, data). Filled as nodes apply; a
  // different entry applied at the same index is a violation of state machine safety.
  const std::map<uint64_t, std::pair<uint64_t, std::string>>& applied() const { return applied_; }
  const std::vector<std::string>& violations() const { return violations_; }

  // Checks that every applied entry is still in node `id`'s log (same term and data).
  void CheckNothingLost(uint64_t id) {
    Replica& r = n(id);
    for (const auto& [index, te] : applied_) {
      if (index > *r.log->LastIndex()) {
        violations_.push_back(absl::StrCat("node ", id, " lost applied entry ", index));
        continue;
      }
      auto ents = r.log->Entries(index, index + 1, UINT64_MAX);
      if (!ents.ok()) continue;  // Compacted: never happens here (no compaction).
      if ((*ents)[0].term() != te.first || (*ents)[0].data() != te.second) {
        violations_.push_back(absl::StrCat("node ", id, " replaced applied entry ", index));
      }
    }
  }

 private:
  void Start(uint64_t id) {
    Replica& r = n(id);
    Config c;
    c.id = id;
    c.storage = r.log.get();
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.applied = 1;
    c.random_seed = seed_ * 7 + id;
    c.max_inflight_msgs = 64;
    auto rn = RawNode::Create(c);
    ASSERT_TRUE(rn.ok()) << rn.status();
    r.node = *std::move(rn);
    r.applied_index = 1;
    auto init = r.log->GetInitialState();
    ASSERT_TRUE(init.ok());
    r.durable_hs = init->hard_state;
  }

  void Record(uint64_t id, const Entry& e) {
    auto [it, inserted] = applied_.try_emplace(e.index(), e.term(), e.data());
    if (!inserted && (it->second.first != e.term() || it->second.second != e.data())) {
      violations_.push_back(absl::StrCat("node ", id, " applied a different entry at ", e.index()));
    }
  }

  const uint64_t seed_;
  const bool break_invariant_;
  std::map<uint64_t, std::unique_ptr<Replica>> nodes_;
  std::deque<Message> net_;
  std::map<uint64_t, std::pair<uint64_t, std::string>> applied_;
  std::vector<std::string> violations_;
  uint64_t early_sends_ = 0;
  uint64_t crashes_after_early_send_ = 0;
};

// The scripted case: the leader's MsgApp reaches one follower, the leader crashes between
// the send and its write. The follower's ack cannot have been counted: nothing the crash
// loses was committed; the entry lives on (or not) through the follower, never replaced
// after being applied.
void RunScripted(bool break_invariant, EarlySendCluster& c) {
  ASSERT_TRUE(c.n(1).node->Campaign().ok());
  ASSERT_EQ(c.Settle(), 1u);
  ASSERT_TRUE(c.n(1).node->Propose("before").ok());
  ASSERT_EQ(c.Settle(), 1u);
  ASSERT_EQ(c.applied().count(3), 1u);  // Index 2: the leader's empty entry; 3: "before".

  // Node 3 is cut off; "x" goes to node 2 only.
  auto to3 = [](const Message& m) { return m.to() == 3 || m.from() == 3; };
  ASSERT_TRUE(c.n(1).node->Propose("x").ok());
  if (!break_invariant) {
    // The crash hits between the early send and the group write.
    ASSERT_TRUE(failpoint::Configure(kFailPoint, "1*return").ok());
  }
  c.Process(1);
  failpoint::Remove(kFailPoint);
  c.Deliver(to3);  // Node 2 gets "x".
  c.Process(2);    // ... persists it and acks.
  c.Deliver(to3);  // The ack reaches node 1 (dropped if it crashed).
  c.Process(1);    // Control: node 1 counts it, commits and applies "x".
  c.Deliver(to3);
  c.Process(1);
  if (break_invariant) {
    EXPECT_EQ(c.applied().count(4), 1u) << "the control should have committed x";
    c.Crash(1);  // Loses its unsynced write of "x".
  }
  // Node 1 (without "x") and node 3 elect node 3; node 2 is cut off now.
  auto to2 = [](const Message& m) { return m.to() == 2 || m.from() == 2; };
  c.Deliver(to2);
  for (int i = 0; i < 100 && c.n(3).node->raft()->state() != StateType::kLeader; ++i) {
    (void)c.n(3).node->Campaign();
    c.Process(3);
    c.Deliver(to2);
    c.Process(1);
    c.Deliver(to2);
    c.Process(3);
  }
  ASSERT_EQ(c.n(3).node->raft()->state(), StateType::kLeader);
  ASSERT_TRUE(c.n(3).node->Propose("y").ok());
  c.Process(3);
  c.Deliver(to2);
  c.Process(1);
  c.Deliver(to2);
  c.Process(3);
  // Heal: everyone converges on node 3's log.
  const uint64_t healed = c.Settle();
  if (!break_invariant) {
    ASSERT_NE(healed, 0u) << "the cluster did not converge";
  }
  ASSERT_NE(c.Leader(), 0u);
  ASSERT_TRUE(c.n(c.Leader()).node->Propose("z").ok());
  const uint64_t settled = c.Settle();
  if (!break_invariant) {
    ASSERT_NE(settled, 0u) << "the cluster did not converge";
  }
  for (uint64_t id = 1; id <= 3; ++id) c.CheckNothingLost(id);
}

TEST(RaftEarlySend, CrashBetweenEarlySendAndWriteLosesNoCommittedEntry) {
  if (!failpoint::CompiledIn()) GTEST_SKIP() << "failpoints compiled out";
  EarlySendCluster c(/*seed=*/1, /*break_invariant=*/false);
  RunScripted(false, c);
  EXPECT_EQ(c.crashes_after_early_send(), 1u);
  EXPECT_TRUE(c.violations().empty()) << c.violations()[0];
  EXPECT_EQ(c.applied().rbegin()->second.second, "z");
}

TEST(RaftEarlySend, ControlWithoutTheInvariantLosesACommittedEntry) {
  EarlySendCluster c(/*seed=*/1, /*break_invariant=*/true);
  RunScripted(true, c);
  ASSERT_FALSE(c.violations().empty()) << "the check must catch the lost entry";
}

// Random proposals, message loss and reordering, ticks, and crashes: at the failpoint
// (between the early send and the write) and of any node at a quiet moment.
TEST(RaftEarlySend, RandomCrashesAfterEarlySendLoseNoCommittedEntry) {
  if (!failpoint::CompiledIn()) GTEST_SKIP() << "failpoints compiled out";
  uint64_t total_crashes = 0;
  uint64_t total_early = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 rng(seed);
    EarlySendCluster c(seed, /*break_invariant=*/false);
    ASSERT_TRUE(c.n(1 + seed % 3).node->Campaign().ok());
    ASSERT_NE(c.Settle(), 0u);
    uint64_t next = 0;
    for (int step = 0; step < 300; ++step) {
      const uint64_t dice = rng() % 100;
      const uint64_t id = 1 + rng() % 3;
      if (dice < 30) {
        uint64_t l = c.Leader();
        if (l != 0) (void)c.n(l).node->Propose(absl::StrCat("v", next++));
        // Arm the failpoint for the leader's next early send now and then.
        if (rng() % 8 == 0) {
          ASSERT_TRUE(failpoint::Configure(kFailPoint, "1*return").ok());
        }
        if (l != 0) c.Process(l);
        failpoint::Remove(kFailPoint);
      } else if (dice < 60) {
        c.Process(id);
      } else if (dice < 85) {
        const uint64_t loss = rng() % 4;  // 0: none; else drop ~1 in 6.
        // Reordering: the queue is shuffled a little before delivery.
        auto& q = c.net();
        for (size_t i = 1; i < q.size(); ++i) {
          if (rng() % 5 == 0) std::swap(q[i - 1], q[i]);
        }
        c.Deliver([&](const Message&) { return loss != 0 && rng() % 6 == 0; });
      } else if (dice < 97) {
        for (uint64_t t = 1; t <= 3; ++t) c.n(t).node->Tick();
      } else {
        c.Crash(id);
      }
      ASSERT_TRUE(c.violations().empty()) << c.violations()[0];
    }
    ASSERT_NE(c.Settle(400), 0u);
    ASSERT_TRUE(c.n(c.Leader()).node->Propose("final").ok());
    c.Settle(400);
    for (uint64_t id = 1; id <= 3; ++id) c.CheckNothingLost(id);
    ASSERT_TRUE(c.violations().empty()) << c.violations()[0];
    ASSERT_EQ(c.applied().rbegin()->second.second, "final");
    total_crashes += c.crashes_after_early_send();
    total_early += c.early_sends();
  }
  // The path under test was taken, and crashed in, many times.
  EXPECT_GT(total_early, 500u);
  EXPECT_GT(total_crashes, 50u);
}

}  // namespace
}  // namespace rutile::raft
