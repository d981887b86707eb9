// Configuration of a raftstore Store. Plain data.

#ifndef RUTILE_RAFTSTORE_CONFIG_H_
#define RUTILE_RAFTSTORE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rutile::raftstore {

struct StoreConfig {
  // This store's id. The store of a peer is reached at the transport node with the same id.
  uint64_t store_id = 0;

  // Raft timing: one tick every tick_interval_micros of Env time.
  uint64_t tick_interval_micros = 100'000;
  int election_tick = 10;
  int heartbeat_tick = 2;
  // Bytes per MsgApp and bytes of committed entries per Ready.
  uint64_t max_size_per_msg = 1 << 20;
  size_t max_inflight_msgs = 256;

  // Batch system: fibers draining peer mailboxes, peers handled per round, and fibers
  // applying committed entries.
  size_t poller_count = 2;
  size_t max_batch_size = 64;
  size_t apply_pool_size = 2;
  // Proposals queued in one peer's mailbox before ServerIsBusy.
  size_t max_mailbox_messages = 4096;

  // Log GC: every raft_log_gc_tick_ticks ticks a leader proposes CompactLog when more
  // than raft_log_gc_threshold applied entries are in its log. Followers lagging by more
  // than raft_log_gc_count_limit entries are left to catch up by snapshot.
  int raft_log_gc_tick_ticks = 10;
  uint64_t raft_log_gc_threshold = 50;
  uint64_t raft_log_gc_count_limit = 10'000;

  // Lease reads: a leader serves reads locally, without a ReadIndex round, for
  // max_lease_micros after it SENT a message that a quorum then acknowledged (the lease is
  // dated from when the read or proposal was issued, before the send), measured on its
  // own monotonic clock (Env::NowMicros). Wall-clock skew therefore does not matter; what
  // matters is drift: stores' monotonic clocks running at different RATES.
  //
  // The bound. A new leader needs a quorum that intersects the lease's quorum, and a voter
  // that acknowledged the old leader refuses (pre-)votes until election_tick of its own
  // ticks passed since it heard from it (Raft's check_quorum lease; ticks are
  // tick_interval_micros of its clock, the first possibly right after hearing, so at least
  // (election_tick - 1) ticks). If every store's clock runs at between (1 - d) and (1 + d)
  // times true time, with d = max_clock_drift, the old lease expires first when
  //
  //   max_lease_micros <= (election_tick - 1) * tick_interval_micros * (1 - d) / (1 + d)
  //
  // (MaxSafeLeaseMicros). A restarted store may have acknowledged a lease and forgotten,
  // so its peers ignore votes for their first election_tick ticks (as lib/raft does for
  // its own lease reads). 0 means exactly that bound; a larger value is refused by
  // Store::Create. Defaults (10 ticks, d = 5%): 8.14 ticks. Leader transfer and
  // PrepareMerge drop the lease at once.
  uint64_t max_lease_micros = 0;
  // Lease reads at a leader are served in the caller's fiber when the lease allows
  // (Store::LocalRead), without a hop through the poller.
  bool local_read = true;
  // The worst relative rate error of any store's monotonic clock, in [0, 1).
  double max_clock_drift = 0.05;

  // Split checking (TiKV's defaults: split at 96 MiB, check when past 144 MiB... here one
  // threshold each): a leader's region is split in two once its data exceeds
  // region_split_size bytes or region_split_keys keys.
  uint64_t region_split_size = 96ull << 20;
  uint64_t region_split_keys = 960'000;
  uint64_t split_check_interval_micros = 10'000'000;
  // Maps a candidate split key to a valid one (for example strips an MVCC timestamp so
  // versions of one key stay together). Empty result: no split. Null: identity.
  std::function<std::string(std::string_view)> split_key_filter;

  // PD heartbeats.
  uint64_t pd_heartbeat_interval_micros = 10'000'000;
  uint64_t store_heartbeat_interval_micros = 10'000'000;

  // Hibernation: an idle region (leader with every follower caught up, nothing pending,
  // for hibernate_idle_ticks ticks) tells its followers and then none of its peers is
  // ticked until a message or request wakes it, or its leader's store falls silent for
  // 2 * election_tick ticks (stores ping each other every heartbeat_tick ticks; store.h).
  bool hibernate_regions = true;
  int hibernate_idle_ticks = 20;

  // Merge (TiKV's merge_max_log_gap, merge_check_tick_interval): PrepareMerge is refused
  // when a source peer's log lags the leader's by more than this many entries; a merging
  // source pushes its CommitMerge (or rolls back) every merge_check_ticks ticks.
  uint64_t merge_max_log_gap = 128;
  int merge_check_ticks = 3;

  // Snapshot data is sent in chunks of at most this many bytes.
  size_t snapshot_chunk_bytes = 1 << 20;

  // How long RaftKv waits for a proposal or read before DeadlineExceeded.
  uint64_t request_timeout_micros = 10'000'000;
};

// The longest lease reads stay linearizable with (see max_lease_micros); 0 when the
// configuration allows none.
inline uint64_t MaxSafeLeaseMicros(const StoreConfig& c) {
  if (c.election_tick < 2 || c.max_clock_drift < 0 || c.max_clock_drift >= 1) return 0;
  const double ticks = static_cast<double>(c.election_tick - 1);
  return static_cast<uint64_t>(ticks * static_cast<double>(c.tick_interval_micros) *
                               (1 - c.max_clock_drift) / (1 + c.max_clock_drift));
}

}  // namespace rutile::raftstore

#endif  // RUTILE_RAFTSTORE_CONFIG_H_
