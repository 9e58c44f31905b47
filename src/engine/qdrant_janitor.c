/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_janitor.c -- retried deletes of Qdrant snapshots (see
 * qdrant_janitor.h).
 */
#include "engine/qdrant_janitor.h"
#include "engine/topology.h"
#include "store/store_cleanup.h"
#include "store/store_instances.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Deletes per tick: the janitor must never keep the scheduler busy. */
#define JANITOR_BATCH       8
#define JANITOR_MAX_DELAY_S (6 * 3600)
/* How often a sweep lists its target's snapshots. */
#define JANITOR_SWEEP_EVERY_S 3

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

void qdrant_janitor_sweep(struct store *store, const char *instance, const struct qdrant_target *t,
                          int64_t since, int64_t until)
{
    char err[QB_ERRBUF_SIZE];
    char *inst = xstrdup(instance), *scope = xstrdup(scope_name(t->scope));
    char *coll = t->collection ? xstrdup(t->collection) : NULL, *none = xstrdup("");
    struct store_cleanup c = {
        .instance_name = inst,
        .scope = scope,
        .collection = coll,
        .shard_id = -1,
        .snapshot = none,
        .next_at = qb_now_ms() / 1000,
        .sweep_since = since > 0 ? since : 1,
        .sweep_until = until,
    };
    if (store_cleanup_add(store, &c, err, sizeof err))
        log_error("janitor.record_failed", "instance=%s collection=%s error=%s", log_q(instance),
                  log_q(t->collection ? t->collection : "-"), log_q(err));
    else
        log_info("janitor.sweep_pending", "instance=%s collection=%s since=%lld until=%lld",
                 log_q(instance), log_q(t->collection ? t->collection : "-"), (long long)since,
                 (long long)until);
    free(inst);
    free(scope);
    free(coll);
    free(none);
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Running runs of c's instance: *pending when one has a create without
 * an answer yet (or is a cluster set, whose intent is not read here);
 * claims (free with qdrant_strings_free) the snapshot names they hold. */
static enum qb_err running_claims(struct store *store, const struct store_cleanup *c, bool *pending,
                                  char ***claims, size_t *nclaims, char *err, size_t errlen)
{
    struct store_run **runs = NULL;
    size_t n = 0;
    *pending = false;
    *claims = NULL;
    *nclaims = 0;
    enum qb_err rc = store_run_list_running(store, &runs, &n, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        cJSON *o = runs[i]->inflight ? cJSON_Parse(runs[i]->inflight) : NULL;
        const char *inst = jstr(o, "instance"), *kind = jstr(o, "kind");
        const char *name = jstr(o, "qdrant_snapshot"), *coll = jstr(o, "collection");
        bool same = inst && !strcmp(inst, c->instance_name) &&
                    !strcmp(jstr(o, "scope") ? jstr(o, "scope") : "", c->scope) &&
                    (coll && c->collection ? !strcmp(coll, c->collection) : coll == c->collection);
        if (kind && !strcmp(kind, "set"))
            *pending = true;
        else if (same && !name)
            *pending = true;
        else if (inst && name && !strcmp(inst, c->instance_name)) {
            *claims = xrealloc(*claims, (*nclaims + 1) * sizeof **claims);
            (*claims)[(*nclaims)++] = xstrdup(name);
        }
        cJSON_Delete(o);
    }
    store_run_list_free(runs, n);
    return rc;
}

/* True when something in qbackupd owns snapshot `name`. */
static bool claimed(struct store *store, const struct store_cleanup *c, const char *name,
                    char *const *claims, size_t nclaims)
{
    char err[QB_ERRBUF_SIZE];
    for (size_t i = 0; i < nclaims; i++)
        if (!strcmp(claims[i], name))
            return true;
    bool found = true;
    if (store_snapshot_qdrant_name_exists(store, c->instance_name, name, &found, err, sizeof err) ||
        found)
        return true; /* catalogued, or unknown: never a guess */
    found = true;
    if (store_cleanup_has(store, c->instance_name, name, &found, err, sizeof err) || found)
        return true;
    return false;
}

/* One look of a sweep entry: QB_OK when done (the abandoned create's
 * snapshot deleted, or the window over), QB_ERR_TRANSIENT to look again. */
static enum qb_err sweep_one(struct store *store, struct qdrant_client *qc,
                             const struct qdrant_target *t, const struct store_cleanup *c,
                             int64_t now, char *err, size_t errlen)
{
    bool pending = false;
    char **claims = NULL;
    size_t nclaims = 0;
    struct qdrant_snapshot *list = NULL;
    size_t n = 0;
    enum qb_err rc = running_claims(store, c, &pending, &claims, &nclaims, err, errlen);
    if (!rc && pending) {
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen, "waiting: a create of the instance is going");
        goto out;
    }
    if (!rc)
        rc = qdrant_snapshot_list(qc, t, &list, &n, err, errlen);
    if (rc == QB_ERR_NOT_FOUND) { /* the collection is gone, and its snapshots */
        rc = QB_OK;
        goto out;
    }
    if (rc)
        goto out;
    const char *oldest = NULL;
    int64_t oldest_at = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t at = qdrant_snapshot_name_time(list[i].name);
        /* Names carry whole seconds: one second of slack for rounding. */
        if (at < c->sweep_since - 1 || at > c->sweep_until ||
            claimed(store, c, list[i].name, claims, nclaims))
            continue;
        if (!oldest || at < oldest_at) {
            oldest = list[i].name;
            oldest_at = at;
        }
    }
    if (oldest) {
        rc = qdrant_snapshot_delete(qc, t, oldest, err, errlen);
        if (rc == QB_ERR_NOT_FOUND)
            rc = QB_OK;
        if (!rc)
            log_warn("janitor.qdrant_orphan_removed", "instance=%s snapshot=%s",
                     log_q(c->instance_name), log_q(oldest));
    } else if (now > c->sweep_until) {
        log_info("janitor.sweep_ended", "instance=%s collection=%s found=none",
                 log_q(c->instance_name), log_q(c->collection ? c->collection : "-"));
    } else {
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen, "not there yet");
    }
out:
    qdrant_snapshots_free(list, n);
    qdrant_strings_free(claims, nclaims);
    return rc;
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
    if (!rc && c->sweep_since)
        rc = sweep_one(store, qc, &t, c, qb_now_ms() / 1000, err, errlen);
    else if (!rc)
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
            if (!c->sweep_since)
                log_info("janitor.qdrant_cleaned", "instance=%s snapshot=%s attempts=%lld",
                         log_q(c->instance_name), log_q(c->snapshot), (long long)c->attempts + 1);
            if (store_cleanup_done(store, c->id, err, sizeof err))
                log_warn("janitor.failed", "error=%s", log_q(err));
            continue;
        }
        if (c->sweep_since && (int64_t)c->sweep_until + JANITOR_SWEEP_EVERY_S < now) {
            /* Its window is long over and Qdrant still fails: give up. */
            log_warn("janitor.sweep_ended", "instance=%s error=%s", log_q(c->instance_name),
                     log_q(why));
            if (store_cleanup_done(store, c->id, err, sizeof err))
                log_warn("janitor.failed", "error=%s", log_q(err));
            continue;
        }
        if (c->sweep_since) { /* a fixed pace, and quiet: not finding is its normal state */
            if (store_cleanup_retry(store, c->id, now + JANITOR_SWEEP_EVERY_S, why, err,
                                    sizeof err))
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
