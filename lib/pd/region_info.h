// What PD knows about one store and one region: the metadata (metapb) plus the statistics
// their heartbeats carry. Plain values; the Cluster owns and indexes them.

#ifndef RUTILE_PD_REGION_INFO_H_
#define RUTILE_PD_REGION_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "metapb.pb.h"

namespace rutile::pd {

// What a store heartbeat reports.
struct StoreStats {
  uint64_t capacity = 0;
  uint64_t available = 0;
  uint64_t used_size = 0;
  // Counts as the store sees them (PD schedules by its own counts from region heartbeats).
  uint64_t region_count = 0;
  uint64_t leader_count = 0;
  uint64_t sending_snap_count = 0;
  uint64_t receiving_snap_count = 0;
  // Load over the last heartbeat interval.
  uint64_t bytes_written = 0;
  uint64_t keys_written = 0;
  uint64_t bytes_read = 0;
  uint64_t keys_read = 0;
  bool is_busy = false;
};

struct StoreInfo {
  metapb::Store meta;
  StoreStats stats;
  // Env::NowMicros() of the last heartbeat; 0 when the store never sent one.
  uint64_t last_heartbeat_micros = 0;

  // Derived from the regions PD knows (maintained by Cluster).
  uint64_t region_count = 0;
  uint64_t leader_count = 0;
  uint64_t learner_count = 0;
  uint64_t pending_peer_count = 0;
  // Sums of the approximate sizes of the regions with a peer (a leader) on this store.
  uint64_t region_size = 0;
  uint64_t leader_size = 0;

  uint64_t id() const { return meta.id(); }
  bool IsUp() const { return meta.state() == metapb::UP; }
  bool IsOffline() const { return meta.state() == metapb::OFFLINE; }
  bool IsTombstone() const { return meta.state() == metapb::TOMBSTONE; }
  // Time since the last heartbeat (all of `now` when there never was one).
  uint64_t DownTime(uint64_t now_micros) const {
    return now_micros > last_heartbeat_micros ? now_micros - last_heartbeat_micros : 0;
  }
  // True when the store is up and heard from within `max_down_micros`: it may receive
  // new replicas and take part in balancing.
  bool IsHealthy(uint64_t now_micros, uint64_t max_down_micros) const {
    return IsUp() && last_heartbeat_micros != 0 && DownTime(now_micros) < max_down_micros;
  }
  // The value of label `key`, or "" when the store has none.
  std::string Label(const std::string& key) const;
};

// A peer the region leader reports as not responding, and for how long.
struct DownPeer {
  metapb::Peer peer;
  uint64_t down_seconds = 0;
};

struct RegionInfo {
  metapb::Region meta;
  // The leader peer; id 0 when unknown.
  metapb::Peer leader;
  // Approximate size in bytes and number of keys.
  uint64_t approximate_size = 0;
  uint64_t approximate_keys = 0;
  // Traffic over the last heartbeat interval.
  uint64_t written_bytes = 0;
  uint64_t written_keys = 0;
  uint64_t read_bytes = 0;
  uint64_t read_keys = 0;
  // Peers whose log lags (still applying a snapshot, for example).
  std::vector<metapb::Peer> pending_peers;
  std::vector<DownPeer> down_peers;
  // Env::NowMicros() when PD first saw this region's current key range (set by Cluster).
  uint64_t range_since_micros = 0;

  uint64_t id() const { return meta.id(); }
  const std::string& start_key() const { return meta.start_key(); }
  const std::string& end_key() const { return meta.end_key(); }
  uint64_t version() const { return meta.region_epoch().version(); }
  uint64_t conf_ver() const { return meta.region_epoch().conf_ver(); }

  // The peer on `store_id`, or nullptr.
  const metapb::Peer* PeerOnStore(uint64_t store_id) const;
  const metapb::Peer* PeerById(uint64_t peer_id) const;
  // Store ids of all peers, of voters, of followers (voters but the leader), of learners,
  // each in peer order.
  std::vector<uint64_t> StoreIds() const;
  std::vector<uint64_t> VoterStoreIds() const;
  std::vector<uint64_t> FollowerStoreIds() const;
  std::vector<uint64_t> LearnerStoreIds() const;
  size_t VoterCount() const;
  bool IsPending(uint64_t peer_id) const;
  bool IsDown(uint64_t peer_id) const;
  uint64_t leader_store_id() const { return leader.store_id(); }
};

bool IsVoter(const metapb::Peer& peer);
bool IsLearner(const metapb::Peer& peer);

// True when `key` is in [start, end) with an empty end meaning +infinity.
bool KeyInRange(const std::string& key, const std::string& start, const std::string& end);

// Human-readable forms for logs, admin output and test traces.
std::string DescribeKey(const std::string& key);
std::string DescribeRegion(const RegionInfo& region);
std::string DescribeStore(const StoreInfo& store);

}  // namespace rutile::pd

#endif  // RUTILE_PD_REGION_INFO_H_
