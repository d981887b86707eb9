// Shared by every fuzz target in tests/fuzz/. A target defines the libFuzzer entry point
// LLVMFuzzerTestOneInput and, for the deterministic driver that runs in every build (g++
// included), FuzzSeeds(): a few valid inputs the driver mutates, so the pseudo-random
// corpus reaches past the first format check.
//
// A target reports a bug by calling FuzzCheck(false, ...), which aborts; inputs that are
// merely invalid must be rejected with a status, never by aborting.

#ifndef RUTILE_TESTS_FUZZ_FUZZ_DRIVER_H_
#define RUTILE_TESTS_FUZZ_FUZZ_DRIVER_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace rutile::fuzz {

// Valid inputs for the driver to mutate. Defined by each target.
std::vector<std::string> FuzzSeeds();

// Aborts with `what` when `ok` is false. For invariant violations only.
inline void FuzzCheck(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace rutile::fuzz

#endif  // RUTILE_TESTS_FUZZ_FUZZ_DRIVER_H_
