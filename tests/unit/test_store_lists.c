/* SPDX-License-Identifier: Apache-2.0
 *
 * test_store_lists.c -- the catalogue's lists as they grow: a keyset walk
 * (cursor = the last row shown) sees every row that was there throughout
 * exactly once and in order, also when rows are inserted and deleted
 * between pages and when many rows share a created_at second; retention
 * briefs and targets match the full rows; the totals the triggers keep
 * match a count; and the statements behind the hot paths (lists with each
 * filter and a cursor, retention, the scheduler's active check, status's
 * latest runs, deletions left marked) search an index rather than scan a
 * table (EXPLAIN QUERY PLAN of the SQL the store really ran, caught with
 * store_trace).  No timing: bench/catalogue-scale.sh measures speed.
 */
#include "unit.h"
#include "store/store.h"
#include "store/store_copies.h"
#include "store/store_run_summary.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "store/store_totals.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* *out: a migrated store on a new file, or NULL. */
static void open_store_at(struct store **out)
{
    char err[QB_ERRBUF_SIZE];
    struct store *s = NULL;
    *out = NULL;
    snprintf(dbpath, sizeof dbpath, "/tmp/qbackup-unit-lists-XXXXXX");
    int fd = mkstemp(dbpath);
    if (fd >= 0)
        close(fd);
    unlink(dbpath);
    TEST_ASSERT(store_open(dbpath, 2, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_migrate(s, NULL, err, sizeof err) == QB_OK);
    *out = s;
}

static struct store *open_store(void)
{
    struct store *s = NULL;
    open_store_at(&s);
    if (!s)
        exit(1); /* open_store_at reported why */
    return s;
}

static void exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "exec_sql: %s\n", msg ? msg : "?");
    TEST_EXPECT(msg == NULL);
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* Two plans, two collections each; n snapshots with created_at in groups
 * of 7 per second (ties, broken by id), round robin over the targets. */
static void seed(int n)
{
    char sql[1536];
    exec_sql("INSERT INTO instances (name, url, created_at, updated_at) VALUES ('i', 'http://q', "
             "0, 0);"
             "INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('d', 'local', 0, 0);"
             "INSERT INTO plans (name, instance_id, destination_id, scope, collections, "
             "created_at, updated_at) SELECT 'p' || v, 1, 1, 'collections', '[\"a\",\"b\"]', 0, 0 "
             "FROM (SELECT 1 AS v UNION ALL SELECT 2)");
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO runs (kind, plan_id, plan_name, trigger, state, queued_at) "
             "SELECT 'backup', 1 + i %% 2, 'p' || (1 + i %% 2), 'schedule', "
             "CASE WHEN i %% 5 = 0 THEN 'failed' ELSE 'succeeded' END, 1000 + i / 3 FROM n;"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO snapshots (plan_id, instance_name, destination_id, kind, collection, "
             "qdrant_name, location, storage_key, size_bytes, sha256, created_at, verified_at) "
             "SELECT 1 + i %% 2, 'i', 1, 'collection', CASE WHEN i %% 4 < 2 THEN 'a' ELSE 'b' END, "
             "'q' || i, '/x/' || i, 'k' || i, i, printf('%%064d', i), 1000 + i / 7, "
             "CASE WHEN i %% 3 THEN 5 END FROM n",
             n, n);
    exec_sql(sql);
}

static void insert_snapshot(int64_t created_at, int k)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO snapshots (plan_id, instance_name, destination_id, kind, collection, "
             "qdrant_name, location, storage_key, size_bytes, sha256, created_at) VALUES (1, 'i', "
             "1, 'collection', 'a', 'new%d', '/new/%d', 'new%d', 1, printf('%%064d', 0), %lld)",
             k, k, k, (long long)created_at);
    exec_sql(sql);
}

/* ids: 1 when the row with this id was seen (indexed by id). */
struct walk {
    unsigned char *seen;
    int64_t cap;
    int dup, disorder, pages;
};

