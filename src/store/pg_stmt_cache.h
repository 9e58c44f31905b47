/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_stmt_cache.h -- the names under which one PostgreSQL connection has
 * prepared statements on its server, so a pooled connection prepares each
 * statement once (db_pg.c).  Bounded: when full, the least recently used
 * name is given back for the caller to DEALLOCATE.  Pure bookkeeping, no
 * I/O; used by the one thread that holds the connection.
 *
 * A key is whatever identifies a server-side statement: db_pg.c uses the
 * parameter types it asked for plus the "$N" text.
 */
#ifndef QB_STORE_PG_STMT_CACHE_H
#define QB_STORE_PG_STMT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#define PG_STMT_NAME_MAX 24 /* "qb_" + a 64-bit counter + NUL */

struct pg_stmt_cache;

/* A cache of at most capacity (>= 1) names; caller frees. */
struct pg_stmt_cache *pg_stmt_cache_new(int capacity);
void pg_stmt_cache_free(struct pg_stmt_cache *sc);

/* Forgets every name (the server forgot them: a new session). */
void pg_stmt_cache_clear(struct pg_stmt_cache *sc);

/* The name key is prepared under, marked as just used; NULL when absent.
 * Borrowed until the next call that adds, evicts or clears. */
const char *pg_stmt_cache_find(struct pg_stmt_cache *sc, const char *key);

/* When the cache is full: removes the least recently used entry, copies
 * its name to evicted (PG_STMT_NAME_MAX bytes) and returns true; the
 * caller DEALLOCATEs it.  False when there is room. */
bool pg_stmt_cache_evict(struct pg_stmt_cache *sc, char *evicted);

/* A fresh name for key, never handed out before on this cache, written to
 * name (PG_STMT_NAME_MAX bytes); not yet in the cache (pg_stmt_cache_add
 * after the server accepted it). */
void pg_stmt_cache_new_name(struct pg_stmt_cache *sc, char *name);

/* Records that key is prepared under name.  Call pg_stmt_cache_evict
 * first: there must be room. */
void pg_stmt_cache_add(struct pg_stmt_cache *sc, const char *key, const char *name);

/* How many names are cached. */
int pg_stmt_cache_count(const struct pg_stmt_cache *sc);

#endif /* QB_STORE_PG_STMT_CACHE_H */
