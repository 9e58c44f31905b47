/* SPDX-License-Identifier: Apache-2.0
 *
 * test_fault_matrix.c -- the Qdrant side of the fault matrix
 * (docs/internals/faults.md): each cell is one fault of the Qdrant
 * emulator (5xx, connection reset, stall, truncated body, wrong checksum)
 * in one phase of a backup (create snapshot, download, delete after the
 * upload), some with a kill -9 of qbackupd while the fault holds and a
 * restart.  Every cell ends with the checks of fault_matrix.h: the run's
 * state tells the truth, the catalogue and the folder agree, nothing is
 * left in the folder or on Qdrant.
 *
 * Timeouts are made small through options so a stall outlives them: the
 * instance's timeout_s (2 s) bounds the delete, --snapshot-timeout (10 s,
 * its minimum) the create (the "stall past the timeout" cell outlasts it).  A download is cut only
 * after 60 s without a byte (QDRANT_STALL_S, not an option), too long for this matrix: its stall
 * cells hold shorter, and one kills qbackupd during the stall.
 */
#include "unit.h"
#include "common.h"
#include "fault_matrix.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu e;
static struct qbd d;
static struct storage *folder; /* the "local" destination, read independently */
static char root[512];

enum phase { CREATE, DOWNLOAD, DELETE };

struct cell {
    const char *name;          /* "fault / phase" */
    const char *rule;          /* the emulator's fault rule (method, path added) */
    enum phase phase;          /* whose request the rule hits */
    bool kill9;                /* kill -9 once the request arrived, then restart */
    const char *state, *error; /* the truthful outcome */
};

/* The matrix.  "once" faults are transient: a retry gets through. */
static const struct cell cells[] = {
    {"5xx once / create", "\"kind\":\"fail\",\"status\":503,\"count\":1", CREATE, false,
     "succeeded", NULL},
    {"5xx / create", "\"kind\":\"fail\",\"status\":503,\"count\":0", CREATE, false, "failed",
     "Qdrant answered 503"},
    {"reset / create", "\"kind\":\"drop\",\"count\":0", CREATE, false, "failed",
     "Empty reply from server"},
    {"wrong checksum / download", "\"kind\":\"wrong_checksum\"", CREATE, false, "failed",
     "checksum mismatch"},
    {"5xx once / download", "\"kind\":\"fail\",\"status\":503,\"count\":1", DOWNLOAD, false,
     "succeeded", NULL},
    {"5xx / download", "\"kind\":\"fail\",\"status\":503,\"count\":0", DOWNLOAD, false, "failed",
     "503"},
    {"reset / download", "\"kind\":\"drop\",\"count\":0", DOWNLOAD, false, "failed",
     "Empty reply from server"},
    {"truncated once / download", "\"kind\":\"truncate\",\"after_bytes\":512,\"count\":1", DOWNLOAD,
     false, "succeeded", NULL},
    {"truncated / download", "\"kind\":\"truncate\",\"after_bytes\":512,\"count\":0", DOWNLOAD,
     false, "failed", "transfer closed"},
    {"stall / download", "\"kind\":\"stall\",\"after_bytes\":512,\"stall_ms\":1500", DOWNLOAD,
     false, "succeeded", NULL},
    {"stall / download + kill -9", "\"kind\":\"stall\",\"after_bytes\":512,\"stall_ms\":4000",
     DOWNLOAD, true, "failed", "interrupted by restart"},
    {"5xx / delete", "\"kind\":\"fail\",\"status\":500,\"count\":0", DELETE, false, "succeeded",
     NULL},
    {"reset / delete", "\"kind\":\"drop\",\"count\":0", DELETE, false, "succeeded", NULL},
    {"stall / delete", "\"kind\":\"delay\",\"delay_ms\":4500,\"count\":0", DELETE, false,
     "succeeded", NULL},
    {"stall / delete + kill -9", "\"kind\":\"delay\",\"delay_ms\":1500,\"count\":1", DELETE, true,
     "succeeded", NULL},
    /* A create qbackupd stopped waiting for -- its timeout passed (the
     * retry succeeds), or it was killed -- is finished by Qdrant anyway
     * (with wait=true a client disconnect does not cancel it), after
     * qbackupd's first look for it: the janitor's sweep deletes it. */
    {"stall past the timeout / create", "\"kind\":\"delay\",\"delay_ms\":11000,\"count\":1", CREATE,
     false, "succeeded", NULL},
    {"stall / create + kill -9", "\"kind\":\"delay\",\"delay_ms\":4000,\"count\":1", CREATE, true,
     "failed", "interrupted by restart"},
};

