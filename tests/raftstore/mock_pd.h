// An in-memory PdClient for raftstore tests: allocates ids, keeps the newest descriptor of
// every region it hears about (heartbeats and split reports), and hands out operators the
// test queued for a region (one per heartbeat).
//
// Thread safety: every method may be called from any fiber.

#ifndef RUTILE_TESTS_RAFTSTORE_MOCK_PD_H_
#define RUTILE_TESTS_RAFTSTORE_MOCK_PD_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "raftstore/pd_client.h"

namespace rutile::raftstore {

class MockPd final : public PdClient {
 public:
  explicit MockPd(uint64_t first_id = 1000) : next_id_(first_id) {}

  absl::StatusOr<uint64_t> AllocId() override {
    absl::MutexLock lock(&mu_);
    return next_id_++;
  }

  absl::StatusOr<std::vector<SplitIds>> AskBatchSplit(const metapb::Region& region,
                                                      size_t count) override {
    absl::MutexLock lock(&mu_);
    std::vector<SplitIds> out(count);
    for (SplitIds& s : out) {
      s.new_region_id = next_id_++;
      for (int i = 0; i < region.peers_size(); ++i) s.new_peer_ids.push_back(next_id_++);
    }
    ++split_asks_;
    return out;
  }

  absl::StatusOr<std::optional<RegionOperator>> RegionHeartbeat(const metapb::Region& region,
                                                                const metapb::Peer& leader,
                                                                const RegionStats& stats) override {
    absl::MutexLock lock(&mu_);
    ++region_heartbeats_;
    Update(region);
    leaders_[region.id()] = leader;
    auto it = operators_.find(region.id());
    if (it == operators_.end() || it->second.empty()) return std::nullopt;
    RegionOperator op = it->second.front();
    it->second.pop_front();
    return op;
  }

  absl::Status ReportBatchSplit(const std::vector<metapb::Region>& regions) override {
    absl::MutexLock lock(&mu_);
    for (const metapb::Region& r : regions) Update(r);
    return absl::OkStatus();
  }

  absl::Status StoreHeartbeat(const StoreStats& stats) override {
    absl::MutexLock lock(&mu_);
    stores_[stats.store_id] = stats;
    return absl::OkStatus();
  }

  // Test side.
  void AddOperator(uint64_t region_id, RegionOperator op) {
    absl::MutexLock lock(&mu_);
    operators_[region_id].push_back(std::move(op));
  }
  void PutRegion(const metapb::Region& r) {
    absl::MutexLock lock(&mu_);
    Update(r);
  }
  std::map<uint64_t, metapb::Region> regions() {
    absl::MutexLock lock(&mu_);
    return regions_;
  }
  uint64_t region_heartbeats() {
    absl::MutexLock lock(&mu_);
    return region_heartbeats_;
  }
  uint64_t split_asks() {
    absl::MutexLock lock(&mu_);
    return split_asks_;
  }
  std::map<uint64_t, StoreStats> stores() {
    absl::MutexLock lock(&mu_);
    return stores_;
  }

 private:
  void Update(const metapb::Region& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = regions_.find(r.id());
    if (it != regions_.end()) {
      const metapb::RegionEpoch& a = it->second.region_epoch();
      const metapb::RegionEpoch& b = r.region_epoch();
      if (b.version() < a.version() || b.conf_ver() < a.conf_ver()) return;
    }
    regions_[r.id()] = r;
  }

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_);
  uint64_t split_asks_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t region_heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, metapb::Region> regions_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, metapb::Peer> leaders_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::deque<RegionOperator>> operators_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, StoreStats> stores_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rutile::raftstore

#endif  // RUTILE_TESTS_RAFTSTORE_MOCK_PD_H_
