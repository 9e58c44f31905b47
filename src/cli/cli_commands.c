/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_commands.c -- each command of `qbackup` as one function over the REST
 * API (api/openapi.yaml), and the one mapping from an HTTP answer to an
 * exit code, so every command reports "not found", "auth", "failed" the
 * same way.  Read commands print a table (or the API's JSON with --json);
 * commands that start work print the run and, with --wait, exit by its
 * outcome: the server holds the request (?wait=) and answers 200, 424
 * run_failed or 504 wait_expired.
 */
#include "cli/cli_commands.h"
#include "cli/cli_args.h"
#include "cli/cli_http.h"
#include "cli/cli_output.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* How long the server may hold a request before answering, beyond any
 * ?wait=: verify up to 300 s (api/openapi.yaml), a destination check and a
 * restore's pre-check up to 60 s each (src/api/api_destinations.c,
 * src/api/api_restores.c).  The client waits that long plus --timeout. */
#define CLI_VERIFY_WAIT_S   300
#define CLI_CHECK_WAIT_S    60
#define CLI_PRECHECK_WAIT_S 60

/* ------------------------------------------------------------ transport */

/* Sends one request with the command's timeout (a long poll adds its wait).
 * Returns -1 when an answer arrived (r filled), else prints why on stderr
 * and returns the exit code. */
static int send_req(const struct cli_ctx *c, const char *method, const char *path, const char *body,
                    const char *key, long wait_s, struct cli_reply *r)
{
    char err[QB_ERRBUF_SIZE];
    long timeout = c->args->timeout_s + wait_s;
    enum qb_err rc = cli_http_call(c->http, method, path, body, key, timeout, r, err, sizeof err);
    if (rc == QB_OK)
        return -1;
    fprintf(stderr, "qbackup: %s\n", err);
    return rc == QB_ERR_TRANSIENT ? CLI_EXIT_UNREACHABLE : CLI_EXIT_REJECTED;
}

/* The exit code of an error answer (status >= 400). */
static int exit_for(const struct cli_reply *r)
{
    const char *code = cli_str(r->json, "code");
    if (r->status == 401 || r->status == 403)
        return CLI_EXIT_AUTH;
    if (r->status == 404)
        return CLI_EXIT_NOT_FOUND;
    if (r->status == 424)
        return CLI_EXIT_FAILED;
    if (r->status == 504 && code && strcmp(code, "wait_expired") == 0)
        return CLI_EXIT_PENDING;
    return CLI_EXIT_REJECTED;
}

/* Reports an error answer: the problem on stderr, and with --json the
 * document itself on stdout for scripts.  Returns the exit code. */
static int report_error(const struct cli_ctx *c, const struct cli_reply *r)
{
    cli_print_problem(r, stderr);
    if (c->args->json && r->json)
        cli_print_json(r->json, stdout);
    return exit_for(r);
}

/* GET path; on 200 prints it with show (or as JSON with --json).  The exit
 * code is verdict(json) when given, else CLI_EXIT_OK. */
static int get_and_show(const struct cli_ctx *c, const char *path, void (*show)(const cJSON *json),
                        int (*verdict)(const cJSON *json))
{
    struct cli_reply r;
    int ex = send_req(c, "GET", path, NULL, NULL, 0, &r);
    if (ex >= 0)
        return ex;
    if (r.status != 200 || !r.json) {
        ex = report_error(c, &r);
    } else {
        if (c->args->json)
            cli_print_json(r.json, stdout);
        else
            show(r.json);
        ex = verdict ? verdict(r.json) : CLI_EXIT_OK;
    }
    cli_reply_free(&r);
    return ex;
}

/* Appends "&name=escaped(value)" (or '?' first) when value is set. */
static void add_query(struct buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    char *e = cli_http_escape(value);
    bool ok = buf_printf(b, "%s%s=%s", strchr(b->data, '?') ? "&" : "?", name, e);
    free(e);
    if (!ok)
        abort(); /* the buffer's cap is far above any command line */
}

