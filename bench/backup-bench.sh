#!/usr/bin/env bash
# bench/backup-bench.sh -- end-to-end backup and restore through qbackupd,
# next to the cron script it replaces, on one machine in one run:
#
#   qdrant-emu (collections of N GiB) --> qbackupd --> Ceph RGW (S3)
#
# For every size N (GiB), QB_BENCH_REPEAT times (default 3), interleaved:
#   (a) a backup run of three plans: verify off, verify_mode quick (the
#       default) and verify_mode full: wall time from POST
#       /v1/plans/{p}/runs?wait=3600 to its 200, MB/s, qbackupd's CPU seconds
#       and peak RSS (VmHWM, reset before the run through /proc/PID/clear_refs),
#       and the run's phase breakdown (results[0].phases);
#   (b) the classic cron script: POST /collections/{c}/snapshots, then
#       `curl -o file` of it, then `/usr/bin/aws s3 cp file s3://...`, each
#       timed (the download and the upload are the "bare" transfers), with
#       the CPU seconds of curl and aws;
#   (c) once, a restore of the first variant's snapshot (verify off by
#       default) with method upload and with
#       method url (presigned), overwrite:true, safety_snapshot:false.
# Reports medians: qbackupd's speed as a multiple of the cron script's and
# as a share of min(bare download, bare upload), the goal being >= 1.5x and
# >= 0.9 (issue 15); and the median phase breakdown.  Prints markdown tables
# for docs/benchmarks.md.  Not a test: it only asserts that every step
# answered as expected.
#
# Usage: bench/backup-bench.sh [SIZE_GIB...]        (default: 1 4)
# Env:   QB_BENCH_REPEAT           runs per size and variant (default 3)
#        QB_BENCH_RESTORE_MAX_GIB  restore only sizes up to this (default: all)
#        QB_BENCH_BUILD_DIR        CMake build dir (default: build-bench in the repo)
#        QB_BENCH_VARIANTS         which qbackupd plans to run (default "off quick full";
#                                  the goal table needs quick)
#        QB_BENCH_DEST_SETTINGS    JSON merged into the destination's settings, to
#                                  try other part sizes, e.g. '{"parts_in_flight":8}'
#        QB_BENCH_RGW_DIR          data dir of a Ceph RGW already running (its
#                                  s3.env and run/*.pid are used, it is neither
#                                  started nor stopped); default: start our own
#        TMPDIR                    where the work dir goes (needs ~5 x the largest
#                                  size free, plus the RGW's sparse OSD file)
# Its own cluster runs next to any other (rgw-start.sh takes free ports),
# sharing the CPU: stop the others for quiet figures.  Its own cluster, the
# emulator and qbackupd are stopped on exit, and the work dir is deleted.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 4)
REPEAT=${QB_BENCH_REPEAT:-3}
RESTORE_MAX=${QB_BENCH_RESTORE_MAX_GIB:-1000000}
bench_init backup
bench_need_tools aws time jq
bench_build

max=0
for g in "${SIZES[@]}"; do [ "$g" -gt "$max" ] && max=$g; done
log "largest size $max GiB"
bench_disk_check $((5 * max + 4))

bench_rgw_start
bench_emu_start
bench_qbd_start --log-level info
log "qdrant-emu $Q (pid $EPID), qbackupd $B (pid $QPID), RGW $S3_ENDPOINT"

DEST_X=${QB_BENCH_DEST_SETTINGS:-'{}'}
api POST "$B/v1/destinations" "$(jq -nc --arg b "$BUCKET" --arg e "$S3_ENDPOINT" \
  --arg a "$AWS_ACCESS_KEY_ID" --arg s "$AWS_SECRET_ACCESS_KEY" \
  --argjson x "$DEST_X" '{name:"rgw", kind:"s3",
   settings:({bucket:$b, prefix:"qbackupd", endpoint:$e, region:"us-east-1", path_style:true} + $x),
   credentials:{access_key:$a, secret_key:$s}}')" >/dev/null

