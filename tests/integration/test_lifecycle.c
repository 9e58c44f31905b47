/* SPDX-License-Identifier: Apache-2.0
 *
 * test_lifecycle.c -- what survives a restart, migrations (twice is a
 * no-op; a newer database is refused untouched), configuration errors at
 * start, and graceful shutdown finishing an in-flight request.
 */
#include "unit.h"
#include "harness.h"

#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Counts the catalogue's schema objects, whichever engine holds it. */
static int schema_objects(const struct qbd *d)
{
    return (int)qbd_sql_int(d, d->catalogue[0]
                                   ? "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                                     "ON n.oid = c.relnamespace WHERE n.nspname = 'public') + "
                                     "(SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)"
                                   : "SELECT count(*) FROM sqlite_schema");
}

/* argv for a one-off command (migrate, serve) on d's catalogue. */
static void command_args(const struct qbd *d, const char *cmd, const char **args)
{
    size_t n = 0;
    args[n++] = cmd;
    args[n++] = "--data-dir";
    args[n++] = "var";
    if (d->catalogue[0]) {
        args[n++] = "--catalogue";
        args[n++] = d->catalogue;
    }
    if (strcmp(cmd, "serve") == 0) {
        args[n++] = "--listen";
        args[n++] = "127.0.0.1:0";
    }
    args[n] = NULL;
}

/* The migrations the binary embeds: one row each in schema_migrations
 * once applied, never two.  (Numbers may have gaps: parallel branches
 * are given numbers ahead of time.) */
static int migration_files(void)
{
    glob_t g;
    int n = glob(QB_SOURCE_DIR "/migrations/[0-9][0-9][0-9][0-9]_*.sql", 0, NULL, &g) == 0
                ? (int)g.gl_pathc
                : -1;
    globfree(&g);
    return n;
}

static void test_restart_keeps_what_was_stored(void)
{
    struct qbd d;
    TEST_ASSERT(qbd_start(&d, NULL, NULL) == 0);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances",
                            "{\"name\":\"staging\",\"url\":\"http://staging:6333\","
                            "\"api_key\":\"staging-key-123\",\"timeout_s\":77}",
                            NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 201);
    resp_free(&r);

    TEST_ASSERT(qbd_restart(&d) == 0);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances/staging", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "url"), "http://staging:6333");
    TEST_EXPECT_INT(json_path_num(r.json, "timeout_s"), 77);
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "api_key_set")));
    resp_free(&r);
    /* The restart applied no migration the first start had applied. */
    TEST_EXPECT_INT(qbd_sql_int(&d, "SELECT count(*) FROM schema_migrations"), migration_files());
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
}

static void test_migrations_twice_change_nothing(void)
{
    struct qbd d;
    TEST_ASSERT(qbd_start(&d, NULL, NULL) == 0);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    int tables = schema_objects(&d);
    long long applied_at =
        qbd_sql_int(&d, "SELECT applied_at FROM schema_migrations WHERE version = 1");
    TEST_EXPECT(tables > 5);

    const char *args[8];
    command_args(&d, "migrate", args);
    TEST_EXPECT_INT(qbd_run(&d, args, NULL), 0);
    TEST_EXPECT_INT(qbd_run(&d, args, NULL), 0);
    TEST_EXPECT_INT(schema_objects(&d), tables);
    TEST_EXPECT_INT(qbd_sql_int(&d, "SELECT count(*) FROM schema_migrations"), migration_files());
    TEST_EXPECT_INT(qbd_sql_int(&d, "SELECT applied_at FROM schema_migrations WHERE version = 1"),
                    applied_at);
    qbd_cleanup(&d);
}

static void test_newer_database_is_refused(void)
{
    struct qbd d;
    TEST_ASSERT(qbd_start(&d, NULL, NULL) == 0);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_ASSERT(qbd_sql(&d, "INSERT INTO schema_migrations VALUES (9999, '9999_future', 0)"));
    int tables = schema_objects(&d);

    const char *args[8], *serve[8];
    command_args(&d, "migrate", args);
    TEST_EXPECT(qbd_run(&d, args, NULL) != 0);
    TEST_EXPECT(qbd_log_contains(&d, "schema version 9999 but this qbackupd knows only up to"));
    command_args(&d, "serve", serve);
    TEST_EXPECT(qbd_run(&d, serve, NULL) != 0);
    TEST_EXPECT_INT(schema_objects(&d), tables);
    TEST_EXPECT_INT(qbd_sql_int(&d, "SELECT max(version) FROM schema_migrations"), 9999);
    qbd_cleanup(&d);
}

struct config_case {
    const char *args[6];
    const char *env;
    const char *message;
};

