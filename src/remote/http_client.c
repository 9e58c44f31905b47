/* SPDX-License-Identifier: Apache-2.0
 *
 * http_client.c -- one libcurl easy handle per struct http_client.  Owns
 * the handle, its option set, response capture (bounded by struct buf) and
 * the CURLcode/status -> enum qb_err mapping.
 *
 * DESIGN
 *   Each perform() resets the handle (curl_easy_reset keeps the connection
 *   and DNS caches, so keep-alive still works) and sets every option again,
 *   so no option from one request can leak into the next.  Bodies always go
 *   through CURLOPT_UPLOAD + a read callback with a known size: that gives
 *   one code path for PUT and POST, a Content-Length on every request (S3
 *   answers 411 otherwise), and rewinding for in-memory bodies.
 *   Redirects are never followed: a signed request cannot be replayed on
 *   another host, and S3 redirects mean a wrong endpoint or region.
 */
#include "http_client.h"

#include "util/buf.h"
#include "util/retry.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_BODY   (1024 * 1024)
#define MAX_HEADER_BYTES   (64 * 1024) /* all response headers together */
#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_LOW_SPEED  30

struct http_client {
    CURL *h;
    long connect_timeout_ms;
    long low_speed_time_s;
    long low_speed_bytes;
    long total_timeout_ms;
    bool insecure;
    char *ca_file;
    char *user_agent;
    char errbuf[CURL_ERROR_SIZE];
};

void http_client_destroy(struct http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->h);
    free(c->ca_file);
    free(c->user_agent);
    free(c);
}

/* Per-transfer state shared by the callbacks. */
struct xfer {
    const struct http_client_request *req;
    struct http_client_response *resp;
    long status;       /* from the latest status line */
    struct buf body;   /* captured body */
    uint64_t sent;     /* request body bytes handed to curl */
    size_t hdr_bytes;  /* response header bytes of the final response */
    enum qb_err cb_rc; /* set when a callback aborted the transfer */
    char cb_err[QB_ERRBUF_SIZE];
};

enum qb_err http_client_global_init(char *err, size_t errlen)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "curl_global_init: %s",
                        curl_easy_strerror(cc));
    return QB_OK;
}

enum qb_err http_client_create(const struct http_client_options *opt, struct http_client **out,
                               char *err, size_t errlen)
{
    static const struct http_client_options defaults = {0};
    if (!opt)
        opt = &defaults;
    struct http_client *c = xcalloc(1, sizeof *c);
    c->h = curl_easy_init();
    if (!c->h) {
        free(c);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "curl_easy_init failed");
    }
    c->connect_timeout_ms =
        opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c->low_speed_time_s = opt->low_speed_time_s > 0 ? opt->low_speed_time_s : DEFAULT_LOW_SPEED;
    c->low_speed_bytes = opt->low_speed_bytes > 0 ? opt->low_speed_bytes : 1;
    c->total_timeout_ms = opt->total_timeout_ms > 0 ? opt->total_timeout_ms : 0;
    c->insecure = opt->insecure;
    c->ca_file = opt->ca_file && *opt->ca_file ? xstrdup(opt->ca_file) : NULL;
    c->user_agent = xstrdup(opt->user_agent && *opt->user_agent ? opt->user_agent : "qbackup");
    *out = c;
    return QB_OK;
}

/* Frees the header strings and forgets them; keeps the array for reuse. */
static void clear_headers(struct http_client_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    resp->n_headers = 0;
}

