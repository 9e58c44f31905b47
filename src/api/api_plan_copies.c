/* SPDX-License-Identifier: Apache-2.0
 *
 * api_plan_copies.c -- the "copies" member of a plan body: each copy names
 * another destination (by name) and its own retention policy.  The
 * copies are made by engine/copies.c after each backup.
 */
#include "api/api_plan_copies.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/retention_apply.h"
#include "http/http_reply.h"
#include "store/store_destinations.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The destination element c names (destinations are named, as everywhere
 * in the API), checked to exist (caller frees), or NULL with the reply
 * already sent. */
static char *copy_destination(struct http_request *req, const cJSON *c, size_t i)
{
    struct app *app = http_req_app(req);
    struct store_destination *dest = NULL;
    char err[QB_ERRBUF_SIZE], msg[QB_ERRBUF_SIZE + 64];
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "destination");
    if (!cJSON_IsString(d) || !api_valid_name(d->valuestring)) {
        snprintf(msg, sizeof msg, "copies[%zu].destination: must be a destination's name", i);
        api_reply_invalid(req, msg);
        return NULL;
    }
    enum qb_err rc =
        store_destination_get(app->store, d->valuestring, false, &dest, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND) {
        /* As an unknown primary destination: 422 naming the field. */
        snprintf(msg, sizeof msg, "copies[%zu].destination", i);
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, msg,
                                 "destination \"%s\" does not exist", d->valuestring);
        return NULL;
    }
    if (rc) {
        http_reply_error(req, rc, err);
        return NULL;
    }
    char *name = xstrdup(dest->name);
    store_destination_free(dest);
    return name;
}

bool api_plan_copies_from_body(struct http_request *req, const cJSON *body, struct store_plan *p)
{
    static const char *const fields[] = {"destination", "retention", NULL};
    const cJSON *copies = cJSON_GetObjectItemCaseSensitive(body, "copies");
    char err[QB_ERRBUF_SIZE], msg[QB_ERRBUF_SIZE + 64];
    cJSON *out = cJSON_CreateArray();
    bool ok = false;
    if (copies && !cJSON_IsNull(copies) && !cJSON_IsArray(copies)) {
        api_reply_invalid(req, "copies: must be an array of {\"destination\", \"retention\"}");
        goto out;
    }
    if (cJSON_GetArraySize(copies) > API_PLAN_COPIES_MAX) {
        snprintf(msg, sizeof msg, "copies: at most %d copy destinations", API_PLAN_COPIES_MAX);
        api_reply_invalid(req, msg);
        goto out;
    }
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, copies)
    {
        if (!cJSON_IsObject(c) || json_reject_unknown(c, fields, err, sizeof err)) {
            snprintf(msg, sizeof msg, "copies[%zu]: %s", i,
                     cJSON_IsObject(c) ? err
                                       : "must be an object {\"destination\", \"retention\"}");
            api_reply_invalid(req, msg);
            goto out;
        }
        struct retention_policy policy;
        const cJSON *retention = cJSON_GetObjectItemCaseSensitive(c, "retention");
        enum qb_err rc = retention_policy_from_json(retention, &policy, err, sizeof err);
        if (rc && rc != QB_ERR_NOT_FOUND) {
            snprintf(msg, sizeof msg, "copies[%zu].%s", i, err);
            api_reply_invalid(req, msg);
            goto out;
        }
        char *name = copy_destination(req, c, i);
        if (!name)
            goto out;
        bool dup = p->destination && strcmp(name, p->destination) == 0;
        const cJSON *prev;
        cJSON_ArrayForEach(prev, out)
        {
            dup = dup || strcmp(cJSON_GetObjectItem(prev, "destination")->valuestring, name) == 0;
        }
        if (dup) {
            snprintf(msg, sizeof msg,
                     "copies[%zu].destination: \"%s\" is the plan's destination or another copy's; "
                     "a copy must be somewhere else",
                     i, name);
            free(name);
            api_reply_invalid(req, msg);
            goto out;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "destination", name);
        cJSON_AddItemToObject(o, "retention",
                              retention && !cJSON_IsNull(retention)
                                  ? cJSON_Duplicate(retention, true)
                                  : cJSON_CreateObject());
        cJSON_AddItemToArray(out, o);
        free(name);
        i++;
    }
    free(p->copies);
    p->copies = cJSON_PrintUnformatted(out);
    ok = true;
out:
    cJSON_Delete(out);
    return ok;
}

cJSON *api_plan_copies_json(const struct store_plan *p)
{
    cJSON *a = cJSON_Parse(p->copies ? p->copies : "[]");
    return cJSON_IsArray(a) ? a : (cJSON_Delete(a), cJSON_CreateArray());
}
