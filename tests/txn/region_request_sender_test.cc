// RegionRequestSender (txn/client/region_request_sender.h) against a fake cluster: PD
// answers region lookups from a table the test edits, and each store answers attempts as the
// test scripts it, with every typed region error of raftstore/errors.h, store errors and
// final errors. Each test checks where the sender went next, what its cache holds, whether
// virtual time passed (a backoff) or not (an immediate retry), and what the call returned.

#include "txn/client/region_request_sender.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "raftstore/errors.h"
#include "rutile/testing/simulation.h"
#include "txn/client/region_cache.h"

namespace rutile::txn::client {
namespace {

metapb::Region MakeRegion(uint64_t id, std::string start, std::string end, uint64_t version,
                          std::vector<uint64_t> stores) {
  metapb::Region r;
  r.set_id(id);
  r.set_start_key(std::move(start));
  r.set_end_key(std::move(end));
  r.mutable_region_epoch()->set_conf_ver(1);
  r.mutable_region_epoch()->set_version(version);
  for (uint64_t s : stores) {
    metapb::Peer* p = r.add_peers();
    p->set_id(id * 100 + s);
    p->set_store_id(s);
  }
  return r;
}

metapb::Peer PeerOn(uint64_t region_id, uint64_t store) {
  metapb::Peer p;
  p.set_id(region_id * 100 + store);
  p.set_store_id(store);
  return p;
}

struct AttemptRecord {
  uint64_t store;
  uint64_t region_id;
  uint64_t version;
  uint64_t at;  // Env micros.
};

// PD's regions (by id) and leaders, and the stores' scripted answers: each attempt pops the
// next answer for its store (none left: OK).
class FakeCluster {
 public:
  explicit FakeCluster(Env* env) : env_(env) {}

  void SetRegion(const metapb::Region& r, uint64_t leader) { pd_[r.id()] = {r, leader}; }
  void DropRegion(uint64_t id) { pd_.erase(id); }
  void Script(uint64_t store, absl::Status answer) { answers_[store].push_back(std::move(answer)); }
  // Every attempt at `store` answers `answer` from now on.
  void Always(uint64_t store, absl::Status answer) { always_[store] = std::move(answer); }

  absl::StatusOr<RegionRoute> Lookup(const std::string& key) {
    ++lookups_;
    for (const auto& [id, route] : pd_) {
      const metapb::Region& r = route.region;
      if (key >= r.start_key() && (r.end_key().empty() || key < r.end_key())) return route;
    }
    return absl::NotFoundError("no region");
  }

  absl::Status Attempt(const SendTarget& t) {
    attempts_.push_back(
        {t.store, t.region.id(), t.region.region_epoch().version(), env_->NowMicros()});
    if (auto it = always_.find(t.store); it != always_.end()) return it->second;
    std::deque<absl::Status>& q = answers_[t.store];
    if (q.empty()) return absl::OkStatus();
    absl::Status s = q.front();
    q.pop_front();
    return s;
  }

  const std::vector<AttemptRecord>& attempts() const { return attempts_; }
  int lookups() const { return lookups_; }

 private:
  Env* const env_;
  std::map<uint64_t, RegionRoute> pd_;
  std::map<uint64_t, std::deque<absl::Status>> answers_;
  std::map<uint64_t, absl::Status> always_;
  std::vector<AttemptRecord> attempts_;
  int lookups_ = 0;
};

class RegionRequestSenderTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kTimeout = 1'000'000;

  RegionRequestSenderTest()
      : sim_(11),
        cluster_(sim_.env()),
        cache_([this](const std::string& key) { return cluster_.Lookup(key); }),
        sender_(sim_.env(), &cache_, Options()) {
    cluster_.SetRegion(MakeRegion(1, "", "", 1, {1, 2, 3}), 1);
  }

  static SenderOptions Options() {
    SenderOptions o;
    o.backoff_first_micros = 2'000;
    o.backoff_max_micros = 100'000;
    o.what = "test request";
    return o;
  }

