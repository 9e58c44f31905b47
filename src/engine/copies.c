/* SPDX-License-Identifier: Apache-2.0
 *
 * copies.c -- making, retrying, pruning and deleting second copies of
 * snapshots (copies.h); reading them is copies_read.c's, judging them
 * copies_verify.c's.
 *
 * DESIGN
 * The primary location stays in the snapshots row; each copy is a row of
 * snapshot_copies (migration 0019) under the same relative key in its own
 * destination, so a manifest copied byte for byte is right in both places
 * and a rescan of either destination finds the snapshot.  A backup set
 * has one copy row for all its objects (every shard object, then the
 * manifest: members_of), stored only when all of it is.
 *   Copying: the stored bytes are streamed once from the primary
 *   (storage_read) into a writer on the copy destination (storage_write),
 *   as they are stored: whatever codec wrote them, the copy is the same
 *   bytes.  The writer hashes what it writes; a copy whose SHA-256 differs
 *   from the catalogued one is discarded and failed.  With the plan's
 *   verify on, the copy is then checked as a new backup is
 *   (storage_verify_written, the plan's verify_mode).  The manifest follows
 *   the object, so a manifest never names an object that is not there.
 *   Faults: the write protocol publishes atomically, so a failed or
 *   killed copy leaves nothing under the key.  Its row says failed (or
 *   copying, after a kill), and the next run of the plan tries it again,
 *   up to COPIES_MAX_ATTEMPTS runs: a run is a natural backoff (the
 *   schedule's interval), and needs no thread of its own.  The backup that
 *   made the snapshot succeeds either way; its result shows each copy's
 *   state.
 *   Retention: the primary's policy decides the snapshot's life; deleting
 *   a snapshot deletes its copies first.  Each copy destination's own
 *   policy decides over its stored copies of a target (the copy's
 *   verification counting as "verified"), and can drop a copy sooner than
 *   the primary, never keep it longer: a row without its primary would
 *   need every reader of snapshots to learn about locations.
 *   Reading (copies_read.c): copies_open_source checks the primary
 *   (present, size, recorded SHA-256 of every object) and falls back to
 *   each stored copy in order; a restore calls it before anything on
 *   Qdrant is touched.
 */
#include "engine/copies.h"
#include "engine/copies_internal.h"
#include "engine/jobs.h"
#include "engine/manifest.h"
#include "engine/resolve.h"
#include "engine/retention.h"
#include "engine/retention_apply.h"
#include "remote/sigv4.h"
#include "store/store_copies.h"
#include "store/store_destinations.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A manifest is a few KiB; a set's lists its shards.  Anything larger is
 * not one of ours. */
#define COPIES_MANIFEST_MAX (4u << 20)

struct pipe {
    struct job *job; /* NULL: no limits to take */
    struct storage_writer *w;
};

static enum qb_err pipe_check(void *ud, char *err, size_t errlen)
{
    return job_checkpoint(ud, NULL, err, errlen);
}

static enum qb_err pipe_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct pipe *p = ud;
    enum qb_err rc = p->job ? job_throttle(p->job, len, pipe_check, p->job, err, errlen) : QB_OK;
    return rc ? rc : storage_write(p->w, data, len, err, errlen);
}

struct membuf {
    char *data;
    size_t len;
};

static enum qb_err mem_append(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct membuf *m = ud;
    if (m->len + len > COPIES_MANIFEST_MAX)
        return qb_failf(QB_ERR_INVALID, err, errlen, "the manifest is larger than %u bytes",
                        COPIES_MANIFEST_MAX);
    m->data = xrealloc(m->data, m->len + len + 1);
    memcpy(m->data + m->len, data, len);
    m->len += len;
    return QB_OK;
}

/* Copies the manifest of s from src_key's in src to key's in dst, byte
 * for byte.  A set's catalogued SHA-256 is its manifest's (backup_set.c),
 * so a set's manifest is checked on the way. */
