/* SPDX-License-Identifier: Apache-2.0
 *
 * emu_harness.c -- process control and HTTP helpers for tests that run
 * against the Qdrant emulator (qdrant-emu).
 */
#include "emu_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p)
        abort();
    memcpy(p, s, n);
    return p;
}

void emu_print_log(const struct emu *e)
{
    harness_print_file(e->log_path, "qdrant-emu log");
}

struct listen_wait {
    struct emu *e;
    bool exited;
};

/* True once the emulator printed its address (or died). */
static bool listening(void *ctx)
{
    struct listen_wait *w = ctx;
    int status;
    if (waitpid(w->e->pid, &status, WNOHANG) == w->e->pid) {
        w->exited = true;
        w->e->pid = 0;
        return true;
    }
    FILE *f = fopen(w->e->log_path, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "listening on 127.0.0.1:");
        if (p) {
            w->e->port = (int)strtol(p + strlen("listening on 127.0.0.1:"), NULL, 10);
            found = w->e->port > 0;
        }
    }
    fclose(f);
    return found;
}

int emu_start(struct emu *e, const char *const *extra_args)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/qbackup-emu-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    snprintf(e->data_dir, sizeof e->data_dir, "%s/data", e->dir);
    snprintf(e->log_path, sizeof e->log_path, "%s/emu.log", e->dir);
    size_t a = 0;
    const char *base[] = {"qdrant-emu", "--port", "0", "--data-dir", e->data_dir};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        e->args[a++] = dupstr(base[i]);
    for (size_t i = 0; extra_args && extra_args[i] && a + 1 < EMU_MAX_ARGS; i++) {
        e->args[a++] = dupstr(extra_args[i]);
        if (strcmp(extra_args[i], "--api-key") == 0 && extra_args[i + 1])
            snprintf(e->api_key, sizeof e->api_key, "%s", extra_args[i + 1]);
    }
    e->args[a] = NULL;

    pid_t parent = getpid();
    e->pid = fork();
    if (e->pid == 0) {
        /* A test stopped by a failed TEST_ASSERT skips emu_stop: the
         * emulator must not outlive it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(126);
        int fd = open(e->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(QB_EMU_PATH, e->args);
        _exit(127);
    }
    if (e->pid < 0) {
        e->pid = 0;
        return -1;
    }
    struct listen_wait w = {.e = e};
    if (!harness_wait_until(listening, &w, 30000) || w.exited) {
        fprintf(stderr, "qdrant-emu did not start%s\n", w.exited ? " (it exited)" : "");
        emu_print_log(e);
        if (e->pid > 0)
            emu_stop(e);
        return -1;
    }
    snprintf(e->url, sizeof e->url, "http://127.0.0.1:%d", e->port);
    return 0;
}

int emu_stop(struct emu *e)
{
    if (e->pid <= 0)
        return -1;
    int rc = harness_terminate(e->pid, 60000, "qdrant-emu");
    e->pid = 0;
    if (rc != 0)
        emu_print_log(e);
    return rc;
}

void emu_cleanup(struct emu *e)
{
    if (e->pid > 0)
        emu_stop(e);
    if (e->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", e->dir);
        e->dir[0] = '\0';
    }
    for (size_t i = 0; i < EMU_MAX_ARGS && e->args[i]; i++) {
        free(e->args[i]);
        e->args[i] = NULL;
    }
}

int emu_request(struct emu *e, const char *method, const char *path, const char *body,
                struct resp *r)
{
    char key[200];
    const char *headers[2] = {NULL, NULL};
    if (e->api_key[0]) {
        snprintf(key, sizeof key, "api-key: %s", e->api_key);
        headers[0] = key;
    }
    char url[1200];
    snprintf(url, sizeof url, "%s%s", e->url, path);
    return harness_http(method, url, body, headers, 120, r);
}

char *emu_esc(const char *s)
{
    CURL *c = curl_easy_init();
    char *t = curl_easy_escape(c, s, 0);
    char *out = dupstr(t ? t : "");
    curl_free(t);
    curl_easy_cleanup(c);
    return out;
}

/* One request that must answer 200; prints the answer otherwise. */
static int expect_200(struct emu *e, const char *method, const char *path, const char *body,
                      struct resp *r)
{
    if (emu_request(e, method, path, body, r) == 0 && r->status == 200)
        return 0;
    fprintf(stderr, "emulator %s %s answered %ld: %s\n", method, path, r->status,
            r->body ? r->body : "");
    return -1;
}

static int simple(struct emu *e, const char *method, const char *path, const char *body)
{
    struct resp r;
    int rc = expect_200(e, method, path, body, &r);
    resp_free(&r);
    return rc;
}

int emu_create_collection(struct emu *e, const char *name, int dim)
{
    char *n = emu_esc(name);
    char path[600], body[128];
    snprintf(path, sizeof path, "/collections/%s", n);
    snprintf(body, sizeof body, "{\"vectors\":{\"size\":%d,\"distance\":\"Dot\"}}", dim);
    free(n);
    return simple(e, "PUT", path, body);
}

int emu_upsert(struct emu *e, const char *name, int n, int seed)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *points = cJSON_AddArrayToObject(doc, "points");
    unsigned x = (unsigned)seed * 2654435761u + 1u;
    for (int i = 1; i <= n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "id", i);
        cJSON *v = cJSON_AddArrayToObject(p, "vector");
        for (int k = 0; k < 4; k++) {
            x = x * 1103515245u + 12345u;
            cJSON_AddItemToArray(v, cJSON_CreateNumber((double)(x % 1000) / 1000.0));
        }
        cJSON *payload = cJSON_AddObjectToObject(p, "payload");
        cJSON_AddNumberToObject(payload, "i", i);
        cJSON_AddNumberToObject(payload, "seed", seed);
        cJSON_AddItemToArray(points, p);
    }
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/collections/%s/points?wait=true", en);
    free(en);
    int rc = simple(e, "PUT", path, body);
    free(body);
    return rc;
}