  // Sends one request for `key` from a fiber and returns its status.
  absl::Status Send(const std::string& key) {
    std::optional<absl::Status> out;
    sim_.env()->Spawn([&] {
      out = sender_.Send(key, sim_.env()->NowMicros() + kTimeout,
                         [&](const SendTarget& t) { return cluster_.Attempt(t); });
    });
    EXPECT_TRUE(sim_.RunUntil([&] { return out.has_value(); }, 60'000'000)) << "sender hung";
    return out.value_or(absl::InternalError("hung"));
  }

  uint64_t CachedLeader(const std::string& key) {
    absl::StatusOr<RegionCache::EntryPtr> e = cache_.Locate(key);
    return e.ok() ? (*e)->leader() : 0;
  }

  testing::Simulation sim_;
  FakeCluster cluster_;
  RegionCache cache_;
  RegionRequestSender sender_;
};

TEST_F(RegionRequestSenderTest, SendsToTheLeaderPdNamesAndCachesTheRegion) {
  ASSERT_TRUE(Send("a").ok());
  ASSERT_TRUE(Send("b").ok());
  ASSERT_EQ(cluster_.attempts().size(), 2u);
  EXPECT_EQ(cluster_.attempts()[0].store, 1u);
  EXPECT_EQ(cluster_.attempts()[1].store, 1u);
  EXPECT_EQ(cluster_.lookups(), 1);  // The second request was routed from the cache.
}

TEST_F(RegionRequestSenderTest, NotLeaderWithAHintRetriesAtTheHintAtOnce) {
  metapb::Peer leader = PeerOn(1, 3);
  cluster_.Script(1, raftstore::NotLeaderError(1, &leader));
  ASSERT_TRUE(Send("a").ok());
  ASSERT_EQ(cluster_.attempts().size(), 2u);
  EXPECT_EQ(cluster_.attempts()[1].store, 3u);
  EXPECT_EQ(cluster_.attempts()[1].at, cluster_.attempts()[0].at);  // No backoff.
  EXPECT_EQ(CachedLeader("a"), 3u);
  EXPECT_EQ(cluster_.lookups(), 1);
}

// A hint naming a store that holds no peer of the cached region: the cached peers are stale
// (a conf change the cache missed), so the sender does not send there with the stale region
// but drops it and asks PD, then goes where PD says, with the region's current epoch.
TEST_F(RegionRequestSenderTest, NotLeaderHintOutsideTheCachedPeersAsksPdAgain) {
  ASSERT_TRUE(Send("a").ok());
  // Store 3's peer was replaced by one on store 4, which now leads.
  metapb::Region moved = MakeRegion(1, "", "", 1, {1, 2, 4});
  moved.mutable_region_epoch()->set_conf_ver(3);
  cluster_.SetRegion(moved, 4);
  metapb::Peer leader = PeerOn(1, 4);
  cluster_.Script(1, raftstore::NotLeaderError(1, &leader));
  std::vector<uint64_t> conf_vers;
  std::optional<absl::Status> out;
  sim_.env()->Spawn([&] {
    out = sender_.Send("a", sim_.env()->NowMicros() + kTimeout, [&](const SendTarget& t) {
      conf_vers.push_back(t.region.region_epoch().conf_ver());
      return cluster_.Attempt(t);
    });
  });
  ASSERT_TRUE(sim_.RunUntil([&] { return out.has_value(); }, 60'000'000));
  ASSERT_TRUE(out->ok()) << *out;
  EXPECT_EQ(cluster_.lookups(), 2);  // Asked PD again.
  ASSERT_EQ(conf_vers.size(), 2u);
  EXPECT_EQ(conf_vers[1], 3u);  // Sent with the current peers, not the stale ones.
  EXPECT_EQ(cluster_.attempts().back().store, 4u);
  EXPECT_EQ(CachedLeader("a"), 4u);
}

// A leader hint naming a store with a peer of the region is kept; one naming another store
// drops the region (its peers are stale), but only the entry the hint was about.
TEST(RegionCacheTest, LeaderHintsOutsideThePeersDropTheRegion) {
  int lookups = 0;
  RegionCache cache([&](const std::string&) -> absl::StatusOr<RegionRoute> {
    ++lookups;
    return RegionRoute{MakeRegion(1, "", "", 2, {1, 2, 3}), 9};  // 9: not a peer.
  });
  absl::StatusOr<RegionCache::EntryPtr> e = cache.Locate("a");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->leader(), 0u);  // PD's hint names no peer: unknown.
  EXPECT_TRUE(cache.UpdateLeader(**e, 2));
  EXPECT_EQ((*cache.Locate("a"))->leader(), 2u);
  EXPECT_FALSE(cache.UpdateLeader(**e, 4));
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(cache.Locate("a").ok());
  EXPECT_EQ(lookups, 2);
  // An entry already replaced is not dropped for its stale peers.
  absl::StatusOr<RegionCache::EntryPtr> old = cache.Locate("a");
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(cache.Insert(MakeRegion(1, "", "", 3, {4, 5, 6}), 4));
  EXPECT_FALSE(cache.UpdateLeader(**old, 9));
  ASSERT_EQ(cache.size(), 1u);
  EXPECT_EQ((*cache.Locate("a"))->leader(), 4u);
  EXPECT_EQ(lookups, 2);
}

