#!/usr/bin/env bash
# `make run`: local Redis and PostgreSQL, the provider sandbox, migrations, demo data,
# and the worker in the foreground until Ctrl-C. Everything runs on loopback ports in
# one temporary folder, removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin="$root/.build/debug/calsync"
[ -x "$bin" ] || { echo "run-demo.sh: build first (make run does)"; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/calsync-run.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$here/services.sh" stop "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export CALSYNC_TEST_REDIS_PORT=${CALSYNC_TEST_REDIS_PORT:-$(free_port)}
export CALSYNC_TEST_PG_PORT=${CALSYNC_TEST_PG_PORT:-$(free_port)}
export CALSYNC_TEST_RADICALE_PORT=${CALSYNC_TEST_RADICALE_PORT:-$(free_port)}
export CALSYNC_TEST_XANDIKOS_PORT=${CALSYNC_TEST_XANDIKOS_PORT:-$(free_port)}
"$here/services.sh" start "$dir"
# shellcheck disable=SC1091
source "$dir/env"

sandbox_port=$(free_port)
"$bin" sandbox --port "$sandbox_port" --seed-demo >"$dir/sandbox.env" 2>"$dir/sandbox.log" &
pids+=($!)
for _ in $(seq 1 100); do
    grep -q CALSYNC_MICROSOFT_TOKEN_URL "$dir/sandbox.env" 2>/dev/null && break
    sleep 0.1
done
grep -q CALSYNC_MICROSOFT_TOKEN_URL "$dir/sandbox.env" || { cat "$dir/sandbox.log"; echo "run-demo.sh: the sandbox did not start"; exit 1; }
# shellcheck disable=SC1091
source <(grep '^export ' "$dir/sandbox.env")

export CALSYNC_ENCRYPTION_KEY=${CALSYNC_ENCRYPTION_KEY:-$("$bin" keygen)}
export CALSYNC_GOOGLE_CLIENT_ID=${CALSYNC_GOOGLE_CLIENT_ID:-sandbox-google-client}
export CALSYNC_GOOGLE_CLIENT_SECRET=${CALSYNC_GOOGLE_CLIENT_SECRET:-sandbox-google-secret}
export CALSYNC_MICROSOFT_CLIENT_ID=${CALSYNC_MICROSOFT_CLIENT_ID:-sandbox-microsoft-client}
export CALSYNC_MICROSOFT_CLIENT_SECRET=${CALSYNC_MICROSOFT_CLIENT_SECRET:-sandbox-microsoft-secret}
export CALSYNC_METRICS_PORT=${CALSYNC_METRICS_PORT:-$(free_port)}

"$bin" migrate >"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log"; exit 1; }

psql_q() { psql "$CALSYNC_DATABASE_URL" -qtAX -c "$1"; }
queues_empty() {
    "$bin" queues --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if sum(s["ready"].values())+sum(s["scheduled"].values())+s["in_flight"]==0 else 1)'
}
wait_idle() {
    for _ in $(seq 1 200); do queues_empty && return 0; sleep 0.1; done
    echo "run-demo.sh: the queues did not drain; see $dir/worker.log"; return 1
}
enqueue() { "$bin" enqueue "$1" --payload "$2" >/dev/null; }

echo "calsync demo"
echo "  Redis       $CALSYNC_REDIS_URL"
echo "  PostgreSQL  $CALSYNC_DATABASE_URL"
echo "  sandbox     $CALSYNC_GOOGLE_API_URL (Google), $CALSYNC_MICROSOFT_GRAPH_URL (Microsoft)"
echo "  metrics     http://127.0.0.1:$CALSYNC_METRICS_PORT/metrics"
echo

# The web tier's side: an organization on the pro plan with sync on, and one member.
psql_q "INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('org-demo', 'pro', true)"
psql_q "INSERT INTO members (id, organization_id, time_zone) VALUES ('member-ana', 'org-demo', 'Europe/Berlin')"

"$bin" worker >"$dir/worker.log" 2>&1 &
worker=$!
pids+=("$worker")
# The scheduler enqueues periodic imports and token refreshes, as in production (see Procfile).
CALSYNC_METRICS_PORT=0 "$bin" scheduler >"$dir/scheduler.log" 2>&1 &
pids+=($!)

