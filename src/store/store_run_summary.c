/* SPDX-License-Identifier: Apache-2.0
 *
 * store_run_summary.c -- the run-table summaries pollers read (every
 * plan's newest runs, per plan and state totals) and the caches keyed by
 * the runs fingerprint that keep a poll from reading every run.
 */
#include "store/store_run_summary.h"
#include "util/buf.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void brief_from(struct db_stmt *st, int col, struct store_run_brief *b)
{
    memset(b, 0, sizeof *b);
    if (db_column_is_null(st, col))
        return;
    b->id = db_column_int64(st, col);
    const char *state = db_column_text(st, col + 1);
    snprintf(b->state, sizeof b->state, "%s", state ? state : "");
    b->queued_at = db_column_int64(st, col + 2);
    b->started_at = db_column_int64(st, col + 3);
    b->finished_at = db_column_int64(st, col + 4);
}

static enum qb_err read_latest(const struct store_rows *r, void *ctx, struct db_stmt *st,
                               void *elem, char *err, size_t errlen)
{
    (void)r;
    (void)ctx;
    (void)err;
    (void)errlen;
    struct store_run_latest *l = elem;
    l->plan_id = db_column_int64(st, 0);
    brief_from(st, 1, &l->last);
    brief_from(st, 6, &l->success);
    return QB_OK;
}

static const struct store_rows latest_rows = {
    sizeof(struct store_run_latest), read_latest, NULL, {0}};

/* The latest-runs query on connection db (see store_run_latest_per_plan). */
static enum qb_err latest_query(struct db_conn *db, void **out, size_t *n, char *err, size_t errlen)
{
    /* Each subquery walks runs_plan_queued (plan_id, queued_at DESC, id
     * DESC) from the plan's newest entry and stops at the first match.
     * Only the two chosen rows per plan are read past their first columns:
     * a filter on a column stored after `request`/`results` would make
     * SQLite walk those texts' overflow pages for every row it looks at
     * (that, twice per plan, was most of GET /v1/status's time). */
    static const char sql[] =
        "WITH latest AS (SELECT p.id AS plan_id, "
        "  (SELECT r.id FROM runs r WHERE r.plan_id = p.id AND r.kind = 'backup' "
        "   ORDER BY r.queued_at DESC, r.id DESC LIMIT 1) AS last_id, "
        "  (SELECT r.id FROM runs r WHERE r.plan_id = p.id AND r.kind = 'backup' "
        "   AND r.state = 'succeeded' ORDER BY r.queued_at DESC, r.id DESC LIMIT 1) AS ok_id "
        "  FROM plans p) "
        "SELECT l.plan_id, a.id, a.state, a.queued_at, a.started_at, a.finished_at, "
        "       b.id, b.state, b.queued_at, b.started_at, b.finished_at "
        "FROM latest l LEFT JOIN runs a ON a.id = l.last_id LEFT JOIN runs b ON b.id = l.ok_id "
        "ORDER BY l.plan_id";
    struct db_stmt *st = NULL;
    void *list = NULL;
    *n = 0;
    enum qb_err rc = db_prepare(db, sql, &st, err, errlen);
    if (!rc)
        rc = store_collect_rows(st, &latest_rows, NULL, &list, n, "reading the latest runs", err,
                                errlen);
    db_finalize(st);
    *out = list;
    return rc;
}

enum qb_err store_run_latest_per_plan(struct store *s, struct store_run_latest **out, size_t *n,
                                      char *err, size_t errlen)
{
    struct db_conn *db = store_acquire(s);
    void *v;
    enum qb_err rc = latest_query(db, &v, n, err, errlen);
    store_release(s, db);
    *out = v;
    return rc;
}

