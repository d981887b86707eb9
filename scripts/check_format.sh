#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what .clang-format asks for.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format: $f is not clang-formatted"; bad=1
  fi
done < <(git ls-files '*.h' '*.cc' '*.cpp')
if [ $bad = 0 ]; then echo "format: ok"; fi
exit $bad
