// Workloads for simulation tests, after FoundationDB's tester: a Workload is a piece of
// test logic with three phases — Setup (prepare state), Start (do the work while faults
// happen), Check (verify an invariant once the faults are over) — and a test combines
// workloads with a nemesis and runs them for many seeds.
//
// RunWorkloads drives one simulation through the phases: every workload's Setup runs
// concurrently on its own fiber and all must finish; then the nemesis starts (if asked)
// and every Start runs concurrently until it returns (WorkloadContext::Stopping tells a
// Start that its duration is over); then the nemesis stops and undoes its faults, the
// cluster gets a quiet period to recover, and every Check runs. The first failing phase
// ends the run with that workload's status, prefixed by its name and phase.
//
// A workload owns its own state; it must outlive the Simulation it ran in (fibers left
// blocked keep references to it until the Simulation is destroyed), which
// RunSimulationTest arranges.
//
// Thread safety: as Simulation (one thread).

#ifndef RUTILE_TESTING_WORKLOAD_H_
#define RUTILE_TESTING_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rutile/env.h"
#include "rutile/testing/simulation.h"

namespace rutile::testing {

// What a phase of a workload gets.
class WorkloadContext {
 public:
  WorkloadContext(Simulation* sim, uint64_t start_deadline_micros)
      : sim_(sim), start_deadline_micros_(start_deadline_micros) {}

  Simulation& sim() const { return *sim_; }
  // The SimEnv; phases run on fibers of it that belong to no node.
  Env* env() const { return sim_->env(); }
  uint64_t seed() const { return sim_->seed(); }

  // Start phase: the virtual time at which Start should wind down.
  uint64_t start_deadline_micros() const { return start_deadline_micros_; }
  // True once the Start phase's duration is over.
  bool Stopping() const { return sim_->NowMicros() >= start_deadline_micros_; }

 private:
  Simulation* sim_;
  uint64_t start_deadline_micros_;
};

class Workload {
 public:
  virtual ~Workload() = default;

  // A short name for failure messages ("EchoRpc").
  virtual std::string Name() const = 0;

  // Each phase runs on its own fiber of the simulation and may block on it.
  virtual absl::Status Setup(WorkloadContext& ctx) { return absl::OkStatus(); }
  virtual absl::Status Start(WorkloadContext& ctx) = 0;
  virtual absl::Status Check(WorkloadContext& ctx) { return absl::OkStatus(); }
};

struct WorkloadRunOptions {
  // Virtual time the Start phase runs before Stopping() turns true.
  uint64_t duration_micros = 60'000'000;
  // Run a random nemesis during Start.
  bool nemesis = true;
  NemesisOptions nemesis_options;
  // Virtual time between stopping the nemesis and running Check, for the system to
  // recover (leaders to be elected, retries to drain).
  uint64_t quiet_micros = 5'000'000;
  // Limits on each phase, in virtual time; a phase that overruns fails DeadlineExceeded.
  uint64_t setup_timeout_micros = 60'000'000;
  // Extra time Start may take after its duration before it counts as hung.
  uint64_t start_grace_micros = 30'000'000;
  uint64_t check_timeout_micros = 60'000'000;
};

// Runs `workloads` through Setup, Start and Check on `sim` (see the file comment). Call
// from the simulation's thread, outside its fibers. Returns OK or the first failure.
absl::Status RunWorkloads(Simulation& sim, const std::vector<Workload*>& workloads,
                          const WorkloadRunOptions& options);

// A whole simulation test: how to build the cluster and its workloads for a seed.
struct SimulationTest {
  SimulationOptions simulation;  // `seed` is replaced by each run's seed.
  WorkloadRunOptions run;
  // Adds the nodes to `sim` and returns the workloads to run on it.
  std::function<std::vector<std::unique_ptr<Workload>>(Simulation& sim)> build;
};

struct SimulationTestResult {
  uint64_t seed = 0;
  absl::Status status;
  uint64_t trace_hash = 0;
  std::vector<std::string> nemesis_log;
};

// Runs `test` with `seed` in a fresh Simulation and returns its outcome. The status of a
// failure names the seed and how to replay it.
SimulationTestResult RunSimulationTest(const SimulationTest& test, uint64_t seed);

}  // namespace rutile::testing

#endif  // RUTILE_TESTING_WORKLOAD_H_
