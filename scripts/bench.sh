#!/usr/bin/env bash
# `make bench`: a release build, fresh Redis and PostgreSQL on loopback ports, then the benchmark
# (Sources/CalsyncBench), which serves the provider sandbox itself, spawns the release `calsync`,
# prints the table and writes bench/results.md. Extra arguments go to the benchmark, e.g.
#
#   scripts/bench.sh --only export,import
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SWIFT=${SWIFT:-swift}

"$SWIFT" build -c release --product calsync
"$SWIFT" build -c release --product CalsyncBench
CALSYNC_BENCH_SWIFT_VERSION="$("$SWIFT" --version 2>/dev/null | head -n 1)"
export CALSYNC_BENCH_SWIFT_VERSION
exec scripts/with-services.sh .build/release/CalsyncBench --calsync .build/release/calsync --output bench/results.md "$@"
