/* SPDX-License-Identifier: Apache-2.0
 *
 * db.c -- db.h's calls dispatched to the engine of each connection
 * (db_internal.h).  Owns no state.
 */
#include "store/db_internal.h"

#include <string.h>

bool db_target_is_postgres(const char *target)
{
    return strncmp(target, "postgres://", 11) == 0 || strncmp(target, "postgresql://", 13) == 0;
}

void db_close(struct db_conn *c)
{
    if (c)
        c->ops->close(c);
}

enum qb_err db_open(const char *target, struct db_conn **out, char *err, size_t errlen)
{
    *out = NULL;
    if (db_target_is_postgres(target))
        return db_pg_open(target, out, err, errlen);
    return db_sqlite_open(target, out, err, errlen);
}

enum db_dialect db_dialect(const struct db_conn *c)
{
    return c->ops->dialect;
}

enum qb_err db_exec(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
    return c->ops->exec(c, sql, err, errlen);
}

enum qb_err db_begin(struct db_conn *c, enum db_tx tx, char *err, size_t errlen)
{
    return c->ops->begin(c, tx, err, errlen);
}

enum qb_err db_commit(struct db_conn *c, char *err, size_t errlen)
{
    return c->ops->commit(c, err, errlen);
}

void db_rollback(struct db_conn *c)
{
    c->ops->rollback(c);
}

bool db_in_transaction(struct db_conn *c)
{
    return c->ops->in_transaction(c);
}

enum qb_err db_lock(struct db_conn *c, int64_t key, char *err, size_t errlen)
{
    return c->ops->lock(c, key, err, errlen);
}

enum qb_err db_prepare(struct db_conn *c, const char *sql, struct db_stmt **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    return c->ops->prepare(c, sql, out, err, errlen);
}

void db_finalize(struct db_stmt *st)
{
    if (st)
        st->conn->ops->finalize(st);
}

void db_reset(struct db_stmt *st)
{
    st->conn->ops->reset(st);
}

void db_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    st->conn->ops->bind_int64(st, idx, v);
}

void db_bind_text(struct db_stmt *st, int idx, const char *text)
{
    st->conn->ops->bind_text(st, idx, text);
}

void db_bind_null(struct db_stmt *st, int idx)
{
    st->conn->ops->bind_null(st, idx);
}

enum qb_err db_step(struct db_stmt *st, bool *row, const char *what, char *err, size_t errlen)
{
    *row = false;
    return st->conn->ops->step(st, row, what, err, errlen);
}

bool db_column_is_null(struct db_stmt *st, int col)
{
    return st->conn->ops->column_is_null(st, col);
}

int64_t db_column_int64(struct db_stmt *st, int col)
{
    return st->conn->ops->column_int64(st, col);
}

const char *db_column_text(struct db_stmt *st, int col)
{
    return st->conn->ops->column_text(st, col);
}

int64_t db_changes(struct db_stmt *st)
{
    return st->conn->ops->changes(st);
}

const char *db_sql(struct db_stmt *st)
{
    return st->conn->ops->sql(st);
}

const char *db_error_constraint(struct db_conn *c)
{
    return c->ops->error_constraint(c);
}

void db_trace(struct db_conn *c, void (*fn)(void *ctx, const char *sql), void *ctx)
{
    c->ops->trace(c, fn, ctx);
}

bool db_take_events_written(struct db_conn *c)
{
    bool written = c->events_written;
    c->events_written = false;
    return written;
}
