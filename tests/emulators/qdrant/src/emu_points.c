/* SPDX-License-Identifier: Apache-2.0 */
/* emu_points.c -- point ids, vectors and the point operations of one local
 * shard (upsert, delete, scroll, retrieve, count) of emu_store.h.  Vectors
 * are validated against the collection config and stored as Qdrant stores
 * them: f32 values, normalised for Cosine distance; sparse vectors as
 * {indices, values}. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_store_int.h"
#include "emu_util.h"

int emu_pid_cmp(const struct emu_pid *a, const struct emu_pid *b)
{
    if (a->is_uuid != b->is_uuid)
        return a->is_uuid ? 1 : -1;
    if (!a->is_uuid)
        return a->num < b->num ? -1 : a->num > b->num;
    return strcmp(a->uuid, b->uuid);
}

static int pid_parse_str(const char *s, struct emu_pid *out)
{
    char hex[33];
    size_t h = 0;
    if (strncmp(s, "urn:uuid:", 9) == 0)
        s += 9;
    for (const char *p = s; *p; p++) {
        if (*p == '-' || *p == '{' || *p == '}')
            continue;
        char c = *p;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || h >= 32)
            return -1;
        hex[h++] = c;
    }
    if (h != 32)
        return -1;
    hex[32] = '\0';
    out->is_uuid = 1;
    out->num = 0;
    snprintf(out->uuid, sizeof(out->uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return 0;
}

int emu_pid_parse(const cJSON *j, struct emu_pid *out, struct emu_status *st)
{
    memset(out, 0, sizeof(*out));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d < 0 || d != floor(d) || d >= 18446744073709551616.0)
            return emu_fail(st, 400,
                            "Format error in JSON body: data did not match any variant of "
                            "untagged enum ExtendedPointId");
        out->num = (uint64_t)d;
        return 0;
    }
    if (cJSON_IsString(j) && pid_parse_str(j->valuestring, out) == 0)
        return 0;
    if (cJSON_IsString(j))
        return emu_fail(st, 400, "Format error in JSON body: Unable to parse UUID: %s",
                        j->valuestring);
    return emu_fail(st, 400,
                    "Format error in JSON body: data did not match any variant of untagged enum "
                    "ExtendedPointId");
}

cJSON *emu_pid_json(const struct emu_pid *id)
{
    if (id->is_uuid)
        return cJSON_CreateString(id->uuid);
    if (id->num <= (UINT64_C(1) << 53))
        return cJSON_CreateNumber((double)id->num);
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)id->num);
    return cJSON_CreateRaw(buf);
}

static void pid_text(const struct emu_pid *id, char *buf, size_t size)
{
    if (id->is_uuid)
        snprintf(buf, size, "%s", id->uuid);
    else
        snprintf(buf, size, "%llu", (unsigned long long)id->num);
}

size_t emu_pts_lower_bound(const struct emu_shard *c, const struct emu_pid *key)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (emu_pid_cmp(&c->pts[mid].id, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void point_free(struct emu_point *p)
{
    cJSON_Delete(p->vector);
    cJSON_Delete(p->payload);
    p->vector = p->payload = NULL;
}

void emu_pts_free(struct emu_point *pts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        point_free(&pts[i]);
    free(pts);
}

void emu_pts_put(struct emu_shard *c, struct emu_point *p)
{
    size_t i = emu_pts_lower_bound(c, &p->id);
    if (i < c->n && emu_pid_cmp(&c->pts[i].id, &p->id) == 0) {
        point_free(&c->pts[i]);
        c->pts[i] = *p;
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->pts = realloc(c->pts, c->cap * sizeof(*c->pts));
        if (!c->pts)
            abort();
    }
    memmove(&c->pts[i + 1], &c->pts[i], (c->n - i) * sizeof(*c->pts));
    c->pts[i] = *p;
    c->n++;
}

int emu_vec_is_single(const cJSON *vectors)
{
    return cJSON_IsObject(vectors) && cJSON_GetObjectItemCaseSensitive(vectors, "size") != NULL;
}

static cJSON *dense_vector(const cJSON *params, const cJSON *in, struct emu_status *st)
{
    if (!cJSON_IsArray(in)) {
        emu_fail(st, 400, "Wrong input: emulator supports dense vectors only");
        return NULL;
    }
    int dim = cJSON_GetArraySize(in);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(params, "size");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(params, "distance");
    if (cJSON_IsNumber(size) && (int)size->valuedouble != dim) {
        emu_fail(st, 400, "Wrong input: Vector dimension error: expected dim: %d, got %d",
                 (int)size->valuedouble, dim);
        return NULL;
    }
    double norm = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, in)
    {
        if (!cJSON_IsNumber(e)) {
            emu_fail(st, 400, "Format error in JSON body: vector elements must be numbers");
            return NULL;
        }
        float f = (float)e->valuedouble;
        norm += (double)f * (double)f;
    }
    int cosine = cJSON_IsString(dist) && strcmp(dist->valuestring, "Cosine") == 0;
    norm = sqrt(norm);
    cJSON *out = cJSON_CreateArray();
    cJSON_ArrayForEach(e, in)
    {
        float f = (float)e->valuedouble;
        if (cosine && norm > 0)
            f = (float)((double)f / norm);
        char buf[32];
        emu_format_f32(f, buf, sizeof(buf));
        cJSON_AddItemToArray(out, cJSON_CreateNumber(strtod(buf, NULL)));
    }
    return out;
}

static cJSON *sparse_vector(const cJSON *in, struct emu_status *st)
{
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(in, "indices");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(in, "values");
    if (!cJSON_IsArray(idx) || !cJSON_IsArray(val)) {
        emu_fail(st, 400, "Format error in JSON body: missing field `indices` or `values`");
        return NULL;
    }
    if (cJSON_GetArraySize(idx) != cJSON_GetArraySize(val)) {
        emu_fail(st, 422,
                 "Validation error in JSON body: [points[].vector: must be the same length as "
                 "indices]");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *oi = cJSON_AddArrayToObject(out, "indices");
    cJSON *ov = cJSON_AddArrayToObject(out, "values");
    const cJSON *e;
    cJSON_ArrayForEach(e, idx)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble != floor(e->valuedouble)) {
            cJSON_Delete(out);
            emu_fail(st, 400, "Format error in JSON body: sparse indices must be u32");
            return NULL;
        }
        cJSON_AddItemToArray(oi, cJSON_CreateNumber(e->valuedouble));
    }
    cJSON_ArrayForEach(e, val)
    {
        char buf[32];
        if (!cJSON_IsNumber(e)) {
            cJSON_Delete(out);
            emu_fail(st, 400, "Format error in JSON body: vector elements must be numbers");
            return NULL;
        }
        emu_format_f32((float)e->valuedouble, buf, sizeof(buf));
        cJSON_AddItemToArray(ov, cJSON_CreateNumber(strtod(buf, NULL)));
    }
    return out;
}

/* One vector of a point as stored, validated against the collection params
 * (vectors: one unnamed config or named configs; sparse_vectors). */
