// Hibernation at 10,000 regions (hibernate_test.cc runs the same scenario at 200).

#include "raftstore/hibernate_scale.h"

namespace rutile::raftstore {
namespace {

TEST(HibernateSlowTest, TenThousandIdleRegionsCostLittleAndOneWakesOnAWrite) {
  hibernate_scale::Run(10'000, 42);
}

}  // namespace
}  // namespace rutile::raftstore
