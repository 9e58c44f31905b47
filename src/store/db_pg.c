/* SPDX-License-Identifier: Apache-2.0
 *
 * db_pg.c -- db.h on PostgreSQL (libpq).  Not written yet: a catalogue
 * URL is refused with a clear error until it is (issue 16).
 */
#include "store/db_internal.h"

enum qb_err db_pg_open(const char *url, struct db_conn **out, char *err, size_t errlen)
{
    (void)url;
    *out = NULL;
    return qb_failf(QB_ERR_INVALID, err, errlen,
                    "a PostgreSQL catalogue is not supported by this build yet");
}
