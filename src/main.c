/* SPDX-License-Identifier: Apache-2.0
 *
 * main.c -- qbackupd's start-up and shutdown order.
 *
 * Start-up: settings, logging, signal mask (before any thread exists, so
 * only the main thread receives SIGTERM/SIGINT), libcurl's global init,
 * tokens, directories, catalogue and migrations, secrets key (sealing the
 * catalogue's secrets under it), configured instance and
 * destination, metrics, prober, HTTP server.  Shutdown runs in reverse:
 * readiness turns 503, the server stops accepting and drains in-flight
 * requests (bounded by shutdown_grace), the prober stops, the catalogue
 * closes cleanly (WAL checkpointed by SQLite on the last close).
 */
#include "api/api.h"
#include "api/app.h"
#include "config.h"
#include "engine/engine.h"
#include "engine/recovery.h"
#include "engine/tasks.h"
#include "fleet/heartbeat.h"
#include "fleet/leader.h"
#include "http/http_server.h"
#include "remote/http_client.h"
#include "sched/sched.h"
#include "store/store_destinations.h"
#include "store/store_events.h"
#include "store/store_instances.h"
#include "notify/chatops.h"
#include "store/store_secrets.h"
#include "util/log.h"
#include "util/retry.h"
#include "util/seal.h"
#include "util/seal_keyfile.h"
#include "util/url_token.h"
#include "version.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <malloc.h>

extern char **environ;

/* Name of the instance and destination that the configuration defines. */
#define CONFIG_INSTANCE_NAME    "default"
#define CONFIG_DESTINATION_NAME "local"

static void print_routes(const struct config *cfg)
{
    struct http_route routes[API_MAX_ROUTES];
    size_t n = api_routes(routes, API_MAX_ROUTES, cfg->metrics_public, cfg->readyz_public);
    for (size_t i = 0; i < n; i++)
        printf("%s %s %s\n", routes[i].method, routes[i].pattern, auth_role_name(routes[i].role));
}

static enum qb_err load_tokens(const struct config *cfg, struct auth *auth, char *err,
                               size_t errlen)
{
    enum qb_err rc = QB_OK;
    if (*cfg->tokens_file) {
        struct stat st;
        if (stat(cfg->tokens_file, &st) == 0 && (st.st_mode & 077))
            log_warn("config.tokens_file_permissions",
                     "path=%s msg=\"readable by group or others; chmod 600 it\"", cfg->tokens_file);
        rc = auth_load_file(auth, cfg->tokens_file, err, errlen);
    }
    if (!rc && *cfg->tokens)
        rc = auth_load_list(auth, cfg->tokens, err, errlen);
    return rc;
}

/* Refuses to expose an unauthenticated API beyond this machine. */
static enum qb_err check_exposure(const struct config *cfg, const struct auth *auth, char *err,
                                  size_t errlen)
{
    if (auth_count(auth) > 0)
        return QB_OK;
    if (!config_host_is_loopback(cfg->listen_host)) {
        if (!cfg->insecure_no_auth)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "listen: %s is not a loopback address and no API tokens are "
                            "configured; set tokens_file or QBACKUP_TOKENS, or pass "
                            "--insecure-no-auth to accept an open API",
                            cfg->listen);
        log_warn("auth.disabled",
                 "listen=%s msg=\"no tokens and --insecure-no-auth: anyone who "
                 "can reach this address is admin\"",
                 cfg->listen);
    } else {
        log_warn("auth.disabled",
                 "listen=%s msg=\"no API tokens configured; every local caller "
                 "is admin\"",
                 cfg->listen);
    }
    return QB_OK;
}

/* The catalogue as the store opens it: in a fleet its sessions carry this
 * node's name (application_name "qbackupd-pool:<node>", percent-encoded),
 * so that the leader can end them if the node stops (recovery_adopt).
 * Caller frees. */
