/* SPDX-License-Identifier: Apache-2.0
 *
 * payload.c -- event names and delivery bodies (see payload.h).
 */
#include "notify/payload.h"
#include "util/buf.h"
#include "util/json_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The event log's types (api/openapi.yaml EventType) but `reset`, which
 * only a live stream sends, and our own test.  Contract with receivers
 * (WebhookEventName): add, never rename. */
static const char *const events[] = {
    "run.queued",
    "run.started",
    "run.progress",
    "run.succeeded",
    "run.partial",
    "run.failed",
    "run.cancelled",
    "restore.queued",
    "restore.started",
    "restore.progress",
    "restore.succeeded",
    "restore.partial",
    "restore.failed",
    "restore.cancelled",
    "verify.failed",
    "plan.stale",
    "instance.unreachable",
    "instance.reachable",
    "destination.unreachable",
    "destination.reachable",
    "webhook.test",
};

bool payload_event_known(const char *name)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(events); i++)
        if (strcmp(name, events[i]) == 0)
            return true;
    return false;
}

const char *payload_event_names(void)
{
    return "run.* and restore.* (queued, started, progress, succeeded, partial, failed, "
           "cancelled), verify.failed, plan.stale, instance.unreachable, instance.reachable, "
           "destination.unreachable, destination.reachable, webhook.test";
}

bool payload_event_final(const char *type)
{
    const char *dot = strchr(type, '.');
    if (!dot || (strncmp(type, "run.", 4) && strncmp(type, "restore.", 8)))
        return false;
    dot++;
    return !strcmp(dot, "succeeded") || !strcmp(dot, "partial") || !strcmp(dot, "failed") ||
           !strcmp(dot, "cancelled");
}

char *payload_summary(const struct payload_event *e)
{
    cJSON *data = cJSON_Parse(e->data ? e->data : "{}");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(data, "error");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(data, "detail");
    const char *why = cJSON_IsString(error)    ? error->valuestring
                      : cJSON_IsString(detail) ? detail->valuestring
                                               : NULL;
    struct buf b;
    buf_init(&b, 4096);
    bool ok = buf_printf(&b, "qbackup: %s", e->type);
    if (ok && e->plan)
        ok = buf_printf(&b, ": plan %s", e->plan);
    if (ok && e->run_id)
        ok = buf_printf(&b, "%s %s %lld", e->plan ? "," : ":",
                        strncmp(e->type, "restore.", 8) == 0 ? "restore" : "run",
                        (long long)e->run_id);
    if (ok && e->instance)
        ok = buf_printf(&b, " on instance %s", e->instance);
    if (ok && why)
        ok = buf_printf(&b, ": %.1000s", why);
    cJSON_Delete(data);
    char *s = buf_steal(&b, NULL);
    return s ? s : xstrdup("qbackup: event");
}

/* Slack's incoming-webhook message: `text` is the fallback shown in
 * notifications, `blocks` the rich layout. */
static cJSON *slack_message(const struct payload_event *e)
{
    char *text = payload_summary(e);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "text", text);
    cJSON *blocks = cJSON_AddArrayToObject(msg, "blocks");
    cJSON *section = cJSON_CreateObject();
    cJSON_AddStringToObject(section, "type", "section");
    cJSON *t = cJSON_AddObjectToObject(section, "text");
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    char *md = xasprintf("*%s*\n%s", e->type, text);
    cJSON_AddStringToObject(t, "text", md);
    free(md);
    cJSON_AddItemToArray(blocks, section);
    free(text);
    return msg;
}

static void add_text_or_null(cJSON *o, const char *name, const char *v)
{
    cJSON_AddItemToObject(o, name, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

char *payload_body(const char *format, const char *delivery_id, const struct payload_event *e)
{
    cJSON *o;
    if (strcmp(format, "slack") == 0) {
        o = slack_message(e);
    } else {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", delivery_id);
        cJSON_AddStringToObject(o, "event", e->type);
        if (e->id)
            cJSON_AddNumberToObject(o, "event_id", (double)e->id);
        else
            cJSON_AddNullToObject(o, "event_id");
        json_add_time(o, "occurred_at", e->at);
        add_text_or_null(o, "plan", e->plan);
        add_text_or_null(o, "instance", e->instance);
        if (e->run_id)
            cJSON_AddNumberToObject(o, "run_id", (double)e->run_id);
        else
            cJSON_AddNullToObject(o, "run_id");
        cJSON *data = cJSON_Parse(e->data ? e->data : "{}");
        cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateObject());
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