code=$(grep -A1 'demo account' "$dir/sandbox.env" | tail -n 1 | sed 's/^# //')
redirect=$(grep 'demo account' "$dir/sandbox.env" | sed 's/.*redirect_uri \(.*\):$/\1/')
enqueue connect_calendar "{\"member_id\":\"member-ana\",\"actor_member_id\":\"member-ana\",\"provider\":\"google\",\"authorization_code\":\"$code\",\"redirect_uri\":\"$redirect\"}"
for _ in $(seq 1 100); do
    [ "$(psql_q "SELECT status FROM calendar_connections WHERE member_id = 'member-ana'")" = active ] && break
    sleep 0.1
done
wait_idle

day() { python3 -c "import datetime as d; t=d.datetime.now(d.timezone.utc).replace(hour=0,minute=0,second=0,microsecond=0)+d.timedelta(days=$1,hours=$2); print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))"; }
appointment() { # id revision status start end
    enqueue export_appointment "{\"member_id\":\"member-ana\",\"appointment\":{\"id\":\"$1\",\"revision\":$2,\"status\":\"$3\",\"counts_as_busy\":true,\"starts_at\":\"$4\",\"ends_at\":\"$5\",\"time_zone\":\"Europe/Berlin\",\"service_name\":\"$6\",\"customer_name\":\"Demo Customer\"}}"
}
appointment appt-1 1 confirmed "$(day 1 8)" "$(day 1 9)" "Haircut"
appointment appt-2 1 confirmed "$(day 2 10)" "$(day 2 11)" "Colour"
appointment appt-3 1 confirmed "$(day 3 12)" "$(day 3 13)" "Beard trim"
wait_idle
appointment appt-2 2 confirmed "$(day 2 15)" "$(day 2 16)" "Colour"      # moved
appointment appt-3 2 cancelled "$(day 3 12)" "$(day 3 13)" "Beard trim"  # cancelled
wait_idle

echo "What happened:"
echo "  member-ana connected Google account $(psql_q "SELECT account_email FROM calendar_connections WHERE member_id = 'member-ana'") (status: $(psql_q "SELECT status FROM calendar_connections WHERE member_id = 'member-ana'"))."
echo "  Events now in that Google calendar:"
curl -s "${CALSYNC_GOOGLE_API_URL%/google/calendar/v3}/_sandbox/events?provider=google&email=demo@sandbox.test" | python3 -c '
import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: e["event"]["start"]):
    ev = e["event"]
    start, end, title = ev["start"], ev["end"], ev["summary"]
    mine = " (exported by calsync)" if ev.get("privateProperties") else ""
    print(f"    {start} - {end}  {title}{mine}")
'
echo "  (appt-2 was moved to 15:00 UTC; appt-3 was cancelled and removed.)"
echo "  Busy blocks imported for member-ana (what the availability engine sees in member_busy_intervals):"
psql_q "SELECT '    ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' - ' || to_char(ends_at AT TIME ZONE 'UTC', 'HH24:MI') || ' UTC' FROM member_busy_intervals WHERE member_id = 'member-ana' ORDER BY starts_at"
echo "  Last sync: outbound $(psql_q "SELECT coalesce(to_char(last_outbound_sync_at, 'HH24:MI:SS'), 'never') || ' (' || coalesce(last_outbound_error, 'no error') || ')' FROM calendar_connections WHERE member_id = 'member-ana'"), inbound $(psql_q "SELECT coalesce(to_char(last_inbound_sync_at, 'HH24:MI:SS'), 'never') || ' (' || coalesce(last_inbound_error, 'no error') || ')' FROM calendar_connections WHERE member_id = 'member-ana'")."