# ------------------------------------------------------------ measuring
# run_cpu_mark; run_cpu_since -> sets CPU_Q CPU_E CPU_R (CPU seconds of
# qbackupd, qdrant-emu, Ceph) and HOST_BUSY (non-idle % of all CPUs,
# whoever used them) in between
run_cpu_mark() {
  CPU0=("$(ticks "$QPID")" "$(ticks "$EPID")" "$(ticks "${CEPH_PIDS[@]}")")
  HOST0=$(host_jiffies)
}
run_cpu_since() {
  read -r CPU_Q CPU_E CPU_R < <(awk -v q="$(($(ticks "$QPID") - CPU0[0]))" \
    -v e="$(($(ticks "$EPID") - CPU0[1]))" -v r="$(($(ticks "${CEPH_PIDS[@]}") - CPU0[2]))" \
    -v t="$TCK" 'BEGIN { printf "%.1f %.1f %.1f\n", q / t, e / t, r / t }')
  HOST_BUSY=$(host_busy "$HOST0" "$(host_jiffies)")
}
# emulator snapshots of collection $1 (uploads kept by recovery included): delete them all
emu_snapshots_clear() {
  local n
  for n in $(curl -sS "$Q/collections/$1/snapshots" | jq -r '.result[]?.name'); do
    curl -sS -o /dev/null -X DELETE "$Q/collections/$1/snapshots/$n"
  done
}

# qbd_call NAME URL JSON: timed long-poll call to qbackupd; sets LAST_*
qbd_call() {
  local what=$1 url=$2 body=$3 t0 t1 code
  sync
  reset_hwm "$QPID"
  run_cpu_mark
  t0=$(now)
  code=$(curl -sS -m 4000 -o "$WORK/run.json" -w '%{http_code}' -X POST "$url" \
    -H 'Content-Type: application/json' --data-binary "$body")
  t1=$(now)
  [ "$code" = 200 ] || { cat "$WORK/run.json" >&2; echo >&2; die "$what: HTTP $code"; }
  LAST_S=$(secs "$t0" "$t1")
  LAST_HWM=$(hwm_mib "$QPID")
  run_cpu_since
}

# timed_cmd VAR CMD...: /usr/bin/time; VAR="wall cpu_s rss_mib"
timed_cmd() {
  local var=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" ||
    { cat "$WORK/err" >&2; die "$*"; }
  printf -v "$var" '%s' "$(tail -n 1 "$WORK/time" | awk '{printf "%s %.2f %.0f", $1, $2 + $3, $4 / 1024}')"
}

