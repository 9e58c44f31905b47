/* SPDX-License-Identifier: Apache-2.0
 *
 * store_set_copies.h -- what a verification of a second copy records on
 * its snapshot_copies row (store_copies.h owns the table; this file only
 * adds the verify outcome, kept apart so it moves onto the store's next
 * interface with the helpers it uses).
 */
#ifndef QB_STORE_SET_COPIES_H
#define QB_STORE_SET_COPIES_H

#include "common.h"
#include "store/store.h"

/* Records the outcome of verifying stored copy id: ok sets verified_at now
 * and clears last_error (the state stays stored); otherwise the state
 * becomes failed with error (borrowed), verified_at is cleared and the
 * attempts restart from 0, so the next run of the plan makes the copy
 * again (engine/copies.h).  A copy that is not stored is left alone
 * (QB_ERR_NOT_FOUND). */
enum qb_err store_copy_verified(struct store *s, int64_t id, bool ok, const char *error, char *err,
                                size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_SET_COPIES_H */
