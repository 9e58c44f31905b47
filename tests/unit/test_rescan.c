/* SPDX-License-Identifier: Apache-2.0
 *
 * test_rescan.c -- catalogue rebuild from a destination's manifests, on a
 * real temporary SQLite catalogue and a real local-folder destination:
 * objects and manifests are written through the storage writer in the
 * shape backup_job.c writes them, the catalogue is lost (a new database),
 * and rescan_destination() must rebuild the rows (restorable: the objects
 * verify and read back), never duplicate them, and refuse every manifest
 * that does not match its object.  Backup sets (one object per shard and a
 * manifest with "layout": "shards", as backup_set.c writes them) come back
 * as one row each, only when every shard object matches.
 */
#include "unit.h"
#include "catalogue_env.h"
#include "unit_catalogue.h"
#include "engine/backup_set.h"
#include "engine/rescan.h"
#include "remote/qdrant_client.h"
#include "remote/sigv4.h"
#include "storage/storage.h"
#include "engine/snapshot_verify.h"
#include "store/store.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/json_u64.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char destdir[96];

/* ---------------------------------------------------------------- fixture */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static bool setup_dirs(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qbackup-rescan-XXXXXX");
    if (!mkdtemp(tmpdir))
        return false;
    snprintf(destdir, sizeof destdir, "%s/dest", tmpdir);
    return true;
}

/* The PostgreSQL databases new_catalogue made (unit_catalogue.h). */
static char pg_targets[8][512];
static int npg;

static void remove_dirs(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
    for (int i = 0; i < npg; i++)
        unit_catalogue_drop(pg_targets[i]);
    npg = 0;
}

static struct storage *open_dest(void)
{
    char url[128], err[QB_ERRBUF_SIZE];
    snprintf(url, sizeof url, "file://%s", destdir);
    struct storage_config cfg = {.url = url, .create = true};
    struct storage *st = NULL;
    if (storage_open(&cfg, &st, err, sizeof err)) {
        fprintf(stderr, "storage_open: %s\n", err);
        return NULL;
    }
    return st;
}

/* A new, migrated catalogue (at tmpdir/name, or a fresh PostgreSQL
 * database with QB_TEST_CATALOGUE=postgres) with destination "local" (the
 * destination folder), instance "default" and, with_plan, plan "nightly"
 * on "local" and plan "moved" on another destination. */
static struct store *new_catalogue(const char *name, bool with_plan, int64_t *dest_id)
{
    char path[600], err[QB_ERRBUF_SIZE], other[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (catalogue_env_postgres()) {
        if (npg == (int)(sizeof pg_targets / sizeof pg_targets[0]) ||
            !unit_catalogue_new(name, pg_targets[npg], sizeof pg_targets[npg]))
            return NULL;
        snprintf(path, sizeof path, "%s", pg_targets[npg++]);
    }
    snprintf(other, sizeof other, "%s/other", tmpdir);
    struct store *s = NULL;
    struct store_destination *d = NULL;
    enum qb_err rc = store_open(path, 2, &s, err, sizeof err);
    if (!rc)
        rc = store_migrate(s, NULL, err, sizeof err);
    if (!rc)
        rc = store_destination_sync_local(s, "local", destdir, err, sizeof err);
    if (!rc)
        rc = store_destination_sync_local(s, "elsewhere", other, err, sizeof err);
    if (!rc)
        rc = store_instance_sync_config(s, "default", "http://127.0.0.1:6333", NULL, err,
                                        sizeof err);
    if (!rc)
        rc = store_destination_get(s, "local", false, &d, err, sizeof err);
    if (!rc)
        *dest_id = d->id;
    store_destination_free(d);
    if (!rc && with_plan) {
        char nm[] = "nightly", inst[] = "default", dst[] = "local", dst2[] = "elsewhere";
        char scope[] = "collections", colls[] = "[\"c1\"]", ret[] = "{}";
        struct store_plan p = {.name = nm,
                               .instance = inst,
                               .destination = dst,
                               .scope = scope,
                               .collections = colls,
                               .retention = ret,
                               .verify = true,
                               .enabled = true};
        rc = store_plan_insert(s, &p, err, sizeof err);
        char nm2[] = "moved";
        p.name = nm2;
        p.destination = dst2;
        if (!rc)
            rc = store_plan_insert(s, &p, err, sizeof err);
    }
    if (rc) {
        fprintf(stderr, "catalogue %s: %s\n", name, err);
        store_close(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- writing */

static bool put(struct storage *st, const char *key, const char *data, size_t len,
                struct storage_write_result *res)
{
    char err[QB_ERRBUF_SIZE];
    struct storage_writer *w = NULL;
    enum qb_err rc = storage_write_begin(st, key, len, &w, err, sizeof err);
    if (!rc)
        rc = storage_write(w, data, len, err, sizeof err);
    if (!rc)
        rc = storage_write_finish(w, res, err, sizeof err);
    else
        storage_write_abort(w);
    if (rc)
        fprintf(stderr, "put %s: %s\n", key, err);
    return rc == QB_OK;
}

/* One backed-up snapshot, as backup_job.c produces it. */
struct obj {
    const char *plan;
    const char *kind; /* "collection" or "full" */
    const char *collection;
    const char *qdrant_snapshot;
    const char *data;
    int64_t points_count; /* -1: none */
    const char *created_at;
    int64_t created_epoch;
    char key[256];
    struct storage_write_result res;
};

/* The manifest exactly as write_manifest() in backup_job.c builds it. */
static cJSON *manifest_json(const struct obj *o)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "qbackup-manifest-v1");
    cJSON_AddStringToObject(m, "plan", o->plan);
    cJSON_AddStringToObject(m, "instance", "default");
    cJSON_AddStringToObject(m, "kind", o->kind);
    if (o->collection)
        cJSON_AddStringToObject(m, "collection", o->collection);
    cJSON_AddStringToObject(m, "qdrant_snapshot", o->qdrant_snapshot);
    cJSON_AddStringToObject(m, "qdrant_version", "1.13.0");
    cJSON_AddStringToObject(m, "key", o->key);
    cJSON_AddNumberToObject(m, "size", (double)o->res.size);
    cJSON_AddStringToObject(m, "sha256", o->res.sha256);
    cJSON_AddStringToObject(m, "qdrant_checksum", o->res.sha256);
    if (o->points_count >= 0)
        cJSON_AddNumberToObject(m, "points_count", (double)o->points_count);
    cJSON_AddStringToObject(m, "created_at", o->created_at);
    cJSON_AddNumberToObject(m, "run_id", 7);
    cJSON_AddStringToObject(m, "qbackup_version", "0.1.0");
    return m;
}

/* Writes text as the manifest of key. */
static bool put_manifest_text(struct storage *st, const char *key, const char *text)
{
    char mkey[300];
    snprintf(mkey, sizeof mkey, "%s.manifest.json", key);
    return put(st, mkey, text, strlen(text), NULL);
}

/* Writes m (consumed) as the manifest of key. */
static bool put_manifest(struct storage *st, const char *key, cJSON *m)
{
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    bool ok = text && put_manifest_text(st, key, text);
    free(text);
    return ok;
}

/* Stores o's object and manifest under prefix (may be "") as the
 * pipeline's object_key() names it; run is the run id in the key. */
static bool backup_under(struct storage *st, const char *prefix, struct obj *o, int run)
{
    snprintf(o->key, sizeof o->key, "%s%s/%s/run-%d-%s", prefix, o->plan,
             o->collection ? o->collection : "_full", run, o->qdrant_snapshot);
    return put(st, o->key, o->data, strlen(o->data), &o->res) &&
           put_manifest(st, o->key, manifest_json(o));
}

static bool backup(struct storage *st, struct obj *o, int run)
{
    return backup_under(st, "", o, run);
}
/* rescan_destination, printing its error message when it fails. */
static enum qb_err rescan(struct store *s, int64_t dest, struct storage *st,
                          const atomic_bool *cancel, struct rescan_report *rep)
{
    char err[QB_ERRBUF_SIZE] = "";
    enum qb_err rc = rescan_destination(s, dest, st, cancel, rep, err, sizeof err);
    if (rc)
        fprintf(stderr, "  rescan: %s: %s\n", qb_err_name(rc), err);
    return rc;
}

static void obj_done(struct obj *o)
{
    QB_FREE(o->res.location);
}

/* ---------------------------------------------------------------- queries */

static struct store_snapshot *row_by_key(struct store *s, const char *key)
{
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot **list = NULL, *found = NULL;
    size_t n = 0;
    if (store_snapshot_list(s, NULL, &list, &n, err, sizeof err))
        return NULL;
    for (size_t i = 0; i < n && !found; i++) {
        if (strcmp(list[i]->storage_key, key) == 0) {
            found = list[i];
            list[i] = NULL;
        }
    }
    store_snapshot_list_free(list, n);
    return found;
}

static int64_t row_count(struct store *s)
{
    char err[QB_ERRBUF_SIZE];
    int64_t count = -1, bytes = 0;
    if (store_snapshot_totals(s, &count, &bytes, err, sizeof err))
        return -1;
    return count;
}

/* The note about key, or NULL. */
static const cJSON *note_for(const struct rescan_report *r, const char *key)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, r->notes)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(n, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return n;
    }
    return NULL;
}

