#!/bin/sh
# Viber's official Node.js SDK (viber-bot, from npm) against a real vcpd.
# Installs what is missing (viber-bot again when the installed one is not
# the pinned version), then runs sdk.test.mjs.
# Usage: run.sh PATH/TO/vcpd BUILD_DIR
set -eu
sdk_version=1.0.18 # sdk.test.mjs fails on any other: change both together
here=$(cd "$(dirname "$0")" && pwd)
vcpd=$1
build=$2
repo=$(cd "$here/../.." && pwd)
if ! command -v npm >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
	"$repo/scripts/deps.sh" test
fi
for tool in node npm openssl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "sdk test: $tool missing (scripts/deps.sh test installs it)" >&2
		exit 1
	fi
done
# global fetch and top-level await: an older node would fail in the middle
node_major=$(node -p 'process.versions.node.split(".")[0]')
case $node_major in
'' | *[!0-9]*) node_major=0 ;;
esac
if [ "$node_major" -lt 18 ]; then
	echo "sdk test: node $(node --version) is older than 18 (sdk.test.mjs needs global fetch)" >&2
	exit 1
fi
nm="$build/node_modules-sdk"
pkg="$nm/node_modules/viber-bot/package.json"
installed() {
	if [ -f "$pkg" ]; then
		node -p 'require(process.argv[1]).version' "$pkg" 2>/dev/null || true
	fi
}
if [ "$(installed)" != "$sdk_version" ]; then
	# another version (an older pin) or a broken install: start afresh
	rm -rf "$nm"
	mkdir -p "$nm"
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$nm" \
		"viber-bot@$sdk_version" >&2
	if [ "$(installed)" != "$sdk_version" ]; then
		echo "sdk test: npm installed viber-bot $(installed), not $sdk_version" >&2
		exit 1
	fi
fi
NODE_PATH="$nm/node_modules" exec node "$here/sdk.test.mjs" "$vcpd" "$nm/node_modules"
