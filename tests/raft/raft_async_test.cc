// Asynchronous storage writes (Config::async_storage_writes, raw_node.h): the Ready loop
// runs ahead of the disk. These tests drive three RawNodes by hand, holding each node's
// writes in a queue and completing them one at a time, to check the rules that keep this
// safe (thesis §10.2.1, etcd-raft's AsyncStorageWrites):
//   - the leader sends MsgApp before its own append is durable, but counts its own log
//     toward commit only once it is (AdvanceAppend);
//   - a follower's MsgAppResp, and any vote, leave only after the write they promise;
//   - a candidate counts its own vote only once term and vote are durable;
//   - committed entries are handed out only once persisted locally;
//   - Readys taken while writes are pending do not hand out the same entries again.
// A randomized run with crashes that lose pending writes checks the safety properties
// (one leader per term, applied sequences are prefixes of one history) end to end.

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

#include "gtest/gtest.h"
#include "raft/memory_log_storage.h"
#include "raft/raw_node.h"

namespace rutile::raft {
namespace {

struct PendingWrite {
  std::optional<HardState> hard_state;
  std::vector<Entry> entries;
  std::optional<Snapshot> snapshot;
  std::vector<Message> after;
  AppendAck ack;
};

struct AsyncNode {
  uint64_t id = 0;
  std::unique_ptr<MemoryLogStorage> storage;
  std::unique_ptr<RawNode> node;
  std::deque<PendingWrite> writes;
  // (index, data) of applied normal entries with data.
  std::vector<std::pair<uint64_t, std::string>> applied;
  uint64_t applied_index = 1;
};

class Cluster {
 public:
  // `apply_unpersisted`: Config::max_apply_unpersisted_entries of every node.
  explicit Cluster(uint64_t seed = 1, int n = 3, uint64_t apply_unpersisted = 0)
      : seed_(seed), apply_unpersisted_(apply_unpersisted) {
    for (int i = 1; i <= n; ++i) {
      auto an = std::make_unique<AsyncNode>();
      an->id = static_cast<uint64_t>(i);
      an->storage = std::make_unique<MemoryLogStorage>();
      Snapshot snap;
      snap.mutable_metadata()->set_index(1);
      snap.mutable_metadata()->set_term(1);
      for (int v = 1; v <= n; ++v) snap.mutable_metadata()->mutable_conf_state()->add_voters(v);
      EXPECT_TRUE(an->storage->ApplySnapshot(snap).ok());
      nodes_[an->id] = std::move(an);
      Restart(static_cast<uint64_t>(i));
    }
  }

  // (Re)creates node `id`'s RawNode from its storage; pending writes are lost.
  void Restart(uint64_t id) {
    AsyncNode& an = *nodes_[id];
    an.writes.clear();
    an.applied.clear();
    an.applied_index = 1;
    Config c;
    c.id = id;
    c.storage = an.storage.get();
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.applied = 1;
    c.max_inflight_msgs = 16;
    c.pre_vote = (seed_ % 2) == 0;
    c.check_quorum = (seed_ % 3) == 0;
    c.random_seed = seed_ * 31 + id;
    c.async_storage_writes = true;
    c.max_apply_unpersisted_entries = apply_unpersisted_;
    auto rn = RawNode::Create(c);
    ASSERT_TRUE(rn.ok()) << rn.status();
    an.node = *std::move(rn);
  }

  AsyncNode& n(uint64_t id) { return *nodes_[id]; }
  Raft* raft(uint64_t id) { return nodes_[id]->node->raft(); }
  const std::map<uint64_t, std::unique_ptr<AsyncNode>>& nodes() const { return nodes_; }

  // Runs node `id`'s Ready loop: messages to the network, writes to its queue.
  void Pump(uint64_t id) {
    AsyncNode& an = *nodes_[id];
    while (an.node->HasReady()) {
      Ready rd = an.node->GetReady();
      for (Message& m : rd.messages) {
        EXPECT_NE(m.type(), MSG_APP_RESP) << "MsgAppResp must wait for the append";
        EXPECT_NE(m.type(), MSG_VOTE_RESP) << "MsgVoteResp must wait for the vote";
        net_.push_back(std::move(m));
      }
      for (const Entry& e : rd.committed_entries) {
        EXPECT_EQ(e.index(), an.applied_index + 1) << "node " << id << " applies out of order";
        // Only what this node persisted may be applied (or up to the configured limit
        // past it).
        EXPECT_LE(e.index(), *an.storage->LastIndex() + apply_unpersisted_) << "node " << id;
        an.applied_index = e.index();
        if (e.type() == ENTRY_NORMAL && !e.data().empty()) {
          an.applied.emplace_back(e.index(), e.data());
        }
      }
      if (rd.snapshot.has_value()) an.applied_index = rd.snapshot->metadata().index();
      PendingWrite w;
      w.hard_state = std::move(rd.hard_state);
      w.entries = std::move(rd.entries);
      w.snapshot = std::move(rd.snapshot);
      w.after = std::move(rd.messages_after_append);
      w.ack = std::move(rd.append_ack);
      an.writes.push_back(std::move(w));
      an.node->Advance(rd);
    }
  }

