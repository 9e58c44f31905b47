/* SPDX-License-Identifier: Apache-2.0
 *
 * leader.c -- the fleet's leadership by a PostgreSQL advisory lock
 * (leader.h states the protocol and its limits).  Owns one libpq
 * connection and the small published state leader_info() copies.
 *
 * Invariant: while connected and not leader, this session does not hold
 * the lock.  Any failure of a round trip closes the connection, because a
 * query that timed out may still have taken the lock on the server (the
 * reply was what got lost); closing the session is the one way to be sure
 * it is released.
 */
#include "fleet/leader.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct leader {
    /* Owner thread only. */
    char *conninfo;
    char app_name[64]; /* "qbackupd:<identity>" */
    char key_hi[16];   /* the lock key as pg_locks shows it: classid ... */
    char key_lo[16];   /* ... and objid (objsubid 1: a bigint key) */
    char key[24];      /* the key for pg_try_advisory_lock */
    int timeout_ms;
    PGconn *conn; /* NULL: not connected */
    bool leader;

    pthread_mutex_t lock; /* guards info, and nothing else */
    struct leader_info info;
};

/* Whether pg_locks shows the lock held, and by whom: the same filter for
 * "do I still hold it" and "who holds it".  Advisory locks belong to one
 * database; a bigint key shows as classid (high half), objid (low half)
 * and objsubid 1. */
#define LOCK_ROW                                                                                   \
    "FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"                                  \
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"           \
    " AND l.classid::bigint = $1::bigint AND l.objid::bigint = $2::bigint AND l.objsubid = 1"

static const char sql_still_held[] = "SELECT count(*) " LOCK_ROW " AND l.pid = pg_backend_pid()";
static const char sql_holder[] =
    "SELECT l.pid, coalesce((SELECT a.application_name FROM pg_stat_activity a"
    " WHERE a.pid = l.pid), '') " LOCK_ROW " LIMIT 1";
static const char sql_try_lock[] = "SELECT pg_try_advisory_lock($1::bigint)";
static const char sql_unlock[] = "SELECT pg_advisory_unlock($1::bigint)";

static void publish(struct leader *l, const char *last_error, int64_t holder_pid,
                    const char *holder)
{
    pthread_mutex_lock(&l->lock);
    if (l->info.leader != l->leader)
        l->info.since = qb_now_ms() / 1000;
    l->info.leader = l->leader;
    l->info.connected = l->conn != NULL;
    if (last_error)
        qb_strlcpy(l->info.last_error, last_error, sizeof l->info.last_error);
    if (holder) {
        l->info.holder_pid = holder_pid;
        qb_strlcpy(l->info.holder, holder, sizeof l->info.holder);
    }
    pthread_mutex_unlock(&l->lock);
}

enum qb_err leader_create(const struct leader_config *cfg, struct leader **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    if (!cfg->conninfo || !*cfg->conninfo)
        return qb_failf(QB_ERR_INVALID, err, errlen, "leader: no PostgreSQL connection string");
    if (!cfg->identity || !*cfg->identity)
        return qb_failf(QB_ERR_INVALID, err, errlen, "leader: no instance identity");
    struct leader *l = xcalloc(1, sizeof *l);
    l->conninfo = xstrdup(cfg->conninfo);
    snprintf(l->app_name, sizeof l->app_name, "qbackupd:%.48s", cfg->identity);
    uint64_t k = (uint64_t)cfg->key;
    snprintf(l->key_hi, sizeof l->key_hi, "%" PRIu64, k >> 32);
    snprintf(l->key_lo, sizeof l->key_lo, "%" PRIu64, k & 0xffffffffu);
    snprintf(l->key, sizeof l->key, "%" PRId64, cfg->key);
    l->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    pthread_mutex_init(&l->lock, NULL);
    l->info.since = qb_now_ms() / 1000;
    *out = l;
    return QB_OK;
}

static void disconnect(struct leader *l)
{
    if (l->conn)
        PQfinish(l->conn);
    l->conn = NULL;
}

/* libpq's messages end in a newline (and may hold several lines): the
 * first line, for one-line logs and errors. */
static void first_line(char *dst, size_t len, const char *msg)
{
    qb_strlcpy(dst, msg && *msg ? msg : "unknown error", len);
    dst[strcspn(dst, "\n")] = '\0';
}

static enum qb_err conn_fail(struct leader *l, const char *what, char *err, size_t errlen)
{
    char msg[256];
    first_line(msg, sizeof msg, l->conn ? PQerrorMessage(l->conn) : NULL);
    disconnect(l);
    return qb_failf(QB_ERR_TRANSIENT, err, errlen, "leader: %s: %s", what, msg);
}

