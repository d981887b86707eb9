// Deterministic simulation of a cluster in one thread, FoundationDB's simulator in
// spirit: a Simulation owns a SimEnv (virtual time, seeded randomness, one OS thread) and a
// simulated network, runs every node as fibers, and injects faults — partitions, isolated
// nodes, clogged links, crashes and restarts, clock skew, loss, duplication, reordering —
// by hand or from a seeded random nemesis. The same seed gives the same history, which
// TraceHash() summarizes; a failing seed is replayed by setting RUTILE_SIM_SEED.
//
//   rutile::testing::Simulation sim(seed);
//   for (NodeId id : {1, 2, 3}) {
//     sim.AddNode(id, {.start = [](const NodeHandle& n) { /* build node state on n.env */ },
//                      .crash = [](NodeId id) { /* drop volatile state */ }});
//   }
//   sim.StartNemesis(NemesisOptions());
//   sim.RunFor(60'000'000);
//
// Nodes. AddNode registers a node's hooks and starts it: `start` runs on a fiber of the
// node, with the node's own Env (a view of the SimEnv whose wall clock can be skewed and
// which knows whether the node is up) and the shared Transport. Crash(node) cuts the node
// off the network (frames in flight to it are dropped, its receiver is unregistered), makes
// its Env dead and calls `crash`; Restart(node) gives it a fresh Env and runs `start`
// again. Like a killed process, a crashed node's fibers never run again: timers set
// through its Env never fire, and Spawn, Schedule, Sleep and Yield on it throw
// FiberCancelled or do nothing. Those fibers keep their stacks until the Simulation is
// destroyed, so state they reference must stay valid until then (hand them shared_ptrs;
// `crash` drops the node's own reference).
//
// Teardown: ~Simulation crashes every running node (calling `crash`), destroys the
// network, then the SimEnv (which unwinds the remaining fibers), then the hooks.
//
// Thread safety: none. Everything is called from the thread that constructed the
// Simulation, either outside RunFor/RunUntil or from fibers of the simulation.

#ifndef RUTILE_TESTING_SIMULATION_H_
#define RUTILE_TESTING_SIMULATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rutile/env.h"
#include "rutile/transport.h"

namespace rutile::testing {

// The seed in RUTILE_SIM_SEED, if set to a decimal or 0x-hex 64-bit number.
std::optional<uint64_t> SeedFromEnvironment();

// "seed=N (replay with RUTILE_SIM_SEED=N)".
std::string SeedReplayMessage(uint64_t seed);

struct SimulationOptions {
  // Replaced by RUTILE_SIM_SEED when that is set and `seed_from_environment` is true.
  uint64_t seed = 1;
  bool seed_from_environment = true;

  // The simulated network (see SimTransport): latency uniform in [min, max] virtual
  // microseconds, and the probability of each fault per frame.
  uint64_t min_latency_micros = 100;
  uint64_t max_latency_micros = 2'000;
  double loss_probability = 0.0;
  double duplicate_probability = 0.0;
  double reorder_probability = 0.0;
  size_t max_frame_bytes = 64 << 20;
};

// What a node's code gets when it starts.
struct NodeHandle {
  NodeId id = 0;
  // The node's Env for this incarnation: its fibers, timers and (skewable) wall clock.
  Env* env = nullptr;
  // The network shared by every node; register a receiver for `id` on it.
  Transport* transport = nullptr;
  // 1 for the first start, incremented by each Restart.
  uint64_t incarnation = 0;
};

struct NodeHooks {
  // Builds the node; runs on a fiber of the node at AddNode and at each Restart.
  std::function<void(const NodeHandle& node)> start;
  // Drops the node's volatile state when it crashes (and at teardown). Runs on the caller
  // of Crash (a fiber or the simulation thread); must not block. May be null. It can run
  // before the incarnation's `start` has (a crash right after a restart), or while `start`
  // is blocked, so it must cope with a half-built node.
  std::function<void(NodeId id)> crash;
};

// The faults a random nemesis picks from, each with a relative weight (0 = never).
struct NemesisOptions {
  // Time between the start of one fault and the next, uniform in [min, max].
  uint64_t min_interval_micros = 200'000;
  uint64_t max_interval_micros = 2'000'000;
  // How long each fault lasts before the nemesis undoes it, uniform in [min, max].
  uint64_t min_fault_micros = 100'000;
  uint64_t max_fault_micros = 3'000'000;

