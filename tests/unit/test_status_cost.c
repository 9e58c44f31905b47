/* SPDX-License-Identifier: Apache-2.0
 *
 * test_status_cost.c -- what GET /v1/status and /metrics cost in SQL does
 * not grow with the number of plans (issue 11 item 15: two run queries per
 * plan made the status page the slowest route).  Not timed: every SQLite
 * statement the process runs is counted through an auto-extension that
 * sets sqlite3_trace_v2 on each connection the store opens, and the work
 * they do as SQLite's own count of virtual-machine steps (issue 11: the
 * run totals of /metrics read every run, twice per scrape).  Also checks
 * the answers of store_run_latest_cached and store_run_counts_cached and
 * when their caches are reused.
 */
#include "unit.h"
#include "api/api.h"
#include "api/app.h"
#include "store/store.h"
#include "store/store_run_summary.h"
#include "util/buf.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long statements;
static atomic_long vm_steps; /* of finished statements: work, not time */

static int count_stmt(unsigned type, void *ctx, void *p, void *x)
{
    (void)ctx, (void)x;
    if (type == SQLITE_TRACE_STMT)
        statements++;
    else if (type == SQLITE_TRACE_PROFILE)
        vm_steps += sqlite3_stmt_status(p, SQLITE_STMTSTATUS_VM_STEP, 0);
    return 0;
}

static int count_init(sqlite3 *db, const char **msg, const struct sqlite3_api_routines *api)
{
    (void)msg, (void)api;
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT | SQLITE_TRACE_PROFILE, count_stmt, NULL);
    return SQLITE_OK;
}

static char dbpath[64];

static void drop_db(void)
{
    char p[96];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
}

static bool exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sql: %s\n", msg ? msg : "?");
        sqlite3_free(msg);
        return false;
    }
    return true;
}

/* A migrated catalogue with `plans` plans of `per_plan` runs each: plan k's
 * runs succeed except every 5th, and plans with k % 3 == 0 never
 * succeeded; every run has bytes_done 100 + its id. */
static struct store *catalogue_sized(int plans, int per_plan, sqlite3 **raw)
{
    char err[QB_ERRBUF_SIZE];
    struct store *s = NULL;
    snprintf(dbpath, sizeof dbpath, "/tmp/qbackup-unit-status-XXXXXX");
    int fd = mkstemp(dbpath);
    if (fd >= 0)
        close(fd);
    unlink(dbpath);
    if (store_open(dbpath, 2, &s, err, sizeof err) || store_migrate(s, NULL, err, sizeof err)) {
        fprintf(stderr, "store: %s\n", err);
        store_close(s);
        return NULL;
    }
    sqlite3_open(dbpath, raw);
    sqlite3_busy_timeout(*raw, 5000);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (id, name, url, created_at, updated_at) "
             "VALUES (1, 'default', 'http://q:6333', 0, 0);"
             "INSERT INTO destinations (id, name, kind, created_at, updated_at) "
             "VALUES (1, 'local', 'local', 0, 0);"
             "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
             "INSERT INTO plans (id, name, instance_id, destination_id, scope, collections, "
             "created_at, updated_at) SELECT i, 'p' || i, 1, 1, 'collections', '[\"c\"]', 0, 0 "
             "FROM k;"
             "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
             "INSERT INTO runs (kind, plan_id, plan_name, trigger, state, results, queued_at, "
             "started_at, finished_at, bytes_done) "
             "SELECT 'backup', 1 + i %% %d, 'p' || (1 + i %% %d), 'api', "
             "CASE WHEN (1 + i %% %d) %% 3 = 0 OR i %% 5 = 0 THEN 'failed' ELSE 'succeeded' END, "
             "json_array(printf('%%.3000c', 'x')), 1000 + i, 1000 + i, 1010 + i, 101 + i FROM k;",
             plans, per_plan * plans - 1, plans, plans, plans);
    if (!exec(*raw, sql)) {
        store_close(s);
        return NULL;
    }
    return s;
}

static struct store *catalogue(int plans, sqlite3 **raw)
{
    return catalogue_sized(plans, 40, raw);
}

static long last_vm_steps; /* of the last metrics_statements call */

static long metrics_statements(struct store *s)
{
    struct app app = {.store = s};
    struct buf out;
    buf_init(&out, 1 << 20);
    long before = statements;
    long steps_before = vm_steps;
    bool ok = api_status_metrics(&out, &app);
    long n = statements - before;
    last_vm_steps = vm_steps - steps_before;
    TEST_EXPECT(ok);
    TEST_EXPECT(out.data &&
                strstr(out.data, "qbackup_plan_last_success_timestamp_seconds{plan=\"p1\"}"));
    buf_free(&out);
    return n;
}

