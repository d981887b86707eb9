// rutile::Node and the raw KV client on Env::Default() over LocalTransport: a 3-node
// cluster on durable LevelDB that survives a full restart, one on in-memory engines with
// concurrent writers across split regions, option checks, and LocalPd's persistent id
// allocator.

#include "rutile/node.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "fiber_test_util.h"
#include "gtest/gtest.h"
#include "node/local_pd.h"
#include "node/node_internal.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "storage/mem_engine.h"
#include "txn/types.h"
#include "util/sync.h"

namespace rutile {
namespace {

// Runs `fn` on a fiber of Env::Default() and waits for it.
std::string Key(int i) { return absl::StrFormat("k%05d", i); }

class TestCluster {
 public:
  TestCluster(std::string dir, int n) : dir_(std::move(dir)), n_(n) {}

  // Opens every node (on a fiber).
  void Open() {
    transport_ = NewLocalTransport(Env::Default());
    std::vector<uint64_t> ids;
    for (int i = 1; i <= n_; ++i) ids.push_back(i);
    std::shared_ptr<Pd> pd;
    for (uint64_t id : ids) {
      NodeOptions o;
      o.id = id;
      o.data_dir = dir_.empty() ? "" : absl::StrFormat("%s/node%d", dir_, id);
      o.transport = transport_.get();
      o.host_pd = id == 1;
      o.pd = pd;
      o.initial_stores = ids;
      o.raft_tick_micros = 20'000;
      o.pd_heartbeat_interval_micros = 200'000;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
      ASSERT_TRUE(node.ok()) << node.status();
      if (id == 1) pd = (*node)->pd();
      nodes_.push_back(std::move(*node));
    }
    std::vector<Node*> raw;
    for (auto& n : nodes_) raw.push_back(n.get());
    absl::StatusOr<std::unique_ptr<RawKvClient>> c = RawKvClient::Open(raw);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
  }

  void Close() {
    client_.reset();
    for (auto& n : nodes_) n->Close();
    nodes_.clear();
    transport_.reset();
  }

  RawKvClient& kv() { return *client_; }
  Node& node(int i) { return *nodes_[i]; }

 private:
  std::string dir_;
  int n_;
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<RawKvClient> client_;
};

TEST(NodeTest, DurableAcrossRestart) {
  std::string dir = ::testing::TempDir() + "/node_test_durable";
  std::filesystem::remove_all(dir);
  OnFiber([&] {
    TestCluster c(dir, 3);
    c.Open();
    std::vector<RawKvClient::KvPair> pairs;
    for (int i = 0; i < 300; ++i) pairs.emplace_back(Key(i), absl::StrFormat("v%d", i));
    ASSERT_TRUE(c.kv().BatchPut(pairs).ok());
    ASSERT_TRUE(c.kv().SplitAt(Key(100)).ok());
    ASSERT_TRUE(c.kv().SplitAt(Key(200)).ok());
    ASSERT_TRUE(c.kv().Put(Key(150), "changed").ok());
    ASSERT_TRUE(c.kv().Delete(Key(250)).ok());
    absl::StatusOr<std::optional<std::string>> v = c.kv().Get(Key(150));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, "changed");
    c.Close();

    // Everything comes back from disk: the regions, the data, PD's view.
    c.Open();
    absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c.kv().Scan("", "");
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), 299u);
    for (const auto& [k, val] : *all) {
      int i = std::stoi(k.substr(1));
      EXPECT_NE(i, 250);
      EXPECT_EQ(val, i == 150 ? "changed" : absl::StrFormat("v%d", i)) << k;
    }
    v = c.kv().Get(Key(250));
    ASSERT_TRUE(v.ok());
    EXPECT_FALSE(v->has_value());
    EXPECT_GE(c.kv().Regions().size(), 3u);
    // Ids handed out after the restart do not collide with the split's: a new split works.
    ASSERT_TRUE(c.kv().SplitAt(Key(50)).ok());
    ASSERT_TRUE(c.kv().Put(Key(300), "after restart").ok());
    v = c.kv().Get(Key(300));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "after restart");
    c.Close();
  });
  std::filesystem::remove_all(dir);
}

