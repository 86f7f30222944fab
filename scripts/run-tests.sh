#!/usr/bin/env bash
# Runs the built test suite in seven phases, so that tests which spawn busy processes or burn CPU do not
# starve the timing-sensitive in-process ones on a small machine (CI has two cores):
#   1. everything that runs inside the test process (engine, store, providers, sandbox, domain), but:
#   2. the suites that talk to real CalDAV servers (Radicale, Xandikos: Python, slow under load) or burn CPU
#      on purpose (libical over 10,000 objects, bcrypt logins of the console, the webhooks' answer times)
#   3. the end-to-end tests that spawn the real `calsync` binary
#   4. the heaviest ones alone: 10,000 jobs through four worker processes, crashes, restarts, and a
#      scheduler tick over 10,000 connections
#   5. the tests that measure time and need the machine to itself: the rate-limit suite, the sandbox test of
#      requests before a 1 s Retry-After ran out, the job engine's runs, deadlines, shutdown and lease attribution
#      (sub-second deadlines and leases of a few seconds), the provider clients' half-second timeouts on hostile answers, and the cooperative pool staying free while libical works
#      (CALSYNC_TIMING_TESTS=1 turns on the tests that only this phase runs). They run one at a time
#      (--no-parallel): side by side on two cores they starve each other's deadlines (about 35 s alone)
#   6. the short chaos test (1,000 random jobs under faults, worker kills and server restarts; about
#      two minutes), which also needs the machine to itself (`make chaos` runs the long one)
#   7. the console in a real browser (headless chromium over WebDriver; screenshots in .build/console-screenshots)
# Every phase runs; the script fails if any did. Needs the servers of scripts/with-services.sh.
set -uo pipefail
swift=${SWIFT:-swift}
status=0
run() {
    echo "=== swift test $*"
    "$swift" test --skip-build "$@" || status=1
}
timed=(--filter 'CalsyncQueueTests\.JobRunTests' --filter 'CalsyncQueueTests\.JobWorkerTests'
    --filter 'CalsyncQueueTests\.LeaseAttributionTests' --filter 'CalsyncProviderTests\.HostileAnswerTests')
heavy=(--filter 'CalsyncProviderTests\.CalDAV' --filter CalsyncICalTests --filter CalsyncConsoleTests --filter CalsyncPushTests)
run --skip CalsyncEndToEndTests --skip SchedulerTickTests --skip requestsBeforeARetryAfterRanOut \
    --skip 'CalsyncProviderTests\.CalDAV' --skip CalsyncICalTests --skip CalsyncConsoleTests --skip CalsyncPushTests \
    --skip 'CalsyncQueueTests\.JobRunTests' --skip 'CalsyncQueueTests\.JobWorkerTests' --skip 'CalsyncQueueTests\.LeaseAttributionTests' \
    --skip 'CalsyncProviderTests\.HostileAnswerTests'
run "${heavy[@]}"
run --filter CalsyncEndToEndTests --skip WorkerProcessTests --skip RateLimitEndToEndTests --skip ChaosTests --skip ConsoleBrowserTests
run --filter WorkerProcessTests --filter SchedulerTickTests
CALSYNC_TIMING_TESTS=1 run --no-parallel --filter RateLimitEndToEndTests --filter requestsBeforeARetryAfterRanOut \
    --filter waitingForLibicalLeavesTheCooperativePoolFree "${timed[@]}"
run --filter ChaosTests
run --filter ConsoleBrowserTests
exit $status
