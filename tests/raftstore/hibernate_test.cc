// Hibernation at scale: many idle regions on a store cost nothing once quiet. Every store
// hosts a peer of each of N regions; once every region has a leader and no writes come,
// all of them hibernate and fall asleep, and over the next virtual seconds the stores send
// no Raft tick and no Raft message for them at all. A write to one region wakes that
// region alone, applies everywhere, and the region goes back to sleep. The 10,000-region
// variant is hibernate_slow_test.cc; this one runs 200.
//
// Asleep regions do not notice a dead leader by themselves: stores ping each other and
// wake the asleep peers a silent store led (LeaderStoreCrash below).

#include "raftstore/hibernate_scale.h"

namespace rutile::raftstore {
namespace {

TEST(HibernateTest, TwoHundredIdleRegionsCostLittleAndOneWakesOnAWrite) {
  hibernate_scale::Run(200, 41);
}

// Every region asleep; the store leading some of them crashes. The survivors hear nothing
// from it for an election timeout, wake exactly the peers it led, and those regions elect
// a new leader and take writes; the regions led elsewhere stay asleep.
TEST(HibernateTest, LeaderStoreCrashWakesTheRegionsItLedAndTheyElectAgain) {
  constexpr int kRegions = 12;
  const uint64_t seed = 43;
  ClusterOptions o{.stores = 3, .seed = seed};
  o.regions = kRegions;
  Cluster c(o);
  c.Start();
  bool ok = c.Run(
      [&] {
        uint64_t deadline = c.env()->NowMicros() + 60'000'000;
        while (hibernate_scale::MinAsleep(c) < kRegions && c.env()->NowMicros() < deadline) {
          c.env()->SleepForMicros(200'000);
        }
        ASSERT_EQ(hibernate_scale::MinAsleep(c), static_cast<uint64_t>(kRegions));
        // The store leading the most regions goes down.
        uint64_t victim = 0;
        size_t most = 0;
        std::map<uint64_t, std::vector<int>> led;
        for (int k = 0; k < kRegions; ++k) {
          std::optional<Cluster::Route> l = c.FindLeader(RegionBoundary(k) + "-x");
          ASSERT_TRUE(l.has_value());
          led[l->store].push_back(k);
        }
        for (auto& [s, ks] : led) {
          if (ks.size() > most) {
            most = ks.size();
            victim = s;
          }
        }
        ASSERT_GT(victim, 0u);
        c.sim().Crash(victim);
        const uint64_t crashed_at = c.env()->NowMicros();
        // Each region it led gets a new leader and takes a write.
        for (int k : led[victim]) {
          const std::string key = RegionBoundary(k) + "-x";
          ASSERT_TRUE(c.Put(key, "after").ok()) << "region " << k + 1 << " seed " << seed;
        }
        const uint64_t took = c.env()->NowMicros() - crashed_at;
        std::printf("%zu regions led by crashed store %llu took writes again after %.2f s\n",
                    led[victim].size(), static_cast<unsigned long long>(victim),
                    static_cast<double>(took) / 1e6);
        // Two election timeouts (silence) + one (the woken followers' own timers)
        // + a randomized election: well under 10 s at 50 ms ticks.
        EXPECT_LT(took, 10'000'000u) << "seed " << seed;
        uint64_t woken = 0;
        for (uint64_t id : c.store_ids()) {
          if (id == victim) continue;
          StoreCounters st = c.store(id)->stats();
          woken += st.liveness_wakeups;
          EXPECT_GT(st.store_pings_sent, 0u);
        }
        EXPECT_GE(woken, led[victim].size()) << "seed " << seed;
        // Regions led by live stores were not woken by the crash.
        for (auto& [s, ks] : led) {
          if (s == victim) continue;
          for (int k : ks) {
            EXPECT_TRUE(c.store(s)->IsHibernating(static_cast<uint64_t>(k) + 1))
                << "region " << k + 1 << " seed " << seed;
          }
        }
      },
      120'000'000);
  EXPECT_TRUE(ok) << "seed " << seed;
}

}  // namespace
}  // namespace rutile::raftstore
