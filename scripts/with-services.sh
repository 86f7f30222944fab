#!/usr/bin/env bash
# Runs a command with fresh Redis and PostgreSQL servers on free loopback ports,
# started in a temporary folder and stopped (with the folder removed) when it exits.
#
#   scripts/with-services.sh swift test
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/calsync-services.XXXXXX")
cleanup() {
    # Servers the command itself started (tests restart private ones) live under $dir/tmp:
    # whatever still runs from there is stopped, so nothing outlives the run.
    for pid in $(pgrep -x redis-server 2>/dev/null); do
        case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in "$dir"/tmp/*) kill -9 "$pid" 2>/dev/null || true ;; esac
    done
    for pidfile in $(find "$dir/tmp" -name postmaster.pid 2>/dev/null); do
        kill -9 "$(head -n 1 "$pidfile")" 2>/dev/null || true
    done
    "$here/services.sh" stop "$dir"
}
trap cleanup EXIT INT TERM

export CALSYNC_TEST_REDIS_PORT=${CALSYNC_TEST_REDIS_PORT:-$(free_port)}
export CALSYNC_TEST_PG_PORT=${CALSYNC_TEST_PG_PORT:-$(free_port)}
export CALSYNC_TEST_RADICALE_PORT=${CALSYNC_TEST_RADICALE_PORT:-$(free_port)}
export CALSYNC_TEST_XANDIKOS_PORT=${CALSYNC_TEST_XANDIKOS_PORT:-$(free_port)}
"$here/services.sh" start "$dir"
# shellcheck disable=SC1091
source "$dir/env"
mkdir -p "$dir/tmp"
chmod 755 "$dir/tmp"
export TMPDIR="$dir/tmp"
"$@"