static const cJSON *items_of(const cJSON *json)
{
    return cJSON_GetObjectItemCaseSensitive(json, "items");
}

/* -------------------------------------------------------------- lists */

static void show_plans(const cJSON *json)
{
    static const struct cli_col cols[] = {{"NAME", "name", CLI_COL_PLAIN},
                                          {"INSTANCE", "instance", CLI_COL_PLAIN},
                                          {"DESTINATION", "destination", CLI_COL_PLAIN},
                                          {"SCHEDULE", "schedule", CLI_COL_PLAIN},
                                          {"ENABLED", "enabled", CLI_COL_PLAIN},
                                          {"NEXT RUN", "next_run_at", CLI_COL_PLAIN}};
    cli_print_objects(items_of(json), cols, (int)QB_ARRAY_LEN(cols), stdout);
}

static void show_instances(const cJSON *json)
{
    static const struct cli_col cols[] = {{"NAME", "name", CLI_COL_PLAIN},
                                          {"URL", "url", CLI_COL_PLAIN},
                                          {"MANAGED BY", "managed_by", CLI_COL_PLAIN},
                                          {"MAX CONCURRENT", "max_concurrent", CLI_COL_PLAIN},
                                          {"TIMEOUT S", "timeout_s", CLI_COL_PLAIN}};
    cli_print_objects(items_of(json), cols, (int)QB_ARRAY_LEN(cols), stdout);
}

static void show_runs(const cJSON *json)
{
    static const struct cli_col cols[] = {{"ID", "id", CLI_COL_PLAIN},
                                          {"KIND", "kind", CLI_COL_PLAIN},
                                          {"PLAN", "plan", CLI_COL_PLAIN},
                                          {"STATE", "state", CLI_COL_PLAIN},
                                          {"QUEUED", "queued_at", CLI_COL_PLAIN},
                                          {"DURATION", "duration_s", CLI_COL_AGE},
                                          {"TRIGGER", "trigger", CLI_COL_PLAIN},
                                          {"ERROR", "error", CLI_COL_PLAIN}};
    cli_print_objects(items_of(json), cols, (int)QB_ARRAY_LEN(cols), stdout);
}

static void show_snapshots(const cJSON *json)
{
    static const struct cli_col cols[] = {{"ID", "id", CLI_COL_PLAIN},
                                          {"PLAN", "plan", CLI_COL_PLAIN},
                                          {"INSTANCE", "instance", CLI_COL_PLAIN},
                                          {"COLLECTION", "collection", CLI_COL_PLAIN},
                                          {"SIZE", "size", CLI_COL_BYTES},
                                          {"CREATED", "created_at", CLI_COL_PLAIN},
                                          {"VERIFIED", "verified_at", CLI_COL_SET},
                                          {"PINNED", "pinned", CLI_COL_PLAIN}};
    cli_print_objects(items_of(json), cols, (int)QB_ARRAY_LEN(cols), stdout);
}

static int list_cmd(const struct cli_ctx *c, const char *base, bool runs)
{
    const struct cli_args *a = c->args;
    struct buf path;
    buf_init(&path, 4096);
    if (!buf_appends(&path, base))
        abort();
    add_query(&path, "plan", a->plan);
    if (runs) {
        add_query(&path, "state", a->state);
        add_query(&path, "kind", a->kind);
    }
    char limit[24];
    snprintf(limit, sizeof limit, "%ld", a->limit);
    add_query(&path, "limit", a->limit > 0 ? limit : NULL);
    int ex = get_and_show(c, path.data, runs ? show_runs : show_snapshots, NULL);
    buf_free(&path);
    return ex;
}

static int cmd_plans(const struct cli_ctx *c, const char *const *argv)
{
    (void)argv;
    return get_and_show(c, "/v1/plans", show_plans, NULL);
}

