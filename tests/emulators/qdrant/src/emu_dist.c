/* SPDX-License-Identifier: Apache-2.0 */
/* emu_dist.c -- point operations across shards and peers (see emu_dist.h).
 *
 * DESIGN: every operation takes one copy of the cluster state, picks its
 * shards, and for each shard its replicas, then calls either the local
 * store (emu_store.h) or the hosting peer's /debug/internal route over
 * libcurl.  Peer calls carry no api key: internal routes are debug routes.
 * A transport failure is what Qdrant calls a transient error; an HTTP error
 * answer from a peer is passed on as it is. */
#include "emu_dist.h"
#include "emu_dist_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_meta.h"
#include "emu_reply.h"
#include "emu_store.h"
#include "emu_sync.h"
#include "emu_topo.h"
#include "emu_util.h"

/* ---- peer calls ---- */

static size_t on_body(void *ptr, size_t size, size_t nmemb, void *userdata)
{
    size_t n = size * nmemb;
    return emu_buf_append(userdata, ptr, n) == 0 ? n : 0;
}

/* POST /debug/internal/{coll}/{sid}/{op} on peer `peer`.  On 200, *result
 * gets the envelope's result.  *transient is set for transport failures. */
int dist_peer_call(const cJSON *state, uint64_t peer, const char *coll, unsigned sid,
                   const char *op, const cJSON *body, cJSON **result, int *transient,
                   struct emu_status *st)
{
    *result = NULL;
    *transient = 1;
    const char *base = emu_topo_peer_url(state, peer);
    if (!base)
        return emu_fail(st, 500, "Service internal error: peer %llu has no address",
                        (unsigned long long)peer);
    CURL *h = curl_easy_init();
    if (!h)
        abort();
    char *esc = curl_easy_escape(h, coll, 0);
    char url[1024];
    snprintf(url, sizeof(url), "%s/debug/internal/%s/%u/%s", base, esc ? esc : "", sid, op);
    curl_free(esc);
    char *text = cJSON_PrintUnformatted(body);
    struct emu_buf resp = {.limit = (size_t)1 << 30};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    cJSON_free(text);
    int rc = 0;
    if (cc != CURLE_OK) {
        rc = emu_fail(st, 500, "Service internal error: Failed to connect to peer %llu (%s): %s",
                      (unsigned long long)peer, base, curl_easy_strerror(cc));
    } else {
        cJSON *doc = resp.len ? cJSON_ParseWithLength(resp.data, resp.len) : NULL;
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(doc, "status"), "error");
        *transient = code >= 500 && code != 501;
        if (code == 200 && doc) {
            *result = cJSON_DetachItemFromObjectCaseSensitive(doc, "result");
            *transient = 0;
        } else if (cJSON_IsString(err)) {
            rc = emu_fail(st, (unsigned)code, "%s", err->valuestring);
        } else {
            rc = emu_fail(st, code >= 400 ? (unsigned)code : 500,
                          "Service internal error: peer %llu answered %ld",
                          (unsigned long long)peer, code);
        }
        cJSON_Delete(doc);
        if (code == 200 && !*result)
            rc = emu_fail(st, 500, "Service internal error: bad answer from peer %llu",
                          (unsigned long long)peer);
    }
    emu_buf_free(&resp);
    return rc;
}

/* ---- local execution of an internal op ---- */

cJSON *dist_local_op(const char *coll, unsigned sid, const char *op, const cJSON *b,
                     struct emu_status *st)
{
    const cJSON *wp = cJSON_GetObjectItemCaseSensitive(b, "with_payload");
    const cJSON *wv = cJSON_GetObjectItemCaseSensitive(b, "with_vector");
    uint64_t n = 0;
    if (strcmp(op, "upsert") == 0 || strcmp(op, "delete") == 0) {
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(b, "points");
        int rc = op[0] == 'u' ? emu_store_upsert(coll, sid, pts, &n, st)
                              : emu_store_delete_points(coll, sid, pts, &n, st);
        if (rc != 0)
            return NULL;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "operation_id", (double)n);
        return r;
    }
    if (strcmp(op, "scroll") == 0) {
        const cJSON *lim = cJSON_GetObjectItemCaseSensitive(b, "limit");
        size_t limit = cJSON_IsNumber(lim) ? (size_t)lim->valuedouble : 10;
        return emu_store_scroll(coll, sid, cJSON_GetObjectItemCaseSensitive(b, "offset"), limit, wp,
                                wv, st);
    }
    if (strcmp(op, "retrieve") == 0)
        return emu_store_retrieve(coll, sid, cJSON_GetObjectItemCaseSensitive(b, "ids"), wp, wv,
                                  st);
    if (strcmp(op, "count") == 0) {
        if (emu_store_count(coll, sid, &n, st) != 0)
            return NULL;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "count", (double)n);
        return r;
    }
    if (strcmp(op, "fields") == 0)
        return emu_store_field_counts(coll, sid, cJSON_GetObjectItemCaseSensitive(b, "fields"), st);
    emu_fail(st, 404, "Not found: internal operation %s", op);
    return NULL;
}

