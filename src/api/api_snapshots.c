/* SPDX-License-Identifier: Apache-2.0
 *
 * api_snapshots.c -- /v1/snapshots: the catalogue.  List (filters, newest
 * first, cursor), read (with age computed at read time), delete (the
 * stored object first, then the row), pin/unpin (pinned snapshots are
 * exempt from retention and cannot be deleted until unpinned), and verify
 * (re-read the object, recompute SHA-256, record the result; a failure is
 * 409 with the expected and the found SHA-256).  Storage I/O runs on task
 * threads; the request waits for it as a long poll.
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/copies.h"
#include "engine/resolve.h"
#include "engine/retention_apply.h"
#include "engine/snapshot_verify.h"
#include "engine/tasks.h"
#include "http/http_reply.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/json_u64.h"
#include "util/json_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_LIST_DEFAULT 100
#define SNAPSHOT_LIST_MAX     1000
/* How long a verify or delete request waits before answering 202; the
 * work goes on and its result is recorded on the snapshot. */
#define SNAPSHOT_TASK_WAIT_MS 300000

static cJSON *snapshot_json(const struct store_snapshot *s)
{
    cJSON *o = cJSON_CreateObject();
    int64_t now = qb_now_ms() / 1000;
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    cJSON_AddItemToObject(o, "plan",
                          s->plan_name ? cJSON_CreateString(s->plan_name) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "run_id",
                          s->run_id ? cJSON_CreateNumber((double)s->run_id) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "instance", s->instance_name);
    cJSON_AddStringToObject(o, "destination", s->destination_name);
    cJSON_AddStringToObject(o, "kind", s->kind);
    cJSON_AddItemToObject(o, "collection",
                          s->collection ? cJSON_CreateString(s->collection) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "qdrant_name", s->qdrant_name);
    cJSON_AddStringToObject(o, "location", s->location);
    cJSON_AddNumberToObject(o, "size", (double)s->size_bytes);
    cJSON_AddStringToObject(o, "sha256", s->sha256);
    cJSON_AddItemToObject(o, "qdrant_checksum",
                          s->qdrant_checksum ? cJSON_CreateString(s->qdrant_checksum)
                                             : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "qdrant_version",
                          s->qdrant_version ? cJSON_CreateString(s->qdrant_version)
                                            : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "points_count",
                          s->points_count >= 0 ? cJSON_CreateNumber((double)s->points_count)
                                               : cJSON_CreateNull());
    /* A raw archive's raw bytes are its stored bytes (rows older than
     * migration 0017 record only the latter). */
    bool raw = !s->codec || strcmp(s->codec, "none") == 0;
    const char *raw_sha = s->raw_sha256 ? s->raw_sha256 : raw ? s->sha256 : NULL;
    int64_t raw_size = s->raw_size >= 0 ? s->raw_size : raw ? s->size_bytes : -1;
    cJSON_AddStringToObject(o, "codec", s->codec ? s->codec : "none");
    cJSON_AddItemToObject(
        o, "raw_size", raw_size >= 0 ? cJSON_CreateNumber((double)raw_size) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "raw_sha256",
                          raw_sha ? cJSON_CreateString(raw_sha) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "key_id",
                          s->key_id ? cJSON_CreateString(s->key_id) : cJSON_CreateNull());
    json_add_time(o, "created_at", s->created_at);
    cJSON_AddNumberToObject(o, "age_s", (double)(now - s->created_at));
    json_add_time(o, "verified_at", s->verified_at);
    cJSON_AddItemToObject(o, "verify_error",
                          s->verify_error ? cJSON_CreateString(s->verify_error)
                                          : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "pinned", s->pinned);
    json_add_time(o, "checked_at", s->checked_at);
    json_add_time(o, "keep_until", s->keep_until);
    json_add_time(o, "locked_until", s->locked_until);
    api_add_json(o, "labels", s->labels, "{}");
    cJSON_AddStringToObject(o, "layout", s->layout);
    if (s->backup_set) {
        /* Peer ids are u64: parsed exactly, printed as exact integers. */
        cJSON *set = json_parse_exact(s->backup_set, strlen(s->backup_set));
        cJSON *sh;
        cJSON_ArrayForEach(sh, cJSON_GetObjectItemCaseSensitive(set, "shards"))
        {
            uint64_t peer = 0;
            if (json_u64(cJSON_GetObjectItemCaseSensitive(sh, "peer_id"), &peer)) {
                cJSON_DeleteItemFromObjectCaseSensitive(sh, "peer_id");
                json_add_u64(sh, "peer_id", peer);
            }
        }
        cJSON_AddItemToObject(o, "backup_set", set ? set : cJSON_CreateNull());
    } else {
        cJSON_AddNullToObject(o, "backup_set");
    }
    return o;
}

/* A snapshot's own GET answer: its row and its copies (only here, not in
 * lists: one more query per snapshot). */
