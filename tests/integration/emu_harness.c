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
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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
    long from; /* log offset where this run's output starts */
    bool exited;
};

/* True once the emulator printed "listening on HOST:PORT" (or died). */
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
    if (fseek(f, w->from, SEEK_SET) != 0) {
        fclose(f);
        return false;
    }
    while (!found && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "listening on ");
        const char *colon = p ? strrchr(p, ':') : NULL;
        if (colon) {
            w->e->port = (int)strtol(colon + 1, NULL, 10);
            found = w->e->port > 0;
        }
    }
    fclose(f);
    return found;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : 0;
}

/* Forks qdrant-emu with e->args and waits for its address; host is the
 * address it binds (for e->url). */
static int spawn(struct emu *e, const char *host)
{
    struct listen_wait w = {.e = e, .from = file_size(e->log_path)};
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
    if (!harness_wait_until(listening, &w, 30000) || w.exited) {
        fprintf(stderr, "qdrant-emu did not start%s\n", w.exited ? " (it exited)" : "");
        emu_print_log(e);
        if (e->pid > 0)
            emu_stop(e);
        return -1;
    }
    snprintf(e->url, sizeof e->url, "http://%s:%d", host, e->port);
    return 0;
}

/* Fills e for a start in directory dir (created) on host:port. */
static int prepare(struct emu *e, const char *dir, const char *host, int port,
                   const char *const *extra_args, const char *cluster_dir)
{
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    snprintf(e->data_dir, sizeof e->data_dir, "%s/data", e->dir);
    snprintf(e->log_path, sizeof e->log_path, "%s/emu.log", e->dir);
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    size_t a = 0;
    const char *base[] = {"qdrant-emu", "--port", portstr, "--data-dir", e->data_dir};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        e->args[a++] = dupstr(base[i]);
    if (strcmp(host, "127.0.0.1") != 0) {
        e->args[a++] = dupstr("--host");
        e->args[a++] = dupstr(host);
    }
    if (cluster_dir) {
        e->args[a++] = dupstr("--cluster-dir");
        e->args[a++] = dupstr(cluster_dir);
    }
    for (size_t i = 0; extra_args && extra_args[i] && a + 1 < EMU_MAX_ARGS; i++) {
        e->args[a++] = dupstr(extra_args[i]);
        if (strcmp(extra_args[i], "--api-key") == 0 && extra_args[i + 1])
            snprintf(e->api_key, sizeof e->api_key, "%s", extra_args[i + 1]);
    }
    e->args[a] = NULL;
    return 0;
}

