// Hibernation at scale: many idle regions on a store cost little once quiet. Every store
// hosts a peer of each of N regions; once every region has a leader and no writes come,
// all of them hibernate, and over the next virtual seconds the stores' Raft ticks and
// messages per region are bounded by the hibernating rate (one tick in
// hibernate_tick_multiplier, and heartbeats at that slower pace), a small fraction of an
// awake region's. A write to one region wakes that region alone, applies everywhere, and
// the region goes back to sleep. The 10,000-region variant is hibernate_slow_test.cc; this one runs
// 200 (81 s under ASan at 1,000 on a loaded machine).

#include "raftstore/hibernate_scale.h"

namespace rutile::raftstore {
namespace {

TEST(HibernateTest, TwoHundredIdleRegionsCostLittleAndOneWakesOnAWrite) {
  hibernate_scale::Run(200, 41);
}

}  // namespace
}  // namespace rutile::raftstore
