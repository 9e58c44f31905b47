/* SPDX-License-Identifier: Apache-2.0
 *
 * catalogue_env.h -- which catalogue the daemons of an integration test
 * use, and SQL on it for tests that look behind the API.  By default each
 * daemon has its SQLite file (var/qbackup.db in its directory).  With
 * QB_TEST_CATALOGUE=postgres (and QB_PG_URL: tests/pg/pg-start.sh), each
 * gets a fresh database of its own on that server instead, so the same
 * suite proves the PostgreSQL catalogue (issue 16: "the whole existing
 * suite passes on both backends"); scripts/test runs it both ways.
 */
#ifndef QB_CATALOGUE_ENV_H
#define QB_CATALOGUE_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* Whether daemons get a PostgreSQL catalogue (QB_TEST_CATALOGUE). */
bool catalogue_env_postgres(void);

/* Creates a fresh database on QB_PG_URL's server and writes its URL into
 * url[urllen]; false (reason printed) on failure. */
bool catalogue_env_create(char *url, size_t urllen);

/* Drops the database url names (connections to it are ended). */
void catalogue_env_drop(const char *url);

/* Empties the database url names (drop and create again): the catalogue
 * lost with the disk it was on. */
bool catalogue_env_recreate(const char *url);

/* Runs sql on the catalogue: url when it is a PostgreSQL URL, else the
 * SQLite file at sqlite_path.  catalogue_env_exec: true when it ran.
 * catalogue_env_int: the integer in the first column of the first row,
 * -1 when there is none or the query failed (printed). */
bool catalogue_env_exec(const char *url, const char *sqlite_path, const char *sql);
long long catalogue_env_int(const char *url, const char *sqlite_path, const char *sql);

#endif /* QB_CATALOGUE_ENV_H */
