/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate.c -- applies the embedded migrations of the connection's engine
 * (qb_migrations on SQLite, their twins qb_migrations_pg on PostgreSQL).
 * Each runs in its own transaction together with its schema_migrations
 * row, so a crash mid-migration leaves the previous version intact, and
 * two processes starting at once cannot both apply the same migration:
 * BEGIN IMMEDIATE holds SQLite's only write lock, and on PostgreSQL the
 * transaction takes the advisory lock STORE_LOCK_MIGRATE first.
 *
 * On SQLite:
 * Foreign keys are not enforced while a migration runs, so that one can
 * rebuild a table (create, copy, drop, rename: the only way SQLite adds
 * AUTOINCREMENT or changes a constraint) without the DROP firing the ON
 * DELETE actions of the tables that reference it.  PRAGMA foreign_keys
 * cannot change inside a transaction, so it is switched around it, and
 * PRAGMA foreign_key_check must find no more dangling references before
 * the COMMIT than before the migration: a migration may move rows, never
 * break a reference.  (Ones it finds already there, which qbackupd never
 * writes, are left to the operator rather than stopping the start.)
 */
#include "store/migrate.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* schema_migrations is the migrator's own table, made before the first
 * migration (migrations/postgres/0001_initial.sql leaves it to us too).
 * PostgreSQL's integers are bigint, as in the twins. */
