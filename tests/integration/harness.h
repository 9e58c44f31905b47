/* SPDX-License-Identifier: Apache-2.0
 *
 * harness.h -- integration-test harness: starts the real qbackupd binary
 * on a free loopback port with a temporary data directory, talks HTTP to
 * it with libcurl, and inspects its log.
 *
 *     struct qbd d;
 *     TEST_ASSERT(qbd_start(&d, NULL, NULL) == 0);
 *     struct resp r;
 *     qbd_request(&d, "GET", "/healthz", NULL, NULL, &r);
 *     TEST_EXPECT_INT(r.status, 200);
 *     resp_free(&r);
 *     TEST_EXPECT_INT(qbd_stop(&d), 0);   // clean exit, sanitizers included
 *     qbd_cleanup(&d);
 *
 * Tests include unit.h (for TEST_*) and this header.
 * Waiting is always by polling a condition with a deadline, never a bare
 * sleep.
 */
#ifndef QB_HARNESS_H
#define QB_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define QBD_MAX_ARGS 48

struct qbd {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[256];            /* temporary directory owned by this daemon */
    char log_path[300];       /* the daemon's stderr */
    char *args[QBD_MAX_ARGS]; /* extra args, kept for qbd_restart */
    char *env[QBD_MAX_ARGS];  /* extra NAME=value, kept for qbd_restart */
    char token[128];          /* sent as a bearer token when non-empty */
    char catalogue[512];      /* its PostgreSQL database URL, or "" for var/qbackup.db
                               * (catalogue_env.h: QB_TEST_CATALOGUE) */
};

struct resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    cJSON *json;   /* parsed body when it is JSON, else NULL */
    char *headers; /* raw response header block */
};

/* Starts qbackupd with a fresh temporary directory.  extra_args and
 * extra_env (NULL-terminated, may be NULL) are added to the defaults
 * (--listen 127.0.0.1:0, --data-dir, --port-file, a Qdrant URL nothing
 * listens on).  Returns 0 once /healthz answers; on failure prints the log
 * and returns -1. */
int qbd_start(struct qbd *d, const char *const *extra_args, const char *const *extra_env);

/* Runs qbackupd with args in d's directory without serving (for commands
 * such as migrate, or start-up that must fail), waits for it, and returns
 * its exit status.  Output goes to d's log. */
int qbd_run(struct qbd *d, const char *const *args, const char *const *extra_env);

/* Sends SIGTERM, waits for exit (up to 30 s, then SIGKILL) and returns the
 * exit status (0 for a clean shutdown; sanitizer findings make it non-zero). */
int qbd_stop(struct qbd *d);

/* qbd_stop (when running) then start again with the same directory, args
 * and env. */
int qbd_restart(struct qbd *d);

/* The host loses its catalogue: qbd_stop (when running; a non-zero exit
 * is returned as is), the SQLite file and its -wal and -shm removed, then
 * started again on an empty catalogue.  0 when it serves again. */
int qbd_lose_catalogue(struct qbd *d);

/* Kills the daemon with sig (e.g. SIGKILL to simulate a crash) and reaps
 * it; the directory stays for qbd_restart.  Returns 0 once it is gone. */
int qbd_kill(struct qbd *d, int sig);

/* Removes the temporary directory and frees d's args. */
void qbd_cleanup(struct qbd *d);

/* SQL on the daemon's catalogue, whichever it is (catalogue_env.h), for
 * tests that set up or check what the API does not show.  qbd_sql: true
 * when it ran; qbd_sql_int: the first column of the first row, -1 when
 * none or failed. */
bool qbd_sql(const struct qbd *d, const char *sql);
long long qbd_sql_int(const struct qbd *d, const char *sql);

/* True when the daemon's log contains needle. */
bool qbd_log_contains(const struct qbd *d, const char *needle);

/* Polls the log until it contains needle or timeout_ms passes.  Use this
 * for lines written after the response (the access log is written once the
 * response has been sent). */
