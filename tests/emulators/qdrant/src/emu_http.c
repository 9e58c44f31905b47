/* SPDX-License-Identifier: Apache-2.0 */
/* emu_http.c -- libmicrohttpd daemon, per-request context, auth, body limits
 * and the request life cycle described in emu_http.h.
 *
 * DESIGN: MHD runs one thread per connection.  The access handler is called
 * once with the headers (routing, faults, auth, access class and query checks
 * happen there, so an upload can be refused before its body is read), then
 * once per body chunk (JSON kept up to json_limit; multipart streamed through
 * MHD's post processor into a temp file, never held in memory), then once
 * more to run the route handler and queue its response.
 *
 * The URL unescape callback is the identity: the router splits the raw path
 * and decodes each segment, so "%2F" stays inside a parameter as in actix. */
#include "emu_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emu_faults.h"
#include "emu_reply.h"
#include "emu_reqlog.h"
#include "emu_router.h"

/* Owned by the main thread (bind/start/stop); read-only while serving. */
static struct MHD_Daemon *g_daemon;
static int g_listen_fd = -1;
static int g_listen_ipv6;
static void (*g_prepare)(struct emu_req *r);

void emu_http_set_prepare(void (*prepare)(struct emu_req *r))
{
    g_prepare = prepare;
}

/* Background (wait=false) jobs; guarded by g_jobs.mu. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running;
} g_jobs = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

/* ---- small accessors ---- */

const char *emu_req_header(struct emu_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *emu_req_query(struct emu_req *r, const char *key)
{
    const char *raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
    if (!raw)
        return NULL;
    if (r->nq >= (int)(sizeof(r->qcache) / sizeof(r->qcache[0])))
        return raw;
    char *v = strdup(raw);
    if (!v)
        abort();
    if (emu_url_decode(v, 0) != 0) {
        free(v);
        return raw;
    }
    r->qcache[r->nq++] = v;
    return v;
}

int emu_req_wait(struct emu_req *r)
{
    const char *w = emu_req_query(r, "wait");
    return !(w && strcmp(w, "false") == 0);
}

/* ---- background jobs ---- */

struct job {
    void (*fn)(void *);
    void *arg;
};

static void *job_main(void *p)
{
    struct job *j = p;
    j->fn(j->arg);
    free(j);
    pthread_mutex_lock(&g_jobs.mu);
    g_jobs.running--;
    pthread_cond_broadcast(&g_jobs.cv);
    pthread_mutex_unlock(&g_jobs.mu);
    return NULL;
}

void emu_http_spawn(void (*fn)(void *), void *arg)
{
    struct job *j = malloc(sizeof(*j));
    if (!j)
        abort();
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&g_jobs.mu);
    g_jobs.running++;
    pthread_mutex_unlock(&g_jobs.mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, job_main, j) != 0)
        job_main(j); /* run inline rather than lose the operation */
    pthread_attr_destroy(&attr);
}

/* ---- request context ---- */

static struct emu_req *req_new(struct MHD_Connection *conn, const char *url, const char *method)
{
    struct emu_req *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->conn = conn;
    r->method = method;
    r->path = strdup(url);
    if (!r->path)
        abort();
    size_t n = strlen(r->path);
    while (n > 1 && r->path[n - 1] == '/')
        r->path[--n] = '\0'; /* trailing slashes are trimmed (actix NormalizePath) */
    r->t0 = emu_now();
    r->up_fd = -1;
    r->body.limit = emu_cfg()->json_limit;
    return r;
}

static void req_free(struct emu_req *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    for (int i = 0; i < r->nq; i++)
        free(r->qcache[i]);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->up_fd >= 0)
        close(r->up_fd);
    if (r->up_path[0])
        unlink(r->up_path); /* handlers move the file away when they keep it */
    free(r->up_filename);
    emu_buf_free(&r->body);
    cJSON_Delete(r->json);
    if (r->resp)
        MHD_destroy_response(r->resp);
    free(r->path);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_free(*con_cls);
    *con_cls = NULL;
}

