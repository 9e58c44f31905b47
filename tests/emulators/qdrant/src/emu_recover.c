/* SPDX-License-Identifier: Apache-2.0 */
/* emu_recover.c -- snapshot recovery (see emu_recover.h).
 * Caveat: an http(s) snapshot is downloaded to a temp file and then
 * unpacked; Qdrant unpacks while downloading.  The observable results
 * (status codes, messages, final data) are the same. */
#include "emu_recover.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_api_snapshots.h"
#include "emu_reply.h"
#include "emu_snapshot.h"
#include "emu_store.h"
#include "emu_tar.h"
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

int emu_recover_collection_file(const char *coll, const char *archive, struct emu_status *st)
{
    char work[EMU_PATH_MAX], p[EMU_PATH_MAX];
    if (make_workdir(work, sizeof(work), st) != 0)
        return -1;
    int rc = emu_tar_extract(archive, work, st);
    if (rc == 0 && (emu_pathf(p, sizeof(p), "%s/config.json", work) != 0 || !emu_is_file(p)))
        rc =
            emu_fail(st, 400, "Wrong input: Snapshot archive does not contain a collection config");
    if (rc == 0 && (emu_pathf(p, sizeof(p), "%s/0", work) != 0 || !emu_is_dir(p)))
        rc = emu_fail(st, 400,
                      "Wrong input: Can't restore snapshot in local mode with missing data at "
                      "shard: 0");
    if (rc == 0)
        rc = unpack_segments(p, st);
    if (rc == 0)
        rc = emu_store_validate_dir(p, st);
    if (rc == 0)
        rc = emu_store_install(coll, work, 0, st);
    emu_rm_rf(work); /* gone already after a successful install */
    return rc;
}

static int recover_shard_file(const char *coll, const char *archive, struct emu_status *st)
{
    char work[EMU_PATH_MAX], a[EMU_PATH_MAX], b[EMU_PATH_MAX];
    if (make_workdir(work, sizeof(work), st) != 0)
        return -1;
    int rc = emu_tar_extract(archive, work, st);
    if (rc == 0 &&
        (emu_pathf(a, sizeof(a), "%s/wal", work) != 0 ||
         emu_pathf(b, sizeof(b), "%s/segments", work) != 0 || !emu_is_dir(a) || !emu_is_dir(b)))
        rc = emu_fail(st, 400, "Wrong input: Invalid snapshot");
    if (rc == 0)
        rc = unpack_segments(work, st);
    if (rc == 0)
        rc = emu_store_validate_dir(work, st);
    if (rc == 0)
        rc = emu_store_install(coll, work, 1, st);
    emu_rm_rf(work);
    return rc;
}

/* ---- locations ---- */

static const char *reason_phrase(long code)
{
    switch (code) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 410:
        return "Gone";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static size_t curl_write(void *ptr, size_t size, size_t nmemb, void *userdata)
{
    int fd = *(int *)userdata;
    size_t n = size * nmemb;
    const char *p = ptr;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w <= 0)
            return 0; /* aborts the transfer */
        p += w;
        left -= (size_t)w;
    }
    return n;
}

static int download(const char *url, const char *api_key, char *path, size_t size,
                    struct emu_status *st)
{
    if (!emu_cfg()->url_recovery_enabled)
        return emu_fail(st, 403,
                        "Forbidden: Snapshot recovery from remote URLs is disabled in the "
                        "configuration");
    char dir[EMU_PATH_MAX];
    if (emu_pathf(dir, sizeof(dir), "%s/download", emu_cfg()->tmp_dir) != 0 ||
        emu_mkdirs(dir) != 0 || emu_pathf(path, size, "%s/download-XXXXXX", dir) != 0)
        return emu_fail(st, 500, "Service internal error: can't create temp directory");
    int fd = mkstemp(path);
    if (fd < 0)
        return emu_fail(st, 500, "Service internal error: can't create temp file");
    CURL *h = curl_easy_init();
    if (!h)
        abort();
    struct curl_slist *hdrs = NULL;
    char hk[1024];
    if (api_key) {
        snprintf(hk, sizeof(hk), "api-key: %s", api_key);
        hdrs = curl_slist_append(hdrs, hk);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &fd);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* Qdrant: 60 s stall timeout */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    int closed = close(fd);
    int rc = 0;
    if (cc == CURLE_OK && (code < 200 || code > 299))
        rc = emu_fail(st, 400, "Wrong input: Failed to download tar from URL: status - %ld %s",
                      code, reason_phrase(code));
    else if (cc != CURLE_OK)
        rc = emu_fail(st, 500, "Service internal error: error sending request for url (%s): %s",
                      url, curl_easy_strerror(cc));
    else if (closed != 0)
        rc = emu_fail(st, 500, "Service internal error: can't write downloaded snapshot");
    if (rc != 0)
        unlink(path);
    return rc;
}