static void test_statements_constant_in_plans(void)
{
    sqlite3 *raw = NULL;
    long cost[2];
    int sizes[2] = {2, 30};
    for (int k = 0; k < 2; k++) {
        struct store *s = catalogue(sizes[k], &raw);
        TEST_ASSERT(s);
        metrics_statements(s); /* fills the cache */
        cost[k] = metrics_statements(s);
        store_close(s);
        sqlite3_close(raw);
        drop_db();
    }
    TEST_EXPECT_INT(cost[0], cost[1]);
    TEST_EXPECT(cost[0] > 0 && cost[0] <= 12);
}

static void test_latest_answers_and_cache(void)
{
    sqlite3 *raw = NULL;
    char err[QB_ERRBUF_SIZE];
    struct store *s = catalogue(4, &raw);
    TEST_ASSERT(s);
    struct store_run_latest_cache cache = STORE_RUN_LATEST_CACHE_INIT;
    struct store_run_latest *v = NULL, *u = NULL;
    size_t n = 0, m = 0;
    TEST_ASSERT(store_run_latest_cached(s, &cache, &v, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 4);
    /* Runs 1..160 (ids) go round robin: plan p gets ids p, p + 4, ...; the
     * newest is 156 + p; every 5th (i = id - 1) failed; plan 3 never
     * succeeded. */
    for (size_t i = 0; i < n; i++) {
        int64_t p = v[i].plan_id;
        TEST_EXPECT_INT(v[i].last.id, 156 + p);
        if (p == 3) {
            TEST_EXPECT_INT(v[i].success.id, 0);
            continue;
        }
        int64_t ok = 156 + p;
        while ((ok - 1) % 5 == 0)
            ok -= 4;
        TEST_EXPECT_INT(v[i].success.id, ok);
        TEST_EXPECT(strcmp(v[i].success.state, "succeeded") == 0);
        TEST_EXPECT_INT(v[i].success.finished_at, 1000 + ok - 1 + 10);
    }
    TEST_EXPECT_INT((long long)cache.base.misses, 1);
    TEST_ASSERT(store_run_latest_cached(s, &cache, &u, &m, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)cache.base.hits, 1);
    TEST_EXPECT(m == n && memcmp(u, v, n * sizeof *v) == 0);
    free(u);

    /* A new queued run, then its start, then its end: each is seen. */
    static const char insert[] = "INSERT INTO runs (kind, plan_id, plan_name, trigger, "
                                 "queued_at) VALUES ('backup', 3, 'p3', 'api', 5000)";
    const char *steps[] = {
        insert,
        "UPDATE runs SET state = 'running', started_at = 5001 WHERE id = 161",
        "UPDATE runs SET state = 'succeeded', finished_at = 5002 WHERE id = 161",
    };
    const char *want[] = {"queued", "running", "succeeded"};
    for (int k = 0; k < 3; k++) {
        TEST_ASSERT(exec(raw, steps[k]));
        TEST_ASSERT(store_run_latest_cached(s, &cache, &u, &m, err, sizeof err) == QB_OK);
        TEST_EXPECT_INT((long long)cache.base.misses, 2 + k);
        TEST_EXPECT(m == 4 && u[2].plan_id == 3 && u[2].last.id == 161);
        TEST_EXPECT(m == 4 && strcmp(u[2].last.state, want[k]) == 0);
        TEST_EXPECT_INT(u[2].success.id, k == 2 ? 161 : 0);
        free(u);
    }
    /* Deleting a plan with runs and re-creating its id: no stale runs. */
    TEST_ASSERT(exec(raw, "PRAGMA foreign_keys = ON; DELETE FROM plans WHERE id = 4;"
                          "INSERT INTO plans (id, name, instance_id, destination_id, scope, "
                          "created_at, updated_at) VALUES (4, 'again', 1, 1, 'all', 0, 0)"));
    TEST_ASSERT(store_run_latest_cached(s, &cache, &u, &m, err, sizeof err) == QB_OK);
    TEST_EXPECT(m == 4 && u[3].plan_id == 4 && u[3].last.id == 0 && u[3].success.id == 0);
    free(u);
    free(v);
    free(cache.v);
    free(cache.base.fingerprint);
    pthread_mutex_destroy(&cache.base.lock);
    store_close(s);
    sqlite3_close(raw);
    drop_db();
}

/* The cost of a scrape whose caches are warm does not grow with the runs:
 * the same SQLite work (VM steps) for 40 and for 400 runs per plan.  The
 * run totals used to be two GROUP BY scans of the whole table. */
static void test_work_constant_in_runs(void)
{
    sqlite3 *raw = NULL;
    long steps[2], stmts[2];
    int per_plan[2] = {40, 400};
    for (int k = 0; k < 2; k++) {
        struct store *s = catalogue_sized(6, per_plan[k], &raw);
        TEST_ASSERT(s);
        metrics_statements(s); /* fills the caches */
        stmts[k] = metrics_statements(s);
        steps[k] = last_vm_steps;
        store_close(s);
        sqlite3_close(raw);
        drop_db();
    }
    TEST_EXPECT_INT(stmts[0], stmts[1]);
    TEST_EXPECT_INT(steps[0], steps[1]);
    TEST_EXPECT(steps[0] > 0);
}

/* What store_run_counts_cached says for plan p of catalogue(4): runs by
 * state, and the bytes of the succeeded ones. */
static void expected_counts(int p, int64_t *failed, int64_t *succeeded, int64_t *bytes)
{
    *failed = *succeeded = *bytes = 0;
    for (int i = 0; i < 160; i++) {
        if (1 + i % 4 != p)
            continue;
        if (p % 3 == 0 || i % 5 == 0) {
            (*failed)++;
        } else {
            (*succeeded)++;
            *bytes += 101 + i;
        }
    }
}

static const struct store_run_count *count_find(const struct store_run_count *v, size_t n,
                                                const char *plan, const char *state)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].plan, plan) == 0 && strcmp(v[i].state, state) == 0)
            return &v[i];
    return NULL;
}

