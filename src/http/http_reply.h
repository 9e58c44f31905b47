/* SPDX-License-Identifier: Apache-2.0
 *
 * http_reply.h -- the ways a handler answers: JSON, RFC 9457 problem
 * details, plain text, or no content.  Each sets the request's one pending
 * response; a second reply replaces the first (a handler bug, logged).
 *
 * Problem bodies look like
 *   {"type":"urn:qbackup:error:invalid_field","title":"Invalid field in request",
 *    "status":400,"detail":"name: must be a string","code":"invalid_field",
 *    "field":"name","request_id":"..."}
 * and never contain internals: 500s say only that something failed and
 * carry the request id to find the logged cause.
 */
#ifndef QB_HTTP_REPLY_H
#define QB_HTTP_REPLY_H

#include "common.h"
#include "http/errors.h"
#include "http/http_request.h"

#include <cjson/cJSON.h>

/* Sends json with the given status; takes ownership of json. */
void http_reply_json_steal(struct http_request *req, unsigned status, cJSON *json);

/* Sends a problem+json with the error's status and title; detail is
 * printf-formatted and must not contain secrets. */
void http_reply_problem(struct http_request *req, enum api_error e, const char *fmt, ...)
    QB_PRINTF(3, 4);

/* As http_reply_problem, adding "field": the request field at fault. */
void http_reply_problem_field(struct http_request *req, enum api_error e, const char *field,
                              const char *fmt, ...) QB_PRINTF(4, 5);

/* As http_reply_problem, adding member `name` holding extra (taken). */
void http_reply_problem_ext(struct http_request *req, enum api_error e, const char *name,
                            cJSON *extra, const char *fmt, ...) QB_PRINTF(5, 6);

/* Maps a failed enum qb_err from a store or engine call to a problem:
 * NOT_FOUND 404, CONFLICT 409, INVALID 400, BUSY 503, anything else 500
 * (whose detail is logged, not sent). */
void http_reply_error(struct http_request *req, enum qb_err rc, const char *detail);

/* Sends text (copied) with the given status and content type. */
void http_reply_text(struct http_request *req, unsigned status, const char *content_type,
                     const char *text, size_t len);

/* Sends an empty body (204 and the like). */
void http_reply_empty(struct http_request *req, unsigned status);

/* Sends size bytes of the open file fd from offset (the server takes fd and
 * closes it; the kernel copies the bytes, nothing is buffered). */
void http_reply_fd(struct http_request *req, unsigned status, int fd, uint64_t offset,
                   uint64_t size, const char *content_type);

/* Sends size bytes produced by fn(ctx, buf, max) -> bytes written (0 at
 * the end, -1 on failure, which aborts the response); free_ctx(ctx) runs
 * when the response is done.  fn runs on a server thread and may block
 * briefly. */
typedef long (*http_stream_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
void http_reply_stream(struct http_request *req, unsigned status, uint64_t size,
                       const char *content_type, http_stream_fn fn, void *ctx,
                       void (*free_ctx)(void *ctx));

/* Feeds (http_feed.h): a 200 whose body is written as things happen, for
 * Server-Sent Events.  fill(ctx, out, closing) runs on the server's feed
 * thread whenever the client took everything sent so far, about every
 * 100 ms: it appends what is new to out (nothing is fine; a heartbeat
 * keeps idle connections open) and returns false to end the reply after
 * out.  closing is set once, at shutdown: append a last word and return
 * false.  fill must not block for long.  On success ctx is owned by the
 * reply and released with free_ctx(ctx) (may be NULL) once the client is
 * gone.  QB_ERR_BUSY when the server serves its limit of feeds (or is
 * stopping): nothing was set, ctx is still the caller's, and the handler
 * answers (503). */
struct buf;
typedef bool (*http_feed_fn)(void *ctx, struct buf *out, bool closing);
enum qb_err http_reply_feed(struct http_request *req, const char *content_type, http_feed_fn fill,
                            void *ctx, void (*free_ctx)(void *ctx)) QB_MUSTCHECK;

/* Adds a header to the pending reply (call after the reply is set). */
void http_reply_header(struct http_request *req, const char *name, const char *value);

#endif /* QB_HTTP_REPLY_H */
