/* SPDX-License-Identifier: Apache-2.0
 *
 * test_notify.c -- the pure parts of notify/: signatures (ours, and
 * Slack's v0 with the example of Slack's documentation), the replay window,
 * form decoding, the slack_users setting, the command grammar, event names
 * and delivery bodies.
 */
#include "unit.h"
#include "notify/chatops.h"
#include "notify/payload.h"
#include "notify/sign.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Slack's documented example request ("Verifying requests from Slack"). */
#define SLACK_SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define SLACK_TS     "1531420618"
#define SLACK_BODY                                                                                 \
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="         \
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"     \
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"             \
    "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."               \
    "803a0bc887a14d10d2c447fce8b6703c"
#define SLACK_SIG "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static void test_webhook_signature(void)
{
    char sig[3 + SIGN_HEX_LEN + 1];
    const char *body = "{\"a\":1}";
    sign_webhook("0123456789abcdef", 1700000000, body, strlen(body), sig);
    /* HMAC-SHA256("0123456789abcdef", "1700000000.{\"a\":1}"), computed apart */
    TEST_EXPECT_STR(sig, "v1=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23");
}

static void test_slack_signature(void)
{
    char err[256];
    int64_t now = 1531420618;
    const char *b = SLACK_BODY;
    size_t n = strlen(b);
    TEST_EXPECT_INT(sign_slack_check(SLACK_SECRET, SLACK_TS, SLACK_SIG, b, n, now, err, sizeof err),
                    QB_OK);
    /* Inside the window on either side; outside it refused. */
    TEST_EXPECT_INT(
        sign_slack_check(SLACK_SECRET, SLACK_TS, SLACK_SIG, b, n, now + 300, err, sizeof err),
        QB_OK);
    TEST_EXPECT_INT(
        sign_slack_check(SLACK_SECRET, SLACK_TS, SLACK_SIG, b, n, now + 301, err, sizeof err),
        QB_ERR_INVALID);
    TEST_EXPECT_INT(
        sign_slack_check(SLACK_SECRET, SLACK_TS, SLACK_SIG, b, n, now - 301, err, sizeof err),
        QB_ERR_INVALID);
    /* One byte of the body, the secret, the timestamp or the signature off. */
    TEST_EXPECT_INT(
        sign_slack_check(SLACK_SECRET, SLACK_TS, SLACK_SIG, b, n - 1, now, err, sizeof err),
        QB_ERR_INVALID);
    TEST_EXPECT_INT(sign_slack_check("8f742231b10e8888abcd99yyyzzz85a6", SLACK_TS, SLACK_SIG, b, n,
                                     now, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(
        sign_slack_check(SLACK_SECRET, "1531420619", SLACK_SIG, b, n, now, err, sizeof err),
        QB_ERR_INVALID);
    char bad[] = SLACK_SIG;
    bad[sizeof bad - 2] = bad[sizeof bad - 2] == '3' ? '4' : '3';
    TEST_EXPECT_INT(sign_slack_check(SLACK_SECRET, SLACK_TS, bad, b, n, now, err, sizeof err),
                    QB_ERR_INVALID);
    /* Missing or malformed headers. */
    TEST_EXPECT_INT(sign_slack_check(SLACK_SECRET, NULL, SLACK_SIG, b, n, now, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(sign_slack_check(SLACK_SECRET, SLACK_TS, NULL, b, n, now, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(sign_slack_check(SLACK_SECRET, "12x", SLACK_SIG, b, n, now, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(
        sign_slack_check(SLACK_SECRET, SLACK_TS, &SLACK_SIG[3], b, n, now, err, sizeof err),
        QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, SLACK_SECRET) == NULL);
}

static void test_form_decoding(void)
{
    const char *b =
        "user_id=U1&text=run+nightly%21&empty=&response_url=https%3A%2F%2Fx%2Fy&nul=a%00b";
    size_t n = strlen(b);
    char *v = chatops_form_get(b, n, "user_id");
    TEST_EXPECT_STR(v, "U1");
    free(v);
    v = chatops_form_get(b, n, "text");
    TEST_EXPECT_STR(v, "run nightly!");
    free(v);
    v = chatops_form_get(b, n, "response_url");
    TEST_EXPECT_STR(v, "https://x/y");
    free(v);
    v = chatops_form_get(b, n, "empty");
    TEST_EXPECT_STR(v, "");
    free(v);
    TEST_EXPECT(chatops_form_get(b, n, "nul") == NULL);  /* an encoded NUL is refused */
    TEST_EXPECT(chatops_form_get(b, n, "user") == NULL); /* a prefix is not a key */
    TEST_EXPECT(chatops_form_get(b, n, "absent") == NULL);
    v = chatops_form_get(b, 9, "user_id"); /* bounded by len */
    TEST_EXPECT_STR(v, "U");
    free(v);
}

static void test_users_setting(void)
{
    const char *u = "U1:operator:nightly|hourly,U2:viewer:*";
    char err[256];
    TEST_EXPECT_INT(chatops_users_check(u, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(chatops_users_check("", err, sizeof err), QB_OK);
    TEST_EXPECT_INT(chatops_users_check("U1:admin:*", err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(chatops_users_check("U1:viewer", err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(chatops_users_check("U1:viewer:", err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(chatops_users_check(":viewer:*", err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(chatops_user_role(u, "U1"), AUTH_ROLE_OPERATOR);
    TEST_EXPECT_INT(chatops_user_role(u, "U2"), AUTH_ROLE_VIEWER);
    TEST_EXPECT_INT(chatops_user_role(u, "U"), AUTH_ROLE_PUBLIC);
    TEST_EXPECT_INT(chatops_user_role(u, "U12"), AUTH_ROLE_PUBLIC);
    TEST_EXPECT_INT(chatops_user_role(u, NULL), AUTH_ROLE_PUBLIC);
    TEST_EXPECT(chatops_user_plan_ok(u, "U1", "nightly"));
    TEST_EXPECT(chatops_user_plan_ok(u, "U1", "hourly"));
    TEST_EXPECT(!chatops_user_plan_ok(u, "U1", "night"));
    TEST_EXPECT(!chatops_user_plan_ok(u, "U1", "weekly"));
    TEST_EXPECT(chatops_user_plan_ok(u, "U2", "weekly"));
    TEST_EXPECT(!chatops_user_plan_ok(u, "U3", "weekly"));
}

static void test_command_grammar(void)
{
    struct chatops_command c;
    char err[256];
    TEST_EXPECT_INT(chatops_parse("", &c, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(c.verb, CHATOPS_HELP);
    TEST_EXPECT_INT(chatops_parse("status", &c, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(c.verb, CHATOPS_STATUS);
    TEST_EXPECT_INT(chatops_parse("  run   nightly ", &c, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(c.verb, CHATOPS_RUN);
    TEST_EXPECT_STR(c.plan, "nightly");
    TEST_EXPECT_INT(chatops_parse("snapshots nightly", &c, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(c.verb, CHATOPS_SNAPSHOTS);
    TEST_EXPECT_INT(chatops_parse("restore nightly products", &c, err, sizeof err), QB_OK);
    TEST_EXPECT(!c.confirmed && c.snapshot_id == 0);
    TEST_EXPECT_STR(c.collection, "products");
    TEST_EXPECT_INT(chatops_parse("restore nightly products latest confirm", &c, err, sizeof err),
                    QB_OK);
    TEST_EXPECT(c.confirmed && c.snapshot_id == 0);
    TEST_EXPECT_INT(chatops_parse("restore nightly products 42 confirm", &c, err, sizeof err),
                    QB_OK);
    TEST_EXPECT(c.confirmed && c.snapshot_id == 42);
    TEST_EXPECT_INT(chatops_parse("restore nightly products confirm", &c, err, sizeof err), QB_OK);
    TEST_EXPECT(c.confirmed);
    /* Wrong shapes: usage, nothing done. */
    static const char *const bad[] = {
        "run",
        "run a b",
        "snapshots",
        "restore nightly",
        "restore nightly products confirm 42",
        "restore nightly products 0 confirm",
        "restore nightly products 42 43",
        "restore nightly products confirm confirm",
        "delete everything",
        "status now",
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++)
        TEST_EXPECT_INT(chatops_parse(bad[i], &c, err, sizeof err), QB_ERR_INVALID);
    char long_plan[300] = "run ";
    memset(long_plan + 4, 'a', 250);
    long_plan[254] = '\0';
    TEST_EXPECT_INT(chatops_parse(long_plan, &c, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_INT(chatops_verb_role(CHATOPS_RESTORE), AUTH_ROLE_OPERATOR);
    TEST_EXPECT_INT(chatops_verb_role(CHATOPS_SNAPSHOTS), AUTH_ROLE_VIEWER);
}

static void test_events_and_bodies(void)
{
    TEST_EXPECT(payload_event_known("run.failed"));
    TEST_EXPECT(payload_event_known("destination.unreachable"));
    TEST_EXPECT(payload_event_known("webhook.test"));
    TEST_EXPECT(!payload_event_known("reset"));
    TEST_EXPECT(!payload_event_known("run.exploded"));
    TEST_EXPECT(payload_event_final("run.partial"));
    TEST_EXPECT(payload_event_final("restore.failed"));
    TEST_EXPECT(!payload_event_final("run.started"));
    TEST_EXPECT(!payload_event_final("plan.stale"));

    struct payload_event e = {.id = 7,
                              .type = "run.failed",
                              .at = 1700000000,
                              .plan = "nightly",
                              .instance = "default",
                              .run_id = 12,
                              .data = "{\"state\":\"failed\",\"error\":\"boom\"}"};
    char *body = payload_body("json", "wh1-ev7", &e);
    cJSON *j = cJSON_Parse(body);
    TEST_EXPECT_STR(cJSON_GetObjectItem(j, "id")->valuestring, "wh1-ev7");
    TEST_EXPECT_STR(cJSON_GetObjectItem(j, "event")->valuestring, "run.failed");
    TEST_EXPECT_INT(cJSON_GetObjectItem(j, "event_id")->valuedouble, 7);
    TEST_EXPECT_STR(cJSON_GetObjectItem(j, "occurred_at")->valuestring, "2023-11-14T22:13:20Z");
    TEST_EXPECT_INT(cJSON_GetObjectItem(j, "run_id")->valuedouble, 12);
    TEST_EXPECT_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "error")->valuestring,
                    "boom");
    cJSON_Delete(j);
    free(body);

    body = payload_body("slack", "wh1-ev7", &e);
    j = cJSON_Parse(body);
    const char *text = cJSON_GetObjectItem(j, "text")->valuestring;
    TEST_EXPECT_STR(text, "qbackup: run.failed: plan nightly, run 12 on instance default: boom");
    const cJSON *block = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "blocks"), 0);
    TEST_EXPECT_STR(cJSON_GetObjectItem(block, "type")->valuestring, "section");
    cJSON_Delete(j);
    free(body);
}

int main(void)
{
    TEST_RUN(test_webhook_signature);
    TEST_RUN(test_slack_signature);
    TEST_RUN(test_form_decoding);
    TEST_RUN(test_users_setting);
    TEST_RUN(test_command_grammar);
    TEST_RUN(test_events_and_bodies);
    return TEST_RESULT();
}
