/* SPDX-License-Identifier: Apache-2.0
 *
 * harness.c -- process control, HTTP and log helpers for integration tests.
 */
#include "harness.h"
#include "catalogue_env.h"
#include "util/seal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

/* Ports of the qbackupd processes this test started (0: free slot).  Only
 * the test's main thread starts daemons and sends requests. */
static int daemon_ports[16];

static void track_port(int port, bool on)
{
    for (size_t i = 0; i < sizeof daemon_ports / sizeof daemon_ports[0]; i++) {
        if (on ? daemon_ports[i] == 0 : daemon_ports[i] == port) {
            daemon_ports[i] = on ? port : 0;
            return;
        }
    }
}

/* The port of url when it is one of our daemons', else 0. */
static int daemon_port_of(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, ':') : NULL;
    long port = p ? strtol(p + 1, NULL, 10) : 0;
    for (size_t i = 0; port > 0 && i < sizeof daemon_ports / sizeof daemon_ports[0]; i++) {
        if (daemon_ports[i] == port)
            return (int)port;
    }
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool harness_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        if (cond(ctx))
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(20);
    }
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p)
        abort();
    memcpy(p, s, n);
    return p;
}

static void copy_list(char **dst, const char *const *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < QBD_MAX_ARGS; i++)
        dst[i] = dupstr(src[i]);
    dst[i] = NULL;
}

static void free_list(char **list)
{
    for (size_t i = 0; list[i]; i++) {
        free(list[i]);
        list[i] = NULL;
    }
}

void harness_print_file(const char *path, const char *title)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    fprintf(stderr, "---- %s (%s) ----\n", title, path);
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    fprintf(stderr, "---- end of %s ----\n", title);
    if (f)
        fclose(f);
}

static void print_log(const struct qbd *d)
{
    harness_print_file(d->log_path, "qbackupd log");
}

/* Builds the child's environment: ours without QBACKUP_* (a developer's
 * settings must not leak into tests), plus extra. */
static char **child_env(char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "QBACKUP_", 8) != 0)
            env[k++] = environ[i];
    }
    for (size_t i = 0; i < m; i++)
        env[k++] = extra[i];
    env[k] = NULL;
    return env;
}

static pid_t spawn(struct qbd *d, char **argv, char *const *extra_env)
{
    char **env = child_env(extra_env);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        if (chdir(d->dir) != 0)
            _exit(126);
        execve(QB_DAEMON_PATH, argv, env);
        _exit(127);
    }
    free(env);
    return pid;
}

struct port_wait {
    struct qbd *d;
    char path[300];
    bool exited;
    int status;
};

static bool port_ready(void *ctx)
{
    struct port_wait *w = ctx;
    pid_t r = waitpid(w->d->pid, &w->status, WNOHANG);
    if (r == w->d->pid) {
        w->exited = true;
        w->d->pid = 0;
        return true;
    }
    FILE *f = fopen(w->path, "r");
    if (!f)
        return false;
    int port = 0;
    bool ok = fscanf(f, "%d", &port) == 1 && port > 0;
    fclose(f);
    if (ok)
        w->d->port = port;
    return ok;
}

static int launch(struct qbd *d)
{
    char port_file[300];
    snprintf(port_file, sizeof port_file, "%s/port", d->dir);
    unlink(port_file);
    /* Port 9 (discard) on loopback refuses connections: a Qdrant that is
     * certainly absent, quickly. */
    const char *const base[] = {"qbackupd",    "serve",        "--listen",
                                "127.0.0.1:0", "--port-file",  port_file,
                                "--data-dir",  "var",          "--probe-interval",
                                "1",           "--qdrant-url", "http://127.0.0.1:9",
                                NULL};
    char *argv[QBD_MAX_ARGS + 24];
    size_t a = 0;
    for (size_t i = 0; base[i]; i++)
        argv[a++] = dupstr(base[i]);
    if (d->catalogue[0]) {
        /* A fleet's catalogue: the key is never made up (main.c) and the
         * local folder is registered only when named.  Before the test's
         * own arguments, which may name others (the last one wins). */
        char key[300];
        snprintf(key, sizeof key, "%s/secrets.key", d->dir);
        const char *const pg[] = {"--catalogue", d->catalogue,   "--secrets-key-file",
                                  key,           "--backup-dir", "var/backups",
                                  NULL};
        for (size_t i = 0; pg[i]; i++)
            argv[a++] = dupstr(pg[i]);
    }
    for (size_t i = 0; d->args[i]; i++)
        argv[a++] = dupstr(d->args[i]);
    argv[a] = NULL;

    d->pid = spawn(d, argv, d->env);
    free_list(argv);
    if (d->pid < 0)
        return -1;
    struct port_wait w = {.d = d};
    snprintf(w.path, sizeof w.path, "%s", port_file);
    if (!harness_wait_until(port_ready, &w, 30000) || w.exited) {
        fprintf(stderr, "qbackupd did not start%s\n", w.exited ? " (it exited)" : "");
        print_log(d);
        if (d->pid > 0)
            qbd_stop(d);
        return -1;
    }
    track_port(d->port, true);
    return 0;
}

