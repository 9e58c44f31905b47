/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_cron.c -- libFuzzer target for the schedule parser and the
 * time-zone reader (src/sched/cron*.c).
 *
 * Input: a cron expression, then optionally a NUL byte and TZif data.  The
 * expression is parsed; the TZif bytes go through cron_tz_parse; when both
 * are accepted the next fire time is computed in that zone and in UTC.
 * Invariants: a fire time is strictly after the start and falls on second
 * 0 of a minute the expression matches (UTC); an accepted zone yields
 * offsets within +-26 hours.
 */
#include "sched/sched.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define START 1767225600 /* 2026-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    if (elen > 256)
        return 0; /* schedules are short; keep each run fast */
    char *expr = malloc(elen + 1);
    memcpy(expr, data, elen);
    expr[elen] = '\0';

    struct cron_tz *tz = NULL;
    char err[QB_ERRBUF_SIZE];
    if (nul) {
        size_t tlen = size - elen - 1;
        unsigned char *tzif = malloc(tlen ? tlen : 1);
        memcpy(tzif, nul + 1, tlen);
        if (cron_tz_parse("Fuzz/Zone", tzif, tlen, &tz, err, sizeof err) == QB_OK) {
            static const int64_t probes[] = {-2208988800LL, 0, START, 4102444800LL};
            for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
                int32_t off = cron_tz_offset(tz, probes[i]);
                if (off < -26 * 3600 || off > 26 * 3600)
                    abort();
            }
        }
        free(tzif);
    }

    struct cron c;
    if (cron_parse(expr, &c, err, sizeof err) == QB_OK) {
        int64_t next = 0;
        if (cron_next(&c, NULL, START, &next) == QB_OK) {
            if (next <= START || next % 60 != 0 || !cron_matches(&c, NULL, next))
                abort();
        }
        if (tz && cron_next(&c, tz, START, &next) == QB_OK && next <= START)
            abort();
    }
    cron_tz_destroy(tz);
    free(expr);
    return 0;
}
