/* SPDX-License-Identifier: Apache-2.0
 *
 * store_cleanup.c -- the qdrant_cleanup table (see store_cleanup.h).
 */
#include "store/store_cleanup.h"
#include "store/store_internal.h"

#include <stdlib.h>

void store_cleanup_list_free(struct store_cleanup **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i]->instance_name);
        free(list[i]->url);
        free(list[i]->scope);
        free(list[i]->collection);
        free(list[i]->snapshot);
        free(list[i]->last_error);
        free(list[i]);
    }
    free(list);
}

/* One write statement with up to five parameters. */
static enum qb_err write1(struct store *s, const char *sql, int64_t id, int64_t a, const char *text,
                          char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(db, sql, &st, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, a);
        store_bind_text(st, 3, text);
        int src = sqlite3_step(st);
        if (src != SQLITE_DONE)
            rc = store_sqlite_err(db, src, "updating qdrant_cleanup", err, errlen);
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_cleanup_add(struct store *s, const struct store_cleanup *c, char *err,
                              size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(
        db,
        "INSERT INTO qdrant_cleanup (instance_name, url, scope, collection, shard_id, snapshot, "
        "attempts, next_at, last_error, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
        &st, err, errlen);
    if (!rc) {
        store_bind_text(st, 1, c->instance_name);
        store_bind_text(st, 2, c->url);
        store_bind_text(st, 3, c->scope);
        store_bind_text(st, 4, c->collection);
        if (c->shard_id >= 0)
            sqlite3_bind_int64(st, 5, c->shard_id);
        else
            sqlite3_bind_null(st, 5);
        store_bind_text(st, 6, c->snapshot);
        sqlite3_bind_int64(st, 7, c->attempts);
        sqlite3_bind_int64(st, 8, c->next_at);
        store_bind_text(st, 9, c->last_error);
        sqlite3_bind_int64(st, 10, qb_now_ms() / 1000);
        int src = sqlite3_step(st);
        if (src != SQLITE_DONE)
            rc = store_sqlite_err(db, src, "recording a Qdrant snapshot to delete", err, errlen);
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_cleanup_due(struct store *s, int64_t now, int limit, struct store_cleanup ***out,
                              size_t *n, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    enum qb_err rc = store_prepare(db,
                                   "SELECT id, instance_name, url, scope, collection, shard_id, "
                                   "snapshot, attempts, next_at, last_error FROM qdrant_cleanup "
                                   "WHERE next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
                                   &st, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int(st, 2, limit);
        int src;
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_cleanup *c = xcalloc(1, sizeof *c);
            c->id = sqlite3_column_int64(st, 0);
            c->instance_name = store_column_text(st, 1);
            c->url = store_column_text(st, 2);
            c->scope = store_column_text(st, 3);
            c->collection = store_column_text(st, 4);
            c->shard_id =
                sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5);
            c->snapshot = store_column_text(st, 6);
            c->attempts = sqlite3_column_int64(st, 7);
            c->next_at = sqlite3_column_int64(st, 8);
            c->last_error = store_column_text(st, 9);
            *out = xrealloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = c;
        }
        if (src != SQLITE_DONE)
            rc = store_sqlite_err(db, src, "listing Qdrant snapshots to delete", err, errlen);
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_cleanup_done(struct store *s, int64_t id, char *err, size_t errlen)
{
    return write1(s, "DELETE FROM qdrant_cleanup WHERE id = ?1", id, 0, NULL, err, errlen);
}

enum qb_err store_cleanup_retry(struct store *s, int64_t id, int64_t next_at, const char *error,
                                char *err, size_t errlen)
{
    return write1(s,
                  "UPDATE qdrant_cleanup SET attempts = attempts + 1, next_at = ?2, "
                  "last_error = ?3 WHERE id = ?1",
                  id, next_at, error, err, errlen);
}

enum qb_err store_cleanup_count(struct store *s, int64_t *n, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    *n = 0;
    enum qb_err rc = store_prepare(db, "SELECT count(*) FROM qdrant_cleanup", &st, err, errlen);
    if (!rc) {
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            *n = sqlite3_column_int64(st, 0);
        else
            rc = store_sqlite_err(db, src, "counting Qdrant snapshots to delete", err, errlen);
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}
