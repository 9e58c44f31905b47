/* SPDX-License-Identifier: Apache-2.0 */
/* emu_fileserve.c -- snapshot downloads (see emu_fileserve.h). */
#include "emu_fileserve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef EMU_HAVE_ZLIB
#include <zlib.h>
#endif

#include "emu_faults.h"
#include "emu_reply.h"

#define BLOCK_SIZE (256 * 1024)

struct dl {
    int fd;
    uint64_t off;  /* next file offset to read */
    uint64_t end;  /* file offset to stop at */
    uint64_t sent; /* body bytes handed to MHD */
    struct emu_fault_dl f;
    double t0;
    int stalled;
    int gzip;
    int pipe; /* fd is a pipe: read in order, no offsets */
#ifdef EMU_HAVE_ZLIB
    z_stream zs;
    int zdone;
    unsigned char *zin;
#endif
};

static void dl_free(void *cls)
{
    struct dl *d = cls;
    close(d->fd);
#ifdef EMU_HAVE_ZLIB
    if (d->gzip)
        deflateEnd(&d->zs);
    free(d->zin);
#endif
    free(d);
}

static ssize_t read_at(struct dl *d, char *buf, size_t max)
{
    if (d->end != UINT64_MAX && d->off >= d->end)
        return 0;
    if (d->end != UINT64_MAX && d->end - d->off < max)
        max = (size_t)(d->end - d->off);
    ssize_t n;
    do {
        n = d->pipe ? read(d->fd, buf, max) : pread(d->fd, buf, max, (off_t)d->off);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        d->off += (uint64_t)n;
    return n;
}

#ifdef EMU_HAVE_ZLIB
static ssize_t gzip_chunk(struct dl *d, char *buf, size_t max)
{
    if (d->zdone)
        return MHD_CONTENT_READER_END_OF_STREAM;
    d->zs.next_out = (unsigned char *)buf;
    d->zs.avail_out = (uInt)max;
    while (d->zs.avail_out == max) {
        int flush = Z_NO_FLUSH;
        if (d->zs.avail_in == 0) {
            ssize_t n = read_at(d, (char *)d->zin, BLOCK_SIZE);
            if (n < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            d->zs.next_in = d->zin;
            d->zs.avail_in = (uInt)n;
            if (n == 0)
                flush = Z_FINISH;
        }
        int rc = deflate(&d->zs, flush);
        if (rc == Z_STREAM_END) {
            d->zdone = 1;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return (ssize_t)(max - d->zs.avail_out);
}
#endif

static ssize_t dl_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct dl *d = cls;
    if (d->f.truncate) {
        if (d->sent >= d->f.truncate_after)
            /* Unclean: MHD closes the connection.  Clean: a chunked body gets
             * its terminating chunk, so the client sees a normal end; a body
             * with Content-Length is still cut short. */
            return d->f.truncate_clean ? MHD_CONTENT_READER_END_OF_STREAM
                                       : MHD_CONTENT_READER_END_WITH_ERROR;
        if (d->f.truncate_after - d->sent < max)
            max = (size_t)(d->f.truncate_after - d->sent);
    }
    if (d->f.stall_ms && !d->stalled) {
        if (d->sent >= d->f.stall_after) {
            emu_sleep_ms(d->f.stall_ms);
            d->stalled = 1;
        } else if (d->f.stall_after - d->sent < max) {
            max = (size_t)(d->f.stall_after - d->sent);
        }
    }
    if (d->f.bytes_per_sec) {
        /* Keep sent/elapsed under the rate; hand out ~1/20 s worth at a time. */
        uint64_t slice = d->f.bytes_per_sec / 20 ? d->f.bytes_per_sec / 20 : 1;
        if (max > slice)
            max = (size_t)slice;
        double due = (double)(d->sent + max) / (double)d->f.bytes_per_sec;
        double wait = due - (emu_now() - d->t0);
        if (wait > 0)
            emu_sleep_ms((long)(wait * 1000));
    }
    ssize_t n;
#ifdef EMU_HAVE_ZLIB
    if (d->gzip)
        n = gzip_chunk(d, buf, max);
    else
#endif
        n = read_at(d, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return n == MHD_CONTENT_READER_END_OF_STREAM ? n : MHD_CONTENT_READER_END_WITH_ERROR;
    d->sent += (uint64_t)n;
    return n;
}

static int wants_gzip(struct emu_req *r)
{
#ifdef EMU_HAVE_ZLIB
    const char *ae = emu_req_header(r, "accept-encoding");
    if (!ae)
        return 0;
    /* Any "gzip" token not disabled by q=0 selects gzip. */
    for (const char *p = strcasestr(ae, "gzip"); p; p = strcasestr(p + 4, "gzip")) {
        const char *q = p + 4;
        while (*q == ' ')
            q++;
        if (*q == ';') {
            q++;
            while (*q == ' ')
                q++;
            if (strncmp(q, "q=0", 3) == 0) {
                const char *t = q + 3;
                if (*t == '.')
                    for (t++; *t == '0'; t++) {
                    }
                if (*t == '\0' || *t == ',' || *t == ' ')
                    continue;
            }
        }
        return 1;
    }
#else
    (void)r;
#endif
    return 0;
}

static struct MHD_Response *callback_response(struct dl *d, uint64_t size)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, BLOCK_SIZE, dl_read, d, dl_free);
    if (!resp)
        abort();
    return resp;
}

static struct dl *dl_new(struct emu_req *r, int fd, uint64_t off, uint64_t end, int gzip)
{
    struct dl *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    d->fd = fd;
    d->off = off;
    d->end = end;
    d->t0 = emu_now();
    emu_faults_take_download(r->method, r->path, &d->f);
#ifdef EMU_HAVE_ZLIB
    if (gzip) {
        d->gzip = 1;
        d->zin = malloc(BLOCK_SIZE);
        if (!d->zin || deflateInit2(&d->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            abort();
    }
#else
    (void)gzip;
#endif
    return d;
}

static int dl_has_fault(const struct dl *d)
{
    return d->f.bytes_per_sec || d->f.truncate || d->f.stall_ms;
}

static void http_date(time_t t, char *buf, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Parses the first range of "bytes=…".  Returns 1 = range set, 0 = no usable
 * Range header (serve all), -1 = unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *p = h + 6;
    char *e;
    if (*p == '-') {
        uint64_t suffix = strtoull(p + 1, &e, 10);
        if (e == p + 1)
            return 0;
        if (suffix == 0 || size == 0)
            return -1;
        *start = suffix >= size ? 0 : size - suffix;
        *end = size - 1;
        return 1;
    }
    uint64_t a = strtoull(p, &e, 10);
    if (e == p || *e != '-')
        return 0;
    p = e + 1;
    uint64_t b = size ? size - 1 : 0;
    if (*p >= '0' && *p <= '9') {
        b = strtoull(p, &e, 10);
        if (b >= size)
            b = size ? size - 1 : 0;
        if (b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *start = a;
    *end = b;
    return 1;
}

static int etag_listed(const char *list, const char *etag)
{
    if (!list)
        return 0;
    if (strstr(list, "*"))
        return 1;
    return strstr(list, etag) != NULL;
}

static void common_headers(struct emu_req *r, const char *name, const char *etag, const char *lm)
{
    char disp[1024];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
    emu_reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    emu_reply_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    if (etag) {
        emu_reply_header(r, MHD_HTTP_HEADER_ETAG, etag);
        emu_reply_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
        emu_reply_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    }
}

void emu_serve_file(struct emu_req *r, const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        emu_reply_text(r, 404, "Not found: Snapshot file is gone", "text/plain; charset=utf-8");
        return;
    }
    uint64_t size = (uint64_t)sb.st_size;
    char etag[128], lm[64];
    snprintf(etag, sizeof(etag), "\"%" PRIx64 ":%" PRIx64 ":%" PRIx64 ":%lx\"", (uint64_t)sb.st_ino,
             size, (uint64_t)sb.st_mtim.tv_sec, (unsigned long)sb.st_mtim.tv_nsec);
    http_date(sb.st_mtim.tv_sec, lm, sizeof(lm));
    const char *im = emu_req_header(r, "if-match");
    if (im && !etag_listed(im, etag)) {
        close(fd);
        emu_reply_empty(r, 412);
        return;
    }
    if (etag_listed(emu_req_header(r, "if-none-match"), etag)) {
        close(fd);
        emu_reply_empty(r, 304);
        common_headers(r, name, etag, lm);
        return;
    }
    uint64_t start = 0, end = 0;
    int rng = size ? parse_range(emu_req_header(r, "range"), size, &start, &end) : 0;
    if (rng < 0) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
        emu_reply_empty(r, 416);
        emu_reply_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return;
    }
    int gzip = !rng && wants_gzip(r);
    struct dl *d = dl_new(r, fd, rng ? start : 0, rng ? end + 1 : size, gzip);
    struct MHD_Response *resp;
    uint64_t len = rng ? end - start + 1 : size;
    if (gzip) {
        resp = callback_response(d, MHD_SIZE_UNKNOWN);
    } else if (dl_has_fault(d)) {
        resp = callback_response(d, len);
    } else {
        free(d); /* fast path: sendfile straight from the descriptor */
        resp = MHD_create_response_from_fd_at_offset64(len, fd, rng ? start : 0);
        if (!resp)
            abort();
    }
    emu_reply_response(r, rng ? 206 : 200, resp);
    common_headers(r, name, etag, lm);
    if (gzip) {
        emu_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        emu_reply_header(r, MHD_HTTP_HEADER_VARY, "accept-encoding");
    }
    if (rng) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end, size);
        emu_reply_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
}

void emu_serve_stream(struct emu_req *r, int fd, const char *name)
{
    struct dl *d = dl_new(r, fd, 0, UINT64_MAX, 0);
    d->pipe = 1;
    emu_reply_response(r, 200, callback_response(d, MHD_SIZE_UNKNOWN));
    common_headers(r, name, NULL, NULL);
}
