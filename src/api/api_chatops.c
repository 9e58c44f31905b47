/* SPDX-License-Identifier: Apache-2.0
 *
 * api_chatops.c -- POST /v1/chatops/slack: a Slack slash-command receiver.
 *
 * The route is public in the table (Slack sends no bearer token); the
 * request authenticates itself with Slack's v0 signature over its exact
 * body (notify/sign.h), within five minutes of its timestamp, and each
 * signature is served once (a replay is refused: store_chatops_seen).
 * Only then is the form read; the Slack user is mapped to a role and the
 * plans it may touch by the slack_users setting (notify/chatops.h).
 *
 * Slack wants an answer within 3 s: reads (status, snapshots) answer at
 * once from the catalogue; run and restore queue a run, answer "queued",
 * and the run's outcome is posted later to the response URL by
 * notify/webhooks.c's outbox (chatops_followups).
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "http/http_reply.h"
#include "notify/chatops.h"
#include "notify/sign.h"
#include "notify/webhooks.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "store/store_webhooks.h"
#include "util/buf.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slack shows at most about 40 kB of text; the lists stay well below. */
#define CHAT_TEXT_MAX 16384
#define CHAT_LIST_MAX 10

/* Answers the slash command with a message only its caller sees. */
static void reply_text(struct http_request *req, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "response_type", "ephemeral");
    cJSON_AddStringToObject(o, "text", text);
    http_reply_json_steal(req, 200, o);
}

static void chat_status(struct http_request *req, const char *users, const char *user)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_plan **plans = NULL;
    size_t n = 0;
    enum qb_err rc = store_plan_list(app->store, &plans, &n, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    struct buf b;
    buf_init(&b, CHAT_TEXT_MAX);
    bool ok = buf_appends(&b, "qbackup status:");
    size_t shown = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (!chatops_user_plan_ok(users, user, plans[i]->name))
            continue;
        struct store_run_filter f = {.plan_id = plans[i]->id, .kind = "backup", .limit = 1};
        struct store_run **runs = NULL;
        size_t nr = 0;
        if (store_run_list(app->store, &f, &runs, &nr, err, sizeof err) == QB_OK && nr)
            ok = buf_printf(&b, "\n• %s: last run %lld %s", plans[i]->name, (long long)runs[0]->id,
                            runs[0]->state);
        else
            ok = buf_printf(&b, "\n• %s: no run yet", plans[i]->name);
        store_run_list_free(runs, nr);
        shown++;
    }
    if (ok && !shown)
        ok = buf_appends(&b, " no plan you may see");
    store_plan_list_free(plans, n);
    reply_text(req, ok ? b.data : "qbackup status: too long to show; see GET /v1/status");
    buf_free(&b);
}

static void chat_snapshots(struct http_request *req, const char *plan)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot_filter f = {.plan = plan, .limit = CHAT_LIST_MAX};
    struct store_snapshot **list = NULL;
    size_t n = 0;
    enum qb_err rc = store_snapshot_list(app->store, &f, &list, &n, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    struct buf b;
    buf_init(&b, CHAT_TEXT_MAX);
    bool ok = buf_printf(&b, "snapshots of plan %s (newest first):", plan);
    for (size_t i = 0; ok && i < n; i++)
        ok = buf_printf(&b, "\n• %lld %s %lld bytes%s", (long long)list[i]->id,
                        list[i]->collection ? list[i]->collection : "(full)",
                        (long long)list[i]->size_bytes, list[i]->verified_at ? " verified" : "");
    if (ok && !n)
        ok = buf_appends(&b, " none");
    store_snapshot_list_free(list, n);
    reply_text(req, ok ? b.data : "too many snapshots to show");
    buf_free(&b);
}

/* The snapshot a chat restore names: its id (which must be of plan), or
 * the newest verified one of plan and collection.  Replies when none. */
static struct store_snapshot *chat_snapshot(struct http_request *req,
                                            const struct chatops_command *c)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot *snap = NULL;
    if (c->snapshot_id) {
        if (store_snapshot_get(app->store, c->snapshot_id, &snap, err, sizeof err) ||
            !snap->plan_name || strcmp(snap->plan_name, c->plan) || !snap->collection ||
            strcmp(snap->collection, c->collection)) {
            store_snapshot_free(snap);
            reply_text(req, "no such snapshot of that plan and collection");
            return NULL;
        }
        return snap;
    }
    struct store_snapshot_filter f = {
        .plan = c->plan, .collection = c->collection, .verified_only = true, .limit = 1};
    struct store_snapshot **list = NULL;
    size_t n = 0;
    if (store_snapshot_list(app->store, &f, &list, &n, err, sizeof err) || n == 0) {
        store_snapshot_list_free(list, n);
        reply_text(req, "that plan has no verified snapshot of that collection");
        return NULL;
    }
    snap = list[0];
    list[0] = NULL;
    store_snapshot_list_free(list, n);
    return snap;
}

