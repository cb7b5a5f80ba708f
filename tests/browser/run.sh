#!/bin/sh
# The channel page in real headless Chromium (Debian's chromium, driven by
# playwright-core from npm).  Installs what is missing, then runs page.test.mjs.
# Usage: run.sh PATH/TO/vcpd BUILD_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
vcpd=$1
build=$2
repo=$(cd "$here/../.." && pwd)
if [ ! -x /usr/bin/chromium ]; then
	"$repo/scripts/deps.sh" test
fi
if [ ! -x /usr/bin/chromium ]; then
	echo "browser test: /usr/bin/chromium missing (Debian package chromium)" >&2
	exit 1
fi
nm="$build/node_modules-dir"
if [ ! -f "$nm/node_modules/playwright-core/package.json" ]; then
	mkdir -p "$nm"
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$nm" \
		playwright-core@1.65.1 >&2
fi
artifacts="$build/tests/artifacts"
mkdir -p "$artifacts"
NODE_PATH="$nm/node_modules" exec node "$here/page.test.mjs" "$vcpd" "$nm/node_modules" "$artifacts"
