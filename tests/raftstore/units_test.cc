// Unit tests of raftstore's pure parts: region errors, key layout and region helpers,
// and snapshot chunk assembly.

#include <string>

#include "gtest/gtest.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "raftstore/snap.h"
#include "storage/mem_engine.h"

namespace rutile::raftstore {
namespace {

metapb::Region MakeRegion(std::string start, std::string end) {
  metapb::Region r;
  r.set_id(7);
  r.set_start_key(std::move(start));
  r.set_end_key(std::move(end));
  for (int i = 1; i <= 3; ++i) {
    metapb::Peer* p = r.add_peers();
    p->set_id(i);
    p->set_store_id(i);
  }
  return r;
}

TEST(ErrorsTest, PayloadsRoundTripAndCodesSayWhatToDo) {
  metapb::Peer leader;
  leader.set_id(5);
  leader.set_store_id(2);
  absl::Status s = NotLeaderError(9, &leader);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_TRUE(IsNotLeader(s));
  EXPECT_FALSE(IsEpochNotMatch(s));
  EXPECT_EQ(GetRegionError(s)->not_leader().leader().store_id(), 2u);
  EXPECT_FALSE(GetRegionError(NotLeaderError(9, nullptr))->not_leader().has_leader());

  s = EpochNotMatchError("x", {MakeRegion("a", "m"), MakeRegion("m", "")});
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_EQ(GetRegionError(s)->epoch_not_match().current_regions_size(), 2);
  EXPECT_TRUE(IsEpochNotMatch(EpochNotMatchError("y", {})));

  s = KeyNotInRegionError("z", MakeRegion("a", "m"));
  EXPECT_TRUE(absl::IsOutOfRange(s));
  EXPECT_EQ(GetRegionError(s)->key_not_in_region().key(), "z");
  EXPECT_TRUE(absl::IsNotFound(RegionNotFoundError(3)));
  EXPECT_TRUE(IsRegionNotFound(RegionNotFoundError(3)));
  EXPECT_TRUE(IsServerIsBusy(ServerIsBusyError("full")));
  EXPECT_TRUE(IsStaleCommand(StaleCommandError()));
  EXPECT_FALSE(GetRegionError(absl::InternalError("plain")).has_value());
}

TEST(KeysTest, LayoutAndRanges) {
  EXPECT_EQ(DataKey("abc"), "zabc");
  EXPECT_EQ(UserKey("zabc"), "abc");
  EXPECT_EQ(DataEndKey(""), "{");
  EXPECT_LT(DataKey("\xff\xff"), DataEndKey(""));
  uint64_t id = 0;
  char kind = 0;
  ASSERT_TRUE(DecodeRegionMetaKey(RegionStateKey(0x0102030405060708ull), &id, &kind));
  EXPECT_EQ(id, 0x0102030405060708ull);
  EXPECT_EQ(kind, 's');
  EXPECT_LT(RegionMetaMinKey(), ApplyStateKey(1));
  EXPECT_LT(RegionStateKey(~0ull), RegionMetaMaxKey());
  EXPECT_LT(RegionMetaMaxKey(), DataKey(""));  // Meta keys never fall in a data range.

  metapb::Region r = MakeRegion("b", "d");
  EXPECT_TRUE(KeyInRegion("b", r));
  EXPECT_TRUE(KeyInRegion("c", r));
  EXPECT_FALSE(KeyInRegion("d", r));
  EXPECT_FALSE(KeyInRegion("a", r));
  EXPECT_TRUE(KeyInRegion("zzz", MakeRegion("b", "")));
  EXPECT_TRUE(RangesOverlap("a", "c", "b", "d"));
  EXPECT_FALSE(RangesOverlap("a", "b", "b", "d"));
  EXPECT_TRUE(RangesOverlap("a", "", "x", "y"));
  EXPECT_TRUE(RangesOverlap("", "", "b", "c"));
  EXPECT_FALSE(RangesOverlap("c", "", "a", "c"));
}

TEST(KeysTest, ConfStateFromRegionDescribesJointConfigurations) {
  metapb::Region r = MakeRegion("", "");
  raft::ConfState cs = ConfStateFromRegion(r);
  EXPECT_EQ(cs.voters_size(), 3);
  EXPECT_EQ(cs.voters_outgoing_size(), 0);
  r.mutable_peers(0)->set_role(metapb::DEMOTING_VOTER);
  metapb::Peer* in = r.add_peers();
  in->set_id(4);
  in->set_store_id(4);
  in->set_role(metapb::INCOMING_VOTER);
  metapb::Peer* l = r.add_peers();
  l->set_id(5);
  l->set_store_id(5);
  l->set_role(metapb::LEARNER);
  cs = ConfStateFromRegion(r);
  EXPECT_EQ(std::vector<uint64_t>(cs.voters().begin(), cs.voters().end()),
            std::vector<uint64_t>({2, 3, 4}));
  EXPECT_EQ(std::vector<uint64_t>(cs.voters_outgoing().begin(), cs.voters_outgoing().end()),
            std::vector<uint64_t>({1, 2, 3}));
  EXPECT_EQ(std::vector<uint64_t>(cs.learners_next().begin(), cs.learners_next().end()),
            std::vector<uint64_t>({1}));
  EXPECT_EQ(std::vector<uint64_t>(cs.learners().begin(), cs.learners().end()),
            std::vector<uint64_t>({5}));
  EXPECT_TRUE(cs.auto_leave());
}

raft_serverpb::RaftMessage Chunk(uint32_t seq, uint32_t total, uint64_t index,
                                 const std::string& data, bool with_msg) {
  raft_serverpb::RaftMessage m;
  m.set_region_id(7);
  m.mutable_to_peer()->set_id(3);
  m.mutable_chunk()->set_index(index);
  m.mutable_chunk()->set_term(2);
  m.mutable_chunk()->set_seq(seq);
  m.mutable_chunk()->set_total(total);
  m.mutable_chunk()->set_data(data);
  if (with_msg) m.mutable_message()->set_type(raft::MSG_SNAP);
  return m;
}

TEST(SnapManagerTest, ChunksAssembleInAnyOrderAndNewerSnapshotsReplaceOlder) {
  storage::MemEngine engine;
  storage::WriteBatch wb;
  for (char c = 'a'; c <= 'j'; ++c) wb.Put(storage::CF::kDefault, DataKey(std::string(1, c)), "v");
  wb.Put(storage::CF::kWrite, DataKey("q"), "outside");
  ASSERT_TRUE(engine.Write(wb, {}).ok());
  GeneratedSnapshot g;
  g.index = 10;
  g.term = 2;
  g.region = MakeRegion("a", "k");
  g.engine_snapshot = std::shared_ptr<storage::Snapshot>(engine.GetSnapshot());
  absl::StatusOr<std::vector<std::string>> chunks = SnapManager::BuildChunks(&engine, g, 8);
  ASSERT_TRUE(chunks.ok());
  ASSERT_GE(chunks->size(), 3u);
  const uint32_t total = static_cast<uint32_t>(chunks->size());

  SnapManager m;
  // An older incomplete snapshot is dropped by a newer one.
  EXPECT_FALSE(m.AddChunk(Chunk(0, 2, 5, (*chunks)[0], false)).has_value());
  // The final message first, then the chunks in reverse order.
  EXPECT_FALSE(m.AddChunk(Chunk(total - 1, total, 10, (*chunks)[total - 1], true)).has_value());
  std::optional<raft_serverpb::RaftMessage> done;
  for (int seq = static_cast<int>(total) - 2; seq >= 0; --seq) {
    done = m.AddChunk(Chunk(seq, total, 10, (*chunks)[seq], false));
    if (seq > 0) {
      EXPECT_FALSE(done.has_value());
    }
  }
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->message().type(), raft::MSG_SNAP);
  EXPECT_FALSE(done->has_chunk());
  EXPECT_FALSE(m.TakeReceived(7, 10, 3).has_value());  // Wrong term.
  std::optional<ReceivedSnapshot> r = m.TakeReceived(7, 10, 2);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kvs.size(), 10u);  // "q" is outside the region.
  EXPECT_FALSE(m.TakeReceived(7, 10, 2).has_value());
  // A chunk out of range is ignored.
  EXPECT_FALSE(m.AddChunk(Chunk(5, 2, 11, "", true)).has_value());
}

}  // namespace
}  // namespace rutile::raftstore
