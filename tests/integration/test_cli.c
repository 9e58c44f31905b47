/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cli.c -- the `qbackup` command-line client against the real daemon
 * and an emulated Qdrant: the seed's CI scenario driven only by the CLI
 * (pre-deploy snapshot with an Idempotency-Key and its replay, deploy,
 * failed smoke test, rollback restore over the live collection), each step
 * checked by exit code and output; then the exit codes of the failure
 * cases (unknown plan, bad token, too low a role, a failed run, a wait that
 * runs out, a failed verification, a refused restore, a bad command line,
 * the daemon down) and the problem+json details shown to the user.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VIEWER_TOKEN   "viewer-token-0123456789"
#define OPERATOR_TOKEN "operator-token-0123456789"
#define ADMIN_TOKEN    "admin-token-0123456789"

static struct emu prod;
static struct qbd d;
static char *original; /* points of "products" before the deploy */
static char url[64];

struct cli_out {
    int code;  /* exit status, 128+signal when killed */
    char *out; /* stdout, owned */
    char *err; /* stderr, owned */
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return xstrdup("");
    char *s = xcalloc(1, 1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Runs the built qbackup with QBACKUP_URL=url and QBACKUP_TOKEN=token (none
 * when NULL) and the NULL-terminated words; fills o. */
static void cli(struct cli_out *o, const char *token, ...)
{
    const char *argv[32] = {QB_CLI_PATH};
    int n = 1;
    va_list ap;
    va_start(ap, token);
    for (const char *a = va_arg(ap, const char *); a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/cli.out", d.dir);
    snprintf(err_path, sizeof err_path, "%s/cli.err", d.dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        setenv("QBACKUP_URL", url, 1);
        if (token)
            setenv("QBACKUP_TOKEN", token, 1);
        else
            unsetenv("QBACKUP_TOKEN");
        execv(QB_CLI_PATH, (char *const *)(void *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    o->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    o->out = slurp(out_path);
    o->err = slurp(err_path);
    fprintf(stderr, "$ qbackup");
    for (int i = 1; i < n; i++)
        fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "  -> exit %d\n%s%s", o->code, o->out, o->err);
}

static void cli_free(struct cli_out *o)
{
    QB_FREE(o->out);
    QB_FREE(o->err);
}

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

static bool admin(const char *method, const char *path, const char *body, long want)
{
    struct resp r;
    bool ok = qbd_request(&d, method, path, body, NULL, &r) == 0 && r.status == want;
    if (!ok)
        fprintf(stderr, "%s %s -> %ld (want %ld): %s\n", method, path, r.status, want, r.body);
    resp_free(&r);
    return ok;
}

/* The run id printed by "run N: state (...)". */
static long run_id_of(const char *out)
{
    const char *p = strstr(out, "run ");
    return p ? strtol(p + 4, NULL, 10) : -1;
}

static void test_help_and_usage(void)
{
    struct cli_out o;
    cli(&o, NULL, "--help", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "Exit status:"));
    TEST_EXPECT(has(o.out, "restore PLAN COLLECTION"));
    cli_free(&o);
    cli(&o, NULL, "restore", "prod", NULL); /* COLLECTION missing */
    TEST_EXPECT_INT(o.code, 2);
    TEST_EXPECT(has(o.err, "usage: qbackup restore PLAN COLLECTION"));
    cli_free(&o);
    cli(&o, NULL, "plans", "--colour", NULL);
    TEST_EXPECT_INT(o.code, 2);
    TEST_EXPECT(has(o.err, "unknown option \"--colour\""));
    cli_free(&o);
    cli(&o, NULL, "frobnicate", NULL);
    TEST_EXPECT_INT(o.code, 2);
    cli_free(&o);
}

/* The seed: snapshot before the deploy, deploy, smoke test fails, roll back. */
static void test_seed_scenario(void)
{
    TEST_ASSERT(
        admin("POST", "/v1/plans", "{\"name\":\"prod\",\"collections\":[\"products\"]}", 201));
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "plans", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "NAME") && has(o.out, "prod") && has(o.out, "default"));
    cli_free(&o);

    /* 1. Pre-deploy snapshot, retry-safe. */
    cli(&o, OPERATOR_TOKEN, "run", "prod", "--wait", "--key", "deploy-42", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, ": succeeded (backup, plan prod)"));
    TEST_EXPECT(has(o.out, "products"));
    long run = run_id_of(o.out);
    TEST_EXPECT(run > 0);
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "run", "prod", "--wait=60", "--key", "deploy-42", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT_INT(run_id_of(o.out), run); /* the CI retry did not back up twice */
    TEST_EXPECT(has(o.err, "this is the earlier run"));
    cli_free(&o);

    cli(&o, OPERATOR_TOKEN, "--json", "snapshots", "--plan", "prod", NULL);
    TEST_EXPECT_INT(o.code, 0);
    cJSON *list = cJSON_Parse(o.out);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(list, "items")), 1);
    double snap = json_path_num(list, "items.0.id");
    cJSON_Delete(list);
    cli_free(&o);
    char snap_id[32];
    snprintf(snap_id, sizeof snap_id, "%.0f", snap);
    cli(&o, OPERATOR_TOKEN, "verify", snap_id, NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "verified: sha256 "));
    cli_free(&o);

    /* 2. Deploy: a migration rewrites the collection; 3. the smoke test fails. */
    TEST_ASSERT(emu_upsert(&prod, "products", 40, 77) == 0);
    char *after = emu_points(&prod, "products");
    TEST_EXPECT(after && strcmp(after, original) != 0);
    free(after);

    /* 4. Roll back over the live collection. */
    cli(&o, OPERATOR_TOKEN, "restore", "prod", "products", "--overwrite", "--wait", "--key",
        "deploy-42-products", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, ": succeeded (restore, plan prod)"));
    TEST_EXPECT(has(o.out, "SAFETY SNAPSHOT"));
    cli_free(&o);
    char *now = emu_points(&prod, "products");
    TEST_EXPECT(now && strcmp(now, original) == 0);
    free(now);

    cli(&o, VIEWER_TOKEN, "runs", "--kind", "restore", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "restore") && has(o.out, "succeeded"));
    cli_free(&o);
    cli(&o, VIEWER_TOKEN, "status", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "status: ok"));
    TEST_EXPECT(has(o.out, "INSTANCE") && has(o.out, "default"));
    cli_free(&o);
    cli(&o, VIEWER_TOKEN, "instances", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, prod.url));
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "destinations", "check", "local", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "destination local: ok"));
    cli_free(&o);
}

