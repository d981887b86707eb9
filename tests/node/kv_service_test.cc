// The KV RPC service (lib/node/kv_service.h) and the PD service (pd_service.h) on a 3-node
// in-memory cluster over LocalTransport: the raw KV client in RPC mode agrees with the
// in-process one across split regions; region errors come back typed with their data;
// malformed requests get InvalidArgument and change nothing.

#include "node/kv_service.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "fiber_test_util.h"
#include "gtest/gtest.h"
#include "kvrpcpb.pb.h"
#include "localpdpb.pb.h"
#include "raftstore/errors.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "transport/rpc.h"
#include "util/sync.h"

namespace rutile {
namespace {

constexpr uint64_t kTimeout = 5'000'000;

std::string Key(int i) { return absl::StrFormat("k%05d", i); }

// Three in-memory nodes, an in-process client, an RPC client (node 900) and a bare RPC
// endpoint (node 901) for hand-made requests.
class Cluster {
 public:
  void Open() {
    transport_ = NewLocalTransport(Env::Default());
    std::vector<uint64_t> ids = {1, 2, 3};
    std::shared_ptr<Pd> pd;
    std::vector<Node*> raw;
    for (uint64_t id : ids) {
      NodeOptions o;
      o.id = id;
      o.transport = transport_.get();
      o.host_pd = id == 1;
      o.pd = pd;
      o.initial_stores = ids;
      o.raft_tick_micros = 20'000;
      o.pd_heartbeat_interval_micros = 200'000;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Open(o);
      ASSERT_TRUE(node.ok()) << node.status();
      if (id == 1) pd = (*node)->pd();
      raw.push_back(node->get());
      nodes_.push_back(std::move(*node));
    }
    absl::StatusOr<std::unique_ptr<RawKvClient>> c = RawKvClient::Open(raw);
    ASSERT_TRUE(c.ok()) << c.status();
    local_ = std::move(*c);
    RawKvOptions ro;
    ro.rpc_client_id = 900;
    c = RawKvClient::Open(raw, ro);
    ASSERT_TRUE(c.ok()) << c.status();
    rpc_ = std::move(*c);
    endpoint_ = std::make_unique<transport::RpcEndpoint>(Env::Default(), transport_.get(), 901);
    ASSERT_TRUE(endpoint_->status().ok());
  }

  void Close() {
    endpoint_->Shutdown();
    endpoint_.reset();
    rpc_.reset();
    local_.reset();
    for (auto& n : nodes_) n->Close();
    nodes_.clear();
    transport_.reset();
  }

  RawKvClient& local() { return *local_; }
  RawKvClient& rpc() { return *rpc_; }
  transport::RpcEndpoint& endpoint() { return *endpoint_; }
  Node& node(int i) { return *nodes_[i]; }

  // The region holding `key` as PD (node 1) knows it, once PD knows its leader, asked
  // over the PD service.
  localpdpb::RegionRoute Route(const std::string& key) {
    localpdpb::GetRegionByKeyRequest req;
    req.set_key(key);
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<localpdpb::RegionRoute> r = transport::CallTyped<localpdpb::RegionRoute>(
          *endpoint_, 1, "LocalPd.GetRegionByKey", req, kTimeout);
      if (r.ok() && r->leader().store_id() != 0) return *r;
      Env::Default()->SleepForMicros(50'000);
    }
    ADD_FAILURE() << "PD knows no leader for " << key;
    return {};
  }

 private:
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<RawKvClient> local_;
  std::unique_ptr<RawKvClient> rpc_;
  std::unique_ptr<transport::RpcEndpoint> endpoint_;
};

TEST(KvServiceTest, RpcClientAgreesWithInProcessClientAcrossRegions) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    std::vector<RawKvClient::KvPair> pairs;
    for (int i = 0; i < 200; ++i) pairs.emplace_back(Key(i), absl::StrFormat("v%d", i));
    ASSERT_TRUE(c.rpc().BatchPut(pairs).ok());
    ASSERT_TRUE(c.rpc().SplitAt(Key(70)).ok());
    ASSERT_TRUE(c.rpc().SplitAt(Key(140)).ok());
    ASSERT_TRUE(c.rpc().SplitAt(Key(140)).ok());  // Already a boundary: no-op.
    ASSERT_TRUE(c.rpc().Put(Key(100), "changed").ok());
    ASSERT_TRUE(c.rpc().Delete(Key(150)).ok());
    EXPECT_GE(c.rpc().Regions().size(), 3u);