int qbd_start(struct qbd *d, const char *const *extra_args, const char *const *extra_env)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/qbackup-test-XXXXXX");
    if (!mkdtemp(d->dir))
        return -1;
    snprintf(d->log_path, sizeof d->log_path, "%s/qbackupd.log", d->dir);
    copy_list(d->args, extra_args);
    copy_list(d->env, extra_env);
    if (catalogue_env_postgres()) {
        char key[300];
        snprintf(key, sizeof key, "%s/secrets.key", d->dir);
        if (!catalogue_env_create(d->catalogue, sizeof d->catalogue) ||
            !qbd_write_key_file(key, NULL, 0))
            return -1;
    }
    return launch(d);
}

int qbd_run(struct qbd *d, const char *const *args, const char *const *extra_env)
{
    char *argv[QBD_MAX_ARGS + 2];
    size_t a = 0;
    argv[a++] = dupstr("qbackupd");
    for (size_t i = 0; args && args[i] && a + 1 < QBD_MAX_ARGS; i++)
        argv[a++] = dupstr(args[i]);
    argv[a] = NULL;
    char *env[QBD_MAX_ARGS];
    copy_list(env, extra_env);
    pid_t pid = spawn(d, argv, env);
    free_list(env);
    free_list(argv);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct exit_wait {
    pid_t pid;
    int status;
};

static bool exited(void *ctx)
{
    struct exit_wait *w = ctx;
    return waitpid(w->pid, &w->status, WNOHANG) == w->pid;
}

int harness_terminate(pid_t pid, int grace_ms, const char *what)
{
    struct exit_wait w = {.pid = pid};
    kill(pid, SIGTERM);
    if (!harness_wait_until(exited, &w, grace_ms)) {
        fprintf(stderr, "%s ignored SIGTERM for %d ms; killing it\n", what, grace_ms);
        kill(pid, SIGKILL);
        waitpid(pid, &w.status, 0);
    }
    return WIFEXITED(w.status) ? WEXITSTATUS(w.status) : 128 + WTERMSIG(w.status);
}

int qbd_stop(struct qbd *d)
{
    if (d->pid <= 0)
        return -1;
    int rc = harness_terminate(d->pid, 30000, "qbackupd");
    d->pid = 0;
    track_port(d->port, false);
    if (rc != 0)
        print_log(d);
    return rc;
}

int qbd_restart(struct qbd *d)
{
    if (d->pid > 0) {
        int rc = qbd_stop(d);
        if (rc != 0)
            return rc;
    }
    return launch(d);
}

int qbd_lose_catalogue(struct qbd *d)
{
    if (d->pid > 0) {
        int rc = qbd_stop(d);
        if (rc != 0)
            return rc;
    }
    if (d->catalogue[0])
        return catalogue_env_recreate(d->catalogue) ? launch(d) : -1;
    static const char *const files[] = {"qbackup.db", "qbackup.db-wal", "qbackup.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/var/%s", d->dir, files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            return -1;
    }
    return launch(d);
}

int qbd_kill(struct qbd *d, int sig)
{
    if (d->pid <= 0)
        return -1;
    int status = 0;
    kill(d->pid, sig);
    int rc = waitpid(d->pid, &status, 0) == d->pid ? 0 : -1;
    d->pid = 0;
    track_port(d->port, false);
    return rc;
}

void qbd_cleanup(struct qbd *d)
{
    if (d->pid > 0)
        qbd_stop(d);
    if (d->catalogue[0])
        catalogue_env_drop(d->catalogue);
    d->catalogue[0] = '\0';
    /* QB_TEST_KEEP=1 keeps the directory (log, catalogue) to look at. */
    const char *keep = getenv("QB_TEST_KEEP");
    if (d->dir[0] && keep && strcmp(keep, "1") == 0)
        fprintf(stderr, "kept %s\n", d->dir);
    else if (d->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", d->dir);
    }
    free_list(d->args);
    free_list(d->env);
}

static void sqlite_path(const struct qbd *d, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/var/qbackup.db", d->dir);
}

bool qbd_sql(const struct qbd *d, const char *sql)
{
    char path[400];
    sqlite_path(d, path, sizeof path);
    return catalogue_env_exec(d->catalogue, path, sql);
}

long long qbd_sql_int(const struct qbd *d, const char *sql)
{
    char path[400];
    sqlite_path(d, path, sizeof path);
    return catalogue_env_int(d->catalogue, path, sql);
}

bool qbd_log_contains(const struct qbd *d, const char *needle)
{
    FILE *f = fopen(d->log_path, "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

struct log_wait {
    const struct qbd *d;
    const char *needle;
};

static bool log_has(void *ctx)
{
    struct log_wait *w = ctx;
    return qbd_log_contains(w->d, w->needle);
}

bool qbd_wait_log(const struct qbd *d, const char *needle, int timeout_ms)
{
    struct log_wait w = {d, needle};
    return harness_wait_until(log_has, &w, timeout_ms);
}

struct grow {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct grow *g = userdata;
    size_t n = size * nmemb;
    char *p = realloc(g->data, g->len + n + 1);
    if (!p)
        return 0;
    g->data = p;
    memcpy(g->data + g->len, ptr, n);
    g->len += n;
    g->data[g->len] = '\0';
    return n;
}

/* With QB_RESPONSE_LOG set, appends one JSON line describing a response of
 * one of our daemons (never the Qdrant emulator's) for
 * tests/scripts/validate_responses.py to check against api/openapi.yaml.
 * One write(2) per line on an O_APPEND descriptor, so the tests that ctest
 * runs in parallel never interleave their lines. */
static void record_response(const char *method, const char *url, const struct resp *r, CURLcode cc)
{
    const char *log = getenv("QB_RESPONSE_LOG");
    if (!log || !*log || r->status == 0 || !daemon_port_of(url))
        return;
    const char *path = strstr(url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "method", method);
    cJSON_AddStringToObject(rec, "path", path ? path : "/");
    cJSON_AddNumberToObject(rec, "status", (double)r->status);
    cJSON *hdrs = cJSON_AddObjectToObject(rec, "headers");
    /* The last block is the final response's (1xx blocks come first). */
    const char *block = r->headers;
    for (const char *b = r->headers; b && (b = strstr(b, "\r\nHTTP/"));)
        block = (b += 2);
    for (const char *line = strstr(block, "\r\n"); line && line[2];) {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        const char *colon = memchr(line, ':', eol ? (size_t)(eol - line) : strlen(line));
        if (!eol || !colon)
            break;
        char name[128], value[1024];
        snprintf(name, sizeof name, "%.*s", (int)(colon - line), line);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        snprintf(value, sizeof value, "%.*s", (int)(eol - v), v);
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!cJSON_GetObjectItemCaseSensitive(hdrs, name))
            cJSON_AddStringToObject(hdrs, name, value);
        line = eol;
    }
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(hdrs, "content-type");
    bool json = cJSON_IsString(ct) && strstr(ct->valuestring, "json");
    if (json && r->json)
        cJSON_AddItemToObject(rec, "body", cJSON_Duplicate(r->json, true));
    else if (json || (cJSON_IsString(ct) && strncmp(ct->valuestring, "text/", 5) == 0))
        cJSON_AddStringToObject(rec, "body_text", r->len > 65536 ? "(long)" : r->body);
    cJSON_AddNumberToObject(rec, "body_len", (double)r->len);
    if (cc != CURLE_OK) /* e.g. a download cut short after its headers */
        cJSON_AddStringToObject(rec, "transfer_error", curl_easy_strerror(cc));
    char *line = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL: written by length */
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, n + 1) != (ssize_t)(n + 1))
        fprintf(stderr, "QB_RESPONSE_LOG %s: cannot append: %s\n", log, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(line);
}

int harness_http(const char *method, const char *url, const char *body, const char *const *headers,
                 long timeout_s, struct resp *r)
{
    memset(r, 0, sizeof *r);
    struct grow b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    bool have_ct = false;
    for (size_t i = 0; headers && headers[i]; i++) {
        hl = curl_slist_append(hl, headers[i]);
        have_ct = have_ct || strncasecmp(headers[i], "Content-Type:", 13) == 0;
    }
    if (body && !have_ct)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    r->body = b.data ? b.data : dupstr("");
    r->len = b.len;
    r->headers = h.data ? h.data : dupstr("");
    r->json = cJSON_Parse(r->body);
    record_response(method, url, r, cc);
    if (cc != CURLE_OK) {
        fprintf(stderr, "request %s %s failed: %s\n", method, url, curl_easy_strerror(cc));
        return -1;
    }
    return 0;
}

int qbd_request(struct qbd *d, const char *method, const char *path, const char *body,
                const char *const *headers, struct resp *r)
{
    const char *all[QBD_MAX_ARGS + 2];
    size_t n = 0;
    for (size_t i = 0; headers && headers[i] && n < QBD_MAX_ARGS; i++)
        all[n++] = headers[i];
    char auth[200];
    if (d->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", d->token);
        all[n++] = auth;
    }
    all[n] = NULL;
    char url[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
    return harness_http(method, url, body, all, 60, r);
}

const char *resp_header(const struct resp *r, const char *name)
{
    static char value[1024];
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - line);
            if (vlen >= sizeof value)
                vlen = sizeof value - 1;
            memcpy(value, v, vlen);
            value[vlen] = '\0';
            return value;
        }
        line = eol ? eol + 2 : NULL;
    }
    return NULL;
}