/* Queues the run of a chat command and owes its outcome to response_url. */
static void chat_queue(struct http_request *req, const struct chatops_command *c, const char *who,
                       const char *response_url, const char *text)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_plan *p = NULL;
    struct store_snapshot *snap = NULL;
    char *request = NULL;
    enum qb_err rc = store_plan_get(app->store, c->plan, &p, err, sizeof err);
    if (rc) {
        reply_text(req, err);
        return;
    }
    struct store_run_new n = {.kind = "backup",
                              .plan_id = p->id,
                              .plan_name = p->name,
                              .instance_id = p->instance_id,
                              .trigger = "api",
                              .triggered_by = who,
                              .request = "{}"};
    if (c->verb == CHATOPS_RESTORE) {
        snap = chat_snapshot(req, c);
        if (!snap)
            goto out;
        /* The collection goes back to the snapshot: it is replaced, after
         * a safety snapshot of what is there now (hence "confirm"). */
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "snapshot_id", (double)snap->id);
        cJSON_AddStringToObject(r, "target_instance", snap->instance_name);
        cJSON_AddStringToObject(r, "target_collection", snap->collection);
        cJSON_AddStringToObject(r, "method", "upload");
        cJSON_AddBoolToObject(r, "overwrite", true);
        cJSON_AddBoolToObject(r, "safety_snapshot", true);
        const char *base = atomic_load(&app->public_url);
        if (base)
            cJSON_AddStringToObject(r, "download_base", base);
        request = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        /* As POST /v1/restores: not a run of the plan (it must not block
         * the plan's schedule), the name kept for display. */
        n.kind = "restore";
        n.plan_id = 0;
        n.instance_id = snap->instance_id ? snap->instance_id : p->instance_id;
        n.request = request;
    }
    int64_t id = 0;
    bool existing = false;
    rc = store_run_create(app->store, &n, &id, &existing, err, sizeof err);
    if (!rc && response_url)
        rc = store_chatops_followup(app->store, id, response_url, text, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    engine_wake(app->engine);
    char msg[512];
    snprintf(msg, sizeof msg, "%s %lld of plan %s queued by %s; the result follows here.",
             c->verb == CHATOPS_RESTORE ? "restore" : "run", (long long)id, c->plan, who);
    reply_text(req, msg);
out:
    free(request);
    store_snapshot_free(snap);
    store_plan_free(p);
}

/* Checks the signature, the replay guard and the response URL; replies
 * and returns false when the request must not be served. */
static bool chat_authentic(struct http_request *req, const char *body, size_t len)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    const char *sig = http_req_header(req, "X-Slack-Signature");
    enum qb_err rc = sign_slack_check(app->cfg->slack_signing_secret,
                                      http_req_header(req, "X-Slack-Request-Timestamp"), sig,
                                      body ? body : "", len, qb_now_ms() / 1000, err, sizeof err);
    if (!rc)
        rc = store_chatops_seen(app->store, sig, qb_now_ms() / 1000, 2 * SIGN_WINDOW_S, err,
                                sizeof err);
    if (rc == QB_ERR_INVALID || rc == QB_ERR_CONFLICT) {
        rlog_warn(http_req_id(req), "chatops.refused", "reason=%s", log_q(err));
        http_reply_problem(req, API_ERR_UNAUTHENTICATED, "%s", err);
        return false;
    }
    if (rc) {
        http_reply_error(req, rc, err);
        return false;
    }
    return true;
}

void api_chatops_slack(struct http_request *req)
{
    struct app *app = http_req_app(req);
    const struct config *cfg = app->cfg;
    char err[QB_ERRBUF_SIZE];
    if (!*cfg->slack_signing_secret) {
        http_reply_problem(req, API_ERR_NOT_FOUND,
                           "chat-ops is off: set slack_signing_secret to enable it");
        return;
    }
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    if (!chat_authentic(req, body, len))
        return;
    char *user = chatops_form_get(body ? body : "", len, "user_id");
    char *text = chatops_form_get(body ? body : "", len, "text");
    char *url = chatops_form_get(body ? body : "", len, "response_url");
    struct chatops_command c;
    enum auth_role role = chatops_user_role(cfg->slack_users, user);
    if (url &&
        strncmp(url, cfg->slack_response_url_prefix, strlen(cfg->slack_response_url_prefix)) != 0) {
        http_reply_problem_field(req, API_ERR_INVALID_FIELD, "response_url",
                                 "response_url must start with %s (slack_response_url_prefix)",
                                 cfg->slack_response_url_prefix);
    } else if (role == AUTH_ROLE_PUBLIC) {
        http_reply_problem(req, API_ERR_FORBIDDEN,
                           "this Slack user is not in slack_users; ask an admin");
    } else if (chatops_parse(text, &c, err, sizeof err)) {
        reply_text(req, err);
    } else if (c.verb == CHATOPS_HELP) {
        reply_text(req, "usage: status | snapshots <plan> | run <plan> | restore <plan> "
                        "<collection> [latest|<snapshot id>] confirm");
    } else if (role < chatops_verb_role(c.verb)) {
        http_reply_problem(req, API_ERR_FORBIDDEN, "this command needs the %s role; you have %s",
                           auth_role_name(chatops_verb_role(c.verb)), auth_role_name(role));
    } else if (c.verb != CHATOPS_STATUS && !chatops_user_plan_ok(cfg->slack_users, user, c.plan)) {
        http_reply_problem_field(req, API_ERR_FORBIDDEN, "text",
                                 "you may not touch plan \"%s\" from chat", c.plan);
    } else if (c.verb == CHATOPS_STATUS) {
        chat_status(req, cfg->slack_users, user);
    } else if (c.verb == CHATOPS_SNAPSHOTS) {
        chat_snapshots(req, c.plan);
    } else if (c.verb == CHATOPS_RESTORE && !c.confirmed) {
        reply_text(req, "a restore replaces the collection (after a safety snapshot); repeat the "
                        "command with the word confirm at the end to do it");
    } else {
        char *who = xasprintf("slack:%s", user);
        chat_queue(req, &c, who, url, text);
        free(who);
    }
    free(user);
    free(text);
    free(url);
}
