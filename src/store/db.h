/* SPDX-License-Identifier: Apache-2.0
 *
 * db.h -- the catalogue's database engine behind one small interface, so
 * the store (src/store/store_*.c) keeps one text per statement and runs on
 * SQLite (db_sqlite.c, the embedded default) or PostgreSQL (db_pg.c, a
 * fleet's shared catalogue; docs/internals/fleet.md).  Only src/store/
 * includes this; nothing above the store ever sees a connection.
 *
 * DESIGN
 * The interface is the shape of SQLite's prepared statements, which the
 * store was written on: prepare, bind by position, step row by row, read
 * columns of the current row, finalize.  SQL is written once with "?N"
 * parameters; the PostgreSQL side rewrites them to "$N" (pg_sql.h).  Where
 * the dialects differ and no text is accepted by both, the call site
 * switches on db_dialect() with both texts side by side.
 *
 * Types: integers are int64_t and text is UTF-8 without NULs; NULL is a
 * separate state of a parameter or column.  Booleans are 0/1 integers on
 * both engines.  A column read as an integer that holds NULL reads 0.
 *
 * Errors follow the house convention (enum qb_err + message buffer).  The
 * classes are the same on both engines, so the store and the API above it
 * do not know which one ran:
 *   QB_ERR_BUSY      the engine could not take a lock in time, or the
 *                    transaction lost a serialisation race (retryable)
 *   QB_ERR_CONFLICT  unique, primary key or foreign key constraint
 *   QB_ERR_INVALID   CHECK or NOT NULL constraint (the schema's last line
 *                    of defence against bad input)
 *   QB_ERR_TRANSIENT the connection to the server was lost (PostgreSQL)
 *   QB_ERR_IO        anything else
 * The message is "<what>: <engine's message>"; for constraint errors it
 * names the constraint or index when the engine says which (see
 * db_error_constraint).
 *
 * OWNERSHIP
 * A connection is used by one thread at a time (the store's pool hands it
 * out).  A statement belongs to its connection and must be finalized
 * before the connection is closed.  Text returned by db_column_text is
 * borrowed: valid until the next db_step, db_reset or db_finalize of that
 * statement.
 */
#ifndef QB_STORE_DB_H
#define QB_STORE_DB_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

struct db_conn;
struct db_stmt;

enum db_dialect {
    DB_SQLITE,
    DB_POSTGRES,
};

/* What a transaction will do.  DB_TX_WRITE takes the write lock at BEGIN
 * on SQLite (BEGIN IMMEDIATE: two writers never deadlock upgrading a read
 * lock); on PostgreSQL both are a plain BEGIN (READ COMMITTED), and a
 * section that relies on being the only writer also calls db_lock. */
enum db_tx {
    DB_TX_READ,
    DB_TX_WRITE,
};

/* ------------------------------------------------------------ connections */

/* Whether target names a PostgreSQL server ("postgres://" or
 * "postgresql://" URL) rather than a SQLite file path. */
bool db_target_is_postgres(const char *target);

/* Opens one connection to target: a SQLite file path (created if missing;
 * WAL, synchronous=FULL, foreign keys on, busy timeout) or a PostgreSQL
 * URL.  An unreachable server or unopenable file fails with QB_ERR_IO and a
 * message naming the target without its password.  Caller closes with
 * db_close. */
enum qb_err db_open(const char *target, struct db_conn **out, char *err,
                    size_t errlen) QB_MUSTCHECK;

/* Closes c (every statement finalized first); NULL is a no-op. */
void db_close(struct db_conn *c);

enum db_dialect db_dialect(const struct db_conn *c);

/* Runs sql, which takes no parameters and returns no rows we read (BEGIN,
 * PRAGMA, DDL); it may hold several statements separated by ';' (a
 * migration). */
enum qb_err db_exec(struct db_conn *c, const char *sql, char *err, size_t errlen) QB_MUSTCHECK;

/* ---------------------------------------------------------- transactions */

enum qb_err db_begin(struct db_conn *c, enum db_tx tx, char *err, size_t errlen) QB_MUSTCHECK;
enum qb_err db_commit(struct db_conn *c, char *err, size_t errlen) QB_MUSTCHECK;
/* Rolls back the open transaction, if any; never fails visibly (a lost
 * connection has no transaction left). */
void db_rollback(struct db_conn *c);
/* Whether a transaction is open (BEGIN seen, no COMMIT/ROLLBACK yet). */
bool db_in_transaction(struct db_conn *c);

/* Inside a transaction, waits for the exclusive lock named key until the
 * transaction ends: pg_advisory_xact_lock on PostgreSQL, for the few
 * sections that read-then-write assuming no other writer (run creation,
 * the webhook cursor, re-sealing secrets).  On SQLite a DB_TX_WRITE
 * transaction already excludes every other writer: a no-op. */
enum qb_err db_lock(struct db_conn *c, int64_t key, char *err, size_t errlen) QB_MUSTCHECK;

/* ------------------------------------------------------------ statements */

/* Prepares sql on c.  On failure *out is NULL and err says why. */
enum qb_err db_prepare(struct db_conn *c, const char *sql, struct db_stmt **out, char *err,
                       size_t errlen) QB_MUSTCHECK;

/* Frees st; NULL is a no-op. */
void db_finalize(struct db_stmt *st);

/* Makes st ready to step again from the start; bindings are kept. */
void db_reset(struct db_stmt *st);

/* Binds parameter ?idx (1-based).  Binding a number the statement does not
 * use is ignored, so one binding function can serve statements that use a
 * subset of its parameters.  Text is copied; NULL text binds NULL. */
void db_bind_int64(struct db_stmt *st, int idx, int64_t v);
void db_bind_text(struct db_stmt *st, int idx, const char *text);
void db_bind_null(struct db_stmt *st, int idx);

/* Runs st up to its next row.  *row is true when a row is available to
 * the column readers, false when the statement is done.  what names the
 * operation in the error message. */
enum qb_err db_step(struct db_stmt *st, bool *row, const char *what, char *err,
                    size_t errlen) QB_MUSTCHECK;

/* Columns of the current row, 0-based. */
bool db_column_is_null(struct db_stmt *st, int col);
int64_t db_column_int64(struct db_stmt *st, int col);
/* Borrowed (see OWNERSHIP); NULL for NULL. */
const char *db_column_text(struct db_stmt *st, int col);

/* Rows changed by the last INSERT/UPDATE/DELETE run through st. */
int64_t db_changes(struct db_stmt *st);

/* The SQL text st was prepared from (as the store wrote it). */
const char *db_sql(struct db_stmt *st);

/* ---------------------------------------------------------------- errors */

/* After a QB_ERR_CONFLICT or QB_ERR_INVALID from c: the name of the
 * constraint or unique index that refused the write when the engine says
 * ("runs_idempotency"), else "".  Valid until the next call on c. */
const char *db_error_constraint(struct db_conn *c);

/* ----------------------------------------------------------------- tests */

/* Calls fn(ctx, sql) with the text of every statement c runs from now on
 * (as the store wrote it, parameters unexpanded); NULL stops.  For tests
 * that EXPLAIN what the store really runs. */
void db_trace(struct db_conn *c, void (*fn)(void *ctx, const char *sql), void *ctx);

/* Whether a row was inserted into the table `events` on c since the last
 * call (which clears it): the store wakes event waiters after it gives the
 * connection back.  SQLite sees this through its update hook; PostgreSQL
 * through the statements c ran (a write to a table whose triggers log
 * events counts: a spurious wake-up costs one read). */
bool db_take_events_written(struct db_conn *c);

#endif /* QB_STORE_DB_H */
