/* SPDX-License-Identifier: Apache-2.0
 *
 * create_gate.c -- keeps snapshot creations of one collection on one
 * Qdrant node apart in time (see create_gate.h).
 *
 * A short list under one mutex: an entry per snapshot held, or left
 * behind less than CREATE_GATE_SPACING_MS ago.  Few runs create at once, so a
 * linear scan is all it needs; expired entries go on the next enter.
 */
#include "engine/create_gate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gate_entry {
    char *node;
    char *collection; /* NULL: a full snapshot */
    bool held;        /* a snapshot made or being made, not yet deleted */
    int64_t until;    /* not held: qb_mono_ms() when the spacing ends */
    struct gate_entry *next;
};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gate_entry *gate_entries;

static void entry_free(struct gate_entry *e)
{
    if (!e)
        return;
    free(e->node);
    free(e->collection);
    free(e);
}

static bool same_collection(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Whether e keeps a creation of collection on node waiting: same node,
 * and the same collection or a full snapshot on either side. */
static bool blocks(const struct gate_entry *e, const char *node, const char *collection,
                   int64_t now)
{
    if (strcmp(e->node, node) != 0 ||
        (e->collection && collection && strcmp(e->collection, collection) != 0))
        return false;
    return e->held || now < e->until;
}

/* Drops entries whose spacing has ended; under gate_lock. */
static void purge(int64_t now)
{
    struct gate_entry **pp = &gate_entries;
    while (*pp) {
        struct gate_entry *e = *pp;
        if (!e->held && now >= e->until) {
            *pp = e->next;
            entry_free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Adds a held entry when nothing blocks it; under gate_lock. */
static bool try_take(const char *node, const char *collection)
{
    int64_t now = qb_mono_ms();
    purge(now);
    for (const struct gate_entry *e = gate_entries; e; e = e->next)
        if (blocks(e, node, collection, now))
            return false;
    struct gate_entry *e = xcalloc(1, sizeof *e);
    e->node = xstrdup(node);
    e->collection = collection ? xstrdup(collection) : NULL;
    e->held = true;
    e->next = gate_entries;
    gate_entries = e;
    return true;
}

enum qb_err create_gate_enter(const char *node, const char *collection, create_gate_check_fn check,
                              void *ud, char *err, size_t errlen)
{
    for (;;) {
        pthread_mutex_lock(&gate_lock);
        bool taken = try_take(node, collection);
        pthread_mutex_unlock(&gate_lock);
        if (taken)
            return QB_OK;
        enum qb_err rc = check ? check(ud, err, errlen) : QB_OK;
        if (rc)
            return rc;
        /* Polled: the spacing ends with no event to wait on, and a cancel
         * is seen within the pause. */
        qb_sleep_ms(200);
    }
}

void create_gate_leave(const char *node, const char *collection, bool gone)
{
    pthread_mutex_lock(&gate_lock);
    for (struct gate_entry *e = gate_entries; e; e = e->next) {
        if (e->held && strcmp(e->node, node) == 0 && same_collection(e->collection, collection)) {
            e->held = false;
            e->until = qb_mono_ms() + (gone ? 0 : CREATE_GATE_SPACING_MS);
            break;
        }
    }
    pthread_mutex_unlock(&gate_lock);
}
