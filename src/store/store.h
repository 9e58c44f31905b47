/* SPDX-License-Identifier: Apache-2.0
 *
 * store.h -- the catalogue: opening, migrating and health.  The per-table
 * operations live in store_<table>.h.
 *
 * DESIGN
 * A small pool of connections, each used by one thread at a time: a store_*
 * call takes a connection, runs its statements (writes in DB_TX_WRITE
 * transactions: BEGIN IMMEDIATE on SQLite, so two writers never deadlock
 * upgrading read locks) and gives it back.  Callers never see a
 * connection.  The engine is behind src/store/db.h: a SQLite file, the
 * default, or a PostgreSQL catalogue shared by a fleet
 * (docs/internals/fleet.md).  SQLite connections run in
 * WAL mode (readers do not block the writer), with foreign keys on,
 * synchronous=FULL (a committed catalogue row survives power loss: it is
 * the record that a backup exists) and a busy timeout; a write that still
 * meets SQLITE_BUSY returns QB_ERR_BUSY, which the API answers with 503.
 *
 * THREAD SAFETY NOTES
 * All functions may be called from any thread once store_open returned.
 * `lock` guards the free list; it is never held during database calls.
 */
#ifndef QB_STORE_H
#define QB_STORE_H

#include "common.h"

struct store;

/* Opens the catalogue at target with pool_size connections: a SQLite file
 * path (created if needed) or a postgres:// URL (db_open).  Does not
 * migrate.  Caller frees with store_close. */
enum qb_err store_open(const char *target, unsigned pool_size, struct store **out, char *err,
                       size_t errlen) QB_MUSTCHECK;

/* Closes every connection (all must have been returned).  NULL is a no-op. */
void store_close(struct store *s);

/* Applies pending migrations (see migrate.h); *applied may be NULL. */
enum qb_err store_migrate(struct store *s, int *applied, char *err, size_t errlen) QB_MUSTCHECK;

/* Schema version recorded in the database. */
enum qb_err store_schema_version(struct store *s, int *version, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* Proves the catalogue is writable by updating the heartbeat row. */
enum qb_err store_heartbeat(struct store *s, char *err, size_t errlen) QB_MUSTCHECK;

/* For tests: calls fn(ctx, sql) with the text of every statement each
 * connection starts from now on (parameters unexpanded), or stops when fn
 * is NULL; a test EXPLAINs what the store really runs.  Call only while no
 * connection is in use (e.g. right after store_open). */
void store_trace(struct store *s, void (*fn)(void *ctx, const char *sql), void *ctx);

#endif /* QB_STORE_H */
