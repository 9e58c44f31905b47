#!/usr/bin/env bash
# bench/codec-bench.sh -- what the stored-object codecs (src/codec/) cost and
# save on realistic snapshots (issue 13 items 2 and 3): encode (backup) and
# decode (restore) throughput, CPU time, and stored/raw ratio, for none,
# zstd at each level given, aes256gcm and zstd+aes256gcm, one core each.
#
# The archives are real qdrant-emu collection snapshots whose segment holds
# SIZE_MIB of content=embeddings fill (unit float32 vectors of the dimension
# given + JSON payloads, tests/emulators/qdrant/src/emu_fill.c), i.e. what a
# real collection's snapshot is mostly made of, not random bytes.
#
# MB/s are 10^6 bytes of archive per second; "per CPU s" divides by the
# process's user+system time instead of the wall clock, which is the figure
# that holds on a shared machine (one core, no waiting).
#
# Usage: bench/codec-bench.sh [SIZE_MIB [DIM...]]    (default: 256 384 768)
# Env:   QB_BENCH_LEVELS  zstd levels (default "1 3 6")
#        QB_BENCH_BUILD_DIR (default build-bench; qdrant-emu is built there),
#        QB_BENCH_NO_BUILD=1 to use it as is; TMPDIR (needs ~3 x SIZE_MIB), CC.
# Prints a markdown table for docs/benchmarks.md.  Not a test: it asserts
# only that every decode gives back the archive (SHA-256).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SIZE_MIB=${1:-256}
shift || true
DIMS=("$@")
[ ${#DIMS[@]} -gt 0 ] || DIMS=(384 768)
read -r -a LEVELS <<<"${QB_BENCH_LEVELS:-1 3 6}"
# shellcheck disable=SC2034 # read by bench_build
BENCH_TARGETS=qdrant-emu
bench_init codec
bench_build Release -DQB_BUILD_TESTS=ON

# Only the codec and what it uses, optimised like a release build.
BIN=$WORK/codec_bench
log "building $BIN"
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -DNDEBUG -I"$SRC/src" -o "$BIN" \
  "$SRC/bench/codec_bench.c" "$SRC/src/common.c" "$SRC/src/util/seal.c" "$SRC/src/codec/codec.c" \
  "$SRC/src/codec/codec_zstd.c" "$SRC/src/codec/codec_aead.c" \
  $(pkg-config --cflags --libs libcrypto libzstd) -lpthread -lm

bench_emu_start

mb() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }'; }

# The encoded copy goes to memory when it can, so a disk write is not timed.
BENCH_TMP=${TMPDIR:-/tmp}
[ -w /dev/shm ] && BENCH_TMP=/dev/shm

echo "| archive | codec | level | stored / raw | encode MB/s (wall) | encode CPU s | encode MB/s per CPU s | decode MB/s (wall) | decode CPU s | decode MB/s per CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for dim in "${DIMS[@]}"; do
  c=emb$dim
  log "collection $c: ${SIZE_MIB} MiB of ${dim}-dim embeddings + payloads"
  api PUT "$Q/collections/$c" "{\"vectors\":{\"size\":$dim,\"distance\":\"Cosine\"}}" >/dev/null
  api POST "$Q/debug/fill/$c?mb=$SIZE_MIB&content=embeddings&dim=$dim" >/dev/null
  name=$(api POST "$Q/collections/$c/snapshots" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
  archive=$WORK/qdrant/snapshots/$c/$name
  [ -f "$archive" ] || die "no snapshot file $archive"
  raw=$(stat -c %s "$archive")
  runs=("none 0" "aes256gcm 0")
  for l in "${LEVELS[@]}"; do runs+=("zstd $l"); done
  runs+=("zstd+aes256gcm 3") # the default level
  for r in "${runs[@]}"; do
    read -r codec level <<<"$r"
    cat "$archive" >/dev/null # page cache: time the codec, not the disk
    log "$c: $codec $level"
    read -r _ lv rawb stored ew ec dw dc < <(TMPDIR=$BENCH_TMP "$BIN" "$archive" "$codec" "$level") ||
      die "$codec $level"
    [ "$rawb" = "$raw" ] || die "raw size $rawb != $raw"
    ratio=$(awk -v s="$stored" -v r="$rawb" 'BEGIN { printf "%.3f", s / r }')
    [ "$lv" != 0 ] || lv=-
    printf '| %s MiB, dim %s | %s | %s | %s | %s | %.2f | %s | %s | %.2f | %s |\n' "$((raw >> 20))" \
      "$dim" "$codec" "$lv" "$ratio" "$(mb "$rawb" "$ew")" "$ec" "$(mb "$rawb" "$ec")" \
      "$(mb "$rawb" "$dw")" "$dc" "$(mb "$rawb" "$dc")"
  done
  api DELETE "$Q/collections/$c" >/dev/null
  rm -f "$archive"
done
