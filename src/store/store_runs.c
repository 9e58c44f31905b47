/* SPDX-License-Identifier: Apache-2.0
 *
 * store_runs.c -- the run queue: create (with idempotency and schedule-slot
 * deduplication), claim, progress, finish, cancel, list.
 */
#include "store/store_runs.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_COLUMNS                                                                                \
    "id, kind, plan_id, plan_name, trigger, triggered_by, idempotency_key, state, phase, "         \
    "cancel_requested, bytes_done, bytes_total, request, results, error, queued_at, started_at, "  \
    "finished_at, scheduled_for, inflight, collections"

/* The columns of RUN_COLUMNS, in order. */
#define STORE_ROW_T struct store_run
static const struct store_col run_cols[] = {STORE_COL(id),
                                            STORE_COL(kind),
                                            STORE_COL(plan_id),
                                            STORE_COL(plan_name),
                                            STORE_COL(trigger),
                                            STORE_COL(triggered_by),
                                            STORE_COL(idempotency_key),
                                            STORE_COL(state),
                                            STORE_COL(phase),
                                            STORE_COL(cancel_requested),
                                            STORE_COL(bytes_done),
                                            STORE_COL_INT_OR(bytes_total, -1),
                                            STORE_COL(request),
                                            STORE_COL(results),
                                            STORE_COL(error),
                                            STORE_COL(queued_at),
                                            STORE_COL(started_at),
                                            STORE_COL(finished_at),
                                            STORE_COL(scheduled_for),
                                            STORE_COL(inflight),
                                            STORE_COL(collections)};
#undef STORE_ROW_T
STORE_TABLE_DEFINE(struct store_run, run_cols, run_rows, store_run_free, store_run_list_free)

/* The lookups by idempotency key must repeat the expression of the index
 * runs_idempotency to search it by all three columns, and the twins spell
 * it differently: ifnull (SQLite has no coalesce there; a migration would
 * have to rebuild the index) and coalesce (PostgreSQL has no ifnull). */
static const char *const idempotency_sql[] = {
    [DB_SQLITE] = "SELECT id, queued_at FROM runs WHERE kind = ?3 AND ifnull(plan_id, 0) = ?1 "
                  "AND idempotency_key = ?4 AND queued_at > ?5",
    [DB_POSTGRES] = "SELECT id, queued_at FROM runs WHERE kind = ?3 AND coalesce(plan_id, 0) = ?1 "
                    "AND idempotency_key = ?4 AND queued_at > ?5",
};

/* Looks up a run id by an existing key or slot; *id is 0 when none. */
static enum qb_err find_existing(struct db_conn *db, const struct store_run_new *n, int64_t now,
                                 int64_t *id, char *err, size_t errlen)
{
    struct db_stmt *st = NULL;
    bool row = false;
    *id = 0;
    const char *sql = n->scheduled_for
                          ? "SELECT id, 0 FROM runs WHERE plan_id = ?1 AND scheduled_for = ?2"
                          : idempotency_sql[db_dialect(db)];
    enum qb_err rc = db_prepare(db, sql, &st, err, errlen);
    if (rc)
        return rc;
    /* ?5: every age (an expired key is released below). */
    store_bindf(st, "iitti", n->plan_id, n->scheduled_for, n->kind, n->idempotency_key, INT64_MIN);
    rc = db_step(st, &row, "checking idempotency", err, errlen);
    if (rc || !row) {
        db_finalize(st);
        return rc;
    }
    int64_t found = db_column_int64(st, 0);
    int64_t queued = db_column_int64(st, 1);
    bool expired = !n->scheduled_for && now - queued >= n->idempotency_window_s;
    db_finalize(st);
    if (!expired) {
        *id = found;
        return QB_OK;
    }
    /* An expired key is released so that it may start a new run. */
    rc = db_prepare(db, "UPDATE runs SET idempotency_key = NULL WHERE id = ?1", &st, err, errlen);
    if (rc)
        return rc;
    db_bind_int64(st, 1, found);
    rc = store_step_done(st, NULL, "releasing idempotency key", err, errlen);
    db_finalize(st);
    return rc;
}

/* After a conflict queueing a run: whether a foreign key refused it (its
 * plan or instance is gone) rather than one of the unique indexes, which
 * find_existing has already looked in under the lock. */
