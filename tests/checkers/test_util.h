// Helpers shared by the checker tests.

#ifndef RUTILE_TESTS_CHECKERS_TEST_UTIL_H_
#define RUTILE_TESTS_CHECKERS_TEST_UTIL_H_

#include <cstdlib>
#include <string>

namespace rutile::checkers {

// Directory of the published checker vectors: $RUTILE_SHARED_DIR (set by CTest)
// or /work/shared, plus /testdata/checkers.
inline std::string CheckerTestdataDir() {
  const char* shared = std::getenv("RUTILE_SHARED_DIR");
  std::string dir = (shared != nullptr && *shared != '\0') ? shared : "/work/shared";
  return dir + "/testdata/checkers";
}

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_TEST_UTIL_H_
