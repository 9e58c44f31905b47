/* SPDX-License-Identifier: Apache-2.0
 *
 * test_store_fleet.c -- the catalogue's record of a fleet (store_fleet.h)
 * on a temporary catalogue (SQLite, or PostgreSQL: unit_catalogue.h): a node's beat creates then
 * refreshes its row and the heartbeat of the runs it owns (only those); the takeover lists runs of
 * silent nodes only, never this node's own or a beating node's; adoption is conditional, so of two
 * adopters, or an owner that beats again, exactly one wins; a restarted node recovers its own and
 * unowned runs only; a run catalogues a snapshot only while it is still running.
 */
#include "unit.h"
#include "unit_catalogue.h"
#include "store/store.h"
#include "store/store_fleet.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dbpath[512];

static int exec(const char *sql)
{
    return unit_sql(dbpath, sql) ? 0 : 1;
}

static long long scalar(const char *sql)
{
    return unit_sql_int(dbpath, sql);
}

static struct store *fresh(void)
{
    if (!unit_catalogue_new("fleet", dbpath, sizeof dbpath))
        return NULL;
    struct store *s = NULL;
    char err[QB_ERRBUF_SIZE];
    if (store_open(dbpath, 2, &s, err, sizeof err) || store_migrate(s, NULL, err, sizeof err)) {
        fprintf(stderr, "store: %s\n", err);
        store_close(s);
        return NULL;
    }
    /* Runs 1-4 running: two of node a (one beaten at 100, one never, started
     * at 50), one of node b beaten at 500, one from before fleets (no owner);
     * run 5 queued. */
    char sql[1024];
    snprintf(sql, sizeof sql, "%s%s%s",
             "INSERT INTO runs (id, kind, state, trigger, request, queued_at, started_at, owner, "
             "heartbeat_at) ",
             /* PostgreSQL's ids are GENERATED ALWAYS */
             strstr(dbpath, "://") ? "OVERRIDING SYSTEM VALUE " : "",
             "VALUES "
             "(1, 'backup', 'running', 'api', '{}', 10, 40, 'a', 100),"
             "(2, 'backup', 'running', 'api', '{}', 10, 50, 'a', NULL),"
             "(3, 'backup', 'running', 'api', '{}', 10, 60, 'b', 500),"
             "(4, 'backup', 'running', 'api', '{}', 10, 70, NULL, NULL),"
             "(5, 'backup', 'queued', 'api', '{}', 10, NULL, NULL, NULL)");
    if (exec(sql) != 0) {
        store_close(s);
        return NULL;
    }
    return s;
}

static void drop(struct store *s)
{
    store_close(s);
    unit_catalogue_drop(dbpath);
}

