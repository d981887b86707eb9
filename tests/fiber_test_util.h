// Test helper: run a function on a fiber of Env::Default() and wait for it from the test's
// thread (Rutile's primitives must be used from fibers).

#ifndef RUTILE_TESTS_FIBER_TEST_UTIL_H_
#define RUTILE_TESTS_FIBER_TEST_UTIL_H_

#include <functional>

#include "rutile/env.h"
#include "util/sync.h"

namespace rutile {

inline void OnFiber(const std::function<void()>& fn) {
  WaitGroup wg;
  wg.Add(1);
  Env::Default()->Spawn([&] {
    fn();
    wg.Done();
  });
  wg.Wait();
}

}  // namespace rutile

#endif  // RUTILE_TESTS_FIBER_TEST_UTIL_H_