static char *store_target(const struct config *cfg)
{
    if (!config_catalogue_is_postgres(cfg) || strstr(cfg->catalogue, "application_name="))
        return xstrdup(cfg->catalogue);
    char enc[3 * 64 + 1] = "";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)cfg->node_name; *p && k + 4 < sizeof enc;
         p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_')
            enc[k++] = (char)*p;
        else
            k += (size_t)snprintf(enc + k, sizeof enc - k, "%%%02X", *p);
    }
    enc[k] = '\0';
    return xasprintf("%s%capplication_name=qbackupd-pool%%3A%s", cfg->catalogue,
                     strchr(cfg->catalogue, '?') ? '&' : '?', enc);
}

static enum qb_err open_catalogue(const struct config *cfg, struct store **out, char *err,
                                  size_t errlen)
{
    int applied = 0;
    char shown[512];
    qb_redact_url(cfg->catalogue, shown, sizeof shown);
    enum qb_err rc = qb_mkdirs(cfg->data_dir, 0700, err, errlen);
    char *target = store_target(cfg);
    if (!rc)
        rc = store_open(target, (unsigned)cfg->db_pool_size, out, err, errlen);
    free(target);
    if (!rc)
        rc = store_migrate(*out, &applied, err, errlen);
    if (!rc && applied > 0)
        log_info("store.migrated", "catalogue=%s applied=%d", shown, applied);
    return rc;
}

/* Adds the comma-separated base64 keys of the secrets_key setting. */
static enum qb_err add_key_list(struct seal_keyring *kr, const char *list, char *err, size_t errlen)
{
    char *copy = xstrdup(list);
    enum qb_err rc = QB_OK;
    int n = 0;
    for (char *p = copy; p && !rc;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char source[64];
        snprintf(source, sizeof source, "secrets_key (key %d)", ++n);
        rc = seal_keyring_add_base64(kr, p, source, err, errlen);
        p = comma ? comma + 1 : NULL;
    }
    memset(copy, 0, strlen(list));
    free(copy);
    return rc;
}

/* Reads the key file, or creates it when it is missing and nothing in the
 * catalogue is sealed yet (first start, or an upgrade from a qbackupd
 * that stored secrets in clear).  A missing file with sealed values is an
 * error: a new key could not open them. */
static enum qb_err load_key_file(const struct config *cfg, struct store *store,
                                 struct seal_keyring *kr, char *err, size_t errlen)
{
    const char *path = cfg->secrets_key_file;
    enum qb_err rc = seal_keyfile_read(path, kr, err, errlen);
    if (rc == QB_OK) {
        struct stat st;
        if (stat(path, &st) == 0 && (st.st_mode & 077))
            log_warn("config.secrets_key_file_permissions",
                     "path=%s msg=\"readable by group or others; chmod 600 it\"", path);
        return QB_OK;
    }
    if (rc != QB_ERR_NOT_FOUND)
        return rc;
    if (config_catalogue_is_postgres(cfg))
        /* Instances of a fleet starting together would each create a key
         * of their own and seal with it: the others could not read it. */
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "secrets_key_file: %s does not exist; a PostgreSQL catalogue is shared "
                        "by a fleet, whose instances must all use the same key: create it once "
                        "(head -c 32 /dev/urandom | base64 > FILE) and give every instance the "
                        "same file or --secrets-key",
                        path);
    int sealed = 0;
    rc = store_secrets_count_sealed(store, &sealed, err, errlen);
    if (rc)
        return rc;
    if (sealed > 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "secrets_key_file: %s does not exist, but the catalogue %s holds %d "
                        "sealed secret(s); point --secrets-key-file (QBACKUP_SECRETS_KEY_FILE) at "
                        "the key file this catalogue was used with, or give its keys with "
                        "--secrets-key (QBACKUP_SECRETS_KEY)",
                        path, cfg->catalogue, sealed);
    rc = seal_keyfile_create(path, kr, err, errlen);
    if (!rc)
        log_warn("secrets.key_created",
                 "path=%s msg=\"created a new secrets key; back it up together with the "
                 "catalogue: without it the stored API keys and S3 credentials cannot be read\"",
                 path);
    return rc;
}

