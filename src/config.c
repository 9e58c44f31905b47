/* SPDX-License-Identifier: Apache-2.0
 *
 * config.c -- the settings table and its three sources.  Owns every
 * string in struct config.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>

enum setting_type { SET_STR, SET_BOOL, SET_INT };

struct setting {
    const char *key; /* file key; env is QBACKUP_<KEY>, flag is --key */
    enum setting_type type;
    size_t offset;
    const char *def;
    int64_t min, max; /* SET_INT only */
    bool secret;      /* redacted in print-config; never logged */
    const char *help;
};

#define STR(k, field, def, secret, help)                                                           \
    {                                                                                              \
        k, SET_STR, offsetof(struct config, field), def, 0, 0, secret, help                        \
    }
#define BOOL(k, field, def, help)                                                                  \
    {                                                                                              \
        k, SET_BOOL, offsetof(struct config, field), def, 0, 0, false, help                        \
    }
#define INT(k, field, def, min, max, help)                                                         \
    {                                                                                              \
        k, SET_INT, offsetof(struct config, field), def, min, max, false, help                     \
    }

static const struct setting settings[] = {
    STR("listen", listen, "127.0.0.1:8080", false,
        "address:port to serve the API on; non-loopback needs tokens"),
    STR("data_dir", data_dir, "./var", false, "directory for the catalogue and local backups"),
    STR("catalogue", catalogue, "", false,
        "the catalogue: a SQLite file, or a postgres:// URL for a fleet of qbackupd sharing one"
        " (default <data_dir>/qbackup.db)"),
    STR("database", database, "", false, "older name of catalogue, for a SQLite file"),
    STR("node_name", node_name, "", false,
        "this qbackupd's name among the fleet sharing a PostgreSQL catalogue (default: the host"
        " name)"),
    INT("fleet_heartbeat_interval", fleet_heartbeat_interval, "10", 1, 300,
        "seconds between this qbackupd's heartbeats in the catalogue"),
    INT("fleet_dead_after", fleet_dead_after, "60", 3, 86400,
        "seconds without a heartbeat after which the leader takes over a qbackupd's running runs"
        " (at least 3 heartbeat intervals)"),
    STR("backup_dir", backup_dir, "", false,
        "local-folder destination \"local\" (default <data_dir>/backups)"),
    STR("qdrant_url", qdrant_url, "http://127.0.0.1:6333", false,
        "Qdrant registered as instance \"default\" (empty: none)"),
    STR("qdrant_api_key", qdrant_api_key, "", true, "API key for the default Qdrant instance"),
    INT("qdrant_max_read_bytes_per_second", qdrant_max_read, "0", 0, 1LL << 40,
        "bytes a second backups read from the default instance together (0: no limit)"),
    INT("backup_dir_max_write_bytes_per_second", backup_dir_max_write, "0", 0, 1LL << 40,
        "bytes a second backups write to the \"local\" destination together (0: no limit)"),
    STR("secrets_key_file", secrets_key_file, "", false,
        "key file sealing the secrets in the catalogue, one base64 key per line, the first"
        " current (default <data_dir>/secrets.key, created if absent)"),
    STR("secrets_key", secrets_key, "", true,
        "secrets keys as base64,base64,... instead of a file, the first current"),
    STR("tokens_file", tokens_file, "", false, "file of API tokens: <name> <role> <token> lines"),
    STR("tokens", tokens, "", true, "API tokens as name:role:token,... (prefer the env var)"),
    BOOL("insecure_no_auth", insecure_no_auth, "false",
         "allow a non-loopback listen address without any token"),
    BOOL("metrics_public", metrics_public, "false",
         "serve /metrics without a token (default: viewer token needed)"),
    BOOL("readyz_public", readyz_public, "true",
         "serve /readyz without a token (probes usually have none)"),
    STR("log_level", log_level, "info", false, "debug, info, warn or error"),
    INT("http_threads", http_threads, "4", 1, 256, "threads serving API requests"),
    INT("max_connections", max_connections, "128", 1, 65536,
        "concurrent client connections; past it the oldest one still waiting for its request is"
        " closed, or the new one gets 503"),
    INT("max_connections_per_ip", max_connections_per_ip, "32", 0, 65536,
        "concurrent connections from one client address, more are closed at once (0: no limit;"
        " raise it behind a reverse proxy)"),
    INT("connection_timeout", connection_timeout, "30", 1, 3600,
        "seconds an idle client connection is kept"),
    INT("header_timeout", header_timeout, "10", 1, 3600,
        "seconds a client has to send a request line and headers, however slowly they trickle"),
    INT("body_timeout", body_timeout, "60", 1, 86400,
        "seconds a client has to send a request body once its headers are in"),
    INT("max_header_bytes", max_header_bytes, "16384", 2048, 1048576,
        "largest request line plus headers accepted (414 or 431 beyond)"),
    INT("max_body_bytes", max_body_bytes, "1048576", 1024, 1073741824,
        "largest request body accepted (413 beyond)"),
    INT("max_json_depth", max_json_depth, "32", 2, 512, "deepest JSON nesting accepted"),
    INT("shutdown_grace", shutdown_grace, "10", 0, 3600,
        "seconds in-flight requests get to finish on SIGTERM"),
    INT("db_pool_size", db_pool_size, "4", 1, 64, "catalogue connections in the pool"),
    INT("events_keep", events_keep, "10000", 1, 10000000,
        "events the event log keeps (GET /v1/events resumes within them)"),
    INT("events_max_clients", events_max_clients, "16", 0, 1024,
        "live event streams (GET /v1/events) served at once; more get 503"),
    INT("probe_interval", probe_interval, "15", 1, 86400,
        "seconds between reachability probes of instances and destinations"),
    INT("probe_timeout", probe_timeout, "3", 1, 300, "seconds one reachability probe may take"),
    STR("port_file", port_file, "", false, "write the bound port here once listening (for port 0)"),
    INT("workers", workers, "2", 1, 64, "backup and restore runs executed at once"),
    INT("task_threads", task_threads, "2", 1, 64,
        "threads for request-initiated storage work (verify, delete, check)"),
    INT("max_attempts", max_attempts, "4", 1, 20,
        "tries of a step that fails transiently (Qdrant or storage) before the run fails"),
    INT("retry_base_ms", retry_base_ms, "500", 1, 600000,
        "first retry delay; doubled per attempt, with jitter"),
    INT("s3_attempts", s3_attempts, "6", 1, 20,
        "tries of one S3 request that fails transiently (5xx, SlowDown, 429, connection errors);"
        " when they are spent the step fails without being retried again"),
    INT("s3_retry_base_ms", s3_retry_base_ms, "200", 1, 600000,
        "first delay between tries of an S3 request; doubled per try, with jitter"),
    INT("s3_retry_max_ms", s3_retry_max_ms, "20000", 1, 3600000,
        "longest delay between two tries of an S3 request"),
    INT("snapshot_timeout", snapshot_timeout, "3600", 10, 604800,
        "seconds Qdrant may take to create or recover one snapshot"),
    INT("webhook_senders", webhook_senders, "2", 1, 16,
        "webhook deliveries in flight at once (a hung receiver holds one for webhook_timeout_ms)"),
    INT("webhook_timeout_ms", webhook_timeout_ms, "5000", 100, 60000,
        "milliseconds one webhook delivery attempt may take, connect to answer"),
    INT("webhook_max_attempts", webhook_max_attempts, "8", 1, 50,
        "tries of a webhook delivery before it is marked dead"),
    INT("webhook_retry_base_ms", webhook_retry_base_ms, "2000", 10, 3600000,
        "delay after a failed webhook delivery; doubled per failure, with jitter"),
    INT("webhook_retry_max_ms", webhook_retry_max_ms, "600000", 10, 86400000,
        "longest delay between two tries of a webhook delivery"),
    STR("slack_signing_secret", slack_signing_secret, "", true,
        "Slack app signing secret; enables POST /v1/chatops/slack (empty: chat-ops off)"),
    STR("slack_users", slack_users, "", false,
        "who may do what from chat: user_id:role:plans,... with role viewer or operator and"
        " plans a |-separated list or *"),
    STR("slack_response_url_prefix", slack_response_url_prefix, "https://hooks.slack.com/", false,
        "a slash command's response_url must start with this (results are posted there)"),
    STR("public_url", public_url, "", false,
        "URL Qdrant uses to fetch snapshots from qbackupd (restore by url from a local folder);"
        " default http://<listen address>"),
    INT("scheduler_clock_offset", scheduler_clock_offset, "0", -31622400, 31622400,
        "testing aid: seconds added to the scheduler's clock (keep 0)"),
    INT("scheduler_clock_speed", scheduler_clock_speed, "1", 1, 3600,
        "testing aid: the scheduler's clock runs this many times faster than real time from"
        " scheduler_clock_anchor (keep 1)"),
    INT("scheduler_clock_anchor", scheduler_clock_anchor, "0", 0, 1LL << 40,
        "testing aid: unix time where a faster scheduler clock meets real time; the same on"
        " every node of a fleet (0: when qbackupd started)"),
};

