// The hibernation-at-scale scenario shared by hibernate_test.cc (200 regions) and
// hibernate_slow_test.cc (10,000).

#ifndef RUTILE_TESTS_RAFTSTORE_HIBERNATE_SCALE_H_
#define RUTILE_TESTS_RAFTSTORE_HIBERNATE_SCALE_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "raftstore/cluster.h"

namespace rutile::raftstore::hibernate_scale {

struct Costs {
  uint64_t ticks = 0;
  uint64_t messages = 0;
  uint64_t polls = 0;
};

inline Costs Sum(Cluster& c) {
  Costs out;
  for (uint64_t id : c.store_ids()) {
    StoreCounters s = c.store(id)->stats();
    out.ticks += s.ticks_sent;
    out.messages += s.raft_messages_sent;
    out.polls += s.polls;
  }
  return out;
}

// The fewest hibernating peers on any store.
inline uint64_t MinHibernating(Cluster& c) {
  uint64_t m = UINT64_MAX;
  for (uint64_t id : c.store_ids()) m = std::min(m, c.store(id)->stats().hibernating_peers);
  return m;
}

// The fewest asleep peers (out of the ticker's set) on any store.
inline uint64_t MinAsleep(Cluster& c) {
  uint64_t m = UINT64_MAX;
  for (uint64_t id : c.store_ids()) m = std::min(m, c.store(id)->stats().asleep_peers);
  return m;
}

inline void Run(int regions, uint64_t seed) {
  ClusterOptions o{.stores = 3, .seed = seed};
  o.regions = regions;
  o.config.hibernate_idle_ticks = 20;
  o.config.pd_heartbeat_interval_micros = 10'000'000;
  o.config.store_heartbeat_interval_micros = 10'000'000;
  Cluster c(o);
  c.Start();
  const StoreConfig& cfg = o.config;
  const auto n = static_cast<uint64_t>(regions);
  const double per_second = 1e6 / static_cast<double>(cfg.tick_interval_micros);
  // An awake region: every peer ticks every tick; the leader sends a heartbeat to each
  // follower every heartbeat_tick ticks and each answers.
  const double awake_ticks = 3 * per_second;
  const double awake_messages = 2.0 * 2 * per_second / cfg.heartbeat_tick;
  bool ok = c.Run(
      [&] {
        // Every region elects a leader and, with nothing to do, goes to sleep.
        uint64_t deadline = c.env()->NowMicros() + 60'000'000;
        while (MinAsleep(c) < n && c.env()->NowMicros() < deadline) {
          c.env()->SleepForMicros(500'000);
        }
        ASSERT_EQ(MinHibernating(c), n) << "not every region hibernated; seed " << seed;
        ASSERT_EQ(MinAsleep(c), n) << "not every peer asleep; seed " << seed;

        const uint64_t window = 5'000'000;
        Costs a = Sum(c);
        c.env()->SleepForMicros(window);
        Costs b = Sum(c);
        const double secs = static_cast<double>(window) / 1e6;
        const double ticks = static_cast<double>(b.ticks - a.ticks) / secs / n;
        const double msgs = static_cast<double>(b.messages - a.messages) / secs / n;
        const double polls = static_cast<double>(b.polls - a.polls) / secs;
        std::printf(
            "%d idle regions x 3 stores: per region per virtual second %.3f ticks (awake %.0f), "
            "%.3f raft messages (awake %.0f); %.1f poller rounds per second in all\n",
            regions, ticks, awake_ticks, msgs, awake_messages, polls);
        // Asleep peers are not ticked and send nothing: nothing per region at all (the
        // stores' liveness pings are per store and not Raft messages).
        EXPECT_EQ(b.ticks, a.ticks) << "seed " << seed;
        EXPECT_EQ(b.messages, a.messages) << "seed " << seed;
        EXPECT_LE(polls, 0.01 * n) << "seed " << seed;
        EXPECT_EQ(MinAsleep(c), n) << "a region woke with nothing to do; seed " << seed;

        // A write to one region wakes it alone and applies on every replica.
        const int k = regions / 2;
        const std::string key = RegionBoundary(k) + "-key";
        ASSERT_TRUE(c.Put(key, "v").ok()) << "seed " << seed;
        std::optional<Cluster::Route> l = c.FindLeader(key);
        ASSERT_TRUE(l.has_value());
        EXPECT_EQ(l->region.id(), static_cast<uint64_t>(k + 1));
        EXPECT_FALSE(c.store(l->store)->IsHibernating(l->region.id()));
        EXPECT_TRUE(c.WaitReplicated(key, "v"));
        c.env()->SleepForMicros(2 * cfg.tick_interval_micros);
        EXPECT_GE(MinHibernating(c), n - 1) << "more than the written region woke";
        // And it goes back to sleep.
        deadline = c.env()->NowMicros() + 10'000'000;
        while (MinAsleep(c) < n && c.env()->NowMicros() < deadline) {
          c.env()->SleepForMicros(200'000);
        }
        EXPECT_EQ(MinAsleep(c), n) << "seed " << seed;
      },
      300'000'000);
  EXPECT_TRUE(ok) << "seed " << seed;
}

}  // namespace rutile::raftstore::hibernate_scale

#endif  // RUTILE_TESTS_RAFTSTORE_HIBERNATE_SCALE_H_
