/* SPDX-License-Identifier: Apache-2.0
 *
 * reverify.c -- owns the order and the budget of a scheduled
 * re-verification pass (reverify.h); judging one snapshot is
 * snapshot_verify.c's.
 *
 * DESIGN
 * The catalogue orders the plan's snapshots by checked_at (never-checked
 * first, then oldest check), so the pass needs no state of its own: each
 * check moves the snapshot to the back of the line.  The budget counts
 * catalogued sizes, not bytes actually read, so a missing object costs
 * its size too and a pass cannot loop on it.  A snapshot whose row is
 * gone meanwhile (retention, DELETE) is skipped.  Second copies are read
 * with their snapshot, after it passes (a copy is the primary's bytes, so
 * a primary that failed says nothing the copy could confirm, and the
 * plan's next run re-makes a failed copy from a healthy primary); each
 * copy read costs the snapshot's size again.
 */
#include "engine/reverify.h"
#include "engine/copies.h"
#include "engine/resolve.h"
#include "engine/snapshot_verify.h"
#include "store/store_snapshots.h"
#include "util/log.h"

#include <stdio.h>

/* Rows read per pass: far more than any budget spends in practice, and a
 * bound on memory for a plan with a very long history. */
#define REVERIFY_BATCH 1000

enum qb_err reverify_plan(struct store *store, const struct store_plan *plan, int64_t max_bytes,
                          struct reverify_report *out, char *err, size_t errlen)
{
    struct store_snapshot **list = NULL;
    struct storage *storage = NULL;
    size_t n = 0;
    *out = (struct reverify_report){0};
    enum qb_err rc =
        store_snapshot_list_reverify(store, plan->id, REVERIFY_BATCH, &list, &n, err, errlen);
    if (!rc && n > 0)
        rc = resolve_storage(store, plan->destination_id, &storage, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        const struct store_snapshot *s = list[i];
        if (out->checked > 0 && out->bytes + s->size_bytes > max_bytes)
            break;
        /* A snapshot kept from before a destination change lives in the
         * plan's old destination: open that one for it. */
        struct storage *other = NULL;
        struct storage *st = storage;
        if (s->destination_id != plan->destination_id) {
            rc = resolve_storage(store, s->destination_id, &other, err, errlen);
            if (rc)
                break;
            st = other;
        }
        struct snapshot_verdict v;
        char why[QB_ERRBUF_SIZE] = "";
        rc = snapshot_verify(store, st, s, &v, why, sizeof why);
        storage_close(other);
        if (rc == QB_ERR_NOT_FOUND) { /* deleted meanwhile */
            rc = QB_OK;
            continue;
        }
        if (rc) {
            snprintf(err, errlen, "%s", why);
            break;
        }
        out->checked++;
        out->bytes += s->size_bytes;
        if (v.failed || v.unreadable) {
            out->failed++;
            log_warn("reverify.failed", "plan=%s snapshot=%lld error=%s", plan->name,
                     (long long)s->id, log_q(why));
            continue;
        }
        int copies = 0;
        out->copies_failed += copies_verify(store, s, &copies);
        out->copies_checked += copies;
        out->bytes += (int64_t)copies * s->size_bytes;
    }
    storage_close(storage);
    store_snapshot_list_free(list, n);
    return rc;
}
