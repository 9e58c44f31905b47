# shellcheck shell=bash
# bench/lib.sh -- what the benchmarks share: a work dir cleaned up on exit,
# building qbackupd and qdrant-emu without sanitizers, starting the emulator,
# qbackupd and (optionally) a Ceph RGW, calling the API, and measuring a
# process's CPU time and peak RSS.  Sourced, never run:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init scale          # WORK, log, die, cleanup on exit
#   bench_build               # QBD, EMU (RelWithDebInfo; bench_build Release: -O3)
#   bench_emu_start; bench_qbd_start --log-level warn
#
# Settings every bench takes from the environment:
#   QB_BENCH_BUILD_DIR  CMake build dir (default: build-bench in the repo)
#   QB_BENCH_NO_BUILD=1 use that build as it is
#   QB_BENCH_RGW_DIR    data dir of a Ceph RGW already running (its s3.env
#                       and run/*.pid are used; it is neither started nor
#                       stopped); default: bench_rgw_start starts its own
#   TMPDIR              where the work dir goes
# The variables a bench reads after these calls: SRC, WORK, QBD, EMU, Q (the
# emulator's URL), EPID, B (qbackupd's URL), QPID, S3_ENDPOINT, BUCKET,
# CEPH_PIDS, BUILD, BENCH_BUILD_TYPE.  A bench with more processes of its own (a
# sampler, several emulators) appends their pids to BENCH_PIDS, and names
# their logs qbackupd*.log / emu*.out so a failure shows their tails.

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TCK=$(getconf CLK_TCK)
AWS=/usr/bin/aws # Debian's awscli, not a pip/pyenv one earlier in PATH
EPID='' QPID='' OWN_RGW=0 BUCKET='' RGW=''
BENCH_PIDS=() # more processes to stop on exit

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
bench_cleanup() {
  local rc=$? f p
  if [ $rc != 0 ]; then
    for f in "$WORK"/qbackupd*.log "$WORK"/emu*.out "$WORK"/emu*.err; do
      [ -s "$f" ] && { echo "--- tail ${f##*/}" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  for p in "${BENCH_PIDS[@]}"; do stop_pid "$p"; done
  stop_pid "$QPID"
  stop_pid "$EPID"
  [ "$OWN_RGW" = 0 ] || "$SRC/tests/s3/rgw-stop.sh" "$RGW" --purge >/dev/null 2>&1 || true
  [ "$OWN_RGW" = 1 ] || [ -z "$BUCKET" ] ||
    "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rb --force "s3://$BUCKET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

# bench_init NAME: the work dir and the exit trap.
bench_init() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/qb-$1-bench.XXXXXX")
  : >"$WORK/samples"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# bench_build [BUILD_TYPE [CMAKE_ARG...]]: the targets BENCH_TARGETS names
# (default qbackupd and qdrant-emu), no sanitizers, BUILD_TYPE
# RelWithDebInfo unless given; BUILD is the build dir, and the build type
# the binaries really have (QB_BENCH_NO_BUILD) is left in BENCH_BUILD_TYPE.
bench_build() {
  local type=${1:-RelWithDebInfo} targets t
  [ $# -eq 0 ] || shift
  read -r -a targets <<<"${BENCH_TARGETS:-qbackupd qdrant-emu}"
  BUILD=${QB_BENCH_BUILD_DIR:-$SRC/build-bench}
  if [ "${QB_BENCH_NO_BUILD:-0}" != 1 ]; then
    log "building ${targets[*]} ($type, no sanitizers) in $BUILD"
    { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE="$type" -DQB_SANITIZE=OFF "$@" &&
      cmake --build "$BUILD" -j2 --target "${targets[@]}"; } >"$WORK/build.log" 2>&1 ||
      { tail -n 30 "$WORK/build.log" >&2; die build; }
  else
    log "using the existing build in $BUILD"
  fi
  QBD=$BUILD/qbackupd
  EMU=$BUILD/tests/emulators/qdrant-emu
  for t in "${targets[@]}"; do
    case $t in
      qbackupd) [ -x "$QBD" ] || die "no $QBD" ;;
      qdrant-emu) [ -x "$EMU" ] || die "no $EMU" ;;
    esac
  done
  BENCH_BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
}

# bench_build_storage_bench OUT: bench/storage_bench.c with only the
# modules the storage layer needs, optimised like a release build
# (RelWithDebInfo: -O2 -g -DNDEBUG), so the rest of the tree need not build.
# The one list of those modules: a module the storage layer starts to use
# is added here.
bench_build_storage_bench() {
  log "building $1"
  # shellcheck disable=SC2046
  ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -DNDEBUG -I"$SRC/src" -o "$1" \
    "$SRC/bench/storage_bench.c" "$SRC/src/common.c" "$SRC/src/util/buf.c" "$SRC/src/util/log.c" \
    "$SRC/src/util/json_util.c" "$SRC/src/util/seal.c" "$SRC/src/remote/http_client.c" \
    "$SRC/src/remote/sigv4.c" "$SRC/src/remote/s3_client.c" "$SRC/src/remote/s3_upload.c" \
    "$SRC/src/remote/s3_multipart.c" "$SRC/src/remote/s3_copy.c" "$SRC/src/remote/s3_download.c" "$SRC/src/remote/s3_lock.c" \
    "$SRC/src/remote/s3_xml.c" "$SRC/src/util/retry.c" "$SRC/src/util/threads.c" \
    "$SRC/src/util/rfc3339.c" "$SRC/src/storage/bridge.c" "$SRC/src/storage/storage.c" \
    "$SRC/src/storage/storage_local.c" "$SRC/src/storage/storage_s3.c" \
    "$SRC/src/codec/codec.c" "$SRC/src/codec/codec_zstd.c" "$SRC/src/codec/codec_aead.c" \
    $(pkg-config --cflags --libs libcurl libcjson libcrypto libzstd) -lpthread -lm
}

# bench_need_tools CMD...: installs Debian's awscli, time or jq when missing.
bench_need_tools() {
  local need=() t
  for t in "$@"; do
    case $t in
      aws) [ -x "$AWS" ] || need+=(awscli) ;;
      time) [ -x /usr/bin/time ] || need+=(time) ;;
      *) command -v "$t" >/dev/null || need+=("$t") ;;
    esac
  done
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# bench_disk_check N [UNIT]: dies unless N GiB (UNIT MiB: N MiB) are free
# under the work dir.
bench_disk_check() {
  local unit=${2:-GiB} avail
  avail=$(df -Pk "$WORK" | awk -v d="$([ "$unit" = MiB ] && echo 1024 || echo 1048576)" \
    'NR==2 {print int($4 / d)}')
  log "disk: $avail $unit free under $WORK, need ~$1"
  [ "$avail" -ge "$1" ] || die "need ~$1 $unit free under $WORK, have $avail $unit"
}