/* A labelled one-off run held against retention (--label, --keep-until,
 * --pin); a malformed label is a usage error, a past keep_until is
 * refused by qbackupd (exit 6) with the field named. */
static void test_labelled_one_off_run(void)
{
    struct cli_out o;
    char until[32];
    qb_format_time(qb_now_ms() / 1000 + 86400, until, sizeof until);
    cli(&o, OPERATOR_TOKEN, "--json", "run", "prod", "--wait", "--label",
        "reason=pre-deploy,ticket=OPS-1", "--keep-until", until, "--pin", NULL);
    TEST_EXPECT_INT(o.code, 0);
    cJSON *run = cJSON_Parse(o.out);
    TEST_EXPECT_STR(json_path_str(run, "request.labels.reason"), "pre-deploy");
    TEST_EXPECT_STR(json_path_str(run, "request.labels.ticket"), "OPS-1");
    TEST_EXPECT_STR(json_path_str(run, "request.keep_until"), until);
    TEST_EXPECT(cJSON_IsTrue(json_path(run, "request.pinned")));
    cJSON_Delete(run);
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "run", "prod", "--label", "pre-deploy", NULL);
    TEST_EXPECT_INT(o.code, 2);
    TEST_EXPECT(has(o.err, "KEY=VALUE"));
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "run", "prod", "--keep-until", "2020-01-01T00:00:00Z", NULL);
    TEST_EXPECT_INT(o.code, 6);
    TEST_EXPECT(has(o.err, "keep_until"));
    cli_free(&o);
}

