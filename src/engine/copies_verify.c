/* SPDX-License-Identifier: Apache-2.0
 *
 * copies_verify.c -- verifying the second copies of a snapshot when the
 * snapshot is verified (copies.h, copies_verify).
 *
 * DESIGN
 * A copy is the primary's bytes under the same key in another destination,
 * so it is judged by the primary's judge (snapshot_judge) on that
 * destination, with the snapshot's row as the expectation.  Only stored
 * copies are read: one pending, copying or failed has nothing to check
 * yet.  A failed verdict, or a copy that could not be read, marks the copy
 * failed with the reason and restarts its attempts, so the plan's next
 * run makes it again from the primary (copies_retry_unfinished); the
 * primary's verification state is never changed by a copy's.
 */
#include "engine/copies.h"
#include "engine/resolve.h"
#include "engine/snapshot_verify.h"
#include "metrics.h"
#include "store/store_copies.h"
#include "store/store_set_copies.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

int copies_verify(struct store *store, const struct store_snapshot *s, int *read)
{
    struct store_copy **rows = NULL;
    size_t n = 0;
    int failed = 0, stored = 0;
    if (read)
        *read = 0;
    char err[QB_ERRBUF_SIZE];
    if (store_copy_list(store, s->id, &rows, &n, err, sizeof err)) {
        log_error("copy.unlisted", "snapshot=%lld error=%s", (long long)s->id, log_q(err));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_copy *c = rows[i];
        if (strcmp(c->state, "stored") != 0)
            continue;
        stored++;
        struct storage *st = NULL;
        struct snapshot_verdict v = {0};
        char why[QB_ERRBUF_SIZE] = "";
        /* The snapshot as it lives in the copy: its key there. */
        struct store_snapshot at = *s;
        at.storage_key = c->storage_key;
        at.location = c->storage_key;
        bool ok = false;
        if (resolve_storage(store, c->destination_id, &st, why, sizeof why) == QB_OK) {
            snapshot_judge(store, st, &at, &v, why, sizeof why);
            ok = !v.failed && !v.unreadable;
        }
        storage_close(st);
        if (!ok) {
            failed++;
            metrics_event_add(METRIC_VERIFY_FAILURES, 1);
            log_warn("copy.verify_failed", "snapshot=%lld destination=%s error=%s",
                     (long long)s->id, log_q(c->destination_name), log_q(why));
        } else {
            log_info("copy.verified", "snapshot=%lld destination=%s", (long long)s->id,
                     log_q(c->destination_name));
        }
        char verr[QB_ERRBUF_SIZE];
        if (store_copy_verified(store, c->id, ok, ok ? NULL : why, verr, sizeof verr))
            log_warn("copy.verify_unrecorded", "snapshot=%lld copy=%lld error=%s", (long long)s->id,
                     (long long)c->id, log_q(verr));
    }
    store_copy_list_free(rows, n);
    if (read)
        *read = stored;
    return failed;
}
