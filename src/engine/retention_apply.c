/* SPDX-License-Identifier: Apache-2.0
 *
 * retention_apply.c -- applies a plan's retention policy: reads it from
 * the plan's JSON, asks retention_decide() (retention.c, pure) for the
 * verdicts, and acts on them against the catalogue and the destination.
 */
#include "engine/retention_apply.h"
#include "metrics.h"
#include "engine/backup_set.h"
#include "engine/copies.h"
#include "engine/jobs.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/json_util.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "30d", "12h", "2w", "90m", "45s" or a bare number of seconds. */
static bool parse_duration(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return false;
    int64_t unit = 1;
    switch (*end) {
    case '\0':
    case 's':
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return false;
    }
    if (*end && end[1] != '\0')
        return false;
    *out = (int64_t)v * unit;
    return true;
}

/* An optional object at path (e.g. "retention.object_lock") with only the
 * given fields: QB_ERR_NOT_FOUND when o is absent or null, QB_OK when it can
 * be read, QB_ERR_INVALID naming path (and the unknown field) otherwise. */
static enum qb_err optional_object(const cJSON *o, const char *path, const char *const *fields,
                                   char *err, size_t errlen)
{
    char sub[QB_ERRBUF_SIZE / 2];
    if (!o || cJSON_IsNull(o))
        return QB_ERR_NOT_FOUND;
    if (!cJSON_IsObject(o))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be an object", path);
    if (json_reject_unknown(o, fields, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s.%s", path, sub);
    return QB_OK;
}

enum qb_err retention_policy_from_json(const cJSON *obj, struct retention_policy *p, char *err,
                                       size_t errlen)
{
    static const char *const fields[] = {"keep_last",   "keep_hourly",  "keep_daily",
                                         "keep_weekly", "keep_monthly", "keep_yearly",
                                         "max_age",     "object_lock",  NULL};
    int *targets[] = {&p->keep_last,   &p->keep_hourly,  &p->keep_daily,
                      &p->keep_weekly, &p->keep_monthly, &p->keep_yearly};
    char sub[QB_ERRBUF_SIZE / 2];
    memset(p, 0, sizeof *p);
    enum qb_err rc = optional_object(obj, "retention", fields, err, errlen);
    if (rc)
        return rc == QB_ERR_NOT_FOUND ? QB_OK : rc;
    for (size_t i = 0; i < QB_ARRAY_LEN(targets); i++) {
        int64_t v = 0;
        if (json_get_int(obj, fields[i], 0, 1000000, &v, sub, sizeof sub) == QB_ERR_INVALID)
            return qb_failf(QB_ERR_INVALID, err, errlen, "retention.%s", sub);
        *targets[i] = (int)v;
    }
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(obj, "max_age");
    if (cJSON_IsNumber(age) && age->valuedouble >= 0 && age->valuedouble < 1e15)
        p->max_age_s = (int64_t)age->valuedouble;
    else if (cJSON_IsString(age) && parse_duration(age->valuestring, &p->max_age_s))
        ;
    else if (age && !cJSON_IsNull(age))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "retention.max_age: must be seconds or a duration like \"30d\"");
    struct retention_lock lock;
    rc = retention_policy_check(p, err, errlen);
    return rc ? rc : retention_lock_from_json(obj, &lock, err, errlen);
}

#define LOCK_DAYS_MAX 36500 /* S3 accepts up to 100 years */

enum qb_err retention_lock_from_json(const cJSON *retention, struct retention_lock *l, char *err,
                                     size_t errlen)
{
    static const char *const fields[] = {"mode", "days", NULL};
    char sub[QB_ERRBUF_SIZE / 2];
    memset(l, 0, sizeof *l);
    const cJSON *o = cJSON_IsObject(retention)
                         ? cJSON_GetObjectItemCaseSensitive(retention, "object_lock")
                         : NULL;
    enum qb_err rc = optional_object(o, "retention.object_lock", fields, err, errlen);
    if (rc)
        return rc == QB_ERR_NOT_FOUND ? QB_OK : rc;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
    if (cJSON_IsString(mode) && strcmp(mode->valuestring, "governance") == 0)
        qb_strlcpy(l->mode, "GOVERNANCE", sizeof l->mode);
    else if (cJSON_IsString(mode) && strcmp(mode->valuestring, "compliance") == 0)
        qb_strlcpy(l->mode, "COMPLIANCE", sizeof l->mode);
    else
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "retention.object_lock.mode: must be \"governance\" or \"compliance\"");
    int64_t days = 0;
    if (json_get_int(o, "days", 1, LOCK_DAYS_MAX, &days, sub, sizeof sub) == QB_ERR_INVALID)
        return qb_failf(QB_ERR_INVALID, err, errlen, "retention.object_lock.%s", sub);
    if (days) {
        l->period_s = days * 86400;
        return QB_OK;
    }
    /* Without days the lock lasts max_age: an object is unlocked when
     * retention would delete it for its age, never later. */
    struct retention_policy p;
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(retention, "max_age");
    memset(&p, 0, sizeof p);
    if (cJSON_IsNumber(age) && age->valuedouble > 0 && age->valuedouble < 1e15)
        p.max_age_s = (int64_t)age->valuedouble;
    else if (cJSON_IsString(age) && !parse_duration(age->valuestring, &p.max_age_s))
        p.max_age_s = 0;
    if (p.max_age_s <= 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "retention.object_lock.days: required when retention has no max_age "
                        "(the lock cannot be derived from keep_* counts)");
    if (p.max_age_s > (int64_t)LOCK_DAYS_MAX * 86400)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "retention.object_lock: max_age is longer than the %d days S3 can lock",
                        LOCK_DAYS_MAX);
    l->period_s = p.max_age_s;
    return QB_OK;
}

