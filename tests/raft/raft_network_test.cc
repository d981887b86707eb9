// Behaviour of groups of RawNodes wired by the test Network: elections, replication,
// PreVote/CheckQuorum, leader transfer, conf changes, learners, snapshots, reads and
// flow control.

#include "raft_network.h"

#include "gtest/gtest.h"

namespace rutile::raft::testing {
namespace {

Network::ConfigFn PreVoteCheckQuorum() {
  return [](Config& c) {
    c.pre_vote = true;
    c.check_quorum = true;
  };
}

TEST(RaftNetworkTest, CampaignElectsLeaderAndReplicatesEmptyEntry) {
  Network n({1, 2, 3});
  n.Campaign(1);
  EXPECT_EQ(n.state(1), StateType::kLeader);
  EXPECT_EQ(n.state(2), StateType::kFollower);
  EXPECT_EQ(n.lead(2), 1u);
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(n.term(id), 1u);
    // The leader's empty entry at index 2 committed everywhere.
    EXPECT_EQ(n.raft(id)->log().committed(), 2u) << id;
  }
}

TEST(RaftNetworkTest, ElectionNeedsAMajority) {
  Network n({1, 2, 3, 4, 5});
  n.Crash(4);
  n.Crash(5);
  n.Campaign(1);
  EXPECT_EQ(n.state(1), StateType::kLeader);  // 3 of 5.

  Network m({1, 2, 3, 4, 5});
  m.Crash(3);
  m.Crash(4);
  m.Crash(5);
  m.Campaign(1);
  EXPECT_EQ(m.state(1), StateType::kCandidate);  // 2 of 5 is not enough.
}

TEST(RaftNetworkTest, ElectionByTimeoutWithRandomizedTimeouts) {
  Network n({1, 2, 3});
  // No one campaigns before ticking past election_tick; the first to time out wins.
  n.TickAll(9);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(n.state(id), StateType::kFollower);
  n.TickAll(20);
  int leaders = 0;
  for (uint64_t id : {1, 2, 3}) leaders += n.state(id) == StateType::kLeader;
  EXPECT_EQ(leaders, 1);
}

TEST(RaftNetworkTest, ReplicatesProposalsFromLeaderAndFollower) {
  Network n({1, 2, 3});
  n.Campaign(1);
  ASSERT_TRUE(n.Propose(1, "a").ok());
  ASSERT_TRUE(n.Propose(2, "b").ok());  // Forwarded to the leader.
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(n.applied(id), (std::vector<std::string>{"a", "b"})) << id;
  }
}

TEST(RaftNetworkTest, ProposalsWithoutLeaderAreDropped) {
  Network n({1, 2, 3});
  absl::Status s = n.Propose(1, "x");
  EXPECT_TRUE(IsRaftError(s, RaftError::kProposalDropped)) << s;
  // A candidate drops too.
  n.Isolate(1);
  n.Campaign(1);
  EXPECT_EQ(n.state(1), StateType::kCandidate);
  EXPECT_TRUE(IsRaftError(n.Propose(1, "x"), RaftError::kProposalDropped));
  for (uint64_t id : {1, 2, 3}) EXPECT_TRUE(n.applied(id).empty());
}

TEST(RaftNetworkTest, DisabledProposalForwardingDropsOnFollowers) {
  Network n({1, 2, 3}, [](Config& c) { c.disable_proposal_forwarding = true; });
  n.Campaign(1);
  EXPECT_TRUE(IsRaftError(n.Propose(2, "x"), RaftError::kProposalDropped));
  EXPECT_TRUE(n.Propose(1, "y").ok());
  EXPECT_EQ(n.applied(2), (std::vector<std::string>{"y"}));
}

TEST(RaftNetworkTest, PreVoteKeepsIsolatedNodeFromBumpingTerm) {
  Network n({1, 2, 3}, PreVoteCheckQuorum());
  n.Campaign(1);
  uint64_t term = n.term(1);
  n.Isolate(3);
  n.Tick(3, 50);
  // Pre-elections never win and never change the term.
  EXPECT_EQ(n.term(3), term);
  EXPECT_EQ(n.state(3), StateType::kPreCandidate);
  n.Recover();
  n.Tick(1, 1);  // A heartbeat brings 3 back as follower.
  EXPECT_EQ(n.state(1), StateType::kLeader);
  EXPECT_EQ(n.state(3), StateType::kFollower);
  EXPECT_EQ(n.term(1), term);
}