void http_client_response_free(struct http_client_response *resp)
{
    if (!resp)
        return;
    http_headers_free(resp->headers, resp->n_headers);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

const char *http_client_response_header(const struct http_client_response *resp, const char *name)
{
    return resp ? http_headers_find(resp->headers, resp->n_headers, name) : NULL;
}

const char *http_headers_find(const struct http_client_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

void http_headers_free(struct http_client_header *h, size_t n)
{
    for (size_t i = 0; h && i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

enum qb_err http_client_status_err(long status)
{
    if (status >= 200 && status < 300)
        return QB_OK;
    if (retry_status_retryable(status))
        return QB_ERR_TRANSIENT;
    if (status == 404)
        return QB_ERR_NOT_FOUND;
    if (status == 409 || status == 412)
        return QB_ERR_CONFLICT;
    return QB_ERR_REMOTE;
}

void http_client_redact_url(const char *url, char *out, size_t outlen)
{
    qb_redact_url(url, out, outlen);
}

/* ---------------------------------------------------------------- callbacks */

static size_t on_header(char *data, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    struct http_client_response *r = x->resp;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after "100 Continue" or a redirect): drop the
         * headers of the previous response. */
        clear_headers(r);
        x->hdr_bytes = 0;
        const char *sp = memchr(data, ' ', n);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return n;
    }
    x->hdr_bytes += n;
    if (x->hdr_bytes > MAX_HEADER_BYTES) {
        x->cb_rc = qb_failf(QB_ERR_REMOTE, x->cb_err, sizeof x->cb_err,
                            "response headers exceed %d bytes", MAX_HEADER_BYTES);
        return 0;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n; /* the blank line ending the headers, or junk */
    size_t nl = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
    r->headers[r->n_headers].name = xstrndup(data, nl);
    r->headers[r->n_headers].value = xstrndup(v, (size_t)(end - v));
    r->n_headers++;
    return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    bool ok_status = x->status >= 200 && x->status < 300;
    x->resp->body_seen += n;
    if (ok_status && x->req->write_fn) {
        enum qb_err rc = x->req->write_fn(x->req->write_ud, data, n, x->cb_err, sizeof x->cb_err);
        if (rc) {
            x->cb_rc = rc;
            return 0; /* CURLE_WRITE_ERROR */
        }
        return n;
    }
    if (!buf_append(&x->body, data, n)) {
        x->cb_rc = qb_failf(QB_ERR_REMOTE, x->cb_err, sizeof x->cb_err,
                            "response body exceeds %zu bytes", x->body.max);
        return 0;
    }
    return n;
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    const struct http_client_request *req = x->req;
    size_t cap = size * nitems, n = 0;
    if (req->read_fn) {
        enum qb_err rc = req->read_fn(req->read_ud, dst, cap, &n, x->cb_err, sizeof x->cb_err);
        if (!rc && n > cap)
            rc = qb_failf(QB_ERR_INTERNAL, x->cb_err, sizeof x->cb_err, "read callback overrun");
        if (!rc && x->sent + n > req->read_len)
            rc = qb_failf(QB_ERR_INTERNAL, x->cb_err, sizeof x->cb_err,
                          "read callback yielded more than the announced %llu bytes",
                          (unsigned long long)req->read_len);
        if (rc) {
            x->cb_rc = rc;
            return CURL_READFUNC_ABORT;
        }
    } else {
        size_t left = req->body_len - (size_t)x->sent;
        n = left < cap ? left : cap;
        if (n)
            memcpy(dst, (const char *)req->body + x->sent, n);
    }
    x->sent += n;
    return n;
}

/* Lets curl rewind an in-memory body (e.g. after an early error reply to
 * "Expect: 100-continue" on a reused connection). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    if (x->req->read_fn || origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* ------------------------------------------------------------------ perform */

static enum qb_err map_curl_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST: /* DNS hiccups pass; a typo fails after the retries */
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_AGAIN:
        return QB_ERR_TRANSIENT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return QB_ERR_INVALID;
    default:
        return QB_ERR_REMOTE;
    }
}

static bool has_body(const struct http_client_request *req)
{
    return req->body || req->read_fn || strcmp(req->method, "PUT") == 0 ||
           strcmp(req->method, "POST") == 0;
}

/* Sets every option for req; returns the first failing CURLcode. */
static CURLcode setup(struct http_client *c, const struct http_client_request *req, struct xfer *x,
                      struct curl_slist *hdrs)
{
    CURL *h = c->h;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
    /* Signals are unusable for timeouts with threads (libcurl-thread.md). */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_LOW_SPEED_TIME, c->low_speed_time_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, c->low_speed_bytes);
    SET(CURLOPT_TIMEOUT_MS, c->total_timeout_ms);
    SET(CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
    if (c->ca_file)
        SET(CURLOPT_CAINFO, c->ca_file);
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    if (strcmp(req->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (has_body(req)) {
        curl_off_t len = (curl_off_t)(req->read_fn ? req->read_len : req->body_len);
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, x);
        SET(CURLOPT_INFILESIZE_LARGE, len);
        if (strcmp(req->method, "PUT") != 0)
            SET(CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, req->method);
    }
#undef SET
    return cc;
}

enum qb_err http_client_perform(struct http_client *c, const struct http_client_request *req,
                                struct http_client_response *resp, char *err, size_t errlen)
{
    char where[512];
    struct curl_slist *hdrs = NULL;
    enum qb_err rc = QB_OK;
    http_client_response_free(resp);
    http_client_redact_url(req->url, where, sizeof where);
    if (!req->method || !req->url)
        return qb_failf(QB_ERR_INVALID, err, errlen, "http: request without method or URL");

    struct xfer x = {.req = req, .resp = resp};
    buf_init(&x.body, req->max_body ? req->max_body : DEFAULT_MAX_BODY);
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, req->headers[i]);
        if (!n) {
            rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "http: out of memory for headers");
            goto out;
        }
        hdrs = n;
    }
    curl_easy_reset(c->h);
    c->errbuf[0] = '\0';
    CURLcode cc = setup(c, req, &x, hdrs);
    if (cc != CURLE_OK) {
        rc = qb_failf(map_curl_error(cc), err, errlen, "%s %s: cannot set up request: %s",
                      req->method, where, curl_easy_strerror(cc));
        goto out;
    }
    cc = curl_easy_perform(c->h);
    if (cc != CURLE_OK) {
        if (x.cb_rc) {
            rc = qb_failf(x.cb_rc, err, errlen, "%s %s: %s", req->method, where, x.cb_err);
        } else {
            rc = qb_failf(map_curl_error(cc), err, errlen, "%s %s: %s", req->method, where,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
        }
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    resp->status = status;
    if (x.body.data) {
        resp->body = buf_steal(&x.body, &resp->body_len);
    }
out:
    buf_free(&x.body);
    curl_slist_free_all(hdrs);
    /* Leave no reference to the caller's header strings behind. */
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
    return rc;
}
