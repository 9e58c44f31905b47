/* SPDX-License-Identifier: Apache-2.0
 *
 * store_snapshots.c -- catalogue rows: insert, read, list, pin, verify,
 * delete, and the totals the metrics and destinations read.
 */
#include "store/store_snapshots.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_SELECT                                                                                \
    "SELECT s.id, s.plan_id, p.name, s.run_id, s.instance_id, s.instance_name, "                   \
    "s.destination_id, d.name, s.kind, s.collection, s.shard_id, s.qdrant_name, s.location, "      \
    "s.storage_key, s.size_bytes, s.sha256, s.qdrant_checksum, s.qdrant_version, "                 \
    "s.points_count, s.created_at, s.verified_at, s.verify_error, s.pinned, s.layout, "            \
    "s.backup_set, s.keep_until, s.labels, s.checked_at, s.codec, s.raw_size, s.raw_sha256, "      \
    "s.key_id, s.locked_until "                                                                    \
    "FROM snapshots s LEFT JOIN plans p ON p.id = s.plan_id "                                      \
    "JOIN destinations d ON d.id = s.destination_id "

/* The columns of SNAP_SELECT, in order. */
#define STORE_ROW_T struct store_snapshot
static const struct store_col snapshot_cols[] = {STORE_COL(id),
                                                 STORE_COL(plan_id),
                                                 STORE_COL(plan_name),
                                                 STORE_COL(run_id),
                                                 STORE_COL(instance_id),
                                                 STORE_COL(instance_name),
                                                 STORE_COL(destination_id),
                                                 STORE_COL(destination_name),
                                                 STORE_COL(kind),
                                                 STORE_COL(collection),
                                                 STORE_COL_INT_OR(shard_id, -1),
                                                 STORE_COL(qdrant_name),
                                                 STORE_COL(location),
                                                 STORE_COL(storage_key),
                                                 STORE_COL(size_bytes),
                                                 STORE_COL(sha256),
                                                 STORE_COL(qdrant_checksum),
                                                 STORE_COL(qdrant_version),
                                                 STORE_COL_INT_OR(points_count, -1),
                                                 STORE_COL(created_at),
                                                 STORE_COL(verified_at),
                                                 STORE_COL(verify_error),
                                                 STORE_COL(pinned),
                                                 STORE_COL_TEXT_OR(layout, "snapshot"),
                                                 STORE_COL(backup_set),
                                                 STORE_COL(keep_until),
                                                 STORE_COL_TEXT_OR(labels, "{}"),
                                                 STORE_COL(checked_at),
                                                 STORE_COL_TEXT_OR(codec, "none"),
                                                 STORE_COL_INT_OR(raw_size, -1),
                                                 STORE_COL(raw_sha256),
                                                 STORE_COL(key_id),
                                                 STORE_COL(locked_until)};
#undef STORE_ROW_T
STORE_TABLE_DEFINE(struct store_snapshot, snapshot_cols, snapshot_rows, store_snapshot_free,
                   store_snapshot_list_free)

/* owner non-NULL: only while the run ?2 is running and owned by owner
 * (?29); the SELECT form puts the condition in the INSERT itself, so no
 * adoption or settlement slips in between a check and the write. */