/* What both answers depend on (see the header); caller frees. */
static enum qb_err runs_fingerprint(struct db_conn *db, char **out, char *err, size_t errlen)
{
    static const char *const sql[] = {
        [DB_SQLITE] = "SELECT (SELECT coalesce(max(id), 0) FROM runs) || '/' || "
                      "(SELECT count(*) FROM runs WHERE plan_id IS NULL) || '/' || "
                      "coalesce((SELECT group_concat(id || state) FROM runs "
                      "          WHERE state IN ('queued', 'running')), '')",
        [DB_POSTGRES] = "SELECT (SELECT coalesce(max(id), 0) FROM runs) || '/' || "
                        "(SELECT count(*) FROM runs WHERE plan_id IS NULL) || '/' || "
                        "coalesce((SELECT string_agg(id || state, ',') FROM runs "
                        "          WHERE state IN ('queued', 'running')), '')",
    };
    struct db_stmt *st = NULL;
    bool row = false;
    *out = NULL;
    enum qb_err rc = db_prepare(db, sql[db_dialect(db)], &st, err, errlen);
    if (rc)
        return rc;
    rc = db_step(st, &row, "reading the runs fingerprint", err, errlen);
    if (!rc && row)
        *out = store_column_text(st, 0);
    else if (!rc)
        rc = qb_failf(QB_ERR_IO, err, errlen, "reading the runs fingerprint: no row");
    db_finalize(st);
    if (!rc && !*out)
        *out = xstrdup("");
    return rc;
}

/* ------------------------------------------------ the fingerprint cache */

struct runs_cache_ops {
    /* The uncached answer on db. */
    enum qb_err (*query)(struct db_conn *db, void **v, size_t *n, char *err, size_t errlen);
    /* With the lock held: when install, takes fresh as the cached answer
     * (freeing the previous one); returns a copy of the cached answer. */
    void *(*exchange)(void *self, bool install, void *fresh, size_t nfresh, size_t *n);
    const struct store_rows *rows; /* how an answer is freed */
    /* On a hit: brings a copied answer up to date, or NULL. */
    enum qb_err (*refresh)(struct db_conn *db, void *v, size_t n, char *err, size_t errlen);
};

/* *out: ops->query's answer, from the cache c (the base of the public
 * cache self, which the ops take) when the fingerprint did not change; a
 * copy either way. */
static enum qb_err runs_cached(struct store *s, struct store_runs_cache *c, void *self,
                               const struct runs_cache_ops *ops, void **out, size_t *n, char *err,
                               size_t errlen)
{
    struct db_conn *db = store_acquire(s);
    char *fp = NULL;
    void *fresh = NULL;
    size_t nfresh = 0;
    *out = NULL;
    *n = 0;
    /* One read transaction: the fingerprint describes the rows read. */
    enum qb_err rc = db_begin(db, DB_TX_READ, err, errlen);
    if (!rc)
        rc = runs_fingerprint(db, &fp, err, errlen);
    if (rc)
        goto out;
    pthread_mutex_lock(&c->lock);
    if (c->store == s && c->fingerprint && strcmp(c->fingerprint, fp) == 0) {
        c->hits++;
        *out = ops->exchange(self, false, NULL, 0, n);
        pthread_mutex_unlock(&c->lock);
        if (ops->refresh)
            rc = ops->refresh(db, *out, *n, err, errlen);
        if (rc) {
            store_rows_free(ops->rows, *out, *n);
            *out = NULL;
            *n = 0;
        }
        goto out;
    }
    c->misses++;
    pthread_mutex_unlock(&c->lock);
    /* Not under the cache lock: concurrent misses each query, the last
     * one to finish fills the cache (every one is a consistent answer). */
    rc = ops->query(db, &fresh, &nfresh, err, errlen);
    if (rc)
        goto out;
    pthread_mutex_lock(&c->lock);
    *out = ops->exchange(self, true, fresh, nfresh, n);
    free(c->fingerprint);
    c->store = s;
    c->fingerprint = fp;
    fp = NULL;
    fresh = NULL;
    pthread_mutex_unlock(&c->lock);
out:
    free(fp);
    store_rows_free(ops->rows, fresh, nfresh);
    store_release(s, db); /* ends the read transaction */
    return rc;
}

/* Empties the cache c (the base of self): installs an empty answer. */
static void runs_cache_clear(struct store_runs_cache *c, void *self,
                             const struct runs_cache_ops *ops)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    QB_FREE(c->fingerprint);
    c->store = NULL;
    void *copy = ops->exchange(self, true, NULL, 0, &n);
    pthread_mutex_unlock(&c->lock);
    store_rows_free(ops->rows, copy, n);
}

/* -------------------------------------------------------------- latest */

static struct store_run_latest *latest_copy(const struct store_run_latest *v, size_t n)
{
    struct store_run_latest *c = xmalloc((n ? n : 1) * sizeof *c);
    if (n)
        memcpy(c, v, n * sizeof *c);
    return c;
}

/* Re-reads the chosen runs' columns with one statement (primary-key
 * lookups): the cache decides which runs are the newest, never what they
 * show, so a corrected timestamp is seen at once. */
