/* SPDX-License-Identifier: Apache-2.0
 *
 * reverify.h -- a plan's scheduled re-verification (`reverify`): like
 * restic's `check --read-data`, stored objects are read back and checked
 * against the catalogue, a bounded number of bytes per pass, taking the
 * snapshots checked longest ago first so that, pass after pass, every
 * snapshot is read.  The scheduler calls it when a plan's reverify
 * schedule comes due (sched.h).  Public to api/ for its default budget.
 */
#ifndef QB_REVERIFY_H
#define QB_REVERIFY_H

#include "common.h"
#include "store/store.h"
#include "store/store_plans.h"

#include <stdint.h>

/* Bytes a pass reads when the plan's reverify sets no max_bytes. */
#define REVERIFY_MAX_BYTES_DEFAULT (1LL << 30)

struct reverify_report {
    int checked;        /* snapshots read back */
    int failed;         /* of which failed or could not be read */
    int copies_checked; /* their stored second copies read back */
    int copies_failed;  /* of which failed or could not be read */
    int64_t bytes;      /* catalogued size of everything read */
};

/* One pass over plan's snapshots (the plan borrowed): reads them back
 * longest-unchecked first until max_bytes is spent, always at least one
 * (so a snapshot larger than the budget is not skipped for ever), and
 * records each outcome (snapshot_verify.h: checked_at, verified_at or
 * verify_error, the verify.failed event and
 * qbackup_verify_failures_total).  A snapshot that passes has its stored
 * second copies read too, each outcome recorded on the copy
 * (copies_verify); they count against the budget.  A destination that cannot be opened
 * fails the pass (err says why) with nothing recorded.  Blocking I/O. */
enum qb_err reverify_plan(struct store *store, const struct store_plan *plan, int64_t max_bytes,
                          struct reverify_report *out, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_REVERIFY_H */
