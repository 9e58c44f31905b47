/* SPDX-License-Identifier: Apache-2.0
 *
 * db_pg_stmt.c -- the statements of db.h's PostgreSQL engine (sessions,
 * transactions and errors: db_pg.c).  Owns each statement's text,
 * bindings, current row and read-ahead queue.
 *
 * DESIGN
 * Lazily typed prepare.  db_prepare only rewrites "?N" to "$N"
 * (pg_sql.h); the statement is prepared at its first step, when the
 * bindings say each parameter's type: an int64 bind is int8, text and NULL
 * are "unknown" so the server infers the type from the context (a text
 * bind compared with a bigint column is parsed as a bigint, as SQLite's
 * affinity would).  Where the server cannot infer (42P18, "?1 IS NULL";
 * 42804 or 42883 from an unknown in a CASE or an operator) the statement is
 * prepared again with those parameters as text, and if that fails too
 * with the integers left to inference (a function taking int4).  Inside a
 * transaction each attempt that has a fallback runs under a savepoint, so
 * a refusal does not abort the caller's transaction.
 *
 * Cache.  Prepared statements are named ("qb_<n>") and cached per
 * connection, keyed by the rewritten text plus the parameter types asked
 * for, so a pooled connection prepares each statement once, as SQLite's
 * are.  The cache is bounded (PG_CACHE_MAX); the least recently used entry
 * is DEALLOCATEd to make room (pg_stmt_cache.h).  A reconnect empties it
 * (the server forgot).
 *
 * Rows.  A statement runs at its first step in single-row mode: each step
 * reads one row off the socket, so a list of any length holds one row in
 * memory.  The connection can only run one query at a time; when another
 * statement (or exec, begin, commit...) needs it while a statement still
 * has rows coming, the rest of those rows are read into that statement's
 * queue first (memory then grows with the rows left: the price of writing
 * while reading a list on one connection).  A reset or finalize of a
 * statement mid-list reads and drops the rest; a step after the statement
 * was done runs it again, as SQLite's auto-reset does.  Results are text;
 * integers are parsed (NULL reads 0, a boolean 't'/'f' reads 1/0).
 */
#include "store/db_pg_internal.h"
#include "store/pg_sql.h"
#include "store/pg_stmt_cache.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ statements */

enum qb_err pg_prepare(struct db_conn *dc, const char *sql, struct db_stmt **out, char *err,
                       size_t errlen)
{
    char *pgsql = NULL;
    int n = 0;
    enum qb_err rc = pg_sql_rewrite(sql, &pgsql, &n, err, errlen);
    if (rc)
        return rc;
    struct pg_stmt *st = xcalloc(1, sizeof *st);
    st->base.conn = dc;
    st->sql = xstrdup(sql);
    st->pgsql = pgsql;
    st->nparams = n;
    st->kind = xcalloc(n ? (size_t)n : 1, sizeof *st->kind);
    st->unused = xcalloc(n ? (size_t)n : 1, sizeof *st->unused);
    for (int i = 0; i < n; i++)
        st->unused[i] = true;
    /* pg_sql_rewrite writes '$' only for parameters; one inside a quoted
     * literal merely counts a number as used (then inferred, as before). */
    for (const char *p = pgsql; (p = strchr(p, '$')); p++) {
        long k = strtol(p + 1, NULL, 10);
        if (k >= 1 && k <= n)
            st->unused[k - 1] = false;
    }
    st->values = xcalloc(n ? (size_t)n : 1, sizeof *st->values);
    st->reads = pg_sql_reads(sql);
    *out = &st->base;
    return QB_OK;
}

static void queue_clear(struct pg_stmt *st)
{
    for (size_t i = st->qpos; i < st->qlen; i++)
        PQclear(st->queue[i]);
    st->qlen = st->qpos = 0;
}

/* Reads the rest of st's results off the connection into its queue. */
void pg_stmt_detach(struct pg_stmt *st)
{
    struct pg_conn *c = conn_of(st->base.conn);
    PGresult *r;
    while ((r = PQgetResult(c->pg))) {
        if (st->qlen == st->qcap) {
            st->qcap = st->qcap ? 2 * st->qcap : 16;
            st->queue = xrealloc(st->queue, st->qcap * sizeof *st->queue);
        }
        st->queue[st->qlen++] = r;
    }
    c->busy = NULL;
}

/* Ends st's current execution: the rest of its rows read and dropped. */
static void stmt_stop(struct pg_stmt *st)
{
    struct pg_conn *c = conn_of(st->base.conn);
    PQclear(st->row);
    st->row = NULL;
    if (c->busy == st) {
        PGresult *r;
        while ((r = PQgetResult(c->pg)))
            PQclear(r);
        c->busy = NULL;
    }
    queue_clear(st);
}

void pg_finalize(struct db_stmt *ds)
{
    struct pg_stmt *st = stmt_of(ds);
    stmt_stop(st);
    free(st->queue);
    for (int i = 0; i < st->nparams; i++)
        free(st->values[i]);
    free(st->values);
    free(st->kind);
    free(st->unused);
    free(st->pgsql);
    free(st->sql);
    free(st);
}