# bench_rgw_start: a Ceph RGW (our own, or QB_BENCH_RGW_DIR's) and a fresh
# bucket; exports its S3 environment.  Our own cluster runs next to any
# other on the host (rgw-start.sh takes free ports), which then shares the
# CPU: for quiet figures, stop the others or name one in QB_BENCH_RGW_DIR.
bench_rgw_start() {
  local out
  RGW=${QB_BENCH_RGW_DIR:-$WORK/rgw}
  if [ -z "${QB_BENCH_RGW_DIR:-}" ]; then
    OWN_RGW=1
    if ! out=$("$SRC/tests/s3/rgw-start.sh" "$RGW" 2>&1); then
      printf '%s\n' "$out" >&2
      die "rgw-start.sh"
    fi
    if pgrep -a ceph-mon | grep -v -q -- "-c $RGW/ceph.conf"; then
      log "another Ceph cluster runs on this host: the figures share its CPU"
    fi
  fi
  set -a
  # shellcheck disable=SC1091
  . "$RGW/s3.env"
  set +a
  export AWS_REGION=$AWS_DEFAULT_REGION
  BUCKET=qb-bench-$$
  "$AWS" --endpoint-url "$S3_ENDPOINT" s3 mb "s3://$BUCKET" >/dev/null
  mapfile -t CEPH_PIDS < <(cat "$RGW"/run/*.pid)
}

# bench_emu_start [ARGS...]: qdrant-emu on a free port; sets Q and EPID.
bench_emu_start() {
  mkdir -p "$WORK/qdrant"
  "$EMU" --port 0 --data-dir "$WORK/qdrant" "$@" >"$WORK/emu.out" 2>"$WORK/emu.err" &
  EPID=$!
  for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/emu.out" && break; sleep 0.1; done
  Q=http://$(sed -n 's/^listening on //p' "$WORK/emu.out" | head -1)
  [ "$Q" != http:// ] || die "qdrant-emu did not start"
}

# bench_qbd_start [ARGS...]: qbackupd on a free port against the emulator,
# without tokens; sets B and QPID.
bench_qbd_start() { bench_qbd_start_as qbd "$@"; }

# bench_qbd_start_as NAME [ARGS...]: one more qbackupd (a fleet's node),
# with its own data dir $WORK/NAME and log $WORK/NAME.log (qbackupd.log for
# the default "qbd"); sets B and QPID for it.
bench_qbd_start_as() {
  local name=$1 log
  shift
  log=$WORK/$name.log
  [ "$name" != qbd ] || log=$WORK/qbackupd.log
  mkdir -p "$WORK/$name"
  rm -f "$WORK/$name.port"
  env -u QBACKUP_TOKENS -u QBACKUP_TOKENS_FILE -u QBACKUP_CONFIG "$QBD" serve \
    --listen 127.0.0.1:0 --port-file "$WORK/$name.port" --data-dir "$WORK/$name" \
    --qdrant-url "$Q" "$@" >"$log" 2>&1 &
  QPID=$!
  [ "$name" = qbd ] || BENCH_PIDS+=("$QPID") # the default one: QPID, as before
  for _ in $(seq 1 300); do [ -s "$WORK/$name.port" ] && break; sleep 0.1; done
  [ -s "$WORK/$name.port" ] || { tail -n 20 "$log" >&2; die "qbackupd $name did not start"; }
  B=http://127.0.0.1:$(tr -d '[:space:]' <"$WORK/$name.port")
}

# api METHOD URL [JSON] -> body on stdout; dies unless 2xx.
api() {
  local code args=()
  [ $# -lt 3 ] || args=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl -sS -m 4000 -o "$WORK/resp" -w '%{http_code}' -X "$1" "${args[@]}" "$2") ||
    die "$1 $2: curl"
  [ "${code:0:1}" = 2 ] || { cat "$WORK/resp" >&2; echo >&2; die "$1 $2: HTTP $code"; }
  cat "$WORK/resp"
}

# ------------------------------------------------------------ measuring
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / (s > 0 ? s : 0.01) }'; }
# CPU ticks (user+system) of the given pids, summed
ticks() {
  local p t=0
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
# cpu_mark PID; cpu_since PID -> CPU seconds of PID in between
cpu_mark() { CPU_MARK=$(ticks "$1"); }
cpu_since() { awk -v t="$(($(ticks "$1") - CPU_MARK))" -v h="$TCK" 'BEGIN { printf "%.1f", t / h }'; }
# "busy total" jiffies of the whole host (all CPUs), from /proc/stat;
# host_busy H0 H1 -> the non-idle % of all CPUs between two of them,
# whoever used them
host_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
host_busy() {
  awk -v h0="$1" -v h1="$2" 'BEGIN { split(h0, a, " "); split(h1, b, " ")
    printf "%.0f", 100 * (b[1] - a[1]) / (b[2] - a[2] > 0 ? b[2] - a[2] : 1) }'
}
# peak RSS of PID since reset_hwm PID, in MiB
reset_hwm() { echo 5 >"/proc/$1/clear_refs"; }
hwm_mib() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
# median of the arguments (numbers); "—" when there are none
median() {
  [ $# -gt 0 ] || { echo "—"; return; }
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# sample SERIES KEY VALUE; med SERIES KEY -> median of its values
sample() { echo "$1 $2 $3" >>"$WORK/samples"; }
med() {
  local v
  mapfile -t v < <(awk -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$WORK/samples")
  median "${v[@]}"
}

# wrk_parse FILE -> "req/s p50_ms p99_ms non2xx" of a `wrk --latency` output
wrk_parse() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                     if (v ~ /m$/) return v * 60000; return v * 1000 }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.1f %.1f %d\n", rps, p50, p99, bad + 0 }' "$1"
}
