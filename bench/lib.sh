# Shared helpers of bench/run, bench/cost and bench/rss (sourced, not run).
#
# Everything here talks to 127.0.0.1 only, on ephemeral ports, and every
# process it starts is recorded in BENCH_PIDS so that the caller's EXIT trap
# (bench_cleanup) stops exactly those processes and no others.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VCPD=${VCPD:-$BUILD/src/server/vcpd}
NPM_DIR=${BENCH_NPM_DIR:-$BUILD/npm}
BENCH_PIDS=()

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BENCH_PIDS=()
    if [ -n "${BENCH_TMP:-}" ] && [ -z "${BENCH_KEEP:-}" ]; then
        rm -rf "$BENCH_TMP"
    fi
}

# A scratch directory on the build disk (not /tmp, which may be tmpfs: the
# post path syncs to disk and must be measured on a real file system).
bench_tmp() {
    mkdir -p "$BUILD"
    BENCH_TMP=$(mktemp -d "$BUILD/bench-run.XXXXXX")
    chmod 755 "$BENCH_TMP"
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages named on the command line that are missing.
# Package scripts are kept from starting services (nginx would otherwise be
# started on port 80 on machines without a policy-rc.d of their own).
apt_need() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "bench: installing ${missing[*]}"
    local made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}" >/dev/null ||
        { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
        die "apt-get install ${missing[*]} failed"
    [ -n "$made_policy" ] && as_root rm -f /usr/sbin/policy-rc.d
    return 0
}

# Stoplight Prism from npm, installed project-locally into $NPM_DIR (under the
# build directory, never tracked by git).
# Versions are pinned so that runs compare like with like.
PRISM_VERSION=5.14.2
npm_need() {
    grep -qs "\"version\": \"$PRISM_VERSION\"" \
        "$NPM_DIR/node_modules/@stoplight/prism-cli/package.json" && return 0
    command -v npm >/dev/null || apt_need npm
    say "bench: npm install @stoplight/prism-cli@$PRISM_VERSION into $NPM_DIR"
    mkdir -p "$NPM_DIR"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$NPM_DIR" \
        "@stoplight/prism-cli@$PRISM_VERSION" >/dev/null || die "npm install failed"
}

build_vcpd() {
    if [ -n "${BENCH_NO_BUILD:-}" ] && [ -x "$VCPD" ]; then
        return 0
    fi
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVCP_BUILD_TESTS=OFF \
            >/dev/null || die "cmake configure failed"
    fi
    cmake --build "$BUILD" --target vcpd -j "$(nproc)" >/dev/null || die "building vcpd failed"
}

# A free TCP port on 127.0.0.1 (for servers that cannot report the port
# they bound, such as nginx and Prism).
free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # PORT [SECONDS]
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Creates a channel in DB with rate control off and (optionally) a webhook
# stored without a check.  Sets CH_ID, CH_TOKEN, CH_FROM.
make_channel() { # DB NAME [WEBHOOK]
    local out
    out=$("$VCPD" channel create --db "$1" --name "$2" --rate off --json) ||
        die "vcpd channel create failed"
    read -r CH_ID CH_TOKEN CH_FROM < <(printf '%s' "$out" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["channel"]["id"], d["token"], d["superadmin"]["id"])')
    if [ -n "${3:-}" ]; then
        "$VCPD" channel set-webhook "$CH_ID" "$3" --db "$1" >/dev/null ||
            die "vcpd channel set-webhook failed"
    fi
}

# Starts vcpd on an ephemeral port.  Sets VCPD_PID and VCPD_PORT.
start_vcpd() { # DB [extra serve options...]
    local db=$1 pf
    shift
    pf=$(mktemp "$BENCH_TMP/port.XXXXXX")
    rm -f "$pf"
    "$VCPD" serve --listen 127.0.0.1:0 --port-file "$pf" --db "$db" --access-log off "$@" \
        2>>"$BENCH_TMP/vcpd.log" &
    VCPD_PID=$!
    BENCH_PIDS+=("$VCPD_PID")
    local i
    for ((i = 0; i < 200; i++)); do
        [ -s "$pf" ] && break
        kill -0 "$VCPD_PID" 2>/dev/null || die "vcpd exited at start (see $BENCH_TMP/vcpd.log)"
        sleep 0.05
    done
    VCPD_PORT=$(cat "$pf")
    [ -n "$VCPD_PORT" ] || die "vcpd did not report its port"
}

# Stops a process we started (SIGTERM, then waits: vcpd finishes its commits).
stop_pid() {
    local pid=$1 p keep=()
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${BENCH_PIDS[@]}"; do
        [ "$p" != "$pid" ] && keep+=("$p")
    done
    BENCH_PIDS=("${keep[@]}")
}

# nginx answering every request with a fixed small JSON body, as the
# ceiling of one HTTP request on this machine.  Sets NGINX_PID, NGINX_PORT.
start_nginx() {
    local dir=$BENCH_TMP/nginx
    mkdir -p "$dir/logs" "$dir/tmp"
    chmod -R 755 "$dir"
    NGINX_PORT=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
worker_processes ${BENCH_NGINX_WORKERS:-1};
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            default_type application/json;
            return 200 '{"status":0,"status_message":"ok","message_token":913646527388319744,"chat_hostname":"Bench","billing_status":0}';
        }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>>"$dir/logs/stderr.log" &
    NGINX_PID=$!
    BENCH_PIDS+=("$NGINX_PID")
    wait_port "$NGINX_PORT" 10 || die "nginx did not start (see $dir/logs)"
}

# Stoplight Prism mock of docs/openapi.yaml.  Sets PRISM_PID, PRISM_PORT.
start_prism() {
    PRISM_PORT=$(free_port)
    "$NPM_DIR/node_modules/.bin/prism" mock "$ROOT/docs/openapi.yaml" -h 127.0.0.1 \
        -p "$PRISM_PORT" >"$BENCH_TMP/prism.log" 2>&1 &
    PRISM_PID=$!
    BENCH_PIDS+=("$PRISM_PID")
    wait_port "$PRISM_PORT" 60 || die "prism did not start (see $BENCH_TMP/prism.log)"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# One counter from vcpd's /metrics.
metric() { # NAME_WITH_LABELS
    curl -s "http://127.0.0.1:$VCPD_PORT/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
