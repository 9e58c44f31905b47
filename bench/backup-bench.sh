#!/usr/bin/env bash
# bench/backup-bench.sh -- end-to-end backup and restore through qbackupd,
# next to the cron script it replaces, on one machine in one run:
#
#   qdrant-emu (collections of N GiB) --> qbackupd --> Ceph RGW (S3)
#
# For every size N (GiB) it measures
#   (a) a backup run of plan verify=false and of plan verify=true: wall time
#       from POST /v1/plans/{p}/runs?wait=3600 to its 200, MB/s, qbackupd's
#       peak RSS during the run (VmHWM, reset before the run through
#       /proc/PID/clear_refs), CPU seconds of qbackupd / qdrant-emu / Ceph;
#   (b) the classic cron script: POST /collections/{c}/snapshots, then
#       `curl -o file` of it, then `/usr/bin/aws s3 cp file s3://...`, each
#       timed (the download and the upload are the "bare" transfers), and the
#       target ratio qbackupd MB/s / min(bare download, bare upload) MB/s;
#   (c) a restore of the verify=false snapshot with method upload and with
#       method url (presigned), overwrite:true, safety_snapshot:false.
# Prints markdown tables for docs/benchmarks.md.  Not a test: it only
# asserts that every step answered as expected.
#
# Usage: bench/backup-bench.sh [SIZE_GIB...]        (default: 1 4)
# Env:   QB_BENCH_RESTORE_MAX_GIB  restore only sizes up to this (default: all)
#        QB_BENCH_BUILD_DIR        CMake build dir (default: build-bench in the repo)
#        TMPDIR                    where the work dir goes (needs ~5 x the largest
#                                  size free, plus the RGW's sparse OSD file)
# One Ceph cluster per host (mon ports 3300/6789 are fixed): when one is
# running, the script names its data dir and waits (up to 10 min) for it to
# stop; stop it with tests/s3/rgw-stop.sh DATA_DIR.  Its own cluster, the
# emulator and qbackupd are stopped on exit, and the work dir is deleted.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 4)
RESTORE_MAX=${QB_BENCH_RESTORE_MAX_GIB:-1000000}
BUILD=${QB_BENCH_BUILD_DIR:-$SRC/build-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qb-backup-bench.XXXXXX")
RGW=$WORK/rgw
AWS=/usr/bin/aws # Debian's awscli, not a pip/pyenv one earlier in PATH
BUCKET=qb-bench-$$
TCK=$(getconf CLK_TCK)
EPID='' QPID=''
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
stop_pid() { # stop_pid PID: SIGTERM, wait up to 30 s, then SIGKILL
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  if [ $rc != 0 ]; then
    for f in qbackupd.log emu.out emu.err; do
      [ -s "$WORK/$f" ] && { echo "--- tail $f" >&2; tail -n 20 "$WORK/$f" >&2; }
    done
  fi
  stop_pid "$QPID"
  stop_pid "$EPID"
  "$SRC/tests/s3/rgw-stop.sh" "$RGW" --purge >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ tools
need=()
[ -x "$AWS" ] || need+=(awscli)
[ -x /usr/bin/time ] || need+=(time)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

log "building qbackupd and qdrant-emu (RelWithDebInfo, no sanitizers) in $BUILD"
if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQB_SANITIZE=OFF &&
  cmake --build "$BUILD" -j2 --target qbackupd qdrant-emu; } >"$WORK/build.log" 2>&1; then
  tail -n 30 "$WORK/build.log" >&2
  die "build"
fi
QBD=$BUILD/qbackupd
EMU=$BUILD/tests/emulators/qdrant-emu

max=0
for g in "${SIZES[@]}"; do [ "$g" -gt "$max" ] && max=$g; done
avail=$(df -Pk "$WORK" | awk 'NR==2 {print int($4 / 1048576)}')
log "disk: $(df -h "$WORK" | awk 'NR==2 {print $4 " free on " $6}'); largest size $max GiB"
[ "$avail" -ge $((5 * max + 4)) ] || die "need ~$((5 * max + 4)) GiB free under $WORK, have $avail GiB"

# -------------------------------------------------------------------- RGW
for attempt in $(seq 1 30); do
  if out=$("$SRC/tests/s3/rgw-start.sh" "$RGW" 2>&1); then break; fi
  if ! grep -q "already in use" <<<"$out" || [ "$attempt" = 30 ]; then
    printf '%s\n' "$out" >&2
    die "rgw-start.sh"
  fi
  other=$(pgrep -a ceph-mon | sed -n 's/.* -c \([^ ]*\)\/ceph.conf.*/\1/p' | head -1)
  log "Ceph ports busy (cluster ${other:-?} is running; stop it with tests/s3/rgw-stop.sh ${other:-DATA_DIR}); retrying in 20 s"
  sleep 20
done
set -a
# shellcheck disable=SC1091
. "$RGW/s3.env"
set +a
export AWS_REGION=$AWS_DEFAULT_REGION
"$AWS" --endpoint-url "$S3_ENDPOINT" s3 mb "s3://$BUCKET" >/dev/null
mapfile -t CEPH_PIDS < <(cat "$RGW"/run/*.pid)

# ---------------------------------------------------- emulator, qbackupd
"$EMU" --port 0 --data-dir "$WORK/qdrant" >"$WORK/emu.out" 2>"$WORK/emu.err" &
EPID=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/emu.out" && break; sleep 0.1; done
Q=http://$(sed -n 's/^listening on //p' "$WORK/emu.out" | head -1)
[ "$Q" != http:// ] || die "qdrant-emu did not start"
mkdir -p "$WORK/qbd"
env -u QBACKUP_TOKENS -u QBACKUP_TOKENS_FILE -u QBACKUP_CONFIG "$QBD" serve \
  --listen 127.0.0.1:0 --port-file "$WORK/qbd.port" --data-dir "$WORK/qbd" \
  --qdrant-url "$Q" --log-level info >"$WORK/qbackupd.log" 2>&1 &
QPID=$!
for _ in $(seq 1 100); do [ -s "$WORK/qbd.port" ] && break; sleep 0.1; done
[ -s "$WORK/qbd.port" ] || die "qbackupd did not start"
B=http://127.0.0.1:$(tr -d '[:space:]' <"$WORK/qbd.port")
log "qdrant-emu $Q (pid $EPID), qbackupd $B (pid $QPID), RGW $S3_ENDPOINT"

# api METHOD URL [JSON] -> body on stdout; dies unless 2xx
api() {
  local code args=()
  [ $# -lt 3 ] || args=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl -sS -o "$WORK/resp" -w '%{http_code}' -X "$1" "${args[@]}" "$2") || die "$1 $2: curl"
  [ "${code:0:1}" = 2 ] || { cat "$WORK/resp" >&2; echo >&2; die "$1 $2: HTTP $code"; }
  cat "$WORK/resp"
}
api POST "$B/v1/destinations" "$(jq -nc --arg b "$BUCKET" --arg e "$S3_ENDPOINT" \
  --arg a "$AWS_ACCESS_KEY_ID" --arg s "$AWS_SECRET_ACCESS_KEY" '{name:"rgw", kind:"s3",
   settings:{bucket:$b, prefix:"qbackupd", endpoint:$e, region:"us-east-1", path_style:true},
   credentials:{access_key:$a, secret_key:$s}}')" >/dev/null

# ------------------------------------------------------------ measuring
now() { date +%s.%N; }
# CPU ticks (user+system) of the given pids, summed
ticks() {
  local p t=0
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
# "busy total" jiffies of the whole host (all CPUs), from /proc/stat
host_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
cpu_mark() {
  CPU0=("$(ticks "$QPID")" "$(ticks "$EPID")" "$(ticks "${CEPH_PIDS[@]}")")
  HOST0=$(host_jiffies)
}
# cpu_since [CLIENT_CPU_S] -> "client / qbackupd / emu / ceph | host busy %" since cpu_mark
# (CPU seconds of each; host busy: non-idle share of all CPUs, whoever used them)
cpu_since() {
  local h1
  h1=$(host_jiffies)
  awk -v c="${1:--}" -v q="$(($(ticks "$QPID") - CPU0[0]))" -v e="$(($(ticks "$EPID") - CPU0[1]))" \
    -v r="$(($(ticks "${CEPH_PIDS[@]}") - CPU0[2]))" -v t="$TCK" -v h0="$HOST0" -v h1="$h1" \
    'BEGIN { split(h0, a, " "); split(h1, b, " ")
             printf "%s / %.1f / %.1f / %.1f | %.0f%%", c, q / t, e / t, r / t,
                    100 * (b[1] - a[1]) / (b[2] - a[2] > 0 ? b[2] - a[2] : 1) }'
}
reset_hwm() { echo 5 >"/proc/$QPID/clear_refs"; }
hwm_mib() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$QPID/status"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / (s > 0 ? s : 0.01) }'; }
# emulator snapshots of collection $1 (uploads kept by recovery included): delete them all
emu_snapshots_clear() {
  local n
  for n in $(curl -sS "$Q/collections/$1/snapshots" | jq -r '.result[]?.name'); do
    curl -sS -o /dev/null -X DELETE "$Q/collections/$1/snapshots/$n"
  done
}

# qbd_call NAME URL JSON: timed long-poll call to qbackupd; sets LAST_* and adds a row
qbd_call() {
  local what=$1 url=$2 body=$3 t0 t1 code
  sync
  reset_hwm
  cpu_mark
  t0=$(now)
  code=$(curl -sS -m 4000 -o "$WORK/run.json" -w '%{http_code}' -X POST "$url" \
    -H 'Content-Type: application/json' --data-binary "$body")
  t1=$(now)
  [ "$code" = 200 ] || { cat "$WORK/run.json" >&2; echo >&2; die "$what: HTTP $code"; }
  LAST_S=$(secs "$t0" "$t1")
  LAST_HWM=$(hwm_mib)
  LAST_CPU=$(cpu_since "-")
}

# timed_cmd VAR CMD...: /usr/bin/time; VAR="wall cpu_s rss_mib"
timed_cmd() {
  local var=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" ||
    { cat "$WORK/err" >&2; die "$*"; }
  printf -v "$var" '%s' "$(tail -n 1 "$WORK/time" | awk '{printf "%s %.1f %.0f", $1, $2 + $3, $4 / 1024}')"
}

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
BROWS=() RROWS=() TROWS=()
for g in "${SIZES[@]}"; do
  c=bench${g}g
  log "== $g GiB: creating collection $c"
  api PUT "$Q/collections/$c" '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
  api PUT "$Q/collections/$c/points?wait=true" \
    '{"points":[{"id":1,"vector":[0.05,0.61,0.76,0.74],"payload":{"n":1}},{"id":2,"vector":[0.19,0.81,0.75,0.11],"payload":{"n":2}}]}' >/dev/null
  api POST "$Q/debug/fill/$c?mb=$((g * 1024))" >/dev/null
  for v in false true; do
    api POST "$B/v1/plans" "{\"name\":\"p$g-verify-$v\",\"destination\":\"rgw\",\"collections\":[\"$c\"],\"verify\":$v}" >/dev/null
  done

  # (a) qbackupd
  for v in false true; do
    log "$g GiB: qbackupd backup run, verify=$v"
    qbd_call "backup $g GiB verify=$v" "$B/v1/plans/p$g-verify-$v/runs?wait=3600" '{}'
    size=$(jq -r '.results[0].size' "$WORK/run.json")
    sid=$(jq -r '.results[0].snapshot_id' "$WORK/run.json")
    [ "$(jq -r '.results[0].verified' "$WORK/run.json")" = "$v" ] || die "verified flag"
    BROWS+=("| $g GiB | qbackupd run, verify=$v | $LAST_S | $(mbps "$size" "$LAST_S") | $LAST_HWM | $LAST_CPU |")
    log "  ${LAST_S}s, $(mbps "$size" "$LAST_S") MB/s, peak RSS $LAST_HWM MiB, snapshot $sid ($size bytes)"
    if [ $v = false ]; then
      SID=$sid SIZE=$size QB_S=$LAST_S
    else
      api DELETE "$B/v1/snapshots/$sid" >/dev/null # frees RGW space for what follows
    fi
  done

  # (b) the cron script: snapshot, curl -o, aws s3 cp
  log "$g GiB: cron script (snapshot, curl -o, aws s3 cp)"
  sync
  cpu_mark
  t0=$(now)
  name=$(api POST "$Q/collections/$c/snapshots?wait=true" | jq -r .result.name)
  t1=$(now)
  CREATE_S=$(secs "$t0" "$t1")
  BROWS+=("| $g GiB | cron: POST …/snapshots (create) | $CREATE_S | — | — | $(cpu_since "-") |")
  f=$WORK/$name
  sync
  cpu_mark
  timed_cmd dl curl -sS --fail -o "$f" "$Q/collections/$c/snapshots/$name"
  # shellcheck disable=SC2154 # set by timed_cmd
  read -r DL_S dl_cpu dl_rss <<<"$dl"
  fsize=$(stat -c %s "$f")
  BROWS+=("| $g GiB | cron: \`curl -o\` (bare download) | $DL_S | $(mbps "$fsize" "$DL_S") | $dl_rss (curl) | $(cpu_since "$dl_cpu") |")
  sync
  cpu_mark
  timed_cmd up "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$f" "s3://$BUCKET/cron/$name"
  # shellcheck disable=SC2154 # set by timed_cmd
  read -r UP_S up_cpu up_rss <<<"$up"
  BROWS+=("| $g GiB | cron: \`aws s3 cp\` (bare upload) | $UP_S | $(mbps "$fsize" "$UP_S") | $up_rss (aws) | $(cpu_since "$up_cpu") |")
  CRON_S=$(awk -v a="$CREATE_S" -v b="$DL_S" -v c="$UP_S" 'BEGIN { printf "%.1f", a + b + c }')
  BROWS+=("| $g GiB | cron script total | $CRON_S | $(mbps "$fsize" "$CRON_S") | | | |")
  log "  create ${CREATE_S}s, download ${DL_S}s, upload ${UP_S}s"
  rm -f "$f"
  "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rm --only-show-errors "s3://$BUCKET/cron/$name"
  emu_snapshots_clear "$c"
  qb=$(mbps "$SIZE" "$QB_S") bd=$(mbps "$fsize" "$DL_S") bu=$(mbps "$fsize" "$UP_S")
  lo=$((bd < bu ? bd : bu))
  ratio=$(awk -v a="$qb" -v b="$lo" 'BEGIN { printf "%.2f", a / b }')
  # the same ratio with the emulator's snapshot creation (measured in the cron
  # part) taken out of qbackupd's wall time: the transfer pipeline alone
  xfer=$(awk -v s="$SIZE" -v w="$QB_S" -v c="$CREATE_S" -v b="$lo" \
    'BEGIN { printf "%.2f", (w - c > 0 ? s / 1e6 / (w - c) / b : 0) }')
  met=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.9 ? "yes" : "no") }')
  TROWS+=("| $g GiB | $qb | $bd | $bu | $ratio | $met | $xfer |")

  # (c) restores
  if [ "$g" -le "$RESTORE_MAX" ]; then
    for m in upload url; do
      log "$g GiB: restore of snapshot $SID by $m"
      qbd_call "restore $g GiB $m" "$B/v1/restores?wait=3600" \
        "{\"snapshot_id\":$SID,\"overwrite\":true,\"method\":\"$m\",\"safety_snapshot\":false}"
      [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || die "restore state"
      RROWS+=("| $g GiB | $m | $LAST_S | $(mbps "$SIZE" "$LAST_S") | $LAST_HWM | $LAST_CPU |")
      log "  ${LAST_S}s, $(mbps "$SIZE" "$LAST_S") MB/s, peak RSS $LAST_HWM MiB"
      emu_snapshots_clear "$c"
    done
  fi

  api DELETE "$B/v1/snapshots/$SID" >/dev/null
  api DELETE "$Q/collections/$c" >/dev/null
  emu_snapshots_clear "$c"
  log "disk: $(df -h "$WORK" | awk 'NR==2 {print $4 " free"}')"
done

# ----------------------------------------------------------------- report
echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "Server: $(radosgw --version | awk '{print "Ceph", $3}') RGW (1 mon, 1 bluestore OSD on a sparse file) on 127.0.0.1;" \
  "qdrant-emu $(curl -s "$Q/" | jq -r .version); $("$AWS" --version 2>&1 | awk '{print $1}'); $(curl --version | head -1 | awk '{print $1, $2}')"
echo "qbackupd: RelWithDebInfo, destination defaults (32 MiB parts x 4 in flight)"
echo "Command: bench/backup-bench.sh ${SIZES[*]}"
echo "Load average (1 min) at start: $LOAD0; at end: $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "### Backup runs"
echo
echo "| collection | what | wall s | MB/s | peak RSS MiB | CPU s: client / qbackupd / qdrant-emu / Ceph | host CPU busy |"
echo "|---|---|---:|---:|---:|---|---:|"
printf '%s\n' "${BROWS[@]}"
echo
echo "| collection | qbackupd MB/s (verify=false) | bare download MB/s | bare upload MB/s | ratio | ≥ 0.9? | ratio without snapshot creation |"
echo "|---|---:|---:|---:|---:|---|---:|"
printf '%s\n' "${TROWS[@]}"
if [ ${#RROWS[@]} -gt 0 ]; then
  echo
  echo "### Restores"
  echo
  echo "| snapshot | method | wall s | MB/s | qbackupd peak RSS MiB | CPU s: client / qbackupd / qdrant-emu / Ceph | host CPU busy |"
  echo "|---|---|---:|---:|---:|---|---:|"
  printf '%s\n' "${RROWS[@]}"
fi
