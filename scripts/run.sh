#!/usr/bin/env bash
# `make run`: start vcpd in sandbox mode on 127.0.0.1:8080 with its database
# in ./var, create a demo channel on first start (webhook set through the
# real set_webhook call, answered by vcpd's built-in /sandbox/webhook), and
# print how to post to it.  Ctrl-C stops vcpd.
set -euo pipefail
vcpd=${1:-build/src/server/vcpd}
here=$(cd "$(dirname "$0")/.." && pwd)
var="$here/var"
listen=${VCPD_LISTEN:-127.0.0.1:8080}
db="$var/vcpd.db"
demo="$var/demo.json"
mkdir -p "$var"
rm -f "$var/port"

"$vcpd" serve --sandbox --listen "$listen" --db "$db" --port-file "$var/port" \
	--access-log "$var/access.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' INT TERM
for _ in $(seq 100); do
	[ -s "$var/port" ] && break
	kill -0 $pid 2>/dev/null || { echo "vcpd did not start (is $listen in use? set VCPD_LISTEN)" >&2; exit 1; }
	sleep 0.05
done
port=$(cat "$var/port")
vcp=$(cd "$(dirname "$vcpd")/../cli" && pwd)/vcp
host=${listen%:*}
base="http://$host:$port"

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$demo" "$1"; }

# The demo channel: created once; its token is kept in var/demo.json (mode
# 600) because vcpd itself keeps only the hash.
token=""
if [ -s "$demo" ]; then
	token=$(field token)
	status=$(curl -s "$base/pa/get_account_info" -H "X-Viber-Auth-Token: $token" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
	[ "$status" = 0 ] || token=""
fi
if [ -z "$token" ]; then
	(umask 077 && "$vcpd" channel create --db "$db" --name "Demo Channel" \
		--superadmin "Demo Admin" --json >"$demo")
	token=$(field token)
	curl -s "$base/pa/set_webhook" -H "X-Viber-Auth-Token: $token" \
		-d "{\"url\":\"$base/sandbox/webhook\"}" >/dev/null
fi
from=$(field superadmin.id)
channel=$(field channel.id)

cat <<MSG

vcpd is running at $base (sandbox mode; database $db; access log $var/access.log)

Demo channel $channel
  token:      $token
  superadmin: $from   (the "from" of every post)

Post a text message:

  curl -s $base/pa/post -H 'X-Viber-Auth-Token: $token' \\
    -d '{"from":"$from","type":"text","text":"Hello from vcpd"}'

Or with the client:  $vcp post text "Hello" --token $token --api-url $base/pa

The channel, live:  $base/channels/$channel   (all channels: $base/)

Channel details:  curl -s $base/pa/get_account_info -H 'X-Viber-Auth-Token: $token'
Administer:       $vcpd channel --help   (add --db $db)
MSG
# The admin API is on when VCPD_ADMIN_KEY is set (vcpd reads it from the
# environment).  The examples carry the key itself, as the ones above carry
# the token: VCPD_ADMIN_KEY=... make run does not set it in the user's shell.
if [ -n "${VCPD_ADMIN_KEY:-}" ]; then
	cat <<MSG

Admin API (VCPD_ADMIN_KEY is set), e.g. list the channels, create one:

  curl -s $base/admin/v1/channels -H 'Authorization: Bearer $VCPD_ADMIN_KEY'
  curl -s $base/admin/v1/channels -H 'Authorization: Bearer $VCPD_ADMIN_KEY' \\
    -d '{"name":"Team news","superadmin":"Alice"}'

MSG
else
	echo "Admin API:        off (start with VCPD_ADMIN_KEY=\$(openssl rand -hex 24) make run)"
fi
cat <<MSG
Stop:             Ctrl-C
MSG
wait $pid
