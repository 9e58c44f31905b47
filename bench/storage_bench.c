/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_bench.c -- copies one file into a storage destination or one
 * object out of it through storage.h, the way a backup streams a snapshot,
 * so bench/storage-bench.sh can time it (and its peak RSS) beside `aws s3
 * cp` and `rclone`.  Not a test: it asserts nothing but success.
 *
 *   storage_bench put URL KEY FILE     FILE -> KEY  (prints size and SHA-256)
 *   storage_bench get URL KEY FILE     KEY -> FILE
 *   storage_bench bget URL KEY FILE    KEY -> FILE through a bridge (storage/
 *                                      bridge.h) with a restore's 8 MiB ring,
 *                                      pulled as a restore's upload pulls it
 *   storage_bench del URL KEY -        deletes KEY
 *   storage_bench pcopy URL KEY DSTKEY server-side copy of KEY to DSTKEY in
 *                                      parts (UploadPartCopy, as a copy over
 *                                      5 GiB is made), QB_PART_SIZE_MIB each
 *                                      and QB_PARTS_IN_FLIGHT at once (S3)
 *
 * URL is file:///dir or s3://bucket/prefix; S3 settings come from
 * S3_ENDPOINT (path-style), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_DEFAULT_REGION, and optionally QB_PART_SIZE_MIB and
 * QB_PARTS_IN_FLIGHT (default: the storage defaults, 32 MiB x 4),
 * QB_DOWNLOAD_PART_SIZE_MIB and QB_DOWNLOAD_PARTS (reads; default 16 MiB x
 * 4; a part size of half the object or more reads it with one GET);
 * QB_BENCH_CREATE set: create the bucket first.
 */
#include "common.h"
#include "remote/http_client.h"
#include "remote/s3_copy.h"
#include "storage/bridge.h"
#include "storage/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (8u << 20) /* what a snapshot download hands over at a time */

static enum qb_err put_file(struct storage *st, const char *key, const char *path, char *err,
                            size_t errlen)
{
    struct storage_writer *w = NULL;
    struct storage_write_result res = {0};
    char *buf = NULL;
    struct stat sb;
    enum qb_err rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        rc = qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = storage_write_begin(st, key, (uint64_t)sb.st_size, &w, err, errlen);
    if (rc)
        goto out;
    buf = xmalloc(CHUNK);
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        rc = storage_write(w, buf, (size_t)n, err, errlen);
        if (rc)
            goto out;
    }
    rc = storage_write_finish(w, &res, err, errlen);
    w = NULL; /* consumed either way */
    if (!rc)
        printf("%llu %s %s\n", (unsigned long long)res.size, res.sha256, res.location);
out:
    storage_write_abort(w);
    free(res.location);
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

static enum qb_err to_fd(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(*(int *)ud, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qb_failf(QB_ERR_IO, err, errlen, "write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return QB_OK;
}

static enum qb_err get_file(struct storage *st, const char *key, const char *path, char *err,
                            size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
    enum qb_err rc = storage_read(st, key, 0, 0, to_fd, &fd, err, errlen);
    if (close(fd) != 0 && !rc)
        rc = qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
    return rc;
}

/* As restore_job.c: the upload to Qdrant pulls 64 KiB at a time (curl's
 * read buffer) from an 8 MiB ring. */
static enum qb_err bridge_get_file(struct storage *st, const char *key, const char *path, char *err,
                                   size_t errlen)
{
    struct bridge *b = NULL;
    char *buf = xmalloc(64u << 10);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    enum qb_err rc = fd < 0 ? qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno))
                            : bridge_start(st, key, 0, 0, 8u << 20, &b, err, errlen);
    for (size_t n = 1; !rc && n;) {
        rc = bridge_read(b, buf, 64u << 10, &n, err, errlen);
        if (!rc && n)
            rc = to_fd(&fd, buf, n, err, errlen);
    }
    bridge_stop(b);
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
    free(buf);
    return rc;
}