static cJSON *convert_vector(const cJSON *params, const cJSON *in, struct emu_status *st)
{
    const cJSON *vectors_cfg = cJSON_GetObjectItemCaseSensitive(params, "vectors");
    const cJSON *sparse_cfg = cJSON_GetObjectItemCaseSensitive(params, "sparse_vectors");
    if (emu_vec_is_single(vectors_cfg) && cJSON_IsArray(in))
        return dense_vector(vectors_cfg, in, st);
    if (!cJSON_IsObject(in)) {
        emu_fail(st, 400, "Wrong input: Not existing vector name error: ");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    const cJSON *v;
    cJSON_ArrayForEach(v, in)
    {
        const cJSON *dense = emu_vec_is_single(vectors_cfg)
                                 ? (v->string[0] ? NULL : vectors_cfg)
                                 : cJSON_GetObjectItemCaseSensitive(vectors_cfg, v->string);
        const cJSON *sparse = cJSON_GetObjectItemCaseSensitive(sparse_cfg, v->string);
        cJSON *d = NULL;
        if (dense)
            d = dense_vector(dense, v, st);
        else if (sparse)
            d = sparse_vector(v, st);
        else
            emu_fail(st, 400, "Wrong input: Not existing vector name error: %s", v->string);
        if (!d) {
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToObject(out, v->string, d);
    }
    return out;
}

static cJSON *select_payload(const cJSON *payload, const cJSON *with)
{
    if (!with || cJSON_IsTrue(with))
        return cJSON_Duplicate(payload, 1);
    if (cJSON_IsFalse(with))
        return cJSON_CreateNull();
    const cJSON *include =
        cJSON_IsArray(with) ? with : cJSON_GetObjectItemCaseSensitive(with, "include");
    const cJSON *exclude = cJSON_GetObjectItemCaseSensitive(with, "exclude");
    cJSON *out = cJSON_CreateObject();
    const cJSON *e;
    cJSON_ArrayForEach(e, payload)
    {
        int keep = 1;
        const cJSON *k;
        if (include) {
            keep = 0;
            cJSON_ArrayForEach(k, include) keep |=
                cJSON_IsString(k) && !strcmp(k->valuestring, e->string);
        }
        if (cJSON_IsArray(exclude)) {
            cJSON_ArrayForEach(k, exclude) keep &=
                !(cJSON_IsString(k) && !strcmp(k->valuestring, e->string));
        }
        if (keep)
            cJSON_AddItemToObject(out, e->string, cJSON_Duplicate(e, 1));
    }
    return out;
}

static cJSON *select_vector(const cJSON *vector, const cJSON *with)
{
    if (!vector || !with || cJSON_IsFalse(with))
        return cJSON_CreateNull();
    if (!cJSON_IsArray(with) || cJSON_IsArray(vector))
        return cJSON_Duplicate(vector, 1);
    cJSON *out = cJSON_CreateObject();
    const cJSON *k;
    cJSON_ArrayForEach(k, with)
    {
        const cJSON *v =
            cJSON_IsString(k) ? cJSON_GetObjectItemCaseSensitive(vector, k->valuestring) : NULL;
        if (v)
            cJSON_AddItemToObject(out, k->valuestring, cJSON_Duplicate(v, 1));
    }
    return out;
}

static cJSON *record_json(const struct emu_point *p, const cJSON *with_payload,
                          const cJSON *with_vector)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "id", emu_pid_json(&p->id));
    cJSON_AddItemToObject(r, "payload", select_payload(p->payload, with_payload));
    cJSON_AddItemToObject(r, "vector", select_vector(p->vector, with_vector));
    return r;
}

