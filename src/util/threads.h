/* SPDX-License-Identifier: Apache-2.0
 *
 * threads.h -- stopping the threads of a loop.  Every long-lived thread in
 * qbackupd (engine workers, task threads, the scheduler, the long-poll
 * thread, a storage bridge's reader) runs a loop that waits on a condition
 * variable under a mutex until a stop flag is set; this is the one way to
 * set that flag and wait for the threads.  Owns nothing.
 */
#ifndef QB_THREADS_H
#define QB_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Sets *flag under lock, wakes every waiter on cond and joins the n
 * threads (n may be 0).  The threads must read *flag under lock and wait
 * on cond; lock and cond stay valid for the caller to destroy.  Call from
 * the thread that started them, once. */
void threads_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *flag, const pthread_t *threads,
                  size_t n);

#endif /* QB_THREADS_H */
