#!/usr/bin/env bash
# Install the Debian packages vcp needs to build and test, only those missing.
# Usage: scripts/deps.sh [build|test]   (test adds what the test suite uses)
set -eu
want="cmake make gcc pkg-config libmicrohttpd-dev libjson-c-dev libcurl4-openssl-dev
libssl-dev libsqlite3-dev libpq-dev libcmocka-dev openssl curl python3"
if [ "${1:-build}" = test ]; then
	# clang + libclang-rt-14-dev (libFuzzer, sanitizer runtimes): fuzzing; chromium + nodejs/npm: the channel page's browser test
	# (playwright-core comes from npm into the build directory); nodejs/npm also: tests/sdk (viber-bot from npm).
	want="$want clang libclang-rt-14-dev chromium"
	# postgresql: the throwaway cluster of the PostgreSQL suites (tests/e2e/pgcluster.py);
	# nginx: the load balancer of the multi-instance tests (issue 10).
	want="$want postgresql nginx"
	# systemd: systemd-analyze, which checks deploy/systemd/vcpd.service (tests/deploy).
	want="$want systemd"
	# Node.js may come from elsewhere than Debian (it does on the CI image):
	# only ask Debian for it when there is no npm at all.
	command -v npm >/dev/null 2>&1 || want="$want nodejs npm"
fi
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the lists are absent or a first install attempt fails.
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
