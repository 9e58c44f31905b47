/* SPDX-License-Identifier: Apache-2.0
 *
 * tasks.h -- a small pool of threads for slow one-off work that an API
 * request asks for (re-reading a snapshot to verify it, deleting a stored
 * object, checking a destination), so request threads never do storage
 * I/O.  The request defers itself (http_req_defer) and polls the task.
 *
 * A task is a refcounted object shared by the submitter and the thread:
 * create it with refs = 2, the thread drops one after fn ran, the
 * submitter drops the other when it no longer needs the result.
 *
 * THREAD SAFETY NOTES: `lock` guards the queue and the stop flag.
 */
#ifndef QB_TASKS_H
#define QB_TASKS_H

#include "common.h"

#include <stdatomic.h>

struct task {
    void (*fn)(struct task *t);      /* runs on a task thread */
    void (*destroy)(struct task *t); /* frees t when the last ref goes */
    atomic_int refs;
    atomic_bool done;  /* set after fn returned */
    struct task *next; /* queue link, owned by tasks.c */
};

struct tasks;

enum qb_err tasks_start(unsigned threads, struct tasks **out, char *err,
                        size_t errlen) QB_MUSTCHECK;
/* Runs what is queued, joins the threads, frees ts.  NULL is a no-op. */
void tasks_stop(struct tasks *ts);

/* Initialises t's bookkeeping (refs = 2, done = false). */
void task_init(struct task *t, void (*fn)(struct task *t), void (*destroy)(struct task *t));
/* Queues t; the pool owns one reference from now on. */
void tasks_submit(struct tasks *ts, struct task *t);
/* Drops one reference; the last one destroys t. */
void task_release(struct task *t);
/* task_release for a release callback that holds the task as a void *
 * (http_req_defer's): t points at the struct task, the first member of
 * the caller's own task struct. */
void task_release_ctx(void *t);

#endif /* QB_TASKS_H */