static const char *note_str(const struct rescan_report *r, const char *key, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(note_for(r, key), field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool reason_has(const struct rescan_report *r, const char *key, const char *needle)
{
    const char *reason = note_str(r, key, "reason");
    if (!reason || !strstr(reason, needle)) {
        fprintf(stderr, "  note for %s: reason \"%s\" lacks \"%s\"\n", key,
                reason ? reason : "(none)", needle);
        return false;
    }
    return strcmp(note_str(r, key, "result"), "skipped") == 0;
}

struct readback {
    char data[256];
    size_t len;
};

static enum qb_err readback_fn(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct readback *b = ud;
    if (len > sizeof b->data - b->len)
        return qb_failf(QB_ERR_INVALID, err, errlen, "too long");
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return QB_OK;
}

/* ---------------------------------------------------------------- backup sets */

/* A peer id beyond a double's 53 bits (and beyond INT64_MAX): it must come
 * back with every digit. */
#define BIG_PEER    "17893456789012345678"
#define SET_MAX     4
#define SET_CREATED "2026-04-01T08:00:00Z"
#define SET_EPOCH   1775030400

/* One backup set as backup_set_collection() stores it: shard objects
 * K/shard-N.snapshot and the manifest K.manifest.json. */
struct set_obj {
    const char *collection;
    int nshards;
    const char *data[SET_MAX]; /* each shard's bytes */
    char key[256];             /* K */
    char shard_keys[SET_MAX][300];
    struct storage_write_result res[SET_MAX];
    char *set_text; /* the set JSON as the pipeline catalogues it (cJSON_PrintUnformatted) */
    char *manifest; /* the manifest's bytes as stored (cJSON_Print) */
};

static int64_t set_size(const struct set_obj *o)
{
    int64_t size = 0;
    for (int i = 0; i < o->nshards; i++)
        size += (int64_t)o->res[i].size;
    return size;
}

/* The set JSON, in the shape backup_set_collection() and shard_json()
 * build it.  Besides the big peer id, a long integer in the configuration
 * and a shard key made of digits (a string) must survive as they are. */
static cJSON *set_json(const struct set_obj *o)
{
    cJSON *set = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(set, "config");
    cJSON *vectors = cJSON_AddObjectToObject(cfg, "vectors");
    cJSON_AddNumberToObject(vectors, "size", 4);
    cJSON_AddStringToObject(vectors, "distance", "Cosine");
    cJSON *scalar =
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(vectors, "quantization_config"), "scalar");
    cJSON_AddStringToObject(scalar, "type", "int8");
    cJSON_AddNumberToObject(cfg, "shard_number", o->nshards);
    cJSON_AddNumberToObject(cfg, "replication_factor", 2);
    cJSON_AddRawToObject(cfg, "max_segment_size_kb", "12345678901234567");
    cJSON *schema = cJSON_AddObjectToObject(set, "payload_schema");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(schema, "color"), "data_type", "keyword");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(set, "aliases"), cJSON_CreateString("shop"));
    cJSON_AddNumberToObject(set, "format", 1);
    cJSON_AddStringToObject(set, "shard_method", "snapshot");
    cJSON_AddArrayToObject(set, "shard_keys");
    cJSON *shards = cJSON_AddArrayToObject(set, "shards");
    for (int i = 0; i < o->nshards; i++) {
        cJSON *sh = cJSON_CreateObject();
        cJSON_AddNumberToObject(sh, "shard_id", i);
        if (i == 1)
            cJSON_AddStringToObject(sh, "shard_key", "1234567890123456");
        else
            cJSON_AddNullToObject(sh, "shard_key");
        cJSON_AddRawToObject(sh, "peer_id", BIG_PEER);
        cJSON_AddStringToObject(sh, "peer_url", "http://peer-1:6333");
        cJSON_AddStringToObject(sh, "key", o->shard_keys[i]);
        cJSON_AddNumberToObject(sh, "size", (double)o->res[i].size);
        cJSON_AddStringToObject(sh, "sha256", o->res[i].sha256);
        cJSON_AddStringToObject(sh, "qdrant_checksum", o->res[i].sha256);
        cJSON_AddStringToObject(sh, "qdrant_snapshot", "products-shard.snapshot");
        cJSON_AddNumberToObject(sh, "points_count", 10 + i);
        cJSON_AddItemToArray(shards, sh);
    }
    return set;
}