TEST(RaftNetworkTest, WithoutPreVoteIsolatedNodeDisruptsOnReturn) {
  Network n({1, 2, 3});
  n.Campaign(1);
  uint64_t term = n.term(1);
  n.Isolate(3);
  n.Tick(3, 50);
  EXPECT_GT(n.term(3), term);
  n.Recover();
  // 3 ignores the stale heartbeats and campaigns again at a higher term, deposing 1.
  n.Tick(3, 30);
  EXPECT_GT(n.term(1), term);
  EXPECT_NE(n.state(1), StateType::kLeader);
}

TEST(RaftNetworkTest, CheckQuorumLeaseIgnoresDisruptiveVote) {
  Network n({1, 2, 3}, [](Config& c) { c.check_quorum = true; });
  n.Campaign(1);
  uint64_t term = n.term(1);
  // 3 campaigns while 2 heard from leader 1 recently: 2 ignores the vote (lease), 1 too.
  n.Campaign(3);
  EXPECT_EQ(n.state(3), StateType::kCandidate);
  EXPECT_EQ(n.state(2), StateType::kFollower);
  EXPECT_EQ(n.term(2), term);
  EXPECT_EQ(n.lead(2), 1u);
}

TEST(RaftNetworkTest, PartitionedLeaderStepsDownWithCheckQuorum) {
  Network n({1, 2, 3}, PreVoteCheckQuorum());
  n.Campaign(1);
  n.Isolate(1);
  // One election timeout without hearing from a quorum: step down.
  n.Tick(1, 21);
  EXPECT_EQ(n.state(1), StateType::kFollower);
  // The others elect a new leader once their timeouts pass.
  n.TickAll(0);
  for (int i = 0; i < 40 && n.state(2) != StateType::kLeader && n.state(3) != StateType::kLeader;
       ++i) {
    n.Tick(2, 1);
    n.Tick(3, 1);
  }
  uint64_t new_leader = n.state(2) == StateType::kLeader ? 2 : 3;
  EXPECT_EQ(n.state(new_leader), StateType::kLeader);
  n.Recover();
  n.Tick(new_leader, 1);
  EXPECT_EQ(n.lead(1), new_leader);
  EXPECT_EQ(n.term(1), n.term(new_leader));
  ASSERT_TRUE(n.Propose(new_leader, "after").ok());
  EXPECT_EQ(n.applied(1), (std::vector<std::string>{"after"}));
}

TEST(RaftNetworkTest, LeaderTransferToUpToDateFollower) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.node(1)->TransferLeader(2);
  n.Stabilize();
  EXPECT_EQ(n.state(2), StateType::kLeader);
  EXPECT_EQ(n.state(1), StateType::kFollower);
  EXPECT_EQ(n.lead(3), 2u);
}

TEST(RaftNetworkTest, LeaderTransferToLaggingFollowerCatchesItUpFirst) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(n.Propose(1, "e" + std::to_string(i)).ok());
  EXPECT_TRUE(n.applied(3).empty());
  n.Recover();
  n.node(1)->TransferLeader(3);
  n.Stabilize();
  EXPECT_EQ(n.state(3), StateType::kLeader);
  EXPECT_EQ(n.applied(3).size(), 5u);
}

TEST(RaftNetworkTest, LeaderTransferBlocksProposalsAndTimesOut) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.Isolate(3);
  n.node(1)->TransferLeader(3);
  n.Stabilize();
  EXPECT_EQ(n.raft(1)->lead_transferee(), 3u);
  EXPECT_TRUE(IsRaftError(n.Propose(1, "x"), RaftError::kProposalDropped));
  // After an election timeout the transfer is abandoned.
  n.Tick(1, 10);
  EXPECT_EQ(n.raft(1)->lead_transferee(), 0u);
  EXPECT_EQ(n.state(1), StateType::kLeader);
  EXPECT_TRUE(n.Propose(1, "y").ok());
  EXPECT_EQ(n.applied(2), (std::vector<std::string>{"y"}));
}

TEST(RaftNetworkTest, LeaderTransferToSelfOrLearnerIsIgnored) {
  Network n({1, 2, 3}, {}, {4});
  n.Campaign(1);
  n.node(1)->TransferLeader(1);
  n.Stabilize();
  EXPECT_EQ(n.raft(1)->lead_transferee(), 0u);
  n.node(1)->TransferLeader(4);
  n.Stabilize();
  EXPECT_EQ(n.raft(1)->lead_transferee(), 0u);
  EXPECT_EQ(n.state(1), StateType::kLeader);
}

