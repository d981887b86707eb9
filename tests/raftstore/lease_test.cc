// Lease reads under clock drift. The lease is dated from when a read or proposal was issued
// at the leader (before its messages went out) and measured on the leader's monotonic
// clock; it lasts at most (election_tick - 1) * tick * (1 - d) / (1 + d) (config.h), which
// keeps it shorter than the time any voter that acknowledged it takes to vote for someone
// else when clock rates stay within 1 +- d. The scenario test isolates a leader holding a
// fresh lease, has the other two elect a new leader and overwrite a key, and reads at the
// old leader all along: within the drift bound it never serves the old value after the
// overwrite was acknowledged; with drift far beyond the bound the same scenario does (the
// control that shows the scenario bites). Registers under the nemesis with drifting clocks
// stay linearizable. Store::Create refuses a lease above the bound.
//
// The local reader (Store::LocalRead) serves those lease reads in the caller's fiber: the
// scenario tests above go through it (Store::Read tries it first). LocalReaderTest checks
// that it serves only while the peer's own lease read would: it stops at once on a
// transfer, a stale epoch, a wrong peer, an expired lease, and is off when configured off.

#include <cstdio>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "raftstore/cluster.h"
#include "raftstore/raft_kv.h"
#include "raftstore/register_workload.h"
#include "rutile/testing/simulation.h"
#include "storage/mem_engine.h"

