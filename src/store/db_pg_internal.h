/* SPDX-License-Identifier: Apache-2.0
 *
 * db_pg_internal.h -- what the two halves of db.h's PostgreSQL engine
 * share: db_pg.c (sessions, transactions, errors, the ops table) and
 * db_pg_stmt.c (statements: typed prepare, cache, rows).  Included by
 * those two files only.
 */
#ifndef QB_STORE_DB_PG_INTERNAL_H
#define QB_STORE_DB_PG_INTERNAL_H

#include "store/db_internal.h"

#include <libpq-fe.h>

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

static inline struct pg_conn *conn_of(struct db_conn *c)
{
    return (struct pg_conn *)c;
}

static inline struct pg_stmt *stmt_of(struct db_stmt *s)
{
    return (struct pg_stmt *)s;
}

/* ------------------------------------------------ sessions (db_pg.c) */

/* One reconnect attempt of a connection that went bad: the statement
 * cache is emptied (the server forgot it). */
void pg_reconnect(struct pg_conn *c);
/* Whether a transaction block is open (see db_pg.c). */
bool pg_in_tx(struct pg_conn *c);
/* Whether sql only reads (SELECT, SHOW...): it does not wake event
 * waiters. */
bool pg_sql_reads(const char *sql);
/* Whether a SQLSTATE says the session is gone. */
bool pg_lost_state(const char *state);
/* Maps a failure of what to qb_err (the Errors paragraph of db_pg.c);
 * res is the failed result, or NULL for a failure of the connection.
 * was_tx: whether a transaction was open when the statement started. */
enum qb_err pg_fail(struct pg_conn *c, const PGresult *res, bool was_tx, const char *what,
                    char *err, size_t errlen);
/* Before any query on c: frees the connection of a statement still
 * streaming rows, and reopens one that died outside a transaction. */
void pg_conn_ready(struct pg_conn *c);

/* ---------------------------------------------- statements (db_pg_stmt.c) */

/* Reads the rest of st's results off the connection into its queue. */
void pg_stmt_detach(struct pg_stmt *st);

/* The statement operations of the ops table (db.h says what each does). */
enum qb_err pg_prepare(struct db_conn *dc, const char *sql, struct db_stmt **out, char *err,
                       size_t errlen);
void pg_finalize(struct db_stmt *ds);
void pg_reset(struct db_stmt *ds);
void pg_bind_int64(struct db_stmt *ds, int idx, int64_t v);
void pg_bind_text(struct db_stmt *ds, int idx, const char *text);
void pg_bind_null(struct db_stmt *ds, int idx);
enum qb_err pg_step(struct db_stmt *ds, bool *row, const char *what, char *err, size_t errlen);
bool pg_column_is_null(struct db_stmt *ds, int col);
int64_t pg_column_int64(struct db_stmt *ds, int col);
const char *pg_column_text(struct db_stmt *ds, int col);
int64_t pg_changes(struct db_stmt *ds);
const char *pg_sql(struct db_stmt *ds);

#endif /* QB_STORE_DB_PG_INTERNAL_H */
