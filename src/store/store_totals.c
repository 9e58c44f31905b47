/* SPDX-License-Identifier: Apache-2.0
 *
 * store_totals.c -- the per-destination sums of the snapshots table, as the
 * triggers of migration 0011 keep them in snapshot_totals (a scrape must not
 * walk every snapshot).
 */
#include "store/store_totals.h"
#include "store/store_internal.h"

#include <stdlib.h>

/* (A destination without snapshots sums to zeros: the SELECT coalesces.) */
#define STORE_ROW_T struct store_destination_total
static const struct store_col total_cols[] = {STORE_COL_TEXT_OR(destination, ""),
                                              STORE_COL(snapshots), STORE_COL(bytes),
                                              STORE_COL(verify_failed)};
#undef STORE_ROW_T
static const struct store_rows total_rows =
    STORE_VALUE_ROWS(struct store_destination_total, total_cols);

void store_destination_totals_free(struct store_destination_total *v, size_t n)
{
    store_rows_free(&total_rows, v, n);
}

#define STORE_ROW_T struct store_copy_total
static const struct store_col copy_cols[] = {STORE_COL_TEXT_OR(destination, ""),
                                             STORE_COL_TEXT_OR(state, ""), STORE_COL(copies)};
#undef STORE_ROW_T
static const struct store_rows copy_rows = STORE_VALUE_ROWS(struct store_copy_total, copy_cols);

void store_copy_totals_free(struct store_copy_total *v, size_t n)
{
    store_rows_free(&copy_rows, v, n);
}

enum qb_err store_copy_totals(struct store *s, struct store_copy_total **out, size_t *n, char *err,
                              size_t errlen)
{
    void *list = NULL;
    enum qb_err rc =
        store_list(s,
                   "SELECT d.name, c.state, count(*) FROM snapshot_copies c "
                   "JOIN destinations d ON d.id = c.destination_id "
                   "WHERE c.state <> 'stored' GROUP BY d.name, c.state "
                   "ORDER BY d.name, c.state",
                   &copy_rows, NULL, &list, n, "counting unfinished copies", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_destination_totals(struct store *s, struct store_destination_total **out,
                                     size_t *n, char *err, size_t errlen)
{
    void *list = NULL;
    enum qb_err rc =
        store_list(s,
                   "SELECT d.name, coalesce(t.count, 0), coalesce(t.bytes, 0), "
                   "       coalesce(t.verify_failed, 0) "
                   "FROM destinations d LEFT JOIN snapshot_totals t ON t.destination_id = d.id "
                   "ORDER BY d.name",
                   &total_rows, NULL, &list, n, "summing snapshots per destination", err, errlen);
    *out = list;
    return rc;
}