namespace rutile::raftstore {
namespace {

struct ScenarioResult {
  int lease_reads_after_isolation = 0;  // Served at the isolated old leader.
  int stale_reads = 0;                  // Of those, issued after the overwrite was acked.
  bool overwritten = false;
};

ScenarioResult RunIsolatedLeaderScenario(std::map<uint64_t, double> rates, uint64_t seed) {
  ClusterOptions o{.stores = 3, .seed = seed};
  o.clock_rates = std::move(rates);
  o.config.hibernate_regions = false;
  Cluster c(o);
  c.Start();
  ScenarioResult res;
  bool ok = c.Run([&] {
    // Store 1 leads region 1.
    for (int i = 0; i < 100 && !(c.store(1)->IsLeader(1)); ++i) {
      std::optional<Cluster::Route> l = c.WaitLeader("");
      if (l.has_value() && l->store != 1) {
        metapb::Peer p1;
        p1.set_id(11);
        p1.set_store_id(1);
        (void)c.store(l->store)->TransferLeader(1, p1);
      }
      c.env()->SleepForMicros(100'000);
    }
    ASSERT_TRUE(c.store(1)->IsLeader(1));
    ASSERT_TRUE(c.Put("k", "old").ok());
    raft_cmdpb::RaftRequestHeader h;
    h.set_region_id(1);
    *h.mutable_region_epoch() = c.store(1)->GetRegion(1)->region_epoch();
    Future<ReadResult> fresh = c.store(1)->Read(h);  // Renews the lease.
    ASSERT_TRUE(fresh.WaitFor(c.env(), 1'000'000));
    ASSERT_TRUE(fresh.Get().ok()) << fresh.Get().status();
    c.sim().Isolate(1);

    uint64_t acked_at = UINT64_MAX;
    bool stop = false;
    WaitGroup wg;
    wg.Add(1);
    c.env()->Spawn([&, wg]() mutable {
      // The other two elect a leader and overwrite the key.
      uint64_t deadline = c.env()->NowMicros() + 3'000'000;
      while (c.env()->NowMicros() < deadline && acked_at == UINT64_MAX) {
        for (uint64_t id : {2, 3}) {
          if (!c.store(id)->IsLeader(1)) continue;
          raft_cmdpb::RaftCmdRequest req;
          req.mutable_header()->set_region_id(1);
          *req.mutable_header()->mutable_region_epoch() = c.store(id)->GetRegion(1)->region_epoch();
          raft_cmdpb::Request* r = req.add_requests();
          r->set_cmd_type(raft_cmdpb::CMD_PUT);
          r->mutable_put()->set_key("k");
          r->mutable_put()->set_value("new");
          Future<absl::Status> f = c.store(id)->Propose(req);
          if (f.WaitFor(c.env(), 500'000) && f.Get().ok()) acked_at = c.env()->NowMicros();
          break;
        }
        c.env()->SleepForMicros(5'000);
      }
      stop = true;
      wg.Done();
    });
    // Read at the old leader every few milliseconds until the overwrite is done and a
    // while after.
    uint64_t until = c.env()->NowMicros() + 3'000'000;
    while (c.env()->NowMicros() < until && !(stop && c.env()->NowMicros() > acked_at + 1'000'000)) {
      uint64_t issued = c.env()->NowMicros();
      // The snapshot-free point read first (Store::ReadLatest), then a snapshot read.
      std::optional<std::string> latest;
      std::optional<absl::Status> ls =
          c.store(1)->ReadLatest(1, h.region_epoch().version(), 0, [&](const RegionSnapshot& v) {
            absl::StatusOr<std::optional<std::string>> got = v.Get(storage::CF::kDefault, "k");
            if (!got.ok()) return got.status();
            latest = *got;
            return absl::OkStatus();
          });
      if (ls.has_value() && ls->ok()) {
        ++res.lease_reads_after_isolation;
        if (latest.value_or("") == "old" && issued > acked_at) ++res.stale_reads;
      }
      issued = c.env()->NowMicros();
      Future<ReadResult> f = c.store(1)->Read(h);
      if (f.WaitFor(c.env(), 5'000) && f.Get().ok()) {
        ++res.lease_reads_after_isolation;
        absl::StatusOr<std::optional<std::string>> v = (*f.Get())->Get(storage::CF::kDefault, "k");
        if (v.ok() && v->value_or("") == "old" && issued > acked_at) ++res.stale_reads;
      }
      c.env()->SleepForMicros(5'000);
    }
    wg.Wait();
    res.overwritten = acked_at != UINT64_MAX;
  });
  EXPECT_TRUE(ok);
  std::printf("seed %llu: %d lease reads at the isolated leader, %d stale, overwritten %d\n",
              static_cast<unsigned long long>(seed), res.lease_reads_after_isolation,
              res.stale_reads, res.overwritten ? 1 : 0);
  return res;
}

TEST(LeaseTest, DriftWithinTheBoundNeverServesAStaleRead) {
  // The leader's clock 5% slow, the others' 5% fast: the configured bound exactly.
  for (uint64_t seed : {71, 72, 73}) {
    ScenarioResult r = RunIsolatedLeaderScenario({{1, 0.95}, {2, 1.05}, {3, 1.05}}, seed);
    EXPECT_TRUE(r.overwritten) << "seed " << seed;
    EXPECT_GT(r.lease_reads_after_isolation, 0) << "seed " << seed << ": lease never used";
    EXPECT_EQ(r.stale_reads, 0) << "seed " << seed;
  }
}

TEST(LeaseTest, DriftFarBeyondTheBoundDoesServeStaleReads) {
  // The control: the leader's clock at half speed, the others' at double. The lease then
  // outlives the election and the old leader answers from stale data.
  ScenarioResult r = RunIsolatedLeaderScenario({{1, 0.5}, {2, 2.0}, {3, 2.0}}, 71);
  EXPECT_TRUE(r.overwritten);
  EXPECT_GT(r.stale_reads, 0);
}

TEST(LeaseTest, RegistersStayLinearizableWithDriftingClocksUnderNemesis) {
  register_workload::WorkloadOptions wo;
  wo.clock_rates = {{1, 0.95}, {2, 1.05}, {3, 1.0}};
  std::optional<uint64_t> only = testing::SeedFromEnvironment();
  if (only.has_value()) {
    register_workload::RunSeed(*only, wo);
    return;
  }
  for (uint64_t seed = 301; seed <= 310; ++seed) {
    register_workload::RunSeed(seed, wo);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(LeaseTest, LeaseAboveTheBoundIsRefused) {
  StoreConfig c;
  c.store_id = 1;
  c.tick_interval_micros = 100'000;
  c.election_tick = 10;
  c.max_clock_drift = 0.05;
  EXPECT_EQ(MaxSafeLeaseMicros(c), 814'285u);
  storage::MemEngine engine;
  testing::Simulation sim(1);
  transport::RpcEndpoint ep(sim.env(), sim.transport(), 1);
  Store::Options o;
  o.env = sim.env();
  o.engine = &engine;
  o.endpoint = &ep;
  o.config = c;
  o.config.max_lease_micros = 900'000;
  absl::StatusOr<std::shared_ptr<Store>> st = Store::Create(o);
  EXPECT_TRUE(absl::IsInvalidArgument(st.status())) << st.status();
  o.config.max_lease_micros = 0;
  o.config.max_clock_drift = 1.5;
  st = Store::Create(o);
  EXPECT_TRUE(absl::IsInvalidArgument(st.status())) << st.status();
  o.config.max_clock_drift = 0.05;
  o.config.max_lease_micros = 800'000;
  st = Store::Create(o);
  EXPECT_TRUE(st.ok()) << st.status();
}

raft_cmdpb::RaftRequestHeader HeaderFor(const metapb::Region& r) {
  raft_cmdpb::RaftRequestHeader h;
  h.set_region_id(r.id());
  *h.mutable_region_epoch() = r.region_epoch();
  return h;
}

TEST(LocalReaderTest, ServesLeaseReadsInTheCallersFiberUntilTheLeaseEnds) {
  ClusterOptions o{.stores = 3, .seed = 91};
  o.config.hibernate_regions = false;
  Cluster c(o);
  c.Start();
  bool ok = c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("k", "v1").ok());  // Applying it renews the lease.
    std::shared_ptr<Store> st = c.store(l->store);
    raft_cmdpb::RaftRequestHeader h = HeaderFor(*st->GetRegion(1));
    const uint64_t before = st->stats().local_reads;
    for (int i = 0; i < 100; ++i) {
      std::optional<ReadResult> r = st->LocalRead(h);
      ASSERT_TRUE(r.has_value()) << "read " << i;
      ASSERT_TRUE(r->ok()) << r->status();
      absl::StatusOr<std::optional<std::string>> v = (**r)->Get(storage::CF::kDefault, "k");
      ASSERT_TRUE(v.ok() && v->has_value());
      EXPECT_EQ(**v, "v1");
    }
    EXPECT_EQ(st->stats().local_reads, before + 100);
    // A write acknowledged before the read is seen by it.
    ASSERT_TRUE(c.Put("k", "v2").ok());
    std::optional<ReadResult> r = st->LocalRead(h);
    ASSERT_TRUE(r.has_value() && r->ok());
    EXPECT_EQ((**r)->Get(storage::CF::kDefault, "k")->value_or(""), "v2");

    // Not for a stale epoch or another peer: those go to the peer, which errs.
    raft_cmdpb::RaftRequestHeader stale = h;
    stale.mutable_region_epoch()->set_version(h.region_epoch().version() + 7);
    EXPECT_FALSE(st->LocalRead(stale).has_value());
    raft_cmdpb::RaftRequestHeader other = h;
    other.mutable_peer()->set_id(999);
    EXPECT_FALSE(st->LocalRead(other).has_value());
    Future<ReadResult> slow = st->Read(stale);
    ASSERT_TRUE(slow.WaitFor(c.env(), 1'000'000));
    EXPECT_FALSE(slow.Get().ok());

    // The lease runs out when nothing renews it (about 8 ticks here); a read through the
    // peer renews it.
    c.env()->SleepForMicros(2'000'000);
    EXPECT_FALSE(st->LocalRead(h).has_value());
    Future<ReadResult> renew = st->Read(h);
    ASSERT_TRUE(renew.WaitFor(c.env(), 1'000'000));
    ASSERT_TRUE(renew.Get().ok()) << renew.Get().status();
    EXPECT_TRUE(st->LocalRead(h).has_value());

    // A split: the old epoch no longer reads locally, the new one does, over the new range.
    ASSERT_TRUE(st->SplitRegion(1, {"m"}).ok());
    EXPECT_FALSE(st->LocalRead(h).has_value());
    ASSERT_TRUE(c.Put("a", "x").ok());
    raft_cmdpb::RaftRequestHeader h2 = HeaderFor(*st->GetRegion(1));
    std::optional<ReadResult> after = st->LocalRead(h2);
    ASSERT_TRUE(after.has_value() && after->ok());
    EXPECT_EQ((**after)->region().region_epoch().version(), h2.region_epoch().version());

    // A transfer ends local reads at once, before the transferee is even elected.
    metapb::Peer target;
    const metapb::Region r1 = *st->GetRegion(1);
    for (const metapb::Peer& p : r1.peers()) {
      if (p.store_id() != l->store) target = p;
    }
    ASSERT_TRUE(st->TransferLeader(1, target).ok());
    EXPECT_FALSE(st->LocalRead(h2).has_value());
    // The new leader reads locally once it applied an entry of its term and has a lease.
    std::shared_ptr<Store> nt = c.store(target.store_id());
    bool served = false;
    for (int i = 0; i < 100 && !served; ++i) {
      c.env()->SleepForMicros(50'000);
      if (!nt->IsLeader(1)) continue;
      ASSERT_TRUE(c.Put("a", "y").ok());
      std::optional<ReadResult> nr = nt->LocalRead(HeaderFor(*nt->GetRegion(1)));
      served = nr.has_value() && nr->ok() &&
               (**nr)->Get(storage::CF::kDefault, "a")->value_or("") == "y";
    }
    EXPECT_TRUE(served);
    EXPECT_FALSE(st->LocalRead(h2).has_value());
  });
  EXPECT_TRUE(ok);
}

// Store::ReadLatest, the snapshot-free point read: served under the same conditions as
// LocalRead, and its result discarded (nullopt) when the lease broke while it read.
TEST(LocalReaderTest, ReadLatestServesPointReadsOnlyUnderOneUnbrokenLease) {
  ClusterOptions o{.stores = 3, .seed = 93};
  o.config.hibernate_regions = false;
  Cluster c(o);
  c.Start();
  bool ok = c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("k", "v1").ok());
    std::shared_ptr<Store> st = c.store(l->store);
    const metapb::Region r = *st->GetRegion(1);
    const uint64_t ver = r.region_epoch().version();
    auto get = [&](const std::shared_ptr<Store>& s, uint64_t version, uint64_t peer,
                   std::string_view key) -> std::optional<std::string> {
      std::optional<std::string> out;
      std::optional<absl::Status> res =
          s->ReadLatest(1, version, peer, [&](const RegionSnapshot& v) {
            EXPECT_TRUE(v.live());
            absl::StatusOr<std::optional<std::string>> got = v.Get(storage::CF::kDefault, key);
            if (!got.ok()) return got.status();
            out = got->value_or("<absent>");
            return absl::OkStatus();
          });
      if (!res.has_value() || !res->ok()) return std::nullopt;
      return out;
    };
    const uint64_t before = st->stats().local_reads;
    EXPECT_EQ(get(st, ver, 0, "k"), "v1");
    EXPECT_EQ(get(st, ver, 0, "nope"), "<absent>");
    EXPECT_EQ(st->stats().local_reads, before + 2);
    // A write acknowledged before the read is seen by it.
    ASSERT_TRUE(c.Put("k", "v2").ok());
    EXPECT_EQ(get(st, ver, 0, "k"), "v2");
    // Not for a stale epoch, another peer, or at a follower.
    EXPECT_FALSE(get(st, ver + 1, 0, "k").has_value());
    EXPECT_FALSE(get(st, ver, 999, "k").has_value());
    for (uint64_t id : c.store_ids()) {
      if (id != l->store) {
        EXPECT_FALSE(get(c.store(id), ver, 0, "k").has_value()) << id;
      }
    }
    // A lease that breaks while the callback reads (a transfer starts: the peer drops it
    // at once) makes the store discard the result, even though the read itself succeeded.
    metapb::Peer target;
    for (const metapb::Peer& p : r.peers()) {
      if (p.store_id() != l->store) target = p;
    }
    bool ran = false;
    std::optional<absl::Status> res = st->ReadLatest(1, ver, 0, [&](const RegionSnapshot& v) {
      ran = true;
      EXPECT_TRUE(v.Get(storage::CF::kDefault, "k").ok());
      return st->TransferLeader(1, target);
    });
    EXPECT_TRUE(ran);
    EXPECT_FALSE(res.has_value());
    EXPECT_FALSE(get(st, ver, 0, "k").has_value());
    // And RaftKv::ReadLatest falls back to the slow path, which answers NotLeader there.
    for (int i = 0; i < 100 && st->IsLeader(1); ++i) c.env()->SleepForMicros(50'000);
    ASSERT_FALSE(st->IsLeader(1));
    std::unique_ptr<RaftKv> kv = NewStoreRaftKv(st);
    Context ctx;
    ctx.region_id = 1;
    ctx.region_epoch = r.region_epoch();
    int runs = 0;
    absl::Status s = kv->ReadLatest(ctx, [&](const RegionSnapshot&) {
      ++runs;
      return absl::OkStatus();
    });
    EXPECT_EQ(runs, 0);
    EXPECT_TRUE(GetRegionError(s).has_value()) << s;
  });
  EXPECT_TRUE(ok);
}

TEST(LocalLeaseTest, GenerationCatchesADropAndRenewalBetweenChecks) {
  testing::Simulation sim(testing::SimulationOptions{});
  Env* env = sim.env();
  LocalLease lease;
  uint64_t gen = 0;
  EXPECT_FALSE(lease.Begin(&gen));
  const uint64_t far = env->NowMicros() + 1'000'000;
  lease.Set(far);
  ASSERT_TRUE(lease.Begin(&gen));
  EXPECT_TRUE(lease.HeldThroughout(gen, env));
  lease.Set(far + 10);  // A renewal keeps the generation.
  EXPECT_TRUE(lease.HeldThroughout(gen, env));
  lease.Zero();  // Dropped and granted again (a new term): the expiry is back, not the lease.
  lease.Set(far + 20);
  EXPECT_FALSE(lease.HeldThroughout(gen, env));
  ASSERT_TRUE(lease.Begin(&gen));
  EXPECT_TRUE(lease.HeldThroughout(gen, env));
  lease.Set(env->NowMicros());  // Expired.
  EXPECT_FALSE(lease.HeldThroughout(gen, env));
}

TEST(LocalReaderTest, OffWhenConfiguredOff) {
  ClusterOptions o{.stores = 3, .seed = 92};
  o.config.local_read = false;
  Cluster c(o);
  c.Start();
  bool ok = c.Run([&] {
    std::optional<Cluster::Route> l = c.WaitLeader("");
    ASSERT_TRUE(l.has_value());
    ASSERT_TRUE(c.Put("k", "v").ok());
    std::shared_ptr<Store> st = c.store(l->store);
    raft_cmdpb::RaftRequestHeader h = HeaderFor(*st->GetRegion(1));
    EXPECT_FALSE(st->LocalRead(h).has_value());
    absl::StatusOr<std::shared_ptr<RegionSnapshot>> snap = c.Snapshot("k");
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_EQ((*snap)->Get(storage::CF::kDefault, "k")->value_or(""), "v");
    EXPECT_EQ(st->stats().local_reads, 0u);
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace rutile::raftstore
