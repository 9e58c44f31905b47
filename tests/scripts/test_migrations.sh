#!/usr/bin/env bash
# scripts/check-migrations: the repository passes, and on a copy it fails
# for a SQLite migration without its PostgreSQL twin and for a twin
# without its migration; QB_MIG_WARN_FROM makes the first a warning.
. "$(dirname "$0")/lib.sh"
cd "$QB_SOURCE_DIR"

scripts/check-migrations "$PWD" >/dev/null || fail "check-migrations fails on the repository"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/migrations/postgres"
touch "$t/migrations/0001_a.sql" "$t/migrations/postgres/0001_a.sql"
scripts/check-migrations "$t" >/dev/null 2>&1 || fail "a twinned migration was refused"

touch "$t/migrations/0017_b.sql"
scripts/check-migrations "$t" >/dev/null 2>&1 && fail "0017 without its PostgreSQL twin was accepted"
QB_MIG_WARN_FROM=17 scripts/check-migrations "$t" >/dev/null 2>"$t/err" ||
  fail "QB_MIG_WARN_FROM=17 still refuses 0017 without twin (should warn)"
grep -q "warning: .*0017_b[.]sql has no" "$t/err" || fail "no warning for 0017 without twin"
rm "$t/migrations/0017_b.sql"

touch "$t/migrations/0002_c.sql"
scripts/check-migrations "$t" >/dev/null 2>&1 && fail "0002 without its PostgreSQL twin was accepted"
rm "$t/migrations/0002_c.sql"

touch "$t/migrations/postgres/0003_d.sql"
scripts/check-migrations "$t" >/dev/null 2>&1 && fail "a twin without its SQLite migration was accepted"
echo "ok: check-migrations"
