#include "rutile/testing/workload.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rutile::testing {
namespace {

std::string ToStd(absl::string_view s) { return std::string(s.data(), s.size()); }

// Runs `phase` of every workload on its own fiber and waits (in virtual time) for all of
// them. Returns the first failure in workload order, or DeadlineExceeded naming the first
// workload that did not finish.
absl::Status RunPhase(Simulation& sim, const std::vector<Workload*>& workloads,
                      WorkloadContext& ctx, const char* phase_name,
                      absl::Status (Workload::*phase)(WorkloadContext&), uint64_t timeout) {
  // Kept on the heap and shared with the fibers: a fiber that overruns the timeout is
  // still blocked when this returns and is unwound only when the Simulation is destroyed.
  auto results = std::make_shared<std::vector<std::optional<absl::Status>>>(workloads.size());
  auto ctx_copy = std::make_shared<WorkloadContext>(ctx);
  for (size_t i = 0; i < workloads.size(); ++i) {
    sim.env()->Spawn([results, ctx_copy, w = workloads[i], phase, i] {
      (*results)[i] = (w->*phase)(*ctx_copy);
    });
  }
  auto all_done = [&] {
    for (const auto& r : *results) {
      if (!r.has_value()) return false;
    }
    return true;
  };
  sim.RunUntil(all_done, timeout);
  for (size_t i = 0; i < workloads.size(); ++i) {
    const auto& r = (*results)[i];
    if (!r.has_value()) {
      return absl::DeadlineExceededError(absl::StrCat(workloads[i]->Name(), ".", phase_name,
                                                      " did not finish in ", timeout, "us"));
    }
    if (!r->ok()) {
      return absl::Status(r->code(), absl::StrCat(workloads[i]->Name(), ".", phase_name, ": ",
                                                  ToStd(r->message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunWorkloads(Simulation& sim, const std::vector<Workload*>& workloads,
                          const WorkloadRunOptions& options) {
  WorkloadContext setup_ctx(&sim, sim.NowMicros());
  absl::Status s =
      RunPhase(sim, workloads, setup_ctx, "Setup", &Workload::Setup, options.setup_timeout_micros);
  if (!s.ok()) return s;

  if (options.nemesis) sim.StartNemesis(options.nemesis_options);
  WorkloadContext start_ctx(&sim, sim.NowMicros() + options.duration_micros);
  s = RunPhase(sim, workloads, start_ctx, "Start", &Workload::Start,
               options.duration_micros + options.start_grace_micros);
  if (options.nemesis) sim.StopNemesis();
  if (!s.ok()) return s;

  sim.RunFor(options.quiet_micros);
  WorkloadContext check_ctx(&sim, start_ctx.start_deadline_micros());
  return RunPhase(sim, workloads, check_ctx, "Check", &Workload::Check,
                  options.check_timeout_micros);
}

SimulationTestResult RunSimulationTest(const SimulationTest& test, uint64_t seed) {
  SimulationTestResult result;
  // Declared before the Simulation so that the workloads outlive it (see workload.h).
  std::vector<std::unique_ptr<Workload>> workloads;
  SimulationOptions options = test.simulation;
  options.seed = seed;
  Simulation sim(options);
  result.seed = sim.seed();
  workloads = test.build(sim);
  std::vector<Workload*> raw;
  for (auto& w : workloads) raw.push_back(w.get());
  absl::Status s = RunWorkloads(sim, raw, test.run);
  if (!s.ok()) {
    s = absl::Status(s.code(),
                     absl::StrCat(ToStd(s.message()), " [", SeedReplayMessage(result.seed), "]"));
  }
  result.status = std::move(s);
  result.trace_hash = sim.TraceHash();
  result.nemesis_log = sim.NemesisLog();
  return result;
}

}  // namespace rutile::testing
