#!/usr/bin/env bash
# Starts and stops the real servers that calsync's tests and demo talk to:
# Redis and PostgreSQL on loopback ports, in one temporary folder, nothing system-wide.
#
#   scripts/services.sh start DIR    start both; writes DIR/env (CALSYNC_* variables to source)
#   scripts/services.sh stop DIR     stop both and remove DIR
#   scripts/services.sh restart-redis DIR   graceful Redis restart (SHUTDOWN, then start on the same AOF)
#   scripts/services.sh deps         install what is missing with apt (Debian: redis-server, libhiredis-dev, libical-dev,
#                                    pkg-config, postgresql, python3-jsonschema for the job-schema tests,
#                                    curl and postgresql-client for `make run`)
#   scripts/services.sh missing-deps print the Debian packages `deps` would install, one a line
#   (deps also installs the CalDAV servers Radicale and Xandikos, pinned, from PyPI into .build/caldav-venv;
#   `start` then runs both on loopback and writes CALSYNC_TEST_RADICALE_URL / CALSYNC_TEST_XANDIKOS_URL)
#
# Ports: CALSYNC_TEST_REDIS_PORT (default 16379), CALSYNC_TEST_PG_PORT (default 15432),
# CALSYNC_TEST_RADICALE_PORT (default 15232), CALSYNC_TEST_XANDIKOS_PORT (default 15233).
# PostgreSQL refuses to run as root: when run as root, the script creates the
# unprivileged system user `calsync-pg` and runs the server as that user.
set -euo pipefail

REDIS_PORT=${CALSYNC_TEST_REDIS_PORT:-16379}
PG_PORT=${CALSYNC_TEST_PG_PORT:-15432}
PG_USER_SYSTEM=calsync-pg
RADICALE_PORT=${CALSYNC_TEST_RADICALE_PORT:-15232}
XANDIKOS_PORT=${CALSYNC_TEST_XANDIKOS_PORT:-15233}
# The CalDAV servers of the tests, pinned (Debian's versions predate their recurrence fixes).
RADICALE_VERSION=3.9.0
XANDIKOS_VERSION=0.4.10
CALDAV_VENV=${CALSYNC_CALDAV_VENV:-$(cd "$(dirname "$0")/.." && pwd)/.build/caldav-venv}

die() { echo "services.sh: $*" >&2; exit 1; }

pg_bin() {
    local name=$1
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] || die "PostgreSQL's $name is not installed (apt-get install -y postgresql)"
    echo "$found"
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER_SYSTEM" -- "$@"; else "$@"; fi
}

# The Debian packages of what is missing, one a line.
missing_deps() {
    command -v redis-server >/dev/null 2>&1 || echo redis-server
    [ -f /usr/include/hiredis/hiredis.h ] || echo libhiredis-dev
    # CalsyncICal: libical 3 (iCalendar parsing, recurrence expansion, rendering) through the CLibical module.
    [ -f /usr/include/libical/ical.h ] || echo libical-dev
    command -v pkg-config >/dev/null 2>&1 || echo pkg-config
    if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        echo postgresql
    fi
    # The job-schema tests validate jobs/examples with Python's jsonschema: Debian's package, as a
    # stock Debian refuses installs with pip into the system Python (PEP 668).
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
        echo python3-jsonschema
    fi
    # `make run` (scripts/run-demo.sh) reads the demo's results with curl and psql.
    command -v curl >/dev/null 2>&1 || echo curl
    command -v psql >/dev/null 2>&1 || echo postgresql-client
    # The console's browser tests drive Debian's headless chromium through chromedriver (WebDriver).
    [ -x /usr/bin/chromium ] || echo chromium
    [ -x /usr/bin/chromedriver ] || echo chromium-driver
    return 0
}

deps() {
    local missing=()
    mapfile -t missing < <(missing_deps)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "services.sh: installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    caldav_deps
}

# Radicale and Xandikos, pinned, from PyPI into a virtual environment under the build folder.
caldav_deps() {
    if [ -x "$CALDAV_VENV/bin/radicale" ] && [ -x "$CALDAV_VENV/bin/xandikos" ] \
        && "$CALDAV_VENV/bin/pip" freeze 2>/dev/null | grep -qx "[Rr]adicale==$RADICALE_VERSION" \
        && "$CALDAV_VENV/bin/pip" freeze 2>/dev/null | grep -qx "xandikos==$XANDIKOS_VERSION"; then
        return 0
    fi
    echo "services.sh: installing Radicale $RADICALE_VERSION and Xandikos $XANDIKOS_VERSION into $CALDAV_VENV"
    python3 -m venv "$CALDAV_VENV"
    "$CALDAV_VENV/bin/pip" install -q "radicale==$RADICALE_VERSION" "xandikos==$XANDIKOS_VERSION"
}

