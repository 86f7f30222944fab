#!/usr/bin/env bash
# Fails when a target imports a module its layer forbids (`make test` runs it before the tests).
#   CalsyncJobs   the job model: Foundation, Synchronization, Logging and Metrics only
#   CalsyncSync   the sync rules: CalsyncJobs, Crypto, Logging, Metrics, Foundation, Synchronization only
#   CalsyncStore  PostgreSQL: never the Redis driver (CalsyncQueue, CalsyncRedis, CalsyncSyncRedis)
#   CalsyncQueue  the Redis driver of CalsyncJobs: never the rules, PostgreSQL or HTTP
#   CalsyncICal   iCalendar over libical: CLibical, Foundation and Synchronization only (no calsync target)
#   CalsyncSandbox the emulators: no calsync target but CalsyncICal
#   CalsyncWebhooks  push notifications: never a provider client, a driver or the app
#   CalsyncConsole the operators' web page: reads through the queue and PostgreSQL, never the sync rules,
#                 the scheduler, the provider clients or the process wiring (CalsyncApp)
# and that Package.swift declares exactly the modules each target's files import.
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
allow CalsyncICal CLibical Foundation Synchronization
deny CalsyncSandbox 'CalsyncJobs' 'CalsyncSync' 'CalsyncSyncRedis' 'CalsyncQueue' 'CalsyncRedis' 'CalsyncStore' 'CalsyncHTTP' 'CalsyncGoogle' 'CalsyncMicrosoft' 'CalsyncCalDAV' 'CalsyncApp' 'CalsyncScheduler' CLibical
deny CalsyncSyncRedis CalsyncStore PostgresNIO AsyncHTTPClient CalsyncHTTP CalsyncApp
deny CalsyncCalDAV CalsyncStore PostgresNIO CalsyncQueue CalsyncRedis CalsyncSyncRedis CHiredis CalsyncScheduler CalsyncApp
# `calsync webhooks` holds no provider credential and no driver: the push types and Hummingbird only.
deny CalsyncWebhooks CalsyncGoogle CalsyncMicrosoft CalsyncHTTP AsyncHTTPClient CalsyncRedis CalsyncQueue CalsyncSyncRedis CalsyncStore PostgresNIO CalsyncApp CHiredis
deny CalsyncConsole CalsyncSync CalsyncSyncRedis CalsyncScheduler CalsyncApp CalsyncGoogle CalsyncMicrosoft CalsyncHTTP AsyncHTTPClient

# Package.swift declares exactly what each target imports: no import without its dependency (which
# MemberImportVisibility and transitive linking would let pass) and no dependency left unused.
swift=${SWIFT:-swift}
if command -v "$swift" >/dev/null && command -v python3 >/dev/null; then
    if ! manifest=$(cd "$root" && "$swift" package dump-package 2>/dev/null); then
        echo "check-imports: swift package dump-package failed; fix Package.swift" >&2
        exit 2
    fi
    if ! CHECK_ROOT="$root" python3 -c '
import glob, json, os, re, sys
root = os.environ["CHECK_ROOT"]
system = {"Foundation", "FoundationNetworking", "FoundationXML", "Synchronization", "Dispatch", "Glibc", "Musl", "Darwin", "Testing", "XCTest"}
pattern = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)")
bad = 0
for target in json.load(sys.stdin)["targets"]:
    if target["type"] == "system":
        continue
    name = target["name"]
    path = target.get("path") or ("Tests/" if target["type"] == "test" else "Sources/") + name
    declared = {next(iter(d.values()))[0] for d in target["dependencies"]}
    imported = set()
    for file in glob.glob(os.path.join(root, path, "**", "*.swift"), recursive=True):
        in_literal = False  # inside a multi-line string literal (its text may say "import")
        with open(file) as handle:
            for line in handle:
                match = None if in_literal else pattern.match(line)
                if match:
                    imported.add(match.group(1))
                if line.count(chr(34) * 3) % 2:
                    in_literal = not in_literal
    imported -= system
    for module in sorted(imported - declared):
        print(f"undeclared import: {name} imports {module}; add it to the target in Package.swift", file=sys.stderr)
        bad += 1
    for module in sorted(declared - imported):
        print(f"unused dependency: {name} depends on {module} but no file imports it; remove it from Package.swift", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
' <<<"$manifest"; then
        failures=$((failures + 1))
    fi
else
    echo "check-imports: swift or python3 missing; skipped comparing imports with Package.swift" >&2
fi

if ((failures > 0)); then
    echo "check-imports: $failures problem(s). Each target's main file says what it may depend on;" >&2
    echo "move the code to the target that owns that concern, or put it behind a protocol of the rules." >&2
    exit 1
fi
echo "check-imports: every target imports only what its layer allows"