static size_t unescape_identity(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* ---- auth ---- */

static int path_whitelisted(const char *path)
{
    return strcmp(path, "/") == 0 || strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0 ||
           strcmp(path, "/readyz") == 0;
}

/* Returns 0 full, 1 read-only, 2 missing, 3 invalid. */
static int classify_key(struct emu_req *r, const char **auth_kind)
{
    const struct emu_config *cfg = emu_cfg();
    const char *key = emu_req_header(r, "api-key");
    *auth_kind = "api-key";
    if (!key) {
        const char *a = emu_req_header(r, "authorization");
        *auth_kind = "bearer";
        if (a && strncmp(a, "Bearer ", 7) == 0)
            key = a + 7;
    }
    if (!key) {
        *auth_kind = "none";
        return 2;
    }
    if (cfg->api_key && strcmp(key, cfg->api_key) == 0)
        return 0;
    if (cfg->ro_key && strcmp(key, cfg->ro_key) == 0)
        return 1;
    return 3;
}

/* ---- body handling ---- */

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    struct emu_req *r = cls;
    if (!key || strcmp(key, "snapshot") != 0) {
        if (r->up_state == 1)
            r->up_state = 2; /* another field began: ours is complete */
        return MHD_YES;
    }
    if (r->up_state == 2 || (r->up_state == 1 && off == 0 && r->up_bytes > 0)) {
        r->up_state = 2; /* duplicate field: the first one wins */
        return MHD_YES;
    }
    if (r->up_state == 0) {
        char dir[EMU_PATH_MAX];
        if (emu_pathf(dir, sizeof(dir), "%s/upload", emu_cfg()->tmp_dir) != 0 ||
            emu_mkdirs(dir) != 0 ||
            emu_pathf(r->up_path, sizeof(r->up_path), "%s/upload-XXXXXX", dir) != 0) {
            r->up_error = 1;
            return MHD_NO;
        }
        r->up_fd = mkstemp(r->up_path);
        if (r->up_fd < 0) {
            r->up_path[0] = '\0';
            r->up_error = 1;
            return MHD_NO;
        }
        r->up_state = 1;
        if (filename) {
            r->up_filename = strdup(filename);
            if (!r->up_filename)
                abort();
        }
    }
    while (size > 0) {
        ssize_t w = write(r->up_fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r->up_error = 1;
            return MHD_NO;
        }
        data += w;
        size -= (size_t)w;
        r->up_bytes += (uint64_t)w;
    }
    return MHD_YES;
}

static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, ";");
    if (n >= 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Prepares body reception; may answer (415/400) right away. */
static void prepare_body(struct emu_req *r)
{
    const struct emu_route *rt = r->route;
    if ((rt->flags & EMU_RF_JSON) && rt->access != EMU_ACC_DEBUG &&
        !is_json_type(emu_req_header(r, "content-type"))) {
        emu_reply_error(r, 400, "Content type error");
        return;
    }
    if (!(rt->flags & EMU_RF_UPLOAD))
        return;
    const char *ct = emu_req_header(r, "content-type");
    if (!ct) {
        emu_reply_text(r, 400, "No Content-Type header found", "text/plain; charset=utf-8");
        return;
    }
    if (strncasecmp(ct, "multipart/form-data", 19) != 0) {
        emu_reply_text(r, 415, "Unsupported Content-Type: expected multipart/form-data",
                       "text/plain; charset=utf-8");
        return;
    }
    r->pp = MHD_create_post_processor(r->conn, 64 * 1024, post_iter, r);
    if (!r->pp)
        emu_reply_text(r, 400, "Invalid multipart/form-data boundary", "text/plain; charset=utf-8");
}

static void feed_body(struct emu_req *r, const char *data, size_t size)
{
    if (r->status || r->resp || !r->route)
        return; /* already answered: discard the rest */
    if (r->pp) {
        if (MHD_post_process(r->pp, data, size) != MHD_YES && !r->up_error)
            r->up_error = 2;
        return;
    }
    if (r->body_overflow)
        return;
    if (emu_buf_append(&r->body, data, size) != 0) {
        r->body_overflow = 1;
        emu_buf_free(&r->body);
    }
}

static void line_col(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 0;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 0;
        } else {
            (*col)++;
        }
    }
}

/* Parses the JSON body; answers 400 on failure.  Returns 0 when the handler
 * may run. */
