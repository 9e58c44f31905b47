/* SPDX-License-Identifier: Apache-2.0
 *
 * test_fleet_pg.c -- a fleet (issue 16): three qbackupd on one PostgreSQL
 * catalogue (a fresh database on the server of tests/pg/pg-start.sh), the
 * Qdrant emulator and one local folder they all share.
 *   - exactly one node leads, every node lists the three as alive;
 *   - 200 runs triggered round-robin over the three APIs all succeed, each
 *     executed once (one snapshot create per run in the emulator's log,
 *     one snapshot per run in the catalogue), claimed by all three nodes;
 *   - one Idempotency-Key sent to two nodes at once queues one run;
 *   - a schedule firing every minute on a fast shared clock fires once per
 *     tick, ten ticks without a gap or a double, while the leader is killed
 *     with SIGKILL twice;
 *   - a node killed mid-run: after fleet_dead_after the leader fails the
 *     run as abandoned and, the plan asking for it, a new run is queued and
 *     finished by another node; the catalogue holds one snapshot;
 *   - a download URL minted by one node opens on another;
 *   - a catalogue server nobody listens on: exit 1 naming it, no password.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"
#include "pg_env.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODES 3

static struct emu e;
static struct qbd nodes[NODES];
static bool running[NODES];
static char catalogue[512]; /* the fleet's database URL */

static char keyfile[300], shared[300], anchor[32];
static PGconn *pg;

/* ------------------------------------------------------------- helpers */

static long long sql_int(const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    long long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = atoll(PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "sql_int(%s): %s\n", sql, PQerrorMessage(pg));
    PQclear(res);
    return v;
}

static bool sql_exec(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "sql(%s): %s\n", sql, PQerrorMessage(c));
    PQclear(res);
    return ok;
}

/* url with its database replaced by db. */
static void with_database(const char *url, const char *db, char *out, size_t outlen)
{
    const char *rest = strstr(url, "://") + 3;
    const char *slash = strchr(rest, '/');
    const char *query = strchr(rest, '?');
    size_t head = slash ? (size_t)(slash - url) : query ? (size_t)(query - url) : strlen(url);
    snprintf(out, outlen, "%.*s/%s%s", (int)head, url, db, query ? query : "");
}

static int start_node(int i, const char *const *more)
{
    char name[16], beat[] = "1", dead[] = "3";
    snprintf(name, sizeof name, "node-%d", i + 1);
    const char *args[32] = {"--catalogue",
                            catalogue,
                            "--secrets-key-file",
                            keyfile,
                            "--node-name",
                            name,
                            "--backup-dir",
                            shared,
                            "--qdrant-url",
                            e.url,
                            "--fleet-heartbeat-interval",
                            beat,
                            "--fleet-dead-after",
                            dead,
                            "--workers",
                            "2",
                            "--scheduler-clock-speed",
                            "10",
                            "--scheduler-clock-anchor",
                            anchor};
    size_t n = 20;
    for (size_t k = 0; more && more[k] && n + 1 < QB_ARRAY_LEN(args); k++)
        args[n++] = more[k];
    args[n] = NULL;
    int rc = qbd_start(&nodes[i], args, NULL);
    running[i] = rc == 0;
    return rc;
}

static bool call(int i, const char *method, const char *path, const char *body, long want,
                 struct resp *r)
{
    return qbd_call(&nodes[i], method, path, body, want, r);
}

/* Index of the one node that says it leads, -1 while none or several do. */
static int leader(void)
{
    int found = -1, count = 0;
    for (int i = 0; i < NODES; i++) {
        struct resp r;
        if (!running[i] || qbd_request(&nodes[i], "GET", "/v1/status", NULL, NULL, &r) != 0)
            continue;
        if (r.status == 200 && cJSON_IsTrue(json_path(r.json, "fleet.leader"))) {
            found = i;
            count++;
        }
        resp_free(&r);
    }
    return count == 1 ? found : -1;
}

static bool one_leader(void *ctx)
{
    int *out = ctx;
    *out = leader();
    return *out >= 0;
}

static bool all_listed_alive(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NODES; i++) {
        struct resp r;
        if (qbd_request(&nodes[i], "GET", "/v1/status", NULL, NULL, &r) != 0)
            return false;
        int alive = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, json_path(r.json, "fleet.nodes")) alive +=
            cJSON_IsTrue(json_path(it, "alive"));
        resp_free(&r);
        if (alive != NODES)
            return false;
    }
    return true;
}