TEST(RaftNetworkTest, SimpleConfChangeAddsVoterThatCatchesUpBySnapshot) {
  Network n({1, 2, 3});
  n.Campaign(1);
  ASSERT_TRUE(n.Propose(1, "a").ok());
  n.AddNode(4, nullptr);
  ASSERT_TRUE(n.ProposeConfChangeV2(1, {Cc(CONF_CHANGE_ADD_NODE, 4)}).ok());
  EXPECT_EQ(n.raft(1)->tracker().config().String(), "voters=(1 2 3 4)");
  // Node 4's log is empty and the leader's only snapshot predates 4: it refuses that one.
  EXPECT_TRUE(n.applied(4).empty());
  // Once the application snapshots a state that includes 4, 4 installs it.
  n.SnapshotAndCompact(1);
  n.node(1)->ReportSnapshot(4, SnapshotStatus::kFailure);
  n.Tick(1, 1);
  EXPECT_EQ(n.applied(4), (std::vector<std::string>{"a"}));
  n.node(1)->ReportSnapshot(4, SnapshotStatus::kFinish);
  n.Tick(1, 1);
  ASSERT_TRUE(n.Propose(1, "b").ok());
  EXPECT_EQ(n.applied(4), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(n.raft(4)->tracker().config().String(), "voters=(1 2 3 4)");
}

TEST(RaftNetworkTest, SecondConfChangeRefusedWhileFirstUnapplied) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.Isolate(2);
  n.Isolate(3);  // Nothing commits.
  ASSERT_TRUE(n.node(1)
                  ->ProposeConfChangeV2([] {
                    ConfChangeV2 cc;
                    *cc.add_changes() = Cc(CONF_CHANGE_ADD_LEARNER_NODE, 4);
                    return cc;
                  }())
                  .ok());
  uint64_t pending = n.raft(1)->pending_conf_index();
  ConfChangeV2 cc2;
  *cc2.add_changes() = Cc(CONF_CHANGE_ADD_LEARNER_NODE, 5);
  ASSERT_TRUE(n.node(1)->ProposeConfChangeV2(cc2).ok());
  n.Stabilize();
  // The second became an empty normal entry.
  auto ents = n.raft(1)->log().AllEntries();
  EXPECT_EQ(ents.back().type(), ENTRY_NORMAL);
  EXPECT_EQ(n.raft(1)->pending_conf_index(), pending);
}

TEST(RaftNetworkTest, JointConfChangeReplacesTheLeader) {
  Network n({1, 2, 3}, [](Config& c) { c.step_down_on_removal = true; });
  n.Campaign(1);
  ASSERT_TRUE(n.Propose(1, "a").ok());
  n.AddNode(4, nullptr);
  // Replace 1 by 4: two voter changes require the joint config, left automatically.
  // Both halves' majorities are available without 4 ((1 2 3) and 2, 3 of (2 3 4)).
  ASSERT_TRUE(
      n.ProposeConfChangeV2(1, {Cc(CONF_CHANGE_ADD_NODE, 4), Cc(CONF_CHANGE_REMOVE_NODE, 1)}).ok());
  for (uint64_t id : {2, 3}) {
    EXPECT_EQ(n.raft(id)->tracker().config().String(), "voters=(2 3 4)") << id;
  }
  // The old leader stepped down when it applied its own removal.
  EXPECT_NE(n.state(1), StateType::kLeader);
  // The remaining voters elect a leader among themselves, catch 4 up and make progress.
  n.Crash(1);
  n.SnapshotAndCompact(2);
  n.Campaign(2);
  EXPECT_EQ(n.state(2), StateType::kLeader);
  n.node(2)->ReportSnapshot(4, SnapshotStatus::kFinish);
  n.Tick(2, 1);
  ASSERT_TRUE(n.Propose(2, "after").ok());
  EXPECT_EQ(n.applied(4), (std::vector<std::string>{"a", "after"}));
  EXPECT_EQ(n.applied(3), (std::vector<std::string>{"a", "after"}));
  EXPECT_EQ(n.raft(4)->tracker().config().String(), "voters=(2 3 4)");
  // 2 and 4 alone form a majority of (2 3 4).
  n.Crash(3);
  ASSERT_TRUE(n.Propose(2, "two-of-three").ok());
  EXPECT_EQ(n.applied(4).back(), "two-of-three");
}