static enum qb_err copy_manifest(const struct store_snapshot *s, struct storage *src,
                                 const char *src_key, struct storage *dst, const char *key,
                                 char *err, size_t errlen)
{
    char *skey = manifest_key(src_key), *mkey = manifest_key(key);
    struct membuf m = {0};
    enum qb_err rc = storage_read(src, skey, 0, 0, mem_append, &m, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        rc = qb_failf(rc, err, errlen, "the primary's manifest %s is missing", skey);
    if (!rc && s->layout && strcmp(s->layout, "shards") == 0) {
        char sha[65];
        sigv4_sha256_hex(m.data ? m.data : "", m.len, sha);
        if (strcmp(sha, s->sha256) != 0)
            rc = qb_failf(QB_ERR_IO, err, errlen,
                          "the set's manifest %s hashes to %s but the catalogue says %s", skey, sha,
                          s->sha256);
    }
    if (!rc)
        rc = storage_put(dst, mkey, m.data ? m.data : "", m.len, err, errlen);
    free(m.data);
    free(skey);
    free(mkey);
    return rc;
}

/* Copies on the server, when src and dst allow it (one S3 endpoint and
 * account), and checks the copy: nothing was hashed on the way, so the
 * check is storage_verify_written's even with the plan's verify off
 * (quick: size, recorded SHA-256 and ETag; full: every byte re-read). */
static enum qb_err copy_on_server(const struct store_plan *plan, struct storage *src,
                                  const struct member *m, struct storage *dst, const char *key,
                                  struct storage_write_result *res, char *err, size_t errlen)
{
    enum qb_err rc =
        storage_copy(dst, key, src, m->key, (uint64_t)m->size, m->sha256, res, err, errlen);
    bool full = plan && plan->verify && plan->verify_mode && strcmp(plan->verify_mode, "full") == 0;
    if (!rc)
        rc =
            storage_verify_written(dst, key, res, full ? STORAGE_VERIFY_FULL : STORAGE_VERIFY_QUICK,
                                   NULL, NULL, err, errlen);
    return rc;
}

/* Streams member m from src into key of dst and checks it. */
static enum qb_err copy_object(struct job *j, const struct store_plan *plan, struct storage *src,
                               const struct member *m, struct storage *dst, const char *key,
                               struct storage_write_result *res, char *err, size_t errlen)
{
    struct pipe p = {.job = j};
    enum qb_err rc = storage_write_begin(dst, key, (uint64_t)m->size, &p.w, err, errlen);
    if (rc)
        return rc;
    rc = storage_read(src, m->key, 0, 0, pipe_write, &p, err, errlen);
    if (rc) {
        storage_write_abort(p.w);
        char sub[QB_ERRBUF_SIZE];
        snprintf(sub, sizeof sub, "%s", err);
        return qb_failf(rc, err, errlen, "reading the primary: %s", sub);
    }
    rc = storage_write_finish(p.w, res, err, errlen);
    if (rc)
        return rc;
    if (strcmp(res->sha256, m->sha256) != 0 || (int64_t)res->size != m->size) {
        char derr[QB_ERRBUF_SIZE];
        if (storage_delete(dst, key, derr, sizeof derr))
            log_warn("copy.discard_failed", "key=%s error=%s", log_q(key), log_q(derr));
        return qb_failf(QB_ERR_IO, err, errlen,
                        "checksum mismatch: the primary's bytes read as %s (%llu bytes) but the "
                        "catalogue says %s (%lld bytes); the copy was discarded",
                        res->sha256, (unsigned long long)res->size, m->sha256, (long long)m->size);
    }
    if (plan && plan->verify) {
        enum storage_verify_mode mode = plan->verify_mode && strcmp(plan->verify_mode, "quick") == 0
                                            ? STORAGE_VERIFY_QUICK
                                            : STORAGE_VERIFY_FULL;
        rc = storage_verify_written(dst, key, res, mode, NULL, NULL, err, errlen);
    }
    return rc;
}

/* Copies every object of s (the object, or each shard object of a set)
 * from primary to dst under key, then its manifest; *server says whether
 * the S3 server did it.  The copy's SHA-256 and size as the catalogue
 * records them go to *res (sha256, size). */
static enum qb_err copy_members(struct job *j, const struct store_plan *plan,
                                struct storage *primary, const struct store_snapshot *s,
                                struct storage *dst, const char *key, bool *server,
                                struct storage_write_result *res, char *err, size_t errlen)
{
    cJSON *set = NULL;
    struct member *m = NULL;
    size_t n = members_of(s, &set, &m);
    enum qb_err rc = n ? QB_OK
                       : qb_failf(QB_ERR_INTERNAL, err, errlen,
                                  "snapshot %lld is a backup set whose catalogue entry lists no "
                                  "complete shard",
                                  (long long)s->id);
    *server = n && storage_can_copy(dst, primary, (uint64_t)m[0].size);
    for (size_t i = 0; !rc && i < n; i++) {
        struct storage_write_result one = {0};
        char *k = member_key(s, &m[i], key);
        rc = *server ? copy_on_server(plan, primary, &m[i], dst, k, &one, err, errlen)
                     : copy_object(j, plan, primary, &m[i], dst, k, &one, err, errlen);
        if (rc && m[i].shard_id >= 0) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            qb_failf(rc, err, errlen, "shard %d (%s): %s", m[i].shard_id, k, sub);
        }
        free(k);
        free(one.location);
    }
    if (!rc)
        rc = copy_manifest(s, primary, s->storage_key, dst, key, err, errlen);
    /* The catalogue's view of the whole: a single object's, or the set's
     * (its manifest's SHA-256, the sum of its shard sizes). */
    snprintf(res->sha256, sizeof res->sha256, "%s", s->sha256);
    res->size = (uint64_t)s->size_bytes;
    free(m);
    cJSON_Delete(set);
    return rc;
}