  int partition_weight = 3;  // Split the nodes into two random non-empty groups.
  int isolate_weight = 2;    // Cut one node off.
  int clog_weight = 2;       // Delay everything to and from one node.
  int crash_weight = 0;      // Crash one node, restart it when the fault ends.
  int skew_weight = 1;       // Skew one node's wall clock by up to max_skew_micros.
  int loss_weight = 1;       // Lose loss_probability of all frames for a while.
  int duplicate_weight = 1;  // Duplicate frames for a while.
  int reorder_weight = 1;    // Reorder frames for a while.

  int64_t max_skew_micros = 500'000;
  double loss_probability = 0.2;
  double duplicate_probability = 0.2;
  double reorder_probability = 0.3;
  // At most this many nodes crashed by the nemesis at once; -1 = a minority.
  int max_crashed = -1;
  // The nodes faults may touch; empty = every node.
  std::vector<NodeId> nodes;
};

class Simulation {
 public:
  explicit Simulation(uint64_t seed);
  explicit Simulation(const SimulationOptions& options);
  ~Simulation();

  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // The seed in use (after RUTILE_SIM_SEED).
  uint64_t seed() const;

  // The SimEnv. Fibers spawned on it belong to no node (a tester, a client outside the
  // cluster) and are not affected by crashes.
  SimEnv* env();

  // The simulated network.
  Transport* transport();

  // Adds node `id` and starts it (its start hook runs on the next RunFor/RunUntil).
  // InvalidArgument for id 0 or a missing start hook, AlreadyExists for a known id.
  absl::Status AddNode(NodeId id, NodeHooks hooks);

  // The nodes added, in increasing order.
  std::vector<NodeId> nodes() const;

  // The Env of the node's current incarnation (null for an unknown node). After a crash,
  // the dead incarnation's Env until Restart.
  Env* node_env(NodeId id);

  bool IsUp(NodeId id) const;

  // Runs the simulation for `micros` of virtual time.
  void RunFor(uint64_t micros);

  // Runs until `done()` holds or `timeout_micros` of virtual time pass; returns done().
  bool RunUntil(const std::function<bool()>& done, uint64_t timeout_micros);

  // Virtual monotonic time, microseconds.
  uint64_t NowMicros();

  // Nemesis. Each call is recorded in NemesisLog() and mixed into the trace hash.

  // Drops frames between nodes of different groups until Heal.
  void Partition(std::vector<std::vector<NodeId>> groups);
  // Drops every frame to or from `node` until Heal.
  void Isolate(NodeId node);
  // Delays frames to and from `node` for `duration_micros`.
  void Clog(NodeId node, uint64_t duration_micros);
  // Removes partitions, isolations and clogs. Crashes, skews and the loss, duplication and
  // reorder rates stay.
  void Heal();
  // Crashes `node` (see the file comment). No-op if it is down already.
  void Crash(NodeId node);
  // Restarts a crashed node with a new incarnation. No-op if it is up.
  void Restart(NodeId node);
  // Adds `delta_micros` to the wall clock of `node`'s Env (all its incarnations).
  void SkewClock(NodeId node, int64_t delta_micros);
  // Changes the per-frame fault probabilities of the network from now on.
  void SetLoss(double probability);
  void SetDuplication(double probability);
  void SetReordering(double probability);

  // Starts a fiber that injects random faults from the seed, as `options` says, each undone
  // after its duration. Replaces a running nemesis.
  void StartNemesis(const NemesisOptions& options);
  // Stops the random nemesis and undoes what it did: heals the network, restarts the
  // nodes it crashed, removes its skews and restores the network's fault rates.
  void StopNemesis();
  bool NemesisRunning() const;

  // One line per nemesis action, "[12.345678s] partition {1 2} {3}".
  const std::vector<std::string>& NemesisLog() const;

  // The SimEnv's trace hash: fiber scheduling, timers, random draws, frame deliveries and
  // nemesis actions.
  uint64_t TraceHash() const;

  // Mixes a caller's event into the trace hash.
  void Trace(uint64_t event);

  // The implementation; opaque outside lib/node.
  struct Rep;
  Rep* rep() { return rep_.get(); }

 private:
  std::unique_ptr<Rep> rep_;
};

}  // namespace rutile::testing

#endif  // RUTILE_TESTING_SIMULATION_H_
