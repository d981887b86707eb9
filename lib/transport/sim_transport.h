// SimTransport: a simulated network for SimEnv (FoundationDB's sim2 network in spirit).
// It is a LocalTransport hub (same delivery, filters, counters) whose network draws, from
// the Env's seeded random source:
//   - a latency per frame, uniform in [min_latency, max_latency] of virtual time, with a
//     `tail_probability` chance of an extra uniform [0, tail_latency];
//   - loss, duplication and reordering with the given probabilities.
// On top of that a test (or the simulation harness) can
//   - Partition(groups) / Isolate(node) / any filter of filter.h, and Heal();
//   - Clog(node, duration): frames to or from the node, including those already in flight,
//     wait until the clog ends (never before), then go on in order;
//   - Crash(node): every frame in flight to the node is dropped, its receiver is
//     unregistered, and frames to or from it are dropped (kCrashed) until Restart(node);
//     the restarted node registers a receiver again.
//
// Order: with no reordering and no duplication, frames of one sender→receiver pair arrive
// in the order sent (a later frame never overtakes an earlier one, whatever latencies are
// drawn). A duplicate or a reordered frame ignores that rule.
//
// Determinism: every decision uses Env::Random64 and ordered containers, and each
// delivery is mixed into SimEnv::Trace (when the Env is a SimEnv), so a seed gives the
// same delivery order and trace hash. Works with any Env, but only SimEnv makes runs
// repeatable.
//
// Thread safety: as LocalTransport.

#ifndef RUTILE_TRANSPORT_SIM_TRANSPORT_H_
#define RUTILE_TRANSPORT_SIM_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rutile/env.h"
#include "transport/local_transport.h"

namespace rutile::transport {

struct SimTransportOptions {
  uint64_t min_latency_micros = 100;
  uint64_t max_latency_micros = 2'000;
  double tail_probability = 0.0;
  uint64_t tail_latency_micros = 50'000;

  double loss_probability = 0.0;
  double duplicate_probability = 0.0;
  // A reordered frame gets an extra uniform [0, reorder_window] delay and may overtake.
  double reorder_probability = 0.0;
  uint64_t reorder_window_micros = 10'000;

  size_t max_frame_bytes = 64 << 20;
  // Mix every delivery into SimEnv::Trace (when the Env is a SimEnv).
  bool trace_deliveries = true;

  metrics::Registry* registry = nullptr;
  std::string metrics_label = "sim";
};

class SimTransport : public LocalTransport {
 public:
  // `env` must outlive the transport and every frame in flight on it.
  explicit SimTransport(Env* env, SimTransportOptions options = SimTransportOptions());
  ~SimTransport() override;

  // Changes the fault probabilities and latency for frames sent from now on.
  void SetLoss(double probability);
  void SetDuplication(double probability);
  void SetReordering(double probability);
  void SetLatency(uint64_t min_micros, uint64_t max_micros);

  // Delays every frame to or from `node` until `duration_micros` from now (extends, never
  // shortens, a running clog).
  void Clog(NodeId node, uint64_t duration_micros);

  // Delays frames from `from` to `to` (one direction) until `duration_micros` from now.
  void ClogPair(NodeId from, NodeId to, uint64_t duration_micros);

  // Drops everything in flight to `node`, unregisters its receiver, and drops frames to or
  // from it until Restart. Idempotent.
  void Crash(NodeId node);

  // Lets frames reach `node` again; the node must Register a receiver to get them.
  void Restart(NodeId node);

  bool IsCrashed(NodeId node) const;

  // Removes every filter (releasing held frames) and lifts every clog, so frames sent from
  // now on pass at once; frames a clog already parked still wait for that clog's end.
  // Crashed nodes stay crashed, and loss/duplication/reordering stay as set.
  void Heal() override;

  // The network model; opaque outside sim_transport.cc.
  class Network;

 private:
  SimTransport(Env* env, SimTransportOptions options, std::shared_ptr<Network> network);

  std::shared_ptr<Network> network_;
};

}  // namespace rutile::transport

#endif  // RUTILE_TRANSPORT_SIM_TRANSPORT_H_