TEST_F(RegionRequestSenderTest, NotLeaderWithoutAHintBacksOffAndWalksTheReplicas) {
  cluster_.Script(1, raftstore::NotLeaderError(1, nullptr));
  cluster_.Script(2, raftstore::NotLeaderError(1, nullptr));
  ASSERT_TRUE(Send("a").ok());
  // Store 1, then (no leader known) the replicas in turn: stores 2, 3.
  ASSERT_EQ(cluster_.attempts().size(), 3u);
  EXPECT_EQ(cluster_.attempts()[1].store, 2u);
  EXPECT_EQ(cluster_.attempts()[2].store, 3u);
  EXPECT_GT(cluster_.attempts()[1].at, cluster_.attempts()[0].at);
  EXPECT_GT(cluster_.attempts()[2].at, cluster_.attempts()[1].at);
  EXPECT_EQ(CachedLeader("a"), 3u);  // The store that answered became the leader hint.
}

TEST_F(RegionRequestSenderTest, EpochNotMatchCachesTheCurrentRegionsAndRetriesAtOnce) {
  ASSERT_TRUE(Send("a").ok());
  // Region 1 split at "m": the store names both halves; PD is not asked.
  const metapb::Region left = MakeRegion(1, "", "m", 2, {1, 2, 3});
  const metapb::Region right = MakeRegion(2, "m", "", 2, {1, 2, 3});
  cluster_.Script(1, raftstore::EpochNotMatchError("split", {left, right}));
  ASSERT_TRUE(Send("q").ok());
  ASSERT_EQ(cluster_.attempts().size(), 3u);
  EXPECT_EQ(cluster_.attempts()[1].version, 1u);
  EXPECT_EQ(cluster_.attempts()[2].region_id, 2u);
  EXPECT_EQ(cluster_.attempts()[2].version, 2u);
  EXPECT_EQ(cluster_.attempts()[2].at, cluster_.attempts()[1].at);
  EXPECT_EQ(cluster_.lookups(), 1);
  EXPECT_EQ(cache_.size(), 2u);
}

TEST_F(RegionRequestSenderTest, EpochNotMatchWithoutRegionsAsksPdAgain) {
  ASSERT_TRUE(Send("a").ok());
  cluster_.SetRegion(MakeRegion(1, "", "", 3, {1, 2, 3}), 2);
  cluster_.Script(1, raftstore::EpochNotMatchError("stale", {}));
  ASSERT_TRUE(Send("a").ok());
  EXPECT_EQ(cluster_.lookups(), 2);
  EXPECT_EQ(cluster_.attempts().back().store, 2u);
  EXPECT_EQ(cluster_.attempts().back().version, 3u);
}