int emu_points_reject_filter(const cJSON *body, struct emu_status *st)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, "filter");
    if (f && !cJSON_IsNull(f))
        return emu_fail(st, 400, "Wrong input: qdrant-emu does not emulate filters");
    return 0;
}

/* ---- one local shard ---- */

/* Takes the collection (shared or exclusive) and finds local shard sid. */
static struct emu_coll *shard_acquire(const char *name, unsigned sid, int exclusive,
                                      struct emu_shard **s, struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, exclusive, st);
    if (!c)
        return NULL;
    *s = emu_shard_find(c, sid);
    if (!*s) {
        emu_store_release(c);
        /* Qdrant's text when a replica set has no local shard. */
        emu_fail(st, 500, "Service internal error: Local shard %u not found", sid);
        return NULL;
    }
    return c;
}

cJSON *emu_store_scroll(const char *name, unsigned sid, const cJSON *offset, size_t limit,
                        const cJSON *wp, const cJSON *wv, struct emu_status *st)
{
    struct emu_pid start = {0};
    if (offset && !cJSON_IsNull(offset) && emu_pid_parse(offset, &start, st) != 0)
        return NULL;
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 0, &s, st);
    if (!c)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = emu_pts_lower_bound(s, &start), k = 0; i < s->n && k < limit; i++, k++)
        cJSON_AddItemToArray(arr, record_json(&s->pts[i], wp, wv));
    emu_store_release(c);
    return arr;
}

cJSON *emu_store_retrieve(const char *name, unsigned sid, const cJSON *ids, const cJSON *wp,
                          const cJSON *wv, struct emu_status *st)
{
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 0, &s, st);
    if (!c)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach(e, ids)
    {
        struct emu_pid id;
        if (emu_pid_parse(e, &id, st) != 0) {
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
        size_t i = emu_pts_lower_bound(s, &id);
        if (i < s->n && emu_pid_cmp(&s->pts[i].id, &id) == 0)
            cJSON_AddItemToArray(arr, record_json(&s->pts[i], wp, wv));
    }
    emu_store_release(c);
    return arr;
}

int emu_store_count(const char *name, unsigned sid, uint64_t *count, struct emu_status *st)
{
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 0, &s, st);
    if (!c)
        return -1;
    *count = (uint64_t)s->n;
    emu_store_release(c);
    return 0;
}

/* The value at a dotted payload path ("a.b"), or NULL. */
static const cJSON *payload_path(const cJSON *payload, const char *path)
{
    const cJSON *cur = payload;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        char key[256];
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        path += n + (dot != NULL);
    }
    return cur;
}

cJSON *emu_store_field_counts(const char *name, unsigned sid, const cJSON *fields,
                              struct emu_status *st)
{
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 0, &s, st);
    if (!c)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++) {
            const cJSON *v = payload_path(s->pts[i].payload, f->string);
            n += v && !cJSON_IsNull(v);
        }
        cJSON_AddNumberToObject(out, f->string, (double)n);
    }
    emu_store_release(c);
    return out;
}

