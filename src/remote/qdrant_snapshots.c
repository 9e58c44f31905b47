/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_snapshots.c -- Qdrant's snapshot routes for collections, the full
 * instance and shards: create (both wait modes), list, delete, streamed
 * download, streamed multipart upload, and recover from a location.
 */
#include "remote/qdrant_internal.h"
#include "util/seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* After a wait=false snapshot appears without a checksum, poll this many
 * more times for Qdrant's checksum sidecar (written after the snapshot)
 * before accepting that this Qdrant (< 1.8) supplies none. */
#define QDRANT_CHECKSUM_GRACE_POLLS 6

static const char *const priority_names[] = {NULL, "snapshot", "replica", "no_sync"};

const char *qdrant_priority_name(enum qdrant_priority p)
{
    if ((size_t)p >= QB_ARRAY_LEN(priority_names) || !priority_names[p])
        return "default";
    return priority_names[p];
}

bool qdrant_parse_priority(const char *s, enum qdrant_priority *out)
{
    for (size_t i = 1; i < QB_ARRAY_LEN(priority_names); i++) {
        if (strcmp(s, priority_names[i]) == 0) {
            *out = (enum qdrant_priority)i;
            return true;
        }
    }
    return false;
}

void qdrant_snapshot_clear(struct qdrant_snapshot *s)
{
    QB_FREE(s->name);
    QB_FREE(s->creation_time);
    QB_FREE(s->checksum);
    s->size = 0;
}

void qdrant_snapshots_free(struct qdrant_snapshot *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qdrant_snapshot_clear(&list[i]);
    free(list);
}

/* Fills s from a SnapshotDescription; false when it is not one. */
static bool parse_description(const cJSON *d, struct qdrant_snapshot *s)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
    const cJSON *ctime = cJSON_GetObjectItemCaseSensitive(d, "creation_time");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(d, "size");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(d, "checksum");
    memset(s, 0, sizeof *s);
    if (!cJSON_IsString(name) || !cJSON_IsNumber(size) || size->valuedouble < 0)
        return false;
    s->name = xstrdup(name->valuestring);
    s->size = (uint64_t)size->valuedouble;
    if (cJSON_IsString(ctime))
        s->creation_time = xstrdup(ctime->valuestring);
    /* Qdrant compares checksums case-insensitively; we keep lower case. */
    if (cJSON_IsString(sum) && strlen(sum->valuestring) == 64) {
        s->checksum = xstrdup(sum->valuestring);
        for (char *p = s->checksum; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    return true;
}

/* Refuses a target that cannot become a URL path (see
 * qdrant_check_segment), before anything is sent. */
static enum qb_err check_target(const struct qdrant_target *t, char *err, size_t errlen)
{
    switch (t->scope) {
    case QDRANT_SCOPE_FULL:
        return QB_OK;
    case QDRANT_SCOPE_COLLECTION:
    case QDRANT_SCOPE_SHARD:
        return qdrant_check_segment("collection", t->collection, err, errlen);
    }
    return qb_failf(QB_ERR_INVALID, err, errlen, "unknown snapshot scope %d", (int)t->scope);
}

static char *describe(const struct qdrant_target *t, const char *verb)
{
    switch (t->scope) {
    case QDRANT_SCOPE_FULL:
        return xasprintf("%s full snapshot", verb);
    case QDRANT_SCOPE_SHARD:
        return xasprintf("%s snapshot of %s shard %u", verb, t->collection, t->shard_id);
    case QDRANT_SCOPE_COLLECTION:
        break;
    }
    return xasprintf("%s snapshot of %s", verb, t->collection);
}

enum qb_err qdrant_snapshot_list(struct qdrant_client *c, const struct qdrant_target *t,
                                 struct qdrant_snapshot **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    enum qb_err rc = check_target(t, err, errlen);
    if (rc)
        return rc;
    char *path = qdrant_snapshots_path(t);
    char *what = describe(t, "list");
    cJSON *result = NULL;
    struct qdrant_call k = {c->api, "GET", path, NULL, what, &result, NULL};
    rc = qdrant_call_json(c, &k, err, errlen);
    if (!rc && !cJSON_IsArray(result))
        rc = qb_failf(QB_ERR_REMOTE, err, errlen, "%s: result is not a list", what);
    const cJSON *item;
    const cJSON *items = rc ? NULL : result;
    cJSON_ArrayForEach(item, items)
    {
        struct qdrant_snapshot s;
        if (!parse_description(item, &s))
            continue;
        *out = xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[(*n)++] = s;
    }
    cJSON_Delete(result);
    free(what);
    free(path);
    return rc;
}

static bool same_str(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* True unless s is in before[] with the same name, birth time and size.
 * Qdrant names snapshots by the second, so a snapshot made in the same
 * second as an earlier one (by its clock) silently replaces it under the
 * same name; a replacement shows a new creation_time (the file's birth
 * time) or size.  Checksums are not compared: a snapshot still in progress
 * when before[] was taken gains its checksum later without being ours. */
static bool is_new(const struct qdrant_snapshot *before, size_t n, const struct qdrant_snapshot *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(before[i].name, s->name) == 0)
            return !same_str(before[i].creation_time, s->creation_time) ||
                   before[i].size != s->size;
    }
    return true;
}