// RegionNotFound, KeyNotInRegion, ProposalInMergingMode: the cached range is stale, so the
// sender drops it, backs off and asks PD again (here PD moved the region to stores 4-6).
TEST_F(RegionRequestSenderTest, StaleRangeErrorsDropTheRegionAndAskPdAgain) {
  const absl::Status errors[] = {
      raftstore::RegionNotFoundError(1),
      raftstore::KeyNotInRegionError("a", MakeRegion(1, "", "", 1, {1, 2, 3})),
      raftstore::ProposalInMergingModeError(1),
  };
  uint64_t version = 1;
  for (const absl::Status& err : errors) {
    SCOPED_TRACE(err.ToString());
    ASSERT_TRUE(Send("a").ok());
    const int lookups = cluster_.lookups();
    const size_t before = cluster_.attempts().size();
    ++version;
    cluster_.SetRegion(MakeRegion(1, "", "", version, {4, 5, 6}), 5);
    cluster_.Script(cluster_.attempts().back().store, err);
    ASSERT_TRUE(Send("a").ok());
    ASSERT_EQ(cluster_.attempts().size(), before + 2);
    EXPECT_EQ(cluster_.lookups(), lookups + 1);
    EXPECT_EQ(cluster_.attempts().back().store, 5u);
    EXPECT_EQ(cluster_.attempts().back().version, version);
    EXPECT_GT(cluster_.attempts().back().at, cluster_.attempts()[before].at);  // Backed off.
  }
}

// ServerIsBusy and StaleCommand: back off and try the same leader again.
TEST_F(RegionRequestSenderTest, BusyAndStaleCommandBackOffAndRetryTheLeader) {
  cluster_.Script(1, raftstore::ServerIsBusyError("too many writes"));
  cluster_.Script(1, raftstore::StaleCommandError());
  ASSERT_TRUE(Send("a").ok());
  ASSERT_EQ(cluster_.attempts().size(), 3u);
  for (const AttemptRecord& a : cluster_.attempts()) EXPECT_EQ(a.store, 1u);
  EXPECT_GT(cluster_.attempts()[1].at, cluster_.attempts()[0].at);
  EXPECT_GT(cluster_.attempts()[2].at, cluster_.attempts()[1].at);
  // The backoff doubles.
  EXPECT_GT(cluster_.attempts()[2].at - cluster_.attempts()[1].at,
            cluster_.attempts()[1].at - cluster_.attempts()[0].at);
  EXPECT_EQ(cluster_.lookups(), 1);
}

// A store that does not answer in time, or is shutting down: the leader is forgotten and
// the next replica tried after a backoff; once every replica failed so, PD is asked again.
TEST_F(RegionRequestSenderTest, StoreErrorsTryTheNextReplicaThenAskPdAgain) {
  cluster_.Script(1, absl::DeadlineExceededError("no answer"));
  cluster_.Script(2, absl::UnavailableError("store stopping"));
  cluster_.Script(3, absl::AbortedError("proposal dropped"));
  ASSERT_TRUE(Send("a").ok());
  // 1 (leader), then replicas 2, 3 (each failing), then PD again: its leader, store 1.
  ASSERT_EQ(cluster_.attempts().size(), 4u);
  EXPECT_EQ(cluster_.attempts()[1].store, 2u);
  EXPECT_EQ(cluster_.attempts()[2].store, 3u);
  EXPECT_EQ(cluster_.attempts()[3].store, 1u);
  EXPECT_EQ(cluster_.lookups(), 2);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_GT(cluster_.attempts()[i].at, cluster_.attempts()[i - 1].at);
  }
}

// An attempt that finds the cached leader's store unreachable (StoreUnreachable) goes to a
// replica in the same round, without a backoff.
TEST_F(RegionRequestSenderTest, AnUnreachableLeaderIsSkippedAtOnce) {
  cluster_.Script(1, StoreUnreachable(1));
  ASSERT_TRUE(Send("a").ok());
  ASSERT_EQ(cluster_.attempts().size(), 2u);
  EXPECT_NE(cluster_.attempts()[1].store, 1u);
  EXPECT_EQ(cluster_.attempts()[1].at, cluster_.attempts()[0].at);
  EXPECT_EQ(CachedLeader("a"), cluster_.attempts()[1].store);
}

TEST_F(RegionRequestSenderTest, OtherErrorsReturnAtOnce) {
  cluster_.Script(1, absl::InvalidArgumentError("bad key"));
  absl::Status s = Send("a");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(cluster_.attempts().size(), 1u);
  EXPECT_EQ(CachedLeader("a"), 1u);  // Routing was right: the cache keeps it.
}

