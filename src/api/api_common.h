/* SPDX-License-Identifier: Apache-2.0
 *
 * api_common.h -- validation and reply helpers shared by the api_*.c
 * handlers, so every resource names and reports bad input the same way.
 */
#ifndef QB_API_COMMON_H
#define QB_API_COMMON_H

#include "common.h"
#include "http/http_request.h"

/* Resource names: 1-63 characters of [a-z0-9._-], starting with a letter
 * or digit.  They appear in URLs, object keys and metrics labels. */
bool api_valid_name(const char *name);

/* Checks an http(s) URL: a host, no spaces or control characters, no
 * embedded credentials, no query, at most 2048 bytes.  QB_ERR_INVALID with
 * the reason in err otherwise. */
enum qb_err api_check_http_url(const char *url, char *err, size_t errlen) QB_MUSTCHECK;

/* The request's JSON body when it is an object; otherwise replies 400 and
 * returns NULL. */
const cJSON *api_body_object(struct http_request *req);

/* The "name" member of a create body, validated as api_valid_name; replies
 * 400 naming the problem and returns NULL otherwise.  Borrowed from body. */
const char *api_body_name(struct http_request *req, const cJSON *body);

/* QB_OK when labels is a Labels object (api/openapi.yaml: at most 64
 * string members, keys up to 63 and values up to 256 characters); else
 * QB_ERR_INVALID with a "labels: ..." message for api_reply_invalid. */
enum qb_err api_labels_check(const cJSON *labels, char *err, size_t errlen) QB_MUSTCHECK;

/* Limits a byte rate field may take (api/openapi.yaml ByteRate). */
#define API_RATE_MIN 1024LL
#define API_RATE_MAX (1LL << 40)

/* An optional byte-rate limit (max_*_bytes_per_second): absent or null is
 * 0 (no limit); else an integer in [API_RATE_MIN, API_RATE_MAX] (0, a
 * negative or an absurd rate is refused, QB_ERR_INVALID "<field>: ..."). */
