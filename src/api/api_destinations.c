/* SPDX-License-Identifier: Apache-2.0
 *
 * api_destinations.c -- /v1/destinations: where snapshots are stored.
 *
 * A destination is {"name", "kind": "local"|"s3", "settings": {...},
 * "credentials": {...}}.  Settings are validated by opening the destination
 * (storage_open_json), so the API accepts exactly what the pipeline can
 * use.  Credentials are write-only: responses say only "credentials_set".
 * The check route writes, reads back and deletes a small object, on a task
 * thread, so request threads never wait on storage.
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/keyref.h"
#include "engine/resolve.h"
#include "engine/rescan.h"
#include "engine/tasks.h"
#include "http/http_reply.h"
#include "storage/storage.h"
#include "store/store_destinations.h"
#include "store/store_snapshots.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* A destination check gets this long before the client is told it is
 * still running. */
#define CHECK_WAIT_MS 60000

static const char *const destination_fields[] = {
    "name", "kind", "settings", "credentials", "max_write_bytes_per_second", "encryption", NULL};

static cJSON *destination_json(const struct store_destination *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "kind", d->kind);
    cJSON *settings = cJSON_Parse(d->settings);
    cJSON_AddItemToObject(o, "settings", settings ? settings : cJSON_CreateObject());
    cJSON_AddBoolToObject(o, "credentials_set", d->secret != NULL);
    cJSON_AddStringToObject(o, "managed_by", d->managed_by);
    api_add_rate(o, "max_write_bytes_per_second", d->max_write_bytes_per_second);
    /* The reference (a path or a variable name), never a key. */
    cJSON *enc = d->encryption ? cJSON_Parse(d->encryption) : NULL;
    cJSON_AddItemToObject(o, "encryption", enc ? enc : cJSON_CreateNull());
    json_add_time(o, "created_at", d->created_at);
    json_add_time(o, "updated_at", d->updated_at);
    return o;
}

/* with_secret only to report credentials_set; the secret is not sent */
static enum qb_err get_shown(struct store *s, const char *name, struct store_destination **d,
                             char *err, size_t errlen)
{
    return store_destination_get(s, name, true, d, err, errlen);
}

static cJSON *destination_reply_json(struct http_request *req, const struct store_destination *d)
{
    (void)req;
    return destination_json(d);
}

API_DEFINE_REPLY_ROW(reply_destination, const char *, struct store_destination, get_shown,
                     store_destination_free, destination_reply_json)

void api_destinations_list(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_destination **list = NULL;
    size_t n = 0;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_destination_list(app->store, &list, &n, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        struct store_destination *full = NULL;
        if (store_destination_get(app->store, list[i]->name, true, &full, err, sizeof err) ==
            QB_OK) {
            cJSON_AddItemToArray(items, destination_json(full));
            store_destination_free(full);
        }
    }
    store_destination_list_free(list, n);
    api_reply_items(req, items);
}

/* Checks settings.endpoint of an S3 destination the way the S3 client
 * will read it (scheme://host[:port], nothing after but an optional "/"),
 * so the answer names the field: the client's own message names none. */
static bool valid_endpoint(struct http_request *req, const cJSON *settings)
{
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(settings, "endpoint");
    char err[QB_ERRBUF_SIZE];
    if (!cJSON_IsString(ep))
        return true; /* absent, null (the default) or mistyped: storage says */
    const char *sep = strstr(ep->valuestring, "://");
    if (sep && memchr(sep, '@', strcspn(sep + 3, "/?#") + 3)) {
        http_reply_problem_field(req, API_ERR_INVALID_FIELD, "settings.endpoint",
                                 "settings.endpoint: must not embed credentials; send them in "
                                 "\"credentials\"");
        return false;
    }
    if (api_check_http_url(ep->valuestring, err, sizeof err)) {
        http_reply_problem_field(req, API_ERR_INVALID_FIELD, "settings.endpoint",
                                 "settings.endpoint: %s", err);
        return false;
    }
    const char *host = strstr(ep->valuestring, "://") + 3;
    const char *rest = host + strcspn(host, "/");
    if (*rest && strcmp(rest, "/") != 0) {
        http_reply_problem_field(req, API_ERR_INVALID_FIELD, "settings.endpoint",
                                 "settings.endpoint: must be scheme://host[:port] without a "
                                 "path (the bucket goes in \"bucket\", key prefixes in "
                                 "\"prefix\")");
        return false;
    }
    return true;
}

