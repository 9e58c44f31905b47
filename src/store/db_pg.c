/* SPDX-License-Identifier: Apache-2.0
 *
 * db_pg.c -- db.h on PostgreSQL (libpq), a fleet's shared catalogue
 * (docs/internals/fleet.md, "The store's second backend").  Owns one
 * PGconn per db_conn, that connection's cache of server-side prepared
 * statements, and each statement's bindings and current row.
 *
 * DESIGN (statements: db_pg_stmt.c)
 * Session.  The connection asks for keepalives, a TCP user timeout and a
 * connect timeout (a dead server is noticed, never waited on forever),
 * application_name=qbackupd, then sets client_min_messages=warning,
 * TimeZone=UTC and standard_conforming_strings=on (the store's literals
 * are SQL-standard strings), and lock_timeout=5s: a lock (a row, db_lock)
 * another transaction holds longer is BUSY, as SQLite's busy timeout
 * makes it; a section that must wait longer says SET LOCAL lock_timeout.
 * The warnings the server still sends (a BEGIN inside a transaction...)
 * go to the log.  Calls block in libpq: there is no client-side deadline
 * on a server that accepts packets but never answers (leader.c has one;
 * the store's statements may legitimately wait on locks).
 *
 * Errors.  SQLSTATE to qb_err: 23505 unique and 23503 foreign key ->
 * CONFLICT; 23514 check and 23502 not null -> INVALID; 40001, 40P01,
 * 55P03 -> BUSY; connection loss (class 08, 57P01-57P03, or the
 * connection gone bad) -> TRANSIENT when no transaction was open, after
 * one reconnect attempt, so the pooled connection is usable for the next
 * call; inside a transaction -> IO, because the transaction is gone and a
 * lost COMMIT's outcome is unknown (the caller rolls back, which
 * reconnects).  One loss is not an error at all: a pooled session the
 * server ended while it sat idle (a restart, a failover, an operator's
 * pg_terminate_backend), found when a statement is prepared or by the
 * server's "terminating connection" notice (57P01-57P03) before its first
 * result, or any loss before a read's first result.  The statement never
 * ran (or only reads), so it is sent once more on a new session; every
 * component of qbackupd would otherwise fail one call per pooled
 * connection after each restart of the server.  Anything else -> IO.
 * Messages are "<what>: <primary
 * message>"; db_error_constraint is PG_DIAG_CONSTRAINT_NAME, which for a
 * unique index is the index's name.
 *
 * Events.  db_take_events_written is true after any statement that is not
 * a SELECT (or SHOW/EXPLAIN/transaction control) since the last call: the
 * store only wakes event waiters with it, and a spurious wake-up costs one
 * read.
 */
#include "store/db_pg_internal.h"
#include "store/pg_conninfo.h"
#include "store/pg_stmt_cache.h"
#include "util/log.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct db_ops pg_ops;

/* Whether sql (the store's text) only reads: SELECT, SHOW, EXPLAIN, or
 * transaction control.  WITH may write, so it counts as a write. */
