/* SPDX-License-Identifier: Apache-2.0
 *
 * test_qdrant_client.c -- the Qdrant REST client (src/remote/qdrant_*.c)
 * against the Qdrant emulator: service calls, the snapshot API for
 * collection, full and shard snapshots in both creation modes, recovery by
 * upload and from a URL, API keys, error classes, injected transient
 * faults, pre-1.8 snapshots without checksums, names that need escaping,
 * and (with --big, registered as its own ctest entry) a 1 GiB snapshot
 * downloaded and uploaded with the process's peak RSS staying flat.
 */
#include "unit.h"
#include "emu_harness.h"

#include "common.h"
#include "remote/http_client.h"
#include "remote/qdrant_client.h"
#include "remote/qdrant_cluster.h"
#include "util/json_u64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define FULL_KEY "full-key-0123456789"
#define RO_KEY   "read-only-key-0123456789"
#define SRC_KEY  "source-key-0123456789"

/* ------------------------------------------------------------ helpers */

/* A client for e; timeout_ms bounds plain calls and snapshot_ms the slow
 * ones (create with wait=true, wait=false polling, upload, recover); 0
 * takes the client's defaults. */
static struct qdrant_client *new_client_t(const struct emu *e, const char *key, long timeout_ms,
                                          long snapshot_ms)
{
    struct qdrant_config cfg = {
        .url = e->url,
        .api_key = key,
        .timeout_ms = timeout_ms,
        .snapshot_timeout_ms = snapshot_ms,
        .poll_interval_ms = 20, /* keeps wait=false polling quick */
    };
    struct qdrant_client *c = NULL;
    char err[QB_ERRBUF_SIZE];
    if (qdrant_client_create(&cfg, &c, err, sizeof err) != QB_OK) {
        fprintf(stderr, "qdrant_client_create: %s\n", err);
        return NULL;
    }
    return c;
}

static struct qdrant_client *new_client(const struct emu *e, const char *key)
{
    return new_client_t(e, key, 0, 30000);
}

/* A download sink: SHA-256 of everything, plus an optional copy in memory
 * and/or a file descriptor. */
struct sink {
    EVP_MD_CTX *md;
    uint64_t n;
    bool keep;          /* copy into data */
    char *data;         /* kept bytes */
    size_t cap;         /* allocated bytes of data */
    int fd;             /* -1: none */
    int64_t fail_after; /* >= 0: fail with QB_ERR_IO once n exceeds it */
};

static void sink_init(struct sink *s, bool keep, int fd)
{
    memset(s, 0, sizeof *s);
    s->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
    s->keep = keep;
    s->fd = fd;
    s->fail_after = -1;
}

static void sink_free(struct sink *s)
{
    EVP_MD_CTX_free(s->md);
    free(s->data);
    memset(s, 0, sizeof *s);
}

static enum qb_err sink_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct sink *s = ud;
    EVP_DigestUpdate(s->md, data, len);
    if (s->keep) {
        if (s->n + len + 1 > s->cap) {
            s->cap = (s->n + len + 1) * 2;
            s->data = xrealloc(s->data, s->cap);
        }
        memcpy(s->data + s->n, data, len);
    }
    for (size_t off = 0; s->fd >= 0 && off < len;) {
        ssize_t w = write(s->fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return qb_failf(QB_ERR_IO, err, errlen, "write: %s", strerror(errno));
        off += (size_t)w;
    }
    s->n += len;
    if (s->fail_after >= 0 && s->n > (uint64_t)s->fail_after)
        return qb_failf(QB_ERR_IO, err, errlen, "sink refuses more than %lld bytes",
                        (long long)s->fail_after);
    return QB_OK;
}

static void sink_hex(struct sink *s, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(s->md, md, &mdlen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Upload sources: bytes in memory, or a file. */
struct mem_src {
    const char *data;
    size_t len, pos;
};

static enum qb_err mem_read(void *ud, void *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct mem_src *m = ud;
    size_t take = m->len - m->pos < cap ? m->len - m->pos : cap;
    memcpy(buf, m->data + m->pos, take);
    m->pos += take;
    *n = take;
    return QB_OK;
}

static enum qb_err fd_read(void *ud, void *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
    int fd = *(int *)ud;
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return qb_failf(QB_ERR_IO, err, errlen, "read: %s", strerror(errno));
        *n = (size_t)r;
        return QB_OK;
    }
}

/* Endless deterministic bytes (for refused uploads of some size). */
static enum qb_err gen_read(void *ud, void *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    uint64_t *x = ud;
    unsigned char *p = buf;
    for (size_t i = 0; i < cap; i++) {
        *x = *x * 6364136223846793005u + 1442695040888963407u;
        p[i] = (unsigned char)(*x >> 56);
    }
    *n = cap;
    return QB_OK;
}

/* Downloads a snapshot into memory; checks its length and, when a
 * checksum is known, its SHA-256.  Returns the client's rc. */
static enum qb_err download_mem(struct qdrant_client *c, const struct qdrant_target *t,
                                const struct qdrant_snapshot *s, struct sink *out, char *err,
                                size_t errlen)
{
    sink_init(out, true, -1);
    uint64_t bytes = 0;
    enum qb_err rc = qdrant_snapshot_download(c, t, s->name, sink_write, out, &bytes, err, errlen);
    if (rc)
        return rc;
    char hex[65];
    sink_hex(out, hex);
    TEST_EXPECT_INT(bytes, out->n);
    TEST_EXPECT_INT(bytes, s->size);
    if (s->checksum)
        TEST_EXPECT_STR(hex, s->checksum);
    return rc;
}

static bool listed_name(struct qdrant_client *c, const struct qdrant_target *t, const char *name,
                        const char *checksum)
{
    struct qdrant_snapshot *list = NULL;
    size_t n = 0;
    char err[QB_ERRBUF_SIZE];
    bool found = false;
    if (qdrant_snapshot_list(c, t, &list, &n, err, sizeof err) != QB_OK) {
        fprintf(stderr, "list: %s\n", err);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) != 0)
            continue;
        found = checksum ? list[i].checksum && strcmp(list[i].checksum, checksum) == 0
                         : list[i].checksum == NULL;
    }
    qdrant_snapshots_free(list, n);
    return found;
}

/* True 50 ms into a second later than *ctx: a server reading a coarse
 * clock (glibc's time() may lag by a few ms) has moved on too. */
static bool second_changed(void *ctx)
{
    int64_t now = qb_now_ms();
    return now / 1000 != *(int64_t *)ctx && now % 1000 >= 50;
}

/* Qdrant names snapshots by the second: two made within one second share
 * a name and the later silently replaces the earlier (CONTRACT.md §2).
 * Tests that want distinct snapshots wait for the next second. */
static void next_second(void)
{
    int64_t now = qb_now_ms() / 1000;
    (void)harness_wait_until(second_changed, &now, 2000);
}

