#!/usr/bin/env bash
# qbackup's copy (tests/s3/), the counterpart of tests/s3/rgw-start.sh.
# rgw-stop.sh [DATA_DIR] [--purge]  - stop radosgw, ceph-osd, ceph-mgr, ceph-mon
# started by rgw-start.sh for DATA_DIR (by the PIDs in DATA_DIR/run/*.pid, never
# by process name).  --purge also deletes DATA_DIR.
set -uo pipefail
PURGE=0; ARGS=()
for a in "$@"; do [ "$a" = --purge ] && PURGE=1 || ARGS+=("$a"); done
D=$(realpath -m "${ARGS[0]:-${RGW_DATA:-${TMPDIR:-/tmp}/qbackup-rgw}}")
CONF=$D/ceph.conf
stop_pidfile() {
  local f=$1 p i
  [ -s "$f" ] || return 0
  p=$(cat "$f")
  if [ -d /proc/"$p" ] && grep -q "$CONF" /proc/"$p"/cmdline 2>/dev/null; then
    echo "stopping $(basename "$f" .pid) (pid $p)"
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 100); do [ -d /proc/"$p" ] || break; sleep 0.2; done
    [ -d /proc/"$p" ] && { echo "  pid $p still alive, SIGKILL"; kill -KILL "$p" 2>/dev/null; sleep 0.5; }
  fi
  rm -f "$f"
}
shopt -s nullglob
for f in "$D"/run/client.rgw.*.pid; do stop_pidfile "$f"; done
stop_pidfile "$D/run/osd.0.pid"
stop_pidfile "$D/run/mgr.x.pid"
stop_pidfile "$D/run/mon.a.pid"
if [ $PURGE = 1 ] && [ -e "$CONF" ]; then echo "purging $D"; rm -rf "$D"; fi
exit 0
