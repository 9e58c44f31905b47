/* SPDX-License-Identifier: Apache-2.0
 *
 * test_events.c -- the event log (store/store_events.h) on a temporary
 * catalogue: ids in order and never reused, the ring's bound and the
 * "lost" answer for a cursor that fell out of it, run state changes
 * announced by the triggers of migration 0013 (and an idempotent replay
 * announcing nothing), and a waiting thread woken by a commit.
 */
#include "unit.h"
#include "unit_catalogue.h"
#include "store/store.h"
#include "store/store_events.h"
#include "store/store_runs.h"
#include "sched/sched.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dbpath[512];

static struct store *fresh_store(void)
{
    if (!unit_catalogue_new("events", dbpath, sizeof dbpath))
        return NULL;
    struct store *s = NULL;
    char err[QB_ERRBUF_SIZE];
    if (store_open(dbpath, 3, &s, err, sizeof err) != QB_OK)
        return NULL;
    if (store_migrate(s, NULL, err, sizeof err) != QB_OK) {
        fprintf(stderr, "migrate: %s\n", err);
        store_close(s);
        return NULL;
    }
    return s;
}

static void drop_store(struct store *s)
{
    store_close(s);
    unit_catalogue_drop(dbpath);
}

static int64_t publish(struct store *s, const char *type, const char *plan)
{
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "note", "<b>&\"x\"");
    if (store_events_publish(s, type, plan, NULL, 0, data, &id, err, sizeof err) != QB_OK)
        fprintf(stderr, "publish: %s\n", err);
    cJSON_Delete(data);
    return id;
}