static const struct setting *find_setting(const char *key, size_t keylen)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(settings); i++) {
        const char *k = settings[i].key;
        if (strlen(k) != keylen)
            continue;
        bool eq = true;
        for (size_t j = 0; j < keylen && eq; j++) {
            char c = key[j] == '-' ? '_' : (char)tolower((unsigned char)key[j]);
            eq = c == k[j];
        }
        if (eq)
            return &settings[i];
    }
    return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < QB_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Sets one setting from text; source names where it came from. */
static enum qb_err apply(struct config *cfg, const struct setting *s, const char *value,
                         const char *source, char *err, size_t errlen)
{
    char *field = (char *)cfg + s->offset;
    switch (s->type) {
    case SET_STR: {
        char **p = (char **)(void *)field;
        free(*p);
        *p = xstrdup(value);
        return QB_OK;
    }
    case SET_BOOL:
        if (!parse_bool(value, (bool *)(void *)field))
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "%s (from %s): \"%s\" is not a boolean (use true or false)", s->key,
                            source, value);
        return QB_OK;
    case SET_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0')
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s (from %s): \"%s\" is not an integer",
                            s->key, source, value);
        if (v < s->min || v > s->max)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "%s (from %s): %lld is out of range [%lld, %lld]", s->key, source, v,
                            (long long)s->min, (long long)s->max);
        *(int64_t *)(void *)field = v;
        return QB_OK;
    }
    }
    return QB_ERR_INTERNAL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static enum qb_err load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return qb_failf(QB_ERR_INVALID, err, errlen, "config file %s: %s", path, strerror(errno));
    enum qb_err rc = QB_OK;
    char line[4096], source[600];
    int lineno = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *text = trim(line);
        if (*text == '#' || *text == ';' || *text == '\0')
            continue;
        char *eq = strchr(text, '=');
        snprintf(source, sizeof source, "%s line %d", path, lineno);
        if (!eq) {
            rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: expected \"key = value\"", source);
            break;
        }
        *eq = '\0';
        char *key = trim(text), *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const struct setting *s = find_setting(key, strlen(key));
        if (!s)
            rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: unknown setting \"%s\"", source, key);
        else
            rc = apply(cfg, s, value, source, err, errlen);
    }
    memset(line, 0, sizeof line); /* may have held a secret */
    fclose(f);
    return rc;
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    }
    return NULL;
}