/* The last logged request with this method and path (as on the wire). */
static const cJSON *find_request(const cJSON *reqs, const char *method, const char *path)
{
    const cJSON *found = NULL, *r;
    cJSON_ArrayForEach(r, reqs)
    {
        if (strcmp(json_path_str(r, "method") ? json_path_str(r, "method") : "", method) == 0 &&
            strcmp(json_path_str(r, "path") ? json_path_str(r, "path") : "", path) == 0)
            found = r;
    }
    return found;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------ service */

static void test_service_calls(void)
{
    struct emu e;
    TEST_ASSERT(emu_start(&e, NULL) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    char err[QB_ERRBUF_SIZE];
    char *version = NULL;
    TEST_ASSERT(c != NULL);

    TEST_EXPECT_INT(qdrant_server_version(c, &version, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(version, "1.19.0");
    free(version);
    TEST_EXPECT_INT(qdrant_ready(c, err, sizeof err), QB_OK);

    char **names = NULL;
    size_t n = 99;
    TEST_EXPECT_INT(qdrant_list_collections(c, &names, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 0);
    qdrant_strings_free(names, n);

    TEST_ASSERT(emu_create_collection(&e, "alpha", 4) == 0);
    TEST_ASSERT(emu_create_collection(&e, "beta", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "alpha", 17, 1) == 0);
    TEST_EXPECT_INT(qdrant_list_collections(c, &names, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 2);
    bool alpha = false, beta = false;
    for (size_t i = 0; i < n; i++) {
        alpha = alpha || strcmp(names[i], "alpha") == 0;
        beta = beta || strcmp(names[i], "beta") == 0;
    }
    TEST_EXPECT(alpha && beta);
    qdrant_strings_free(names, n);

    struct qdrant_collection_info info;
    TEST_EXPECT_INT(qdrant_collection_info(c, "alpha", &info, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(info.status, "green");
    TEST_EXPECT_INT(info.points_count, 17);
    TEST_EXPECT_INT(info.vectors_count, -1); /* 1.13+ no longer report it */
    qdrant_collection_info_free(&info);
    TEST_EXPECT_INT(qdrant_collection_info(c, "beta", &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.points_count, 0);
    qdrant_collection_info_free(&info);

    cJSON *res = NULL;
    TEST_EXPECT_INT(qdrant_collection_cluster(c, "alpha", &res, err, sizeof err), QB_OK);
    /* Peer ids are u64: read exactly (a long one arrives as digits). */
    uint64_t peer_id = 0;
    TEST_EXPECT(json_u64(cJSON_GetObjectItemCaseSensitive(res, "peer_id"), &peer_id) &&
                peer_id > 0);
    TEST_EXPECT_INT(json_path_num(res, "shard_count"), 1);
    TEST_EXPECT_INT(json_path_num(res, "local_shards.0.shard_id"), 0);
    TEST_EXPECT_INT(json_path_num(res, "local_shards.0.points_count"), 17);
    TEST_EXPECT_STR(json_path_str(res, "local_shards.0.state"), "Active");
    cJSON_Delete(res);
    res = NULL;
    TEST_EXPECT_INT(qdrant_cluster_status(c, &res, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(json_path_str(res, "status"), "disabled");
    cJSON_Delete(res);

    /* Every request carried our User-Agent and no key. */
    cJSON *reqs = emu_requests(&e);
    const cJSON *r = find_request(reqs, "GET", "/collections/alpha/cluster");
    TEST_EXPECT(contains(json_path_str(r, "headers.user-agent"), "qbackup/"));
    TEST_EXPECT_STR(json_path_str(r, "auth"), "none");
    cJSON_Delete(reqs);

    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* A pre-1.13 Qdrant in cluster mode: vectors_count is reported, /cluster
 * is enabled. */
static void test_service_old_version_cluster(void)
{
    struct emu e;
    const char *const args[] = {"--version", "1.7.4", "--cluster", NULL};
    TEST_ASSERT(emu_start(&e, args) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    char err[QB_ERRBUF_SIZE];
    char *version = NULL;
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(qdrant_server_version(c, &version, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(version, "1.7.4");
    free(version);
    TEST_ASSERT(emu_create_collection(&e, "old", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "old", 5, 2) == 0);
    struct qdrant_collection_info info;
    TEST_EXPECT_INT(qdrant_collection_info(c, "old", &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.points_count, 5);
    TEST_EXPECT_INT(info.vectors_count, 5);
    qdrant_collection_info_free(&info);
    cJSON *res = NULL;
    TEST_EXPECT_INT(qdrant_cluster_status(c, &res, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(json_path_str(res, "status"), "enabled");
    uint64_t peer_id = 0;
    TEST_EXPECT(json_u64(cJSON_GetObjectItemCaseSensitive(res, "peer_id"), &peer_id) &&
                peer_id > 0);
    cJSON_Delete(res);
    /* The typed view names this peer and its one peer, exactly. */
    struct qdrant_cluster cl;
    TEST_EXPECT_INT(qdrant_cluster_get(c, &cl, err, sizeof err), QB_OK);
    TEST_EXPECT(cl.enabled && cl.peer_id == peer_id && cl.npeers == 1);
    TEST_EXPECT(cl.npeers == 1 && cl.peers[0].id == peer_id);
    qdrant_cluster_clear(&cl);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ snapshots */

static const struct scope_case {
    const char *label;
    enum qdrant_scope scope;
    const char *list_path; /* the list route on the wire */
} scope_cases[] = {
    {"collection", QDRANT_SCOPE_COLLECTION, "/collections/snap/snapshots"},
    {"full", QDRANT_SCOPE_FULL, "/snapshots"},
    {"shard", QDRANT_SCOPE_SHARD, "/collections/snap/shards/0/snapshots"},
};

/* Create (wait=true, then wait=false with polling), list, download and
 * delete, for one scope. */
static void snapshot_lifecycle(struct emu *e, struct qdrant_client *c, const struct scope_case *sc)
{
    struct qdrant_target t = {sc->scope, "snap", 0};
    struct qdrant_snapshot s1 = {0}, s2 = {0};
    struct sink d;
    char err[QB_ERRBUF_SIZE];
    fprintf(stderr, "  scope %s\n", sc->label);

    TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &s1, err, sizeof err) == QB_OK);
    TEST_EXPECT(s1.name && s1.size > 0 && s1.creation_time);
    TEST_EXPECT(s1.checksum && strlen(s1.checksum) == 64);

    next_second();
    TEST_ASSERT(emu_clear_requests(e) == 0);
    enum qb_err rc = qdrant_snapshot_create(c, &t, false, &s2, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_OK);
    if (rc)
        fprintf(stderr, "  %s\n", err);
    TEST_EXPECT(s2.name && s1.name && strcmp(s2.name, s1.name) != 0);
    TEST_EXPECT(s2.checksum && strlen(s2.checksum) == 64);
    /* wait=false really went out and was accepted; the client then polled. */
    cJSON *reqs = emu_requests(e);
    char post_path[128];
    snprintf(post_path, sizeof post_path, "%s", sc->list_path);
    const cJSON *post = find_request(reqs, "POST", post_path);
    TEST_EXPECT_STR(json_path_str(post, "query.wait"), "false");
    TEST_EXPECT_INT(json_path_num(post, "status"), 202);
    TEST_EXPECT(find_request(reqs, "GET", sc->list_path) != NULL);
    cJSON_Delete(reqs);

    TEST_EXPECT(listed_name(c, &t, s1.name, s1.checksum));
    TEST_EXPECT(s2.name && listed_name(c, &t, s2.name, s2.checksum));

    TEST_ASSERT(emu_clear_requests(e) == 0);
    rc = download_mem(c, &t, &s1, &d, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_OK);
    /* No Accept-Encoding: Qdrant would compress the body on the fly and
     * the bytes would not match the checksum (CONTRACT.md §3). */
    reqs = emu_requests(e);
    TEST_EXPECT_INT(cJSON_GetArraySize(reqs), 1);
    TEST_EXPECT(json_path(reqs, "0.headers.accept-encoding") == NULL);
    TEST_EXPECT_INT(json_path_num(reqs, "0.status"), 200);
    cJSON_Delete(reqs);
    /* Every snapshot is a tar archive: "ustar" at offset 257. */
    TEST_EXPECT(d.n > 512 && memcmp(d.data + 257, "ustar", 5) == 0);
    sink_free(&d);
    if (s2.name) {
        TEST_EXPECT_INT(download_mem(c, &t, &s2, &d, err, sizeof err), QB_OK);
        sink_free(&d);
    }

    TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s1.name, err, sizeof err), QB_OK);
    TEST_EXPECT(!listed_name(c, &t, s1.name, s1.checksum));
    TEST_EXPECT(s2.name && listed_name(c, &t, s2.name, s2.checksum));
    /* Gone now: missing-snapshot errors for delete and download. */
    TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s1.name, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT(contains(err, "404") && contains(err, "not found"));
    sink_init(&d, false, -1);
    uint64_t bytes = 7;
    TEST_EXPECT_INT(
        qdrant_snapshot_download(c, &t, s1.name, sink_write, &d, &bytes, err, sizeof err),
        QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(d.n, 0); /* the plain-text 404 body never reached the sink */
    sink_free(&d);
    if (s2.name)
        TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s2.name, err, sizeof err), QB_OK);
    qdrant_snapshot_clear(&s1);
    qdrant_snapshot_clear(&s2);
}

static void test_snapshot_lifecycle_all_scopes(void)
{
    struct emu e;
    TEST_ASSERT(emu_start(&e, NULL) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(emu_create_collection(&e, "snap", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "snap", 20, 3) == 0);
    for (size_t i = 0; i < QB_ARRAY_LEN(scope_cases); i++)
        snapshot_lifecycle(&e, c, &scope_cases[i]);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ recovery */

enum recover_mode { BY_UPLOAD, BY_HTTP_URL, BY_FILE_URL };

static const struct recover_case {
    const char *label;
    enum recover_mode mode;
    enum qdrant_priority priority;
    bool with_checksum;
} recover_cases[] = {
    {"upload, priority snapshot, checksum", BY_UPLOAD, QDRANT_PRIORITY_SNAPSHOT, true},
    {"upload, defaults", BY_UPLOAD, QDRANT_PRIORITY_DEFAULT, false},
    {"http URL, priority replica, checksum, api_key", BY_HTTP_URL, QDRANT_PRIORITY_REPLICA, true},
    {"file URL, priority no_sync", BY_FILE_URL, QDRANT_PRIORITY_NO_SYNC, false},
};

/* The round trip of issue 3: upsert -> snapshot -> delete the collection
 * -> recover -> identical points, through each recovery mode.  The http
 * source is a second emulator that requires its own key, so the recovery
 * works only if api_key is forwarded. */
static void test_round_trip_recovery(void)
{
    struct emu e, src;
    const char *const args[] = {"--api-key", FULL_KEY, NULL};
    const char *const src_args[] = {"--api-key", SRC_KEY, NULL};
    TEST_ASSERT(emu_start(&e, args) == 0);
    TEST_ASSERT(emu_start(&src, src_args) == 0);
    struct qdrant_client *c = new_client(&e, FULL_KEY);
    struct qdrant_client *cs = new_client(&src, SRC_KEY);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c && cs);
    TEST_ASSERT(emu_create_collection(&e, "rt", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "rt", 50, 4) == 0);
    char *before = emu_points(&e, "rt");
    TEST_ASSERT(before != NULL);

    struct qdrant_target t = {QDRANT_SCOPE_COLLECTION, "rt", 0};
    struct qdrant_snapshot s = {0};
    struct sink d;
    TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(download_mem(c, &t, &s, &d, err, sizeof err) == QB_OK);

    /* The http source: the same bytes uploaded into the second emulator,
     * which keeps them as snapshots/rt/source.snapshot. */
    struct mem_src m = {d.data, d.n, 0};
    TEST_ASSERT(qdrant_snapshot_upload(cs, &t, QDRANT_PRIORITY_DEFAULT, NULL, "source.snapshot",
                                       d.n, mem_read, &m, err, sizeof err) == QB_OK);
    char src_url[256], file_url[700];
    snprintf(src_url, sizeof src_url, "%s/collections/rt/snapshots/source.snapshot", src.url);
    snprintf(file_url, sizeof file_url, "file://%s/snapshots/rt/%s", e.data_dir, s.name);

    for (size_t i = 0; i < QB_ARRAY_LEN(recover_cases); i++) {
        const struct recover_case *rc = &recover_cases[i];
        fprintf(stderr, "  %s\n", rc->label);
        struct resp r;
        TEST_ASSERT(emu_request(&e, "DELETE", "/collections/rt", NULL, &r) == 0);
        TEST_EXPECT_INT(r.status, 200);
        resp_free(&r);
        struct qdrant_collection_info info;
        TEST_EXPECT_INT(qdrant_collection_info(c, "rt", &info, err, sizeof err), QB_ERR_NOT_FOUND);
        TEST_ASSERT(emu_clear_requests(&e) == 0);
        TEST_ASSERT(emu_clear_requests(&src) == 0);
        const char *sum = rc->with_checksum ? s.checksum : NULL;
        enum qb_err got;
        if (rc->mode == BY_UPLOAD) {
            m.pos = 0;
            got = qdrant_snapshot_upload(c, &t, rc->priority, sum, "copy.snapshot", d.n, mem_read,
                                         &m, err, sizeof err);
        } else {
            got = qdrant_snapshot_recover(
                c, &t, rc->mode == BY_HTTP_URL ? src_url : file_url, rc->priority, sum,
                rc->mode == BY_HTTP_URL ? SRC_KEY : NULL, err, sizeof err);
        }
        TEST_EXPECT_INT(got, QB_OK);
        if (got)
            fprintf(stderr, "  %s\n", err);
        char *after = emu_points(&e, "rt");
        TEST_EXPECT(after && strcmp(after, before) == 0);
        free(after);

        /* What went over the wire. */
        cJSON *reqs = emu_requests(&e);
        const cJSON *q;
        if (rc->mode == BY_UPLOAD) {
            q = find_request(reqs, "POST", "/collections/rt/snapshots/upload");
            TEST_EXPECT_STR(json_path_str(q, "query.wait"), "true");
            TEST_EXPECT_STR(json_path_str(q, "upload.field"), "snapshot");
            TEST_EXPECT_STR(json_path_str(q, "upload.filename"), "copy.snapshot");
            TEST_EXPECT_INT(json_path_num(q, "upload.bytes"), d.n);
            TEST_EXPECT(contains(json_path_str(q, "headers.content-type"),
                                 "multipart/form-data; boundary="));
            TEST_EXPECT_STR(json_path_str(q, "headers.expect"), "100-continue");
            TEST_EXPECT(rc->priority ? json_path_str(q, "query.priority") != NULL
                                     : json_path(q, "query.priority") == NULL);
            if (rc->priority)
                TEST_EXPECT_STR(json_path_str(q, "query.priority"),
                                qdrant_priority_name(rc->priority));
            if (sum)
                TEST_EXPECT_STR(json_path_str(q, "query.checksum"), sum);
            else
                TEST_EXPECT(json_path(q, "query.checksum") == NULL);
        } else {
            q = find_request(reqs, "PUT", "/collections/rt/snapshots/recover");
            TEST_EXPECT_STR(json_path_str(q, "query.wait"), "true");
            TEST_EXPECT_STR(json_path_str(q, "body.location"),
                            rc->mode == BY_HTTP_URL ? src_url : file_url);
            TEST_EXPECT_STR(json_path_str(q, "headers.content-type"), "application/json");
            if (rc->priority)
                TEST_EXPECT_STR(json_path_str(q, "body.priority"),
                                qdrant_priority_name(rc->priority));
            if (sum)
                TEST_EXPECT_STR(json_path_str(q, "body.checksum"), sum);
            if (rc->mode == BY_HTTP_URL)
                TEST_EXPECT_STR(json_path_str(q, "body.api_key"), "<redacted>");
            else
                TEST_EXPECT(json_path(q, "body.api_key") == NULL);
        }
        TEST_EXPECT_INT(json_path_num(q, "status"), 200);
        TEST_EXPECT_STR(json_path_str(q, "key"), "full");
        cJSON_Delete(reqs);
        if (rc->mode == BY_HTTP_URL) {
            /* The source saw the fetch with its own key. */
            reqs = emu_requests(&src);
            q = find_request(reqs, "GET", "/collections/rt/snapshots/source.snapshot");
            TEST_EXPECT_STR(json_path_str(q, "key"), "full");
            TEST_EXPECT_INT(json_path_num(q, "status"), 200);
            cJSON_Delete(reqs);
        }
    }

    /* Without the source's key the source refuses, and so does Qdrant. */
    enum qb_err got = qdrant_snapshot_recover(c, &t, src_url, QDRANT_PRIORITY_DEFAULT, NULL, NULL,
                                              err, sizeof err);
    TEST_EXPECT_INT(got, QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "400") && contains(err, "401"));

    free(before);
    sink_free(&d);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(c);
    qdrant_client_destroy(cs);
    TEST_EXPECT_INT(emu_stop(&src), 0);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&src);
    emu_cleanup(&e);
}

/* Shard snapshots recover by upload (route 17, whose result is null), by
 * a bare file name and by an http URL (route 16) that is the emulator's
 * own download route, so Qdrant needs the api_key to fetch it; recovery
 * replaces data written after the snapshot. */
static void test_shard_recovery(void)
{
    struct emu e;
    const char *const args[] = {"--api-key", FULL_KEY, NULL};
    TEST_ASSERT(emu_start(&e, args) == 0);
    struct qdrant_client *c = new_client(&e, FULL_KEY);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(emu_create_collection(&e, "sh", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "sh", 30, 5) == 0);
    char *before = emu_points(&e, "sh");
    struct qdrant_target t = {QDRANT_SCOPE_SHARD, "sh", 0};
    struct qdrant_snapshot s = {0};
    struct sink d;
    TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(download_mem(c, &t, &s, &d, err, sizeof err) == QB_OK);
    char url[512];
    snprintf(url, sizeof url, "%s/collections/sh/shards/0/snapshots/%s", e.url, s.name);

    for (int mode = 0; mode < 3; mode++) {
        TEST_ASSERT(emu_upsert(&e, "sh", 40, 6) == 0); /* overwrite and add points */
        char *changed = emu_points(&e, "sh");
        TEST_EXPECT(changed && strcmp(changed, before) != 0);
        free(changed);
        TEST_ASSERT(emu_clear_requests(&e) == 0);
        enum qb_err rc;
        struct mem_src m = {d.data, d.n, 0};
        if (mode == 0)
            rc = qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_REPLICA, s.checksum, NULL, d.n,
                                        mem_read, &m, err, sizeof err);
        else
            rc = qdrant_snapshot_recover(c, &t, mode == 1 ? s.name : url, QDRANT_PRIORITY_SNAPSHOT,
                                         s.checksum, mode == 2 ? FULL_KEY : NULL, err, sizeof err);
        TEST_EXPECT_INT(rc, QB_OK);
        if (rc)
            fprintf(stderr, "  mode %d: %s\n", mode, err);
        char *after = emu_points(&e, "sh");
        TEST_EXPECT(after && strcmp(after, before) == 0);
        free(after);
        cJSON *reqs = emu_requests(&e);
        const cJSON *q =
            mode == 0 ? find_request(reqs, "POST", "/collections/sh/shards/0/snapshots/upload")
                      : find_request(reqs, "PUT", "/collections/sh/shards/0/snapshots/recover");
        TEST_EXPECT_INT(json_path_num(q, "status"), 200);
        if (mode == 0) {
            TEST_EXPECT_STR(json_path_str(q, "query.priority"), "replica");
            TEST_EXPECT_STR(json_path_str(q, "query.checksum"), s.checksum);
            TEST_EXPECT_STR(json_path_str(q, "upload.filename"), "upload.snapshot");
        } else {
            TEST_EXPECT_STR(json_path_str(q, "body.priority"), "snapshot");
            TEST_EXPECT_STR(json_path_str(q, "body.location"), mode == 1 ? s.name : url);
            TEST_EXPECT_STR(json_path_str(q, "body.checksum"), s.checksum);
        }
        if (mode == 2) {
            TEST_EXPECT_STR(json_path_str(q, "body.api_key"), "<redacted>");
            char dl[300];
            snprintf(dl, sizeof dl, "/collections/sh/shards/0/snapshots/%s", s.name);
            const cJSON *fetch = find_request(reqs, "GET", dl);
            TEST_EXPECT_STR(json_path_str(fetch, "key"), "full");
            TEST_EXPECT_INT(json_path_num(fetch, "status"), 200);
        }
        cJSON_Delete(reqs);
    }
    /* A shard that does not exist. */
    struct qdrant_target t7 = {QDRANT_SCOPE_SHARD, "sh", 7};
    struct qdrant_snapshot none = {0};
    TEST_EXPECT_INT(qdrant_snapshot_create(c, &t7, true, &none, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT(contains(err, "shard 7 not found"));
    TEST_EXPECT_INT(qdrant_snapshot_recover(c, &t7, s.name, QDRANT_PRIORITY_DEFAULT, NULL, NULL,
                                            err, sizeof err),
                    QB_ERR_NOT_FOUND);

    free(before);
    sink_free(&d);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ auth */

static void test_api_keys(void)
{
    struct emu e;
    const char *const args[] = {"--api-key", FULL_KEY, "--read-only-api-key", RO_KEY, NULL};
    TEST_ASSERT(emu_start(&e, args) == 0);
    struct qdrant_client *full = new_client(&e, FULL_KEY);
    struct qdrant_client *ro = new_client(&e, RO_KEY);
    struct qdrant_client *none = new_client(&e, NULL);
    struct qdrant_client *wrong = new_client(&e, "wrong-key-0123456789");
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(full && ro && none && wrong);
    TEST_ASSERT(emu_create_collection(&e, "auth", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "auth", 8, 7) == 0);
    struct qdrant_target t = {QDRANT_SCOPE_COLLECTION, "auth", 0};
    struct qdrant_target tf = {QDRANT_SCOPE_FULL, NULL, 0};
    struct qdrant_snapshot s = {0}, x = {0};
    struct sink d;

    /* Accepted: the full key may do everything. */
    TEST_ASSERT(qdrant_snapshot_create(full, &t, true, &s, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(download_mem(full, &t, &s, &d, err, sizeof err), QB_OK);

    /* Missing or wrong key: 401 on everything but the public routes. */
    char *version = NULL;
    TEST_EXPECT_INT(qdrant_server_version(none, &version, err, sizeof err), QB_OK);
    free(version);
    TEST_EXPECT_INT(qdrant_ready(none, err, sizeof err), QB_OK);
    char **names = NULL;
    size_t n = 0;
    TEST_EXPECT_INT(qdrant_list_collections(none, &names, &n, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "401") && contains(err, "Must provide an API key"));
    TEST_EXPECT_INT(qdrant_list_collections(wrong, &names, &n, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "401") && contains(err, "Invalid API key"));
    TEST_EXPECT(!contains(err, "wrong-key"));
    sink_free(&d);
    sink_init(&d, false, -1);
    TEST_EXPECT_INT(
        qdrant_snapshot_download(none, &t, s.name, sink_write, &d, NULL, err, sizeof err),
        QB_ERR_REMOTE);
    TEST_EXPECT_INT(d.n, 0);
    sink_free(&d);

    /* The read-only key reads ... */
    TEST_EXPECT_INT(qdrant_list_collections(ro, &names, &n, err, sizeof err), QB_OK);
    qdrant_strings_free(names, n);
    struct qdrant_collection_info info;
    TEST_EXPECT_INT(qdrant_collection_info(ro, "auth", &info, err, sizeof err), QB_OK);
    qdrant_collection_info_free(&info);
    TEST_EXPECT(listed_name(ro, &t, s.name, s.checksum));
    TEST_EXPECT_INT(download_mem(ro, &t, &s, &d, err, sizeof err), QB_OK);

    /* ... and is refused every write, with Qdrant's message. */
    static const char *const forbidden = "Forbidden: Global manage access is required";
    TEST_EXPECT_INT(qdrant_snapshot_create(ro, &t, true, &x, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "403"));
    TEST_EXPECT_INT(qdrant_snapshot_create(ro, &tf, true, &x, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, forbidden));
    TEST_EXPECT_INT(qdrant_snapshot_delete(ro, &t, s.name, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "403"));
    TEST_EXPECT(listed_name(full, &t, s.name, s.checksum)); /* still there */
    struct mem_src m = {d.data, d.n, 0};
    TEST_EXPECT_INT(qdrant_snapshot_upload(ro, &t, QDRANT_PRIORITY_DEFAULT, NULL, NULL, d.n,
                                           mem_read, &m, err, sizeof err),
                    QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, forbidden));
    char loc[700];
    snprintf(loc, sizeof loc, "file://%s/snapshots/auth/%s", e.data_dir, s.name);
    TEST_EXPECT_INT(
        qdrant_snapshot_recover(ro, &t, loc, QDRANT_PRIORITY_DEFAULT, NULL, NULL, err, sizeof err),
        QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, forbidden));
    TEST_EXPECT(!contains(err, RO_KEY));

    /* Refused before the body is read: a 64 MiB upload with the read-only
     * key still comes back as the 403, not as a broken connection. */
    uint64_t seed = 1;
    TEST_EXPECT_INT(qdrant_snapshot_upload(ro, &t, QDRANT_PRIORITY_DEFAULT, NULL, NULL, 64u << 20,
                                           gen_read, &seed, err, sizeof err),
                    QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "403"));

    /* The emulator saw each key class, and never a key in a query. */
    cJSON *reqs = emu_requests(&e);
    const cJSON *r;
    int by_class[4] = {0};
    cJSON_ArrayForEach(r, reqs)
    {
        const char *k = json_path_str(r, "key");
        by_class[0] += k && strcmp(k, "full") == 0;
        by_class[1] += k && strcmp(k, "read-only") == 0;
        by_class[2] += k && strcmp(k, "none") == 0;
        by_class[3] += k && strcmp(k, "invalid") == 0;
        const char *a = json_path_str(r, "auth");
        TEST_EXPECT(a && (strcmp(a, "api-key") == 0 || strcmp(a, "none") == 0));
    }
    TEST_EXPECT(by_class[0] > 0 && by_class[1] > 0 && by_class[2] > 0 && by_class[3] > 0);
    cJSON_Delete(reqs);

    sink_free(&d);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(full);
    qdrant_client_destroy(ro);
    qdrant_client_destroy(none);
    qdrant_client_destroy(wrong);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* A key that is a JWT travels as "Authorization: Bearer" (CONTRACT §8
 * names only that header for JWTs), on JSON calls, downloads and uploads
 * alike; the emulator takes its key there too. */
static void test_jwt_key_as_bearer(void)
{
    static const char jwt[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOiJtIn0."
                              "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
    struct emu e;
    const char *const args[] = {"--api-key", jwt, NULL};
    TEST_ASSERT(emu_start(&e, args) == 0);
    struct qdrant_client *c = new_client(&e, jwt);
    TEST_ASSERT(c != NULL);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(emu_create_collection(&e, "jwt", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "jwt", 8, 3) == 0);
    TEST_ASSERT(emu_clear_requests(&e) == 0);
    struct qdrant_target t = {QDRANT_SCOPE_COLLECTION, "jwt", 0};
    struct qdrant_snapshot s = {0};
    struct sink d;
    TEST_EXPECT_INT(qdrant_snapshot_create(c, &t, true, &s, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(download_mem(c, &t, &s, &d, err, sizeof err), QB_OK);
    struct mem_src m = {d.data, d.n, 0};
    TEST_EXPECT_INT(qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, s.checksum, NULL, d.n,
                                           mem_read, &m, err, sizeof err),
                    QB_OK);
    cJSON *reqs = emu_requests(&e);
    const cJSON *r;
    int n = 0;
    cJSON_ArrayForEach(r, reqs)
    {
        TEST_EXPECT_STR(json_path_str(r, "auth"), "bearer");
        TEST_EXPECT_STR(json_path_str(r, "key"), "full");
        n++;
    }
    TEST_EXPECT(n >= 3);
    cJSON_Delete(reqs);
    sink_free(&d);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void)
{
    struct emu e;
    TEST_ASSERT(emu_start(&e, NULL) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(emu_create_collection(&e, "err", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "err", 10, 8) == 0);

    /* Missing collection. */
    struct qdrant_target tm = {QDRANT_SCOPE_COLLECTION, "missing", 0};
    struct qdrant_collection_info info;
    TEST_EXPECT_INT(qdrant_collection_info(c, "missing", &info, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT(contains(err, "Not found: Collection `missing` doesn't exist!"));
    cJSON *res = NULL;
    TEST_EXPECT_INT(qdrant_collection_cluster(c, "missing", &res, err, sizeof err),
                    QB_ERR_NOT_FOUND);
    struct qdrant_snapshot *list = NULL, s = {0}, x = {0};
    size_t n = 0;
    TEST_EXPECT_INT(qdrant_snapshot_list(c, &tm, &list, &n, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(qdrant_snapshot_create(c, &tm, true, &x, err, sizeof err), QB_ERR_NOT_FOUND);
    /* wait=false: Qdrant would hide the 404, the client's first list sees it. */
    TEST_EXPECT_INT(qdrant_snapshot_create(c, &tm, false, &x, err, sizeof err), QB_ERR_NOT_FOUND);
    struct sink d;
    sink_init(&d, false, -1);
    TEST_EXPECT_INT(
        qdrant_snapshot_download(c, &tm, "x.snapshot", sink_write, &d, NULL, err, sizeof err),
        QB_ERR_NOT_FOUND);
    TEST_EXPECT(contains(err, "doesn't exist"));
    TEST_EXPECT_INT(qdrant_snapshot_delete(c, &tm, "x.snapshot", err, sizeof err),
                    QB_ERR_NOT_FOUND);
    sink_free(&d);

    /* Missing snapshot, including names that a URL would normalise away:
     * ".." must never turn DELETE .../snapshots/.. into DELETE of the
     * collection, nor "." a download into the listing. */
    struct qdrant_target t = {QDRANT_SCOPE_COLLECTION, "err", 0};
    static const char *const bad_names[] = {"nope.snapshot", "..", ".", "../err", "a/b"};
    for (size_t i = 0; i < QB_ARRAY_LEN(bad_names); i++) {
        sink_init(&d, false, -1);
        enum qb_err rc =
            qdrant_snapshot_download(c, &t, bad_names[i], sink_write, &d, NULL, err, sizeof err);
        TEST_EXPECT(rc == QB_ERR_NOT_FOUND || rc == QB_ERR_INVALID);
        TEST_EXPECT_INT(d.n, 0);
        sink_free(&d);
        rc = qdrant_snapshot_delete(c, &t, bad_names[i], err, sizeof err);
        TEST_EXPECT(rc == QB_ERR_NOT_FOUND || rc == QB_ERR_INVALID);
        if (rc != QB_ERR_NOT_FOUND && rc != QB_ERR_INVALID)
            fprintf(stderr, "  name \"%s\": %s %s\n", bad_names[i], qb_err_name(rc), err);
        TEST_EXPECT_INT(qdrant_collection_info(c, "err", &info, err, sizeof err), QB_OK);
        qdrant_collection_info_free(&info);
    }
    /* Empty names are refused before anything is sent. */
    struct qdrant_target te = {QDRANT_SCOPE_COLLECTION, "", 0};
    TEST_EXPECT_INT(qdrant_snapshot_list(c, &te, &list, &n, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, "", err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(qdrant_collection_info(c, "", &info, err, sizeof err), QB_ERR_INVALID);

    /* Bad checksums: Qdrant's refusal, and malformed ones refused locally. */
    TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(download_mem(c, &t, &s, &d, err, sizeof err) == QB_OK);
    static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
    struct mem_src m = {d.data, d.n, 0};
    TEST_EXPECT_INT(qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, zeros, NULL, d.n,
                                           mem_read, &m, err, sizeof err),
                    QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "400") && contains(err, "Checksum mismatch"));
    char loc[700];
    snprintf(loc, sizeof loc, "file://%s/snapshots/err/%s", e.data_dir, s.name);
    TEST_EXPECT_INT(
        qdrant_snapshot_recover(c, &t, loc, QDRANT_PRIORITY_DEFAULT, zeros, NULL, err, sizeof err),
        QB_ERR_REMOTE);
    TEST_EXPECT(contains(err, "Snapshot checksum mismatch"));
    TEST_ASSERT(emu_clear_requests(&e) == 0);
    /* 64 characters but not hex (one string, split for the line width) */
    static const char bad64[] = "g000000000000000000000000000000000"
                                "000000000000000000000000000000";
    static const char *const malformed[] = {"abc", "zz", bad64};
    for (size_t i = 0; i < QB_ARRAY_LEN(malformed); i++) {
        m.pos = 0;
        TEST_EXPECT_INT(qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, malformed[i], NULL,
                                               d.n, mem_read, &m, err, sizeof err),
                        QB_ERR_INVALID);
        TEST_EXPECT_INT(qdrant_snapshot_recover(c, &t, loc, QDRANT_PRIORITY_DEFAULT, malformed[i],
                                                NULL, err, sizeof err),
                        QB_ERR_INVALID);
    }
    cJSON *reqs = emu_requests(&e);
    TEST_EXPECT_INT(cJSON_GetArraySize(reqs), 0);
    cJSON_Delete(reqs);

    /* Full snapshots are restored only at Qdrant's start. */
    struct qdrant_target tf = {QDRANT_SCOPE_FULL, NULL, 0};
    TEST_EXPECT_INT(qdrant_snapshot_upload(c, &tf, QDRANT_PRIORITY_DEFAULT, NULL, NULL, d.n,
                                           mem_read, &m, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(
        qdrant_snapshot_recover(c, &tf, loc, QDRANT_PRIORITY_DEFAULT, NULL, NULL, err, sizeof err),
        QB_ERR_INVALID);

    /* A source shorter than announced is the caller's I/O error. */
    m.pos = 0;
    m.len = d.n / 2;
    TEST_EXPECT_INT(qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, NULL, NULL, d.n,
                                           mem_read, &m, err, sizeof err),
                    QB_ERR_IO);
    /* A sink that fails aborts the download with its own error. */
    struct sink f;
    sink_init(&f, false, -1);
    f.fail_after = 100;
    TEST_EXPECT_INT(qdrant_snapshot_download(c, &t, s.name, sink_write, &f, NULL, err, sizeof err),
                    QB_ERR_IO);
    TEST_EXPECT(contains(err, "sink refuses"));
    sink_free(&f);

    /* A snapshot whose recorded checksum does not match its bytes: the
     * client reports Qdrant's checksum; the caller's hash tells them apart. */
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"wrong_checksum\"}") == 0);
    next_second();
    struct qdrant_snapshot w = {0};
    struct sink wd;
    TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &w, err, sizeof err) == QB_OK);
    sink_init(&wd, false, -1);
    TEST_EXPECT_INT(qdrant_snapshot_download(c, &t, w.name, sink_write, &wd, NULL, err, sizeof err),
                    QB_OK);
    char hex[65];
    sink_hex(&wd, hex);
    TEST_EXPECT(w.checksum && strcmp(hex, w.checksum) != 0);
    sink_free(&wd);
    qdrant_snapshot_clear(&w);

    sink_free(&d);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ transient */

/* Injected faults (README of qdrant-emu) and the call each hits; every one
 * must come back as QB_ERR_TRANSIENT.  Drops of body-less requests are
 * armed twice: libcurl retries such a request once by itself when a reused
 * connection closes without an answer. */
enum fault_op { OP_LIST_COLLECTIONS, OP_CREATE, OP_DOWNLOAD, OP_UPLOAD, OP_LIST_SNAPSHOTS };

static const struct fault_case {
    const char *label;
    const char *rule;   /* a fault rule without path_prefix */
    const char *prefix; /* its path_prefix; NULL: the snapshot's download path */
    enum fault_op op;
    uint64_t max_seen; /* download: body bytes the sink may have seen */
} fault_cases[] = {
    {"503 on create", "{\"kind\":\"fail\",\"status\":503,\"method\":\"POST\"}",
     "/collections/tr/snapshots", OP_CREATE, 0},
    {"500 plain text", "{\"kind\":\"fail\",\"status\":500,\"plain\":true,\"message\":\"boom\"}",
     "/collections", OP_LIST_COLLECTIONS, 0},
    {"502 on list", "{\"kind\":\"fail\",\"status\":502}", "/collections/tr/snapshots",
     OP_LIST_SNAPSHOTS, 0},
    {"429 on upload", "{\"kind\":\"fail\",\"status\":429}", "/collections/tr/snapshots/upload",
     OP_UPLOAD, 0},
    {"dropped connection", "{\"kind\":\"drop\",\"count\":2}", "/collections", OP_LIST_COLLECTIONS,
     0},
    {"dropped upload", "{\"kind\":\"drop\",\"method\":\"POST\"}",
     "/collections/tr/snapshots/upload", OP_UPLOAD, 0},
    {"dropped download", "{\"kind\":\"drop\",\"count\":2}", NULL, OP_DOWNLOAD, 0},
    {"503 on download", "{\"kind\":\"fail\",\"status\":503}", NULL, OP_DOWNLOAD, 0},
    {"truncated download", "{\"kind\":\"truncate\",\"after_bytes\":1000}", NULL, OP_DOWNLOAD, 1000},
    {"download cut before the body", "{\"kind\":\"truncate\",\"after_bytes\":0}", NULL, OP_DOWNLOAD,
     0},
};

/* fc's rule with its path_prefix, as JSON text; caller frees. */
static char *fault_rule(const struct fault_case *fc, const char *download_path)
{
    cJSON *rule = cJSON_Parse(fc->rule);
    cJSON_AddStringToObject(rule, "path_prefix", fc->prefix ? fc->prefix : download_path);
    char *text = cJSON_PrintUnformatted(rule);
    cJSON_Delete(rule);
    return text;
}

static void test_transient_faults(void)
{
    struct emu e;
    TEST_ASSERT(emu_start(&e, NULL) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(emu_create_collection(&e, "tr", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "tr", 10, 9) == 0);
    TEST_ASSERT(emu_fill(&e, "tr", 2) == 0); /* big enough that truncation cuts the body */
    struct qdrant_target t = {QDRANT_SCOPE_COLLECTION, "tr", 0};
    struct qdrant_snapshot s = {0};
    struct sink d;
    TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(download_mem(c, &t, &s, &d, err, sizeof err) == QB_OK);
    char dl_path[256];
    snprintf(dl_path, sizeof dl_path, "/collections/tr/snapshots/%s", s.name);

    for (size_t i = 0; i < QB_ARRAY_LEN(fault_cases); i++) {
        const struct fault_case *fc = &fault_cases[i];
        fprintf(stderr, "  %s\n", fc->label);
        char *rule = fault_rule(fc, dl_path);
        int armed = emu_fault(&e, rule);
        free(rule);
        TEST_ASSERT(armed == 0);
        enum qb_err rc = QB_OK;
        uint64_t seen = 0;
        struct sink ds;
        sink_init(&ds, false, -1);
        struct mem_src m = {d.data, d.n, 0};
        struct qdrant_snapshot x = {0};
        char **names = NULL;
        struct qdrant_snapshot *list = NULL;
        size_t n = 0;
        switch (fc->op) {
        case OP_LIST_COLLECTIONS:
            rc = qdrant_list_collections(c, &names, &n, err, sizeof err);
            qdrant_strings_free(names, n);
            break;
        case OP_CREATE:
            rc = qdrant_snapshot_create(c, &t, true, &x, err, sizeof err);
            qdrant_snapshot_clear(&x);
            break;
        case OP_DOWNLOAD:
            seen = 12345;
            rc = qdrant_snapshot_download(c, &t, s.name, sink_write, &ds, &seen, err, sizeof err);
            TEST_EXPECT(seen <= fc->max_seen);
            TEST_EXPECT_INT(seen, ds.n);
            break;
        case OP_UPLOAD:
            rc = qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, NULL, NULL, d.n, mem_read,
                                        &m, err, sizeof err);
            break;
        case OP_LIST_SNAPSHOTS:
            rc = qdrant_snapshot_list(c, &t, &list, &n, err, sizeof err);
            qdrant_snapshots_free(list, n);
            break;
        }
        sink_free(&ds);
        TEST_EXPECT_INT(rc, QB_ERR_TRANSIENT);
        fprintf(stderr, "    -> %s: %s\n", qb_err_name(rc), err);
        /* The fault was one-shot: the same call succeeds now, on the same
         * client (so a broken connection is not reused). */
        TEST_ASSERT(emu_clear_faults(&e) == 0);
        if (fc->op == OP_DOWNLOAD) {
            TEST_EXPECT_INT(download_mem(c, &t, &s, &ds, err, sizeof err), QB_OK);
            sink_free(&ds);
        } else {
            TEST_EXPECT_INT(qdrant_list_collections(c, &names, &n, err, sizeof err), QB_OK);
            qdrant_strings_free(names, n);
        }
    }

    /* A call slower than the client's time limit is a transient timeout. */
    struct qdrant_client *quick = new_client_t(&e, NULL, 300, 30000);
    TEST_ASSERT(quick != NULL);
    TEST_ASSERT(
        emu_fault(&e, "{\"kind\":\"delay\",\"delay_ms\":1500,\"path_prefix\":\"/cluster\"}") == 0);
    cJSON *res = NULL;
    TEST_EXPECT_INT(qdrant_cluster_status(quick, &res, err, sizeof err), QB_ERR_TRANSIENT);
    cJSON_Delete(res);
    qdrant_client_destroy(quick);

    /* Nobody listening: connection refused is transient too. */
    TEST_EXPECT_INT(emu_stop(&e), 0);
    TEST_EXPECT_INT(qdrant_ready(c, err, sizeof err), QB_ERR_TRANSIENT);

    sink_free(&d);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(c);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ old Qdrant */

/* Before v1.8 Qdrant writes no checksums: both creation modes still
 * succeed (wait=false gives up waiting for a checksum after a grace), and
 * recovery works without one. */
static void test_pre_1_8_without_checksums(void)
{
    struct emu e;
    const char *const args[] = {"--version", "1.7.4", NULL};
    TEST_ASSERT(emu_start(&e, args) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(emu_create_collection(&e, "old", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "old", 12, 10) == 0);
    char *before = emu_points(&e, "old");
    for (size_t i = 0; i < QB_ARRAY_LEN(scope_cases); i++) {
        struct qdrant_target t = {scope_cases[i].scope, "old", 0};
        struct qdrant_snapshot s1 = {0}, s2 = {0};
        struct sink d;
        fprintf(stderr, "  scope %s\n", scope_cases[i].label);
        TEST_EXPECT_INT(qdrant_snapshot_create(c, &t, true, &s1, err, sizeof err), QB_OK);
        TEST_EXPECT(s1.name && s1.checksum == NULL);
        next_second();
        enum qb_err rc = qdrant_snapshot_create(c, &t, false, &s2, err, sizeof err);
        TEST_EXPECT_INT(rc, QB_OK);
        if (rc)
            fprintf(stderr, "  %s\n", err);
        TEST_EXPECT(s2.name && s2.checksum == NULL);
        TEST_EXPECT(s1.name && s2.name && strcmp(s1.name, s2.name) != 0);
        if (s1.name)
            TEST_EXPECT(listed_name(c, &t, s1.name, NULL));
        if (s2.name) {
            TEST_EXPECT_INT(download_mem(c, &t, &s2, &d, err, sizeof err), QB_OK);
            if (scope_cases[i].scope != QDRANT_SCOPE_FULL) {
                TEST_ASSERT(emu_upsert(&e, "old", 20, 11) == 0);
                struct mem_src m = {d.data, d.n, 0};
                TEST_EXPECT_INT(qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, NULL, NULL,
                                                       d.n, mem_read, &m, err, sizeof err),
                                QB_OK);
                char *after = emu_points(&e, "old");
                TEST_EXPECT(after && before && strcmp(after, before) == 0);
                free(after);
            }
            sink_free(&d);
            TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s2.name, err, sizeof err), QB_OK);
        }
        if (s1.name)
            TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s1.name, err, sizeof err), QB_OK);
        qdrant_snapshot_clear(&s1);
        qdrant_snapshot_clear(&s2);
    }
    free(before);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ escaping */

static void test_names_needing_escapes(void)
{
    static const struct {
        const char *name; /* as Qdrant knows it */
        const char *wire; /* the collection segment as sent */
    } cases[] = {
        {"my coll \xc3\xbc", "my%20coll%20%C3%BC"},
        {"a+b%c&d#e;f", "a%2Bb%25c%26d%23e%3Bf"},
        {"x.y_z-1~", "x.y_z-1~"},
    };
    struct emu e;
    TEST_ASSERT(emu_start(&e, NULL) == 0);
    struct qdrant_client *c = new_client(&e, NULL);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        const char *name = cases[i].name;
        fprintf(stderr, "  \"%s\"\n", name);
        TEST_ASSERT(emu_create_collection(&e, name, 4) == 0);
        TEST_ASSERT(emu_upsert(&e, name, 6, 12) == 0);
        char *before = emu_points(&e, name);
        TEST_ASSERT(emu_clear_requests(&e) == 0);

        struct qdrant_collection_info info;
        TEST_EXPECT_INT(qdrant_collection_info(c, name, &info, err, sizeof err), QB_OK);
        TEST_EXPECT_INT(info.points_count, 6);
        qdrant_collection_info_free(&info);
        cJSON *res = NULL;
        TEST_EXPECT_INT(qdrant_collection_cluster(c, name, &res, err, sizeof err), QB_OK);
        cJSON_Delete(res);
        char **names = NULL;
        size_t n = 0;
        bool found = false;
        TEST_EXPECT_INT(qdrant_list_collections(c, &names, &n, err, sizeof err), QB_OK);
        for (size_t k = 0; k < n; k++)
            found = found || strcmp(names[k], name) == 0;
        TEST_EXPECT(found);
        qdrant_strings_free(names, n);

        for (int shard = 0; shard < 2; shard++) {
            struct qdrant_target t = {shard ? QDRANT_SCOPE_SHARD : QDRANT_SCOPE_COLLECTION, name,
                                      0};
            struct qdrant_snapshot s = {0}, s2 = {0};
            struct sink d;
            TEST_ASSERT(qdrant_snapshot_create(c, &t, true, &s, err, sizeof err) == QB_OK);
            /* Snapshot names carry the collection name, so they need
             * escaping too. */
            TEST_EXPECT(strncmp(s.name, name, strlen(name)) == 0);
            next_second();
            TEST_EXPECT_INT(qdrant_snapshot_create(c, &t, false, &s2, err, sizeof err), QB_OK);
            TEST_EXPECT(listed_name(c, &t, s.name, s.checksum));
            TEST_EXPECT_INT(download_mem(c, &t, &s, &d, err, sizeof err), QB_OK);
            TEST_ASSERT(emu_upsert(&e, name, 9, 13) == 0);
            struct mem_src m = {d.data, d.n, 0};
            TEST_EXPECT_INT(qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, s.checksum,
                                                   s.name, d.n, mem_read, &m, err, sizeof err),
                            QB_OK);
            char *after = emu_points(&e, name);
            TEST_EXPECT(after && before && strcmp(after, before) == 0);
            free(after);
            TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s.name, err, sizeof err), QB_OK);
            if (s2.name)
                TEST_EXPECT_INT(qdrant_snapshot_delete(c, &t, s2.name, err, sizeof err), QB_OK);
            sink_free(&d);
            qdrant_snapshot_clear(&s);
            qdrant_snapshot_clear(&s2);
        }

        /* Every request used the escaped segment on the wire. */
        cJSON *reqs = emu_requests(&e);
        char prefix[128];
        snprintf(prefix, sizeof prefix, "/collections/%s", cases[i].wire);
        const cJSON *r;
        int seen = 0;
        cJSON_ArrayForEach(r, reqs)
        {
            const char *p = json_path_str(r, "path");
            if (!p || strcmp(p, "/collections") == 0 || strncmp(p, "/debug", 6) == 0)
                continue;
            seen++;
            TEST_EXPECT(strncmp(p, prefix, strlen(prefix)) == 0);
            TEST_EXPECT(json_path_num(r, "status") < 300);
            if (strncmp(p, prefix, strlen(prefix)) != 0 || json_path_num(r, "status") >= 300)
                fprintf(stderr, "    %s %s -> %d\n", json_path_str(r, "method"), p,
                        (int)json_path_num(r, "status"));
        }
        TEST_EXPECT(seen > 10);
        cJSON_Delete(reqs);
        free(before);
    }
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

/* ------------------------------------------------------------ 1 GiB */

static long vm_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    }
    if (f)
        fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0), so that the peak
 * measured afterwards belongs to the code under test. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

#define BIG_MIB       1024u
#define RSS_LIMIT_KIB (64L * 1024)

/* A 1 GiB snapshot downloaded streaming into a SHA-256 hasher and a temp
 * file, then uploaded back from that file; peak RSS must grow far less
 * than the snapshot. */
static void test_big_snapshot_streams(void)
{
    struct emu e;
    TEST_ASSERT(emu_start(&e, NULL) == 0);
    struct qdrant_client *c = new_client_t(&e, NULL, 0, 300000);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(emu_create_collection(&e, "big", 4) == 0);
    TEST_ASSERT(emu_upsert(&e, "big", 10, 14) == 0);
    int64_t t0 = qb_mono_ms();
    TEST_ASSERT(emu_fill(&e, "big", BIG_MIB) == 0);
    int64_t t_fill = qb_mono_ms();

    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/qbackup-big-XXXXXX");
    int fd = mkstemp(tmp);
    TEST_ASSERT(fd >= 0);
    unlink(tmp); /* gone when closed, whatever happens */

    reset_peak_rss();
    long hwm0 = vm_kib("VmHWM"), rss0 = vm_kib("VmRSS");
    struct qdrant_target t = {QDRANT_SCOPE_COLLECTION, "big", 0};
    struct qdrant_snapshot s = {0};
    enum qb_err rc = qdrant_snapshot_create(c, &t, true, &s, err, sizeof err);
    int64_t t_snap = qb_mono_ms();
    TEST_ASSERT(rc == QB_OK);
    TEST_EXPECT(s.size >= (uint64_t)BIG_MIB << 20);
    TEST_ASSERT(s.checksum != NULL);

    struct sink d;
    sink_init(&d, false, fd);
    uint64_t bytes = 0;
    rc = qdrant_snapshot_download(c, &t, s.name, sink_write, &d, &bytes, err, sizeof err);
    int64_t t_down = qb_mono_ms();
    TEST_EXPECT_INT(rc, QB_OK);
    if (rc)
        fprintf(stderr, "  download: %s\n", err);
    char hex[65];
    sink_hex(&d, hex);
    TEST_EXPECT_INT(bytes, s.size);
    TEST_EXPECT_STR(hex, s.checksum);
    long hwm_down = vm_kib("VmHWM");

    struct resp r;
    TEST_ASSERT(emu_request(&e, "DELETE", "/collections/big", NULL, &r) == 0);
    resp_free(&r);
    TEST_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
    rc = qdrant_snapshot_upload(c, &t, QDRANT_PRIORITY_DEFAULT, s.checksum, "big-copy.snapshot",
                                s.size, fd_read, &fd, err, sizeof err);
    int64_t t_up = qb_mono_ms();
    TEST_EXPECT_INT(rc, QB_OK);
    if (rc)
        fprintf(stderr, "  upload: %s\n", err);
    long hwm1 = vm_kib("VmHWM");
    struct qdrant_collection_info info;
    TEST_EXPECT_INT(qdrant_collection_info(c, "big", &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.points_count, 10);
    qdrant_collection_info_free(&info);

    fprintf(stderr,
            "  size %llu bytes; fill %.1f s, snapshot %.1f s, download %.1f s (%.0f MiB/s), "
            "upload+recover %.1f s (%.0f MiB/s)\n",
            (unsigned long long)s.size, (double)(t_fill - t0) / 1000,
            (double)(t_snap - t_fill) / 1000, (double)(t_down - t_snap) / 1000,
            (double)s.size / 1048576.0 / ((double)(t_down - t_snap + 1) / 1000),
            (double)(t_up - t_down) / 1000,
            (double)s.size / 1048576.0 / ((double)(t_up - t_down + 1) / 1000));
    fprintf(stderr,
            "  RSS: %ld KiB at start (peak reset to %ld KiB); peak %ld KiB after download, "
            "%ld KiB after upload: growth %ld KiB (limit %ld KiB)\n",
            rss0, hwm0, hwm_down, hwm1, hwm1 - hwm0, RSS_LIMIT_KIB);
    TEST_EXPECT(hwm0 > 0 && hwm1 > 0);
    TEST_EXPECT(hwm1 - hwm0 < RSS_LIMIT_KIB);

    sink_free(&d);
    close(fd);
    qdrant_snapshot_clear(&s);
    qdrant_client_destroy(c);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
}

static const struct {
    const char *name;
    void (*fn)(void);
} all_tests[] = {
    {"test_service_calls", test_service_calls},
    {"test_service_old_version_cluster", test_service_old_version_cluster},
    {"test_snapshot_lifecycle_all_scopes", test_snapshot_lifecycle_all_scopes},
    {"test_round_trip_recovery", test_round_trip_recovery},
    {"test_shard_recovery", test_shard_recovery},
    {"test_api_keys", test_api_keys},
    {"test_jwt_key_as_bearer", test_jwt_key_as_bearer},
    {"test_errors", test_errors},
    {"test_transient_faults", test_transient_faults},
    {"test_pre_1_8_without_checksums", test_pre_1_8_without_checksums},
    {"test_names_needing_escapes", test_names_needing_escapes},
};

/* Usage: test_qdrant_client            every test but the 1 GiB one
 *        test_qdrant_client --big      only the 1 GiB one
 *        test_qdrant_client NAME...    the named tests */
int main(int argc, char **argv)
{
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err) != QB_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "--big") == 0) {
        TEST_RUN(test_big_snapshot_streams);
        return TEST_RESULT();
    }
    for (size_t i = 0; i < QB_ARRAY_LEN(all_tests); i++) {
        bool wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted = wanted || strcmp(argv[a], all_tests[i].name) == 0;
        if (!wanted)
            continue;
        int before = unit_failures;
        int64_t t0 = qb_mono_ms();
        unit_current = all_tests[i].name;
        all_tests[i].fn();
        fprintf(stderr, "%s %s (%.1f s)\n", unit_failures == before ? "ok  " : "FAIL",
                all_tests[i].name, (double)(qb_mono_ms() - t0) / 1000);
    }
    return TEST_RESULT();
}