struct count_wait {
    const char *sql;
    long long want;
};

static bool count_reaches(void *ctx)
{
    struct count_wait *w = ctx;
    return sql_int(w->sql) >= w->want;
}

/* ------------------------------------------------------------- tests */

static void test_one_leader_three_alive(void)
{
    int l = -1;
    TEST_EXPECT(harness_wait_until(one_leader, &l, 20000));
    TEST_EXPECT(harness_wait_until(all_listed_alive, NULL, 20000));
    struct resp r;
    TEST_ASSERT(call(0, "GET", "/v1/status", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "fleet.catalogue"), "postgres");
    /* Each node's pool names its sessions, so a dead node's can be ended. */
    TEST_EXPECT(sql_int("SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE "
                        "datname = current_database() AND application_name LIKE "
                        "'qbackupd-pool:node-%'") == NODES);
    TEST_EXPECT_STR(json_path_str(r.json, "fleet.node"), "node-1");
    char want[32];
    snprintf(want, sizeof want, "node-%d", l + 1);
    TEST_EXPECT_STR(json_path_str(r.json, "fleet.leader_node"), want);
    resp_free(&r);
    TEST_ASSERT(call(l, "GET", "/metrics", NULL, 200, &r));
    TEST_EXPECT(strstr(r.body, "\nqbackup_fleet_leader 1\n") != NULL);
    resp_free(&r);
    TEST_ASSERT(call((l + 1) % NODES, "GET", "/metrics", NULL, 200, &r));
    TEST_EXPECT(strstr(r.body, "\nqbackup_fleet_leader 0\n") != NULL);
    resp_free(&r);
}

/* Three plans on three instances (one snapshot at a time each, and each
 * on a collection of its own: Qdrant names a snapshot by its second, so
 * two of one collection at once could collide), so three runs go at once
 * and every node can win claims. */
static void test_runs_spread_once_each(void)
{
    struct resp r;
    static const char *const colls[] = {"users", "u2", "u3"};
    char body[256];
    for (int k = 0; k < 3; k++) {
        snprintf(body, sizeof body, "{\"name\":\"w%d\",\"url\":\"%s\"}", k, e.url);
        TEST_ASSERT(call(0, "POST", "/v1/instances", body, 201, &r));
        resp_free(&r);
        snprintf(body, sizeof body,
                 "{\"name\":\"spread%d\",\"instance\":\"w%d\",\"collections\":[\"%s\"]}", k, k,
                 colls[k]);
        TEST_ASSERT(call(0, "POST", "/v1/plans", body, 201, &r));
        resp_free(&r);
    }
    TEST_ASSERT(emu_clear_requests(&e) == 0);
    enum { RUNS = 201 };
    for (int k = 0; k < RUNS; k++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/plans/spread%d/runs", k % 3);
        TEST_ASSERT(call((k / 3) % NODES, "POST", path, NULL, 202, &r));
        resp_free(&r);
    }
#define SPREAD "FROM runs r JOIN plans p ON p.id = r.plan_id WHERE p.name LIKE 'spread%' "
    struct count_wait done = {"SELECT count(*) " SPREAD
                              "AND r.state IN ('succeeded', 'failed', 'partial', 'cancelled')",
                              RUNS};
    TEST_ASSERT(harness_wait_until(count_reaches, &done, 240000));
    TEST_EXPECT_INT(sql_int("SELECT count(*) " SPREAD "AND r.state = 'succeeded'"), RUNS);
    /* Each executed once: one snapshot per run, one Qdrant create per run. */
    TEST_EXPECT_INT(sql_int("SELECT count(*) FROM snapshots s JOIN runs r ON r.id = s.run_id "
                            "JOIN plans p ON p.id = r.plan_id WHERE p.name LIKE 'spread%'"),
                    RUNS);
    TEST_EXPECT_INT(sql_int("SELECT count(DISTINCT s.run_id) FROM snapshots s JOIN runs r ON "
                            "r.id = s.run_id JOIN plans p ON p.id = r.plan_id "
                            "WHERE p.name LIKE 'spread%'"),
                    RUNS);
    cJSON *reqs = emu_requests(&e);
    int creates = 0;
    const cJSON *q;
    cJSON_ArrayForEach(q, reqs)
    {
        const char *m = json_path_str(q, "method"), *p = json_path_str(q, "path");
        for (int k = 0; m && p && k < 3; k++) {
            char create[64];
            int len = snprintf(create, sizeof create, "/collections/%s/snapshots", colls[k]);
            creates += strcmp(m, "POST") == 0 && strncmp(p, create, (size_t)len) == 0 &&
                       (p[len] == '\0' || p[len] == '?');
        }
    }
    cJSON_Delete(reqs);
    TEST_EXPECT_INT(creates, RUNS);
    /* Every node's workers took some. */
    TEST_EXPECT_INT(sql_int("SELECT count(DISTINCT r.owner) " SPREAD), NODES);
#undef SPREAD
}

