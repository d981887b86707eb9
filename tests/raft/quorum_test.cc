// Property tests: the quorum package's CommittedIndex and GetVoteResult against naive
// definitions over 50,000 random majority and joint configurations (in the spirit of
// etcd-io/raft quorum/quick_test.go), plus a few hand-checked cases.

#include <random>

#include "gtest/gtest.h"
#include "raft/quorum/joint_config.h"
#include "raft/quorum/majority_config.h"

namespace rutile::raft::quorum {
namespace {

// The largest i such that more than half the voters acked at least i, by trying every
// candidate.
Index NaiveCommitted(const MajorityConfig& c, const std::map<uint64_t, Index>& acked) {
  if (c.empty()) return kMaxIndex;
  Index best = 0;
  std::vector<Index> candidates = {0};
  for (auto& [id, idx] : acked) candidates.push_back(idx);
  for (Index cand : candidates) {
    size_t n = 0;
    for (uint64_t id : c.ids()) {
      auto it = acked.find(id);
      if (it != acked.end() && it->second >= cand) ++n;
    }
    if (n * 2 > c.size()) best = std::max(best, cand);
  }
  return best;
}

VoteResult NaiveVote(const MajorityConfig& c, const VoteMap& votes) {
  if (c.empty()) return VoteResult::kWon;
  size_t yes = 0, no = 0;
  for (uint64_t id : c.ids()) {
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    (it->second ? yes : no)++;
  }
  if (yes * 2 > c.size()) return VoteResult::kWon;
  if (no * 2 >= c.size()) return VoteResult::kLost;  // A majority can no longer say yes.
  return VoteResult::kPending;
}

VoteResult NaiveJointVote(const JointConfig& c, const VoteMap& votes) {
  VoteResult a = NaiveVote(c.incoming(), votes), b = NaiveVote(c.outgoing(), votes);
  if (a == VoteResult::kLost || b == VoteResult::kLost) return VoteResult::kLost;
  if (a == VoteResult::kWon && b == VoteResult::kWon) return VoteResult::kWon;
  return VoteResult::kPending;
}

MajorityConfig RandomConfig(std::mt19937_64& rng, uint64_t max_id, size_t max_size) {
  std::set<uint64_t> ids;
  size_t n = rng() % (max_size + 1);
  while (ids.size() < n) ids.insert(1 + rng() % max_id);
  return MajorityConfig(std::move(ids));
}

TEST(QuorumPropertyTest, CommittedIndexAndVotesMatchNaiveOver50000Configs) {
  std::mt19937_64 rng(20240601);
  for (int iter = 0; iter < 50000; ++iter) {
    MajorityConfig in = RandomConfig(rng, 10, 7);
    MajorityConfig out = (rng() % 2 == 0) ? MajorityConfig() : RandomConfig(rng, 10, 7);
    JointConfig joint(in, out);
    std::map<uint64_t, Index> acked;
    VoteMap votes;
    for (uint64_t id = 1; id <= 10; ++id) {
      // Some voters have not acked or voted at all.
      if (rng() % 4 != 0) acked[id] = rng() % 12;
      if (rng() % 3 != 0) votes[id] = rng() % 2 == 0;
    }
    MapAckIndexer ai(acked);
    ASSERT_EQ(in.CommittedIndex(ai), NaiveCommitted(in, acked)) << "config " << in.String();
    Index want_joint = std::min(NaiveCommitted(in, acked), NaiveCommitted(out, acked));
    ASSERT_EQ(joint.CommittedIndex(ai), want_joint) << "config " << joint.String();
    ASSERT_EQ(in.GetVoteResult(votes), NaiveVote(in, votes)) << "config " << in.String();
    ASSERT_EQ(joint.GetVoteResult(votes), NaiveJointVote(joint, votes))
        << "config " << joint.String();
    // A joint config whose halves are equal behaves like the majority config.
    JointConfig same(in, in);
    ASSERT_EQ(same.CommittedIndex(ai), in.CommittedIndex(ai));
    ASSERT_EQ(same.GetVoteResult(votes), in.GetVoteResult(votes));
  }
}

TEST(QuorumTest, MajorityCommittedIndexExamples) {
  MajorityConfig c{1, 2, 3};
  EXPECT_EQ(c.CommittedIndex(MapAckIndexer({{1, 5}, {2, 3}, {3, 9}})), 5u);
  EXPECT_EQ(c.CommittedIndex(MapAckIndexer({{1, 5}})), 0u);
  EXPECT_EQ(c.CommittedIndex(MapAckIndexer({{1, 5}, {3, 4}})), 4u);
  MajorityConfig four{1, 2, 3, 4};
  EXPECT_EQ(four.CommittedIndex(MapAckIndexer({{1, 5}, {2, 6}, {3, 7}, {4, 8}})), 6u);
  EXPECT_EQ(MajorityConfig().CommittedIndex(MapAckIndexer(std::map<uint64_t, Index>{})), kMaxIndex);
}

TEST(QuorumTest, JointCommittedIndexIsTheMinimumOfBothHalves) {
  JointConfig j(MajorityConfig{1, 2, 3}, MajorityConfig{4, 5, 6});
  // Incoming commits 9, outgoing only 2.
  EXPECT_EQ(j.CommittedIndex(MapAckIndexer({{1, 9}, {2, 9}, {4, 2}, {5, 2}, {6, 1}})), 2u);
  EXPECT_EQ(j.String(), "(1 2 3)&&(4 5 6)");
}

TEST(QuorumTest, VoteResults) {
  MajorityConfig c{1, 2, 3};
  EXPECT_EQ(c.GetVoteResult({{1, true}}), VoteResult::kPending);
  EXPECT_EQ(c.GetVoteResult({{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(c.GetVoteResult({{1, false}, {2, false}}), VoteResult::kLost);
  EXPECT_EQ(c.GetVoteResult({{1, true}, {2, false}}), VoteResult::kPending);
  JointConfig j(MajorityConfig{1, 2, 3}, MajorityConfig{3, 4, 5});
  // Won in the incoming half alone is not enough.
  EXPECT_EQ(j.GetVoteResult({{1, true}, {2, true}}), VoteResult::kPending);
  EXPECT_EQ(j.GetVoteResult({{1, true}, {2, true}, {4, false}, {5, false}}), VoteResult::kLost);
  EXPECT_EQ(j.GetVoteResult({{1, true}, {3, true}, {4, true}}), VoteResult::kWon);
}

}  // namespace
}  // namespace rutile::raft::quorum
