/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_env.c -- the needs:pg tests' view of their server (pg_env.h).
 */
#include "pg_env.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_env_load(const char **url)
{
    *url = getenv("QB_PG_URL");
    if (*url && **url)
        return 0;
    const char *req = getenv("QB_REQUIRE_PG");
    fprintf(stderr, "PostgreSQL environment missing (QB_PG_URL; tests/pg/pg-start.sh)\n");
    return req && strcmp(req, "1") == 0 ? 1 : 77;
}

bool pg_admin_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "  admin: %s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "  admin connect: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}