static cJSON *snapshot_reply_json(struct http_request *req, const struct store_snapshot *s)
{
    struct app *app = http_req_app(req);
    cJSON *o = snapshot_json(s);
    cJSON_AddItemToObject(o, "copies", copies_json(app->store, s->id));
    return o;
}

API_DEFINE_REPLY_ROW(reply_snapshot, int64_t, struct store_snapshot, store_snapshot_get,
                     store_snapshot_free, snapshot_reply_json)

/* One decimal number of at most 18 digits (no sign, no spaces): *v. */
static const char *parse_decimal(const char *s, int64_t *v)
{
    int64_t x = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && p - s < 18; p++)
        x = x * 10 + (*p - '0');
    if (p == s || (*p >= '0' && *p <= '9'))
        return NULL;
    *v = x;
    return p;
}

/* The list's keyset cursor: "<created_at>.<id>" of the last row shown, in
 * list order (created_at, id), both newest first.  The next page is the
 * rows after that position, however many rows were added or deleted in
 * between; the form is checked strictly, so anything but a next_cursor
 * we handed out (or a position one could have been) is refused. */
static bool parse_cursor(const char *cursor, int64_t *created, int64_t *id)
{
    const char *p = parse_decimal(cursor, created);
    if (!p || *p != '.')
        return false;
    p = parse_decimal(p + 1, id);
    return p && *p == '\0' && *id > 0;
}

static cJSON *snapshot_item(const void *rows, size_t i)
{
    return snapshot_json(((struct store_snapshot *const *)rows)[i]);
}

void api_snapshots_list(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot_filter f = {0};
    static const char *const kinds[] = {"collection", "full", "shard", NULL};
    f.plan = http_req_query(req, "plan");
    f.collection = http_req_query(req, "collection");
    f.instance = http_req_query(req, "instance");
    if (!api_query_one_of(req, "kind", kinds, "kind: collection, full or shard", &f.kind))
        return;
    const char *cursor = http_req_query(req, "cursor");
    bool cursor_ok = !cursor || parse_cursor(cursor, &f.before_created, &f.before_id);
    if (!api_query_page(req, cursor_ok, SNAPSHOT_LIST_DEFAULT, SNAPSHOT_LIST_MAX, &f.limit))
        return;
    struct store_snapshot **list = NULL;
    size_t n = 0;
    char next[48] = "";
    enum qb_err rc = store_snapshot_list(app->store, &f, &list, &n, err, sizeof err);
    if (!rc && n > 0)
        snprintf(next, sizeof next, "%lld.%lld", (long long)list[n - 1]->created_at,
                 (long long)list[n - 1]->id);
    api_reply_rows_page(req, rc, err, list, n, f.limit, snapshot_item, next);
    store_snapshot_list_free(list, n);
}

void api_snapshots_get(struct http_request *req)
{
    int64_t id = 0;
    if (api_path_id(req, "snapshot", &id))
        reply_snapshot(req, id, 200);
}

static void set_pinned(struct http_request *req, bool pinned)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    if (!api_path_id(req, "snapshot", &id))
        return;
    enum qb_err rc = store_snapshot_set_pinned(app->store, id, pinned, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    reply_snapshot(req, id, 200);
}

void api_snapshots_pin(struct http_request *req)
{
    set_pinned(req, true);
}

void api_snapshots_unpin(struct http_request *req)
{
    set_pinned(req, false);
}

/* ---------------------------------------------------------------- tasks */

struct snap_task {
    struct task task;
    struct store *store;
    int64_t id;
    bool delete; /* else verify */
    enum qb_err rc;
    char err[QB_ERRBUF_SIZE];
    struct snapshot_verdict v; /* verify */
};

static void run_snap_task(struct task *t)
{
    struct snap_task *st = (struct snap_task *)t;
    struct store_snapshot *s = NULL;
    struct storage *storage = NULL;
    st->rc = resolve_snapshot(st->store, st->id, &s, &storage, st->err, sizeof st->err);
    if (st->rc)
        goto out;
    int64_t reader = 0;
    if (st->delete &&store_run_restore_using(st->store, st->id, &reader, st->err, sizeof st->err) ==
            QB_OK &&
        reader) {
        st->rc = qb_failf(QB_ERR_CONFLICT, st->err, sizeof st->err,
                          "snapshot %lld is being restored by run %lld; delete it once that "
                          "restore has ended",
                          (long long)st->id, (long long)reader);
        goto out;
    }
    if (st->delete &&s->pinned) {
        st->rc = qb_failf(QB_ERR_CONFLICT, st->err, sizeof st->err,
                          "snapshot %lld was pinned meanwhile; unpin it first", (long long)st->id);
        goto out;
    }
    if (st->delete) {
        /* Marked, objects (every shard of a set), then the row: neither a
         * failed delete nor a crash leaves a row whose objects are gone. */
        st->rc = retention_delete_snapshot(st->store, storage, s->destination_id, s, false, st->err,
                                           sizeof st->err);
        goto out;
    }
    /* The outcome is recorded either way (engine/snapshot_verify.h). */
    st->rc = snapshot_verify(st->store, storage, s, &st->v, st->err, sizeof st->err);
    /* Each stored second copy too, recorded on the copy (GET shows it);
     * the answer stays the primary's verdict. */
    if (!st->rc)
        copies_verify(st->store, s, NULL);
out:
    storage_close(storage);
    store_snapshot_free(s);
}

