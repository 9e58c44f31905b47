/* SPDX-License-Identifier: Apache-2.0
 *
 * store_instances.h -- the `instances` table: Qdrant endpoints qbackup may
 * drive.  The API key is a secret: it is stored so workers can use it and
 * is never returned by the API nor logged.
 */
#ifndef QB_STORE_INSTANCES_H
#define QB_STORE_INSTANCES_H

#include "common.h"
#include "store/store.h"

struct store_instance {
    int64_t id;
    char *name;
    char *url;
    char *api_key; /* secret; NULL when none */
    bool tls_verify;
    char *ca_file;      /* NULL: system CAs */
    int max_concurrent; /* snapshots at a time on this instance */
    int timeout_s;      /* per-request timeout for non-streaming calls */
    char *managed_by;   /* "api" or "config" */
    char *nodes;        /* JSON array of every peer's REST URL; "[]": discover */
    int64_t created_at;
    int64_t updated_at;
    int64_t max_read_bytes_per_second; /* all runs together; 0: no limit */
};

/* Frees an instance and its strings.  NULL is a no-op. */
void store_instance_free(struct store_instance *inst);
/* Frees an array from store_instance_list. */
void store_instance_list_free(struct store_instance **list, size_t n);

/* Inserts inst (id, timestamps are set by the store).  QB_ERR_CONFLICT when
 * the name is taken. */
enum qb_err store_instance_insert(struct store *s, const struct store_instance *inst, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* Replaces every field of the instance named inst->name but id and
 * created_at.  keep_api_key: leave the stored key as it is (the client did
 * not send one).  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_instance_update(struct store *s, const struct store_instance *inst,
                                  bool keep_api_key, char *err, size_t errlen) QB_MUSTCHECK;

/* Inserts or updates the configuration-defined instance `name`; used at
 * start-up so the configured Qdrant is always present and current. */
enum qb_err store_instance_sync_config(struct store *s, const char *name, const char *url,
                                       const char *api_key, char *err, size_t errlen) QB_MUSTCHECK;

/* Sets the read limit of the instance `name` (0: none); for the
 * configuration-defined one, at start-up.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_instance_set_read_limit(struct store *s, const char *name, int64_t rate,
                                          char *err, size_t errlen) QB_MUSTCHECK;

/* *out receives a new instance (caller frees with store_instance_free), or
 * QB_ERR_NOT_FOUND. */
enum qb_err store_instance_get(struct store *s, const char *name, struct store_instance **out,
                               char *err, size_t errlen) QB_MUSTCHECK;

/* All instances ordered by name; caller frees with store_instance_list_free. */
enum qb_err store_instance_list(struct store *s, struct store_instance ***out, size_t *n, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Deletes by name.  QB_ERR_NOT_FOUND when absent; QB_ERR_CONFLICT when a
 * plan still uses it. */
enum qb_err store_instance_delete(struct store *s, const char *name, char *err,
                                  size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_INSTANCES_H */