TEST(RaftNetworkTest, ExplicitJointConfChangeWaitsForLeave) {
  Network n({1, 2, 3});
  n.Campaign(1);
  ASSERT_TRUE(n.ProposeConfChangeV2(1, {Cc(CONF_CHANGE_ADD_LEARNER_NODE, 4)},
                                    CONF_CHANGE_TRANSITION_JOINT_EXPLICIT)
                  .ok());
  EXPECT_EQ(n.raft(2)->tracker().config().String(), "voters=(1 2 3)&&(1 2 3) learners=(4)");
  // A non-empty change is refused while joint.
  ASSERT_TRUE(n.ProposeConfChangeV2(1, {Cc(CONF_CHANGE_ADD_LEARNER_NODE, 5)}).ok());
  EXPECT_EQ(n.raft(2)->tracker().config().String(), "voters=(1 2 3)&&(1 2 3) learners=(4)");
  ASSERT_TRUE(n.ProposeConfChangeV2(1, {}).ok());
  EXPECT_EQ(n.raft(2)->tracker().config().String(), "voters=(1 2 3) learners=(4)");
}

TEST(RaftNetworkTest, LearnerReplicatesButNeverCampaignsOrCountsAndCanBePromoted) {
  Network n({1, 2, 3}, {}, {4});
  n.Campaign(1);
  ASSERT_TRUE(n.Propose(1, "a").ok());
  EXPECT_EQ(n.applied(4), (std::vector<std::string>{"a"}));
  // A learner never campaigns.
  n.Isolate(4);
  n.Tick(4, 100);
  EXPECT_EQ(n.state(4), StateType::kFollower);
  EXPECT_TRUE(n.raft(4)->is_learner());
  n.Recover();
  // Learners do not count towards commit: with 2 and 3 cut, 1 + learner 4 commit nothing.
  n.Cut(1, 2);
  n.Cut(1, 3);
  uint64_t committed = n.raft(1)->log().committed();
  ASSERT_TRUE(n.Propose(1, "b").ok());
  EXPECT_EQ(n.raft(1)->log().committed(), committed);
  n.Recover();
  n.Tick(1, 1);
  EXPECT_EQ(n.applied(4), (std::vector<std::string>{"a", "b"}));
  // Promote the learner.
  ASSERT_TRUE(n.ProposeConfChangeV2(1, {Cc(CONF_CHANGE_ADD_NODE, 4)}).ok());
  EXPECT_EQ(n.raft(4)->tracker().config().String(), "voters=(1 2 3 4)");
  EXPECT_FALSE(n.raft(4)->is_learner());
  n.Campaign(4);
  EXPECT_EQ(n.state(4), StateType::kLeader);
}

TEST(RaftNetworkTest, LaggingFollowerCatchesUpBySnapshotAfterCompaction) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(n.Propose(1, "v" + std::to_string(i)).ok());
  n.SnapshotAndCompact(1);
  n.Recover();
  size_t before = n.delivered().size();
  n.Tick(1, 1);  // Heartbeat; 3's response triggers the append, which needs a snapshot.
  bool sent_snapshot = false;
  for (size_t i = before; i < n.delivered().size(); ++i) {
    sent_snapshot |= n.delivered()[i].type() == MSG_SNAP && n.delivered()[i].to() == 3;
  }
  EXPECT_TRUE(sent_snapshot);
  EXPECT_EQ(n.applied(3).size(), 10u);  // Restored from the snapshot data.
  // The follower's MsgAppResp for the snapshot index already moved it back to replicate,
  // so the application's late report changes nothing.
  EXPECT_EQ(n.raft(1)->tracker().progress().at(3).state, tracker::StateType::kReplicate);
  n.node(1)->ReportSnapshot(3, SnapshotStatus::kFinish);
  ASSERT_TRUE(n.Propose(1, "after").ok());
  ASSERT_EQ(n.applied(3).size(), 11u);
  EXPECT_EQ(n.applied(3).back(), "after");
  EXPECT_EQ(n.raft(1)->tracker().progress().at(3).state, tracker::StateType::kReplicate);
}