struct replay {
    int node;
    long status;
    long long id;
};

static void *post_idempotent(void *arg)
{
    struct replay *x = arg;
    struct resp r;
    const char *h[] = {"Idempotency-Key: fleet-key-1", NULL};
    if (qbd_request(&nodes[x->node], "POST", "/v1/plans/spread0/runs", NULL, h, &r) == 0) {
        x->status = r.status;
        x->id = (long long)json_path_num(r.json, "id");
        resp_free(&r);
    }
    return NULL;
}

static void test_idempotency_key_fleet_wide(void)
{
    struct replay a = {.node = 0}, b = {.node = 1};
    pthread_t ta, tb;
    TEST_ASSERT(pthread_create(&ta, NULL, post_idempotent, &a) == 0);
    TEST_ASSERT(pthread_create(&tb, NULL, post_idempotent, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    TEST_EXPECT(a.id > 0);
    TEST_EXPECT(a.id == b.id);
    TEST_EXPECT((a.status == 202 && b.status == 200) || (a.status == 200 && b.status == 202));
    TEST_EXPECT_INT(sql_int("SELECT count(*) FROM runs WHERE idempotency_key = 'fleet-key-1'"), 1);
}

/* The slots of the schedule's runs so far, ascending. */
static int tick_slots(long long *slots, int max)
{
    PGresult *res = PQexec(pg, "SELECT r.scheduled_for FROM runs r JOIN plans p ON "
                               "p.id = r.plan_id WHERE p.name = 'tick' ORDER BY 1");
    int n = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
    for (int i = 0; i < n && i < max; i++)
        slots[i] = atoll(PQgetvalue(res, i, 0));
    PQclear(res);
    return n;
}

struct slots_wait {
    int want;
};

static bool slots_reach(void *ctx)
{
    long long s[64];
    return tick_slots(s, 64) >= ((struct slots_wait *)ctx)->want;
}

/* The newest tick run has ended (so killing a node now interrupts none). */
static bool newest_tick_done(void *ctx)
{
    (void)ctx;
    return sql_int("SELECT count(*) FROM runs r JOIN plans p ON p.id = r.plan_id "
                   "WHERE p.name = 'tick' AND r.state IN ('queued', 'running')") == 0;
}

static void test_schedule_fires_once_per_tick_across_failovers(void)
{
    struct resp r;
    TEST_ASSERT(call(0, "POST", "/v1/plans",
                     "{\"name\":\"tick\",\"collections\":[\"users\"],\"schedule\":\"* * * * *\"}",
                     201, &r));
    resp_free(&r);
    /* A fake minute is 6 s; a failover takes about one poll (1 s). */
    for (int kill_no = 1; kill_no <= 2; kill_no++) {
        struct slots_wait w = {kill_no * 3};
        TEST_ASSERT(harness_wait_until(slots_reach, &w, 60000));
        TEST_ASSERT(harness_wait_until(newest_tick_done, NULL, 30000));
        int l = -1;
        TEST_ASSERT(harness_wait_until(one_leader, &l, 20000));
        TEST_ASSERT(qbd_kill(&nodes[l], SIGKILL) == 0);
        running[l] = false;
        int next = -1;
        TEST_ASSERT(harness_wait_until(one_leader, &next, 20000));
        TEST_EXPECT(next != l);
        /* The killed node comes back as a follower. */
        TEST_ASSERT(qbd_restart(&nodes[l]) == 0);
        running[l] = true;
    }
    struct slots_wait ten = {10};
    TEST_ASSERT(harness_wait_until(slots_reach, &ten, 90000));
    TEST_ASSERT(call(0, "PUT", "/v1/plans/tick",
                     "{\"collections\":[\"users\"],\"schedule\":\"* * * * *\",\"enabled\":false}",
                     200, &r));
    resp_free(&r);
    long long slots[64];
    int n = tick_slots(slots, 64);
    TEST_EXPECT(n >= 10);
    for (int i = 1; i < n && i < 64; i++)
        if (slots[i] - slots[i - 1] != 60)
            TEST_FAIL_AT(__FILE__, __LINE__, "slots %lld and %lld are not one minute apart",
                         slots[i - 1], slots[i]);
}

struct run_wait {
    long long id;
    const char *state;
};

static bool run_in(void *ctx)
{
    struct run_wait *w = ctx;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = %lld AND state = '%s'", w->id,
             w->state);
    return sql_int(sql) == 1;
}

static void test_dead_node_run_taken_over(void)
{
    struct resp r;
    TEST_ASSERT(call(0, "POST", "/v1/plans",
                     "{\"name\":\"orphan\",\"collections\":[\"big\"],"
                     "\"requeue_interrupted\":true}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"throttle\",\"bytes_per_sec\":1048576,\"count\":0,"
                              "\"path_prefix\":\"/collections/big/snapshots/\"}") == 0);
    TEST_ASSERT(call(1, "POST", "/v1/plans/orphan/runs", NULL, 202, &r));
    long long id = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    struct run_wait moving = {id, "running"};
    TEST_ASSERT(harness_wait_until(run_in, &moving, 30000));
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT substr(owner, 6)::int - 1 FROM runs WHERE id = %lld", id);
    long long owner = sql_int(sql);
    TEST_ASSERT(owner >= 0 && owner < NODES);
    TEST_ASSERT(qbd_kill(&nodes[owner], SIGKILL) == 0);
    running[owner] = false;
    TEST_ASSERT(emu_clear_faults(&e) == 0);
    struct run_wait failed = {id, "failed"};
    TEST_ASSERT(harness_wait_until(run_in, &failed, 30000));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM runs WHERE id = %lld AND error LIKE '%%stopped heartbeating%%'",
             id);
    TEST_EXPECT_INT(sql_int(sql), 1);
    struct count_wait again = {"SELECT count(*) FROM runs r JOIN plans p ON p.id = r.plan_id "
                               "WHERE p.name = 'orphan' AND r.state = 'succeeded'",
                               1};
    TEST_ASSERT(harness_wait_until(count_reaches, &again, 60000));
    TEST_EXPECT_INT(sql_int("SELECT count(*) FROM snapshots s JOIN runs r ON r.id = s.run_id "
                            "JOIN plans p ON p.id = r.plan_id WHERE p.name = 'orphan'"),
                    1);
    TEST_ASSERT(qbd_restart(&nodes[owner]) == 0);
    running[owner] = true;
}

