/* SPDX-License-Identifier: Apache-2.0
 *
 * threads.c -- stopping the threads of a loop (threads.h).
 */
#include "util/threads.h"

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
