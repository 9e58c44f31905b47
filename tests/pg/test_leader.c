/* SPDX-License-Identifier: Apache-2.0
 *
 * test_leader.c -- the fleet's leadership (src/fleet/leader.h) against a
 * real PostgreSQL (tests/pg/pg-start.sh; QB_PG_URL): two candidates in one
 * process on two connections, exactly one leads; the leader's session
 * killed from a third connection is noticed on its next poll and the other
 * takes over on its next one; a leader whose server stops answering gives
 * up within its timeout; an unreachable server is an error, never
 * leadership.  Each test uses its own lock key, so tests cannot see each
 * other's sessions.  ASan's leak check covers connections and results.
 */
#include "unit.h"

#include "common.h"
#include "fleet/leader.h"
#include "pg_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *url;
static int64_t next_key = INT64_C(0x71626b7000100000);

static struct leader *candidate(const char *identity, int64_t key, int timeout_ms)
{
    struct leader_config cfg = {
        .conninfo = url, .key = key, .identity = identity, .timeout_ms = timeout_ms};
    struct leader *l = NULL;
    char err[QB_ERRBUF_SIZE];
    if (leader_create(&cfg, &l, err, sizeof err))
        fprintf(stderr, "leader_create: %s\n", err);
    return l;
}

/* One poll; returns whether l leads afterwards, printing a failure. */
static bool poll1(struct leader *l, enum qb_err *rc_out)
{
    bool lead = true;
    char err[QB_ERRBUF_SIZE] = "";
    enum qb_err rc = leader_poll(l, &lead, err, sizeof err);
    if (rc)
        fprintf(stderr, "  poll: %s\n", err);
    if (rc_out)
        *rc_out = rc;
    return lead;
}

/* ------------------------------------------------------------------ tests */

static void test_exactly_one_leads(void)
{
    int64_t key = next_key++;
    struct leader *a = candidate("a", key, 3000), *b = candidate("b", key, 3000);
    TEST_ASSERT(a && b);
    bool la = poll1(a, NULL), lb = poll1(b, NULL);
    TEST_EXPECT(la && !lb);
    /* Polls keep it that way, whatever the order. */
    for (int i = 0; i < 3; i++) {
        lb = poll1(b, NULL);
        la = poll1(a, NULL);
        TEST_EXPECT(la && !lb);
    }
    struct leader_info ia, ib;
    leader_info(a, &ia);
    leader_info(b, &ib);
    TEST_EXPECT(ia.leader && ia.connected);
    TEST_EXPECT(!ib.leader && ib.connected);
    TEST_EXPECT_STR(ia.holder, "qbackupd:a");
    /* The follower knows who leads: the leader's backend and name. */
    TEST_EXPECT_STR(ib.holder, "qbackupd:a");
    TEST_EXPECT(ib.holder_pid > 0);
    TEST_EXPECT_INT(ib.holder_pid, ia.holder_pid);
    TEST_EXPECT_STR(ib.last_error, "");
    /* The leader leaving (destroy closes its session) frees the lock for
     * the other's next poll. */
    leader_destroy(a);
    TEST_EXPECT(poll1(b, NULL));
    leader_info(b, &ib);
    TEST_EXPECT(ib.leader);
    TEST_EXPECT_STR(ib.holder, "qbackupd:b");
    leader_destroy(b);
}

static void test_killed_session_hands_over(void)
{
    int64_t key = next_key++;
    struct leader *a = candidate("a", key, 3000), *b = candidate("b", key, 3000);
    TEST_ASSERT(a && b);
    TEST_ASSERT(poll1(a, NULL));
    TEST_ASSERT(!poll1(b, NULL));
    struct leader_info ia;
    leader_info(a, &ia);
    TEST_ASSERT(ia.holder_pid > 0);
    /* An operator (or a failover of the server's network) ends a's
     * session; pg_terminate_backend with a timeout returns once the
     * backend has exited, so its locks are gone. */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld, 10000)", (long long)ia.holder_pid);
    TEST_ASSERT(pg_admin_exec(url, sql));
    /* b takes over on its very next poll ... */
    TEST_EXPECT(poll1(b, NULL));
    /* ... and a reports the loss on its next poll, with the reason. */
    enum qb_err rc = QB_OK;
    TEST_EXPECT(!poll1(a, &rc));
    TEST_EXPECT_INT(rc, QB_ERR_TRANSIENT);
    leader_info(a, &ia);
    TEST_EXPECT(!ia.leader && !ia.connected);
    TEST_EXPECT(ia.last_error[0] != '\0');
    /* a comes back as a follower that sees b lead. */
    TEST_EXPECT(!poll1(a, &rc));
    TEST_EXPECT_INT(rc, QB_OK);
    leader_info(a, &ia);
    TEST_EXPECT(ia.connected);
    TEST_EXPECT_STR(ia.holder, "qbackupd:b");
    TEST_EXPECT(poll1(b, NULL));
    leader_destroy(a);
    leader_destroy(b);
}

/* The leader's server stops answering (its backend is frozen with
 * SIGSTOP: what a partitioned network looks like from the client): the
 * poll gives up within the leader's timeout instead of waiting for TCP,
 * and leadership ends at once.  Once the frozen session is gone, the
 * other candidate takes over. */
