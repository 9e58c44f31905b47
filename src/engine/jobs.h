/* SPDX-License-Identifier: Apache-2.0
 *
 * jobs.h -- executing one claimed run (backup_job.c), and what jobs share:
 * the per-run context with cancellation and progress, and retries with
 * backoff.  Instances and destinations are opened through resolve.h.
 */
#ifndef QB_JOBS_H
#define QB_JOBS_H

#include "common.h"
#include "engine/engine.h"
#include "engine/resolve.h"
#include "metrics.h"
#include "remote/qdrant_client.h"
#include "storage/storage.h"
#include "store/store.h"
#include "store/store_runs.h"
#include "store/store_plans.h"
#include "store/store_snapshots.h"
#include "util/ratelimit.h"

/* Executes a claimed run to the end and records its outcome in the
 * catalogue; never fails (failures become the run's state and error).
 * Called on a worker thread. */
void job_execute(struct engine *e, struct store *store, struct metrics *metrics,
                 const struct store_run *run);

/* The running run's context, shared by the steps of a job. */
struct job {
    struct engine *engine;
    struct store *store;
    const struct store_run *run;
    int64_t bytes_done;    /* whole run, for progress */
    int64_t last_check_ms; /* last progress write / cancel check */
    int64_t last_event_ms; /* last progress event (store_events.h) */
    const char *phase;     /* last phase written (static string) */
    bool cancelled;        /* the run was cancelled by a user */
    bool stopping;         /* qbackupd is shutting down */
    /* Byte-rate limits its transfers take from (engine_limit), NULL: none;
     * set by job_limits_open.  Borrowed from the engine. */
    struct ratelimit *limit_read, *limit_write, *limit_plan;
    /* S3 Object Lock of every object this backup run writes (job_lock_open),
     * lock_mode "" = none; locked_until goes onto each snapshot row. */
    char lock_mode[16];
    int64_t locked_until;
};

/* For a plan with retention.object_lock: checks that st (the plan's
 * destination) has Object Lock enabled -- else QB_ERR_INVALID naming the
 * destination, so a run fails before Qdrant is touched rather than store
 * unlocked backups -- then fixes the run's retain-until date (now + the
 * plan's period) in j and sets it on st.  A plan without it: nothing. */
enum qb_err job_lock_open(struct job *j, const struct store_plan *plan, struct storage *st,
                          char *err, size_t errlen) QB_MUSTCHECK;

/* Sets the run's lock (job_lock_open) on another handle of the same
 * destination (each transfer thread of a backup set opens its own). */
enum qb_err job_lock_apply(const struct job *j, struct storage *st, char *err,
                           size_t errlen) QB_MUSTCHECK;

/* Sets the job's limits from plan: its instance's read limit, its
 * destination's write limit and its own cap (store_plan). */
void job_limits_open(struct job *j, const struct store_plan *plan);

/* Takes n bytes from each of the job's limits, sleeping as they say.
 * check (may be NULL) is called while sleeping, at least once a second:
 * its failure (e.g. job_checkpoint's QB_ERR_CANCELLED) ends the wait and
 * is returned with its message.  Safe from several threads of one job
 * when check is. */
enum qb_err job_throttle(struct job *j, size_t n,
                         enum qb_err (*check)(void *ud, char *err, size_t errlen), void *ud,
                         char *err, size_t errlen) QB_MUSTCHECK;

/* Adds "rate" to a target's result: bytes over ms as "bytes_per_second",
 * the tightest of the job's limits now as "limit_bytes_per_second" and
 * which it is as "limited_by" ("instance", "destination", "plan"; both null
 * without a limit). */
void job_add_rate(const struct job *j, cJSON *result, int64_t bytes, int64_t ms);

/* Called often during transfers: at most once a second it writes progress
 * and looks for a cancel request or shutdown.  Returns QB_ERR_CANCELLED
 * (with a message) when the job must stop. */
enum qb_err job_checkpoint(struct job *j, const char *phase, char *err, size_t errlen);

/* Sleeps before retry `attempt` (1-based): base * 2^(attempt-1) plus up to
 * 50% jitter, so retries of several workers do not synchronise.  Returns
 * true when the job must stop instead. */
bool job_backoff(struct job *j, unsigned attempt);

/* A one-off backup run's hold (POST /v1/plans/{name}/runs with "labels",
 * "keep_until", "pinned": the run's request), copied onto a snapshot row
 * it is about to catalogue: sets row->pinned, row->keep_until and
 * row->labels, and row->locked_until from the run's Object Lock.  Returns the labels text
 * row->labels points to, which the caller frees after the insert (NULL when the run asked for
 * none).  Only for rows of the run's own plan: a safety snapshot takes no hold. */
char *job_snapshot_hold(const struct job *j, struct store_snapshot *row);

/* Runs a backup run (backup_job.c); returns the terminal state and fills
 * results (a JSON array) and error. */
const char *backup_job_run(struct job *j, cJSON *results, char *error, size_t errorlen);

/* (backup_target.c) Takes one verified snapshot of collection on instance into the
 * destination st, catalogued without a plan under
 * "_safety/<instance>/<collection>/" (no retention applies to it); used
 * before a restore replaces a collection.  *snapshot_id receives its id. */
enum qb_err backup_safety_snapshot(struct job *j, struct qdrant_client *qc, struct storage *st,
                                   const char *instance, int64_t instance_id,
                                   int64_t destination_id, const char *collection,
                                   int64_t *snapshot_id, char *err, size_t errlen) QB_MUSTCHECK;

/* Runs a restore run (restore_job.c); same contract as backup_job_run. */
const char *restore_job_run(struct job *j, cJSON *results, char *error, size_t errorlen);

#endif /* QB_JOBS_H */
