/* SPDX-License-Identifier: Apache-2.0
 *
 * test_events_order.c -- on a PostgreSQL catalogue events become visible
 * in id order (migrations/postgres/0021_events_commit_order.sql): a transaction that writes an
 * event holds back every other event writer until it ends, so no reader
 * of "events after id N" can see a higher id before a lower one commits.
 * Two sessions on a fresh, migrated catalogue: B's insert waits (the
 * server shows it waiting on the advisory lock) while A's transaction
 * with an event is open; after A commits, B's event follows with a higher
 * id.
 */
#include "unit.h"
#include "pg_env.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char url[512];

static bool ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!good)
        fprintf(stderr, "  %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return good;
}

static long long one(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

static bool b_waits(void *ctx)
{
    /* B's session waits on an advisory lock it has not been granted. */
    return one(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted") == 1;
}

/* Polls cond every 20 ms for up to ms. */
static bool wait_until(bool (*cond)(void *), void *ctx, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        if (cond(ctx))
            return true;
        usleep(20 * 1000);
    }
    return cond(ctx);
}

static void test_event_writers_take_turns(void)
{
    PGconn *a = PQconnectdb(url), *b = PQconnectdb(url), *watch = PQconnectdb(url);
    TEST_ASSERT(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK &&
                PQstatus(watch) == CONNECTION_OK);
    TEST_ASSERT(ok(a, "BEGIN"));
    TEST_ASSERT(ok(a, "INSERT INTO events (at, type) VALUES (1, 'run.queued')"));
    long long a_id = one(a, "SELECT max(id) FROM events");
    TEST_ASSERT(PQsendQuery(b, "INSERT INTO events (at, type) VALUES (2, 'run.started') "
                               "RETURNING id") == 1);
    TEST_EXPECT(wait_until(b_waits, watch, 10000));
    /* Nothing of either is visible yet. */
    TEST_EXPECT_INT(one(watch, "SELECT count(*) FROM events"), 0);
    TEST_ASSERT(ok(a, "COMMIT"));
    PGresult *r = PQgetResult(b);
    TEST_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    long long b_id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    while ((r = PQgetResult(b)))
        PQclear(r);
    TEST_EXPECT(a_id > 0 && b_id > a_id);
    TEST_EXPECT_INT(one(watch, "SELECT count(*) FROM events"), 2);
    PQfinish(a);
    PQfinish(b);
    PQfinish(watch);
}

int main(void)
{
    const char *server = NULL;
    int skip = pg_env_load(&server);
    if (skip)
        return skip;
    char db[64], sql[128], err[QB_ERRBUF_SIZE];
    snprintf(db, sizeof db, "qb_evorder_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (!pg_admin_exec(server, sql))
        return 1;
    const char *slash = strrchr(server, '/');
    snprintf(url, sizeof url, "%.*s/%s", (int)(slash - server), server, db);
    struct store *s = NULL;
    if (store_open(url, 1, &s, err, sizeof err) || store_migrate(s, NULL, err, sizeof err))
        fprintf(stderr, "store: %s\n", err);
    else
        TEST_RUN(test_event_writers_take_turns);
    store_close(s);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db);
    (void)pg_admin_exec(server, sql);
    return s ? TEST_RESULT() : 1;
}
