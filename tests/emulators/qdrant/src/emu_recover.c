/* SPDX-License-Identifier: Apache-2.0 */
/* emu_recover.c -- snapshot recovery (see emu_recover.h): unpacking
 * archives into storage layout, installing shard replicas, and the jobs
 * behind routes 5, 6, 16 and 17 (locations are resolved by emu_fetch.c). */
#include "emu_recover.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_api_snapshots.h"
#include "emu_collcfg.h"
#include "emu_fetch.h"
#include "emu_meta.h"
#include "emu_ops.h"
#include "emu_reply.h"
#include "emu_snapshot.h"
#include "emu_store.h"
#include "emu_sync.h"
#include "emu_tar.h"
#include "emu_topo.h"
#include "emu_util.h"

/* ---- unpacking ---- */

/* Moves every entry of from/ into to/. */
static int move_entries(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d)
        return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        char a[EMU_PATH_MAX], b[EMU_PATH_MAX];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (emu_pathf(a, sizeof(a), "%s/%s", from, de->d_name) != 0 ||
            emu_pathf(b, sizeof(b), "%s/%s", to, de->d_name) != 0 || rename(a, b) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

/* Turns segments/<uuid>.tar (stored format) and segments/<uuid>/files/
 * (stream format) into segments/<uuid>/<files> (storage layout). */
static int unpack_segments(const char *shard_dir, struct emu_status *st)
{
    char segs[EMU_PATH_MAX];
    if (emu_pathf(segs, sizeof(segs), "%s/segments", shard_dir) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    DIR *d = opendir(segs);
    if (!d)
        return 0;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char p[EMU_PATH_MAX], dest[EMU_PATH_MAX], work[EMU_PATH_MAX], files[EMU_PATH_MAX];
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || emu_pathf(p, sizeof(p), "%s/%s", segs, de->d_name) != 0)
            continue;
        if (emu_is_dir(p)) {
            if (emu_pathf(files, sizeof(files), "%s/files", p) == 0 && emu_is_dir(files)) {
                if (move_entries(files, p) != 0 || rmdir(files) != 0)
                    rc = emu_fail(st, 500, "Service internal error: can't unpack segment");
            }
            continue;
        }
        if (n <= 4 || strcmp(de->d_name + n - 4, ".tar") != 0)
            continue;
        if (emu_pathf(dest, sizeof(dest), "%s/%.*s", segs, (int)(n - 4), de->d_name) != 0 ||
            emu_pathf(work, sizeof(work), "%s.unpack", dest) != 0 ||
            emu_pathf(files, sizeof(files), "%s/snapshot/files", work) != 0 ||
            emu_mkdirs(work) != 0 || emu_mkdirs(dest) != 0) {
            rc = emu_fail(st, 500, "Service internal error: can't unpack segment");
            break;
        }
        rc = emu_tar_extract(p, work, st);
        if (rc == 0 && emu_is_dir(files) && move_entries(files, dest) != 0)
            rc = emu_fail(st, 500, "Service internal error: can't unpack segment");
        emu_rm_rf(work);
        unlink(p);
    }
    closedir(d);
    return rc;
}

static int make_workdir(char *buf, size_t size, struct emu_status *st)
{
    char uuid[37];
    emu_uuid4(uuid);
    if (emu_pathf(buf, size, "%s/recover-%s", emu_cfg()->tmp_dir, uuid) != 0 ||
        emu_mkdirs(buf) != 0)
        return emu_fail(st, 500, "Service internal error: can't create temp directory");
    return 0;
}

/* The archive's replica_state.json of shard folder dir says it holds data. */
static int folder_is_local(const char *dir)
{
    char p[EMU_PATH_MAX];
    if (emu_pathf(p, sizeof(p), "%s/replica_state.json", dir) != 0)
        return 0;
    cJSON *rs = emu_json_load(p);
    int local = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rs, "is_local"));
    cJSON_Delete(rs);
    return local;
}

