/* SPDX-License-Identifier: Apache-2.0
 *
 * http_reply.c -- building the one pending response of a request.
 */
#include "http/http_reply.h"
#include "http/http_internal.h"
#include "http/http_pipeline.h"
#include "http/redact.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An empty body.  MHD's older API takes a non-const pointer it never
 * writes for zero-length buffers, so NULL is passed. */
static struct MHD_Response *empty_response(void)
{
    return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
}

void http_reply_set(struct http_request *req, unsigned status, struct MHD_Response *resp)
{
    if (!resp) {
        /* MHD could not allocate: fall back to an empty 500 rather than
         * answering nothing. */
        rlog_error(req->id, "http.reply_alloc_failed", "status=%u", status);
        resp = empty_response();
        status = 500;
    }
    if (req->response) {
        rlog_error(req->id, "http.reply_twice", "first=%u second=%u", req->status, status);
        MHD_destroy_response(req->response);
    }
    req->response = resp;
    req->status = status;
}

/* http_reply_set for a response with a body (resp NULL: MHD could not make
 * it), which always says its Content-Type. */
static void set_body_response(struct http_request *req, unsigned status, struct MHD_Response *resp,
                              const char *content_type)
{
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    http_reply_set(req, status, resp);
}

static void reply_body(struct http_request *req, unsigned status, const char *content_type,
                       char *body, size_t len)
{
    /* MHD_RESPMEM_MUST_FREE: MHD frees body with free() once sent. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(body);
    set_body_response(req, status, resp, content_type);
}

void http_reply_json_steal(struct http_request *req, unsigned status, cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (!text) {
        http_reply_problem(req, API_ERR_INTERNAL, "the response could not be encoded");
        return;
    }
    reply_body(req, status, "application/json", text, strlen(text));
}

static void reply_problem_v(struct http_request *req, enum api_error e, const char *field,
                            const char *ext_name, cJSON *ext, const char *fmt, va_list ap)
    QB_PRINTF(6, 0);

static void reply_problem_v(struct http_request *req, enum api_error e, const char *field,
                            const char *ext_name, cJSON *ext, const char *fmt, va_list ap)
{
    char raw[1024], detail[1024], field_safe[256];
    vsnprintf(raw, sizeof raw, fmt, ap);
    /* Details quote client input; a token pasted into the wrong field
     * must not come back in the answer (redact.h). */
    const char *bearer =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const struct auth *auth = http_pipeline_auth(req->pipe);
    http_redact(raw, bearer, auth, detail, sizeof detail);
    if (field) {
        http_redact(field, bearer, auth, field_safe, sizeof field_safe);
        field = field_safe;
    }
    cJSON *p = cJSON_CreateObject();
    char type[96];
    snprintf(type, sizeof type, "urn:qbackup:error:%s", api_error_code(e));
    cJSON_AddStringToObject(p, "type", type);
    cJSON_AddStringToObject(p, "title", api_error_title(e));
    cJSON_AddNumberToObject(p, "status", api_error_status(e));
    cJSON_AddStringToObject(p, "detail", detail);
    cJSON_AddStringToObject(p, "code", api_error_code(e));
    if (field)
        cJSON_AddStringToObject(p, "field", field);
    if (ext_name && ext)
        cJSON_AddItemToObject(p, ext_name, ext);
    else
        cJSON_Delete(ext);
    cJSON_AddStringToObject(p, "request_id", req->id);
    char *text = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!text) {
        http_reply_set(req, 500, NULL);
        return;
    }
    reply_body(req, api_error_status(e), "application/problem+json", text, strlen(text));
}

void http_reply_problem(struct http_request *req, enum api_error e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_problem_v(req, e, NULL, NULL, NULL, fmt, ap);
    va_end(ap);
}

void http_reply_problem_field(struct http_request *req, enum api_error e, const char *field,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_problem_v(req, e, field, NULL, NULL, fmt, ap);
    va_end(ap);
}

void http_reply_problem_ext(struct http_request *req, enum api_error e, const char *name,
                            cJSON *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_problem_v(req, e, NULL, name, extra, fmt, ap);
    va_end(ap);
}

void http_reply_error(struct http_request *req, enum qb_err rc, const char *detail)
{
    switch (rc) {
    case QB_ERR_NOT_FOUND:
        http_reply_problem(req, API_ERR_NOT_FOUND, "%s", detail);
        return;
    case QB_ERR_CONFLICT:
        http_reply_problem(req, API_ERR_CONFLICT, "%s", detail);
        return;
    case QB_ERR_INVALID:
        http_reply_problem(req, API_ERR_INVALID_FIELD, "%s", detail);
        return;
    case QB_ERR_BUSY:
        http_reply_problem(req, API_ERR_UNAVAILABLE,
                           "the catalogue is busy; retry the request shortly");
        return;
    default:
        /* Our failure, not the client's: log the cause, send only the id. */
        rlog_error(req->id, "http.internal_error", "rc=%s detail=%s", qb_err_name(rc),
                   log_q(detail));
        http_reply_problem(req, API_ERR_INTERNAL,
                           "the request failed inside qbackupd; see the log for request_id %s",
                           req->id);
        return;
    }
}

void http_reply_text(struct http_request *req, unsigned status, const char *content_type,
                     const char *text, size_t len)
{
    reply_body(req, status, content_type, xstrndup(text, len), len);
}

void http_reply_empty(struct http_request *req, unsigned status)
{
    http_reply_set(req, status, empty_response());
}

void http_reply_header(struct http_request *req, const char *name, const char *value)
{
    if (req->response)
        MHD_add_response_header(req->response, name, value);
}

void http_reply_fd(struct http_request *req, unsigned status, int fd, uint64_t offset,
                   uint64_t size, const char *content_type)
{
    /* MHD closes fd when the response is destroyed. */
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(size, fd, offset);
    if (!resp)
        close(fd);
    set_body_response(req, status, resp, content_type);
}

struct stream_ctx {
    http_stream_fn fn;
    void *ctx;
    void (*free_ctx)(void *ctx);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_ctx *s = cls;
    long n = s->fn(s->ctx, pos, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream_ctx *s = cls;
    if (s->free_ctx)
        s->free_ctx(s->ctx);
    free(s);
}

void http_reply_stream(struct http_request *req, unsigned status, uint64_t size,
                       const char *content_type, http_stream_fn fn, void *ctx,
                       void (*free_ctx)(void *ctx))
{
    struct stream_ctx *s = xmalloc(sizeof *s);
    s->fn = fn;
    s->ctx = ctx;
    s->free_ctx = free_ctx;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, 256 * 1024, stream_read, s, stream_free);
    if (!resp)
        stream_free(s);
    set_body_response(req, status, resp, content_type);
}
