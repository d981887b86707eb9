// Shared helpers for Rutile's Google Benchmark programs: collecting throughput of a
// Rutile case and its baseline in the same run and printing `RATIO <case> <value>`.
#ifndef RUTILE_BENCH_BENCH_UTIL_H_
#define RUTILE_BENCH_BENCH_UTIL_H_

#include <functional>
#include <string>

namespace rutile::bench {

// Records the rate (items per second) of one side of a comparison. `side` is "rutile" or
// "baseline". Thread-safe.
void RecordRate(const std::string& comparison, const std::string& side, double rate);

// Records an arbitrary ratio line, printed as-is at the end.
void RecordRatio(const std::string& comparison, double value);

// Prints one `RATIO <comparison> <rutile/baseline>` line per comparison with both sides
// recorded, then every RecordRatio line. For programs that run benchmarks themselves
// (for example with their own reporter).
void PrintRatios();

// Runs the registered benchmarks with the usual flags, then prints one
// `RATIO <comparison> <rutile/baseline>` line per comparison with both sides recorded.
int RunAndReport(int argc, char** argv);

// Runs `fn` on a fiber of Env::Default() (where cluster calls must run) and waits for it.
void OnFiber(const std::function<void()>& fn);

// Runs `fn(client)` on `clients` fibers of Env::Default() at once and waits for all.
void RunClients(int clients, const std::function<void(int)>& fn);

}  // namespace rutile::bench

#endif  // RUTILE_BENCH_BENCH_UTIL_H_
