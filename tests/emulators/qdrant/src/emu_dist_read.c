/* SPDX-License-Identifier: Apache-2.0 */
/* emu_dist_read.c -- the read side of emu_dist.h: scroll, retrieve, get,
 * count, collection info and shard transfer copies, gathered over shards
 * from one readable replica each (Qdrant's execute_read_operation: the
 * local replica first, then the others; transient failures fall through to
 * the next replica, the last one's failure is the answer). */
#include "emu_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_dist_int.h"
#include "emu_meta.h"
#include "emu_store.h"
#include "emu_topo.h"
#include "emu_util.h"

/* ---- reads ---- */

/* Runs a read op on one readable replica of shard: the local one first,
 * then the others in placement order.  all_msg: Qdrant's text when no
 * replica is readable differs between reads that resolve over replicas
 * (scroll, count, retrieve) and collection info. */
static cJSON *read_shard(const cJSON *state, const char *coll, const cJSON *shard, const char *op,
                         const cJSON *body, int info, struct emu_status *st)
{
    uint64_t me = emu_cfg()->peer_id;
    unsigned sid = emu_topo_shard_id(shard);
    uint64_t order[64];
    size_t n = 0;
    const cJSON *mine = emu_topo_replica(shard, me);
    if (mine && emu_state_readable(emu_topo_replica_state(mine)))
        order[n++] = me;
    const cJSON *r;
    cJSON_ArrayForEach(r, emu_topo_replicas(shard))
    {
        uint64_t peer = emu_topo_replica_peer(r);
        if (peer != me && n < 64 && emu_state_readable(emu_topo_replica_state(r)))
            order[n++] = peer;
    }
    if (!n && !info) {
        emu_fail(st, 500,
                 "Service internal error: The replica set for shard %u on peer %llu does not have "
                 "enough active replicas",
                 sid, (unsigned long long)me);
        return NULL;
    }
    char errors[EMU_MSG_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *res = NULL;
        int transient = 0;
        if (order[i] == me) {
            res = dist_local_op(coll, sid, op, body, st);
            transient = res == NULL && st->http >= 500;
        } else if (dist_peer_call(state, order[i], coll, sid, op, body, &res, &transient, st) !=
                   0) {
            res = NULL;
        }
        if (res)
            return res;
        if (!transient)
            return NULL;
        int w = snprintf(errors + used, sizeof(errors) - used, "\n  %s", st->msg);
        if (w > 0 && (size_t)w < sizeof(errors) - used)
            used += (size_t)w;
    }
    emu_fail(st, 500, "Service internal error: %zu of %zu read operations failed%s%s", n, n,
             n ? ":" : "", errors);
    return NULL;
}

/* Runs op on every selected shard; [out] array of per-shard results. */
static cJSON *read_all(const char *coll, const cJSON *body, const char *op, const cJSON *opbody,
                       int info, struct emu_status *st)
{
    cJSON *state;
    const cJSON *c = dist_load_coll(coll, &state, st);
    if (!c)
        return NULL;
    cJSON *shards = dist_select_shards(c, body, 0, st);
    cJSON *out = shards ? cJSON_CreateArray() : NULL;
    const cJSON *s;
    cJSON_ArrayForEach(s, shards)
    {
        cJSON *res = read_shard(state, coll, s, op, opbody, info, st);
        if (!res) {
            cJSON_Delete(out);
            out = NULL;
            break;
        }
        cJSON_AddItemToArray(out, res);
    }
    cJSON_Delete(shards);
    cJSON_Delete(state);
    return out;
}

static int by_id(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return emu_points_id_cmp(cJSON_GetObjectItemCaseSensitive(x, "id"),
                             cJSON_GetObjectItemCaseSensitive(y, "id"));
}

