/* SPDX-License-Identifier: Apache-2.0
 *
 * store_set_copies.c -- the verify outcome of a second copy
 * (store_set_copies.h).
 */
#include "store/store_set_copies.h"
#include "store/store_internal.h"

enum qb_err store_copy_verified(struct store *s, int64_t id, bool ok, const char *error, char *err,
                                size_t errlen)
{
    /* Only a stored copy: one a run is making meanwhile keeps its state. */
    const char *sql = ok ? "UPDATE snapshot_copies SET verified_at = ?2, last_error = NULL "
                           "WHERE id = ?1 AND state = 'stored'"
                         : "UPDATE snapshot_copies SET state = 'failed', verified_at = NULL, "
                           "attempts = 0, last_error = ?4 WHERE id = ?1 AND state = 'stored'";
    return store_write_one(s, sql, id, qb_now_ms() / 1000, 0, error,
                           "recording a copy's verification", "stored copy", err, errlen);
}
