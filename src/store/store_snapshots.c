/* SPDX-License-Identifier: Apache-2.0
 *
 * store_snapshots.c -- catalogue rows: insert, read, list, pin, verify,
 * delete.
 */
#include "store/store_snapshots.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define SNAP_SELECT                                                                                \
    "SELECT s.id, s.plan_id, p.name, s.run_id, s.instance_id, s.instance_name, "                   \
    "s.destination_id, d.name, s.kind, s.collection, s.shard_id, s.qdrant_name, s.location, "      \
    "s.storage_key, s.size_bytes, s.sha256, s.qdrant_checksum, s.qdrant_version, "                 \
    "s.points_count, s.created_at, s.verified_at, s.verify_error, s.pinned, s.layout, "            \
    "s.backup_set "                                                                                \
    "FROM snapshots s LEFT JOIN plans p ON p.id = s.plan_id "                                      \
    "JOIN destinations d ON d.id = s.destination_id "

void store_snapshot_free(struct store_snapshot *s)
{
    if (!s)
        return;
    free(s->plan_name);
    free(s->instance_name);
    free(s->destination_name);
    free(s->kind);
    free(s->collection);
    free(s->qdrant_name);
    free(s->location);
    free(s->storage_key);
    free(s->sha256);
    free(s->qdrant_checksum);
    free(s->qdrant_version);
    free(s->verify_error);
    free(s->layout);
    free(s->backup_set);
    free(s);
}

void store_snapshot_list_free(struct store_snapshot **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_snapshot_free(list[i]);
    free(list);
}

static int64_t col_int_or(sqlite3_stmt *st, int col, int64_t dflt)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, col);
}

static struct store_snapshot *row_to_snapshot(sqlite3_stmt *st)
{
    struct store_snapshot *s = xcalloc(1, sizeof *s);
    s->id = sqlite3_column_int64(st, 0);
    s->plan_id = sqlite3_column_int64(st, 1);
    s->plan_name = store_column_text(st, 2);
    s->run_id = sqlite3_column_int64(st, 3);
    s->instance_id = sqlite3_column_int64(st, 4);
    s->instance_name = store_column_text(st, 5);
    s->destination_id = sqlite3_column_int64(st, 6);
    s->destination_name = store_column_text(st, 7);
    s->kind = store_column_text(st, 8);
    s->collection = store_column_text(st, 9);
    s->shard_id = col_int_or(st, 10, -1);
    s->qdrant_name = store_column_text(st, 11);
    s->location = store_column_text(st, 12);
    s->storage_key = store_column_text(st, 13);
    s->size_bytes = sqlite3_column_int64(st, 14);
    s->sha256 = store_column_text(st, 15);
    s->qdrant_checksum = store_column_text(st, 16);
    s->qdrant_version = store_column_text(st, 17);
    s->points_count = col_int_or(st, 18, -1);
    s->created_at = sqlite3_column_int64(st, 19);
    s->verified_at = sqlite3_column_int64(st, 20);
    s->verify_error = store_column_text(st, 21);
    s->pinned = sqlite3_column_int(st, 22) != 0;
    s->layout = store_column_text(st, 23);
    if (!s->layout)
        s->layout = xstrdup("snapshot");
    s->backup_set = store_column_text(st, 24);
    return s;
}

static void bind_opt_int(sqlite3_stmt *st, int idx, int64_t v, int64_t none)
{
    if (v == none)
        sqlite3_bind_null(st, idx);
    else
        sqlite3_bind_int64(st, idx, v);
}

