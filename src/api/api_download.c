/* SPDX-License-Identifier: Apache-2.0
 *
 * api_download.c -- GET /v1/snapshots/{id}/download: the stored object,
 * streamed, with Content-Length, its SHA-256 (Repr-Digest, RFC 9530, and
 * X-Checksum-SHA256 in hex) and single-range requests.  For a full-instance
 * snapshot this is how an operator gets the file Qdrant restores at start;
 * for a restore by URL from a local folder it is what Qdrant fetches.
 *
 * Access: a viewer token, or a `token` + `expires` pair that qbackupd
 * itself minted for one snapshot (util/url_token.h), since Qdrant cannot
 * send our bearer token.  Such a token opens only the snapshot it was made
 * for: 403 when it is not ours or expired, 404 when its snapshot was
 * deleted, also when the id now names another one.
 *
 * A compressed or encrypted object is served decoded: the archive, as
 * Qdrant needs it (serve_decoded).
 *
 * The object is opened (or HEAD-ed on S3) before the status line, so a
 * missing or cut-short object answers 502 instead of a 200 and a stream
 * that stops early.
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/copies.h"
#include "engine/resolve.h"
#include "http/http_reply.h"
#include "storage/bridge.h"
#include "util/log.h"
#include "store/store_snapshots.h"
#include "util/url_token.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

/* How the caller may download: with a bearer token (viewer or above) or
 * with a download token from the URL, whose binding to the snapshot is
 * checked once the row is read. */
enum access {
    ACCESS_DENIED, /* replied */
    ACCESS_BEARER,
    ACCESS_URL_TOKEN,
};

/* Whether the caller may download snapshot id; replies when not.  A URL
 * token is checked here only for being ours, for this id, and unexpired;
 * url_token_bound() then checks it against the snapshot row. */
static enum access authorized(struct http_request *req, int64_t id)
{
    struct app *app = http_req_app(req);
    const char *token = http_req_query(req, "token");
    const char *expires = http_req_query(req, "expires");
    if (token && expires) {
        char *end = NULL;
        long long exp = strtoll(expires, &end, 10);
        if (*end == '\0' && url_token_minted(id, exp, token))
            return ACCESS_URL_TOKEN;
        http_reply_problem(req, API_ERR_FORBIDDEN, "the download token is invalid or expired");
        return ACCESS_DENIED;
    }
    if (auth_count(app->auth) == 0)
        return ACCESS_BEARER;
    enum auth_role role = AUTH_ROLE_PUBLIC;
    const char *name = NULL;
    enum auth_result ar =
        auth_check(app->auth, http_req_header(req, "Authorization"), &role, &name);
    if (ar != AUTH_OK) {
        http_reply_problem(req, API_ERR_UNAUTHENTICATED,
                           "send \"Authorization: Bearer <token>\" (viewer or above)");
        http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"qbackup\"");
        return ACCESS_DENIED;
    }
    return ACCESS_BEARER;
}

/* Whether the URL token was made for this very snapshot (not only its
 * id); replies 404 when not: the snapshot it was made for is gone. */
static bool url_token_bound(struct http_request *req, const struct store_snapshot *snap)
{
    const char *token = http_req_query(req, "token");
    long long exp = strtoll(http_req_query(req, "expires"), NULL, 10);
    if (url_token_check(snap->id, exp, snap->storage_key, token) == URL_TOKEN_OK)
        return true;
    http_reply_problem(req, API_ERR_NOT_FOUND,
                       "the snapshot this download token was made for no longer exists "
                       "(snapshot %lld is another one)",
                       (long long)snap->id);
    return false;
}

/* Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against size.  Returns
 * false for anything else (the whole object is sent then); *bad is set
 * for a well-formed but unsatisfiable range. */
static bool parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to, bool *bad)
{
    *bad = false;
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return false;
    const char *p = h + 6;
    char *end = NULL;
    if (*p == '-') {
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end || end == p + 1)
            return false;
        if (n == 0 || size == 0) {
            *bad = true;
            return false;
        }
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return true;
    }
    unsigned long long a = strtoull(p, &end, 10);
    if (end == p || *end != '-')
        return false;
    const char *q = end + 1;
    unsigned long long b = size ? size - 1 : 0;
    if (*q) {
        b = strtoull(q, &end, 10);
        if (*end || end == q || b < a)
            return false;
    }
    if (a >= size) {
        *bad = true;
        return false;
    }
    *from = a;
    *to = b >= size ? size - 1 : b;
    return true;
}

static void add_checksum_headers(struct http_request *req, const char *hex)
{
    unsigned char raw[32];
    for (int i = 0; i < 32; i++) {
        unsigned int v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, raw, 32);
    char digest[96];
    snprintf(digest, sizeof digest, "sha-256=:%s:", b64);
    http_reply_header(req, "Repr-Digest", digest);
    http_reply_header(req, "X-Checksum-SHA256", hex);
}

struct s3_stream {
    struct storage *st;
    struct bridge *bridge;
    struct seal_keyring *ring; /* a decoded stream's keys, or NULL */
};

static long s3_stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    struct s3_stream *s = ctx;
    char err[QB_ERRBUF_SIZE];
    size_t n = 0;
    (void)pos;
    if (bridge_read(s->bridge, buf, max, &n, err, sizeof err) == QB_OK)
        return (long)n;
    /* The client only sees the connection end early: say why here. */
    log_warn("download.read_failed", "error=%s", log_q(err));
    return -1;
}

static void s3_stream_free(void *ctx)
{
    struct s3_stream *s = ctx;
    bridge_stop(s->bridge);
    seal_keyring_destroy(s->ring);
    storage_close(s->st);
    free(s);
}