void resp_free(struct resp *r)
{
    free(r->body);
    free(r->headers);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

const cJSON *json_path(const cJSON *json, const char *path)
{
    char key[128];
    const cJSON *cur = json;
    while (cur && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        if (cJSON_IsArray(cur)) {
            cur = cJSON_GetArrayItem(cur, atoi(key));
        } else {
            cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        }
        path += n;
        if (*path == '.')
            path++;
    }
    return cur;
}

const char *json_path_str(const cJSON *json, const char *path)
{
    const cJSON *v = json_path(json, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double json_path_num(const cJSON *json, const char *path)
{
    const cJSON *v = json_path(json, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

bool harness_flip_byte(const char *path)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return false;
    bool ok = fseek(f, 0, SEEK_END) == 0;
    long size = ok ? ftell(f) : -1;
    ok = ok && size > 0 && fseek(f, size / 2, SEEK_SET) == 0;
    int c = ok ? fgetc(f) : EOF;
    ok = ok && c != EOF && fseek(f, size / 2, SEEK_SET) == 0 && fputc(c ^ 0xff, f) != EOF;
    return fclose(f) == 0 && ok;
}

bool harness_backup_phases_ok(const cJSON *result)
{
    static const char *const parts[] = {"snapshot_ms", "first_byte_ms", "download_ms",
                                        "upload_ms",   "complete_ms",   "verify_ms"};
    const cJSON *ph = json_path(result, "phases");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(ph, "total_ms");
    if (!cJSON_IsObject(ph) || !cJSON_IsNumber(total) || total->valuedouble < 0) {
        fprintf(stderr, "phases: missing, or no total_ms\n");
        return false;
    }
    double sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ph, parts[i]);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
            v->valuedouble != (double)(long long)v->valuedouble) {
            fprintf(stderr, "phases: %s missing or not a non-negative integer\n", parts[i]);
            return false;
        }
        sum += v->valuedouble;
    }
    if (sum > total->valuedouble) {
        fprintf(stderr, "phases: sum %.0f > total_ms %.0f\n", sum, total->valuedouble);
        return false;
    }
    return true;
}

bool qbd_call(struct qbd *d, const char *method, const char *path, const char *body, long want,
              struct resp *r)
{
    if (qbd_request(d, method, path, body, NULL, r) != 0) {
        fprintf(stderr, "%s %s: no answer\n", method, path);
        return false;
    }
    if (r->status != want) {
        fprintf(stderr, "%s %s -> %ld (want %ld): %.2000s\n", method, path, r->status, want,
                r->body ? r->body : "");
        return false;
    }
    return true;
}

void qbd_run_plan(struct qbd *d, const char *plan, int wait_s, struct resp *r)
{
    char path[192];
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=%d", plan, wait_s);
    if (qbd_request(d, "POST", path, NULL, NULL, r) != 0)
        r->status = -1;
}

bool qbd_write_key_file(const char *path, char *b64, size_t b64len)
{
    unsigned char key[SEAL_KEY_LEN];
    char err[QB_ERRBUF_SIZE];
    if (seal_key_generate(key, err, sizeof err))
        return false;
    char *text = seal_key_to_base64(key);
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "# test key\n%s\n", text) > 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    if (b64)
        snprintf(b64, b64len, "%s", text);
    free(text);
    return ok;
}