/* Without --wait the command only queues: exit 0 whatever the run does
 * later, and --json prints the run. */
static void test_run_without_wait(void)
{
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "--json", "run", "prod", NULL);
    TEST_EXPECT_INT(o.code, 0);
    cJSON *run = cJSON_Parse(o.out);
    TEST_EXPECT_STR(json_path_str(run, "kind"), "backup");
    double id = json_path_num(run, "id");
    cJSON_Delete(run);
    cli_free(&o);
    TEST_ASSERT(id > 0);
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%.0f?wait=60", id);
    TEST_EXPECT(admin("GET", path, NULL, 200));
    cli(&o, NULL, "--version", NULL);
    TEST_EXPECT_INT(o.code, 0);
    TEST_EXPECT(has(o.out, "qbackup "));
    cli_free(&o);
}

static void test_not_found_and_auth(void)
{
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "run", "nope", "--wait", NULL);
    TEST_EXPECT_INT(o.code, 3);
    TEST_EXPECT(has(o.err, "code not_found"));
    TEST_EXPECT(has(o.err, "request id "));
    cli_free(&o);
    /* --json: the problem document on stdout for scripts. */
    cli(&o, OPERATOR_TOKEN, "--json", "run", "nope", NULL);
    TEST_EXPECT_INT(o.code, 3);
    cJSON *p = cJSON_Parse(o.out);
    TEST_EXPECT_STR(json_path_str(p, "code"), "not_found");
    cJSON_Delete(p);
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "restore", "nope", "products", NULL);
    TEST_EXPECT_INT(o.code, 3);
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "destinations", "check", "nowhere", NULL);
    TEST_EXPECT_INT(o.code, 3);
    cli_free(&o);

    cli(&o, "wrong-token-0123456789", "plans", NULL);
    TEST_EXPECT_INT(o.code, 4);
    TEST_EXPECT(has(o.err, "code unauthenticated"));
    TEST_EXPECT(!has(o.err, "wrong-token")); /* never echoed */
    cli_free(&o);
    cli(&o, NULL, "status", NULL);
    TEST_EXPECT_INT(o.code, 4);
    cli_free(&o);
    cli(&o, VIEWER_TOKEN, "run", "prod", NULL);
    TEST_EXPECT_INT(o.code, 4);
    TEST_EXPECT(has(o.err, "code forbidden"));
    cli_free(&o);
    /* A flag wins over the environment. */
    cli(&o, "wrong-token-0123456789", "--token", VIEWER_TOKEN, "plans", NULL);
    TEST_EXPECT_INT(o.code, 0);
    cli_free(&o);
}

static void test_refused_restore_names_the_field(void)
{
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "restore", "prod", "products", "--wait", NULL);
    TEST_EXPECT_INT(o.code, 6);
    TEST_EXPECT(has(o.err, "code conflict, field overwrite"));
    TEST_EXPECT(has(o.err, "\"overwrite\": true"));
    cli_free(&o);
}

static void test_failed_run_and_status(void)
{
    TEST_ASSERT(admin("POST", "/v1/plans",
                      "{\"name\":\"broken\",\"collections\":[\"missing\"],"
                      "\"allow_missing_collections\":true}",
                      201));
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "run", "broken", "--wait", NULL);
    TEST_EXPECT_INT(o.code, 1);
    TEST_EXPECT(has(o.err, "code run_failed"));
    TEST_EXPECT(has(o.out, ": failed (backup, plan broken)"));
    TEST_EXPECT(has(o.out, "missing"));
    cli_free(&o);
    cli(&o, VIEWER_TOKEN, "status", NULL);
    TEST_EXPECT_INT(o.code, 1);
    TEST_EXPECT(has(o.out, "status: failing"));
    cli_free(&o);
    TEST_EXPECT(admin("DELETE", "/v1/plans/broken", NULL, 204));
}

