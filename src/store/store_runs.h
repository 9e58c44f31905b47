/* SPDX-License-Identifier: Apache-2.0
 *
 * store_runs.h -- the `runs` table: the durable queue of backup and
 * restore runs, their state, phase and progress.  The queue lives here so
 * it survives a restart; workers claim runs with one atomic UPDATE.
 *
 * States: queued -> running -> succeeded | failed | partial | cancelled;
 * queued -> cancelled.  Terminal states never change again.
 */
#ifndef QB_STORE_RUNS_H
#define QB_STORE_RUNS_H

#include "common.h"
#include "store/store.h"

struct store_run {
    int64_t id;
    char *kind;      /* "backup" or "restore" */
    int64_t plan_id; /* 0 when none or deleted */
    char *plan_name;
    char *trigger;         /* "schedule" or "api" */
    char *triggered_by;    /* token name, or NULL */
    char *idempotency_key; /* or NULL */
    char *state;
    char *phase; /* or NULL */
    bool cancel_requested;
    int64_t bytes_done;
    int64_t bytes_total; /* -1: unknown */
    char *request;       /* JSON object */
    char *results;       /* JSON array */
    char *error;         /* or NULL */
    int64_t queued_at;
    int64_t started_at;    /* 0: not yet */
    int64_t finished_at;   /* 0: not yet */
    int64_t scheduled_for; /* 0: not a scheduled run */
    char *inflight;        /* JSON object or NULL */
    char *collections;     /* backups: JSON array the selection resolved to, or NULL */
};

void store_run_free(struct store_run *r);
void store_run_list_free(struct store_run **list, size_t n);

/* What to queue. */
struct store_run_new {
    const char *kind;
    int64_t plan_id; /* 0: none */
    const char *plan_name;
    int64_t instance_id; /* instance the run works on (concurrency); 0: none */
    const char *trigger;
    const char *triggered_by;
    const char *idempotency_key; /* NULL: none */
    int64_t idempotency_window_s;
    const char *request;   /* JSON object text */
    int64_t scheduled_for; /* 0: not scheduled */
};

/* Queues a run.  When an Idempotency-Key was already used for the same
 * kind and plan within the window, or the schedule slot was already
 * queued, nothing is inserted: *id is the existing run and *existing true.
 * A key older than the window is released and reused. */
enum qb_err store_run_create(struct store *s, const struct store_run_new *n, int64_t *id,
                             bool *existing, char *err, size_t errlen) QB_MUSTCHECK;

/* The run an Idempotency-Key already started for (kind, plan_id) within
 * window_s, or *id = 0. */
enum qb_err store_run_find_idempotent(struct store *s, const char *kind, int64_t plan_id,
                                      const char *key, int64_t window_s, int64_t *id, char *err,
                                      size_t errlen) QB_MUSTCHECK;

enum qb_err store_run_get(struct store *s, int64_t id, struct store_run **out, char *err,
                          size_t errlen) QB_MUSTCHECK;

struct store_run_filter {
    const char *plan;  /* plan name or NULL */
    int64_t plan_id;   /* 0: any; else only this plan (not a namesake) */
    const char *state; /* or NULL */
    const char *kind;  /* or NULL */
    int64_t since;     /* queued_at >= since; 0: any */
    int64_t until;     /* queued_at < until; 0: any */
    int64_t before_id; /* cursor: only ids below this; 0: from the newest */
    int limit;
};

/* Runs matching f, newest first (by id); caller frees the list. */
enum qb_err store_run_list(struct store *s, const struct store_run_filter *f,
                           struct store_run ***out, size_t *n, char *err,
                           size_t errlen) QB_MUSTCHECK;

/* Claims the oldest queued run whose instance (runs.instance_id) is below
 * its max_concurrent, marking it running for worker `worker` of node
 * `owner` (store_fleet.h: the node then beats for it).  *out is NULL when
 * there is none.  Claims are serialised catalogue-wide, so neither one
 * run nor an instance's limit is ever shared out twice, also between the
 * nodes of a fleet. */
enum qb_err store_run_claim(struct store *s, int worker, const char *owner, struct store_run **out,
                            char *err, size_t errlen) QB_MUSTCHECK;

/* Progress of a running run; phase NULL keeps the current phase;
 * bytes_total < 0 keeps the current total. */
enum qb_err store_run_progress(struct store *s, int64_t id, const char *phase, int64_t bytes_done,
                               int64_t bytes_total, char *err, size_t errlen) QB_MUSTCHECK;

/* Records the collections a backup run's selection resolved to (JSON
 * array text) when it starts. */
enum qb_err store_run_set_collections(struct store *s, int64_t id, const char *collections,
                                      char *err, size_t errlen) QB_MUSTCHECK;

/* Records (JSON text) or clears (NULL) what the run has outside the
 * catalogue, for crash recovery. */
enum qb_err store_run_set_inflight(struct store *s, int64_t id, const char *inflight, char *err,
                                   size_t errlen) QB_MUSTCHECK;

/* Ends a run: state is terminal; results is a JSON array (may be NULL to
 * keep); error may be NULL.  Clears inflight and phase. */
enum qb_err store_run_finish(struct store *s, int64_t id, const char *state, const char *results,
                             const char *error, char *err, size_t errlen) QB_MUSTCHECK;

/* Asks a run to stop.  A queued run is cancelled at once; a running one
 * gets cancel_requested for its worker to notice.  *state receives the
 * state after the call (caller frees).  QB_ERR_CONFLICT when it already
 * ended. */
enum qb_err store_run_cancel(struct store *s, int64_t id, char **state, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* True when a cancel was requested for run id, or when the run is no
 * longer running at all: in a fleet the leader settled it because its
 * node stopped beating (engine/recovery.h recovery_adopt), and the worker
 * that comes back to it must stop rather than finish work now done again
 * by a requeued run. */
bool store_run_cancel_requested(struct store *s, int64_t id);

/* True when the plan has a queued or running run. */
enum qb_err store_run_plan_active(struct store *s, int64_t plan_id, bool *active, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* Runs left `running` by a previous process (crash recovery at start). */
enum qb_err store_run_list_running(struct store *s, struct store_run ***out, size_t *n, char *err,
                                   size_t errlen) QB_MUSTCHECK;

/* *run_id receives a queued or running restore that reads snapshot_id
 * (the oldest), or 0: such a snapshot must not be deleted meanwhile. */
enum qb_err store_run_restore_using(struct store *s, int64_t snapshot_id, int64_t *run_id,
                                    char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_RUNS_H */
