/* SPDX-License-Identifier: Apache-2.0
 *
 * scheduler.h -- one thread that queues a run when an enabled plan's cron
 * schedule comes due.
 *
 * DESIGN
 * Each tick (one second) it reads the plans and, per scheduled plan, finds
 * the latest fire time after the last one it handled (plans.last_fire_at)
 * and not after now.  Several missed slots (qbackupd was down) collapse
 * into that one catch-up run.  The run is inserted with scheduled_for =
 * the slot, and a unique index on (plan, scheduled_for) makes a second
 * insert of the same slot impossible, also across restarts.  If the plan
 * still has a queued or running run, the slot is skipped and counted
 * (plans.skipped_fires), so a slow backup never piles up a queue.
 */
#ifndef QB_SCHEDULER_H
#define QB_SCHEDULER_H

#include "common.h"
#include "engine/engine.h"
#include "store/store.h"

struct scheduler;

/* Starts the thread.  clock_offset_s shifts the scheduler's idea of now
 * (tests use it to reach a minute boundary quickly; 0 in production).
 * store and engine are borrowed. */
enum qb_err scheduler_start(struct store *store, struct engine *engine, int64_t clock_offset_s,
                            struct scheduler **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Stops and joins the thread.  NULL is a no-op. */
void scheduler_stop(struct scheduler *s);

/* One pass over the plans at time now (exposed for tests). */
void scheduler_tick(struct store *store, struct engine *engine, int64_t now);

#endif /* QB_SCHEDULER_H */