/* wait=false: Qdrant answered 202 and works in the background.  Poll the
 * list until a snapshot not in before[] appears (with its checksum, when
 * this Qdrant writes checksums).  Caveat: a replacement made within the
 * same second as the snapshot it replaces (same name, same birth time and
 * size) cannot be told apart, and ends in the timeout. */
static enum qb_err poll_new_snapshot(struct qdrant_client *c, const struct qdrant_target *t,
                                     const struct qdrant_snapshot *before, size_t nbefore,
                                     struct qdrant_snapshot *out, char *err, size_t errlen)
{
    int64_t deadline = qb_mono_ms() + c->cfg.snapshot_timeout_ms;
    int grace = QDRANT_CHECKSUM_GRACE_POLLS;
    for (;;) {
        struct qdrant_snapshot *now = NULL;
        size_t n = 0;
        enum qb_err rc = qdrant_snapshot_list(c, t, &now, &n, err, errlen);
        if (rc && rc != QB_ERR_TRANSIENT)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (!is_new(before, nbefore, &now[i]))
                continue;
            if (now[i].checksum || grace-- <= 0) {
                *out = now[i];
                memset(&now[i], 0, sizeof now[i]);
                qdrant_snapshots_free(now, n);
                return QB_OK;
            }
            break;
        }
        qdrant_snapshots_free(now, n);
        if (qb_mono_ms() >= deadline)
            return qb_failf(QB_ERR_TRANSIENT, err, errlen,
                            "Qdrant accepted the snapshot request but no new snapshot appeared "
                            "within %ld s (with wait=false Qdrant reports failures only in its "
                            "own log)",
                            c->cfg.snapshot_timeout_ms / 1000);
        qb_sleep_ms(c->cfg.poll_interval_ms);
    }
}

enum qb_err qdrant_snapshot_create(struct qdrant_client *c, const struct qdrant_target *t,
                                   bool wait, struct qdrant_snapshot *out, char *err, size_t errlen)
{
    struct qdrant_snapshot *before = NULL;
    size_t nbefore = 0;
    cJSON *result = NULL;
    long status = 0;
    memset(out, 0, sizeof *out);
    enum qb_err rc = check_target(t, err, errlen);
    if (rc)
        return rc;
    char *base = qdrant_snapshots_path(t);
    char *path = xasprintf("%s?wait=%s", base, wait ? "true" : "false");
    char *what = describe(t, "create");
    if (!wait)
        rc = qdrant_snapshot_list(c, t, &before, &nbefore, err, errlen);
    struct qdrant_call k = {wait ? c->slow : c->api, "POST", path, NULL, what, &result, &status};
    if (!rc)
        rc = qdrant_call_json(c, &k, err, errlen);
    if (!rc && status == 202)
        rc = poll_new_snapshot(c, t, before, nbefore, out, err, errlen);
    else if (!rc && !parse_description(result, out))
        rc = qb_failf(QB_ERR_REMOTE, err, errlen, "%s: the answer is not a snapshot description",
                      what);
    cJSON_Delete(result);
    qdrant_snapshots_free(before, nbefore);
    free(what);
    free(path);
    free(base);
    return rc;
}