static enum qb_err latest_refresh(struct db_conn *db, void *answer, size_t n, char *err,
                                  size_t errlen)
{
    struct store_run_latest *v = answer;
    struct db_stmt *st = NULL;
    char *ids = xmalloc(2 * n * 21 + 3);
    size_t len = 0;
    ids[len++] = '[';
    for (size_t i = 0; i < 2 * n; i++) {
        const struct store_run_brief *b = i % 2 ? &v[i / 2].success : &v[i / 2].last;
        if (b->id)
            len += (size_t)sprintf(ids + len, "%s%lld", len > 1 ? "," : "", (long long)b->id);
    }
    ids[len++] = ']';
    ids[len] = '\0';
    static const char *const sql[] = {
        [DB_SQLITE] = "SELECT id, state, queued_at, started_at, finished_at "
                      "FROM runs WHERE id IN (SELECT value FROM json_each(?1))",
        [DB_POSTGRES] =
            "SELECT id, state, queued_at, started_at, finished_at FROM runs "
            "WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text(?1::jsonb))",
    };
    bool row = false;
    enum qb_err rc = db_prepare(db, sql[db_dialect(db)], &st, err, errlen);
    if (rc)
        goto out;
    db_bind_text(st, 1, ids);
    for (size_t i = 0; i < 2 * n; i++) /* a run gone since is no run */
        (i % 2 ? &v[i / 2].success : &v[i / 2].last)->state[0] = '\0';
    while (!(rc = db_step(st, &row, "reading the latest runs", err, errlen)) && row) {
        int64_t id = db_column_int64(st, 0);
        for (size_t i = 0; i < 2 * n; i++) {
            struct store_run_brief *b = i % 2 ? &v[i / 2].success : &v[i / 2].last;
            if (b->id == id)
                brief_from(st, 0, b);
        }
    }
    for (size_t i = 0; !rc && i < 2 * n; i++) {
        struct store_run_brief *b = i % 2 ? &v[i / 2].success : &v[i / 2].last;
        if (!b->state[0])
            memset(b, 0, sizeof *b);
    }
out:
    db_finalize(st);
    free(ids);
    return rc;
}

static void *latest_exchange(void *self, bool install, void *fresh, size_t nfresh, size_t *n)
{
    struct store_run_latest_cache *c = self;
    if (install) {
        free(c->v);
        c->v = fresh;
        c->n = nfresh;
    }
    *n = c->n;
    return latest_copy(c->v, c->n);
}

/* Which runs are newest is cached; what they say is read again. */
static const struct runs_cache_ops latest_ops = {latest_query, latest_exchange, &latest_rows,
                                                 latest_refresh};

enum qb_err store_run_latest_cached(struct store *s, struct store_run_latest_cache *c,
                                    struct store_run_latest **out, size_t *n, char *err,
                                    size_t errlen)
{
    void *v;
    enum qb_err e = runs_cached(s, &c->base, c, &latest_ops, &v, n, err, errlen);
    *out = v;
    return e;
}

void store_run_latest_cache_clear(struct store_run_latest_cache *c)
{
    runs_cache_clear(&c->base, c, &latest_ops);
}

/* ------------------------------------------------------------- counts */

static struct store_run_count *counts_copy(const struct store_run_count *v, size_t n)
{
    struct store_run_count *c = xcalloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        c[i] = v[i];
        c[i].plan = xstrdup(v[i].plan);
    }
    return c;
}

/* Buckets: a small collection's backup takes seconds, a large one hours;
 * snapshots run from megabytes to hundreds of gigabytes. */
const double store_run_duration_bounds[STORE_RUN_NDURATION] = {10,  30,   60,   120,  300,
                                                               600, 1800, 3600, 7200, 21600};
const double store_run_bytes_bounds[STORE_RUN_NBYTES] = {
    1048576.0,    16777216.0,    134217728.0,    1073741824.0,
    8589934592.0, 68719476736.0, 549755813888.0, 4398046511104.0};

