/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate.c -- applies the embedded migrations.  Each runs in its own
 * BEGIN IMMEDIATE transaction together with its schema_migrations row, so
 * a crash mid-migration leaves the previous version intact, and two
 * processes starting at once cannot both apply the same migration.
 *
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

static const char bootstrap_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " version INTEGER PRIMARY KEY,"
                                    " name TEXT NOT NULL,"
                                    " applied_at INTEGER NOT NULL)";

int migrate_latest_version(void)
{
    return qb_migrations_count ? qb_migrations[qb_migrations_count - 1].version : 0;
}

static enum qb_err read_version(sqlite3 *db, int *version, char *err, size_t errlen)
{
    int64_t v = 0;
    enum qb_err rc = store_query_int(db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                     &v, "reading schema version", err, errlen);
    if (!rc)
        *version = (int)v;
    return rc;
}

enum qb_err migrate_current_version(sqlite3 *db, int *version, char *err, size_t errlen)
{
    enum qb_err rc = store_exec(db, bootstrap_sql, err, errlen);
    if (rc)
        return rc;
    return read_version(db, version, err, errlen);
}

/* Counts rows that reference a missing parent (PRAGMA foreign_key_check
 * answers one row per violation). */
static enum qb_err count_dangling(sqlite3 *db, int64_t *n, char *err, size_t errlen)
{
    return store_query_int(db, "SELECT count(*) FROM pragma_foreign_key_check", n,
                           "checking foreign keys", err, errlen);
}

static enum qb_err apply_locked(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int current = 0;
    int64_t dangling = 0, after = 0;
    enum qb_err rc = store_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc)
        return rc;
    /* Re-read under the write lock: another process may have applied it. */
    rc = read_version(db, &current, err, errlen);
    if (rc || current >= m->version)
        goto out;
    rc = count_dangling(db, &dangling, err, errlen);
    if (rc)
        goto out;
    int src = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        char what[128];
        snprintf(what, sizeof what, "migration %s", m->name);
        rc = store_sqlite_err(db, src, what, err, errlen);
        goto out;
    }
    rc = store_prepare(db,
                       "INSERT INTO schema_migrations (version, name, applied_at) "
                       "VALUES (?1, ?2, ?3)",
                       &st, err, errlen);
    if (rc)
        goto out;
    sqlite3_bind_int(st, 1, m->version);
    store_bind_text(st, 2, m->name);
    sqlite3_bind_int64(st, 3, qb_now_ms() / 1000);
    rc = store_step_done(db, st, NULL, "recording migration", err, errlen);
    if (!rc)
        rc = count_dangling(db, &after, err, errlen);
    if (!rc && after > dangling)
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen,
                      "migration %s would leave %lld rows referencing missing rows", m->name,
                      (long long)(after - dangling));
    if (!rc)
        rc = store_exec(db, "COMMIT", err, errlen);
out:
    sqlite3_finalize(st);
    if (rc || !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Whether db enforces foreign keys now (PRAGMA foreign_keys). */
static bool foreign_keys_on(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool on = false;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        on = sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    return on;
}

static enum qb_err apply_one(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
    bool enforced = foreign_keys_on(db);
    enum qb_err rc = enforced ? store_exec(db, "PRAGMA foreign_keys = OFF", err, errlen) : QB_OK;
    if (!rc)
        rc = apply_locked(db, m, err, errlen);
    /* Back to what the connection had, whatever happened. */
    if (enforced && store_exec(db, "PRAGMA foreign_keys = ON", NULL, 0) != QB_OK && !rc)
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "cannot re-enable foreign keys");
    return rc;
}

enum qb_err migrate_apply(sqlite3 *db, int *applied, char *err, size_t errlen)
{
    int current = 0, count = 0;
    enum qb_err rc = migrate_current_version(db, &current, err, errlen);
    if (rc)
        return rc;
    if (current > migrate_latest_version())
        return qb_failf(QB_ERR_TOO_NEW, err, errlen,
                        "the catalogue has schema version %d but this qbackupd knows only up to "
                        "%d; a newer qbackupd wrote it. Run that version (or restore a catalogue "
                        "backup made by this one); nothing was changed",
                        current, migrate_latest_version());
    for (int i = 0; i < qb_migrations_count; i++) {
        const struct migration *m = &qb_migrations[i];
        if (m->version <= current)
            continue;
        rc = apply_one(db, m, err, errlen);
        if (rc)
            return rc;
        count++;
    }
    if (applied)
        *applied = count;
    return QB_OK;
}
