/* SPDX-License-Identifier: Apache-2.0
 *
 * retry.h -- the one retry policy of the wire clients: how many tries one
 * logical request gets, how long to wait between them (exponential, capped,
 * with equal jitter) and which failures deserve another try.  Owns the
 * process-wide default policy, which main() sets from the configuration
 * (s3_attempts, s3_retry_base_ms, s3_retry_max_ms) before any thread starts.
 *
 * ONE LAYER (docs/internals/s3.md, "Retries"): a request is retried here,
 * once, by the client that sends it.  When the tries are spent the loop
 * reports the failure as permanent (retry_give_up), so no caller up the
 * stack, e.g. the engine's per-step retries, multiplies the attempts.
 *
 * Pure except retry_wait (which sleeps) and the default (written once
 * before threads exist, read-only afterwards): any thread may call.
 */
#ifndef QB_RETRY_H
#define QB_RETRY_H

#include "common.h"

#include <stdatomic.h>

/* Today's behaviour of the S3 client: 1 try + 5 retries, 200 ms doubled,
 * each delay capped at 20 s (so about 6 s of backoff in all). */
#define RETRY_DEFAULT_ATTEMPTS 6
#define RETRY_DEFAULT_BASE_MS  200
#define RETRY_DEFAULT_MAX_MS   20000

struct retry_policy {
    unsigned attempts; /* tries in all, >= 1 (1: never retry); 0: the default */
    long base_ms;      /* delay after the first failure, doubled per failure; 0: the default */
    long max_ms;       /* cap of one delay before jitter; 0: the default */
};

/* Sets the process-wide default; zero fields take the built-in defaults.
 * Call from main() before any thread starts (it is not locked). */
void retry_policy_set_default(const struct retry_policy *p);

/* The process-wide default.  Borrowed; never NULL. */
const struct retry_policy *retry_policy_default(void);

/* Returns p with each zero field taken from the process default, and
 * max_ms raised to base_ms if below it.  p may be NULL (the default). */
struct retry_policy retry_policy_resolve(const struct retry_policy *p);

/* The pause before the next try after `failures` consecutive transient
 * failures (>= 1): d = min(base_ms * 2^(failures-1), max_ms), and the result
 * lies in [d/2, d] ("equal jitter": half fixed so the backoff still grows,
 * half random so parallel callers after one SlowDown do not retry in
 * lockstep).  seed is the caller's rand_r state. */
long retry_delay_ms(const struct retry_policy *p, unsigned failures, unsigned *seed);

/* Whether an HTTP status is worth another try: 408, 429 (too many
 * requests), 500, 502, 503 (S3's SlowDown) and 504.  Any other 4xx is the
 * request's fault and fails at once, as do 501 and 505. */
bool retry_status_retryable(long status);

/* One retry loop in progress (on the caller's stack):
 *
 *     struct retry rt;
 *     retry_start(&rt, &policy);
 *     do
 *         rc = one_try(...);
 *     while (retry_wait(&rt, rc, cancel, "s3.retry", err));
 *     rc = retry_give_up(&rt, rc, err, errlen);
 */
struct retry {
    struct retry_policy policy; /* resolved */
    unsigned failures;          /* transient failures since the start or the last progress */
    unsigned tries;             /* tries in all, for messages */
    unsigned seed;              /* rand_r state for the jitter */
    bool spent;                 /* the last failure found no try left */
};

/* Starts a loop under p (NULL: the default policy). */
void retry_start(struct retry *r, const struct retry_policy *p);

/* After a try that returned rc: when rc is QB_ERR_TRANSIENT, tries are
 * left and cancel (may be NULL) is not set, logs `event` at WARNING
 * ("try=N delay_ms=D error=<err>"), sleeps the backoff on this thread and
 * returns true (try again).
 * Otherwise returns false. */
bool retry_wait(struct retry *r, enum qb_err rc, const atomic_bool *cancel, const char *event,
                const char *err);

/* The try made progress (e.g. a resumable download received bytes): the
 * budget starts over, so a long transfer over a flaky link is not failed
 * by interruptions far apart. */
void retry_progress(struct retry *r);

/* The loop's result: rc, except that a QB_ERR_TRANSIENT which used up the
 * tries becomes QB_ERR_REMOTE with "(gave up after N tries)" appended to
 * err, so that no caller retries it again. */
enum qb_err retry_give_up(const struct retry *r, enum qb_err rc, char *err, size_t errlen);

#endif /* QB_RETRY_H */