/* Collection::restore_snapshot: standalone, every shard must hold data. */
static int check_local_mode(const char *work, struct emu_status *st)
{
    if (emu_cfg()->cluster_enabled)
        return 0;
    DIR *d = opendir(work);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && d && (de = readdir(d)) != NULL) {
        char p[EMU_PATH_MAX];
        uint64_t sid;
        if (emu_u64_parse(de->d_name, &sid) != 0 ||
            emu_pathf(p, sizeof(p), "%s/%s", work, de->d_name) != 0 || !emu_is_dir(p))
            continue;
        if (!folder_is_local(p))
            rc = emu_fail(st, 500,
                          "Service internal error: Can't restore snapshot in local mode with "
                          "missing data at shard: %s",
                          p);
    }
    if (d)
        closedir(d);
    return rc;
}

/* Installs one unpacked shard folder as this peer's replica of coll/sid and
 * settles replica states.  The sync lock keeps a reconcile from clearing
 * data of a shard the state does not yet say we host. */
static int install_replica(const char *coll, unsigned sid, const char *dir, enum emu_priority prio,
                           int collection_level, struct emu_status *st)
{
    int rc = unpack_segments(dir, st);
    if (rc == 0)
        rc = emu_store_validate_dir(dir, st);
    if (rc != 0)
        return rc;
    emu_sync_lock();
    rc = emu_ops_recover_adopt(coll, sid, st);
    if (rc == 0)
        rc = emu_store_install_shard(coll, sid, dir, st);
    if (rc == 0)
        rc = emu_ops_recover_activate(coll, sid, prio, collection_level, st);
    emu_sync_unlock();
    return rc;
}

static int cmp_sid(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* Shard ids of coll in the cluster state, sorted; returns how many. */
static size_t state_shards(const char *coll, unsigned *ids, size_t max, cJSON **config)
{
    cJSON *state = emu_meta_get();
    const cJSON *c = emu_topo_coll(state, coll);
    size_t n = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(c))
    {
        if (n < max)
            ids[n++] = emu_topo_shard_id(s);
    }
    *config = c ? cJSON_Duplicate(emu_topo_config(c), 1) : NULL;
    cJSON_Delete(state);
    qsort(ids, n, sizeof(*ids), cmp_sid);
    return n;
}

/* recover.rs registers the archive's payload_index.json in consensus when
 * it creates the collection (and only then: an existing collection keeps
 * its schema). */
static int register_indexes(const char *coll, const char *work, struct emu_status *st)
{
    char p[EMU_PATH_MAX];
    cJSON *pi =
        emu_pathf(p, sizeof(p), "%s/payload_index.json", work) == 0 ? emu_json_load(p) : NULL;
    int rc = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(pi, "schema"))
    {
        if (rc == 0)
            rc = emu_ops_index(coll, f->string, f, st);
    }
    cJSON_Delete(pi);
    return rc;
}

/* Whether the cluster state lists a replica of coll/sid on this peer:
 * recover.rs recovers only those ("Shard is not on this node, skip"). */
static int hosts_shard(const char *coll, unsigned sid)
{
    cJSON *state = emu_meta_get();
    const cJSON *s = emu_topo_shard(emu_topo_coll(state, coll), sid);
    int mine = s && emu_topo_replica(s, emu_cfg()->peer_id) != NULL;
    cJSON_Delete(state);
    return mine;
}

/* Creates the collection from the archive's config.json when it is missing
 * (startup restores keep its shard keys, as Qdrant's CLI copies the whole
 * directory); otherwise checks compatibility. */
static int ensure_collection(const char *coll, const char *work, int startup, struct emu_status *st)
{
    char p[EMU_PATH_MAX];
    cJSON *snap = emu_pathf(p, sizeof(p), "%s/config.json", work) == 0 ? emu_json_load(p) : NULL;
    if (!cJSON_IsObject(snap)) {
        cJSON_Delete(snap);
        return emu_fail(st, 400,
                        "Wrong input: Snapshot archive does not contain a collection config");
    }
    unsigned ids[1];
    cJSON *current = NULL;
    state_shards(coll, ids, 0, &current);
    int rc = 0;
    if (current) {
        rc = emu_collcfg_compatible(current, snap, st);
        cJSON_Delete(snap);
    } else {
        char uuid[37];
        emu_uuid4(uuid); /* a new collection, whatever the archive's was */
        cJSON_DeleteItemFromObjectCaseSensitive(snap, "uuid");
        cJSON_AddStringToObject(snap, "uuid", uuid);
        cJSON *mapping = NULL;
        if (startup && emu_pathf(p, sizeof(p), "%s/shard_key_mapping.json", work) == 0)
            mapping = emu_json_load(p);
        rc = emu_ops_create(coll, snap, mapping, st);
        cJSON_Delete(mapping);
        if (rc == 0)
            rc = register_indexes(coll, work, st);
        else if (st->http == 409)
            rc = 0; /* created meanwhile by someone else: recover into it */
    }
    cJSON_Delete(current);
    return rc;
}