/* pcopy: KEY and DSTKEY are under cfg's s3://bucket/prefix.  The copy's
 * x-amz-meta-sha256 is a placeholder: the bench times the parts, and a
 * header with an empty value would be signed but not sent by curl. */
static enum qb_err part_copy(const struct storage_config *cfg, const char *key, const char *dst,
                             char *err, size_t errlen)
{
    const char *url = cfg->url + strlen("s3://"), *slash = strchr(url, '/');
    char *bucket = slash ? xstrndup(url, (size_t)(slash - url)) : xstrdup(url);
    char *from = xasprintf("%s%s", slash ? slash + 1 : "", key);
    char *to = xasprintf("%s%s", slash ? slash + 1 : "", dst);
    struct s3_config sc = {.endpoint = cfg->endpoint,
                           .region = cfg->region ? cfg->region : "us-east-1",
                           .bucket = bucket,
                           .access_key = getenv("AWS_ACCESS_KEY_ID"),
                           .secret_key = getenv("AWS_SECRET_ACCESS_KEY"),
                           .path_style = true,
                           .part_size = cfg->part_size,
                           .parts_in_flight = cfg->parts_in_flight};
    struct s3_client *c = NULL;
    struct s3_object_info head = {0};
    char etag[48];
    enum qb_err rc = s3_client_create(&sc, &c, err, errlen);
    if (!rc)
        rc = s3_head_object(c, from, &head, err, errlen);
    if (!rc)
        rc = s3_copy_object_multipart(c, c, from, to, head.size, s3_client_part_size(c),
                                      "(bench copy)", etag, err, errlen);
    s3_object_info_free(&head);
    s3_client_destroy(c);
    free(bucket);
    free(from);
    free(to);
    return rc;
}

int main(int argc, char **argv)
{
    char err[QB_ERRBUF_SIZE];
    if (argc != 5 || (strcmp(argv[1], "put") != 0 && strcmp(argv[1], "get") != 0 &&
                      strcmp(argv[1], "bget") != 0 && strcmp(argv[1], "del") != 0 &&
                      strcmp(argv[1], "pcopy") != 0)) {
        fprintf(stderr, "usage: storage_bench put|get|bget|del|pcopy URL KEY FILE|DSTKEY\n");
        return 2;
    }
    if (http_client_global_init(err, sizeof err) != QB_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const char *ps = getenv("QB_PART_SIZE_MIB"), *pf = getenv("QB_PARTS_IN_FLIGHT");
    const char *dps = getenv("QB_DOWNLOAD_PART_SIZE_MIB"), *dpf = getenv("QB_DOWNLOAD_PARTS");
    struct storage_config cfg = {
        .url = argv[2],
        .create = getenv("QB_BENCH_CREATE") != NULL, /* the bucket, if missing */
        .endpoint = getenv("S3_ENDPOINT"),
        .region = getenv("AWS_DEFAULT_REGION"),
        .path_style = true,
        .part_size = ps ? strtoull(ps, NULL, 10) << 20 : 0,
        .parts_in_flight = pf ? (unsigned)strtoul(pf, NULL, 10) : 0,
        .download_part_size = dps ? strtoull(dps, NULL, 10) << 20 : 0,
        .download_parts_in_flight = dpf ? (unsigned)strtoul(dpf, NULL, 10) : 0,
    };
    struct storage *st = NULL;
    enum qb_err rc = storage_open(&cfg, &st, err, sizeof err);
    if (!rc && strcmp(argv[1], "pcopy") == 0)
        rc = part_copy(&cfg, argv[3], argv[4], err, sizeof err);
    else if (!rc)
        rc = argv[1][0] == 'p'   ? put_file(st, argv[3], argv[4], err, sizeof err)
             : argv[1][0] == 'g' ? get_file(st, argv[3], argv[4], err, sizeof err)
             : argv[1][0] == 'd' ? storage_delete(st, argv[3], err, sizeof err)
                                 : bridge_get_file(st, argv[3], argv[4], err, sizeof err);
    storage_close(st);
    if (rc) {
        fprintf(stderr, "storage_bench: %s\n", err);
        return 1;
    }
    return 0;
}
