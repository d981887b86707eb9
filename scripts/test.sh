#!/usr/bin/env bash
# The test suite: installs what is missing, builds with ASan+UBSan and runs `ctest -L fast`,
# then checks formatting. This is exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
scripts/build.sh build/asan -DCMAKE_BUILD_TYPE=Debug -DRUTILE_SANITIZE="address;undefined" \
  -DRUTILE_WERROR=$werror
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
(cd build/asan && ctest -L fast --output-on-failure -j"$(nproc)" --timeout 900) || status=$?
scripts/check_format.sh || status=$?
exit $status
