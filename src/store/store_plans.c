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
    "p.created_at, p.updated_at, p.requeue_interrupted, p.shard_method, p.verify_mode, "           \
    "p.exclude, p.reverify, p.last_reverify_at, p.max_bytes_per_second, "                          \
    "i.max_read_bytes_per_second, d.max_write_bytes_per_second, p.compression, "                   \
    "p.compression_level, p.encryption, d.encryption, p.copies FROM plans p JOIN "                 \
    "instances i ON i.id = "                                                                       \
    "p.instance_id "                                                                               \
    "JOIN destinations d ON d.id = p.destination_id "

/* The columns of PLAN_SELECT, in order. */
#define STORE_ROW_T struct store_plan
static const struct store_col plan_cols[] = {STORE_COL(id),
                                             STORE_COL(name),
                                             STORE_COL(instance),
                                             STORE_COL(destination),
                                             STORE_COL(instance_id),
                                             STORE_COL(destination_id),
                                             STORE_COL(scope),
                                             STORE_COL(collections),
                                             STORE_COL(schedule),
                                             STORE_COL(timezone),
                                             STORE_COL(key_prefix),
                                             STORE_COL(retention),
                                             STORE_COL(verify),
                                             STORE_COL(alert_after_s),
                                             STORE_COL(enabled),
                                             STORE_COL(labels),
                                             STORE_COL(last_fire_at),
                                             STORE_COL(skipped_fires),
                                             STORE_COL(last_skipped_at),
                                             STORE_COL(created_at),
                                             STORE_COL(updated_at),
                                             STORE_COL(requeue_interrupted),
                                             STORE_COL_TEXT_OR(shard_method, "snapshot"),
                                             STORE_COL_TEXT_OR(verify_mode, "full"),
                                             STORE_COL_TEXT_OR(exclude, "[]"),
                                             STORE_COL(reverify),
                                             STORE_COL(last_reverify_at),
                                             STORE_COL(max_bytes_per_second),
                                             STORE_COL(instance_max_read),
                                             STORE_COL(destination_max_write),
                                             STORE_COL_TEXT_OR(compression, "none"),
                                             STORE_COL(compression_level),
                                             STORE_COL(encryption),
                                             STORE_COL(destination_encryption),
                                             STORE_COL_TEXT_OR(copies, "[]")};
#undef STORE_ROW_T
STORE_TABLE_DEFINE(struct store_plan, plan_cols, plan_rows, store_plan_free, store_plan_list_free)

void store_plan_clear(struct store_plan *p)
{
    store_table_clear(&plan_rows.table, p);
}

