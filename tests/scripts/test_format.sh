#!/usr/bin/env bash
# Every C file is formatted with the repository's .clang-format (clang-format
# 14, Debian 12's): a diff fails the build, as the style guide asks.
. "$(dirname "$0")/lib.sh"
command -v clang-format >/dev/null || fail "clang-format missing (scripts/install-deps --test)"
cd "$QB_SOURCE_DIR"
major=$(clang-format --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
[ "$major" = 14 ] || echo "warning: clang-format $major, the pinned version is 14" >&2
dirs=
for d in src tests bench; do
  [ -d "$d" ] && dirs="$dirs $d"
done
bad=$(find $dirs -name '*.[ch]' | while read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
[ -z "$bad" ] || fail "not formatted (run clang-format -i): $bad"
echo "ok: all C files formatted"