/* The manifest exactly as write_manifest() in backup_set.c builds it,
 * around set (consumed). */
static cJSON *set_manifest_json(const struct set_obj *o, cJSON *set)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "qbackup-manifest-v1");
    cJSON_AddStringToObject(m, "plan", "nightly");
    cJSON_AddStringToObject(m, "instance", "default");
    cJSON_AddStringToObject(m, "kind", "collection");
    cJSON_AddStringToObject(m, "layout", "shards");
    cJSON_AddStringToObject(m, "collection", o->collection);
    cJSON_AddStringToObject(m, "qdrant_snapshot", o->collection);
    cJSON_AddStringToObject(m, "qdrant_version", "1.13.0");
    cJSON_AddStringToObject(m, "key", o->key);
    cJSON_AddNumberToObject(m, "size", (double)set_size(o));
    int64_t points = 0;
    for (int i = 0; i < o->nshards; i++)
        points += 10 + i;
    cJSON_AddNumberToObject(m, "points_count", (double)points);
    cJSON_AddStringToObject(m, "created_at", SET_CREATED);
    cJSON_AddNumberToObject(m, "run_id", 9);
    cJSON_AddStringToObject(m, "qbackup_version", "0.1.0");
    cJSON_AddItemToObject(m, "set", set);
    return m;
}

/* Stores o's shard objects and manifest under K = "<plan>/<collection>/
 * run-<run>-set-<ms>", as backup_set_collection() names it. */
static bool backup_set(struct storage *st, struct set_obj *o, int run)
{
    snprintf(o->key, sizeof o->key, "nightly/%s/run-%d-set-1775030400000", o->collection, run);
    for (int i = 0; i < o->nshards; i++) {
        snprintf(o->shard_keys[i], sizeof o->shard_keys[i], "%s/shard-%d.snapshot", o->key, i);
        if (!put(st, o->shard_keys[i], o->data[i], strlen(o->data[i]), &o->res[i]))
            return false;
    }
    cJSON *set = set_json(o);
    o->set_text = cJSON_PrintUnformatted(set);
    cJSON *m = set_manifest_json(o, set);
    o->manifest = cJSON_Print(m);
    cJSON_Delete(m);
    return o->set_text && o->manifest && put_manifest_text(st, o->key, o->manifest);
}

/* Rewrites the manifest of o with m (consumed), a changed copy. */
static bool rewrite_set_manifest(struct storage *st, struct set_obj *o, cJSON *m)
{
    free(o->manifest);
    o->manifest = cJSON_Print(m);
    cJSON_Delete(m);
    return o->manifest && put_manifest_text(st, o->key, o->manifest);
}

/* Shard i of manifest m. */
static cJSON *manifest_shard(cJSON *m, int i)
{
    return cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "set"), "shards"), i);
}

static void set_done(struct set_obj *o)
{
    for (int i = 0; i < o->nshards; i++)
        QB_FREE(o->res[i].location);
    QB_FREE(o->set_text);
    QB_FREE(o->manifest);
}

/* ---------------------------------------------------------------- tests */

