/* SPDX-License-Identifier: Apache-2.0
 *
 * fault_matrix.c -- the truth checks of the fault matrix (fault_matrix.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fault_matrix.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

void fm_keys_add(struct fm_keys *k, const char *key)
{
    k->v = xrealloc(k->v, (k->n + 1) * sizeof *k->v);
    k->v[k->n++] = xstrdup(key);
}

void fm_keys_free(struct fm_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

/* nftw has no user pointer: the walk in progress. */
static struct {
    struct fm_keys *out;
    size_t rootlen;
} walk;

static int walk_fn(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (type == FTW_F || type == FTW_SL)
        fm_keys_add(walk.out, path + walk.rootlen + 1);
    return 0;
}

bool fm_keys_local(const char *root, const char *plan, struct fm_keys *out)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, plan);
    walk.out = out;
    walk.rootlen = strlen(root);
    if (access(dir, F_OK) != 0)
        return true; /* nothing was ever stored for this plan */
    return nftw(dir, walk_fn, 16, FTW_PHYS) == 0;
}

bool fm_call(struct qbd *d, const char *method, const char *path, const char *body, long want)
{
    struct resp r;
    bool ok = qbd_request(d, method, path, body, NULL, &r) == 0 && r.status == want;
    if (!ok)
        fprintf(stderr, "%s %s -> %ld (want %ld): %.500s\n", method, path, r.status, want,
                r.body ? r.body : "");
    resp_free(&r);
    return ok;
}

long long fm_start_run(struct qbd *d, const char *plan)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/plans/%s/runs", plan);
    struct resp r;
    long long id = 0;
    if (qbd_request(d, "POST", path, NULL, NULL, &r) == 0 && r.status == 202)
        id = (long long)json_path_num(r.json, "id");
    else
        fprintf(stderr, "POST %s -> %ld: %.500s\n", path, r.status, r.body ? r.body : "");
    resp_free(&r);
    return id;
}

struct settle_wait {
    struct qbd *d;
    long long id;
    struct fm_run *out;
};