void pg_reset(struct db_stmt *ds)
{
    struct pg_stmt *st = stmt_of(ds);
    stmt_stop(st);
    st->state = S_READY;
}

static void bind(struct pg_stmt *st, int idx, enum pg_param kind, const char *text)
{
    if (idx < 1 || idx > st->nparams)
        return; /* a parameter the statement does not use (db.h) */
    free(st->values[idx - 1]);
    st->values[idx - 1] = text ? xstrdup(text) : NULL;
    st->kind[idx - 1] = text ? kind : P_NULL;
}

void pg_bind_int64(struct db_stmt *ds, int idx, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    bind(stmt_of(ds), idx, P_INT, buf);
}

void pg_bind_text(struct db_stmt *ds, int idx, const char *text)
{
    bind(stmt_of(ds), idx, P_TEXT, text);
}

void pg_bind_null(struct db_stmt *ds, int idx)
{
    bind(stmt_of(ds), idx, P_NULL, NULL);
}

static bool retry_types(const PGresult *r)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s && (!strcmp(s, "42P18") || !strcmp(s, "42804") || !strcmp(s, "42883"));
}

/* PQprepare under a savepoint when a transaction is open, so a refusal
 * we retry does not abort the caller's transaction (two more round trips,
 * once per statement and connection). */
static PGresult *prepare_try(struct pg_conn *c, const char *name, const struct pg_stmt *st,
                             const Oid *types, bool guarded)
{
    if (guarded)
        PQclear(PQexec(c->pg, "SAVEPOINT qb_prepare"));
    PGresult *r = PQprepare(c->pg, name, st->pgsql, st->nparams, types);
    if (guarded) {
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(
            PQexec(c->pg, ok ? "RELEASE SAVEPOINT qb_prepare"
                             : "ROLLBACK TO SAVEPOINT qb_prepare; RELEASE SAVEPOINT qb_prepare"));
    }
    return r;
}

/* The name of st prepared for its current parameter types, in name
 * (PG_STMT_NAME_MAX bytes): from the cache, or prepared now. */
static enum qb_err prepared_name(struct pg_conn *c, struct pg_stmt *st, bool was_tx, char *name,
                                 const char *what, char *err, size_t errlen)
{
    size_t n = (size_t)st->nparams, len = strlen(st->pgsql);
    char *key = xmalloc(n + 1 + len + 1);
    bool unknowns = false, ints = false;
    for (size_t i = 0; i < n; i++) {
        /* NULL apart from text: the third type set below tells them apart. */
        key[i] = st->kind[i] == P_INT ? 'i' : st->kind[i] == P_TEXT ? 't' : 'n';
        unknowns |= key[i] != 'i';
        ints |= key[i] == 'i';
    }
    key[n] = '\n';
    memcpy(key + n + 1, st->pgsql, len + 1);
    const char *hit = pg_stmt_cache_find(c->cache, key);
    if (hit) {
        qb_strlcpy(name, hit, PG_STMT_NAME_MAX);
        free(key);
        return QB_OK;
    }
    char old[PG_STMT_NAME_MAX], sql[64];
    if (pg_stmt_cache_evict(c->cache, old)) {
        snprintf(sql, sizeof sql, "DEALLOCATE %s", old);
        PQclear(PQexec(c->pg, sql));
    }
    pg_stmt_cache_new_name(c->cache, name);
    /* Type sets to try: int8 and unknown; then the text binds as text
     * (NULLs still inferred: one may go into a bigint column while a text
     * one is tested with IS NULL); then NULLs as text too; then the ints
     * left to inference too (an int4 argument, as substr's), with the text
     * binds as text and NULLs inferred. */
    int plan[4], tries = 0;
    plan[tries++] = 0;
    if (unknowns)
        plan[tries++] = 3;
    if (unknowns)
        plan[tries++] = 1;
    if (ints)
        plan[tries++] = 2;
    Oid *types = xcalloc(n ? n : 1, sizeof *types);
    PGresult *r = NULL;
    for (int t = 0; t < tries; t++) {
        for (size_t i = 0; i < n; i++) {
            if (st->unused[i])
                types[i] = OID_TEXT;
            else if (st->kind[i] == P_INT)
                types[i] = plan[t] == 2 ? OID_UNKNOWN : OID_INT8;
            else if (plan[t] == 3 || plan[t] == 2)
                types[i] = st->kind[i] == P_TEXT ? OID_TEXT : OID_UNKNOWN;
            else
                types[i] = plan[t] ? OID_TEXT : OID_UNKNOWN;
        }
        PQclear(r);
        r = prepare_try(c, name, st, types, was_tx && t + 1 < tries);
        if (PQresultStatus(r) == PGRES_COMMAND_OK || !retry_types(r))
            break;
    }
    free(types);
    enum qb_err rc = QB_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_fail(c, r, was_tx, what, err, errlen);
    else
        pg_stmt_cache_add(c->cache, key, name);
    free(key);
    PQclear(r);
    return rc;
}

