/* SPDX-License-Identifier: Apache-2.0
 *
 * catalogue_env.c -- the integration tests' catalogues (catalogue_env.h).
 */
#include "catalogue_env.h"
#include "pg_env.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool catalogue_env_postgres(void)
{
    const char *mode = getenv("QB_TEST_CATALOGUE");
    return mode && strcmp(mode, "postgres") == 0;
}

/* url with its database name replaced by db. */
static void with_database(const char *url, const char *db, char *out, size_t outlen)
{
    const char *rest = strstr(url, "://");
    rest = rest ? rest + 3 : url;
    const char *slash = strchr(rest, '/');
    const char *query = strchr(rest, '?');
    size_t head = slash ? (size_t)(slash - url) : query ? (size_t)(query - url) : strlen(url);
    snprintf(out, outlen, "%.*s/%s%s", (int)head, url, db, query ? query : "");
}

/* The database name of url (after the last '/', before '?'). */
static void database_of(const char *url, char *out, size_t outlen)
{
    const char *rest = strstr(url, "://");
    rest = rest ? rest + 3 : url;
    const char *slash = strchr(rest, '/');
    const char *name = slash ? slash + 1 : "";
    snprintf(out, outlen, "%.*s", (int)strcspn(name, "?"), name);
}

bool catalogue_env_create(char *url, size_t urllen)
{
    static int counter;
    const char *server = NULL;
    if (pg_env_load(&server) != 0)
        return false;
    char db[64], sql[128];
    snprintf(db, sizeof db, "qbt_%d_%d", (int)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (!pg_admin_exec(server, sql))
        return false;
    with_database(server, db, url, urllen);
    return true;
}

void catalogue_env_drop(const char *url)
{
    const char *server = getenv("QB_PG_URL");
    char db[64], sql[128];
    database_of(url, db, sizeof db);
    if (!server || !*db)
        return;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    (void)pg_admin_exec(server, sql);
}

bool catalogue_env_recreate(const char *url)
{
    const char *server = getenv("QB_PG_URL");
    char db[64], sql[128];
    database_of(url, db, sizeof db);
    if (!server || !*db)
        return false;
    catalogue_env_drop(url);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    return pg_admin_exec(server, sql);
}

bool catalogue_env_exec(const char *url, const char *sqlite_path, const char *sql)
{
    if (url && *url)
        return pg_admin_exec(url, sql);
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open(sqlite_path, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "  sql(%s): %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

long long catalogue_env_int(const char *url, const char *sqlite_path, const char *sql)
{
    long long v = -1;
    if (url && *url) {
        PGconn *c = PQconnectdb(url);
        PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
            !PQgetisnull(r, 0, 0)) /* a boolean reads 1/0, as on SQLite */
            v = !strcmp(PQgetvalue(r, 0, 0), "t") ? 1 : atoll(PQgetvalue(r, 0, 0));
        else
            fprintf(stderr, "  sql(%s): %s", sql, PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return v;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(sqlite_path, &db) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_int64(st, 0);
        else
            fprintf(stderr, "  sql(%s): %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}