/* One attempt at copy c of snapshot s, recorded on its row; *how (may be
 * NULL) says "server" or "stream". */
static bool make_copy(struct job *j, const struct store_plan *plan, struct storage *primary,
                      const struct store_snapshot *s, const struct store_copy *c, const char **how,
                      char *err, size_t errlen)
{
    bool server = false;
    struct storage *dst = NULL, *own = NULL;
    struct storage_write_result res = {0};
    enum qb_err rc = store_copy_begin(j->store, c->id, err, errlen);
    if (!rc && !primary) {
        rc = resolve_storage(j->store, s->destination_id, &own, err, errlen);
        primary = own;
    }
    if (!rc)
        rc = resolve_storage(j->store, c->destination_id, &dst, err, errlen);
    if (!rc) {
        log_info("copy.started", "snapshot=%lld destination=%s attempt=%lld layout=%s",
                 (long long)s->id, log_q(c->destination_name), (long long)c->attempts + 1,
                 s->layout ? s->layout : "snapshot");
        rc = copy_members(j, plan, primary, s, dst, c->storage_key, &server, &res, err, errlen);
    }
    if (how)
        *how = server ? "server" : "stream";
    char serr[QB_ERRBUF_SIZE];
    if (store_copy_finish(j->store, c->id, rc == QB_OK, res.sha256, (int64_t)res.size,
                          rc ? err : NULL, serr, sizeof serr))
        log_error("copy.unrecorded", "snapshot=%lld copy=%lld error=%s", (long long)s->id,
                  (long long)c->id, log_q(serr));
    if (rc)
        log_warn("copy.failed", "snapshot=%lld destination=%s attempt=%lld error=%s",
                 (long long)s->id, log_q(c->destination_name), (long long)c->attempts + 1,
                 log_q(err));
    else
        log_info("copy.stored", "snapshot=%lld destination=%s key=%s method=%s", (long long)s->id,
                 log_q(c->destination_name), log_q(c->storage_key), server ? "server" : "stream");
    storage_close(dst);
    storage_close(own);
    return rc == QB_OK;
}

/* The destination id of each element of plan->copies, in order (0 for
 * one that no longer exists), and their count. */
static int64_t *copy_destinations(struct store *store, const struct store_plan *plan, size_t *n)
{
    cJSON *arr = cJSON_Parse(plan->copies ? plan->copies : "[]");
    size_t count = (size_t)cJSON_GetArraySize(arr), i = 0;
    int64_t *ids = xcalloc(count + 1, sizeof *ids);
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "destination");
        struct store_destination *d = NULL;
        char err[QB_ERRBUF_SIZE];
        if (cJSON_IsString(name) &&
            store_destination_get(store, name->valuestring, false, &d, err, sizeof err) == QB_OK)
            ids[i] = d->id;
        else
            log_warn("copy.no_destination", "plan=%s destination=%s", log_q(plan->name),
                     log_q(cJSON_IsString(name) ? name->valuestring : "?"));
        store_destination_free(d);
        i++;
    }
    cJSON_Delete(arr);
    *n = count;
    return ids;
}