# Radicale (htpasswd users in DIR/radicale/users, plain text: tests add and change users) and Xandikos
# (no authentication of its own), both on loopback; skipped with a note when `deps` has not installed them.
start_caldav() {
    local dir=$1
    if [ ! -x "$CALDAV_VENV/bin/radicale" ] || [ ! -x "$CALDAV_VENV/bin/xandikos" ]; then
        echo "services.sh: no CalDAV servers (run scripts/services.sh deps); CalDAV tests against them are skipped" >&2
        return 0
    fi
    mkdir -p "$dir/radicale/collections" "$dir/xandikos"
    : >"$dir/radicale/users"
    cat >"$dir/radicale/config" <<CONF
[server]
hosts = 127.0.0.1:$RADICALE_PORT
max_content_length = 100000000
[auth]
type = htpasswd
htpasswd_filename = $dir/radicale/users
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = $dir/radicale/collections
# Radicale's documented choice for collections of many items (its wiki, "Performance tuning"; since 3.3.2): an
# item's cache entry is checked by the file's mtime (ns) and size instead of a SHA-256 of the file read again.
use_mtime_and_size_for_item_cache = True
[logging]
level = warning
CONF
    "$CALDAV_VENV/bin/radicale" --config "$dir/radicale/config" >"$dir/radicale/radicale.log" 2>&1 &
    echo $! >"$dir/radicale/radicale.pid"
    "$CALDAV_VENV/bin/xandikos" serve -d "$dir/xandikos/data" --defaults -l 127.0.0.1 -p "$XANDIKOS_PORT" \
        --state-dir "$dir/xandikos/state" >"$dir/xandikos/xandikos.log" 2>&1 &
    echo $! >"$dir/xandikos/xandikos.pid"
    local port
    for port in "$RADICALE_PORT" "$XANDIKOS_PORT"; do
        for _ in $(seq 1 100); do
            curl -s -o /dev/null "http://127.0.0.1:$port/" && break
            sleep 0.1
        done
        curl -s -o /dev/null "http://127.0.0.1:$port/" || die "a CalDAV server did not start on port $port: see $dir/radicale, $dir/xandikos"
    done
    cat >>"$dir/env" <<ENV
export CALSYNC_TEST_RADICALE_URL=http://127.0.0.1:$RADICALE_PORT
export CALSYNC_TEST_RADICALE_USERS=$dir/radicale/users
export CALSYNC_TEST_XANDIKOS_URL=http://127.0.0.1:$XANDIKOS_PORT
ENV
    echo "services.sh: Radicale on 127.0.0.1:$RADICALE_PORT, Xandikos on 127.0.0.1:$XANDIKOS_PORT"
}

# Redis: AOF on, so a restart during a test keeps what was acknowledged.
start_redis() {
    local dir=$1
    mkdir -p "$dir/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
        --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" \
        --save '' --appendonly yes --appendfsync everysec >/dev/null
    # Ready means PONG: a Redis still loading its AOF answers LOADING (and redis-cli still exits 0).
    for _ in $(seq 1 100); do
        [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
        sleep 0.1
    done
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] || die "Redis did not start on port $REDIS_PORT: see $dir/redis/redis.log"
}

# A graceful Redis restart on the same port and folder: SHUTDOWN writes the AOF, then a new server
# loads it (what an operator's restart or a rolling upgrade does).
restart_redis() {
    local dir=$1 pid=""
    [ -f "$dir/redis/redis.pid" ] && pid=$(cat "$dir/redis/redis.pid")
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do
        { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
        sleep 0.05
    done
    start_redis "$dir"
}

start() {
    local dir=$1
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"

    start_redis "$dir"

    # PostgreSQL, as an unprivileged user when we are root.
    if [ "$(id -u)" = 0 ] && ! id "$PG_USER_SYSTEM" >/dev/null 2>&1; then
        # Tolerate a concurrent start having created the user meanwhile.
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_SYSTEM" 2>/dev/null \
            || id "$PG_USER_SYSTEM" >/dev/null 2>&1 || die "could not create the system user $PG_USER_SYSTEM"
    fi
    local pgdata="$dir/pg"
    mkdir -p "$pgdata"
    [ "$(id -u)" = 0 ] && chown "$PG_USER_SYSTEM" "$pgdata"
    chmod 700 "$pgdata"
    as_pg "$(pg_bin initdb)" -D "$pgdata" -U calsync --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
        || die "initdb failed: see $dir/initdb.log"
    as_pg "$(pg_bin pg_ctl)" -D "$pgdata" -l "$pgdata/server.log" -w -t 30 start \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $pgdata -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null || die "PostgreSQL did not start on port $PG_PORT: see $pgdata/server.log"
    as_pg "$(pg_bin createdb)" -h 127.0.0.1 -p "$PG_PORT" -U calsync calsync

    cat >"$dir/env" <<ENV
export CALSYNC_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export CALSYNC_DATABASE_URL=postgres://calsync@127.0.0.1:$PG_PORT/calsync?sslmode=disable
export CALSYNC_TEST_SERVICES_DIR=$dir
ENV
    echo "services.sh: Redis on 127.0.0.1:$REDIS_PORT, PostgreSQL on 127.0.0.1:$PG_PORT (folder $dir)"
    start_caldav "$dir"
}

stop() {
    local dir=$1
    [ -d "$dir" ] || return 0
    if [ -f "$dir/redis/redis.pid" ]; then
        kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    fi
    # Also any redis-server still running from this folder (whatever its pid file says).
    for pid in $(pgrep -x redis-server 2>/dev/null || true); do
        case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in "$dir"/redis*) kill -9 "$pid" 2>/dev/null || true ;; esac
    done
    local pidfile
    for pidfile in "$dir/radicale/radicale.pid" "$dir/xandikos/xandikos.pid"; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    if [ -f "$dir/pg/postmaster.pid" ]; then
        as_pg "$(pg_bin pg_ctl)" -D "$dir/pg" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    deps) deps ;;
    missing-deps) missing_deps ;;
    start) [ -n "${2:-}" ] || die "usage: services.sh start DIR"; start "$2" ;;
    stop) [ -n "${2:-}" ] || die "usage: services.sh stop DIR"; stop "$2" ;;
    restart-redis) [ -n "${2:-}" ] || die "usage: services.sh restart-redis DIR"; restart_redis "$(cd "$2" && pwd)" ;;
    *) die "usage: services.sh deps | missing-deps | start DIR | stop DIR | restart-redis DIR" ;;
esac