# Two-way: the member drags appt-1 to another hour in the calendar app (here: the sandbox's control API).
sandbox_control="${CALSYNC_GOOGLE_API_URL%/google/calendar/v3}/_sandbox"
moved_start=$(day 1 13)
moved_end=$(day 1 14)
appt1_event=$(curl -s "$sandbox_control/events?provider=google&email=demo@sandbox.test" | python3 -c '
import json, sys
want = sys.argv[1]
for e in json.load(sys.stdin):
    if e["event"].get("privateProperties") and e["event"]["start"] == want:
        print(e["id"])
' "$(day 1 8)")
curl -sX PATCH "$sandbox_control/events" -d "{\"provider\":\"google\",\"email\":\"demo@sandbox.test\",\"eventID\":\"$appt1_event\",\"event\":{\"start\":\"$moved_start\",\"end\":\"$moved_end\"}}"
enqueue import_window '{"member_id":"member-ana"}'
wait_idle
echo "  The member moved appt-1 to $moved_start in the calendar itself; the next import reported it back:"
psql_q "SELECT '    external_changes: ' || appointment_id || ' ' || change || ' at revision ' || applied_revision || ' to ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' FROM external_changes WHERE member_id = 'member-ana' ORDER BY id"
published=$(redis-cli -u "$CALSYNC_REDIS_URL" XRANGE "${CALSYNC_REDIS_PREFIX:-calsync}:events" - + | grep -c '^appointment.changed_externally$' || true)
echo "    and published $published appointment.changed_externally event(s) on ${CALSYNC_REDIS_PREFIX:-calsync}:events"
echo
# CalDAV: member-ben keeps his calendar in a CalDAV server (here the local Radicale; iCloud, Fastmail or
# Nextcloud the same way), connected with a user name and an app-specific password.
if [ -n "${CALSYNC_TEST_RADICALE_URL:-}" ]; then
    psql_q "INSERT INTO members (id, organization_id, time_zone) VALUES ('member-ben', 'org-demo', 'Europe/Berlin')"
    ben_password="demo-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
    echo "ben:$ben_password" >>"$CALSYNC_TEST_RADICALE_USERS"
    ben_calendar="$CALSYNC_TEST_RADICALE_URL/ben/work/"
    curl -s -o /dev/null -u "ben:$ben_password" -X MKCALENDAR "$ben_calendar"
    printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//demo//EN\r\nBEGIN:VEVENT\r\nUID:ben-dentist\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
        "$(day 1 13 | tr -d ':-')" "$(day 1 14 | tr -d ':-')" \
        | curl -s -o /dev/null -u "ben:$ben_password" -X PUT -H 'Content-Type: text/calendar' --data-binary @- "${ben_calendar}dentist.ics"
    enqueue connect_calendar "{\"member_id\":\"member-ben\",\"actor_member_id\":\"member-ben\",\"provider\":\"caldav\",\"server_url\":\"$CALSYNC_TEST_RADICALE_URL/\",\"username\":\"ben\",\"password\":\"$ben_password\"}"
    wait_idle
    enqueue export_appointment "{\"member_id\":\"member-ben\",\"appointment\":{\"id\":\"appt-ben-1\",\"revision\":1,\"status\":\"confirmed\",\"counts_as_busy\":true,\"starts_at\":\"$(day 1 9)\",\"ends_at\":\"$(day 1 10)\",\"time_zone\":\"Europe/Berlin\",\"service_name\":\"Massage\",\"customer_name\":\"Demo Customer\"}}"
    wait_idle
    echo "  member-ben connected CalDAV account $(psql_q "SELECT account_email FROM calendar_connections WHERE member_id = 'member-ben'") on the local Radicale (status: $(psql_q "SELECT status FROM calendar_connections WHERE member_id = 'member-ben'")), calendar $(psql_q "SELECT export_calendar_id FROM calendar_connections WHERE member_id = 'member-ben'")."
    echo "  Objects in that calendar (appt-ben-1 exported by calsync as one VEVENT; the dentist is the member's own):"
    curl -s -u "ben:$ben_password" -X PROPFIND -H 'Depth: 1' "$ben_calendar" | grep -o '<href>[^<]*\.ics</href>' | sed 's/<[^>]*>//g; s/^/    /'
    echo "  Busy blocks imported for member-ben (the dentist; calsync's own export is not imported back):"
    psql_q "SELECT '    ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' - ' || to_char(ends_at AT TIME ZONE 'UTC', 'HH24:MI') || ' UTC' FROM member_busy_intervals WHERE member_id = 'member-ben' ORDER BY starts_at"
    echo
else
    echo "  (No CalDAV member: run scripts/services.sh deps to install the local Radicale.)"
fi
"$bin" queues
echo
echo "The worker and the scheduler keep running (the worker's log follows; the scheduler's is $dir/scheduler.log)."
echo "In another shell, with the variables above, try"
echo "  $bin enqueue import_window --payload '{\"member_id\":\"member-ana\"}'"
echo "Ctrl-C stops everything and removes $dir."
tail -n +1 -f "$dir/worker.log" &
pids+=($!)
wait "$worker"
