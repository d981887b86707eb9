// TestCluster: N Rutile nodes in one process for tests, CockroachDB's TestCluster and
// TiKV's test_raftstore::Cluster in spirit. Each node is a rutile::Node on an in-memory
// engine that survives a crash minus its unsynced writes. The placement driver is, by
// default, the replicated PD: its members (one Raft group) are hosted by nodes 1..3 as
// Node does with NodeOptions::pd_members, so crashing one of those nodes crashes a PD
// member and may force a PD leader failover; the clients (RawKvClient, pd(), TxnClient over
// pd()) reach the PD leader through a pd::Client with failover on an endpoint of their own
// (transport id 999). Option replicated_pd = false puts one in-process PD beside the nodes
// instead, which never crashes. A RawKvClient reaches the stores of whichever nodes are up.
//
// Two modes:
//   - simulated (the default): a Simulation (SimEnv + SimTransport) runs every node as
//     fibers of one thread on virtual time; the same seed gives the same history, and
//     Partition/Heal/Crash/Restart and the random nemesis of the Simulation apply;
//   - real: Env::Default() and a LocalTransport, real time and real threads.
//
//   rutile::testing::TestClusterOptions o;
//   o.nodes = 3;
//   o.sim.seed = seed;
//   rutile::testing::TestCluster c(o);
//   ASSERT_TRUE(c.Start().ok());
//   ASSERT_TRUE(c.Run([&] {
//     ASSERT_TRUE(c.kv().Put("a", "1").ok());
//     ASSERT_TRUE(c.SplitRegion("m").ok());
//   }));
//   c.Crash(2);
//   c.RunFor(5'000'000);
//   c.Restart(2);
//
// Calling conventions. Control verbs — Start, Partition, Heal, Crash, Restart, AddNode,
// RunFor, Run — are called from the test's thread, outside Run (in simulated mode
// Partition, Heal, Crash and Restart may also be called from a fiber of env()). Blocking
// verbs — kv(), SplitRegion, TransferLeader, WaitForReplication, WaitForLeaders,
// PdCtl — run on a fiber of env(): pass them to Run.
//
// Crash. In simulated mode a crash is a killed process: the node's fibers never run again,
// its network is cut, and its engine drops every write that was not synced. In real mode
// Crash closes the node (waiting for its fibers) and then drops the unsynced writes. Either
// way the node's store id and engine stay; Restart opens a new incarnation over them.
//
// Thread safety: as Simulation in simulated mode (one thread); in real mode the blocking
// verbs may run on any fiber concurrently, the control verbs on the test's thread only.

#ifndef RUTILE_TESTING_CLUSTER_H_
#define RUTILE_TESTING_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/testing/simulation.h"

namespace rutile::testing {

struct TestClusterOptions {
  // Nodes started by Start, ids 1..nodes. The first region is bootstrapped with a replica
  // on each of the first min(nodes, 3) of them.
  int nodes = 3;
  // Simulated (SimEnv + SimTransport, seeded) or real (Env::Default() + LocalTransport).
  bool simulated = true;
  // The simulation's seed and network (simulated mode only).
  SimulationOptions sim;

  // Raft tick; an election takes 10 ticks.
  uint64_t raft_tick_micros = 50'000;
  // How often region leaders and stores report to PD.
  uint64_t pd_heartbeat_interval_micros = 500'000;
  // Automatic splits beyond these (0: the defaults, 96 MiB), checked this often.
  uint64_t region_split_size = 0;
  uint64_t region_split_keys = 0;
  uint64_t split_check_interval_micros = 1'000'000;
  bool hibernate_regions = true;

  // Manual replication (CockroachDB's ReplicationManual): PD runs no checker and no
  // scheduler, so regions move only through explicit verbs (SplitRegion, TransferLeader,
  // PdCtl operators).
  bool manual_replication = false;
  // How long a store may be silent before PD declares it down and repairs its replicas
  // elsewhere (0: PD's default, 30 minutes).
  uint64_t max_store_down_time_micros = 0;
  // Replicas per region PD aims for.
  int max_replicas = 3;

  // The client's deadlines and backoff.
  RawKvOptions kv;

  // The replicated PD on nodes 1..min(nodes, 3) (see the file comment), or one LocalPd
  // beside the nodes (false). Its configuration (scheduling on/off, pd-ctl "config set"
  // and "scheduler" verbs) is replicated, so it survives PD leader changes.
  bool replicated_pd = true;
};

class TestCluster {
 public:
  explicit TestCluster(const TestClusterOptions& options);
  // Stops every node (in simulated mode, crashes them with the simulation's teardown).
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  // Starts the PD and nodes 1..options.nodes and waits until every node is open and the
  // first region has a leader. Errors: a node that failed to open (its status), or
  // DeadlineExceeded when no leader was elected within 30 (virtual) seconds.
  absl::Status Start();

