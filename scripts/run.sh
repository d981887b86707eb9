#!/usr/bin/env bash
# The main job: installs what is missing, builds a release tree and runs the main program.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUTILE_FAILPOINTS=OFF
exec build/examples/rutile-server "$@"
