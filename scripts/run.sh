#!/usr/bin/env bash
# The main job: installs what is missing, builds a release tree and runs the main program.
# Until the SQL server exists, the main program is rutile-demo: an embedded 3-node cluster
# (PD and store roles, durable LevelDB under ./rutile-data) that writes, splits, reads back
# and verifies keys, and on a rerun first checks that the previous run's data survived.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUTILE_FAILPOINTS=OFF \
  -DRUTILE_BUILD_TESTS=OFF -DRUTILE_BUILD_BENCH=OFF
exec build/examples/rutile-demo "$@"