void copies_after_backup(struct job *j, const struct store_plan *plan, struct storage *primary,
                         int64_t snapshot_id, cJSON *result)
{
    size_t n = 0;
    int64_t *dests = copy_destinations(j->store, plan, &n);
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot *s = NULL;
    if (n == 0)
        goto out;
    if (store_snapshot_get(j->store, snapshot_id, &s, err, sizeof err)) {
        log_error("copy.no_snapshot", "snapshot=%lld error=%s", (long long)snapshot_id, log_q(err));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (dests[i] && store_copy_insert(j->store, snapshot_id, (int64_t)i, dests[i],
                                          s->storage_key, err, sizeof err))
            log_error("copy.unrecorded", "snapshot=%lld error=%s", (long long)snapshot_id,
                      log_q(err));
    struct store_copy **rows = NULL;
    size_t nrows = 0;
    if (store_copy_list(j->store, snapshot_id, &rows, &nrows, err, sizeof err))
        log_error("copy.unlisted", "snapshot=%lld error=%s", (long long)snapshot_id, log_q(err));
    cJSON *arr = cJSON_AddArrayToObject(result, "copies");
    /* A copy destination deleted since the plan named it: say so. */
    cJSON *plan_copies = cJSON_Parse(plan->copies ? plan->copies : "[]");
    for (size_t i = 0; i < n; i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(plan_copies, (int)i), "destination");
        if (dests[i] || !cJSON_IsString(name))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "destination", name->valuestring);
        cJSON_AddStringToObject(o, "state", "failed");
        cJSON_AddStringToObject(o, "error", "the destination does not exist (any more)");
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_Delete(plan_copies);
    for (size_t i = 0; i < nrows; i++) {
        const char *how = "stream";
        bool ok = make_copy(j, plan, primary, s, rows[i], &how, err, sizeof err);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "destination", rows[i]->destination_name);
        cJSON_AddStringToObject(o, "state", ok ? "stored" : "failed");
        cJSON_AddStringToObject(o, "method", how);
        if (!ok)
            cJSON_AddStringToObject(o, "error", err);
        cJSON_AddItemToArray(arr, o);
    }
    store_copy_list_free(rows, nrows);
out:
    store_snapshot_free(s);
    free(dests);
}

int copies_retry_unfinished(struct job *j, const struct store_plan *plan)
{
    char err[QB_ERRBUF_SIZE];
    struct store_copy **rows = NULL;
    size_t n = 0;
    int stored = 0;
    if (store_copy_list_unfinished(j->store, plan->id, COPIES_MAX_ATTEMPTS, &rows, &n, err,
                                   sizeof err)) {
        log_error("copy.unlisted", "plan=%s error=%s", log_q(plan->name), log_q(err));
        return 0;
    }
    size_t ndests = 0;
    int64_t *dests = copy_destinations(j->store, plan, &ndests);
    for (size_t i = 0; i < n && !j->cancelled && !j->stopping; i++) {
        /* A destination the plan no longer copies to is not tried again
         * (its stored copies stay until their snapshot goes). */
        bool wanted = false;
        for (size_t k = 0; k < ndests; k++)
            wanted = wanted || dests[k] == rows[i]->destination_id;
        if (!wanted)
            continue;
        struct store_snapshot *s = NULL;
        if (store_snapshot_get(j->store, rows[i]->snapshot_id, &s, err, sizeof err) == QB_OK &&
            make_copy(j, plan, NULL, s, rows[i], NULL, err, sizeof err))
            stored++;
        store_snapshot_free(s);
    }
    store_copy_list_free(rows, n);
    free(dests);
    return stored;
}

/* Deletes every object of snapshot s (the object or each shard object)
 * and its manifest from destination_id, where the snapshot's key is key. */
static enum qb_err delete_copy(struct store *store, int64_t destination_id,
                               const struct store_snapshot *s, const char *key, char *err,
                               size_t errlen)
{
    struct storage *st = NULL;
    cJSON *set = NULL;
    struct member *m = NULL;
    size_t n = members_of(s, &set, &m);
    char **keys = xcalloc(n + 1, sizeof *keys);
    const char **view = xcalloc(n + 1, sizeof *view);
    for (size_t i = 0; i < n; i++)
        view[i] = keys[i] = member_key(s, &m[i], key);
    view[n] = keys[n] = manifest_key(key);
    enum qb_err rc = resolve_storage(store, destination_id, &st, err, errlen);
    if (!rc)
        rc = storage_delete_many(st, view, n + 1, err, errlen);
    for (size_t i = 0; i <= n; i++)
        free(keys[i]);
    free(keys);
    free(view);
    free(m);
    cJSON_Delete(set);
    storage_close(st);
    return rc;
}

