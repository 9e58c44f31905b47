/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_sql.h -- the store's SQL text made fit for PostgreSQL: the one place
 * that knows SQLite's "?N" parameters are PostgreSQL's "$N", so the store
 * keeps one text per statement for both backends (docs/internals/fleet.md,
 * "The store's second backend").  Pure: no I/O, no state; any thread.
 *
 * Rules (what SQLite does with the same text):
 *   - "?N" (N 1..999) becomes "$N"; a bare "?" takes one more than the
 *     largest number seen so far, as SQLite numbers it.
 *   - nothing changes inside '...' strings ('' is a quote), "..."
 *     identifiers, -- comments and block comments, so a '?' there is text.
 *   - a '$' outside those is refused: in PostgreSQL it could start a
 *     dollar-quoted string or clash with the rewritten parameters, and the
 *     store's SQL never needs one.
 * PostgreSQL's jsonb operators ?, ?| and ?& cannot be written through
 * this (they would be taken for parameters); use jsonb_exists() and
 * friends instead.
 */
#ifndef QB_STORE_PG_SQL_H
#define QB_STORE_PG_SQL_H

#include "common.h"

/* Rewrites sql into *out (caller frees) and sets *nparams to the highest
 * parameter number used (0: none), what PQprepare is told.  Fails with
 * QB_ERR_INVALID on "?0", a number above 999, a '$' outside quotes, or
 * an unterminated string, identifier or comment; *out is NULL then. */
enum qb_err pg_sql_rewrite(const char *sql, char **out, int *nparams, char *err,
                           size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_PG_SQL_H */