    absl::StatusOr<std::vector<RawKvClient::KvPair>> via_rpc = c.rpc().Scan("", "");
    absl::StatusOr<std::vector<RawKvClient::KvPair>> direct = c.local().Scan("", "");
    ASSERT_TRUE(via_rpc.ok()) << via_rpc.status();
    ASSERT_TRUE(direct.ok()) << direct.status();
    EXPECT_EQ(*via_rpc, *direct);
    ASSERT_EQ(via_rpc->size(), 199u);

    absl::StatusOr<std::vector<RawKvClient::KvPair>> limited = c.rpc().Scan(Key(60), Key(160), 90);
    ASSERT_TRUE(limited.ok()) << limited.status();
    ASSERT_EQ(limited->size(), 90u);
    EXPECT_EQ(limited->front().first, Key(60));
    EXPECT_EQ(limited->back().first, Key(149));

    std::vector<std::string> keys = {Key(199), Key(0), "absent", Key(150), Key(100), Key(70)};
    absl::StatusOr<std::vector<std::optional<std::string>>> got = c.rpc().BatchGet(keys);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)[0], "v199");
    EXPECT_EQ((*got)[1], "v0");
    EXPECT_FALSE((*got)[2].has_value());
    EXPECT_FALSE((*got)[3].has_value());
    EXPECT_EQ((*got)[4], "changed");
    EXPECT_EQ((*got)[5], "v70");

    absl::StatusOr<std::optional<std::string>> v = c.local().Get(Key(100));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "changed");
    c.Close();
  });
}

TEST(KvServiceTest, RegionErrorsComeBackTyped) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    ASSERT_TRUE(c.local().Put(Key(1), "one").ok());
    ASSERT_TRUE(c.local().SplitAt(Key(50)).ok());
    // The parent kept the left half, so its epoch moved on.
    localpdpb::RegionRoute r = c.Route(Key(1));
    ASSERT_NE(r.region().id(), 0u);
    ASSERT_GT(r.region().region_epoch().version(), 1u);
    const uint64_t leader = r.leader().store_id();
    kvrpcpb::Context ctx;
    ctx.set_region_id(r.region().id());
    *ctx.mutable_region_epoch() = r.region().region_epoch();

    // A region the store does not have.
    kvrpcpb::RawGetRequest get;
    *get.mutable_context() = ctx;
    get.mutable_context()->set_region_id(987654);
    get.set_key(Key(1));
    absl::StatusOr<kvrpcpb::RawGetResponse> resp = node::CallKvMethod<kvrpcpb::RawGetResponse>(
        c.endpoint(), leader, node::kRawGetMethod, get, kTimeout);
    EXPECT_TRUE(raftstore::IsRegionNotFound(resp.status())) << resp.status();
    EXPECT_TRUE(absl::IsNotFound(resp.status()));

    // A stale epoch: EpochNotMatch carrying the current regions.
    *get.mutable_context() = ctx;
    get.mutable_context()->mutable_region_epoch()->set_version(1);
    resp = node::CallKvMethod<kvrpcpb::RawGetResponse>(c.endpoint(), leader, node::kRawGetMethod,
                                                       get, kTimeout);
    ASSERT_TRUE(raftstore::IsEpochNotMatch(resp.status())) << resp.status();
    EXPECT_TRUE(absl::IsFailedPrecondition(resp.status()));
    std::optional<raft_cmdpb::Error> e = raftstore::GetRegionError(resp.status());
    ASSERT_TRUE(e.has_value());
    EXPECT_GE(e->epoch_not_match().current_regions_size(), 1);

    // The current epoch at the leader: the value.
    *get.mutable_context() = ctx;
    resp = node::CallKvMethod<kvrpcpb::RawGetResponse>(c.endpoint(), leader, node::kRawGetMethod,
                                                       get, kTimeout);
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_TRUE(resp->value().found());
    EXPECT_EQ(resp->value().value(), "one");

    // At a follower: NotLeader naming the region.
    uint64_t follower = 0;
    for (const metapb::Peer& p : r.region().peers()) {
      if (p.store_id() != leader) follower = p.store_id();
    }
    ASSERT_NE(follower, 0u);
    kvrpcpb::RawPutRequest put;
    *put.mutable_context() = ctx;
    put.set_key(Key(1));
    put.set_value("from follower");
    absl::StatusOr<kvrpcpb::RawPutResponse> presp = node::CallKvMethod<kvrpcpb::RawPutResponse>(
        c.endpoint(), follower, node::kRawPutMethod, put, kTimeout);
    ASSERT_TRUE(raftstore::IsNotLeader(presp.status())) << presp.status();
    std::optional<raft_cmdpb::Error> nl = raftstore::GetRegionError(presp.status());
    ASSERT_TRUE(nl.has_value());
    EXPECT_EQ(nl->not_leader().region_id(), r.region().id());

    // A key outside the region, at the leader: KeyNotInRegion, nothing written.
    put.set_key(Key(60));
    presp = node::CallKvMethod<kvrpcpb::RawPutResponse>(c.endpoint(), leader, node::kRawPutMethod,
                                                        put, kTimeout);
    EXPECT_TRUE(raftstore::IsKeyNotInRegion(presp.status())) << presp.status();
    EXPECT_TRUE(absl::IsOutOfRange(presp.status()));
    absl::StatusOr<std::optional<std::string>> v = c.local().Get(Key(60));
    ASSERT_TRUE(v.ok());
    EXPECT_FALSE(v->has_value());
    v = c.local().Get(Key(1));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "one");
    c.Close();
  });
}