/* A node paused (not dead) past fleet_dead_after has its run adopted and
 * requeued; when it wakes, its worker finds the run settled and stops:
 * the plan ends with one snapshot, from the requeued run. */
static void test_paused_node_stops_adopted_run(void)
{
    struct resp r;
    TEST_ASSERT(call(0, "POST", "/v1/plans",
                     "{\"name\":\"paused\",\"collections\":[\"big\"],"
                     "\"requeue_interrupted\":true}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"throttle\",\"bytes_per_sec\":1048576,\"count\":0,"
                              "\"path_prefix\":\"/collections/big/snapshots/\"}") == 0);
    /* The leader's lock session would stay with a paused leader (its
     * connection is alive): pause a worker that is not the leader.  A run
     * triggered on a node wakes that node's workers first. */
    long long id = 0, owner = -1;
    int l = -1;
    TEST_ASSERT(harness_wait_until(one_leader, &l, 20000));
    for (int attempt = 0; attempt < 5 && (owner < 0 || owner == l); attempt++) {
        if (id) { /* the leader took it: let it end and try again */
            char path[64];
            snprintf(path, sizeof path, "/v1/runs/%lld/cancel", id);
            TEST_ASSERT(call(0, "POST", path, NULL, 202, &r));
            resp_free(&r);
            struct run_wait ended = {id, "cancelled"};
            TEST_ASSERT(harness_wait_until(run_in, &ended, 30000));
        }
        TEST_ASSERT(call((l + 1) % NODES, "POST", "/v1/plans/paused/runs", NULL, 202, &r));
        id = (long long)json_path_num(r.json, "id");
        resp_free(&r);
        struct run_wait moving = {id, "running"};
        TEST_ASSERT(harness_wait_until(run_in, &moving, 30000));
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT substr(owner, 6)::int - 1 FROM runs WHERE id = %lld", id);
        owner = sql_int(sql);
    }
    TEST_ASSERT(owner >= 0 && owner != l);
    TEST_ASSERT(kill(nodes[owner].pid, SIGSTOP) == 0);
    struct run_wait failed = {id, "failed"};
    bool adopted = harness_wait_until(run_in, &failed, 30000);
    TEST_ASSERT(emu_clear_faults(&e) == 0);
    struct count_wait again = {"SELECT count(*) FROM runs r JOIN plans p ON p.id = r.plan_id "
                               "WHERE p.name = 'paused' AND r.state = 'succeeded'",
                               1};
    bool requeued = adopted && harness_wait_until(count_reaches, &again, 120000);
    TEST_ASSERT(kill(nodes[owner].pid, SIGCONT) == 0);
    TEST_ASSERT(adopted);
    TEST_ASSERT(requeued);
    /* The adopter ended the paused node's sessions first: a transaction
     * of it left open (an event, a claim) holds no lock the others wait on. */
    bool ended = false;
    for (int i = 0; i < NODES; i++)
        ended |= i != owner && qbd_log_contains(&nodes[i], "event=recovery.sessions_ended");
    TEST_EXPECT(ended);
    /* Awake, its worker stops at its next checkpoint, catalogues nothing. */
    char line[96];
    snprintf(line, sizeof line, "event=run.end run=%lld state=cancelled", id);
    TEST_EXPECT(qbd_wait_log(&nodes[owner], line, 30000));
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM snapshots WHERE run_id = %lld", id);
    TEST_EXPECT_INT(sql_int(sql), 0);
    TEST_EXPECT_INT(sql_int("SELECT count(*) FROM snapshots s JOIN runs r ON r.id = s.run_id "
                            "JOIN plans p ON p.id = r.plan_id WHERE p.name = 'paused'"),
                    1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = %lld AND state = 'failed'", id);
    TEST_EXPECT_INT(sql_int(sql), 1);
}

/* Every connection to the catalogue cut while a run is going (what a
 * PostgreSQL restart or failover does to its clients): the run still ends
 * with its snapshot catalogued once, and the nodes keep serving. */
static void test_catalogue_connections_cut_mid_run(void)
{
    struct resp r;
    TEST_ASSERT(call(0, "POST", "/v1/plans",
                     "{\"name\":\"cut\",\"collections\":[\"big\"],\"requeue_interrupted\":true}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"throttle\",\"bytes_per_sec\":2097152,\"count\":0,"
                              "\"path_prefix\":\"/collections/big/snapshots/\"}") == 0);
    TEST_ASSERT(call(0, "POST", "/v1/plans/cut/runs", NULL, 202, &r));
    long long id = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    /* Mid-transfer: bytes moved, not all of them. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM runs WHERE id = %lld AND state = 'running' AND bytes_done > 0",
             id);
    struct count_wait moving = {sql, 1};
    TEST_ASSERT(harness_wait_until(count_reaches, &moving, 30000));
    TEST_ASSERT(sql_exec(pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"));
    TEST_ASSERT(emu_clear_faults(&e) == 0);
    struct count_wait done = {"SELECT count(*) FROM runs r JOIN plans p ON p.id = r.plan_id "
                              "WHERE p.name = 'cut' AND r.state = 'succeeded'",
                              1};
    TEST_EXPECT(harness_wait_until(count_reaches, &done, 90000));
    TEST_EXPECT_INT(sql_int("SELECT count(*) FROM snapshots s JOIN runs r ON r.id = s.run_id "
                            "JOIN plans p ON p.id = r.plan_id WHERE p.name = 'cut'"),
                    1);
    for (int i = 0; i < NODES; i++) {
        TEST_EXPECT(call(i, "GET", "/v1/plans/cut", NULL, 200, &r));
        resp_free(&r);
    }
    int l = -1;
    TEST_EXPECT(harness_wait_until(one_leader, &l, 20000));
}

/* A leader that hangs without dying keeps its lock session open; once its
 * heartbeat is older than fleet_dead_after a follower ends that session
 * and leads.  Woken, the old leader finds its lock gone and follows. */
/* One node says it leads and every node's view of the lock (the server's
 * pg_locks, asked at each poll) names it: no session ended a moment ago
 * is still believed in. */
static bool settled_leader(void *ctx)
{
    int *out = ctx;
    if (!one_leader(out))
        return false;
    char want[32];
    snprintf(want, sizeof want, "node-%d", *out + 1);
    for (int i = 0; i < NODES; i++) {
        struct resp r;
        if (qbd_request(&nodes[i], "GET", "/v1/status", NULL, NULL, &r) != 0)
            return false;
        const char *holder = json_path_str(r.json, "fleet.leader_node");
        bool same = holder && strcmp(holder, want) == 0;
        resp_free(&r);
        if (!same)
            return false;
    }
    return true;
}

static void test_hung_leader_fenced(void)
{
    int l = -1;
    TEST_ASSERT(harness_wait_until(settled_leader, &l, 20000));
    /* The server itself says that node's session holds the lock. */
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
             "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = "
             "'qbackupd:node-%d'",
             l + 1);
    struct count_wait holds = {sql, 1};
    TEST_ASSERT(harness_wait_until(count_reaches, &holds, 20000));
    TEST_ASSERT(kill(nodes[l].pid, SIGSTOP) == 0);
    running[l] = false; /* leader() must not wait on it */
    int next = -1;
    bool took_over = harness_wait_until(one_leader, &next, 30000);
    TEST_ASSERT(kill(nodes[l].pid, SIGCONT) == 0);
    running[l] = true;
    TEST_ASSERT(took_over);
    TEST_EXPECT(next != l);
    /* A follower ended its session (any: the next poll decides who leads). */
    bool fenced = false;
    for (int i = 0; i < NODES; i++)
        fenced |= i != l && qbd_log_contains(&nodes[i], "event=fleet.leader_fenced");
    TEST_EXPECT(fenced);
    /* All three answering again: still one leader, the new one. */
    int now = -1;
    TEST_EXPECT(harness_wait_until(one_leader, &now, 20000));
    TEST_EXPECT(now == next);
    TEST_EXPECT(qbd_wait_log(&nodes[l], "event=fleet.follower", 20000));
}

/* The limit a run of "capped" on node 2 reports. */
static bool capped_at_a_third(void *ctx)
{
    (void)ctx;
    struct resp r;
    bool third = call(1, "POST", "/v1/plans/capped/runs?wait=60", NULL, 200, &r) &&
                 json_path_num(r.json, "results.0.rate.limit_bytes_per_second") == 1048576 &&
                 json_path_str(r.json, "results.0.rate.limited_by") &&
                 strcmp(json_path_str(r.json, "results.0.rate.limited_by"), "plan") == 0;
    resp_free(&r);
    return third;
}

/* A byte-rate limit holds for the fleet: with three live nodes each keeps
 * to a third of it (re-read every 10 s, so a share taken while a node
 * looked late is corrected), which the run's result reports. */
static void test_rate_limit_shared_out(void)
{
    struct resp r;
    TEST_ASSERT(call(0, "POST", "/v1/plans",
                     "{\"name\":\"capped\",\"collections\":[\"u2\"],"
                     "\"max_bytes_per_second\":3145728}",
                     201, &r));
    resp_free(&r);
    TEST_EXPECT(harness_wait_until(all_listed_alive, NULL, 20000));
    TEST_EXPECT(harness_wait_until(capped_at_a_third, NULL, 40000));
}

static void test_download_url_opens_on_another_node(void)
{
    struct resp r;
    long long snap = sql_int("SELECT max(s.id) FROM snapshots s JOIN runs r ON r.id = s.run_id "
                             "JOIN plans p ON p.id = r.plan_id WHERE p.name = 'spread0'");
    TEST_ASSERT(snap > 0);
    char body[256];
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%lld,\"method\":\"url\",\"target_collection\":\"users_copy\"}",
             snap);
    TEST_ASSERT(call(0, "POST", "/v1/restores?wait=60", body, 200, &r));
    resp_free(&r);
    char url[1024];
    TEST_ASSERT(emu_last_recover_url(&e, url, sizeof url));
    const char *path = strstr(url, "/v1/snapshots/");
    TEST_ASSERT(path != NULL);
    char other[1200];
    snprintf(other, sizeof other, "http://127.0.0.1:%d%s", nodes[2].port, path);
    TEST_ASSERT(harness_http("GET", other, NULL, NULL, 30, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
}

static void test_unreachable_catalogue_exits(void)
{
    struct qbd d;
    memset(&d, 0, sizeof d);
    snprintf(d.dir, sizeof d.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d.dir) != NULL);
    snprintf(d.log_path, sizeof d.log_path, "%s/qbackupd.log", d.dir);
    const char *const args[] = {
        "serve", "--catalogue", "postgres://qb:sekret-pw@127.0.0.1:1/qb", "--secrets-key-file",
        keyfile, NULL};
    TEST_EXPECT_INT(qbd_run(&d, args, NULL), 1);
    TEST_EXPECT(qbd_log_contains(&d, "127.0.0.1"));
    TEST_EXPECT(!qbd_log_contains(&d, "sekret-pw"));
    qbd_cleanup(&d);
}

static char db[64];
static PGconn *admin;
static bool ready;

/* The fleet's database, the emulator, the shared folder and key, and the
 * three nodes. */
static void set_up(const char *url)
{
    snprintf(db, sizeof db, "qb_fleet_%d", (int)getpid());
    with_database(url, db, catalogue, sizeof catalogue);
    admin = PQconnectdb(url);
    TEST_ASSERT(PQstatus(admin) == CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    TEST_ASSERT(sql_exec(admin, sql));
    pg = PQconnectdb(catalogue);
    TEST_ASSERT(PQstatus(pg) == CONNECTION_OK);

    TEST_ASSERT(emu_start(&e, NULL) == 0);
    TEST_ASSERT(emu_create_collection(&e, "users", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "users", 50, 1) == 0);
    TEST_ASSERT(emu_create_collection(&e, "u2", 4) == 0 && emu_upsert(&e, "u2", 20, 2) == 0);
    TEST_ASSERT(emu_create_collection(&e, "u3", 4) == 0 && emu_upsert(&e, "u3", 20, 3) == 0);
    TEST_ASSERT(emu_create_collection(&e, "big", 4) == 0);
    TEST_ASSERT(emu_fill(&e, "big", 8) == 0);
    snprintf(shared, sizeof shared, "/tmp/qbackup-fleet-XXXXXX");
    TEST_ASSERT(mkdtemp(shared) != NULL);
    snprintf(keyfile, sizeof keyfile, "%.250s.key", shared);
    TEST_ASSERT(qbd_write_key_file(keyfile, NULL, 0));
    snprintf(anchor, sizeof anchor, "%lld", (long long)(qb_now_ms() / 1000));
    for (int i = 0; i < NODES; i++)
        TEST_ASSERT(start_node(i, NULL) == 0);
    ready = true;
}

static void tear_down(void)
{
    for (int i = 0; i < NODES; i++) {
        if (running[i])
            TEST_EXPECT_INT(qbd_stop(&nodes[i]), 0);
        qbd_cleanup(&nodes[i]);
    }
    if (e.pid > 0)
        TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    PQfinish(pg);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    if (admin)
        (void)sql_exec(admin, sql);
    PQfinish(admin);
    unlink(keyfile);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", shared);
    if (shared[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", shared);
}

int main(void)
{
    const char *url = NULL;
    int skip = pg_env_load(&url);
    if (skip)
        return skip;
    set_up(url);
    if (ready) {
        TEST_RUN(test_one_leader_three_alive);
        TEST_RUN(test_runs_spread_once_each);
        TEST_RUN(test_idempotency_key_fleet_wide);
        TEST_RUN(test_download_url_opens_on_another_node);
        TEST_RUN(test_rate_limit_shared_out);
        TEST_RUN(test_schedule_fires_once_per_tick_across_failovers);
        TEST_RUN(test_dead_node_run_taken_over);
        TEST_RUN(test_paused_node_stops_adopted_run);
        TEST_RUN(test_catalogue_connections_cut_mid_run);
        TEST_RUN(test_hung_leader_fenced);
        TEST_RUN(test_unreachable_catalogue_exits);
    }
    tear_down();
    return TEST_RESULT();
}