enum qb_err store_snapshot_insert(struct store *s, const struct store_snapshot *snap, int64_t *id,
                                  char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(
        db,
        "INSERT INTO snapshots (plan_id, run_id, instance_id, instance_name, destination_id, "
        "kind, collection, shard_id, qdrant_name, location, storage_key, size_bytes, sha256, "
        "qdrant_checksum, qdrant_version, points_count, created_at, verified_at, pinned, layout, "
        "backup_set) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,"
        "?20,?21)",
        &st, err, errlen);
    if (rc)
        goto out;
    bind_opt_int(st, 1, snap->plan_id, 0);
    bind_opt_int(st, 2, snap->run_id, 0);
    bind_opt_int(st, 3, snap->instance_id, 0);
    store_bind_text(st, 4, snap->instance_name);
    sqlite3_bind_int64(st, 5, snap->destination_id);
    store_bind_text(st, 6, snap->kind);
    store_bind_text(st, 7, snap->collection);
    bind_opt_int(st, 8, snap->shard_id, -1);
    store_bind_text(st, 9, snap->qdrant_name);
    store_bind_text(st, 10, snap->location);
    store_bind_text(st, 11, snap->storage_key);
    sqlite3_bind_int64(st, 12, snap->size_bytes);
    store_bind_text(st, 13, snap->sha256);
    store_bind_text(st, 14, snap->qdrant_checksum);
    store_bind_text(st, 15, snap->qdrant_version);
    bind_opt_int(st, 16, snap->points_count, -1);
    sqlite3_bind_int64(st, 17, snap->created_at);
    bind_opt_int(st, 18, snap->verified_at, 0);
    sqlite3_bind_int(st, 19, snap->pinned);
    store_bind_text(st, 20, snap->layout ? snap->layout : "snapshot");
    store_bind_text(st, 21, snap->backup_set);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, "cataloguing snapshot", err, errlen);
    else
        *id = sqlite3_last_insert_rowid(db);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

static enum qb_err list_where(struct store *s, const struct store_snapshot_filter *f, int64_t id,
                              struct store_snapshot ***out, size_t *n, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    struct store_snapshot **list = NULL;
    size_t count = 0;
    enum qb_err rc = store_prepare(
        db,
        SNAP_SELECT
        "WHERE (?1 = 0 OR s.id = ?1) AND (?2 IS NULL OR p.name = ?2) "
        "AND (?3 IS NULL OR s.collection = ?3) AND (?4 IS NULL OR s.instance_name = ?4) "
        "AND (?5 IS NULL OR s.kind = ?5) AND (?6 = 0 OR s.plan_id = ?6) "
        "AND (?7 = 0 OR s.collection IS NULL) AND (?8 = 0 OR s.verified_at IS NOT NULL) "
        "AND (?9 = 0 OR s.created_at < ?9) "
        "AND (?10 = 0 OR s.created_at < ?12 OR (s.created_at = ?12 AND s.id < ?10)) "
        "AND (?13 = 0 OR s.run_id = ?13) "
        "ORDER BY s.created_at DESC, s.id DESC LIMIT ?11",
        &st, err, errlen);
    if (rc)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (f) {
        store_bind_text(st, 2, f->plan);
        store_bind_text(st, 3, f->collection);
        store_bind_text(st, 4, f->instance);
        store_bind_text(st, 5, f->kind);
        sqlite3_bind_int64(st, 6, f->plan_id);
        sqlite3_bind_int(st, 7, f->collection_is_null);
        sqlite3_bind_int(st, 8, f->verified_only);
        sqlite3_bind_int64(st, 9, f->created_before);
        sqlite3_bind_int64(st, 10, f->before_id);
        sqlite3_bind_int64(st, 12, f->before_created);
        sqlite3_bind_int64(st, 13, f->run_id);
    } else {
        sqlite3_bind_int64(st, 13, 0);
        for (int i = 2; i <= 5; i++)
            sqlite3_bind_null(st, i);
        for (int i = 6; i <= 10; i++)
            sqlite3_bind_int(st, i, 0);
    }
    sqlite3_bind_int(st, 11, f && f->limit > 0 ? f->limit : -1);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        list = xrealloc(list, (count + 1) * sizeof *list);
        list[count++] = row_to_snapshot(st);
    }
    if (src != SQLITE_DONE) {
        rc = store_sqlite_err(db, src, "listing snapshots", err, errlen);
        store_snapshot_list_free(list, count);
        list = NULL;
        count = 0;
    }
out:
    sqlite3_finalize(st);
    store_release(s, db);
    *out = list;
    *n = count;
    return rc;
}

