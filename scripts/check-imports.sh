#!/usr/bin/env bash
# Fails when a target imports a module its layer forbids (`make test` runs it before the tests).
#   CalsyncJobs   the job model: Foundation, Synchronization, Logging and Metrics only
#   CalsyncSync   the sync rules: CalsyncJobs, Crypto, Logging, Metrics, Foundation, Synchronization only
#   CalsyncStore  PostgreSQL: never the Redis driver (CalsyncQueue, CalsyncRedis, CalsyncSyncRedis)
#   CalsyncQueue  the Redis driver of CalsyncJobs: never the rules, PostgreSQL or HTTP
# Usage: scripts/check-imports.sh [ROOT]   (ROOT defaults to the repository holding this script)
set -euo pipefail

root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
failures=0

# The modules imported by each Swift file under a directory, as `file:line:module`.
imports_of() {
    local dir="$root/Sources/$1"
    [[ -d "$dir" ]] || { echo "check-imports: $dir is missing; update scripts/check-imports.sh to the new layout" >&2; exit 2; }
    grep -rnE --include='*.swift' \
        '^[[:space:]]*(@[A-Za-z_]+([(][^)]*[)])?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]+((typealias|struct|class|enum|protocol|let|var|func)[[:space:]]+)?[A-Za-z_]' \
        "$dir" \
        | sed -E 's/^([^:]+):([0-9]+):.*import[[:space:]]+((typealias|struct|class|enum|protocol|let|var|func)[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*).*/\1:\2:\5/' \
        || true
}

# allow TARGET MODULE...: every import of TARGET must be one of MODULEs.
allow() {
    local target="$1"
    shift
    local file line module allowed
    while IFS=: read -r file line module; do
        [[ -n "$module" ]] || continue
        allowed=no
        for ok in "$@"; do [[ "$module" == "$ok" ]] && allowed=yes; done
        if [[ "$allowed" == no ]]; then
            echo "forbidden import: ${file#"$root"/}:$line imports $module; $target may import only: $*" >&2
            failures=$((failures + 1))
        fi
    done < <(imports_of "$target")
}

# deny TARGET PATTERN...: no import of TARGET may match a PATTERN (shell glob).
deny() {
    local target="$1"
    shift
    local file line module
    while IFS=: read -r file line module; do
        [[ -n "$module" ]] || continue
        for bad in "$@"; do
            # shellcheck disable=SC2053  # the pattern is a glob on purpose
            if [[ "$module" == $bad ]]; then
                echo "forbidden import: ${file#"$root"/}:$line imports $module; $target must not import $bad" >&2
                failures=$((failures + 1))
            fi
        done
    done < <(imports_of "$target")
}

allow CalsyncJobs Foundation Synchronization Logging Metrics
allow CalsyncSync CalsyncJobs Crypto Logging Metrics Foundation Synchronization
deny CalsyncStore CalsyncQueue CalsyncRedis CalsyncSyncRedis CHiredis CalsyncScheduler CalsyncApp AsyncHTTPClient CalsyncHTTP
deny CalsyncQueue CalsyncSync CalsyncStore CalsyncSyncRedis CalsyncScheduler CalsyncApp PostgresNIO AsyncHTTPClient CalsyncHTTP 'Calsync*Tests'
deny CalsyncSyncRedis CalsyncStore PostgresNIO AsyncHTTPClient CalsyncHTTP CalsyncApp

if ((failures > 0)); then
    echo "check-imports: $failures forbidden import(s). Each target's main file says what it may depend on;" >&2
    echo "move the code to the target that owns that concern, or put it behind a protocol of the rules." >&2
    exit 1
fi
echo "check-imports: every target imports only what its layer allows"