static bool refused_by_reference(struct db_conn *c)
{
    const char *name = db_error_constraint(c);
    return strcmp(name, "runs_idempotency") != 0 && strcmp(name, "runs_plan_slot") != 0;
}

enum qb_err store_run_create(struct store *s, const struct store_run_new *n, int64_t *id,
                             bool *existing, char *err, size_t errlen)
{
    struct db_conn *db = store_acquire(s);
    struct db_stmt *st = NULL;
    int64_t now = qb_now_ms() / 1000;
    *existing = false;
    *id = 0; /* "an existing run was found" must not come from the caller */
    enum qb_err rc = db_begin(db, DB_TX_WRITE, err, errlen);
    if (!rc) /* find, then insert: no other creator in between */
        rc = db_lock(db, STORE_LOCK_RUN_CREATE, err, errlen);
    if (!rc && (n->idempotency_key || n->scheduled_for))
        rc = find_existing(db, n, now, id, err, errlen);
    if (rc)
        goto out;
    if (*id) {
        *existing = true;
        rc = db_commit(db, err, errlen);
        goto out;
    }
    rc = db_prepare(db,
                    "INSERT INTO runs (kind, plan_id, plan_name, trigger, triggered_by, "
                    "idempotency_key, request, queued_at, scheduled_for, instance_id) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
                    &st, err, errlen);
    if (rc)
        goto out;
    store_bindf(st, "tztttttizz", n->kind, n->plan_id, n->plan_name, n->trigger, n->triggered_by,
                n->idempotency_key, n->request ? n->request : "{}", now, n->scheduled_for,
                n->instance_id);
    rc = store_step_int(st, id, NULL, "queueing run", err, errlen);
    if (rc == QB_ERR_CONFLICT && refused_by_reference(db))
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen,
                      "its plan was deleted meanwhile; nothing was queued");
    /* Done with before the COMMIT: SQLite does not commit while a
     * statement (here, its RETURNING) is still running. */
    db_finalize(st);
    st = NULL;
    if (!rc)
        rc = db_commit(db, err, errlen);
out:
    db_finalize(st);
    store_release(s, db); /* rolls back if still open */
    return rc;
}

/* Runs one statement that returns at most one run row (*out NULL when
 * none). */
static enum qb_err one_run(struct store *s, const char *sql, int64_t a, int64_t b,
                           struct store_run **out, char *err, size_t errlen)
{
    struct store_stmt q;
    *out = NULL;
    enum qb_err rc = store_stmt_openf(s, sql, &q, err, errlen, "ii", a, b);
    if (rc)
        return rc;
    return store_stmt_one(&q, &run_rows, NULL, out, NULL, "reading run", err, errlen);
}

enum qb_err store_run_get(struct store *s, int64_t id, struct store_run **out, char *err,
                          size_t errlen)
{
    return store_get_by_key(s, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1", NULL, id,
                            &run_rows, NULL, out, "run", err, errlen);
}

enum qb_err store_run_claim(struct store *s, int worker, const char *owner, struct store_run **out,
                            char *err, size_t errlen)
{
    struct db_conn *db = store_acquire(s);
    struct db_stmt *st = NULL;
    bool row = false;
    *out = NULL;
    /* SQLite runs the statement alone (one writer).  On PostgreSQL two
     * claimers would both count an instance's running runs before either
     * took one (READ COMMITTED), and both pick the same oldest run: the
     * lock makes claims take turns, and the outer state test makes a run
     * taken meanwhile match nothing rather than be taken twice. */
    enum qb_err rc = db_begin(db, DB_TX_WRITE, err, errlen);
    if (!rc)
        rc = db_lock(db, STORE_LOCK_RUN_CLAIM, err, errlen);
    if (!rc)
        rc = db_prepare(db,
                        "UPDATE runs SET state = 'running', started_at = ?2, worker = ?1, "
                        "owner = ?3, heartbeat_at = ?2 "
                        "WHERE state = 'queued' AND id = (SELECT r.id FROM runs r "
                        "  LEFT JOIN instances i ON i.id = r.instance_id "
                        "  WHERE r.state = 'queued' AND (i.id IS NULL OR "
                        "    (SELECT count(*) FROM runs r2 WHERE r2.state = 'running' "
                        "     AND r2.instance_id = i.id) < i.max_concurrent) "
                        "  ORDER BY r.queued_at, r.id LIMIT 1) "
                        "RETURNING " RUN_COLUMNS,
                        &st, err, errlen);
    if (rc)
        goto out;
    db_bind_int64(st, 1, worker);
    db_bind_int64(st, 2, qb_now_ms() / 1000);
    db_bind_text(st, 3, owner);
    rc = db_step(st, &row, "claiming a run", err, errlen);
    if (!rc && row) {
        void *elem = NULL;
        rc = run_rows.read(&run_rows, NULL, st, &elem, err, errlen);
        *out = elem;
    }
    /* Finished before the COMMIT (SQLite does not commit under a running
     * RETURNING). */
    db_finalize(st);
    st = NULL;
    if (!rc)
        rc = db_commit(db, err, errlen);
    if (rc) {
        store_run_free(*out);
        *out = NULL;
    }
out:
    db_finalize(st);
    store_release(s, db); /* rolls back if still open */
    return rc;
}

