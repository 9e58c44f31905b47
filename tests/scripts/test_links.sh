#!/usr/bin/env bash
# Every relative link and repository path named in README, CONTRIBUTING,
# docs/, comments and config exists (tests/scripts/check_links.py).  First
# the checker proves it still finds a planted dead link, a dead path in a C
# comment and a path outside the repository, and ignores a path in a C
# string; then it runs on the real tree.
. "$(dirname "$0")/lib.sh"
cd "$QB_SOURCE_DIR"
checker=tests/scripts/check_links.py

planted=$(mktemp -d /tmp/qb-links.XXXXXX)
trap 'rm -rf "$planted"' EXIT
mkdir -p "$planted/docs" "$planted/src"
printf '# x\nSee [here](docs/there.md) and [gone](docs/gone.md).\n' >"$planted/README.md"
printf 'ok\n' >"$planted/docs/there.md"
printf '/* see docs/missing.md */\nstatic const char *p = "src/not/a/ref";\n' >"$planted/src/a.c"
printf 'Style: ../shared/STYLE.md\n' >"$planted/docs/style.md"
out=$(/usr/bin/python3 "$checker" "$planted" 2>/dev/null) && fail "checker passed a planted tree with dead references"
for want in "README.md:2: docs/gone.md" "src/a.c:1: docs/missing.md" "docs/style.md:1: ../shared/STYLE.md"; do
  grep -qF "$want" <<<"$out" || fail "checker missed '$want'; it printed: $out"
done
grep -q "docs/there.md\|src/not/a/ref" <<<"$out" && fail "checker flagged a live link or a string literal: $out"

/usr/bin/python3 "$checker" . || fail "dead references (above)"
echo "ok: no dead references"
