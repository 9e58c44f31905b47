/* SPDX-License-Identifier: Apache-2.0
 *
 * db_pg.c -- db.h on PostgreSQL (libpq), a fleet's shared catalogue
 * (docs/internals/fleet.md, "The store's second backend").  Owns one
 * PGconn per db_conn, that connection's cache of server-side prepared
 * statements, and each statement's bindings and current row.
 *
 * DESIGN
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
#include "store/db_internal.h"
#include "store/pg_conninfo.h"
#include "store/pg_sql.h"
#include "store/pg_stmt_cache.h"
#include "util/log.h"

#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PG_CACHE_MAX    128    /* prepared statements kept per connection */
#define PG_LOCK_TIMEOUT "'5s'" /* SQLite's busy timeout (store.c), then BUSY */
#define OID_UNKNOWN     0
#define OID_INT8        20
#define OID_TEXT        25

struct pg_stmt;

struct pg_conn {
    struct db_conn base;
    PGconn *pg;
    char target[160];     /* host:port/dbname, for messages */
    bool tx_lost;         /* the connection died inside a transaction */
    bool tx_at_send;      /* in_tx when the running statement was sent */
    struct pg_stmt *busy; /* the statement whose rows are still coming */
    struct pg_stmt_cache *cache;
    char constraint[128];
    bool events_written;
    void (*trace_fn)(void *ctx, const char *sql);
    void *trace_ctx;
};

enum pg_param { P_NULL, P_INT, P_TEXT };

enum pg_state { S_READY, S_ROWS, S_DONE };

struct pg_stmt {
    struct db_stmt base;
    char *sql;   /* as the store wrote it */
    char *pgsql; /* "$N" form */
    int nparams;
    enum pg_param *kind;
    bool *unused;  /* parameter numbers the text never names (a binder shared by
                    * statements that use a subset): typed text, as the server
                    * cannot infer a type for what it does not see */
    char **values; /* text form of each parameter; NULL for NULL */
    bool reads;    /* a SELECT: does not wake event waiters */
    enum pg_state state;
    PGresult *row;    /* the current row (single-row mode) */
    PGresult **queue; /* results read ahead because another query needed the connection */
    size_t qlen, qpos, qcap;
    int64_t changes;
};

static const struct db_ops pg_ops;

/* ------------------------------------------------------------ helpers */

static struct pg_conn *conn_of(struct db_conn *c)
{
    return (struct pg_conn *)c;
}

static struct pg_stmt *stmt_of(struct db_stmt *s)
{
    return (struct pg_stmt *)s;
}

static void first_line(char *dst, size_t len, const char *msg)
{
    qb_strlcpy(dst, msg && *msg ? msg : "unknown error", len);
    dst[strcspn(dst, "\n")] = '\0';
}

/* Whether sql (the store's text) only reads: SELECT, SHOW, EXPLAIN, or
 * transaction control.  WITH may write, so it counts as a write. */
static bool sql_reads(const char *sql)
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

/* One reconnect attempt of a connection that went bad.  Everything the
 * server held for the session is gone: prepared statements, transaction. */
static void reconnect(struct pg_conn *c)
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
static bool in_tx(struct pg_conn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t == PQTRANS_ACTIVE)
        return c->tx_at_send;
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