static int cmd_instances(const struct cli_ctx *c, const char *const *argv)
{
    (void)argv;
    return get_and_show(c, "/v1/instances", show_instances, NULL);
}

static int cmd_runs(const struct cli_ctx *c, const char *const *argv)
{
    (void)argv;
    return list_cmd(c, "/v1/runs", true);
}

static int cmd_snapshots(const struct cli_ctx *c, const char *const *argv)
{
    (void)argv;
    return list_cmd(c, "/v1/snapshots", false);
}

/* -------------------------------------------------------------- status */

static void show_status_plans(const cJSON *plans)
{
    static const char *const h[] = {"PLAN",        "ENABLED", "LAST RUN", "LAST SUCCESS",
                                    "SUCCESS AGE", "STALE",   "NEXT RUN"};
    struct cli_table *t = cli_table_create(7, h);
    const cJSON *p;
    cJSON_ArrayForEach(p, plans)
    {
        char cell[7][256];
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(p, "last_run");
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(p, "last_success");
        const cJSON *age = cJSON_GetObjectItemCaseSensitive(ok, "age_s");
        char lastrun[256] = "-";
        if (cJSON_IsObject(last))
            snprintf(lastrun, sizeof lastrun, "%s (run %s)", cli_cell(last, "state", cell[2], 256),
                     cli_cell(last, "id", cell[6], 256));
        const char *row[] = {cli_cell(p, "plan", cell[0], 256),
                             cli_cell(p, "enabled", cell[1], 256),
                             lastrun,
                             cli_cell(ok, "finished_at", cell[3], 256),
                             cJSON_IsNumber(age) ? cli_fmt_age(age->valuedouble, cell[4], 256)
                                                 : "-",
                             cli_cell(p, "stale", cell[5], 256),
                             cli_cell(p, "next_run_at", cell[6], 256)};
        cli_table_add(t, row);
    }
    cli_table_print(t, stdout);
    cli_table_destroy(t);
}

static void show_status_reach(const cJSON *list, const char *what, const char *flag,
                              const char *field)
{
    if (cJSON_GetArraySize(list) == 0)
        return;
    const struct cli_col cols[] = {{what, "name", CLI_COL_PLAIN},
                                   {flag, field, CLI_COL_PLAIN},
                                   {"DETAIL", "detail", CLI_COL_PLAIN}};
    printf("\n");
    cli_print_objects(list, cols, (int)QB_ARRAY_LEN(cols), stdout);
}

static void show_status(const cJSON *json)
{
    char n1[32], n2[32], st[32];
    printf("status: %s (stale plans: %s, failing plans: %s)\n\n",
           cli_cell(json, "status", st, sizeof st), cli_cell(json, "stale_plans", n1, sizeof n1),
           cli_cell(json, "failing_plans", n2, sizeof n2));
    show_status_plans(cJSON_GetObjectItemCaseSensitive(json, "plans"));
    show_status_reach(cJSON_GetObjectItemCaseSensitive(json, "instances"), "INSTANCE", "REACHABLE",
                      "reachable");
    show_status_reach(cJSON_GetObjectItemCaseSensitive(json, "destinations"), "DESTINATION",
                      "WRITABLE", "writable");
}

/* Exit 0 only when the overall status is "ok", so a cron job or a CI gate
 * can use `qbackup status` as a check. */