TEST(KvServiceTest, MalformedRequestsChangeNothing) {
  OnFiber([&] {
    Cluster c;
    c.Open();
    ASSERT_TRUE(c.local().Put(Key(1), "one").ok());
    localpdpb::RegionRoute route = c.Route(Key(1));
    transport::RpcEndpoint& ep = c.endpoint();
    const uint64_t to = route.leader().store_id();
    ASSERT_NE(to, 0u);
    kvrpcpb::Context ctx;
    ctx.set_region_id(route.region().id());
    *ctx.mutable_region_epoch() = route.region().region_epoch();

    // Bytes that are not a request.
    for (const char* method : {node::kRawPutMethod, node::kRawBatchPutMethod, node::kRawGetMethod,
                               node::kRawScanMethod, "LocalPd.AllocId"}) {
      absl::StatusOr<std::string> raw = ep.CallAndWait(method[0] == 'L' ? 1 : to, method,
                                                       std::string("\xff\xff\xff", 3), kTimeout);
      EXPECT_TRUE(absl::IsInvalidArgument(raw.status())) << method << ": " << raw.status();
    }
    // No region, no epoch.
    kvrpcpb::RawPutRequest put;
    put.set_key(Key(1));
    put.set_value("bad");
    absl::StatusOr<kvrpcpb::RawPutResponse> p =
        node::CallKvMethod<kvrpcpb::RawPutResponse>(ep, to, node::kRawPutMethod, put, kTimeout);
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << p.status();
    put.mutable_context()->set_region_id(route.region().id());
    p = node::CallKvMethod<kvrpcpb::RawPutResponse>(ep, to, node::kRawPutMethod, put, kTimeout);
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << p.status();
    // An empty batch; a scan whose end precedes its start; a split at the empty key.
    kvrpcpb::RawBatchPutRequest batch;
    *batch.mutable_context() = ctx;
    EXPECT_TRUE(absl::IsInvalidArgument(node::CallKvMethod<kvrpcpb::RawBatchPutResponse>(
                                            ep, to, node::kRawBatchPutMethod, batch, kTimeout)
                                            .status()));
    kvrpcpb::RawScanRequest scan;
    *scan.mutable_context() = batch.context();
    scan.set_start_key(Key(9));
    scan.set_end_key(Key(2));
    EXPECT_TRUE(absl::IsInvalidArgument(
        node::CallKvMethod<kvrpcpb::RawScanResponse>(ep, to, node::kRawScanMethod, scan, kTimeout)
            .status()));
    kvrpcpb::SplitRegionRequest split;
    *split.mutable_context() = batch.context();
    EXPECT_TRUE(absl::IsInvalidArgument(node::CallKvMethod<kvrpcpb::SplitRegionResponse>(
                                            ep, to, node::kSplitRegionMethod, split, kTimeout)
                                            .status()));
    // PD: split ids for no region.
    localpdpb::AskBatchSplitRequest ask;
    ask.set_count(1);
    EXPECT_TRUE(absl::IsInvalidArgument(transport::CallTyped<localpdpb::AskBatchSplitResponse>(
                                            ep, 1, "LocalPd.AskBatchSplit", ask, kTimeout)
                                            .status()));

    absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c.local().Scan("", "");
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].second, "one");
    EXPECT_EQ(c.local().Regions().size(), 1u);
    c.Close();
  });
}

TEST(KvServiceTest, ConnectRejectsBadNodeIds) {
  OnFiber([&] {
    std::unique_ptr<Transport> t = NewLocalTransport(Env::Default());
    absl::StatusOr<std::unique_ptr<RawKvClient>> c =
        RawKvClient::Connect(Env::Default(), t.get(), 0, 1);
    EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
    c = RawKvClient::Connect(Env::Default(), t.get(), 5, 5);
    EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
  });
}

}  // namespace
}  // namespace rutile