static bool lost_state(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                     strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* Maps a failure of what to qb_err: res is the failed result, or NULL for
 * a failure of the connection itself.  was_tx: whether a transaction was
 * open when the statement started. */
static enum qb_err pg_fail(struct pg_conn *c, const PGresult *res, bool was_tx, const char *what,
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

    if (lost_state(state) || PQstatus(c->pg) == CONNECTION_BAD) {
        if (was_tx || c->tx_lost) {
            /* The transaction died with the session; in_transaction stays
             * true until the caller's rollback, which reconnects. */
            c->tx_lost = true;
            return qb_failf(QB_ERR_IO, err, errlen,
                            "%s: connection to PostgreSQL lost in a transaction: %s", what, msg);
        }
        reconnect(c);
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
static void stmt_detach(struct pg_stmt *st);

static void conn_ready(struct pg_conn *c)
{
    c->constraint[0] = '\0';
    if (c->busy)
        stmt_detach(c->busy);
    if (PQstatus(c->pg) == CONNECTION_BAD && !c->tx_lost)
        reconnect(c);
}

/* Runs sql (no parameters) to its end; *cmd (may be NULL) receives the
 * command tag of the last result. */
static enum qb_err simple(struct pg_conn *c, const char *sql, const char *what, char *cmd,
                          size_t cmdlen, char *err, size_t errlen)
{
    conn_ready(c);
    if (c->tx_lost)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "%s: connection to PostgreSQL lost in a transaction", what);
    bool was_tx = in_tx(c);
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

enum qb_err db_pg_open(const char *url, struct db_conn **out, char *err, size_t errlen)
{
    *out = NULL;
    /* dbname first, expanded: the keywords after it override the URL's. */
    const char *const keys[] = {"dbname",           "application_name", "connect_timeout",
                                "keepalives",       "keepalives_idle",  "keepalives_interval",
                                "keepalives_count", "tcp_user_timeout", NULL};
    const char *const vals[] = {url, "qbackupd", "10", "1", "10", "5", "3", "30000", NULL};
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

static void pg_close(struct db_conn *dc)
{
    struct pg_conn *c = conn_of(dc);
    pg_stmt_cache_free(c->cache);
    PQfinish(c->pg);
    free(c);
}

static enum qb_err pg_exec(struct db_conn *dc, const char *sql, char *err, size_t errlen)
{
    struct pg_conn *c = conn_of(dc);
    if (c->trace_fn)
        c->trace_fn(c->trace_ctx, sql);
    if (!sql_reads(sql))
        c->events_written = true;
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
        stmt_detach(c->busy);
    if (c->tx_lost || PQstatus(c->pg) == CONNECTION_BAD) {
        reconnect(c); /* the transaction is gone with the session */
        return;
    }
    if (in_tx(c))
        PQclear(PQexec(c->pg, "ROLLBACK"));
    if (PQstatus(c->pg) == CONNECTION_BAD)
        reconnect(c);
}

static bool pg_in_transaction(struct db_conn *dc)
{
    struct pg_conn *c = conn_of(dc);
    return c->tx_lost || in_tx(c);
}

static enum qb_err pg_lock(struct db_conn *dc, int64_t key, char *err, size_t errlen)
{
    struct pg_conn *c = conn_of(dc);
    conn_ready(c);
    if (c->tx_lost)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "lock: connection to PostgreSQL lost in a transaction");
    char k[24];
    snprintf(k, sizeof k, "%" PRId64, key);
    const char *const params[] = {k};
    bool was_tx = in_tx(c);
    PGresult *r = PQexecParams(c->pg, "SELECT pg_advisory_xact_lock($1::bigint)", 1, NULL, params,
                               NULL, NULL, 0);
    enum qb_err rc = QB_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_fail(c, r, was_tx, "lock", err, errlen);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ statements */

static enum qb_err pg_prepare(struct db_conn *dc, const char *sql, struct db_stmt **out, char *err,
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
    st->reads = sql_reads(sql);
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
static void stmt_detach(struct pg_stmt *st)
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

static void pg_finalize(struct db_stmt *ds)
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

static void pg_reset(struct db_stmt *ds)
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

static void pg_bind_int64(struct db_stmt *ds, int idx, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    bind(stmt_of(ds), idx, P_INT, buf);
}

static void pg_bind_text(struct db_stmt *ds, int idx, const char *text)
{
    bind(stmt_of(ds), idx, P_TEXT, text);
}

static void pg_bind_null(struct db_stmt *ds, int idx)
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
    conn_ready(c);
    if (c->trace_fn)
        c->trace_fn(c->trace_ctx, st->sql);
    if (!st->reads)
        c->events_written = true;
    if (c->tx_lost)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "%s: connection to PostgreSQL lost in a transaction", what);
    bool was_tx = in_tx(c);
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
    return st->reads && (lost_state(state) || PQstatus(c->pg) == CONNECTION_BAD);
}

static enum qb_err pg_step(struct db_stmt *ds, bool *row, const char *what, char *err,
                           size_t errlen)
{
    struct pg_stmt *st = stmt_of(ds);
    struct pg_conn *c = conn_of(ds->conn);
    *row = false;
    PQclear(st->row);
    st->row = NULL;
    if (st->state == S_DONE)
        st->state = S_READY; /* stepped again: runs again, as SQLite's do */
    bool was_tx = in_tx(c) || c->tx_lost;
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
        reconnect(c);
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
     * is drained first, so a reconnect in pg_fail finds it idle. */
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

static bool pg_column_is_null(struct db_stmt *ds, int col)
{
    return cell(stmt_of(ds), col) == NULL;
}

static int64_t pg_column_int64(struct db_stmt *ds, int col)
{
    const char *v = cell(stmt_of(ds), col);
    if (!v)
        return 0;
    if (v[0] == 't' && !v[1])
        return 1;
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct db_stmt *ds, int col)
{
    return cell(stmt_of(ds), col);
}

static int64_t pg_changes(struct db_stmt *ds)
{
    return stmt_of(ds)->changes;
}

static const char *pg_sql(struct db_stmt *ds)
{
    return stmt_of(ds)->sql;
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

static bool pg_take_events_written(struct db_conn *dc)
{
    struct pg_conn *c = conn_of(dc);
    bool w = c->events_written;
    c->events_written = false;
    return w;
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
    .take_events_written = pg_take_events_written,
};
