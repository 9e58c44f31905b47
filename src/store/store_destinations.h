/* SPDX-License-Identifier: Apache-2.0
 *
 * store_destinations.h -- the `destinations` table: where snapshots are
 * stored.  Credentials live in the `secret` column, which nothing returns
 * to API clients or logs.
 */
#ifndef QB_STORE_DESTINATIONS_H
#define QB_STORE_DESTINATIONS_H

#include "common.h"
#include "store/store.h"

struct store_destination {
    int64_t id;
    char *name;
    char *kind;       /* "local" or "s3" */
    char *settings;   /* JSON object text: {"path": ...} or S3 settings */
    char *managed_by; /* "api" or "config" */
    int64_t created_at;
    int64_t updated_at;
};

void store_destination_free(struct store_destination *d);
void store_destination_list_free(struct store_destination **list, size_t n);

/* Inserts or refreshes the configuration-defined local folder destination
 * `name` at path. */
enum qb_err store_destination_sync_local(struct store *s, const char *name, const char *path,
                                         char *err, size_t errlen) QB_MUSTCHECK;

/* All destinations ordered by name; caller frees with
 * store_destination_list_free.  Secrets are not read. */
enum qb_err store_destination_list(struct store *s, struct store_destination ***out, size_t *n,
                                   char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_DESTINATIONS_H */
