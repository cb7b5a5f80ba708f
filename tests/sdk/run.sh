#!/bin/sh
# Viber's official Node.js SDK (viber-bot, from npm) against a real vcpd.
# Installs what is missing, then runs sdk.test.mjs.
# Usage: run.sh PATH/TO/vcpd BUILD_DIR
set -eu
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
nm="$build/node_modules-sdk"
if [ ! -f "$nm/node_modules/viber-bot/package.json" ]; then
	mkdir -p "$nm"
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$nm" \
		viber-bot@1.0.18 >&2
fi
NODE_PATH="$nm/node_modules" exec node "$here/sdk.test.mjs" "$vcpd" "$nm/node_modules"
