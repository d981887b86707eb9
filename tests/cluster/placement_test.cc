// Placement at cluster level, in simulation (each failure prints its seed):
//   - regions split under write load until there are at least 64, while reads and writes
//     keep working and every acknowledged write reads back;
//   - a store crashes: PD repairs its replicas elsewhere within 60 virtual seconds, no
//     acknowledged write is lost, and the store restarts (having lost its unsynced writes)
//     and rejoins;
//   - balance: adding 2 stores to a 3-store cluster of 60 regions brings every store's
//     leader and region counts within 20% of the mean.

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "rutile/kv.h"
#include "rutile/testing/cluster.h"
#include "rutile/testing/seeds.h"
#include "util/sync.h"

namespace rutile::testing {
namespace {

std::string Key(uint64_t i) { return absl::StrFormat("key%06d", i); }
std::string Value(uint64_t i) { return absl::StrFormat("value-%d-%s", i, std::string(40, 'x')); }

// Acknowledged writes, shared by the client fibers of one test (one thread: SimEnv).
struct Acked {
  std::map<std::string, std::string> kv;
  int write_errors = 0;
  int read_errors = 0;
  int bad_reads = 0;
};

// Writes keys `first`, `first + stride`, ... below `count` in a random order (each key
// once), recording what was acknowledged, until `stop` is notified or the keys run out.
void Writer(TestCluster* c, uint64_t first, uint64_t stride, uint64_t count, Acked* acked,
            const Notification* stop) {
  std::vector<uint64_t> ids;
  for (uint64_t i = first; i < count; i += stride) ids.push_back(i);
  Env* env = c->env();
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[env->Uniform(i)]);
  for (uint64_t id : ids) {
    if (stop != nullptr && stop->HasBeenNotified()) return;
    absl::Status s = c->kv().Put(Key(id), Value(id));
    if (s.ok()) {
      acked->kv[Key(id)] = Value(id);
    } else {
      ++acked->write_errors;
    }
  }
}

// Reads acknowledged keys at random until `stop`: each must hold what was written.
void Reader(TestCluster* c, Acked* acked, const Notification* stop) {
  Env* env = c->env();
  while (!stop->HasBeenNotified()) {
    if (acked->kv.empty()) {
      env->SleepForMicros(10'000);
      continue;
    }
    auto it = acked->kv.begin();
    std::advance(it, env->Uniform(acked->kv.size()));
    std::string key = it->first, want = it->second;
    absl::StatusOr<std::optional<std::string>> v = c->kv().Get(key);
    if (!v.ok()) {
      ++acked->read_errors;
    } else if (*v != want) {
      ++acked->bad_reads;
      ADD_FAILURE() << "read " << key << " = " << v->value_or("<absent>") << ", want " << want;
    }
    env->SleepForMicros(env->Uniform(20'000));
  }
}

// Every acknowledged write reads back, through one scan and point reads.
void CheckAcked(TestCluster* c, const Acked& acked) {
  absl::StatusOr<std::vector<RawKvClient::KvPair>> all = c->kv().Scan("", "");
  ASSERT_TRUE(all.ok()) << all.status();
  std::map<std::string, std::string> got(all->begin(), all->end());
  EXPECT_EQ(got.size(), all->size()) << "scan returned a key twice";
  for (const auto& [k, v] : acked.kv) {
    auto it = got.find(k);
    ASSERT_NE(it, got.end()) << "acknowledged " << k << " is missing";
    EXPECT_EQ(it->second, v) << k;
  }
  std::vector<std::string> keys;
  for (const auto& [k, v] : acked.kv) keys.push_back(k);
  absl::StatusOr<std::vector<std::optional<std::string>>> vs = c->kv().BatchGet(keys);
  ASSERT_TRUE(vs.ok()) << vs.status();
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ((*vs)[i], acked.kv.at(keys[i])) << keys[i];
}

std::string Layout(TestCluster* c) {
  std::vector<std::string> lines;
  for (uint64_t id : c->node_ids()) {
    lines.push_back(absl::StrFormat("store %d: %s, %d regions, %d leaders", id,
                                    c->IsUp(id) ? "up" : "down", c->RegionCount(id),
                                    c->LeaderCount(id)));
  }
  return absl::StrJoin(lines, "\n");
}

TEST(PlacementTest, RegionsSplitUnderWriteLoad) {
  ForEachSeed(1, [](uint64_t seed) {
    TestClusterOptions o;
    o.sim.seed = seed;
    o.region_split_keys = 8;
    o.region_split_size = 2 << 10;
    o.split_check_interval_micros = 300'000;
    TestCluster c(o);
    ASSERT_TRUE(c.Start().ok());
    Acked acked;
    Notification stop;
    constexpr int kWriters = 4, kReaders = 2;
    constexpr uint64_t kKeys = 2'000;
    WaitGroup wg;
    wg.Add(kWriters + kReaders);
    for (int w = 0; w < kWriters; ++w) {
      c.env()->Spawn([&, w, wg]() mutable {
        Writer(&c, w, kWriters, kKeys, &acked, &stop);
        wg.Done();
      });
    }
    for (int r = 0; r < kReaders; ++r) {
      c.env()->Spawn([&, wg]() mutable {
        Reader(&c, &acked, &stop);
        wg.Done();
      });
    }
    // Write until there are 64 regions (or the keys run out), then stop the clients.
    bool split = c.Run(
        [&] {
          while (c.Regions().size() < 64 && acked.kv.size() + acked.write_errors < kKeys) {
            c.env()->SleepForMicros(200'000);
          }
          stop.Notify();
          wg.Wait();
        },
        600'000'000);
    ASSERT_TRUE(split) << "clients did not finish";
    ASSERT_TRUE(c.Run([&] {
      absl::Status s = c.WaitForLeaders();
      ASSERT_TRUE(s.ok()) << s;
    }));
    size_t regions = c.Regions().size();
    EXPECT_GE(regions, 64u) << acked.kv.size() << " keys written\n" << Layout(&c);
    EXPECT_EQ(acked.write_errors, 0);
    EXPECT_EQ(acked.read_errors, 0);
    EXPECT_EQ(acked.bad_reads, 0);
    ASSERT_TRUE(c.Run([&] { CheckAcked(&c, acked); }));
    std::fprintf(stderr, "%s: %zu regions after %zu acknowledged writes, %.1f virtual s\n",
                 c.SeedMessage().c_str(), regions, acked.kv.size(), c.env()->NowMicros() / 1e6);
  });
}

TEST(PlacementTest, CrashedStoreIsRepairedAndRejoins) {
  ForEachSeed(1, [](uint64_t seed) {
    TestClusterOptions o;
    o.sim.seed = seed;
    o.nodes = 4;
    o.max_store_down_time_micros = 10'000'000;
    TestCluster c(o);
    ASSERT_TRUE(c.Start().ok());
    Acked acked;
    ASSERT_TRUE(c.Run([&] {
      for (int i = 1; i < 8; ++i) ASSERT_TRUE(c.SplitRegion(Key(i * 50)).ok());
      Writer(&c, 0, 2, 400, &acked, nullptr);
      absl::Status s = c.WaitForReplication(120'000'000);
      ASSERT_TRUE(s.ok()) << s << "\n" << Layout(&c);
    }));
    // Crash a store holding replicas; keep writing while PD repairs them.
    uint64_t victim = 0;
    for (uint64_t id : c.up_node_ids()) {
      if (c.RegionCount(id) > c.RegionCount(victim)) victim = id;
    }
    ASSERT_NE(victim, 0u);
    const uint64_t crashed_at = c.env()->NowMicros();
    c.Crash(victim);
    uint64_t repaired_at = 0;
    ASSERT_TRUE(c.Run([&] {
      Notification stop;
      WaitGroup wg;
      wg.Add(1);
      c.env()->Spawn([&, wg]() mutable {
        Writer(&c, 1, 2, 400, &acked, &stop);
        wg.Done();
      });
      absl::Status s = c.WaitForReplication(60'000'000);
      repaired_at = c.env()->NowMicros();
      stop.Notify();
      wg.Wait();
      ASSERT_TRUE(s.ok()) << s << "\n" << Layout(&c);
      for (RegionDescription& r : c.Regions()) {
        EXPECT_EQ(std::count(r.stores.begin(), r.stores.end(), victim), 0) << "region " << r.id;
      }
      CheckAcked(&c, acked);
    })) << Layout(&c);
    EXPECT_LE(repaired_at - crashed_at, 60'000'000u);
    std::fprintf(stderr, "%s: store %llu's replicas repaired %.1f virtual s after its crash\n",
                 c.SeedMessage().c_str(), static_cast<unsigned long long>(victim),
                 (repaired_at - crashed_at) / 1e6);
    EXPECT_EQ(acked.write_errors, 0);

    // The store comes back without its unsynced writes and rejoins: the cluster is whole
    // again with it up, and PD may move regions back onto it.
    c.Restart(victim);
    ASSERT_TRUE(c.Run([&] {
      uint64_t deadline = c.env()->NowMicros() + 30'000'000;
      while (!c.IsUp(victim) && c.env()->NowMicros() < deadline) {
        c.env()->SleepForMicros(100'000);
      }
      ASSERT_TRUE(c.IsUp(victim));
      Writer(&c, 0, 1, 20, &acked, nullptr);
      absl::Status s = c.WaitForReplication(60'000'000);
      ASSERT_TRUE(s.ok()) << s << "\n" << Layout(&c);
      CheckAcked(&c, acked);
    })) << Layout(&c);
  });
}

TEST(PlacementTest, AddingTwoStoresBalancesLeadersAndRegions) {
  ForEachSeed(1, [](uint64_t seed) {
    TestClusterOptions o;
    o.sim.seed = seed;
    o.nodes = 3;
    TestCluster c(o);
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(c.Run([&] {
      for (int i = 1; i < 60; ++i) {
        absl::Status s = c.SplitRegion(Key(i * 2));
        ASSERT_TRUE(s.ok()) << s;
      }
      Acked acked;
      Writer(&c, 0, 1, 120, &acked, nullptr);
      ASSERT_EQ(acked.write_errors, 0);
    }));
    ASSERT_EQ(c.Regions().size(), 60u);
    ASSERT_TRUE(c.AddNode(4).ok());
    ASSERT_TRUE(c.AddNode(5).ok());
    auto balanced = [&](std::string* why) {
      size_t regions = 0, leaders = 0;
      for (uint64_t id : c.up_node_ids()) {
        regions += c.RegionCount(id);
        leaders += c.LeaderCount(id);
      }
      const double n = static_cast<double>(c.up_node_ids().size());
      const double region_mean = regions / n, leader_mean = leaders / n;
      for (uint64_t id : c.up_node_ids()) {
        const double r = static_cast<double>(c.RegionCount(id));
        const double l = static_cast<double>(c.LeaderCount(id));
        if (r < 0.8 * region_mean || r > 1.2 * region_mean || l < 0.8 * leader_mean ||
            l > 1.2 * leader_mean) {
          *why = absl::StrFormat("store %d: %v regions (mean %.1f), %v leaders (mean %.1f)", id, r,
                                 region_mean, l, leader_mean);
          return false;
        }
      }
      return leaders == 60 && regions == 180;
    };
    std::string why;
    const uint64_t added_at = c.env()->NowMicros();
    bool ok = c.Run([&] {
      uint64_t deadline = c.env()->NowMicros() + 600'000'000;
      while (!balanced(&why) && c.env()->NowMicros() < deadline) {
        c.env()->SleepForMicros(1'000'000);
      }
      ASSERT_TRUE(balanced(&why)) << why << "\n" << Layout(&c);
      absl::Status s = c.WaitForReplication();
      ASSERT_TRUE(s.ok()) << s;
    });
    ASSERT_TRUE(ok) << Layout(&c);
    std::fprintf(stderr, "%s: balanced %.1f virtual s after adding stores 4 and 5\n%s\n",
                 c.SeedMessage().c_str(), (c.env()->NowMicros() - added_at) / 1e6,
                 Layout(&c).c_str());
  });
}

}  // namespace
}  // namespace rutile::testing