int emu_start(struct emu *e, const char *const *extra_args)
{
    memset(e, 0, sizeof *e);
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/qbackup-emu-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    prepare(e, dir, "127.0.0.1", 0, extra_args, NULL);
    return spawn(e, "127.0.0.1");
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

bool emu_points_equal(struct emu *e, const char *name, const char *want)
{
    char *now = emu_points(e, name);
    bool eq = now && want && strcmp(now, want) == 0;
    if (!eq)
        fprintf(stderr, "points of %s differ:\n  now  %.300s\n  want %.300s\n", name,
                now ? now : "(none)", want ? want : "(none)");
    free(now);
    return eq;
}

int emu_fill(struct emu *e, const char *name, unsigned mb)
{
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/debug/fill/%s?mb=%u", en, mb);
    free(en);
    return simple(e, "POST", path, NULL);
}

int emu_fill_embeddings(struct emu *e, const char *name, unsigned mb, unsigned dim)
{
    char *en = emu_esc(name);
    char path[640];
    snprintf(path, sizeof path, "/debug/fill/%s?mb=%u&content=embeddings&dim=%u", en, mb, dim);
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

int emu_changes(struct emu *e)
{
    cJSON *reqs = emu_requests(e);
    const cJSON *q;
    int n = 0;
    cJSON_ArrayForEach(q, reqs)
    {
        const char *m = json_path_str(q, "method");
        if (m && strcmp(m, "GET") != 0)
            n++;
    }
    cJSON_Delete(reqs);
    return n;
}

bool emu_last_recover_url(struct emu *e, char *url, size_t size)
{
    cJSON *log = emu_requests(e);
    const cJSON *req;
    bool found = false;
    cJSON_ArrayForEach(req, log)
    {
        const char *path = json_path_str(req, "path");
        const char *location = json_path_str(req, "body.location");
        if (path && strstr(path, "/snapshots/recover") && location) {
            snprintf(url, size, "%s", location);
            found = true;
        }
    }
    cJSON_Delete(log);
    return found;
}

int emu_clear_requests(struct emu *e)
{
    return simple(e, "DELETE", "/debug/requests", NULL);
}

/* The collection's vector size (single unnamed vector), 4 when unknown. */
static int vector_size(struct emu *e, const char *name)
{
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/collections/%s", en);
    free(en);
    struct resp r;
    int dim = 4;
    if (emu_request(e, "GET", path, NULL, &r) == 0 && r.status == 200) {
        double v = json_path_num(r.json, "result.config.params.vectors.size");
        if (v >= 1)
            dim = (int)v;
    }
    resp_free(&r);
    return dim;
}

int emu_upsert_range(struct emu *e, const char *name, long first, int n, int seed,
                     const char *shard_key)
{
    int dim = vector_size(e, name);
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/collections/%s/points?wait=true", en);
    free(en);
    unsigned x = (unsigned)seed * 2654435761u + 1u;
    int rc = 0;
    for (int done = 0; rc == 0 && done < n;) {
        int batch = n - done > 1000 ? 1000 : n - done;
        cJSON *doc = cJSON_CreateObject();
        cJSON *points = cJSON_AddArrayToObject(doc, "points");
        for (int i = 0; i < batch; i++) {
            long id = first + done + i;
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "id", (double)id);
            cJSON *v = cJSON_AddArrayToObject(p, "vector");
            for (int k = 0; k < dim; k++) {
                x = x * 1103515245u + 12345u;
                cJSON_AddItemToArray(v, cJSON_CreateNumber((double)(x % 1000) / 1000.0));
            }
            cJSON *payload = cJSON_AddObjectToObject(p, "payload");
            cJSON_AddNumberToObject(payload, "i", (double)id);
            cJSON_AddItemToArray(points, p);
        }
        if (shard_key)
            cJSON_AddStringToObject(doc, "shard_key", shard_key);
        char *body = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        rc = simple(e, "PUT", path, body);
        free(body);
        done += batch;
    }
    return rc;
}

/* ---------------------------------------------------------------- cluster */

/* The exact peer_id of a GET /cluster answer: the digits after the first
 * "peer_id": (cJSON would round ids above 2^53). */
static unsigned long long cluster_peer_id(const struct resp *r)
{
    const char *p = r->body ? strstr(r->body, "\"peer_id\":") : NULL;
    return p ? strtoull(p + strlen("\"peer_id\":"), NULL, 10) : 0;
}

struct peers_wait {
    struct emu_cluster *c;
    int i;
};

/* True once peer i lists every peer of the cluster; records its id. */
static bool peer_sees_all(void *ctx)
{
    struct peers_wait *w = ctx;
    struct resp r;
    bool ok = false;
    if (emu_request(&w->c->peer[w->i], "GET", "/cluster", NULL, &r) == 0 && r.status == 200) {
        const cJSON *peers = json_path(r.json, "result.peers");
        ok = cJSON_GetArraySize(peers) == w->c->n;
        w->c->peer_id[w->i] = cluster_peer_id(&r);
    }
    resp_free(&r);
    return ok;
}

/* Peer i's bind address. */
static void peer_host(const struct emu_cluster *c, int i, char *host, size_t len)
{
    snprintf(host, len, "127.0.0.%d", c->one_host ? 1 : i + 1);
}

static int cluster_start(struct emu_cluster *c, int n, const char *const *extra_args, bool one_host)
{
    memset(c, 0, sizeof *c);
    c->one_host = one_host;
    if (n < 1 || n > EMU_CLUSTER_MAX)
        return -1;
    snprintf(c->dir, sizeof c->dir, "/tmp/qbackup-cluster-XXXXXX");
    if (!mkdtemp(c->dir)) {
        c->dir[0] = '\0';
        return -1;
    }
    char cluster_dir[300];
    snprintf(cluster_dir, sizeof cluster_dir, "%s/cluster", c->dir);
    for (int i = 0; i < n; i++) {
        char dir[300], host[32];
        snprintf(dir, sizeof dir, "%s/peer%d", c->dir, i);
        peer_host(c, i, host, sizeof host);
        if (mkdir(dir, 0700) != 0) {
            emu_cluster_cleanup(c);
            return -1;
        }
        prepare(&c->peer[i], dir, host, i && !one_host ? c->peer[0].port : 0, extra_args,
                cluster_dir);
        c->n = i + 1;
        if (spawn(&c->peer[i], host) != 0) {
            emu_cluster_cleanup(c);
            return -1;
        }
        /* A restart must come back on the same port, not on a new one. */
        free(c->peer[i].args[2]);
        char portstr[16];
        snprintf(portstr, sizeof portstr, "%d", c->peer[i].port);
        c->peer[i].args[2] = dupstr(portstr);
    }
    for (int i = 0; i < n; i++) {
        struct peers_wait w = {c, i};
        if (!harness_wait_until(peer_sees_all, &w, 30000)) {
            fprintf(stderr, "peer %d does not see %d peers\n", i, n);
            for (int k = 0; k < n; k++)
                emu_print_log(&c->peer[k]);
            emu_cluster_cleanup(c);
            return -1;
        }
    }
    return 0;
}

int emu_cluster_start(struct emu_cluster *c, int n, const char *const *extra_args)
{
    return cluster_start(c, n, extra_args, false);
}

int emu_cluster_start_one_host(struct emu_cluster *c, int n, const char *const *extra_args)
{
    return cluster_start(c, n, extra_args, true);
}

int emu_cluster_stop(struct emu_cluster *c)
{
    int rc = 0;
    for (int i = 0; i < c->n; i++)
        if (c->peer[i].pid > 0 && emu_stop(&c->peer[i]) != 0)
            rc = -1;
    return rc;
}

void emu_cluster_cleanup(struct emu_cluster *c)
{
    emu_cluster_stop(c);
    for (int i = 0; i < c->n; i++)
        emu_cleanup(&c->peer[i]);
    if (c->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", c->dir);
        c->dir[0] = '\0';
    }
    c->n = 0;
}

int emu_peer_kill(struct emu_cluster *c, int i)
{
    struct emu *e = &c->peer[i];
    if (i < 0 || i >= c->n || e->pid <= 0)
        return -1;
    kill(e->pid, SIGKILL);
    int status;
    pid_t got = waitpid(e->pid, &status, 0);
    e->pid = 0;
    return got > 0 ? 0 : -1;
}

int emu_peer_restart(struct emu_cluster *c, int i)
{
    if (i < 0 || i >= c->n)
        return -1;
    struct emu *e = &c->peer[i];
    if (e->pid > 0 && emu_stop(e) != 0)
        return -1;
    char host[32];
    peer_host(c, i, host, sizeof host);
    if (spawn(e, host) != 0)
        return -1;
    struct peers_wait w = {c, i};
    return harness_wait_until(peer_sees_all, &w, 30000) ? 0 : -1;
}

int emu_peer_index(const struct emu_cluster *c, unsigned long long peer_id)
{
    for (int i = 0; i < c->n; i++)
        if (c->peer_id[i] == peer_id)
            return i;
    return -1;
}

bool emu_shards_name_peer(const cJSON *shards, unsigned long long peer_id)
{
    char want[40];
    snprintf(want, sizeof want, "\"peer_id\":%llu", peer_id);
    bool found = false;
    const cJSON *s;
    cJSON_ArrayForEach(s, shards)
    {
        char *t = cJSON_PrintUnformatted(s);
        found = found || (t && strstr(t, want));
        free(t);
    }
    return found;
}

struct exists_wait {
    struct emu *e;
    const char *path;
};

static bool collection_visible(void *ctx)
{
    struct exists_wait *w = ctx;
    struct resp r;
    bool ok = emu_request(w->e, "GET", w->path, NULL, &r) == 0 && r.status == 200 &&
              cJSON_IsTrue(json_path(r.json, "result.exists"));
    resp_free(&r);
    return ok;
}

/* PUT /collections/{name} via peer 0 with extra body members, then wait. */
static int create_on(struct emu_cluster *c, const char *name, int dim, cJSON *extra)
{
    cJSON *body = extra;
    cJSON *vec = cJSON_AddObjectToObject(body, "vectors");
    cJSON_AddNumberToObject(vec, "size", dim);
    cJSON_AddStringToObject(vec, "distance", "Dot");
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    char *en = emu_esc(name);
    char path[600], exists[700];
    snprintf(path, sizeof path, "/collections/%s", en);
    snprintf(exists, sizeof exists, "/collections/%s/exists", en);
    free(en);
    int rc = simple(&c->peer[0], "PUT", path, text);
    free(text);
    for (int i = 0; rc == 0 && i < c->n; i++) {
        struct exists_wait w = {&c->peer[i], exists};
        if (c->peer[i].pid > 0 && !harness_wait_until(collection_visible, &w, 10000))
            rc = -1;
    }
    return rc;
}

int emu_cluster_create_collection(struct emu_cluster *c, const char *name, int dim,
                                  int shard_number, int replication_factor)
{
    cJSON *body = cJSON_CreateObject();
    if (shard_number > 0)
        cJSON_AddNumberToObject(body, "shard_number", shard_number);
    if (replication_factor > 0)
        cJSON_AddNumberToObject(body, "replication_factor", replication_factor);
    return create_on(c, name, dim, body);
}

int emu_cluster_create_custom(struct emu_cluster *c, const char *name, int dim,
                              const char *const *keys, int shards_per_key, int replication_factor)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "sharding_method", "custom");
    if (shards_per_key > 0)
        cJSON_AddNumberToObject(body, "shard_number", shards_per_key);
    if (replication_factor > 0)
        cJSON_AddNumberToObject(body, "replication_factor", replication_factor);
    int rc = create_on(c, name, dim, body);
    char *en = emu_esc(name);
    char path[600];
    snprintf(path, sizeof path, "/collections/%s/shards", en);
    free(en);
    for (size_t i = 0; rc == 0 && keys && keys[i]; i++) {
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "shard_key", keys[i]);
        char *text = cJSON_PrintUnformatted(k);
        cJSON_Delete(k);
        rc = simple(&c->peer[0], "PUT", path, text);
        free(text);
    }
    return rc;
}