static enum qb_err snapshot_insert(struct store *s, const struct store_snapshot *snap,
                                   const char *owner, int64_t *id, char *err, size_t errlen)
{
    bool found = false;
    /* Optional values bind NULL: references and times at 0 ('z'), the
     * shard, count and raw size at -1 ('m'); ?18 is also checked_at.  The
     * casts type the SELECT's parameters for PostgreSQL, which does not
     * take them from the target columns as it does for VALUES. */
    enum qb_err rc = store_queryf_int(
        s,
        "INSERT INTO snapshots (plan_id, run_id, instance_id, instance_name, destination_id, "
        "kind, collection, shard_id, qdrant_name, location, storage_key, size_bytes, sha256, "
        "qdrant_checksum, qdrant_version, points_count, created_at, verified_at, pinned, layout, "
        "backup_set, keep_until, labels, checked_at, codec, raw_size, raw_sha256, key_id, "
        "locked_until) SELECT "
        "CAST(?1 AS BIGINT),CAST(?2 AS BIGINT),CAST(?3 AS BIGINT),CAST(?4 AS TEXT),"
        "CAST(?5 AS BIGINT),CAST(?6 AS TEXT),CAST(?7 AS TEXT),CAST(?8 AS BIGINT),"
        "CAST(?9 AS TEXT),CAST(?10 AS TEXT),CAST(?11 AS TEXT),CAST(?12 AS BIGINT),"
        "CAST(?13 AS TEXT),CAST(?14 AS TEXT),CAST(?15 AS TEXT),CAST(?16 AS BIGINT),"
        "CAST(?17 AS BIGINT),CAST(?18 AS BIGINT),CAST(?19 AS BIGINT),CAST(?20 AS TEXT),"
        "CAST(?21 AS TEXT),CAST(?22 AS BIGINT),CAST(?23 AS TEXT),CAST(?18 AS BIGINT),"
        "CAST(?24 AS TEXT),CAST(?25 AS BIGINT),CAST(?26 AS TEXT),CAST(?27 AS TEXT),"
        "CAST(?28 AS BIGINT) "
        "WHERE CAST(?29 AS TEXT) IS NULL OR EXISTS "
        "(SELECT 1 FROM runs WHERE id = CAST(?2 AS BIGINT) AND state = 'running' "
        "AND coalesce(owner, '') = CAST(?29 AS TEXT)) RETURNING id",
        id, &found, "cataloguing snapshot", err, errlen,
        "zzztittmtttittt"
        "mizittzttmttzt",
        snap->plan_id, snap->run_id, snap->instance_id, snap->instance_name, snap->destination_id,
        snap->kind, snap->collection, snap->shard_id, snap->qdrant_name, snap->location,
        snap->storage_key, snap->size_bytes, snap->sha256, snap->qdrant_checksum,
        snap->qdrant_version, snap->points_count, snap->created_at, snap->verified_at,
        (int64_t)snap->pinned, snap->layout ? snap->layout : "snapshot", snap->backup_set,
        snap->keep_until, snap->labels ? snap->labels : "{}", snap->codec ? snap->codec : "none",
        snap->raw_size, snap->raw_sha256 && *snap->raw_sha256 ? snap->raw_sha256 : NULL,
        snap->key_id && *snap->key_id ? snap->key_id : NULL, snap->locked_until, owner);
    if (!rc && !found)
        rc = qb_failf(QB_ERR_CONFLICT, err, errlen,
                      "run %lld is no longer running here (adopted or settled meanwhile, e.g. by "
                      "another node while this one was unresponsive): its snapshot is not "
                      "catalogued",
                      (long long)snap->run_id);
    return rc;
}

enum qb_err store_snapshot_insert(struct store *s, const struct store_snapshot *snap, int64_t *id,
                                  char *err, size_t errlen)
{
    return snapshot_insert(s, snap, NULL, id, err, errlen);
}

enum qb_err store_snapshot_insert_for_run(struct store *s, const struct store_snapshot *snap,
                                          const char *owner, int64_t *id, char *err, size_t errlen)
{
    return snapshot_insert(s, snap, owner ? owner : "", id, err, errlen);
}

enum qb_err store_snapshot_get(struct store *s, int64_t id, struct store_snapshot **out, char *err,
                               size_t errlen)
{
    return store_get_by_key(s, SNAP_SELECT "WHERE s.id = ?1 AND s.deleting_at IS NULL", NULL, id,
                            &snapshot_rows, NULL, out, "snapshot", err, errlen);
}

