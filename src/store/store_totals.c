/* SPDX-License-Identifier: Apache-2.0
 *
 * store_totals.c -- the per-destination sums of the snapshots table, as the
 * triggers of migration 0011 keep them in snapshot_totals (a scrape must not
 * walk every snapshot).
 */
#include "store/store_totals.h"
#include "store/store_internal.h"

#include <stdlib.h>

static enum qb_err read_total(const struct store_rows *r, void *ctx, struct db_stmt *st, void *elem,
                              char *err, size_t errlen)
{
    (void)r;
    (void)ctx;
    (void)err;
    (void)errlen;
    struct store_destination_total *t = elem;
    t->destination = store_column_text(st, 0);
    if (!t->destination)
        t->destination = xstrdup("");
    t->snapshots = db_column_int64(st, 1);
    t->bytes = db_column_int64(st, 2);
    t->verify_failed = db_column_int64(st, 3);
    return QB_OK;
}

static void clear_total(const struct store_rows *r, void *elem)
{
    (void)r;
    free(((struct store_destination_total *)elem)->destination);
}

static const struct store_rows total_rows = {
    sizeof(struct store_destination_total), read_total, clear_total, {0}};

void store_destination_totals_free(struct store_destination_total *v, size_t n)
{
    store_rows_free(&total_rows, v, n);
}

enum qb_err store_destination_totals(struct store *s, struct store_destination_total **out,
                                     size_t *n, char *err, size_t errlen)
{
    struct store_stmt q;
    void *list = NULL;
    *out = NULL;
    *n = 0;
    enum qb_err rc = store_stmt_open(
        s,
        "SELECT d.name, coalesce(t.count, 0), coalesce(t.bytes, 0), "
        "       coalesce(t.verify_failed, 0) "
        "FROM destinations d LEFT JOIN snapshot_totals t ON t.destination_id = d.id "
        "ORDER BY d.name",
        &q, err, errlen);
    if (rc)
        return rc;
    rc = store_stmt_rows(&q, &total_rows, NULL, &list, n, "summing snapshots per destination", err,
                         errlen);
    *out = list;
    return rc;
}