int emu_recover_collection_file(const char *coll, const char *archive, enum emu_priority prio,
                                int startup, struct emu_status *st)
{
    char work[EMU_PATH_MAX];
    if (make_workdir(work, sizeof(work), st) != 0)
        return -1;
    int rc = emu_tar_extract(archive, work, st);
    char p[EMU_PATH_MAX];
    if (rc == 0 && (emu_pathf(p, sizeof(p), "%s/config.json", work) != 0 || !emu_is_file(p)))
        rc =
            emu_fail(st, 400, "Wrong input: Snapshot archive does not contain a collection config");
    if (rc == 0)
        rc = check_local_mode(work, st);
    if (rc == 0)
        rc = ensure_collection(coll, work, startup, st);
    cJSON *previous = NULL;
    if (rc == 0)
        rc = emu_ops_recover_begin(coll, &previous, st);
    unsigned ids[4096];
    cJSON *config = NULL;
    size_t n = rc == 0 ? state_shards(coll, ids, sizeof(ids) / sizeof(ids[0]), &config) : 0;
    cJSON_Delete(config);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char dir[EMU_PATH_MAX], cfgp[EMU_PATH_MAX];
        if (emu_pathf(dir, sizeof(dir), "%s/%u", work, ids[i]) != 0 ||
            emu_pathf(cfgp, sizeof(cfgp), "%s/shard_config.json", dir) != 0)
            rc = emu_fail(st, 500, "Service internal error: path too long");
        else if (!emu_is_file(cfgp)) /* check_shard_path */
            rc =
                emu_fail(st, 500, "Service internal error: No shard found: %u at %s", ids[i], work);
        else if (!emu_store_folder_has_data(dir)) /* "Shard N is not in snapshot" */
            emu_ops_recover_revert(coll, ids[i], previous);
        else if (emu_cfg()->cluster_enabled && !startup && !hosts_shard(coll, ids[i]))
            continue; /* another peer's shard: its data is not restored here */
        else
            rc = install_replica(coll, ids[i], dir, prio, 1, st);
    }
    cJSON_Delete(previous);
    emu_rm_rf(work);
    return rc;
}

static int recover_shard_file(const char *coll, unsigned sid, const char *archive,
                              enum emu_priority prio, struct emu_status *st)
{
    char work[EMU_PATH_MAX];
    if (make_workdir(work, sizeof(work), st) != 0)
        return -1;
    int rc = emu_tar_extract(archive, work, st);
    if (rc == 0 && !emu_cfg()->cluster_enabled && !folder_is_local(work))
        rc = emu_fail(st, 500,
                      "Service internal error: Can't restore snapshot in local mode with missing "
                      "data at shard: %s",
                      work);
    if (rc == 0 && !emu_store_folder_has_data(work))
        rc = emu_fail(st, 400, "Bad request: Invalid snapshot");
    if (rc == 0)
        rc = install_replica(coll, sid, work, prio, 0, st);
    emu_rm_rf(work);
    return rc;
}

/* ---- jobs ---- */

enum rec_kind { REC_LOCATION = 5, REC_UPLOAD = 6, REC_SHARD_LOCATION = 16, REC_SHARD_UPLOAD = 17 };

struct rec_job {
    enum rec_kind kind;
    enum emu_priority prio;
    char *coll;
    unsigned shard;
    char *location;
    char *checksum;
    char *api_key;
    char *upload;   /* uploaded file; deleted by the job unless kept */
    char *filename; /* client's file name (route 6) */
};