static const char bootstrap_sqlite[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version INTEGER PRIMARY KEY,"
                                       " name TEXT NOT NULL,"
                                       " applied_at INTEGER NOT NULL)";
static const char bootstrap_pg[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " version bigint PRIMARY KEY,"
                                   " name text NOT NULL,"
                                   " applied_at bigint NOT NULL)";

/* The migrations of c's engine. */
static const struct migration *migrations_of(struct db_conn *c, int *count)
{
    bool pg = db_dialect(c) == DB_POSTGRES;
    *count = pg ? qb_migrations_pg_count : qb_migrations_count;
    return pg ? qb_migrations_pg : qb_migrations;
}

int migrate_latest_version(void)
{
    return qb_migrations_count ? qb_migrations[qb_migrations_count - 1].version : 0;
}

/* A write transaction that no other migrator runs alongside: BEGIN
 * IMMEDIATE on SQLite; BEGIN and the migration lock on PostgreSQL (where
 * a plain BEGIN excludes nobody). */
static enum qb_err begin_locked(struct db_conn *c, char *err, size_t errlen)
{
    enum qb_err rc = db_begin(c, DB_TX_WRITE, err, errlen);
    if (!rc)
        rc = db_lock(c, STORE_LOCK_MIGRATE, err, errlen);
    return rc;
}

static enum qb_err read_version(struct db_conn *c, int *version, char *err, size_t errlen)
{
    int64_t v = 0;
    enum qb_err rc = store_query_int(c, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                     &v, "reading schema version", err, errlen);
    if (!rc)
        *version = (int)v;
    return rc;
}

enum qb_err migrate_current_version(struct db_conn *c, int *version, char *err, size_t errlen)
{
    if (db_dialect(c) == DB_SQLITE) {
        enum qb_err rc = db_exec(c, bootstrap_sqlite, err, errlen);
        if (rc)
            return rc;
        return read_version(c, version, err, errlen);
    }
    /* Under the lock: two instances creating the table at once would
     * otherwise collide in PostgreSQL's catalogue. */
    enum qb_err rc = begin_locked(c, err, errlen);
    if (!rc)
        rc = db_exec(c, bootstrap_pg, err, errlen);
    if (!rc)
        rc = read_version(c, version, err, errlen);
    if (!rc)
        rc = db_commit(c, err, errlen);
    if (rc)
        db_rollback(c);
    return rc;
}

/* Counts rows that reference a missing parent (PRAGMA foreign_key_check
 * answers one row per violation). */
static enum qb_err count_dangling(struct db_conn *c, int64_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (db_dialect(c) != DB_SQLITE)
        return QB_OK; /* PostgreSQL checks every reference as it is written */
    return store_query_int(c, "SELECT count(*) FROM pragma_foreign_key_check", n,
                           "checking foreign keys", err, errlen);
}

static enum qb_err apply_locked(struct db_conn *c, const struct migration *m, char *err,
                                size_t errlen)
{
    struct db_stmt *st = NULL;
    int current = 0;
    int64_t dangling = 0, after = 0;
    enum qb_err rc = begin_locked(c, err, errlen);
    if (rc)
        goto out;
    /* Re-read under the write lock: another process may have applied it. */
    rc = read_version(c, &current, err, errlen);
    if (rc || current >= m->version)
        goto out;
    rc = count_dangling(c, &dangling, err, errlen);
    if (rc)
        goto out;
    /* db_exec's message is "<the whole text>: <why>": keep the why and
     * name the file instead. */
    size_t sqllen = strlen(m->sql), detaillen = sqllen + QB_ERRBUF_SIZE;
    char *detail = xmalloc(detaillen);
    rc = db_exec(c, m->sql, detail, detaillen);
    if (rc)
        qb_failf(rc, err, errlen, "migration %s: %s", m->name,
                 strlen(detail) > sqllen + 2 ? detail + sqllen + 2 : detail);
    free(detail);
    if (rc)
        goto out;
    rc = db_prepare(c,
                    "INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES (?1, ?2, ?3)",
                    &st, err, errlen);
    if (rc)
        goto out;
    store_bindf(st, "iti", (int64_t)m->version, m->name, qb_now_ms() / 1000);
    rc = store_step_done(st, NULL, "recording migration", err, errlen);
    if (!rc)
        rc = count_dangling(c, &after, err, errlen);
    if (!rc && after > dangling)
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen,
                      "migration %s would leave %lld rows referencing missing rows", m->name,
                      (long long)(after - dangling));
    if (!rc)
        rc = db_commit(c, err, errlen);
out:
    db_finalize(st);
    db_rollback(c); /* when still open: a failure, or nothing to apply */
    return rc;
}

/* Whether c enforces foreign keys now (PRAGMA foreign_keys; SQLite only). */
static bool foreign_keys_on(struct db_conn *c)
{
    int64_t on = 0;
    char ignored[QB_ERRBUF_SIZE];
    return store_query_int(c, "PRAGMA foreign_keys", &on, "reading foreign_keys", ignored,
                           sizeof ignored) == QB_OK &&
           on != 0;
}

static enum qb_err apply_one(struct db_conn *c, const struct migration *m, char *err, size_t errlen)
{
    if (db_dialect(c) != DB_SQLITE)
        return apply_locked(c, m, err, errlen); /* no rebuilds there: no PRAGMA either */
    bool enforced = foreign_keys_on(c);
    enum qb_err rc = enforced ? db_exec(c, "PRAGMA foreign_keys = OFF", err, errlen) : QB_OK;
    if (!rc)
        rc = apply_locked(c, m, err, errlen);
    /* Back to what the connection had, whatever happened. */
    if (enforced && db_exec(c, "PRAGMA foreign_keys = ON", NULL, 0) != QB_OK && !rc)
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "cannot re-enable foreign keys");
    return rc;
}

enum qb_err migrate_apply(struct db_conn *c, int *applied, char *err, size_t errlen)
{
    int current = 0, count = 0, n = 0;
    const struct migration *all = migrations_of(c, &n);
    int latest = n ? all[n - 1].version : 0;
    enum qb_err rc = migrate_current_version(c, &current, err, errlen);
    if (rc)
        return rc;
    if (current > latest)
        return qb_failf(QB_ERR_TOO_NEW, err, errlen,
                        "the catalogue has schema version %d but this qbackupd knows only up to "
                        "%d; a newer qbackupd wrote it. Run that version (or restore a catalogue "
                        "backup made by this one); nothing was changed",
                        current, latest);
    for (int i = 0; i < n; i++) {
        const struct migration *m = &all[i];
        if (m->version <= current)
            continue;
        rc = apply_one(c, m, err, errlen);
        if (rc)
            return rc;
        count++;
    }
    if (applied)
        *applied = count;
    return QB_OK;
}