read -r -a VARIANTS <<<"${QB_BENCH_VARIANTS:-off quick full}"
plan_body() { # plan_body NAME COLLECTION VARIANT
  case $3 in
    off) echo "{\"name\":\"$1\",\"destination\":\"rgw\",\"collections\":[\"$2\"],\"verify\":false}" ;;
    *) echo "{\"name\":\"$1\",\"destination\":\"rgw\",\"collections\":[\"$2\"],\"verify\":true,\"verify_mode\":\"$3\"}" ;;
  esac
}
PHASES=(snapshot first_byte download upload complete verify total)

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
RROWS=()
for g in "${SIZES[@]}"; do
  c=bench${g}g
  log "== $g GiB: creating collection $c"
  api PUT "$Q/collections/$c" '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
  api PUT "$Q/collections/$c/points?wait=true" \
    '{"points":[{"id":1,"vector":[0.05,0.61,0.76,0.74],"payload":{"n":1}},{"id":2,"vector":[0.19,0.81,0.75,0.11],"payload":{"n":2}}]}' >/dev/null
  api POST "$Q/debug/fill/$c?mb=$((g * 1024))" >/dev/null
  for v in "${VARIANTS[@]}"; do api POST "$B/v1/plans" "$(plan_body "p$g-$v" "$c" "$v")" >/dev/null; done
  SID=''
  for rep in $(seq 1 "$REPEAT"); do
    # (a) qbackupd, one run of each variant
    for v in "${VARIANTS[@]}"; do
      log "$g GiB #$rep: qbackupd backup run, verify $v"
      qbd_call "backup $g GiB $v" "$B/v1/plans/p$g-$v/runs?wait=3600" '{}'
      [ "$(jq -r '.results[0].state' "$WORK/run.json")" = succeeded ] || die "run state"
      size=$(jq -r '.results[0].size' "$WORK/run.json")
      sid=$(jq -r '.results[0].snapshot_id' "$WORK/run.json")
      want=$([ "$v" = off ] && echo false || echo true)
      [ "$(jq -r '.results[0].verified' "$WORK/run.json")" = "$want" ] || die "verified flag"
      k=$g-$v
      sample "$k" wall "$LAST_S"
      sample "$k" cpu "$CPU_Q"
      sample "$k" ceph "$CPU_R"
      sample "$k" rss "$LAST_HWM"
      sample "$k" busy "$HOST_BUSY"
      for ph in "${PHASES[@]}"; do sample "$k" "$ph" "$(jq -r ".results[0].phases.${ph}_ms" "$WORK/run.json")"; done
      log "  ${LAST_S}s, $(mbps "$size" "$LAST_S") MB/s, qbackupd ${CPU_Q} CPU s, peak RSS $LAST_HWM MiB;" \
        "phases $(jq -c '.results[0].phases' "$WORK/run.json")"
      SIZE=$size
      # The restores use the first variant's last snapshot (verify off by
      # default; whatever QB_BENCH_VARIANTS names first otherwise).
      if [ "$v" = "${VARIANTS[0]}" ] && [ "$rep" = "$REPEAT" ]; then
        SID=$sid # kept for the restores
      else
        api DELETE "$B/v1/snapshots/$sid" >/dev/null # frees RGW space for what follows
      fi
    done

    # (b) the cron script: snapshot, curl -o, aws s3 cp
    log "$g GiB #$rep: cron script (snapshot, curl -o, aws s3 cp)"
    sync
    run_cpu_mark
    t0=$(now)
    name=$(api POST "$Q/collections/$c/snapshots?wait=true" | jq -r .result.name)
    t1=$(now)
    create_s=$(secs "$t0" "$t1")
    f=$WORK/$name
    sync
    timed_cmd dl curl -sS --fail -o "$f" "$Q/collections/$c/snapshots/$name"
    # shellcheck disable=SC2154 # set by timed_cmd
    read -r dl_s dl_cpu _ <<<"$dl"
    FSIZE=$(stat -c %s "$f")
    sync
    timed_cmd up "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$f" "s3://$BUCKET/cron/$name"
    # shellcheck disable=SC2154 # set by timed_cmd
    read -r up_s up_cpu _ <<<"$up"
    sample "$g-cron" create "$create_s"
    sample "$g-cron" dl "$dl_s"
    sample "$g-cron" up "$up_s"
    sample "$g-cron" wall "$(awk -v a="$create_s" -v b="$dl_s" -v c="$up_s" 'BEGIN { printf "%.2f", a + b + c }')"
    sample "$g-cron" cpu "$(awk -v a="$dl_cpu" -v b="$up_cpu" 'BEGIN { printf "%.2f", a + b }')"
    sample "$g-cron" dl_cpu "$dl_cpu"
    run_cpu_since
    sample "$g-cron" ceph "$CPU_R"
    sample "$g-cron" busy "$HOST_BUSY"
    sample "$g-cron" up_cpu "$up_cpu"
    log "  create ${create_s}s, download ${dl_s}s, upload ${up_s}s (curl ${dl_cpu}, aws ${up_cpu} CPU s)"
    rm -f "$f"
    "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rm --only-show-errors "s3://$BUCKET/cron/$name"
    emu_snapshots_clear "$c"
  done
  echo "$g $SIZE $FSIZE" >>"$WORK/sizes"

  # (c) restores, once
  if [ "$g" -le "$RESTORE_MAX" ]; then
    for m in upload url; do
      log "$g GiB: restore of snapshot $SID by $m"
      qbd_call "restore $g GiB $m" "$B/v1/restores?wait=3600" \
        "{\"snapshot_id\":$SID,\"overwrite\":true,\"method\":\"$m\",\"safety_snapshot\":false}"
      [ "$(jq -r .state "$WORK/run.json")" = succeeded ] || die "restore state"
      RROWS+=("| $g GiB | $m | $LAST_S | $(mbps "$SIZE" "$LAST_S") | $LAST_HWM | $CPU_Q / $CPU_E / $CPU_R | $HOST_BUSY% |")
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
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; } # a / b
echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "Server: $(radosgw --version | awk '{print "Ceph", $3}') RGW (1 mon, 1 bluestore OSD on a sparse file) on 127.0.0.1$([ "$OWN_RGW" = 1 ] || echo ", shared with other users");" \
  "qdrant-emu $(curl -s "$Q/" | jq -r .version); $("$AWS" --version 2>&1 | awk '{print $1}'); $(curl --version | head -1 | awk '{print $1, $2}')"