/* The scenario: back up, lose the catalogue, rescan, restore. */
static void test_rebuild_after_losing_the_catalogue(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest_a = 0, dest_b = 0;
    struct rescan_report rep = {0};
    struct obj objs[] = {
        {"nightly",
         "collection",
         "c1",
         "c1-2026-11-25-12-00-00.snapshot",
         "first snapshot bytes",
         1234,
         "2026-11-25T12:00:00Z",
         1795608000,
         "",
         {0}},
        {"nightly",
         "collection",
         "c1",
         "c1-2026-11-26-12-00-00.snapshot",
         "second, a bit longer",
         1240,
         "2026-11-26T13:00:00+01:00",
         1795694400,
         "",
         {0}},
        /* The plan of this one is not recreated in the new catalogue. */
        {"weekly-full",
         "full",
         NULL,
         "full-snapshot-2026-11-27.snapshot",
         "full instance bytes",
         -1,
         "2026-11-27T00:00:00.123Z",
         1795737600,
         "",
         {0}},
    };
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    struct store *a = new_catalogue("a.db", true, &dest_a);
    TEST_ASSERT(st && a);
    for (size_t i = 0; i < QB_ARRAY_LEN(objs); i++)
        TEST_ASSERT(backup(st, &objs[i], (int)i + 1));

    /* The host is lost: a new catalogue with the destination, the instance
     * and plan "nightly" set up again, but not "weekly-full". */
    store_close(a);
    struct store *b = new_catalogue("b.db", true, &dest_b);
    TEST_ASSERT(b);
    TEST_EXPECT_INT(rescan(b, dest_b, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.manifests, 3);
    TEST_EXPECT_INT(rep.objects, 3);
    TEST_EXPECT_INT(rep.imported, 3);
    TEST_EXPECT_INT(rep.known, 0);
    TEST_EXPECT_INT(rep.skipped, 0);
    TEST_EXPECT_INT(cJSON_GetArraySize(rep.notes), 3);
    TEST_EXPECT_INT(row_count(b), 3);

    struct store_plan *nightly = NULL;
    struct store_instance *inst = NULL;
    TEST_ASSERT(store_plan_get(b, "nightly", &nightly, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_instance_get(b, "default", &inst, err, sizeof err) == QB_OK);
    for (size_t i = 0; i < QB_ARRAY_LEN(objs); i++) {
        const struct obj *o = &objs[i];
        struct store_snapshot *row = row_by_key(b, o->key);
        TEST_EXPECT(row != NULL);
        if (!row)
            continue;
        TEST_EXPECT_STR(note_str(&rep, o->key, "result"), "imported");
        TEST_EXPECT_INT(row->destination_id, dest_b);
        TEST_EXPECT_STR(row->location, o->res.location); /* as storage_write_finish said */
        TEST_EXPECT_STR(row->sha256, o->res.sha256);
        TEST_EXPECT_INT(row->size_bytes, (int64_t)strlen(o->data));
        TEST_EXPECT_STR(row->kind, o->kind);
        if (o->collection)
            TEST_EXPECT_STR(row->collection, o->collection);
        else
            TEST_EXPECT(row->collection == NULL);
        TEST_EXPECT_INT(row->shard_id, -1);
        TEST_EXPECT_STR(row->qdrant_name, o->qdrant_snapshot);
        TEST_EXPECT_STR(row->qdrant_checksum, o->res.sha256);
        TEST_EXPECT_STR(row->qdrant_version, "1.13.0");
        TEST_EXPECT_INT(row->points_count, o->points_count);
        TEST_EXPECT_INT(row->created_at, o->created_epoch);
        TEST_EXPECT_INT(row->run_id, 0);      /* runs are not rebuilt */
        TEST_EXPECT_INT(row->verified_at, 0); /* nor verification */
        TEST_EXPECT_STR(row->instance_name, "default");
        TEST_EXPECT_INT(row->instance_id, inst->id);
        if (strcmp(o->plan, "nightly") == 0) {
            TEST_EXPECT_INT(row->plan_id, nightly->id);
            TEST_EXPECT_STR(row->plan_name, "nightly");
        } else {
            TEST_EXPECT_INT(row->plan_id, 0);
            TEST_EXPECT(row->plan_name == NULL);
        }
        /* A restore works from the rebuilt row: the object verifies and
         * reads back as the bytes that were backed up. */
        struct storage_object_info info;
        TEST_EXPECT_INT(storage_verify(st, row->storage_key, &info, err, sizeof err), QB_OK);
        TEST_EXPECT_STR(info.sha256, row->sha256);
        struct readback rb = {.len = 0};
        TEST_EXPECT_INT(storage_read(st, row->storage_key, 0, 0, readback_fn, &rb, err, sizeof err),
                        QB_OK);
        TEST_EXPECT(rb.len == strlen(o->data) && memcmp(rb.data, o->data, rb.len) == 0);
        TEST_EXPECT_INT(store_snapshot_set_verified(b, row->id, true, NULL, err, sizeof err),
                        QB_OK);
        store_snapshot_free(row);
    }
    /* Newest first, as restore picks "latest of plan + collection". */
    struct store_snapshot_filter f = {.plan = "nightly", .collection = "c1", .limit = 1};
    struct store_snapshot **latest = NULL;
    size_t n = 0;
    TEST_EXPECT_INT(store_snapshot_list(b, &f, &latest, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 1);
    if (n == 1)
        TEST_EXPECT_STR(latest[0]->storage_key, objs[1].key);
    store_snapshot_list_free(latest, n);
    rescan_report_free(&rep);

    /* Idempotent: nothing new the second time. */
    TEST_EXPECT_INT(rescan(b, dest_b, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.manifests, 3);
    TEST_EXPECT_INT(rep.imported, 0);
    TEST_EXPECT_INT(rep.known, 3);
    TEST_EXPECT_INT(rep.skipped, 0);
    TEST_EXPECT_INT(cJSON_GetArraySize(rep.notes), 0);
    TEST_EXPECT_INT(row_count(b), 3);
    rescan_report_free(&rep);

    for (size_t i = 0; i < QB_ARRAY_LEN(objs); i++)
        obj_done(&objs[i]);
    store_plan_free(nightly);
    store_instance_free(inst);
    store_close(b);
    storage_close(st);
    remove_dirs();
}

/* Rows the pipeline itself inserted are known, under their storage key or
 * (rows from before storage keys were recorded) their location. */
static void test_pipeline_rows_are_known(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest = 0, id = 0;
    struct rescan_report rep = {0};
    struct obj o1 = {
        "nightly", "collection", "c1", "one.snapshot", "one", 1, "2026-01-01T00:00:00Z",
        0,         "",           {0}};
    struct obj o2 = {
        "nightly", "collection", "c1", "two.snapshot", "two", 2, "2026-01-02T00:00:00Z",
        0,         "",           {0}};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(st && s);
    TEST_ASSERT(backup(st, &o1, 1) && backup(st, &o2, 2));
    struct store_plan *p = NULL;
    TEST_ASSERT(store_plan_get(s, "nightly", &p, err, sizeof err) == QB_OK);
    char inst[] = "default", kind[] = "collection", coll[] = "c1", empty[] = "";
    struct store_snapshot row = {.plan_id = p->id,
                                 .instance_id = p->instance_id,
                                 .instance_name = inst,
                                 .destination_id = dest,
                                 .kind = kind,
                                 .collection = coll,
                                 .shard_id = -1,
                                 .qdrant_name = o1.key,
                                 .location = o1.res.location,
                                 .storage_key = o1.key,
                                 .size_bytes = (int64_t)o1.res.size,
                                 .sha256 = o1.res.sha256,
                                 .points_count = -1,
                                 .created_at = 1};
    TEST_EXPECT_INT(store_snapshot_insert(s, &row, &id, err, sizeof err), QB_OK);
    /* A legacy row: same location, storage_key '' (migration 0002's default). */
    row.location = o2.res.location;
    row.storage_key = empty;
    row.sha256 = o2.res.sha256;
    TEST_EXPECT_INT(store_snapshot_insert(s, &row, &id, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 0);
    TEST_EXPECT_INT(rep.known, 2);
    TEST_EXPECT_INT(rep.skipped, 0);
    TEST_EXPECT_INT(row_count(s), 2);
    rescan_report_free(&rep);
    obj_done(&o1);
    obj_done(&o2);
    store_plan_free(p);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* Every manifest that does not describe its object exactly is skipped with
 * a reason; keys without a manifest are ignored. */
static void test_mismatches_are_skipped(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest = 0;
    struct rescan_report rep = {0};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    TEST_ASSERT(st);
    struct obj good = {
        "nightly", "collection", "c1", "good.snapshot", "good bytes", 5, "2026-03-01T10:00:00Z",
        0,         "",           {0}};
    TEST_ASSERT(backup(st, &good, 1));

    /* The object is missing (manifest only). */
    struct obj missing = good;
    TEST_ASSERT(backup(st, &missing, 2));
    TEST_ASSERT(storage_delete(st, missing.key, err, sizeof err) == QB_OK);
    TEST_ASSERT(put_manifest(st, missing.key, manifest_json(&missing)));

    /* Size differs: the object was replaced by longer bytes. */
    struct obj bigger = good;
    TEST_ASSERT(backup(st, &bigger, 3));
    struct storage_write_result tmp = {0};
    TEST_ASSERT(put(st, bigger.key, "good bytes, and more", 20, &tmp));
    free(tmp.location);

    /* Same size, other bytes: the recorded sha256 differs. */
    struct obj other = good;
    TEST_ASSERT(backup(st, &other, 4));
    memset(&tmp, 0, sizeof tmp);
    TEST_ASSERT(put(st, other.key, "GOOD BYTES", 10, &tmp));
    free(tmp.location);

    /* No recorded checksum (sidecar lost): imported, with a warning. */
    struct obj nosum = good;
    nosum.qdrant_snapshot = "nosum.snapshot";
    TEST_ASSERT(backup(st, &nosum, 5));
    char sidecar[512];
    snprintf(sidecar, sizeof sidecar, "%s/%s.sha256", destdir, nosum.key);
    TEST_ASSERT(unlink(sidecar) == 0);

    /* Manifests that are wrong in themselves; each object is fine. */
    struct {
        const char *name;
        const char *field; /* replaced member, or NULL: raw text */
        const char *value; /* string value; NULL: delete the member */
        const char *reason;
    } bad[] = {
        {"garbage", NULL, "this is { not json", "not valid JSON"},
        {"array", NULL, "[1, 2, 3]", "not a JSON object"},
        {"format", "format", "qbackup-manifest-v9", "format"},
        {"key", "key", "nightly/c1/run-1-good.snapshot", "key:"},
        {"sha", "sha256", "not-hex", "sha256"},
        {"nosize", "size", NULL, "size: missing"},
        {"kind", "kind", "incremental", "kind"},
        {"created", "created_at", "yesterday", "created_at"},
        {"feb30", "created_at", "2026-02-30T00:00:00Z", "created_at"},
        {"nocoll", "collection", NULL, "collection: missing"},
        {"noinst", "instance", NULL, "instance: missing"},
        {"nosnap", "qdrant_snapshot", "", "qdrant_snapshot: missing"},
        {"points", "points_count", "12", "points_count"},
        {"checksum", "qdrant_checksum",
         "0000000000000000000000000000000000000000000000000000000000000000", "qdrant_checksum"},
    };
    struct obj objs[QB_ARRAY_LEN(bad)];
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        objs[i] = good;
        objs[i].qdrant_snapshot = bad[i].name;
        TEST_ASSERT(backup(st, &objs[i], 10 + (int)i));
        if (!bad[i].field) {
            TEST_ASSERT(put_manifest_text(st, objs[i].key, bad[i].value));
            continue;
        }
        cJSON *m = manifest_json(&objs[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(m, bad[i].field);
        if (bad[i].value)
            cJSON_AddStringToObject(m, bad[i].field, bad[i].value);
        TEST_ASSERT(put_manifest(st, objs[i].key, m));
    }
    /* A full snapshot that names a collection. */
    struct obj full = good;
    full.kind = "full";
    full.collection = NULL;
    full.qdrant_snapshot = "full.snapshot";
    TEST_ASSERT(backup(st, &full, 30));
    cJSON *m = manifest_json(&full);
    cJSON_AddStringToObject(m, "collection", "c1");
    TEST_ASSERT(put_manifest(st, full.key, m));
    /* A size that is not an integer. */
    struct obj frac = good;
    frac.qdrant_snapshot = "frac.snapshot";
    TEST_ASSERT(backup(st, &frac, 31));
    m = manifest_json(&frac);
    cJSON_ReplaceItemInObjectCaseSensitive(m, "size", cJSON_CreateNumber(10.5));
    TEST_ASSERT(put_manifest(st, frac.key, m));
    /* A manifest too large to be one. */
    struct obj huge = good;
    huge.qdrant_snapshot = "huge.snapshot";
    TEST_ASSERT(backup(st, &huge, 32));
    char *pad = malloc(RESCAN_MANIFEST_MAX + 2);
    TEST_ASSERT(pad);
    memset(pad, ' ', RESCAN_MANIFEST_MAX + 1);
    pad[RESCAN_MANIFEST_MAX + 1] = '\0';
    TEST_ASSERT(put_manifest_text(st, huge.key, pad));
    free(pad);
    /* A manifest of a manifest. */
    TEST_ASSERT(put_manifest_text(st, "nightly/c1/run-1-good.snapshot.manifest.json", "{}"));
    /* Objects without manifests, sidecar-less or not, are ignored. */
    memset(&tmp, 0, sizeof tmp);
    TEST_ASSERT(put(st, "stray/object.bin", "stray", 5, &tmp));
    free(tmp.location);

    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(s);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    size_t nbad = QB_ARRAY_LEN(bad);
    TEST_EXPECT_INT(rep.imported, 2);
    TEST_EXPECT_INT(rep.known, 0);
    TEST_EXPECT_INT(rep.skipped, 3 + (int64_t)nbad + 4);
    TEST_EXPECT_INT(rep.manifests, rep.imported + rep.skipped);
    TEST_EXPECT_INT(rep.objects, 4 + (int64_t)nbad + 3 + 1);
    TEST_EXPECT_INT(row_count(s), 2);
    TEST_EXPECT_STR(note_str(&rep, good.key, "result"), "imported");
    TEST_EXPECT(note_str(&rep, good.key, "warning") == NULL);
    TEST_EXPECT_STR(note_str(&rep, nosum.key, "result"), "imported");
    TEST_EXPECT(note_str(&rep, nosum.key, "warning") != NULL);
    TEST_EXPECT(reason_has(&rep, missing.key, "missing"));
    TEST_EXPECT(reason_has(&rep, bigger.key, "bytes"));
    TEST_EXPECT(reason_has(&rep, other.key, "sha256"));
    for (size_t i = 0; i < nbad; i++)
        TEST_EXPECT(reason_has(&rep, objs[i].key, bad[i].reason));
    TEST_EXPECT(reason_has(&rep, full.key, "collection"));
    TEST_EXPECT(reason_has(&rep, frac.key, "size"));
    char limit[32];
    snprintf(limit, sizeof limit, "%d", RESCAN_MANIFEST_MAX);
    TEST_EXPECT(reason_has(&rep, huge.key, limit));
    TEST_EXPECT(reason_has(&rep, "nightly/c1/run-1-good.snapshot.manifest.json", "manifest"));
    TEST_EXPECT(note_for(&rep, "stray/object.bin") == NULL);
    rescan_report_free(&rep);

    /* Skips are not remembered: the same verdicts again, nothing imported. */
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 0);
    TEST_EXPECT_INT(rep.known, 2);
    TEST_EXPECT_INT(rep.skipped, 3 + (int64_t)nbad + 4);
    TEST_EXPECT_INT(row_count(s), 2);
    rescan_report_free(&rep);
    struct obj *all[] = {&good, &missing, &bigger, &other, &nosum, &full, &frac, &huge};
    for (size_t i = 0; i < QB_ARRAY_LEN(all); i++)
        obj_done(all[i]);
    for (size_t i = 0; i < nbad; i++)
        obj_done(&objs[i]);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* Plans link by name, but not a plan of that name that stores elsewhere
 * (its retention would delete through the other destination), nor for a
 * safety snapshot (which has no retention) or a manifest without a plan. */
static void test_plan_links(void)
{
    int64_t dest = 0;
    struct rescan_report rep = {0};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    TEST_ASSERT(st);
    struct obj o = {"moved", "collection",           "c1", "m.snapshot", "moved bytes",
                    -1,      "2026-03-01T10:00:00Z", 0,    "",           {0}};
    struct obj safety = {"nightly", "collection",           "c1", "s.snapshot", "safety bytes",
                         4,         "2026-03-02T10:00:00Z", 0,    "",           {0}};
    struct obj noplan = {"nightly", "collection",           "c1", "n.snapshot", "no plan",
                         4,         "2026-03-03T10:00:00Z", 0,    "",           {0}};
    TEST_ASSERT(backup(st, &o, 1));
    TEST_ASSERT(backup_under(st, "_safety/", &safety, 2));
    TEST_ASSERT(backup(st, &noplan, 3));
    cJSON *m = manifest_json(&noplan);
    cJSON_DeleteItemFromObjectCaseSensitive(m, "plan");
    TEST_ASSERT(put_manifest(st, noplan.key, m));
    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(s);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 3);
    struct store_snapshot *row = row_by_key(s, o.key);
    TEST_ASSERT(row);
    TEST_EXPECT_INT(row->plan_id, 0);
    TEST_EXPECT_INT(row->points_count, -1);
    const char *warning = note_str(&rep, o.key, "warning");
    TEST_EXPECT(warning && strstr(warning, "another destination"));
    store_snapshot_free(row);
    row = row_by_key(s, safety.key);
    TEST_EXPECT(row && row->plan_id == 0 && row->plan_name == NULL);
    store_snapshot_free(row);
    row = row_by_key(s, noplan.key);
    TEST_EXPECT(row && row->plan_id == 0);
    store_snapshot_free(row);
    rescan_report_free(&rep);
    obj_done(&o);
    obj_done(&safety);
    obj_done(&noplan);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* A key a running backup still has in flight is left to the pipeline,
 * which catalogues (or discards) it itself. */
static void test_in_flight_key_left_alone(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest = 0, run_id = 0;
    bool existing = false;
    struct rescan_report rep = {0};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    TEST_ASSERT(st);
    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(s);
    struct obj o = {
        "nightly", "collection", "c1", "busy.snapshot", "busy bytes", 3, "2026-03-01T10:00:00Z",
        0,         "",           {0}};
    TEST_ASSERT(backup(st, &o, 1));
    struct store_plan *p = NULL;
    struct store_run *run = NULL;
    TEST_ASSERT(store_plan_get(s, "nightly", &p, err, sizeof err) == QB_OK);
    struct store_run_new rn = {.kind = "backup",
                               .plan_id = p->id,
                               .plan_name = "nightly",
                               .trigger = "api",
                               .request = "{}"};
    TEST_ASSERT(store_run_create(s, &rn, &run_id, &existing, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_run_claim(s, 0, "test-node", &run, err, sizeof err) == QB_OK && run);
    char *inflight = xasprintf("{\"instance\":\"default\",\"scope\":\"collection\","
                               "\"destination_id\":%lld,\"storage_key\":\"%s\"}",
                               (long long)dest, o.key);
    TEST_ASSERT(store_run_set_inflight(s, run->id, inflight, err, sizeof err) == QB_OK);
    free(inflight);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 0);
    TEST_EXPECT(reason_has(&rep, o.key, "running backup"));
    rescan_report_free(&rep);
    /* Once the run is over (here: failed without cleaning up), it is an
     * ordinary orphan and is imported. */
    TEST_ASSERT(store_run_finish(s, run->id, "failed", NULL, "x", err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 1);
    rescan_report_free(&rep);
    store_run_free(run);
    store_plan_free(p);
    obj_done(&o);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* Errors: unknown destination, cancellation; notes stay bounded. */
static void test_errors_and_bounds(void)
{
    int64_t dest = 0;
    struct rescan_report rep = {0};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    struct store *s = new_catalogue("a.db", false, &dest);
    TEST_ASSERT(st && s);
    struct obj o = {"nightly", "collection",           "c1", "x.snapshot", "x",
                    1,         "2026-03-01T10:00:00Z", 0,    "",           {0}};
    TEST_ASSERT(backup(st, &o, 1));
    TEST_EXPECT_INT(rescan(s, 9999, st, NULL, &rep), QB_ERR_NOT_FOUND);
    rescan_report_free(&rep);
    atomic_bool cancel = true;
    TEST_EXPECT_INT(rescan(s, dest, st, &cancel, &rep), QB_ERR_CANCELLED);
    TEST_EXPECT_INT(rep.imported, 0);
    rescan_report_free(&rep);
    TEST_EXPECT_INT(row_count(s), 0);
    /* Without plans nothing links, but everything imports. */
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 1);
    rescan_report_free(&rep);
    /* More skips than notes kept. */
    for (int i = 0; i < RESCAN_NOTES_MAX + 5; i++) {
        char key[64];
        snprintf(key, sizeof key, "junk/%04d", i);
        TEST_ASSERT(put_manifest_text(st, key, "junk"));
    }
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.skipped, RESCAN_NOTES_MAX + 5);
    TEST_EXPECT_INT(cJSON_GetArraySize(rep.notes), RESCAN_NOTES_MAX);
    TEST_EXPECT_INT(rep.notes_dropped, 5);
    rescan_report_free(&rep);
    rescan_report_free(NULL);
    obj_done(&o);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* A set whose shards are all there comes back as one row, exactly as
 * backup_set_collection() catalogued it; its shard objects never become
 * rows of their own, and a second rescan adds nothing. */
static enum qb_err refuse_check(void *ud, char *err, size_t errlen)
{
    (void)ud;
    return qb_failf(QB_ERR_CANCELLED, err, errlen, "run cancelled");
}

static void test_set_imported(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest = 0;
    struct rescan_report rep = {0};
    struct set_obj o = {.collection = "products",
                        .nshards = 3,
                        .data = {"shard zero bytes", "shard one", "shard two, longer"}};
    struct obj single = {
        "nightly", "collection", "c1", "single.snapshot", "single", 2, "2026-03-01T10:00:00Z",
        0,         "",           {0}};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    TEST_ASSERT(st);
    TEST_ASSERT(backup_set(st, &o, 4));
    TEST_ASSERT(backup(st, &single, 5));
    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(s);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.manifests, 2);
    TEST_EXPECT_INT(rep.objects, 3 + 1); /* the shard objects and the single object */
    TEST_EXPECT_INT(rep.imported, 2);
    TEST_EXPECT_INT(rep.skipped, 0);
    TEST_EXPECT_INT(row_count(s), 2);
    TEST_EXPECT_STR(note_str(&rep, o.key, "result"), "imported");
    TEST_EXPECT(note_str(&rep, o.key, "warning") == NULL);
    for (int i = 0; i < o.nshards; i++)
        TEST_EXPECT(row_by_key(s, o.shard_keys[i]) == NULL);
    rescan_report_free(&rep);

    struct store_plan *nightly = NULL;
    struct store_instance *inst = NULL;
    TEST_ASSERT(store_plan_get(s, "nightly", &nightly, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_instance_get(s, "default", &inst, err, sizeof err) == QB_OK);
    struct store_snapshot *row = row_by_key(s, o.key);
    TEST_ASSERT(row);
    char sha[65], *location = xasprintf("%s/%s", storage_url(st), o.key);
    sigv4_sha256_hex(o.manifest, strlen(o.manifest), sha);
    TEST_EXPECT_STR(row->kind, "collection");
    TEST_EXPECT_STR(row->layout, "shards");
    TEST_EXPECT_STR(row->backup_set, o.set_text); /* byte for byte */
    TEST_EXPECT(strstr(row->backup_set, "\"peer_id\":" BIG_PEER) != NULL);
    TEST_EXPECT(strstr(row->backup_set, "\"shard_key\":\"1234567890123456\"") != NULL);
    TEST_EXPECT_STR(row->storage_key, o.key);
    TEST_EXPECT_STR(row->location, location);
    TEST_EXPECT_STR(row->sha256, sha);
    TEST_EXPECT_INT(row->size_bytes, set_size(&o));
    TEST_EXPECT_STR(row->qdrant_name, "shards");
    TEST_EXPECT(row->qdrant_checksum == NULL);
    TEST_EXPECT_STR(row->qdrant_version, "1.13.0");
    TEST_EXPECT_STR(row->collection, "products");
    TEST_EXPECT_INT(row->points_count, 10 + 11 + 12);
    TEST_EXPECT_INT(row->shard_id, -1);
    TEST_EXPECT_INT(row->verified_at, 0);
    TEST_EXPECT_INT(row->run_id, 0);
    TEST_EXPECT_INT(row->created_at, SET_EPOCH);
    TEST_EXPECT_INT(row->plan_id, nightly->id);
    TEST_EXPECT_INT(row->instance_id, inst->id);
    TEST_EXPECT_INT(row->destination_id, dest);
    /* What restores, verify and deletion read from the row works. */
    cJSON *set = json_parse_exact(row->backup_set, strlen(row->backup_set));
    uint64_t peer = 0;
    const cJSON *shard2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(set, "shards"), 2);
    TEST_EXPECT(json_u64(cJSON_GetObjectItemCaseSensitive(shard2, "peer_id"), &peer) &&
                peer == 17893456789012345678ULL);
    cJSON_Delete(set);
    struct snapshot_verdict v;
    snapshot_judge(s, st, row, &v, err, sizeof err);
    TEST_EXPECT(v.set && !v.failed && !v.unreadable);
    /* A check that refuses (a cancelled run) stops the read: no verdict. */
    snapshot_judge_checked(s, st, row, refuse_check, NULL, &v, err, sizeof err);
    TEST_EXPECT_INT(v.stopped, QB_ERR_CANCELLED);
    TEST_EXPECT(!v.failed && !v.unreadable && !v.decoded);
    TEST_EXPECT_STR(err, "run cancelled");
    char **keys = NULL;
    size_t nkeys = 0;
    backup_set_keys(row, &keys, &nkeys);
    TEST_EXPECT_INT(nkeys, o.nshards + 1);
    TEST_EXPECT(nkeys == 4 && strcmp(keys[1], o.shard_keys[1]) == 0);
    qdrant_strings_free(keys, nkeys);
    store_snapshot_free(row);
    free(location);

    /* Again: recognised by destination and storage key, nothing new. */
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 0);
    TEST_EXPECT_INT(rep.known, 2);
    TEST_EXPECT_INT(rep.skipped, 0);
    TEST_EXPECT_INT(row_count(s), 2);
    rescan_report_free(&rep);
    store_plan_free(nightly);
    store_instance_free(inst);
    set_done(&o);
    obj_done(&single);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* A set is imported only when every shard object is there as recorded, and
 * only from a manifest that describes it exactly. */
static void test_set_mismatches_are_skipped(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest = 0;
    struct rescan_report rep = {0};
    struct storage_write_result tmp = {0};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    TEST_ASSERT(st);
#define SET_OF(name)                                                                               \
    {                                                                                              \
        .collection = name, .nshards = 2, .data = { "first shard", "second shard" }                \
    }
    /* Shard objects that do not match. */
    struct set_obj missing = SET_OF("missing"), bigger = SET_OF("bigger"), other = SET_OF("other"),
                   nosum = SET_OF("nosum");
    TEST_ASSERT(backup_set(st, &missing, 1));
    TEST_ASSERT(storage_delete(st, missing.shard_keys[1], err, sizeof err) == QB_OK);
    TEST_ASSERT(backup_set(st, &bigger, 2));
    TEST_ASSERT(put(st, bigger.shard_keys[0], "first shard, and more", 21, &tmp));
    QB_FREE(tmp.location);
    TEST_ASSERT(backup_set(st, &other, 3));
    TEST_ASSERT(put(st, other.shard_keys[1], "SECOND SHARD", 12, &tmp));
    QB_FREE(tmp.location);
    /* No recorded checksum for one shard: imported, with a warning. */
    TEST_ASSERT(backup_set(st, &nosum, 4));
    char sidecar[600];
    snprintf(sidecar, sizeof sidecar, "%s/%s.sha256", destdir, nosum.shard_keys[0]);
    TEST_ASSERT(unlink(sidecar) == 0);

    /* Manifests wrong in themselves; every shard object is fine. */
    struct {
        const char *name;
        const char *shard_field; /* member of shard 0 replaced, or NULL */
        const char *field;       /* else member of the manifest ("set.x": of the set) */
        const char *raw;         /* new value as JSON text; NULL: delete the member */
        const char *reason;
    } bad[] = {
        {"outside", "key", NULL, "\"nightly/elsewhere/shard-0.snapshot\"", "shards[0].key"},
        {"sumsize", NULL, "size", "1", "add up to"},
        {"peerneg", "peer_id", NULL, "-1", "peer_id"},
        {"peerfrac", "peer_id", NULL, "1.5", "peer_id"},
        {"nopeer", "peer_id", NULL, NULL, "peer_id"},
        {"upper", "sha256", NULL,
         "\"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\"", "lower-case"},
        {"checksum", "qdrant_checksum", NULL,
         "\"0000000000000000000000000000000000000000000000000000000000000000\"", "qdrant_checksum"},
        {"shardsize", "size", NULL, "\"12\"", "shards[0].size"},
        {"noset", NULL, "set", NULL, "set: missing"},
        {"setfmt", NULL, "set.format", "2", "set.format"},
        {"noconfig", NULL, "set.config", NULL, "set.config"},
        {"noshards", NULL, "set.shards", "[]", "empty"},
        {"layout", NULL, "layout", "\"weird\"", "layout"},
        {"fullset", NULL, "kind", "\"full\"", "kind"},
        {"shardid", NULL, "shard_id", "3", "shard_id"},
    };
    struct set_obj objs[QB_ARRAY_LEN(bad)];
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        objs[i] = (struct set_obj)SET_OF(bad[i].name);
        TEST_ASSERT(backup_set(st, &objs[i], 10 + (int)i));
        cJSON *m = set_manifest_json(&objs[i], set_json(&objs[i]));
        cJSON *parent = bad[i].shard_field ? manifest_shard(m, 0) : m;
        const char *field = bad[i].shard_field ? bad[i].shard_field : bad[i].field;
        if (strncmp(field, "set.", 4) == 0) {
            parent = cJSON_GetObjectItemCaseSensitive(m, "set");
            field += 4;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(parent, field);
        if (bad[i].raw)
            cJSON_AddRawToObject(parent, field, bad[i].raw);
        TEST_ASSERT(rewrite_set_manifest(st, &objs[i], m));
    }
    /* The same shard listed twice. */
    struct set_obj twice = SET_OF("twice");
    TEST_ASSERT(backup_set(st, &twice, 40));
    cJSON *m = set_manifest_json(&twice, set_json(&twice));
    cJSON_ReplaceItemInObjectCaseSensitive(manifest_shard(m, 1), "shard_id", cJSON_CreateNumber(0));
    cJSON_ReplaceItemInObjectCaseSensitive(manifest_shard(m, 1), "key",
                                           cJSON_CreateString(twice.shard_keys[0]));
    TEST_ASSERT(rewrite_set_manifest(st, &twice, m));
    /* A manifest that names a shard object as a snapshot of its own. */
    struct obj stray = {
        "nightly", "collection", "c1", "stray.snapshot", "x", 1, "2026-03-01T10:00:00Z",
        0,         "",           {0}};
    snprintf(stray.key, sizeof stray.key, "%.255s", twice.shard_keys[0]);
    stray.res.size = strlen("first shard");
    snprintf(stray.res.sha256, sizeof stray.res.sha256, "%s", twice.res[0].sha256);
    TEST_ASSERT(put_manifest(st, stray.key, manifest_json(&stray)));

    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(s);
    for (int round = 0; round < 2; round++) {
        /* The verdicts are the same the second time, and nothing doubles. */
        TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
        TEST_EXPECT_INT(rep.imported, round == 0 ? 1 : 0);
        TEST_EXPECT_INT(rep.known, round == 0 ? 0 : 1);
        TEST_EXPECT_INT(rep.skipped, 3 + (int64_t)QB_ARRAY_LEN(bad) + 2);
        TEST_EXPECT_INT(row_count(s), 1);
        TEST_EXPECT(reason_has(&rep, missing.key, "shard 1"));
        TEST_EXPECT(reason_has(&rep, missing.key, "missing"));
        TEST_EXPECT(reason_has(&rep, bigger.key, "shard 0"));
        TEST_EXPECT(reason_has(&rep, bigger.key, "21 bytes"));
        TEST_EXPECT(reason_has(&rep, other.key, "sha256"));
        for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++)
            TEST_EXPECT(reason_has(&rep, objs[i].key, bad[i].reason));
        TEST_EXPECT(reason_has(&rep, twice.key, "listed twice"));
        TEST_EXPECT(reason_has(&rep, stray.key, "shard object of a backup set"));
        if (round == 0) {
            TEST_EXPECT_STR(note_str(&rep, nosum.key, "result"), "imported");
            const char *w = note_str(&rep, nosum.key, "warning");
            TEST_EXPECT(w && strstr(w, "1 of 2 shard objects"));
        }
        rescan_report_free(&rep);
    }
    struct set_obj *all[] = {&missing, &bigger, &other, &nosum, &twice};
    for (size_t i = 0; i < QB_ARRAY_LEN(all); i++)
        set_done(all[i]);
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++)
        set_done(&objs[i]);
#undef SET_OF
    store_close(s);
    storage_close(st);
    remove_dirs();
}

/* A set a running run is still writing (its inflight record, kind "set",
 * names the set key) is left to that run. */
static void test_set_in_flight_left_alone(void)
{
    char err[QB_ERRBUF_SIZE];
    int64_t dest = 0, run_id = 0;
    bool existing = false;
    struct rescan_report rep = {0};
    TEST_ASSERT(setup_dirs());
    struct storage *st = open_dest();
    struct store *s = new_catalogue("a.db", true, &dest);
    TEST_ASSERT(st && s);
    struct set_obj o = {.collection = "busy", .nshards = 1, .data = {"busy shard"}};
    TEST_ASSERT(backup_set(st, &o, 1));
    struct store_plan *p = NULL;
    struct store_run *run = NULL;
    TEST_ASSERT(store_plan_get(s, "nightly", &p, err, sizeof err) == QB_OK);
    struct store_run_new rn = {.kind = "backup",
                               .plan_id = p->id,
                               .plan_name = "nightly",
                               .trigger = "api",
                               .request = "{}"};
    TEST_ASSERT(store_run_create(s, &rn, &run_id, &existing, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_run_claim(s, 0, "test-node", &run, err, sizeof err) == QB_OK && run);
    char *inflight = xasprintf("{\"kind\":\"set\",\"instance\":\"default\",\"collection\":\"busy\","
                               "\"destination_id\":%lld,\"set_key\":\"%s\",\"storage_keys\":"
                               "[\"%s\"],\"shard_snapshots\":[]}",
                               (long long)dest, o.key, o.shard_keys[0]);
    TEST_ASSERT(store_run_set_inflight(s, run->id, inflight, err, sizeof err) == QB_OK);
    free(inflight);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 0);
    TEST_EXPECT(reason_has(&rep, o.key, "running backup"));
    rescan_report_free(&rep);
    TEST_ASSERT(store_run_finish(s, run->id, "failed", NULL, "x", err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(rescan(s, dest, st, NULL, &rep), QB_OK);
    TEST_EXPECT_INT(rep.imported, 1);
    rescan_report_free(&rep);
    store_run_free(run);
    store_plan_free(p);
    set_done(&o);
    store_close(s);
    storage_close(st);
    remove_dirs();
}

int main(void)
{
    TEST_RUN(test_rebuild_after_losing_the_catalogue);
    TEST_RUN(test_pipeline_rows_are_known);
    TEST_RUN(test_mismatches_are_skipped);
    TEST_RUN(test_plan_links);
    TEST_RUN(test_in_flight_key_left_alone);
    TEST_RUN(test_errors_and_bounds);
    TEST_RUN(test_set_imported);
    TEST_RUN(test_set_mismatches_are_skipped);
    TEST_RUN(test_set_in_flight_left_alone);
    remove_dirs();
    return TEST_RESULT();
}