// The caller decides which codes are store errors: a transaction's write conflict is
// Aborted, and must not be sent again.
TEST(RegionRequestSenderOptionsTest, ACallerCanNarrowWhatIsAStoreError) {
  testing::Simulation sim(12);
  FakeCluster cluster(sim.env());
  cluster.SetRegion(MakeRegion(1, "", "", 1, {1}), 1);
  RegionCache cache([&](const std::string& key) { return cluster.Lookup(key); });
  SenderOptions o;
  o.is_store_error = [](const absl::Status& s) { return absl::IsDeadlineExceeded(s); };
  RegionRequestSender sender(sim.env(), &cache, o);
  cluster.Script(1, absl::AbortedError("write conflict"));
  std::optional<absl::Status> out;
  sim.env()->Spawn([&] {
    out = sender.Send("a", sim.env()->NowMicros() + 1'000'000,
                      [&](const SendTarget& t) { return cluster.Attempt(t); });
  });
  ASSERT_TRUE(sim.RunUntil([&] { return out.has_value(); }, 60'000'000));
  EXPECT_TRUE(absl::IsAborted(*out)) << *out;
  EXPECT_EQ(cluster.attempts().size(), 1u);
}

// Past the deadline the call fails with DeadlineExceeded naming the last region, store and
// error, after backing off (a bounded number of attempts), not at the first failure.
TEST_F(RegionRequestSenderTest, GivesUpAtTheDeadlineNamingTheLastError) {
  cluster_.Always(1, raftstore::ServerIsBusyError("compaction"));
  const uint64_t start = sim_.env()->NowMicros();
  absl::Status s = Send("a");
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_GE(sim_.env()->NowMicros() - start, kTimeout);
  EXPECT_NE(s.message().find("test request not done in time"), std::string::npos) << s;
  EXPECT_NE(s.message().find("region 1 version 1 at store 1"), std::string::npos) << s;
  EXPECT_NE(s.message().find("compaction"), std::string::npos) << s;
  EXPECT_LT(cluster_.attempts().size(), 50u);
}

// Stale hints in a circle (1 names 2, 2 names 1): immediate retries, but a backoff after a
// few in a row, so virtual time passes and the deadline comes (txn sim seed 1001137).
TEST_F(RegionRequestSenderTest, CircularHintsBackOffAfterAFewImmediateRetries) {
  metapb::Peer on1 = PeerOn(1, 1);
  metapb::Peer on2 = PeerOn(1, 2);
  cluster_.Always(1, raftstore::NotLeaderError(1, &on2));
  cluster_.Always(2, raftstore::NotLeaderError(1, &on1));
  absl::Status s = Send("a");
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  const std::vector<AttemptRecord>& a = cluster_.attempts();
  ASSERT_GT(a.size(), 5u);
  // Never more than 1 + max_immediate_retries attempts at one instant.
  size_t run = 1;
  for (size_t i = 1; i < a.size(); ++i) {
    run = a[i].at == a[i - 1].at ? run + 1 : 1;
    EXPECT_LE(run, 4u) << "attempt " << i;
  }
}

// SendGrouped: keys over two regions, one group meets EpochNotMatch (its region split
// again): its keys are regrouped over the new regions and sent again; every key is sent in
// exactly one successful attempt.
TEST_F(RegionRequestSenderTest, GroupedSendRegroupsAfterARegionError) {
  cluster_.SetRegion(MakeRegion(1, "", "m", 2, {1, 2, 3}), 1);
  cluster_.SetRegion(MakeRegion(2, "m", "", 2, {1, 2, 3}), 2);
  const metapb::Region r2 = MakeRegion(2, "m", "t", 3, {1, 2, 3});
  const metapb::Region r3 = MakeRegion(3, "t", "", 3, {1, 2, 3});
  cluster_.Script(2, raftstore::EpochNotMatchError("split", {r2, r3}));
  const std::vector<std::string> keys = {"a", "n", "u", "b", "z"};
  std::map<size_t, int> sent;  // Key index -> successful attempts.
  std::vector<std::vector<size_t>> groups;
  std::optional<absl::Status> out;
  sim_.env()->Spawn([&] {
    out = sender_.SendGrouped(keys, sim_.env()->NowMicros() + kTimeout, /*parallel=*/true,
                              [&](const SendTarget& t, const std::vector<size_t>& idx) {
                                absl::Status s = cluster_.Attempt(t);
                                if (s.ok()) {
                                  for (size_t i : idx) ++sent[i];
                                  groups.push_back(idx);
                                }
                                return s;
                              });
  });
  ASSERT_TRUE(sim_.RunUntil([&] { return out.has_value(); }, 60'000'000));
  ASSERT_TRUE(out->ok()) << *out;
  ASSERT_EQ(sent.size(), keys.size());
  for (const auto& [i, n] : sent) EXPECT_EQ(n, 1) << keys[i];
  // Region 1 {a, b}, then after the split region 2 {n} and region 3 {u, z}.
  EXPECT_EQ(groups.size(), 3u);
}

