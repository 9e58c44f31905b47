/* SPDX-License-Identifier: Apache-2.0
 *
 * test_db_pg.c -- db.h's PostgreSQL engine (src/store/db_pg.c) against a
 * real server (QB_PG_URL), on a database of its own created for the run
 * and dropped after: types and NULLs through binds and columns, the
 * server inferring text parameters' types, 100k rows stepped in bounded
 * memory, the per-connection statement cache, every error class (a lost
 * connection from pg_terminate_backend included), transactions and
 * db_lock across two connections, multi-statement exec, and the embedded
 * PostgreSQL migrations applied through the engine.
 */
#include "unit.h"

#include "common.h"
#include "pg_env.h"
#include "store/db.h"
#include "store/db_internal.h"
#include "store/migrate.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAVE_SANITIZER_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HAVE_SANITIZER_ALLOC 1
#endif
#endif
#ifdef HAVE_SANITIZER_ALLOC
/* From the sanitizers' allocator interface (its header is not always
 * installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static const char *admin_url; /* the shared server's database */
static char url[512];         /* ours */
static char err[QB_ERRBUF_SIZE];

/* Bytes the heap holds now (the sanitizers' count when built with one:
 * their quarantine keeps freed memory out of mallinfo's view). */
static size_t heap_bytes(void)
{
#ifdef HAVE_SANITIZER_ALLOC
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* QB_PG_URL with its database replaced by db. */
static void url_for(const char *db, char *out, size_t len)
{
    const char *slash = strchr(strstr(admin_url, "://") + 3, '/');
    size_t head = slash ? (size_t)(slash - admin_url) : strlen(admin_url);
    const char *query = strchr(admin_url, '?');
    snprintf(out, len, "%.*s/%s%s", (int)head, admin_url, db, query ? query : "");
}

/* The first column of the first row of sql on a plain connection to our
 * database, as an integer (-1 on failure). */
static long long admin_int(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

static struct db_conn *open_db(void)
{
    struct db_conn *c = NULL;
    if (db_open(url, &c, err, sizeof err))
        fprintf(stderr, "  db_open: %s\n", err);
    return c;
}

static bool exec(struct db_conn *c, const char *sql)
{
    if (db_exec(c, sql, err, sizeof err)) {
        fprintf(stderr, "  exec: %s\n", err);
        return false;
    }
    return true;
}

/* Runs sql with up to one text and one int parameter and returns the
 * first column of its first row as an integer (-1 when no row). */
static int64_t one_int(struct db_conn *c, const char *sql)
{
    struct db_stmt *st = NULL;
    int64_t v = -1;
    bool row = false;
    if (db_prepare(c, sql, &st, err, sizeof err) == QB_OK &&
        db_step(st, &row, "one", err, sizeof err) == QB_OK && row)
        v = db_column_int64(st, 0);
    db_finalize(st);
    return v;
}

/* Runs a statement with the given binds; returns its result code. */
static enum qb_err run(struct db_conn *c, const char *sql, int64_t i1, const char *t2)
{
    struct db_stmt *st = NULL;
    enum qb_err rc = db_prepare(c, sql, &st, err, sizeof err);
    if (rc)
        return rc;
    db_bind_int64(st, 1, i1);
    db_bind_text(st, 2, t2);
    bool row = true;
    while (!rc && row)
        rc = db_step(st, &row, "run", err, sizeof err);
    db_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ tests */

static void test_open_close(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_EXPECT(db_dialect(c) == DB_POSTGRES);
    TEST_EXPECT(!db_in_transaction(c));
    TEST_EXPECT_INT(one_int(c, "SELECT 41 + 1"), 42);
    struct db_stmt *st = NULL;
    bool row = false;
    TEST_ASSERT(db_prepare(c, "SELECT current_setting('lock_timeout'), current_setting('TimeZone')",
                           &st, err, sizeof err) == QB_OK);
    TEST_EXPECT(db_step(st, &row, "settings", err, sizeof err) == QB_OK && row);
    TEST_EXPECT_STR(db_column_text(st, 0), "5s");
    TEST_EXPECT_STR(db_column_text(st, 1), "UTC");
    db_finalize(st);
    TEST_EXPECT_INT(admin_int("SELECT count(*) FROM pg_stat_activity "
                              "WHERE application_name = 'qbackupd'"),
                    1);
    db_close(c);
    db_close(NULL);
}

static void test_unreachable(void)
{
    struct db_conn *c = (struct db_conn *)1;
    enum qb_err rc =
        db_open("postgres://qb:hunter2secret@127.0.0.1:1/nowhere", &c, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_ERR_IO);
    TEST_EXPECT(c == NULL);
    TEST_EXPECT(strstr(err, "127.0.0.1:1/nowhere") != NULL);
    TEST_EXPECT(strstr(err, "hunter2secret") == NULL);
    fprintf(stderr, "  (%s)\n", err);
    /* Malformed URLs: libpq's message quotes the bad token, which here is
     * the password (in the userinfo, then as a parameter). */
    const char *const bad[] = {"postgresql://qb:hunter%zzsecret@127.0.0.1:1/x",
                               "postgresql://qb@127.0.0.1:1/x?password=hunter%zzsecret",
                               "host=127.0.0.1 password='hunter%zzsecret' port=notaport"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rc = db_pg_open(bad[i], &c, err, sizeof err); /* the last is no URL */
        TEST_EXPECT_INT(rc, QB_ERR_IO);
        TEST_EXPECT(strstr(err, "secret") == NULL);
        fprintf(stderr, "  (%s)\n", err);
    }
}

static void test_types_and_nulls(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_ASSERT(exec(c, "CREATE TABLE ty (id bigint PRIMARY KEY, name text, n bigint)"));
    struct db_stmt *st = NULL;
    TEST_ASSERT(db_prepare(c, "INSERT INTO ty (id, name, n) VALUES (?1, ?2, ?3)", &st, err,
                           sizeof err) == QB_OK);
    bool row = true;
    db_bind_int64(st, 1, 1);
    db_bind_text(st, 2, "élan 'quoted' ?1 $1");
    db_bind_int64(st, 3, INT64_MIN);
    db_bind_text(st, 7, "ignored: no ?7"); /* beyond the parameter count */
    db_bind_int64(st, 0, 5);               /* not a parameter number */
    TEST_EXPECT(db_step(st, &row, "insert", err, sizeof err) == QB_OK && !row);
    TEST_EXPECT_INT(db_changes(st), 1);
    db_reset(st);
    db_bind_int64(st, 1, 2);
    db_bind_text(st, 2, NULL);
    db_bind_null(st, 3);
    TEST_EXPECT(db_step(st, &row, "insert", err, sizeof err) == QB_OK && !row);
    db_finalize(st);

    TEST_ASSERT(db_prepare(c, "SELECT id, name, n FROM ty ORDER BY id", &st, err, sizeof err) ==
                QB_OK);
    TEST_EXPECT(db_step(st, &row, "select", err, sizeof err) == QB_OK && row);
    TEST_EXPECT_INT(db_column_int64(st, 0), 1);
    TEST_EXPECT_STR(db_column_text(st, 1), "élan 'quoted' ?1 $1");
    TEST_EXPECT(db_column_int64(st, 2) == INT64_MIN);
    TEST_EXPECT(!db_column_is_null(st, 1));
    TEST_EXPECT(db_step(st, &row, "select", err, sizeof err) == QB_OK && row);
    TEST_EXPECT_INT(db_column_int64(st, 0), 2);
    TEST_EXPECT(db_column_is_null(st, 1) && db_column_text(st, 1) == NULL);
    TEST_EXPECT(db_column_is_null(st, 2));
    TEST_EXPECT_INT(db_column_int64(st, 2), 0);
    TEST_EXPECT(db_column_is_null(st, 9)); /* no such column: NULL, not a crash */
    TEST_EXPECT(db_step(st, &row, "select", err, sizeof err) == QB_OK && !row);
    TEST_EXPECT_STR(db_sql(st), "SELECT id, name, n FROM ty ORDER BY id");
    db_finalize(st);
    /* Booleans the server computes read as 1/0. */
    TEST_EXPECT_INT(one_int(c, "SELECT 1 < 2"), 1);
    TEST_EXPECT_INT(one_int(c, "SELECT 1 > 2"), 0);
    db_close(c);
}

/* Text parameters get their type from the context. */
static void test_text_inference(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_ASSERT(exec(c, "CREATE TABLE inf (id bigint PRIMARY KEY, name text, n bigint);"
                        "INSERT INTO inf VALUES (1, 'a', 10), (2, 'b', 20), (3, NULL, 30)"));
    for (int in_tx = 0; in_tx < 2; in_tx++) {
        /* Inside a transaction a refused first prepare must not abort it. */
        if (in_tx)
            TEST_ASSERT(db_begin(c, DB_TX_READ, err, sizeof err) == QB_OK);
        struct db_stmt *st = NULL;
        bool row = false;
        TEST_ASSERT(db_prepare(c, "SELECT id FROM inf WHERE name = ?1", &st, err, sizeof err) ==
                    QB_OK);
        db_bind_text(st, 1, "b");
        TEST_EXPECT(db_step(st, &row, "by name", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 2);
        db_finalize(st);

        const char *const is_null = in_tx ? "SELECT ?1 IS NULL, 1" : "SELECT ?1 IS NULL";
        TEST_ASSERT(db_prepare(c, is_null, &st, err, sizeof err) == QB_OK);
        db_bind_null(st, 1);
        TEST_EXPECT(db_step(st, &row, "is null", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 1);
        db_reset(st);
        db_bind_text(st, 1, "x");
        TEST_EXPECT(db_step(st, &row, "is null", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 0);
        db_finalize(st);

        TEST_ASSERT(db_prepare(c, "SELECT count(*) FROM inf WHERE n > ?1", &st, err, sizeof err) ==
                    QB_OK);
        db_bind_int64(st, 1, 15);
        TEST_EXPECT(db_step(st, &row, "by n", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 2);
        db_reset(st);
        db_bind_text(st, 1, "25"); /* text against bigint: parsed as bigint */
        TEST_EXPECT(db_step(st, &row, "by n", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 1);
        db_finalize(st);

        TEST_ASSERT(db_prepare(c, "SELECT coalesce(?1, 'x')", &st, err, sizeof err) == QB_OK);
        db_bind_null(st, 1);
        TEST_EXPECT(db_step(st, &row, "coalesce", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_STR(db_column_text(st, 0), "x");
        db_reset(st);
        db_bind_text(st, 1, "y");
        TEST_EXPECT(db_step(st, &row, "coalesce", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_STR(db_column_text(st, 0), "y");
        db_finalize(st);

        /* An int4 argument: no int8 form of substr, the int is inferred. */
        TEST_ASSERT(db_prepare(c, "SELECT substr('abcdef', ?1, ?2)", &st, err, sizeof err) ==
                    QB_OK);
        db_bind_int64(st, 1, 2);
        db_bind_int64(st, 2, 3);
        TEST_EXPECT(db_step(st, &row, "substr", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_STR(db_column_text(st, 0), "bcd");
        db_finalize(st);

        /* A parameter number the text skips ($2) has no context at all. */
        TEST_ASSERT(db_prepare(c, "SELECT ?1 + ?3", &st, err, sizeof err) == QB_OK);
        db_bind_int64(st, 1, 2);
        db_bind_int64(st, 3, 5);
        TEST_EXPECT(db_step(st, &row, "gap", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 7);
        db_finalize(st);
        if (in_tx) {
            TEST_EXPECT(db_in_transaction(c));
            TEST_EXPECT(db_commit(c, err, sizeof err) == QB_OK);
        }
    }
    db_close(c);
}

/* 100k rows of ~200 bytes (20 MB were they held at once): the heap grows
 * by less than 1 MB while they are stepped, because the engine reads one
 * row at a time (single-row mode). */
static void test_many_rows_bounded(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    struct db_stmt *st = NULL;
    TEST_ASSERT(db_prepare(c, "SELECT g, repeat('x', 200) FROM generate_series(1, 100000) g", &st,
                           err, sizeof err) == QB_OK);
    size_t base = heap_bytes(), peak = base;
    int64_t rows = 0, sum = 0, short_rows = 0;
    bool row = true;
    enum qb_err rc = QB_OK;
    while (!rc && row) {
        rc = db_step(st, &row, "rows", err, sizeof err);
        if (row) {
            rows++;
            sum += db_column_int64(st, 0);
            short_rows += strlen(db_column_text(st, 1)) != 200;
        }
        size_t now = heap_bytes();
        if (now > peak)
            peak = now;
    }
    TEST_EXPECT_INT(rc, QB_OK);
    TEST_EXPECT_INT(rows, 100000);
    TEST_EXPECT_INT(short_rows, 0);
    TEST_EXPECT(sum == INT64_C(5000050000));
    fprintf(stderr, "  heap growth while stepping: %zu bytes\n", peak - base);
    TEST_EXPECT(peak - base < 1024 * 1024);
    /* Reset mid-list drops the rest; the statement runs again from the top. */
    db_reset(st);
    TEST_EXPECT(db_step(st, &row, "rows", err, sizeof err) == QB_OK && row);
    TEST_EXPECT_INT(db_column_int64(st, 0), 1);
    db_reset(st);
    TEST_EXPECT_INT(one_int(c, "SELECT 7"), 7); /* the connection is free */
    db_finalize(st);
    db_close(c);
}

/* Another statement on the connection while a list is half read: the
 * rest of the list is kept, both give their rows. */
static void test_interleaved(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    struct db_stmt *a = NULL;
    TEST_ASSERT(db_prepare(c, "SELECT g FROM generate_series(1, 5) g", &a, err, sizeof err) ==
                QB_OK);
    bool row = false;
    TEST_EXPECT(db_step(a, &row, "a", err, sizeof err) == QB_OK && row);
    TEST_EXPECT_INT(db_column_int64(a, 0), 1);
    TEST_EXPECT_INT(one_int(c, "SELECT 99"), 99);
    int64_t sum = 0;
    while (db_step(a, &row, "a", err, sizeof err) == QB_OK && row)
        sum += db_column_int64(a, 0);
    TEST_EXPECT_INT(sum, 2 + 3 + 4 + 5);
    db_finalize(a);
    db_close(c);
}

/* The same text prepared again on the connection reuses the server-side
 * statement (pg_prepared_statements does not grow). */
static void test_statement_cache(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    const char *count = "SELECT count(*) FROM pg_prepared_statements";
    int64_t n0 = one_int(c, count);
    TEST_EXPECT(n0 >= 1);
    for (int i = 0; i < 3; i++) {
        struct db_stmt *st = NULL;
        bool row = false;
        TEST_ASSERT(db_prepare(c, "SELECT ?1 * 2", &st, err, sizeof err) == QB_OK);
        db_bind_int64(st, 1, i);
        TEST_EXPECT(db_step(st, &row, "twice", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 2 * i);
        db_reset(st);
        db_bind_int64(st, 1, 10);
        TEST_EXPECT(db_step(st, &row, "twice", err, sizeof err) == QB_OK && row);
        TEST_EXPECT_INT(db_column_int64(st, 0), 20);
        db_finalize(st);
    }
    TEST_EXPECT_INT(one_int(c, count), n0 + 1);
    /* Many distinct texts: the cache stays bounded, evicting the oldest. */
    int right = 0;
    for (int i = 0; i < 300; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        right += one_int(c, sql) == i;
    }
    TEST_EXPECT_INT(right, 300);
    int64_t n = one_int(c, count);
    fprintf(stderr, "  prepared statements after 300 texts: %" PRId64 "\n", n);
    TEST_EXPECT(n > 0 && n <= 128);
    db_close(c);
}

static void test_changes(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_ASSERT(exec(c, "CREATE TABLE ch (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                        " v bigint); INSERT INTO ch (v) VALUES (1), (1), (1), (2)"));
    struct db_stmt *st = NULL;
    bool row = true;
    TEST_ASSERT(db_prepare(c, "UPDATE ch SET v = v + 10 WHERE v = ?1", &st, err, sizeof err) ==
                QB_OK);
    db_bind_int64(st, 1, 1);
    TEST_EXPECT(db_step(st, &row, "update", err, sizeof err) == QB_OK && !row);
    TEST_EXPECT_INT(db_changes(st), 3);
    db_reset(st);
    TEST_EXPECT(db_step(st, &row, "update", err, sizeof err) == QB_OK && !row);
    TEST_EXPECT_INT(db_changes(st), 0);
    db_finalize(st);
    /* A statement stepped again after it was done runs again (as
     * SQLite's do): two inserts from one statement without a reset. */
    TEST_ASSERT(db_prepare(c, "INSERT INTO ch (v) VALUES (?1)", &st, err, sizeof err) == QB_OK);
    db_bind_int64(st, 1, 7);
    TEST_EXPECT(db_step(st, &row, "insert", err, sizeof err) == QB_OK && !row);
    TEST_EXPECT(db_step(st, &row, "insert", err, sizeof err) == QB_OK && !row);
    db_finalize(st);
    TEST_EXPECT_INT(one_int(c, "SELECT count(*) FROM ch WHERE v = 7"), 2);
    TEST_ASSERT(db_prepare(c, "INSERT INTO ch (v) VALUES (?1) RETURNING id", &st, err,
                           sizeof err) == QB_OK);
    db_bind_int64(st, 1, 5);
    TEST_EXPECT(db_step(st, &row, "insert", err, sizeof err) == QB_OK && row);
    TEST_EXPECT_INT(db_column_int64(st, 0), 7); /* after 4 + 2 rows */
    TEST_EXPECT(db_step(st, &row, "insert", err, sizeof err) == QB_OK && !row);
    TEST_EXPECT_INT(db_changes(st), 1);
    db_finalize(st);
    db_close(c);
}

static void test_constraint_errors(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_ASSERT(exec(c, "CREATE TABLE par (id bigint PRIMARY KEY);"
                        "CREATE TABLE kid (id bigint PRIMARY KEY,"
                        " par bigint REFERENCES par (id), name text NOT NULL,"
                        " CONSTRAINT kid_name_short CHECK (length(name) < 5));"
                        "CREATE UNIQUE INDEX kid_name_unique ON kid (name);"
                        "INSERT INTO par VALUES (1)"));
    const char *ins = "INSERT INTO kid (id, par, name) VALUES (?1, 1, ?2)";
    TEST_EXPECT_INT(run(c, ins, 1, "a"), QB_OK);
    TEST_EXPECT_INT(run(c, ins, 2, "a"), QB_ERR_CONFLICT);
    TEST_EXPECT_STR(db_error_constraint(c), "kid_name_unique");
    TEST_EXPECT(strncmp(err, "run: ", 5) == 0 && strstr(err, "kid_name_unique"));
    fprintf(stderr, "  (%s)\n", err);
    TEST_EXPECT_INT(run(c, ins, 1, "b"), QB_ERR_CONFLICT);
    TEST_EXPECT_STR(db_error_constraint(c), "kid_pkey");
    TEST_EXPECT_INT(run(c, "INSERT INTO kid (id, par, name) VALUES (?1, 9, ?2)", 3, "c"),
                    QB_ERR_CONFLICT);
    TEST_EXPECT_STR(db_error_constraint(c), "kid_par_fkey");
    TEST_EXPECT_INT(run(c, ins, 4, "toolong"), QB_ERR_INVALID);
    TEST_EXPECT_STR(db_error_constraint(c), "kid_name_short");
    TEST_EXPECT_INT(run(c, ins, 5, NULL), QB_ERR_INVALID);
    fprintf(stderr, "  (%s)\n", err);
    TEST_EXPECT_INT(run(c, "SELECT * FROM no_such_table WHERE ?1 = 1", 1, NULL), QB_ERR_IO);
    TEST_EXPECT_STR(db_error_constraint(c), "");
    TEST_EXPECT_INT(one_int(c, "SELECT count(*) FROM kid"), 1);
    db_close(c);
}

struct locker {
    struct db_conn *c;
    int64_t key;
    bool in_tx; /* the transaction is open already */
    enum qb_err rc;
    bool done;
    pthread_mutex_t mu;
};

/* On its own connection: begin (unless open), lock key, on failure roll
 * back, done. */
static void *lock_thread(void *arg)
{
    struct locker *l = arg;
    char e[QB_ERRBUF_SIZE];
    enum qb_err rc = l->in_tx ? QB_OK : db_begin(l->c, DB_TX_WRITE, e, sizeof e);
    if (!rc)
        rc = db_lock(l->c, l->key, e, sizeof e);
    if (rc)
        db_rollback(l->c);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->done = true;
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static bool locker_done(struct locker *l)
{
    pthread_mutex_lock(&l->mu);
    bool d = l->done;
    pthread_mutex_unlock(&l->mu);
    return d;
}

/* db_lock: a second connection waits until the first commits; a
 * deadlock between two is BUSY for one of them. */
static void test_lock_and_deadlock(void)
{
    struct db_conn *a = open_db(), *b = open_db();
    TEST_ASSERT(a && b);
    TEST_ASSERT(db_begin(a, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_EXPECT(db_in_transaction(a));
    TEST_ASSERT(db_lock(a, 4242, err, sizeof err) == QB_OK);
    struct locker l = {.c = b, .key = 4242};
    pthread_mutex_init(&l.mu, NULL);
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, lock_thread, &l) == 0);
    /* Polled: b's lock request shows as waiting on the server. */
    long long waiting = 0;
    for (int i = 0; i < 500 && waiting < 1; i++) {
        waiting = admin_int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND NOT granted AND objid = 4242");
        if (waiting < 1)
            qb_sleep_ms(10);
    }
    TEST_EXPECT_INT(waiting, 1);
    TEST_EXPECT(!locker_done(&l));
    TEST_EXPECT(db_commit(a, err, sizeof err) == QB_OK);
    TEST_EXPECT(!db_in_transaction(a));
    pthread_join(t, NULL);
    TEST_EXPECT(l.done);
    TEST_EXPECT_INT(l.rc, QB_OK);
    TEST_EXPECT(db_in_transaction(b));
    TEST_EXPECT(db_commit(b, err, sizeof err) == QB_OK);

    /* A lock held past lock_timeout is BUSY (5 s by default; shortened
     * here so the test does not wait). */
    TEST_ASSERT(db_begin(a, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_lock(a, 4343, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_begin(b, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_ASSERT(exec(b, "SET LOCAL lock_timeout = 50"));
    TEST_EXPECT_INT(db_lock(b, 4343, err, sizeof err), QB_ERR_BUSY);
    fprintf(stderr, "  (%s)\n", err);
    db_rollback(b);
    db_rollback(a);

    /* Deadlock: a holds 1 and wants 2, b holds 2 and wants 1. */
    TEST_ASSERT(db_begin(a, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_lock(a, 1, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_begin(b, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_lock(b, 2, err, sizeof err) == QB_OK);
    struct locker la = {.c = a, .key = 2, .in_tx = true};
    pthread_mutex_init(&la.mu, NULL);
    TEST_ASSERT(pthread_create(&t, NULL, lock_thread, &la) == 0);
    enum qb_err rb = db_lock(b, 1, err, sizeof err);
    if (rb) {
        fprintf(stderr, "  (%s)\n", err);
        db_rollback(b);
    }
    pthread_join(t, NULL);
    TEST_EXPECT((rb == QB_ERR_BUSY) != (la.rc == QB_ERR_BUSY));
    TEST_EXPECT(rb == QB_OK || la.rc == QB_OK);
    db_rollback(a);
    db_rollback(b);
    TEST_EXPECT(!db_in_transaction(a) && !db_in_transaction(b));
    pthread_mutex_destroy(&l.mu);
    pthread_mutex_destroy(&la.mu);
    db_close(a);
    db_close(b);
}

static void test_transactions(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_ASSERT(exec(c, "CREATE TABLE tx (id bigint PRIMARY KEY)"));
    TEST_ASSERT(db_begin(c, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(run(c, "INSERT INTO tx VALUES (?1)", 1, NULL), QB_OK);
    db_rollback(c);
    TEST_EXPECT(!db_in_transaction(c));
    TEST_EXPECT_INT(one_int(c, "SELECT count(*) FROM tx"), 0);
    db_rollback(c); /* none open: nothing happens */
    TEST_ASSERT(db_begin(c, DB_TX_READ, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(run(c, "INSERT INTO tx VALUES (?1)", 1, NULL), QB_OK);
    TEST_EXPECT(db_commit(c, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(admin_int("SELECT count(*) FROM tx"), 1);
    /* An error aborts the transaction: COMMIT must not look like success. */
    TEST_ASSERT(db_begin(c, DB_TX_WRITE, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(run(c, "INSERT INTO tx VALUES (?1)", 2, NULL), QB_OK);
    TEST_EXPECT_INT(run(c, "INSERT INTO tx VALUES (?1)", 1, NULL), QB_ERR_CONFLICT);
    TEST_EXPECT(db_in_transaction(c));
    TEST_EXPECT(db_commit(c, err, sizeof err) != QB_OK);
    TEST_EXPECT(!db_in_transaction(c));
    TEST_EXPECT_INT(one_int(c, "SELECT count(*) FROM tx"), 1);

    /* A serialisation failure is BUSY: c's snapshot predates another
     * connection's committed update of the row it then updates. */
    struct db_conn *o = open_db();
    TEST_ASSERT(o);
    TEST_ASSERT(exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ"));
    TEST_EXPECT_INT(one_int(c, "SELECT count(*) FROM tx"), 1);
    TEST_EXPECT_INT(run(o, "UPDATE tx SET id = id + ?1", 10, NULL), QB_OK);
    TEST_EXPECT_INT(run(c, "UPDATE tx SET id = id + ?1", 100, NULL), QB_ERR_BUSY);
    fprintf(stderr, "  (%s)\n", err);
    db_rollback(c);
    TEST_EXPECT_INT(one_int(c, "SELECT id FROM tx"), 11);
    db_close(o);
    db_close(c);
}

static void terminate(struct db_conn *c)
{
    int64_t pid = one_int(c, "SELECT pg_backend_pid()");
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%" PRId64 ", 10000)", pid);
    if (!pg_admin_exec(url, sql))
        fprintf(stderr, "  could not terminate %" PRId64 "\n", pid);
}

/* A connection killed from outside while idle (a server restart, an
 * operator): the statement, which never ran, goes again on a new session,
 * prepared (a new text) or from the cache (a known one); inside a
 * transaction: IO, and the rollback reconnects. */
static void test_lost_connection(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    terminate(c);
    TEST_EXPECT_INT(run(c, "SELECT ?1", 1, NULL), QB_OK);
    TEST_EXPECT_INT(one_int(c, "SELECT 5"), 5);
    terminate(c);
    TEST_EXPECT_INT(run(c, "SELECT ?1", 1, NULL), QB_OK); /* was cached: re-prepared */
    TEST_EXPECT_INT(one_int(c, "SELECT 5"), 5);

    TEST_ASSERT(db_begin(c, DB_TX_WRITE, err, sizeof err) == QB_OK);
    terminate(c);
    TEST_EXPECT_INT(run(c, "SELECT ?1", 1, NULL), QB_ERR_IO);
    fprintf(stderr, "  (%s)\n", err);
    TEST_EXPECT(db_in_transaction(c));
    TEST_EXPECT(db_commit(c, err, sizeof err) != QB_OK);
    db_rollback(c);
    TEST_EXPECT(!db_in_transaction(c));
    TEST_EXPECT_INT(one_int(c, "SELECT 6"), 6);

    /* Killed while a list is half read: the rows already received, then
     * TRANSIENT (no transaction was open), then a working connection. */
    int64_t pid = one_int(c, "SELECT pg_backend_pid()");
    struct db_stmt *st = NULL;
    TEST_ASSERT(db_prepare(c, "SELECT g FROM generate_series(1, 50000000) g", &st, err,
                           sizeof err) == QB_OK);
    bool row = false;
    TEST_EXPECT(db_step(st, &row, "list", err, sizeof err) == QB_OK && row);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%" PRId64 ", 10000)", pid);
    TEST_EXPECT(pg_admin_exec(url, sql));
    enum qb_err rc = QB_OK;
    int64_t rows = 1;
    while (!rc && row) {
        rc = db_step(st, &row, "list", err, sizeof err);
        rows += row;
    }
    TEST_EXPECT_INT(rc, QB_ERR_TRANSIENT);
    TEST_EXPECT(rows < 50000000);
    fprintf(stderr, "  (%" PRId64 " rows, then %s)\n", rows, err);
    db_finalize(st);
    TEST_EXPECT(!db_in_transaction(c));
    TEST_EXPECT_INT(one_int(c, "SELECT 8"), 8);

    /* Killed while idle, then a transaction starts: BEGIN itself fails
     * TRANSIENT (no transaction was open) and the next BEGIN works. */
    terminate(c);
    TEST_EXPECT_INT(db_begin(c, DB_TX_READ, err, sizeof err), QB_ERR_TRANSIENT);
    TEST_EXPECT(!db_in_transaction(c));
    TEST_EXPECT(db_begin(c, DB_TX_READ, err, sizeof err) == QB_OK);
    TEST_EXPECT(db_commit(c, err, sizeof err) == QB_OK);
    db_close(c);
}

static void test_exec_multi(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_EXPECT(exec(c, "CREATE TABLE mu (a bigint);\n"
                        "-- a comment; with a semicolon\n"
                        "INSERT INTO mu VALUES (1);\n"
                        "INSERT INTO mu VALUES (2);"));
    TEST_EXPECT_INT(one_int(c, "SELECT sum(a) FROM mu"), 3);
    TEST_EXPECT_INT(db_exec(c, "INSERT INTO mu VALUES (3); SELECT * FROM nope", err, sizeof err),
                    QB_ERR_IO);
    TEST_EXPECT(strncmp(err, "exec: ", 6) == 0);
    /* A multi-statement text runs as one implicit transaction. */
    TEST_EXPECT_INT(one_int(c, "SELECT sum(a) FROM mu"), 3);
    db_close(c);
}

struct traced {
    int n;
    char last[128];
};

static void trace_fn(void *ctx, const char *sql)
{
    struct traced *t = ctx;
    t->n++;
    qb_strlcpy(t->last, sql, sizeof t->last);
}

static void test_trace_and_events(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    TEST_ASSERT(exec(c, "CREATE TABLE ev (a bigint)"));
    (void)db_take_events_written(c);
    struct traced t = {0};
    db_trace(c, trace_fn, &t);
    TEST_EXPECT_INT(one_int(c, "SELECT ?1 IS NULL"), 1);
    TEST_EXPECT_INT(t.n, 1);
    TEST_EXPECT_STR(t.last, "SELECT ?1 IS NULL");
    TEST_EXPECT(!db_take_events_written(c));
    TEST_EXPECT_INT(run(c, "INSERT INTO ev VALUES (?1)", 1, NULL), QB_OK);
    TEST_EXPECT_STR(t.last, "INSERT INTO ev VALUES (?1)");
    TEST_EXPECT(db_take_events_written(c));
    TEST_EXPECT(!db_take_events_written(c));
    db_trace(c, NULL, NULL);
    TEST_EXPECT_INT(one_int(c, "SELECT 1"), 1);
    TEST_EXPECT_INT(t.n, 2);
    db_close(c);
}

/* Used by one thread after another, as the store's pool does. */
static void *use_conn(void *arg)
{
    struct db_conn *c = arg;
    char e[QB_ERRBUF_SIZE];
    struct db_stmt *st = NULL;
    bool row = false;
    intptr_t v = -1;
    if (db_prepare(c, "SELECT ?1 + 1", &st, e, sizeof e) == QB_OK) {
        db_bind_int64(st, 1, 1);
        if (db_step(st, &row, "thread", e, sizeof e) == QB_OK && row)
            v = (intptr_t)db_column_int64(st, 0);
    }
    db_finalize(st);
    return (void *)v;
}

static void test_threads_in_turn(void)
{
    struct db_conn *c = open_db();
    TEST_ASSERT(c);
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        void *v = NULL;
        TEST_ASSERT(pthread_create(&t, NULL, use_conn, c) == 0);
        pthread_join(t, &v);
        TEST_EXPECT_INT((intptr_t)v, 2);
    }
    db_close(c);
}

/* The embedded twins, applied in order through the engine on a fresh
 * database: the schema the store will run on. */
static void test_migrations(void)
{
    char db[64], mig_url[512], sql[128];
    snprintf(db, sizeof db, "qb_dbpg_mig_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    TEST_ASSERT(pg_admin_exec(admin_url, sql));
    url_for(db, mig_url, sizeof mig_url);
    struct db_conn *c = NULL;
    TEST_ASSERT(db_open(mig_url, &c, err, sizeof err) == QB_OK);
    TEST_EXPECT(qb_migrations_pg_count > 0);
    TEST_EXPECT_INT(qb_migrations_pg_count, qb_migrations_count);
    for (int i = 0; i < qb_migrations_pg_count; i++) {
        TEST_EXPECT_INT(qb_migrations_pg[i].version, qb_migrations[i].version);
        if (db_exec(c, qb_migrations_pg[i].sql, err, sizeof err)) {
            TEST_FAIL_AT(__FILE__, __LINE__, "%s: %s", qb_migrations_pg[i].name, err);
            break;
        }
    }
    TEST_EXPECT_INT(one_int(c, "SELECT count(*) FROM runs"), 0);
    TEST_EXPECT(one_int(c, "SELECT count(*) FROM information_schema.tables"
                           " WHERE table_schema = 'public'") > 10);
    db_close(c);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db);
    TEST_EXPECT(pg_admin_exec(admin_url, sql));
}

int main(void)
{
    int rc = pg_env_load(&admin_url);
    if (rc)
        return rc;
    char db[64], sql[128];
    snprintf(db, sizeof db, "qb_dbpg_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (!pg_admin_exec(admin_url, sql))
        return 1;
    url_for(db, url, sizeof url);

    TEST_RUN(test_open_close);
    TEST_RUN(test_unreachable);
    TEST_RUN(test_types_and_nulls);
    TEST_RUN(test_text_inference);
    TEST_RUN(test_many_rows_bounded);
    TEST_RUN(test_interleaved);
    TEST_RUN(test_statement_cache);
    TEST_RUN(test_changes);
    TEST_RUN(test_constraint_errors);
    TEST_RUN(test_lock_and_deadlock);
    TEST_RUN(test_transactions);
    TEST_RUN(test_lost_connection);
    TEST_RUN(test_exec_multi);
    TEST_RUN(test_trace_and_events);
    TEST_RUN(test_threads_in_turn);
    TEST_RUN(test_migrations);

    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db);
    TEST_EXPECT(pg_admin_exec(admin_url, sql));
    return TEST_RESULT();
}