TEST(RaftNetworkTest, FailedSnapshotIsRetried) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.Isolate(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(n.Propose(1, "v" + std::to_string(i)).ok());
  n.SnapshotAndCompact(1);
  n.Recover();
  n.DropType(MSG_SNAP);  // The snapshot is lost in transit.
  n.Tick(1, 1);
  EXPECT_TRUE(n.applied(3).empty());
  n.node(1)->ReportSnapshot(3, SnapshotStatus::kFailure);
  EXPECT_EQ(n.raft(1)->tracker().progress().at(3).state, tracker::StateType::kProbe);
  n.Recover();
  n.Tick(1, 2);
  EXPECT_EQ(n.applied(3).size(), 3u);
}

TEST(RaftNetworkTest, ReadIndexSafeOnLeaderAndFollower) {
  Network n({1, 2, 3});
  n.Campaign(1);
  ASSERT_TRUE(n.Propose(1, "a").ok());
  uint64_t commit = n.raft(1)->log().committed();
  n.node(1)->ReadIndex("r1");
  n.Stabilize();
  ASSERT_EQ(n.read_states(1).size(), 1u);
  EXPECT_EQ(n.read_states(1)[0].index, commit);
  EXPECT_EQ(n.read_states(1)[0].request_ctx, "r1");
  n.node(2)->ReadIndex("r2");
  n.Stabilize();
  ASSERT_EQ(n.read_states(2).size(), 1u);
  EXPECT_EQ(n.read_states(2)[0].index, commit);
}

TEST(RaftNetworkTest, ReadIndexSafeNeedsQuorumConfirmation) {
  Network n({1, 2, 3});
  n.Campaign(1);
  n.Isolate(1);
  n.node(1)->ReadIndex("r");
  n.Stabilize();
  // A partitioned leader cannot confirm it still leads: no read state.
  EXPECT_TRUE(n.read_states(1).empty());
  n.Recover();
  n.Tick(1, 1);  // The next heartbeat carries the pending context.
  EXPECT_EQ(n.read_states(1).size(), 1u);
}

TEST(RaftNetworkTest, ReadIndexLeaseBasedAnswersWithoutHeartbeatRound) {
  Network n({1, 2, 3}, [](Config& c) {
    c.check_quorum = true;
    c.read_only_option = ReadOnlyOption::kLeaseBased;
  });
  n.Campaign(1);
  // The lease starts with a heartbeat round a quorum acknowledged.
  n.Tick(1);
  n.Stabilize();
  n.Isolate(1);
  n.node(1)->ReadIndex("r");
  n.Stabilize();
  // Answered from the lease alone.
  ASSERT_EQ(n.read_states(1).size(), 1u);
  EXPECT_EQ(n.read_states(1)[0].index, n.raft(1)->log().committed());
}

// Thesis §6.4.1: the lease lasts an election timeout (less a margin) from the sending of
// the last heartbeat a quorum acknowledged; after that a read needs a heartbeat round,
// which an isolated leader cannot complete.
TEST(RaftNetworkTest, ReadIndexLeaseExpiresWithoutQuorumAcks) {
  Network n({1, 2, 3}, [](Config& c) {
    c.check_quorum = true;
    c.read_only_option = ReadOnlyOption::kLeaseBased;
  });
  n.Campaign(1);
  // No heartbeat acknowledged yet in this term: no lease, so a heartbeat round.
  n.node(1)->ReadIndex("r0");
  n.Stabilize();
  ASSERT_EQ(n.read_states(1).size(), 1u);
  n.Tick(1);
  n.Stabilize();
  n.Isolate(1);
  // Within the lease (election_tick 10, margin 2, heartbeat sent at tick 1): ticks 2..8.
  n.Tick(1, 6);
  n.node(1)->ReadIndex("r1");
  n.Stabilize();
  ASSERT_EQ(n.read_states(1).size(), 2u);
  ASSERT_EQ(n.raft(1)->state(), StateType::kLeader);
  n.Tick(1, 2);
  ASSERT_EQ(n.raft(1)->state(), StateType::kLeader);
  n.node(1)->ReadIndex("r2");
  n.Stabilize();
  EXPECT_EQ(n.read_states(1).size(), 2u) << "answered after the lease ran out";
  // Reconnected, the heartbeat round completes the read.
  n.Recover();
  n.Tick(1);
  n.Stabilize();
  ASSERT_EQ(n.read_states(1).size(), 3u);
  EXPECT_EQ(n.read_states(1)[2].request_ctx, "r2");
}