/* Checks t and name, then sets *out to the snapshot's path
 * ("<snapshots path>/<escaped name>"; caller frees). */
static enum qb_err snapshot_path(const struct qdrant_target *t, const char *name, char **out,
                                 char *err, size_t errlen)
{
    enum qb_err rc = check_target(t, err, errlen);
    if (!rc)
        rc = qdrant_check_segment("snapshot", name, err, errlen);
    if (rc)
        return rc;
    char *base = qdrant_snapshots_path(t);
    char *n = qdrant_esc(name);
    *out = xasprintf("%s/%s", base, n);
    free(n);
    free(base);
    return QB_OK;
}

enum qb_err qdrant_snapshot_delete(struct qdrant_client *c, const struct qdrant_target *t,
                                   const char *name, char *err, size_t errlen)
{
    char *snap = NULL;
    enum qb_err rc = snapshot_path(t, name, &snap, err, errlen);
    if (rc)
        return rc;
    char *path = xasprintf("%s?wait=true", snap);
    char *what = describe(t, "delete");
    struct qdrant_call k = {c->api, "DELETE", path, NULL, what, NULL, NULL};
    rc = qdrant_call_json(c, &k, err, errlen);
    free(what);
    free(path);
    free(snap);
    return rc;
}

/* Counts what the caller's sink saw: resp.body_seen also counts a
 * captured error document, which never reaches the sink. */
struct counting_sink {
    http_write_fn fn;
    void *ud;
    uint64_t n;
};

static enum qb_err counting_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct counting_sink *cs = ud;
    cs->n += len;
    return cs->fn(cs->ud, data, len, err, errlen);
}

/* GETs url (an absolute URL on c) into fn; what names it in messages. */
static enum qb_err download(struct qdrant_client *c, const char *url, const char *what,
                            http_write_fn fn, void *ud, uint64_t *bytes, char *err, size_t errlen)
{
    const char *headers[1];
    size_t nh = 0;
    char *key = qdrant_add_key(c, headers, &nh);
    struct counting_sink sink = {fn, ud, 0};
    struct http_client_request req = {
        .method = "GET",
        .url = url,
        .headers = headers,
        .n_headers = nh,
        .write_fn = counting_write,
        .write_ud = &sink,
    };
    struct http_client_response resp = {0};
    enum qb_err rc = http_client_perform(c->transfer, &req, &resp, err, errlen);
    if (!rc && (resp.status < 200 || resp.status > 299))
        rc = qdrant_answer_error(&resp, what, err, errlen);
    if (bytes)
        *bytes = sink.n;
    http_client_response_free(&resp);
    qdrant_free_key(key);
    return rc;
}

enum qb_err qdrant_snapshot_download(struct qdrant_client *c, const struct qdrant_target *t,
                                     const char *name, http_write_fn fn, void *ud, uint64_t *bytes,
                                     char *err, size_t errlen)
{
    if (bytes)
        *bytes = 0;
    char *snap = NULL;
    enum qb_err rc = snapshot_path(t, name, &snap, err, errlen);
    if (rc)
        return rc;
    char *url = xasprintf("%s%s", c->url, snap);
    char *what = describe(t, "download");
    rc = download(c, url, what, fn, ud, bytes, err, errlen);
    free(what);
    free(url);
    free(snap);
    return rc;
}

enum qb_err qdrant_shard_stream(struct qdrant_client *c, const char *collection, unsigned shard_id,
                                http_write_fn fn, void *ud, uint64_t *bytes, char *err,
                                size_t errlen)
{
    if (bytes)
        *bytes = 0;
    enum qb_err rc = qdrant_check_segment("collection", collection, err, errlen);
    if (rc)
        return rc;
    char *coll = qdrant_esc(collection);
    char *url = xasprintf("%s/collections/%s/shards/%u/snapshot", c->url, coll, shard_id);
    char *what = xasprintf("stream shard %u of %s", shard_id, collection);
    rc = download(c, url, what, fn, ud, bytes, err, errlen);
    free(what);
    free(url);
    free(coll);
    return rc;
}

