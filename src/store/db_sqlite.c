/* SPDX-License-Identifier: Apache-2.0
 *
 * db_sqlite.c -- db.h on SQLite, the embedded default catalogue.  Owns the
 * process's sqlite3 handles: connection set-up (WAL, synchronous=FULL,
 * foreign keys, busy timeout), the mapping of SQLite's result codes to
 * enum qb_err, the `events` update hook and statement tracing.
 */
#include "store/db_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writers wait this long for the lock before SQLITE_BUSY: long enough to
 * ride out a checkpoint, short enough that an API call fails visibly. */
#define SQ_BUSY_TIMEOUT_MS 5000

struct sq_conn {
    struct db_conn head; /* first: db.c dispatches through it */
    sqlite3 *db;
    char constraint[128]; /* db_error_constraint: of the last error */
    void (*trace_fn)(void *ctx, const char *sql);
    void *trace_ctx;
};

struct sq_stmt {
    struct db_stmt head; /* first */
    sqlite3_stmt *st;
};

static const struct db_ops sq_ops;

static struct sq_conn *conn_of(struct db_conn *c)
{
    return (struct sq_conn *)c;
}

static struct sq_stmt *stmt_of(struct db_stmt *st)
{
    return (struct sq_stmt *)st;
}

/* ---------------------------------------------------------------- errors */

/* The unique index of table whose columns SQLite listed ("t.a, t.b", as
 * its message for an index on plain columns says), so that both engines
 * name the index; "" when none matches.  Only on the error path. */
static void unique_index_named(struct sq_conn *c, const char *cols)
{
    const char *dot = strchr(cols, '.');
    if (!dot)
        return;
    char table[64];
    size_t tlen = (size_t)(dot - cols);
    if (tlen >= sizeof table)
        return;
    memcpy(table, cols, tlen);
    table[tlen] = '\0';
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT il.name FROM pragma_index_list(?1) il WHERE il.\"unique\" AND "
                           "(SELECT group_concat(?1 || '.' || ii.name, ', ') FROM "
                           "(SELECT name FROM pragma_index_info(il.name) ORDER BY seqno) ii) = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, cols, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(c->constraint, sizeof c->constraint, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* Records which constraint refused the write, from SQLite's message:
 * "UNIQUE constraint failed: index 'runs_idempotency'" (an index on
 * expressions), "UNIQUE constraint failed: runs.plan_id, runs.scheduled_for"
 * (looked up), "CHECK constraint failed: name".  A foreign key is never
 * named by SQLite: "". */
static void note_constraint(struct sq_conn *c, const char *msg)
{
    c->constraint[0] = '\0';
    const char *p = strstr(msg, "constraint failed: ");
    if (!p)
        return;
    p += strlen("constraint failed: ");
    if (strncmp(p, "index '", 7) == 0) {
        p += 7;
        const char *q = strchr(p, '\'');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n < sizeof c->constraint) {
            memcpy(c->constraint, p, n);
            c->constraint[n] = '\0';
        }
    } else if (strncmp(msg, "UNIQUE", 6) == 0) {
        unique_index_named(c, p);
    } else {
        snprintf(c->constraint, sizeof c->constraint, "%s", p);
    }
}

/* Maps a SQLite result code to enum qb_err and writes "<what>: <sqlite
 * message>": BUSY/LOCKED -> QB_ERR_BUSY; CHECK/NOT NULL -> QB_ERR_INVALID
 * (the schema's last line of defence against bad input); every other
 * constraint (unique, primary key, foreign key: a RESTRICT reports plain
 * SQLITE_CONSTRAINT) -> QB_ERR_CONFLICT; others -> QB_ERR_IO. */
static enum qb_err sq_err(struct sq_conn *c, int rc, const char *what, char *err, size_t errlen)
{
    enum qb_err e = QB_ERR_IO;
    int primary = rc & 0xff;
    const char *msg = sqlite3_errmsg(c->db);
    c->constraint[0] = '\0';
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        e = QB_ERR_BUSY;
    else if (rc == SQLITE_CONSTRAINT_CHECK || rc == SQLITE_CONSTRAINT_NOTNULL)
        e = QB_ERR_INVALID;
    else if (primary == SQLITE_CONSTRAINT)
        e = QB_ERR_CONFLICT;
    /* Formatted before the look-up, which replaces the connection's
     * message. */
    qb_failf(e, err, errlen, "%s: %s", what, msg);
    if (primary == SQLITE_CONSTRAINT) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", msg);
        note_constraint(c, copy);
    }
    return e;
}

static const char *sq_error_constraint(struct db_conn *c)
{
    return conn_of(c)->constraint;
}

/* ------------------------------------------------------------ connections */

static void on_update(void *ctx, int op, const char *dbname, const char *table, sqlite3_int64 row)
{
    (void)dbname;
    (void)row;
    if (op == SQLITE_INSERT && strcmp(table, "events") == 0)
        ((struct sq_conn *)ctx)->head.events_written = true; /* directly or by a trigger */
}

