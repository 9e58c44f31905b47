#!/usr/bin/env bash
# tests/pg/pg-stop.sh -- stops the server tests/pg/pg-start.sh started.
# Usage: pg-stop.sh DATA_DIR [--purge]   (--purge: also delete DATA_DIR)
set -euo pipefail
D=$(realpath -m "${1:?usage: pg-stop.sh DATA_DIR [--purge]}")
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_owner=()
[ "$(id -u)" != 0 ] || as_owner=(runuser -u postgres --)
if [ -n "$bindir" ] && [ -s "$D/data/PG_VERSION" ]; then
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true
fi
[ "${2:-}" != --purge ] || rm -rf "$D"