static int status_verdict(const cJSON *json)
{
    const char *status = cli_str(json, "status");
    return status && strcmp(status, "ok") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static int cmd_status(const struct cli_ctx *c, const char *const *argv)
{
    (void)argv;
    return get_and_show(c, "/v1/status", show_status, status_verdict);
}

/* ---------------------------------------------------------------- runs */

static void show_run_results(const cJSON *run, bool restore)
{
    static const struct cli_col backup_cols[] = {{"COLLECTION", "collection", CLI_COL_PLAIN},
                                                 {"STATE", "state", CLI_COL_PLAIN},
                                                 {"SNAPSHOT", "snapshot_id", CLI_COL_PLAIN},
                                                 {"SIZE", "size", CLI_COL_BYTES},
                                                 {"ERROR", "error", CLI_COL_PLAIN}};
    static const struct cli_col restore_cols[] = {
        {"SNAPSHOT", "snapshot_id", CLI_COL_PLAIN},
        {"TARGET", "target_instance", CLI_COL_PLAIN},
        {"COLLECTION", "target_collection", CLI_COL_PLAIN},
        {"STATE", "state", CLI_COL_PLAIN},
        {"SAFETY SNAPSHOT", "safety_snapshot_id", CLI_COL_PLAIN},
        {"ERROR", "error", CLI_COL_PLAIN}};
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(run, "results");
    if (restore)
        cli_print_objects(results, restore_cols, (int)QB_ARRAY_LEN(restore_cols), stdout);
    else
        cli_print_objects(results, backup_cols, (int)QB_ARRAY_LEN(backup_cols), stdout);
}

/* "run 12: succeeded (backup, plan prod)" and the results. */
static void show_run(const cJSON *run)
{
    char id[32], state[32], kind[32], plan[256];
    cli_cell(run, "kind", kind, sizeof kind);
    printf("run %s: %s (%s, plan %s)\n", cli_cell(run, "id", id, sizeof id),
           cli_cell(run, "state", state, sizeof state), kind,
           cli_cell(run, "plan", plan, sizeof plan));
    const char *error = cli_str(run, "error");
    if (error)
        printf("error: %s\n", error);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(run, "results")) > 0)
        show_run_results(run, strcmp(kind, "restore") == 0);
}

/* The answer of a trigger (run or restore): 202 queued, 200 done (or a
 * replay without wait), 424/504 with the run inside the problem. */
static int report_run(const struct cli_ctx *c, const struct cli_reply *r)
{
    if (r->replayed)
        fprintf(stderr, "qbackup: Idempotency-Key seen before: this is the earlier run\n");
    const cJSON *run = r->status < 300 ? r->json : cJSON_GetObjectItemCaseSensitive(r->json, "run");
    if (r->status >= 300) {
        int ex = report_error(c, r);
        if (run && !c->args->json)
            show_run(run);
        return ex;
    }
    if (!run)
        return report_error(c, r);
    if (c->args->json)
        cli_print_json(run, stdout);
    else
        show_run(run);
    /* Without --wait a 200 is a replay of a run in any state: the outcome
     * is not known here, as for 202. */
    const char *state = cli_str(run, "state");
    if (!c->args->wait || !state || strcmp(state, "succeeded") == 0)
        return CLI_EXIT_OK;
    return CLI_EXIT_FAILED;
}

/* POSTs a trigger (a run or a restore) to path, with ?wait= when --wait
 * asks for it, and reports the run it answers with.  The server may hold
 * the request hold_s seconds beyond the wait. */
static int post_run(const struct cli_ctx *c, const char *path, const char *body, long hold_s)
{
    const struct cli_args *a = c->args;
    char *url = a->wait ? xasprintf("%s?wait=%ld", path, a->wait_s) : xstrdup(path);
    struct cli_reply r;
    int ex = send_req(c, "POST", url, body, a->key, hold_s + (a->wait ? a->wait_s : 0), &r);
    if (ex < 0) {
        ex = report_run(c, &r);
        cli_reply_free(&r);
    }
    free(url);
    return ex;
}

/* The body of a one-off run: --label K=V[,K=V...], --keep-until, --pin
 * (POST /v1/plans/{name}/runs); NULL without them.  qbackupd checks the
 * values; a label without "=" is a usage error here.  Caller frees. */
