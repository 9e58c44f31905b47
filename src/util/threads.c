/* SPDX-License-Identifier: Apache-2.0
 *
 * threads.c -- starting, pacing and stopping the threads of a loop
 * (threads.h).
 */
#include "util/threads.h"

#include <errno.h>
#include <string.h>

enum qb_err threads_start(pthread_mutex_t *lock, pthread_cond_t *cond, pthread_t *thread,
                          void *(*fn)(void *), void *arg, const char *what, char *err,
                          size_t errlen)
{
    pthread_mutex_init(lock, NULL);
    pthread_cond_init(cond, NULL);
    int rc = pthread_create(thread, NULL, fn, arg);
    if (!rc)
        return QB_OK;
    pthread_cond_destroy(cond);
    pthread_mutex_destroy(lock);
    return qb_failf(QB_ERR_INTERNAL, err, errlen, "starting %s: %s", what, strerror(rc));
}

void threads_deadline(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

bool threads_wait(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *flag, long ms)
{
    struct timespec until;
    threads_deadline(&until, ms);
    pthread_mutex_lock(lock);
    /* A fixed deadline: a wake-up for other news (a queued run) goes back
     * to waiting for what is left of the pause. */
    while (!*flag) {
        if (pthread_cond_timedwait(cond, lock, &until) == ETIMEDOUT)
            break;
    }
    bool set = *flag;
    pthread_mutex_unlock(lock);
    return set;
}

void threads_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *flag, const pthread_t *threads,
                  size_t n)
{
    pthread_mutex_lock(lock);
    *flag = true;
    /* Broadcast: every thread waits on the same cond and each must see it. */
    pthread_cond_broadcast(cond);
    pthread_mutex_unlock(lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

void threads_stop_destroy(pthread_mutex_t *lock, pthread_cond_t *cond, bool *flag,
                          const pthread_t *threads, size_t n)
{
    threads_stop(lock, cond, flag, threads, n);
    pthread_cond_destroy(cond);
    pthread_mutex_destroy(lock);
}
