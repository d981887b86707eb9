// rutile::Node: one member of a Rutile cluster inside a host process. It owns the node's
// storage engine (LevelDB under data_dir, or in memory), its RPC endpoint on the given
// Transport, and the multi-raft store serving the regions it holds a replica of.
//
// PD (placement: ids, timestamps, the region map) is for now ONE in-process object hosted
// by one node (host_pd) and shared with the others through Pd handles; it keeps its
// allocator limits in the hosting node's engine and rebuilds its region map from the
// stores after a restart. It is not replicated: the PD Raft group comes later and will
// replace it without changing this header's shape much.
//
// Thread safety: Open and Close must run on a fiber of options.env (for Env::Default(),
// spawn one and wait). A Node may be used from any fiber of its Env.

#ifndef RUTILE_NODE_H_
#define RUTILE_NODE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/transport.h"

namespace rutile {

class Node;
class RawKvClient;
class TxnClient;
namespace node {
struct TxnAccess;  // Internal: lib/node/txn_service.h.
}  // namespace node
namespace node {
struct Access;  // Internal: lib/node's helpers (node_internal.h).
}  // namespace node

// An in-process Transport (LocalTransport) connecting the nodes of one process.
std::unique_ptr<Transport> NewLocalTransport(Env* env);

// A handle on the cluster's (in-process, single) PD. Copy the shared_ptr to every node.
class Pd {
 public:
  ~Pd();
  Pd(const Pd&) = delete;
  Pd& operator=(const Pd&) = delete;

  // A cluster-unique, strictly increasing timestamp from the TSO.
  absl::StatusOr<uint64_t> GetTimestamp();

  // Turns PD's checkers and schedulers on (the default) or off: manual replication, as
  // CockroachDB's ReplicationManual; operators added through Admin still run.
  void SetSchedulingEnabled(bool enabled);
  // Runs one pd-ctl style command (store, region, operator, scheduler and config verbs;
  // grammar in lib/pd/admin.h) and returns its text output.
  absl::StatusOr<std::string> Admin(std::string_view command_line);

  // The GC safe point: MVCC versions older than it that no reader needs may be collected.
  // 0 until set. Update moves it up to `safe_point`, never down, and returns the one in
  // force (durable before it returns).
  absl::StatusOr<uint64_t> GetGcSafePoint();
  absl::StatusOr<uint64_t> UpdateGcSafePoint(uint64_t safe_point);

  struct Impl;

 private:
  friend class Node;
  friend class RawKvClient;
  friend class TxnClient;
  friend struct node::TxnAccess;
  friend struct node::Access;
  explicit Pd(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct NodeOptions {
  // This node's id: its transport node id and its store id. Below 990.
  uint64_t id = 0;
  // Where the engine lives; empty means in memory (lost on Close).
  std::string data_dir;
  // Null means Env::Default().
  Env* env = nullptr;
  // Required; must outlive the node.
  Transport* transport = nullptr;
  // Exactly one node of a cluster hosts the PD; the others get its handle in `pd`, or its
  // node id in `pd_node`.
  bool host_pd = false;
  std::shared_ptr<Pd> pd;
  // Or: the PD is hosted by this node id in another process, reached over `transport`
  // (the hosting node serves it over RPC). Such a node has no Pd handle (pd() is null).
  uint64_t pd_node = 0;
  // How long Open keeps trying to register with a PD in another process (`pd_node`) that
  // is not up yet (its process still starting or still opening): nodes of a cluster may
  // be started in any order.
  uint64_t pd_connect_timeout_micros = 30'000'000;
  // Or: the replicated PD (lib/pd/server.h): these node ids are its members, one Raft
  // group; a node listed here hosts a member in its own engine, and every node reaches the
  // PD leader through a PD client on its endpoint. Such a node has no Pd handle either.
  std::vector<uint64_t> pd_members;
  // Store ids of the first region's replicas. On the first start of a node listed here
  // (an engine with no region yet) the region covering the whole key space is bootstrapped;
  // every node listed must get the same list. Empty: never bootstrap.
  std::vector<uint64_t> initial_stores;
  // Raft timing: one tick every raft_tick_micros, an election after 10 ticks.
  uint64_t raft_tick_micros = 100'000;
  // How often region leaders report to PD.
  uint64_t pd_heartbeat_interval_micros = 1'000'000;
  // Split regions automatically beyond these (0: raftstore's defaults, 96 MiB).
  uint64_t region_split_size = 0;
  uint64_t region_split_keys = 0;
  // Let idle regions tick rarely (cheap when thousands are quiet).
  bool hibernate_regions = true;
  // Bytes of the LevelDB engine's block cache of uncompressed blocks (data_dir only);
  // 0: the engine's default (storage::LevelDbEngineOptions, 8 MiB). Scans of data that
  // fits in it skip reading and decompressing blocks (TiKV sizes its block cache at 45%
  // of the memory); the cache fills only as blocks are read.
  size_t block_cache_bytes = 0;
  // Bytes of the store's columnar cache of region data for coprocessor table scans
  // (sql/coprocessor/column_cache.h: decoded columns of a region's table rows, valid while
  // the region's data and epoch are unchanged; least recently used entries go first).
  // 0 (the default): off. Opt-in, as a TiFlash replica is: it trades memory for repeated
  // analytic scans of data that rarely changes; each write to a region invalidates its
  // entries and the next scan rebuilds them.
  size_t columnar_cache_bytes = 0;
};

class Node {
 public:
  static absl::StatusOr<std::unique_ptr<Node>> Open(const NodeOptions& options);
  // Closes the node (see Close).
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Stops the store and waits for its fibers, unregisters from the transport and closes
  // the engine. Idempotent.
  void Close();

  uint64_t id() const;
  // The PD this node uses (the one it hosts, or options.pd).
  std::shared_ptr<Pd> pd() const;
  // Number of region replicas on this node and how many of them it leads.
  size_t RegionCount() const;
  size_t LeaderCount() const;

  struct Impl;

 private:
  friend class RawKvClient;
  friend class TxnClient;
  friend struct node::TxnAccess;
  friend struct node::Access;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rutile

#endif  // RUTILE_NODE_H_
