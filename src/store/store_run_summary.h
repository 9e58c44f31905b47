/* SPDX-License-Identifier: Apache-2.0
 *
 * store_run_summary.h -- what pollers read about the `runs` table: every
 * plan's newest run and newest success (GET /v1/status, /metrics) and the
 * per kind, plan and state totals and histograms (/metrics).  Both answers sit behind caches
 * keyed by one fingerprint of the table, so a poll costs a few indexed
 * statements whatever the number of runs.
 *
 * The fingerprint.  Runs are never deleted, their kind and plan_name never
 * change, a terminal state never changes again, and bytes_done moves only
 * while a run is running (see store_runs.h).  So both answers can only
 * change when a run is created, a queued or running run changes state, or
 * a plan with runs is deleted (its runs lose their plan_id).  The
 * fingerprint -- the largest run id, the number of runs without plan, and
 * the id and state of every queued or running run (the runs_active and
 * runs_plan_queued indexes answer it in a few steps) -- is read in the
 * same read transaction as the answer it keys.
 *
 * THREAD SAFETY: every function may be called from any thread; each cache
 * has its own mutex, which is never held during a query.
 */
#ifndef QB_STORE_RUN_SUMMARY_H
#define QB_STORE_RUN_SUMMARY_H

#include "common.h"
#include "store/store.h"

#include <pthread.h>

/* A run as the status page and metrics show it: no request/results. */
struct store_run_brief {
    int64_t id; /* 0: there is no such run */
    char state[16];
    int64_t queued_at;
    int64_t started_at;  /* 0: not yet */
    int64_t finished_at; /* 0: not yet */
};

/* Per existing plan, its newest backup run and its newest succeeded backup
 * run ("newest": latest queued_at, then highest id -- the order of the
 * runs_plan_queued index, which is id order as long as the clock never
 * stepped back).  One statement whatever the number of plans, reading no
 * request/results text: what GET /v1/status and /metrics poll.  *out is
 * ordered by plan id; caller frees it with free(). */
struct store_run_latest {
    int64_t plan_id;
    struct store_run_brief last;
    struct store_run_brief success;
};
enum qb_err store_run_latest_per_plan(struct store *s, struct store_run_latest **out, size_t *n,
                                      char *err, size_t errlen) QB_MUSTCHECK;

/* What the two caches below share: the fingerprint their values answer
 * and the lock that guards it and the values. */
struct store_runs_cache {
    pthread_mutex_t lock;      /* guards everything below and the values */
    const struct store *store; /* the store it was filled from, or NULL */
    char *fingerprint;         /* NULL: empty */
    uint64_t hits, misses;     /* for tests and debugging */
};
#define STORE_RUNS_CACHE_INIT                                                                      \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER                                                          \
    }

/* store_run_latest_per_plan behind a cache for pollers: the full query
 * runs only when the fingerprint changed; the chosen runs (two per plan)
 * are then re-read by id, so what they show is current.  Initialise with
 * STORE_RUN_LATEST_CACHE_INIT; one cache serves one store (the first one
 * it is used with: keep a cache per store).  *out is a copy; caller frees
 * it with free(). */
struct store_run_latest_cache {
    struct store_runs_cache base;
    struct store_run_latest *v; /* by plan id; guarded by base.lock */
    size_t n;
};
#define STORE_RUN_LATEST_CACHE_INIT                                                                \
    {                                                                                              \
        .base = STORE_RUNS_CACHE_INIT                                                              \
    }
enum qb_err store_run_latest_cached(struct store *s, struct store_run_latest_cache *c,
                                    struct store_run_latest **out, size_t *n, char *err,
                                    size_t errlen) QB_MUSTCHECK;

/* Runs per kind, plan name and state, the bytes the terminal ones moved
 * (0 for queued and running runs: their bytes_done moves with every chunk,
 * and counting it would make the answer change without the fingerprint
 * changing), and the histograms /metrics shows of terminal runs: duration
 * and bytes, as cumulative counts at the bounds below.  Backup runs whose
 * plan_name is NULL are left out; restores are all in, plan "" when they
 * restored a snapshot of no plan. */
#define STORE_RUN_NDURATION 10
#define STORE_RUN_NBYTES    8
extern const double store_run_duration_bounds[STORE_RUN_NDURATION]; /* seconds, ascending */
extern const double store_run_bytes_bounds[STORE_RUN_NBYTES];       /* bytes, ascending */
struct store_run_count {
    char *plan; /* owned by the array */
    char kind[8];
    char state[16];
    int64_t runs;
    int64_t bytes;
    int64_t timed;                            /* terminal runs with start and end times */
    int64_t duration_sum;                     /* seconds, of the timed runs */
    int64_t duration_le[STORE_RUN_NDURATION]; /* timed runs lasting <= each bound */
    int64_t bytes_le[STORE_RUN_NBYTES];       /* terminal runs that moved <= each bound */
};

/* Frees an array from store_run_counts_cached; NULL is a no-op. */
void store_run_counts_free(struct store_run_count *v, size_t n);

/* The counts, ordered by plan name then state, behind a cache keyed by the
 * fingerprint: on a hit no statement beyond the fingerprint runs (the
 * uncached query reads every run).  Initialise with
 * STORE_RUN_COUNTS_CACHE_INIT; one cache per store, as above.  *out is a
 * copy; caller frees it with store_run_counts_free. */
struct store_run_counts_cache {
    struct store_runs_cache base;
    struct store_run_count *v; /* guarded by base.lock */
    size_t n;
};
#define STORE_RUN_COUNTS_CACHE_INIT                                                                \
    {                                                                                              \
        .base = STORE_RUNS_CACHE_INIT                                                              \
    }
enum qb_err store_run_counts_cached(struct store *s, struct store_run_counts_cache *c,
                                    struct store_run_count **out, size_t *n, char *err,
                                    size_t errlen) QB_MUSTCHECK;

/* Frees what a cache holds and leaves it empty (tests; a cache in a
 * static lives until exit). */
void store_run_latest_cache_clear(struct store_run_latest_cache *c);
void store_run_counts_cache_clear(struct store_run_counts_cache *c);

#endif /* QB_STORE_RUN_SUMMARY_H */