/* file://[localhost]/abs/path -> checked local path (CONTRACT.md §1, §5). */
static int file_location(const char *url, char *path, size_t size, struct emu_status *st)
{
    const char *rest = url + 7; /* after "file://" */
    const char *slash = strchr(rest, '/');
    size_t hostlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!slash || (hostlen != 0 && !(hostlen == 9 && strncmp(rest, "localhost", 9) == 0)))
        return emu_fail(st, 400,
                        "Bad request: Invalid snapshot URI, file path must be absolute or on "
                        "localhost");
    char decoded[EMU_PATH_MAX];
    snprintf(decoded, sizeof(decoded), "%s", slash);
    char *q = strpbrk(decoded, "?#");
    if (q)
        *q = '\0';
    if (emu_url_decode(decoded, 0) != 0)
        return emu_fail(
            st, 400,
            "Bad request: Invalid snapshot URI, file path must be absolute or on localhost");
    if (access(decoded, F_OK) != 0)
        return emu_fail(st, 400, "Bad request: Snapshot file \"%s\" does not exist", decoded);
    char canon[EMU_PATH_MAX], base[EMU_PATH_MAX];
    if (!realpath(decoded, canon))
        return emu_fail(st, 400, "Bad request: Failed to resolve snapshot path \"%s\"", decoded);
    if (!realpath(emu_cfg()->snapshots_dir, base))
        return emu_fail(st, 500, "Service internal error: Failed to resolve snapshots directory");
    size_t bl = strlen(base);
    if (strncmp(canon, base, bl) != 0 || (canon[bl] != '/' && canon[bl] != '\0'))
        return emu_fail(st, 403,
                        "Forbidden: Snapshot file path must be inside the snapshots directory "
                        "\"%s\"",
                        base);
    return emu_pathf(path, size, "%s", canon) == 0
               ? 0
               : emu_fail(st, 500, "Service internal error: path too long");
}

/* Resolves location to a local file.  *is_temp: caller unlinks.  shard_dir
 * non-NULL = route 16 rules (names allowed, file:// refused). */
static int fetch(const char *loc, const char *api_key, const char *shard_dir, char *path,
                 size_t size, int *is_temp, struct emu_status *st)
{
    *is_temp = 0;
    const char *sep = strstr(loc, "://");
    const char *colon = strchr(loc, ':');
    if (shard_dir && (!colon || (sep && colon != sep))) {
        /* A bare snapshot name in the shard's snapshot directory. */
        if (strchr(loc, '/') || strcmp(loc, "..") == 0 ||
            emu_pathf(path, size, "%s/%s", shard_dir, loc) != 0 || !emu_is_file(path))
            return emu_fail(st, 404, "Not found: Snapshot %s not found", loc);
        return 0;
    }
    if (!colon || colon == loc)
        return emu_fail(st, 400, "Format error in JSON body: relative URL without a base");
    size_t sl = (size_t)(colon - loc);
    char scheme[32];
    snprintf(scheme, sizeof(scheme), "%.*s", (int)(sl < 31 ? sl : 31), loc);
    for (char *p = scheme; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
        if (download(loc, api_key, path, size, st) != 0)
            return -1;
        *is_temp = 1;
        return 0;
    }
    if (strcmp(scheme, "file") == 0 && shard_dir)
        return emu_fail(st, 400,
                        "Bad request: Invalid snapshot URL %s: URLs with file scheme are not "
                        "supported",
                        loc);
    if (strcmp(scheme, "file") == 0 && sep == colon)
        return file_location(loc, path, size, st);
    return emu_fail(st, 400, "Bad request: URL %s with scheme %s is not supported", loc, scheme);
}

/* ---- jobs ---- */

enum rec_kind { REC_LOCATION = 5, REC_UPLOAD = 6, REC_SHARD_LOCATION = 16, REC_SHARD_UPLOAD = 17 };

struct rec_job {
    enum rec_kind kind;
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
        rc = fetch(j->location, j->api_key, NULL, path, sizeof(path), &is_temp, st);
        if (rc == 0)
            rc = verify_body_checksum(path, j->checksum, st);
        if (rc == 0)
            rc = emu_recover_collection_file(j->coll, path, st);
        break;
    case REC_SHARD_LOCATION:
        rc = emu_snap_check_shard(j->coll, j->shard, st);
        if (rc == 0 && emu_snap_dir(EMU_SNAP_SHARD, j->coll, j->shard, dir, sizeof(dir)) != 0)
            rc = emu_fail(st, 500, "Service internal error: path too long");
        if (rc == 0)
            rc = fetch(j->location, j->api_key, dir, path, sizeof(path), &is_temp, st);
        if (rc == 0)
            rc = verify_body_checksum(path, j->checksum, st);
        if (rc == 0)
            rc = recover_shard_file(j->coll, path, st);
        break;
    case REC_UPLOAD:
        rc = verify_upload_checksum(j->upload, j->checksum, st);
        if (rc == 0)
            rc = keep_upload(j, path, sizeof(path), st);
        if (rc == 0)
            rc = emu_recover_collection_file(j->coll, path, st);
        break;
    case REC_SHARD_UPLOAD:
        rc = verify_upload_checksum(j->upload, j->checksum, st);
        if (rc == 0)
            rc = emu_snap_check_shard(j->coll, j->shard, st);
        if (rc == 0)
            rc = recover_shard_file(j->coll, j->upload, st);
        break;
    }
    if (is_temp)
        unlink(path);
    return rc;
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
