#!/bin/sh
# Fan-out benchmark of vcpd's event streams (not a timed test; see bench/fanout.c).
# Usage: bench/fanout.sh [PATH/TO/vcpd] [SECONDS]      (default: build-feed, 3 s)
# Prints, for 1,000 and 10,000 subscribers: vcpd RSS per idle subscriber,
# time from post to every subscriber (p50/p99/max), and post API throughput
# with and without the subscribers connected.  Loopback only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
vcpd=${1:-$repo/build-feed/src/server/vcpd}
secs=${2:-3}
[ -x "$vcpd" ] || { echo "vcpd not found: $vcpd" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d /tmp/vcp-fanout-XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
cc -O2 -Wall -Wextra -o "$dir/fanout" "$here/fanout.c"

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
run() {
	n=$1
	rm -f "$dir/db"* "$dir/port"
	"$vcpd" serve --listen 127.0.0.1:0 --port-file "$dir/port" --db "$dir/db" --sandbox \
		--access-log off --max-connections 20000 --max-connections-per-ip 0 --max-streams-per-ip 0 \
		--connection-timeout 300 \
		--no-rate-limit 2>"$dir/err" &
	pid=$!
	while [ ! -s "$dir/port" ]; do sleep 0.05; done
	port=$(cat "$dir/port")
	set --
	for ch in A B; do
		"$vcpd" channel create --db "$dir/db" --name "bench $ch" --json >"$dir/$ch.json"
		id=$(json 'd["channel"]["id"]' <"$dir/$ch.json")
		"$vcpd" channel set-webhook "$id" "http://127.0.0.1:$port/sandbox/webhook" --db "$dir/db" >/dev/null
		set -- "$@" "$id" "$(json 'd["token"]' <"$dir/$ch.json")" "$(json 'd["superadmin"]["id"]' <"$dir/$ch.json")"
	done
	"$dir/fanout" "$port" "$pid" "$n" "$secs" "$@"
	kill $pid
	wait $pid || true
}
echo "vcpd fan-out benchmark ($(nproc) cores, $(uname -r))"
run 1000
run 10000