static char *dup_opt(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void job_free(struct rec_job *j)
{
    if (j->upload)
        unlink(j->upload);
    free(j->coll);
    free(j->location);
    free(j->checksum);
    free(j->api_key);
    free(j->upload);
    free(j->filename);
    free(j);
}

/* Routes 5/16: a JSON-body checksum; labels as in Qdrant's recover.rs. */
static int verify_body_checksum(const char *path, const char *given, struct emu_status *st)
{
    char hex[65];
    if (!given)
        return 0;
    if (emu_sha256_file(path, hex) != 0)
        return emu_fail(st, 500, "Service internal error: can't hash snapshot");
    if (!emu_hashes_equal(hex, given))
        return emu_fail(st, 400, "Wrong input: Snapshot checksum mismatch: expected %s, got %s",
                        given, hex);
    return 0;
}

/* Routes 6/17: the query checksum; Qdrant swaps the labels here. */
static int verify_upload_checksum(const char *path, const char *given, struct emu_status *st)
{
    char hex[65];
    if (!given)
        return 0;
    if (emu_sha256_file(path, hex) != 0)
        return emu_fail(st, 500, "Service internal error: can't hash snapshot");
    if (!emu_hashes_equal(hex, given))
        return emu_fail(st, 400, "Checksum mismatch: expected %s, actual %s", hex, given);
    return 0;
}

/* Route 6 keeps the upload as snapshots/{c}/<file name or UUID>. */
static int keep_upload(struct rec_job *j, char *path, size_t size, struct emu_status *st)
{
    char dir[EMU_PATH_MAX], uuid[37];
    const char *base = j->filename ? strrchr(j->filename, '/') : NULL;
    base = base ? base + 1 : j->filename;
    if (!base || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        emu_uuid4(uuid);
        base = uuid;
    }
    if (emu_snap_dir(EMU_SNAP_COLLECTION, j->coll, 0, dir, sizeof(dir)) != 0 ||
        emu_mkdirs(dir) != 0 || emu_pathf(path, size, "%s/%s", dir, base) != 0 ||
        emu_move_file(j->upload, path) != 0)
        return emu_fail(st, 500, "Service internal error: can't store uploaded snapshot");
    free(j->upload);
    j->upload = NULL;
    return 0;
}

static int rec_run(struct rec_job *j, struct emu_status *st)
{
    char path[EMU_PATH_MAX], dir[EMU_PATH_MAX];
    int is_temp = 0, rc = 0;
    switch (j->kind) {
    case REC_LOCATION:
        rc = emu_fetch(j->location, j->api_key, NULL, path, sizeof(path), &is_temp, st);
        if (rc == 0)
            rc = verify_body_checksum(path, j->checksum, st);
        if (rc == 0)
            rc = emu_recover_collection_file(j->coll, path, j->prio, 0, st);
        break;
    case REC_SHARD_LOCATION:
        /* A name is looked up among the shard's snapshots, which needs the
         * shard to be local (get_shard_snapshot_path); a URL does not. */
        rc = emu_snap_check_shard(
            j->coll, j->shard,
            emu_fetch_is_name(j->location) ? EMU_SHARD_LOCAL_OR_PROXY : EMU_SHARD_EXISTS, st);
        if (rc == 0 && emu_snap_dir(EMU_SNAP_SHARD, j->coll, j->shard, dir, sizeof(dir)) != 0)
            rc = emu_fail(st, 500, "Service internal error: path too long");
        if (rc == 0)
            rc = emu_fetch(j->location, j->api_key, dir, path, sizeof(path), &is_temp, st);
        if (rc == 0)
            rc = verify_body_checksum(path, j->checksum, st);
        if (rc == 0)
            rc = recover_shard_file(j->coll, j->shard, path, j->prio, st);
        break;
    case REC_UPLOAD:
        rc = verify_upload_checksum(j->upload, j->checksum, st);
        if (rc == 0)
            rc = keep_upload(j, path, sizeof(path), st);
        if (rc == 0)
            rc = emu_recover_collection_file(j->coll, path, j->prio, 0, st);
        break;
    case REC_SHARD_UPLOAD:
        rc = verify_upload_checksum(j->upload, j->checksum, st);
        if (rc == 0)
            rc = emu_snap_check_shard(j->coll, j->shard, EMU_SHARD_EXISTS, st);
        if (rc == 0)
            rc = recover_shard_file(j->coll, j->shard, j->upload, j->prio, st);
        break;
    }
    if (is_temp)
        unlink(path);
    return rc;
}

static enum emu_priority parse_priority(const char *p)
{
    if (p && strcmp(p, "replica") == 0)
        return EMU_PRIO_REPLICA;
    if (p && strcmp(p, "no_sync") == 0)
        return EMU_PRIO_NO_SYNC;
    return EMU_PRIO_SNAPSHOT;
}

static void job_main(void *arg)
{
    struct rec_job *j = arg;
    struct emu_status st;
    if (rec_run(j, &st) != 0)
        emu_log("WARN", "background recovery of %s failed: %s", j->coll, st.msg);
    job_free(j);
}

static void submit(struct emu_req *r, struct rec_job *j)
{
    if (!emu_req_wait(r)) {
        emu_http_spawn(job_main, j);
        emu_reply_accepted(r);
        return;
    }
    struct emu_status st;
    if (rec_run(j, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, j->kind == REC_SHARD_UPLOAD ? cJSON_CreateNull() : cJSON_CreateTrue());
    job_free(j);
}

/* Validates the SnapshotRecover / ShardSnapshotRecover body; answers on error. */
static struct rec_job *body_job(struct emu_req *r, enum rec_kind kind)
{
    const cJSON *b = r->json;
    char msg[512];
    size_t col = r->body.len;
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(b, "location");
    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(b, "priority");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(b, "checksum");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(b, "api_key");
    if (!cJSON_IsString(loc)) {
        snprintf(msg, sizeof(msg), "Format error in JSON body: %s `location` at line 1 column %zu",
                 loc ? "invalid type for" : "missing field", col);
        emu_reply_error(r, 400, msg);
        return NULL;
    }
    if (prio && !cJSON_IsNull(prio) &&
        (!cJSON_IsString(prio) ||
         (strcmp(prio->valuestring, "snapshot") && strcmp(prio->valuestring, "replica") &&
          strcmp(prio->valuestring, "no_sync")))) {
        snprintf(msg, sizeof(msg),
                 "Format error in JSON body: unknown variant `%.64s`, expected one of `no_sync`, "
                 "`snapshot`, `replica` at line 1 column %zu",
                 cJSON_IsString(prio) ? prio->valuestring : "?", col);
        emu_reply_error(r, 400, msg);
        return NULL;
    }
    const char *csv = cJSON_IsString(cs) ? cs->valuestring : NULL;
    if (csv && !emu_is_sha256_hex(csv)) {
        if (strlen(csv) != 64)
            snprintf(msg, sizeof(msg),
                     "Validation error in JSON body: [checksum: Validation error: "
                     "invalid_sha256_hash [{\"length\": Number(%zu), \"expected_length\": "
                     "Number(64)}]]",
                     strlen(csv));
        else
            snprintf(msg, sizeof(msg),
                     "Validation error in JSON body: [checksum: invalid characters, expected "
                     "0-9, a-f, A-F]");
        emu_reply_error(r, 422, msg);
        return NULL;
    }
    struct rec_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->kind = kind;
    j->prio = parse_priority(cJSON_IsString(prio) ? prio->valuestring : NULL);
    j->coll = dup_opt(r->params[0]);
    j->location = dup_opt(loc->valuestring);
    j->checksum = dup_opt(csv);
    j->api_key = dup_opt(cJSON_IsString(key) ? key->valuestring : NULL);
    return j;
}

/* Hands the request's uploaded temp file over to a job. */
static struct rec_job *upload_job(struct emu_req *r, enum rec_kind kind)
{
    struct rec_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->kind = kind;
    j->prio = parse_priority(emu_req_query(r, "priority"));
    j->coll = dup_opt(r->params[0]);
    j->checksum = dup_opt(emu_req_query(r, "checksum"));
    j->filename = dup_opt(r->up_filename);
    j->upload = dup_opt(r->up_path);
    r->up_path[0] = '\0'; /* the job owns (and removes) the file now */
    return j;
}

void emu_recover_location(struct emu_req *r)
{
    struct rec_job *j = body_job(r, REC_LOCATION);
    if (j)
        submit(r, j);
}

void emu_recover_shard_location(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) != 0)
        return;
    struct rec_job *j = body_job(r, REC_SHARD_LOCATION);
    if (!j)
        return;
    j->shard = shard;
    submit(r, j);
}

void emu_recover_upload(struct emu_req *r)
{
    submit(r, upload_job(r, REC_UPLOAD));
}

void emu_recover_shard_upload(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) != 0)
        return;
    struct rec_job *j = upload_job(r, REC_SHARD_UPLOAD);
    j->shard = shard;
    submit(r, j);
}