TEST(NodeTest, InMemoryConcurrentWritersAcrossRegions) {
  OnFiber([&] {
    TestCluster c("", 3);
    c.Open();
    ASSERT_TRUE(c.kv().SplitAt(Key(250)).ok());
    constexpr int kFibers = 8, kKeys = 800;
    std::atomic<int> failures{0};
    WaitGroup wg;
    wg.Add(kFibers);
    for (int f = 0; f < kFibers; ++f) {
      Env::Default()->Spawn([&, f] {
        for (int i = f; i < kKeys; i += kFibers) {
          if (!c.kv().Put(Key(i), std::to_string(i)).ok()) failures.fetch_add(1);
          // Split while writes are in flight: writers must follow EpochNotMatch.
          if (f == 0 && i == 400) {
            if (!c.kv().SplitAt(Key(500)).ok()) failures.fetch_add(1);
          }
        }
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(failures.load(), 0);

    std::vector<RegionDescription> regions = c.kv().Regions();
    EXPECT_GE(regions.size(), 3u);
    size_t leaders = 0;
    for (int i = 0; i < 3; ++i) leaders += c.node(i).LeaderCount();
    EXPECT_GE(leaders, 3u);

    // A scan across all three regions with a limit, and one bounded inside.
    absl::StatusOr<std::vector<RawKvClient::KvPair>> s = c.kv().Scan(Key(200), Key(600), 350);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_EQ(s->size(), 350u);
    for (size_t j = 0; j < s->size(); ++j) EXPECT_EQ((*s)[j].first, Key(200 + j));
    s = c.kv().Scan(Key(490), Key(510));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->size(), 20u);

    std::vector<std::string> keys = {Key(799), Key(0), "absent", Key(250), Key(499)};
    absl::StatusOr<std::vector<std::optional<std::string>>> got = c.kv().BatchGet(keys);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)[0], "799");
    EXPECT_EQ((*got)[1], "0");
    EXPECT_FALSE((*got)[2].has_value());
    EXPECT_EQ((*got)[3], "250");
    EXPECT_EQ((*got)[4], "499");

    ASSERT_TRUE(c.kv().Delete(Key(499)).ok());
    absl::StatusOr<std::optional<std::string>> v = c.kv().Get(Key(499));
    ASSERT_TRUE(v.ok());
    EXPECT_FALSE(v->has_value());

    absl::StatusOr<uint64_t> t1 = c.node(1).pd()->GetTimestamp();
    absl::StatusOr<uint64_t> t2 = c.node(2).pd()->GetTimestamp();
    ASSERT_TRUE(t1.ok() && t2.ok());
    EXPECT_LT(*t1, *t2);
    c.Close();
  });
}

// The split checker's key is cut back to a user-key boundary: a region that ended between
// two versions of one user key would leave a read at its region without the older ones
// (and the coprocessor's range splitting met such an end key as "corrupt key").
TEST(NodeTest, SplitKeysAreUserKeyBoundaries) {
  const std::string user = txn::EncodeKey("table-42/row-123456789");
  EXPECT_EQ(node::TxnSplitKey(txn::AppendTs(user, 424242)), user);  // write/default CF
  EXPECT_EQ(node::TxnSplitKey(user), user);                         // lock CF
  EXPECT_EQ(node::TxnSplitKey("raw-key"), "raw-key");               // raw KV: unchanged
}

TEST(NodeTest, RejectsBadOptions) {
  OnFiber([&] {
    std::unique_ptr<Transport> t = NewLocalTransport(Env::Default());
    NodeOptions o;
    o.id = 1;
    o.transport = t.get();
    EXPECT_TRUE(absl::IsInvalidArgument(Node::Open(o).status()));  // Neither PD role.
    o.host_pd = true;
    o.transport = nullptr;
    EXPECT_TRUE(absl::IsInvalidArgument(Node::Open(o).status()));
    o.transport = t.get();
    o.id = 0;
    EXPECT_TRUE(absl::IsInvalidArgument(Node::Open(o).status()));
  });
}

TEST(LocalPdTest, IdsAndTimestampsIncreaseAcrossReopen) {
  OnFiber([&] {
    storage::MemEngine engine;
    uint64_t last_id = 0, last_ts = 0;
    for (int round = 0; round < 3; ++round) {
      absl::StatusOr<std::unique_ptr<node::LocalPd>> pd =
          node::LocalPd::Open(Env::Default(), &engine);
      ASSERT_TRUE(pd.ok()) << pd.status();
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<uint64_t> id = (*pd)->AllocId();
        ASSERT_TRUE(id.ok());
        EXPECT_GE(*id, node::kFirstAllocatedId);
        EXPECT_GT(*id, last_id);
        last_id = *id;
        absl::StatusOr<uint64_t> ts = (*pd)->GetTimestamp();
        ASSERT_TRUE(ts.ok());
        EXPECT_GT(*ts, last_ts);
        last_ts = *ts;
      }
      // Synced: a crash keeps the limits.
      engine.SimulateCrash();
    }
  });
}

}  // namespace
}  // namespace rutile