enum qb_err store_snapshot_list(struct store *s, const struct store_snapshot_filter *f,
                                struct store_snapshot ***out, size_t *n, char *err, size_t errlen)
{
    static const struct store_snapshot_filter none = {0};
    struct store_where w = {0};
    char sql[sizeof SNAP_SELECT + STORE_WHERE_MAX + 64];
    void *list = NULL;
    if (!f)
        f = &none;
    /* Parameter numbers are fixed per filter; a parameter the statement
     * lacks is simply not bound (db.h ignores it).
     * The indexes of 0001/0011 serve: plan_id (+ collection) ->
     * snapshots_plan_target; plan -> snapshots_plan_created; collection
     * -> snapshots_collection_created; run -> snapshots_run; none ->
     * snapshots_created.  The cursor is a range on created_at (the seek)
     * refined by id among rows created in the same second. */
    store_where_add(&w, true, "s.deleting_at IS NULL");
    store_where_add(&w, f->plan, "s.plan_id = (SELECT id FROM plans WHERE name = ?2)");
    store_where_add(&w, f->collection, "s.collection = ?3");
    store_where_add(&w, f->instance, "s.instance_name = ?4");
    store_where_add(&w, f->kind, "s.kind = ?5");
    store_where_add(&w, f->plan_id, "s.plan_id = ?6");
    store_where_add(&w, f->collection_is_null, "s.collection IS NULL");
    store_where_add(&w, f->verified_only, "s.verified_at IS NOT NULL");
    store_where_add(&w, f->created_before, "s.created_at < ?9");
    store_where_add(&w, f->before_id, "s.created_at <= ?12 AND (s.created_at < ?12 OR s.id < ?10)");
    store_where_add(&w, f->run_id, "s.run_id = ?13");
    snprintf(sql, sizeof sql, "%s%s ORDER BY s.created_at DESC, s.id DESC LIMIT ?11", SNAP_SELECT,
             w.sql);
    /* ?11 without a limit: the largest (SQLite takes -1 for none,
     * PostgreSQL refuses it). */
    enum qb_err rc = store_listf(
        s, sql, &snapshot_rows, NULL, &list, n, "listing snapshots", err, errlen, "_tttti__iiiii",
        f->plan, f->collection, f->instance, f->kind, f->plan_id, f->created_before, f->before_id,
        (int64_t)(f->limit > 0 ? f->limit : INT64_MAX), f->before_created, f->run_id);
    *out = list;
    return rc;
}

#define STORE_ROW_T struct store_snapshot_brief
static const struct store_col brief_cols[] = {STORE_COL(id),         STORE_COL(created_at),
                                              STORE_COL(pinned),     STORE_COL(verified_at),
                                              STORE_COL(keep_until), STORE_COL(locked_until)};
#undef STORE_ROW_T
static const struct store_rows brief_rows =
    STORE_VALUE_ROWS(struct store_snapshot_brief, brief_cols);

enum qb_err store_snapshot_list_retention(struct store *s, int64_t plan_id, const char *collection,
                                          struct store_snapshot_brief **out, size_t *n, char *err,
                                          size_t errlen)
{
    void *list;
    /* Covered by snapshots_plan_target (0011, with keep_until since
     * 0015, locked_until since 0018): no row is read.  "IS NOT DISTINCT
     * FROM" also matches the full-instance target, whose collection is
     * NULL. */
    enum qb_err rc =
        store_listf(s,
                    "SELECT id, created_at, pinned, verified_at, keep_until, locked_until "
                    "FROM snapshots "
                    "WHERE plan_id = ?1 AND collection IS NOT DISTINCT FROM ?2 "
                    "AND deleting_at IS NULL "
                    "ORDER BY created_at DESC, id DESC",
                    &brief_rows, NULL, &list, n, "listing a retention target", err, errlen, "it",
                    plan_id, collection);
    *out = list;
    return rc;
}

void store_snapshot_targets_free(char **list, size_t n)
{
    store_rows_free(&store_text_rows, list, n);
}

enum qb_err store_snapshot_targets(struct store *s, int64_t plan_id, char ***out, size_t *n,
                                   char *err, size_t errlen)
{
    void *list;
    /* One walk of the plan's part of snapshots_plan_target, grouped as it
     * is ordered; the target with the newest snapshot first. */
    enum qb_err rc = store_listf(s,
                                 "SELECT collection FROM snapshots "
                                 "WHERE plan_id = ?1 AND deleting_at IS NULL "
                                 "GROUP BY collection ORDER BY max(created_at) DESC, max(id) DESC",
                                 &store_text_rows, NULL, &list, n, "listing retention targets", err,
                                 errlen, "i", plan_id);
    *out = list;
    return rc;
}

/* store_write on one snapshot: no row changed is QB_ERR_NOT_FOUND. */
static enum qb_err update_one(struct store *s, const char *sql, int64_t id, int64_t a,
                              const char *text, char *err, size_t errlen)
{
    return store_write_one(s, sql, id, a, 0, text, "updating snapshot", "snapshot", err, errlen);
}

enum qb_err store_snapshot_delete(struct store *s, int64_t id, char *err, size_t errlen)
{
    return update_one(s, "DELETE FROM snapshots WHERE id = ?1", id, 0, NULL, err, errlen);
}

enum qb_err store_snapshot_mark_deleting(struct store *s, int64_t id, bool on, char *err,
                                         size_t errlen)
{
    if (on)
        return update_one(s,
                          "UPDATE snapshots SET deleting_at = ?2 "
                          "WHERE id = ?1 AND deleting_at IS NULL",
                          id, qb_now_ms() / 1000, NULL, err, errlen);
    return update_one(s, "UPDATE snapshots SET deleting_at = NULL WHERE id = ?1", id, 0, NULL, err,
                      errlen);
}