static int finish_json(struct emu_req *r)
{
    char msg[256];
    if (r->body_overflow) {
        snprintf(msg, sizeof(msg), "JSON payload is larger than allowed (limit: %zu bytes).",
                 emu_cfg()->json_limit);
        emu_reply_error(r, 400, msg);
        return -1;
    }
    if (r->body.len == 0 &&
        (r->route->flags & EMU_RF_JSON_OPT || r->route->access == EMU_ACC_DEBUG))
        return 0;
    const char *text = r->body.data ? r->body.data : "";
    const char *end = NULL;
    r->json = cJSON_ParseWithLengthOpts(text, r->body.len, &end, 0);
    if (!r->json) {
        int line, col;
        const char *at = cJSON_GetErrorPtr();
        line_col(text, at && at >= text && at <= text + r->body.len ? at : text + r->body.len,
                 &line, &col);
        snprintf(msg, sizeof(msg), "Format error in JSON body: %s at line %d column %d",
                 r->body.len ? "expected value" : "EOF while parsing a value", line, col);
        emu_reply_error(r, 400, msg);
        return -1;
    }
    return 0;
}

static int finish_upload(struct emu_req *r)
{
    if (r->pp) {
        MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
    }
    if (r->up_fd >= 0) {
        if (close(r->up_fd) != 0)
            r->up_error = 1;
        r->up_fd = -1;
    }
    if (r->up_error == 1) {
        emu_reply_error(r, 500, "Service internal error: can't store the uploaded snapshot");
        return -1;
    }
    if (r->up_state == 0) {
        emu_reply_text(r, 400, "Required field is missing: snapshot", "text/plain; charset=utf-8");
        return -1;
    }
    return 0;
}

/* ---- life cycle ---- */

static const char *sha_error(const char *cs, char *buf, size_t size)
{
    if (strlen(cs) != 64)
        snprintf(buf, size,
                 "Validation error in query parameters: [checksum: Validation error: "
                 "invalid_sha256_hash [{\"length\": Number(%zu), \"expected_length\": "
                 "Number(64)}]]",
                 strlen(cs));
    else
        snprintf(buf, size,
                 "Validation error in query parameters: [checksum: invalid characters, expected "
                 "0-9, a-f, A-F]");
    return buf;
}

/* Query checks actix's extractors do before the handler runs. */
static int check_query(struct emu_req *r)
{
    const struct emu_route *rt = r->route;
    char msg[512];
    const char *w = (rt->flags & EMU_RF_WAIT) ? emu_req_query(r, "wait") : NULL;
    if (w && strcmp(w, "true") != 0 && strcmp(w, "false") != 0) {
        emu_reply_error(r, 400,
                        "Deserialize error in query parameters: Query deserialize error: "
                        "provided string was not `true` or `false`");
        return -1;
    }
    if (!(rt->flags & EMU_RF_CHECKSUM_Q))
        return 0;
    const char *p = emu_req_query(r, "priority");
    if (p && strcmp(p, "snapshot") && strcmp(p, "replica") && strcmp(p, "no_sync")) {
        snprintf(msg, sizeof(msg),
                 "Deserialize error in query parameters: Query deserialize error: unknown variant "
                 "`%.64s`, expected one of `no_sync`, `snapshot`, `replica`",
                 p);
        emu_reply_error(r, 400, msg);
        return -1;
    }
    const char *cs = emu_req_query(r, "checksum");
    if (cs && !emu_is_sha256_hex(cs)) {
        emu_reply_error(r, 422, sha_error(cs, msg, sizeof(msg)));
        return -1;
    }
    return 0;
}