  // The seed in use (simulated mode; 0 in real mode) and "seed=N (replay with ...)".
  uint64_t seed() const;
  std::string SeedMessage() const;

  // The Env clients run on: the SimEnv, or Env::Default().
  Env* env();
  // The Simulation (null in real mode), for its nemesis, trace hash and log.
  Simulation* sim();

  // Runs `fn` on a fiber of env() and the cluster until it returns; false if it did not
  // within `timeout_micros` (virtual time; in real mode the wait has no limit).
  bool Run(std::function<void()> fn, uint64_t timeout_micros = 600'000'000);
  // Lets `micros` of time pass (virtual in simulated mode, real otherwise).
  void RunFor(uint64_t micros);

  // A client over every node, valid until the cluster is destroyed. Blocking verb.
  RawKvClient& kv();
  // The PD handle (timestamps, GC safe point, admin); its calls are blocking verbs.
  std::shared_ptr<Pd> pd();
  // The PD members' node ids (empty with replicated_pd = false), and the member serving as
  // the PD leader now (0: none, or not replicated).
  std::vector<uint64_t> pd_members() const;
  uint64_t PdLeader();

  // Every node id ever added, ascending; the ones up now.
  std::vector<uint64_t> node_ids() const;
  std::vector<uint64_t> up_node_ids() const;
  bool IsUp(uint64_t id) const;
  // The node's current incarnation, null when it is down.
  Node* node(uint64_t id);

  // Network faults between groups of nodes until Heal (simulated mode only; real mode:
  // the LocalTransport's partition filter).
  void Partition(std::vector<std::vector<uint64_t>> groups);
  void Heal();
  // See the file comment. No-op for a node that is down or unknown.
  void Crash(uint64_t id);
  // Opens a new incarnation of a crashed node over its engine. No-op when it is up.
  void Restart(uint64_t id);
  // Adds and starts an empty node `id` (replicas arrive through PD's schedulers or
  // PdCtl). InvalidArgument for id 0 or >= 990, AlreadyExists for a known id.
  absl::Status AddNode(uint64_t id);

  // Turns PD's checkers and schedulers off (true) or on (false). Control verb (a PD call,
  // run on a fiber of its own).
  void SetManualReplication(bool manual);

  // Blocking verbs (run on a fiber of env()).

  // Splits the region holding `key` so that `key` starts a region (no-op when it does) and
  // waits until that region has a leader (DeadlineExceeded after `timeout_micros`).
  absl::Status SplitRegion(const std::string& key, uint64_t timeout_micros = 10'000'000);
  // Makes the replica on store `to_store` the leader of region `region_id` and waits until
  // it leads (or `timeout_micros` pass: DeadlineExceeded). NotFound for an unknown region,
  // InvalidArgument when the region has no replica on `to_store`.
  absl::Status TransferLeader(uint64_t region_id, uint64_t to_store,
                              uint64_t timeout_micros = 10'000'000);
  // Waits until the regions on the up nodes tile the whole key space, each has a leader,
  // every region has exactly `max_replicas` voters all on up nodes, and each replica has
  // applied as far as its leader with the same epoch. DeadlineExceeded (naming what was
  // still missing) when that does not happen within `timeout_micros`.
  absl::Status WaitForReplication(uint64_t timeout_micros = 30'000'000);
  // Waits until every region on the up nodes has a leader (replica count not checked).
  absl::Status WaitForLeaders(uint64_t timeout_micros = 30'000'000);
  // A pd-ctl command line against the PD ("store", "region", "operator add
  // transfer-leader 2 3", "scheduler show", "config set ...").
  absl::StatusOr<std::string> PdCtl(const std::string& command_line);

  // Views.

  // The regions as the leaders on up nodes report them, in key order (one per region id,
  // the newest epoch), with the leader's store.
  std::vector<RegionDescription> Regions();
  // Region replicas and leaders per up node.
  size_t RegionCount(uint64_t id);
  size_t LeaderCount(uint64_t id);

  struct Rep;

 private:
  std::unique_ptr<Rep> rep_;
};

}  // namespace rutile::testing

#endif  // RUTILE_TESTING_CLUSTER_H_
