#!/usr/bin/env bash
# qbackup's copy of the RGW recipe (tests/s3/): the S3 tests (label needs:s3)
# run against the real Ceph RADOS Gateway this starts.  Stop it with
# tests/s3/rgw-stop.sh DATA_DIR (a test script should do so from a trap on EXIT).
#
# rgw-start.sh - bring up a throw-away single-host Ceph cluster (1 mon, 1 OSD,
# no mgr, cephx off) bound to 127.0.0.1 plus a RADOS Gateway (beast frontend)
# on 127.0.0.1:$RGW_PORT, and an S3 user with fixed keys.  Debian 12 / Ceph 16.2.x.
#
# Usage: rgw-start.sh [DATA_DIR]          (default: $TMPDIR/qbackup-rgw)
# Env:   RGW_PORT=7480  RGW_MON_PORT=3300  RGW_MON_V1_PORT=6789  RGW_ACCESS_KEY=...  RGW_SECRET_KEY=...  RGW_UID=qbackup
#        RGW_OSD_STORE=bluestore|memstore   RGW_OSD_SIZE_GB=40 (bluestore sparse file / memstore RAM cap)
#        RGW_WITH_MGR=0|1 (start a ceph-mgr too; not needed for S3)  RGW_TIMEOUT=180
#        RGW_DEBUG=1 (debug_rgw; at 20 RGW logs its canonical request for every request
#        whose signature it rejects, in DATA_DIR/log/client.rgw.*.log)
# Idempotent: re-running with the same DATA_DIR re-uses the cluster, starts only
# the daemons that are not running, and re-uses the user.  The ports / RGW_OSD_STORE /
# RGW_OSD_SIZE_GB / RGW_DEBUG are written into DATA_DIR/ceph.conf on the first run and fixed after that.
# Ports: a new cluster takes the defaults above, or, where one is in use (another cluster: a
# developer's next to the test suite's) and the variable is not set, the next free port up, so
# several clusters can run on one host.  All sockets bind 127.0.0.1.
# Region: RGW accepts any region name in the SigV4 credential scope.
# Must run as root (or with sudo) if packages have to be installed.
set -euo pipefail

D=$(realpath -m "${1:-${RGW_DATA:-${TMPDIR:-/tmp}/qbackup-rgw}}")
PORT=${RGW_PORT:-7480}
MON_PORT=${RGW_MON_PORT:-3300}
MON_V1_PORT=${RGW_MON_V1_PORT:-6789}
ACCESS=${RGW_ACCESS_KEY:-QBACKUPTESTACCESSKEY}
SECRET=${RGW_SECRET_KEY:-qbackupTestSecretKey000000000000000000001}
UID_=${RGW_UID:-qbackup}
STORE=${RGW_OSD_STORE:-bluestore}
SIZE_GB=${RGW_OSD_SIZE_GB:-40}
WITH_MGR=${RGW_WITH_MGR:-0}
TIMEOUT=${RGW_TIMEOUT:-180}
DEBUG_RGW=${RGW_DEBUG:-1}
CONF=$D/ceph.conf
export CEPH_CONF=$CONF

