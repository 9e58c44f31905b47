/* SPDX-License-Identifier: Apache-2.0 */
/* emu_collcfg.c -- collection configuration (see emu_collcfg.h). */
#include "emu_collcfg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_util.h"

int emu_collcfg_check_name(const char *name, struct emu_status *st)
{
    static const char bad[] = "<>:\"/\\|?*";
    size_t n = strlen(name);
    if (n < 1 || n > 255)
        return emu_fail(st, 422,
                        "Validation error in path parameters: [name: value \"%.64s\" invalid, must "
                        "be from 1 to 255 characters]",
                        name);
    for (const char *p = name; *p; p++) {
        if (strchr(bad, *p) || *p == '\x1f')
            return emu_fail(st, 422,
                            "Validation error in path parameters: [name: collection name cannot "
                            "contain \"%c\" char]",
                            *p);
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || name[0] == '.')
        return emu_fail(st, 422,
                        "Validation error in path parameters: [name: emulator rejects names "
                        "starting with \".\"]");
    return 0;
}

static void merge_diff(cJSON *base, const cJSON *diff)
{
    if (!cJSON_IsObject(diff))
        return;
    const cJSON *e;
    cJSON_ArrayForEach(e, diff)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(base, e->string);
        cJSON_AddItemToObject(base, e->string, cJSON_Duplicate(e, 1));
    }
}

static int check_vector_params(const cJSON *p, struct emu_status *st)
{
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(p, "size");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(p, "distance");
    if (!cJSON_IsNumber(size) || !cJSON_IsString(dist))
        return emu_fail(st, 400, "Format error in JSON body: missing field `size` or `distance`");
    if (size->valuedouble < 1)
        return emu_fail(st, 422,
                        "Validation error in JSON body: [vectors.size: value 0 invalid, must be "
                        "1 or larger]");
    const char *d = dist->valuestring;
    if (strcmp(d, "Cosine") && strcmp(d, "Euclid") && strcmp(d, "Dot") && strcmp(d, "Manhattan"))
        return emu_fail(st, 400,
                        "Format error in JSON body: unknown variant `%s`, expected one of "
                        "`Cosine`, `Euclid`, `Dot`, `Manhattan`",
                        d);
    return 0;
}

static int check_vectors(const cJSON *body, struct emu_status *st)
{
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(body, "vectors");
    if (vectors && !cJSON_IsObject(vectors))
        return emu_fail(st, 400, "Format error in JSON body: invalid type for `vectors`");
    if (cJSON_GetObjectItemCaseSensitive(vectors, "size"))
        return check_vector_params(vectors, st);
    const cJSON *v;
    cJSON_ArrayForEach(v, vectors)
    {
        if (check_vector_params(v, st) != 0)
            return -1;
    }
    const cJSON *sparse = cJSON_GetObjectItemCaseSensitive(body, "sparse_vectors");
    if (sparse && !cJSON_IsNull(sparse) && !cJSON_IsObject(sparse))
        return emu_fail(st, 400, "Format error in JSON body: invalid type for `sparse_vectors`");
    return 0;
}

/* A positive integer member, def when absent or null; -1 + st when bad. */
static int positive(const cJSON *body, const char *key, int def, struct emu_status *st)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 4294967295.0)
        return emu_fail(st, 400, "Format error in JSON body: invalid type for `%s`", key);
    if (v->valuedouble < 1)
        return emu_fail(st, 422,
                        "Validation error in JSON body: [%s: value 0 invalid, must be 1 or larger]",
                        key);
    return (int)v->valuedouble;
}