static enum qb_err load_env(struct config *cfg, char **envp, char *err, size_t errlen)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(settings); i++) {
        char name[64] = "QBACKUP_";
        for (size_t j = 0; settings[i].key[j] && j + 9 < sizeof name; j++)
            name[8 + j] = (char)toupper((unsigned char)settings[i].key[j]);
        const char *v = env_get(envp, name);
        if (!v)
            continue;
        enum qb_err rc = apply(cfg, &settings[i], v, name, err, errlen);
        if (rc)
            return rc;
    }
    return QB_OK;
}

/* Parses "host:port" or "[v6]:port" into cfg->listen_host/listen_port. */
static enum qb_err parse_listen(struct config *cfg, char *err, size_t errlen)
{
    const char *l = cfg->listen;
    const char *colon = strrchr(l, ':');
    const char *host = l;
    size_t hostlen = colon ? (size_t)(colon - l) : 0;
    if (colon && l[0] == '[' && hostlen >= 2 && l[hostlen - 1] == ']') {
        host = l + 1;
        hostlen -= 2;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hostlen == 0 || !end || *end != '\0' || end == colon + 1 || port < 0 ||
        port > 65535)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "listen: \"%s\" must be host:port, e.g. 127.0.0.1:8080", l);
    free(cfg->listen_host);
    cfg->listen_host = xstrndup(host, hostlen);
    cfg->listen_port = (int)port;
    return QB_OK;
}

bool config_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
    return false;
}

bool config_catalogue_is_postgres(const struct config *cfg)
{
    const char *c = cfg->catalogue;
    return strncmp(c, "postgres://", 11) == 0 || strncmp(c, "postgresql://", 13) == 0;
}

/* catalogue from itself, its older name or the default; a URL of another
 * scheme is a mistake, not a file named "mysql:" in a folder "/". */