/* First step: prepare if needed and send the statement. */
static enum qb_err stmt_start(struct pg_conn *c, struct pg_stmt *st, const char *what, char *err,
                              size_t errlen)
{
    pg_conn_ready(c);
    if (c->trace_fn)
        c->trace_fn(c->trace_ctx, st->sql);
    if (!st->reads)
        c->base.events_written = true;
    if (c->tx_lost)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "%s: connection to PostgreSQL lost in a transaction", what);
    bool was_tx = pg_in_tx(c);
    char name[PG_STMT_NAME_MAX];
    enum qb_err rc = prepared_name(c, st, was_tx, name, what, err, errlen);
    if (rc)
        return rc;
    c->tx_at_send = was_tx;
    if (!PQsendQueryPrepared(c->pg, name, st->nparams, (const char *const *)st->values, NULL, NULL,
                             0))
        return pg_fail(c, NULL, was_tx, what, err, errlen);
    PQsetSingleRowMode(c->pg);
    c->busy = st;
    st->state = S_ROWS;
    st->changes = 0;
    return QB_OK;
}

/* Whether the first result r of statement st says the session was gone
 * before st ran: the server's "terminating connection" notice (57P01-03),
 * which it queues on an idle session it ends and so precedes any answer to
 * st; or a closed connection under a read, which is safe to send again
 * whatever happened. */
static bool lost_before_running(struct pg_conn *c, const struct pg_stmt *st, const PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    if (r && (s == PGRES_SINGLE_TUPLE || s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK))
        return false;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && strncmp(state, "57P0", 4) == 0 && state[4] >= '1' && state[4] <= '3')
        return true;
    return st->reads && (pg_lost_state(state) || PQstatus(c->pg) == CONNECTION_BAD);
}

enum qb_err pg_step(struct db_stmt *ds, bool *row, const char *what, char *err, size_t errlen)
{
    struct pg_stmt *st = stmt_of(ds);
    struct pg_conn *c = conn_of(ds->conn);
    *row = false;
    PQclear(st->row);
    st->row = NULL;
    if (st->state == S_DONE)
        st->state = S_READY; /* stepped again: runs again, as SQLite's do */
    bool was_tx = pg_in_tx(c) || c->tx_lost;
    bool started = false;
    if (st->state == S_READY) {
        enum qb_err rc = stmt_start(c, st, what, err, errlen);
        /* Preparing on a session the server ended while idle: pg_fail
         * reconnected, and nothing ran; once more on the new session. */
        if (rc == QB_ERR_TRANSIENT && !was_tx)
            rc = stmt_start(c, st, what, err, errlen);
        if (rc) {
            st->state = S_DONE;
            return rc;
        }
        started = true;
    }
    PGresult *r = NULL;
    if (st->qpos < st->qlen)
        r = st->queue[st->qpos++];
    else if (c->busy == st)
        r = PQgetResult(c->pg);
    if (started && !was_tx && lost_before_running(c, st, r)) {
        /* A pooled connection the server ended while it sat idle (a
         * restart, a failover, an operator's pg_terminate_backend): the
         * statement never ran, so it is sent once more on a new session
         * rather than failing the caller (run progress, an API read). */
        PQclear(r);
        stmt_stop(st);
        pg_reconnect(c);
        enum qb_err rc = stmt_start(c, st, what, err, errlen);
        if (rc) {
            st->state = S_DONE;
            return rc;
        }
        r = c->busy == st ? PQgetResult(c->pg) : NULL;
    }
    ExecStatusType s = PQresultStatus(r);
    if (r && s == PGRES_SINGLE_TUPLE) {
        st->row = r;
        *row = true;
        return QB_OK;
    }
    /* The last result: the command's tag, or the error.  The connection
     * is drained first, so a pg_reconnect in pg_fail finds it idle. */
    stmt_stop(st);
    st->state = S_DONE;
    enum qb_err rc = QB_OK;
    if (r && (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK))
        st->changes = strtoll(PQcmdTuples(r), NULL, 10);
    else
        rc = pg_fail(c, r, was_tx, what, err, errlen);
    PQclear(r);
    return rc;
}

static const char *cell(struct pg_stmt *st, int col)
{
    if (!st->row || col < 0 || col >= PQnfields(st->row) || PQgetisnull(st->row, 0, col))
        return NULL;
    return PQgetvalue(st->row, 0, col);
}

bool pg_column_is_null(struct db_stmt *ds, int col)
{
    return cell(stmt_of(ds), col) == NULL;
}

int64_t pg_column_int64(struct db_stmt *ds, int col)
{
    const char *v = cell(stmt_of(ds), col);
    if (!v)
        return 0;
    if (v[0] == 't' && !v[1])
        return 1;
    return strtoll(v, NULL, 10);
}

const char *pg_column_text(struct db_stmt *ds, int col)
{
    return cell(stmt_of(ds), col);
}

int64_t pg_changes(struct db_stmt *ds)
{
    return stmt_of(ds)->changes;
}

const char *pg_sql(struct db_stmt *ds)
{
    return stmt_of(ds)->sql;
}