/* Builds the key ring and seals every secret of the catalogue under its
 * current key (store_secrets_init).  *out lives until after store_close. */
static enum qb_err open_secrets(const struct config *cfg, struct store *store,
                                struct seal_keyring **out, char *err, size_t errlen)
{
    struct seal_keyring *kr = seal_keyring_create();
    *out = kr;
    bool from_file = !*cfg->secrets_key;
    enum qb_err rc = from_file ? load_key_file(cfg, store, kr, err, errlen)
                               : add_key_list(kr, cfg->secrets_key, err, errlen);
    if (rc)
        return rc;
    struct store_secrets_report rep;
    char sub[QB_ERRBUF_SIZE];
    rc = store_secrets_init(store, kr, &rep, sub, sizeof sub);
    if (rc)
        return qb_failf(rc, err, errlen,
                        "%s. The secrets keys given by %s%s do not open it: give the key this "
                        "catalogue was sealed with (--secrets-key-file / "
                        "QBACKUP_SECRETS_KEY_FILE, or --secrets-key / QBACKUP_SECRETS_KEY)",
                        sub, from_file ? "secrets_key_file " : "secrets_key",
                        from_file ? cfg->secrets_key_file : "");
    char id[SEAL_KEY_ID_LEN + 1];
    seal_keyring_current_id(kr, id);
    if (config_catalogue_is_postgres(cfg)) {
        /* A download URL one node of the fleet made must open on any: the
         * token secret comes from the key they share (url_token.h). */
        unsigned char secret[32];
        static const char salt[] = "qbackup fleet";
        rc = seal_keyring_derive(kr, id, (const unsigned char *)salt, sizeof salt - 1,
                                 "qbackup url-token v1", secret, sizeof secret, err, errlen);
        if (rc)
            return rc;
        url_token_use_secret(secret);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    log_info("secrets.ready", "key_id=%s keys=%zu sealed=%d sealed_from_clear=%d resealed=%d", id,
             seal_keyring_count(kr), rep.sealed, rep.plain, rep.rotated);
    return QB_OK;
}

/* The configured local folder, the destination "local". */
static enum qb_err sync_local(const struct config *cfg, struct store *store, char *err,
                              size_t errlen)
{
    if (config_catalogue_is_postgres(cfg) && cfg->backup_dir_defaulted) {
        /* Every node of a fleet has its own data_dir: a "local" folder
         * there would hold backups only that node can read.  A fleet gets
         * one only by naming a shared filesystem (backup_dir, mounted at
         * the same path on every node). */
        log_info("config.no_local_destination",
                 "msg=\"a fleet registers the local folder only when backup_dir names a shared "
                 "filesystem\"");
        return QB_OK;
    }
    char *abs = NULL;
    enum qb_err rc = qb_mkdirs(cfg->backup_dir, 0700, err, errlen);
    /* Stored absolute: the catalogue must mean the same folder whatever
     * directory qbackupd is started from next time. */
    if (!rc && !(abs = realpath(cfg->backup_dir, NULL)))
        rc = qb_failf(QB_ERR_IO, err, errlen, "backup_dir %s: cannot resolve", cfg->backup_dir);
    if (!rc)
        rc = store_destination_sync_local(store, CONFIG_DESTINATION_NAME, abs, err, errlen);
    free(abs);
    /* Its rate limit too: the API cannot change configured rows. */
    if (!rc)
        rc = store_destination_set_write_limit(store, CONFIG_DESTINATION_NAME,
                                               cfg->backup_dir_max_write, err, errlen);
    return rc;
}

/* The configured Qdrant and local folder are catalogue rows like any other
 * (plans reference them); refresh them at every start. */
static enum qb_err sync_configured(const struct config *cfg, struct store *store, char *err,
                                   size_t errlen)
{
    enum qb_err rc = sync_local(cfg, store, err, errlen);
    if (!rc && *cfg->qdrant_url)
        rc = store_instance_sync_config(store, CONFIG_INSTANCE_NAME, cfg->qdrant_url,
                                        *cfg->qdrant_api_key ? cfg->qdrant_api_key : NULL, err,
                                        errlen);
    if (!rc && *cfg->qdrant_url)
        rc = store_instance_set_read_limit(store, CONFIG_INSTANCE_NAME, cfg->qdrant_max_read, err,
                                           errlen);
    return rc;
}

static enum qb_err write_port_file(const char *path, int port, char *err, size_t errlen)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    enum qb_err rc = QB_OK;
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        rc = qb_failf(QB_ERR_IO, err, errlen, "port_file %s: cannot write", path);
    free(tmp);
    return rc;
}

