/* SPDX-License-Identifier: Apache-2.0
 *
 * store_plans.c -- CRUD on plans, with instance and destination resolved by
 * name inside the same statement.
 */
#include "store/store_plans.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_SELECT                                                                                \
    "SELECT p.id, p.name, i.name, d.name, p.instance_id, p.destination_id, p.scope, "              \
    "p.collections, p.schedule, p.timezone, p.key_prefix, p.retention, p.verify, "                 \
    "p.alert_after_s, p.enabled, p.labels, p.last_fire_at, p.skipped_fires, p.last_skipped_at, "   \
    "p.created_at, p.updated_at, p.requeue_interrupted, p.shard_method FROM plans p JOIN "         \
    "instances i ON i.id = "                                                                       \
    "p.instance_id "                                                                               \
    "JOIN destinations d ON d.id = p.destination_id "

void store_plan_free(struct store_plan *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->instance);
    free(p->destination);
    free(p->scope);
    free(p->collections);
    free(p->schedule);
    free(p->timezone);
    free(p->key_prefix);
    free(p->retention);
    free(p->labels);
    free(p->shard_method);
    free(p);
}

void store_plan_list_free(struct store_plan **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_plan_free(list[i]);
    free(list);
}

static struct store_plan *row_to_plan(sqlite3_stmt *st)
{
    struct store_plan *p = xcalloc(1, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->name = store_column_text(st, 1);
    p->instance = store_column_text(st, 2);
    p->destination = store_column_text(st, 3);
    p->instance_id = sqlite3_column_int64(st, 4);
    p->destination_id = sqlite3_column_int64(st, 5);
    p->scope = store_column_text(st, 6);
    p->collections = store_column_text(st, 7);
    p->schedule = store_column_text(st, 8);
    p->timezone = store_column_text(st, 9);
    p->key_prefix = store_column_text(st, 10);
    p->retention = store_column_text(st, 11);
    p->verify = sqlite3_column_int(st, 12) != 0;
    p->alert_after_s = sqlite3_column_int64(st, 13);
    p->enabled = sqlite3_column_int(st, 14) != 0;
    p->labels = store_column_text(st, 15);
    p->last_fire_at = sqlite3_column_int64(st, 16);
    p->skipped_fires = sqlite3_column_int64(st, 17);
    p->last_skipped_at = sqlite3_column_int64(st, 18);
    p->created_at = sqlite3_column_int64(st, 19);
    p->updated_at = sqlite3_column_int64(st, 20);
    p->requeue_interrupted = sqlite3_column_int(st, 21) != 0;
    p->shard_method = store_column_text(st, 22);
    if (!p->shard_method)
        p->shard_method = xstrdup("snapshot");
    return p;
}

/* Resolves instance and destination names to ids on db. */
static enum qb_err resolve(sqlite3 *db, const struct store_plan *p, int64_t *inst, int64_t *dest,
                           char *err, size_t errlen)
{
    static const struct {
        const char *sql;
        const char *what;
    } q[2] = {{"SELECT id FROM instances WHERE name = ?1", "instance"},
              {"SELECT id FROM destinations WHERE name = ?1", "destination"}};
    const char *names[2] = {p->instance, p->destination};
    int64_t *ids[2] = {inst, dest};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = NULL;
        enum qb_err rc = store_prepare(db, q[i].sql, &st, err, errlen);
        if (rc)
            return rc;
        store_bind_text(st, 1, names[i]);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            *ids[i] = sqlite3_column_int64(st, 0);
        else if (src == SQLITE_DONE)
            rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "%s: \"%s\" does not exist", q[i].what,
                          names[i]);
        else
            rc = store_sqlite_err(db, src, "resolving plan references", err, errlen);
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    return QB_OK;
}

static enum qb_err write_plan(struct store *s, const struct store_plan *p, bool insert, char *err,
                              size_t errlen)
{
    static const char insert_sql[] =
        "INSERT INTO plans (name, instance_id, destination_id, scope, collections, schedule, "
        "timezone, key_prefix, retention, verify, alert_after_s, enabled, labels, created_at, "
        "updated_at, requeue_interrupted, shard_method) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
        "?12,?13,?14,?14,?15,?16)";
    static const char update_sql[] =
        "UPDATE plans SET instance_id = ?2, destination_id = ?3, scope = ?4, collections = ?5, "
        "schedule = ?6, timezone = ?7, key_prefix = ?8, retention = ?9, verify = ?10, "
        "alert_after_s = ?11, enabled = ?12, labels = ?13, updated_at = ?14, "
        "requeue_interrupted = ?15, shard_method = ?16, "
        /* a new schedule starts counting from now, not from old slots */
        "last_fire_at = CASE WHEN schedule IS ?6 THEN last_fire_at ELSE ?14 END "
        "WHERE name = ?1";
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    int64_t inst = 0, dest = 0;
    enum qb_err rc = resolve(db, p, &inst, &dest, err, errlen);
    if (!rc)
        rc = store_prepare(db, insert ? insert_sql : update_sql, &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, p->name);
    sqlite3_bind_int64(st, 2, inst);
    sqlite3_bind_int64(st, 3, dest);
    store_bind_text(st, 4, p->scope);
    store_bind_text(st, 5, p->collections ? p->collections : "[]");
    store_bind_text(st, 6, p->schedule);
    store_bind_text(st, 7, p->timezone ? p->timezone : "UTC");
    store_bind_text(st, 8, p->key_prefix ? p->key_prefix : "");
    store_bind_text(st, 9, p->retention ? p->retention : "{}");
    sqlite3_bind_int(st, 10, p->verify);
    if (p->alert_after_s > 0)
        sqlite3_bind_int64(st, 11, p->alert_after_s);
    else
        sqlite3_bind_null(st, 11);
    sqlite3_bind_int(st, 12, p->enabled);
    store_bind_text(st, 13, p->labels ? p->labels : "{}");
    sqlite3_bind_int64(st, 14, qb_now_ms() / 1000);
    sqlite3_bind_int(st, 15, p->requeue_interrupted);
    store_bind_text(st, 16, p->shard_method ? p->shard_method : "snapshot");
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = store_sqlite_err(db, src, insert ? "inserting plan" : "updating plan", err, errlen);
        if (rc == QB_ERR_CONFLICT)
            qb_failf(rc, err, errlen, "plan \"%s\" already exists", p->name);
    } else if (!insert && sqlite3_changes(db) == 0) {
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "plan \"%s\" does not exist", p->name);
    }
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_plan_insert(struct store *s, const struct store_plan *p, char *err, size_t errlen)
{
    return write_plan(s, p, true, err, errlen);
}

