#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# test_pg_schema.py -- the PostgreSQL migrations (migrations/postgres/NNNN_*.sql)
# build the same catalogue as the SQLite ones (migrations/NNNN_*.sql).
#
# Applies each side's migrations in order -- SQLite on a fresh file (each in
# a transaction with foreign keys off, as src/store/migrate.c does),
# PostgreSQL on a fresh database of the server in QB_PG_URL/PG* (each with
# psql --single-transaction) -- then reads both catalogues into one shape
# and lists every difference: tables; columns (name, order, nullability,
# default present or not); primary keys; unique constraints; indexes
# (name, table, unique, partial, key columns, an expression as '<expr>');
# which columns carry a CHECK and how many table-level CHECKs there are;
# foreign keys (column, referenced table and column, ON DELETE); triggers
# (name, table, timing, events).  Column types are the deliberate
# difference (INTEGER/TEXT vs bigint/text, docs/internals/fleet.md) and are
# not compared; anything else that differs is listed in DELIBERATE below
# with its reason, or fails the test.
#
# Then the same rows are written on both sides and the tables the triggers
# maintain (events, snapshot_totals) are compared, so the plpgsql triggers
# are checked for what they do, not only that they exist.
#
# Usage: test_pg_schema.py MIGRATIONS_DIR   (exit 77: no server, skipped,
# unless QB_REQUIRE_PG=1)
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

# (kind, key) pairs that may differ, with the reason.  Empty today: every
# difference in what is compared is a failure.
DELIBERATE = {
    # PostgreSQL takes an identity's value at insert, not at commit; this
    # trigger makes event-writing transactions take turns so that ids
    # follow commit order (migrations/postgres/0021_events_commit_order.sql).  SQLite has one
    # writer: its ids are in commit order already.
    ("trigger exists", "events_commit_order"): "PostgreSQL-only ordering of event ids",
}

# Tables that exist on one side by construction, not by a migration.
IGNORED_TABLES = {"sqlite_sequence", "schema_migrations"}


def migrations(d):
    pat = re.compile(r"^(\d{4})_.*\.sql$")
    return sorted((m.group(1), os.path.join(d, f)) for f in os.listdir(d) if (m := pat.match(f)))


# ------------------------------------------------------------------ SQLite


def strip_sql_comments(sql):
    out, i, n, q = [], 0, len(sql), None
    while i < n:
        c = sql[i]
        if q:
            out.append(c)
            if c == q:
                q = None
        elif c in "'\"":
            q = c
            out.append(c)
        elif sql.startswith("--", i):
            while i < n and sql[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def split_top(body):
    """Splits a CREATE TABLE body at its top-level commas."""
    parts, depth, cur, q = [], 0, [], None
    for c in body:
        if q:
            cur.append(c)
            if c == q:
                q = None
            continue
        if c in "'\"":
            q = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def sqlite_catalogue(mig_dir, upto):
    fd, path = tempfile.mkstemp(suffix=".db")
    os.close(fd)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = OFF")
        for num, f in migrations(mig_dir):
            if num > upto:
                break
            db.execute("BEGIN")
            try:
                for stmt in sqlite_statements(open(f).read()):
                    db.execute(stmt)
                db.execute("COMMIT")
            except sqlite3.Error as e:
                db.execute("ROLLBACK")
                raise SystemExit(f"SQLite migration {f}: {e}")
        return sqlite_read(db), db, path
    except BaseException:
        db.close()
        os.unlink(path)
        raise


def sqlite_statements(sql):
    stmts, cur = [], ""
    for line in sql.splitlines(keepends=True):
        cur += line
        if sqlite3.complete_statement(cur):
            if strip_sql_comments(cur).strip():
                stmts.append(cur)
            cur = ""
    if strip_sql_comments(cur).strip():
        stmts.append(cur)
    return stmts


def sqlite_read(db):
    cat = {"tables": {}, "indexes": {}, "triggers": {}}
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for t in tables:
        if t in IGNORED_TABLES:
            continue
        info = db.execute(f"PRAGMA table_info('{t}')").fetchall()
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]
        cols = [{"name": r[1], "notnull": bool(r[3]) or r[1] in pk, "default": r[4] is not None}
                for r in info]
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0]
        body = strip_sql_comments(sql)
        body = body[body.index("(") + 1:body.rindex(")")]
        checked, table_checks = set(), 0
        colnames = {c["name"] for c in cols}
        for part in split_top(body):
            first = part.split()[0].strip('"')
            up = part.upper()
            if first.upper() == "CHECK":
                table_checks += 1
            elif first in colnames and re.search(r"\bCHECK\s*\(", up):
                checked.add(first)
        fks = sorted([r[3], r[2], r[4] or "id", r[6]] for r in
                     db.execute(f"PRAGMA foreign_key_list('{t}')"))
        uniques = []
        for ix in db.execute(f"PRAGMA index_list('{t}')"):
            name, unique, origin, partial = ix[1], ix[2], ix[3], ix[4]
            keys = [r[2] if r[1] >= 0 else "<expr>" for r in
                    db.execute(f"PRAGMA index_xinfo('{name}')") if r[5]]
            if origin == "u":
                uniques.append(keys)
            elif origin == "c":
                cat["indexes"][name] = {"table": t, "unique": bool(unique),
                                        "partial": bool(partial), "keys": keys}
        cat["tables"][t] = {"columns": cols, "pk": pk, "unique": sorted(uniques),
                            "checked_columns": sorted(checked), "table_checks": table_checks,
                            "foreign_keys": fks}
    for name, t, sql in db.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"):
        m = re.match(r"\s*CREATE\s+TRIGGER\s+\S+\s+(BEFORE|AFTER|INSTEAD\s+OF)\s+"
                     r"(INSERT|DELETE|UPDATE)(\s+OF\s+([\w\s,]+?))?\s+ON\s", sql, re.I | re.S)
        of = sorted(c.strip() for c in m.group(4).split(",")) if m.group(4) else []
        cat["triggers"][name] = {"table": t, "timing": m.group(1).upper(),
                                 "event": m.group(2).upper(), "of": of,
                                 "when": bool(re.search(r"\)\s*WHEN\s|\sWHEN\s+NEW|\sWHEN\s+OLD",
                                                        sql, re.I))}
    return cat