/* Validates the body and fills d (kind, settings, secret).  *secret_given
 * says whether "credentials" was present.  Replies and returns false on
 * invalid input. */
static bool destination_from_body(struct http_request *req, const cJSON *body,
                                  const char *stored_secret, struct store_destination *d,
                                  bool *secret_given)
{
    char err[QB_ERRBUF_SIZE];
    const char *kind = NULL;
    if (json_reject_unknown(body, destination_fields, err, sizeof err)) {
        api_reply_invalid(req, err);
        return false;
    }
    enum qb_err rc = json_get_string(body, "kind", &kind, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND || (rc == QB_OK && strcmp(kind, "local") && strcmp(kind, "s3"))) {
        api_reply_invalid(req, "kind: must be \"local\" or \"s3\"");
        return false;
    }
    if (!rc)
        rc = api_get_rate(body, "max_write_bytes_per_second", &d->max_write_bytes_per_second, err,
                          sizeof err);
    if (!rc)
        rc = keyref_parse(cJSON_GetObjectItemCaseSensitive(body, "encryption"), "encryption",
                          &d->encryption, err, sizeof err);
    if (rc) {
        api_reply_invalid(req, err);
        return false;
    }
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(body, "settings");
    const cJSON *creds = cJSON_GetObjectItemCaseSensitive(body, "credentials");
    if (!cJSON_IsObject(settings)) {
        api_reply_invalid(req, "settings: must be an object");
        return false;
    }
    if (creds && !cJSON_IsNull(creds) && !cJSON_IsObject(creds)) {
        api_reply_invalid(req, "credentials: must be an object");
        return false;
    }
    if (creds && !cJSON_IsNull(creds) && strcmp(kind, "s3") != 0) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "credentials",
                                 "credentials are only used by s3 destinations");
        return false;
    }
    if (strcmp(kind, "s3") == 0 && !valid_endpoint(req, settings))
        return false;
    /* Opening validates every setting the way the pipeline will use it;
     * it sends no request.  A replace without "credentials" keeps the
     * stored ones, so it is validated with them. */
    cJSON *stored = !creds && stored_secret ? cJSON_Parse(stored_secret) : NULL;
    struct storage *st = NULL;
    rc = storage_open_json(kind, settings, cJSON_IsObject(creds) ? creds : stored, false, &st, err,
                           sizeof err);
    storage_close(st);
    cJSON_Delete(stored);
    if (rc == QB_ERR_NOT_FOUND) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "settings", "%s", err);
        return false;
    }
    if (rc) {
        char msg[QB_ERRBUF_SIZE + 16];
        snprintf(msg, sizeof msg, "settings.%s", err);
        api_reply_invalid(req, strchr(err, ':') ? msg : err);
        return false;
    }
    d->kind = xstrdup(kind);
    d->settings = cJSON_PrintUnformatted(settings);
    *secret_given = creds != NULL;
    d->secret = cJSON_IsObject(creds) ? cJSON_PrintUnformatted(creds) : NULL;
    return true;
}

void api_destinations_create(struct http_request *req)
{
    struct app *app = http_req_app(req);
    /* On the heap so that the store's own free releases it (and wipes the secret). */
    struct store_destination *d = xcalloc(1, sizeof *d);
    char err[QB_ERRBUF_SIZE];
    const char *name = NULL;
    bool secret_given = false;
    const cJSON *body = api_body_object(req);
    if (body)
        name = api_body_name(req, body);
    if (!name || !destination_from_body(req, body, NULL, d, &secret_given))
        goto out;
    d->name = xstrdup(name);
    enum qb_err rc = store_destination_insert(app->store, d, err, sizeof err);
    api_reply_created(req, rc, err, "destination", name, d->max_write_bytes_per_second,
                      reply_destination);
out:
    store_destination_free(d);
}

void api_destinations_get(struct http_request *req)
{
    api_get_named(req, "destination", reply_destination);
}

static bool check_api_managed(struct http_request *req, const char *name)
{
    struct app *app = http_req_app(req);
    struct store_destination *cur = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_destination_get(app->store, name, false, &cur, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return false;
    }
    bool ok = api_check_managed(req, "destination", name, cur->managed_by, "backup_dir");
    store_destination_free(cur);
    return ok;
}

/* Whether two forms of a destination name the same place for objects:
 * kind, and the local path or the S3 endpoint, bucket and prefix.  Other
 * settings (credentials, storage class, part size) may change freely. */