static int serve(const struct config *cfg, struct app *app, const sigset_t *signals)
{
    char err[QB_ERRBUF_SIZE];
    struct http_server *server = NULL;
    struct http_route routes[API_MAX_ROUTES];
    size_t nroutes = api_routes(routes, API_MAX_ROUTES, cfg->metrics_public, cfg->readyz_public);
    struct http_server_config hc = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .threads = (unsigned)cfg->http_threads,
        .max_connections = (unsigned)cfg->max_connections,
        .max_connections_per_ip = (unsigned)cfg->max_connections_per_ip,
        .connection_timeout_s = (unsigned)cfg->connection_timeout,
        .header_timeout_s = (unsigned)cfg->header_timeout,
        .body_timeout_s = (unsigned)cfg->body_timeout,
        .max_header_bytes = (size_t)cfg->max_header_bytes,
        .max_body_bytes = (size_t)cfg->max_body_bytes,
        .max_json_depth = (int)cfg->max_json_depth,
        .form_routes = api_form_routes,
        .max_feeds = (unsigned)cfg->events_max_clients,
    };
    struct engine_config ec = {
        .workers = (unsigned)cfg->workers,
        .max_attempts = (unsigned)cfg->max_attempts,
        .retry_base_ms = (long)cfg->retry_base_ms,
        .poll_ms = 1000,
        .qdrant_timeout_ms = 30000,
        .snapshot_timeout_ms = (long)cfg->snapshot_timeout * 1000,
        .node = cfg->node_name,
    };
    /* Used only on a PostgreSQL catalogue: one lock, on the same server. */
    struct leader_config leadership = {
        .conninfo = cfg->catalogue,
        .key = LEADER_KEY_SCHEDULER,
        .identity = cfg->node_name,
        .timeout_ms = 5000,
    };
    enum qb_err rc = prober_start(app->store, (int)cfg->probe_interval, (int)cfg->probe_timeout,
                                  &app->prober, err, sizeof err);
    if (!rc)
        rc = tasks_start((unsigned)cfg->task_threads, &app->tasks, err, sizeof err);
    if (!rc)
        rc = engine_start(app->store, app->metrics, &ec, &app->engine, err, sizeof err);
    if (!rc)
        rc = webhooks_start(app->store,
                            &(struct webhooks_config){
                                .senders = (unsigned)cfg->webhook_senders,
                                .timeout_ms = (long)cfg->webhook_timeout_ms,
                                .max_attempts = (unsigned)cfg->webhook_max_attempts,
                                .retry_base_ms = (long)cfg->webhook_retry_base_ms,
                                .retry_max_ms = (long)cfg->webhook_retry_max_ms,
                                .poll_ms = 500,
                            },
                            &app->webhooks, err, sizeof err);
    if (!rc)
        rc = scheduler_start(app->store, app->engine,
                             &(struct scheduler_config){
                                 .clock_offset_s = cfg->scheduler_clock_offset,
                                 .clock_speed = cfg->scheduler_clock_speed,
                                 .clock_anchor = cfg->scheduler_clock_anchor,
                                 .leader = config_catalogue_is_postgres(cfg) ? &leadership : NULL,
                                 .node = cfg->node_name,
                                 .dead_after_s = cfg->fleet_dead_after,
                             },
                             &app->scheduler, err, sizeof err);
    if (!rc)
        rc = http_server_start(&hc, routes, nroutes, app->auth, app->metrics, app, &server, err,
                               sizeof err);
    if (!rc) {
        /* Published right after binding (port 0 is only known then); a
         * restore queued in that first instant gets no URL and says so. */
        const char *host = cfg->listen_host;
        if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
            host = "127.0.0.1";
        char *url = *cfg->public_url
                        ? xstrdup(cfg->public_url)
                        : xasprintf("http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
                                    strchr(host, ':') ? "]" : "", http_server_port(server));
        atomic_store(&app->public_url, url);
    }
    /* Event streams hear of a committed event at once, not at their next
     * tick. */
    if (!rc)
        store_events_set_listener(app->store, http_server_kick_feeds, server);
    if (!rc)
        rc = heartbeat_start(app->store,
                             &(struct heartbeat_config){
                                 .node = cfg->node_name,
                                 .version = QB_VERSION,
                                 .address = atomic_load(&app->public_url),
                                 .interval_s = cfg->fleet_heartbeat_interval,
                             },
                             &app->heartbeat, err, sizeof err);
    if (!rc && *cfg->port_file)
        rc = write_port_file(cfg->port_file, http_server_port(server), err, sizeof err);
    if (rc) {
        char quoted[QB_ERRBUF_SIZE + 16];
        log_error("startup.failed", "error=%s", log_quote(quoted, sizeof quoted, err));
        fprintf(stderr, "qbackupd: %s\n", err);
    }
    if (!rc) {
        log_info("http.listening", "address=%s port=%d version=%s auth=%s", cfg->listen_host,
                 http_server_port(server), QB_VERSION,
                 auth_count(app->auth) ? "tokens" : "disabled");
        int sig = 0;
        sigwait(signals, &sig);
        log_info("shutdown.begin", "signal=%s grace_s=%lld", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 (long long)cfg->shutdown_grace);
    }
    /* Reverse order: stop taking requests (waiting clients get answers),
     * stop queueing, let running jobs abort and clean up, then the rest. */
    atomic_store(&app->shutting_down, true);
    store_events_set_listener(app->store, NULL, NULL);
    http_server_stop(server, (int)cfg->shutdown_grace * 1000);
    scheduler_stop(app->scheduler);
    app->scheduler = NULL;
    heartbeat_stop(app->heartbeat);
    app->heartbeat = NULL;
    engine_stop(app->engine);
    app->engine = NULL;
    tasks_stop(app->tasks);
    app->tasks = NULL;
    webhooks_stop(app->webhooks);
    app->webhooks = NULL;
    prober_stop(app->prober);
    app->prober = NULL;
    free(atomic_exchange(&app->public_url, NULL));
    if (rc)
        return 1;
    log_info("shutdown.done", "status=%s", "clean");
    return 0;
}