TEST_F(RegionRequestSenderTest, GroupedSendReturnsTheFirstFinalError) {
  cluster_.SetRegion(MakeRegion(1, "", "m", 2, {1}), 1);
  cluster_.SetRegion(MakeRegion(2, "m", "", 2, {2}), 2);
  cluster_.Always(2, absl::FailedPreconditionError("key is locked"));
  std::optional<absl::Status> out;
  sim_.env()->Spawn([&] {
    out = sender_.SendGrouped(
        {"a", "z"}, sim_.env()->NowMicros() + kTimeout, false,
        [&](const SendTarget& t, const std::vector<size_t>&) { return cluster_.Attempt(t); });
  });
  ASSERT_TRUE(sim_.RunUntil([&] { return out.has_value(); }, 60'000'000));
  EXPECT_TRUE(absl::IsFailedPrecondition(*out)) << *out;
  EXPECT_EQ(cluster_.attempts().size(), 2u);
}

// The cache keeps regions apart: inserting a region drops what it overlaps and older
// entries of its id, so a lookup never finds a stale range.
TEST(RegionCacheTest, InsertDropsOverlappingAndSameIdEntries) {
  int lookups = 0;
  RegionCache cache([&](const std::string&) -> absl::StatusOr<RegionRoute> {
    ++lookups;
    return absl::NotFoundError("none");
  });
  cache.Insert(MakeRegion(1, "", "c", 1, {1}), 1);
  cache.Insert(MakeRegion(2, "c", "f", 1, {1}), 1);
  cache.Insert(MakeRegion(3, "f", "", 1, {1}), 1);
  EXPECT_EQ(cache.size(), 3u);
  // Region 2 merged into 1: [ , f).
  cache.Insert(MakeRegion(1, "", "f", 2, {1}), 1);
  EXPECT_EQ(cache.size(), 2u);
  absl::StatusOr<RegionCache::EntryPtr> e = cache.Locate("d");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->region.id(), 1u);
  // Region 1 moved its start (an odd but legal sequence): the old entry of id 1 goes.
  cache.Insert(MakeRegion(1, "b", "f", 3, {1, 2, 3}), 2);
  EXPECT_FALSE(cache.Locate("a").ok());
  EXPECT_EQ(lookups, 1);
  cache.SetLeader(1, 3);
  ASSERT_TRUE(cache.Locate("c").ok());
  EXPECT_EQ((*cache.Locate("c"))->leader(), 3u);
  cache.Invalidate(1);
  EXPECT_FALSE(cache.Locate("c").ok());
  ASSERT_TRUE(cache.Locate("g").ok());
  EXPECT_EQ((*cache.Locate("g"))->region.id(), 3u);
}