static enum qb_err finish_catalogue(struct config *cfg, char *err, size_t errlen)
{
    if (*cfg->catalogue && *cfg->database)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "catalogue and database: set one of them (database is the older name "
                        "of catalogue)");
    if (*cfg->database) {
        free(cfg->catalogue);
        cfg->catalogue = cfg->database;
        cfg->database = xstrdup("");
    }
    if (!*cfg->catalogue) {
        free(cfg->catalogue);
        cfg->catalogue = xasprintf("%s/qbackup.db", cfg->data_dir);
    }
    if (config_catalogue_is_postgres(cfg)) {
        const char *host = strstr(cfg->catalogue, "://") + 3;
        if (!*host || *host == '/' || *host == '?')
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "catalogue: a postgres:// URL needs a host: postgres://user@host/db");
    } else if (strstr(cfg->catalogue, "://")) {
        char shown[256];
        qb_redact_url(cfg->catalogue, shown, sizeof shown);
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "catalogue: \"%s\" is neither a file path nor a postgres:// URL", shown);
    }
    return QB_OK;
}

static enum qb_err finish(struct config *cfg, char *err, size_t errlen)
{
    enum qb_err rc = parse_listen(cfg, err, errlen);
    if (rc)
        return rc;
    if (!*cfg->data_dir)
        return qb_failf(QB_ERR_INVALID, err, errlen, "data_dir: must not be empty");
    rc = finish_catalogue(cfg, err, errlen);
    if (rc)
        return rc;
    if (!*cfg->node_name) {
        char host[256] = "qbackupd";
        if (gethostname(host, sizeof host) != 0 || !*host)
            qb_strlcpy(host, "qbackupd", sizeof host);
        host[sizeof host - 1] = '\0';
        free(cfg->node_name);
        cfg->node_name = xstrdup(host);
    }
    if (cfg->fleet_dead_after < 3 * cfg->fleet_heartbeat_interval)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "fleet_dead_after: %lld is less than 3 heartbeat intervals (%lld s): one "
                        "late beat would hand a live node's runs to another",
                        (long long)cfg->fleet_dead_after,
                        (long long)(3 * cfg->fleet_heartbeat_interval));
    if (strlen(cfg->node_name) > 48)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "node_name: at most 48 bytes (it names this instance's session on the "
                        "catalogue server)");
    cfg->backup_dir_defaulted = !*cfg->backup_dir;
    if (!*cfg->backup_dir) {
        free(cfg->backup_dir);
        cfg->backup_dir = xasprintf("%s/backups", cfg->data_dir);
    }
    if (*cfg->secrets_key && *cfg->secrets_key_file)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "secrets_key and secrets_key_file: set one of them, not both");
    if (!*cfg->secrets_key && !*cfg->secrets_key_file) {
        free(cfg->secrets_key_file);
        cfg->secrets_key_file = xasprintf("%s/secrets.key", cfg->data_dir);
    }
    const char *u = cfg->qdrant_url;
    if (*u && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "qdrant_url: \"%s\" must start with http:// or https://", u);
    for (const char *p = u; *p; p++) {
        if ((unsigned char)*p <= ' ')
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "qdrant_url: must not contain spaces or control characters");
    }
    return QB_OK;
}

/* Matches argv[*i] against "--key[=value]"; consumes the value argument. */
static enum qb_err parse_flag(struct config *cfg, int argc, char **argv, int *i, char *err,
                              size_t errlen)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t keylen = eq ? (size_t)(eq - arg) : strlen(arg);
    const struct setting *s = find_setting(arg, keylen);
    if (!s)
        return qb_failf(QB_ERR_INVALID, err, errlen, "unknown option %s (see --help)", argv[*i]);
    const char *value = eq ? eq + 1 : NULL;
    if (!value && s->type == SET_BOOL)
        value = "true";
    if (!value) {
        if (*i + 1 >= argc)
            return qb_failf(QB_ERR_INVALID, err, errlen, "option --%s needs a value", s->key);
        value = argv[++*i];
    }
    char source[80];
    snprintf(source, sizeof source, "option --%s", s->key);
    for (char *c = source; *c; c++)
        *c = *c == '_' ? '-' : *c;
    return apply(cfg, s, value, source, err, errlen);
}

static enum qb_err parse_command(const char *word, enum config_command *cmd, char *err,
                                 size_t errlen)
{
    if (strcmp(word, "serve") == 0)
        *cmd = CONFIG_CMD_SERVE;
    else if (strcmp(word, "migrate") == 0)
        *cmd = CONFIG_CMD_MIGRATE;
    else if (strcmp(word, "print-config") == 0)
        *cmd = CONFIG_CMD_PRINT_CONFIG;
    else if (strcmp(word, "list-routes") == 0)
        *cmd = CONFIG_CMD_LIST_ROUTES;
    else
        return qb_failf(QB_ERR_INVALID, err, errlen, "unknown command \"%s\" (see --help)", word);
    return QB_OK;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(settings); i++) {
        if (settings[i].type == SET_STR) {
            char **p = (char **)(void *)((char *)cfg + settings[i].offset);
            QB_FREE(*p);
        }
    }
    QB_FREE(cfg->listen_host);
    QB_FREE(cfg->config_file);
}