echo "qbackupd: RelWithDebInfo, destination settings ${QB_BENCH_DEST_SETTINGS:-defaults} (defaults: 32 MiB parts x 4 in flight, first parts from 8 MiB)"
echo "Command: bench/backup-bench.sh ${SIZES[*]}; medians of $REPEAT runs per size and variant"
echo "Load average (1 min) at start: $LOAD0; at end: $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "### Backup runs (medians of $REPEAT)"
echo
echo "| size | what | wall s | MB/s | × cron script | × min(bare down, bare up) | CPU s | Ceph CPU s | host busy % | qbackupd peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
while read -r g size fsize; do
  cron_s=$(med "$g-cron" wall) dl_s=$(med "$g-cron" dl) up_s=$(med "$g-cron" up)
  bd=$(mbps "$fsize" "$dl_s") bu=$(mbps "$fsize" "$up_s")
  lo=$((bd < bu ? bd : bu))
  for v in "${VARIANTS[@]}"; do
    w=$(med "$g-$v" wall)
    echo "| $g GiB | qbackupd, verify $v | $w | $(mbps "$size" "$w") | $(x "$cron_s" "$w") | $(x "$(mbps "$size" "$w")" "$lo") | $(med "$g-$v" cpu) | $(med "$g-$v" ceph) | $(med "$g-$v" busy) | $(med "$g-$v" rss) |"
  done
  echo "| $g GiB | cron script (create + curl + aws) | $cron_s | $(mbps "$fsize" "$cron_s") | 1.00 | $(x "$(mbps "$fsize" "$cron_s")" "$lo") | $(med "$g-cron" cpu) | $(med "$g-cron" ceph) | $(med "$g-cron" busy) | — |"
  echo "| $g GiB | … POST …/snapshots (create) | $(med "$g-cron" create) | — | | | — | | | — |"
  echo "| $g GiB | … \`curl -o\` (bare download) | $dl_s | $bd | | | $(med "$g-cron" dl_cpu) | | | — |"
  echo "| $g GiB | … \`aws s3 cp\` (bare upload) | $up_s | $bu | | | $(med "$g-cron" up_cpu) | | | — |"
done <"$WORK/sizes"
echo
echo "CPU s: qbackupd's for its runs; curl's plus aws's for the cron script (the emulator's snapshot"
echo "creation is not counted for either). Ceph CPU s: mon + OSD + RGW; host busy: non-idle share of"
echo "all vCPUs during the run (the cron script's: create to end of upload), whoever used them."
echo
echo "### Goal (issue 15): default plan (verify quick) ≥ 1.5× the cron script and ≥ 0.9× min(bare down, bare up)"
echo
echo "| size | qbackupd MB/s | cron script MB/s | × cron | ≥ 1.5? | min(bare) MB/s | × min(bare) | ≥ 0.9? |"
echo "|---|---:|---:|---:|---|---:|---:|---|"
while read -r g size fsize; do
  cron_s=$(med "$g-cron" wall) w=$(med "$g-quick" wall)
  bd=$(mbps "$fsize" "$(med "$g-cron" dl)") bu=$(mbps "$fsize" "$(med "$g-cron" up)")
  lo=$((bd < bu ? bd : bu))
  xc=$(x "$cron_s" "$w") xb=$(x "$(mbps "$size" "$w")" "$lo")
  echo "| $g GiB | $(mbps "$size" "$w") | $(mbps "$fsize" "$cron_s") | $xc | $(awk -v r="$xc" 'BEGIN { print (r >= 1.5 ? "yes" : "no") }') | $lo | $xb | $(awk -v r="$xb" 'BEGIN { print (r >= 0.9 ? "yes" : "no") }') |"
done <"$WORK/sizes"
echo
echo "### Phase breakdown (median ms, results[].phases of the runs)"
echo
echo "| size | verify | snapshot | first byte | download (upload overlapped) | upload tail | complete | verify | total |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
while read -r g _ _; do
  for v in "${VARIANTS[@]}"; do
    row="| $g GiB | $v"
    for ph in "${PHASES[@]}"; do row+=" | $(med "$g-$v" "$ph")"; done
    echo "$row |"
  done
done <"$WORK/sizes"
if [ ${#RROWS[@]} -gt 0 ]; then
  echo
  echo "### Restores (one run each)"
  echo
  echo "| snapshot | method | wall s | MB/s | qbackupd peak RSS MiB | CPU s: qbackupd / qdrant-emu / Ceph | host CPU busy |"
  echo "|---|---|---:|---:|---:|---|---:|"
  printf '%s\n' "${RROWS[@]}"
fi
