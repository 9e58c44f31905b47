/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_janitor.h -- removing what an interrupted writer left behind
 * under a key: temp files of the folder backend, unfinished multipart
 * uploads on S3.  Used by crash recovery; the writer itself cleans up
 * whenever it gets the chance to.
 */
#ifndef QB_STORAGE_JANITOR_H
#define QB_STORAGE_JANITOR_H

#include "storage/storage.h"

/* Removes incomplete writes of key (never the finished object). */
enum qb_err storage_discard_incomplete(struct storage *st, const char *key, char *err,
                                       size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORAGE_JANITOR_H */
