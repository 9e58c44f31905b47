/* SPDX-License-Identifier: Apache-2.0 */
/* emu_points.c -- point ids, vectors and the point operations (upsert,
 * delete, scroll, retrieve, count) of emu_store.h.  Vectors are validated
 * against the collection config and stored as Qdrant stores them: f32
 * values, normalised for Cosine distance. */
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

size_t emu_pts_lower_bound(const struct emu_coll *c, const struct emu_pid *key)
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

void emu_pts_put(struct emu_coll *c, struct emu_point *p)
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

static cJSON *convert_vector(const cJSON *vectors_cfg, const cJSON *in, struct emu_status *st)
{
    if (emu_vec_is_single(vectors_cfg))
        return dense_vector(vectors_cfg, in, st);
    if (!cJSON_IsObject(in)) {
        emu_fail(st, 400, "Wrong input: Not existing vector name error: ");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    const cJSON *v;
    cJSON_ArrayForEach(v, in)
    {
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(vectors_cfg, v->string);
        if (!params) {
            emu_fail(st, 400, "Wrong input: Not existing vector name error: %s", v->string);
            cJSON_Delete(out);
            return NULL;
        }
        cJSON *d = dense_vector(params, v, st);
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

static int reject_filter(const cJSON *body, struct emu_status *st)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, "filter");
    if (f && !cJSON_IsNull(f))
        return emu_fail(st, 400, "Wrong input: qdrant-emu does not emulate filters");
    return 0;
}

cJSON *emu_store_scroll(const char *name, const cJSON *body, struct emu_status *st)
{
    if (reject_filter(body, st) != 0)
        return NULL;
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(body, "offset");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(body, "limit");
    size_t limit = cJSON_IsNumber(lim) ? (size_t)lim->valuedouble : 10;
    if (cJSON_IsNumber(lim) && lim->valuedouble < 1) {
        emu_fail(st, 422,
                 "Validation error in JSON body: [limit: value 0 invalid, must be 1.0 or larger]");
        return NULL;
    }
    struct emu_pid start = {0};
    if (off && !cJSON_IsNull(off) && emu_pid_parse(off, &start, st) != 0)
        return NULL;
    struct emu_coll *c = emu_store_acquire(name, 0, st);
    if (!c)
        return NULL;
    const cJSON *wp = cJSON_GetObjectItemCaseSensitive(body, "with_payload");
    const cJSON *wv = cJSON_GetObjectItemCaseSensitive(body, "with_vector");
    cJSON *r = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(r, "points");
    size_t i = emu_pts_lower_bound(c, &start);
    for (size_t k = 0; i < c->n && k < limit; i++, k++)
        cJSON_AddItemToArray(arr, record_json(&c->pts[i], wp, wv));
    cJSON_AddItemToObject(r, "next_page_offset",
                          i < c->n ? emu_pid_json(&c->pts[i].id) : cJSON_CreateNull());
    emu_store_release(c);
    return r;
}

cJSON *emu_store_retrieve(const char *name, const cJSON *body, struct emu_status *st)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
    if (!cJSON_IsArray(ids)) {
        emu_fail(st, 400, "Format error in JSON body: missing field `ids`");
        return NULL;
    }
    struct emu_coll *c = emu_store_acquire(name, 0, st);
    if (!c)
        return NULL;
    const cJSON *wp = cJSON_GetObjectItemCaseSensitive(body, "with_payload");
    const cJSON *wv = cJSON_GetObjectItemCaseSensitive(body, "with_vector");
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
        size_t i = emu_pts_lower_bound(c, &id);
        if (i < c->n && emu_pid_cmp(&c->pts[i].id, &id) == 0)
            cJSON_AddItemToArray(arr, record_json(&c->pts[i], wp, wv));
    }
    emu_store_release(c);
    return arr;
}

cJSON *emu_store_get_point(const char *name, const char *idtext, struct emu_status *st)
{
    struct emu_pid id = {0};
    char *end;
    errno = 0;
    unsigned long long v = strtoull(idtext, &end, 10);
    if (*idtext && *end == '\0' && errno == 0 && idtext[0] != '-')
        id.num = v;
    else if (pid_parse_str(idtext, &id) != 0) {
        emu_fail(st, 400, "Wrong input: Unable to parse UUID: %s", idtext);
        return NULL;
    }
    struct emu_coll *c = emu_store_acquire(name, 0, st);
    if (!c)
        return NULL;
    cJSON *r = NULL;
    size_t i = emu_pts_lower_bound(c, &id);
    if (i < c->n && emu_pid_cmp(&c->pts[i].id, &id) == 0) {
        cJSON *t = cJSON_CreateTrue();
        r = record_json(&c->pts[i], t, t);
        cJSON_Delete(t);
    } else {
        char buf[64];
        pid_text(&id, buf, sizeof(buf));
        emu_fail(st, 404, "Not found: No point with id %s found", buf);
    }
    emu_store_release(c);
    return r;
}