static int run(const struct config *cfg, enum config_command cmd, const sigset_t *signals)
{
    char err[QB_ERRBUF_SIZE];
    struct app app;
    struct seal_keyring *keyring = NULL;
    memset(&app, 0, sizeof app);
    app.cfg = cfg;
    atomic_init(&app.shutting_down, false);
    atomic_init(&app.public_url, NULL);
    int status = 1;

    app.auth = auth_create();
    enum qb_err rc = load_tokens(cfg, app.auth, err, sizeof err);
    if (!rc && cmd == CONFIG_CMD_SERVE)
        rc = check_exposure(cfg, app.auth, err, sizeof err);
    if (!rc)
        rc = chatops_users_check(cfg->slack_users, err, sizeof err);
    if (!rc)
        rc = open_catalogue(cfg, &app.store, err, sizeof err);
    if (!rc && cmd == CONFIG_CMD_MIGRATE) {
        char shown[512];
        qb_redact_url(cfg->catalogue, shown, sizeof shown);
        log_info("migrate.done", "catalogue=%s", shown);
        status = 0;
        goto out;
    }
    if (!rc)
        rc = open_secrets(cfg, app.store, &keyring, err, sizeof err);
    if (!rc)
        rc = sync_configured(cfg, app.store, err, sizeof err);
    if (!rc)
        rc = store_events_set_keep(app.store, cfg->events_keep, err, sizeof err);
    if (rc) {
        char quoted[QB_ERRBUF_SIZE + 16];
        log_error("startup.failed", "error=%s", log_quote(quoted, sizeof quoted, err));
        fprintf(stderr, "qbackupd: %s\n", err);
        goto out;
    }
    /* Before any worker starts: settle what a killed process left. */
    recovery_run(app.store, config_catalogue_is_postgres(cfg) ? cfg->node_name : NULL);
    app.metrics = metrics_create(QB_VERSION);
    metrics_add_collector(app.metrics, api_status_metrics, &app);
    metrics_add_collector(app.metrics, api_metrics_storage, &app);
    metrics_add_collector(app.metrics, webhooks_metrics, app.store);
    status = serve(cfg, &app, signals);
out:
    store_close(app.store);
    seal_keyring_destroy(keyring); /* the store borrowed it */
    metrics_destroy(app.metrics);
    auth_destroy(app.auth);
    return status;
}

