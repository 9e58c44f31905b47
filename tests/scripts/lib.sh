# lib.sh -- helpers for the shell-level tests (sourced).  Needs QB_DAEMON,
# QB_SOURCE_DIR and QB_BUILD_DIR, which ctest sets.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Starts qbackupd on a free loopback port in a temporary directory; sets
# QBD_PID, QBD_PORT, QBD_DIR.  Extra arguments go to qbackupd.
qbd_start() {
  QBD_DIR=$(mktemp -d /tmp/qbackup-script-test.XXXXXX)
  "$QB_DAEMON" serve --listen 127.0.0.1:0 --port-file "$QBD_DIR/port" \
    --data-dir "$QBD_DIR/var" --qdrant-url http://127.0.0.1:9 "$@" 2>"$QBD_DIR/log" &
  QBD_PID=$!
  for _ in $(seq 1 500); do
    [ -s "$QBD_DIR/port" ] && break
    kill -0 "$QBD_PID" 2>/dev/null || { cat "$QBD_DIR/log" >&2; fail "qbackupd exited"; }
    sleep 0.02
  done
  [ -s "$QBD_DIR/port" ] || fail "qbackupd did not start"
  QBD_PORT=$(cat "$QBD_DIR/port")
  trap qbd_stop EXIT
}

qbd_stop() {
  if [ -n "${QBD_PID:-}" ]; then
    kill -TERM "$QBD_PID" 2>/dev/null || true
    wait "$QBD_PID" || { cat "$QBD_DIR/log" >&2; echo "FAIL: qbackupd exit status $?" >&2; }
    QBD_PID=
  fi
  [ -n "${QBD_DIR:-}" ] && rm -rf "$QBD_DIR"
}
