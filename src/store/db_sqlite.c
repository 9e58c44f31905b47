/* SPDX-License-Identifier: Apache-2.0
 *
 * db_sqlite.c -- db.h on SQLite.  Not written yet (issue 16 step 1: the
 * store's direct SQLite calls move here).
 */
#include "store/db_internal.h"

enum qb_err db_sqlite_open(const char *path, struct db_conn **out, char *err, size_t errlen)
{
    (void)path;
    *out = NULL;
    return qb_failf(QB_ERR_INTERNAL, err, errlen, "db_sqlite: not written yet");
}
