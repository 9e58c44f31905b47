/* SPDX-License-Identifier: Apache-2.0
 *
 * test_store_webhooks.c -- migration 0014's tables through
 * store_webhooks.h on a real SQLite file: the webhook secret sealed at
 * rest, a delivery queued once per (webhook, event), leases that keep two
 * senders apart and expire for a dead one, attempts logged, the event
 * cursor only moving forward, and the chat-ops replay guard.
 */
#include "unit.h"
#include "unit_catalogue.h"
#include "store/store.h"
#include "store/store_secrets.h"
#include "store/store_webhooks.h"
#include "util/seal.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dbpath[512];

static void drop_db(void)
{
    unit_catalogue_drop(dbpath);
}

static struct store *open_store(struct seal_keyring **kr)
{
    struct store *s = NULL;
    char err[QB_ERRBUF_SIZE];
    if (!unit_catalogue_new("wh", dbpath, sizeof dbpath))
        return NULL;
    if (store_open(dbpath, 2, &s, err, sizeof err) || store_migrate(s, NULL, err, sizeof err))
        return NULL;
    *kr = seal_keyring_create();
    if (seal_keyring_add_base64(*kr, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "t", err,
                                sizeof err) ||
        store_secrets_init(s, *kr, NULL, err, sizeof err))
        return NULL;
    return s;
}

/* Whether webhooks.secret, read around the store, is sealed and does not
 * hold plain. */
static bool secret_sealed(const char *plain)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM webhooks WHERE secret LIKE 'qbs1:%%' AND secret NOT LIKE "
             "'%%%s%%'",
             plain);
    return unit_sql_int(dbpath, sql) == 1;
}

