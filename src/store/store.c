/* SPDX-License-Identifier: Apache-2.0
 *
 * store.c -- the connection pool, connection set-up, and error mapping.
 * Owns every sqlite3 handle of the process (statements: store_stmt.c).
 */
#include "store/store_internal.h"
#include "store/migrate.h"
#include "store/store_events.h"

#include "util/threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Writers wait this long for the lock before SQLITE_BUSY: long enough to
 * ride out a checkpoint, short enough that an API call fails visibly. */
#define STORE_BUSY_TIMEOUT_MS 5000

struct store_trace_ctx; /* store_trace */

struct store {
    char *path;
    pthread_mutex_t lock; /* guards free_conns/nfree */
    pthread_cond_t available;
    sqlite3 **free_conns; /* connections not in use */
    unsigned nfree;
    unsigned size;
    const struct seal_keyring *keyring; /* set once before threads start; borrowed */
    pthread_mutex_t events_lock;        /* guards events_seq */
    pthread_cond_t events_cond;         /* events_seq moved */
    uint64_t events_seq;                /* bumped when events were committed */
    struct store_trace_ctx *trace;      /* store_trace's callback, or NULL */
    void (*events_listener)(void *ctx); /* store_events_set_listener */
    void *events_listener_ctx;
};

/* Set by the update hook when this thread's connection inserted into
 * `events` (directly or through a trigger); store_release, which runs
 * after the commit, wakes the waiters (store_events.h).  Per thread: a
 * connection is used by one thread between acquire and release. */
static _Thread_local bool events_written;

static void on_update(void *ctx, int op, const char *dbname, const char *table, sqlite3_int64 row)
{
    (void)ctx;
    (void)dbname;
    (void)row;
    if (op == SQLITE_INSERT && strcmp(table, "events") == 0)
        events_written = true;
}

static enum qb_err open_connection(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        qb_failf(QB_ERR_IO, err, errlen, "database %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return QB_ERR_IO;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    sqlite3_update_hook(db, on_update, NULL);
    static const char *const pragmas[] = {
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(pragmas); i++) {
        enum qb_err e = store_exec(db, pragmas[i], err, errlen);
        if (e) {
            sqlite3_close(db);
            return e;
        }
    }
    *out = db;
    return QB_OK;
}

enum qb_err store_open(const char *path, unsigned pool_size, struct store **out, char *err,
                       size_t errlen)
{
    QB_ASSERT(pool_size > 0);
    struct store *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->free_conns = xcalloc(pool_size, sizeof *s->free_conns);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->available, NULL);
    pthread_mutex_init(&s->events_lock, NULL);
    pthread_cond_init(&s->events_cond, NULL);
    for (unsigned i = 0; i < pool_size; i++) {
        enum qb_err rc = open_connection(path, &s->free_conns[i], err, errlen);
        if (rc) {
            store_close(s);
            return rc;
        }
        s->nfree++;
        s->size++;
    }
    *out = s;
    return QB_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    QB_ASSERT(s->nfree == s->size);
    for (unsigned i = 0; i < s->nfree; i++)
        sqlite3_close(s->free_conns[i]);
    pthread_cond_destroy(&s->available);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->events_cond);
    pthread_mutex_destroy(&s->events_lock);
    free(s->free_conns);
    free(s->trace);
    free(s->path);
    free(s);
}

sqlite3 *store_acquire(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->nfree == 0)
        pthread_cond_wait(&s->available, &s->lock);
    sqlite3 *db = s->free_conns[--s->nfree];
    pthread_mutex_unlock(&s->lock);
    return db;
}

void store_release(struct store *s, sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db)) {
        /* A caller bailed out mid-transaction: never let the next user of
         * this connection inherit it. */
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_lock(&s->lock);
    s->free_conns[s->nfree++] = db;
    pthread_cond_signal(&s->available);
    pthread_mutex_unlock(&s->lock);
    if (events_written) {
        /* Also after a rollback: a spurious wake-up only costs a read. */
        events_written = false;
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

const struct seal_keyring *store_keyring(struct store *s)
{
    return s->keyring;
}

void store_set_keyring(struct store *s, const struct seal_keyring *kr)
{
    s->keyring = kr;
}

enum qb_err store_sqlite_err(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
    enum qb_err e = QB_ERR_IO;
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        e = QB_ERR_BUSY;
    else if (rc == SQLITE_CONSTRAINT_CHECK || rc == SQLITE_CONSTRAINT_NOTNULL)
        e = QB_ERR_INVALID; /* the schema's last line of defence against bad input */
    else if (primary == SQLITE_CONSTRAINT)
        e = QB_ERR_CONFLICT; /* unique, primary key, foreign key: state conflicts */
    return qb_failf(e, err, errlen, "%s: %s", what, sqlite3_errmsg(db));
}

enum qb_err store_migrate(struct store *s, int *applied, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    enum qb_err rc = migrate_apply(db, applied, err, errlen);
    store_release(s, db);
    return rc;
}

enum qb_err store_schema_version(struct store *s, int *version, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    enum qb_err rc = migrate_current_version(db, version, err, errlen);
    store_release(s, db);
    return rc;
}

enum qb_err store_heartbeat(struct store *s, char *err, size_t errlen)
{
    struct store_stmt q;
    int changes = 0;
    enum qb_err rc =
        store_stmt_open(s, "UPDATE heartbeat SET checked_at = ?1 WHERE id = 1", &q, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(q.st, 1, qb_now_ms() / 1000);
    rc = store_stmt_done(&q, &changes, "heartbeat", err, errlen);
    if (!rc && changes != 1)
        rc = qb_failf(QB_ERR_IO, err, errlen, "heartbeat: row missing; schema damaged?");
    return rc;
}

struct store_trace_ctx {
    void (*fn)(void *ctx, const char *sql);
    void *ctx;
};

static int trace_stmt(unsigned type, void *arg, void *p, void *x)
{
    (void)x;
    const struct store_trace_ctx *t = arg;
    if (type == SQLITE_TRACE_STMT)
        t->fn(t->ctx, sqlite3_sql(p));
    return 0;
}

void store_trace(struct store *s, void (*fn)(void *ctx, const char *sql), void *ctx)
{
    pthread_mutex_lock(&s->lock);
    QB_ASSERT(s->nfree == s->size); /* every connection idle: set on all of them */
    if (!s->trace)
        s->trace = xcalloc(1, sizeof *s->trace);
    s->trace->fn = fn;
    s->trace->ctx = ctx;
    for (unsigned i = 0; i < s->nfree; i++)
        sqlite3_trace_v2(s->free_conns[i], fn ? SQLITE_TRACE_STMT : 0, fn ? trace_stmt : NULL,
                         s->trace);
    pthread_mutex_unlock(&s->lock);
}