// Answers arrive out of order: an insert never replaces a newer entry (by version across
// regions, by version or conf_ver for one region) with an older one, and drops only what it
// is newer than.
TEST(RegionCacheTest, InsertKeepsNewerEntries) {
  RegionCache cache([](const std::string&) -> absl::StatusOr<RegionRoute> {
    return absl::NotFoundError("none");
  });
  // Region 1 split at "m" (version 2 for both halves).
  ASSERT_TRUE(cache.Insert(MakeRegion(1, "", "m", 2, {1, 2, 3}), 1));
  ASSERT_TRUE(cache.Insert(MakeRegion(2, "m", "", 2, {1, 2, 3}), 2));
  // The pre-split region (a slow answer) overlaps both: refused, both kept.
  EXPECT_FALSE(cache.Insert(MakeRegion(1, "", "", 1, {1, 2, 3}), 3));
  ASSERT_EQ(cache.size(), 2u);
  EXPECT_EQ((*cache.Locate("q"))->region.id(), 2u);
  EXPECT_EQ((*cache.Locate("a"))->region.region_epoch().version(), 2u);
  EXPECT_EQ((*cache.Locate("a"))->leader(), 1u);
  // Same id, same version, an older conf_ver: refused.
  metapb::Region conf = MakeRegion(2, "m", "", 2, {1, 2, 4});
  conf.mutable_region_epoch()->set_conf_ver(2);
  ASSERT_TRUE(cache.Insert(conf, 4));
  EXPECT_FALSE(cache.Insert(MakeRegion(2, "m", "", 2, {1, 2, 3}), 3));
  EXPECT_EQ((*cache.Locate("q"))->region.region_epoch().conf_ver(), 2u);
  EXPECT_EQ((*cache.Locate("q"))->leader(), 4u);
  // The same epoch again keeps the entry and takes the new leader hint.
  RegionCache::EntryPtr before = *cache.Locate("q");
  EXPECT_TRUE(cache.Insert(conf, 2));
  EXPECT_EQ(*cache.Locate("q"), before);
  EXPECT_EQ(before->leader(), 2u);
  // A merge (version above both) replaces both.
  metapb::Region merged = MakeRegion(2, "", "", 3, {1, 2, 4});
  merged.mutable_region_epoch()->set_conf_ver(2);
  ASSERT_TRUE(cache.Insert(merged, 1));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ((*cache.Locate("a"))->region.id(), 2u);
}

// A lookup whose PD answer is older than what the cache holds (PD lags behind the split the
// stores reported) leaves the cache alone and still routes: to the newer cached entry when
// it holds the key, else to PD's answer, uncached.
TEST(RegionCacheTest, AStalePdAnswerDoesNotReplaceNewerEntries) {
  int lookups = 0;
  RegionCache cache([&](const std::string&) -> absl::StatusOr<RegionRoute> {
    ++lookups;
    return RegionRoute{MakeRegion(1, "", "", 1, {1, 2, 3}), 1};
  });
  ASSERT_TRUE(cache.Insert(MakeRegion(2, "m", "", 2, {1, 2, 3}), 2));
  absl::StatusOr<RegionCache::EntryPtr> e = cache.Locate("a");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->region.region_epoch().version(), 1u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ((*cache.Locate("q"))->region.id(), 2u);
  EXPECT_EQ(lookups, 1);
}

// End to end: a store that has not applied the split yet answers a request carrying the
// newer epoch with EpochNotMatch and its own, older region. That region must not replace
// the two newer halves the cache holds: the retry goes to the same half, with its epoch.
TEST_F(RegionRequestSenderTest, AnOlderRegionFromALaggingStoreDoesNotReplaceNewerOnes) {
  cluster_.SetRegion(MakeRegion(1, "", "m", 2, {1, 2, 3}), 1);
  cluster_.SetRegion(MakeRegion(2, "m", "", 2, {1, 2, 3}), 2);
  ASSERT_TRUE(Send("a").ok());
  cluster_.Script(
      2, raftstore::EpochNotMatchError("stale peer", {MakeRegion(1, "", "", 1, {1, 2, 3})}));
  ASSERT_TRUE(Send("q").ok());
  const std::vector<AttemptRecord>& a = cluster_.attempts();
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].region_id, 2u);
  EXPECT_EQ(a[2].version, 2u);
  ASSERT_TRUE(Send("b").ok());
  EXPECT_EQ(cluster_.attempts().back().region_id, 1u);
  EXPECT_EQ(cluster_.attempts().back().version, 2u);
  EXPECT_EQ(cache_.size(), 2u);
  EXPECT_EQ(cluster_.lookups(), 2);
}

}  // namespace
}  // namespace rutile::txn::client