static void test_invalid_configuration_names_the_setting(void)
{
    static const struct config_case cases[] = {
        {{"serve", "--listen", "localhost", NULL}, NULL, "listen: \"localhost\" must be host:port"},
        {{"serve", "--http-threads", "0", NULL}, NULL, "http_threads (from option --http-threads)"},
        {{"serve", "--no-such-flag", NULL}, NULL, "unknown option --no-such-flag"},
        {{"serve", NULL},
         "QBACKUP_MAX_BODY_BYTES=lots",
         "max_body_bytes (from QBACKUP_MAX_BODY_BYTES)"},
        {{"serve", NULL},
         "QBACKUP_QDRANT_URL=qdrant:6333",
         "qdrant_url: \"qdrant:6333\" must start"},
        {{"serve", "--log-level", "chatty", NULL}, NULL, "log_level: \"chatty\""},
        {{"serve", "--config", "/nonexistent/qbackupd.conf", NULL},
         NULL,
         "config file /nonexistent/qbackupd.conf"},
        {{"frobnicate", NULL}, NULL, "unknown command \"frobnicate\""},
        {{"serve", "--catalogue", "mysql://u:pw@db.example/qb", NULL},
         NULL,
         "catalogue: \"mysql://db.example/qb\" is neither a file path nor a postgres:// URL"},
        {{"serve", "--catalogue", "a.db", "--database", "b.db", NULL},
         NULL,
         "catalogue and database: set one of them"},
        {{"serve", NULL},
         "QBACKUP_CATALOGUE=postgres:///qb",
         "catalogue: a postgres:// URL needs a host"},
        {{"serve", "--fleet-heartbeat-interval", "10", "--fleet-dead-after", "20", NULL},
         NULL,
         "fleet_dead_after: 20 is less than 3 heartbeat intervals"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qbd d;
        memset(&d, 0, sizeof d);
        snprintf(d.dir, sizeof d.dir, "/tmp/qbackup-test-XXXXXX");
        TEST_ASSERT(mkdtemp(d.dir) != NULL);
        snprintf(d.log_path, sizeof d.log_path, "%s/qbackupd.log", d.dir);
        const char *const env[] = {cases[i].env, NULL};
        TEST_EXPECT_INT(qbd_run(&d, cases[i].args, env), 2);
        if (!qbd_log_contains(&d, cases[i].message))
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: output lacks \"%s\"", i, cases[i].message);
        qbd_cleanup(&d);
    }
}

static void test_config_file_and_precedence(void)
{
    struct qbd d;
    memset(&d, 0, sizeof d);
    snprintf(d.dir, sizeof d.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d.dir) != NULL);
    snprintf(d.log_path, sizeof d.log_path, "%s/qbackupd.log", d.dir);
    char conf[400];
    snprintf(conf, sizeof conf, "%s/qbackupd.conf", d.dir);
    FILE *f = fopen(conf, "w");
    TEST_ASSERT(f != NULL);
    fprintf(f, "# test\nhttp_threads = 7\nmax_json_depth = 9\nlog_level = \"debug\"\n"
               "qdrant_api_key = file-secret-key\n");
    fclose(f);
    const char *const args[] = {"print-config", "--config", conf, "--max-json-depth=11", NULL};
    const char *const env[] = {"QBACKUP_HTTP_THREADS=5", "QBACKUP_MAX_JSON_DEPTH=10", NULL};
    TEST_EXPECT_INT(qbd_run(&d, args, env), 0);
    TEST_EXPECT(qbd_log_contains(&d, "http_threads = 5"));    /* env beats file */
    TEST_EXPECT(qbd_log_contains(&d, "max_json_depth = 11")); /* flag beats env */
    TEST_EXPECT(qbd_log_contains(&d, "log_level = debug"));   /* file beats default */
    TEST_EXPECT(qbd_log_contains(&d, "qdrant_api_key = (set)"));
    TEST_EXPECT(!qbd_log_contains(&d, "file-secret-key"));
    /* The older key still names the catalogue. */
    TEST_EXPECT(qbd_log_contains(&d, "catalogue = "));
    qbd_cleanup(&d);
}

/* A catalogue URL's password is never printed; the older key `database`
 * still works and shows as `catalogue`. */