enum qb_err api_get_rate(const cJSON *body, const char *field, int64_t *out, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* Adds "field": rate, or null when rate is 0 (no limit). */
void api_add_rate(cJSON *o, const char *field, int64_t rate);

/* Adds "field": the JSON value of a stored text column, or the value of
 * dflt (JSON too, e.g. "[]") when text is NULL or does not parse. */
void api_add_json(cJSON *o, const char *field, const char *text, const char *dflt);

/* Replies 400 invalid_field for a "<field>: <reason>" message, filling the
 * problem's "field" member from the prefix. */
void api_reply_invalid(struct http_request *req, const char *msg);

/* Validates the {name} path parameter; replies 404 and returns NULL when it
 * cannot name any resource. */
const char *api_path_name(struct http_request *req, const char *what);

/* The {id} path parameter as a positive integer into *id; replies 404
 * ("<what> ids are positive integers") and returns false otherwise. */
bool api_path_id(struct http_request *req, const char *what, int64_t *id);

/* ?limit= of a list page into *limit: def when absent, else 1 to max;
 * replies 400 invalid_parameter and returns false otherwise. */
bool api_query_limit(struct http_request *req, int def, int max, int *limit);

/* ?<field>= into *value (NULL when absent), which must be one of the
 * NULL-terminated allowed; replies 400 invalid_parameter naming field
 * with detail msg and returns false otherwise. */
bool api_query_one_of(struct http_request *req, const char *field, const char *const *allowed,
                      const char *msg, const char **value);

/* The paging parameters of a keyset-paged list (see api_reply_rows_page):
 * cursor_ok says whether ?cursor= was absent or one of ours (parsed by the
 * caller, whose form it is); replies 400 invalid_parameter naming cursor
 * when it was not, else reads ?limit= as api_query_limit. */
bool api_query_page(struct http_request *req, bool cursor_ok, int def, int max, int *limit);

/* Replies 200 with {"items": items}, plus "next_cursor" (a string, or null
 * when next is NULL) when paged.  Takes ownership of items. */
void api_reply_items(struct http_request *req, cJSON *items);
void api_reply_page(struct http_request *req, cJSON *items, const char *next);

/* The JSON of row i of a store listing (an array of row pointers). */
typedef cJSON *(*api_row_item_fn)(const void *rows, size_t i);

/* Answers a list read with rc (err: its message): rc's own error, or
 * {"items": [item(rows, i) for each of the n rows]}.  rows stays the
 * caller's. */
void api_reply_rows(struct http_request *req, enum qb_err rc, const char *err, const void *rows,
                    size_t n, api_row_item_fn item);

/* As api_reply_rows for a keyset-paged list: next_cursor is next (the last
 * row's cursor) when the page is full (n is limit: there may be more),
 * else null. */
void api_reply_rows_page(struct http_request *req, enum qb_err rc, const char *err,
                         const void *rows, size_t n, int limit, api_row_item_fn item,
                         const char *next);

/* The body of a PUT /v1/<what>s/{name}: the valid {name} into *name and
 * the JSON object body, whose "name", when sent, must be a string equal to
 * {name} (resources are not renamed).  Replies (404, 400 or 422) and
 * returns NULL otherwise.  Both borrowed from req. */
const cJSON *api_replace_body(struct http_request *req, const char *what, const char **name);

/* Replies with the stored resource `name` and status: a resource's own
 * GET answer, reused by its create. */
typedef void (*api_reply_named_fn)(struct http_request *req, const char *name, unsigned status);

/* Answers a create of the resource <what> whose store insert returned rc
 * (err: its message): 409 already_exists on "name" for QB_ERR_CONFLICT (the
 * store's only conflict on insert is a taken name), the error's own status
 * for another failure, else reply(req, name, 201) with Location:
 * /v1/<what>s/<name>, after setting the engine's byte rate limit of <what>
 * name to rate (a resource made again under an old name does not inherit
 * the old one's limit). */
void api_reply_created(struct http_request *req, enum qb_err rc, const char *err, const char *what,
                       const char *name, int64_t rate, api_reply_named_fn reply);

/* GET /v1/<what>s/{name}: reply(req, name, 200) for a valid {name}. */
void api_get_named(struct http_request *req, const char *what, api_reply_named_fn reply);

/* Replies 202 {"status": "in_progress", "detail": detail}: a task the
 * request stopped waiting for goes on. */
void api_reply_in_progress(struct http_request *req, const char *detail);

/* Refuses a change to a resource that qbackupd's configuration manages
 * (managed_by other than "api"): replies 409 saying which configuration
 * `setting` it comes from and returns false. */
bool api_check_managed(struct http_request *req, const char *what, const char *name,
                       const char *managed_by, const char *setting);

/* DELETE /v1/<what>s/{name}: a valid {name} that check(req, name) lets
 * through (check replies when it refuses) is removed with del, then 204;
 * a failure replies with its own status. */
struct store;
typedef bool (*api_name_check_fn)(struct http_request *req, const char *name);
typedef enum qb_err (*api_store_delete_fn)(struct store *s, const char *name, char *err,
                                           size_t errlen);
void api_delete_named(struct http_request *req, const char *what, api_name_check_fn check,
                      api_store_delete_fn del);

/* How long an Idempotency-Key names its run: a retry within this window
 * replays the run instead of queueing another. */
#define API_IDEMPOTENCY_WINDOW_S (24 * 3600)
/* The longest ?wait= a long poll accepts, in seconds. */
#define API_WAIT_MAX_S 3600

/* ?wait=SECONDS (0 to API_WAIT_MAX_S) into *wait, -1 when absent; replies
 * 400 invalid_parameter and returns false when malformed. */
bool api_query_wait(struct http_request *req, long *wait);

/* The Idempotency-Key header into *key (NULL when absent; borrowed from
 * req): 1-128 printable ASCII characters, since it is stored and shown.
 * Replies 400 invalid_parameter and returns false otherwise. */
bool api_idempotency_key(struct http_request *req, const char **key);

/* Replies status with json (taken) when rc is QB_OK, else rc's own status
 * with err; json is NULL then.  The answer to a store read. */
void api_reply_read(struct http_request *req, enum qb_err rc, const char *err, unsigned status,
                    cJSON *json);

/* The GET answer and the list answer of a stored resource are the same
 * steps over each resource's row type: read, reply the JSON (or the
 * store's error), free.  C says such a step once only as a macro that
 * defines the typed function (as BSD <sys/tree.h> RB_GENERATE does); each
 * use names every function it calls, so grep still finds the callers.
 * Both expect http_req_app() (api/app.h) where they are used. */

/* Defines `static void fn(struct http_request *req, key_t key, unsigned
 * status)`: get(store, key, &row, err, errlen), reply status with
 * to_json(req, row), free_row(row). */
#define API_DEFINE_REPLY_ROW(fn, key_t, row_t, get, free_row, to_json)                             \
    static void fn(struct http_request *req, key_t key, unsigned status)                           \
    {                                                                                              \
        row_t *row = NULL;                                                                         \
        char err[QB_ERRBUF_SIZE];                                                                  \
        struct app *app = http_req_app(req);                                                       \
        enum qb_err rc = get(app->store, key, &row, err, sizeof err);                              \
        api_reply_read(req, rc, err, status, rc ? NULL : to_json(req, row));                       \
        free_row(row);                                                                             \
    }

/* Defines the handler `void fn(struct http_request *req)` of an unpaged
 * list: list(store, &rows, &n, err, errlen), api_reply_rows with
 * to_json(row) of each row (through the static adaptor fn_item, which
 * types the row), free_list(rows, n). */
#define API_DEFINE_LIST(fn, row_t, list, free_list, to_json)                                       \
    static cJSON *fn##_item(const void *rows, size_t i)                                            \
    {                                                                                              \
        return to_json(((row_t *const *)rows)[i]);                                                 \
    }                                                                                              \
    void fn(struct http_request *req)                                                              \
    {                                                                                              \
        struct app *app = http_req_app(req);                                                       \
        row_t **rows = NULL;                                                                       \
        size_t n = 0;                                                                              \
        char err[QB_ERRBUF_SIZE];                                                                  \
        enum qb_err rc = list(app->store, &rows, &n, err, sizeof err);                             \
        api_reply_rows(req, rc, err, rows, n, fn##_item);                                          \
        free_list(rows, n);                                                                        \
    }

#endif /* QB_API_COMMON_H */
