/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_env.h -- the real PostgreSQL server the needs:pg tests use
 * (tests/pg/pg-start.sh writes its environment; scripts/test starts one
 * for the suite), as s3_env.h is for the S3 server.
 */
#ifndef QB_TEST_PG_ENV_H
#define QB_TEST_PG_ENV_H

#include <stdbool.h>

/* Reads QB_PG_URL into *url (borrowed from the process environment).  0
 * when set; otherwise what main should return: 77 (skipped), or 1 when
 * QB_REQUIRE_PG=1 says the server must be there. */
int pg_env_load(const char **url);

/* Runs sql on a plain connection of its own to url, as an operator's psql
 * would; whether it succeeded (the reason printed when not). */
bool pg_admin_exec(const char *url, const char *sql);

#endif /* QB_TEST_PG_ENV_H */
