/* SPDX-License-Identifier: Apache-2.0
 *
 * db_internal.h -- what an engine of db.h implements: a table of
 * operations, and the head every engine's connection and statement starts
 * with, through which db.c dispatches.  Included by db.c, db_sqlite.c and
 * db_pg.c only.
 *
 * DESIGN
 * An engine's struct embeds `struct db_conn` (or `struct db_stmt`) as its
 * FIRST member, so db.c can read the ops of any connection and the engine
 * can cast back to its own type.  The operations mean what their db.h
 * counterparts say; db.c adds nothing but the dispatch (and the
 * events-written flag of the head, which every engine kept alike), so an
 * engine's behaviour is all in its own file.
 */
#ifndef QB_STORE_DB_INTERNAL_H
#define QB_STORE_DB_INTERNAL_H

#include "store/db.h"

struct db_ops {
    enum db_dialect dialect;
    void (*close)(struct db_conn *c);
    enum qb_err (*exec)(struct db_conn *c, const char *sql, char *err, size_t errlen);
    enum qb_err (*begin)(struct db_conn *c, enum db_tx tx, char *err, size_t errlen);
    enum qb_err (*commit)(struct db_conn *c, char *err, size_t errlen);
    void (*rollback)(struct db_conn *c);
    bool (*in_transaction)(struct db_conn *c);
    enum qb_err (*lock)(struct db_conn *c, int64_t key, char *err, size_t errlen);
    enum qb_err (*prepare)(struct db_conn *c, const char *sql, struct db_stmt **out, char *err,
                           size_t errlen);
    void (*finalize)(struct db_stmt *st);
    void (*reset)(struct db_stmt *st);
    void (*bind_int64)(struct db_stmt *st, int idx, int64_t v);
    void (*bind_text)(struct db_stmt *st, int idx, const char *text);
    void (*bind_null)(struct db_stmt *st, int idx);
    enum qb_err (*step)(struct db_stmt *st, bool *row, const char *what, char *err, size_t errlen);
    bool (*column_is_null)(struct db_stmt *st, int col);
    int64_t (*column_int64)(struct db_stmt *st, int col);
    const char *(*column_text)(struct db_stmt *st, int col);
    int64_t (*changes)(struct db_stmt *st);
    const char *(*sql)(struct db_stmt *st);
    const char *(*error_constraint)(struct db_conn *c);
    void (*trace)(struct db_conn *c, void (*fn)(void *ctx, const char *sql), void *ctx);
};

/* The head of every engine's connection. */
struct db_conn {
    const struct db_ops *ops;
    /* Set by the engine when this connection inserted into `events` (each
     * engine says how it knows); db_take_events_written reads and clears it. */
    bool events_written;
};

/* The head of every engine's statement. */
struct db_stmt {
    struct db_conn *conn;
};

/* The engines' openers (db_open picks one by the target). */
enum qb_err db_sqlite_open(const char *path, struct db_conn **out, char *err, size_t errlen);
enum qb_err db_pg_open(const char *url, struct db_conn **out, char *err, size_t errlen);

#endif /* QB_STORE_DB_INTERNAL_H */
