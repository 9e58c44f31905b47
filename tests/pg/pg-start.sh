#!/usr/bin/env bash
# tests/pg/pg-start.sh -- a throw-away PostgreSQL server from Debian's
# packages on 127.0.0.1, for the catalogue tests on PostgreSQL (issue 16),
# the way tests/s3/rgw-start.sh gives the S3 tests a real Ceph RGW.  Stop it
# with tests/pg/pg-stop.sh DATA_DIR (a test script should do so from a trap
# on EXIT).
#
# Usage: pg-start.sh [DATA_DIR]            (default: $TMPDIR/qbackup-pg)
# Env:   PG_PORT   (default: a free port chosen at the first start)
#        PG_USER=qbackup  PG_DB=qbackup  PG_TIMEOUT=60
# Writes DATA_DIR/pg.env with QB_PG_URL (postgres://USER:PASSWORD@127.0.0.1:PORT/DB),
# PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE for psql.  Idempotent:
# re-running with the same DATA_DIR starts the server if it is not running.
# The server listens on 127.0.0.1 only, with password (scram-sha-256)
# authentication; fsync is off (a test server: speed over durability).
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# "postgres" user the package creates, so DATA_DIR's parents must be
# traversable by it.  Any number of servers may run on one host (unlike Ceph).
set -euo pipefail

D=$(realpath -m "${1:-${TMPDIR:-/tmp}/qbackup-pg}")
USER_=${PG_USER:-qbackup}
DB=${PG_DB:-qbackup}
TIMEOUT=${PG_TIMEOUT:-60}

log() { printf '[pg-start %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || ! command -v psql >/dev/null; then
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and we are not root (apt-get install postgresql)"
  log "installing postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

as_owner=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "no postgres user (the postgresql package creates it)"
  as_owner=(runuser -u postgres --)
fi

mkdir -p "$D"
[ "$(id -u)" != 0 ] || chown postgres: "$D"
"${as_owner[@]}" test -w "$D" ||
  die "$D is not writable by the server's user (as root: its parents must be traversable by 'postgres')"

if [ ! -s "$D/data/PG_VERSION" ]; then
  if [ -z "${PG_PORT:-}" ]; then
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  printf '%s\n' "$pw" >"$D/password"
  chmod 600 "$D/password"
  [ "$(id -u)" != 0 ] || chown postgres: "$D/password"
  log "initdb in $D/data (superuser $USER_)"
  "${as_owner[@]}" "$bindir/initdb" -D "$D/data" -U "$USER_" --pwfile="$D/password" \
    --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$D/initdb.log" 2>&1 ||
    { tail -n 20 "$D/initdb.log" >&2; die initdb; }
  mkdir -p "$D/run"
  [ "$(id -u)" != 0 ] || chown postgres: "$D/run"
  cat >>"$D/data/postgresql.conf" <<CONF
# tests/pg/pg-start.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$D/run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
fi
PORT=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$D/data/postgresql.conf" | tail -1)
pw=$(cat "$D/password")

if ! "${as_owner[@]}" "$bindir/pg_ctl" -D "$D/data" status >/dev/null 2>&1; then
  log "starting PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t "$TIMEOUT" start >/dev/null ||
    { tail -n 20 "$D/server.log" >&2; die "the server did not start"; }
fi

export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=$USER_ PGPASSWORD=$pw
if ! psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  psql -d postgres -qc "CREATE DATABASE \"$DB\"" >/dev/null
fi
cat >"$D/pg.env" <<ENV
QB_PG_URL=postgres://$USER_:$pw@127.0.0.1:$PORT/$DB
PGHOST=127.0.0.1
PGPORT=$PORT
PGUSER=$USER_
PGPASSWORD=$pw
PGDATABASE=$DB
ENV
chmod 600 "$D/pg.env"
log "ready: postgres://$USER_:***@127.0.0.1:$PORT/$DB   env file: $D/pg.env   stop: tests/pg/pg-stop.sh $D"