enum qb_err store_plan_update(struct store *s, const struct store_plan *p, char *err, size_t errlen)
{
    return write_plan(s, p, false, err, errlen);
}

static enum qb_err get_one(struct store *s, const char *where, const char *name, int64_t id,
                           struct store_plan **out, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    char *sql = xasprintf(PLAN_SELECT "WHERE %s", where);
    enum qb_err rc = store_prepare(db, sql, &st, err, errlen);
    if (rc)
        goto out;
    if (name)
        store_bind_text(st, 1, name);
    else
        sqlite3_bind_int64(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = row_to_plan(st);
    else if (src == SQLITE_DONE && name)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "plan \"%s\" does not exist", name);
    else if (src == SQLITE_DONE)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "plan %lld does not exist", (long long)id);
    else
        rc = store_sqlite_err(db, src, "reading plan", err, errlen);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(sql);
    return rc;
}

enum qb_err store_plan_get(struct store *s, const char *name, struct store_plan **out, char *err,
                           size_t errlen)
{
    return get_one(s, "p.name = ?1", name, 0, out, err, errlen);
}

enum qb_err store_plan_get_by_id(struct store *s, int64_t id, struct store_plan **out, char *err,
                                 size_t errlen)
{
    return get_one(s, "p.id = ?1", NULL, id, out, err, errlen);
}

enum qb_err store_plan_list(struct store *s, struct store_plan ***out, size_t *n, char *err,
                            size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    struct store_plan **list = NULL;
    size_t count = 0;
    enum qb_err rc = store_prepare(db, PLAN_SELECT "ORDER BY p.name", &st, err, errlen);
    if (rc)
        goto out;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        list = xrealloc(list, (count + 1) * sizeof *list);
        list[count++] = row_to_plan(st);
    }
    if (src != SQLITE_DONE) {
        rc = store_sqlite_err(db, src, "listing plans", err, errlen);
        store_plan_list_free(list, count);
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

enum qb_err store_plan_delete(struct store *s, const char *name, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    /* One statement: a run queued between a check and the delete would
     * lose its plan half-way. */
    enum qb_err rc = store_prepare(db,
                                   "DELETE FROM plans WHERE name = ?1 AND NOT EXISTS (SELECT 1 "
                                   "FROM runs r WHERE r.plan_id = plans.id AND r.state IN "
                                   "('queued', 'running'))",
                                   &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, name);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = store_sqlite_err(db, src, "deleting plan", err, errlen);
    } else if (sqlite3_changes(db) == 0) {
        sqlite3_finalize(st);
        st = NULL;
        rc = store_prepare(db, "SELECT 1 FROM plans WHERE name = ?1", &st, err, errlen);
        if (rc)
            goto out;
        store_bind_text(st, 1, name);
        rc = sqlite3_step(st) == SQLITE_ROW
                 ? qb_failf(QB_ERR_CONFLICT, err, errlen,
                            "plan \"%s\" has a queued or running run; cancel it first", name)
                 : qb_failf(QB_ERR_NOT_FOUND, err, errlen, "plan \"%s\" does not exist", name);
    }
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_plan_mark_fire(struct store *s, int64_t plan_id, int64_t fire_at, bool skipped,
                                 char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(
        db,
        "UPDATE plans SET last_fire_at = max(coalesce(last_fire_at, 0), ?2), "
        "skipped_fires = skipped_fires + ?3, "
        "last_skipped_at = CASE WHEN ?3 THEN ?2 ELSE last_skipped_at END WHERE id = ?1",
        &st, err, errlen);
    if (rc)
        goto out;
    sqlite3_bind_int64(st, 1, plan_id);
    sqlite3_bind_int64(st, 2, fire_at);
    sqlite3_bind_int(st, 3, skipped ? 1 : 0);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, "recording schedule", err, errlen);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}