static char *run_body(const struct cli_args *a, bool *bad)
{
    *bad = false;
    if (!a->label && !a->keep_until && !a->pin)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (a->label) {
        cJSON *labels = cJSON_AddObjectToObject(o, "labels");
        char *copy = xstrdup(a->label), *next = NULL;
        for (char *kv = copy; kv && !*bad; kv = next) {
            next = strchr(kv, ',');
            if (next)
                *next++ = '\0';
            char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "qbackup: --label: expected KEY=VALUE[,KEY=VALUE...], got \"%s\"\n",
                        kv);
                *bad = true;
                continue;
            }
            *eq = '\0';
            cJSON_DeleteItemFromObjectCaseSensitive(labels, kv);
            cJSON_AddStringToObject(labels, kv, eq + 1);
        }
        free(copy);
    }
    if (a->keep_until)
        cJSON_AddStringToObject(o, "keep_until", a->keep_until);
    if (a->pin)
        cJSON_AddTrueToObject(o, "pinned");
    char *text = *bad ? NULL : cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int cmd_run(const struct cli_ctx *c, const char *const *argv)
{
    bool bad = false;
    char *body = run_body(c->args, &bad);
    if (bad)
        return CLI_EXIT_USAGE;
    char *plan = cli_http_escape(argv[0]);
    char *path = xasprintf("/v1/plans/%s/runs", plan);
    int ex = post_run(c, path, body, 0);
    free(body);
    free(path);
    free(plan);
    return ex;
}

/* The restore request body from the command line; caller frees. */
static char *restore_body(const struct cli_args *a, const char *plan, const char *collection)
{
    cJSON *b = cJSON_CreateObject();
    const char *snap = a->snapshot ? a->snapshot : "latest";
    char *end;
    long long id = strtoll(snap, &end, 10);
    if (strcmp(snap, "latest") != 0 && *snap && !*end && id > 0) {
        cJSON_AddNumberToObject(b, "snapshot_id", (double)id);
    } else {
        /* Anything else goes as sent: the server names the bad field. */
        cJSON_AddStringToObject(b, "plan", plan);
        cJSON_AddStringToObject(b, "collection", collection);
        cJSON_AddStringToObject(b, "snapshot", snap);
    }
    if (a->to)
        cJSON_AddStringToObject(b, "target_instance", a->to);
    /* A restore by snapshot id defaults to the snapshot's collection name;
     * the COLLECTION word then names the target unless --as does. */
    const char *as = a->as ? a->as : (cJSON_HasObjectItem(b, "snapshot_id") ? collection : NULL);
    if (as)
        cJSON_AddStringToObject(b, "target_collection", as);
    if (a->overwrite)
        cJSON_AddBoolToObject(b, "overwrite", true);
    char *s = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!s)
        abort();
    return s;
}

static int cmd_restore(const struct cli_ctx *c, const char *const *argv)
{
    char *body = restore_body(c->args, argv[0], argv[1]);
    int ex = post_run(c, "/v1/restores", body, CLI_PRECHECK_WAIT_S);
    cJSON_free(body);
    return ex;
}

/* ---------------------------------------------------- verify and check */

static int cmd_verify(const struct cli_ctx *c, const char *const *argv)
{
    char *id = cli_http_escape(argv[0]);
    char *path = xasprintf("/v1/snapshots/%s/verify", id);
    struct cli_reply r;
    int ex = send_req(c, "POST", path, NULL, NULL, CLI_VERIFY_WAIT_S, &r);
    if (ex >= 0)
        goto out;
    if (r.status == 200 && r.json) {
        char sha[80], size[64];
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(r.json, "size");
        if (c->args->json)
            cli_print_json(r.json, stdout);
        else
            printf("snapshot %s verified: sha256 %s, %s\n", argv[0],
                   cli_cell(r.json, "sha256", sha, sizeof sha),
                   cli_fmt_bytes(cJSON_IsNumber(sz) ? sz->valuedouble : 0, size, sizeof size));
        ex = CLI_EXIT_OK;
    } else if (r.status == 202) {
        fprintf(stderr, "qbackup: verification still running; read the snapshot later "
                        "(qbackup snapshots) for its result\n");
        ex = CLI_EXIT_PENDING;
    } else {
        ex = report_error(c, &r);
        /* 409: the object is not the catalogued one; 502: it could not be
         * read.  Both are recorded on the snapshot as a failure. */
        if (r.status == 409 || r.status == 502)
            ex = CLI_EXIT_FAILED;
    }
    cli_reply_free(&r);
out:
    free(path);
    free(id);
    return ex;
}