enum qb_err store_snapshot_get(struct store *s, int64_t id, struct store_snapshot **out, char *err,
                               size_t errlen)
{
    struct store_snapshot **list = NULL;
    size_t n = 0;
    enum qb_err rc = id > 0 ? list_where(s, NULL, id, &list, &n, err, errlen) : QB_OK;
    if (!rc && n == 0)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "snapshot %lld does not exist", (long long)id);
    if (!rc) {
        *out = list[0];
        list[0] = NULL;
    }
    store_snapshot_list_free(list, n);
    return rc;
}

enum qb_err store_snapshot_list(struct store *s, const struct store_snapshot_filter *f,
                                struct store_snapshot ***out, size_t *n, char *err, size_t errlen)
{
    return list_where(s, f, 0, out, n, err, errlen);
}

static enum qb_err update_one(struct store *s, const char *sql, int64_t id, int64_t a,
                              const char *text, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(db, sql, &st, err, errlen);
    if (rc)
        goto out;
    /* Statements use a subset of ?1..?3; binding an absent index only
     * returns SQLITE_RANGE. */
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, a);
    store_bind_text(st, 3, text);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, "updating snapshot", err, errlen);
    else if (sqlite3_changes(db) == 0)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "snapshot %lld does not exist", (long long)id);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_snapshot_delete(struct store *s, int64_t id, char *err, size_t errlen)
{
    return update_one(s, "DELETE FROM snapshots WHERE id = ?1", id, 0, NULL, err, errlen);
}

enum qb_err store_snapshot_set_pinned(struct store *s, int64_t id, bool pinned, char *err,
                                      size_t errlen)
{
    return update_one(s, "UPDATE snapshots SET pinned = ?2 WHERE id = ?1", id, pinned, NULL, err,
                      errlen);
}

enum qb_err store_snapshot_set_verified(struct store *s, int64_t id, bool ok, const char *error,
                                        char *err, size_t errlen)
{
    if (ok)
        return update_one(s,
                          "UPDATE snapshots SET verified_at = ?2, verify_error = NULL "
                          "WHERE id = ?1",
                          id, qb_now_ms() / 1000, NULL, err, errlen);
    return update_one(s, "UPDATE snapshots SET verify_error = ?3, verified_at = NULL WHERE id = ?1",
                      id, 0, error, err, errlen);
}

enum qb_err store_snapshot_set_backup_set(struct store *s, int64_t id, const char *json, char *err,
                                          size_t errlen)
{
    return update_one(s, "UPDATE snapshots SET backup_set = ?3 WHERE id = ?1", id, 0, json, err,
                      errlen);
}

enum qb_err store_snapshot_totals(struct store *s, int64_t *count, int64_t *bytes, char *err,
                                  size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(
        db, "SELECT count(*), coalesce(sum(size_bytes), 0) FROM snapshots", &st, err, errlen);
    if (!rc) {
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            *count = sqlite3_column_int64(st, 0);
            *bytes = sqlite3_column_int64(st, 1);
        } else {
            rc = store_sqlite_err(db, src, "catalogue totals", err, errlen);
        }
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_snapshot_key_exists(struct store *s, int64_t destination_id, const char *key,
                                      bool *exists, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    *exists = false;
    enum qb_err rc =
        store_prepare(db, "SELECT 1 FROM snapshots WHERE destination_id = ?1 AND storage_key = ?2",
                      &st, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(st, 1, destination_id);
        store_bind_text(st, 2, key);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            *exists = true;
        else if (src != SQLITE_DONE)
            rc = store_sqlite_err(db, src, "looking up a stored key", err, errlen);
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_snapshot_count_in_destination(struct store *s, int64_t destination_id, int64_t *n,
                                                char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    *n = 0;
    enum qb_err rc = store_prepare(db, "SELECT count(*) FROM snapshots WHERE destination_id = ?1",
                                   &st, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(st, 1, destination_id);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            *n = sqlite3_column_int64(st, 0);
        else
            rc = store_sqlite_err(db, src, "counting snapshots", err, errlen);
    }
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}
