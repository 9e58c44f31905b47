/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_set_catalog.c -- a catalogued set's objects (for deletion and
 * retention), and removing what a set interrupted by a crash left on the
 * peers and in storage.  Verifying a set is snapshot_verify.c's.
 */
#include "engine/backup_set_internal.h"
#include "engine/manifest.h"
#include "engine/qdrant_janitor.h"
#include "engine/recovery.h"
#include "remote/qdrant_cluster.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- catalogue helpers */

void backup_set_keys(const struct store_snapshot *s, char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    cJSON *set = s->backup_set ? cJSON_Parse(s->backup_set) : NULL;
    const cJSON *sh;
    if (s->layout && strcmp(s->layout, "shards") == 0) {
        cJSON_ArrayForEach(sh, cJSON_GetObjectItemCaseSensitive(set, "shards"))
        {
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "key"));
            if (!k)
                continue;
            *keys = xrealloc(*keys, (*n + 1) * sizeof **keys);
            (*keys)[(*n)++] = xstrdup(k);
        }
    } else {
        *keys = xrealloc(*keys, sizeof **keys);
        (*keys)[(*n)++] = xstrdup(s->storage_key);
    }
    *keys = xrealloc(*keys, (*n + 1) * sizeof **keys);
    (*keys)[(*n)++] = manifest_key(s->storage_key);
    cJSON_Delete(set);
}

/* ---------------------------------------------------------------- crash recovery */

void set_recover_snapshot(struct store *store, const struct store_instance *inst,
                          const char *collection, const cJSON *e, int64_t run_id)
{
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "peer_url"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
    double since = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "since"));
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "shard_id");
    if (!url || !cJSON_IsNumber(sid))
        return;
    struct qdrant_target t = {.scope = QDRANT_SCOPE_SHARD,
                              .collection = collection,
                              .shard_id = (unsigned)sid->valuedouble};
    struct qdrant_client *qc = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = topology_client(inst, url, 30000, &qc, err, sizeof err);
    if (!rc && name) {
        rc = qdrant_snapshot_delete(qc, &t, name, err, sizeof err);
        if (rc == QB_ERR_NOT_FOUND)
            rc = QB_OK;
    } else if (!rc) {
        /* The kill came before Qdrant named it: remove the shard's
         * snapshots created since the intent was recorded. */
        size_t deleted = 0;
        rc = qdrant_snapshot_delete_since(qc, &t, (int64_t)since, &deleted, err, sizeof err);
    }
    if (rc) {
        log_warn("recovery.qdrant_failed", "run=%lld peer=%s collection=%s shard=%u error=%s",
                 (long long)run_id, log_q(url), log_q(collection), t.shard_id, log_q(err));
        /* A named snapshot the peer would not delete: the janitor retries. */
        if (name)
            qdrant_janitor_enqueue(store, inst->name, url, &t, name, err);
    } else
        log_info("recovery.qdrant_cleaned", "run=%lld peer=%s collection=%s shard=%u",
                 (long long)run_id, log_q(url), log_q(collection), t.shard_id);
    qdrant_client_destroy(qc);
}

void backup_set_recover(struct store *store, const cJSON *inflight, int64_t run_id)
{
    const char *instance =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inflight, "instance"));
    const char *collection =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inflight, "collection"));
    const char *set_key =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inflight, "set_key"));
    const cJSON *dest = cJSON_GetObjectItemCaseSensitive(inflight, "destination_id");
    char err[QB_ERRBUF_SIZE];
    struct store_instance *inst = NULL;
    if (instance && collection &&
        store_instance_get(store, instance, &inst, err, sizeof err) == QB_OK) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(inflight, "shard_snapshots"))
            set_recover_snapshot(store, inst, collection, e, run_id);
    }
    store_instance_free(inst);
    if (!set_key || !cJSON_IsNumber(dest))
        return;
    /* The keys up to the first that is not a string: each shard object may
     * also have an unfinished upload. */
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(inflight, "storage_keys");
    const char **keys = xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *keys);
    size_t n = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, list)
    {
        if (!cJSON_GetStringValue(k))
            break;
        keys[n++] = cJSON_GetStringValue(k);
    }
    recovery_clean_storage(store, (int64_t)dest->valuedouble, set_key, keys, n, n, run_id);
    free(keys);
}
