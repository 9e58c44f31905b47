#!/usr/bin/env bash
# run.sh -- build the libFuzzer targets (clang, ASan+UBSan; -DQB_FUZZ=ON) and
# run each one for a short budget, starting from the committed seed corpus
# (tests/fuzz/corpus/<name>/).  New inputs go to a temporary directory, so
# the tree stays clean; crashes are kept in <build dir>/fuzz-artifacts/ with
# the command that reproduces them.  scripts/test (and so CI) calls this.
#
# Usage: tests/fuzz/run.sh [SECONDS] [NAME...]     e.g. run.sh 300 json
#   SECONDS      budget per target (default $QB_FUZZ_SECONDS or 20)
#   NAME         json router cron s3_xml sigv4 codec (default: all)
#   QB_FUZZ_BUILD_DIR   build directory (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

budget=${QB_FUZZ_SECONDS:-20}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  budget=$1
  shift
fi
dir=${QB_FUZZ_BUILD_DIR:-build-fuzz}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    n=${f##*/fuzz_}
    targets+=("${n%.c}")
  done
fi

cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQB_WERROR=ON \
  -DQB_FUZZ=ON -DQB_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/qbackup-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
artifacts="$root/$dir/fuzz-artifacts"
mkdir -p "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
for t in "${targets[@]}"; do
  bin="$dir/tests/fuzz/fuzz_$t"
  seeds="tests/fuzz/corpus/$t"
  [ -x "$bin" ] && [ -d "$seeds" ] || { echo "fuzz: no target or corpus for '$t'" >&2; exit 2; }
  opts=(-max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts/$t-")
  [ -f "tests/fuzz/dict/$t.dict" ] && opts+=(-dict="tests/fuzz/dict/$t.dict")
  mkdir -p "$work/$t"
  if "$bin" "${opts[@]}" "$work/$t" "$seeds" >"$work/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
    echo "fuzz: $t ok: ${runs:-?} runs in ${budget}s, $cov, corpus $(ls "$work/$t" | wc -l) new"
    passed=$((passed + 1))
  else
    echo "fuzz: $t FAILED; the end of its output:" >&2
    tail -n 60 "$work/$t.log" >&2
    echo "fuzz: reproduce with: $bin $artifacts/$t-<crash file>" >&2
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