/* A compressed or encrypted object is served as the archive it holds,
 * decoded on the fly (Qdrant recovering by URL needs the archive): the
 * length and checksum are the archive's, and ranges are not offered (a
 * range of the archive would need decoding from the start).  A tampered
 * or truncated object cuts the stream at the bad chunk, and the checksum
 * header lets the client see it was not whole. */
static void serve_decoded(struct http_request *req, struct app *app,
                          const struct store_snapshot *snap)
{
    char err[QB_ERRBUF_SIZE];
    if (snap->raw_size < 0 || !snap->raw_sha256) {
        http_reply_problem(req, API_ERR_CONFLICT,
                           "snapshot %lld (%s) was catalogued without its archive's size and "
                           "checksum (a rescan without its manifest); verify it first "
                           "(POST /v1/snapshots/%lld/verify)",
                           (long long)snap->id, snap->codec, (long long)snap->id);
        return;
    }
    struct s3_stream *s = xcalloc(1, sizeof *s);
    enum qb_err rc = resolve_keyring(app->store, snap, &s->ring, err, sizeof err);
    if (rc) {
        s3_stream_free(s);
        http_reply_problem(req, API_ERR_CONFLICT, "%s", err);
        return;
    }
    /* The first healthy location (engine/copies.h: the primary, else a
     * second copy), checked for size and checksum before the 200. */
    char *key = NULL;
    rc = copies_open_source(app->store, snap, &s->st, &key, NULL, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND)
        rc = QB_ERR_REMOTE;
    if (!rc)
        rc = bridge_start_decoded(s->st, key, 0, 0, snap->codec, s->ring, 4u << 20, &s->bridge, err,
                                  sizeof err);
    free(key);
    if (rc) {
        s3_stream_free(s);
        http_reply_problem(req, API_ERR_REMOTE_FAILED, "%s", err);
        return;
    }
    http_reply_stream(req, 200, (uint64_t)snap->raw_size, "application/octet-stream",
                      s3_stream_read, s, s3_stream_free);
    char disposition[300];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", snap->qdrant_name);
    http_reply_header(req, "Content-Disposition", disposition);
    http_reply_header(req, "Accept-Ranges", "none");
    add_checksum_headers(req, snap->raw_sha256);
}

void api_snapshots_download(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot *snap = NULL;
    int64_t id = 0;
    if (!api_path_id(req, "snapshot", &id))
        return;
    enum access access = authorized(req, id);
    if (access == ACCESS_DENIED)
        return;
    enum qb_err rc = store_snapshot_get(app->store, id, &snap, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    if (access == ACCESS_URL_TOKEN && !url_token_bound(req, snap))
        goto out;
    if (strcmp(snap->layout, "shards") == 0) {
        /* A set is one object per shard, not one file to hand out. */
        http_reply_problem(req, API_ERR_CONFLICT,
                           "snapshot %lld is a cluster backup set with one object per shard "
                           "(see backup_set.shards); restore it with POST /v1/restores, or "
                           "read its objects from the destination",
                           (long long)id);
        goto out;
    }
    if (snap->codec && strcmp(snap->codec, "none") != 0) {
        serve_decoded(req, app, snap);
        goto out;
    }
    uint64_t size = (uint64_t)snap->size_bytes, from = 0, to = size ? size - 1 : 0;
    bool bad = false;
    bool ranged = parse_range(http_req_header(req, "Range"), size, &from, &to, &bad);
    if (bad) {
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        http_reply_problem(req, API_ERR_RANGE_NOT_SATISFIABLE,
                           "the range is outside the %" PRIu64 "-byte object", size);
        http_reply_header(req, "Content-Range", cr);
        goto out;
    }
    uint64_t len = size ? to - from + 1 : 0;
    unsigned status = ranged ? 206 : 200;
    const char *type = "application/octet-stream";
    /* Open the object (or ask S3 about it) before the status line: once
     * the 200 is sent, an object that is missing or shorter than the
     * catalogue says could only show as a cut connection.  The catalogue
     * has the snapshot, so its object missing is the destination's fault:
     * 502, not 404. */
    int fd = snap->location[0] == '/' ? open(snap->location, O_RDONLY | O_CLOEXEC) : -1;
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size)) {
        close(fd);
        fd = -1;
    }
    if (fd >= 0) {
        http_reply_fd(req, status, fd, from, len, type);
    } else {
        /* An S3 object, or a local one that is missing or not what the
         * catalogue records: the first healthy location (a second copy,
         * engine/copies.h) is streamed instead. */
        struct s3_stream *s = xcalloc(1, sizeof *s);
        char *key = NULL;
        rc = copies_open_source(app->store, snap, &s->st, &key, NULL, err, sizeof err);
        if (rc == QB_ERR_NOT_FOUND)
            rc = QB_ERR_REMOTE;
        if (!rc)
            rc = bridge_start(s->st, key, from, len, 4u << 20, &s->bridge, err, sizeof err);
        free(key);
        if (rc) {
            s3_stream_free(s);
            http_reply_problem(req, API_ERR_REMOTE_FAILED, "%s", err);
            goto out;
        }
        http_reply_stream(req, status, len, type, s3_stream_read, s, s3_stream_free);
    }
    char disposition[300];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", snap->qdrant_name);
    http_reply_header(req, "Content-Disposition", disposition);
    http_reply_header(req, "Accept-Ranges", "bytes");
    add_checksum_headers(req, snap->sha256);
    if (ranged) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
        http_reply_header(req, "Content-Range", cr);
    }
out:
    store_snapshot_free(snap);
}
