/* SPDX-License-Identifier: Apache-2.0
 *
 * config.h -- qbackupd's settings: one table of keys (name, type, default,
 * range, help), read from an optional config file, QBACKUP_* environment
 * variables and command-line flags.
 *
 * Precedence, lowest to highest: built-in defaults, the config file
 * (--config PATH or QBACKUP_CONFIG), environment (QBACKUP_<KEY>), flags
 * (--key value or --key=value; underscores in keys may be written as
 * dashes).  Invalid settings fail start-up with a message naming the
 * setting, where it came from, and why.
 */
#ifndef QB_CONFIG_H
#define QB_CONFIG_H

#include "common.h"

struct config {
    char *listen;      /* "host:port", "[v6]:port" */
    char *listen_host; /* derived from listen */
    int listen_port;   /* derived from listen */
    char *data_dir;
    char *catalogue;           /* a SQLite file path or a postgres:// URL; default
                                * <data_dir>/qbackup.db (the older key `database` sets it too) */
    char *database;            /* the older name of catalogue; "" after finish() */
    char *backup_dir;          /* default <data_dir>/backups: the local destination */
    bool backup_dir_defaulted; /* backup_dir was not set: it is data_dir's */
    char *qdrant_url;          /* the configured "default" instance; "" for none */
    char *qdrant_api_key;      /* secret */
    char *secrets_key_file;    /* default <data_dir>/secrets.key unless secrets_key is set */
    char *secrets_key;         /* secret: "base64,base64,..." */
    char *tokens_file;
    char *tokens; /* secret: "name:role:token,..." */
    bool insecure_no_auth;
    bool metrics_public;
    bool readyz_public;
    char *log_level;
    int64_t http_threads;
    int64_t max_connections;
    int64_t max_connections_per_ip; /* 0: no per-address limit */
    int64_t connection_timeout;
    int64_t header_timeout;
    int64_t body_timeout;
    int64_t max_header_bytes;
    int64_t max_body_bytes;
    int64_t max_json_depth;
    int64_t shutdown_grace;
    int64_t db_pool_size;
    int64_t events_keep;        /* rows of the event log's ring */
    int64_t events_max_clients; /* concurrent GET /v1/events streams */
    int64_t probe_interval;
    int64_t probe_timeout;
    char *port_file;
    int64_t workers;
    int64_t task_threads;
    int64_t qdrant_max_read;      /* the default instance's byte-rate limit, 0: none */
    int64_t backup_dir_max_write; /* the local folder's byte-rate limit, 0: none */
    int64_t max_attempts;
    int64_t retry_base_ms;
    int64_t s3_attempts; /* util/retry.h: the one retry layer of an S3 request */
    int64_t s3_retry_base_ms;
    int64_t s3_retry_max_ms;
    int64_t snapshot_timeout;
    int64_t scheduler_clock_offset;
    int64_t scheduler_clock_speed;  /* testing aid: scheduler time runs this much faster */
    int64_t scheduler_clock_anchor; /* ... from this unix time (0: start) */
    int64_t webhook_senders;        /* notify/webhooks.h: deliveries in flight at once */
    int64_t webhook_timeout_ms;
    int64_t webhook_max_attempts;
    int64_t webhook_retry_base_ms;
    int64_t webhook_retry_max_ms;
    char *slack_signing_secret;      /* secret: chat-ops off when "" */
    char *slack_users;               /* "user_id:role:plan|plan,...": who may do what from chat */
    char *slack_response_url_prefix; /* where a slash command's results may be posted */
    char *public_url; /* how Qdrant reaches this qbackupd ("" = derived from listen) */
    char *node_name;  /* this qbackupd's name in a fleet; default the host name */
    int64_t fleet_heartbeat_interval; /* seconds between beats (fleet/heartbeat.h) */
    int64_t fleet_dead_after;         /* seconds of silence before a node's runs are adopted */
    char *config_file;                /* where the file settings came from, or NULL */
};

enum config_command {
    CONFIG_CMD_SERVE = 0,
    CONFIG_CMD_MIGRATE,      /* apply migrations and exit */
    CONFIG_CMD_PRINT_CONFIG, /* print effective settings, secrets redacted */
    CONFIG_CMD_LIST_ROUTES,  /* print the route table (for the spec test) */
    CONFIG_CMD_HELP,
    CONFIG_CMD_VERSION,
};

/* Fills cfg from defaults, file, environment and argv.  envp is the
 * environment to read (pass environ).  On failure err names the setting
 * and cfg must still be released with config_free. */
enum qb_err config_load(struct config *cfg, int argc, char **argv, char **envp,
                        enum config_command *cmd, char *err, size_t errlen) QB_MUSTCHECK;

void config_free(struct config *cfg);

/* Writes --help text to f. */
void config_print_help(void *file);
/* Writes "key = value" lines with secrets shown as "(set)" to f. */
void config_print(const struct config *cfg, void *file);

/* True when host is a loopback address or "localhost". */
bool config_host_is_loopback(const char *host);

/* Whether the catalogue setting is a PostgreSQL URL (a fleet's shared
 * catalogue) rather than a SQLite file. */
bool config_catalogue_is_postgres(const struct config *cfg);

#endif /* QB_CONFIG_H */