cJSON *emu_points_list(const cJSON *body, struct emu_status *st)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "points");
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(body, "batch");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(batch, "ids");
    if (!cJSON_IsArray(list) && !cJSON_IsArray(ids)) {
        emu_fail(st, 400,
                 "Format error in JSON body: data did not match any variant of untagged enum "
                 "PointInsertOperations");
        return NULL;
    }
    cJSON *out = cJSON_CreateArray();
    const cJSON *bvec = cJSON_GetObjectItemCaseSensitive(batch, "vectors");
    const cJSON *bpay = cJSON_GetObjectItemCaseSensitive(batch, "payloads");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : cJSON_GetArraySize(ids);
    for (int i = 0; i < n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToArray(out, p);
        const cJSON *id, *vec, *pay;
        if (cJSON_IsArray(list)) {
            const cJSON *in = cJSON_GetArrayItem(list, i);
            id = cJSON_GetObjectItemCaseSensitive(in, "id");
            vec = cJSON_GetObjectItemCaseSensitive(in, "vector");
            pay = cJSON_GetObjectItemCaseSensitive(in, "payload");
            if (vec)
                cJSON_AddItemToObject(p, "vector", cJSON_Duplicate(vec, 1));
        } else {
            id = cJSON_GetArrayItem(ids, i);
            pay = cJSON_GetArrayItem(bpay, i);
            if (cJSON_IsArray(bvec)) {
                vec = cJSON_GetArrayItem(bvec, i);
                if (vec)
                    cJSON_AddItemToObject(p, "vector", cJSON_Duplicate(vec, 1));
            } else {
                /* named batch: {name: [[...], ...]} -> {name: [...]} */
                cJSON *named = cJSON_AddObjectToObject(p, "vector");
                const cJSON *e;
                cJSON_ArrayForEach(e, bvec)
                {
                    cJSON_AddItemToObject(named, e->string,
                                          cJSON_Duplicate(cJSON_GetArrayItem(e, i), 1));
                }
                vec = named;
            }
        }
        struct emu_pid pid;
        if (emu_pid_parse(id, &pid, st) != 0) {
            cJSON_Delete(out);
            return NULL;
        }
        if (!vec) {
            cJSON_Delete(out);
            emu_fail(st, 400, "Format error in JSON body: missing field `vector`");
            return NULL;
        }
        cJSON_AddItemToObject(p, "id", emu_pid_json(&pid));
        cJSON_AddItemToObject(p, "payload",
                              cJSON_IsObject(pay) ? cJSON_Duplicate(pay, 1) : cJSON_CreateObject());
    }
    return out;
}

/* Converts a PointsList array into owned points; NULL + st on bad input. */
static struct emu_point *convert_points(const cJSON *params, const cJSON *list, size_t *n_out,
                                        struct emu_status *st)
{
    size_t n = (size_t)cJSON_GetArraySize(list);
    struct emu_point *pts = calloc(n ? n : 1, sizeof(*pts));
    if (!pts)
        abort();
    size_t i = 0;
    const cJSON *in;
    cJSON_ArrayForEach(in, list)
    {
        int bad = emu_pid_parse(cJSON_GetObjectItemCaseSensitive(in, "id"), &pts[i].id, st) != 0;
        if (!bad) {
            pts[i].vector =
                convert_vector(params, cJSON_GetObjectItemCaseSensitive(in, "vector"), st);
            bad = pts[i].vector == NULL;
        }
        if (bad) {
            emu_pts_free(pts, i + 1);
            return NULL;
        }
        const cJSON *pay = cJSON_GetObjectItemCaseSensitive(in, "payload");
        pts[i].payload = cJSON_IsObject(pay) ? cJSON_Duplicate(pay, 1) : cJSON_CreateObject();
        i++;
    }
    *n_out = n;
    return pts;
}

int emu_store_check_points(const char *name, const cJSON *list, struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, 0, st);
    if (!c)
        return -1;
    size_t n = 0;
    struct emu_point *pts =
        convert_points(cJSON_GetObjectItemCaseSensitive(c->config, "params"), list, &n, st);
    emu_store_release(c);
    if (!pts)
        return -1;
    emu_pts_free(pts, n);
    return 0;
}