static enum qb_err connect_db(struct leader *l, char *err, size_t errlen)
{
    /* connect_timeout is whole seconds, at least 2 (libpq's minimum). */
    char connect_s[16], user_timeout[16];
    snprintf(connect_s, sizeof connect_s, "%d", l->timeout_ms < 2000 ? 2 : l->timeout_ms / 1000);
    snprintf(user_timeout, sizeof user_timeout, "%d", l->timeout_ms);
    /* dbname first, expanded: the keywords after it override what the
     * connection string says about them.  No statement_timeout: the
     * queries never wait on the server (pg_try_advisory_lock does not
     * block), and the client's own bound covers a server that does not
     * answer; the operator's "options" in the URL are left alone. */
    const char *const keys[] = {"dbname",           "application_name", "connect_timeout",
                                "keepalives",       "keepalives_idle",  "keepalives_interval",
                                "keepalives_count", "tcp_user_timeout", NULL};
    const char *const vals[] = {l->conninfo, l->app_name, connect_s,    "1", "10",
                                "5",         "3",         user_timeout, NULL};
    l->conn = PQconnectdbParams(keys, vals, 1);
    if (!l->conn)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "leader: out of memory in libpq");
    if (PQstatus(l->conn) != CONNECTION_OK)
        return conn_fail(l, "cannot connect to PostgreSQL", err, errlen);
    return QB_OK;
}

/* Waits for the socket to be readable until deadline (monotonic ms) and
 * reads what arrived.  QB_ERR_TRANSIENT when the time is up or the
 * connection failed. */
static enum qb_err wait_input(struct leader *l, int64_t deadline, const char *what, char *err,
                              size_t errlen)
{
    while (PQisBusy(l->conn)) {
        int64_t left = deadline - qb_mono_ms();
        if (left <= 0) {
            disconnect(l);
            return qb_failf(QB_ERR_TRANSIENT, err, errlen,
                            "leader: %s: no answer from PostgreSQL within %d ms", what,
                            l->timeout_ms);
        }
        if (PQsocket(l->conn) < 0) /* libpq closed it: poll would just time out */
            return conn_fail(l, what, err, errlen);
        struct pollfd pfd = {.fd = PQsocket(l->conn), .events = POLLIN};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno != EINTR) {
            disconnect(l);
            return qb_failf(QB_ERR_TRANSIENT, err, errlen, "leader: %s: poll: %s", what,
                            strerror(errno));
        }
        if (n > 0 && !PQconsumeInput(l->conn))
            return conn_fail(l, what, err, errlen);
    }
    return QB_OK;
}

/* Runs sql with two or one text parameters, bounded by the timeout, and
 * returns its one result (a row set) in *out; caller PQclears it.  On any
 * failure the connection is closed. */
static enum qb_err roundtrip(struct leader *l, const char *sql, int nparams,
                             const char *const *params, PGresult **out, const char *what, char *err,
                             size_t errlen)
{
    *out = NULL;
    if (!PQsendQueryParams(l->conn, sql, nparams, NULL, params, NULL, NULL, 0))
        return conn_fail(l, what, err, errlen);
    int64_t deadline = qb_mono_ms() + l->timeout_ms;
    enum qb_err rc = QB_OK;
    PGresult *first = NULL;
    for (;;) {
        rc = wait_input(l, deadline, what, err, errlen);
        if (rc)
            break;
        PGresult *res = PQgetResult(l->conn);
        if (!res)
            break;
        if (!first)
            first = res;
        else
            PQclear(res);
    }
    if (!rc && (!first || PQresultStatus(first) != PGRES_TUPLES_OK || PQntuples(first) < 1)) {
        char msg[256];
        first_line(msg, sizeof msg,
                   first ? PQresultErrorMessage(first)
                         : (l->conn ? PQerrorMessage(l->conn) : NULL));
        disconnect(l);
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen, "leader: %s: %s", what,
                      *msg ? msg : "no row in the answer");
    }
    if (rc) {
        PQclear(first);
        return rc;
    }
    *out = first;
    return QB_OK;
}

/* A question answered by one value: the first cell of the answer, as
 * text, copied into v (cut to vlen). */
static enum qb_err ask_one(struct leader *l, const char *sql, int nparams,
                           const char *const *params, const char *what, char *v, size_t vlen,
                           char *err, size_t errlen)
{
    PGresult *res = NULL;
    enum qb_err rc = roundtrip(l, sql, nparams, params, &res, what, err, errlen);
    if (rc)
        return rc;
    qb_strlcpy(v, PQgetvalue(res, 0, 0), vlen);
    PQclear(res);
    return QB_OK;
}

