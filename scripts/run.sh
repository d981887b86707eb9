#!/usr/bin/env bash
# The main job: installs what is missing, builds a release tree and runs the main program,
# rutile-server: an embedded 3-node cluster (durable under ./rutile-data) serving SQL over
# the MySQL protocol on 127.0.0.1:4000 (connect with
# `mariadb -h127.0.0.1 -P4000 -uroot`) and the HTTP status port on 10080, until Ctrl-C.
# Arguments go to rutile-server (`scripts/run.sh --demo` runs a scripted session and exits;
# `--help` lists the flags). build/examples/rutile-demo is the embedded-cluster KV demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUTILE_FAILPOINTS=OFF \
  -DRUTILE_BUILD_TESTS=OFF -DRUTILE_BUILD_BENCH=OFF
exec build/examples/rutile-server "$@"