# -------------------------------------------------------------- PostgreSQL


def psql(args, sql=None, db=None):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"]
    if db:
        cmd += ["-d", db]
    r = subprocess.run(cmd + args, input=sql, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"psql {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


PG_READ = r"""
SELECT json_build_object(
 'tables', (SELECT json_object_agg(c.relname, json_build_object(
    'columns', (SELECT json_agg(json_build_object('name', a.attname, 'notnull', a.attnotnull,
                      'default', a.atthasdef) ORDER BY a.attnum)
                FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                 AND NOT a.attisdropped),
    'pk', (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]')
           FROM pg_constraint p, unnest(p.conkey) WITH ORDINALITY AS k(att, ord), pg_attribute a
           WHERE p.conrelid = c.oid AND p.contype = 'p' AND a.attrelid = c.oid
             AND a.attnum = k.att),
    'unique', (SELECT coalesce(json_agg(u.cols ORDER BY u.cols::text), '[]') FROM (
                 SELECT (SELECT json_agg(a.attname ORDER BY k.ord)
                         FROM unnest(p.conkey) WITH ORDINALITY AS k(att, ord), pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum = k.att) AS cols
                 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'u') u),
    'checked_columns', (SELECT coalesce(json_agg(DISTINCT a.attname), '[]')
                        FROM pg_constraint p, pg_attribute a
                        WHERE p.conrelid = c.oid AND p.contype = 'c'
                          AND cardinality(p.conkey) = 1 AND a.attrelid = c.oid
                          AND a.attnum = p.conkey[1]),
    'table_checks', (SELECT count(*) FROM pg_constraint p WHERE p.conrelid = c.oid
                       AND p.contype = 'c' AND cardinality(p.conkey) <> 1),
    'foreign_keys', (SELECT coalesce(json_agg(json_build_array(a.attname, r.relname, ra.attname,
                        CASE p.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT'
                          WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                          WHEN 'd' THEN 'SET DEFAULT' END)), '[]')
                     FROM pg_constraint p
                     JOIN pg_class r ON r.oid = p.confrelid
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.conkey[1]
                     JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = p.confkey[1]
                     WHERE p.conrelid = c.oid AND p.contype = 'f')))
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind = 'r'),
 'indexes', (SELECT coalesce(json_object_agg(ic.relname, json_build_object(
    'table', t.relname, 'unique', i.indisunique, 'partial', i.indpred IS NOT NULL,
    'keys', (SELECT json_agg(CASE WHEN k.att = 0 THEN '<expr>' ELSE
                     (SELECT attname FROM pg_attribute WHERE attrelid = t.oid AND attnum = k.att)
                     END ORDER BY k.ord)
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, ord)
             WHERE k.ord <= i.indnkeyatts))), '{}')
   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
   JOIN pg_namespace n ON n.oid = t.relnamespace
   WHERE n.nspname = 'public'
     AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conindid = i.indexrelid
                       AND p.contype IN ('p', 'u'))),
 'triggers', (SELECT coalesce(json_object_agg(tg.tgname, json_build_object(
    'table', t.relname,
    'timing', CASE WHEN tg.tgtype & 2 <> 0 THEN 'BEFORE' WHEN tg.tgtype & 64 <> 0
                   THEN 'INSTEAD OF' ELSE 'AFTER' END,
    'event', CASE WHEN tg.tgtype & 4 <> 0 THEN 'INSERT' WHEN tg.tgtype & 8 <> 0 THEN 'DELETE'
                  ELSE 'UPDATE' END,
    'of', (SELECT coalesce(json_agg(a.attname ORDER BY a.attname), '[]')
           FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum = ANY (tg.tgattr::int2[])),
    'when', tg.tgqual IS NOT NULL)), '{}')
   FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid
   JOIN pg_namespace n ON n.oid = t.relnamespace
   WHERE n.nspname = 'public' AND NOT tg.tgisinternal));
"""


def pg_catalogue(mig_dir, dbname):
    for num, f in migrations(mig_dir):
        psql(["--single-transaction", "-f", f], db=dbname)
    cat = json.loads(psql(["-c", PG_READ], db=dbname))
    for t in cat["tables"].values():
        t["checked_columns"] = sorted(t["checked_columns"])
        t["foreign_keys"] = sorted(t["foreign_keys"])
        t["unique"] = sorted(t["unique"])
    for t in IGNORED_TABLES:
        cat["tables"].pop(t, None)
    return cat


# -------------------------------------------------------------- comparison


def compare_columns(diff, table, a, b):
    """Column by column, so a difference names the column."""
    ca, cb = {c["name"]: c for c in a}, {c["name"]: c for c in b}
    for col in [c["name"] for c in a] + [c["name"] for c in b if c["name"] not in ca]:
        if col not in ca or col not in cb:
            diff("column exists", f"{table}.{col}", col in ca, col in cb)
            continue
        for field in ("notnull", "default"):
            diff(f"column.{field}", f"{table}.{col}", ca[col][field], cb[col][field])
    common = [c for c in ca if c in cb]
    diff("table.column_order", table, common, [c for c in cb if c in ca])


def compare(lite, pg):
    diffs = []

    def diff(kind, key, a, b):
        if a != b and (kind, key) not in DELIBERATE:
            diffs.append(f"{kind} {key}: SQLite {json.dumps(a)} != PostgreSQL {json.dumps(b)}")

    for section, kind in (("tables", "table"), ("indexes", "index"), ("triggers", "trigger")):
        for name in sorted(set(lite[section]) | set(pg[section])):
            a, b = lite[section].get(name), pg[section].get(name)
            if a is None or b is None:
                diff(f"{kind} exists", name, a is not None, b is not None)
                continue
            for field in sorted(set(a) | set(b)):
                if field == "columns":
                    compare_columns(diff, name, a[field], b.get(field) or [])
                else:
                    diff(f"{kind}.{field}", name, a.get(field), b.get(field))
    return diffs


# --------------------------------------------------- behaviour of triggers

# Rows written on both sides, in statements valid in both dialects.  Event
# times (unixepoch()) are left out of the comparison: the clocks differ.
DML = [
    "INSERT INTO instances (name, url, created_at, updated_at) VALUES ('q', 'http://q', 1, 1)",
    "INSERT INTO destinations (name, kind, created_at, updated_at) VALUES ('d', 'local', 1, 1)",
    "INSERT INTO destinations (name, kind, created_at, updated_at) VALUES ('e', 'local', 1, 1)",
    "INSERT INTO plans (name, instance_id, destination_id, scope, created_at, updated_at)"
    " VALUES ('p', 1, 1, 'all', 1, 1)",
    "INSERT INTO runs (kind, plan_id, plan_name, trigger, instance_id, queued_at)"
    " VALUES ('backup', 1, 'p', 'api', 1, 5)",
    "UPDATE runs SET state = 'running' WHERE id = 1",
    "UPDATE runs SET bytes_done = 7 WHERE id = 1",
    "UPDATE runs SET state = 'succeeded', bytes_done = 9, bytes_total = 9 WHERE id = 1",
    "INSERT INTO snapshots (plan_id, run_id, instance_id, instance_name, destination_id, kind,"
    " collection, qdrant_name, location, size_bytes, sha256, created_at)"
    " VALUES (1, 1, 1, 'q', 1, 'collection', 'c', 'n1', 'l1', 100, '" + "a" * 64 + "', 6)",
    "INSERT INTO snapshots (plan_id, run_id, instance_id, instance_name, destination_id, kind,"
    " collection, qdrant_name, location, size_bytes, sha256, created_at)"
    " VALUES (1, 1, 1, 'q', 1, 'collection', 'c', 'n2', 'l2', 50, '" + "b" * 64 + "', 7)",
    "UPDATE snapshots SET verify_error = 'mismatch' WHERE id = 2",
    "UPDATE snapshots SET destination_id = 2 WHERE id = 1",
    "DELETE FROM snapshots WHERE id = 2",
    "UPDATE event_log SET keep = 3",
    "INSERT INTO runs (kind, plan_name, trigger, queued_at, state)"
    " VALUES ('restore', 'p', 'api', 8, 'running')",
]
CHECKS = [  # table, columns, order
    ("events", "id, type, plan, instance, run_id, data", "id"),
    ("snapshot_totals", "destination_id, count, bytes, verify_failed", "destination_id"),
    ("webhook_cursor", "id, events_after", "id"),
]
BAD_JSON = "INSERT INTO destinations (name, kind, settings, created_at, updated_at)" \
           " VALUES ('x', 'local', '{bad', 1, 1)"


def norm_row(row):
    out = []
    for v in row:
        if isinstance(v, str) and v.startswith("{"):
            try:
                v = json.loads(v)  # the two dialects space JSON differently
            except ValueError:
                pass
        out.append(v)
    return out


def behaviour(lite_db, dbname):
    diffs = []
    for stmt in DML:
        lite_db.execute(stmt)
        psql(["-c", stmt], db=dbname)
    for table, cols, order in CHECKS:
        q = f"SELECT {cols} FROM {table} ORDER BY {order}"
        a = [norm_row(r) for r in lite_db.execute(q).fetchall()]
        raw = psql(["-c", f"SELECT json_agg(json_build_array({cols}) ORDER BY {order}) FROM {table}"],
                   db=dbname).strip()
        b = [norm_row(r) for r in json.loads(raw or "null") or []]
        if a != b:
            diffs.append(f"rows of {table}: SQLite {json.dumps(a)} != PostgreSQL {json.dumps(b)}")
    try:
        lite_db.execute(BAD_JSON)
        diffs.append("SQLite accepted a settings value that is not JSON")
    except sqlite3.IntegrityError:
        pass
    r = subprocess.run(["psql", "-X", "-q", "-d", dbname, "-c", BAD_JSON],
                       capture_output=True, text=True)
    if r.returncode == 0 or "check constraint" not in r.stderr:
        diffs.append(f"PostgreSQL did not refuse bad JSON with a CHECK violation: {r.stderr!r}")
    return diffs


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_pg_schema.py MIGRATIONS_DIR")
    mig = sys.argv[1]
    url = os.environ.get("QB_PG_URL")
    if not url:
        print("PostgreSQL environment missing (QB_PG_URL; tests/pg/pg-start.sh)", file=sys.stderr)
        sys.exit(1 if os.environ.get("QB_REQUIRE_PG") == "1" else 77)
    # psql takes the server from the URL; a fresh database per run.
    base = url.rsplit("/", 1)[0]
    dbname = f"qb_schema_{os.getpid()}"
    psql(["-c", f'CREATE DATABASE "{dbname}"'], db=url)
    lite_db = path = None
    try:
        # The SQLite side stops where the twins stop: migrations without a
        # twin yet (a branch with QB_MIG_WARN_FROM set, scripts/check-migrations) are
        # left out on both sides rather than reported as differences.
        nums_lite = [n for n, _ in migrations(mig)]
        nums_pg = {n for n, _ in migrations(os.path.join(mig, "postgres"))}
        upto = "0000"
        for n in nums_lite:
            if n not in nums_pg:
                break
            upto = n
        left_out = [n for n in nums_lite if n > upto]
        if left_out:
            print(f"note: compared up to {upto}; without a PostgreSQL twin yet: {left_out}",
                  file=sys.stderr)
        if any(n > upto for n in nums_pg):
            sys.exit(f"PostgreSQL twins above {upto} but SQLite migration {left_out[0]} has none")
        lite, lite_db, path = sqlite_catalogue(mig, upto)
        pg = pg_catalogue(os.path.join(mig, "postgres"), f"{base}/{dbname}")
        diffs = []
        diffs += compare(lite, pg)
        diffs += behaviour(lite_db, f"{base}/{dbname}")
        ntab, nidx, ntrg = len(lite["tables"]), len(lite["indexes"]), len(lite["triggers"])
        for d in diffs:
            print("DIFF", d)
        if diffs:
            print(f"FAIL: {len(diffs)} difference(s)")
            sys.exit(1)
        print(f"ok: {ntab} tables, {nidx} indexes, {ntrg} triggers and the triggers' rows "
              f"are the same on SQLite and PostgreSQL (migrations 0001-{upto})")
    finally:
        if lite_db:
            lite_db.close()
            os.unlink(path)
        psql(["-c", f'DROP DATABASE IF EXISTS "{dbname}"'], db=url)


if __name__ == "__main__":
    main()