enum qb_err store_run_progress(struct store *s, int64_t id, const char *phase, int64_t bytes_done,
                               int64_t bytes_total, char *err, size_t errlen)
{
    return store_write(s,
                       "UPDATE runs SET phase = coalesce(?4, phase), bytes_done = ?2, "
                       "bytes_total = CASE WHEN ?3 < 0 THEN bytes_total ELSE ?3 END "
                       "WHERE id = ?1 AND state = 'running'",
                       id, bytes_done, bytes_total, phase, NULL, "updating run", err, errlen);
}

enum qb_err store_run_set_collections(struct store *s, int64_t id, const char *collections,
                                      char *err, size_t errlen)
{
    return store_write(s, "UPDATE runs SET collections = ?4 WHERE id = ?1", id, 0, 0, collections,
                       NULL, "recording the run's collections", err, errlen);
}

enum qb_err store_run_set_inflight(struct store *s, int64_t id, const char *inflight, char *err,
                                   size_t errlen)
{
    return store_write(s, "UPDATE runs SET inflight = ?4 WHERE id = ?1", id, 0, 0, inflight, NULL,
                       "updating run", err, errlen);
}

enum qb_err store_run_finish(struct store *s, int64_t id, const char *state, const char *results,
                             const char *error, char *err, size_t errlen)
{
    return store_execf(s,
                       "UPDATE runs SET state = ?2, results = coalesce(?3, results), error = ?4, "
                       "finished_at = ?5, phase = NULL, inflight = NULL "
                       "WHERE id = ?1 AND state IN ('queued', 'running')",
                       NULL, "updating run", err, errlen, "ittti", id, state, results, error,
                       qb_now_ms() / 1000);
}

enum qb_err store_run_cancel(struct store *s, int64_t id, char **state, char *err, size_t errlen)
{
    int changes = 0;
    *state = NULL;
    enum qb_err rc =
        store_write(s,
                    "UPDATE runs SET cancel_requested = 1, "
                    "state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state "
                    "END, finished_at = CASE WHEN state = 'queued' THEN ?2 ELSE "
                    "finished_at END, error = CASE WHEN state = 'queued' THEN "
                    "'cancelled before it started' ELSE error END "
                    "WHERE id = ?1 AND state IN ('queued', 'running')",
                    id, qb_now_ms() / 1000, 0, NULL, &changes, "updating run", err, errlen);
    if (rc)
        return rc;
    struct store_run *r = NULL;
    rc = store_run_get(s, id, &r, err, errlen);
    if (rc)
        return rc;
    *state = xstrdup(r->state);
    if (changes == 0)
        rc = qb_failf(QB_ERR_CONFLICT, err, errlen, "run %lld already ended (%s)", (long long)id,
                      r->state);
    store_run_free(r);
    return rc;
}

