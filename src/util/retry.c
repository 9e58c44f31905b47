/* SPDX-License-Identifier: Apache-2.0
 *
 * retry.c -- the retry policy of the wire clients (see retry.h).  Owns the
 * process-wide default, written once by main() before threads start.
 */
#include "util/retry.h"

#include "util/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct retry_policy default_policy = {
    RETRY_DEFAULT_ATTEMPTS,
    RETRY_DEFAULT_BASE_MS,
    RETRY_DEFAULT_MAX_MS,
};

void retry_policy_set_default(const struct retry_policy *p)
{
    default_policy.attempts = p && p->attempts ? p->attempts : RETRY_DEFAULT_ATTEMPTS;
    default_policy.base_ms = p && p->base_ms > 0 ? p->base_ms : RETRY_DEFAULT_BASE_MS;
    default_policy.max_ms = p && p->max_ms > 0 ? p->max_ms : RETRY_DEFAULT_MAX_MS;
}

const struct retry_policy *retry_policy_default(void)
{
    return &default_policy;
}

struct retry_policy retry_policy_resolve(const struct retry_policy *p)
{
    struct retry_policy r = default_policy;
    if (p && p->attempts)
        r.attempts = p->attempts;
    if (p && p->base_ms > 0)
        r.base_ms = p->base_ms;
    if (p && p->max_ms > 0)
        r.max_ms = p->max_ms;
    if (r.max_ms < r.base_ms)
        r.max_ms = r.base_ms;
    return r;
}

long retry_delay_ms(const struct retry_policy *p, unsigned failures, unsigned *seed)
{
    long d = p->base_ms > 0 ? p->base_ms : 1;
    long cap = p->max_ms > d ? p->max_ms : d;
    for (unsigned i = 1; i < failures && d < cap; i++)
        d = d > cap / 2 ? cap : d * 2;
    if (d > cap)
        d = cap;
    return d / 2 + (long)((unsigned long)rand_r(seed) % (unsigned long)(d - d / 2 + 1));
}

bool retry_status_retryable(long status)
{
    switch (status) {
    case 408: /* request timeout */
    case 429: /* too many requests */
    case 500:
    case 502:
    case 503: /* unavailable; S3's SlowDown */
    case 504:
        return true;
    default:
        return false;
    }
}

void retry_start(struct retry *r, const struct retry_policy *p)
{
    memset(r, 0, sizeof *r);
    r->policy = retry_policy_resolve(p);
    r->seed = (unsigned)qb_mono_us() ^ (unsigned)(uintptr_t)r;
}

bool retry_wait(struct retry *r, enum qb_err rc, const atomic_bool *cancel, const char *event,
                const char *err)
{
    r->tries++;
    if (rc != QB_ERR_TRANSIENT)
        return false;
    r->failures++;
    r->spent = r->failures >= r->policy.attempts;
    if (r->spent || (cancel && atomic_load(cancel)))
        return false;
    long d = retry_delay_ms(&r->policy, r->failures, &r->seed);
    log_warn(event, "try=%u delay_ms=%ld error=%s", r->tries, d, log_q(err ? err : ""));
    qb_sleep_ms(d);
    return true;
}

void retry_progress(struct retry *r)
{
    r->failures = 0;
}

enum qb_err retry_give_up(const struct retry *r, enum qb_err rc, char *err, size_t errlen)
{
    if (rc != QB_ERR_TRANSIENT || !r->spent)
        return rc;
    if (err && errlen) {
        size_t n = strlen(err);
        if (n < errlen)
            snprintf(err + n, errlen - n, " (gave up after %u tries)", r->tries);
    }
    return QB_ERR_REMOTE;
}