static void destroy_snap_task(struct task *t)
{
    free(t);
}

/* 409: the snapshot failed verification.  "verification" holds what was
 * expected and what was found, so a script can print both. */
static void reply_verify_failed(struct http_request *req, const struct snap_task *st)
{
    const struct snapshot_verdict *v = &st->v;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "snapshot_id", (double)st->id);
    cJSON_AddStringToObject(o, "layout", v->set ? "shards" : "snapshot");
    cJSON_AddStringToObject(o, "expected_sha256", v->want_sha256);
    cJSON_AddNumberToObject(o, "expected_size", (double)v->want_size);
    if (!v->set && v->found) {
        cJSON_AddStringToObject(o, "actual_sha256", v->sha256);
        cJSON_AddNumberToObject(o, "actual_size", (double)v->size);
    } else {
        /* Missing, or a set: detail names the shard and its checksums. */
        cJSON_AddNullToObject(o, "actual_sha256");
        cJSON_AddNullToObject(o, "actual_size");
    }
    cJSON_AddBoolToObject(o, "found", v->set || v->found);
    cJSON_AddNullToObject(o, "verified_at");
    cJSON_AddStringToObject(o, "verify_error", st->err);
    http_reply_problem_ext(req, API_ERR_CONFLICT, "verification", o,
                           "snapshot %lld failed verification: %s", (long long)st->id, st->err);
}

static bool poll_snap_task(struct http_request *req, void *ctx, bool expired)
{
    struct snap_task *st = ctx;
    if (!atomic_load(&st->task.done)) {
        if (expired)
            api_reply_in_progress(req, st->delete ? "the deletion continues"
                                                  : "verification continues; its result will be "
                                                    "recorded on the snapshot");
        return expired;
    }
    /* Storage failures are the remote's (502); catalogue ones are ours. */
    if (st->rc == QB_ERR_TRANSIENT || st->rc == QB_ERR_REMOTE || st->rc == QB_ERR_IO)
        http_reply_problem(req, API_ERR_REMOTE_FAILED, "%s", st->err);
    else if (st->rc)
        http_reply_error(req, st->rc, st->err);
    else if (st->delete)
        http_reply_empty(req, 204);
    else if (st->v.failed)
        reply_verify_failed(req, st);
    else if (st->v.unreadable)
        http_reply_problem(req, API_ERR_REMOTE_FAILED,
                           "snapshot %lld could not be verified (recorded as failed): %s",
                           (long long)st->id, st->err);
    else
        reply_snapshot(req, st->id, 200);
    return true;
}

static void submit(struct http_request *req, int64_t id, bool delete)
{
    struct app *app = http_req_app(req);
    struct snap_task *st = xcalloc(1, sizeof *st);
    task_init(&st->task, run_snap_task, destroy_snap_task);
    st->store = app->store;
    st->id = id;
    st->delete = delete;
    tasks_submit(app->tasks, &st->task);
    http_req_defer(req, qb_mono_ms() + SNAPSHOT_TASK_WAIT_MS, poll_snap_task, st, task_release_ctx);
}

/* The {id} of a catalogued snapshot into *id and whether it is pinned;
 * replies (404, or the store's error) and returns false otherwise. */
static bool path_snapshot(struct http_request *req, int64_t *id, bool *pinned)
{
    struct app *app = http_req_app(req);
    struct store_snapshot *s = NULL;
    char err[QB_ERRBUF_SIZE];
    if (!api_path_id(req, "snapshot", id))
        return false;
    enum qb_err rc = store_snapshot_get(app->store, *id, &s, err, sizeof err);
    *pinned = !rc && s->pinned;
    store_snapshot_free(s);
    if (rc) {
        http_reply_error(req, rc, err);
        return false;
    }
    return true;
}

void api_snapshots_verify(struct http_request *req)
{
    int64_t id = 0;
    bool pinned = false;
    if (path_snapshot(req, &id, &pinned))
        submit(req, id, false);
}

void api_snapshots_delete(struct http_request *req)
{
    int64_t id = 0;
    bool pinned = false;
    if (!path_snapshot(req, &id, &pinned))
        return;
    if (pinned) {
        http_reply_problem(req, API_ERR_CONFLICT,
                           "snapshot %lld is pinned; unpin it first (POST "
                           "/v1/snapshots/%lld/unpin)",
                           (long long)id, (long long)id);
        return;
    }
    submit(req, id, true);
}
