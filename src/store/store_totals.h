/* SPDX-License-Identifier: Apache-2.0
 *
 * store_totals.h -- what the catalogue holds per destination, summed for
 * /metrics: snapshots, their bytes and how many failed their last
 * verification; and the second copies still to make, by state.  Read at
 * scrape time from the snapshots and snapshot_copies tables, the source of
 * truth, so the numbers never drift from what GET /v1/snapshots lists.
 *
 * THREAD SAFETY: any thread.
 */
#ifndef QB_STORE_TOTALS_H
#define QB_STORE_TOTALS_H

#include "common.h"
#include "store/store.h"

struct store_destination_total {
    char *destination;     /* the destination's name; owned by the array */
    int64_t snapshots;     /* catalogued snapshots (rows) stored there */
    int64_t bytes;         /* their size_bytes */
    int64_t verify_failed; /* of those, the ones whose verify_error is set */
};

/* One row per destination (also those holding nothing), ordered by name,
 * in one statement (a pass over the snapshots, whose number retention
 * bounds).  Caller frees *out with store_destination_totals_free. */
enum qb_err store_destination_totals(struct store *s, struct store_destination_total **out,
                                     size_t *n, char *err, size_t errlen) QB_MUSTCHECK;
void store_destination_totals_free(struct store_destination_total *v, size_t n);

struct store_copy_total {
    char *destination; /* the copy destination's name; owned by the array */
    char *state;       /* pending, copying or failed; owned by the array */
    int64_t copies;    /* second copies there in that state */
};

/* The second copies not stored yet, counted per copy destination and
 * state (only pairs with some: a scrape fills in the zeros), ordered by
 * name and state.  Reads only the unfinished rows (the partial index of
 * migration 0019), so its cost follows the copies still to make, not the
 * copies kept.  Caller frees *out with store_copy_totals_free. */
enum qb_err store_copy_totals(struct store *s, struct store_copy_total **out, size_t *n, char *err,
                              size_t errlen) QB_MUSTCHECK;
void store_copy_totals_free(struct store_copy_total *v, size_t n);

#endif /* QB_STORE_TOTALS_H */