static void test_counts_answers_and_cache(void)
{
    sqlite3 *raw = NULL;
    char err[QB_ERRBUF_SIZE];
    struct store *s = catalogue(4, &raw);
    TEST_ASSERT(s);
    struct store_run_counts_cache cache = STORE_RUN_COUNTS_CACHE_INIT;
    struct store_run_count *v = NULL;
    size_t n = 0;
    TEST_ASSERT(store_run_counts_cached(s, &cache, &v, &n, err, sizeof err) == QB_OK);
    for (int p = 1; p <= 4; p++) {
        char plan[8];
        snprintf(plan, sizeof plan, "p%d", p);
        int64_t failed, succeeded, bytes;
        expected_counts(p, &failed, &succeeded, &bytes);
        const struct store_run_count *f = count_find(v, n, plan, "failed");
        const struct store_run_count *ok = count_find(v, n, plan, "succeeded");
        TEST_EXPECT_INT(f ? f->runs : 0, failed);
        TEST_EXPECT_INT(ok ? ok->runs : 0, succeeded);
        TEST_EXPECT_INT(ok ? ok->bytes : 0, bytes);
        /* Every run lasted 10 s and moved under 1 MiB: all in the first
         * bucket of both histograms. */
        TEST_EXPECT_STR(f ? f->kind : "backup", "backup");
        TEST_EXPECT_INT(ok ? ok->timed : 0, succeeded);
        TEST_EXPECT_INT(ok ? ok->duration_sum : 0, 10 * succeeded);
        TEST_EXPECT_INT(ok ? ok->duration_le[0] : 0, succeeded);
        TEST_EXPECT_INT(ok ? ok->bytes_le[0] : 0, succeeded);
        TEST_EXPECT_INT(f ? f->duration_le[STORE_RUN_NDURATION - 1] : 0, failed);
    }
    TEST_EXPECT_INT(n, 7);         /* p3 never succeeded */
    for (size_t i = 1; i < n; i++) /* ordered by plan, then state */
        TEST_EXPECT(
            strcmp(v[i - 1].plan, v[i].plan) < 0 ||
            (strcmp(v[i - 1].plan, v[i].plan) == 0 && strcmp(v[i - 1].state, v[i].state) < 0));
    store_run_counts_free(v, n);
    TEST_EXPECT_INT((long long)cache.base.misses, 1);
    long before = statements;
    TEST_ASSERT(store_run_counts_cached(s, &cache, &v, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(statements - before, 3); /* BEGIN, the fingerprint, ROLLBACK */
    TEST_EXPECT_INT((long long)cache.base.hits, 1);
    store_run_counts_free(v, n);

    /* A run of p3 queued, started, moving bytes (no new answer: a
     * running run's bytes are not counted), then succeeded. */
    const char *steps[] = {
        ("INSERT INTO runs (kind, plan_id, plan_name, trigger, queued_at) "
         "VALUES ('backup', 3, 'p3', 'api', 5000)"),
        "UPDATE runs SET state = 'running', started_at = 5001 WHERE id = 161",
        "UPDATE runs SET bytes_done = 999 WHERE id = 161",
        "UPDATE runs SET state = 'succeeded', finished_at = 5002 WHERE id = 161",
    };
    const char *want[] = {"queued", "running", "running", "succeeded"};
    const int misses[] = {2, 3, 3, 4};
    for (int k = 0; k < 4; k++) {
        TEST_ASSERT(exec(raw, steps[k]));
        TEST_ASSERT(store_run_counts_cached(s, &cache, &v, &n, err, sizeof err) == QB_OK);
        TEST_EXPECT_INT((long long)cache.base.misses, misses[k]);
        const struct store_run_count *c = count_find(v, n, "p3", want[k]);
        TEST_EXPECT(c && c->runs == 1 && c->bytes == (k == 3 ? 999 : 0));
        store_run_counts_free(v, n);
    }
    /* Deleting the plan keeps its runs' totals (they keep plan_name). */
    TEST_ASSERT(exec(raw, "PRAGMA foreign_keys = ON; DELETE FROM plans WHERE id = 4"));
    TEST_ASSERT(store_run_counts_cached(s, &cache, &v, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)cache.base.misses, 5);
    int64_t failed, succeeded, bytes;
    expected_counts(4, &failed, &succeeded, &bytes);
    const struct store_run_count *c = count_find(v, n, "p4", "succeeded");
    TEST_EXPECT(c && c->runs == succeeded && c->bytes == bytes);
    store_run_counts_free(v, n);
    store_run_counts_cache_clear(&cache);
    pthread_mutex_destroy(&cache.base.lock);
    store_close(s);
    sqlite3_close(raw);
    drop_db();
}

/* Restores are counted too (plan "" when the restored snapshot has no
 * plan), and live runs are counted without bytes or times. */
static void test_counts_restores_and_live_runs(void)
{
    sqlite3 *raw = NULL;
    char err[QB_ERRBUF_SIZE];
    struct store *s = catalogue(2, &raw);
    TEST_ASSERT(s);
    TEST_ASSERT(exec(raw, "INSERT INTO runs (kind, plan_id, plan_name, trigger, state, queued_at, "
                          "started_at, finished_at, bytes_done) VALUES "
                          "('restore', NULL, NULL, 'api', 'failed', 5000, 5000, 5100, 7), "
                          "('restore', 1, 'p1', 'api', 'succeeded', 5000, 5000, 9000, 7), "
                          "('restore', 1, 'p1', 'api', 'queued', 6000, NULL, NULL, 0), "
                          "('backup', 2, 'p2', 'api', 'running', 6000, 6000, NULL, 99);"));
    struct store_run_counts_cache cache = STORE_RUN_COUNTS_CACHE_INIT;
    struct store_run_count *v = NULL;
    size_t n = 0;
    TEST_ASSERT(store_run_counts_cached(s, &cache, &v, &n, err, sizeof err) == QB_OK);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        const struct store_run_count *c = &v[i];
        if (strcmp(c->kind, "restore") == 0 && strcmp(c->plan, "") == 0) {
            seen++;
            TEST_EXPECT_STR(c->state, "failed");
            TEST_EXPECT_INT(c->duration_sum, 100);
            TEST_EXPECT_INT(c->duration_le[1], 0); /* 100 s > 30 */
            TEST_EXPECT_INT(c->duration_le[4], 1); /* <= 300 */
        } else if (strcmp(c->kind, "restore") == 0 && strcmp(c->state, "succeeded") == 0) {
            seen++;
            TEST_EXPECT_INT(c->duration_le[STORE_RUN_NDURATION - 3], 0); /* 4000 s > 3600 */
            TEST_EXPECT_INT(c->duration_le[STORE_RUN_NDURATION - 2], 1);
        } else if (strcmp(c->state, "queued") == 0 || strcmp(c->state, "running") == 0) {
            seen++;
            TEST_EXPECT_INT(c->runs, 1);
            TEST_EXPECT_INT(c->bytes, 0);
            TEST_EXPECT_INT(c->timed, 0);
        }
    }
    TEST_EXPECT_INT(seen, 4);
    store_run_counts_free(v, n);
    store_run_counts_cache_clear(&cache);
    store_close(s);
    sqlite3_close(raw);
    drop_db();
}

int main(void)
{
    sqlite3_auto_extension((void (*)(void))count_init);
    TEST_RUN(test_statements_constant_in_plans);
    TEST_RUN(test_latest_answers_and_cache);
    TEST_RUN(test_work_constant_in_runs);
    TEST_RUN(test_counts_answers_and_cache);
    TEST_RUN(test_counts_restores_and_live_runs);
    return TEST_RESULT();
}