/* As leader: does this session still hold the lock? */
static enum qb_err check_held(struct leader *l, bool *held, char *err, size_t errlen)
{
    const char *const params[] = {l->key_hi, l->key_lo};
    char v[32];
    enum qb_err rc =
        ask_one(l, sql_still_held, 2, params, "checking the leader lock", v, sizeof v, err, errlen);
    if (!rc)
        *held = strtoll(v, NULL, 10) > 0;
    return rc;
}

/* As follower: try the lock. */
static enum qb_err try_lock(struct leader *l, bool *won, char *err, size_t errlen)
{
    const char *const params[] = {l->key};
    char v[8];
    enum qb_err rc =
        ask_one(l, sql_try_lock, 1, params, "taking the leader lock", v, sizeof v, err, errlen);
    if (!rc)
        *won = strcmp(v, "t") == 0;
    return rc;
}

/* Who holds the lock (pid 0 and "" when nobody). */
static enum qb_err read_holder(struct leader *l, int64_t *pid, char *name, size_t namelen,
                               char *err, size_t errlen)
{
    const char *const params[] = {l->key_hi, l->key_lo};
    PGresult *res = NULL;
    *pid = 0;
    *name = '\0';
    /* roundtrip wants a row; "nobody" is an empty answer, so ask for one
     * row always and read NULLs as nobody. */
    char sql[sizeof sql_holder + 64];
    snprintf(sql, sizeof sql, "SELECT h.* FROM (SELECT 1) one LEFT JOIN (%s) h ON true",
             sql_holder);
    enum qb_err rc = roundtrip(l, sql, 2, params, &res, "reading the leader", err, errlen);
    if (rc)
        return rc;
    if (!PQgetisnull(res, 0, 0)) {
        *pid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        qb_strlcpy(name, PQgetvalue(res, 0, 1), namelen);
    }
    PQclear(res);
    return QB_OK;
}

static enum qb_err poll_leader(struct leader *l, char *err, size_t errlen)
{
    bool held = false;
    enum qb_err rc = check_held(l, &held, err, errlen);
    if (!rc && !held) {
        disconnect(l);
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen,
                      "leader: this session no longer holds the leader lock");
    }
    if (rc) {
        l->leader = false;
        log_warn("leader.lost", "error=%s", log_q(err));
        publish(l, err, 0, "");
        return rc;
    }
    publish(l, "", 0, NULL);
    return QB_OK;
}

static enum qb_err poll_follower(struct leader *l, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    if (!l->conn)
        rc = connect_db(l, err, errlen);
    bool won = false;
    if (!rc)
        rc = try_lock(l, &won, err, errlen);
    if (rc) {
        publish(l, err, 0, "");
        return rc;
    }
    if (won) {
        l->leader = true;
        log_info("leader.acquired", "identity=%s", log_q(l->app_name));
        publish(l, "", PQbackendPID(l->conn), l->app_name);
        return QB_OK;
    }
    int64_t pid = 0;
    char holder[64];
    rc = read_holder(l, &pid, holder, sizeof holder, err, errlen);
    publish(l, rc ? err : "", pid, rc ? "" : holder);
    return rc;
}

void leader_destroy(struct leader *l)
{
    if (!l)
        return;
    /* A leader that stops hands over at once: the server would also free
     * the lock when it sees the connection close, but only after the
     * backend has noticed and exited, which a follower polling right away
     * could beat.  Bounded by the timeout like any round trip; a failure
     * changes nothing (closing the session frees the lock anyway). */
    if (l->leader && l->conn) {
        const char *const params[] = {l->key};
        PGresult *res = NULL;
        char err[QB_ERRBUF_SIZE];
        if (roundtrip(l, sql_unlock, 1, params, &res, "releasing the leader lock", err,
                      sizeof err) == QB_OK)
            log_info("leader.released", "identity=%s", log_q(l->app_name));
        PQclear(res);
    }
    disconnect(l);
    pthread_mutex_destroy(&l->lock);
    free(l->conninfo);
    free(l);
}

enum qb_err leader_poll(struct leader *l, bool *is_leader, char *err, size_t errlen)
{
    enum qb_err rc = l->leader ? poll_leader(l, err, errlen) : poll_follower(l, err, errlen);
    *is_leader = l->leader;
    return rc;
}

void leader_info(struct leader *l, struct leader_info *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->info;
    pthread_mutex_unlock(&l->lock);
}
