#!/usr/bin/env bash
# Lints docs/openapi.yaml with @redocly/cli, installed from npm into the
# build directory on first use (TOOLS_DIR).  Fails -- never skips -- when
# the tool cannot be installed: a lint that cannot run has not passed.
#
#   lint.sh SPEC CONFIG TOOLS_DIR
set -euo pipefail
spec=$1 config=$2 tools=$3
version=2.77.0
bin=$tools/node_modules/.bin/redocly

if [ ! -x "$bin" ] || ! grep -q "\"version\": \"$version\"" \
    "$tools/node_modules/@redocly/cli/package.json" 2>/dev/null; then
    if ! command -v npm >/dev/null; then
        echo "openapi lint: FAILED: npm is not installed (scripts/deps.sh test installs it)" >&2
        exit 1
    fi
    mkdir -p "$tools"
    echo "openapi lint: installing @redocly/cli@$version into $tools" >&2
    if ! npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tools" \
        "@redocly/cli@$version" >&2; then
        echo "openapi lint: FAILED: cannot install @redocly/cli from the npm registry" >&2
        exit 1
    fi
fi
# Redocly's update notice and telemetry stay off in tests.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
exec "$bin" lint --config "$config" --format stylish "$spec"
