#!/usr/bin/env bash
# bench/codec-backup-bench.sh -- what compression and encryption cost a
# backup run end to end (issue 13 items 2 and 3):
#
#   qdrant-emu (SIZE_MIB of float32 embeddings + JSON payloads) --> qbackupd
#     --> a local folder, or Ceph RGW when QB_BENCH_S3=1 (s3.env of a running RGW)
#
# Three plans on the same collection, verify off, interleaved QB_BENCH_REPEAT
# times: compression none, zstd level 3 (the default), zstd level 3 +
# AES-256-GCM.  Reports per run the wall time of POST /v1/plans/{p}/runs?wait
# and MB/s of archive (10^6 bytes of what Qdrant made per second), the stored
# / raw ratio, and the medians as a share of the uncompressed run (the
# issue's goal: compression keeps >= 90% of uncompressed throughput).  Then
# a restore (method upload) of each plan's last snapshot, timed the same way.
# Prints a markdown table for docs/benchmarks.md.  Not a test.
#
# Usage: bench/codec-backup-bench.sh
# Env:   SIZE_MIB (default 256), DIM (default 384), QB_BENCH_REPEAT (default 3),
#        QB_BENCH_BUILD_DIR (default build: a Release build with qbackupd and
#        qdrant-emu), QB_BENCH_S3=1 with QB_BENCH_RGW_ENV (the s3.env file of
#        a running Ceph RGW, required) for the S3 destination.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${QB_BENCH_BUILD_DIR:-$SRC/build}
SIZE=${SIZE_MIB:-256}
DIM=${DIM:-384}
REPEAT=${QB_BENCH_REPEAT:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qb-codec-backup.XXXXXX")
log() { echo "codec-backup-bench: $*" >&2; }
die() {
  log "$*"
  exit 1
}
EPID='' QPID=
cleanup() {
  for p in $QPID $EPID; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ ! -x "$BUILD/qbackupd" ] || [ ! -x "$BUILD/tests/emulators/qdrant-emu" ]; then
  die "needs $BUILD/qbackupd and $BUILD/tests/emulators/qdrant-emu (scripts/build)"
fi

mkdir -p "$WORK/emu" "$WORK/qb/var/out"
"$BUILD/tests/emulators/qdrant-emu" --port 0 --data-dir "$WORK/emu" >"$WORK/emu.out" 2>&1 &
EPID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/emu.out" && break; sleep 0.1; done
Q=http://$(sed -n 's/^listening on //p' "$WORK/emu.out" | head -1)
[ "$Q" != http:// ] || die "qdrant-emu did not start"
(cd "$WORK/qb" && exec "$BUILD/qbackupd" serve --listen 127.0.0.1:0 --port-file "$WORK/port" \
  --data-dir var --qdrant-url "$Q" >"$WORK/qb.out" 2>&1) &
QPID=$!
for _ in $(seq 1 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || die "qbackupd did not start"
P=http://127.0.0.1:$(cat "$WORK/port")

api() {
  local code args=()
  [ $# -lt 3 ] || args=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl -sS -m 3600 -o "$WORK/resp" -w '%{http_code}' -X "$1" "${args[@]}" "$P$2") ||
    die "$1 $2: curl"
  [ "${code:0:1}" = 2 ] || { cat "$WORK/resp" >&2; die "$1 $2: HTTP $code"; }
  cat "$WORK/resp"
}

curl -sf -X PUT "$Q/collections/emb" -H 'Content-Type: application/json' \
  -d "{\"vectors\":{\"size\":$DIM,\"distance\":\"Cosine\"}}" >/dev/null || die "create collection"
log "filling $SIZE MiB of $DIM-dim embeddings + payloads"
curl -sf -X POST "$Q/debug/fill/emb?mb=$SIZE&content=embeddings&dim=$DIM" >/dev/null || die fill
head -c 32 /dev/urandom | base64 >"$WORK/backup.key"

if [ "${QB_BENCH_S3:-0}" = 1 ]; then
  # shellcheck disable=SC1090
  set -a && . "${QB_BENCH_RGW_ENV:-/work/rgw-shared/s3.env}" && set +a
  bucket=codec-bench-$$
  settings="{\"bucket\":\"$bucket\",\"endpoint\":\"$S3_ENDPOINT\",\"region\":\"${AWS_DEFAULT_REGION:-us-east-1}\",\"path_style\":true}"
  creds=",\"credentials\":{\"access_key\":\"$AWS_ACCESS_KEY_ID\",\"secret_key\":\"$AWS_SECRET_ACCESS_KEY\"}"
  aws --endpoint-url "$S3_ENDPOINT" s3 mb "s3://$bucket" >/dev/null || die "creating bucket $bucket"
  kind=s3
  where="Ceph RGW (loopback)"
else
  settings="{\"path\":\"$WORK/qb/var/out\"}"
  creds=
  kind=local
  where="local folder"
fi
api POST /v1/destinations "{\"name\":\"plain\",\"kind\":\"$kind\",\"settings\":$settings$creds}" >/dev/null
api POST /v1/destinations "{\"name\":\"sealed\",\"kind\":\"$kind\",\"settings\":$settings$creds,\"encryption\":{\"key_file\":\"$WORK/backup.key\"}}" >/dev/null
api POST /v1/plans '{"name":"none","destination":"plain","collections":["emb"],"compression":{"codec":"none"},"verify":false}' >/dev/null
api POST /v1/plans '{"name":"zstd","destination":"plain","collections":["emb"],"verify":false}' >/dev/null
api POST /v1/plans '{"name":"zenc","destination":"sealed","collections":["emb"],"verify":false}' >/dev/null

now() { date +%s.%N; }
declare -A RATES RATIO RESTORE
for rep in $(seq 1 "$REPEAT"); do
  for p in none zstd zenc; do
    t0=$(now)
    out=$(api POST "/v1/plans/$p/runs?wait=3600")
    t1=$(now)
    read -r raw stored < <(echo "$out" | python3 -c \
      'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["raw_size"], r["size"])')
    mbs=$(awk -v b="$raw" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }')
    RATES[$p]="${RATES[$p]:-} $mbs"
    RATIO[$p]=$(awk -v s="$stored" -v r="$raw" 'BEGIN { printf "%.3f", s / r }')
    log "$p run $rep: $raw bytes -> $stored, $mbs MB/s"
  done
done
for p in none zstd zenc; do
  id=$(api GET "/v1/snapshots?plan=$p&limit=1" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  t0=$(now)
  api POST "/v1/restores?wait=3600" "{\"snapshot_id\":$id,\"target_collection\":\"r_$p\"}" >/dev/null
  t1=$(now)
  RESTORE[$p]=$(awk -v b="$raw" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }')
  curl -sf -X DELETE "$Q/collections/r_$p" >/dev/null || true
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${RATES[none]}" | median)
echo
echo "Archive: $((raw >> 20)) MiB ($DIM-dim float32 embeddings + JSON payloads), destination: $where, $(nproc) cores."
echo
echo "| plan | codec | stored / raw | backup MB/s (runs) | median | share of none | restore (upload) MB/s |"
echo "|---|---|---|---|---|---|---|"
for p in none zstd zenc; do
  m=$(echo "${RATES[$p]}" | median)
  case $p in
    none) c=none ;;
    zstd) c="zstd (3)" ;;
    *) c="zstd (3) + aes256gcm" ;;
  esac
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$c" "${RATIO[$p]}" "${RATES[$p]# }" "$m" \
    "$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.0f%%", 100 * a / b }')" "${RESTORE[$p]}"
done