// A leader transfer's election ignores leases, so the leader stops serving lease reads
// once it sent MsgTimeoutNow.
TEST(RaftNetworkTest, ReadIndexLeaseEndsWithLeaderTransfer) {
  Network n({1, 2, 3}, [](Config& c) {
    c.check_quorum = true;
    c.read_only_option = ReadOnlyOption::kLeaseBased;
  });
  n.Campaign(1);
  n.Tick(1);
  n.Stabilize();
  n.DropType(MSG_TIMEOUT_NOW);
  n.node(1)->TransferLeader(2);
  n.Stabilize();
  ASSERT_EQ(n.raft(1)->state(), StateType::kLeader);
  n.Isolate(1);
  n.node(1)->ReadIndex("r");
  n.Stabilize();
  EXPECT_TRUE(n.read_states(1).empty());
}

// A restarted node may have acknowledged a lease it no longer remembers: with lease reads
// it ignores vote requests for an election timeout after restarting.
TEST(RaftNetworkTest, RestartedNodeHonoursForgottenLease) {
  MemoryLogStorage s;
  Snapshot snap;
  snap.mutable_metadata()->set_index(1);
  snap.mutable_metadata()->set_term(1);
  *snap.mutable_metadata()->mutable_conf_state() = MakeConfState({1, 2, 3});
  ASSERT_TRUE(s.ApplySnapshot(snap).ok());
  HardState hs;
  hs.set_term(3);
  hs.set_commit(1);
  s.SetHardState(hs);
  Config c;
  c.id = 1;
  c.storage = &s;
  c.check_quorum = true;
  c.read_only_option = ReadOnlyOption::kLeaseBased;
  auto rn = RawNode::Create(c);
  ASSERT_TRUE(rn.ok());
  Message vote;
  vote.set_type(MSG_VOTE);
  vote.set_from(2);
  vote.set_to(1);
  vote.set_term(4);
  vote.set_index(1);
  vote.set_log_term(1);
  ASSERT_TRUE((*rn)->Step(vote).ok());
  EXPECT_EQ((*rn)->raft()->term(), 3u) << "voted right after restart";
  for (int i = 0; i < 10; ++i) (*rn)->Tick();
  // The node campaigns itself after its timeout, so ask before the randomized one.
  if ((*rn)->raft()->state() == StateType::kFollower) {
    ASSERT_TRUE((*rn)->Step(vote).ok());
    EXPECT_EQ((*rn)->raft()->term(), 4u);
    EXPECT_EQ((*rn)->raft()->vote(), 2u);
  }
}

TEST(RaftNetworkTest, LeaseBasedReadsRequireCheckQuorum) {
  MemoryLogStorage s;
  Config c;
  c.id = 1;
  c.storage = &s;
  c.read_only_option = ReadOnlyOption::kLeaseBased;
  EXPECT_FALSE(RawNode::Create(c).ok());
}

TEST(RaftNetworkTest, InflightLimitByCountPausesReplication) {
  Network n({1, 2}, [](Config& c) {
    c.max_inflight_msgs = 2;
    c.max_size_per_msg = 0;  // One entry per message.
  });
  n.Campaign(1);
  n.DropFrom(2, MSG_APP_RESP);
  size_t before = n.delivered().size();
  for (int i = 0; i < 5; ++i) (void)n.Propose(1, "x");
  size_t apps = 0;
  for (size_t i = before; i < n.delivered().size(); ++i) {
    apps += n.delivered()[i].type() == MSG_APP && n.delivered()[i].to() == 2;
  }
  EXPECT_EQ(apps, 2u);
  EXPECT_TRUE(n.raft(1)->tracker().progress().at(2).IsPaused());
  n.Recover();
  n.Tick(1, 1);  // Heartbeat response frees a slot; acks then drain the rest.
  EXPECT_EQ(n.applied(2).size(), 5u);
}

TEST(RaftNetworkTest, InflightLimitByBytesPausesReplication) {
  Network n({1, 2}, [](Config& c) {
    c.max_inflight_bytes = 250;
    c.max_size_per_msg = 0;
  });
  n.Campaign(1);
  n.DropFrom(2, MSG_APP_RESP);
  size_t before = n.delivered().size();
  for (int i = 0; i < 5; ++i) (void)n.Propose(1, std::string(100, 'a'));
  size_t apps = 0;
  for (size_t i = before; i < n.delivered().size(); ++i) {
    apps += n.delivered()[i].type() == MSG_APP && n.delivered()[i].to() == 2;
  }
  EXPECT_EQ(apps, 3u);  // 300 bytes in flight >= 250.
  n.Recover();
  n.Tick(1, 1);
  EXPECT_EQ(n.applied(2).size(), 5u);
}