cJSON *emu_dist_scroll(const char *coll, const cJSON *body, struct emu_status *st)
{
    if (emu_points_reject_filter(body, st) != 0)
        return NULL;
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(body, "offset");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(body, "limit");
    if (cJSON_IsNumber(lim) && lim->valuedouble < 1) {
        emu_fail(st, 422,
                 "Validation error in JSON body: [limit: value 0 invalid, must be 1.0 or larger]");
        return NULL;
    }
    size_t limit = cJSON_IsNumber(lim) ? (size_t)lim->valuedouble : 10;
    if (off && !cJSON_IsNull(off)) {
        char txt[64];
        emu_points_id_text(off, txt, sizeof(txt));
        if (strcmp(txt, "?") == 0) {
            emu_fail(st, 400,
                     "Format error in JSON body: data did not match any variant of untagged enum "
                     "ExtendedPointId");
            return NULL;
        }
    }
    /* Each shard gives up to limit+1 records from the offset: the first
     * limit+1 of their union are the page and the next offset. */
    cJSON *ob = cJSON_CreateObject();
    if (off && !cJSON_IsNull(off))
        cJSON_AddItemToObject(ob, "offset", cJSON_Duplicate(off, 1));
    cJSON_AddNumberToObject(ob, "limit", (double)limit + 1);
    static const char *const pass[] = {"with_payload", "with_vector"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, pass[i]);
        if (v)
            cJSON_AddItemToObject(ob, pass[i], cJSON_Duplicate(v, 1));
    }
    cJSON *parts = read_all(coll, body, "scroll", ob, 0, st);
    cJSON_Delete(ob);
    if (!parts)
        return NULL;
    size_t total = 0;
    const cJSON *part;
    cJSON *rec;
    cJSON_ArrayForEach(part, parts) total += (size_t)cJSON_GetArraySize(part);
    cJSON **all = calloc(total ? total : 1, sizeof(*all));
    if (!all)
        abort();
    size_t k = 0;
    cJSON_ArrayForEach(part, parts)
    {
        cJSON_ArrayForEach(rec, part) all[k++] = rec;
    }
    qsort(all, total, sizeof(*all), by_id);
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "points");
    for (size_t i = 0; i < total && i < limit; i++)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(all[i], 1));
    const cJSON *next = total > limit ? cJSON_GetObjectItemCaseSensitive(all[limit], "id") : NULL;
    cJSON_AddItemToObject(res, "next_page_offset",
                          next ? cJSON_Duplicate(next, 1) : cJSON_CreateNull());
    free(all);
    cJSON_Delete(parts);
    return res;
}

cJSON *emu_dist_retrieve(const char *coll, const cJSON *body, struct emu_status *st)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
    if (!cJSON_IsArray(ids)) {
        emu_fail(st, 400, "Format error in JSON body: missing field `ids`");
        return NULL;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, ids)
    {
        char txt[64];
        emu_points_id_text(e, txt, sizeof(txt));
        if (strcmp(txt, "?") == 0) {
            emu_fail(st, 400,
                     "Format error in JSON body: data did not match any variant of untagged enum "
                     "ExtendedPointId");
            return NULL;
        }
    }
    cJSON *ob = cJSON_CreateObject();
    cJSON_AddItemToObject(ob, "ids", cJSON_Duplicate(ids, 1));
    static const char *const pass[] = {"with_payload", "with_vector"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, pass[i]);
        if (v)
            cJSON_AddItemToObject(ob, pass[i], cJSON_Duplicate(v, 1));
    }
    cJSON *parts = read_all(coll, body, "retrieve", ob, 0, st);
    cJSON_Delete(ob);
    if (!parts)
        return NULL;
    /* In the order asked for, each id once. */
    cJSON *out = cJSON_CreateArray();
    cJSON_ArrayForEach(e, ids)
    {
        const cJSON *part, *rec, *hit = NULL;
        cJSON_ArrayForEach(part, parts)
        {
            cJSON_ArrayForEach(rec, part)
            {
                if (!hit && emu_points_id_cmp(cJSON_GetObjectItemCaseSensitive(rec, "id"), e) == 0)
                    hit = rec;
            }
        }
        int seen = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, out) seen |=
            emu_points_id_cmp(cJSON_GetObjectItemCaseSensitive(o, "id"), e) == 0;
        if (hit && !seen)
            cJSON_AddItemToArray(out, cJSON_Duplicate(hit, 1));
    }
    cJSON_Delete(parts);
    return out;
}