bool pg_sql_reads(const char *sql)
{
    static const char *const words[] = {"SELECT",   "SHOW",      "EXPLAIN", "BEGIN", "COMMIT",
                                        "ROLLBACK", "SAVEPOINT", "RELEASE", "SET",   NULL};
    while (isspace((unsigned char)*sql) || *sql == '(')
        sql++;
    for (int i = 0; words[i]; i++) {
        size_t n = strlen(words[i]);
        if (strncasecmp(sql, words[i], n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_')
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ helpers */

static void first_line(char *dst, size_t len, const char *msg)
{
    qb_strlcpy(dst, msg && *msg ? msg : "unknown error", len);
    dst[strcspn(dst, "\n")] = '\0';
}

static void notice(void *arg, const char *msg)
{
    (void)arg;
    char line[512];
    first_line(line, sizeof line, msg);
    log_write(LOG_LEVEL_WARN, NULL, "db.pg.notice", "message=%s", log_q(line));
}

/* The session settings the store's SQL relies on; after every connect. */
static bool session_setup(struct pg_conn *c)
{
    PQsetNoticeProcessor(c->pg, notice, NULL);
    PGresult *r = PQexec(c->pg, "SET client_min_messages = warning; SET TimeZone = 'UTC';"
                                " SET standard_conforming_strings = on;"
                                " SET lock_timeout = " PG_LOCK_TIMEOUT);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* One pg_reconnect attempt of a connection that went bad.  Everything the
 * server held for the session is gone: prepared statements, transaction. */
void pg_reconnect(struct pg_conn *c)
{
    pg_stmt_cache_clear(c->cache);
    c->tx_lost = false;
    c->busy = NULL; /* its results died with the session */
    PQreset(c->pg);
    if (PQstatus(c->pg) == CONNECTION_OK && !session_setup(c))
        log_write(LOG_LEVEL_WARN, NULL, "db.pg.setup_failed", "target=%s", log_q(c->target));
}

/* Whether a transaction block is open.  While a statement runs libpq
 * cannot say (ACTIVE): then it is what it was when that statement went. */
bool pg_in_tx(struct pg_conn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t == PQTRANS_ACTIVE)
        return c->tx_at_send;
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

bool pg_lost_state(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                     strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* Maps a failure of what to qb_err: res is the failed result, or NULL for
 * a failure of the connection itself.  was_tx: whether a transaction was
 * open when the statement started. */
enum qb_err pg_fail(struct pg_conn *c, const PGresult *res, bool was_tx, const char *what,
                    char *err, size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    char msg[512];
    first_line(msg, sizeof msg,
               primary ? primary : (res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg)));
    if (!primary && res && !*PQresultErrorMessage(res))
        first_line(msg, sizeof msg, PQerrorMessage(c->pg));
    qb_strlcpy(c->constraint, cons ? cons : "", sizeof c->constraint);

    if (pg_lost_state(state) || PQstatus(c->pg) == CONNECTION_BAD) {
        if (was_tx || c->tx_lost) {
            /* The transaction died with the session; in_transaction stays
             * true until the caller's rollback, which reconnects. */
            c->tx_lost = true;
            return qb_failf(QB_ERR_IO, err, errlen,
                            "%s: connection to PostgreSQL lost in a transaction: %s", what, msg);
        }
        pg_reconnect(c);
        return qb_failf(QB_ERR_TRANSIENT, err, errlen, "%s: connection to PostgreSQL lost: %s",
                        what, msg);
    }
    enum qb_err rc = QB_ERR_IO;
    if (state && (!strcmp(state, "23505") || !strcmp(state, "23503")))
        rc = QB_ERR_CONFLICT;
    else if (state && (!strcmp(state, "23514") || !strcmp(state, "23502")))
        rc = QB_ERR_INVALID;
    else if (state &&
             (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")))
        rc = QB_ERR_BUSY;
    return qb_failf(rc, err, errlen, "%s: %s", what, msg);
}

/* Before any query on c: a connection that died outside a transaction is
 * reopened (one attempt), and a statement still streaming rows is read to
 * its end into its queue so the connection is free. */

void pg_conn_ready(struct pg_conn *c)
{
    c->constraint[0] = '\0';
    if (c->busy)
        pg_stmt_detach(c->busy);
    if (PQstatus(c->pg) == CONNECTION_BAD && !c->tx_lost)
        pg_reconnect(c);
}

/* Runs sql (no parameters) to its end; *cmd (may be NULL) receives the
 * command tag of the last result. */
static enum qb_err simple(struct pg_conn *c, const char *sql, const char *what, char *cmd,
                          size_t cmdlen, char *err, size_t errlen)
{
    pg_conn_ready(c);
    if (c->tx_lost)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "%s: connection to PostgreSQL lost in a transaction", what);
    bool was_tx = pg_in_tx(c);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType s = PQresultStatus(r);
    enum qb_err rc = QB_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY)
        rc = pg_fail(c, r, was_tx, what, err, errlen);
    else if (cmd)
        qb_strlcpy(cmd, PQcmdStatus(r), cmdlen);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ connections */

static void pg_close(struct db_conn *dc)
{
    struct pg_conn *c = conn_of(dc);
    pg_stmt_cache_free(c->cache);
    PQfinish(c->pg);
    free(c);
}

enum qb_err db_pg_open(const char *url, struct db_conn **out, char *err, size_t errlen)
{
    *out = NULL;
    /* dbname first, expanded: the keywords after it override the URL's,
     * but for an application_name the URL names (a fleet's node names its
     * sessions, so that a node found dead can have them ended). */
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          NULL,
                          NULL};
    const char *vals[] = {url, "10", "1", "10", "5", "3", "30000", NULL, NULL};
    if (!strstr(url, "application_name=")) {
        keys[7] = "application_name";
        vals[7] = "qbackupd";
    }
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "PostgreSQL: out of memory in libpq");
    char target[160];
    pg_conninfo_target(pg, target, sizeof target);
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[512];
        first_line(msg, sizeof msg, PQerrorMessage(pg));
        pg_conninfo_redact(url, msg);
        PQfinish(pg);
        return qb_failf(QB_ERR_IO, err, errlen, "cannot connect to PostgreSQL%s%s: %s",
                        *target ? " at " : "", target, msg);
    }
    struct pg_conn *c = xcalloc(1, sizeof *c);
    c->base.ops = &pg_ops;
    c->pg = pg;
    c->cache = pg_stmt_cache_new(PG_CACHE_MAX);
    qb_strlcpy(c->target, target, sizeof c->target);
    if (!session_setup(c)) {
        char msg[512];
        first_line(msg, sizeof msg, PQerrorMessage(pg));
        PQfinish(pg);
        pg_stmt_cache_free(c->cache);
        free(c);
        return qb_failf(QB_ERR_IO, err, errlen, "setting up the session on PostgreSQL at %s: %s",
                        target, msg);
    }
    *out = &c->base;
    return QB_OK;
}

static enum qb_err pg_exec(struct db_conn *dc, const char *sql, char *err, size_t errlen)
{
    struct pg_conn *c = conn_of(dc);
    if (c->trace_fn)
        c->trace_fn(c->trace_ctx, sql);
    if (!pg_sql_reads(sql))
        c->base.events_written = true;
    return simple(c, sql, "exec", NULL, 0, err, errlen);
}

/* ---------------------------------------------------------- transactions */

static enum qb_err pg_begin(struct db_conn *dc, enum db_tx tx, char *err, size_t errlen)
{
    (void)tx; /* both are READ COMMITTED; db_lock is the writer's exclusion */
    return simple(conn_of(dc), "BEGIN ISOLATION LEVEL READ COMMITTED", "begin", NULL, 0, err,
                  errlen);
}

static enum qb_err pg_commit(struct db_conn *dc, char *err, size_t errlen)
{
    struct pg_conn *c = conn_of(dc);
    char tag[32] = "";
    enum qb_err rc = simple(c, "COMMIT", "commit", tag, sizeof tag, err, errlen);
    /* COMMIT of a transaction an error aborted succeeds as a ROLLBACK. */
    if (!rc && strcmp(tag, "ROLLBACK") == 0)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "commit: the transaction was rolled back after an earlier error");
    return rc;
}

static void pg_rollback(struct db_conn *dc)
{
    struct pg_conn *c = conn_of(dc);
    if (c->busy)
        pg_stmt_detach(c->busy);
    if (c->tx_lost || PQstatus(c->pg) == CONNECTION_BAD) {
        pg_reconnect(c); /* the transaction is gone with the session */
        return;
    }
    if (pg_in_tx(c))
        PQclear(PQexec(c->pg, "ROLLBACK"));
    if (PQstatus(c->pg) == CONNECTION_BAD)
        pg_reconnect(c);
}

static bool pg_in_transaction(struct db_conn *dc)
{
    struct pg_conn *c = conn_of(dc);
    return c->tx_lost || pg_in_tx(c);
}

static enum qb_err pg_lock(struct db_conn *dc, int64_t key, char *err, size_t errlen)
{
    struct pg_conn *c = conn_of(dc);
    pg_conn_ready(c);
    if (c->tx_lost)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "lock: connection to PostgreSQL lost in a transaction");
    char k[24];
    snprintf(k, sizeof k, "%" PRId64, key);
    const char *const params[] = {k};
    bool was_tx = pg_in_tx(c);
    PGresult *r = PQexecParams(c->pg, "SELECT pg_advisory_xact_lock($1::bigint)", 1, NULL, params,
                               NULL, NULL, 0);
    enum qb_err rc = QB_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_fail(c, r, was_tx, "lock", err, errlen);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- the rest */

static const char *pg_error_constraint(struct db_conn *dc)
{
    return conn_of(dc)->constraint;
}

static void pg_trace(struct db_conn *dc, void (*fn)(void *ctx, const char *sql), void *ctx)
{
    struct pg_conn *c = conn_of(dc);
    c->trace_fn = fn;
    c->trace_ctx = fn ? ctx : NULL;
}

static const struct db_ops pg_ops = {
    .dialect = DB_POSTGRES,
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_transaction = pg_in_transaction,
    .lock = pg_lock,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .reset = pg_reset,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .column_is_null = pg_column_is_null,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .changes = pg_changes,
    .sql = pg_sql,
    .error_constraint = pg_error_constraint,
    .trace = pg_trace,
};