/* The upload body: a multipart/form-data prologue, the snapshot bytes
 * pulled from the caller, and the closing boundary. */
struct upload {
    char prologue[512];
    size_t prologue_len;
    char epilogue[96];
    size_t epilogue_len;
    uint64_t size; /* snapshot bytes */
    uint64_t pos;  /* bytes of the whole body produced so far */
    http_read_fn fn;
    void *ud;
};

static enum qb_err upload_read(void *ud, void *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
    struct upload *u = ud;
    uint64_t p = u->pos;
    *n = 0;
    if (p < u->prologue_len) {
        size_t take = u->prologue_len - (size_t)p < cap ? u->prologue_len - (size_t)p : cap;
        memcpy(buf, u->prologue + p, take);
        *n = take;
    } else if (p < u->prologue_len + u->size) {
        uint64_t left = u->prologue_len + u->size - p;
        size_t want = left < cap ? (size_t)left : cap;
        enum qb_err rc = u->fn(u->ud, buf, want, n, err, errlen);
        if (rc)
            return rc;
        if (*n == 0)
            return qb_failf(QB_ERR_IO, err, errlen,
                            "the snapshot source ended after %llu of %llu bytes",
                            (unsigned long long)(p - u->prologue_len), (unsigned long long)u->size);
    } else {
        size_t off = (size_t)(p - u->prologue_len - u->size);
        size_t take = u->epilogue_len - off < cap ? u->epilogue_len - off : cap;
        memcpy(buf, u->epilogue + off, take);
        *n = take;
    }
    u->pos += *n;
    return QB_OK;
}

static void make_boundary(char *out, size_t outlen)
{
    unsigned char raw[12];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        memset(raw, 0x5a, sizeof raw);
    size_t o = (size_t)snprintf(out, outlen, "qbackup-");
    for (size_t i = 0; i < sizeof raw && o + 2 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", raw[i]);
}

/* Query string: wait=true plus priority and checksum when given. */
static char *recover_query(enum qdrant_priority priority, const char *checksum)
{
    return xasprintf("?wait=true%s%s%s%s", priority ? "&priority=" : "",
                     priority ? qdrant_priority_name(priority) : "", checksum ? "&checksum=" : "",
                     checksum ? checksum : "");
}

static bool valid_checksum(const char *s)
{
    if (!s)
        return true;
    if (strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++) {
        if (!strchr("0123456789abcdefABCDEF", *p))
            return false;
    }
    return true;
}

/* What both ways of recovering (upload, location) accept. */
static enum qb_err check_recover(const struct qdrant_target *t, const char *checksum, char *err,
                                 size_t errlen)
{
    if (t->scope == QDRANT_SCOPE_FULL)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "Qdrant restores full snapshots only at process start, not over HTTP");
    if (!valid_checksum(checksum))
        return qb_failf(QB_ERR_INVALID, err, errlen, "checksum must be 64 hex digits");
    return check_target(t, err, errlen);
}

