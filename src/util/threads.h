/* SPDX-License-Identifier: Apache-2.0
 *
 * threads.h -- starting, pacing and stopping the threads of a loop.  Every
 * long-lived thread in qbackupd (engine workers, task threads, the
 * scheduler, the prober, the long-poll thread, a storage bridge's reader)
 * runs a loop that waits on a condition variable under a mutex until a stop
 * flag is set; this is the one way to start such a thread, to wait between
 * rounds without missing the stop, and to set that flag and wait for the
 * threads.  Owns nothing.
 */
#ifndef QB_THREADS_H
#define QB_THREADS_H

#include "common.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Initialises lock and cond, then starts one thread running fn(arg) into
 * *thread.  On failure lock and cond are destroyed again, the caller still
 * owns arg, and err says "starting <what>: <reason>" (QB_ERR_INTERNAL). */
QB_MUSTCHECK enum qb_err threads_start(pthread_mutex_t *lock, pthread_cond_t *cond,
                                       pthread_t *thread, void *(*fn)(void *), void *arg,
                                       const char *what, char *err, size_t errlen);

/* Sets *ts to ms milliseconds from now on CLOCK_REALTIME, the clock
 * pthread_cond_timedwait measures its deadline on. */
void threads_deadline(struct timespec *ts, long ms);

/* Waits on cond for up to ms milliseconds, taking lock, and returns early
 * once *flag (read under lock) is set; other wake-ups on cond do not end
 * the wait.  Returns *flag as last read, so a loop can end on it. */
bool threads_wait(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *flag, long ms);

/* Sets *flag under lock, wakes every waiter on cond and joins the n
 * threads (n may be 0).  The threads must read *flag under lock and wait
 * on cond; lock and cond stay valid for the caller to destroy.  Call from
 * the thread that started them, once. */
void threads_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *flag, const pthread_t *threads,
                  size_t n);

/* threads_stop, then destroys cond and lock: for an owner that needs
 * neither once its threads have ended. */
void threads_stop_destroy(pthread_mutex_t *lock, pthread_cond_t *cond, bool *flag,
                          const pthread_t *threads, size_t n);

#endif /* QB_THREADS_H */