int emu_set_replica_state(struct emu_cluster *c, const char *coll, int shard_id,
                          unsigned long long peer_id, const char *state)
{
    cJSON *b = cJSON_CreateObject();
    char id[24];
    snprintf(id, sizeof id, "%llu", peer_id); /* a string: exact above 2^53 */
    cJSON_AddStringToObject(b, "collection", coll);
    cJSON_AddNumberToObject(b, "shard_id", shard_id);
    cJSON_AddStringToObject(b, "peer_id", id);
    cJSON_AddStringToObject(b, "state", state);
    char *text = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    int i = 0;
    while (i < c->n - 1 && c->peer[i].pid <= 0)
        i++; /* any running peer will do: the state is shared */
    int rc = simple(&c->peer[i], "POST", "/debug/cluster/replica", text);
    free(text);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* *.snapshot files directly in dir. */
static int count_snapshots(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.' && ends_with(de->d_name, ".snapshot");
    if (d)
        closedir(d);
    return n;
}

int emu_cluster_snapshot_files(struct emu_cluster *c, const char *coll)
{
    int total = 0;
    for (int i = 0; i < c->n; i++) {
        char dir[800], shards[900];
        snprintf(dir, sizeof dir, "%s/snapshots/%s", c->peer[i].data_dir, coll);
        total += count_snapshots(dir);
        snprintf(shards, sizeof shards, "%s/shards", dir);
        DIR *d = opendir(shards);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            char sd[1200];
            if (de->d_name[0] == '.')
                continue;
            snprintf(sd, sizeof sd, "%s/%s", shards, de->d_name);
            total += count_snapshots(sd);
        }
        if (d)
            closedir(d);
    }
    return total;
}

struct active_wait {
    struct emu *e;
    const char *path;
};

static bool all_active(void *ctx)
{
    struct active_wait *w = ctx;
    struct resp r;
    bool ok = emu_request(w->e, "GET", w->path, NULL, &r) == 0 && r.status == 200 &&
              cJSON_GetArraySize(json_path(r.json, "result.shard_transfers")) == 0;
    static const char *const lists[] = {"result.local_shards", "result.remote_shards"};
    for (size_t l = 0; ok && l < 2; l++) {
        const cJSON *s;
        cJSON_ArrayForEach(s, json_path(r.json, lists[l]))
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "state");
            ok = ok && cJSON_IsString(st) && strcmp(st->valuestring, "Active") == 0;
        }
    }
    resp_free(&r);
    return ok;
}

int emu_cluster_wait_active(struct emu_cluster *c, const char *coll, int timeout_ms)
{
    char *en = emu_esc(coll);
    char path[600];
    snprintf(path, sizeof path, "/collections/%s/cluster", en);
    free(en);
    int i = 0;
    while (i < c->n - 1 && c->peer[i].pid <= 0)
        i++;
    struct active_wait w = {&c->peer[i], path};
    return harness_wait_until(all_active, &w, timeout_ms) ? 0 : -1;
}