static void test_wait_runs_out(void)
{
    TEST_ASSERT(emu_fault(&prod, "{\"kind\":\"delay\",\"delay_ms\":3000,\"method\":\"POST\","
                                 "\"path_prefix\":\"/collections/products/snapshots\"}") == 0);
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "run", "prod", "--wait=1", NULL);
    TEST_EXPECT_INT(o.code, 7);
    TEST_EXPECT(has(o.err, "code wait_expired"));
    long run = run_id_of(o.out);
    cli_free(&o);
    TEST_ASSERT(run > 0);
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%ld?wait=60", run);
    TEST_EXPECT(admin("GET", path, NULL, 200)); /* the run went on and succeeded */
    TEST_EXPECT(emu_clear_faults(&prod) == 0);
}

static void test_failed_verification(void)
{
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/snapshots?plan=prod&limit=1", NULL, NULL, &r) == 0);
    const char *location = json_path_str(r.json, "items.0.location");
    char id[32];
    snprintf(id, sizeof id, "%.0f", json_path_num(r.json, "items.0.id"));
    int fd = location ? open(location, O_WRONLY) : -1;
    resp_free(&r);
    TEST_ASSERT(fd >= 0);
    TEST_EXPECT(pwrite(fd, "XXXX", 4, 600) == 4);
    close(fd);
    struct cli_out o;
    cli(&o, OPERATOR_TOKEN, "verify", id, NULL);
    TEST_EXPECT_INT(o.code, 1);
    TEST_EXPECT(has(o.err, "failed verification"));
    TEST_EXPECT(has(o.err, "code conflict"));
    cli_free(&o);
    cli(&o, OPERATOR_TOKEN, "verify", "999999", NULL);
    TEST_EXPECT_INT(o.code, 3);
    cli_free(&o);
}

static void test_unreachable(void)
{
    struct cli_out o;
    cli(&o, VIEWER_TOKEN, "--url", "http://127.0.0.1:1", "status", NULL);
    TEST_EXPECT_INT(o.code, 5);
    TEST_EXPECT(has(o.err, "cannot reach qbackupd at http://127.0.0.1:1"));
    cli_free(&o);
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0)
        return 1;
    if (emu_create_collection(&prod, "products", 4) || emu_upsert(&prod, "products", 25, 1))
        return 1;
    original = emu_points(&prod, "products");
    const char *const args[] = {"--qdrant-url", prod.url, NULL};
    const char *const env[] = {"QBACKUP_TOKENS=dash:viewer:" VIEWER_TOKEN
                               ",ci:operator:" OPERATOR_TOKEN ",root:admin:" ADMIN_TOKEN,
                               NULL};
    if (!original || qbd_start(&d, args, env) != 0)
        return 1;
    snprintf(d.token, sizeof d.token, "%s", ADMIN_TOKEN);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", d.port);
    TEST_RUN(test_help_and_usage);
    TEST_RUN(test_seed_scenario);
    TEST_RUN(test_labelled_one_off_run);
    TEST_RUN(test_run_without_wait);
    TEST_RUN(test_not_found_and_auth);
    TEST_RUN(test_refused_restore_names_the_field);
    TEST_RUN(test_failed_run_and_status);
    TEST_RUN(test_wait_runs_out);
    TEST_RUN(test_failed_verification);
    TEST_RUN(test_unreachable);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    /* The daemon is down: the same URL is now unreachable. */
    struct cli_out o;
    cli(&o, VIEWER_TOKEN, "plans", NULL);
    TEST_EXPECT_INT(o.code, 5);
    cli_free(&o);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&prod), 0);
    emu_cleanup(&prod);
    free(original);
    return TEST_RESULT();
}