static bool run_settled(void *ctx)
{
    struct settle_wait *w = ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", w->id);
    struct resp r;
    bool done = false;
    if (qbd_request(w->d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200) {
        const char *state = json_path_str(r.json, "state");
        done = state && strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
        if (done) {
            struct fm_run *o = w->out;
            memset(o, 0, sizeof *o);
            o->id = w->id;
            snprintf(o->state, sizeof o->state, "%s", state);
            const char *e = json_path_str(r.json, "error");
            snprintf(o->error, sizeof o->error, "%s", e ? e : "");
            double sid = json_path_num(r.json, "results.0.snapshot_id");
            o->snapshot_id = sid > 0 ? sid : 0;
            const char *wn = json_path_str(r.json, "results.0.warning");
            snprintf(o->warning, sizeof o->warning, "%s", wn ? wn : "");
            const char *re = json_path_str(r.json, "results.0.retention_error");
            snprintf(o->retention_error, sizeof o->retention_error, "%s", re ? re : "");
        }
    }
    resp_free(&r);
    return done;
}

bool fm_wait_settled(struct qbd *d, long long id, int timeout_ms, struct fm_run *out)
{
    struct settle_wait w = {d, id, out};
    return harness_wait_until(run_settled, &w, timeout_ms);
}

struct request_wait {
    struct emu *e;
    const char *method, *prefix;
    bool answered; /* wait for every matching request's answer, not the first arrival */
};

static bool requests_reached(void *ctx)
{
    struct request_wait *w = ctx;
    cJSON *reqs = emu_requests(w->e);
    const cJSON *q;
    bool found = false, pending = false;
    cJSON_ArrayForEach(q, reqs)
    {
        const char *m = json_path_str(q, "method"), *p = json_path_str(q, "path");
        if (!m || !p || strcmp(m, w->method) != 0 || strncmp(p, w->prefix, strlen(w->prefix)))
            continue;
        found = true;
        if (json_path_num(q, "status") <= 0)
            pending = true;
    }
    cJSON_Delete(reqs);
    return reqs && (w->answered ? !pending : found);
}

bool fm_wait_request(struct emu *e, const char *method, const char *prefix, int timeout_ms)
{
    struct request_wait w = {e, method, prefix, false};
    return harness_wait_until(requests_reached, &w, timeout_ms);
}

bool fm_wait_answered(struct emu *e, const char *method, const char *prefix, int timeout_ms)
{
    struct request_wait w = {e, method, prefix, true};
    return harness_wait_until(requests_reached, &w, timeout_ms);
}

struct snap_wait {
    struct emu *e;
    const char *collection;
    int left;
};

static bool no_snapshot(void *ctx)
{
    struct snap_wait *w = ctx;
    char path[256];
    snprintf(path, sizeof path, "/collections/%s/snapshots", w->collection);
    struct resp r;
    w->left = -1;
    if (emu_request(w->e, "GET", path, NULL, &r) == 0 && r.status == 200)
        w->left = cJSON_GetArraySize(json_path(r.json, "result"));
    resp_free(&r);
    return w->left == 0;
}

bool fm_wait_no_qdrant_snapshot(struct emu *e, const char *collection, int timeout_ms)
{
    struct snap_wait w = {e, collection, -1};
    if (harness_wait_until(no_snapshot, &w, timeout_ms))
        return true;
    fprintf(stderr, "Qdrant still lists %d snapshot(s) of %s\n", w.left, collection);
    return false;
}

/* The destination key of a catalogued location ("<root>/<plan>/..." or
 * "s3://bucket/prefix/<plan>/..."): from "<plan>/" on. */
static const char *key_of(const char *location, const char *plan)
{
    char needle[256];
    snprintf(needle, sizeof needle, "/%s/", plan);
    const char *k = location ? strstr(location, needle) : NULL;
    return k ? k + 1 : NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* raw name belongs to catalogued key: the object, its manifest, or the
 * sidecar of either. */
static bool belongs(const char *raw, const char *key)
{
    size_t kl = strlen(key);
    if (strncmp(raw, key, kl) != 0)
        return false;
    const char *rest = raw + kl;
    return !strcmp(rest, "") || !strcmp(rest, ".sha256") || !strcmp(rest, ".manifest.json") ||
           !strcmp(rest, ".manifest.json.sha256");
}

/* Every catalogued snapshot of plan is stored in full and intact; fills
 * keys with their keys. */
static bool catalogue_in_storage(struct qbd *d, struct storage *st, const char *plan,
                                 struct fm_keys *keys)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/snapshots?plan=%s&limit=100", plan);
    struct resp r;
    if (qbd_request(d, "GET", path, NULL, NULL, &r) != 0 || r.status != 200) {
        fprintf(stderr, "GET %s -> %ld\n", path, r.status);
        resp_free(&r);
        return false;
    }
    bool ok = true;
    const cJSON *item;
    cJSON_ArrayForEach(item, json_path(r.json, "items"))
    {
        const char *key = key_of(json_path_str(item, "location"), plan);
        const char *sha = json_path_str(item, "sha256");
        double size = json_path_num(item, "size");
        struct storage_object_info info;
        char err[QB_ERRBUF_SIZE];
        if (!key || !sha) {
            fprintf(stderr, "catalogue row without location or sha256\n");
            ok = false;
            continue;
        }
        fm_keys_add(keys, key);
        if (storage_verify(st, key, &info, err, sizeof err) != QB_OK) {
            fprintf(stderr, "catalogued %s does not read back: %s\n", key, err);
            ok = false;
        } else if (strcmp(info.sha256, sha) != 0 || (double)info.size != size) {
            fprintf(stderr, "catalogued %s: stored %llu bytes %s, catalogue says %.0f %s\n", key,
                    (unsigned long long)info.size, info.sha256, size, sha);
            ok = false;
        }
    }
    resp_free(&r);
    return ok;
}

bool fm_check_truth(struct qbd *d, struct storage *st, const struct fm_keys *raw, const char *plan,
                    const struct fm_run *run, const char *want_state, const char *want_error)
{
    bool ok = true;
    if (strcmp(run->state, want_state) != 0) {
        fprintf(stderr, "run %lld is %s (want %s): %s\n", run->id, run->state, want_state,
                run->error);
        ok = false;
    }
    if (!strcmp(run->state, "failed") && want_error && !strstr(run->error, want_error)) {
        fprintf(stderr, "run %lld failed with \"%s\", which does not name \"%s\"\n", run->id,
                run->error, want_error);
        ok = false;
    }
    if (!strcmp(run->state, "succeeded") && run->snapshot_id <= 0) {
        fprintf(stderr, "run %lld succeeded without a snapshot id\n", run->id);
        ok = false;
    }
    struct fm_keys keys = {0};
    if (!catalogue_in_storage(d, st, plan, &keys))
        ok = false;
    if (!strcmp(run->state, "succeeded")) {
        char path[64];
        snprintf(path, sizeof path, "/v1/snapshots/%.0f", run->snapshot_id);
        struct resp r;
        if (qbd_request(d, "GET", path, NULL, NULL, &r) != 0 || r.status != 200) {
            fprintf(stderr, "run %lld succeeded but snapshot %.0f is not catalogued\n", run->id,
                    run->snapshot_id);
            ok = false;
        }
        resp_free(&r);
    }
    for (size_t i = 0; i < raw->n; i++) {
        bool known = false;
        for (size_t j = 0; j < keys.n && !known; j++)
            known = belongs(raw->v[i], keys.v[j]);
        if (!known) {
            fprintf(stderr, "orphan in the destination: %s%s\n", raw->v[i],
                    has_suffix(raw->v[i], ".manifest.json") ? " (a manifest)" : "");
            ok = false;
        }
    }
    /* The raw listing must see what the catalogue holds, or it proves
     * nothing about orphans. */
    for (size_t j = 0; j < keys.n; j++) {
        bool listed = false;
        for (size_t i = 0; i < raw->n && !listed; i++)
            listed = !strcmp(raw->v[i], keys.v[j]);
        if (!listed) {
            fprintf(stderr, "catalogued %s is missing from the raw listing\n", keys.v[j]);
            ok = false;
        }
    }
    fm_keys_free(&keys);
    return ok;
}

/* ---------------------------------------------------------------- s3fault */

static bool proxy_listening(void *ctx)
{
    struct s3fault *f = ctx;
    FILE *in = fopen(f->log_path, "r");
    char line[256];
    while (in && f->port <= 0 && fgets(line, sizeof line, in)) {
        const char *p = strstr(line, "listening on ");
        const char *colon = p ? strrchr(p, ':') : NULL;
        if (colon)
            f->port = (int)strtol(colon + 1, NULL, 10);
    }
    if (in)
        fclose(in);
    return f->port > 0;
}

int s3fault_start(struct s3fault *f, const char *upstream, const char *dir)
{
    memset(f, 0, sizeof *f);
    snprintf(f->log_path, sizeof f->log_path, "%s/s3fault.log", dir);
    pid_t parent = getpid();
    f->pid = fork();
    if (f->pid == 0) {
        /* A test stopped by a failed assertion must not leave it behind. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(126);
        int fd = open(f->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execl(QB_S3FAULT_PATH, "s3fault", "--upstream", upstream, "--port", "0", (char *)NULL);
        _exit(127);
    }
    if (f->pid < 0 || !harness_wait_until(proxy_listening, f, 10000)) {
        fprintf(stderr, "s3fault did not start\n");
        harness_print_file(f->log_path, "s3fault");
        if (f->pid > 0)
            s3fault_stop(f);
        return -1;
    }
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    return 0;
}

int s3fault_stop(struct s3fault *f)
{
    if (f->pid <= 0)
        return -1;
    int rc = harness_terminate(f->pid, 10000, "s3fault");
    f->pid = 0;
    if (rc != 0) /* e.g. a sanitizer report: show it, the directory goes away */
        harness_print_file(f->log_path, "s3fault");
    return rc;
}

static int admin(struct s3fault *f, const char *method, const char *path, struct resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s/__s3fault/%s", f->url, path);
    if (harness_http(method, url, NULL, NULL, 10, r) != 0 || r->status != 200) {
        fprintf(stderr, "s3fault %s %s -> %ld %s\n", method, path, r->status,
                r->body ? r->body : "");
        return -1;
    }
    return 0;
}

int s3fault_arm(struct s3fault *f, const char *query)
{
    char path[400];
    snprintf(path, sizeof path, "rules?%s", query);
    struct resp r;
    int rc = admin(f, "POST", path, &r);
    resp_free(&r);
    return rc;
}

int s3fault_clear(struct s3fault *f)
{
    struct resp r;
    int rc = admin(f, "DELETE", "rules", &r);
    resp_free(&r);
    return rc;
}

long s3fault_stat(struct s3fault *f, const char *name)
{
    struct resp r;
    long v = -1;
    if (admin(f, "GET", "stats", &r) == 0 && r.body) {
        char needle[64];
        snprintf(needle, sizeof needle, "%s=", name);
        size_t nl = strlen(needle);
        for (const char *p = strstr(r.body, needle); p; p = strstr(p + 1, needle))
            if (p == r.body || p[-1] == ' ') {
                v = strtol(p + nl, NULL, 10);
                break;
            }
    }
    resp_free(&r);
    return v;
}

struct stat_wait {
    struct s3fault *f;
    const char *name;
    long min;
};

static bool stat_reached(void *ctx)
{
    struct stat_wait *w = ctx;
    return s3fault_stat(w->f, w->name) >= w->min;
}

bool s3fault_wait_stat(struct s3fault *f, const char *name, long min, int timeout_ms)
{
    struct stat_wait w = {f, name, min};
    return harness_wait_until(stat_reached, &w, timeout_ms);
}