int emu_store_count(const char *name, const cJSON *body, uint64_t *count, struct emu_status *st)
{
    if (reject_filter(body, st) != 0)
        return -1;
    long long n = emu_store_points_count(name);
    if (n < 0)
        return emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", name);
    *count = (uint64_t)n;
    return 0;
}

static int parse_points(const cJSON *body, const cJSON *vectors_cfg, struct emu_point **out,
                        size_t *n_out, struct emu_status *st)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "points");
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(body, "batch");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(batch, "ids");
    size_t n = cJSON_IsArray(list)  ? (size_t)cJSON_GetArraySize(list)
               : cJSON_IsArray(ids) ? (size_t)cJSON_GetArraySize(ids)
                                    : 0;
    if (!cJSON_IsArray(list) && !cJSON_IsArray(ids))
        return emu_fail(st, 400,
                        "Format error in JSON body: data did not match any variant of untagged "
                        "enum PointInsertOperations");
    struct emu_point *pts = calloc(n ? n : 1, sizeof(*pts));
    if (!pts)
        abort();
    const cJSON *bvec = cJSON_GetObjectItemCaseSensitive(batch, "vectors");
    const cJSON *bpay = cJSON_GetObjectItemCaseSensitive(batch, "payloads");
    for (size_t i = 0; i < n; i++) {
        const cJSON *id, *vec, *pay;
        if (list) {
            const cJSON *p = cJSON_GetArrayItem(list, (int)i);
            id = cJSON_GetObjectItemCaseSensitive(p, "id");
            vec = cJSON_GetObjectItemCaseSensitive(p, "vector");
            pay = cJSON_GetObjectItemCaseSensitive(p, "payload");
        } else {
            id = cJSON_GetArrayItem(ids, (int)i);
            pay = cJSON_GetArrayItem(bpay, (int)i);
            if (cJSON_IsArray(bvec)) {
                vec = cJSON_GetArrayItem(bvec, (int)i);
            } else {
                /* named batch: {name: [[...], ...]} -> {name: [...]} */
                cJSON *named = cJSON_CreateObject();
                const cJSON *e;
                cJSON_ArrayForEach(e, bvec)
                {
                    cJSON_AddItemToObject(named, e->string,
                                          cJSON_Duplicate(cJSON_GetArrayItem(e, (int)i), 1));
                }
                pts[i].vector = named; /* temporarily holds the input */
                vec = named;
            }
        }
        cJSON *input = pts[i].vector;
        pts[i].vector = NULL;
        int bad = emu_pid_parse(id, &pts[i].id, st) != 0;
        if (!bad && !vec) {
            bad = 1;
            emu_fail(st, 400, "Format error in JSON body: missing field `vector`");
        }
        if (!bad) {
            pts[i].vector = convert_vector(vectors_cfg, vec, st);
            bad = pts[i].vector == NULL;
        }
        cJSON_Delete(input);
        if (bad) {
            emu_pts_free(pts, i + 1);
            return -1;
        }
        pts[i].payload = cJSON_IsObject(pay) ? cJSON_Duplicate(pay, 1) : cJSON_CreateObject();
    }
    *out = pts;
    *n_out = n;
    return 0;
}

int emu_store_upsert(const char *name, const cJSON *body, uint64_t *op_id, struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, 1, st);
    if (!c)
        return -1;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(c->config, "params");
    struct emu_point *pts = NULL;
    size_t n = 0;
    int rc = parse_points(body, cJSON_GetObjectItemCaseSensitive(params, "vectors"), &pts, &n, st);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            emu_pts_put(c, &pts[i]);
        free(pts);
        *op_id = c->op_seq++;
        if (emu_coll_persist(c) != 0)
            rc = emu_fail(st, 500, "Service internal error: can't persist points");
    }
    emu_store_release(c);
    return rc;
}

int emu_store_delete_points(const char *name, const cJSON *body, uint64_t *op_id,
                            struct emu_status *st)
{
    if (reject_filter(body, st) != 0)
        return -1;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "points");
    if (!cJSON_IsArray(ids))
        return emu_fail(st, 400, "Format error in JSON body: missing field `points`");
    struct emu_coll *c = emu_store_acquire(name, 1, st);
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
        size_t i = emu_pts_lower_bound(c, &id);
        if (i < c->n && emu_pid_cmp(&c->pts[i].id, &id) == 0) {
            point_free(&c->pts[i]);
            memmove(&c->pts[i], &c->pts[i + 1], (c->n - i - 1) * sizeof(*c->pts));
            c->n--;
        }
    }
    *op_id = c->op_seq++;
    if (emu_coll_persist(c) != 0 && rc == 0)
        rc = emu_fail(st, 500, "Service internal error: can't persist points");
    emu_store_release(c);
    return rc;
}