static void test_outbox(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = open_store(&kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    char url[] = "http://127.0.0.1:9/x", events[] = "[\"run.failed\"]", format[] = "json";
    char secret[] = "0123456789abcdef-secret";
    struct store_webhook w = {
        .url = url, .events = events, .format = format, .secret = secret, .enabled = true};
    int64_t id = 0;
    TEST_ASSERT(store_webhook_insert(s, &w, &id, err, sizeof err) == QB_OK);
    TEST_EXPECT(secret_sealed("0123456789abcdef"));
    struct store_webhook *got = NULL;
    TEST_ASSERT(store_webhook_get(s, id, &got, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(got->secret, "0123456789abcdef-secret");
    store_webhook_free(got);

    struct store_delivery_new d = {.delivery_id = "wh1-ev5",
                                   .webhook_id = id,
                                   .event = "run.failed",
                                   .event_key = "ev:5",
                                   .body = "{}"};
    bool added = false;
    TEST_EXPECT_INT(store_delivery_add(s, &d, &added, err, sizeof err), QB_OK);
    TEST_EXPECT(added);
    TEST_EXPECT_INT(store_delivery_add(s, &d, &added, err, sizeof err), QB_OK);
    TEST_EXPECT(!added); /* the same event again: ignored */

    int64_t now = qb_now_ms();
    struct store_delivery *a = NULL, *b = NULL;
    TEST_ASSERT(store_delivery_claim(s, now, 1000, &a, err, sizeof err) == QB_OK && a);
    TEST_EXPECT_STR(a->delivery_id, "wh1-ev5");
    /* Leased: a second sender finds nothing, until the lease runs out. */
    TEST_EXPECT_INT(store_delivery_claim(s, now, 1000, &b, err, sizeof err), QB_OK);
    TEST_EXPECT(b == NULL);
    TEST_EXPECT_INT(store_delivery_claim(s, now + 1001, 1000, &b, err, sizeof err), QB_OK);
    TEST_EXPECT(b != NULL);
    store_delivery_free(b);
    b = NULL;
    TEST_EXPECT_INT(store_delivery_record(s, a->id, now, 500, "the receiver answered HTTP 500", 12,
                                          "pending", now + 5000, err, sizeof err),
                    QB_OK);
    TEST_EXPECT_INT(store_delivery_claim(s, now + 4999, 1000, &b, err, sizeof err), QB_OK);
    TEST_EXPECT(b == NULL);
    TEST_EXPECT_INT(store_delivery_claim(s, now + 5000, 1000, &b, err, sizeof err), QB_OK);
    TEST_ASSERT(b != NULL);
    TEST_EXPECT_INT(b->attempts, 1);
    TEST_EXPECT_INT(
        store_delivery_record(s, b->id, now + 5000, 200, NULL, 3, "delivered", 0, err, sizeof err),
        QB_OK);
    store_delivery_free(a);
    store_delivery_free(b);
    b = NULL;
    TEST_EXPECT_INT(store_delivery_claim(s, now + 999999, 1000, &b, err, sizeof err), QB_OK);
    TEST_EXPECT(b == NULL); /* delivered: never sent again */

    struct store_delivery **list = NULL;
    size_t n = 0;
    TEST_ASSERT(store_delivery_list(s, id, 10, &list, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_STR(list[0]->state, "delivered");
    TEST_EXPECT_INT(list[0]->attempts, 2);
    TEST_EXPECT_INT(list[0]->last_status, 200);
    /* JSON the API parses (each engine spaces it its own way). */
    cJSON *log = cJSON_Parse(list[0]->attempt_log);
    TEST_EXPECT_INT(cJSON_GetArraySize(log), 2);
    TEST_EXPECT_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "status")->valueint, 500);
    TEST_EXPECT_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 1), "status")->valueint, 200);
    cJSON_Delete(log);
    store_delivery_list_free(list, n);

    /* Counts for /metrics; pruning forgets only finished deliveries past
     * the cut-off. */
    d.delivery_id = "wh1-ev6";
    d.event_key = "ev:6";
    TEST_EXPECT_INT(store_delivery_add(s, &d, &added, err, sizeof err), QB_OK);
    struct store_delivery_counts c;
    TEST_EXPECT_INT(store_delivery_counts(s, &c, err, sizeof err), QB_OK);
    TEST_EXPECT(c.pending == 1 && c.delivered == 1 && c.dead == 0);
    int removed = -1;
    TEST_EXPECT_INT(store_delivery_prune(s, now - 60000, &removed, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(removed, 0);
    TEST_EXPECT_INT(store_delivery_prune(s, qb_now_ms() + 60000, &removed, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(removed, 1); /* the delivered one; the pending one stays */
    TEST_EXPECT_INT(store_delivery_counts(s, &c, err, sizeof err), QB_OK);
    TEST_EXPECT(c.pending == 1 && c.delivered == 0 && c.dead == 0);

    /* Deleting the webhook takes its deliveries. */
    TEST_EXPECT_INT(store_webhook_delete(s, id, err, sizeof err), QB_OK);
    TEST_ASSERT(store_delivery_list(s, id, 10, &list, &n, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(n, 0);
    store_delivery_list_free(list, n);
    TEST_EXPECT_INT(store_webhook_delete(s, id, err, sizeof err), QB_ERR_NOT_FOUND);
    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

static void test_cursor_and_replays(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = open_store(&kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    int64_t c = -1;
    TEST_EXPECT_INT(store_webhook_cursor(s, &c, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(c, 0);
    TEST_EXPECT_INT(store_webhook_cursor_set(s, 9, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_webhook_cursor_set(s, 4, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_webhook_cursor(s, &c, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(c, 9); /* never back */

    TEST_EXPECT_INT(store_chatops_seen(s, "v0=aa", 1000, 600, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_chatops_seen(s, "v0=aa", 1001, 600, err, sizeof err), QB_ERR_CONFLICT);
    TEST_EXPECT_INT(store_chatops_seen(s, "v0=bb", 1001, 600, err, sizeof err), QB_OK);
    /* Past the kept window the record is gone (the timestamp check refuses
     * such a request before it gets here). */
    TEST_EXPECT_INT(store_chatops_seen(s, "v0=aa", 1700, 600, err, sizeof err), QB_OK);
    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

int main(void)
{
    TEST_RUN(test_outbox);
    TEST_RUN(test_cursor_and_replays);
    return TEST_RESULT();
}