/* Walks the list of f page by page (limit 7), calling between(page) after
 * each page. */
static void walk_snapshots(struct store *s, struct store_snapshot_filter f, struct walk *w,
                           void (*between)(int page))
{
    char err[QB_ERRBUF_SIZE];
    int64_t last_created = INT64_MAX, last_id = INT64_MAX;
    f.limit = 7;
    for (;;) {
        struct store_snapshot **list = NULL;
        size_t n = 0;
        TEST_ASSERT(store_snapshot_list(s, &f, &list, &n, err, sizeof err) == QB_OK);
        for (size_t i = 0; i < n; i++) {
            const struct store_snapshot *r = list[i];
            if (r->created_at > last_created || (r->created_at == last_created && r->id >= last_id))
                w->disorder++;
            last_created = r->created_at;
            last_id = r->id;
            TEST_ASSERT(r->id > 0 && r->id < w->cap);
            if (w->seen[r->id]++)
                w->dup++;
        }
        bool more = n == (size_t)f.limit;
        if (more) {
            f.before_created = list[n - 1]->created_at;
            f.before_id = list[n - 1]->id;
        }
        store_snapshot_list_free(list, n);
        if (!more)
            break;
        if (between)
            between(w->pages);
        w->pages++;
    }
}

static int64_t next_new = 100000;
static void churn(int page)
{
    char sql[256];
    /* Newer rows (behind the cursor: not part of this walk), rows older
     * than any (ahead: seen, as the rows they are), and deleted rows. */
    insert_snapshot(5000 + page, (int)next_new++);
    insert_snapshot(10, (int)next_new++);
    snprintf(sql, sizeof sql, "DELETE FROM snapshots WHERE id = %d OR id = %d", 300 - page * 3,
             20 + page);
    exec_sql(sql);
}