enum qb_err copies_delete_objects(struct store *store, const struct store_snapshot *s, char *err,
                                  size_t errlen)
{
    struct store_copy **rows = NULL;
    size_t n = 0;
    enum qb_err rc = store_copy_list(store, s->id, &rows, &n, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = delete_copy(store, rows[i]->destination_id, s, rows[i]->storage_key, err, errlen);
        if (rc) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            qb_failf(rc, err, errlen, "deleting its copy in %s: %s", rows[i]->destination_name,
                     sub);
        }
    }
    store_copy_list_free(rows, n);
    return rc;
}

/* One copy destination's policy over its copies of a target. */
static enum qb_err prune_destination(struct store *store, const struct store_plan *plan,
                                     const char *collection, int64_t dest, const cJSON *retention,
                                     int *deleted, char *err, size_t errlen)
{
    struct retention_policy policy;
    struct store_copy_brief *list = NULL;
    struct retention_item *items = NULL;
    struct retention_decision *out = NULL;
    size_t n = 0;
    enum qb_err rc = retention_policy_from_json(retention, &policy, err, errlen);
    if (!rc)
        rc = store_copy_list_retention(store, plan->id, collection, dest, &list, &n, err, errlen);
    if (rc || n == 0)
        goto out;
    items = xcalloc(n, sizeof *items);
    out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++)
        items[i] = (struct retention_item){.id = list[i].id,
                                           .created_at = list[i].created_at,
                                           .pinned = list[i].pinned,
                                           .verified = list[i].verified_at > 0,
                                           .keep_until = list[i].keep_until};
    rc = retention_decide(&policy, items, n, qb_now_ms() / 1000, out, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        if (out[i].keep)
            continue;
        int64_t copy_id = 0;
        for (size_t k = 0; k < n; k++)
            if (list[k].id == out[i].id)
                copy_id = list[k].copy_id;
        struct store_copy **rows = NULL;
        struct store_snapshot *s = NULL;
        size_t nrows = 0;
        rc = store_snapshot_get(store, out[i].id, &s, err, errlen);
        if (!rc)
            rc = store_copy_list(store, out[i].id, &rows, &nrows, err, errlen);
        for (size_t k = 0; !rc && k < nrows; k++) {
            if (rows[k]->id != copy_id)
                continue;
            /* The row goes only once the object is gone: a copy never
             * outlives its row unnoticed. */
            rc = delete_copy(store, dest, s, rows[k]->storage_key, err, errlen);
            if (!rc)
                rc = store_copy_delete(store, rows[k]->id, err, errlen);
            if (!rc) {
                (*deleted)++;
                log_info("retention.copy_deleted",
                         "plan=%s snapshot=%lld destination=%s "
                         "reason=\"%s\"",
                         log_q(plan->name), (long long)out[i].id, log_q(rows[k]->destination_name),
                         out[i].reason);
            }
        }
        store_copy_list_free(rows, nrows);
        store_snapshot_free(s);
    }
out:
    free(items);
    free(out);
    free(list);
    return rc;
}

enum qb_err copies_apply_retention(struct store *store, const struct store_plan *plan,
                                   const char *collection, int *deleted, char *err, size_t errlen)
{
    size_t n = 0;
    int count = 0;
    enum qb_err first = QB_OK;
    int64_t *dests = copy_destinations(store, plan, &n);
    cJSON *arr = cJSON_Parse(plan->copies ? plan->copies : "[]");
    for (size_t i = 0; i < n; i++) {
        if (!dests[i])
            continue;
        const cJSON *retention =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, (int)i), "retention");
        char perr[QB_ERRBUF_SIZE];
        enum qb_err rc = prune_destination(store, plan, collection, dests[i], retention, &count,
                                           perr, sizeof perr);
        if (rc && !first)
            first = qb_failf(rc, err, errlen, "copies: %s", perr);
    }
    cJSON_Delete(arr);
    free(dests);
    if (deleted)
        *deleted = count;
    return first;
}