void emu_dist_internal(struct emu_req *r)
{
    emu_sync_now();
    uint64_t sid;
    struct emu_status st;
    if (emu_u64_parse(r->params[1], &sid) != 0 || sid > 0xffffffffu) {
        emu_reply_error(r, 404, "Not found: bad shard id");
        return;
    }
    cJSON *res = dist_local_op(r->params[0], (unsigned)sid, r->params[2], r->json, &st);
    if (!res)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, res);
}

/* ---- shard selection ---- */

/* The collection in a fresh state copy; 404 when missing. */
cJSON *dist_load_coll(const char *coll, cJSON **state, struct emu_status *st)
{
    *state = emu_meta_get();
    cJSON *c = emu_topo_coll(*state, coll);
    if (!c) {
        cJSON_Delete(*state);
        *state = NULL;
        emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", coll);
    }
    return c;
}

/* Shards selected by a request's shard_key (a key or an array of keys;
 * absent: every shard).  [out] array of borrowed shard objects (caller
 * frees the array with cJSON_Delete after detaching nothing: it holds
 * references).  for_write: custom sharding needs a key. */
cJSON *dist_select_shards(const cJSON *coll, const cJSON *body, int for_write,
                          struct emu_status *st)
{
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(body, "shard_key");
    cJSON *out = cJSON_CreateArray();
    cJSON *s;
    if (!sel || cJSON_IsNull(sel)) {
        if (for_write && emu_topo_is_custom(coll)) {
            cJSON_Delete(out);
            emu_fail(st, 400, "Wrong input: Shard key not specified");
            return NULL;
        }
        cJSON_ArrayForEach(s, emu_topo_shards(coll)) cJSON_AddItemReferenceToArray(out, s);
        return out;
    }
    cJSON *keys = cJSON_IsArray(sel) ? cJSON_Duplicate(sel, 1) : cJSON_CreateArray();
    if (!cJSON_IsArray(sel))
        cJSON_AddItemToArray(keys, cJSON_Duplicate(sel, 1));
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        int found = 0;
        cJSON_ArrayForEach(s, emu_topo_shards(coll))
        {
            if (emu_topo_key_equal(emu_topo_shard_key(s), k)) {
                cJSON_AddItemReferenceToArray(out, s);
                found = 1;
            }
        }
        if (!found) {
            char text[256];
            emu_topo_key_text(k, text, sizeof(text));
            cJSON_Delete(out);
            cJSON_Delete(keys);
            emu_fail(st, 400, "Wrong input: Shard key %s not found", text);
            return NULL;
        }
    }
    cJSON_Delete(keys);
    return out;
}

/* ---- writes ---- */

struct failed {
    uint64_t peer;
    unsigned sid;
};

struct dead_args {
    const char *coll;
    const struct failed *f;
    size_t n;
    uint64_t source; /* a replica that took the write: the one to heal from */
};

static int mark_dead_fn(cJSON *state, void *arg, struct emu_status *st)
{
    (void)st;
    const struct dead_args *a = arg;
    char src[24];
    emu_u64_str(a->source, src, sizeof(src));
    for (size_t i = 0; i < a->n; i++) {
        cJSON *r = emu_topo_replica(emu_topo_shard(emu_topo_coll(state, a->coll), a->f[i].sid),
                                    a->f[i].peer);
        if (!r)
            continue;
        emu_topo_set_state(r, "Dead");
        /* Qdrant recovers the replica once its peer is back. */
        cJSON_AddNumberToObject(r, "heal_at", (double)(emu_wall_ms() + emu_cfg()->heal_ms));
        cJSON_AddStringToObject(r, "heal_from", src);
    }
    return 0;
}