static int cmd_destinations_check(const struct cli_ctx *c, const char *const *argv)
{
    char *name = cli_http_escape(argv[0]);
    char *path = xasprintf("/v1/destinations/%s/check", name);
    struct cli_reply r;
    int ex = send_req(c, "POST", path, NULL, NULL, CLI_CHECK_WAIT_S, &r);
    if (ex >= 0)
        goto out;
    if (r.status == 200 && r.json) {
        char w[32], rd[32], d[32];
        if (c->args->json)
            cli_print_json(r.json, stdout);
        else
            printf("destination %s: ok (write %s ms, read %s ms, delete %s ms)\n", argv[0],
                   cli_cell(r.json, "write_ms", w, sizeof w),
                   cli_cell(r.json, "read_ms", rd, sizeof rd),
                   cli_cell(r.json, "delete_ms", d, sizeof d));
        ex = CLI_EXIT_OK;
    } else {
        ex = report_error(c, &r);
        /* 502/503: the destination did not pass the check. */
        if (r.status == 502 || r.status == 503)
            ex = CLI_EXIT_FAILED;
    }
    cli_reply_free(&r);
out:
    free(path);
    free(name);
    return ex;
}

/* ------------------------------------------------------------ dispatch */

struct cli_command {
    const char *word;
    const char *sub; /* second word, or NULL */
    int nargs;       /* arguments after the words */
    int (*fn)(const struct cli_ctx *c, const char *const *argv);
    const char *synopsis;
};

static const struct cli_command commands[] = {
    {"status", NULL, 0, cmd_status, "status"},
    {"plans", NULL, 0, cmd_plans, "plans"},
    {"run", NULL, 1, cmd_run,
     "run PLAN [--wait[=SECONDS]] [--key KEY] [--label K=V,...] [--keep-until TIME] [--pin]"},
    {"runs", NULL, 0, cmd_runs, "runs [--plan P] [--state S] [--kind backup|restore] [--limit N]"},
    {"snapshots", NULL, 0, cmd_snapshots, "snapshots [--plan P] [--limit N]"},
    {"verify", NULL, 1, cmd_verify, "verify SNAPSHOT_ID"},
    {"restore", NULL, 2, cmd_restore,
     "restore PLAN COLLECTION [--snapshot ID|latest] [--to INSTANCE] [--as NAME]\n"
     "          [--overwrite] [--wait[=SECONDS]] [--key KEY]"},
    {"instances", NULL, 0, cmd_instances, "instances"},
    {"destinations", "check", 1, cmd_destinations_check, "destinations check NAME"},
};

void cli_commands_synopsis(FILE *f)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(commands); i++)
        fprintf(f, "  qbackup %s\n", commands[i].synopsis);
}

int cli_commands_run(const struct cli_ctx *c)
{
    const struct cli_args *a = c->args;
    for (size_t i = 0; i < QB_ARRAY_LEN(commands); i++) {
        const struct cli_command *cmd = &commands[i];
        if (strcmp(a->pos[0], cmd->word) != 0)
            continue;
        int words = cmd->sub ? 2 : 1;
        if (cmd->sub && (a->npos < 2 || strcmp(a->pos[1], cmd->sub) != 0))
            continue;
        if (a->npos - words != cmd->nargs) {
            fprintf(stderr, "qbackup: usage: qbackup %s\n", cmd->synopsis);
            return CLI_EXIT_USAGE;
        }
        return cmd->fn(c, a->pos + words);
    }
    fprintf(stderr, "qbackup: unknown command \"%s\" (qbackup --help lists them)\n", a->pos[0]);
    return CLI_EXIT_USAGE;
}
