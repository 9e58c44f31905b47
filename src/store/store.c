/* SPDX-License-Identifier: Apache-2.0
 *
 * store.c -- the connection pool over db.h (a SQLite file or a PostgreSQL
 * catalogue: db_open picks by the target), the events wake-up, and the
 * schema calls.  Owns every pooled connection of the process (engines:
 * db_sqlite.c, db_pg.c; statements: store_stmt.c).
 */
#include "store/store_internal.h"
#include "store/migrate.h"
#include "store/store_events.h"

#include "util/threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct store {
    pthread_mutex_t lock; /* guards free_conns/nfree */
    pthread_cond_t available;
    struct db_conn **free_conns; /* connections not in use */
    unsigned nfree;
    unsigned size;
    enum db_dialect dialect;            /* of every connection */
    const struct seal_keyring *keyring; /* set once before threads start; borrowed */
    pthread_mutex_t events_lock;        /* guards events_seq */
    pthread_cond_t events_cond;         /* events_seq moved */
    uint64_t events_seq;                /* bumped when events were committed */
    void (*events_listener)(void *ctx); /* store_events_set_listener */
    void *events_listener_ctx;
};

void store_close(struct store *s)
{
    if (!s)
        return;
    QB_ASSERT(s->nfree == s->size);
    for (unsigned i = 0; i < s->nfree; i++)
        db_close(s->free_conns[i]);
    pthread_cond_destroy(&s->available);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->events_cond);
    pthread_mutex_destroy(&s->events_lock);
    free(s->free_conns);
    free(s);
}

enum qb_err store_open(const char *target, unsigned pool_size, struct store **out, char *err,
                       size_t errlen)
{
    QB_ASSERT(pool_size > 0);
    struct store *s = xcalloc(1, sizeof *s);
    s->free_conns = xcalloc(pool_size, sizeof *s->free_conns);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->available, NULL);
    pthread_mutex_init(&s->events_lock, NULL);
    pthread_cond_init(&s->events_cond, NULL);
    for (unsigned i = 0; i < pool_size; i++) {
        enum qb_err rc = db_open(target, &s->free_conns[i], err, errlen);
        if (rc) {
            store_close(s);
            return rc;
        }
        s->nfree++;
        s->size++;
    }
    s->dialect = db_dialect(s->free_conns[0]);
    *out = s;
    return QB_OK;
}

struct db_conn *store_acquire(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->nfree == 0)
        pthread_cond_wait(&s->available, &s->lock);
    struct db_conn *c = s->free_conns[--s->nfree];
    pthread_mutex_unlock(&s->lock);
    return c;
}

void store_release(struct store *s, struct db_conn *c)
{
    /* A caller that bailed out mid-transaction: never let the next user of
     * this connection inherit it. */
    db_rollback(c);
    /* Read before the connection goes back: the next user may write. */
    bool events_written = db_take_events_written(c);
    pthread_mutex_lock(&s->lock);
    s->free_conns[s->nfree++] = c;
    pthread_cond_signal(&s->available);
    pthread_mutex_unlock(&s->lock);
    if (events_written) {
        /* Also after a rollback: a spurious wake-up only costs a read. */
        pthread_mutex_lock(&s->events_lock);
        s->events_seq++;
        pthread_cond_broadcast(&s->events_cond);
        if (s->events_listener)
            s->events_listener(s->events_listener_ctx);
        pthread_mutex_unlock(&s->events_lock);
    }
}

/* The wake-up half of store_events.h lives here, with the struct. */
uint64_t store_events_seq(struct store *s)
{
    pthread_mutex_lock(&s->events_lock);
    uint64_t seq = s->events_seq;
    pthread_mutex_unlock(&s->events_lock);
    return seq;
}

void store_events_set_listener(struct store *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->events_lock);
    s->events_listener = fn;
    s->events_listener_ctx = ctx;
    pthread_mutex_unlock(&s->events_lock);
}

bool store_events_wait(struct store *s, uint64_t seen, long timeout_ms)
{
    struct timespec until;
    threads_deadline(&until, timeout_ms);
    pthread_mutex_lock(&s->events_lock);
    while (s->events_seq == seen) {
        if (pthread_cond_timedwait(&s->events_cond, &s->events_lock, &until) == ETIMEDOUT)
            break;
    }
    bool moved = s->events_seq != seen;
    pthread_mutex_unlock(&s->events_lock);
    return moved;
}

enum db_dialect store_dialect(struct store *s)
{
    return s->dialect;
}

const struct seal_keyring *store_keyring(struct store *s)
{
    return s->keyring;
}

void store_set_keyring(struct store *s, const struct seal_keyring *kr)
{
    s->keyring = kr;
}

enum qb_err store_migrate(struct store *s, int *applied, char *err, size_t errlen)
{
    struct db_conn *c = store_acquire(s);
    enum qb_err rc = migrate_apply(c, applied, err, errlen);
    store_release(s, c);
    return rc;
}

enum qb_err store_schema_version(struct store *s, int *version, char *err, size_t errlen)
{
    struct db_conn *c = store_acquire(s);
    enum qb_err rc = migrate_current_version(c, version, err, errlen);
    store_release(s, c);
    return rc;
}

enum qb_err store_heartbeat(struct store *s, char *err, size_t errlen)
{
    int changes = 0;
    enum qb_err rc = store_execf(s, "UPDATE heartbeat SET checked_at = ?1 WHERE id = 1", &changes,
                                 "heartbeat", err, errlen, "i", qb_now_ms() / 1000);
    if (!rc && changes != 1)
        rc = qb_failf(QB_ERR_IO, err, errlen, "heartbeat: row missing; schema damaged?");
    return rc;
}

void store_trace(struct store *s, void (*fn)(void *ctx, const char *sql), void *ctx)
{
    pthread_mutex_lock(&s->lock);
    QB_ASSERT(s->nfree == s->size); /* every connection idle: set on all of them */
    for (unsigned i = 0; i < s->nfree; i++)
        db_trace(s->free_conns[i], fn, ctx);
    pthread_mutex_unlock(&s->lock);
}
