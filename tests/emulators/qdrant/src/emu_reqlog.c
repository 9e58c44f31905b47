/* SPDX-License-Identifier: Apache-2.0 */
/* emu_reqlog.c -- bounded request log (see emu_reqlog.h). */
#include "emu_reqlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu_http.h"
#include "emu_util.h"

/* Lock-documented singleton: every field is guarded by mu. */
static struct {
    pthread_mutex_t mu;
    cJSON *ring[EMU_REQLOG_MAX];
    uint64_t seq[EMU_REQLOG_MAX];
    size_t start, count; /* oldest slot, number of entries */
    uint64_t next_seq;
    uint64_t dropped; /* entries pushed out of the ring */
} g_log = {.mu = PTHREAD_MUTEX_INITIALIZER, .next_seq = 1};

uint64_t emu_reqlog_add(cJSON *entry)
{
    pthread_mutex_lock(&g_log.mu);
    uint64_t seq = g_log.next_seq++;
    cJSON_AddNumberToObject(entry, "seq", (double)seq);
    if (g_log.count == EMU_REQLOG_MAX) {
        cJSON_Delete(g_log.ring[g_log.start]);
        g_log.start = (g_log.start + 1) % EMU_REQLOG_MAX;
        g_log.count--;
        g_log.dropped++;
    }
    size_t slot = (g_log.start + g_log.count) % EMU_REQLOG_MAX;
    g_log.ring[slot] = entry;
    g_log.seq[slot] = seq;
    g_log.count++;
    pthread_mutex_unlock(&g_log.mu);
    return seq;
}

void emu_reqlog_set(uint64_t seq, const char *field, cJSON *value)
{
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.count; i++) {
        size_t slot = (g_log.start + g_log.count - 1 - i) % EMU_REQLOG_MAX;
        if (g_log.seq[slot] != seq)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(g_log.ring[slot], field);
        cJSON_AddItemToObject(g_log.ring[slot], field, value);
        value = NULL;
        break;
    }
    pthread_mutex_unlock(&g_log.mu);
    cJSON_Delete(value); /* entry already pushed out or cleared */
}

cJSON *emu_reqlog_dump(void)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "requests");
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.count; i++)
        cJSON_AddItemToArray(arr,
                             cJSON_Duplicate(g_log.ring[(g_log.start + i) % EMU_REQLOG_MAX], 1));
    cJSON_AddNumberToObject(doc, "dropped", (double)g_log.dropped);
    pthread_mutex_unlock(&g_log.mu);
    return doc;
}

void emu_reqlog_clear(void)
{
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.count; i++)
        cJSON_Delete(g_log.ring[(g_log.start + i) % EMU_REQLOG_MAX]);
    g_log.start = g_log.count = 0;
    g_log.dropped = 0;
    pthread_mutex_unlock(&g_log.mu);
}

/* ---- entries of HTTP requests ---- */

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    char *v = strdup(value ? value : "");
    if (!v)
        abort();
    if (emu_url_decode(v, 0) != 0)
        snprintf(v, strlen(v) + 1, "%s", value);
    cJSON_AddStringToObject(cls, key, v);
    free(v);
    return MHD_YES;
}

void emu_reqlog_begin(struct emu_req *r, const char *key_desc, const char *auth_kind)
{
    static const char *const headers[] = {
        "content-type", "content-length", "accept-encoding",   "range",  "if-none-match",
        "if-range",     "user-agent",     "x-request-id",      "expect", "transfer-encoding",
        "accept",       "connection",     "if-modified-since",
    };
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "method", r->method);
    cJSON_AddStringToObject(e, "path", r->path);
    cJSON *q = cJSON_AddObjectToObject(e, "query");
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_query, q);
    cJSON *h = cJSON_AddObjectToObject(e, "headers");
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        const char *v = emu_req_header(r, headers[i]);
        if (v)
            cJSON_AddStringToObject(h, headers[i], v);
    }
    cJSON_AddStringToObject(e, "auth", auth_kind);
    cJSON_AddStringToObject(e, "key", key_desc);
    cJSON_AddNumberToObject(e, "status", 0);
    r->log_seq = emu_reqlog_add(e);
}

static void redact(cJSON *j)
{
    cJSON *c;
    cJSON_ArrayForEach(c, j)
    {
        if (c->string && strcasecmp(c->string, "api_key") == 0 && cJSON_IsString(c))
            cJSON_SetValuestring(c, "<redacted>");
        else
            redact(c);
    }
}

void emu_reqlog_finish(struct emu_req *r)
{
    if (!r->log_seq)
        return;
    emu_reqlog_set(r->log_seq, "status", cJSON_CreateNumber(r->status));
    if (r->json && r->body.len <= (1u << 20)) {
        cJSON *b = cJSON_Duplicate(r->json, 1);
        redact(b);
        emu_reqlog_set(r->log_seq, "body", b);
    } else if (r->body.len) {
        emu_reqlog_set(r->log_seq, "body_bytes", cJSON_CreateNumber((double)r->body.len));
    }
    if (r->up_state) {
        cJSON *u = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "field", "snapshot");
        if (r->up_filename)
            cJSON_AddStringToObject(u, "filename", r->up_filename);
        cJSON_AddNumberToObject(u, "bytes", (double)r->up_bytes);
        emu_reqlog_set(r->log_seq, "upload", u);
    }
}