static cJSON *build_params(const cJSON *body, int default_shards, struct emu_status *st)
{
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(body, "sharding_method");
    if (method && !cJSON_IsNull(method) &&
        (!cJSON_IsString(method) ||
         (strcmp(method->valuestring, "auto") && strcmp(method->valuestring, "custom")))) {
        emu_fail(st, 400,
                 "Format error in JSON body: unknown variant `%.64s`, expected `auto` or `custom`",
                 cJSON_IsString(method) ? method->valuestring : "?");
        return NULL;
    }
    int custom = cJSON_IsString(method) && strcmp(method->valuestring, "custom") == 0;
    int shards = positive(body, "shard_number", custom ? 1 : default_shards, st);
    int rf = shards < 0 ? -1 : positive(body, "replication_factor", 1, st);
    int wcf = rf < 0 ? -1 : positive(body, "write_consistency_factor", 1, st);
    if (wcf < 0)
        return NULL;
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(body, "vectors");
    cJSON *params = cJSON_CreateObject();
    cJSON_AddItemToObject(params, "vectors",
                          vectors ? cJSON_Duplicate(vectors, 1) : cJSON_CreateObject());
    cJSON_AddNumberToObject(params, "shard_number", shards);
    if (cJSON_IsString(method))
        cJSON_AddStringToObject(params, "sharding_method", method->valuestring);
    cJSON_AddNumberToObject(params, "replication_factor", rf);
    cJSON_AddNumberToObject(params, "write_consistency_factor", wcf);
    const cJSON *odp = cJSON_GetObjectItemCaseSensitive(body, "on_disk_payload");
    cJSON_AddBoolToObject(params, "on_disk_payload", odp ? cJSON_IsTrue(odp) : 1);
    const cJSON *sparse = cJSON_GetObjectItemCaseSensitive(body, "sparse_vectors");
    if (cJSON_IsObject(sparse))
        cJSON_AddItemToObject(params, "sparse_vectors", cJSON_Duplicate(sparse, 1));
    return params;
}

cJSON *emu_collcfg_build(const cJSON *body, int default_shards, struct emu_status *st)
{
    if (check_vectors(body, st) != 0)
        return NULL;
    cJSON *params = build_params(body, default_shards, st);
    if (!params)
        return NULL;
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddItemToObject(cfg, "params", params);
    cJSON *hnsw = cJSON_Parse("{\"m\":16,\"ef_construct\":100,\"full_scan_threshold\":10000,"
                              "\"max_indexing_threads\":0,\"on_disk\":false}");
    merge_diff(hnsw, cJSON_GetObjectItemCaseSensitive(body, "hnsw_config"));
    cJSON_AddItemToObject(cfg, "hnsw_config", hnsw);
    cJSON *opt = cJSON_Parse(
        "{\"deleted_threshold\":0.2,\"vacuum_min_vector_number\":1000,\"default_segment_number\":"
        "0,\"max_segment_size\":null,\"memmap_threshold\":null,\"indexing_threshold\":10000,"
        "\"flush_interval_sec\":5,\"max_optimization_threads\":null}");
    merge_diff(opt, cJSON_GetObjectItemCaseSensitive(body, "optimizers_config"));
    cJSON_AddItemToObject(cfg, "optimizer_config", opt);
    cJSON *wal = cJSON_Parse("{\"wal_capacity_mb\":32,\"wal_segments_ahead\":0}");
    merge_diff(wal, cJSON_GetObjectItemCaseSensitive(body, "wal_config"));
    cJSON_AddItemToObject(cfg, "wal_config", wal);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(body, "quantization_config");
    cJSON_AddItemToObject(cfg, "quantization_config",
                          q ? cJSON_Duplicate(q, 1) : cJSON_CreateNull());
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    if (cJSON_IsObject(meta))
        cJSON_AddItemToObject(cfg, "metadata", cJSON_Duplicate(meta, 1));
    char uuid[37];
    emu_uuid4(uuid);
    cJSON_AddStringToObject(cfg, "uuid", uuid);
    return cfg;
}

int emu_collcfg_compatible(const cJSON *current, const cJSON *snapshot, struct emu_status *st)
{
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(current, "params");
    const cJSON *pb = cJSON_GetObjectItemCaseSensitive(snapshot, "params");
    const cJSON *va = cJSON_GetObjectItemCaseSensitive(pa, "vectors");
    const cJSON *vb = cJSON_GetObjectItemCaseSensitive(pb, "vectors");
    if (!cJSON_Compare(va, vb, 1)) {
        /* Qdrant prints Rust Debug output here; JSON carries the same facts. */
        char *a = cJSON_PrintUnformatted(va), *b = cJSON_PrintUnformatted(vb);
        emu_fail(st, 400,
                 "Wrong input: Snapshot is not compatible with existing collection: Collection "
                 "vectors: %.500s Snapshot Vectors: %.500s",
                 a ? a : "null", b ? b : "null");
        cJSON_free(a);
        cJSON_free(b);
        return -1;
    }
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(pa, "shard_number");
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(pb, "shard_number");
    double na = cJSON_IsNumber(sa) ? sa->valuedouble : 1,
           nb = cJSON_IsNumber(sb) ? sb->valuedouble : 1;
    if (na != nb)
        return emu_fail(st, 400,
                        "Wrong input: Snapshot is not compatible with existing collection: "
                        "Collection shard number: %.0f Snapshot shard number: %.0f",
                        na, nb);
    return 0;
}
