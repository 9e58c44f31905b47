# lib.sh -- helpers for the shell-level tests (sourced).  Needs QB_DAEMON,
# QB_SOURCE_DIR and QB_BUILD_DIR, which ctest sets.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Starts qbackupd on a free loopback port in a temporary directory; sets
# QBD_PID, QBD_PORT, QBD_DIR.  Extra arguments go to qbackupd.  qbd_stop
# (also run on exit) stops it and removes the directory.
qbd_start() {
  QBD_DIR=$(mktemp -d /tmp/qbackup-script-test.XXXXXX)
  trap qbd_stop EXIT
  qbd_launch "$@"
}

# Starts qbackupd again on $QBD_DIR/var (its catalogue and key file kept),
# appending to $QBD_DIR/log; sets QBD_PID and QBD_PORT.  For tests that
# restart the daemon: qbd_start once, then qbd_halt / qbd_launch.
qbd_launch() {
  rm -f "$QBD_DIR/port"
  "$QB_DAEMON" serve --listen 127.0.0.1:0 --port-file "$QBD_DIR/port" \
    --data-dir "$QBD_DIR/var" --qdrant-url http://127.0.0.1:9 "$@" 2>>"$QBD_DIR/log" &
  QBD_PID=$!
  for _ in $(seq 1 500); do
    [ -s "$QBD_DIR/port" ] && break
    kill -0 "$QBD_PID" 2>/dev/null || { cat "$QBD_DIR/log" >&2; fail "qbackupd exited"; }
    sleep 0.02
  done
  [ -s "$QBD_DIR/port" ] || fail "qbackupd did not start"
  QBD_PORT=$(cat "$QBD_DIR/port")
}

# Stops qbackupd (SIGTERM) and fails unless it exits 0; keeps $QBD_DIR.
qbd_halt() {
  kill -TERM "$QBD_PID"
  local status=0
  wait "$QBD_PID" || status=$?
  QBD_PID=
  [ "$status" = 0 ] || fail "qbackupd exit status $status"
}

qbd_stop() {
  if [ -n "${QBD_PID:-}" ]; then
    kill -TERM "$QBD_PID" 2>/dev/null || true
    wait "$QBD_PID" || { cat "$QBD_DIR/log" >&2; echo "FAIL: qbackupd exit status $?" >&2; }
    QBD_PID=
  fi
  [ -n "${QBD_DIR:-}" ] && rm -rf "$QBD_DIR"
}