enum qb_err retention_delete_snapshot(struct store *store, struct storage *storage,
                                      int64_t storage_dest, const struct store_snapshot *s,
                                      bool marked, char *err, size_t errlen)
{
    /* S3 would refuse it (Object Lock): say so without asking, and keep
     * the row exactly as it is. */
    if (s->locked_until > qb_now_ms() / 1000) {
        char when[32];
        qb_format_time(s->locked_until, when, sizeof when);
        return qb_failf(QB_ERR_CONFLICT, err, errlen,
                        "snapshot %lld is locked until %s (S3 Object Lock); it can be deleted "
                        "after that",
                        (long long)s->id, when);
    }
    /* The mark first: from here on a crash leaves a row recovery finishes,
     * never a listed row whose objects are gone.  Only one deletion owns
     * a row: a second one finds it marked (QB_ERR_NOT_FOUND). */
    enum qb_err rc = marked ? QB_OK : store_snapshot_mark_deleting(store, s->id, true, err, errlen);
    if (rc)
        return rc;
    /* A plan whose destination changed still owns snapshots in the old
     * one: delete each object where it actually is, never "successfully"
     * delete a missing key in the wrong place and forget the real one. */
    struct storage *own = NULL;
    if (!storage || s->destination_id != storage_dest) {
        rc = resolve_storage(store, s->destination_id, &own, err, errlen);
        storage = own;
    }
    if (!rc) {
        /* A backup set goes as a whole: every shard object and the
         * manifest.  The objects go before the row: a row must never
         * outlive its objects' deletion failing silently, and an object
         * without a row is only wasted space that a rescan can find. */
        char **keys = NULL;
        size_t nkeys = 0;
        backup_set_keys(s, &keys, &nkeys);
        /* Its second copies first: the row (and the copy rows with it)
         * goes only when every location is gone. */
        rc = copies_delete_objects(store, s, err, errlen);
        /* Locked objects live in a versioned bucket, where a plain delete
         * only hides them: delete their versions (S3 refuses any still
         * locked, e.g. by the bucket's default retention or a clock ahead
         * of S3's, and the row then stays with that reason). */
        if (!rc && s->locked_until)
            rc = storage_delete_versions(storage, (const char *const *)keys, nkeys, err, errlen);
        else if (!rc)
            rc = storage_delete_many(storage, (const char *const *)keys, nkeys, err, errlen);
        qdrant_strings_free(keys, nkeys);
    }
    storage_close(own);
    if (!rc)
        return store_snapshot_delete(store, s->id, err, errlen);
    /* Nothing proves the objects gone: the row stays, visible as before,
     * and a later pass tries again.  Recovery's rows stay marked (a kill
     * may have taken some objects already): the periodic pass retries. */
    char uerr[QB_ERRBUF_SIZE];
    if (!marked && store_snapshot_mark_deleting(store, s->id, false, uerr, sizeof uerr))
        log_warn("retention.unmark_failed", "snapshot=%lld error=%s", (long long)s->id,
                 log_q(uerr));
    return rc;
}