static void test_silent_server_ends_leadership(void)
{
    int64_t key = next_key++;
    struct leader *a = candidate("a", key, 500), *b = candidate("b", key, 3000);
    TEST_ASSERT(a && b);
    TEST_ASSERT(poll1(a, NULL));
    struct leader_info ia;
    leader_info(a, &ia);
    pid_t backend = (pid_t)ia.holder_pid;
    TEST_ASSERT(backend > 0);
    if (kill(backend, SIGSTOP) != 0) {
        /* Not allowed to signal the server's processes (another user):
         * the case cannot be set up here. */
        fprintf(stderr, "  cannot SIGSTOP the backend (%s): case skipped\n", strerror(errno));
        leader_destroy(a);
        leader_destroy(b);
        return;
    }
    enum qb_err rc = QB_OK;
    char err[QB_ERRBUF_SIZE] = "";
    bool lead = true;
    rc = leader_poll(a, &lead, err, sizeof err);
    kill(backend, SIGCONT);
    TEST_EXPECT(!lead);
    TEST_EXPECT_INT(rc, QB_ERR_TRANSIENT);
    TEST_EXPECT(strstr(err, "no answer") != NULL);
    /* The continued backend finds its client gone and exits, releasing
     * the lock; b's polls take it (polled, not slept for). */
    bool lb = false;
    for (int i = 0; i < 200 && !lb; i++) {
        lb = poll1(b, NULL);
        if (!lb)
            qb_sleep_ms(50);
    }
    TEST_EXPECT(lb);
    leader_destroy(a);
    leader_destroy(b);
}

static void test_unreachable_server(void)
{
    /* A port nothing listens on: refused at once. */
    struct leader_config cfg = {.conninfo = "postgresql://qbackup@127.0.0.1:1/qbackup",
                                .key = next_key++,
                                .identity = "x",
                                .timeout_ms = 1000};
    struct leader *l = NULL;
    char err[QB_ERRBUF_SIZE] = "";
    TEST_ASSERT(leader_create(&cfg, &l, err, sizeof err) == QB_OK);
    bool lead = true;
    TEST_EXPECT_INT(leader_poll(l, &lead, err, sizeof err), QB_ERR_TRANSIENT);
    TEST_EXPECT(!lead);
    TEST_EXPECT(strstr(err, "cannot connect to PostgreSQL") != NULL);
    struct leader_info info;
    leader_info(l, &info);
    TEST_EXPECT(!info.leader && !info.connected);
    TEST_EXPECT(strstr(info.last_error, "cannot connect") != NULL);
    leader_destroy(l);

    /* A listener that never answers the startup packet: libpq's
     * connect_timeout ends the wait. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    TEST_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 4) == 0);
    TEST_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    char mute[96];
    snprintf(mute, sizeof mute, "postgresql://qbackup@127.0.0.1:%u/qbackup",
             (unsigned)ntohs(sa.sin_port));
    cfg.conninfo = mute;
    TEST_ASSERT(leader_create(&cfg, &l, err, sizeof err) == QB_OK);
    lead = true;
    TEST_EXPECT_INT(leader_poll(l, &lead, err, sizeof err), QB_ERR_TRANSIENT);
    TEST_EXPECT(!lead);
    TEST_EXPECT(strstr(err, "cannot connect") != NULL);
    leader_destroy(l);
    close(fd);

    /* Bad configuration is refused before any connection. */
    cfg.conninfo = "";
    TEST_EXPECT_INT(leader_create(&cfg, &l, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(l == NULL);
}

/* leader_info from another thread (the /v1/status handler's) while the
 * owner polls: under TSan (scripts/test runs needs:pg there too) a data
 * race fails the test. */
struct reader {
    struct leader *l;
    pthread_mutex_t lock;
    bool stop;
    int reads;
};

static void *read_info(void *arg)
{
    struct reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        struct leader_info info;
        leader_info(r->l, &info);
        r->reads += info.since > 0;
    }
    return NULL;
}

static void test_info_from_another_thread(void)
{
    struct reader r = {.l = candidate("a", next_key++, 3000)};
    TEST_ASSERT(r.l);
    pthread_mutex_init(&r.lock, NULL);
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, read_info, &r) == 0);
    int leads = 0;
    for (int i = 0; i < 20; i++)
        leads += poll1(r.l, NULL);
    pthread_mutex_lock(&r.lock);
    r.stop = true;
    pthread_mutex_unlock(&r.lock);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&r.lock);
    TEST_EXPECT_INT(leads, 20);
    TEST_EXPECT(r.reads > 0);
    leader_destroy(r.l);
}

/* Every candidate was destroyed: no session of ours is left on the
 * server (each closes its connection; the server ends a backend a moment
 * after its client left, so this is polled). */
static void test_no_session_left(void)
{
    PGconn *c = PQconnectdb(url);
    TEST_ASSERT(PQstatus(c) == CONNECTION_OK);
    long left = -1;
    for (int i = 0; i < 200 && left != 0; i++) {
        PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity "
                                "WHERE application_name LIKE 'qbackupd:%'");
        left = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
        PQclear(r);
        if (left != 0)
            qb_sleep_ms(50);
    }
    PQfinish(c);
    TEST_EXPECT_INT(left, 0);
}

int main(void)
{
    int skip = pg_env_load(&url);
    if (skip)
        return skip;
    TEST_RUN(test_exactly_one_leads);
    TEST_RUN(test_killed_session_hands_over);
    TEST_RUN(test_silent_server_ends_leadership);
    TEST_RUN(test_unreachable_server);
    TEST_RUN(test_info_from_another_thread);
    TEST_RUN(test_no_session_left);
    return TEST_RESULT();
}