static void req_begin(struct emu_req *r)
{
    const struct emu_config *cfg = emu_cfg();
    const struct emu_route *rt = emu_router_match(r, r->method, r->path);
    if (rt && rt->access == EMU_ACC_DEBUG) {
        r->route = rt;
        prepare_body(r);
        return;
    }
    const char *auth_kind;
    int kc = classify_key(r, &auth_kind);
    static const char *const kdesc[] = {"full", "read-only", "none", "invalid"};
    emu_reqlog_begin(r, kdesc[kc], auth_kind);

    struct emu_fault_req f;
    if (emu_faults_take_request(r->method, r->path, &f)) {
        emu_sleep_ms(f.delay_ms);
        if (f.drop) {
            r->drop = 1;
            return;
        }
        if (f.fail) {
            if (f.plain)
                emu_reply_text(r, f.status, f.message, "text/plain; charset=utf-8");
            else
                emu_reply_error(r, f.status, f.message);
            return;
        }
    }
    if ((cfg->api_key || cfg->ro_key) && !path_whitelisted(r->path)) {
        /* Qdrant's auth middleware: plain-text 401 with no Content-Type. */
        if (kc == 2) {
            emu_reply_text(r, 401, "Must provide an API key or an Authorization bearer token",
                           NULL);
            return;
        }
        if (kc == 3) {
            emu_reply_text(r, 401, "Invalid API key or JWT", NULL);
            return;
        }
        r->key = kc == 0 ? EMU_KEY_FULL : EMU_KEY_RO;
    }
    if (!rt) {
        emu_reply_empty(r, 404);
        return;
    }
    r->route = rt;
    if (check_query(r) != 0)
        return;
    int needs_write = rt->access == EMU_ACC_COLL_WRITE || rt->access == EMU_ACC_MANAGE;
    if (r->key == EMU_KEY_RO && needs_write) {
        static const char denied[] = "Forbidden: Global manage access is required";
        if (rt->flags & EMU_RF_UPLOAD)
            emu_reply_text(r, 403, denied, NULL); /* checked before the body is read */
        else if ((rt->flags & EMU_RF_WAIT) && !emu_req_wait(r))
            emu_reply_accepted(r); /* wait=false hides the failure (helpers.rs) */
        else
            emu_reply_error(r, 403, denied);
        return;
    }
    prepare_body(r);
}

static void dispatch(struct emu_req *r)
{
    const struct emu_route *rt = r->route;
    if (rt->flags & (EMU_RF_JSON | EMU_RF_JSON_OPT)) {
        if (finish_json(r) != 0)
            return;
    } else if (rt->flags & EMU_RF_UPLOAD) {
        if (finish_upload(r) != 0)
            return;
    }
    if (g_prepare)
        g_prepare(r);
    rt->handler(r);
    if (!r->resp && !r->drop)
        emu_reply_error(r, 500, "Service internal error: handler produced no response");
}

static enum MHD_Result queue(struct emu_req *r)
{
    if (r->drop)
        return MHD_NO;
    emu_reqlog_finish(r);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct emu_req *r = *con_cls;
    if (!r) {
        r = req_new(conn, url, method);
        *con_cls = r;
        req_begin(r);
        if (r->drop)
            return MHD_NO;
        if (r->resp)
            return queue(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        feed_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES; /* response already queued */
    if (!r->resp)
        dispatch(r);
    if (r->drop)
        return MHD_NO;
    return queue(r);
}

/* ---- start / stop ---- */

/* Binds the listening socket ourselves so the chosen port is known (and
 * stored in the configuration) before any MHD thread exists. */
static int listen_socket(const struct emu_config *cfg, unsigned *port, int *ipv6)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%u", cfg->port);
    const char *host = strcmp(cfg->host, "localhost") == 0 ? "127.0.0.1" : cfg->host;
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
        emu_log("ERROR", "bad --host %s (numeric address expected)", cfg->host);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        emu_log("ERROR", "can't listen on %s:%u: %s", cfg->host, cfg->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    *ipv6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int emu_http_bind(void)
{
    struct emu_config *cfg = emu_cfg();
    unsigned port = 0;
    g_listen_fd = listen_socket(cfg, &port, &g_listen_ipv6);
    if (g_listen_fd < 0)
        return -1;
    cfg->port = port; /* still single-threaded: safe to write */
    return 0;
}

int emu_http_start(void)
{
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (g_listen_ipv6)
        flags |= MHD_USE_IPv6;
    g_daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET,
                                (MHD_socket)g_listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape_identity, NULL,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
    if (!g_daemon) {
        emu_log("ERROR", "can't start the HTTP daemon");
        close(g_listen_fd);
        g_listen_fd = -1;
        return -1;
    }
    return 0;
}

void emu_http_stop(void)
{
    if (g_daemon) {
        MHD_stop_daemon(g_daemon); /* closes the listening socket too */
        g_daemon = NULL;
    } else if (g_listen_fd >= 0) {
        close(g_listen_fd);
    }
    g_listen_fd = -1;
    /* Give background jobs up to 60 s to finish writing their files. */
    pthread_mutex_lock(&g_jobs.mu);
    for (int i = 0; i < 600 && g_jobs.running > 0; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_jobs.cv, &g_jobs.mu, &ts);
    }
    pthread_mutex_unlock(&g_jobs.mu);
}
