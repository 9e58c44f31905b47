/* SPDX-License-Identifier: Apache-2.0
 *
 * engine.h -- the worker pool that executes queued runs.
 *
 * DESIGN
 * The queue is the `runs` table, so it survives restarts.  `workers`
 * threads each loop: claim the oldest runnable run (store_run_claim, one
 * atomic UPDATE that also honours each instance's concurrency limit),
 * execute it (backup_job.c), record the outcome, repeat; with nothing to do
 * they sleep on a condition variable until engine_wake() or a short poll
 * interval.  A run's outcome is always written into its row: the
 * processing function cannot fail.
 *
 * Cancellation and shutdown are cooperative: a running job checks, at
 * least once a second during transfers, whether its run was cancelled (a
 * catalogue flag) or the engine is stopping, and then aborts its transfer
 * and cleans up (partial object, Qdrant snapshot) before the run ends.
 *
 * THREAD SAFETY NOTES
 * `lock` guards `stopping`, `idle` and `finished_seq`; it is never held
 * across catalogue or network calls.  engine_wake, engine_wait_finished and
 * engine_stopping may be called from any thread.
 */
#ifndef QB_ENGINE_H
#define QB_ENGINE_H

#include "common.h"
#include "metrics.h"
#include "store/store.h"
#include "util/ratelimit.h"

struct engine_config {
    unsigned workers;      /* worker threads */
    unsigned max_attempts; /* tries of a transient failure per step, >= 1 */
    long retry_base_ms;    /* first backoff; doubled per attempt, with jitter */
    long poll_ms;          /* idle workers look for runs at least this often */
    long qdrant_timeout_ms;
    long snapshot_timeout_ms;
    const char *node; /* this qbackupd's node_name: the owner of the runs it claims; borrowed */
};

struct engine;

/* Starts the workers.  store and metrics are borrowed and must outlive the
 * engine.  Caller stops with engine_stop. */
enum qb_err engine_start(struct store *store, struct metrics *metrics,
                         const struct engine_config *cfg, struct engine **out, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* Asks running jobs to stop (they clean up and record their runs as
 * failed, "interrupted by shutdown"), joins the workers and frees e.
 * NULL is a no-op. */
void engine_stop(struct engine *e);

/* Tells idle workers that a run was queued. */
void engine_wake(struct engine *e);

/* True once engine_stop has begun: jobs use it to abort promptly. */
bool engine_stopping(struct engine *e);

/* Monotonic counter bumped whenever a run ends; long polls compare it to
 * know when to re-read a run. */
uint64_t engine_finished_seq(struct engine *e);

/* Sleeps up to ms, returning early (true) when the engine stops. */
bool engine_sleep(struct engine *e, long ms);

/* Byte-rate limits (util/ratelimit.h), one bucket per kind ("instance",
 * "destination", "plan") and name, shared by every run that uses it.
 * engine_limit returns the bucket, created on first use with rate (from
 * the catalogue row the run read; <= 0: unlimited); borrowed until
 * engine_stop.  An existing bucket's rate changes only through
 * engine_set_limit, which the API calls after every successful create or
 * replace, so running transfers follow within a second. */
struct ratelimit *engine_limit(struct engine *e, const char *kind, const char *name, int64_t rate);
void engine_set_limit(struct engine *e, const char *kind, const char *name, int64_t rate);

/* In a fleet: every limit runs at 1/nodes of its rate here, nodes being
 * the fleet's live nodes, so the fleet together keeps to it
 * (ratelimits_set_share).  The scheduler's thread keeps it current. */
void engine_set_fleet_share(struct engine *e, unsigned nodes);

/* The configuration the engine runs with (borrowed from e). */
const struct engine_config *engine_config(const struct engine *e);

#endif /* QB_ENGINE_H */