static void test_snapshot_keyset_walk(void)
{
    struct store *s = open_store();
    seed(300);
    struct walk w = {.cap = 400};
    unsigned char seen[400] = {0};
    w.seen = seen;
    walk_snapshots(s, (struct store_snapshot_filter){0}, &w, NULL);
    TEST_EXPECT_INT(w.dup, 0);
    TEST_EXPECT_INT(w.disorder, 0);
    for (int id = 1; id <= 300; id++)
        TEST_EXPECT_INT(seen[id], 1);

    /* One target's walk matches its retention briefs, in the same order. */
    memset(seen, 0, sizeof seen);
    w = (struct walk){.seen = seen, .cap = 400};
    struct store_snapshot_filter f = {.plan_id = 1, .collection = "a"};
    walk_snapshots(s, f, &w, NULL);
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot_brief *briefs = NULL;
    size_t nb = 0;
    TEST_ASSERT(store_snapshot_list_retention(s, 1, "a", &briefs, &nb, err, sizeof err) == QB_OK);
    int in_walk = 0;
    for (int id = 1; id <= 300; id++)
        in_walk += seen[id];
    TEST_EXPECT_INT((long long)nb, in_walk);
    for (size_t i = 0; i < nb; i++) {
        TEST_EXPECT(seen[briefs[i].id] == 1);
        TEST_EXPECT(
            i == 0 || briefs[i - 1].created_at > briefs[i].created_at ||
            (briefs[i - 1].created_at == briefs[i].created_at && briefs[i - 1].id > briefs[i].id));
        TEST_EXPECT(briefs[i].verified_at == (briefs[i].id % 3 ? 5 : 0));
    }
    free(briefs);
    char **targets = NULL;
    size_t nt = 0;
    TEST_ASSERT(store_snapshot_targets(s, 2, &targets, &nt, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)nt, 2);
    TEST_EXPECT(nt == 2 && targets[0] && targets[1] && strcmp(targets[0], targets[1]) != 0);
    store_snapshot_targets_free(targets, nt);

    /* Rows inserted and deleted between pages: every row there from
     * start to end is seen once, in order; nothing twice. */
    struct walk wn = {.cap = 200000};
    wn.seen = calloc(200000, 1);
    TEST_ASSERT(wn.seen != NULL);
    walk_snapshots(s, (struct store_snapshot_filter){0}, &wn, churn);
    TEST_EXPECT_INT(wn.dup, 0);
    TEST_EXPECT_INT(wn.disorder, 0);
    TEST_EXPECT(wn.pages > 30);
    int missing = 0;
    for (int id = 1; id <= 300; id++) {
        bool deleted = false;
        for (int p = 0; p <= wn.pages && !deleted; p++)
            deleted = id == 300 - p * 3 || id == 20 + p;
        if (!deleted && !wn.seen[id])
            missing++;
    }
    TEST_EXPECT_INT(missing, 0);
    free(wn.seen);

    /* Totals kept by the triggers equal a count of the rows. */
    int64_t count = 0, bytes = 0;
    TEST_ASSERT(store_snapshot_totals(s, &count, &bytes, err, sizeof err) == QB_OK);
    sqlite3 *db = NULL;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    TEST_ASSERT(sqlite3_prepare_v2(db, "SELECT count(*), sum(size_bytes) FROM snapshots", -1, &st,
                                   NULL) == SQLITE_OK);
    TEST_ASSERT(sqlite3_step(st) == SQLITE_ROW);
    TEST_EXPECT_INT(count, sqlite3_column_int64(st, 0));
    TEST_EXPECT_INT(bytes, sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    /* And per destination, verify failures included. */
    struct store_destination_total *tot = NULL;
    size_t ntot = 0;
    TEST_ASSERT(store_destination_totals(s, &tot, &ntot, err, sizeof err) == QB_OK);
    TEST_ASSERT(sqlite3_prepare_v2(db,
                                   "SELECT d.name, count(x.id), coalesce(sum(x.size_bytes), 0), "
                                   "coalesce(sum(x.verify_error IS NOT NULL), 0) FROM destinations "
                                   "d LEFT JOIN snapshots x ON x.destination_id = d.id "
                                   "GROUP BY d.id ORDER BY d.name",
                                   -1, &st, NULL) == SQLITE_OK);
    size_t row = 0;
    for (; sqlite3_step(st) == SQLITE_ROW; row++) {
        TEST_ASSERT(row < ntot);
        TEST_EXPECT_STR(tot[row].destination, (const char *)sqlite3_column_text(st, 0));
        TEST_EXPECT_INT(tot[row].snapshots, sqlite3_column_int64(st, 1));
        TEST_EXPECT_INT(tot[row].bytes, sqlite3_column_int64(st, 2));
        TEST_EXPECT_INT(tot[row].verify_failed, sqlite3_column_int64(st, 3));
    }
    TEST_EXPECT_INT(row, ntot);
    sqlite3_finalize(st);
    store_destination_totals_free(tot, ntot);
    sqlite3_close(db);
    store_close(s);
    drop_db();
}

static void test_run_keyset_walk(void)
{
    struct store *s = open_store();
    seed(200);
    char err[QB_ERRBUF_SIZE];
    unsigned char seen[1000] = {0};
    struct store_run_filter f = {.plan = "p1", .limit = 6};
    int64_t last = INT64_MAX;
    int dup = 0, disorder = 0, pages = 0;
    for (;;) {
        struct store_run **list = NULL;
        size_t n = 0;
        TEST_ASSERT(store_run_list(s, &f, &list, &n, err, sizeof err) == QB_OK);
        for (size_t i = 0; i < n; i++) {
            disorder += list[i]->id >= last;
            last = list[i]->id;
            TEST_ASSERT(list[i]->id > 0 && list[i]->id < 1000);
            dup += seen[list[i]->id]++ > 0;
            TEST_EXPECT_STR(list[i]->plan_name, "p1");
        }
        bool more = n == (size_t)f.limit;
        if (more)
            f.before_id = list[n - 1]->id;
        store_run_list_free(list, n);
        if (!more)
            break;
        /* A new run of the plan between pages: newer, not in this walk. */
        exec_sql("INSERT INTO runs (kind, plan_id, plan_name, trigger, queued_at) "
                 "VALUES ('backup', 1, 'p1', 'api', 99999)");
        pages++;
    }
    TEST_EXPECT_INT(dup, 0);
    TEST_EXPECT_INT(disorder, 0);
    TEST_EXPECT(pages > 10);
    for (int id = 1; id <= 200; id++)
        TEST_EXPECT_INT(seen[id], (1 + id % 2) == 1 ? 1 : 0);
    store_close(s);
    drop_db();
}

/* The statements the store ran, for EXPLAIN. */
struct traced {
    char *sql[64];
    int n;
};

static void on_sql(void *ctx, const char *sql)
{
    struct traced *t = ctx;
    if (t->n < (int)QB_ARRAY_LEN(t->sql))
        t->sql[t->n++] = strdup(sql);
}

/* Fails when a step of the plan of sql reads a whole table ("SCAN
 * <table>" without an index).  A walk in rowid order that a LIMIT stops
 * (no sort step: the order is the table's) reads one page, not the table,
 * and tables of a handful of rows may be scanned: plans, destinations and
 * snapshot_totals (one row per destination). */
static void expect_indexed(sqlite3 *db, const char *sql)
{
    char q[4096];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = NULL;
    char scan[256] = "";
    bool sorted = false;
    TEST_ASSERT(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        sorted = sorted || strstr(detail, "TEMP B-TREE FOR ORDER BY");
        if (strncmp(detail, "SCAN ", 5) == 0 && !strstr(detail, "USING") &&
            !strstr(detail, "CONSTANT ROW") && strcmp(detail, "SCAN p") != 0 &&
            strcmp(detail, "SCAN plans") != 0 && strcmp(detail, "SCAN d") != 0 &&
            strcmp(detail, "SCAN snapshot_totals") != 0)
            snprintf(scan, sizeof scan, "%s", detail);
    }
    sqlite3_finalize(st);
    bool paged = strstr(sql, " LIMIT ") && !sorted;
    if (scan[0] && !paged) {
        fprintf(stderr, "full scan: %s\n  in: %s\n", scan, sql);
        TEST_EXPECT(!scan[0]);
    }
}

static void test_hot_queries_use_indexes(void)
{
    struct store *s = open_store();
    seed(50);
    char err[QB_ERRBUF_SIZE];
    exec_sql("INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('e', 'local', 0, 0)");
    struct traced t = {0};
    store_trace(s, on_sql, &t);
    struct store_snapshot **snaps = NULL;
    size_t n = 0;
    const struct store_snapshot_filter filters[] = {
        {.limit = 50},
        {.limit = 50, .before_created = 1003, .before_id = 20},
        {.plan = "p1", .limit = 50, .before_created = 1003, .before_id = 20},
        {.collection = "a", .limit = 50},
        {.instance = "i", .collection = "a", .limit = 50, .before_created = 1003, .before_id = 20},
        {.plan_id = 1, .collection = "a", .verified_only = true, .created_before = 1005},
        {.plan_id = 1, .collection_is_null = true},
        {.run_id = 3},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(filters); i++) {
        TEST_ASSERT(store_snapshot_list(s, &filters[i], &snaps, &n, err, sizeof err) == QB_OK);
        store_snapshot_list_free(snaps, n);
    }
    struct store_snapshot_brief *briefs = NULL;
    TEST_ASSERT(store_snapshot_list_retention(s, 1, "a", &briefs, &n, err, sizeof err) == QB_OK);
    free(briefs);
    char **targets = NULL;
    TEST_ASSERT(store_snapshot_targets(s, 1, &targets, &n, err, sizeof err) == QB_OK);
    store_snapshot_targets_free(targets, n);
    TEST_ASSERT(store_snapshot_list_deleting(s, 5, &snaps, &n, err, sizeof err) == QB_OK);
    store_snapshot_list_free(snaps, n);
    bool yes = false;
    TEST_ASSERT(store_snapshot_qdrant_name_exists(s, "i", "q3", &yes, err, sizeof err) == QB_OK);
    TEST_EXPECT(yes);
    TEST_ASSERT(store_snapshot_key_exists(s, 1, "k3", &yes, err, sizeof err) == QB_OK);
    int64_t count = 0, bytes = 0;
    TEST_ASSERT(store_snapshot_totals(s, &count, &bytes, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(count, 50);
    struct store_destination_total *tot = NULL;
    TEST_ASSERT(store_destination_totals(s, &tot, &n, err, sizeof err) == QB_OK);
    store_destination_totals_free(tot, n);
    const struct store_run_filter rfilters[] = {
        {.limit = 50},
        {.before_id = 30, .limit = 50},
        {.plan = "p1", .before_id = 30, .limit = 50},
        {.plan = "p1", .state = "failed", .limit = 50},
    };
    struct store_run **runs = NULL;
    for (size_t i = 0; i < QB_ARRAY_LEN(rfilters); i++) {
        TEST_ASSERT(store_run_list(s, &rfilters[i], &runs, &n, err, sizeof err) == QB_OK);
        store_run_list_free(runs, n);
    }
    TEST_ASSERT(store_run_plan_active(s, 1, &yes, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_run_list_running(s, &runs, &n, err, sizeof err) == QB_OK);
    store_run_list_free(runs, n);
    struct store_run_latest *latest = NULL;
    TEST_ASSERT(store_run_latest_per_plan(s, &latest, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 2);
    free(latest);
    /* Second copies (0019): per snapshot, unfinished per plan, retention
     * per copy destination, and a rescan's link. */
    struct store_copy **copies = NULL;
    TEST_ASSERT(store_copy_insert(s, 3, 0, 2, "k3", err, sizeof err) == QB_OK);
    TEST_ASSERT(store_copy_list(s, 3, &copies, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 1);
    store_copy_list_free(copies, n);
    TEST_ASSERT(store_copy_list_unfinished(s, 2, 10, &copies, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 1);
    store_copy_list_free(copies, n);
    struct store_copy_brief *cb = NULL;
    TEST_ASSERT(store_copy_list_retention(s, 2, "b", 2, &cb, &n, err, sizeof err) == QB_OK);
    free(cb);
    bool existed = false;
    int64_t linked = 0;
    char sha5[65];
    snprintf(sha5, sizeof sha5, "%064d", 5);
    TEST_ASSERT(store_copy_link(s, 2, "k5", "i", "a", "q5", sha5, 5, &existed, &linked, err,
                                sizeof err) == QB_OK);
    TEST_EXPECT(!existed);
    TEST_EXPECT_INT(linked, 5);
    store_trace(s, NULL, NULL);

    TEST_EXPECT(t.n >= 20);
    sqlite3 *db = NULL;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    for (int i = 0; i < t.n; i++) {
        expect_indexed(db, t.sql[i]);
        free(t.sql[i]);
    }
    sqlite3_close(db);
    store_close(s);
    drop_db();
}

/* A copy's life: pending, copying (also what a crash leaves), failed and
 * retried while attempts remain, stored; a rescan finds it known; it goes
 * with its snapshot row. */
static void test_copy_states(void)
{
    struct store *s = open_store();
    seed(10);
    exec_sql("INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('e', 'local', 0, 0)");
    char err[QB_ERRBUF_SIZE];
    struct store_copy **c = NULL;
    size_t n = 0;
    /* snapshot 3: plan 2, collection "b" (seed) */
    TEST_ASSERT(store_copy_insert(s, 3, 0, 2, "k3", err, sizeof err) == QB_OK);
    TEST_ASSERT(store_copy_insert(s, 3, 0, 2, "k3", err, sizeof err) == QB_OK); /* once */
    TEST_ASSERT(store_copy_list(s, 3, &c, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_STR(c[0]->state, "pending");
    TEST_EXPECT_STR(c[0]->destination_name, "e");
    int64_t id = c[0]->id;
    store_copy_list_free(c, n);
    TEST_ASSERT(store_copy_begin(s, id, err, sizeof err) == QB_OK);
    /* A kill now leaves it copying: the next run takes it up. */
    TEST_ASSERT(store_copy_list_unfinished(s, 2, 10, &c, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_STR(c[0]->state, "copying");
    TEST_EXPECT_INT(c[0]->attempts, 1);
    store_copy_list_free(c, n);
    TEST_ASSERT(store_copy_finish(s, id, false, NULL, 0, "boom", err, sizeof err) == QB_OK);
    TEST_ASSERT(store_copy_list_unfinished(s, 2, 10, &c, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_STR(c[0]->state, "failed");
    TEST_EXPECT_STR(c[0]->last_error, "boom");
    store_copy_list_free(c, n);
    /* Out of attempts: left alone. */
    TEST_ASSERT(store_copy_list_unfinished(s, 2, 1, &c, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_copy_list_free(c, n);
    /* Another plan's are not this plan's. */
    TEST_ASSERT(store_copy_list_unfinished(s, 1, 10, &c, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_copy_list_free(c, n);
    char sha[65];
    snprintf(sha, sizeof sha, "%064d", 3);
    TEST_ASSERT(store_copy_begin(s, id, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_copy_finish(s, id, true, sha, 3, NULL, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_copy_list(s, 3, &c, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_STR(c[0]->state, "stored");
    TEST_EXPECT_INT(c[0]->attempts, 2);
    TEST_EXPECT(c[0]->verified_at > 0);
    TEST_EXPECT(c[0]->last_error == NULL);
    store_copy_list_free(c, n);
    TEST_ASSERT(store_copy_list_unfinished(s, 2, 10, &c, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_copy_list_free(c, n);
    struct store_copy_brief *b = NULL;
    TEST_ASSERT(store_copy_list_retention(s, 2, "b", 2, &b, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_INT(b[0].id, 3);
    TEST_EXPECT_INT(b[0].copy_id, id);
    TEST_EXPECT(b[0].verified_at > 0);
    free(b);
    /* A rescan finds it known; a snapshot with another checksum, or in
     * the same destination, is never linked. */
    bool existed = false;
    int64_t linked = 0;
    TEST_ASSERT(store_copy_link(s, 2, "k3", "i", "b", "q3", sha, 3, &existed, &linked, err,
                                sizeof err) == QB_OK);
    TEST_EXPECT(existed);
    TEST_ASSERT(store_copy_link(s, 2, "k7", "i", "b", "q7", sha, 7, &existed, &linked, err,
                                sizeof err) == QB_OK);
    TEST_EXPECT(!existed);
    TEST_EXPECT_INT(linked, 0);
    char sha7[65];
    snprintf(sha7, sizeof sha7, "%064d", 7);
    TEST_ASSERT(store_copy_link(s, 1, "k7b", "i", "b", "q7", sha7, 7, &existed, &linked, err,
                                sizeof err) == QB_OK);
    TEST_EXPECT_INT(linked, 0);
    /* The snapshot row goes, its copy rows with it. */
    TEST_ASSERT(store_snapshot_delete(s, 3, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_copy_list(s, 3, &c, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_copy_list_free(c, n);
    store_close(s);
    drop_db();
}

int main(void)
{
    TEST_RUN(test_snapshot_keyset_walk);
    TEST_RUN(test_run_keyset_walk);
    TEST_RUN(test_hot_queries_use_indexes);
    TEST_RUN(test_copy_states);
    return TEST_RESULT();
}