  // Completes node `id`'s oldest pending write; false when none is pending.
  bool Flush(uint64_t id) {
    AsyncNode& an = *nodes_[id];
    if (an.writes.empty()) return false;
    PendingWrite w = std::move(an.writes.front());
    an.writes.pop_front();
    if (w.snapshot.has_value()) {
      EXPECT_TRUE(an.storage->ApplySnapshot(*w.snapshot).ok());
    }
    if (!w.entries.empty()) {
      EXPECT_TRUE(an.storage->Append(w.entries).ok());
    }
    if (w.hard_state.has_value()) an.storage->SetHardState(*w.hard_state);
    for (Message& m : w.after) net_.push_back(std::move(m));
    an.node->AdvanceAppend(std::move(w.ack));
    return true;
  }
  void FlushAll(uint64_t id) {
    while (Flush(id)) {
    }
  }

  // Delivers every queued message addressed to `to` (others stay queued).
  void Deliver(uint64_t to) {
    std::deque<Message> rest;
    std::deque<Message> mine;
    for (Message& m : net_) (m.to() == to ? mine : rest).push_back(std::move(m));
    net_ = std::move(rest);
    for (Message& m : mine) (void)nodes_[to]->node->Step(std::move(m));
  }

  // Pumps, flushes and delivers everything until quiet.
  void Settle() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (auto& [id, an] : nodes_) {
        Pump(id);
        while (Flush(id)) any = true;
        Pump(id);
      }
      if (!net_.empty()) any = true;
      for (auto& [id, an] : nodes_) Deliver(id);
      if (!any) return;
    }
    ADD_FAILURE() << "no quiescence";
  }

  std::deque<Message>& net() { return net_; }

 private:
  uint64_t seed_;
  uint64_t apply_unpersisted_;
  std::map<uint64_t, std::unique_ptr<AsyncNode>> nodes_;
  std::deque<Message> net_;
};

void ElectNode1(Cluster& c) {
  ASSERT_TRUE(c.n(1).node->Campaign().ok());
  c.Settle();
  ASSERT_EQ(c.raft(1)->state(), StateType::kLeader);
}

TEST(RaftAsync, CandidateCountsItsOwnVoteOnlyOnceDurable) {
  Cluster c;
  ASSERT_TRUE(c.n(1).node->Campaign().ok());
  c.Pump(1);
  ASSERT_EQ(c.raft(1)->state(), StateType::kCandidate);
  ASSERT_EQ(c.n(1).writes.size(), 1u);
  // Node 2 grants; node 3 never hears of it.
  c.Deliver(2);
  c.net().clear();
  c.Pump(2);
  EXPECT_TRUE(c.Flush(2));
  c.Deliver(1);
  c.Pump(1);
  // One granted vote out of three, its own not yet durable: not elected.
  EXPECT_EQ(c.raft(1)->state(), StateType::kCandidate);
  EXPECT_TRUE(c.Flush(1));
  c.Pump(1);
  EXPECT_EQ(c.raft(1)->state(), StateType::kLeader);
}

TEST(RaftAsync, LeaderCountsItsOwnLogOnlyOnceDurable) {
  Cluster c;
  ElectNode1(c);
  uint64_t committed0 = c.raft(1)->log().committed();
  ASSERT_TRUE(c.n(1).node->Propose("x").ok());
  c.Pump(1);
  // MsgApp went out before the leader's own write completed.
  size_t apps = 0;
  for (const Message& m : c.net()) apps += m.type() == MSG_APP ? 1 : 0;
  EXPECT_EQ(apps, 2u);
  ASSERT_EQ(c.n(1).writes.size(), 1u);
  const uint64_t index = c.raft(1)->log().LastIndex();

  // Follower 2 receives it: its acknowledgement waits for its write.
  c.Deliver(2);
  c.Pump(2);
  c.Deliver(1);
  EXPECT_EQ(c.raft(1)->log().committed(), committed0);
  EXPECT_TRUE(c.Flush(2));
  c.Deliver(1);
  c.Pump(1);
  // Follower 2 durable, the leader not: one of three, not committed.
  EXPECT_EQ(c.raft(1)->log().committed(), committed0);

  // Follower 3 durable too: a majority of followers commits it, the leader's own write
  // still pending; but the leader does not apply what it has not persisted.
  c.Deliver(3);
  c.Pump(3);
  EXPECT_TRUE(c.Flush(3));
  c.Deliver(1);
  c.Pump(1);
  EXPECT_EQ(c.raft(1)->log().committed(), index);
  EXPECT_TRUE(c.n(1).applied.empty());

  // The leader's write completes: now it applies.
  c.FlushAll(1);
  c.Pump(1);
  ASSERT_EQ(c.n(1).applied.size(), 1u);
  EXPECT_EQ(c.n(1).applied[0].second, "x");
}

