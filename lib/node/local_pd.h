// LocalPd: an in-process placement driver implementing raftstore::PdClient over the pure
// PD core (lib/pd): pd::Cluster for the region map built from heartbeats and split
// reports, pd::IdAllocator and pd::TsoAllocator over an AllocatorStorage kept in a
// storage::Engine (EngineAllocatorStorage: two keys in CF default, written synced).
//
// STEPPING STONE: this PD is one object in one process, not a Raft group. It is as
// durable as the engine it persists its allocator limits in (the first node's), and its
// region map lives in memory only: after a restart it is rebuilt from what the stores
// report (Node::Open seeds it with the regions in the local engine, then region
// heartbeats keep it current). Scheduling (pd::Scheduling: checkers, schedulers, operators)
// runs from heartbeats and a region's next operator step goes back in its heartbeat reply
// (ToRegionOperator).
//
// Thread safety: every method may be called from any fiber concurrently.

#ifndef RUTILE_NODE_LOCAL_PD_H_
#define RUTILE_NODE_LOCAL_PD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metapb.pb.h"
#include "pd/alloc_storage.h"
#include "pd/id_allocator.h"
#include "pd/operator.h"
#include "pd/scheduling.h"
#include "pd/tso.h"
#include "raftstore/pd_client.h"
#include "rutile/env.h"
#include "storage/engine.h"
#include "util/sync.h"

namespace rutile::node {

// AllocatorStorage on a storage::Engine: the limits are fixed-width values under local
// (0x01-prefixed, outside raftstore's 'z' data space and 0x01 'r' region metadata) keys of
// CF default, written with sync. `id_floor` is returned as the id limit while none was
// saved, so ids below it stay free for bootstrap (the first region and its peers).
class EngineAllocatorStorage final : public pd::AllocatorStorage {
 public:
  EngineAllocatorStorage(storage::Engine* engine, uint64_t id_floor);

  absl::StatusOr<uint64_t> LoadTimestampLimit() override;
  absl::Status SaveTimestampLimit(uint64_t limit_ms) override;
  absl::StatusOr<uint64_t> LoadIdLimit() override;
  absl::Status SaveIdLimit(uint64_t limit) override;

  static const std::string& TimestampKey();
  static const std::string& IdKey();
  static const std::string& GcSafePointKey();

  absl::StatusOr<uint64_t> Load(const std::string& key);
  absl::Status Save(const std::string& key, uint64_t value);

 private:
  storage::Engine* const engine_;
  const uint64_t id_floor_;
};

// Ids below this are reserved for bootstrap: region 1 and peers kBootstrapPeerIdBase +
// store id (store ids must stay below kFirstAllocatedId - kBootstrapPeerIdBase).
inline constexpr uint64_t kBootstrapRegionId = 1;
inline constexpr uint64_t kBootstrapPeerIdBase = 10;
inline constexpr uint64_t kFirstAllocatedId = 1000;

// The instruction a region leader gets for an operator step. An active merge step names
// the target region as `cluster` knows it now; a passive one (and a merge whose target PD
// no longer knows) has none.
std::optional<raftstore::RegionOperator> ToRegionOperator(const pd::OpStep& step,
                                                          const pd::Cluster& cluster);

// PD's defaults for a node-hosted PD: the core's.
pd::SchedulingOptions DefaultSchedulingOptions();

// What the PD's clients (RawKvClient, TxnClient, rutile::Pd) need from it, whichever PD it
// is: the in-process LocalPd or the replicated PD reached through its client
// (ReplicatedPd). Every method may be called from any fiber concurrently.
class PdApi {
 public:
  struct RegionRoute {
    metapb::Region region;
    metapb::Peer leader;  // id 0 when unknown.
  };

  virtual ~PdApi() = default;
  // A timestamp from the TSO.
  virtual absl::StatusOr<uint64_t> GetTimestamp() = 0;
  // The region containing `key`, NotFound when PD knows none.
  virtual absl::StatusOr<RegionRoute> GetRegionByKey(const std::string& key) = 0;
  // Every region in key order.
  virtual absl::StatusOr<std::vector<RegionRoute>> Regions() = 0;
  // Turns the checkers and schedulers on or off (manual replication when off).
  virtual absl::Status SetSchedulingEnabled(bool enabled) = 0;
  // Runs one pd-ctl style admin command (pd::Admin::Execute).
  virtual absl::StatusOr<std::string> AdminExecute(std::string_view command_line) = 0;
  // The GC safe point (0 until set), and moving it up to `safe_point` (never down),
  // returning the one in force.
  virtual absl::StatusOr<uint64_t> GetGcSafePoint() = 0;
  virtual absl::StatusOr<uint64_t> UpdateGcSafePoint(uint64_t safe_point) = 0;
};

class LocalPd final : public raftstore::PdClient, public PdApi {
 public:
  // `engine` holds the allocator limits and must outlive the PD. Loads the limits and
  // starts the TSO (errors: the engine's).
  static absl::StatusOr<std::unique_ptr<LocalPd>> Open(
      Env* env, storage::Engine* engine,
      const pd::SchedulingOptions& scheduling = DefaultSchedulingOptions());
  ~LocalPd() override;

  // raftstore::PdClient.
  absl::StatusOr<uint64_t> AllocId() override;
  absl::StatusOr<std::vector<raftstore::SplitIds>> AskBatchSplit(const metapb::Region& region,
                                                                 size_t count) override;
  absl::StatusOr<std::optional<raftstore::RegionOperator>> RegionHeartbeat(
      const metapb::Region& region, const metapb::Peer& leader,
      const raftstore::RegionStats& stats) override;
  absl::Status ReportBatchSplit(const std::vector<metapb::Region>& regions) override;
  absl::Status StoreHeartbeat(const raftstore::StoreStats& stats) override;

  // Registers a store (Node::Open).
  absl::Status PutStore(uint64_t store_id);
  // Tells PD about a region a store holds (no leader known); ignored when stale.
  void ReportRegion(const metapb::Region& region);

  // PdApi.
  absl::StatusOr<uint64_t> GetTimestamp() override;
  absl::StatusOr<uint64_t> GetGcSafePoint() override;
  absl::StatusOr<uint64_t> UpdateGcSafePoint(uint64_t safe_point) override;
  absl::StatusOr<RegionRoute> GetRegionByKey(const std::string& key) override;
  absl::StatusOr<std::vector<RegionRoute>> Regions() override;  // Never fails.
  absl::Status SetSchedulingEnabled(bool enabled) override;     // Never fails.
  absl::StatusOr<std::string> AdminExecute(std::string_view command_line) override;
  // Runs `fn` on the scheduling state under the PD's lock (tests, admin).
  void WithScheduling(const std::function<void(pd::Scheduling&)>& fn);

 private:
  LocalPd(Env* env, storage::Engine* engine, const pd::SchedulingOptions& scheduling);

  Env* const env_;
  EngineAllocatorStorage storage_;
  pd::IdAllocator ids_;
  pd::TsoAllocator tso_;
  // A fiber mutex: the id allocator may wait on a synced engine write under it.
  Mutex mu_;
  pd::Scheduling sched_;  // guarded by mu_
  Mutex gc_mu_;           // serializes safe point updates
};

}  // namespace rutile::node

#endif  // RUTILE_NODE_LOCAL_PD_H_