static enum qb_err read_count(const struct store_rows *r, void *ctx, struct db_stmt *st, void *elem,
                              char *err, size_t errlen)
{
    (void)r;
    (void)ctx;
    (void)err;
    (void)errlen;
    struct store_run_count *c = elem;
    c->plan = store_column_text(st, 0);
    if (!c->plan)
        c->plan = xstrdup("");
    const char *kind = db_column_text(st, 1);
    snprintf(c->kind, sizeof c->kind, "%s", kind ? kind : "");
    const char *state = db_column_text(st, 2);
    snprintf(c->state, sizeof c->state, "%s", state ? state : "");
    c->runs = db_column_int64(st, 3);
    c->bytes = db_column_int64(st, 4);
    c->timed = db_column_int64(st, 5);
    c->duration_sum = db_column_int64(st, 6);
    int col = 7;
    for (size_t i = 0; i < STORE_RUN_NDURATION; i++)
        c->duration_le[i] = db_column_int64(st, col++);
    for (size_t i = 0; i < STORE_RUN_NBYTES; i++)
        c->bytes_le[i] = db_column_int64(st, col++);
    return QB_OK;
}

static void clear_count(const struct store_rows *r, void *elem)
{
    (void)r;
    free(((struct store_run_count *)elem)->plan);
}

static const struct store_rows count_rows = {
    sizeof(struct store_run_count), read_count, clear_count, {0}};

void store_run_counts_free(struct store_run_count *v, size_t n)
{
    store_rows_free(&count_rows, v, n);
}

/* The counts query on connection db: one pass over the runs, the
 * histogram columns built from the bounds. */
static enum qb_err counts_query(struct db_conn *db, void **out, size_t *n, char *err, size_t errlen)
{
#define TERMINAL "state NOT IN ('queued', 'running')"
#define TIMED    TERMINAL " AND started_at IS NOT NULL AND finished_at IS NOT NULL"
    struct buf sql;
    buf_init(&sql, 8192);
    bool ok =
        buf_appends(&sql, "SELECT coalesce(plan_name, ''), kind, state, count(*), "
                          "sum(CASE WHEN " TERMINAL " THEN bytes_done ELSE 0 END), "
                          "sum(CASE WHEN " TIMED " THEN 1 ELSE 0 END), "
                          "sum(CASE WHEN " TIMED " THEN finished_at - started_at ELSE 0 END)");
    for (size_t i = 0; ok && i < STORE_RUN_NDURATION; i++)
        ok = buf_printf(&sql,
                        ", sum(CASE WHEN " TIMED " AND finished_at - started_at <= %.0f "
                        "THEN 1 ELSE 0 END)",
                        store_run_duration_bounds[i]);
    for (size_t i = 0; ok && i < STORE_RUN_NBYTES; i++)
        ok = buf_printf(&sql,
                        ", sum(CASE WHEN " TERMINAL " AND bytes_done <= %.0f THEN 1 ELSE 0 END)",
                        store_run_bytes_bounds[i]);
    ok = ok && buf_appends(&sql, " FROM runs WHERE kind = 'restore' OR plan_name IS NOT NULL "
                                 "GROUP BY kind, plan_name, state ORDER BY plan_name, kind, state");
#undef TIMED
#undef TERMINAL
    QB_ASSERT(ok); /* fixed text far below the cap */
    struct db_stmt *st = NULL;
    void *list = NULL;
    *n = 0;
    enum qb_err rc = db_prepare(db, sql.data, &st, err, errlen);
    buf_free(&sql);
    if (!rc)
        rc = store_collect_rows(st, &count_rows, NULL, &list, n, "counting runs", err, errlen);
    db_finalize(st);
    *out = list;
    return rc;
}

static void *counts_exchange(void *self, bool install, void *fresh, size_t nfresh, size_t *n)
{
    struct store_run_counts_cache *c = self;
    if (install) {
        store_run_counts_free(c->v, c->n);
        c->v = fresh;
        c->n = nfresh;
    }
    *n = c->n;
    return counts_copy(c->v, c->n);
}

/* On a hit no statement beyond the fingerprint runs (no refresh). */
static const struct runs_cache_ops counts_ops = {counts_query, counts_exchange, &count_rows, NULL};

enum qb_err store_run_counts_cached(struct store *s, struct store_run_counts_cache *c,
                                    struct store_run_count **out, size_t *n, char *err,
                                    size_t errlen)
{
    void *v;
    enum qb_err e = runs_cached(s, &c->base, c, &counts_ops, &v, n, err, errlen);
    *out = v;
    return e;
}

void store_run_counts_cache_clear(struct store_run_counts_cache *c)
{
    runs_cache_clear(&c->base, c, &counts_ops);
}