enum qb_err config_load(struct config *cfg, int argc, char **argv, char **envp,
                        enum config_command *cmd, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    memset(cfg, 0, sizeof *cfg);
    *cmd = CONFIG_CMD_SERVE;
    for (size_t i = 0; i < QB_ARRAY_LEN(settings) && !rc; i++)
        rc = apply(cfg, &settings[i], settings[i].def, "default", err, errlen);

    /* The command, if any, is the first argument. */
    int first_flag = 1;
    if (argc > 1 && argv[1][0] != '-') {
        rc = parse_command(argv[1], cmd, err, errlen);
        first_flag = 2;
    }
    /* --help, --version and --config decide what the other sources are. */
    const char *file = env_get(envp, "QBACKUP_CONFIG");
    for (int i = first_flag; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *cmd = CONFIG_CMD_HELP;
            return QB_OK;
        }
        if (strcmp(a, "--version") == 0) {
            *cmd = CONFIG_CMD_VERSION;
            return QB_OK;
        }
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc)
                rc = qb_failf(QB_ERR_INVALID, err, errlen, "option --config needs a value");
            else
                file = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            file = a + 9;
        }
    }
    if (!rc && file && *file) {
        cfg->config_file = xstrdup(file);
        rc = load_file(cfg, file, err, errlen);
    }
    if (!rc)
        rc = load_env(cfg, envp, err, errlen);
    for (int i = first_flag; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0)
            i++;
        else if (strncmp(a, "--config=", 9) == 0)
            continue;
        else if (strncmp(a, "--", 2) == 0)
            rc = parse_flag(cfg, argc, argv, &i, err, errlen);
        else
            rc =
                qb_failf(QB_ERR_INVALID, err, errlen, "unexpected argument \"%s\" (see --help)", a);
    }
    if (!rc)
        rc = finish(cfg, err, errlen);
    return rc;
}

void config_print_help(void *file)
{
    FILE *f = file;
    fprintf(f, "Usage: qbackupd [serve|migrate|print-config|list-routes] [--key value ...]\n"
               "\n"
               "Backup and recovery service for the Qdrant vector database.\n"
               "\n"
               "Commands:\n"
               "  serve          run the HTTP API and workers (default)\n"
               "  migrate        apply catalogue migrations and exit\n"
               "  print-config   print the effective settings (secrets redacted) and exit\n"
               "  list-routes    print the API's route table and exit\n"
               "\n"
               "Settings (flag / environment / config-file key):\n");
    for (size_t i = 0; i < QB_ARRAY_LEN(settings); i++) {
        const struct setting *s = &settings[i];
        char env[64] = "QBACKUP_";
        for (size_t j = 0; s->key[j] && j + 9 < sizeof env; j++)
            env[8 + j] = (char)toupper((unsigned char)s->key[j]);
        char flag[64];
        size_t j = 0;
        for (; s->key[j] && j + 1 < sizeof flag; j++)
            flag[j] = s->key[j] == '_' ? '-' : s->key[j];
        flag[j] = '\0';
        fprintf(f, "  --%-20s %s\n  %-22s %s (default: %s)\n", flag, env, "", s->help,
                s->secret || !*s->def ? "none" : s->def);
    }
    fprintf(f, "\n  --config PATH          QBACKUP_CONFIG: file of \"key = value\" lines\n"
               "  --help, --version\n"
               "\nPrecedence: flags > environment > config file > defaults.\n");
}

void config_print(const struct config *cfg, void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < QB_ARRAY_LEN(settings); i++) {
        const struct setting *s = &settings[i];
        const char *field = (const char *)cfg + s->offset;
        switch (s->type) {
        case SET_STR: {
            const char *v = *(char *const *)(const void *)field;
            char shown[1024];
            if (s->secret) {
                fprintf(f, "%s = %s\n", s->key, v && *v ? "(set)" : "(not set)");
            } else if (v && strstr(v, "://")) {
                /* A URL may carry a password (postgres://user:pw@host). */
                qb_redact_url(v, shown, sizeof shown);
                fprintf(f, "%s = %s\n", s->key, shown);
            } else {
                fprintf(f, "%s = %s\n", s->key, v ? v : "");
            }
            break;
        }
        case SET_BOOL:
            fprintf(f, "%s = %s\n", s->key, *(const bool *)(const void *)field ? "true" : "false");
            break;
        case SET_INT:
            fprintf(f, "%s = %lld\n", s->key, (long long)*(const int64_t *)(const void *)field);
            break;
        }
    }
}