TEST(RaftAsync, LeaderAndOneFollowerDurableCommit) {
  Cluster c;
  ElectNode1(c);
  ASSERT_TRUE(c.n(1).node->Propose("y").ok());
  c.Pump(1);
  const uint64_t index = c.raft(1)->log().LastIndex();
  c.Deliver(2);
  c.Pump(2);
  EXPECT_TRUE(c.Flush(2));
  c.Deliver(1);
  c.Pump(1);
  EXPECT_LT(c.raft(1)->log().committed(), index);
  c.FlushAll(1);
  c.Pump(1);
  EXPECT_EQ(c.raft(1)->log().committed(), index);
  ASSERT_EQ(c.n(1).applied.size(), 1u);
}

// Config::max_apply_unpersisted_entries: committed (durable on two followers) is enough to
// apply on the leader, its own write still pending; never more than the limit past its
// durable log.
TEST(RaftAsync, LeaderAppliesWhatTwoFollowersPersisted) {
  Cluster c(/*seed=*/1, /*n=*/3, /*apply_unpersisted=*/2);
  ElectNode1(c);
  ASSERT_TRUE(c.n(1).node->ProposeBatch({"a", "b", "c"}).ok());
  c.Pump(1);
  const uint64_t durable = *c.n(1).storage->LastIndex();
  const uint64_t index = c.raft(1)->log().LastIndex();
  ASSERT_EQ(index, durable + 3);
  for (uint64_t f : {2, 3}) {
    c.Deliver(f);
    c.Pump(f);
    EXPECT_TRUE(c.Flush(f));
  }
  c.Deliver(1);
  c.Pump(1);
  EXPECT_EQ(c.raft(1)->log().committed(), index);
  // Two of the three entries apply (the limit), with nothing of them durable here.
  ASSERT_EQ(c.n(1).applied.size(), 2u);
  EXPECT_EQ(c.n(1).applied[1].second, "b");
  EXPECT_EQ(*c.n(1).storage->LastIndex(), durable);
  // The write completes: the rest applies.
  c.FlushAll(1);
  c.Pump(1);
  ASSERT_EQ(c.n(1).applied.size(), 3u);
  EXPECT_EQ(c.n(1).applied[2].second, "c");
  // The followers converge too.
  c.Settle();
  for (uint64_t id : {2, 3}) EXPECT_EQ(c.n(id).applied.size(), 3u);
}

