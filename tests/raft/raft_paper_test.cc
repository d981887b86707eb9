// Tests of the properties the Raft paper (Ongaro & Ousterhout, USENIX ATC 2014) states,
// each citing the section it checks. Single-message rules are checked by stepping one
// node directly; the global safety properties (Figure 3) over randomized runs of a
// 5-node Network with partitions, ticks and proposals.

#include <random>

#include "gtest/gtest.h"
#include "raft/confchange/changer.h"
#include "raft_network.h"

namespace rutile::raft::testing {
namespace {

Message Msg(MessageType t, uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.set_type(t);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

Entry Ent(uint64_t term, uint64_t index, const std::string& data = "") {
  Entry e;
  e.set_term(term);
  e.set_index(index);
  e.set_data(data);
  return e;
}

// §5.2: a follower that hears nothing for an election timeout becomes a candidate,
// increments its term, votes for itself and requests votes from every other server.
TEST(RaftPaperTest, FollowerStartsElectionAfterTimeout) {
  Network n({1, 2, 3});
  n.Isolate(1);
  n.node(1)->raft()->TEST_SetRandomizedElectionTimeout(10);
  size_t before = n.delivered().size();
  for (int i = 0; i < 10; ++i) n.node(1)->Tick();
  EXPECT_EQ(n.state(1), StateType::kCandidate);
  EXPECT_EQ(n.term(1), 1u);
  EXPECT_EQ(n.raft(1)->vote(), 1u);
  Ready rd = n.node(1)->GetReady();
  int votes = 0;
  for (const Message& m : rd.messages) votes += m.type() == MSG_VOTE && m.term() == 1;
  EXPECT_EQ(votes, 2);
  (void)before;
}

// §5.2: each server votes for at most one candidate in a given term, first-come-first-served.
TEST(RaftPaperTest, VoterGrantsAtMostOneVotePerTerm) {
  Network n({1, 2, 3});
  Raft* r = n.raft(1);
  Message v2 = Msg(MSG_VOTE, 2, 1, 5);
  v2.set_log_term(1);
  v2.set_index(1);
  ASSERT_TRUE(r->Step(v2).ok());
  Message v3 = Msg(MSG_VOTE, 3, 1, 5);
  v3.set_log_term(1);
  v3.set_index(1);
  ASSERT_TRUE(r->Step(v3).ok());
  auto& msgs = r->mutable_msgs();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_FALSE(msgs[0].reject());
  EXPECT_TRUE(msgs[1].reject());
  EXPECT_EQ(r->vote(), 2u);
}

// §5.2: a candidate that receives AppendEntries from a leader of its term steps down.
TEST(RaftPaperTest, CandidateFallsBackOnAppendFromLeaderOfSameTerm) {
  Network n({1, 2, 3});
  Raft* r = n.raft(1);
  r->TEST_BecomeCandidate();
  Message app = Msg(MSG_APP, 2, 1, r->term());
  app.set_log_term(1);
  app.set_index(1);
  ASSERT_TRUE(r->Step(app).ok());
  EXPECT_EQ(r->state(), StateType::kFollower);
  EXPECT_EQ(r->lead(), 2u);
}

// §5.3: a follower refuses entries whose preceding index/term does not match its log
// (the consistency check behind Log Matching), and hints where to retry.
TEST(RaftPaperTest, FollowerRejectsAppendWithMismatchedPrevLog) {
  Network n({1, 2, 3});
  Raft* r = n.raft(2);
  Message app = Msg(MSG_APP, 1, 2, 2);
  app.set_log_term(2);  // Our entry at 1 has term 1.
  app.set_index(1);
  *app.add_entries() = Ent(2, 2, "x");
  ASSERT_TRUE(r->Step(app).ok());
  const Message& resp = r->mutable_msgs().back();
  EXPECT_EQ(resp.type(), MSG_APP_RESP);
  EXPECT_TRUE(resp.reject());
  EXPECT_EQ(resp.reject_hint(), 1u);
  EXPECT_EQ(r->log().LastIndex(), 1u);
}

// §5.3: when a follower's entry conflicts with the leader's, the follower deletes it and
// all that follow, and appends the leader's.
TEST(RaftPaperTest, FollowerTruncatesConflictingSuffix) {
  Network n({1, 2, 3});
  Raft* r = n.raft(2);
  Message app = Msg(MSG_APP, 1, 2, 2);
  app.set_log_term(1);
  app.set_index(1);
  *app.add_entries() = Ent(2, 2, "a");
  *app.add_entries() = Ent(2, 3, "b");
  ASSERT_TRUE(r->Step(app).ok());
  Message app2 = Msg(MSG_APP, 3, 2, 3);
  app2.set_log_term(2);
  app2.set_index(2);
  *app2.add_entries() = Ent(3, 3, "c");
  ASSERT_TRUE(r->Step(app2).ok());
  auto ents = r->log().AllEntries();
  ASSERT_EQ(ents.size(), 2u);
  EXPECT_EQ(ents[1].data(), "c");
  EXPECT_EQ(ents[1].term(), 3u);
}

// §5.4.1: a voter denies its vote to a candidate whose log is less up-to-date: lower
// last term, or same last term and shorter.
TEST(RaftPaperTest, VoterRejectsCandidateWithStaleLog) {
  Network n({1, 2, 3});
  Raft* r = n.raft(1);
  Message app = Msg(MSG_APP, 2, 1, 2);
  app.set_log_term(1);
  app.set_index(1);
  *app.add_entries() = Ent(2, 2);
  *app.add_entries() = Ent(2, 3);
  ASSERT_TRUE(r->Step(app).ok());
  struct Case {
    uint64_t log_term, index;
    bool reject;
  } cases[] = {{1, 10, true}, {2, 2, true}, {2, 3, false}, {3, 1, false}};
  uint64_t term = 10;
  for (const Case& c : cases) {
    Message v = Msg(MSG_VOTE, 3, 1, ++term);
    v.set_log_term(c.log_term);
    v.set_index(c.index);
    r->mutable_msgs().clear();
    ASSERT_TRUE(r->Step(v).ok());
    ASSERT_FALSE(r->mutable_msgs().empty());
    EXPECT_EQ(r->mutable_msgs().back().reject(), c.reject)
        << "log_term=" << c.log_term << " index=" << c.index;
  }
}

// §5.4.2: a leader never commits an entry from a previous term by counting replicas;
// only once an entry of its own term is committed are earlier ones committed with it.
TEST(RaftPaperTest, LeaderOnlyCommitsEntriesOfItsTermByCounting) {
  Network n({1, 2, 3});
  Raft* r = n.raft(1);
  // 1 holds an entry of term 1 at index 2 that was never committed.
  Message app = Msg(MSG_APP, 2, 1, 1);
  app.set_log_term(1);
  app.set_index(1);
  *app.add_entries() = Ent(1, 2, "old");
  ASSERT_TRUE(r->Step(app).ok());
  ASSERT_EQ(r->log().committed(), 1u);
  r->TEST_BecomeCandidate();  // Term 2.
  r->TEST_BecomeLeader();     // Appends its empty entry at index 3, term 2.
  ASSERT_EQ(r->log().LastIndex(), 3u);
  // A majority (1 and 2) now stores the term-1 entry, but it is not committed by counting.
  Message ack2 = Msg(MSG_APP_RESP, 2, 1, r->term());
  ack2.set_index(2);
  ASSERT_TRUE(r->Step(ack2).ok());
  EXPECT_EQ(r->log().committed(), 1u);
  // Once the term-2 entry is on a majority, both commit together.
  Message ack3 = Msg(MSG_APP_RESP, 2, 1, r->term());
  ack3.set_index(3);
  ASSERT_TRUE(r->Step(ack3).ok());
  EXPECT_EQ(r->log().committed(), 3u);
}

// §6: without a joint configuration at most one voter may change at a time.
TEST(RaftPaperTest, MembershipSimpleChangeChangesAtMostOneVoter) {
  tracker::ProgressTracker trk(10, 0);
  auto r0 = confchange::Changer(trk, 1).Simple(
      {Cc(CONF_CHANGE_ADD_NODE, 1), Cc(CONF_CHANGE_ADD_NODE, 2), Cc(CONF_CHANGE_ADD_NODE, 3)});
  EXPECT_FALSE(r0.ok());
  auto r1 = confchange::Changer(trk, 1).Simple({Cc(CONF_CHANGE_ADD_NODE, 1)});
  ASSERT_TRUE(r1.ok());
  trk.Reset(r1->first, r1->second);
  auto r2 = confchange::Changer(trk, 1).Simple({Cc(CONF_CHANGE_ADD_NODE, 2)});
  ASSERT_TRUE(r2.ok());
  trk.Reset(r2->first, r2->second);
  // Replacing 1 by 3 in one step would change two voters.
  auto bad = confchange::Changer(trk, 1).Simple(
      {Cc(CONF_CHANGE_ADD_NODE, 3), Cc(CONF_CHANGE_REMOVE_NODE, 1)});
  EXPECT_FALSE(bad.ok());
  auto joint = confchange::Changer(trk, 1).EnterJoint(
      false, {Cc(CONF_CHANGE_ADD_NODE, 3), Cc(CONF_CHANGE_REMOVE_NODE, 1)});
  ASSERT_TRUE(joint.ok());
  EXPECT_EQ(joint->first.String(), "voters=(2 3)&&(1 2)");
  trk.Reset(joint->first, joint->second);
  // While joint, decisions need both majorities (§6, joint consensus).
  EXPECT_EQ(trk.config().voters.GetVoteResult({{2, true}, {3, true}}),
            quorum::VoteResult::kPending);
  auto left = confchange::Changer(trk, 1).LeaveJoint();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->first.String(), "voters=(2 3)");
  EXPECT_EQ(left->second.count(1), 0u);
}

// Figure 3 safety properties over randomized runs: Election Safety (checked on every
// Ready by the Network), Leader Append-Only (§5.3), Log Matching, Leader Completeness and
// State Machine Safety.
TEST(RaftPaperTest, SafetyPropertiesHoldUnderRandomPartitions) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    Network n({1, 2, 3, 4, 5}, [seed](Config& c) {
      c.random_seed = seed;
      c.pre_vote = seed % 2 == 0;
      c.check_quorum = seed % 3 == 0;
    });
    // Committed entries (index -> term) as observed on any node, and the term of the
    // observing node at that time (an upper bound on when it was committed).
    std::map<uint64_t, uint64_t> committed;
    std::map<uint64_t, uint64_t> commit_term;
    // Per node, while it leads: its term and the (index, term, data) of its log then.
    struct LeaderLog {
      uint64_t term = 0;
      std::vector<Entry> entries;
    };
    std::map<uint64_t, LeaderLog> leader_logs;
    int proposals = 0;
    for (int step = 0; step < 200; ++step) {
      switch (rng() % 10) {
        case 0:
          n.Recover();
          break;
        case 1:
          n.Isolate(1 + rng() % 5);
          break;
        case 2:
          n.Cut(1 + rng() % 5, 1 + rng() % 5);
          break;
        default:
          for (uint64_t id = 1; id <= 5; ++id) {
            if (n.state(id) == StateType::kLeader && rng() % 2 == 0) {
              (void)n.Propose(id, "p" + std::to_string(proposals++));
            }
          }
          n.TickAll(1);
          break;
      }
      for (uint64_t id = 1; id <= 5; ++id) {
        const RaftLog& log = n.raft(id)->log();
        for (const Entry& e : log.AllEntries()) {
          if (e.index() > log.committed()) break;
          auto [it, inserted] = committed.insert({e.index(), e.term()});
          if (inserted) commit_term[e.index()] = n.term(id);
          // State Machine Safety: no two servers commit different entries at an index.
          ASSERT_EQ(it->second, e.term()) << "index " << e.index() << " on " << id;
        }
        // Leader Append-Only (§5.3): a leader never overwrites or deletes entries in its
        // log; it only appends. What it held earlier in the same term is still there.
        if (n.state(id) == StateType::kLeader) {
          std::vector<Entry> now = log.AllEntries();
          auto it = leader_logs.find(id);
          if (it != leader_logs.end() && it->second.term == n.term(id)) {
            const std::vector<Entry>& before = it->second.entries;
            ASSERT_GE(now.size(), before.size()) << "leader " << id << " lost entries";
            for (size_t i = 0; i < before.size(); ++i) {
              ASSERT_EQ(now[i].index(), before[i].index()) << "leader " << id;
              ASSERT_EQ(now[i].term(), before[i].term()) << "leader " << id;
              ASSERT_EQ(now[i].data(), before[i].data()) << "leader " << id;
            }
          }
          leader_logs[id] = LeaderLog{n.term(id), std::move(now)};
        } else {
          leader_logs.erase(id);
        }
        // Leader Completeness: a leader of a later term holds every committed entry
        // (a deposed leader that has not noticed yet may lack newer ones).
        if (n.state(id) == StateType::kLeader) {
          for (const auto& [idx, term] : committed) {
            if (idx < log.FirstIndex() || commit_term[idx] >= n.term(id)) continue;
            ASSERT_EQ(log.ZeroTermOnError(idx), term) << "leader " << id << " lacks " << idx;
          }
        }
      }
      // Log Matching: equal (index, term) implies equal prefixes. (Every 10 steps: it is
      // quadratic in the log length.)
      for (uint64_t a = 1; a <= 5 && step % 10 == 9; ++a) {
        for (uint64_t b = a + 1; b <= 5; ++b) {
          auto ea = n.raft(a)->log().AllEntries(), eb = n.raft(b)->log().AllEntries();
          size_t len = std::min(ea.size(), eb.size());
          size_t last_match = 0;
          for (size_t i = 0; i < len; ++i) {
            if (ea[i].term() == eb[i].term()) last_match = i + 1;
          }
          for (size_t i = 0; i < last_match; ++i) {
            ASSERT_EQ(ea[i].term(), eb[i].term());
            ASSERT_EQ(ea[i].data(), eb[i].data());
          }
        }
      }
    }
    // Applied sequences are prefixes of one history.
    std::vector<std::string> longest;
    for (uint64_t id = 1; id <= 5; ++id) {
      if (n.applied(id).size() > longest.size()) longest = n.applied(id);
    }
    for (uint64_t id = 1; id <= 5; ++id) {
      const auto& a = n.applied(id);
      ASSERT_TRUE(std::equal(a.begin(), a.end(), longest.begin())) << "node " << id;
    }
    // Liveness after healing: a leader emerges and commits.
    n.Recover();
    n.TickAll(60);
    int leaders = 0;
    uint64_t leader = 0;
    for (uint64_t id = 1; id <= 5; ++id) {
      if (n.state(id) == StateType::kLeader) {
        ++leaders;
        leader = id;
      }
    }
    ASSERT_GE(leaders, 1);
    ASSERT_TRUE(n.Propose(leader, "final").ok());
    for (uint64_t id = 1; id <= 5; ++id) {
      ASSERT_FALSE(n.applied(id).empty());
      EXPECT_EQ(n.applied(id).back(), "final") << id;
    }
  }
}

}  // namespace
}  // namespace rutile::raft::testing
