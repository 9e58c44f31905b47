#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# store_sql_report.py -- which of the store's SQL statements PostgreSQL
# already accepts, on the schema of migrations/postgres/: the work list of
# the PostgreSQL store backend (docs/internals/fleet.md).  A report run by
# hand, not a test: the store is SQLite-only today and other work changes
# its SQL every day, so a fixed expectation would only be noise.
#
# Each src/store/*.c is run through the C preprocessor (so column-list
# macros are expanded), adjacent string literals are joined, and every
# literal that starts like a statement is rewritten ?N -> $N with the rules
# of src/store/pg_sql.h and PREPAREd on a fresh database carrying the twin
# schema.  Outcomes: ok; "types" (PostgreSQL cannot infer a parameter's
# type from the text alone: the backend passes the bind's type, int8 or
# text, so these are fine); "dialect" (the text itself must change: the
# error says how); "built" (a printf format or a fragment: assembled at
# run time, not checked here).
#
# Usage: tests/pg/store_sql_report.py [BUILD_DIR]   (BUILD_DIR: for the
#        generated headers, default build-asan; needs QB_PG_URL)
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STMT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b", re.I)
LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def literals(path, build):
    flags = subprocess.run(["pkg-config", "--cflags", "libcjson", "sqlite3", "libpq"],
                           capture_output=True, text=True).stdout.split()
    pre = subprocess.run(["gcc", "-E", "-P", "-D_GNU_SOURCE", f"-I{ROOT}/src",
                          f"-I{build}/generated"] + flags + [path],
                         capture_output=True, text=True, check=True).stdout
    out, cur, last_end = [], None, -1
    for m in LIT.finditer(pre):
        between = pre[last_end:m.start()] if last_end >= 0 else None
        text = bytes(m.group(1), "utf-8").decode("unicode_escape")
        if cur is not None and between is not None and between.strip() == "":
            cur += text
        else:
            if cur is not None:
                out.append(cur)
            cur = text
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return [s for s in out if STMT.match(s)]


def rewrite(sql):
    """pg_sql_rewrite's rules (src/store/pg_sql.c), for the report."""
    o, i, mx = [], 0, 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < len(sql):
                if sql[j] == c:
                    if j + 1 < len(sql) and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            o.append(sql[i:j + 1])
            i = j + 1
        elif c == "?":
            m = re.match(r"\?(\d*)", sql[i:])
            n = int(m.group(1)) if m.group(1) else mx + 1
            mx = max(mx, n)
            o.append(f"${n}")
            i += len(m.group(0))
        else:
            o.append(c)
            i += 1
    return "".join(o)


def psql(url, sql):
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                          capture_output=True, text=True)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-asan")
    url = os.environ.get("QB_PG_URL")
    if not url:
        sys.exit("QB_PG_URL is not set (tests/pg/pg-start.sh)")
    db = f"qb_sql_report_{os.getpid()}"
    base = url.rsplit("/", 1)[0]
    psql(url, f'CREATE DATABASE "{db}"')
    dburl = f"{base}/{db}"
    counts = {"ok": 0, "types": 0, "dialect": 0, "built": 0}
    try:
        mig = os.path.join(ROOT, "migrations", "postgres")
        for f in sorted(os.listdir(mig)):
            if f.endswith(".sql"):
                r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dburl,
                                    "--single-transaction", "-f", os.path.join(mig, f)],
                                   capture_output=True, text=True)
                if r.returncode:
                    sys.exit(f"{f}: {r.stderr}")
        src = os.path.join(ROOT, "src", "store")
        for f in sorted(os.listdir(src)):
            if not f.endswith(".c"):
                continue
            for sql in literals(os.path.join(src, f), build):
                if "%" in sql.replace("%%", "") or sql.rstrip().endswith(("WHERE", "AND", ",")):
                    counts["built"] += 1
                    continue
                r = psql(dburl, f"PREPARE q AS {rewrite(sql)}")
                if r.returncode == 0:
                    counts["ok"] += 1
                    continue
                msg = r.stderr.strip().splitlines()[0].replace("ERROR:  ", "")
                kind = "types" if "could not determine data type" in msg or \
                    "inconsistent types deduced" in msg else "dialect"
                counts[kind] += 1
                if kind == "dialect":
                    print(f"{f}: {msg}\n    {' '.join(sql.split())[:160]}")
    finally:
        psql(url, f'DROP DATABASE IF EXISTS "{db}"')
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