bool store_run_cancel_requested(struct store *s, int64_t id)
{
    char err[QB_ERRBUF_SIZE];
    struct store_run *r = NULL;
    /* On a catalogue error keep going: cancellation is best effort, and
     * the run's own writes will surface a broken catalogue. */
    if (one_run(s, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1", id, 0, &r, err, sizeof err))
        return false;
    bool requested = r && (r->cancel_requested || strcmp(r->state, "running") != 0);
    store_run_free(r);
    return requested;
}

enum qb_err store_run_plan_active(struct store *s, int64_t plan_id, bool *active, char *err,
                                  size_t errlen)
{
    struct store_run *r = NULL;
    enum qb_err rc = one_run(s,
                             "SELECT " RUN_COLUMNS " FROM runs WHERE plan_id = ?1 AND state IN "
                             "('queued', 'running') LIMIT 1",
                             plan_id, 0, &r, err, errlen);
    *active = r != NULL;
    store_run_free(r);
    return rc;
}

static enum qb_err list_runs(struct store *s, const char *sql, const struct store_run_filter *f,
                             struct store_run ***out, size_t *n, char *err, size_t errlen)
{
    void *list = NULL;
    enum qb_err rc =
        f ? store_listf(s, sql, &run_rows, NULL, &list, n, "listing runs", err, errlen, "tttiiiii",
                        f->plan, f->state, f->kind, f->since, f->until, f->before_id,
                        (int64_t)(f->limit > 0 ? f->limit : 50), f->plan_id)
          : store_list(s, sql, &run_rows, NULL, &list, n, "listing runs", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_run_list(struct store *s, const struct store_run_filter *f,
                           struct store_run ***out, size_t *n, char *err, size_t errlen)
{
    static const struct store_run_filter none = {0};
    struct store_where w = {0};
    char sql[sizeof "SELECT " RUN_COLUMNS " FROM runs" + STORE_WHERE_MAX + 64];
    if (!f)
        f = &none;
    /* Only the filters given become terms (see struct store_where): the
     * cursor is then a rowid range SQLite seeks to, and a plan name uses
     * runs_plan_name (0011), instead of both being tests on every row
     * from the newest down. */
    store_where_add(&w, f->plan, "plan_name = ?1");
    store_where_add(&w, f->state, "state = ?2");
    store_where_add(&w, f->kind, "kind = ?3");
    store_where_add(&w, f->since, "queued_at >= ?4");
    store_where_add(&w, f->until, "queued_at < ?5");
    store_where_add(&w, f->before_id, "id < ?6");
    store_where_add(&w, f->plan_id, "plan_id = ?8");
    snprintf(sql, sizeof sql, "SELECT " RUN_COLUMNS " FROM runs%s ORDER BY id DESC LIMIT ?7",
             w.sql);
    return list_runs(s, sql, f, out, n, err, errlen);
}

enum qb_err store_run_list_running(struct store *s, struct store_run ***out, size_t *n, char *err,
                                   size_t errlen)
{
    /* The IN term is the WHERE of the partial index runs_active, which
     * SQLite uses only when the query repeats it: without it, start-up,
     * rescan and the janitor read every run to find the few running. */
    return list_runs(s,
                     "SELECT " RUN_COLUMNS " FROM runs WHERE state = 'running' "
                     "AND state IN ('queued', 'running') ORDER BY id",
                     NULL, out, n, err, errlen);
}

enum qb_err store_run_find_idempotent(struct store *s, const char *kind, int64_t plan_id,
                                      const char *key, int64_t window_s, int64_t *id, char *err,
                                      size_t errlen)
{
    bool found;
    *id = 0;
    return store_queryf_int(s, idempotency_sql[store_dialect(s)], id, &found,
                            "checking idempotency", err, errlen, "i_tti", plan_id, kind, key,
                            qb_now_ms() / 1000 - window_s);
}

enum qb_err store_run_restore_using(struct store *s, int64_t snapshot_id, int64_t *run_id,
                                    char *err, size_t errlen)
{
    bool found;
    *run_id = 0;
    static const char *const sql[] = {
        [DB_SQLITE] = "SELECT id FROM runs WHERE kind = 'restore' "
                      "AND state IN ('queued', 'running') "
                      "AND json_extract(request, '$.snapshot_id') = ?1 "
                      "ORDER BY id LIMIT 1",
        [DB_POSTGRES] = "SELECT id FROM runs WHERE kind = 'restore' "
                        "AND state IN ('queued', 'running') "
                        "AND (request::jsonb ->> 'snapshot_id')::bigint = ?1 "
                        "ORDER BY id LIMIT 1",
    };
    return store_queryf_int(s, sql[store_dialect(s)], run_id, &found,
                            "looking for restores of a snapshot", err, errlen, "i", snapshot_id);
}