static void test_beat_records_node_and_its_runs(void)
{
    struct store *s = fresh();
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    int runs = -1;
    TEST_EXPECT_INT(
        store_fleet_beat(s, "b", "0.9", "http://b:8080", 400, 600, &runs, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(runs, 1);
    TEST_EXPECT_INT(scalar("SELECT heartbeat_at FROM runs WHERE id = 3"), 600);
    TEST_EXPECT_INT(scalar("SELECT heartbeat_at FROM runs WHERE id = 1"), 100); /* a's: untouched */
    /* A later beat refreshes the row rather than adding one. */
    TEST_EXPECT_INT(store_fleet_beat(s, "b", "1.0", NULL, 400, 610, NULL, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_fleet_beat(s, "a", "1.0", NULL, 300, 605, NULL, err, sizeof err), QB_OK);
    struct store_fleet_node **nodes = NULL;
    size_t n = 0;
    TEST_ASSERT(store_fleet_nodes(s, &nodes, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 2);
    TEST_EXPECT_STR(nodes[0]->name, "a");
    TEST_EXPECT_STR(nodes[1]->name, "b");
    TEST_EXPECT_STR(nodes[1]->version, "1.0");
    TEST_EXPECT(nodes[1]->address == NULL);
    TEST_EXPECT_INT(nodes[1]->started_at, 400);
    TEST_EXPECT_INT(nodes[1]->heartbeat_at, 610);
    store_fleet_nodes_free(nodes, n);
    /* A finished run is no longer beaten for. */
    TEST_ASSERT(exec("UPDATE runs SET state = 'succeeded' WHERE id = 3") == 0);
    TEST_EXPECT_INT(store_fleet_beat(s, "b", "1.0", NULL, 400, 700, &runs, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(runs, 0);
    TEST_EXPECT_INT(scalar("SELECT heartbeat_at FROM runs WHERE id = 3"), 610);
    drop(s);
}

static void test_takeover_lists_only_silent_nodes_runs(void)
{
    struct store *s = fresh();
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    struct store_fleet_run **runs = NULL;
    size_t n = 0;
    /* Seen from node b at "before 200": a's runs (last sign 100, and 50 by
     * its start), never b's own, never the unowned one (recovered at a
     * start), never the queued one. */
    TEST_ASSERT(store_fleet_runs(s, NULL, "b", 200, &runs, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 2);
    TEST_EXPECT_INT(runs[0]->id, 1);
    TEST_EXPECT_STR(runs[0]->owner, "a");
    TEST_EXPECT_INT(runs[0]->heartbeat_at, 100);
    TEST_EXPECT_INT(runs[1]->id, 2);
    TEST_EXPECT_INT(runs[1]->heartbeat_at, 0);
    store_fleet_runs_free(runs, n);
    /* Before 80: only run 2 (started at 50, never beaten) is that old. */
    TEST_ASSERT(store_fleet_runs(s, NULL, "b", 80, &runs, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_INT(runs[0]->id, 2);
    store_fleet_runs_free(runs, n);
    /* Node c at "before 1000" sees b's run too. */
    TEST_ASSERT(store_fleet_runs(s, NULL, "c", 1000, &runs, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)n, 3);
    store_fleet_runs_free(runs, n);
    /* A restarted node a recovers its own and the unowned one. */
    TEST_ASSERT(store_fleet_runs(s, "a", NULL, 0, &runs, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 3);
    TEST_EXPECT_INT(runs[0]->id, 1);
    TEST_EXPECT_INT(runs[1]->id, 2);
    TEST_EXPECT_INT(runs[2]->id, 4);
    store_fleet_runs_free(runs, n);
    drop(s);
}

static void test_adoption_has_one_winner(void)
{
    struct store *s = fresh();
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    struct store_fleet_run **runs = NULL;
    size_t n = 0;
    TEST_ASSERT(store_fleet_runs(s, NULL, "b", 200, &runs, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 2);
    bool adopted = false;
    /* Two adopters read the same row: the first wins, the second finds it
     * changed. */
    TEST_EXPECT_INT(store_fleet_adopt(s, runs[0], "b", 900, &adopted, err, sizeof err), QB_OK);
    TEST_EXPECT(adopted);
    TEST_EXPECT_INT(store_fleet_adopt(s, runs[0], "c", 901, &adopted, err, sizeof err), QB_OK);
    TEST_EXPECT(!adopted);
    TEST_EXPECT_INT(scalar("SELECT owner = 'b' AND heartbeat_at = 900 FROM runs WHERE id = 1"), 1);
    /* The owner beats again before the adopter acts: it keeps its run. */
    TEST_EXPECT_INT(store_fleet_beat(s, "a", "1.0", NULL, 10, 950, NULL, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_fleet_adopt(s, runs[1], "b", 960, &adopted, err, sizeof err), QB_OK);
    TEST_EXPECT(!adopted);
    TEST_EXPECT_INT(scalar("SELECT owner = 'a' FROM runs WHERE id = 2"), 1);
    /* A run that ended meanwhile is not adopted. */
    TEST_ASSERT(exec("UPDATE runs SET state = 'failed' WHERE id = 1") == 0);
    char owner_b[] = "b";
    struct store_fleet_run ended = {.id = 1, .owner = owner_b, .heartbeat_at = 900};
    TEST_EXPECT_INT(store_fleet_adopt(s, &ended, "c", 970, &adopted, err, sizeof err), QB_OK);
    TEST_EXPECT(!adopted);
    store_fleet_runs_free(runs, n);
    drop(s);
}

/* A claim names the node that took the run, so its beats keep it. */
static void test_claim_records_owner(void)
{
    struct store *s = fresh();
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    struct store_run *run = NULL;
    TEST_EXPECT_INT(store_run_claim(s, 3, "node-7", &run, err, sizeof err), QB_OK);
    TEST_ASSERT(run != NULL);
    TEST_EXPECT_INT(run->id, 5); /* the only queued one */
    TEST_EXPECT_STR(run->state, "running");
    TEST_EXPECT_INT(scalar("SELECT owner = 'node-7' AND worker = 3 AND heartbeat_at = started_at "
                           "FROM runs WHERE id = 5"),
                    1);
    store_run_free(run);
    /* Nothing queued is left: no run, no error. */
    TEST_EXPECT_INT(store_run_claim(s, 3, "node-7", &run, err, sizeof err), QB_OK);
    TEST_EXPECT(run == NULL);
    int runs = 0;
    TEST_EXPECT_INT(store_fleet_beat(s, "node-7", "1", NULL, 1, 99999, &runs, err, sizeof err),
                    QB_OK);
    TEST_EXPECT_INT(runs, 1);
    drop(s);
}

/* A run catalogues only while it is still running and its claimer's:
 * once taken or settled by someone else (an adopter, a restart) the
 * insert changes nothing and says why; the unfenced insert (rescan) is
 * untouched. */
static void test_snapshot_insert_fenced_by_run_state(void)
{
    struct store *s = fresh();
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(exec("INSERT INTO instances (name, url, created_at, updated_at) "
                     "VALUES ('i', 'http://q:6333', 0, 0);"
                     "INSERT INTO destinations (name, kind, created_at, updated_at) "
                     "VALUES ('d', 'local', 0, 0)") == 0);
    int64_t dest = scalar("SELECT id FROM destinations WHERE name = 'd'");
    char kind[] = "collection", coll[] = "c", name[] = "q", sha[65], loc[32], key[32];
    memset(sha, 'a', 64);
    sha[64] = '\0';
    struct store_snapshot row = {.instance_name = name,
                                 .destination_id = dest,
                                 .kind = kind,
                                 .collection = coll,
                                 .shard_id = -1,
                                 .qdrant_name = name,
                                 .location = loc,
                                 .storage_key = key,
                                 .size_bytes = 10,
                                 .sha256 = sha,
                                 .points_count = 3,
                                 .created_at = 100,
                                 .raw_size = -1};
    static const struct {
        int64_t run;
        const char *owner;
        enum qb_err want;
    } cases[] = {
        {1, "a", QB_OK},           /* running, node a's */
        {3, "a", QB_ERR_CONFLICT}, /* running, but node b's (adopted from a, say) */
        {4, NULL, QB_OK},          /* from before fleets: no owner, a node without a name */
        {4, "a", QB_ERR_CONFLICT}, {5, "a", QB_ERR_CONFLICT}, /* queued */
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        snprintf(key, sizeof key, "k%zu", i);
        snprintf(loc, sizeof loc, "/x/k%zu", i);
        row.run_id = cases[i].run;
        int64_t id = 0;
        enum qb_err rc =
            store_snapshot_insert_for_run(s, &row, cases[i].owner, &id, err, sizeof err);
        TEST_EXPECT_INT(rc, cases[i].want);
        TEST_EXPECT(rc ? id == 0 && strstr(err, "no longer running here") : id > 0);
    }
    TEST_EXPECT_INT(scalar("SELECT count(*) FROM snapshots"), 2);

    /* Run 1 settled meanwhile: refused, nothing written. */
    TEST_ASSERT(exec("UPDATE runs SET state = 'failed', finished_at = 200 WHERE id = 1") == 0);
    row.run_id = 1;
    snprintf(key, sizeof key, "late");
    snprintf(loc, sizeof loc, "/x/late");
    int64_t id = 0;
    TEST_EXPECT_INT(store_snapshot_insert_for_run(s, &row, "a", &id, err, sizeof err),
                    QB_ERR_CONFLICT);
    TEST_EXPECT_INT(scalar("SELECT count(*) FROM snapshots"), 2);
    /* A rescan catalogues what a finished run stored. */
    TEST_EXPECT_INT(store_snapshot_insert(s, &row, &id, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(scalar("SELECT count(*) FROM snapshots WHERE run_id = 1"), 2);
    drop(s);
}

int main(void)
{
    TEST_RUN(test_claim_records_owner);
    TEST_RUN(test_beat_records_node_and_its_runs);
    TEST_RUN(test_takeover_lists_only_silent_nodes_runs);
    TEST_RUN(test_adoption_has_one_winner);
    TEST_RUN(test_snapshot_insert_fenced_by_run_state);
    return TEST_RESULT();
}
