/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_stmt_cache.c -- a connection's prepared statement names
 * (pg_stmt_cache.h).  A small array searched linearly by hash then text:
 * the capacity is a hundred or so, and each lookup saves a round trip to
 * the server, which costs far more than the scan.
 */
#include "store/pg_stmt_cache.h"

#include "common.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint64_t hash;
    char *key; /* NULL: free slot */
    char name[PG_STMT_NAME_MAX];
    uint64_t used; /* tick of the last use, for LRU */
};

struct pg_stmt_cache {
    int capacity, count;
    uint64_t tick, names;
    struct entry *e;
};

void pg_stmt_cache_free(struct pg_stmt_cache *sc)
{
    if (!sc)
        return;
    pg_stmt_cache_clear(sc);
    free(sc->e);
    free(sc);
}

/* FNV-1a. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

struct pg_stmt_cache *pg_stmt_cache_new(int capacity)
{
    struct pg_stmt_cache *sc = xcalloc(1, sizeof *sc);
    sc->capacity = capacity > 0 ? capacity : 1;
    sc->e = xcalloc((size_t)sc->capacity, sizeof *sc->e);
    return sc;
}

void pg_stmt_cache_clear(struct pg_stmt_cache *sc)
{
    for (int i = 0; i < sc->capacity; i++) {
        free(sc->e[i].key);
        sc->e[i].key = NULL;
    }
    sc->count = 0;
}

const char *pg_stmt_cache_find(struct pg_stmt_cache *sc, const char *key)
{
    uint64_t h = hash_str(key);
    for (int i = 0; i < sc->capacity; i++) {
        struct entry *e = &sc->e[i];
        if (e->key && e->hash == h && strcmp(e->key, key) == 0) {
            e->used = ++sc->tick;
            return e->name;
        }
    }
    return NULL;
}

bool pg_stmt_cache_evict(struct pg_stmt_cache *sc, char *evicted)
{
    if (sc->count < sc->capacity)
        return false;
    struct entry *lru = &sc->e[0];
    for (int i = 1; i < sc->capacity; i++)
        if (sc->e[i].used < lru->used)
            lru = &sc->e[i];
    qb_strlcpy(evicted, lru->name, PG_STMT_NAME_MAX);
    free(lru->key);
    lru->key = NULL;
    sc->count--;
    return true;
}

void pg_stmt_cache_new_name(struct pg_stmt_cache *sc, char *name)
{
    snprintf(name, PG_STMT_NAME_MAX, "qb_%" PRIu64, ++sc->names);
}

void pg_stmt_cache_add(struct pg_stmt_cache *sc, const char *key, const char *name)
{
    for (int i = 0; i < sc->capacity; i++) {
        struct entry *e = &sc->e[i];
        if (e->key)
            continue;
        e->key = xstrdup(key);
        e->hash = hash_str(key);
        e->used = ++sc->tick;
        qb_strlcpy(e->name, name, sizeof e->name);
        sc->count++;
        return;
    }
}

int pg_stmt_cache_count(const struct pg_stmt_cache *sc)
{
    return sc->count;
}