// Config::max_apply_unpersisted_entries is a leader's: a follower whose durable log holds
// stale uncommitted entries, and whose memory holds the committed entries replacing them,
// hands the replacing entries out only once they are durable. Otherwise it could persist
// an applied index on top of the stale log, crash before the replacing write and restart
// committing the stale entries (then stuck: every later append rejected).
TEST(RaftAsync, FollowerAppliesReplacingEntriesOnlyOnceDurable) {
  Cluster c(/*seed=*/1, /*n=*/3, /*apply_unpersisted=*/1u << 20);
  ElectNode1(c);
  auto drop_to = [&c](uint64_t id) {
    std::deque<Message> keep;
    for (Message& m : c.net()) {
      if (m.to() != id) keep.push_back(std::move(m));
    }
    c.net() = std::move(keep);
  };
  // "x", "y" reach node 3 only and are durable there; node 1 crashes before its own
  // write and node 3's ack is lost: uncommitted, stale on node 3's disk.
  ASSERT_TRUE(c.n(1).node->ProposeBatch({"x", "y"}).ok());
  c.Pump(1);
  const uint64_t k = c.raft(1)->log().LastIndex() - 1;  // Index of "x".
  drop_to(2);
  c.Deliver(3);
  c.Pump(3);
  c.FlushAll(3);
  c.net().clear();
  c.Restart(1);
  ASSERT_EQ(*c.n(3).storage->LastIndex(), k + 1);
  ASSERT_EQ(*c.n(1).storage->LastIndex(), k - 1);
  const uint64_t applied3 = c.n(3).applied_index;
  ASSERT_EQ(applied3, k - 1);

  // Node 2 is elected with node 1's vote and commits "z" with it; node 3 hears nothing.
  auto run_1_and_2 = [&]() {
    for (int i = 0; i < 10; ++i) {
      for (uint64_t id : {1, 2}) {
        c.Pump(id);
        c.FlushAll(id);
        c.Pump(id);
      }
      drop_to(3);
      c.Deliver(1);
      c.Deliver(2);
    }
  };
  ASSERT_TRUE(c.n(2).node->Campaign().ok());
  run_1_and_2();
  ASSERT_EQ(c.raft(2)->state(), StateType::kLeader);
  ASSERT_TRUE(c.n(2).node->Propose("z").ok());
  run_1_and_2();
  ASSERT_EQ(c.raft(2)->log().committed(), k + 1);

  // A heartbeat's answer lets node 2 send node 3 the entries replacing "x", "y" (its
  // empty entry at k, "z" at k + 1) together with commit k + 1.
  c.n(2).node->Tick();
  c.Pump(2);
  drop_to(1);
  c.Deliver(3);
  c.Pump(3);
  c.FlushAll(3);  // Only term and commit: no entries yet.
  c.Pump(3);
  c.Deliver(2);
  c.Pump(2);
  drop_to(1);
  c.Deliver(3);
  ASSERT_EQ(c.raft(3)->log().committed(), k + 1);
  ASSERT_EQ(*c.raft(3)->log().Term(k), c.raft(2)->term());
  ASSERT_EQ(*c.n(3).storage->LastIndex(), k + 1);  // Still the stale "x", "y".
  c.Pump(3);
  // Committed, in memory, not durable: not handed out.
  EXPECT_EQ(c.n(3).applied_index, applied3);
  EXPECT_TRUE(c.n(3).applied.empty() || c.n(3).applied.back().first < k);
  // The write replaces the stale entries: now they apply.
  c.FlushAll(3);
  c.Pump(3);
  EXPECT_EQ(c.n(3).applied_index, k + 1);
  ASSERT_FALSE(c.n(3).applied.empty());
  EXPECT_EQ(c.n(3).applied.back(), std::make_pair(k + 1, std::string("z")));
  // The leader applies its own term's entries before they are durable, still.
  ASSERT_TRUE(c.n(2).node->Propose("w").ok());
  const uint64_t w = c.raft(2)->log().LastIndex();
  for (int i = 0; i < 5; ++i) {
    c.Pump(2);
    for (uint64_t f : {1, 3}) {
      c.Deliver(f);
      c.Pump(f);
      c.FlushAll(f);
    }
    c.Deliver(2);
  }
  c.Pump(2);
  EXPECT_EQ(c.raft(2)->log().committed(), w);
  ASSERT_FALSE(c.n(2).applied.empty());
  EXPECT_EQ(c.n(2).applied.back(), std::make_pair(w, std::string("w")));
  EXPECT_LT(*c.n(2).storage->LastIndex(), w);
  c.Settle();
}

// The limit needs asynchronous storage writes: without them it would mean nothing.
TEST(RaftAsync, ApplyUnpersistedRequiresAsyncWrites) {
  MemoryLogStorage storage;
  Config c;
  c.id = 1;
  c.storage = &storage;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.max_apply_unpersisted_entries = 8;
  absl::StatusOr<std::unique_ptr<RawNode>> rn = RawNode::Create(c);
  ASSERT_FALSE(rn.ok());
  EXPECT_EQ(rn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(rn.status().message().find("async_storage_writes"), std::string::npos);
  c.async_storage_writes = true;
  EXPECT_TRUE(c.Validate().ok());
}

TEST(RaftAsync, PipelinedReadysDoNotRepeatEntries) {
  Cluster c;
  ElectNode1(c);
  // Three Readys while no write completes: each carries only its own new entry.
  for (const char* d : {"a", "b", "c"}) {
    ASSERT_TRUE(c.n(1).node->Propose(d).ok());
    c.Pump(1);
  }
  ASSERT_EQ(c.n(1).writes.size(), 3u);
  uint64_t prev = 0;
  for (const PendingWrite& w : c.n(1).writes) {
    ASSERT_EQ(w.entries.size(), 1u);
    EXPECT_GT(w.entries[0].index(), prev);
    prev = w.entries[0].index();
  }
  // Followers get three MsgApps each and stack three writes; completing them in order
  // releases three acknowledgements.
  // Follower 2 steps all three before its Ready: one write carries them (consecutive
  // MsgApps batched into one append).
  c.Deliver(2);
  c.Pump(2);
  ASSERT_EQ(c.n(2).writes.size(), 1u);
  EXPECT_EQ(c.n(2).writes.front().entries.size(), 3u);
  c.Settle();
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_EQ(c.n(id).applied.size(), 3u) << id;
    EXPECT_EQ(c.n(id).applied[2].second, "c");
  }
}