log() { printf '[rgw-start %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# an existing data dir keeps the ports it was created with
if [ -s "$CONF" ]; then
  p=$(sed -n 's/^rgw_frontends = beast endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$CONF"); PORT=${p:-$PORT}
  p=$(sed -n 's/^mon_host = \[v2:127.0.0.1:\([0-9]*\),v1:.*/\1/p' "$CONF"); MON_PORT=${p:-$MON_PORT}
  p=$(sed -n 's/^mon_host = .*,v1:127.0.0.1:\([0-9]*\)\]/\1/p' "$CONF"); MON_V1_PORT=${p:-$MON_V1_PORT}
fi

# ---------------------------------------------------------------- packages
need=()
for b in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw radosgw-admin:radosgw \
         ceph:ceph-common monmaptool:ceph-base curl:curl ss:iproute2; do
  command -v "${b%%:*}" >/dev/null 2>&1 || need+=("${b#*:}")
done
[ "$WITH_MGR" = 1 ] && ! command -v ceph-mgr >/dev/null 2>&1 && need+=(ceph-mgr)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages ${need[*]} and not root"
  log "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# helper: is the daemon whose pid file is $1 alive?
alive() { local p; [ -s "$1" ] && p=$(cat "$1") && [ -d /proc/"$p" ] && grep -q "$CONF" /proc/"$p"/cmdline 2>/dev/null; }
waitfor() { # waitfor SECONDS DESCRIPTION CMD...
  local t=$1 what=$2; shift 2; local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timeout waiting for $what (see $D/log)"; sleep 0.5
  done
}
port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
free_port() { local p=$1; while port_busy "$p"; do p=$((p + 1)); done; echo "$p"; }
if [ ! -s "$CONF" ]; then # a new cluster: a default in use and not asked for moves up
  [ -n "${RGW_PORT:-}" ] || PORT=$(free_port "$PORT")
  [ -n "${RGW_MON_PORT:-}" ] || MON_PORT=$(free_port "$MON_PORT")
  [ -n "${RGW_MON_V1_PORT:-}" ] || MON_V1_PORT=$(free_port "$MON_V1_PORT")
fi
if ! alive "$D/run/mon.a.pid" && port_busy "$MON_PORT"; then
  die "port $MON_PORT is already in use (another rgw-start.sh cluster with a different data dir?)"
fi
if ! alive "$D/run/client.rgw.$UID_.pid" && port_busy "$PORT"; then die "port $PORT is already in use"; fi

mkdir -p "$D"/{run,log,mon/ceph-a,osd/ceph-0,mgr/ceph-x,rgw}

# ------------------------------------------------------------- ceph.conf
if [ ! -s "$CONF" ]; then
  FSID=$(cat /proc/sys/kernel/random/uuid)
  if [ "$STORE" = memstore ]; then
    STORE_CONF="osd_objectstore = memstore
memstore_device_bytes = $((SIZE_GB * 1024 * 1024 * 1024))"
  else
    STORE_CONF="osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = $((SIZE_GB * 1024 * 1024 * 1024))
bluestore_fsck_on_mount = false
bluestore_fsck_on_mkfs = false
osd_memory_target = 1073741824"
  fi
  cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $D/run
admin_socket = $D/run/\$cluster-\$name.asok
pid_file = $D/run/\$name.pid
log_file = $D/log/\$name.log
log_to_stderr = false
err_to_stderr = true
crash_dir = $D/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
debug_ms = 0
debug_rgw = $DEBUG_RGW

[mon]
mon_data = $D/mon/\$cluster-\$id

[mgr]
mgr_data = $D/mgr/\$cluster-\$id

[osd]
osd_data = $D/osd/\$cluster-\$id
$STORE_CONF

[client.rgw.$UID_]
rgw_frontends = beast endpoint=127.0.0.1:$PORT
rgw_data = $D/rgw
# radosgw's built-in defaults are ms_mon_client_mode=secure + auth_client_required=cephx;
# 'secure' needs cephx, so with auth=none it must be crc or rgw never connects to the mon.
ms_mon_client_mode = crc
client_mount_timeout = 60
# deleted/overwritten object data is only reclaimed by RGW garbage collection, default after 2 h;
# make it ~1 min so repeated benchmark runs don't fill the OSD (or RAM with memstore)
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
rgw_gc_processor_max_time = 60
EOF
  log "wrote $CONF (fsid $FSID, osd store $STORE)"
fi
FSID=$(awk -F' = ' '$1=="fsid"{print $2}' "$CONF")


# ------------------------------------------------------------------- mon
if [ ! -e "$D/mon/ceph-a/.done" ]; then
  rm -rf "$D/mon/ceph-a"; mkdir -p "$D/mon/ceph-a"
  monmaptool --create --clobber --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]" "$D/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap"
  touch "$D/mon/ceph-a/.done"
fi
if ! alive "$D/run/mon.a.pid"; then log "starting ceph-mon"; ceph-mon -c "$CONF" -i a 2>>"$D/log/mon.a.stderr" || die "ceph-mon failed to start"; fi
waitfor "$TIMEOUT" "mon quorum" ceph --connect-timeout 5 mon stat

# ------------------------------------------------------------------- mgr (optional)
if [ "$WITH_MGR" = 1 ] && ! alive "$D/run/mgr.x.pid"; then log "starting ceph-mgr"; ceph-mgr -c "$CONF" -i x 2>>"$D/log/mgr.x.stderr"; fi

# ------------------------------------------------------------------- osd
if [ ! -e "$D/osd/ceph-0/.done" ]; then
  rm -rf "$D/osd/ceph-0"; mkdir -p "$D/osd/ceph-0"
  OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph osd new "$OSD_UUID")
  [ "$id" = 0 ] || die "expected osd id 0, got '$id' (stale data dir? remove $D)"
  log "mkfs osd.0 ($STORE)"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" 2>>"$D/log/osd-mkfs.log" || die "osd mkfs failed, see $D/log"
  touch "$D/osd/ceph-0/.done"
fi
if ! alive "$D/run/osd.0.pid"; then log "starting ceph-osd"; ceph-osd -c "$CONF" -i 0 2>>"$D/log/osd.0.stderr" || die "ceph-osd failed to start"; fi
osd_up() { ceph osd dump 2>/dev/null | grep -q '^osd\.0 up  *in'; }
waitfor "$TIMEOUT" "osd.0 up+in" osd_up

# ------------------------------------------------------------------- rgw
if ! alive "$D/run/client.rgw.$UID_.pid"; then
  log "starting radosgw on 127.0.0.1:$PORT"; radosgw -c "$CONF" -n "client.rgw.$UID_" 2>>"$D/log/rgw.stderr" || die "radosgw failed to start"
fi
rgw_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 200 ]; }
waitfor "$TIMEOUT" "radosgw http on :$PORT" rgw_ok

# ------------------------------------------------------------------- user
if ! radosgw-admin user info --uid="$UID_" >/dev/null 2>&1; then
  radosgw-admin user create --uid="$UID_" --display-name="qbackup test user" \
      --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null
  log "created user $UID_"
elif ! radosgw-admin user info --uid="$UID_" | grep -q "\"access_key\": \"$ACCESS\""; then
  radosgw-admin key create --uid="$UID_" --key-type=s3 --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null
fi

cat >"$D/s3.env" <<EOF
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PORT
export S3_ENDPOINT=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=$ACCESS
export AWS_SECRET_ACCESS_KEY=$SECRET
export AWS_DEFAULT_REGION=us-east-1
EOF
echo "endpoint:   http://127.0.0.1:$PORT   (path-style; any region name is accepted, e.g. us-east-1)"
echo "access key: $ACCESS"
echo "secret key: $SECRET"
echo "env file:   $D/s3.env      logs: $D/log   stop: rgw-stop.sh $D"