/* Applies op (upsert/delete) with body to every updatable replica of shard. */
static int write_shard(const cJSON *state, const char *coll, const cJSON *shard, const char *op,
                       const cJSON *body, uint64_t *op_id, struct emu_status *st)
{
    uint64_t me = emu_cfg()->peer_id, ok_peer = 0;
    unsigned sid = emu_topo_shard_id(shard);
    struct failed fails[16];
    size_t nfail = 0;
    int tried = 0, done = 0;
    struct emu_status first = {0};
    const cJSON *r;
    cJSON_ArrayForEach(r, emu_topo_replicas(shard))
    {
        if (!emu_state_updatable(emu_topo_replica_state(r)))
            continue;
        tried++;
        uint64_t peer = emu_topo_replica_peer(r);
        cJSON *res = NULL;
        int transient = 0, rc;
        if (peer == me) {
            res = dist_local_op(coll, sid, op, body, st);
            rc = res ? 0 : -1;
        } else {
            rc = dist_peer_call(state, peer, coll, sid, op, body, &res, &transient, st);
        }
        if (rc == 0) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(res, "operation_id");
            if (cJSON_IsNumber(o) && (!done || peer == me))
                *op_id = (uint64_t)o->valuedouble;
            done++;
            ok_peer = peer;
        } else if (!transient) {
            cJSON_Delete(res);
            return -1; /* a real error (bad input): the client sees it */
        } else {
            if (!first.http)
                first = *st;
            if (nfail < sizeof(fails) / sizeof(fails[0]))
                fails[nfail++] = (struct failed){peer, sid};
        }
        cJSON_Delete(res);
    }
    if (!tried)
        return emu_fail(st, 500,
                        "Service internal error: The replica set for shard %u on peer %llu has no "
                        "active replica",
                        sid, (unsigned long long)me);
    if (!done) {
        *st = first;
        return -1;
    }
    if (nfail) {
        struct dead_args a = {coll, fails, nfail, ok_peer};
        struct emu_status ignore;
        if (emu_meta_update(mark_dead_fn, &a, &ignore) != 0)
            emu_log("WARN", "can't mark unreachable replicas Dead: %s", ignore.msg);
    }
    return 0;
}

/* Index of a point's shard among n candidates. */
static size_t pick(const cJSON *id, size_t n)
{
    return n ? (size_t)(emu_points_id_hash(id) % n) : 0;
}

int emu_dist_upsert(const char *coll, const cJSON *body, uint64_t *op_id, struct emu_status *st)
{
    cJSON *state;
    const cJSON *c = dist_load_coll(coll, &state, st);
    if (!c)
        return -1;
    cJSON *list = emu_points_list(body, st);
    cJSON *shards = list ? dist_select_shards(c, body, 1, st) : NULL;
    int rc = shards ? emu_store_check_points(coll, list, st) : -1;
    size_t n = (size_t)cJSON_GetArraySize(shards);
    if (rc == 0 && n == 0)
        rc = emu_fail(st, 400, "Wrong input: No shards found for shard key");
    cJSON **parts = calloc(n ? n : 1, sizeof(*parts));
    if (!parts)
        abort();
    const cJSON *p;
    const cJSON *todo = rc == 0 ? list : NULL;
    cJSON_ArrayForEach(p, todo)
    {
        size_t i = pick(cJSON_GetObjectItemCaseSensitive(p, "id"), n);
        if (!parts[i])
            parts[i] = cJSON_CreateArray();
        cJSON_AddItemToArray(parts[i], cJSON_Duplicate(p, 1));
    }
    *op_id = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && parts[i]) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(b, "points", parts[i]);
            rc = write_shard(state, coll, cJSON_GetArrayItem(shards, (int)i), "upsert", b, op_id,
                             st);
            cJSON_Delete(b);
        }
        cJSON_Delete(parts[i]);
    }
    free(parts);
    cJSON_Delete(shards);
    cJSON_Delete(list);
    cJSON_Delete(state);
    return rc;
}

int emu_dist_delete(const char *coll, const cJSON *body, uint64_t *op_id, struct emu_status *st)
{
    if (emu_points_reject_filter(body, st) != 0)
        return -1;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "points");
    if (!cJSON_IsArray(ids))
        return emu_fail(st, 400, "Format error in JSON body: missing field `points`");
    cJSON *state;
    const cJSON *c = dist_load_coll(coll, &state, st);
    if (!c)
        return -1;
    /* Deletes go to every selected shard: cheaper to reason about than
     * routing, and a missing id is no error. */
    cJSON *shards = dist_select_shards(c, body, 1, st);
    int rc = shards ? 0 : -1;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "points", cJSON_Duplicate(ids, 1));
    *op_id = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, shards)
    {
        if (rc == 0)
            rc = write_shard(state, coll, s, "delete", b, op_id, st);
    }
    cJSON_Delete(b);
    cJSON_Delete(shards);
    cJSON_Delete(state);
    return rc;
}
