/* SPDX-License-Identifier: Apache-2.0
 *
 * store_destinations.h -- the `destinations` table: where snapshots are
 * stored.  Credentials live in the `secret` column, which only workers
 * read (store_destination_get with with_secret) and nothing returns to API
 * clients or logs.
 */
#ifndef QB_STORE_DESTINATIONS_H
#define QB_STORE_DESTINATIONS_H

#include "common.h"
#include "store/store.h"

struct store_destination {
    int64_t id;
    char *name;
    char *kind;       /* "local" or "s3" */
    char *settings;   /* JSON object text, validated by the API */
    char *secret;     /* JSON object text or NULL; filled only when asked for */
    char *managed_by; /* "api" or "config" */
    int64_t created_at;
    int64_t updated_at;
    int64_t max_write_bytes_per_second; /* all runs together; 0: no limit */
    char *encryption;                   /* JSON key reference (engine/keyref.h), NULL: none */
};

void store_destination_free(struct store_destination *d);
void store_destination_list_free(struct store_destination **list, size_t n);

/* Inserts or refreshes the configuration-defined local folder destination
 * `name` at path. */
enum qb_err store_destination_sync_local(struct store *s, const char *name, const char *path,
                                         char *err, size_t errlen) QB_MUSTCHECK;

/* Sets the write limit of the destination `name` (0: none); for the
 * configuration-defined one, at start-up.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_destination_set_write_limit(struct store *s, const char *name, int64_t rate,
                                              char *err, size_t errlen) QB_MUSTCHECK;

/* Inserts d (id and timestamps set by the store).  QB_ERR_CONFLICT when the
 * name is taken. */
enum qb_err store_destination_insert(struct store *s, const struct store_destination *d, char *err,
                                     size_t errlen) QB_MUSTCHECK;

/* Replaces kind and settings of the destination named d->name; the secret
 * too unless keep_secret.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_destination_update(struct store *s, const struct store_destination *d,
                                     bool keep_secret, char *err, size_t errlen) QB_MUSTCHECK;

/* *out: a new destination (caller frees), with its secret when
 * with_secret.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_destination_get(struct store *s, const char *name, bool with_secret,
                                  struct store_destination **out, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* As store_destination_get, by id. */
enum qb_err store_destination_get_by_id(struct store *s, int64_t id, bool with_secret,
                                        struct store_destination **out, char *err,
                                        size_t errlen) QB_MUSTCHECK;

/* All destinations ordered by name, without secrets; caller frees with
 * store_destination_list_free. */
enum qb_err store_destination_list(struct store *s, struct store_destination ***out, size_t *n,
                                   char *err, size_t errlen) QB_MUSTCHECK;

/* Deletes by name.  QB_ERR_NOT_FOUND when absent; QB_ERR_CONFLICT while a
 * plan or a catalogued snapshot uses it. */
enum qb_err store_destination_delete(struct store *s, const char *name, char *err,
                                     size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_DESTINATIONS_H */