int emu_store_upsert(const char *name, unsigned sid, const cJSON *list, uint64_t *op_id,
                     struct emu_status *st)
{
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 1, &s, st);
    if (!c)
        return -1;
    size_t n = 0;
    struct emu_point *pts =
        convert_points(cJSON_GetObjectItemCaseSensitive(c->config, "params"), list, &n, st);
    int rc = pts ? 0 : -1;
    if (pts) {
        for (size_t i = 0; i < n; i++)
            emu_pts_put(s, &pts[i]);
        free(pts);
        *op_id = c->op_seq++;
        if (emu_shard_persist(c, s) != 0)
            rc = emu_fail(st, 500, "Service internal error: can't persist points");
    }
    emu_store_release(c);
    return rc;
}

int emu_store_delete_points(const char *name, unsigned sid, const cJSON *ids, uint64_t *op_id,
                            struct emu_status *st)
{
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 1, &s, st);
    if (!c)
        return -1;
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ids)
    {
        struct emu_pid id;
        if (emu_pid_parse(e, &id, st) != 0) {
            rc = -1;
            break;
        }
        size_t i = emu_pts_lower_bound(s, &id);
        if (i < s->n && emu_pid_cmp(&s->pts[i].id, &id) == 0) {
            point_free(&s->pts[i]);
            memmove(&s->pts[i], &s->pts[i + 1], (s->n - i - 1) * sizeof(*s->pts));
            s->n--;
        }
    }
    *op_id = c->op_seq++;
    if (emu_shard_persist(c, s) != 0 && rc == 0)
        rc = emu_fail(st, 500, "Service internal error: can't persist points");
    emu_store_release(c);
    return rc;
}

int emu_store_replace(const char *name, unsigned sid, const cJSON *records, struct emu_status *st)
{
    struct emu_shard *s;
    struct emu_coll *c = shard_acquire(name, sid, 1, &s, st);
    if (!c)
        return -1;
    struct emu_shard tmp = {0};
    int rc = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, records)
    {
        struct emu_point pt = {0};
        if (emu_pid_parse(cJSON_GetObjectItemCaseSensitive(r, "id"), &pt.id, st) != 0) {
            rc = -1;
            break;
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "vector");
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(r, "payload");
        pt.vector = v && !cJSON_IsNull(v) ? cJSON_Duplicate(v, 1) : NULL;
        pt.payload = cJSON_IsObject(pl) ? cJSON_Duplicate(pl, 1) : cJSON_CreateObject();
        emu_pts_put(&tmp, &pt);
    }
    if (rc == 0) {
        emu_pts_free(s->pts, s->n);
        s->pts = tmp.pts;
        s->n = tmp.n;
        s->cap = tmp.cap;
        c->op_seq++;
        if (emu_shard_persist(c, s) != 0)
            rc = emu_fail(st, 500, "Service internal error: can't persist points");
    } else {
        emu_pts_free(tmp.pts, tmp.n);
    }
    emu_store_release(c);
    return rc;
}

/* ---- ids as JSON, for routing and merging across shards ---- */

int emu_points_id_cmp(const cJSON *a, const cJSON *b)
{
    struct emu_pid x, y;
    struct emu_status st;
    if (emu_pid_parse(a, &x, &st) != 0 || emu_pid_parse(b, &y, &st) != 0)
        return 0;
    return emu_pid_cmp(&x, &y);
}

uint64_t emu_points_id_hash(const cJSON *id)
{
    struct emu_pid p;
    struct emu_status st;
    if (emu_pid_parse(id, &p, &st) != 0)
        return 0;
    uint64_t h = p.num;
    if (p.is_uuid) {
        h = UINT64_C(0xcbf29ce484222325); /* FNV-1a over the canonical text */
        for (const char *c = p.uuid; *c; c++)
            h = (h ^ (unsigned char)*c) * UINT64_C(0x100000001b3);
    }
    /* splitmix64 finaliser: consecutive ids spread over every shard */
    h += UINT64_C(0x9e3779b97f4a7c15);
    h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
    return h ^ (h >> 31);
}

cJSON *emu_points_id_from_text(const char *text, struct emu_status *st)
{
    struct emu_pid id = {0};
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*text && *end == '\0' && errno == 0 && text[0] != '-') {
        id.num = v;
    } else if (pid_parse_str(text, &id) != 0) {
        emu_fail(st, 400, "Wrong input: Unable to parse UUID: %s", text);
        return NULL;
    }
    return emu_pid_json(&id);
}

void emu_points_id_text(const cJSON *id, char *buf, size_t size)
{
    struct emu_pid p;
    struct emu_status st;
    if (emu_pid_parse(id, &p, &st) != 0)
        snprintf(buf, size, "?");
    else
        pid_text(&p, buf, size);
}
