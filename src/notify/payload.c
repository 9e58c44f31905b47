/* SPDX-License-Identifier: Apache-2.0
 *
 * payload.c -- event names and delivery bodies (see payload.h).
 */
#include "notify/payload.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Contract with receivers and api/openapi.yaml (WebhookEventName): add,
 * never rename. */
static const char *const events[] = {
    "run.succeeded",  "run.failed", "run.cancelled", "restore.succeeded",
    "restore.failed", "plan.stale", "verify.failed", "destination.unreachable",
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
    return "run.succeeded, run.failed, run.cancelled, restore.succeeded, restore.failed, "
           "plan.stale, verify.failed, destination.unreachable, webhook.test";
}

const char *payload_run_event(const char *kind, const char *state)
{
    bool restore = strcmp(kind, "restore") == 0;
    if (strcmp(state, "succeeded") == 0)
        return restore ? "restore.succeeded" : "run.succeeded";
    if (strcmp(state, "failed") == 0 || strcmp(state, "partial") == 0)
        return restore ? "restore.failed" : "run.failed";
    if (strcmp(state, "cancelled") == 0)
        return restore ? "restore.failed" : "run.cancelled";
    return NULL;
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *payload_summary(const char *event, const cJSON *data)
{
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(data, "run");
    if (!run)
        return xasprintf("qbackup: %s", event);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(run, "id");
    const char *plan = str_member(run, "plan"), *state = str_member(run, "state");
    const char *error = str_member(run, "error");
    const char *kind = str_member(run, "kind");
    const char *noun = kind && strcmp(kind, "restore") == 0 ? "restore" : "run";
    return xasprintf("qbackup: %s %lld%s%s %s%s%s", noun,
                     cJSON_IsNumber(id) ? (long long)id->valuedouble : 0LL, plan ? " of plan " : "",
                     plan ? plan : "", state ? state : event, error ? ": " : "",
                     error ? error : "");
}

/* Slack's incoming-webhook message: `text` is the fallback shown in
 * notifications, `blocks` the rich layout. */
static cJSON *slack_message(const char *event, const cJSON *data)
{
    char *text = payload_summary(event, data);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "text", text);
    cJSON *blocks = cJSON_AddArrayToObject(msg, "blocks");
    cJSON *section = cJSON_CreateObject();
    cJSON_AddStringToObject(section, "type", "section");
    cJSON *t = cJSON_AddObjectToObject(section, "text");
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    char *md = xasprintf("*%s*\n%s", event, text);
    cJSON_AddStringToObject(t, "text", md);
    free(md);
    cJSON_AddItemToArray(blocks, section);
    free(text);
    return msg;
}

char *payload_body(const char *format, const char *delivery_id, const char *event,
                   int64_t occurred_at, cJSON *data)
{
    cJSON *o;
    if (strcmp(format, "slack") == 0) {
        o = slack_message(event, data);
        cJSON_Delete(data);
    } else {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", delivery_id);
        cJSON_AddStringToObject(o, "event", event);
        json_add_time(o, "occurred_at", occurred_at);
        cJSON_AddItemToObject(o, "data", data);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
