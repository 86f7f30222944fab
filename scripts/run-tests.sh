#!/usr/bin/env bash
# Runs the built test suite in six phases, so that tests which spawn busy processes do not
# starve the in-process ones on a small machine (CI has two cores):
#   1. everything that runs inside the test process (engine, store, providers, sandbox, domain)
#   2. the end-to-end tests that spawn the real `calsync` binary
#   3. the heaviest ones alone: 10,000 jobs through four worker processes, crashes, restarts, and a
#      scheduler tick over 10,000 connections
#   4. the rate-limit suite, which measures a request rate and needs the machine to itself, and the sandbox
#      test of requests before a 1 s Retry-After ran out (real time too)
#   5. the short chaos test (1,000 random jobs under faults, worker kills and server restarts; about
#      two minutes), which also needs the machine to itself (`make chaos` runs the long one)
#   6. the console in a real browser (headless chromium over WebDriver; screenshots in .build/console-screenshots)
# Every phase runs; the script fails if any did. Needs the servers of scripts/with-services.sh.
set -uo pipefail
swift=${SWIFT:-swift}
status=0
run() {
    echo "=== swift test $*"
    "$swift" test --skip-build "$@" || status=1
}
run --skip CalsyncEndToEndTests --skip SchedulerTickTests --skip requestsBeforeARetryAfterRanOut
run --filter CalsyncEndToEndTests --skip WorkerProcessTests --skip RateLimitEndToEndTests --skip ChaosTests --skip ConsoleBrowserTests
run --filter WorkerProcessTests --filter SchedulerTickTests
run --filter RateLimitEndToEndTests --filter requestsBeforeARetryAfterRanOut
run --filter ChaosTests
run --filter ConsoleBrowserTests
exit $status