static void test_order_bound_and_lost(void)
{
    struct store *s = fresh_store();
    TEST_ASSERT(s);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(store_events_set_keep(s, 5, err, sizeof err) == QB_OK);
    int64_t newest = -1;
    TEST_EXPECT_INT(store_events_newest(s, &newest, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(newest, 0);

    int64_t ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = publish(s, i % 2 ? "plan.stale" : "verify.failed", "p");
    for (int i = 1; i < 8; i++)
        TEST_EXPECT_INT(ids[i], ids[i - 1] + 1);

    struct store_event **ev = NULL;
    size_t n = 0;
    bool lost = true;
    /* From the start: what the ring holds, the newest 5, in order. */
    TEST_ASSERT(store_events_after(s, 0, 100, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(n, 5);
    TEST_EXPECT(!lost);
    for (size_t i = 0; i < n; i++)
        TEST_EXPECT_INT(ev[i]->id, ids[3 + i]);
    TEST_EXPECT_STR(ev[0]->plan, "p");
    TEST_EXPECT_STR(ev[0]->type, "plan.stale");
    TEST_EXPECT_STR(ev[0]->data, "{\"note\":\"<b>&\\\"x\\\"\"}");
    store_event_list_free(ev, n);

    /* A cursor just before the oldest kept row lost nothing. */
    TEST_ASSERT(store_events_after(s, ids[2], 2, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(n, 2);
    TEST_EXPECT(!lost);
    TEST_EXPECT_INT(ev[0]->id, ids[3]);
    store_event_list_free(ev, n);
    /* One further back lost ids[2]: said so, and the rest is served. */
    TEST_ASSERT(store_events_after(s, ids[1], 100, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_EXPECT(lost);
    TEST_EXPECT_INT(n, 5);
    store_event_list_free(ev, n);
    /* Caught up: nothing, nothing lost. */
    TEST_ASSERT(store_events_after(s, ids[7], 100, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(n, 0);
    TEST_EXPECT(!lost);
    /* A cursor from the future (another catalogue): lost, start over. */
    TEST_ASSERT(store_events_after(s, ids[7] + 100, 100, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_EXPECT(lost);
    TEST_EXPECT_INT(n, 5);
    store_event_list_free(ev, n);

    /* Shrinking the ring prunes at once; ids are never reused. */
    TEST_ASSERT(store_events_set_keep(s, 2, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_events_after(s, 0, 100, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(n, 2);
    store_event_list_free(ev, n);
    TEST_EXPECT_INT(publish(s, "plan.stale", "q"), ids[7] + 1);
    TEST_EXPECT_INT(store_events_set_keep(s, 0, err, sizeof err), QB_ERR_INVALID);

    /* plan.stale of plan p since a time. */
    int64_t last = 0;
    TEST_EXPECT_INT(store_events_last(s, "plan.stale", "q", 0, &last, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(last, ids[7] + 1);
    TEST_EXPECT_INT(store_events_last(s, "plan.stale", "nope", 0, &last, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(last, 0);
    drop_store(s);
}

static const char *types_of(struct store *s, int64_t after, char *out, size_t outlen)
{
    char err[QB_ERRBUF_SIZE];
    struct store_event **ev = NULL;
    size_t n = 0;
    bool lost = false;
    *out = '\0';
    if (store_events_after(s, after, 100, &ev, &n, &lost, err, sizeof err) != QB_OK)
        return out;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", i ? " " : "", ev[i]->type);
    }
    store_event_list_free(ev, n);
    return out;
}

static void test_run_transitions_are_announced(void)
{
    struct store *s = fresh_store();
    TEST_ASSERT(s);
    char err[QB_ERRBUF_SIZE], types[512];
    struct store_run_new nr = {.kind = "backup",
                               .plan_name = "nightly",
                               .trigger = "api",
                               .idempotency_key = "k1",
                               .idempotency_window_s = 3600,
                               .request = "{}"};
    int64_t id = 0;
    bool existing = false;
    TEST_ASSERT(store_run_create(s, &nr, &id, &existing, err, sizeof err) == QB_OK);
    /* The same key again is a replay: no second run.queued. */
    int64_t again = 0;
    TEST_ASSERT(store_run_create(s, &nr, &again, &existing, err, sizeof err) == QB_OK);
    TEST_EXPECT(existing);
    struct store_run *run = NULL;
    TEST_ASSERT(store_run_claim(s, 0, "test-node", &run, err, sizeof err) == QB_OK);
    TEST_ASSERT(run && run->id == id);
    store_run_free(run);
    TEST_ASSERT(store_run_progress(s, id, "transferring", 10, 100, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_run_finish(s, id, "failed", NULL, "boom", err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(types_of(s, 0, types, sizeof types), "run.queued run.started run.failed");

    struct store_event **ev = NULL;
    size_t n = 0;
    bool lost = false;
    TEST_ASSERT(store_events_after(s, 0, 100, &ev, &n, &lost, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 3);
    TEST_EXPECT_STR(ev[2]->plan, "nightly");
    TEST_EXPECT_INT(ev[2]->run_id, id);
    cJSON *d = cJSON_Parse(ev[2]->data);
    TEST_EXPECT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d, "error")), "boom");
    TEST_EXPECT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d, "state")), "failed");
    TEST_EXPECT_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "bytes_done")), 10);
    cJSON_Delete(d);
    int64_t after = ev[2]->id;
    store_event_list_free(ev, n);

    /* A restore, cancelled while queued. */
    struct store_run_new rr = {.kind = "restore", .trigger = "api", .request = "{}"};
    TEST_ASSERT(store_run_create(s, &rr, &id, &existing, err, sizeof err) == QB_OK);
    char *state = NULL;
    TEST_ASSERT(store_run_cancel(s, id, &state, err, sizeof err) == QB_OK);
    free(state);
    TEST_EXPECT_STR(types_of(s, after, types, sizeof types), "restore.queued restore.cancelled");
    drop_store(s);
}

struct waiter {
    struct store *s;
    uint64_t seen;
    bool woken;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->woken = store_events_wait(w->s, w->seen, 10000);
    return NULL;
}

static void test_wait_wakes_on_commit(void)
{
    struct store *s = fresh_store();
    TEST_ASSERT(s);
    /* Nothing happens: the wait times out. */
    uint64_t seq = store_events_seq(s);
    TEST_EXPECT(!store_events_wait(s, seq, 50));

    /* An event published by another thread wakes the waiter. */
    struct waiter w = {.s = s, .seen = store_events_seq(s)};
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, wait_main, &w) == 0);
    int64_t t0 = qb_mono_ms();
    TEST_EXPECT(publish(s, "plan.stale", "p") > 0);
    pthread_join(t, NULL);
    TEST_EXPECT(w.woken);
    TEST_EXPECT(qb_mono_ms() - t0 < 5000); /* not the timeout */

    /* An event written by a trigger (a queued run) wakes too. */
    w.seen = store_events_seq(s);
    w.woken = false;
    TEST_ASSERT(pthread_create(&t, NULL, wait_main, &w) == 0);
    char err[QB_ERRBUF_SIZE];
    struct store_run_new nr = {.kind = "backup", .trigger = "api", .request = "{}"};
    int64_t id = 0;
    bool existing = false;
    TEST_EXPECT(store_run_create(s, &nr, &id, &existing, err, sizeof err) == QB_OK);
    pthread_join(t, NULL);
    TEST_EXPECT(w.woken);
    /* A write to another table does not, on SQLite (its update hook
     * names the table); PostgreSQL's engine wakes on any write, a spurious
     * wake-up costing one read (db.h db_take_events_written). */
    uint64_t before = store_events_seq(s);
    TEST_EXPECT(store_heartbeat(s, err, sizeof err) == QB_OK);
    if (!strstr(dbpath, "://"))
        TEST_EXPECT_INT(store_events_seq(s), before);
    drop_store(s);
}

/* How many events of type there are; *last_at (may be NULL): the time of
 * the newest. */
static int count_type_at(struct store *s, const char *type, int64_t *last_at)
{
    char err[QB_ERRBUF_SIZE];
    struct store_event **ev = NULL;
    size_t n = 0;
    bool lost = false;
    int c = 0;
    if (store_events_after(s, 0, 1000, &ev, &n, &lost, err, sizeof err) != QB_OK)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i]->type, type) == 0) {
            c++;
            if (last_at)
                *last_at = ev[i]->at;
        }
    store_event_list_free(ev, n);
    return c;
}

static int count_type(struct store *s, const char *type)
{
    return count_type_at(s, type, NULL);
}

/* plan.stale: once per stale spell, again after a success goes stale. */
static void test_plan_stale_once_per_spell(void)
{
    struct store *s = fresh_store();
    TEST_ASSERT(s);
    int64_t now = qb_now_ms() / 1000;
    char sql[1024];
    /* Created an hour ago, stale after 10 minutes without a success. */
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (name, url, created_at, updated_at) "
             "VALUES ('i', 'http://i:6333', 0, 0);"
             "INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('d', 'local', 0, 0);"
             "INSERT INTO plans (name, instance_id, destination_id, scope, alert_after_s, "
             "created_at, updated_at) SELECT 'p', i.id, d.id, 'full', 600, %lld, %lld "
             "FROM instances i, destinations d",
             (long long)(now - 3600), (long long)(now - 3600));
    TEST_ASSERT(unit_sql(dbpath, sql));

    scheduler_check_stale(s, now);
    int64_t alerted = 0;
    TEST_EXPECT_INT(count_type_at(s, "plan.stale", &alerted), 1);
    scheduler_check_stale(s, now + 30);
    TEST_EXPECT_INT(count_type(s, "plan.stale"), 1); /* the same spell */

    /* A success ends the spell; once it is older than 600 s, a new one.
     * The alert is dated by the real clock when it was written, which
     * under load can be a second or more after `now`: the success comes
     * after it, as it would in life. */
    char err[QB_ERRBUF_SIZE];
    struct store_run_new nr = {
        .kind = "backup", .plan_name = "p", .trigger = "api", .request = "{}"};
    int64_t id = 0;
    bool existing = false;
    TEST_ASSERT(store_run_create(s, &nr, &id, &existing, err, sizeof err) == QB_OK);
    snprintf(sql, sizeof sql,
             "UPDATE runs SET plan_id = (SELECT id FROM plans WHERE name = 'p'), "
             "state = 'succeeded', started_at = %lld, finished_at = %lld WHERE id = %lld",
             (long long)alerted + 1, (long long)alerted + 1, (long long)id);
    TEST_ASSERT(unit_sql(dbpath, sql));
    scheduler_check_stale(s, alerted + 60);
    TEST_EXPECT_INT(count_type(s, "plan.stale"), 1);
    scheduler_check_stale(s, alerted + 700);
    TEST_EXPECT_INT(count_type(s, "plan.stale"), 2);
    drop_store(s);
}

int main(void)
{
    TEST_RUN(test_order_bound_and_lost);
    TEST_RUN(test_run_transitions_are_announced);
    TEST_RUN(test_wait_wakes_on_commit);
    TEST_RUN(test_plan_stale_once_per_spell);
    return TEST_RESULT();
}