TEST(RaftNetworkTest, UncommittedSizeLimitDropsProposals) {
  Network n({1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 300; });
  n.Campaign(1);
  n.Isolate(1);
  std::string big(100, 'a');
  int accepted = 0;
  for (int i = 0; i < 5; ++i) accepted += n.Propose(1, big).ok();
  EXPECT_EQ(accepted, 3);
  n.Recover();
  n.Tick(1, 1);
  // Once applied, the budget is free again.
  EXPECT_TRUE(n.Propose(1, big).ok());
  EXPECT_EQ(n.applied(2).size(), 4u);
}

TEST(RaftNetworkTest, MaxCommittedSizePerReadyLimitsAppliedBatches) {
  Network n({1}, [](Config& c) { c.max_committed_size_per_ready = 150; });
  n.Campaign(1);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(n.node(1)->Propose(std::string(100, 'x')).ok());
  size_t readies = 0;
  while (n.node(1)->HasReady()) {
    Ready rd = n.node(1)->GetReady();
    EXPECT_LE(rd.committed_entries.size(), 1u);
    EXPECT_TRUE(n.storage(1)->Append(rd.entries).ok());
    n.node(1)->Advance(rd);
    ++readies;
  }
  EXPECT_GE(readies, 4u);
  EXPECT_EQ(n.raft(1)->log().applied(), 6u);
}

TEST(RaftNetworkTest, MaxSizePerMsgSplitsAppends) {
  Network n({1, 2}, [](Config& c) { c.max_size_per_msg = 250; });
  n.Campaign(1);
  n.Isolate(2);
  for (int i = 0; i < 6; ++i) (void)n.Propose(1, std::string(100, 'x'));
  n.Recover();
  size_t before = n.delivered().size();
  n.Tick(1, 1);
  for (size_t i = before; i < n.delivered().size(); ++i) {
    const Message& m = n.delivered()[i];
    if (m.type() == MSG_APP) {
      // Each append holds at most two 100-byte entries (plus framing).
      EXPECT_LE(m.entries_size(), 2);
    }
  }
  EXPECT_EQ(n.applied(2).size(), 6u);
}

TEST(RaftNetworkTest, StepRejectsLocalMessagesAndUnknownResponders) {
  Network n({1, 2, 3});
  Message m;
  m.set_type(MSG_HUP);
  m.set_from(2);
  EXPECT_TRUE(IsRaftError(n.node(1)->Step(m), RaftError::kStepLocalMsg));
  Message r;
  r.set_type(MSG_APP_RESP);
  r.set_from(9);
  r.set_term(1);
  EXPECT_TRUE(IsRaftError(n.node(1)->Step(r), RaftError::kStepPeerNotFound));
}

TEST(RaftNetworkTest, RestartRecoversPersistedState) {
  Network n({1, 2, 3});
  n.Campaign(1);
  ASSERT_TRUE(n.Propose(1, "a").ok());
  // Rebuild node 2 from its storage alone.
  MemoryLogStorage* s = n.storage(2);
  Config c;
  c.id = 2;
  c.storage = s;
  auto rn = RawNode::Create(c);
  ASSERT_TRUE(rn.ok());
  EXPECT_EQ((*rn)->raft()->term(), n.term(2));
  EXPECT_EQ((*rn)->raft()->log().committed(), n.raft(2)->log().committed());
  EXPECT_EQ((*rn)->raft()->log().LastIndex(), n.raft(2)->log().LastIndex());
}

}  // namespace
}  // namespace rutile::raft::testing

namespace rutile::raft::testing {
namespace {

TEST(RaftNetworkTest, CheckQuorumLeaderSurvivesWithOneFollowerDown) {
  Network n({1, 2, 3}, [](Config& c) { c.check_quorum = true; });
  n.Campaign(1);
  n.Crash(3);
  // Leader + 2 form a quorum: several CheckQuorum rounds must not depose it.
  n.TickAll(50);
  EXPECT_EQ(n.state(1), StateType::kLeader);
}

}  // namespace
}  // namespace rutile::raft::testing