bool qbd_wait_log(const struct qbd *d, const char *needle, int timeout_ms);

/* Sends one request.  body may be NULL; headers is a NULL-terminated list
 * of "Name: value" (may be NULL).  When body is non-NULL and no
 * Content-Type is given, application/json is sent.  Returns 0 when a
 * response arrived (any status). */
int qbd_request(struct qbd *d, const char *method, const char *path, const char *body,
                const char *const *headers, struct resp *r);

/* Writes a qbackupd key file (util/seal_keyfile.h format) holding one new
 * random key at path; b64 (may be NULL) receives the key's base64 text. */
bool qbd_write_key_file(const char *path, char *b64, size_t b64len);

/* qbd_request without headers that also wants one status: true when the
 * answer came with `want`; otherwise says what came on stderr (the start of
 * the body too) and returns false.  r is filled either way: resp_free it. */
bool qbd_call(struct qbd *d, const char *method, const char *path, const char *body, long want,
              struct resp *r);

/* POST /v1/plans/{plan}/runs?wait=<wait_s>: r holds the answer (200 when
 * the run succeeded, 424 when it failed), status -1 when none came. */
void qbd_run_plan(struct qbd *d, const char *plan, int wait_s, struct resp *r);

/* Value of a response header (case-insensitive), copied into a static
 * buffer valid until the next call, or NULL. */
const char *resp_header(const struct resp *r, const char *name);
void resp_free(struct resp *r);

/* The item at a dotted path ("items.0.name": array indexes are numbers),
 * or NULL. */
const cJSON *json_path(const cJSON *json, const char *path);
/* A string member of r->json at a dotted path ("a.b"), or NULL. */
const char *json_path_str(const cJSON *json, const char *path);
/* A number at a dotted path, or -1 when absent. */
double json_path_num(const cJSON *json, const char *path);

/* Sends one HTTP request to url with header lines (NULL-terminated, may
 * be NULL; a JSON Content-Type is added for a body without one) and fills
 * r.  Returns 0 when a response arrived (any status). */
int harness_http(const char *method, const char *url, const char *body, const char *const *headers,
                 long timeout_s, struct resp *r);

/* SIGTERM, up to grace_ms for pid to exit (then SIGKILL); returns its exit
 * status (128 + signal when killed).  what names it in messages. */
int harness_terminate(pid_t pid, int grace_ms, const char *what);

/* Copies a file (a daemon's log) to stderr between markers. */
void harness_print_file(const char *path, const char *title);

/* Inverts one byte in the middle of the file at path (a stored object
 * corrupted behind qbackupd's back).  True when it was written. */
bool harness_flip_byte(const char *path);

/* True when a succeeded backup target's result has every "phases" field
 * (api/openapi.yaml BackupPhases) as a non-negative integer and the phases
 * add up to at most total_ms; otherwise says why on stderr. */
bool harness_backup_phases_ok(const cJSON *result);

/* Polls cond(ctx) every 20 ms until true or timeout_ms; returns the result. */
bool harness_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

/* Asserts a problem+json reply with the given status and code. */
#define EXPECT_PROBLEM(r, st, code_)                                                               \
    do {                                                                                           \
        TEST_EXPECT_INT((r).status, st);                                                           \
        const char *ct_ = resp_header(&(r), "Content-Type");                                       \
        TEST_EXPECT_STR(ct_, "application/problem+json");                                          \
        TEST_EXPECT_STR(json_path_str((r).json, "code"), code_);                                   \
        TEST_EXPECT_INT(json_path_num((r).json, "status"), st);                                    \
        TEST_EXPECT(json_path_str((r).json, "type") != NULL);                                      \
        TEST_EXPECT(json_path_str((r).json, "title") != NULL);                                     \
        TEST_EXPECT(json_path_str((r).json, "detail") != NULL);                                    \
        TEST_EXPECT(json_path_str((r).json, "request_id") != NULL);                                \
    } while (0)

#endif /* QB_HARNESS_H */
