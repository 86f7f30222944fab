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
cleanup() { "$here/services.sh" stop "$dir"; }
trap cleanup EXIT INT TERM

export CALSYNC_TEST_REDIS_PORT=${CALSYNC_TEST_REDIS_PORT:-$(free_port)}
export CALSYNC_TEST_PG_PORT=${CALSYNC_TEST_PG_PORT:-$(free_port)}
"$here/services.sh" start "$dir"
# shellcheck disable=SC1091
source "$dir/env"
"$@"