/* Fault rules the emulator still holds, -1 on failure. */
static int active_faults(void)
{
    struct resp r;
    int n = -1;
    if (emu_request(&e, "GET", "/debug/faults", NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "result"));
    resp_free(&r);
    return n;
}

/* Runs cell c with collection m<i> and plan q<i>. */
static void run_cell(const struct cell *c, size_t i)
{
    fprintf(stderr, "--- cell %zu: %s\n", i, c->name);
    /* Its own collection and plan: a cell that fails leaves nothing in
     * the next one's way. */
    char plan[16], coll[16], prefix[64], body[512];
    snprintf(plan, sizeof plan, "q%zu", i);
    snprintf(coll, sizeof coll, "m%zu", i);
    TEST_ASSERT(emu_create_collection(&e, coll, 4) == 0 && emu_upsert(&e, coll, 20, (int)i) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"instance\":\"emu\",\"collections\":[\"%s\"],"
             "\"verify\":true}",
             plan, coll);
    TEST_ASSERT(fm_call(&d, "POST", "/v1/plans", body, 201));
    static const char *const methods[] = {"POST", "GET", "DELETE"};
    const char *method = methods[c->phase];
    snprintf(prefix, sizeof prefix, "/collections/%s/snapshots%s", coll,
             c->phase == CREATE ? "" : "/");
    snprintf(body, sizeof body, "{%s,\"method\":\"%s\",\"path_prefix\":\"%s\"}", c->rule, method,
             prefix);
    TEST_ASSERT(emu_clear_faults(&e) == 0 && emu_clear_requests(&e) == 0);
    TEST_ASSERT(emu_fault(&e, body) == 0);
    long long id = fm_start_run(&d, plan);
    TEST_ASSERT(id > 0);
    if (c->kill9) {
        TEST_ASSERT(fm_wait_request(&e, method, prefix, 20000));
        TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
        TEST_ASSERT(qbd_restart(&d) == 0);
    }
    struct fm_run run;
    TEST_ASSERT(fm_wait_settled(&d, id, 60000, &run));
    if (!strstr(c->rule, "\"count\":0")) /* a one-shot fault must have fired */
        TEST_EXPECT_INT(active_faults(), 0);
    TEST_EXPECT_INT(emu_clear_faults(&e), 0);
    struct fm_keys raw = {0};
    TEST_EXPECT(fm_keys_local(root, plan, &raw));
    TEST_EXPECT(fm_check_truth(&d, folder, &raw, plan, &run, c->state, c->error));
    fm_keys_free(&raw);
    /* A held request still does its work on Qdrant after qbackupd gave up
     * on it (Qdrant finishes a snapshot whose client went away): only its
     * answer shows that it is done. */
    if (strstr(c->rule, "\"delay\""))
        TEST_EXPECT(fm_wait_answered(&e, method, prefix, 30000));
    /* A delete Qdrant refused is the janitor's: it goes once the fault is
     * cleared.  Every other cell leaves nothing from the start. */
    TEST_EXPECT(fm_wait_no_qdrant_snapshot(&e, coll, 20000));
    if (c->phase == DELETE && !c->kill9)
        TEST_EXPECT(run.warning[0] != '\0'); /* the run says Qdrant kept its copy */
}

static void test_matrix(void)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(cells); i++)
        run_cell(&cells[i], i);
}

int main(int argc, char **argv)
{
    char err[QB_ERRBUF_SIZE];
    if (emu_start(&e, NULL) != 0)
        return 1;
    const char *const args[] = {
        "--retry-base-ms", "20", "--max-attempts", "2", "--snapshot-timeout", "10", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"emu\",\"url\":\"%s\",\"timeout_s\":2}", e.url);
    if (!fm_call(&d, "POST", "/v1/instances", body, 201))
        return 1;
    snprintf(root, sizeof root, "%s/var/backups", d.dir);
    cJSON *settings = cJSON_CreateObject();
    cJSON_AddStringToObject(settings, "path", root);
    if (storage_open_json("local", settings, NULL, false, &folder, err, sizeof err)) {
        fprintf(stderr, "opening %s: %s\n", root, err);
        return 1;
    }
    cJSON_Delete(settings);
    /* One cell by index, for debugging: test_fault_matrix N. */
    if (argc > 1 && strtoul(argv[1], NULL, 10) < QB_ARRAY_LEN(cells))
        run_cell(&cells[strtoul(argv[1], NULL, 10)], strtoul(argv[1], NULL, 10));
    else
        TEST_RUN(test_matrix);
    storage_close(folder);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
