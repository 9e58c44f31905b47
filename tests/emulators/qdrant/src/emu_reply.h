/* SPDX-License-Identifier: Apache-2.0 */
/* emu_reply.h -- Qdrant's response envelopes (src/actix/helpers.rs):
 * {"result":…,"status":"ok","time":s}, {"status":"accepted","time":s} and
 * {"status":{"error":"…"},"time":s}, plus the plain-text bodies Qdrant sends
 * for auth failures and download errors.  Each function stores the response
 * in r; the HTTP layer queues it. */
#ifndef EMU_REPLY_H
#define EMU_REPLY_H

#include <cjson/cJSON.h>

#include "emu_http.h"

/* 200 envelope; takes ownership of result (NULL = JSON null). */
void emu_reply_ok(struct emu_req *r, cJSON *result);
/* 202 envelope for wait=false. */
void emu_reply_accepted(struct emu_req *r);
/* Error envelope. */
void emu_reply_error(struct emu_req *r, unsigned status, const char *msg);
/* Error envelope from a status. */
void emu_reply_st(struct emu_req *r, const struct emu_status *st);
/* Any JSON document as the whole body; takes ownership. */
void emu_reply_json(struct emu_req *r, unsigned status, cJSON *doc);
/* Text body; content_type NULL sends none (actix `.body(String)`). */
void emu_reply_text(struct emu_req *r, unsigned status, const char *text, const char *content_type);
/* Empty body. */
void emu_reply_empty(struct emu_req *r, unsigned status);
/* Adds a header to the stored response (no-op without one). */
void emu_reply_header(struct emu_req *r, const char *name, const char *value);
/* Installs a prepared response; takes ownership. */
void emu_reply_response(struct emu_req *r, unsigned status, struct MHD_Response *resp);

#endif