static enum qb_err sq_exec(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(conn_of(c)->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sq_err(conn_of(c), rc, sql, err, errlen);
    return QB_OK;
}

static void sq_close(struct db_conn *c)
{
    sqlite3_close(conn_of(c)->db);
    free(c);
}

enum qb_err db_sqlite_open(const char *path, struct db_conn **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    *out = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        qb_failf(QB_ERR_IO, err, errlen, "database %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return QB_ERR_IO;
    }
    struct sq_conn *c = xcalloc(1, sizeof *c);
    c->head.ops = &sq_ops;
    c->db = db;
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    sqlite3_update_hook(db, on_update, c);
    static const char *const pragmas[] = {
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(pragmas); i++) {
        enum qb_err e = sq_exec(&c->head, pragmas[i], err, errlen);
        if (e) {
            sq_close(&c->head);
            return e;
        }
    }
    *out = &c->head;
    return QB_OK;
}

/* ---------------------------------------------------------- transactions */

static enum qb_err sq_begin(struct db_conn *c, enum db_tx tx, char *err, size_t errlen)
{
    return sq_exec(c, tx == DB_TX_WRITE ? "BEGIN IMMEDIATE" : "BEGIN", err, errlen);
}

static enum qb_err sq_commit(struct db_conn *c, char *err, size_t errlen)
{
    return sq_exec(c, "COMMIT", err, errlen);
}

static bool sq_in_transaction(struct db_conn *c)
{
    return !sqlite3_get_autocommit(conn_of(c)->db);
}

static void sq_rollback(struct db_conn *c)
{
    if (sq_in_transaction(c))
        sqlite3_exec(conn_of(c)->db, "ROLLBACK", NULL, NULL, NULL);
}

/* BEGIN IMMEDIATE already holds the only write lock. */
static enum qb_err sq_lock(struct db_conn *c, int64_t key, char *err, size_t errlen)
{
    (void)c;
    (void)key;
    (void)err;
    (void)errlen;
    return QB_OK;
}

/* ------------------------------------------------------------ statements */

static enum qb_err sq_prepare(struct db_conn *c, const char *sql, struct db_stmt **out, char *err,
                              size_t errlen)
{
    sqlite3_stmt *raw = NULL;
    int rc = sqlite3_prepare_v2(conn_of(c)->db, sql, -1, &raw, NULL);
    if (rc != SQLITE_OK)
        return sq_err(conn_of(c), rc, "prepare", err, errlen);
    struct sq_stmt *st = xcalloc(1, sizeof *st);
    st->head.conn = c;
    st->st = raw;
    *out = &st->head;
    return QB_OK;
}

static void sq_finalize(struct db_stmt *st)
{
    sqlite3_finalize(stmt_of(st)->st);
    free(st);
}

static void sq_reset(struct db_stmt *st)
{
    sqlite3_reset(stmt_of(st)->st);
}

/* The binds ignore SQLITE_RANGE: a parameter the statement lacks. */
static void sq_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    sqlite3_bind_int64(stmt_of(st)->st, idx, v);
}

static void sq_bind_null(struct db_stmt *st, int idx)
{
    sqlite3_bind_null(stmt_of(st)->st, idx);
}

static void sq_bind_text(struct db_stmt *st, int idx, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt_of(st)->st, idx, text, -1, SQLITE_TRANSIENT);
    else
        sq_bind_null(st, idx);
}

static enum qb_err sq_step(struct db_stmt *st, bool *row, const char *what, char *err,
                           size_t errlen)
{
    int rc = sqlite3_step(stmt_of(st)->st);
    if (rc == SQLITE_ROW) {
        *row = true;
        return QB_OK;
    }
    *row = false;
    if (rc == SQLITE_DONE)
        return QB_OK;
    return sq_err(conn_of(st->conn), rc, what, err, errlen);
}

static bool sq_column_is_null(struct db_stmt *st, int col)
{
    return sqlite3_column_type(stmt_of(st)->st, col) == SQLITE_NULL;
}

static int64_t sq_column_int64(struct db_stmt *st, int col)
{
    return sqlite3_column_int64(stmt_of(st)->st, col);
}

static const char *sq_column_text(struct db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(stmt_of(st)->st, col);
}

static int64_t sq_changes(struct db_stmt *st)
{
    return sqlite3_changes(conn_of(st->conn)->db);
}

static const char *sq_sql(struct db_stmt *st)
{
    return sqlite3_sql(stmt_of(st)->st);
}

/* ----------------------------------------------------------------- tests */

static int trace_stmt(unsigned type, void *arg, void *p, void *x)
{
    (void)x;
    const struct sq_conn *c = arg;
    if (type == SQLITE_TRACE_STMT && c->trace_fn)
        c->trace_fn(c->trace_ctx, sqlite3_sql(p));
    return 0;
}

static void sq_trace(struct db_conn *c, void (*fn)(void *ctx, const char *sql), void *ctx)
{
    struct sq_conn *sc = conn_of(c);
    sc->trace_fn = fn;
    sc->trace_ctx = ctx;
    sqlite3_trace_v2(sc->db, fn ? SQLITE_TRACE_STMT : 0, fn ? trace_stmt : NULL, sc);
}

static const struct db_ops sq_ops = {
    .dialect = DB_SQLITE,
    .close = sq_close,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .in_transaction = sq_in_transaction,
    .lock = sq_lock,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .reset = sq_reset,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .column_is_null = sq_column_is_null,
    .column_int64 = sq_column_int64,
    .column_text = sq_column_text,
    .changes = sq_changes,
    .sql = sq_sql,
    .error_constraint = sq_error_constraint,
    .trace = sq_trace,
};
