#!/usr/bin/env bash
# api/openapi.yaml matches the server's route table both ways (methods,
# paths, roles, error codes) and is a valid OpenAPI 3.1 document as Redocly's
# linter (what API tooling applies) judges it.
. "$(dirname "$0")/lib.sh"
cd "$QB_SOURCE_DIR"
/usr/bin/python3 tests/scripts/check_openapi.py "$QB_DAEMON" api/openapi.yaml src/http/errors.def

# Pinned linter, installed once per build directory from npm.
tools="$QB_BUILD_DIR/tools"
redocly="$tools/node_modules/.bin/redocly"
if [ ! -x "$redocly" ]; then
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" @redocly/cli@2.77.0 >&2 ||
    fail "could not install @redocly/cli from npm"
fi
"$redocly" lint --config tests/scripts/redocly.yaml api/openapi.yaml || fail "redocly lint failed"
echo "ok: spec matches routes and lints clean"