char *emu_points(struct emu *e, const char *name)
{
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/collections/%s/points/scroll", en);
    free(en);
    cJSON *all = cJSON_CreateArray();
    cJSON *offset = NULL;
    int rc = 0;
    for (;;) {
        cJSON *q = cJSON_CreateObject();
        cJSON_AddNumberToObject(q, "limit", 100);
        cJSON_AddTrueToObject(q, "with_payload");
        cJSON_AddTrueToObject(q, "with_vector");
        if (offset)
            cJSON_AddItemToObject(q, "offset", offset);
        char *body = cJSON_PrintUnformatted(q);
        cJSON_Delete(q);
        struct resp r;
        rc = expect_200(e, "POST", path, body, &r);
        free(body);
        const cJSON *points = json_path(r.json, "result.points");
        const cJSON *next = json_path(r.json, "result.next_page_offset");
        const cJSON *p;
        cJSON_ArrayForEach(p, points)
        {
            cJSON_AddItemToArray(all, cJSON_Duplicate(p, true));
        }
        offset = next && !cJSON_IsNull(next) ? cJSON_Duplicate(next, true) : NULL;
        resp_free(&r);
        if (rc || !offset)
            break;
    }
    cJSON_Delete(offset);
    char *out = rc ? NULL : cJSON_PrintUnformatted(all);
    cJSON_Delete(all);
    return out;
}

int emu_fill(struct emu *e, const char *name, unsigned mb)
{
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/debug/fill/%s?mb=%u", en, mb);
    free(en);
    return simple(e, "POST", path, NULL);
}

int emu_fault(struct emu *e, const char *rule_json)
{
    return simple(e, "POST", "/debug/faults", rule_json);
}

int emu_clear_faults(struct emu *e)
{
    return simple(e, "DELETE", "/debug/faults", NULL);
}

cJSON *emu_requests(struct emu *e)
{
    struct resp r;
    cJSON *out = NULL;
    if (expect_200(e, "GET", "/debug/requests", NULL, &r) == 0) {
        cJSON *res = cJSON_GetObjectItemCaseSensitive(r.json, "result");
        out = cJSON_DetachItemFromObjectCaseSensitive(res, "requests");
    }
    resp_free(&r);
    return out;
}

int emu_clear_requests(struct emu *e)
{
    return simple(e, "DELETE", "/debug/requests", NULL);
}