/* Resolves instance and destination names to ids on db. */
static enum qb_err resolve(struct db_conn *db, const struct store_plan *p, int64_t *inst,
                           int64_t *dest, char *err, size_t errlen)
{
    static const struct {
        const char *sql;
        const char *what;
    } q[2] = {{"SELECT id FROM instances WHERE name = ?1", "instance"},
              {"SELECT id FROM destinations WHERE name = ?1", "destination"}};
    const char *names[2] = {p->instance, p->destination};
    int64_t *ids[2] = {inst, dest};
    for (int i = 0; i < 2; i++) {
        struct db_stmt *st = NULL;
        bool found = false;
        enum qb_err rc = db_prepare(db, q[i].sql, &st, err, errlen);
        if (rc)
            return rc;
        db_bind_text(st, 1, names[i]);
        rc = store_step_int(st, ids[i], &found, "resolving plan references", err, errlen);
        db_finalize(st);
        if (!rc && !found)
            rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "%s: \"%s\" does not exist", q[i].what,
                          names[i]);
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
        "updated_at, requeue_interrupted, shard_method, verify_mode, exclude, reverify, "
        "last_reverify_at, max_bytes_per_second, compression, compression_level, encryption, "
        "copies) "
        "VALUES "
        "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?14,?15,?16,?17,?18,?19,?14,?20,?21,?22,"
        "?23,?24)";
    static const char update_sql[] =
        "UPDATE plans SET instance_id = ?2, destination_id = ?3, scope = ?4, collections = ?5, "
        "schedule = ?6, timezone = ?7, key_prefix = ?8, retention = ?9, verify = ?10, "
        "alert_after_s = ?11, enabled = ?12, labels = ?13, updated_at = ?14, "
        "requeue_interrupted = ?15, shard_method = ?16, verify_mode = ?17, exclude = ?18, "
        "reverify = ?19, max_bytes_per_second = ?20, compression = ?21, compression_level = ?22, "
        "encryption = ?23, copies = ?24, "
        /* a new or changed reverify starts counting from now */
        "last_reverify_at = CASE WHEN reverify IS NOT DISTINCT FROM ?19 THEN last_reverify_at "
        "ELSE ?14 END, "
        /* a new schedule starts counting from now, not from old slots */
        "last_fire_at = CASE WHEN schedule IS NOT DISTINCT FROM ?6 THEN last_fire_at ELSE ?14 END "
        "WHERE name = ?1";
    struct db_conn *db = store_acquire(s);
    struct db_stmt *st = NULL;
    int64_t inst = 0, dest = 0;
    enum qb_err rc = resolve(db, p, &inst, &dest, err, errlen);
    if (!rc)
        rc = db_prepare(db, insert ? insert_sql : update_sql, &st, err, errlen);
    if (rc)
        goto out;
    db_bind_text(st, 1, p->name);
    db_bind_int64(st, 2, inst);
    db_bind_int64(st, 3, dest);
    db_bind_text(st, 4, p->scope);
    db_bind_text(st, 5, p->collections ? p->collections : "[]");
    db_bind_text(st, 6, p->schedule);
    db_bind_text(st, 7, p->timezone ? p->timezone : "UTC");
    db_bind_text(st, 8, p->key_prefix ? p->key_prefix : "");
    db_bind_text(st, 9, p->retention ? p->retention : "{}");
    db_bind_int64(st, 10, p->verify);
    store_bind_int_or_null(st, 11, p->alert_after_s > 0 ? p->alert_after_s : 0, 0);
    db_bind_int64(st, 12, p->enabled);
    db_bind_text(st, 13, p->labels ? p->labels : "{}");
    db_bind_int64(st, 14, qb_now_ms() / 1000);
    db_bind_int64(st, 15, p->requeue_interrupted);
    db_bind_text(st, 16, p->shard_method ? p->shard_method : "snapshot");
    db_bind_text(st, 17, p->verify_mode ? p->verify_mode : "full");
    db_bind_text(st, 18, p->exclude ? p->exclude : "[]");
    db_bind_text(st, 19, p->reverify);
    store_bind_int_or_null(st, 20, p->max_bytes_per_second, 0);
    db_bind_text(st, 21, p->compression ? p->compression : "none");
    db_bind_int64(st, 22, p->compression_level > 0 ? p->compression_level : 3);
    db_bind_text(st, 23, p->encryption);
    db_bind_text(st, 24, p->copies ? p->copies : "[]");
    int changes = 0;
    rc = store_step_done(st, &changes, insert ? "inserting plan" : "updating plan", err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen, "plan \"%s\" already exists", p->name);
    else if (!rc && !insert && changes == 0)
        rc = store_not_found("plan", p->name, 0, err, errlen);
out:
    db_finalize(st);
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

enum qb_err store_plan_get(struct store *s, const char *name, struct store_plan **out, char *err,
                           size_t errlen)
{
    return store_get_by_key(s, PLAN_SELECT "WHERE p.name = ?1", name, 0, &plan_rows, NULL, out,
                            "plan", err, errlen);
}

enum qb_err store_plan_get_by_id(struct store *s, int64_t id, struct store_plan **out, char *err,
                                 size_t errlen)
{
    return store_get_by_key(s, PLAN_SELECT "WHERE p.id = ?1", NULL, id, &plan_rows, NULL, out,
                            "plan", err, errlen);
}

enum qb_err store_plan_list(struct store *s, struct store_plan ***out, size_t *n, char *err,
                            size_t errlen)
{
    void *list;
    enum qb_err rc = store_list(s, PLAN_SELECT "ORDER BY p.name", &plan_rows, NULL, &list, n,
                                "listing plans", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_plan_delete(struct store *s, const char *name, char *err, size_t errlen)
{
    int changes = 0;
    bool exists = false;
    int64_t one = 0;
    /* One statement: a run queued between a check and the delete would
     * lose its plan half-way. */
    enum qb_err rc = store_write_key(s,
                                     "DELETE FROM plans WHERE name = ?1 AND NOT EXISTS (SELECT 1 "
                                     "FROM runs r WHERE r.plan_id = plans.id AND r.state IN "
                                     "('queued', 'running'))",
                                     name, 0, &changes, "deleting plan", err, errlen);
    if (rc || changes > 0)
        return rc;
    rc = store_queryf_int(s, "SELECT 1 FROM plans WHERE name = ?1", &one, &exists, "deleting plan",
                          err, errlen, "t", name);
    if (!rc && exists)
        rc = qb_failf(QB_ERR_CONFLICT, err, errlen,
                      "plan \"%s\" has a queued or running run; cancel it first", name);
    else if (!rc)
        rc = store_not_found("plan", name, 0, err, errlen);
    return rc;
}

enum qb_err store_plan_mark_fire(struct store *s, int64_t plan_id, int64_t fire_at, bool skipped,
                                 char *err, size_t errlen)
{
    return store_write(
        s,
        "UPDATE plans SET last_fire_at = CASE WHEN coalesce(last_fire_at, 0) > ?2 "
        "THEN coalesce(last_fire_at, 0) ELSE ?2 END, skipped_fires = skipped_fires + ?3, "
        "last_skipped_at = CASE WHEN ?3 <> 0 THEN ?2 ELSE last_skipped_at END WHERE id = ?1",
        plan_id, fire_at, skipped ? 1 : 0, NULL, NULL, "recording schedule", err, errlen);
}

enum qb_err store_plan_mark_reverify(struct store *s, int64_t plan_id, int64_t slot, char *err,
                                     size_t errlen)
{
    return store_write(s,
                       "UPDATE plans SET last_reverify_at = CASE WHEN "
                       "coalesce(last_reverify_at, 0) > ?2 THEN coalesce(last_reverify_at, 0) "
                       "ELSE ?2 END WHERE id = ?1",
                       plan_id, slot, 0, NULL, NULL, "recording re-verification", err, errlen);
}
