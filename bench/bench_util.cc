#include "bench_util.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "rutile/env.h"
#include "util/sync.h"

namespace rutile::bench {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::pair<double, double>> rates;  // rutile, baseline.
  std::vector<std::pair<std::string, double>> ratios;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

}  // namespace

void RecordRate(const std::string& comparison, const std::string& side, double rate) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto& entry = r.rates[comparison];
  if (side == "baseline") {
    entry.second = rate;
  } else {
    entry.first = rate;
  }
}

void RecordRatio(const std::string& comparison, double value) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.ratios.emplace_back(comparison, value);
}

int RunAndReport(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintRatios();
  return 0;
}

void PrintRatios() {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const auto& [name, rates] : r.rates) {
    if (rates.first > 0 && rates.second > 0) {
      std::printf("RATIO %s %.4g\n", name.c_str(), rates.first / rates.second);
    }
  }
  for (const auto& [name, value] : r.ratios) {
    std::printf("RATIO %s %.4g\n", name.c_str(), value);
  }
  std::fflush(stdout);
}

void OnFiber(const std::function<void()>& fn) {
  WaitGroup wg;
  wg.Add(1);
  Env::Default()->Spawn([&] {
    fn();
    wg.Done();
  });
  wg.Wait();
}

void RunClients(int clients, const std::function<void(int)>& fn) {
  WaitGroup wg;
  wg.Add(clients);
  for (int c = 0; c < clients; ++c) {
    Env::Default()->Spawn([&, c] {
      fn(c);
      wg.Done();
    });
  }
  wg.Wait();
}

}  // namespace rutile::bench