static bool same_place(const struct store_destination *a, const struct store_destination *b)
{
    static const char *const keys[] = {"path", "endpoint", "bucket", "prefix", NULL};
    if (strcmp(a->kind, b->kind) != 0)
        return false;
    cJSON *sa = cJSON_Parse(a->settings), *sb = cJSON_Parse(b->settings);
    bool same = true;
    for (size_t i = 0; keys[i] && same; i++) {
        const char *va = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sa, keys[i]));
        const char *vb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sb, keys[i]));
        size_t la = va ? strlen(va) : 0, lb = vb ? strlen(vb) : 0;
        /* "/a/b/" and "/a/b" are one folder; "p/" and "p" one prefix. */
        while (la > 1 && va[la - 1] == '/')
            la--;
        while (lb > 1 && vb[lb - 1] == '/')
            lb--;
        same = la == lb && (la == 0 || strncmp(va, vb, la) == 0);
    }
    cJSON_Delete(sa);
    cJSON_Delete(sb);
    return same;
}

void api_destinations_replace(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_destination *d = xcalloc(1, sizeof *d), *cur = NULL;
    char err[QB_ERRBUF_SIZE];
    bool secret_given = false;
    const char *name = NULL;
    const cJSON *body = api_replace_body(req, "destination", &name);
    if (!body || !check_api_managed(req, name))
        goto out;
    enum qb_err rc = store_destination_get(app->store, name, true, &cur, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    bool ok = destination_from_body(req, body, cur->secret, d, &secret_given);
    if (ok && !same_place(cur, d)) {
        /* Rows point at objects by key inside this destination: pointing
         * it elsewhere would leave every row naming an object that is not
         * there, and the objects with no row. */
        int64_t n = 0;
        if (store_snapshot_count_in_destination(app->store, cur->id, &n, err, sizeof err)) {
            http_reply_error(req, QB_ERR_IO, err);
            ok = false;
        } else if (n > 0) {
            http_reply_problem_field(
                req, API_ERR_CONFLICT, "settings",
                "%lld snapshot(s) are catalogued in destination %s at its current location; "
                "pointing it elsewhere would orphan them. Create another destination for the "
                "new place and move the plans to it, or delete those snapshots first. Nothing "
                "was changed.",
                (long long)n, name);
            ok = false;
        }
    }
    store_destination_free(cur);
    if (!ok)
        goto out;
    d->name = xstrdup(name);
    /* A local destination has no use for S3 credentials: drop them. */
    bool keep = !secret_given && strcmp(d->kind, "s3") == 0;
    rc = store_destination_update(app->store, d, keep, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    /* Running transfers slow down or speed up at once, not next run. */
    engine_set_limit(app->engine, "destination", name, d->max_write_bytes_per_second);
    reply_destination(req, name, 200);
out:
    store_destination_free(d);
}

void api_destinations_delete(struct http_request *req)
{
    api_delete_named(req, "destination", check_api_managed, store_destination_delete);
}

/* ---------------------------------------------------------------- check */

/* What a check and a rescan task share: the destination they work on. */
struct destination_task {
    struct task task;
    struct store *store;
    int64_t destination_id;
};

struct check_task {
    struct destination_task head;
    enum qb_err rc;
    char step[16];
    char err[QB_ERRBUF_SIZE];
    int64_t ms[3]; /* write, read, delete */
    struct storage_lock_info lock;
    enum qb_err lock_rc; /* reading the Object Lock configuration */
    char lock_err[QB_ERRBUF_SIZE];
};

struct read_cmp {
    const char *expect;
    size_t len, got;
    bool same;
};

static enum qb_err cmp_read(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct read_cmp *c = ud;
    (void)err, (void)errlen;
    c->same = c->same && c->got + len <= c->len && memcmp(c->expect + c->got, data, len) == 0;
    c->got += len;
    return QB_OK;
}

static void run_check(struct task *t)
{
    struct check_task *c = (struct check_task *)t;
    struct storage *st = NULL;
    struct storage_writer *w = NULL;
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) < 0)
        memset(rnd, 0x42, sizeof rnd);
    char key[64], body[128];
    snprintf(key, sizeof key, "qbackup-check/%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    snprintf(body, sizeof body, "qbackup destination check %s\n", key);
    struct read_cmp cmp = {.expect = body, .len = strlen(body), .same = true};
    int64_t t0 = qb_mono_ms();
    snprintf(c->step, sizeof c->step, "open");
    c->rc = resolve_storage(c->head.store, c->head.destination_id, &st, c->err, sizeof c->err);
    /* Reported, not a failure of the check: a key allowed to back up may
     * lack the permission to read the bucket's configuration. */
    if (!c->rc)
        c->lock_rc = storage_object_lock(st, &c->lock, c->lock_err, sizeof c->lock_err);
    if (!c->rc) {
        snprintf(c->step, sizeof c->step, "write");
        c->rc = storage_write_begin(st, key, cmp.len, &w, c->err, sizeof c->err);
    }
    if (!c->rc)
        c->rc = storage_write(w, body, cmp.len, c->err, sizeof c->err);
    if (!c->rc) {
        c->rc = storage_write_finish(w, NULL, c->err, sizeof c->err);
        w = NULL;
    }
    c->ms[0] = qb_mono_ms() - t0;
    if (!c->rc) {
        snprintf(c->step, sizeof c->step, "read");
        c->rc = storage_read(st, key, 0, 0, cmp_read, &cmp, c->err, sizeof c->err);
        if (!c->rc && (!cmp.same || cmp.got != cmp.len))
            c->rc = qb_failf(QB_ERR_IO, c->err, sizeof c->err, "read back different bytes");
        c->ms[1] = qb_mono_ms() - t0 - c->ms[0];
        snprintf(c->step, sizeof c->step, "delete");
        /* On an Object Lock bucket (versioned) a plain delete leaves the
         * object behind a delete marker; without a default retention its
         * version can go too.  With one, it is locked and stays. */
        enum qb_err drc =
            !c->lock_rc && c->lock.enabled && !c->lock.mode[0]
                ? storage_delete_versions(st, (const char *const[]){key}, 1, c->err, sizeof c->err)
                : storage_delete(st, key, c->err, sizeof c->err);
        if (!c->rc)
            c->rc = drc;
        c->ms[2] = qb_mono_ms() - t0 - c->ms[0] - c->ms[1];
    }
    storage_write_abort(w);
    storage_close(st);
}

static void destroy_check(struct task *t)
{
    free(t);
}

/* The check's "object_lock": null for a folder, else what the bucket says. */
static cJSON *lock_json(const struct check_task *c)
{
    if (!c->lock_rc && !c->lock.supported)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (c->lock_rc) {
        cJSON_AddNullToObject(o, "enabled");
        cJSON_AddStringToObject(o, "error", c->lock_err);
        return o;
    }
    cJSON_AddBoolToObject(o, "enabled", c->lock.enabled);
    bool rule = c->lock.mode[0] != '\0';
    cJSON_AddItemToObject(o, "default_mode",
                          rule ? cJSON_CreateString(c->lock.mode) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "default_days",
                          rule && c->lock.days ? cJSON_CreateNumber(c->lock.days)
                                               : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "default_years",
                          rule && c->lock.years ? cJSON_CreateNumber(c->lock.years)
                                                : cJSON_CreateNull());
    return o;
}

static bool poll_check(struct http_request *req, void *ctx, bool expired)
{
    struct check_task *c = ctx;
    if (!atomic_load(&c->head.task.done)) {
        if (expired)
            http_reply_problem(req, API_ERR_UNAVAILABLE,
                               "the destination did not answer within %d s", CHECK_WAIT_MS / 1000);
        return expired;
    }
    if (c->rc) {
        http_reply_problem(req, API_ERR_REMOTE_FAILED, "%s failed: %s", c->step, c->err);
        return true;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddBoolToObject(body, "ok", true);
    cJSON_AddNumberToObject(body, "write_ms", (double)c->ms[0]);
    cJSON_AddNumberToObject(body, "read_ms", (double)c->ms[1]);
    cJSON_AddNumberToObject(body, "delete_ms", (double)c->ms[2]);
    cJSON_AddItemToObject(body, "object_lock", lock_json(c));
    http_reply_json_steal(req, 200, body);
    return true;
}

/* The check and rescan routes take no body: an empty one or {} is fine,
 * anything else is refused naming the first member, so that a misspelt
 * option is never silently ignored.  Replies and returns false then. */
static bool no_body_fields(struct http_request *req, const char *what)
{
    static const char *const none[] = {NULL};
    const cJSON *body = http_req_json(req);
    char err[QB_ERRBUF_SIZE];
    if (!body)
        return true;
    if (!cJSON_IsObject(body)) {
        http_reply_problem(req, API_ERR_INVALID_FIELD, "%s takes no body (send none, or {})", what);
        return false;
    }
    if (json_reject_unknown(body, none, err, sizeof err)) {
        size_t used = strlen(err);
        snprintf(err + used, sizeof err - used, "; %s takes no body fields", what);
        api_reply_invalid(req, err);
        return false;
    }
    return true;
}

/* Starts the task `what` (size bytes, a struct destination_task first) on
 * the destination {name}, and answers with poll once it is done or
 * wait_ms have passed; replies (404, 400 or the store's error) instead
 * when there is no such destination or a body was sent. */
static void destination_task_start(struct http_request *req, const char *what, size_t size,
                                   void (*run)(struct task *t), void (*destroy)(struct task *t),
                                   int64_t wait_ms, http_poll_fn poll)
{
    struct app *app = http_req_app(req);
    struct store_destination *d = NULL;
    char err[QB_ERRBUF_SIZE];
    const char *name = api_path_name(req, "destination");
    if (!name || !no_body_fields(req, what))
        return;
    enum qb_err rc = store_destination_get(app->store, name, false, &d, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    struct destination_task *t = xcalloc(1, size);
    task_init(&t->task, run, destroy);
    t->store = app->store;
    t->destination_id = d->id;
    store_destination_free(d);
    tasks_submit(app->tasks, &t->task);
    http_req_defer(req, qb_mono_ms() + wait_ms, poll, t, task_release_ctx);
}

void api_destinations_check(struct http_request *req)
{
    destination_task_start(req, "a destination check", sizeof(struct check_task), run_check,
                           destroy_check, CHECK_WAIT_MS, poll_check);
}

/* ---------------------------------------------------------------- rescan */

/* A rescan lists the whole destination and reads every manifest; the
 * request waits this long before answering 202 (the rescan goes on). */
#define RESCAN_WAIT_MS 300000

struct rescan_task {
    struct destination_task head;
    enum qb_err rc;
    char err[QB_ERRBUF_SIZE];
    struct rescan_report report;
};

static void run_rescan(struct task *t)
{
    struct rescan_task *rt = (struct rescan_task *)t;
    struct storage *st = NULL;
    struct destination_task *h = &rt->head;
    rt->rc = resolve_storage(h->store, h->destination_id, &st, rt->err, sizeof rt->err);
    if (!rt->rc)
        rt->rc = rescan_destination(h->store, h->destination_id, st, NULL, &rt->report, rt->err,
                                    sizeof rt->err);
    storage_close(st);
}

static void destroy_rescan(struct task *t)
{
    struct rescan_task *rt = (struct rescan_task *)t;
    rescan_report_free(&rt->report);
    free(rt);
}

static bool poll_rescan(struct http_request *req, void *ctx, bool expired)
{
    struct rescan_task *rt = ctx;
    if (!atomic_load(&rt->head.task.done)) {
        if (expired)
            api_reply_in_progress(req, "the rescan continues; list the snapshots "
                                       "later to see what it imported");
        return expired;
    }
    const struct rescan_report *rep = &rt->report;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddBoolToObject(body, "complete", rt->rc == QB_OK);
    if (rt->rc)
        cJSON_AddStringToObject(body, "error", rt->err);
    cJSON_AddNumberToObject(body, "manifests", (double)rep->manifests);
    cJSON_AddNumberToObject(body, "imported", (double)rep->imported);
    cJSON_AddNumberToObject(body, "known", (double)rep->known);
    cJSON_AddNumberToObject(body, "skipped", (double)rep->skipped);
    cJSON_AddItemToObject(body, "notes",
                          rep->notes ? cJSON_Duplicate(rep->notes, true) : cJSON_CreateArray());
    /* What was imported stays imported; a failure part-way is the
     * remote's (listing, reading) unless the catalogue failed. */
    unsigned status = rt->rc == QB_OK ? 200 : 502;
    if (rt->rc == QB_ERR_NOT_FOUND)
        status = 404;
    http_reply_json_steal(req, status, body);
    return true;
}

void api_destinations_rescan(struct http_request *req)
{
    destination_task_start(req, "a rescan", sizeof(struct rescan_task), run_rescan, destroy_rescan,
                           RESCAN_WAIT_MS, poll_rescan);
}