size_t retention_finish_deletions(struct store *store, int64_t marked_before, bool at_startup)
{
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot **rows = NULL;
    size_t n = 0, done = 0;
    if (store_snapshot_list_deleting(store, marked_before, &rows, &n, err, sizeof err)) {
        log_error(at_startup ? "recovery.deletions_failed" : "retention.deletions_failed",
                  "error=%s", log_q(err));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (retention_delete_snapshot(store, NULL, 0, rows[i], true, err, sizeof err)) {
            log_warn(at_startup ? "recovery.deletion_failed" : "retention.deletion_failed",
                     "snapshot=%lld error=%s", (long long)rows[i]->id, log_q(err));
        } else {
            done++;
            log_info(at_startup ? "recovery.deletion_finished" : "retention.deletion_finished",
                     "snapshot=%lld location=%s", (long long)rows[i]->id, log_q(rows[i]->location));
        }
    }
    store_snapshot_list_free(rows, n);
    return done;
}

static enum qb_err drop(struct store *store, struct storage *storage, int64_t storage_dest,
                        const struct store_snapshot *s, cJSON *entry, char *err, size_t errlen)
{
    int64_t reader = 0;
    enum qb_err rc;
    if (store_run_restore_using(store, s->id, &reader, err, errlen) == QB_OK && reader)
        /* Never pull a snapshot from under a restore: the next pass will. */
        rc = qb_failf(QB_ERR_CONFLICT, err, errlen, "kept for now: restore run %lld is reading it",
                      (long long)reader);
    else
        rc = retention_delete_snapshot(store, storage, storage_dest, s, false, err, errlen);
    if (rc == QB_OK)
        metrics_event_add(METRIC_RETENTION_DELETED, 1);
    if (entry) {
        cJSON_AddBoolToObject(entry, "deleted", rc == QB_OK);
        if (rc)
            cJSON_AddStringToObject(entry, "error", err);
    }
    return rc;
}

enum qb_err retention_apply_target(struct store *store, struct storage *storage,
                                   const struct store_plan *plan, const char *collection,
                                   bool dry_run, cJSON *decisions, int *deleted, char *err,
                                   size_t errlen)
{
    struct retention_policy policy;
    struct store_snapshot_brief *list = NULL;
    struct retention_item *items = NULL;
    struct retention_decision *out = NULL;
    size_t n = 0;
    int count = 0;
    enum qb_err first = QB_OK;
    cJSON *json = cJSON_Parse(plan->retention);
    enum qb_err rc = retention_policy_from_json(json, &policy, err, errlen);
    cJSON_Delete(json);
    /* Decide on briefs (read from an index), then read the whole row of
     * each snapshot to delete only: a target can hold a long history, and
     * most passes delete one snapshot or none. */
    if (!rc)
        rc = store_snapshot_list_retention(store, plan->id, collection, &list, &n, err, errlen);
    if (rc || n == 0)
        goto out;
    items = xcalloc(n, sizeof *items);
    out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        items[i].id = list[i].id;
        items[i].created_at = list[i].created_at;
        items[i].pinned = list[i].pinned;
        items[i].keep_until = list[i].keep_until;
        items[i].locked_until = list[i].locked_until;
        items[i].verified = list[i].verified_at > 0;
    }
    rc = retention_decide(&policy, items, n, qb_now_ms() / 1000, out, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        cJSON *entry = NULL;
        if (decisions) {
            entry = cJSON_CreateObject();
            cJSON_AddNumberToObject(entry, "snapshot_id", (double)out[i].id);
            cJSON_AddBoolToObject(entry, "keep", out[i].keep);
            cJSON_AddStringToObject(entry, "reason", out[i].reason);
            cJSON_AddItemToArray(decisions, entry);
        }
        if (out[i].keep || dry_run)
            continue;
        char derr[QB_ERRBUF_SIZE];
        struct store_snapshot *snap = NULL;
        enum qb_err drc = store_snapshot_get(store, out[i].id, &snap, derr, sizeof derr);
        if (!drc) {
            drc = drop(store, storage, plan->destination_id, snap, entry, derr, sizeof derr);
        } else if (entry) {
            cJSON_AddBoolToObject(entry, "deleted", false);
            cJSON_AddStringToObject(entry, "error", derr);
        }
        if (drc == QB_OK) {
            count++;
            log_info("retention.deleted", "plan=%s snapshot=%lld reason=\"%s\"", plan->name,
                     (long long)out[i].id, out[i].reason);
        } else if (!first) {
            /* The store refusing or failing (an Object Lock it still
             * enforces, an outage) stays a remote failure, so callers
             * report it as the destination's, not as our own error. */
            first = drc == QB_ERR_REMOTE || drc == QB_ERR_TRANSIENT ? QB_ERR_REMOTE : QB_ERR_IO;
            qb_failf(first, err, errlen, "snapshot %lld: %s", (long long)out[i].id, derr);
        }
        store_snapshot_free(snap);
    }
    if (!rc)
        rc = first;
out:
    if (deleted)
        *deleted = count;
    free(items);
    free(out);
    free(list);
    return rc;
}