// Random interleavings of proposals, ticks, deliveries, write completions and crashes
// (which lose every pending write). Checks one leader per term and that every node's
// applied sequence agrees with one history.
TEST(RaftAsync, RandomizedWithCrashesIsSafe) {
  uint64_t first = 1, last = 40;
  if (const char* only = std::getenv("RAFT_ASYNC_SEED"))
    first = last = std::strtoull(only, nullptr, 10);
  for (uint64_t seed = first; seed <= last; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    // Odd seeds apply committed entries before they are durable locally.
    Cluster c(seed, 3, seed % 2 == 1 ? 1u << 20 : 0);
    std::map<uint64_t, uint64_t> leader_of_term;
    std::map<uint64_t, std::string> history;
    std::map<uint64_t, size_t> checked;
    int next = 0;
    for (int step = 0; step < 3000; ++step) {
      uint64_t id = 1 + rng() % 3;
      switch (rng() % 10) {
        case 0:
          c.n(id).node->Tick();
          break;
        case 1:
          (void)c.n(id).node->Propose("v" + std::to_string(next++));
          break;
        case 2:
        case 3:
        case 4:
          c.Flush(id);
          break;
        case 5:
        case 6:
        case 7: {
          // Deliver some of the network, maybe dropping or duplicating a message.
          if (!c.net().empty()) {
            size_t k = rng() % c.net().size();
            Message m = c.net()[k];
            if (rng() % 8 != 0) c.net().erase(c.net().begin() + static_cast<std::ptrdiff_t>(k));
            if (rng() % 10 != 0) (void)c.n(m.to()).node->Step(std::move(m));
          }
          break;
        }
        case 8:
          c.Deliver(id);
          break;
        case 9:
          if (rng() % 20 == 0) c.Restart(id);
          break;
      }
      for (uint64_t p = 1; p <= 3; ++p) {
        c.Pump(p);
        if (c.raft(p)->state() == StateType::kLeader) {
          auto [it, inserted] = leader_of_term.insert({c.raft(p)->term(), p});
          ASSERT_EQ(it->second, p) << "two leaders in term " << c.raft(p)->term();
        }
        auto& applied = c.n(p).applied;
        size_t& done = checked[p];
        if (done > applied.size()) done = 0;  // Restarted: applies again from the start.
        for (; done < applied.size(); ++done) {
          const auto& [index, data] = applied[done];
          auto [it, inserted] = history.insert({index, data});
          ASSERT_EQ(it->second, data) << "node " << p << " applied a different entry at " << index;
        }
      }
    }
    // Heal: everything delivered and flushed; the group converges on one history.
    for (int i = 0;
         i < 200 && c.raft(1)->state() != StateType::kLeader &&
         c.raft(2)->state() != StateType::kLeader && c.raft(3)->state() != StateType::kLeader;
         ++i) {
      for (uint64_t p = 1; p <= 3; ++p) c.n(p).node->Tick();
      c.Settle();
    }
    ASSERT_TRUE(c.raft(1)->state() == StateType::kLeader ||
                c.raft(2)->state() == StateType::kLeader ||
                c.raft(3)->state() == StateType::kLeader);
    uint64_t lead = c.raft(1)->lead();
    if (lead == 0) lead = c.raft(2)->lead();
    if (lead == 0) lead = c.raft(3)->lead();
    ASSERT_NE(lead, 0u);
    ASSERT_TRUE(c.n(lead).node->Propose("final").ok());
    // Heartbeats (ticks) repair what the lossy phase dropped.
    for (int i = 0; i < 30; ++i) {
      for (uint64_t p = 1; p <= 3; ++p) c.n(p).node->Tick();
      c.Settle();
    }
    const uint64_t commit = c.raft(lead)->log().committed();
    for (uint64_t p = 1; p <= 3; ++p) {
      SCOPED_TRACE(c.n(p).node->Status().String());
      EXPECT_EQ(c.raft(p)->log().committed(), commit) << p;
      EXPECT_EQ(c.n(p).applied_index, commit) << p;
      for (const auto& [index, data] : c.n(p).applied) {
        auto [it, inserted] = history.insert({index, data});
        EXPECT_EQ(it->second, data) << "node " << p << " at " << index;
      }
    }
  }
}

}  // namespace
}  // namespace rutile::raft