static void test_catalogue_url_printed_without_password(void)
{
    struct qbd d;
    memset(&d, 0, sizeof d);
    snprintf(d.dir, sizeof d.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d.dir) != NULL);
    snprintf(d.log_path, sizeof d.log_path, "%s/qbackupd.log", d.dir);
    const char *const url[] = {"print-config",
                               "--catalogue",
                               "postgres://qb:sekret-pw@127.0.0.1:5432/qb?password=sekret-pw",
                               "--node-name",
                               "node-a",
                               NULL};
    TEST_EXPECT_INT(qbd_run(&d, url, NULL), 0);
    TEST_EXPECT(qbd_log_contains(&d, "catalogue = postgres://127.0.0.1:5432/qb\n"));
    TEST_EXPECT(qbd_log_contains(&d, "node_name = node-a"));
    TEST_EXPECT(!qbd_log_contains(&d, "sekret-pw"));
    const char *const older[] = {"print-config", "--database", "/tmp/older-name.db", NULL};
    TEST_EXPECT_INT(qbd_run(&d, older, NULL), 0);
    TEST_EXPECT(qbd_log_contains(&d, "catalogue = /tmp/older-name.db"));
    qbd_cleanup(&d);
}

static void test_example_config_is_valid(void)
{
    struct qbd d;
    memset(&d, 0, sizeof d);
    snprintf(d.dir, sizeof d.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d.dir) != NULL);
    snprintf(d.log_path, sizeof d.log_path, "%s/qbackupd.log", d.dir);
    const char *const args[] = {"print-config", "--config",
                                QB_SOURCE_DIR "/docs/qbackupd.conf.example", NULL};
    TEST_EXPECT_INT(qbd_run(&d, args, NULL), 0);
    TEST_EXPECT(qbd_log_contains(&d, "data_dir = /var/lib/qbackup"));
    qbd_cleanup(&d);
}

static void test_help_and_version(void)
{
    struct qbd d;
    memset(&d, 0, sizeof d);
    snprintf(d.dir, sizeof d.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d.dir) != NULL);
    snprintf(d.log_path, sizeof d.log_path, "%s/qbackupd.log", d.dir);
    const char *const help[] = {"--help", NULL};
    const char *const version[] = {"--version", NULL};
    TEST_EXPECT_INT(qbd_run(&d, help, NULL), 0);
    TEST_EXPECT(qbd_log_contains(&d, "QBACKUP_QDRANT_URL"));
    TEST_EXPECT(qbd_log_contains(&d, "Precedence: flags > environment > config file > defaults"));
    TEST_EXPECT_INT(qbd_run(&d, version, NULL), 0);
    TEST_EXPECT(qbd_log_contains(&d, "qbackupd 0."));
    qbd_cleanup(&d);
}

static bool shutdown_logged(void *ctx)
{
    return qbd_log_contains(ctx, "event=shutdown.begin");
}

/* True once the server counts our half-sent request (plus the metrics
 * request itself) as in flight. */
static bool request_pending(void *ctx)
{
    struct resp r;
    bool pending = qbd_request(ctx, "GET", "/metrics", NULL, NULL, &r) == 0 &&
                   strstr(r.body, "qbackup_http_requests_in_flight 2") != NULL;
    resp_free(&r);
    return pending;
}

static void test_graceful_shutdown_finishes_inflight(void)
{
    struct qbd d;
    TEST_ASSERT(qbd_start(&d, NULL, NULL) == 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    TEST_ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    const char *body = "{\"name\":\"late\",\"url\":\"http://late:6333\"}";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     strlen(body));
    /* Headers and half the body, then SIGTERM while the request is open. */
    TEST_ASSERT(write(fd, head, (size_t)n) == n);
    TEST_ASSERT(write(fd, body, 10) == 10);
    TEST_ASSERT(harness_wait_until(request_pending, &d, 10000));
    kill(d.pid, SIGTERM);
    TEST_ASSERT(harness_wait_until(shutdown_logged, &d, 10000));
    TEST_ASSERT(write(fd, body + 10, strlen(body) - 10) == (ssize_t)(strlen(body) - 10));
    char reply[2048] = "";
    ssize_t got = read(fd, reply, sizeof reply - 1);
    close(fd);
    TEST_ASSERT(got > 0);
    reply[got] = '\0';
    TEST_EXPECT(strncmp(reply, "HTTP/1.1 201", 12) == 0);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
}

int main(void)
{
    TEST_RUN(test_restart_keeps_what_was_stored);
    TEST_RUN(test_migrations_twice_change_nothing);
    TEST_RUN(test_newer_database_is_refused);
    TEST_RUN(test_invalid_configuration_names_the_setting);
    TEST_RUN(test_catalogue_url_printed_without_password);
    TEST_RUN(test_config_file_and_precedence);
    TEST_RUN(test_example_config_is_valid);
    TEST_RUN(test_help_and_version);
    TEST_RUN(test_graceful_shutdown_finishes_inflight);
    return TEST_RESULT();
}