int main(int argc, char **argv)
{
    struct config cfg;
    enum config_command cmd;
    char err[QB_ERRBUF_SIZE];
    int status = 1;

    /* Transfer buffers (upload parts, ranged-read parts, zstd jobs) are
     * megabytes each and come and go on many threads.  glibc's dynamic
     * mmap threshold rises after the first such buffer is freed, so later
     * ones came from per-thread heaps that keep their pages: peak RSS grew
     * with the bytes moved (176 MiB after a 1 GiB backup, 375 after a 4 GiB
     * one, bench/scale-bench.sh).  A fixed 1 MiB threshold gives every
     * large buffer back when freed, and RSS stays what is in use. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);

    enum qb_err rc = config_load(&cfg, argc, argv, environ, &cmd, err, sizeof err);
    if (rc) {
        fprintf(stderr, "qbackupd: invalid configuration: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    switch (cmd) {
    case CONFIG_CMD_HELP:
        config_print_help(stdout);
        status = 0;
        goto out;
    case CONFIG_CMD_VERSION:
        printf("qbackupd %s\n", QB_VERSION);
        status = 0;
        goto out;
    case CONFIG_CMD_PRINT_CONFIG:
        config_print(&cfg, stdout);
        status = 0;
        goto out;
    case CONFIG_CMD_LIST_ROUTES:
        print_routes(&cfg);
        status = 0;
        goto out;
    case CONFIG_CMD_SERVE:
    case CONFIG_CMD_MIGRATE:
        break;
    }

    enum log_level level;
    if (!log_parse_level(cfg.log_level, &level)) {
        fprintf(stderr,
                "qbackupd: invalid configuration: log_level: \"%s\" is not one of debug, "
                "info, warn, error\n",
                cfg.log_level);
        status = 2;
        goto out;
    }
    log_set_level(level);
    /* Before any thread, and before anything can open an S3 destination. */
    retry_policy_set_default(&(struct retry_policy){
        .attempts = (unsigned)cfg.s3_attempts,
        .base_ms = (long)cfg.s3_retry_base_ms,
        .max_ms = (long)cfg.s3_retry_max_ms,
    });
    /* The catalogue holds Qdrant API keys and S3 credentials; backups are
     * production data.  Nothing we create is for other users. */
    umask(077);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (url_token_init(err, sizeof err) != QB_OK ||
        http_client_global_init(err, sizeof err) != QB_OK) {
        fprintf(stderr, "qbackupd: %s\n", err);
        goto out;
    }
    status = run(&cfg, cmd, &signals);
    curl_global_cleanup();
out:
    config_free(&cfg);
    return status;
}