enum qb_err qdrant_snapshot_upload(struct qdrant_client *c, const struct qdrant_target *t,
                                   enum qdrant_priority priority, const char *checksum,
                                   const char *filename, uint64_t size, http_read_fn fn, void *ud,
                                   char *err, size_t errlen)
{
    enum qb_err rc = check_recover(t, checksum, err, errlen);
    if (rc)
        return rc;
    struct upload *u = xcalloc(1, sizeof *u);
    char boundary[48], content_type[96];
    make_boundary(boundary, sizeof boundary);
    snprintf(content_type, sizeof content_type, "Content-Type: multipart/form-data; boundary=%s",
             boundary);
    /* The part's filename is informational; keep it to safe characters. */
    char fname[128];
    snprintf(fname, sizeof fname, "%s", filename && *filename ? filename : "upload.snapshot");
    for (char *p = fname; *p; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '_';
    }
    u->prologue_len = (size_t)snprintf(u->prologue, sizeof u->prologue,
                                       "--%s\r\nContent-Disposition: form-data; name=\"snapshot\"; "
                                       "filename=\"%s\"\r\nContent-Type: application/octet-stream"
                                       "\r\n\r\n",
                                       boundary, fname);
    u->epilogue_len = (size_t)snprintf(u->epilogue, sizeof u->epilogue, "\r\n--%s--\r\n", boundary);
    u->size = size;
    u->fn = fn;
    u->ud = ud;

    char *base = qdrant_snapshots_path(t);
    char *query = recover_query(priority, checksum);
    char *url = xasprintf("%s%s/upload%s", c->url, base, query);
    char *what = describe(t, "recover from uploaded");
    /* Expect: 100-continue lets Qdrant refuse (401/403, malformed
     * checksum) before the body is sent.  Without it, a refusal answered
     * while the body streams in is followed by a close with unread data,
     * the kernel resets the connection, and the answer is often lost: a
     * read-only key then looked like a transient network failure. */
    const char *headers[3] = {content_type, "Expect: 100-continue"};
    size_t nh = 2;
    char *key = qdrant_add_key(c, headers, &nh);
    struct http_client_request req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .n_headers = nh,
        .read_fn = upload_read,
        .read_ud = u,
        .read_len = u->prologue_len + size + u->epilogue_len,
        .max_body = QDRANT_MAX_JSON,
    };
    struct http_client_response resp = {0};
    rc = http_client_perform(c->slow, &req, &resp, err, errlen);
    if (!rc && (resp.status < 200 || resp.status > 299))
        rc = qdrant_answer_error(&resp, what, err, errlen);
    http_client_response_free(&resp);
    qdrant_free_key(key);
    free(what);
    free(url);
    free(query);
    free(base);
    free(u);
    return rc;
}

enum qb_err qdrant_snapshot_recover(struct qdrant_client *c, const struct qdrant_target *t,
                                    const char *location, enum qdrant_priority priority,
                                    const char *checksum, const char *api_key, char *err,
                                    size_t errlen)
{
    enum qb_err rc = check_recover(t, checksum, err, errlen);
    if (rc)
        return rc;
    if (!location || !*location)
        return qb_failf(QB_ERR_INVALID, err, errlen, "recover: no snapshot location");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "location", location);
    if (priority)
        cJSON_AddStringToObject(body, "priority", qdrant_priority_name(priority));
    if (checksum)
        cJSON_AddStringToObject(body, "checksum", checksum);
    if (api_key)
        cJSON_AddStringToObject(body, "api_key", api_key);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "encoding the recover request");
    char *base = qdrant_snapshots_path(t);
    char *path = xasprintf("%s/recover?wait=true", base);
    char *what = describe(t, "recover from location");
    struct qdrant_call k = {c->slow, "PUT", path, text, what, NULL, NULL};
    rc = qdrant_call_json(c, &k, err, errlen);
    seal_wipe_free(text); /* held the location's api_key */
    free(what);
    free(path);
    free(base);
    return rc;
}

int64_t qdrant_snapshot_name_time(const char *name)
{
    static const char suffix[] = ".snapshot";
    size_t len = name ? strlen(name) : 0, sl = sizeof suffix - 1;
    if (len < sl + 19 || strcmp(name + len - sl, suffix) != 0)
        return -1;
    const char *ts = name + len - sl - 19;
    struct tm tm = {0};
    char tail = 0;
    if (sscanf(ts, "%4d-%2d-%2d-%2d-%2d-%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &tail) != 7 ||
        tail != '.')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

enum qb_err qdrant_snapshot_delete_since(struct qdrant_client *c, const struct qdrant_target *t,
                                         int64_t since, size_t *deleted, char *err, size_t errlen)
{
    struct qdrant_snapshot *list = NULL;
    size_t n = 0;
    *deleted = 0;
    enum qb_err rc = qdrant_snapshot_list(c, t, &list, &n, err, errlen);
    /* Names carry whole seconds: one second of slack for the rounding. */
    for (size_t i = 0; !rc && i < n; i++)
        if (qdrant_snapshot_name_time(list[i].name) >= since - 1) {
            rc = qdrant_snapshot_delete(c, t, list[i].name, err, errlen);
            if (rc == QB_ERR_NOT_FOUND)
                rc = QB_OK;
            if (!rc)
                (*deleted)++;
        }
    qdrant_snapshots_free(list, n);
    return rc;
}