cJSON *emu_dist_get_point(const char *coll, const char *idtext, struct emu_status *st)
{
    cJSON *id = emu_points_id_from_text(idtext, st);
    if (!id)
        return NULL;
    cJSON *body = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(body, "ids");
    cJSON_AddItemToArray(ids, cJSON_Duplicate(id, 1));
    cJSON_AddTrueToObject(body, "with_payload");
    cJSON_AddTrueToObject(body, "with_vector");
    cJSON *arr = emu_dist_retrieve(coll, body, st);
    cJSON_Delete(body);
    cJSON *rec = NULL;
    if (arr && cJSON_GetArraySize(arr) > 0) {
        rec = cJSON_DetachItemFromArray(arr, 0);
    } else if (arr) {
        char txt[64];
        emu_points_id_text(id, txt, sizeof(txt));
        emu_fail(st, 404, "Not found: No point with id %s found", txt);
    }
    cJSON_Delete(arr);
    cJSON_Delete(id);
    return rec;
}

int emu_dist_count(const char *coll, const cJSON *body, uint64_t *count, struct emu_status *st)
{
    if (emu_points_reject_filter(body, st) != 0)
        return -1;
    cJSON *ob = cJSON_CreateObject();
    cJSON *parts = read_all(coll, body, "count", ob, 0, st);
    cJSON_Delete(ob);
    if (!parts)
        return -1;
    *count = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parts)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "count");
        *count += cJSON_IsNumber(n) ? (uint64_t)n->valuedouble : 0;
    }
    cJSON_Delete(parts);
    return 0;
}

int emu_dist_info(const char *coll, const cJSON *fields, uint64_t *points, cJSON **field_counts,
                  struct emu_status *st)
{
    cJSON *empty = cJSON_CreateObject();
    cJSON *counts = read_all(coll, empty, "count", empty, 1, st);
    cJSON *fb = cJSON_CreateObject();
    cJSON_AddItemToObject(fb, "fields", fields ? cJSON_Duplicate(fields, 1) : cJSON_CreateObject());
    cJSON *fparts = counts && cJSON_GetArraySize(fields) > 0
                        ? read_all(coll, empty, "fields", fb, 1, st)
                        : cJSON_CreateArray();
    cJSON_Delete(fb);
    cJSON_Delete(empty);
    if (!counts || !fparts) {
        cJSON_Delete(counts);
        cJSON_Delete(fparts);
        return -1;
    }
    *points = 0;
    const cJSON *p, *f;
    cJSON_ArrayForEach(p, counts)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "count");
        *points += cJSON_IsNumber(n) ? (uint64_t)n->valuedouble : 0;
    }
    cJSON *sum = cJSON_CreateObject();
    cJSON_ArrayForEach(f, fields)
    {
        double total = 0;
        cJSON_ArrayForEach(p, fparts)
        {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, f->string);
            total += cJSON_IsNumber(n) ? n->valuedouble : 0;
        }
        cJSON_AddNumberToObject(sum, f->string, total);
    }
    *field_counts = sum;
    cJSON_Delete(counts);
    cJSON_Delete(fparts);
    return 0;
}

uint64_t emu_dist_local_count(const char *coll, unsigned sid)
{
    uint64_t n = 0;
    struct emu_status st;
    if (emu_store_count(coll, sid, &n, &st) != 0)
        n = 0;
    return n;
}

int emu_dist_fetch_shard(const char *coll, unsigned sid, uint64_t from, cJSON **records,
                         struct emu_status *st)
{
    cJSON *state = emu_meta_get();
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "limit", 4294967295.0);
    cJSON_AddTrueToObject(b, "with_payload");
    cJSON_AddTrueToObject(b, "with_vector");
    int transient;
    int rc = from == emu_cfg()->peer_id
                 ? ((*records = dist_local_op(coll, sid, "scroll", b, st)) ? 0 : -1)
                 : dist_peer_call(state, from, coll, sid, "scroll", b, records, &transient, st);
    cJSON_Delete(b);
    cJSON_Delete(state);
    return rc;
}
