/* SPDX-License-Identifier: Apache-2.0
 *
 * tasks.c -- FIFO queue and threads for request-initiated slow work.
 */
#include "engine/tasks.h"
#include "util/threads.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tasks {
    pthread_mutex_t lock; /* guards head, tail, stopping */
    pthread_cond_t cond;
    struct task *head, *tail;
    bool stopping;
    pthread_t *threads;
    unsigned nthreads;
};

void tasks_stop(struct tasks *ts)
{
    if (!ts)
        return;
    threads_stop_destroy(&ts->lock, &ts->cond, &ts->stopping, ts->threads, ts->nthreads);
    free(ts->threads);
    free(ts);
}

void task_init(struct task *t, void (*fn)(struct task *t), void (*destroy)(struct task *t))
{
    t->fn = fn;
    t->destroy = destroy;
    atomic_init(&t->refs, 2);
    atomic_init(&t->done, false);
    t->next = NULL;
}

void task_release(struct task *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        t->destroy(t);
}

void task_release_ctx(void *t)
{
    task_release(t);
}

static void *task_main(void *arg)
{
    struct tasks *ts = arg;
    for (;;) {
        pthread_mutex_lock(&ts->lock);
        while (!ts->head && !ts->stopping)
            pthread_cond_wait(&ts->cond, &ts->lock);
        struct task *t = ts->head;
        if (t) {
            ts->head = t->next;
            if (!ts->head)
                ts->tail = NULL;
        }
        pthread_mutex_unlock(&ts->lock);
        if (!t)
            break; /* stopping and drained */
        t->fn(t);
        atomic_store(&t->done, true);
        task_release(t);
    }
    return NULL;
}

enum qb_err tasks_start(unsigned threads, struct tasks **out, char *err, size_t errlen)
{
    struct tasks *ts = xcalloc(1, sizeof *ts);
    pthread_mutex_init(&ts->lock, NULL);
    pthread_cond_init(&ts->cond, NULL);
    ts->threads = xcalloc(threads ? threads : 1, sizeof *ts->threads);
    for (unsigned i = 0; i < threads; i++) {
        int rc = pthread_create(&ts->threads[i], NULL, task_main, ts);
        if (rc) {
            tasks_stop(ts);
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "starting task thread: %s", strerror(rc));
        }
        ts->nthreads++;
    }
    *out = ts;
    return QB_OK;
}

void tasks_submit(struct tasks *ts, struct task *t)
{
    pthread_mutex_lock(&ts->lock);
    t->next = NULL;
    if (ts->tail)
        ts->tail->next = t;
    else
        ts->head = t;
    ts->tail = t;
    pthread_cond_signal(&ts->cond);
    pthread_mutex_unlock(&ts->lock);
}
