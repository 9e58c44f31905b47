/* SPDX-License-Identifier: Apache-2.0 */
/* emu_reply.c -- response envelopes (see emu_reply.h). */
#include "emu_reply.h"

#include <stdlib.h>
#include <string.h>

void emu_reply_response(struct emu_req *r, unsigned status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
}

void emu_reply_header(struct emu_req *r, const char *name, const char *value)
{
    if (r->resp)
        MHD_add_response_header(r->resp, name, value);
}

void emu_reply_json(struct emu_req *r, unsigned status, cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!text)
        abort();
    /* MUST_FREE: text comes from cJSON's default hooks, i.e. malloc. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        abort();
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    emu_reply_response(r, status, resp);
}

static double elapsed(const struct emu_req *r)
{
    double t = emu_now() - r->t0;
    return t > 0 ? t : 0;
}

void emu_reply_ok(struct emu_req *r, cJSON *result)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "result", result ? result : cJSON_CreateNull());
    cJSON_AddStringToObject(doc, "status", "ok");
    cJSON_AddNumberToObject(doc, "time", elapsed(r));
    emu_reply_json(r, 200, doc);
}

void emu_reply_accepted(struct emu_req *r)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "accepted");
    cJSON_AddNumberToObject(doc, "time", elapsed(r));
    emu_reply_json(r, 202, doc);
}

void emu_reply_error(struct emu_req *r, unsigned status, const char *msg)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *st = cJSON_AddObjectToObject(doc, "status");
    cJSON_AddStringToObject(st, "error", msg);
    /* Validation errors carry time 0.0 (src/actix/mod.rs). */
    cJSON_AddNumberToObject(doc, "time", status == 422 ? 0.0 : elapsed(r));
    emu_reply_json(r, status, doc);
}

void emu_reply_st(struct emu_req *r, const struct emu_status *st)
{
    emu_reply_error(r, st->http ? st->http : 500, st->msg);
}

void emu_reply_text(struct emu_req *r, unsigned status, const char *text, const char *content_type)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    if (!copy)
        abort();
    memcpy(copy, text, n + 1);
    /* MUST_FREE: copy is ours, from malloc. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, copy, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        abort();
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    emu_reply_response(r, status, resp);
}

void emu_reply_empty(struct emu_req *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        abort();
    emu_reply_response(r, status, resp);
}