enum qb_err store_snapshot_list_deleting(struct store *s, int64_t marked_before,
                                         struct store_snapshot ***out, size_t *n, char *err,
                                         size_t errlen)
{
    void *list;
    enum qb_err rc = store_listf(
        s, SNAP_SELECT "WHERE s.deleting_at IS NOT NULL AND s.deleting_at <= ?1 ORDER BY s.id",
        &snapshot_rows, NULL, &list, n, "listing deletions", err, errlen, "i", marked_before);
    *out = list;
    return rc;
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
                          "UPDATE snapshots SET verified_at = ?2, checked_at = ?2, "
                          "verify_error = NULL WHERE id = ?1",
                          id, qb_now_ms() / 1000, NULL, err, errlen);
    return update_one(s,
                      "UPDATE snapshots SET verify_error = ?4, verified_at = NULL, "
                      "checked_at = ?2 WHERE id = ?1",
                      id, qb_now_ms() / 1000, error, err, errlen);
}

enum qb_err store_snapshot_set_backup_set(struct store *s, int64_t id, const char *json, char *err,
                                          size_t errlen)
{
    return update_one(s, "UPDATE snapshots SET backup_set = ?4 WHERE id = ?1", id, 0, json, err,
                      errlen);
}

enum qb_err store_snapshot_totals(struct store *s, int64_t *count, int64_t *bytes, char *err,
                                  size_t errlen)
{
    struct store_stmt q;
    enum qb_err rc = store_stmt_open(
        s, "SELECT coalesce(sum(count), 0), coalesce(sum(bytes), 0) FROM snapshot_totals", &q, err,
        errlen);
    if (rc)
        return rc;
    rc = store_step_int(q.st, count, NULL, "catalogue totals", err, errlen);
    if (!rc)
        *bytes = db_column_int64(q.st, 1);
    store_stmt_close(&q);
    return rc;
}

enum qb_err store_snapshot_key_exists(struct store *s, int64_t destination_id, const char *key,
                                      bool *exists, char *err, size_t errlen)
{
    int64_t one = 0;
    *exists = false;
    return store_queryf_int(
        s, "SELECT 1 FROM snapshots WHERE destination_id = ?1 AND storage_key = ?2", &one, exists,
        "looking up a stored key", err, errlen, "it", destination_id, key);
}

enum qb_err store_snapshot_qdrant_name_exists(struct store *s, const char *instance,
                                              const char *qdrant_name, bool *exists, char *err,
                                              size_t errlen)
{
    int64_t one = 0;
    *exists = false;
    return store_queryf_int(
        s, "SELECT 1 FROM snapshots WHERE instance_name = ?1 AND qdrant_name = ?2", &one, exists,
        "looking up a Qdrant snapshot name", err, errlen, "tt", instance, qdrant_name);
}

enum qb_err store_snapshot_count_in_destination(struct store *s, int64_t destination_id, int64_t *n,
                                                char *err, size_t errlen)
{
    *n = 0;
    return store_queryf_int(s, "SELECT count(*) FROM snapshots WHERE destination_id = ?1", n, NULL,
                            "counting snapshots", err, errlen, "i", destination_id);
}

enum qb_err store_snapshot_list_reverify(struct store *s, int64_t plan_id, int limit,
                                         struct store_snapshot ***out, size_t *n, char *err,
                                         size_t errlen)
{
    void *list;
    /* snapshots_plan_checked (0015) gives this order without a sort. */
    enum qb_err rc = store_listf(s,
                                 SNAP_SELECT "WHERE s.plan_id = ?1 AND s.deleting_at IS NULL "
                                             "ORDER BY coalesce(s.checked_at, 0), s.id LIMIT ?2",
                                 &snapshot_rows, NULL, &list, n, "listing snapshots to re-verify",
                                 err, errlen, "ii", plan_id, (int64_t)limit);
    *out = list;
    return rc;
}

enum qb_err store_snapshot_set_raw(struct store *s, int64_t id, int64_t raw_size,
                                   const char *raw_sha256, char *err, size_t errlen)
{
    return store_execf(s,
                       "UPDATE snapshots SET raw_size = ?2, raw_sha256 = ?3 "
                       "WHERE id = ?1 AND raw_size IS NULL",
                       NULL, "recording the archive's size", err, errlen, "iit", id, raw_size,
                       raw_sha256);
}
