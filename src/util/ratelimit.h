/* SPDX-License-Identifier: Apache-2.0
 *
 * ratelimit.h -- byte-rate limits: a token bucket shared by every transfer
 * that uses it, and a registry of named buckets (one per instance, per
 * destination, per plan) that lives as long as the engine.
 *
 * DESIGN
 * A bucket refills at `rate` bytes a second up to a burst of a tenth of a
 * second's worth (at least 16 KiB).  A taker
 * always gets its bytes at once and the bucket goes into debt; the taker
 * then sleeps, in slices of at most 100 ms, until the debt is repaid.  So
 * any chunk size works (a 1 MiB write through a 16 KiB burst), the long-run
 * rate is exact whatever the number of takers, and each slice re-reads the
 * rate (a change is honoured within a slice) and asks the caller whether to
 * stop (a cancelled run is never stuck for long).  Rate 0 means unlimited:
 * takes return at once and the debt is forgiven.
 *
 * THREAD SAFETY NOTES
 * Every function may be called from any thread; a bucket's `lock` guards
 * its state and is never held while sleeping.  The registry's lock guards
 * its list; buckets are never removed, so a pointer it returned stays valid
 * until ratelimits_destroy.
 */
#ifndef QB_RATELIMIT_H
#define QB_RATELIMIT_H

#include "common.h"

/* The clock a bucket reads and the sleep it uses, injectable for tests:
 * now_us is monotonic microseconds, sleep_us sleeps about us. */
struct ratelimit_clock {
    int64_t (*now_us)(void *ud);
    void (*sleep_us)(void *ud, int64_t us);
    void *ud;
};

struct ratelimit;

/* A bucket of rate bytes/s (0: unlimited) starting full.  clock NULL: the
 * real monotonic clock; else copied.  Caller frees with ratelimit_destroy. */
struct ratelimit *ratelimit_create(uint64_t rate, const struct ratelimit_clock *clock);
void ratelimit_destroy(struct ratelimit *rl);

/* Changes the rate; takers sleeping now honour it at their next slice. */
void ratelimit_set_rate(struct ratelimit *rl, uint64_t rate);
uint64_t ratelimit_rate(struct ratelimit *rl);

/* Takes n bytes, sleeping while the bucket is in debt.  stop (may be NULL)
 * is asked between slices; when it returns true the take ends early with
 * QB_ERR_CANCELLED (its message is stop's business: err is left alone).
 * rl NULL: returns at once. */
enum qb_err ratelimit_take(struct ratelimit *rl, uint64_t n, bool (*stop)(void *ud),
                           void *stop_ud) QB_MUSTCHECK;

/* ------------------------------------------------------------- registry */

struct ratelimits;

struct ratelimits *ratelimits_create(void);
/* Frees every bucket; no taker may be using one.  NULL: no-op. */
void ratelimits_destroy(struct ratelimits *r);

/* The bucket named key (e.g. "instance:prod"), created with rate on first
 * use; an existing bucket keeps its rate, which only ratelimits_set
 * changes (so a run that read its row before a change cannot undo the
 * change when it starts after it).  Borrowed until ratelimits_destroy. */
struct ratelimit *ratelimits_get(struct ratelimits *r, const char *key, uint64_t rate);

/* Sets the rate of the bucket named key if it exists (a limit changed or
 * set anew by the API reaches running transfers); otherwise nothing to do:
 * the first ratelimits_get creates it with the rate then stored. */
void ratelimits_set(struct ratelimits *r, const char *key, uint64_t rate);

/* Every bucket runs at 1/nodes of its configured rate from now on (at
 * least 1 byte/s; 0 stays "no limit"): in a fleet whose live nodes may
 * all move bytes from one instance or to one destination, each keeps to
 * its share and the limit holds for the fleet.  nodes 0 counts as 1. */
void ratelimits_set_share(struct ratelimits *r, unsigned nodes);

#endif /* QB_RATELIMIT_H */
