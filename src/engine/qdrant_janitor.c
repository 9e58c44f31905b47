/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_janitor.c -- retried deletes of Qdrant snapshots (see
 * qdrant_janitor.h).
 */
#include "engine/qdrant_janitor.h"
#include "engine/topology.h"
#include "store/store_cleanup.h"
#include "store/store_instances.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

/* Deletes per tick: the janitor must never keep the scheduler busy. */
#define JANITOR_BATCH       8
#define JANITOR_MAX_DELAY_S (6 * 3600)

static const char *scope_name(enum qdrant_scope s)
{
    return s == QDRANT_SCOPE_FULL ? "full" : s == QDRANT_SCOPE_SHARD ? "shard" : "collection";
}

void qdrant_janitor_enqueue(struct store *store, const char *instance, const char *url,
                            const struct qdrant_target *t, const char *name, const char *error)
{
    char err[QB_ERRBUF_SIZE];
    char *inst = xstrdup(instance), *u = url ? xstrdup(url) : NULL;
    char *scope = xstrdup(scope_name(t->scope));
    char *coll = t->collection ? xstrdup(t->collection) : NULL, *snap = xstrdup(name);
    char *why = error ? xstrdup(error) : NULL;
    struct store_cleanup c = {
        .instance_name = inst,
        .url = u,
        .scope = scope,
        .collection = coll,
        .shard_id = t->scope == QDRANT_SCOPE_SHARD ? (int64_t)t->shard_id : -1,
        .snapshot = snap,
        .next_at = qb_now_ms() / 1000,
        .last_error = why,
    };
    if (store_cleanup_add(store, &c, err, sizeof err))
        log_error("janitor.record_failed", "instance=%s snapshot=%s error=%s", log_q(instance),
                  log_q(name), log_q(err));
    else
        log_warn("janitor.qdrant_pending", "instance=%s snapshot=%s error=%s", log_q(instance),
                 log_q(name), log_q(error ? error : ""));
    free(inst);
    free(u);
    free(scope);
    free(coll);
    free(snap);
    free(why);
}

static enum qb_err retry_one(struct store *store, const struct store_cleanup *c, char *err,
                             size_t errlen)
{
    struct store_instance *inst = NULL;
    struct qdrant_client *qc = NULL;
    enum qb_err rc = store_instance_get(store, c->instance_name, &inst, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK; /* the instance is gone: nothing left to talk to */
    if (!rc)
        rc = topology_client(inst, c->url, 30000, &qc, err, errlen);
    struct qdrant_target t = {
        .scope = !strcmp(c->scope, "full")    ? QDRANT_SCOPE_FULL
                 : !strcmp(c->scope, "shard") ? QDRANT_SCOPE_SHARD
                                              : QDRANT_SCOPE_COLLECTION,
        .collection = c->collection,
        .shard_id = c->shard_id > 0 ? (unsigned)c->shard_id : 0,
    };
    if (!rc)
        rc = qdrant_snapshot_delete(qc, &t, c->snapshot, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        rc = QB_OK; /* gone (or its collection is): done */
    qdrant_client_destroy(qc);
    store_instance_free(inst);
    return rc;
}

void qdrant_janitor_tick(struct store *store, long retry_base_ms, int64_t now)
{
    char err[QB_ERRBUF_SIZE];
    struct store_cleanup **due = NULL;
    size_t n = 0;
    if (store_cleanup_due(store, now, JANITOR_BATCH, &due, &n, err, sizeof err)) {
        log_warn("janitor.failed", "error=%s", log_q(err));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_cleanup *c = due[i];
        char why[QB_ERRBUF_SIZE];
        if (retry_one(store, c, why, sizeof why) == QB_OK) {
            log_info("janitor.qdrant_cleaned", "instance=%s snapshot=%s attempts=%lld",
                     log_q(c->instance_name), log_q(c->snapshot), (long long)c->attempts + 1);
            if (store_cleanup_done(store, c->id, err, sizeof err))
                log_warn("janitor.failed", "error=%s", log_q(err));
            continue;
        }
        int64_t delay_ms = retry_base_ms > 0 ? retry_base_ms : 1000;
        for (int64_t a = 0; a < c->attempts && delay_ms < JANITOR_MAX_DELAY_S * 1000LL; a++)
            delay_ms *= 2;
        if (delay_ms > JANITOR_MAX_DELAY_S * 1000LL)
            delay_ms = JANITOR_MAX_DELAY_S * 1000LL;
        int64_t next = now + (delay_ms + 999) / 1000;
        log_warn("janitor.qdrant_retry",
                 "instance=%s snapshot=%s attempts=%lld next_in_s=%lld "
                 "error=%s",
                 log_q(c->instance_name), log_q(c->snapshot), (long long)c->attempts + 1,
                 (long long)(next - now), log_q(why));
        if (store_cleanup_retry(store, c->id, next, why, err, sizeof err))
            log_warn("janitor.failed", "error=%s", log_q(err));
    }
    store_cleanup_list_free(due, n);
}
